#include "worker/worker.h"

#include <ctime>

#include "infra/log.h"
#include "infra/metrics.h"
#include "store/options.h"
#include "store/sessions.h"
#include "store/users.h"

namespace cartgate {
namespace {

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

listener::liveness liveness_of(const config& cfg) {
  listener::liveness l;
  l.heartbeat = std::chrono::milliseconds(cfg.listen_heartbeat_ms);
  l.deadline = std::chrono::milliseconds(cfg.listen_deadline_ms);
  l.connect_timeout = cfg.connect_timeout;
  return l;
}

}  // namespace

worker::worker(config cfg)
    : cfg_(std::move(cfg)),
      pool_(cfg_.database_url, static_cast<std::size_t>(cfg_.threads + cfg_.argon2_max_concurrent), cfg_.connect_timeout),
      keys_(cfg_),
      // A session seen for the first time is read on a pooled connection (on the event
      // loop, acquire() throws db::would_block and the request moves to a blocking thread).
      sessions_([this](const std::string& pat) {
        auto conn = pool_.acquire();
        try {
          pqxx::read_transaction t(*conn);
          return sessions::lookup(t, pat);
        } catch (const pqxx::broken_connection&) {
          conn.discard();
          throw;
        }
      }),
      password_slots_(static_cast<unsigned>(cfg_.argon2_max_concurrent)),
      listener_(cfg_.listen_url.empty() ? pool_.url() : cfg_.listen_url, liveness_of(cfg_)) {
  // Loads the geo database (once per process) and the plugins; a plugin that fails to
  // load throws here, so `serve` stops before forking with the plugin named.
  rules_ = std::make_unique<rules::chain>(cfg_, events_);
  if (!cfg_.encryption_key_hex.empty()) twofactor_keys_ = twofactor::keys::from_config(cfg_);
  twofactor_ = twofactor::settings{twofactor_keys_ ? &*twofactor_keys_ : nullptr, cfg_.site_name, cfg_.mail_from};
  if (twofactor_keys_) {
    mail::smtp_settings smtp;
    smtp.url = cfg_.smtp_url;
    smtp.username = cfg_.smtp_username;
    smtp.password = cfg_.smtp_password;
    smtp.allow_plaintext = cfg_.smtp_allow_plaintext;
    outbox_ = std::make_unique<outbox>(pool_, twofactor_keys_->box, smtp, cfg_.mail_from);
  }
  password::argon2_params argon2{cfg_.argon2_memory_kib, cfg_.argon2_iterations, cfg_.argon2_parallelism};
  api_ = std::make_unique<api::services>(api::services{
      cfg_,
      pool_,
      policy_,
      keys_,
      sessions_,
      *rules_,
      events_,
      stream_,
      twofactor_,
      login_pipeline{pool_, keys_, *rules_, events_, password_slots_, argon2,
                     std::chrono::milliseconds(cfg_.argon2_wait_ms), twofactor_, &legacy_schemes_},
      refresh_pipeline{pool_, keys_, *rules_, events_},
      unix_now,
  });
  if (cfg_.wordpress_enabled()) sync_ = std::make_unique<account_sync>(pool_, wordpress::settings::from_config(cfg_));
  retention_ = std::make_unique<retention::pruner>(pool_, policy_);
  schedule_background();
}

void worker::schedule_background() {
  listener_.on_channel("cartgate_revoke", [this](std::string_view payload) {
    sessions_.on_notification(payload);
    if (revocations_) revocations_->apply(payload, unix_now(), policy_.current().access_ttl);
  });
  // Notifications may have been missed while the connection was down: forget every
  // cached session (they are re-read on demand) before trusting the cache again.
  listener_.on_reconnect([this](pqxx::connection&) {
    sessions_.clear();
    if (revocations_) revocations_->reset(unix_now());
  });
  if (!cfg_.revocation_state.empty()) schedule_revocation_state();
  // Fail closed: while the LISTEN connection is down, half-open or late with its
  // heartbeat, a revocation could go unheard, so the cache is bypassed (each check reads
  // PostgreSQL) until the listener is back — which it is only after the clear above.
  sessions_.trust_while([this] { return listener_.live(); });
  listener_.every(std::chrono::seconds(5), [this](pqxx::connection& c) {
    auto batch = sessions_.take_last_used();
    if (batch.empty()) return;
    try {
      pqxx::work w(c);
      sessions::record_last_used(w, batch);
      w.commit();
    } catch (const std::exception&) {
      log::warn("last_used_flush_failed", {{"sessions", std::to_string(batch.size())}});
      throw;
    }
  });
  listener_.every(std::chrono::milliseconds(200), [this](pqxx::connection& c) { stream_.flush(c); });
  // Expired rate-limit rows, like every table's rows past retention, go in the retention
  // pruner's batches (start()), on a thread of its own: a long pass never delays a
  // notification on the listener's connection.
  listener_.on_channel("cartgate_options", [this](std::string_view) {
    // The notification only says "something changed"; re-read everything on a pooled
    // connection so the listener's own connection stays free for notifications.
    try {
      auto conn = pool_.acquire();
      reload_policy(*conn);
    } catch (const std::exception& e) {
      log::warn("options_reload_failed", {{"error", e.what()}});
    }
  });
  listener_.on_reconnect([this](pqxx::connection& c) { reload_policy(c); });
  // Login's dummies (crypto/password.h legacy_schemes): a legacy hash written anywhere
  // notifies (sql/006), so a scheme is covered within a notification's delay; the
  // periodic read notices schemes that went away (their last account rehashed). While
  // the listener is not live a notification could go unheard, so every dummy runs.
  legacy_schemes_.trust_while([this] { return listener_.live(); });
  listener_.on_channel("cartgate_password_schemes", [this](std::string_view) {
    try {
      auto conn = pool_.acquire();
      read_legacy_schemes(*conn);
    } catch (const std::exception& e) {
      log::warn("password_schemes_read_failed", {{"error", e.what()}});
    }
  });
  listener_.on_reconnect([this](pqxx::connection& c) { read_legacy_schemes(c); });
  listener_.every(std::chrono::seconds(10), [this](pqxx::connection& c) { read_legacy_schemes(c); });
  if (outbox_) outbox_->attach(listener_);
}

// The nginx module's state (auth/revocation_file.h): the worker that holds the file's
// lock writes it from this thread; the others try to take it over now and then. The
// heard-at instant goes out only while the listener is live, so a lost or silent LISTEN
// connection leaves the file to age, and nginx asks cartgate once it is 1 s old.
void worker::schedule_revocation_state() {
  revocations_ = std::make_unique<revocation_file>(cfg_.revocation_state, cfg_.socket_group);
  listener_.every(std::chrono::milliseconds(50), [this](pqxx::connection&) {
    if (!revocations_->holder()) {
      if (!revocations_->try_take()) return;
      revocations_->reset(unix_now());
    }
    if (listener_.live()) revocations_->heard(listener_.heard_at_ns());
  });
  listener_.every(std::chrono::minutes(1), [this](pqxx::connection&) { revocations_->purge(unix_now()); });
}

worker::~worker() { stop(); }

void worker::start() {
  // The stored policy before the first request, so a fresh worker never answers with the
  // defaults of options that are set. With the database away it starts on the defaults
  // and the listener loads the policy as soon as it connects.
  try {
    auto conn = pool_.acquire();
    reload_policy(*conn);
  } catch (const std::exception& e) {
    log::warn("options_not_loaded_at_start", {{"error", e.what()}});
  }
  listener_.start();
  if (outbox_) outbox_->start();
  if (!retention_thread_.joinable()) {
    retention_stop_ = false;
    retention_thread_ = std::thread([this] { retention_->run_until(retention_stop_); });
  }
  if (sync_ && !sync_thread_.joinable()) {
    sync_stop_ = false;
    sync_thread_ = std::thread([this] { sync_->run_until(sync_stop_); });
  }
}

void worker::stop() {
  retention_stop_ = true;
  if (retention_thread_.joinable()) retention_thread_.join();
  sync_stop_ = true;
  if (sync_thread_.joinable()) sync_thread_.join();
  if (outbox_) outbox_->stop();
  listener_.stop();
}

void worker::read_legacy_schemes(pqxx::connection& c) {
  password::legacy_schemes present;
  {
    pqxx::read_transaction t(c);
    present = users::legacy_schemes(t);
  }
  legacy_schemes_.set(present);
  metrics::set_gauge("cartgate_password_legacy_present{scheme=\"bcrypt\"}", present.bcrypt ? 1 : 0);
  metrics::set_gauge("cartgate_password_legacy_present{scheme=\"phpass\"}", present.phpass ? 1 : 0);
}

void worker::reload_policy(pqxx::connection& c) {
  std::map<std::string, std::string> stored;
  {
    pqxx::read_transaction t(c);
    stored = stored_options::read_all(t);
  }
  try {
    policy_.replace(std::make_shared<const policy>(policy::from_values(stored)));
  } catch (const option_error& e) {
    log::error("options_invalid_kept_previous", {{"error", e.what()}});
  }
}

}  // namespace cartgate
