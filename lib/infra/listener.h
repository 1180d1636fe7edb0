// A process's background thread: holds one PostgreSQL connection that LISTENs on the
// channels other parts register (options, revocations…), runs periodic jobs (batched
// writes, the mail outbox) and reconnects by itself after a database restart, telling
// every part to resynchronise (on_reconnect) since notifications may have been missed.
//
//   listener l(url);
//   l.on_channel("cartgate_options", [&](std::string_view) { reload(); });
//   l.every(std::chrono::seconds(2), [&](pqxx::connection& c) { flush(c); });
//   l.start(); … l.stop();
#pragma once

#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace cartgate {

class listener {
 public:
  using channel_fn = std::function<void(std::string_view payload)>;
  using job_fn = std::function<void(pqxx::connection&)>;

  explicit listener(std::string database_url);
  ~listener();

  void on_channel(std::string channel, channel_fn fn);
  void on_reconnect(std::function<void(pqxx::connection&)> fn);
  void every(std::chrono::milliseconds period, job_fn fn);

  void start();
  void stop();  // runs every periodic job a last time (final flush), then joins
  bool connected() const { return connected_.load(); }

 private:
  struct job {
    std::chrono::milliseconds period;
    job_fn fn;
    std::chrono::steady_clock::time_point next;
  };
  void run();
  void run_jobs(pqxx::connection& c, bool force);

  std::string url_;
  std::vector<std::pair<std::string, channel_fn>> channels_;
  std::vector<std::function<void(pqxx::connection&)>> reconnect_fns_;
  std::vector<job> jobs_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};
  std::thread thread_;
};

}  // namespace cartgate
