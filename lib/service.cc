#include "service.h"

#include "errors.h"
#include "log.h"
#include "metrics.h"
#include "routes.h"
#include "rules/rate_limit.h"

#include <ctime>

namespace cartgate {

service::service(config cfg)
    : cfg_(std::move(cfg)),
      pool_(cfg_.database_url, static_cast<std::size_t>(cfg_.threads), cfg_.connect_timeout),
      keys_(cfg_),
      password_slots_(static_cast<unsigned>(cfg_.argon2_max_concurrent)),
      listener_(pool_.url()),
      policy_(std::make_shared<policy>(policy::defaults())) {
  // Loads the geo database (once per process) and the plugins; a plugin that fails to
  // load throws here, so `serve` stops before forking with the plugin named.
  rules_ = std::make_unique<rules::chain>(cfg_, events_);
  listener_.on_channel("cartgate_revoke", [this](std::string_view payload) {
    sessions_.on_notification(payload);
  });
  // Notifications may have been missed while the connection was down: forget every
  // cached session (they are re-read on demand) before trusting the cache again.
  listener_.on_reconnect([this](pqxx::connection&) { sessions_.clear(); });
  listener_.every(std::chrono::seconds(5), [this](pqxx::connection& c) { sessions_.flush_last_used(c); });
  listener_.every(std::chrono::milliseconds(200), [this](pqxx::connection& c) { flush_external_events(c); });
  // Expired rate-limit rows; any process may delete them, so every worker does, rarely.
  listener_.every(std::chrono::minutes(5), [](pqxx::connection& c) {
    pqxx::work w(c);
    rate_limit::cleanup(w, static_cast<std::int64_t>(std::time(nullptr)));
    w.commit();
  });
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
  if (!cfg_.encryption_key_hex.empty()) {
    mail::smtp_settings smtp;
    smtp.url = cfg_.smtp_url;
    smtp.username = cfg_.smtp_username;
    smtp.password = cfg_.smtp_password;
    outbox_ = std::make_unique<outbox>(pool_, secretbox::from_hex(cfg_.encryption_key_hex), smtp,
                                       cfg_.mail_from);
    outbox_->attach(listener_);
  }
}

service::~service() { stop(); }

void service::start() {
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
}

password::argon2_params service::argon2() const {
  return {cfg_.argon2_memory_kib, cfg_.argon2_iterations, cfg_.argon2_parallelism};
}

void service::publish_async(const events::event& e) {
  std::lock_guard lock(external_mu_);
  if (external_queue_.size() >= 10000) {
    metrics::add("cartgate_events_dropped_total");
    return;
  }
  external_queue_.push_back(http::to_json(events::external_payload(e)));
}

void service::flush_external_events(pqxx::connection& c) {
  std::vector<std::string> batch;
  {
    std::lock_guard lock(external_mu_);
    batch.swap(external_queue_);
  }
  if (batch.empty()) return;
  pqxx::work w(c);
  for (auto& payload : batch) w.exec_params("SELECT pg_notify('cartgate_events', $1)", payload);
  w.commit();
}

void service::stop() {
  if (outbox_) outbox_->stop();
  listener_.stop();
}

const policy& service::current_policy() {
  thread_local std::shared_ptr<const policy> cached;
  thread_local std::uint64_t cached_version = 0;
  thread_local const service* cached_owner = nullptr;
  std::uint64_t v = policy_version_.load(std::memory_order_acquire);
  if (v != cached_version || cached_owner != this) {
    std::lock_guard lock(policy_mu_);
    cached = policy_;
    cached_version = policy_version_.load(std::memory_order_acquire);
    cached_owner = this;
  }
  return *cached;
}

void service::reload_policy(pqxx::connection& c) {
  std::map<std::string, std::string> stored;
  {
    pqxx::read_transaction t(c);
    for (auto row : t.exec("SELECT key, value FROM options")) {
      stored[row[0].c_str()] = row[1].c_str();
    }
  }
  try {
    auto next = std::make_shared<const policy>(policy::from_values(stored));
    std::lock_guard lock(policy_mu_);
    policy_ = std::move(next);
    policy_version_.fetch_add(1, std::memory_order_acq_rel);
  } catch (const option_error& e) {
    log::error("options_invalid_kept_previous", {{"error", e.what()}});
  }
}

http::response service::handle(http::request& r) { return handle(r, find_route(r)); }

http::response service::handle(http::request& r, const route* rt) {
  const policy& p = current_policy();
  r.client_ip = net::resolve_client_ip(r.remote_addr, r.header("x-forwarded-for"), p.trusted_proxies);
  http::response res;
  std::string_view route_name = "unknown";
  try {
    res = dispatch(*this, r, rt, &route_name);
  } catch (const std::exception& e) {
    auto what = db::classify(e);
    if (what == db::outcome::unavailable) {
      metrics::add("cartgate_database_unavailable_total");
      log::warn("database_unavailable", {{"route", std::string(route_name)}});
      res = to_response(failure{reason::service_unavailable});
    } else {
      log::error("request_failed", {{"route", std::string(route_name)}, {"error", e.what()}});
      res = to_response(failure{reason::internal_error});
    }
  }
  metrics::add("cartgate_requests_total{route=\"" + std::string(route_name) + "\",status=\"" +
               std::to_string(res.status) + "\"}");
  return res;
}

}  // namespace cartgate
