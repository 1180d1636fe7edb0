// Revocation fails closed while a worker's LISTEN connection is gone or silently dead
// (README, "Revocation while LISTEN is down"). Pool B runs two workers whose listener
// connects through a loopback TCP proxy inside this test (database.listen_url), while
// their pooled connections reach PostgreSQL directly. The proxy can stop taking new
// connections, or black-hole every byte while keeping the sockets open (a half-open
// link: nothing is closed, nothing arrives). A session is revoked behind the listener's
// back (direct SQL + NOTIFY, which the cut listener never hears); within 1 s every worker
// of pool B must refuse its token, and other sessions keep working (read from
// PostgreSQL). Each worker is addressed alone by pausing the other one.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <list>
#include <mutex>
#include <thread>

#include "auth_helpers.h"

namespace cartgate::test {
namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A TCP proxy on 127.0.0.1 (a port of its own) to 127.0.0.1:target_port.
//   forward:    bytes flow both ways
//   hold_new:   open connections flow; new ones wait unaccepted in the backlog
//   black_hole: nothing is read or written on any connection and new ones wait; every
//               socket stays open, so neither end sees a close
class tcp_proxy {
 public:
  enum class mode { forward, hold_new, black_hole };

  explicit tcp_proxy(int target_port) : target_port_(target_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a = loopback(0);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 64) != 0) {
      throw std::runtime_error("tcp_proxy: cannot listen");
    }
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~tcp_proxy() {
    stop_ = true;
    acceptor_.join();
    for (auto& t : pumps_) t.join();
    ::close(listen_fd_);
  }
  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;

  int port() const { return port_; }
  void set(mode m) { mode_ = m; }

 private:
  static sockaddr_in loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    return a;
  }

  void accept_loop() {
    while (!stop_) {
      if (mode_ != mode::forward) {
        std::this_thread::sleep_for(20ms);
        continue;
      }
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a = loopback(target_port_);
      if (::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(server);
        ::close(client);
        continue;
      }
      pumps_.emplace_back([this, client, server] { pump(client, server); });
    }
  }

  static bool write_all(int fd, const char* data, std::size_t n) {
    while (n > 0) {
      ssize_t w = ::write(fd, data, n);
      if (w <= 0) return false;
      data += w;
      n -= static_cast<std::size_t>(w);
    }
    return true;
  }

  void pump(int client, int server) {
    char buf[16384];
    bool open = true;
    while (open && !stop_) {
      if (mode_ == mode::black_hole) {
        std::this_thread::sleep_for(20ms);
        continue;
      }
      pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(p, 2, 50) <= 0) continue;
      for (int i = 0; i < 2 && open; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::read(p[i].fd, buf, sizeof buf);
        open = n > 0 && write_all(i == 0 ? server : client, buf, static_cast<std::size_t>(n));
      }
    }
    ::close(client);
    ::close(server);
  }

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<mode> mode_{mode::forward};
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::list<std::thread> pumps_;  // only the acceptor adds; joined after it
};

// host:port of the test database's URL (postgresql://user:pass@127.0.0.1:PORT/db).
std::size_t port_start(const std::string& url) { return url.find(':', url.find('@')) + 1; }

int database_port() {
  std::string url = env("CARTGATE_TEST_DATABASE_URL");
  return std::stoi(url.substr(port_start(url)));
}

std::string url_through(int port, const std::string& application_name) {
  std::string url = env("CARTGATE_TEST_DATABASE_URL");
  std::size_t from = port_start(url), to = url.find('/', from);
  url = url.substr(0, from) + std::to_string(port) + url.substr(to);
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "application_name=" + application_name;
}

struct ListenerOutage : ::testing::Test {
  tcp_proxy proxy{database_port()};
  std::string listener_name = unique_name("listen");
  pool_b b;

  void SetUp() override {
    b.start(2, "[database]\nurl = \"" + env("CARTGATE_TEST_DATABASE_URL") + "\"\nlisten_url = \"" +
                   url_through(proxy.port(), listener_name) + "\"\n");
    ASSERT_EQ(b.workers().size(), 2u);
    ASSERT_TRUE(eventually([&] { return listen_backends() == 2; })) << "pool B's listeners never connected";
  }

