// What integration tests use to talk to the test stack that tests/run.sh starts (nginx →
// worker pool → PostgreSQL, an SMTP sink) and to poke at it: HTTP through nginx, the CLI,
// a direct database connection, the pool's processes, PostgreSQL stop/start, a second
// pool ("pool B") a test may signal freely, a raw FastCGI client, and the mailbox.
// Addresses come from the CARTGATE_TEST_* variables tests/run.sh exports.
//
//   using namespace cartgate::test;
//   auto r = post_json("/wp-json/cocart/v2/login", {{"username", "x"}});   // via nginx
//   EXPECT_TRUE(is_error(r, 401, "cocart_authentication_error"));
//   auto u = make_user();                         // `cartgate user add`, fresh login
//   pg_outage down;                               // PostgreSQL stopped until `down` ends
//   pool_b b; b.start(); kill(b.pid(), SIGTERM); // a pool of the test's own
#pragma once

#include <gtest/gtest.h>
#include <json/json.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <vector>

namespace cartgate::test {

// ---- environment -------------------------------------------------------------------

// The value of an environment variable; throws, naming tests/run.sh, when it is unset.
std::string env(const char* name);
int env_int(const char* name);

// A name no other test (or earlier run) used: prefix + pid + counter + random hex.
// Lower-case letters, digits and '_' only, so it is a valid login.
std::string unique_name(std::string_view prefix);

// A phone number no other test (or earlier run) used: "+1555" and digits of
// unique_name's pid, counter and random part (users.phone identifies an account at login).
std::string unique_phone();

// ---- HTTP through nginx ------------------------------------------------------------

struct http_result {
  long status = 0;                             // 0: no HTTP answer at all (see error)
  std::map<std::string, std::string> headers;  // lower-case names; last value wins
  std::string body;
  std::string error;  // curl's message when status is 0

  Json::Value json() const;  // throws std::runtime_error (with the body) if not JSON
  std::string header(std::string_view name) const;  // "" when absent; any case
};

struct http_options {
  std::string method = "GET";
  std::string body;
  std::string content_type;          // sent only when not empty
  std::vector<std::string> headers;  // raw "Name: value" lines
  std::string bearer;                // Authorization: Bearer …
  std::string basic_user, basic_password;
  bool basic = false;         // Authorization: Basic basic_user:basic_password
  std::string forwarded_for;  // X-Forwarded-For
  std::string user_agent = "cartgate-tests/1.0";
  int port = 0;        // 0 = main HTTP port (HTTPS port when https)
  bool https = false;  // self-signed certificate accepted
  // Talk HTTP to this unix socket instead of nginx (cartgate's internal socket).
  std::string unix_socket;
  long timeout_ms = 30000;
};

// path_and_query starts with '/'; the host is always 127.0.0.1.
http_result http(const std::string& path_and_query, const http_options& options = {});
http_result post_json(const std::string& path, const Json::Value& body, http_options options = {});

// The contract §1 error shape: HTTP status, "code", a non-empty "message", and
// data.status equal to the HTTP status. Use as EXPECT_TRUE(is_error(r, 404, "rest_no_route")).
::testing::AssertionResult is_error(const http_result& r, long status, std::string_view code);

inline constexpr const char* health_path = "/wp-json/cartgate/v1/health";
inline constexpr const char* login_path = "/wp-json/cocart/v2/login";

// True when the pool routes POST login (answers anything but 404 rest_no_route).
bool login_route_available();

// The main pool's internal HTTP socket (server.auth_socket, beside the FastCGI one).
std::string internal_socket_path();

// ---- raw FastCGI, straight to a pool's socket (no nginx in between) ----------------

// One FastCGI request sent in steps, so a test can hold a request half-received inside
// a worker: begin() sends the parameters, send_body() parts of the body, finish() the
// end of the body and reads the answer.
class fastcgi_client {
 public:
  explicit fastcgi_client(const std::string& socket_path);
  ~fastcgi_client();
  fastcgi_client(const fastcgi_client&) = delete;
  fastcgi_client& operator=(const fastcgi_client&) = delete;

  void begin(const std::string& method, const std::string& uri, std::size_t content_length,
             const std::string& content_type = "application/json",
             const std::map<std::string, std::string>& extra_params = {});
  void send_body(std::string_view part);
  http_result finish();  // ends the body if not ended yet, reads until END_REQUEST

