#include "infra/listener.h"

#include <algorithm>
#include <memory>

#include <sys/socket.h>

#include "infra/log.h"

namespace cartgate {
namespace {

class receiver : public pqxx::notification_receiver {
 public:
  receiver(pqxx::connection_base& c, const std::string& channel, listener::channel_fn fn)
      : pqxx::notification_receiver(c, channel), fn_(std::move(fn)) {}
  void operator()(const std::string& payload, int) override { fn_(payload); }

 private:
  listener::channel_fn fn_;
};

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool is_uri(const std::string& url) {
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

// Whether the URL names libpq parameter `key` already (as "key=" after ?, & or a space).
bool names_parameter(const std::string& url, const std::string& key) {
  for (std::size_t at = url.find(key + "="); at != std::string::npos; at = url.find(key + "=", at + 1)) {
    if (at == 0 || url[at - 1] == '?' || url[at - 1] == '&' || url[at - 1] == ' ') return true;
  }
  return false;
}

}  // namespace

std::string listener::hardened_url(const std::string& database_url, const liveness& settings) {
  const std::pair<std::string, std::string> wanted[] = {
      {"keepalives", "1"},
      {"keepalives_idle", "1"},
      {"keepalives_interval", "1"},
      {"keepalives_count", "3"},
      {"tcp_user_timeout", std::to_string(settings.deadline.count())},
      {"connect_timeout", std::to_string(std::max(settings.connect_timeout, 1))},
  };
  std::string url = database_url;
  const bool uri = is_uri(url);
  for (auto& [key, value] : wanted) {
    if (names_parameter(url, key)) continue;
    if (uri) {
      url += url.find('?') == std::string::npos ? "?" : "&";
    } else if (!url.empty()) {
      url += ' ';
    }
    url += key + "=" + value;
  }
  return url;
}

listener::listener(std::string database_url, liveness settings)
    : url_(hardened_url(database_url, settings)), settings_(settings) {}

bool listener::live() const {
  if (!connected_.load()) return false;
  auto age = std::chrono::nanoseconds(steady_ns() - heard_at_ns_.load());
  return age < settings_.deadline;
}

// One round trip on the LISTEN connection. Notifications committed before it was sent
// come back before its answer and are handed out first; only then does the send time
// count as "heard from".
void listener::heartbeat(pqxx::connection& c) {
  std::int64_t sent = steady_ns();
  {
    pqxx::nontransaction n(c);
    n.exec("SELECT 1");
  }
  c.get_notifs();
  heard_at_ns_ = sent;
}

listener::~listener() { stop(); }

void listener::on_channel(std::string channel, channel_fn fn) {
  channels_.emplace_back(std::move(channel), std::move(fn));
}

void listener::on_reconnect(std::function<void(pqxx::connection&)> fn) {
  reconnect_fns_.push_back(std::move(fn));
}

void listener::every(std::chrono::milliseconds period, job_fn fn) {
  jobs_.push_back({period, std::move(fn), std::chrono::steady_clock::now() + period});
}

void listener::start() {
  stop_ = false;
  thread_ = std::thread([this] { run(); });
  watchdog_ = std::thread([this] { watch(); });
}

void listener::stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
  watchdog_.join();
}

void listener::set_socket(int fd) {
  std::lock_guard lock(socket_mu_);
  socket_fd_ = fd;
}

void listener::watch() {
  while (!stop_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!connected_.load()) continue;
    auto age = std::chrono::nanoseconds(steady_ns() - heard_at_ns_.load());
    if (age < 2 * settings_.deadline) continue;
    std::lock_guard lock(socket_mu_);
    if (socket_fd_ < 0) continue;
    // shutdown, not close: the fd stays the connection's, and the blocked read returns.
    ::shutdown(socket_fd_, SHUT_RDWR);
    socket_fd_ = -1;
    log::warn("listener_heartbeat_timeout",
              {{"ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(age).count())}});
  }
}

void listener::run_jobs(pqxx::connection& c, bool force) {
  auto now = std::chrono::steady_clock::now();
  for (auto& j : jobs_) {
    if (!force && now < j.next) continue;
    j.next = now + j.period;
    j.fn(c);
  }
}

void listener::run() {
  auto backoff = std::chrono::milliseconds(100);
  while (!stop_) {
    std::unique_ptr<pqxx::connection> conn;
    std::vector<std::unique_ptr<receiver>> receivers;
    try {
      conn = std::make_unique<pqxx::connection>(url_);
      set_socket(conn->sock());
      for (auto& [name, fn] : channels_) {
        receivers.push_back(std::make_unique<receiver>(*conn, name, fn));
      }
      // LISTEN is registered lazily by libpqxx; make sure it is active before resyncing,
      // so nothing committed after the resync can be missed.
      conn->get_notifs();
      for (auto& fn : reconnect_fns_) fn(*conn);
      heartbeat(*conn);
      connected_ = true;
      backoff = std::chrono::milliseconds(100);
      auto wait_us = std::min<long>(100000, std::chrono::microseconds(settings_.heartbeat).count());
      auto next_beat = std::chrono::steady_clock::now() + settings_.heartbeat;
      while (!stop_) {
        conn->await_notification(0, wait_us);
        conn->get_notifs();
        run_jobs(*conn, false);
        if (std::chrono::steady_clock::now() >= next_beat) {
          next_beat = std::chrono::steady_clock::now() + settings_.heartbeat;
          heartbeat(*conn);
        }
      }
      run_jobs(*conn, true);
      set_socket(-1);
    } catch (const std::exception& e) {
      connected_ = false;
      set_socket(-1);
      log::warn("listener_disconnected", {{"error", e.what()}});
      receivers.clear();
      conn.reset();
      auto until = std::chrono::steady_clock::now() + backoff;
      while (!stop_ && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
  }
  connected_ = false;
}

}  // namespace cartgate
