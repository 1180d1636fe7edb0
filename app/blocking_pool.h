// The worker's threads for requests that may wait (argon2, transactions, a session seen
// for the first time): a fixed number of threads taking jobs in arrival order. The event
// loop hands them work and gets the answers back through its eventfd; idle kept-alive
// connections never hold one.
//
//   blocking_pool pool(cfg.threads);
//   pool.submit([&] { loop.post(answer_for(request)); });
//   pool.stop();                       // runs what is queued, then joins
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cartgate {

class blocking_pool {
 public:
  // Owns its threads: neither copied nor moved.
  explicit blocking_pool(int threads);
  ~blocking_pool();
  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;

  void submit(std::function<void()> job);
  // Finishes every queued job, then joins the threads. Idempotent.
  void stop();

 private:
  void work();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace cartgate
