#include "support/stack.h"

#include "support/secrets.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace cartgate::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(std::string s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\r' || s.back() == '\n' || s.back() == '\t'))
    s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tail(const std::string& path, std::size_t bytes = 2000) {
  try {
    auto text = read_file(path);
    return text.size() > bytes ? text.substr(text.size() - bytes) : text;
  } catch (...) {
    return "(no " + path + ")";
  }
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* res = static_cast<http_result*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    res->headers.clear();  // a new response (after 100 Continue or a redirect)
  } else if (auto colon = line.find(':'); colon != std::string::npos) {
    res->headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  return size * n;
}

// Splits a CGI-style answer ("Status: 404 Not Found\r\nName: value\r\n\r\nbody").
http_result parse_cgi(const std::string& raw) {
  http_result r;
  r.status = 200;
  auto end = raw.find("\r\n\r\n");
  std::size_t skip = 4;
  if (end == std::string::npos) {
    end = raw.find("\n\n");
    skip = 2;
  }
  if (end == std::string::npos) {
    r.status = 0;
    r.error = "no header block in FastCGI answer: " + raw.substr(0, 200);
    return r;
  }
  std::istringstream head(raw.substr(0, end));
  std::string line;
  while (std::getline(head, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto name = lower(trim(line.substr(0, colon)));
    auto value = trim(line.substr(colon + 1));
    if (name == "status") {
      r.status = std::stol(value);
    } else {
      r.headers[name] = value;
    }
  }
  r.body = raw.substr(end + skip);
  return r;
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("FastCGI send: ") + std::strerror(errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

bool read_exact(int fd, char* buf, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

void append_length(std::string& out, std::size_t n) {
  if (n < 128) {
    out.push_back(static_cast<char>(n));
  } else {
    out.push_back(static_cast<char>(((n >> 24) & 0x7f) | 0x80));
    out.push_back(static_cast<char>((n >> 16) & 0xff));
    out.push_back(static_cast<char>((n >> 8) & 0xff));
    out.push_back(static_cast<char>(n & 0xff));
  }
}

constexpr unsigned char fcgi_begin_request = 1, fcgi_end_request = 3, fcgi_params = 4,
                        fcgi_stdin = 5, fcgi_stdout = 6;

}  // namespace

// ---- environment -------------------------------------------------------------------

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) {
    throw std::runtime_error(std::string(name) +
                             " is not set: integration tests run against the stack that "
                             "tests/run.sh starts (bash tests/run.sh)");
  }
  return v;
}

int env_int(const char* name) { return std::stoi(env(name)); }

std::string unique_name(std::string_view prefix) {
  static std::atomic<int> counter{0};
  static const std::string salt = [] {
    std::random_device rd;
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08x", rd());
    return std::string(buf, 6);
  }();
  std::string name(prefix);
  name += "_" + std::to_string(getpid()) + "_" + std::to_string(++counter) + "_" + salt;
  return lower(name);
}

std::string unique_phone() {
  std::string digits;
  for (char c : unique_name("p"))
    if (std::isdigit(static_cast<unsigned char>(c))) digits += c;
  return "+1555" + digits.substr(0, 12);
}

// ---- HTTP --------------------------------------------------------------------------

Json::Value http_result::json() const {
  Json::CharReaderBuilder b;
  Json::Value v;
  std::string errs;
  std::unique_ptr<Json::CharReader> reader(b.newCharReader());
  if (!reader->parse(body.data(), body.data() + body.size(), &v, &errs)) {
    throw std::runtime_error("HTTP " + std::to_string(status) +
                             " body is not JSON: " + body.substr(0, 300));
  }
  return v;
}

std::string http_result::header(std::string_view name) const {
  auto it = headers.find(lower(std::string(name)));
  return it == headers.end() ? "" : it->second;
}

http_result http(const std::string& path_and_query, const http_options& o) {
  int port =
      o.port ? o.port : env_int(o.https ? "CARTGATE_TEST_HTTPS_PORT" : "CARTGATE_TEST_HTTP_PORT");
  std::string url = std::string(o.https ? "https" : "http") +
                    "://127.0.0.1:" + std::to_string(port) + path_and_query;

  http_result res;
  CURL* c = curl_easy_init();
  if (!c) throw std::runtime_error("curl_easy_init failed");
  curl_slist* hdrs = nullptr;
  for (auto& h : o.headers) hdrs = curl_slist_append(hdrs, h.c_str());
  if (!o.content_type.empty())
    hdrs = curl_slist_append(hdrs, ("Content-Type: " + o.content_type).c_str());
  if (!o.bearer.empty())
    hdrs = curl_slist_append(hdrs, ("Authorization: Bearer " + o.bearer).c_str());
  if (!o.forwarded_for.empty())
    hdrs = curl_slist_append(hdrs, ("X-Forwarded-For: " + o.forwarded_for).c_str());
  hdrs = curl_slist_append(hdrs, "Expect:");  // send bodies at once; no 100-continue round

  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  if (!o.unix_socket.empty()) curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, o.unix_socket.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o.timeout_ms);
  curl_easy_setopt(c, CURLOPT_USERAGENT, o.user_agent.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &res.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &res);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  if (o.basic) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, o.basic_user.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, o.basic_password.c_str());
  }
  if (o.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (o.method != "GET" || !o.body.empty()) {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, o.method.c_str());
  }
  if (!o.body.empty() || o.method == "POST" || o.method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, o.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(o.body.size()));
  }

  // The secrets this request carries and its answer brings (tests/secrets_audit.sh).
  if (!o.bearer.empty()) record_secret("access_token", o.bearer);
  if (o.basic) record_secret("password", o.basic_password);
  record_request_secrets(o.body);
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) {
    record_response_secrets(res.body);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res.status);
  } else {
    res.status = 0;
    res.error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(hdrs);
  curl_easy_cleanup(c);
  return res;
}

