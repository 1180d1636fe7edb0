#include "infra/heap_trim.h"

#include <malloc.h>

namespace cartgate::heap_trim {

void now() { ::malloc_trim(0); }

periodic::periodic(std::chrono::milliseconds interval) : interval_(interval), thread_([this] { run(); }) {}

periodic::~periodic() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void periodic::run() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    now();
    lock.lock();
  }
}

}  // namespace cartgate::heap_trim
