// The worker's threads for requests that may wait (argon2, transactions, a session seen
// for the first time): a fixed number of threads taking jobs in arrival order, from a
// queue of bounded length. The event loop hands them work and gets the answers back
// through its eventfd; idle kept-alive connections never hold one. A worker has two:
// one for logins (as many threads as argon2 slots, so a login takes a thread only when
// it can hash at once) and one for everything else, so a login flood never queues a
// refresh or a token check behind it.
//
//   blocking_pool pool(cfg.threads, cfg.queue_max);
//   if (!pool.try_submit([&] { loop.post(answer_for(request)); })) answer_busy();
//   pool.stop();                       // runs what is queued, then joins
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cartgate {

class blocking_pool {
 public:
  // Owns its threads: neither copied nor moved.
  // queue_max: jobs waiting for a thread at most (0: no bound).
  explicit blocking_pool(int threads, std::size_t queue_max = 0);
  ~blocking_pool();
  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;

  void submit(std::function<void()> job);
  // As submit, unless queue_max jobs already wait: then false, and the job is dropped.
  bool try_submit(std::function<void()> job);
  // Finishes every queued job, then joins the threads. Idempotent.
  void stop();

 private:
  void work();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  const std::size_t queue_max_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace cartgate
