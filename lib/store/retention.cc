#include "store/retention.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include "infra/log.h"
#include "infra/metrics.h"

namespace cartgate::retention {
namespace {

// pg_try_advisory_lock's key: "cartgate" + "retention", as two int4s (account_sync uses
// another object id of the same class).
constexpr std::int32_t lock_class = 0x63617274;   // "cart"
constexpr std::int32_t lock_object = 0x72657465;  // "rete"

constexpr std::int64_t day = 86400;

// One table's delete: $1 the cutoff (unix seconds), $2 the batch size, $3 now. The inner
// SELECT walks the predicate's index oldest first (ORDER BY on the indexed column keeps
// the planner on the index, so each batch starts where the dead rows end instead of
// rescanning them) and skips rows a request holds.
struct target {
  const char* name;
  const char* sql;
};

const target audit_events{
    "audit_events",
    "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE time < to_timestamp($1)"
    " AND time < to_timestamp($3) ORDER BY time LIMIT $2 FOR UPDATE SKIP LOCKED)"};
// A session goes only when no refresh token of it is still unexpired (retired or not): its
// refresh tokens go with it (ON DELETE CASCADE), and none of them may be one that lives.
const target sessions_target{
    "sessions",
    "DELETE FROM sessions WHERE pat IN (SELECT s.pat FROM sessions s WHERE s.expires_at < to_timestamp($1)"
    " AND s.expires_at < to_timestamp($3)"
    " AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.pat = s.pat AND r.expires_at > to_timestamp($3))"
    " ORDER BY s.expires_at LIMIT $2 FOR UPDATE OF s SKIP LOCKED)"};
const target refresh_tokens{
    "refresh_tokens",
    "DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash FROM refresh_tokens"
    " WHERE expires_at < to_timestamp($1) AND expires_at < to_timestamp($3)"
    " ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)"};
// A used email code expires like an unused one (within twofactor.email_ttl), so expiry
// alone says when either is spent.
const target email_codes{
    "twofactor_email_codes",
    "DELETE FROM twofactor_email_codes WHERE id IN (SELECT id FROM twofactor_email_codes"
    " WHERE expires_at < to_timestamp($1) AND expires_at < to_timestamp($3)"
    " ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)"};
const target backup_codes{
    "twofactor_backup_codes",
    "DELETE FROM twofactor_backup_codes WHERE id IN (SELECT id FROM twofactor_backup_codes"
    " WHERE used_at IS NOT NULL AND used_at < to_timestamp($1) AND used_at < to_timestamp($3)"
    " ORDER BY used_at LIMIT $2 FOR UPDATE SKIP LOCKED)"};
const target rate_limits{
    "rate_limits",
    "DELETE FROM rate_limits WHERE bucket IN (SELECT bucket FROM rate_limits"
    " WHERE window_end < to_timestamp($1) AND window_end <= to_timestamp($3)"
    " ORDER BY window_end LIMIT $2 FOR UPDATE SKIP LOCKED)"};

// Deletes batch after batch until one comes back short; each batch commits on its own.
table_result prune_table(pqxx::connection& c, const target& t, std::int64_t cutoff, const settings& s,
                         std::int64_t now, const std::function<void(const std::string&, std::int64_t)>& progress,
                         const std::atomic<bool>* stop) {
  table_result out;
  out.target = t.name;
  auto started = std::chrono::steady_clock::now();
  const std::string lock_timeout = "SET LOCAL lock_timeout = '" + std::to_string(s.lock_timeout_ms) + "ms'";
  while (true) {
    if (stop && *stop) {
      out.complete = false;
      break;
    }
    std::int64_t n = 0;
    try {
      pqxx::work w(c);
      w.exec(lock_timeout);
      n = static_cast<std::int64_t>(w.exec_params(t.sql, cutoff, s.batch_rows, now).affected_rows());
      w.commit();
    } catch (const pqxx::sql_error& e) {
      // 55P03 lock_not_available: someone holds a lock on the table (a migration, a
      // VACUUM FULL); waiting behind it would make every request queue behind us.
      if (e.sqlstate() != "55P03") throw;
      log::warn("retention_lock_not_available", {{"table", t.name}});
      out.complete = false;
      break;
    }
    out.rows += n;
    if (n > 0) metrics::add("cartgate_retention_deleted_total{table=\"" + std::string(t.name) + "\"}",
                            static_cast<std::uint64_t>(n));
    if (progress && n > 0) progress(t.name, out.rows);
    if (n < s.batch_rows) break;
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return out;
}

}  // namespace

settings settings::from(const policy& p) {
  // The retention.* options are read from the snapshot's validated values (every key is
  // there, defaults filled), so the pruner's knobs stay beside the pruner.
  auto num = [&](const char* k) { return std::stoll(p.values.at(k)); };
  settings s;
  s.interval_s = num("retention.interval_s");
  s.audit_days = num("retention.audit_days");
  s.sessions_days = num("retention.sessions_days");
  s.twofactor_days = num("retention.twofactor_days");
  s.rate_limit_s = num("retention.rate_limit_s");
  s.batch_rows = num("retention.batch_rows");
  s.lock_timeout_ms = num("retention.lock_timeout_ms");
  return s;
}

pass_result run_pass(pqxx::connection& c, const settings& s, std::int64_t now,
                     const std::function<void(const std::string&, std::int64_t)>& progress,
                     const std::atomic<bool>* stop) {
  struct step {
    const target& t;
    std::int64_t cutoff;
  };
  std::vector<step> steps;
  if (s.audit_days >= 0) steps.push_back({audit_events, now - s.audit_days * day});
  // Sessions before refresh tokens: a session's cascade takes most of its tokens, so the
  // refresh-token step is left with the rotated tokens of sessions that still live.
  steps.push_back({sessions_target, now - s.sessions_days * day});
  steps.push_back({refresh_tokens, now - s.sessions_days * day});
  steps.push_back({email_codes, now - s.twofactor_days * day});
  steps.push_back({backup_codes, now - s.twofactor_days * day});
  steps.push_back({rate_limits, now - s.rate_limit_s});

  pass_result out;
  for (auto& st : steps) {
    auto r = prune_table(c, st.t, st.cutoff, s, now, progress, stop);
    pqxx::work w(c);
    w.exec_params(
        "INSERT INTO retention_runs (target, finished_at, rows_deleted, seconds, complete)"
        " VALUES ($1, now(), $2, $3, $4) ON CONFLICT (target) DO UPDATE SET finished_at = EXCLUDED.finished_at,"
        " rows_deleted = EXCLUDED.rows_deleted, seconds = EXCLUDED.seconds, complete = EXCLUDED.complete",
        r.target, r.rows, r.seconds, r.complete);
    w.commit();
    out.push_back(std::move(r));
    if (stop && *stop) break;
  }
  return out;
}

void pruner::run_until(const std::atomic<bool>& stop) {
  using namespace std::chrono_literals;
  auto pause = [&](std::chrono::milliseconds d) {
    for (auto waited = 0ms; waited < d && !stop; waited += 50ms) std::this_thread::sleep_for(50ms);
  };
  while (!stop) {
    try {
      // A connection of its own: the advisory lock lives as long as it does.
      auto pg = pool_.connect();
      bool leader = false;
      while (!stop && !leader) {
        leader = pqxx::nontransaction(*pg)
                     .exec_params("SELECT pg_try_advisory_lock($1, $2)", lock_class, lock_object)[0][0]
                     .as<bool>();
        if (!leader) pause(5000ms);
      }
      if (stop) break;
      log::info("retention_leader", {});
      auto last = std::chrono::steady_clock::time_point{};
      while (!stop) {
        // The interval is read live, so a shorter one set meanwhile applies at once.
        auto s = settings::from(live_.current());
        auto interval = std::chrono::seconds(s.interval_s);
        if (last != std::chrono::steady_clock::time_point{} && std::chrono::steady_clock::now() - last < interval) {
          pause(100ms);
          continue;
        }
        auto now = static_cast<std::int64_t>(std::time(nullptr));
        auto result = run_pass(*pg, s, now, {}, &stop);
        last = std::chrono::steady_clock::now();
        for (auto& r : result) {
          if (r.rows == 0) continue;
          char seconds[32];
          std::snprintf(seconds, sizeof seconds, "%.3f", r.seconds);
          log::info("retention_pruned", {{"table", r.target}, {"rows", std::to_string(r.rows)}, {"seconds", seconds}});
        }
      }
    } catch (const std::exception& e) {
      metrics::add("cartgate_retention_errors_total");
      log::warn("retention_failed", {{"error", e.what()}});
      pause(5000ms);
    }
  }
}

}  // namespace cartgate::retention
