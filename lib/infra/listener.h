// A process's background thread: holds one PostgreSQL connection that LISTENs on the
// channels other parts register (options, revocations…), runs periodic jobs (batched
// writes, the mail outbox) and reconnects by itself after a database restart, telling
// every part to resynchronise (on_reconnect) since notifications may have been missed.
//
// A LISTEN connection that is silently dead (a half-open TCP link: a peer or middlebox
// gone without a reset) would look connected forever. So the connection carries libpq
// keepalives and tcp_user_timeout, and the thread sends a heartbeat (SELECT 1) every
// `heartbeat`; live() is true only while the last heartbeat that came back was sent
// less than `deadline` ago. Whoever trusts notifications (the session cache) asks
// live(), so it stops trusting them within `deadline` of the link dying, even while
// this thread is still stuck waiting on it. A heartbeat that has not come back after
// twice the deadline (a link that ACKs but never answers: a stalled proxy) is cut short
// by a watchdog thread that shuts the socket down, so the thread reconnects.
//
//   listener l(url, {std::chrono::milliseconds(250), std::chrono::milliseconds(750), 2});
//   cache.trust_while([&] { return l.live(); });
//   l.on_channel("cartgate_options", [&](std::string_view) { reload(); });
//   l.every(std::chrono::seconds(2), [&](pqxx::connection& c) { flush(c); });
//   l.start(); … l.stop();
#pragma once

#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace cartgate {

// How the listener tells a live LISTEN connection from a dead one (listener::liveness).
struct listener_liveness {
  std::chrono::milliseconds heartbeat{250};  // SELECT 1 on the connection this often
  std::chrono::milliseconds deadline{750};   // live() only within this of the last one
  int connect_timeout = 2;                   // seconds, libpq's connect_timeout
};

class listener {
 public:
  using channel_fn = std::function<void(std::string_view payload)>;
  using job_fn = std::function<void(pqxx::connection&)>;

  using liveness = listener_liveness;

  explicit listener(std::string database_url, liveness settings = {});
  ~listener();

  // database_url with libpq's keepalives, tcp_user_timeout (the deadline) and
  // connect_timeout added, each unless the URL sets it already. URI or key=value form.
  static std::string hardened_url(const std::string& database_url, const liveness& settings);

  void on_channel(std::string channel, channel_fn fn);
  void on_reconnect(std::function<void(pqxx::connection&)> fn);
  void every(std::chrono::milliseconds period, job_fn fn);

  void start();
  void stop();  // runs every periodic job a last time (final flush), then joins
  bool connected() const { return connected_.load(); }
  // Connected, LISTENing, resynchronised (on_reconnect ran) and heard from within the
  // deadline: notifications can be trusted to arrive.
  bool live() const;
  // steady_clock (CLOCK_MONOTONIC) nanoseconds: every notification committed before
  // this instant has been handed out (the send time of the last heartbeat answered).
  std::int64_t heard_at_ns() const { return heard_at_ns_.load(); }

 private:
  struct job {
    std::chrono::milliseconds period;
    job_fn fn;
    std::chrono::steady_clock::time_point next;
  };
  void run();
  void run_jobs(pqxx::connection& c, bool force);
  void heartbeat(pqxx::connection& c);
  void watch();  // the watchdog thread
  void set_socket(int fd);

  std::string url_;
  liveness settings_;
  std::atomic<std::int64_t> heard_at_ns_{0};  // steady clock: send time of the last heartbeat answered
  std::vector<std::pair<std::string, channel_fn>> channels_;
  std::vector<std::function<void(pqxx::connection&)>> reconnect_fns_;
  std::vector<job> jobs_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};
  std::thread thread_;
  std::thread watchdog_;
  std::mutex socket_mu_;
  int socket_fd_ = -1;  // the LISTEN connection's, while it is open; guarded by socket_mu_
};

}  // namespace cartgate
