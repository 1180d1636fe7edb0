// What the HTTP handlers use, built and owned by the worker (worker/worker.h), which hands
// every handler this one object. Handlers never see the worker itself.
//
//   http::response my_handler(api::services& s, http::request& r) {
//     const policy& p = s.policy.current();
//     auto who = s.bearer(p).request(r, s.now());
//     if (!who.who) return s.refuse(who.why);
//     …
//   }
#pragma once

#include <cstdint>

#include "auth/bearer.h"
#include "auth/login.h"
#include "auth/refresh.h"
#include "auth/session_cache.h"
#include "auth/tokens.h"
#include "auth/twofactor.h"
#include "http/errors.h"
#include "infra/config.h"
#include "infra/db.h"
#include "infra/events.h"
#include "policy/snapshot.h"
#include "rules/chain.h"
#include "store/event_stream.h"

namespace cartgate::api {

struct services {
  const config& cfg;
  db::pool& db;
  const policy_snapshot& policy;
  const token_keys& keys;
  session_cache& sessions;
  rules::chain& rules;
  const events::bus& bus;
  event_stream& stream;
  const twofactor::settings& twofactor;
  login_pipeline login;
  refresh_pipeline refresh;
  std::int64_t (*clock)();  // unix seconds; tests pass a fixed one

  std::int64_t now() const { return clock(); }
  // The answer to a failure. Every handler answers its failures through here, so that
  // jwt.failure_status reaches each Bearer failure of each route (the mapping itself is
  // to_response's, http/errors.h); Architecture.ApiAnswersFailuresThroughRefuse checks it.
  http::response refuse(const failure& f) const { return to_response(f, policy.current().failure_status); }
  // The Bearer check with this thread's token memo.
  bearer_check bearer(const cartgate::policy& p) const {
    return bearer_check{keys, p, token_memo::for_this_thread(&keys), sessions};
  }
};

}  // namespace cartgate::api
