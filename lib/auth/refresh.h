// Refresh (contract §2.2, CoCart JWT's refresh-token route) as one pipeline:
//
//   1. rate limit   CoCart's 10/min per IP; every call counts, in a short transaction of
//                   its own, before the token is looked at
//   2. token        the refresh token must be given (body, or the query string)
//   3. rules        the permission chain, when rules.on_refresh is true — before rotation,
//                   so a denied refresh leaves the token usable
//   4. rotation     the presented token is retired under a row lock and a new one issued
//                   (store/sessions.h); presenting a retired one is reuse and revokes the
//                   session; then a new access token
//
// Steps 3–4 share one transaction. A commit whose outcome is unknown is never retried
// (infra/db.h): a retried rotation would look like reuse and revoke the session.
//
//   refresh_pipeline refresh{db, keys, rules, bus};
//   auto out = refresh.run(req, params, policy, now);
#pragma once

#include <json/json.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "auth/tokens.h"
#include "http/errors.h"
#include "http/message.h"
#include "infra/db.h"
#include "infra/events.h"
#include "policy/options.h"
#include "rules/chain.h"

namespace cartgate {

struct refresh_outcome {
  std::optional<failure> denied;
  std::vector<http::header> limit_headers;  // X-RateLimit-* of step 1, on every answer
  std::string access, refresh_token;        // when not denied
};

struct refresh_pipeline {
  db::pool& db;
  const token_keys& keys;
  rules::chain& rules;
  const events::bus& bus;

  refresh_outcome run(const http::request& req, const Json::Value& params, const policy& p,
                      std::int64_t now) const;
};

}  // namespace cartgate
