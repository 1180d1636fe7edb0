// The worker's front (app/front.h): nginx keeps its connections to cartgate open, for
// FastCGI and for the HTTP auth socket, and the auth socket answers the auth subrequest
// alone, trusting only the client address nginx itself sets.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <regex>
#include <string>

#include "auth_helpers.h"
#include "support/stack.h"
#include "wire/fastcgi.h"

namespace cartgate::test {
namespace {

// The value of one series in /metrics (summed over the pool), 0 when absent.
long metric(const std::string& series) {
  auto r = http("/metrics");
  if (r.status != 200) throw std::runtime_error("/metrics answered " + std::to_string(r.status));
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stol(line.substr(series.size() + 1));
  }
  return 0;
}

const std::string accepted_auth = R"(cartgate_connections_accepted_total{socket="auth"})";
const std::string accepted_fastcgi = R"(cartgate_connections_accepted_total{socket="fastcgi"})";

// The main pool's auth socket: beside its FastCGI socket (server.auth_socket unset).
std::string auth_socket() {
  std::string s = env("CARTGATE_TEST_SOCKET");
  return s.substr(0, s.size() - std::string(".sock").size()) + "-auth.sock";
}

// A raw connection to a unix socket: what is written is sent as it is; read_response
// reads one HTTP answer (head, then Content-Length bytes), or what came before EOF.
class raw_connection {
 public:
  explicit raw_connection(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("connect " + path + ": " + std::strerror(errno));
    }
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~raw_connection() { ::close(fd_); }
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  void send(const std::string& bytes) {
    ASSERT_EQ(::write(fd_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }

  std::string read_response() {
    while (true) {
      auto head_end = buffer_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::size_t length = 0;
        std::smatch m;
        std::string head = buffer_.substr(0, head_end);
        if (std::regex_search(head, m, std::regex("Content-Length: ([0-9]+)", std::regex::icase))) {
          length = std::stoul(m[1]);
        }
        if (buffer_.size() >= head_end + 4 + length) {
          std::string out = buffer_.substr(0, head_end + 4 + length);
          buffer_.erase(0, out.size());
          return out;
        }
      }
      char buf[4096];
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) {
        std::string out;
        out.swap(buffer_);
        return out;
      }
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }

  // True when the peer has closed the connection (read gives EOF).
  bool closed_by_peer() {
    char c;
    return ::read(fd_, &c, 1) == 0;
  }

 private:
  int fd_ = -1;
  std::string buffer_;
};

std::string auth_request(const std::string& path, const std::string& extra_headers = "") {
  return "GET " + path +
         " HTTP/1.1\r\nHost: cartgate_auth\r\nX-Cartgate-Remote-Addr: 127.0.0.1\r\n" +
         extra_headers + "\r\n";
}

}  // namespace

TEST(Front, NginxReusesAuthSocketConnectionsAcrossRequests) {
  limits_lifted lifted;
  auto s = login_ok(make_user());
  long before = metric(accepted_auth);
  for (int i = 0; i < 40; ++i) {
    auto r = http(cart_path, bearer(s.access));
    ASSERT_EQ(r.status, 200) << r.body;
  }
  long opened = metric(accepted_auth) - before;
  // One kept connection per nginx worker would do; a few more may be opened and kept.
  EXPECT_GE(opened, 0);
  EXPECT_LE(opened, 4) << "auth subrequests opened " << opened << " connections for 40 requests";
}

TEST(Front, NginxReusesFastcgiConnectionsAcrossRequests) {
  limits_lifted lifted;
  auto s = login_ok(make_user());
  long before = metric(accepted_fastcgi);
  for (int i = 0; i < 40; ++i) {
    auto r = validate(s.access);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  long opened = metric(accepted_fastcgi) - before;
  // The /metrics reads themselves go over FastCGI too, on the same kept connections.
  EXPECT_LE(opened, 4) << "validate-token opened " << opened << " connections for 40 requests";
}

TEST(Front, ClientCannotForgeTheAddressNginxGivesTheAuthSocket) {
  auto u = make_user();
  // A token bound to 198.51.100.9 only (no User-Agent binding).
  auto created = cli({"jwt", "create", "--user=" + u.login, "--ip=198.51.100.9"});
  ASSERT_EQ(created.status, 0) << created.err;
  std::string token = created.out.substr(0, created.out.find('\n'));

  // The client claims that address in the header nginx uses: nginx replaces it with the
  // real peer (127.0.0.1), so the binding fails.
  http_options forged = bearer(token);
  forged.headers.push_back("X-Cartgate-Remote-Addr: 198.51.100.9");
  EXPECT_EQ(http(cart_path, forged).status, 401);

  // Through a trusted proxy (loopback) the forwarded address is the client's: allowed.
  http_options proxied = bearer(token);
  proxied.forwarded_for = "198.51.100.9";
  auto ok = http(cart_path, proxied);
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST(Front, AuthSocketAnswersTheAuthSubrequestOnAKeptConnection) {
  auto u = make_user();
  auto s = login_ok(u);
  raw_connection c(auth_socket());
  // No token: 401 with the Bearer challenge, and the connection stays open.
  c.send(auth_request("/_cartgate/auth"));
  std::string denied = c.read_response();
  EXPECT_EQ(denied.rfind("HTTP/1.1 401 ", 0), 0u) << denied;
  EXPECT_NE(denied.find("WWW-Authenticate: Bearer"), std::string::npos) << denied;
  // The same connection, a valid token: 204 and the identity headers.
  c.send(auth_request("/_cartgate/auth", "Authorization: Bearer " + s.access +
                                             "\r\nUser-Agent: cartgate-tests/1.0\r\n"));
  std::string allowed = c.read_response();
  EXPECT_EQ(allowed.rfind("HTTP/1.1 204 ", 0), 0u) << allowed;
  EXPECT_NE(allowed.find("X-Cartgate-User-Login: " + u.login), std::string::npos) << allowed;
  EXPECT_EQ(allowed.find("Connection: close"), std::string::npos) << allowed;
}

// libfcgi's own client (cgi-fcgi, Debian's libfcgi-bin) against cartgate's FastCGI
// responder: an implementation other than nginx's on the other end of the wire.
TEST(Front, LibfcgiClientGetsAnswersFromTheFastcgiSocket) {
  const std::vector<std::string> cgi_env = {
      "REQUEST_METHOD=GET", "DOCUMENT_URI=/wp-json/cartgate/v1/health",
      "REQUEST_URI=/wp-json/cartgate/v1/health", "QUERY_STRING=", "REMOTE_ADDR=127.0.0.1",
      "SCRIPT_FILENAME=/wp-json/cartgate/v1/health"};
  auto health = run({"/usr/bin/cgi-fcgi", "-bind", "-connect", env("CARTGATE_TEST_SOCKET")}, "", cgi_env);
  ASSERT_EQ(health.status, 0) << health.err;
  EXPECT_EQ(health.out.rfind("Status: 200 OK\r\n", 0), 0u) << health.out;
  EXPECT_NE(health.out.find("Content-Type: application/json"), std::string::npos) << health.out;
  EXPECT_NE(health.out.find("\"status\":\"ok\""), std::string::npos) << health.out;

  // A body sent as STDIN: a malformed login is answered rest_invalid_json.
  std::vector<std::string> post_env = {"REQUEST_METHOD=POST", "DOCUMENT_URI=/wp-json/cocart/v2/login",
                                       "REQUEST_URI=/wp-json/cocart/v2/login", "QUERY_STRING=",
                                       "REMOTE_ADDR=127.0.0.1", "CONTENT_TYPE=application/json",
                                       "CONTENT_LENGTH=8", "SCRIPT_FILENAME=/login"};
  auto bad = run({"/usr/bin/cgi-fcgi", "-bind", "-connect", env("CARTGATE_TEST_SOCKET")}, "{\"user\":", post_env);
  ASSERT_EQ(bad.status, 0) << bad.err;
  EXPECT_EQ(bad.out.rfind("Status: 400 Bad Request\r\n", 0), 0u) << bad.out;
  EXPECT_NE(bad.out.find("rest_invalid_json"), std::string::npos) << bad.out;
}

// nginx never has two requests in flight on one FastCGI connection; a peer that queues
// many that must wait (logins go to the blocking threads) is cut off, not buffered.
TEST(Front, FastcgiPeerQueueingManyRequestsOnOneConnectionIsCutOff) {
  std::string burst;
  constexpr int requests = 12;
  for (int i = 0; i < requests; ++i) {
    const auto id = static_cast<std::uint16_t>(i + 1);
    // BEGIN_REQUEST: role 1 (responder), flags 1 (keep the connection).
    fastcgi::append_record(burst, fastcgi::begin_request, id, std::string_view("\0\1\1\0\0\0\0\0", 8));
    std::string params;
    fastcgi::encode_pair(params, "REQUEST_METHOD", "POST");
    fastcgi::encode_pair(params, "DOCUMENT_URI", "/wp-json/cocart/v2/login");
    fastcgi::encode_pair(params, "REMOTE_ADDR", "198.51.100.77");
    fastcgi::encode_pair(params, "CONTENT_LENGTH", "0");
    fastcgi::append_record(burst, fastcgi::params, id, params);
    fastcgi::append_record(burst, fastcgi::params, id, {});
    fastcgi::append_record(burst, fastcgi::stdin_record, id, {});
  }
  raw_connection c(env("CARTGATE_TEST_SOCKET"));
  c.send(burst);
  // Read until the worker closes: fewer END_REQUEST records than requests came back.
  std::string got;
  for (std::string part; !(part = c.read_response()).empty();) got += part;
  int ends = 0;
  for (std::size_t pos = 0; pos + 8 <= got.size();) {
    auto type = static_cast<unsigned char>(got[pos + 1]);
    std::size_t length = (static_cast<unsigned char>(got[pos + 4]) << 8) | static_cast<unsigned char>(got[pos + 5]);
    std::size_t padding = static_cast<unsigned char>(got[pos + 6]);
    if (type == fastcgi::end_request) ++ends;
    pos += 8 + length + padding;
  }
  EXPECT_LT(ends, requests) << "every queued request was answered";
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(Front, AuthSocketServesNoOtherRoute) {
  raw_connection c(auth_socket());
  c.send(auth_request("/wp-json/cocart/v2/login"));
  std::string r = c.read_response();
  EXPECT_EQ(r.rfind("HTTP/1.1 404 ", 0), 0u) << r;
  EXPECT_NE(r.find("rest_no_route"), std::string::npos) << r;
}

TEST(Front, AuthSocketRefusesMalformedRequestsAndCloses) {
  {
    raw_connection c(auth_socket());
    c.send("NOT HTTP AT ALL\r\n\r\n");
    std::string r = c.read_response();
    EXPECT_EQ(r.rfind("HTTP/1.1 400 ", 0), 0u) << r;
    EXPECT_NE(r.find("cocart_bad_request"), std::string::npos) << r;
    EXPECT_NE(r.find("Connection: close"), std::string::npos) << r;
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    raw_connection c(auth_socket());
    c.send(auth_request("/_cartgate/auth", "Transfer-Encoding: chunked\r\n") + "0\r\n\r\n");
    std::string r = c.read_response();
    EXPECT_EQ(r.rfind("HTTP/1.1 400 ", 0), 0u) << r;
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    raw_connection c(auth_socket());
    c.send(auth_request("/_cartgate/auth", "Content-Length: 70000\r\n"));
    std::string r = c.read_response();
    EXPECT_EQ(r.rfind("HTTP/1.1 413 ", 0), 0u) << r;
    EXPECT_TRUE(c.closed_by_peer());
  }
}

TEST(Front, AuthSocketHonoursConnectionClose) {
  raw_connection c(auth_socket());
  c.send(auth_request("/_cartgate/auth", "Connection: close\r\n"));
  std::string r = c.read_response();
  EXPECT_EQ(r.rfind("HTTP/1.1 401 ", 0), 0u) << r;
  EXPECT_NE(r.find("Connection: close"), std::string::npos) << r;
  EXPECT_TRUE(c.closed_by_peer());
}

}  // namespace cartgate::test
