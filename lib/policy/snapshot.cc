#include "policy/snapshot.h"

namespace cartgate {

const policy& policy_snapshot::current() const {
  thread_local std::shared_ptr<const policy> cached;
  thread_local std::uint64_t cached_version = 0;
  thread_local const policy_snapshot* cached_owner = nullptr;
  std::uint64_t v = version_.load(std::memory_order_acquire);
  if (v != cached_version || cached_owner != this) {
    std::lock_guard lock(mu_);
    cached = current_;
    cached_version = version_.load(std::memory_order_acquire);
    cached_owner = this;
  }
  return *cached;
}

void policy_snapshot::replace(std::shared_ptr<const policy> next) {
  std::lock_guard lock(mu_);
  current_ = std::move(next);
  version_.fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace cartgate
