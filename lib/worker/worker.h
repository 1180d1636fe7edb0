// One worker process's cartgate: the composition root. It builds and owns every part —
// database pool, live policy, keys, session cache, permission chain, argon2 slots, the
// background listener, the mail outbox — wires them together, and hands the HTTP
// handlers exactly what they use (api::services). Nothing below this folder includes it.
//
//   worker w(cfg);                        // loads plugins and the geo db; may throw
//   w.start();                            // stored policy, then the background thread
//   http::response res = api::answer(w.api(), req, api::find_route(req));
//   w.stop();
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <thread>

#include "api/services.h"
#include "auth/account_sync.h"
#include "auth/revocation_file.h"
#include "auth/session_cache.h"
#include "auth/tokens.h"
#include "auth/twofactor.h"
#include "crypto/password.h"
#include "infra/config.h"
#include "infra/db.h"
#include "infra/events.h"
#include "infra/listener.h"
#include "infra/outbox.h"
#include "policy/snapshot.h"
#include "rules/chain.h"
#include "store/event_stream.h"
#include "store/retention.h"

namespace cartgate {

class worker {
 public:
  // Owns every part and hands out references to them: neither copied nor moved.
  explicit worker(config cfg);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  void start();
  void stop();

  api::services& api() { return *api_; }
  const config& cfg() const { return cfg_; }

 private:
  // Reads every stored option and swaps the snapshot in; a bad stored value keeps the
  // previous snapshot (and is logged).
  void reload_policy(pqxx::connection& c);
  // Wires the listener: revocations, options, batched writes, pruning.
  void schedule_background();
  void schedule_revocation_state();
  // Reads which legacy schemes are present into legacy_schemes_ (and its gauges).
  void read_legacy_schemes(pqxx::connection& c);

  // Declaration order is construction order: each part is built from those above it.
  config cfg_;
  db::pool pool_;
  policy_snapshot policy_;
  token_keys keys_;
  session_cache sessions_;
  events::bus events_;
  std::unique_ptr<rules::chain> rules_;  // after events_: plugins unsubscribe-by-destruction first
  password::limiter password_slots_;
  // The legacy schemes some account holds, so login runs only their dummies.
  password::legacy_watch legacy_schemes_;
  std::optional<twofactor::keys> twofactor_keys_;  // when an encryption key is configured
  twofactor::settings twofactor_;
  event_stream stream_;
  listener listener_;
  std::unique_ptr<revocation_file> revocations_;  // server.revocation_state; null = none
  std::unique_ptr<outbox> outbox_;
  std::unique_ptr<api::services> api_;
  // With a [wordpress] table: the account sync's thread (one drainer per database).
  std::unique_ptr<account_sync> sync_;
  std::atomic<bool> sync_stop_{false};
  std::thread sync_thread_;
  // The retention pruner's thread: every worker runs one, the advisory lock's holder prunes.
  std::unique_ptr<retention::pruner> retention_;
  std::atomic<bool> retention_stop_{false};
  std::thread retention_thread_;
};

}  // namespace cartgate
