#include "auth/account_sync.h"

#include <chrono>
#include <map>
#include <thread>

#include "crypto/password.h"
#include "infra/log.h"
#include "infra/metrics.h"
#include "store/audit.h"
#include "store/sessions.h"
#include "store/users.h"

namespace cartgate {
namespace {

// pg_try_advisory_lock's key: "cartgate" + "wp sync", as two int4s.
constexpr std::int32_t lock_class = 0x63617274;
constexpr std::int32_t lock_object = 0x77707379;
constexpr std::size_t batch_rows = 500;

user from_wordpress(const wordpress::account& a) {
  user u;
  u.id = a.id;
  u.login = a.login;
  u.email = a.email;
  u.phone = a.phone;
  u.password_hash = a.password_hash;
  u.first_name = a.first_name;
  u.last_name = a.last_name;
  u.display_name = a.display_name;
  u.roles = a.roles;
  u.owner = origin::wordpress;
  u.wordpress_pass = a.password_hash;
  return u;
}

bool same_profile(const user& have, const user& want) {
  return have.login == want.login && have.email == want.email && have.phone == want.phone &&
         have.first_name == want.first_name && have.last_name == want.last_name &&
         (have.display_name == want.display_name || (want.display_name.empty() && have.display_name == want.login)) &&
         have.roles == (want.roles.empty() ? std::vector<std::string>{"customer"} : want.roles) &&
         have.owner == origin::wordpress;
}

Json::Value detail(std::int64_t id, std::string_view what) {
  Json::Value d(Json::objectValue);
  d["wordpress_user_id"] = std::to_string(id);
  if (!what.empty()) d["reason"] = std::string(what);
  return d;
}

sync_outcome clash(pqxx::transaction_base& tx, std::int64_t id, const std::string& reason, std::string* why) {
  log::warn("wordpress_account_clash", {{"wordpress_user_id", std::to_string(id)}, {"reason", reason}});
  metrics::add("cartgate_wordpress_sync_total{outcome=\"clash\"}");
  audit::record(tx, "wordpress_account_clash", 0, "", "", detail(id, reason));
  if (why) *why = reason;
  return sync_outcome::clash;
}

}  // namespace

std::string_view sync_outcome_name(sync_outcome o) {
  switch (o) {
    case sync_outcome::created: return "created";
    case sync_outcome::updated: return "updated";
    case sync_outcome::password_changed: return "password_changed";
    case sync_outcome::deleted: return "deleted";
    case sync_outcome::unchanged: return "unchanged";
    case sync_outcome::clash: return "clash";
  }
  return "unknown";
}

account_sync::account_sync(db::pool& pool, wordpress::settings settings)
    : pool_(pool), settings_(std::move(settings)) {}

account_sync::~account_sync() = default;

sync_outcome account_sync::apply(pqxx::transaction_base& tx, std::int64_t id,
                                 const std::optional<wordpress::account>& wp, std::string* why) {
  auto have = users::find_by_id(tx, id);
  if (!wp) {
    if (!have || have->owner != origin::wordpress) return sync_outcome::unchanged;
    sessions::revoke_user(tx, id, "user_deleted");
    users::remove(tx, id);
    audit::record(tx, "user_deleted", 0, "", "", detail(id, "deleted in WordPress"));
    return sync_outcome::deleted;
  }
  user want = from_wordpress(*wp);
  if (want.login.empty() || want.email.empty() || password::scheme_of(want.password_hash) == password::scheme::unknown) {
    return clash(tx, id, "the WordPress user has no login, email or password hash cartgate can use", why);
  }
  if (!have) {
    try {
      users::add(tx, want);
    } catch (const users::conflict& e) {
      return clash(tx, id, e.what(), why);
    }
    audit::record(tx, "user_created", id, "", "", detail(id, "from WordPress"));
    return sync_outcome::created;
  }
  if (have->owner != origin::wordpress) {
    return clash(tx, id, "user id " + std::to_string(id) + " belongs to an account cartgate created", why);
  }
  sync_outcome out = sync_outcome::unchanged;
  if (!same_profile(*have, want)) {
    try {
      users::update(tx, want);
    } catch (const users::conflict& e) {
      return clash(tx, id, e.what(), why);
    }
    out = sync_outcome::updated;
  }
  // WordPress's own password changed: its hash is the password now (cartgate's rehash
  // of the previous one at a login is not a change, hence the comparison with what
  // WordPress had, not with password_hash). CoCart JWT ends the user's tokens then too.
  if (have->wordpress_pass != want.wordpress_pass) {
    users::set_password_hash(tx, id, want.password_hash);
    users::set_wordpress_pass(tx, id, want.wordpress_pass);
    if (!have->wordpress_pass.empty()) {
      sessions::revoke_user(tx, id, "password_changed");
      audit::record(tx, "password_changed", id, "", "", detail(id, "in WordPress"));
      out = sync_outcome::password_changed;
    }
  }
  return out;
}

std::size_t account_sync::drain_once(pqxx::connection& pg, wordpress::database& wp) {
  auto rows = wp.outbox(batch_rows);
  if (rows.empty()) return 0;
  std::vector<std::uint64_t> ids;
  for (auto& r : rows) ids.push_back(r.id);
  {
    pqxx::work w(pg);
    auto last = w.exec("SELECT last_outbox_id FROM wordpress_sync FOR UPDATE")[0][0].as<std::int64_t>();
    // Each user once per batch, in the order of their first row; WordPress's state is
    // read now, after the rows, so it is at least as new as every row of the batch.
    std::vector<std::int64_t> order;
    std::map<std::int64_t, bool> seen;
    std::uint64_t newest = static_cast<std::uint64_t>(last);
    for (auto& r : rows) {
      newest = std::max(newest, r.id);
      if (r.id <= static_cast<std::uint64_t>(last)) continue;  // applied before a failed delete
      if (!seen[r.user_id]) order.push_back(r.user_id);
      seen[r.user_id] = true;
    }
    for (auto id : order) {
      auto outcome = apply(w, id, wp.find(id));
      metrics::add("cartgate_wordpress_sync_total{outcome=\"" + std::string(sync_outcome_name(outcome)) + "\"}");
      if (outcome != sync_outcome::unchanged) {
        log::info("wordpress_account_synced",
                  {{"user_id", std::to_string(id)}, {"outcome", std::string(sync_outcome_name(outcome))}});
      }
    }
    w.exec_params("UPDATE wordpress_sync SET last_outbox_id = $1, updated_at = now()",
                  static_cast<std::int64_t>(newest));
    w.commit();
  }
  wp.forget(ids);
  return rows.size();
}

std::int64_t account_sync::backfill(pqxx::connection& pg, wordpress::database& wp, std::size_t page,
                                    const std::function<void(std::int64_t, std::int64_t)>& progress) {
  std::int64_t total = wp.count_accounts(), done = 0, changed = 0, after = 0;
  while (true) {
    auto accounts = wp.accounts_after(after, page);
    if (accounts.empty()) break;
    pqxx::work w(pg);
    for (auto& a : accounts) {
      after = a.id;
      auto outcome = apply(w, a.id, a);
      if (outcome != sync_outcome::unchanged && outcome != sync_outcome::clash) ++changed;
      ++done;
    }
    w.commit();
    if (progress) progress(done, total);
  }
  return changed;
}

void account_sync::run_until(const std::atomic<bool>& stop) {
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
        if (!leader) pause(1000ms);
      }
      if (stop) break;
      log::info("wordpress_sync_started", {{"database", settings_.db.database}});
      wordpress::database wp(settings_);
      while (!stop) {
        if (drain_once(*pg, wp) < batch_rows) pause(200ms);
      }
    } catch (const std::exception& e) {
      metrics::add("cartgate_wordpress_sync_errors_total");
      log::warn("wordpress_sync_failed", {{"error", e.what()}});
      pause(1000ms);
    }
  }
}

}  // namespace cartgate
