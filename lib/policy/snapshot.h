// The policy a worker answers with right now: an immutable snapshot that a reload swaps
// in whole. Reading it is lock-free on the hot path: each thread keeps its own reference
// and takes the lock only when the version has moved.
//
//   policy_snapshot live;                       // starts on the defaults
//   const policy& p = live.current();           // valid until this thread's next current()
//   live.replace(std::make_shared<const policy>(policy::from_values(stored)));
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "policy/options.h"

namespace cartgate {

class policy_snapshot {
 public:
  policy_snapshot() : current_(std::make_shared<const policy>(policy::defaults())) {}

  const policy& current() const;
  void replace(std::shared_ptr<const policy> next);

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const policy> current_;
  std::atomic<std::uint64_t> version_{1};
};

}  // namespace cartgate
