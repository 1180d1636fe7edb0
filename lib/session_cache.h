// Each worker's memory of login sessions, so validating a Bearer token needs no database
// round-trip: a session is read from PostgreSQL once (on first sight), then served from
// memory. Revocations reach every worker through NOTIFY cartgate_revoke within
// milliseconds; after a lost listener connection the whole cache is dropped, since a
// notification may have been missed. "Last used" times are batched, never written on
// the request path.
//
//   auto s = cache.get(pat, pool);      // nullopt: no such session (deleted)
//   if (!s->live) …                      // revoked or expired
//   cache.on_notification("pat:pat_…");  // from the listener thread
#pragma once

#include <pqxx/pqxx>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "db.h"
#include "users.h"

namespace cartgate {

class session_cache {
 public:
  struct entry {
    bool live = false;  // false: revoked, or gone from the database
    std::int64_t user_id = 0;
    std::int64_t expires_at = 0;
    std::shared_ptr<const user> subject;  // login, roles… for events and plugins
  };

  explicit session_cache(std::size_t max_entries = 1 << 20) : max_entries_(max_entries) {}

  // Memory first; on a miss, one query (the only database access of validation).
  entry get(const std::string& pat, db::pool& pool);

  // "pat:<pat>", "user:<id>" or "all" — what the revoking transaction notified.
  void on_notification(std::string_view payload);
  void clear();
  std::size_t size() const;

  void touch(const std::string& pat, std::int64_t now);
  // Writes the batched last-used times (listener thread).
  void flush_last_used(pqxx::connection& c);

 private:
  std::size_t max_entries_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, entry> map_;
  std::uint64_t generation_ = 0;  // guarded by mu_
  std::mutex touch_mu_;
  std::unordered_map<std::string, std::int64_t> touched_;
};

// The payloads revoking code sends on cartgate_revoke.
std::string revoke_payload_pat(const std::string& pat);
std::string revoke_payload_user(std::int64_t user_id);
inline constexpr const char* revoke_payload_all = "all";

}  // namespace cartgate