  // PostgreSQL backends of pool B's LISTEN connections (one per worker).
  std::int64_t listen_backends() {
    auto c = db();
    pqxx::read_transaction t(c);
    return t.exec_params("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", listener_name)[0][0]
        .as<std::int64_t>();
  }
  void terminate_listen_backends() {
    auto c = db();
    pqxx::nontransaction t(c);
    t.exec_params("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                  listener_name);
  }

  // GET me on one worker of pool B alone: the other one is paused meanwhile.
  http_result me_on(int worker, const std::string& token) {
    std::vector<int> others;
    for (int w : b.workers()) {
      if (w != worker) others.push_back(w);
    }
    paused rest(others);
    fastcgi_client c(pool_b::socket_path());
    c.begin("GET", "/wp-json/cartgate/v1/me", 0, "", {{"HTTP_AUTHORIZATION", "Bearer " + token}});
    return c.finish();
  }
  void expect_accepted_on_every_worker(const std::string& token) {
    for (int w : b.workers()) {
      auto r = me_on(w, token);
      EXPECT_EQ(r.status, 200) << "worker " << w << ": " << r.body << r.error;
    }
  }
  bool refused_on_every_worker(const std::string& token) {
    bool all = true;
    for (int w : b.workers()) all = is_bearer_failure(me_on(w, token)) && all;
    return all;
  }

  // Ends the session in PostgreSQL and notifies, as a revocation on another host would;
  // pool B's cut listeners never hear it.
  static void revoke_behind_the_listeners_back(const std::string& pat) {
    auto c = db();
    pqxx::work w(c);
    w.exec_params("UPDATE sessions SET revoked_at = now(), revoke_reason = 'test' WHERE pat = $1", pat);
    w.exec_params("SELECT pg_notify('cartgate_revoke', $1)", "pat:" + pat);
    w.commit();
  }

  // Polls every worker for up to 1 s after the revocation, then asserts the outcome.
  void expect_refused_on_every_worker_within_1s(const std::string& token, clock_type::time_point revoked_at) {
    while (clock_type::now() < revoked_at + 1000ms && !refused_on_every_worker(token)) {
    }
    for (int w : b.workers()) {
      for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(is_bearer_failure(me_on(w, token))) << "worker " << w << " still accepts a revoked session";
      }
    }
  }

  // Both sessions cached on both workers, the cut, the revocation of `revoked`, and the
  // answers within 1 s; then the link is healed and the listeners come back.
  void run_outage(tcp_proxy::mode cut, const std::function<void()>& after_cut) {
    auto u = make_user();
    auto revoked = login_ok(u);
    auto kept = login_ok(u);
    expect_accepted_on_every_worker(revoked.access);
    expect_accepted_on_every_worker(kept.access);

    proxy.set(cut);
    after_cut();
    revoke_behind_the_listeners_back(pat_of(revoked.access));
    auto revoked_at = clock_type::now();
    expect_refused_on_every_worker_within_1s(revoked.access, revoked_at);
    // Fail closed, not shut: other sessions are read from PostgreSQL meanwhile.
    expect_accepted_on_every_worker(kept.access);

    proxy.set(tcp_proxy::mode::forward);
    ASSERT_TRUE(eventually([&] { return listen_backends() == 2; }, 15000ms)) << "the listeners did not come back";
    expect_accepted_on_every_worker(kept.access);
    for (int w : b.workers()) EXPECT_TRUE(is_bearer_failure(me_on(w, revoked.access))) << "worker " << w;
  }
};

TEST_F(ListenerOutage, TerminatedListenBackendMakesEveryWorkerRefuseARevokedSessionWithin1s) {
  run_outage(tcp_proxy::mode::hold_new, [&] { terminate_listen_backends(); });
}

TEST_F(ListenerOutage, BlackHoledListenLinkMakesEveryWorkerRefuseARevokedSessionWithin1s) {
  run_outage(tcp_proxy::mode::black_hole, [] {});
}

// The twin: with the link intact, the cached sessions are simply served, and a
// revocation arrives through NOTIFY as usual.
TEST_F(ListenerOutage, IntactListenLinkServesCachedSessionsAndHearsRevocations) {
  auto u = make_user();
  auto s = login_ok(u);
  expect_accepted_on_every_worker(s.access);
  expect_accepted_on_every_worker(s.access);
  revoke_behind_the_listeners_back(pat_of(s.access));
  expect_refused_on_every_worker_within_1s(s.access, clock_type::now());
}

}  // namespace
}  // namespace cartgate::test
