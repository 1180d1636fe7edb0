// Keeps cartgate's accounts in step with the WordPress store's (contract §8). WordPress
// owns accounts and passwords; cartgate owns sessions, refresh tokens, two-factor state,
// devices and policy. The must-use plugin writes "look at user N again" rows into an
// outbox table in WordPress's own database (deploy/wordpress/README.md); a drainer reads
// them, re-reads each user's current WordPress row and applies it here:
//
//   - a new user becomes an account with WordPress's id, login, email, names, phone
//     (billing_phone), roles and password hash (phpass, bcrypt or $wp$2y$, rehashed to
//     argon2id at the first cartgate login as for imports);
//   - a changed user_pass (WordPress's, not cartgate's own rehash) replaces the hash and
//     ends every session of the user; other changes are copied;
//   - a user gone from WordPress is deleted, its sessions ended;
//   - an account that would clash (its id held by a cartgate-only account, or a login,
//     email or phone naming another account) is left out, audited and logged.
//
// Applying copies WordPress's current state, so applying a user twice changes nothing;
// the outbox position is kept in PostgreSQL (wordpress_sync) in the same transaction as
// the changes, so a row is applied once even when deleting it from WordPress failed.
// Only one drainer runs per database: the worker that holds a PostgreSQL advisory lock.
//
//   account_sync sync(pool, wordpress_settings);
//   sync.run_until(stop);                               // a worker's sync thread
//   auto r = account_sync::apply(tx, 42, wp.find(42));  // one account, in tx
#pragma once

#include <pqxx/pqxx>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "infra/db.h"
#include "store/wordpress.h"

namespace cartgate {

enum class sync_outcome { created, updated, password_changed, deleted, unchanged, clash };
std::string_view sync_outcome_name(sync_outcome o);

class account_sync {
 public:
  account_sync(db::pool& pool, wordpress::settings settings);
  ~account_sync();
  account_sync(const account_sync&) = delete;
  account_sync& operator=(const account_sync&) = delete;

  // Makes cartgate's account `id` what WordPress says it is (nullopt: no such WordPress
  // user). `why` goes to the audit trail of a clash.
  static sync_outcome apply(pqxx::transaction_base& tx, std::int64_t id,
                            const std::optional<wordpress::account>& wp, std::string* why = nullptr);

  // One batch of the outbox: applies what it names and returns how many rows it took
  // (0: nothing to do). Throws when either database is away.
  static std::size_t drain_once(pqxx::connection& pg, wordpress::database& wp);

  // Every existing WordPress user, in id order, pages of `page` (the backfill); progress
  // gets (done, total). Safe to re-run. Returns how many accounts changed (a clash is
  // logged and audited, and not counted).
  static std::int64_t backfill(pqxx::connection& pg, wordpress::database& wp, std::size_t page,
                               const std::function<void(std::int64_t, std::int64_t)>& progress);

  // The drainer's loop: takes the advisory lock (another worker may hold it: then it
  // waits its turn), drains every 200 ms, reconnects after either database went away.
  // Returns once *stop is true.
  void run_until(const std::atomic<bool>& stop);

 private:
  db::pool& pool_;
  wordpress::settings settings_;
};

}  // namespace cartgate
