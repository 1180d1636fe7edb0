#include "rules/rate_limit.h"

#include <algorithm>
#include <cctype>

#include "options.h"

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
  // Window rollover happens inside the one statement: an ended window restarts at 1, so
  // concurrent callers on any host serialise on the row lock and never lose a count.
  auto r = tx.exec_params(
      "INSERT INTO rate_limits AS r (bucket, hits, window_start, window_end) "
      "VALUES ($1, 1, to_timestamp($2), to_timestamp($2 + $3)) "
      "ON CONFLICT (bucket) DO UPDATE SET "
      "  hits = CASE WHEN r.window_end <= to_timestamp($2) THEN 1 "
      "              ELSE LEAST(r.hits + 1, 2147483647) END, "
      "  window_start = CASE WHEN r.window_end <= to_timestamp($2) "
      "                      THEN EXCLUDED.window_start ELSE r.window_start END, "
      "  window_end = CASE WHEN r.window_end <= to_timestamp($2) "
      "                    THEN EXCLUDED.window_end ELSE r.window_end END "
      "RETURNING hits, extract(epoch FROM window_end)::bigint",
      std::string(bucket), now, window);
  auto hits = r[0][0].as<std::int64_t>();
  auto end = r[0][1].as<std::int64_t>();
  return decide(max, hits, end, now, hits > max);
}

verdict peek(pqxx::transaction_base& tx, std::string_view bucket, std::int64_t max,
             std::int64_t window, std::int64_t now) {
  if (max < 0) return {};
  auto r = tx.exec_params(
      "SELECT hits, extract(epoch FROM window_end)::bigint FROM rate_limits "
      "WHERE bucket = $1 AND window_end > to_timestamp($2)",
      std::string(bucket), now);
  if (r.empty()) return decide(max, 0, now + window, now, max == 0);
  auto hits = r[0][0].as<std::int64_t>();
  auto end = r[0][1].as<std::int64_t>();
  return decide(max, hits, end, now, hits >= max);
}

verdict stricter(const verdict& a, const verdict& b) {
  if (a.limit < 0) return b;
  if (b.limit < 0) return a;
  if (a.limited != b.limited) return a.limited ? a : b;
  if (a.limited) return a.retry_after >= b.retry_after ? a : b;
  return a.remaining <= b.remaining ? a : b;
}

namespace {
std::string account_key(std::string_view account) {
  std::string k(account);
  std::transform(k.begin(), k.end(), k.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return k;
}
}  // namespace

verdict peek_login(pqxx::transaction_base& tx, const policy& pol, std::string_view ip,
                   std::string_view account, std::int64_t now) {
  auto by_ip = peek(tx, bucket("login:ip", ip), pol.login_max, pol.login_window, now);
  if (account.empty()) return by_ip;
  auto by_user = peek(tx, bucket("login:user", account_key(account)), pol.login_max,
                      pol.login_window, now);
  return stricter(by_ip, by_user);
}

verdict count_login_failure(pqxx::transaction_base& tx, const policy& pol, std::string_view ip,
                            std::string_view account, std::int64_t now) {
  auto by_ip = hit(tx, bucket("login:ip", ip), pol.login_max, pol.login_window, now);
  if (account.empty()) return by_ip;
  auto by_user = hit(tx, bucket("login:user", account_key(account)), pol.login_max,
                     pol.login_window, now);
  return stricter(by_ip, by_user);
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

failure denial(const verdict& v, std::string message) {
  failure f{reason::rate_limited};
  f.message = std::move(message);
  f.data["retry_after"] = Json::Value(static_cast<Json::Int64>(v.retry_after));
  f.headers = headers(v);
  return f;
}

std::int64_t cleanup(pqxx::transaction_base& tx, std::int64_t now) {
  auto r = tx.exec_params("DELETE FROM rate_limits WHERE window_end <= to_timestamp($1)", now);
  return static_cast<std::int64_t>(r.affected_rows());
}

}  // namespace cartgate::rate_limit