 private:
  void record(unsigned char type, std::string_view content);
  int fd_ = -1;
  bool body_ended_ = false;
};

http_result fastcgi(const std::string& socket_path, const std::string& method,
                    const std::string& uri, const std::string& body = "",
                    const std::string& content_type = "application/json");

// ---- CLI and database --------------------------------------------------------------

struct cli_result {
  int status = -1;  // exit status; 128 + signal when killed
  std::string out, err;
};

// Runs any program (argv[0] a path), stdin from stdin_text (never a terminal), stdout and
// stderr captured; extra_env entries are "NAME=value".
cli_result run(const std::vector<std::string>& argv, const std::string& stdin_text = "",
               const std::vector<std::string>& extra_env = {});
// The cartgate binary with the test stack's config (CARTGATE_CONFIG).
cli_result cli(const std::vector<std::string>& args, const std::string& stdin_text = "");

// A fresh connection to the test database, for assertions and setup.
pqxx::connection db();

// `cartgate option set/unset`, then waits until the running workers have had time to
// take the change (NOTIFY reaches them within milliseconds). Throws if the CLI refuses.
void set_option(const std::string& key, const std::string& value);
void unset_option(const std::string& key);

struct test_user {
  std::int64_t id = 0;
  std::string login, email, password;
};
// `cartgate user add LOGIN --email E [extra_args…]` with the password on stdin; login,
// email and password are made up unless given. Throws with the CLI's stderr on failure.
test_user make_user(const std::vector<std::string>& extra_args = {}, std::string login = "",
                    std::string password = "");

// ---- processes ---------------------------------------------------------------------

int pool_master_pid();                     // the main pool (from its pid file)
std::vector<int> worker_pids(int master);  // its children, from /proc, sorted
bool process_alive(int pid);               // exists and is not a zombie

// Polls `done` every 20 ms until it returns true or `limit` passes; returns the last result.
bool eventually(const std::function<bool()>& done,
                std::chrono::milliseconds limit = std::chrono::milliseconds(10000));

// PostgreSQL of the test stack, as the postgres user (pg_ctl, fast shutdown).
void pg_stop();
void pg_start();

// Stops PostgreSQL for its lifetime and starts it again when it ends, also when the test
// fails or throws in between.
class pg_outage {
 public:
  pg_outage() { pg_stop(); }
  ~pg_outage() { end(); }
  pg_outage(const pg_outage&) = delete;
  pg_outage& operator=(const pg_outage&) = delete;
  void end();  // start PostgreSQL now (idempotent)

 private:
  bool ended_ = false;
};

// Freezes PostgreSQL (SIGSTOP to the postmaster and every backend) for its lifetime and
// thaws it (SIGCONT) when it ends, also on failure. Queries and new connections then
// wait instead of failing, which holds requests in flight inside the workers for as long
// as a test needs (keep it under database.connect_timeout, 2 s, or new connections fail).
class pg_freeze {
 public:
  pg_freeze();
  ~pg_freeze() { end(); }
  pg_freeze(const pg_freeze&) = delete;
  pg_freeze& operator=(const pg_freeze&) = delete;
  void end();  // thaw now (idempotent)

 private:
  std::vector<int> pids_;
};

// SIGSTOP to the given processes for its lifetime, SIGCONT when it ends (also on
// failure). Pausing every other worker makes the next request go to the one left.
class paused {
 public:
  explicit paused(std::vector<int> pids);
  ~paused();
  paused(const paused&) = delete;
  paused& operator=(const paused&) = delete;

 private:
  std::vector<int> pids_;
};

// How many sockets are connected to the unix socket at `path` (server side: accepted or
// waiting in the listen queue), from /proc/net/unix; the listening socket is not counted.
int unix_connections(const std::string& path);

// A second `cartgate serve` on socket B (nginx serves it on the pool-B port), with the
// main config's database and keys. The test owns it: signal it, stop it; whatever is
// still running when the object goes away is stopped (and it dies with the test
// process). Its output goes to $CARTGATE_TEST_LOG_DIR/pool-b.log.
class pool_b {
 public:
  pool_b() = default;
  ~pool_b();
  pool_b(const pool_b&) = delete;
  pool_b& operator=(const pool_b&) = delete;

  // Starts it and waits until health answers 200 through nginx. extra_toml is appended
  // to the derived config (whole tables only; server.workers comes from `workers`); a
  // table it names replaces the main config's table of that name (e.g. "[jwt]").
  void start(int workers = 2, const std::string& extra_toml = "");
  void signal(int sig) const;
  // Waits for the master to exit; returns its wait status, or -1 if it is still running.
  int wait_exit(std::chrono::milliseconds limit = std::chrono::milliseconds(15000));
  // signal(sig) then wait_exit(); SIGKILL if it does not exit in time. Returns the wait status.
  int stop(int sig = SIGTERM, std::chrono::milliseconds limit = std::chrono::milliseconds(15000));

  int pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  std::vector<int> workers() const { return worker_pids(pid_); }
  static int port();                 // nginx's pool-B server
  static std::string socket_path();  // $CARTGATE_TEST_SOCKET_B

 private:
  int pid_ = 0;
};

// ---- mail --------------------------------------------------------------------------

// Every message the SMTP sink received (raw RFC 5322 text), oldest first.
std::vector<std::string> mails();
void clear_mails();

}  // namespace cartgate::test