std::string internal_socket_path() {
  std::string fastcgi = env("CARTGATE_TEST_SOCKET");
  return fastcgi.substr(0, fastcgi.size() - std::string(".sock").size()) + "-auth.sock";
}

http_result post_json(const std::string& path, const Json::Value& body, http_options options) {
  Json::StreamWriterBuilder w;
  w["indentation"] = "";
  options.method = "POST";
  options.body = Json::writeString(w, body);
  if (options.content_type.empty()) options.content_type = "application/json";
  return http(path, options);
}

::testing::AssertionResult is_error(const http_result& r, long status, std::string_view code) {
  auto fail = [&](const std::string& why) {
    return ::testing::AssertionFailure()
           << why << "\n  HTTP " << r.status << (r.error.empty() ? "" : " (" + r.error + ")")
           << "\n  body: " << r.body.substr(0, 500);
  };
  if (r.status != status) return fail("expected HTTP " + std::to_string(status));
  Json::Value j;
  try {
    j = r.json();
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  if (!j.isObject()) return fail("body is not a JSON object");
  if (!j["code"].isString() || j["code"].asString() != code)
    return fail("expected code " + std::string(code));
  if (!j["message"].isString() || j["message"].asString().empty())
    return fail("message missing or empty");
  if (!j["data"].isObject() || !j["data"]["status"].isIntegral() ||
      j["data"]["status"].asInt64() != status) {
    return fail("data.status must equal the HTTP status");
  }
  if (r.header("content-type").find("application/json") == std::string::npos) {
    return fail("content-type is not application/json: " + r.header("content-type"));
  }
  return ::testing::AssertionSuccess();
}

bool login_route_available() {
  auto r = post_json(login_path, Json::Value(Json::objectValue));
  if (r.status != 404) return true;
  try {
    return r.json()["code"].asString() != "rest_no_route";
  } catch (...) {
    return true;
  }
}

// ---- FastCGI -----------------------------------------------------------------------

fastcgi_client::fastcgi_client(const std::string& socket_path) {
  sockaddr_un addr{};
  if (socket_path.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long");
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, socket_path.c_str());
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("connect " + socket_path + ": " + std::strerror(e));
  }
}

fastcgi_client::~fastcgi_client() {
  if (fd_ >= 0) ::close(fd_);
}

