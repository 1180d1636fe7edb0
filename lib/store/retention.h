// Retention: rows past their retention are deleted on a schedule — audit events older
// than retention.audit_days, sessions and refresh tokens retention.sessions_days after
// they expired, two-factor codes retention.twofactor_days after they were spent or
// expired, rate-limit windows retention.rate_limit_s after they ended.
//
//   retention::pass_result r = retention::run_pass(conn, retention::settings::from(pol), now);
//   retention::pruner p(pool, snapshot);  p.run_until(stop);   // one per worker; one leads
//
// Every delete is a batch of at most settings.batch_rows rows in a transaction of its own,
// found through an index on the predicate's column, oldest first, with the rows locked
// FOR UPDATE SKIP LOCKED (a row a request holds is left for the next pass, never waited
// for) and lock_timeout set (a table lock that cannot be had at once skips that table for
// this pass): a hot table is never locked for longer than one small batch.
#pragma once

#include <pqxx/pqxx>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "infra/db.h"
#include "policy/options.h"
#include "policy/snapshot.h"

namespace cartgate::retention {

struct settings {
  std::int64_t interval_s = 300;     // between passes
  std::int64_t audit_days = 90;      // -1: audit events are kept forever
  std::int64_t sessions_days = 7;    // after expiry
  std::int64_t twofactor_days = 1;   // after use or expiry
  std::int64_t rate_limit_s = 0;     // after the window ended
  std::int64_t batch_rows = 5000;
  std::int64_t lock_timeout_ms = 200;
  static settings from(const policy& p);
};

struct table_result {
  std::string target;  // audit_events, sessions, refresh_tokens, …
  std::int64_t rows = 0;
  double seconds = 0;
  bool complete = true;  // false: stopped early (lock not available, or asked to stop)
};
using pass_result = std::vector<table_result>;

// One pass over every table; `progress` (may be empty) hears each batch (target, rows so
// far). `stop` ends the pass between batches. Each table's outcome is written to
// retention_runs. Never deletes a session that has an unexpired refresh token, nor an
// unexpired refresh token, whatever the settings.
pass_result run_pass(pqxx::connection& c, const settings& s, std::int64_t now,
                     const std::function<void(const std::string&, std::int64_t)>& progress = {},
                     const std::atomic<bool>* stop = nullptr);

// The scheduled pruning of one database: every worker runs one, and only the one holding
// a PostgreSQL advisory lock (on a connection of its own) prunes, a pass every
// retention.interval_s (read live from the policy). When that worker goes, its lock goes
// with its connection and another takes over.
class pruner {
 public:
  pruner(db::pool& pool, const policy_snapshot& live) : pool_(pool), live_(live) {}
  void run_until(const std::atomic<bool>& stop);

 private:
  db::pool& pool_;
  const policy_snapshot& live_;
};

}  // namespace cartgate::retention
