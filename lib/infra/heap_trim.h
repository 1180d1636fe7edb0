// Gives the heap's free pages back to the kernel: at start (what building the worker
// freed) and every couple of seconds while a worker runs (what a burst of requests freed
// in the threads' arenas), so a worker's resident memory returns to its idle size after
// load instead of keeping its high-water mark (docs/benchmarks.md, "Worker memory").
//
//   heap_trim::now();                 // once, e.g. before fork() or after start
//   heap_trim::periodic trimmer;      // a thread calling it every interval until destroyed
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace cartgate::heap_trim {

// malloc_trim(0): every arena's free pages, not only the top of the main heap.
void now();

class periodic {
 public:
  explicit periodic(std::chrono::milliseconds interval = std::chrono::milliseconds(2000));
  ~periodic();
  periodic(const periodic&) = delete;
  periodic& operator=(const periodic&) = delete;

 private:
  void run();
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cartgate::heap_trim