void fastcgi_client::record(unsigned char type, std::string_view content) {
  // Request id 1, no padding; content of at most 65535 bytes per record.
  do {
    std::size_t n = std::min<std::size_t>(content.size(), 65535);
    std::string rec = {1,
                       static_cast<char>(type),
                       0,
                       1,
                       static_cast<char>((n >> 8) & 0xff),
                       static_cast<char>(n & 0xff),
                       0,
                       0};
    rec.append(content.substr(0, n));
    write_all(fd_, rec);
    content.remove_prefix(n);
  } while (!content.empty());
}

void fastcgi_client::begin(const std::string& method, const std::string& uri,
                           std::size_t content_length, const std::string& content_type,
                           const std::map<std::string, std::string>& extra_params) {
  record(fcgi_begin_request, std::string_view("\0\1\0\0\0\0\0\0", 8));  // RESPONDER, close after
  auto q = uri.find('?');
  std::map<std::string, std::string> params = {
      {"REQUEST_METHOD", method},
      {"REQUEST_URI", uri},
      {"DOCUMENT_URI", uri.substr(0, q)},
      {"QUERY_STRING", q == std::string::npos ? "" : uri.substr(q + 1)},
      {"SERVER_PROTOCOL", "HTTP/1.1"},
      {"REMOTE_ADDR", "127.0.0.1"},
      {"HTTP_USER_AGENT", "cartgate-tests/1.0"},
      {"CONTENT_LENGTH", content_length ? std::to_string(content_length) : ""},
      {"CONTENT_TYPE", content_length ? content_type : ""},
  };
  for (auto& [k, v] : extra_params) params[k] = v;
  std::string encoded;
  for (auto& [k, v] : params) {
    append_length(encoded, k.size());
    append_length(encoded, v.size());
    encoded += k;
    encoded += v;
  }
  record(fcgi_params, encoded);
  record(fcgi_params, "");
}

void fastcgi_client::send_body(std::string_view part) {
  if (!part.empty()) record(fcgi_stdin, part);
}

http_result fastcgi_client::finish() {
  if (!body_ended_) {
    body_ended_ = true;
    try {
      record(fcgi_stdin, "");
    } catch (const std::exception&) {
      // The worker may have answered and closed without reading the body (413).
    }
  }
  std::string out;
  while (true) {
    char h[8];
    if (!read_exact(fd_, h, 8)) break;
    auto type = static_cast<unsigned char>(h[1]);
    std::size_t len = (static_cast<unsigned char>(h[4]) << 8) | static_cast<unsigned char>(h[5]);
    std::size_t pad = static_cast<unsigned char>(h[6]);
    std::string content(len + pad, '\0');
    if (len + pad && !read_exact(fd_, content.data(), len + pad)) break;
    if (type == fcgi_stdout) out.append(content, 0, len);
    if (type == fcgi_end_request) {
      auto r = parse_cgi(out);
      record_response_secrets(r.body);
      return r;
    }
  }
  http_result r = out.empty() ? http_result{} : parse_cgi(out);
  if (out.empty()) r.error = "connection closed without a FastCGI answer";
  return r;
}

http_result fastcgi(const std::string& socket_path, const std::string& method,
                    const std::string& uri, const std::string& body,
                    const std::string& content_type) {
  fastcgi_client c(socket_path);
  record_request_secrets(body);
  c.begin(method, uri, body.size(), content_type);
  try {
    c.send_body(body);
  } catch (const std::exception&) {
    // Refused before reading the body; the answer is still there to read.
  }
  return c.finish();
}

// ---- CLI and database --------------------------------------------------------------

