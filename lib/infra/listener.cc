#include "infra/listener.h"

#include <memory>

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

}  // namespace

listener::listener(std::string database_url) : url_(std::move(database_url)) {}

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
}

void listener::stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
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
      for (auto& [name, fn] : channels_) {
        receivers.push_back(std::make_unique<receiver>(*conn, name, fn));
      }
      // LISTEN is registered lazily by libpqxx; make sure it is active before resyncing,
      // so nothing committed after the resync can be missed.
      conn->get_notifs();
      for (auto& fn : reconnect_fns_) fn(*conn);
      connected_ = true;
      backoff = std::chrono::milliseconds(100);
      while (!stop_) {
        conn->await_notification(0, 100000);  // 100 ms
        conn->get_notifs();
        run_jobs(*conn, false);
      }
      run_jobs(*conn, true);
    } catch (const std::exception& e) {
      connected_ = false;
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
