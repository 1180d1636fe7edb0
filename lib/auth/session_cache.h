// Each worker's memory of login sessions, so validating a Bearer token needs no database
// round-trip: a session is read once (on first sight, through the loader the worker
// gives it, which reads PostgreSQL), then served from memory. Revocations reach every
// worker through NOTIFY cartgate_revoke within milliseconds; after a lost listener
// connection the whole cache is dropped, since a notification may have been missed.
// Memory is trusted only while the `trusted` predicate says the revocations are
// arriving (the listener's connection is up and answered its last heartbeat in time):
// otherwise every check reads PostgreSQL and nothing is remembered — fail closed.
// A session whose remembered expiry has passed is read again (a refresh moves the
// expiry forward in the database only). "Last used" times are batched, never written
// on the request path.
//
//   session_cache cache([&](const std::string& pat) { return read_from_db(pat); });
//   cache.trust_while([&] { return listener.live(); });
//   auto s = cache.get(pat, now);        // !s.subject: no such session (deleted)
//   if (!s.live) …                       // revoked
//   cache.on_notification("pat:pat_…");  // from the listener thread
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/sessions.h"
#include "store/users.h"

namespace cartgate {

class session_cache {
 public:
  struct entry {
    bool live = false;  // false: revoked, or gone from the database
    std::int64_t user_id = 0;
    std::int64_t expires_at = 0;
    std::int64_t read_at = 0;  // `now` when it was read; read at or past expires_at: final
    std::shared_ptr<const user> subject;  // login, roles… for events and plugins; null: gone
  };
  // Reads one session from the store; nullopt when there is none. May throw (database
  // away, or db::would_block on the event loop): nothing is remembered then.
  using loader = std::function<std::optional<sessions::state>(const std::string& pat)>;

  explicit session_cache(loader load, std::size_t max_entries = 1 << 20)
      : load_(std::move(load)), max_entries_(max_entries) {}

  // Memory first; on a miss, or when the remembered expiry is past `now`, the loader (the
  // only database access of validation). While not trusted: the loader, every time.
  entry get(const std::string& pat, std::int64_t now);

  // Memory is used and filled only while `trusted()` is true (called on every get, from
  // any thread; cheap). Unset: always trusted. Set it before the first get.
  void trust_while(std::function<bool()> trusted) { trusted_ = std::move(trusted); }

  // A payload of sessions::revoke_payload_* — what the revoking transaction notified.
  void on_notification(std::string_view payload);
  void clear();
  std::size_t size() const;

  void touch(const std::string& pat, std::int64_t now);
  // The batched last-used times, taken (the caller writes them: sessions::record_last_used).
  std::unordered_map<std::string, std::int64_t> take_last_used();

 private:
  entry read(const std::string& pat, std::int64_t now) const;
  bool trusted() const { return !trusted_ || trusted_(); }

  loader load_;
  std::function<bool()> trusted_;
  std::size_t max_entries_;
  mutable std::shared_mutex mu_;
  // Inserts or replaces pat's entry, keeping by_user_ in step; caller holds mu_ exclusively.
  void remember(const std::string& pat, const entry& e);
  void forget(std::unordered_map<std::string, entry>::iterator it);

  std::unordered_map<std::string, entry> map_;
  // Each user's cached sessions (pointers to map_'s keys, which stay put until erased), so
  // a "user:" revocation ends them in O(that user's sessions) instead of a walk over the
  // whole cache under the exclusive lock — with a million sessions cached, that walk
  // stalled every validation of the worker for each logout-everywhere or password change.
  std::unordered_map<std::int64_t, std::vector<const std::string*>> by_user_;
  std::uint64_t generation_ = 0;  // guarded by mu_
  std::mutex touch_mu_;
  std::unordered_map<std::string, std::int64_t> touched_;
};

}  // namespace cartgate
