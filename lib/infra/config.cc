#include "infra/config.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "crypto/request_signature.h"

namespace cartgate {
namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return (v && *v) ? v : nullptr;
}

template <typename T>
void take(const toml::table& t, const char* section, const char* key, T& out) {
  auto node = t[section][key];
  if (!node) return;
  if constexpr (std::is_same_v<T, std::string>) {
    auto v = node.template value<std::string>();
    if (!v) throw config_error(std::string(section) + "." + key + " must be a string");
    out = *v;
  } else if constexpr (std::is_same_v<T, bool>) {
    auto v = node.template value<bool>();
    if (!v) throw config_error(std::string(section) + "." + key + " must be true or false");
    out = *v;
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    auto* arr = node.as_array();
    if (!arr) throw config_error(std::string(section) + "." + key + " must be an array");
    out.clear();
    for (auto& e : *arr) {
      auto v = e.template value<std::string>();
      if (!v) throw config_error(std::string(section) + "." + key + " must hold strings");
      out.push_back(*v);
    }
  } else {
    auto v = node.template value<std::int64_t>();
    if (!v || *v < 0) throw config_error(std::string(section) + "." + key + " must be a number >= 0");
    out = static_cast<T>(*v);
  }
}

}  // namespace

const std::vector<config_key_doc>& config_keys() {
  static const std::vector<config_key_doc> keys = {
      {"database.url", "postgresql:///cartgate", "libpq connection URI (env CARTGATE_DATABASE_URL)."},
      {"database.connect_timeout", "2", "Seconds to wait for a database connection before answering 503."},
      {"database.listen_url", "", "libpq connection URI of the background thread's LISTEN connection (revocations, options); empty = database.url. Keepalives, tcp_user_timeout and connect_timeout are added unless it sets them."},
      {"database.listen_heartbeat_ms", "250", "How often the LISTEN connection is asked SELECT 1, to notice a silently dead link."},
      {"database.listen_deadline_ms", "750", "With no heartbeat answered for this long (also its tcp_user_timeout), workers stop answering Bearer checks from their session cache and read PostgreSQL for each one until LISTEN is back; keep it under 1000 (revocation within 1 s)."},
      {"server.socket", "/run/cartgate/cartgate.sock", "FastCGI unix socket nginx connects to (env CARTGATE_SOCKET)."},
      {"server.auth_socket", "", "Internal HTTP unix socket: nginx's auth subrequest (kept-alive connections) and the storefront's cookie → token requests; empty = beside server.socket as NAME-auth.sock; off = none."},
      {"server.socket_mode", "0660", "Permissions of the socket files (octal)."},
      {"server.socket_group", "", "Group given to the socket files: one only nginx's user is in (e.g. cartgate-web); empty = cartgate's own group."},
      {"server.auth_socket_group", "", "Group of the auth socket when it must differ (PHP-FPM's group, for cookie → token); empty = server.socket_group."},
      {"server.revocation_state", "", "File (in the run folder) where one worker keeps the revocation state that nginx's cartgate module reads, so guarded routes need no auth subrequest (docs/nginx-module.md); empty = none."},
      {"server.workers", "0", "Worker processes; 0 = number of cores."},
      {"server.threads", "8", "Threads per worker process for requests that may wait (refresh, logout, two-factor, database reads); logins have password.max_concurrent threads of their own."},
      {"server.io_threads", "1", "Event-loop threads per worker process: FastCGI connections, and token checks answered from memory."},
      {"server.queue_max", "1024", "Requests waiting for a blocking thread per worker process; past it 503 with Retry-After at once."},
      {"server.log_level", "info", "error, warn, info or debug."},
      {"jwt.issuer", "http://127.0.0.1:8080", "The iss claim written and required (the storefront's URL)."},
      {"jwt.algorithm", "HS256", "HS256, RS256 or ES256; only this algorithm is accepted."},
      {"jwt.secret_file", "", "File holding the HS256 secret, at least 32 bytes (env CARTGATE_JWT_SECRET)."},
      {"jwt.private_key_file", "", "PEM private key for RS256/ES256."},
      {"jwt.public_key_file", "", "PEM public key for RS256/ES256 (derived from the private key when empty)."},
      {"jwt.kid", "", "Key id in the header and JWKS; empty = RFC 7638 thumbprint. HS256: written once jwt.retired_keys is set, and then required."},
      {"jwt.retired_keys", "[]", "Keys that still verify tokens but never sign, as \"KID=FILE\" strings: an HS256 secret file (KID empty for tokens without kid) or an RS256/ES256 PEM public key; docs/key-rotation.md."},
      {"password.argon2_memory_kib", "19456", "argon2id memory cost per hash, KiB."},
      {"password.argon2_iterations", "2", "argon2id time cost."},
      {"password.argon2_parallelism", "1", "argon2id lanes."},
      {"password.max_concurrent", "2", "argon2 computations at once per worker process; more wait."},
      {"password.wait_ms", "2000", "How long a login waits for an argon2 slot before answering 503."},
      {"password.queue_max", "64", "Logins waiting for an argon2 slot per worker process (they have password.max_concurrent threads of their own); past it 503 with Retry-After at once."},
      {"secrets.encryption_key_file", "", "File with 64 hex chars: encrypts TOTP keys and queued mail, peppers code hashes (env CARTGATE_ENCRYPTION_KEY)."},
      {"secrets.storefront_key_file", "", "File with the key (at least 32 bytes) the storefront's must-use plugin signs its cookie → token requests with; readable by cartgate and PHP-FPM's user only. Empty: no cookie → token."},
      {"mail.smtp_url", "smtp://127.0.0.1:2525", "SMTP server for two-factor email codes (smtp:// or smtps://)."},
      {"mail.from", "cartgate@localhost", "From address of outgoing mail."},
      {"mail.username", "", "SMTP user name, if the server wants one."},
      {"mail.password_file", "", "File holding the SMTP password (env CARTGATE_SMTP_PASSWORD)."},
      {"mail.allow_plaintext", "false", "Send mail to an SMTP server off this machine without TLS; false requires smtps:// or STARTTLS unless the host is loopback."},
      {"geo.ipv4_file", "/usr/share/tor/geoip", "tor-geoipdb IPv4 ranges."},
      {"geo.ipv6_file", "/usr/share/tor/geoip6", "tor-geoipdb IPv6 ranges."},
      {"geo.mmdb_file", "", "MaxMind .mmdb country database; used instead of the tor files when set."},
      {"geo.country_header", "", "Request header carrying the country code set by nginx (e.g. X-Country-Code); used first when present."},
      {"plugins.directory", "", "Directory of plugin shared objects loaded at start."},
      {"plugins.load", "[]", "Plugin file names to load from the directory; empty loads every *.so."},
      {"site.name", "cartgate", "Shown as the issuer in authenticator apps."},
      {"site.admin_email", "", "Address plugins may notify (e.g. the VIP login example)."},
      {"wordpress.database", "", "The WordPress store's MariaDB/MySQL database; set, cartgate keeps its accounts in step with WordPress's (contract §8)."},
      {"wordpress.socket", "", "Unix socket of WordPress's database server; empty = wordpress.host and wordpress.port."},
      {"wordpress.host", "localhost", "Host of WordPress's database server, when no socket is given."},
      {"wordpress.port", "3306", "Port of WordPress's database server, when no socket is given."},
      {"wordpress.user", "cartgate", "cartgate's own account on WordPress's database (deploy/wordpress/README.md)."},
      {"wordpress.password_file", "", "File holding that account's password."},
      {"wordpress.table_prefix", "wp_", "WordPress's $table_prefix (the base prefix on multisite)."},
  };
  return keys;
}

