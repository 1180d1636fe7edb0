// Bootstrap settings: what a process needs before it can reach the database (socket,
// database URL, keys, worker counts). One TOML file; secrets come from files or the
// environment, never from the file itself. Runtime policy lives in policy/options.h
// instead.
//
//   auto cfg = config::load("/etc/cartgate/cartgate.toml");   // throws config_error
//   cfg.database_url, cfg.workers, …
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace cartgate {

class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct config_key_doc {
  const char* key;
  const char* default_value;
  const char* doc;
};
// Every key the file accepts, with default and meaning (README and `cartgate config keys`).
const std::vector<config_key_doc>& config_keys();

struct config {
  // [database]
  std::string database_url = "postgresql:///cartgate";
  int connect_timeout = 2;  // seconds
  std::string listen_url;         // the LISTEN connection's; "" = database_url
  int listen_heartbeat_ms = 250;  // SELECT 1 on it this often
  int listen_deadline_ms = 750;   // no answer for this long: session caches fail closed
  // [server]
  std::string socket_path = "/run/cartgate/cartgate.sock";
  std::string auth_socket_setting;  // "", "off" or a path: see auth_socket()
  std::string socket_mode = "0660";
  std::string socket_group;            // group of the socket files; "" = the process's own
  std::string auth_socket_group_setting;  // "" = socket_group: see auth_socket_group()
  std::string revocation_state;  // the nginx module's state file; "" = none
  int workers = 0;  // 0 = number of cores
  int threads = 8;     // threads per worker process for requests that may wait
  int io_threads = 1;  // event-loop threads per worker process
  int queue_max = 1024;  // requests waiting for a blocking thread per worker; past it 503
  std::string log_level = "info";
  // [jwt]
  std::string issuer = "http://127.0.0.1:8080";
  std::string algorithm = "HS256";
  std::string secret;  // HS256 secret (from secret_file or CARTGATE_JWT_SECRET)
  std::string private_key_file;
  std::string public_key_file;
  std::string kid;
  // Keys that still verify but never sign (key rotation), "KID=FILE" each: an HS256
  // secret file, or a PEM public key for RS256/ES256. An empty KID names an HS256 key
  // whose tokens carry no kid.
  std::vector<std::string> retired_keys;
  // [password]
  std::uint32_t argon2_memory_kib = 19456;
  std::uint32_t argon2_iterations = 2;
  std::uint32_t argon2_parallelism = 1;
  int argon2_max_concurrent = 2;  // per worker process
  int argon2_wait_ms = 2000;
  int password_queue_max = 64;  // logins waiting for a login thread per worker; past it 503
  // [secrets]
  std::string encryption_key_hex;  // 64 hex chars (encryption_key_file or CARTGATE_ENCRYPTION_KEY)
  std::string storefront_key;      // signs the storefront's cookie → token requests; "" = off
  // [mail]
  std::string smtp_url = "smtp://127.0.0.1:2525";
  std::string mail_from = "cartgate@localhost";
  std::string smtp_username;
  std::string smtp_password;
  bool smtp_allow_plaintext = false;  // clear-text SMTP to a server that is not loopback
  // [geo]
  std::string geoip_v4_file = "/usr/share/tor/geoip";
  std::string geoip_v6_file = "/usr/share/tor/geoip6";
  std::string mmdb_file;
  std::string country_header;  // e.g. "X-Country-Code", set by nginx's geoip2 module
  // [plugins]
  std::string plugin_dir;
  std::vector<std::string> plugins;  // file names inside plugin_dir; empty = every *.so
  // [site]
  std::string site_name = "cartgate";
  std::string admin_email;
  // [wordpress]: the store's own database, read for account sync (contract §8). Off
  // while wordpress_database is empty.
  std::string wordpress_socket;
  std::string wordpress_host = "localhost";
  int wordpress_port = 3306;
  std::string wordpress_database;
  std::string wordpress_user = "cartgate";
  std::string wordpress_password;  // from wordpress.password_file
  std::string wordpress_table_prefix = "wp_";
  bool wordpress_enabled() const { return !wordpress_database.empty(); }

  static config load(const std::string& path);       // path "" = defaults + environment
  static config from_toml(const std::string& text);  // for tests
  void apply_environment();                          // CARTGATE_* overrides
  // The HTTP socket of the auth subrequest: server.auth_socket, or beside server.socket
  // (cartgate.sock → cartgate-auth.sock) when that is empty; "" when it is "off".
  std::string auth_socket() const;
  // Group of the auth socket: server.auth_socket_group, else server.socket_group.
  std::string auth_socket_group() const {
    return auth_socket_group_setting.empty() ? socket_group : auth_socket_group_setting;
  }
};

std::string read_secret_file(const std::string& path);

// Throws config_error, one line naming the key, the file and the fix (chmod 600), when
// the file is readable or writable by "others" or cannot be found.
void check_secret_file_mode(const std::string& key, const std::string& path);
// check_secret_file_mode, then read_secret_file.
std::string read_secret_file(const std::string& key, const std::string& path);

}  // namespace cartgate
