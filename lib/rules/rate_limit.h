// Rate limits shared by every worker and every host: fixed-window counters in PostgreSQL
// (store/rate_limits.h), one atomic statement per check, so two pools behind one database
// see the same count. This file decides what a count means. The clock is a parameter.
//
//   auto v = rate_limit::hit(tx, rate_limit::bucket("refresh:ip", ip), pol.refresh_max,
//                            pol.refresh_window, now);
//   for (auto& h : rate_limit::headers(v)) res.set_header(h.name, h.value);
//   if (v.limited) return to_response(rate_limit::denial(v, "Too many requests…"));
#pragma once

#include <pqxx/pqxx>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/errors.h"
#include "http/message.h"

namespace cartgate {
struct policy;
}

namespace cartgate::rate_limit {

struct verdict {
  bool limited = false;
  std::int64_t limit = -1;  // the max; -1 when the limit is disabled
  std::int64_t remaining = 0;
  std::int64_t reset_at = 0;  // unix time the current window ends
  std::int64_t retry_after = 0;  // seconds, when limited (at least 1)
};

// "<kind>:<key>", e.g. bucket("login:ip", "192.0.2.1"). Keys are used as given; callers
// lower-case identifiers (login:user) so "Alice" and "alice" share a bucket.
std::string bucket(std::string_view kind, std::string_view key);

// The key a client address is counted under in the per-IP buckets: an IPv4 address as
// it is (an IPv4-mapped IPv6 address as its IPv4 form), an IPv6 address as its network of
// `ipv6_prefix` bits (rate_limit.ipv6_prefix), written "2001:db8:1:2::/64", since one
// subscriber commonly holds a whole /64 and could otherwise rotate through it. Anything
// that is not an address is used as given.
std::string ip_key(std::string_view ip, int ipv6_prefix);

// Counts this call, then decides: limited once more than `max` calls fell in the window.
// A window that has ended starts over at this call. max == -1 disables the limit and
// touches no database. One INSERT … ON CONFLICT DO UPDATE … RETURNING; the row lock is
// held until the transaction ends, so run it in a short transaction of its own.
verdict hit(pqxx::transaction_base& tx, std::string_view bucket, std::int64_t max,
            std::int64_t window, std::int64_t now);

// Decides without counting: limited once `max` calls already fell in the window (the
// next counted call would exceed it).
verdict peek(pqxx::transaction_base& tx, std::string_view bucket, std::int64_t max,
             std::int64_t window, std::int64_t now);

// The stricter of two verdicts (login checks the IP bucket and the account bucket).
verdict stricter(const verdict& a, const verdict& b);

// The two login buckets (contract §4.1): per IP and per account. A known account's bucket
// is its id, an unknown identifier's is the identifier itself, lower-cased, in a namespace
// of its own: a login tried as "42" never spends user 42's budget.
std::string login_ip_bucket(std::string_view ip_key);
std::string login_user_bucket(std::int64_t user_id);
std::string login_name_bucket(std::string_view identifier);

// A login attempt counted before any password work, in both buckets at once.
//
// Each attempt reserves a slot in each bucket with one atomic statement
// (store/rate_limits.h reserve()), so however many attempts run concurrently, at most
// `rate_limit.login.max` of them per IP and per account get past this point in a window;
// the rest are limited without counting. A reserved attempt stays counted when it turns
// out to be a failure (wrong password, unknown user, wrong two-factor code) and is
// refunded otherwise, so only failures spend the budget, as before.
struct login_reservation {
  verdict limit;  // limited: nothing was counted in either bucket
  struct slot {
    std::string bucket;
    std::int64_t ends_at = 0;
  };
  std::vector<slot> slots;  // what refund_login gives back
};
login_reservation reserve_login(pqxx::transaction_base& tx, const policy& pol, std::string_view ip_bucket,
                                std::string_view account_bucket, std::int64_t now);
// Gives the reserved slots back; returns the verdict as it stands after that.
verdict refund_login(pqxx::transaction_base& tx, const login_reservation& r);

// X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset (unix time), and
// Retry-After when limited. Empty when the limit is disabled.
std::vector<http::header> headers(const verdict& v);

// 429 cocart_rate_limited with data.retry_after and the headers above: rate_limited, or
// login_rate_limited (its own message) for the login buckets.
failure denial(const verdict& v, reason why = reason::rate_limited);

}  // namespace cartgate::rate_limit