void check_secret_file_mode(const std::string& key, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw config_error("config: " + key + ": cannot read secret file " + path);
  if ((st.st_mode & (S_IROTH | S_IWOTH)) == 0) return;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  throw config_error("config: " + key + ": secret file " + path + " is readable or writable by others (mode " +
                     mode + "); fix it with: chmod 600 " + path + " (or 640 with a group)");
}

std::string read_secret_file(const std::string& key, const std::string& path) {
  check_secret_file_mode(key, path);
  return read_secret_file(path);
}

std::string read_secret_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw config_error("cannot read secret file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

config config::from_toml(const std::string& text) {
  toml::table t;
  try {
    t = toml::parse(text);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << "config: " << e.description() << " at line " << e.source().begin.line;
    throw config_error(os.str());
  }
  std::set<std::string> known;
  for (auto& k : config_keys()) known.insert(k.key);
  for (auto& [section, node] : t) {
    auto* tbl = node.as_table();
    if (!tbl) throw config_error("config: '" + std::string(section.str()) + "' must be a [section]");
    for (auto& [key, _] : *tbl) {
      std::string full = std::string(section.str()) + "." + std::string(key.str());
      if (!known.count(full)) throw config_error("config: unknown key '" + full + "'");
    }
  }

  config c;
  // One line per key of config_keys(), in its order: the same shape on purpose.
  take(t, "database", "url", c.database_url);
  take(t, "database", "connect_timeout", c.connect_timeout);
  take(t, "database", "listen_url", c.listen_url);
  take(t, "database", "listen_heartbeat_ms", c.listen_heartbeat_ms);
  take(t, "database", "listen_deadline_ms", c.listen_deadline_ms);
  take(t, "server", "socket", c.socket_path);
  take(t, "server", "auth_socket", c.auth_socket_setting);
  take(t, "server", "socket_mode", c.socket_mode);
  take(t, "server", "socket_group", c.socket_group);
  take(t, "server", "auth_socket_group", c.auth_socket_group_setting);
  take(t, "server", "revocation_state", c.revocation_state);
  take(t, "server", "workers", c.workers);
  take(t, "server", "threads", c.threads);
  take(t, "server", "io_threads", c.io_threads);
  take(t, "server", "queue_max", c.queue_max);
  take(t, "server", "log_level", c.log_level);
  take(t, "jwt", "issuer", c.issuer);
  take(t, "jwt", "algorithm", c.algorithm);
  std::string secret_file, key_file, storefront_key_file, smtp_password_file, wordpress_password_file;
  take(t, "jwt", "secret_file", secret_file);
  take(t, "jwt", "private_key_file", c.private_key_file);
  take(t, "jwt", "public_key_file", c.public_key_file);
  take(t, "jwt", "kid", c.kid);
  take(t, "jwt", "retired_keys", c.retired_keys);
  take(t, "password", "argon2_memory_kib", c.argon2_memory_kib);
  take(t, "password", "argon2_iterations", c.argon2_iterations);
  take(t, "password", "argon2_parallelism", c.argon2_parallelism);
  take(t, "password", "max_concurrent", c.argon2_max_concurrent);
  take(t, "password", "queue_max", c.password_queue_max);
  take(t, "password", "wait_ms", c.argon2_wait_ms);
  take(t, "secrets", "encryption_key_file", key_file);
  take(t, "secrets", "storefront_key_file", storefront_key_file);
  take(t, "mail", "smtp_url", c.smtp_url);
  take(t, "mail", "from", c.mail_from);
  take(t, "mail", "username", c.smtp_username);
  take(t, "mail", "password_file", smtp_password_file);
  take(t, "mail", "allow_plaintext", c.smtp_allow_plaintext);
  take(t, "geo", "ipv4_file", c.geoip_v4_file);
  take(t, "geo", "ipv6_file", c.geoip_v6_file);
  take(t, "geo", "mmdb_file", c.mmdb_file);
  take(t, "geo", "country_header", c.country_header);
  take(t, "plugins", "directory", c.plugin_dir);
  take(t, "plugins", "load", c.plugins);
  take(t, "site", "name", c.site_name);
  take(t, "site", "admin_email", c.admin_email);
  take(t, "wordpress", "database", c.wordpress_database);
  take(t, "wordpress", "socket", c.wordpress_socket);
  take(t, "wordpress", "host", c.wordpress_host);
  take(t, "wordpress", "port", c.wordpress_port);
  take(t, "wordpress", "user", c.wordpress_user);
  take(t, "wordpress", "password_file", wordpress_password_file);
  take(t, "wordpress", "table_prefix", c.wordpress_table_prefix);
  // Every file holding a secret must be closed to "others": a key any local account can
  // read (or replace) is no secret. A group may read one (the storefront key is shared
  // with PHP-FPM's group on purpose).
  if (!secret_file.empty()) c.secret = read_secret_file("jwt.secret_file", secret_file);
  if (!c.private_key_file.empty()) check_secret_file_mode("jwt.private_key_file", c.private_key_file);
  if (!key_file.empty()) c.encryption_key_hex = read_secret_file("secrets.encryption_key_file", key_file);
  if (!storefront_key_file.empty()) {
    c.storefront_key = read_secret_file("secrets.storefront_key_file", storefront_key_file);
    if (c.storefront_key.size() < request_signature::min_key_bytes) {
      throw config_error("config: secrets.storefront_key_file must hold at least 32 bytes (openssl rand -hex 32)");
    }
  }
  if (!smtp_password_file.empty()) c.smtp_password = read_secret_file("mail.password_file", smtp_password_file);
  if (!wordpress_password_file.empty()) {
    c.wordpress_password = read_secret_file("wordpress.password_file", wordpress_password_file);
  }
  if (c.wordpress_port < 1 || c.wordpress_port > 65535) throw config_error("config: wordpress.port must be 1..65535");
  if (c.listen_heartbeat_ms < 10 || c.listen_heartbeat_ms > 60000) {
    throw config_error("config: database.listen_heartbeat_ms must be 10..60000");
  }
  if (c.listen_deadline_ms <= c.listen_heartbeat_ms || c.listen_deadline_ms > 600000) {
    throw config_error("config: database.listen_deadline_ms must exceed database.listen_heartbeat_ms (at most 600000)");
  }
  if (c.argon2_max_concurrent < 1) throw config_error("config: password.max_concurrent must be >= 1");
  if (c.threads < 1 || c.threads > 256) throw config_error("config: server.threads must be 1..256");
  if (c.io_threads < 1 || c.io_threads > 64) throw config_error("config: server.io_threads must be 1..64");
  if (c.queue_max < 1) throw config_error("config: server.queue_max must be >= 1");
  if (c.password_queue_max < 1) throw config_error("config: password.queue_max must be >= 1");
  if (c.argon2_memory_kib < 19456 || c.argon2_iterations < 2 || c.argon2_parallelism < 1) {
    throw config_error("config: argon2 parameters weaker than m=19456 KiB, t=2, p=1 are refused");
  }
  return c;
}

std::string config::auth_socket() const {
  if (auth_socket_setting == "off") return {};
  if (!auth_socket_setting.empty()) return auth_socket_setting;
  const std::string suffix = ".sock";
  if (socket_path.size() > suffix.size() &&
      socket_path.compare(socket_path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return socket_path.substr(0, socket_path.size() - suffix.size()) + "-auth.sock";
  }
  return socket_path + "-auth";
}

void config::apply_environment() {
  if (auto v = env("CARTGATE_DATABASE_URL")) database_url = v;
  if (auto v = env("CARTGATE_SOCKET")) socket_path = v;
  if (auto v = env("CARTGATE_JWT_SECRET")) secret = v;
  if (auto v = env("CARTGATE_ENCRYPTION_KEY")) encryption_key_hex = v;
  if (auto v = env("CARTGATE_SMTP_PASSWORD")) smtp_password = v;
}

config config::load(const std::string& path) {
  config c;
  if (!path.empty()) {
    std::ifstream in(path);
    if (!in) throw config_error("cannot read config file " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    c = from_toml(ss.str());
  }
  c.apply_environment();
  return c;
}

}  // namespace cartgate
