// Login (contract §2.1, §3, §4) as one pipeline. The order of its checks lives here and
// only here (docs/rules.md points at it):
//
//   1. rate limit     per IP and per account (rules/rate_limit.h), before any password
//                     work; while limited even correct credentials get the 429
//   2. password       in a bounded argon2 slot (503 past it), outside any transaction and
//                     at most once per request; every path runs one argon2id and one
//                     hash of each legacy scheme some account holds
//                     (password::verify_for_login: dummies for an unknown user and for
//                     the schemes an account does not use), so all cost alike
//   3. rules          the permission chain (geo, schedule, device, client, plugins)
//   4. second factor  auth/twofactor.h: a challenge, or a code that must be right
//   5. tokens         a new session (evicting past jwt.max_sessions), its refresh token and
//                     an access token
//
// Steps 1 and 3–5 each run in a short transaction of their own; a transaction retried
// after a serialization failure never repeats step 2. run() returns a typed outcome and
// writes no answer: api/ turns outcomes into responses.
//
// vouched() is the same pipeline from step 3 on, for a customer WordPress logged in.
//
//   login_pipeline login{db, keys, rules, bus, slots, argon2, wait, twofactor_settings};
//   auto out = login.run({req, params, "alice", "secret"}, policy, now);
//   if (out.denied) return to_response(*out.denied);     // plus out.limit_headers
#pragma once

#include <json/json.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "auth/bearer.h"
#include "auth/tokens.h"
#include "auth/twofactor.h"
#include "crypto/password.h"
#include "http/errors.h"
#include "http/message.h"
#include "infra/db.h"
#include "infra/events.h"
#include "policy/options.h"
#include "rules/chain.h"
#include "store/users.h"

namespace cartgate {

struct login_attempt {
  const http::request& req;   // client_ip resolved; headers for the rules
  const Json::Value& params;  // the body (device_id, 2fa_provider, 2fa_code, …)
  std::string identifier;     // login, email or phone
  std::string password;
};

// A login the storefront vouched for (cookie → token): a customer logged in to WordPress
// with its cookie. WordPress checked the password, so there is no password step and
// nothing to guess (no rate limit); the rest is run()'s: the account (WordPress's id and
// login must both name it), the permission rules, the second factor, the tokens. No
// code can be typed here, so a user with two-factor on — in cartgate, or in WordPress's
// own two-factor plugin — gets tokens only when the WordPress login passed a second
// factor; otherwise storefront_second_factor_missing.
struct vouched_login {
  const http::request& req;   // the customer's request as nginx passed it to WordPress
                              // (client_ip resolved, its headers); the rules see it
  const Json::Value& params;  // its body parameters (device_id, …)
  std::int64_t user_id = 0;   // WordPress's
  std::string login;
  bool second_factor_enrolled_in_wordpress = false;
  bool second_factor_passed = false;  // this WordPress login passed a second factor
};

struct login_outcome {
  std::optional<failure> denied;
  // Every answer of the login route says where the caller stands (X-RateLimit-*).
  std::vector<http::header> limit_headers;
  // When not denied:
  std::optional<user> who;
  std::string access, refresh, pat;
};

struct login_pipeline {
  db::pool& db;
  const token_keys& keys;
  rules::chain& rules;
  const events::bus& bus;
  password::limiter& slots;
  password::argon2_params argon2;
  std::chrono::milliseconds slot_wait;  // how long a login waits for an argon2 slot
  const twofactor::settings& twofactor;
  // Which legacy schemes' dummies a login runs (the worker's, kept current from the
  // store); null: all of them.
  password::legacy_watch* legacy = nullptr;

  login_outcome run(const login_attempt& a, const policy& p, std::int64_t now) const;

  // Re-login with a valid Bearer token (CoCart JWT 3.x): the same access token back, a
  // fresh refresh token for the same session, the previous refresh token retired.
  login_outcome relogin(const identity& who, const policy& p, std::int64_t now) const;

  // Cookie → token (vouched_login above): rules → second factor → tokens.
  login_outcome vouched(const vouched_login& a, const policy& p, std::int64_t now) const;
};

}  // namespace cartgate
