#include "rules/rate_limit.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
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

std::string ip_key(std::string_view ip, int ipv6_prefix) {
  std::string text(ip);
  std::array<unsigned char, 16> a{};
  if (inet_pton(AF_INET, text.c_str(), a.data()) == 1) return text;
  if (inet_pton(AF_INET6, text.c_str(), a.data()) != 1) return text;
  char out[INET6_ADDRSTRLEN] = {};
  static constexpr std::array<unsigned char, 12> v4_mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(v4_mapped.begin(), v4_mapped.end(), a.begin())) {
    inet_ntop(AF_INET, a.data() + 12, out, sizeof out);
    return out;
  }
  int bits = std::clamp(ipv6_prefix, 0, 128);
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(bits - 8 * i, 0, 8);
    a[static_cast<std::size_t>(i)] &= static_cast<unsigned char>(0xff00 >> keep);
  }
  inet_ntop(AF_INET6, a.data(), out, sizeof out);
  return std::string(out) + "/" + std::to_string(bits);
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

std::string login_ip_bucket(std::string_view ip_key) { return bucket("login:ip", ip_key); }

std::string login_user_bucket(std::int64_t user_id) { return bucket("login:user", std::to_string(user_id)); }

std::string login_name_bucket(std::string_view identifier) {
  return bucket("login:name", text::ascii_lower(identifier));
}

namespace {

// One bucket's reservation: a slot and its verdict, or the full window's verdict.
verdict reserve_one(pqxx::transaction_base& tx, const std::string& b, std::int64_t max, std::int64_t window,
                    std::int64_t now, login_reservation& into) {
  if (max == 0) return peek(tx, b, max, window, now);
  auto w = rate_limits::reserve(tx, b, max, window, now);
  if (!w) {
    auto full = rate_limits::current(tx, b, now);
    return decide(max, max, full ? full->ends_at : now + window, now, true);
  }
  into.slots.push_back({b, w->ends_at});
  return decide(max, w->hits, w->ends_at, now, false);
}

}  // namespace

login_reservation reserve_login(pqxx::transaction_base& tx, const policy& pol, std::string_view ip_bucket,
                                std::string_view account_bucket, std::int64_t now) {
  login_reservation r;
  if (pol.login_max < 0) return r;
  r.limit = reserve_one(tx, std::string(ip_bucket), pol.login_max, pol.login_window, now, r);
  if (!r.limit.limited && !account_bucket.empty()) {
    r.limit = stricter(r.limit, reserve_one(tx, std::string(account_bucket), pol.login_max, pol.login_window, now, r));
  }
  if (r.limit.limited) {
    // Limited by one bucket: the other's slot goes back, so a refused attempt counts nowhere.
    refund_login(tx, r);
    r.slots.clear();
  }
  return r;
}

verdict refund_login(pqxx::transaction_base& tx, const login_reservation& r) {
  for (const auto& s : r.slots) rate_limits::refund(tx, s.bucket, s.ends_at);
  verdict v = r.limit;
  if (!r.slots.empty() && v.limit >= 0) v.remaining = std::min(v.limit, v.remaining + 1);
  return v;
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
