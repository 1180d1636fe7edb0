// The revocation state file the nginx module reads (nginx/module/, docs/nginx-module.md):
// revoked sessions until their tokens expire, per-user cut-offs (password change,
// deletion, logout everywhere), a global cut-off (`jwt cleanup --force`), and the instant
// up to which every revocation is in it (`heard`). The layout and the reader's decision
// are auth/revocation_layout.h.
//
// Exactly one process writes the file: every worker of the pool tries to take an flock
// on it, and the one that holds it writes from its listener thread — notifications as
// they arrive, a reset (nothing known before `now`) on every new LISTEN connection, and
// the listener's heard-at time while it is live. A worker that exits drops the lock and
// another takes over (starting with a reset). Nothing here throws on the request path.
//
//   revocation_file f("/run/cartgate/revocation.state", "cartgate-web");
//   if (f.try_take()) f.reset(now);                   // listener thread
//   f.apply("pat:pat_…", now, access_ttl);            // on cartgate_revoke
//   f.heard(listener.heard_at_ns());                  // ≥ 4×/s while live
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "auth/revocation_layout.h"

namespace cartgate {

class revocation_file {
 public:
  // Nothing is opened until try_take(). `group`: the file's group (nginx's), "" = ours.
  revocation_file(std::string path, std::string group);
  ~revocation_file();
  revocation_file(const revocation_file&) = delete;
  revocation_file& operator=(const revocation_file&) = delete;

  // Opens (creating, 0640) and locks the file unless another process holds it; true
  // while this process is the writer. A new writer must reset() before anything else.
  bool try_take();
  bool holder() const { return map_ != nullptr; }

  // Empty tables; every revocation before `now` is unknown (tokens issued before it
  // are left to cartgate).
  void reset(std::int64_t now);
  // A cartgate_revoke payload ("pat:…", "user:…", "all"; anything else resets).
  // token_ttl: jwt.access_ttl, how long a revoked session's tokens may still be presented.
  void apply(std::string_view payload, std::int64_t now, std::int64_t token_ttl);
  // Every revocation committed before this CLOCK_MONOTONIC instant is in the file.
  void heard(std::int64_t heard_at_ns);
  // Drops entries whose tokens have all expired (runs under the seqlock).
  void purge(std::int64_t now);

  const cartgate_state_header* header() const { return map_; }

 private:
  void begin();
  void end();
  bool insert_pat(std::string_view pat, std::int64_t until);
  bool insert_user(std::int64_t id, std::int64_t cutoff, std::int64_t until);
  void clear_tables();
  cartgate_state_pat* pats();
  cartgate_state_user* users();

  std::string path_;
  std::string group_;
  int fd_ = -1;
  cartgate_state_header* map_ = nullptr;
};

}  // namespace cartgate