cli_result run(const std::vector<std::string>& argv, const std::string& stdin_text,
               const std::vector<std::string>& extra_env) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);

  std::vector<std::string> envs;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    bool overridden = false;
    for (auto& x : extra_env) {
      if (kv.compare(0, x.find('=') + 1, x, 0, x.find('=') + 1) == 0) overridden = true;
    }
    if (!overridden) envs.push_back(kv);
  }
  envs.insert(envs.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp, args;
  for (auto& s : envs) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    ::close(err[0]);
    throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(rc));
  }

  // Feed stdin and drain both outputs together, so no pipe fills up and blocks the child.
  cli_result res;
  std::size_t written = 0;
  int in_fd = in[1];
  if (stdin_text.empty()) {
    ::close(in_fd);
    in_fd = -1;
  } else {
    ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
  }
  bool out_open = true, err_open = true;
  while (out_open || err_open || in_fd >= 0) {
    pollfd p[3] = {{out_open ? out[0] : -1, POLLIN, 0},
                   {err_open ? err[0] : -1, POLLIN, 0},
                   {in_fd, POLLOUT, 0}};
    if (::poll(p, 3, 60000) <= 0) {
      if (errno == EINTR) continue;
      break;
    }
    char buf[4096];
    for (int i = 0; i < 2; ++i) {
      if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = ::read(p[i].fd, buf, sizeof buf);
        if (n > 0) {
          (i == 0 ? res.out : res.err).append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          (i == 0 ? out_open : err_open) = false;
        }
      }
    }
    if (in_fd >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = ::write(in_fd, stdin_text.data() + written, stdin_text.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EINTR) written = stdin_text.size();
      if (written >= stdin_text.size()) {
        ::close(in_fd);
        in_fd = -1;
      }
    }
  }
  if (in_fd >= 0) ::close(in_fd);
  ::close(out[0]);
  ::close(err[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  res.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return res;
}

static std::string binary() {
  const char* v = std::getenv("CARTGATE_TEST_BINARY");
  return v && *v ? v : CARTGATE_BINARY;
}

cli_result cli(const std::vector<std::string>& args, const std::string& stdin_text) {
  std::vector<std::string> argv = {binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run(argv, stdin_text, {"CARTGATE_CONFIG=" + env("CARTGATE_TEST_CONFIG")});
  record_cli_secrets(args, stdin_text, r.out);
  return r;
}

pqxx::connection db() { return pqxx::connection(env("CARTGATE_TEST_DATABASE_URL")); }

static void option_cli(const std::vector<std::string>& args) {
  auto r = cli(args);
  if (r.status != 0) {
    throw std::runtime_error("cartgate " + args[0] + " " + args[1] + " " + args[2] +
                             " failed: " + r.err);
  }
  // Workers reload on NOTIFY within milliseconds; nothing observable says they did, so
  // give them a margin well above that (the contract allows up to a second).
  std::this_thread::sleep_for(300ms);
}

void set_option(const std::string& key, const std::string& value) {
  option_cli({"option", "set", key, value});
}
void unset_option(const std::string& key) { option_cli({"option", "unset", key}); }

test_user make_user(const std::vector<std::string>& extra_args, std::string login,
                    std::string password) {
  test_user u;
  u.login = login.empty() ? unique_name("user") : login;
  u.email = u.login + "@example.com";
  u.password = password.empty() ? "pw-" + unique_name("secret") : password;
  std::vector<std::string> args = {"user", "add", u.login, "--email", u.email};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  auto r = cli(args, u.password + "\n");
  if (r.status != 0)
    throw std::runtime_error("cartgate user add " + u.login + " failed: " + r.err + r.out);
  auto c = db();
  pqxx::read_transaction t(c);
  auto rows = t.exec_params("SELECT id FROM users WHERE lower(login) = lower($1)", u.login);
  if (rows.empty())
    throw std::runtime_error("user " + u.login + " not found after `cartgate user add`");
  u.id = rows[0][0].as<std::int64_t>();
  return u;
}

// ---- processes ---------------------------------------------------------------------

int pool_master_pid() {
  auto text = trim(read_file(env("CARTGATE_TEST_POOL_PID_FILE")));
  return std::stoi(text);
}

namespace {

// From /proc/PID/stat: state and parent ("pid (comm) S ppid …"; comm may hold spaces).
bool proc_stat(int pid, char* state, int* ppid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  if (!std::getline(in, s)) return false;
  auto close = s.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(s.substr(close + 1));
  rest >> *state >> *ppid;
  return static_cast<bool>(rest);
}

}  // namespace

std::vector<int> worker_pids(int master) {
  std::vector<int> pids;
  if (master <= 0) return pids;
  for (auto& entry : fs::directory_iterator("/proc")) {
    auto name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    char state = 0;
    int ppid = 0;
    if (proc_stat(std::stoi(name), &state, &ppid) && ppid == master && state != 'Z') {
      pids.push_back(std::stoi(name));
    }
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

bool process_alive(int pid) {
  char state = 0;
  int ppid = 0;
  return pid > 0 && proc_stat(pid, &state, &ppid) && state != 'Z' && state != 'X';
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

static cli_result pg_ctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/sbin/runuser",
                                   "-u",
                                   "postgres",
                                   "--",
                                   env("CARTGATE_TEST_PG_BIN") + "/pg_ctl",
                                   "-D",
                                   env("CARTGATE_TEST_PG_DATA")};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

void pg_stop() {
  auto r = pg_ctl({"-m", "fast", "-w", "-t", "60", "stop"});
  if (r.status != 0) throw std::runtime_error("pg_ctl stop failed: " + r.err + r.out);
}

void pg_start() {
  if (pg_ctl({"status"}).status == 0) return;
  auto r = pg_ctl({"-l", env("CARTGATE_TEST_PG_LOG"), "-w", "-t", "60", "start", "-o",
                   env("CARTGATE_TEST_PG_OPTIONS")});
  if (r.status != 0) throw std::runtime_error("pg_ctl start failed: " + r.err + r.out);
}

void pg_outage::end() {
  if (ended_) return;
  ended_ = true;
  pg_start();
}

pg_freeze::pg_freeze() {
  // The postmaster first, so it forks no backend we would miss.
  int postmaster = std::stoi(read_file(env("CARTGATE_TEST_PG_DATA") + "/postmaster.pid"));
  pids_.push_back(postmaster);
  ::kill(postmaster, SIGSTOP);
  for (int pid : worker_pids(postmaster)) {
    pids_.push_back(pid);
    ::kill(pid, SIGSTOP);
  }
}

void pg_freeze::end() {
  for (auto it = pids_.rbegin(); it != pids_.rend(); ++it) ::kill(*it, SIGCONT);
  pids_.clear();
}

paused::paused(std::vector<int> pids) : pids_(std::move(pids)) {
  for (int pid : pids_) ::kill(pid, SIGSTOP);
}

paused::~paused() {
  for (int pid : pids_) ::kill(pid, SIGCONT);
}

int unix_connections(const std::string& path) {
  // Columns: Num RefCount Protocol Flags Type St Inode [Path]; Flags 00010000 marks the
  // listening socket, St 03 a connected one.
  std::ifstream in("/proc/net/unix");
  std::string line;
  int n = 0;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string num, refs, proto, flags, type, st, inode, p;
    if (!(f >> num >> refs >> proto >> flags >> type >> st >> inode >> p)) continue;
    if (p == path && flags != "00010000") ++n;
  }
  return n;
}

// ---- pool B ------------------------------------------------------------------------

int pool_b::port() { return env_int("CARTGATE_TEST_POOL_B_PORT"); }
std::string pool_b::socket_path() { return env("CARTGATE_TEST_SOCKET_B"); }

void pool_b::start(int workers, const std::string& extra_toml) {
  if (pid_ > 0) throw std::runtime_error("pool B is already running");
  // The main config with another socket and worker count: same database, same keys. A
  // table that extra_toml defines replaces the main config's table of that name (TOML
  // allows no table twice), e.g. "[jwt]" with another algorithm and key.
  std::set<std::string> replaced;
  {
    std::istringstream extra(extra_toml);
    std::string line;
    while (std::getline(extra, line)) {
      line = trim(line);
      if (line.size() > 2 && line.front() == '[' && line.back() == ']') replaced.insert(line);
    }
  }
  std::istringstream main(read_file(env("CARTGATE_TEST_CONFIG")));
  std::string config, line;
  bool skipping = false;
  while (std::getline(main, line)) {
    std::string t = trim(line);
    if (t.size() > 2 && t.front() == '[' && t.back() == ']') skipping = replaced.count(t) > 0;
    if (skipping) continue;
    if (line.rfind("socket =", 0) == 0) line = "socket = \"" + socket_path() + "\"";
    if (line.rfind("workers =", 0) == 0) line = "workers = " + std::to_string(workers);
    config += line + "\n";
  }
  config += extra_toml + "\n";
  std::string config_path = env("CARTGATE_TEST_STATE") + "/pool-b.toml";
  {
    std::ofstream out(config_path, std::ios::trunc);
    out << config;
  }
  ::chmod(config_path.c_str(), 0600);
  std::string log_path = env("CARTGATE_TEST_LOG_DIR") + "/pool-b.log";

  // Everything the child needs is prepared before fork (the test may have threads).
  std::string bin = binary();
  std::string config_env = "CARTGATE_CONFIG=" + config_path;
  std::vector<std::string> envs;
  for (char** e = environ; e && *e; ++e) {
    if (std::strncmp(*e, "CARTGATE_CONFIG=", 16) != 0) envs.emplace_back(*e);
  }
  envs.push_back(config_env);
  std::vector<char*> envp;
  for (auto& s : envs) envp.push_back(s.data());
  envp.push_back(nullptr);
  char arg0[] = "cartgate", arg1[] = "serve";
  char* args[] = {arg0, arg1, nullptr};
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = getpid();

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Pool B must not outlive the test process, even when it crashes: the kernel sends
    // SIGTERM, which the master treats as a normal graceful stop.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    execve(bin.c_str(), args, envp.data());
    _exit(127);
  }
  ::close(log_fd);
  ::close(null_fd);
  pid_ = pid;
  {
    std::ofstream pf(env("CARTGATE_TEST_POOL_B_PID_FILE"), std::ios::trunc);
    pf << pid << "\n";
  }

  bool up = eventually(
      [&] {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = 0;
          return true;
        }
        http_options o;
        o.port = port();
        o.timeout_ms = 2000;
        return http(health_path, o).status == 200 &&
               worker_pids(pid_).size() == static_cast<std::size_t>(workers);
      },
      15000ms);
  if (!up || pid_ == 0) {
    if (pid_ > 0) stop(SIGKILL, 5000ms);
    throw std::runtime_error("pool B did not start; " + log_path + ":\n" + tail(log_path));
  }
}

void pool_b::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

int pool_b::wait_exit(std::chrono::milliseconds limit) {
  if (pid_ <= 0) return -1;
  int status = -1;
  bool gone = eventually(
      [&] {
        int s = 0;
        if (waitpid(pid_, &s, WNOHANG) == pid_) {
          status = s;
          return true;
        }
        return false;
      },
      limit);
  if (!gone) return -1;
  pid_ = 0;
  ::unlink(env("CARTGATE_TEST_POOL_B_PID_FILE").c_str());
  return status;
}

int pool_b::stop(int sig, std::chrono::milliseconds limit) {
  if (pid_ <= 0) return -1;
  std::vector<int> workers = worker_pids(pid_);
  signal(sig);
  int status = wait_exit(limit);
  if (status == -1) {
    signal(SIGKILL);
    for (int w : workers) ::kill(w, SIGKILL);
    status = wait_exit(5000ms);
  }
  // Its workers die with it (they ask for SIGTERM when the master goes); wait for that.
  eventually([&] { return std::none_of(workers.begin(), workers.end(), process_alive); }, 10000ms);
  return status;
}

pool_b::~pool_b() {
  try {
    if (pid_ > 0) stop(SIGTERM);
  } catch (...) {
  }
}

// ---- mail --------------------------------------------------------------------------

std::vector<std::string> mails() {
  std::vector<std::pair<fs::file_time_type, std::string>> found;
  fs::path dir = env("CARTGATE_TEST_MAIL_DIR");
  for (const char* sub : {"new", "cur"}) {
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir / sub, ec)) {
      if (e.is_regular_file()) found.emplace_back(e.last_write_time(), e.path().string());
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [_, path] : found) out.push_back(read_file(path));
  return out;
}

void clear_mails() {
  fs::path dir = env("CARTGATE_TEST_MAIL_DIR");
  for (const char* sub : {"new", "cur"}) {
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir / sub, ec)) fs::remove(e.path(), ec);
  }
}

}  // namespace cartgate::test
