// The rate_limits table: fixed-window counters shared by every worker and every host.
// Each call is one statement, so two pools behind one database see the same count; what
// a count means (limited or not, headers, 429) is rules/rate_limit.h's business.
//
//   auto c = rate_limits::count(tx, "refresh:ip:192.0.2.1", 60, now);   // this call counted
//   auto p = rate_limits::current(tx, "login:ip:192.0.2.1", now);       // nullopt: no window
#pragma once

#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>

namespace cartgate::rate_limits {

struct window {
  std::int64_t hits = 0;
  std::int64_t ends_at = 0;  // unix seconds
};

// Counts one call in bucket's current window (an ended window starts over at this call).
// One INSERT … ON CONFLICT DO UPDATE … RETURNING; the row lock is held until the
// transaction ends, so run it in a short transaction of its own.
window count(pqxx::transaction_base& tx, const std::string& bucket, std::int64_t window_seconds,
             std::int64_t now);

// Counts one call only if the bucket's current window holds fewer than `max` (an ended
// window starts over at this call): the one statement takes the row lock, so any number of
// concurrent callers on any host get at most `max` reservations per window. nullopt when
// the window is full (nothing counted). max must be >= 1.
std::optional<window> reserve(pqxx::transaction_base& tx, const std::string& bucket, std::int64_t max,
                              std::int64_t window_seconds, std::int64_t now);

// Gives back one call reserve() counted in the window ending at ends_at; nothing when that
// window has since ended (a new window owes nothing).
void refund(pqxx::transaction_base& tx, const std::string& bucket, std::int64_t ends_at);

// The bucket's window if it has not ended, without counting.
std::optional<window> current(pqxx::transaction_base& tx, const std::string& bucket, std::int64_t now);

}  // namespace cartgate::rate_limits
