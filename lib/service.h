// One worker process's view of cartgate: configuration, database pool, live policy and
// the background listener, plus the parts later layers add (keys, session cache, rules).
// Routes receive a service& and read everything through it.
//
//   service svc(cfg);
//   svc.start();                         // background thread: options, revocations, batches
//   http::response res = svc.handle(req);
//   svc.stop();
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "config.h"
#include "db.h"
#include "events.h"
#include "http.h"
#include "listener.h"
#include "options.h"
#include "outbox.h"
#include "password.h"
#include "rules/chain.h"
#include "session_cache.h"
#include "tokens.h"

namespace cartgate {

struct route;

class service {
 public:
  explicit service(config cfg);
  ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  void start();
  void stop();

  // Routes the request (after resolving the client IP) and maps every exception to the
  // contract's error shape: database away → 503, anything else → 500.
  // db::would_block passes through: under a db::no_wait_scope the caller retries the
  // request on a thread that may wait.
  http::response handle(http::request& r);
  // The same for a route already looked up with find_route (nullptr: no route), so a
  // caller that needed the route first does not look it up twice.
  http::response handle(http::request& r, const route* rt);

  const config& cfg() const { return cfg_; }
  db::pool& db() { return pool_; }
  listener& background() { return listener_; }
  // The mail queue's sender; null when no encryption key is configured (mail is sealed).
  outbox* mail_outbox() { return outbox_.get(); }

  // The current policy snapshot. Lock-free on the hot path: each thread keeps its own
  // copy and re-reads only when the version moved.
  const policy& current_policy();
  // Reads every stored option and swaps the snapshot in; a bad stored value keeps the
  // previous snapshot (and is logged).
  void reload_policy(pqxx::connection& c);

  bool database_ready() const { return listener_.connected(); }

  const token_keys& keys() const { return keys_; }
  session_cache& sessions() { return sessions_; }
  events::bus& events() { return events_; }
  // The permission chain (contract §4): built-ins and plugins, loaded at construction.
  rules::chain& rules() { return *rules_; }
  password::limiter& password_slots() { return password_slots_; }
  password::argon2_params argon2() const;

  // Per-request events (token_validated, authenticated) for the external stream: queued
  // here, published by the background thread, never on the request path.
  void publish_async(const events::event& e);

 private:
  void flush_external_events(pqxx::connection& c);

  config cfg_;
  db::pool pool_;
  token_keys keys_;
  session_cache sessions_;
  events::bus events_;
  std::unique_ptr<rules::chain> rules_;  // after events_: plugins unsubscribe-by-destruction first
  password::limiter password_slots_;
  listener listener_;
  std::unique_ptr<outbox> outbox_;
  std::mutex external_mu_;
  std::vector<std::string> external_queue_;
  std::mutex policy_mu_;
  std::shared_ptr<const policy> policy_;
  std::atomic<std::uint64_t> policy_version_{1};
};

}  // namespace cartgate
