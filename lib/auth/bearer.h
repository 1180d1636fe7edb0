// The Bearer check every protected request runs (validate-token, me, logout, the nginx
// auth subrequest, the Two Factor routes, the own-sessions routes): the token of
// `Authorization: Bearer …` (or of jwt.auth_header's header, see presented_token), its
// prefix, signature and claims (crypto/jwt.h, or the thread's token_memo for a token seen
// before), the IP and User-Agent bindings, then the session from the session cache — so
// no database round-trip once the session is cached. It takes exactly what it reads.
//
//   bearer_check check{keys, policy, token_memo::for_this_thread(&keys), cache};
//   auto who = check.request(req, now);              // identity, or the failure reason
//   if (!who.who) return to_response(who.why);
#pragma once

#include <json/json.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/session_cache.h"
#include "auth/token_memo.h"
#include "auth/tokens.h"
#include "http/errors.h"
#include "http/message.h"
#include "policy/options.h"
#include "store/users.h"

namespace cartgate {

struct identity {
  std::int64_t user_id = 0;
  std::string username;
  std::string pat;
  std::int64_t exp = 0;
  std::string token;                           // as presented, prefix removed
  std::shared_ptr<const Json::Value> payload;  // the verified claims
  std::shared_ptr<const user> subject;
};

struct bearer_result {
  std::optional<identity> who;
  reason why = reason::token_missing;  // meaningful when !who
};

// What the request says about itself that a token may be bound to.
struct request_facts {
  std::string_view client_ip;   // resolved from the trusted proxies
  std::string_view user_agent;  // the User-Agent header
};

// The token a request presents: `Authorization: Bearer …`, else a `Bearer …` value in the
// header jwt.auth_header names (for a proxy that strips Authorization, as @cocart/sdk's
// authHeaderName allows). nullopt: no token at all (token_missing).
std::optional<std::string> presented_token(const http::request& r, const policy& p);

// Whether a request carries anything in a header a token is read from (Authorization,
// whatever its scheme, or jwt.auth_header's). The optional guard lets a request through
// as a guest only when it does not: a header that is there must hold a valid token.
bool token_header_present(const http::request& r, const policy& p);

struct bearer_check {
  const token_keys& keys;
  const policy& pol;
  token_memo& memo;
  session_cache& sessions;

  // The presented token (presented_token) checked end to end; the reason is kept for
  // logs and metrics, the client sees one answer (http/errors.h).
  // record_use = false leaves no trace at all (the session's "last used" time is not
  // touched): `me` reads without writing.
  bearer_result request(const http::request& r, std::int64_t now, bool record_use = true) const;

  // An already-extracted token (prefix included), checked the same way.
  bearer_result token(std::string_view raw, const request_facts& facts, std::int64_t now,
                      bool record_use = true) const;
};

}  // namespace cartgate
