#include "store/rate_limits.h"

namespace cartgate::rate_limits {

window count(pqxx::transaction_base& tx, const std::string& bucket, std::int64_t window_seconds,
             std::int64_t now) {
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
      bucket, now, window_seconds);
  return {r[0][0].as<std::int64_t>(), r[0][1].as<std::int64_t>()};
}

std::optional<window> reserve(pqxx::transaction_base& tx, const std::string& bucket, std::int64_t max,
                              std::int64_t window_seconds, std::int64_t now) {
  // As count(), but the update only happens while the window has room: a full window's
  // row is locked and left as it is, and no row comes back.
  auto r = tx.exec_params(
      "INSERT INTO rate_limits AS r (bucket, hits, window_start, window_end) "
      "VALUES ($1, 1, to_timestamp($2), to_timestamp($2 + $3)) "
      "ON CONFLICT (bucket) DO UPDATE SET "
      "  hits = CASE WHEN r.window_end <= to_timestamp($2) THEN 1 ELSE r.hits + 1 END, "
      "  window_start = CASE WHEN r.window_end <= to_timestamp($2) "
      "                      THEN EXCLUDED.window_start ELSE r.window_start END, "
      "  window_end = CASE WHEN r.window_end <= to_timestamp($2) "
      "                    THEN EXCLUDED.window_end ELSE r.window_end END "
      "WHERE r.window_end <= to_timestamp($2) OR r.hits < $4 "
      "RETURNING hits, extract(epoch FROM window_end)::bigint",
      bucket, now, window_seconds, max);
  if (r.empty()) return std::nullopt;
  return window{r[0][0].as<std::int64_t>(), r[0][1].as<std::int64_t>()};
}

void refund(pqxx::transaction_base& tx, const std::string& bucket, std::int64_t ends_at) {
  // The last call of a window takes its row with it, so a refunded bucket looks as if it
  // had never been counted.
  tx.exec_params(
      "WITH gone AS (DELETE FROM rate_limits WHERE bucket = $1 AND hits <= 1 "
      "              AND extract(epoch FROM window_end)::bigint = $2) "
      "UPDATE rate_limits SET hits = hits - 1 "
      "WHERE bucket = $1 AND hits > 1 AND extract(epoch FROM window_end)::bigint = $2",
      bucket, ends_at);
}

std::optional<window> current(pqxx::transaction_base& tx, const std::string& bucket, std::int64_t now) {
  auto r = tx.exec_params(
      "SELECT hits, extract(epoch FROM window_end)::bigint FROM rate_limits "
      "WHERE bucket = $1 AND window_end > to_timestamp($2)",
      bucket, now);
  if (r.empty()) return std::nullopt;
  return window{r[0][0].as<std::int64_t>(), r[0][1].as<std::int64_t>()};
}

}  // namespace cartgate::rate_limits
