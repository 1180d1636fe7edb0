#include "rules/rate_limit.h"

#include <algorithm>
#include <cctype>

#include "base/text.h"
#include "policy/options.h"
#include "store/rate_limits.h"

namespace cartgate::rate_limit {
namespace {

verdict decide(std::int64_t max, std::int64_t hits, std::int64_t window_end, std::int64_t now,
               bool over) {
  verdict v;
  v.limit = max;
  v.reset_at = window_end;
  v.remaining = std::max<std::int64_t>(0, max - hits);
  v.limited = over;
  if (v.limited) v.retry_after = std::max<std::int64_t>(1, window_end - now);
  return v;
}

}  // namespace

std::string bucket(std::string_view kind, std::string_view key) {
  std::string b(kind);
  b += ':';
  b += key;
  return b;
}

verdict hit(pqxx::transaction_base& tx, std::string_view bucket, std::int64_t max,
            std::int64_t window, std::int64_t now) {
  if (max < 0) return {};
  auto w = rate_limits::count(tx, std::string(bucket), window, now);
  return decide(max, w.hits, w.ends_at, now, w.hits > max);
}

verdict peek(pqxx::transaction_base& tx, std::string_view bucket, std::int64_t max,
             std::int64_t window, std::int64_t now) {
  if (max < 0) return {};
  auto w = rate_limits::current(tx, std::string(bucket), now);
  if (!w) return decide(max, 0, now + window, now, max == 0);
  return decide(max, w->hits, w->ends_at, now, w->hits >= max);
}

verdict stricter(const verdict& a, const verdict& b) {
  if (a.limit < 0) return b;
  if (b.limit < 0) return a;
  if (a.limited != b.limited) return a.limited ? a : b;
  if (a.limited) return a.retry_after >= b.retry_after ? a : b;
  return a.remaining <= b.remaining ? a : b;
}

namespace {
std::string account_key(std::string_view account) { return text::ascii_lower(account); }
}  // namespace

namespace {
// The two login buckets (contract §4.1), each through `each`, the stricter verdict kept.
template <typename Fn>
verdict login_buckets(std::string_view ip, std::string_view account, Fn each) {
  auto by_ip = each(bucket("login:ip", ip));
  if (account.empty()) return by_ip;
  return stricter(by_ip, each(bucket("login:user", account_key(account))));
}
}  // namespace

verdict peek_login(pqxx::transaction_base& tx, const policy& pol, std::string_view ip,
                   std::string_view account, std::int64_t now) {
  return login_buckets(ip, account, [&](const std::string& b) {
    return peek(tx, b, pol.login_max, pol.login_window, now);
  });
}

verdict count_login_failure(pqxx::transaction_base& tx, const policy& pol, std::string_view ip,
                            std::string_view account, std::int64_t now) {
  return login_buckets(ip, account, [&](const std::string& b) {
    return hit(tx, b, pol.login_max, pol.login_window, now);
  });
}

std::vector<http::header> headers(const verdict& v) {
  if (v.limit < 0) return {};
  std::vector<http::header> h = {
      {"X-RateLimit-Limit", std::to_string(v.limit)},
      {"X-RateLimit-Remaining", std::to_string(v.remaining)},
      {"X-RateLimit-Reset", std::to_string(v.reset_at)},
  };
  if (v.limited) h.push_back({"Retry-After", std::to_string(v.retry_after)});
  return h;
}

failure denial(const verdict& v, reason why) {
  failure f{why};
  f.data["retry_after"] = Json::Value(static_cast<Json::Int64>(v.retry_after));
  f.headers = headers(v);
  return f;
}

}  // namespace cartgate::rate_limit
