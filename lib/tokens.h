// Access tokens as CoCart JWT 3.x issues them, and the Bearer check every protected
// request runs: signature and claims (jwt.h), the prefix, IP and User-Agent bindings,
// then the session — from the worker's session cache, so no database round-trip.
//
//   token_keys keys(cfg);                                   // once per process
//   std::string t = keys.issue(u, pat, ip, ua, policy, now);
//   auto who = authenticate_bearer(svc, request);           // identity or failure reason
#pragma once

#include <json/json.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "config.h"
#include "errors.h"
#include "http.h"
#include "jwt.h"
#include "options.h"
#include "users.h"

namespace cartgate {

class service;

class token_keys {
 public:
  explicit token_keys(const config& cfg);  // throws config_error with the reason
  const jwt::key& key() const { return key_; }
  const std::string& issuer() const { return issuer_; }

  // {iss, iat, nbf, exp, data:{user:{id, username, ip, device, pat}}}, prefixed by
  // jwt.prefix. An empty ip or device leaves that binding off for this token.
  std::string issue(std::int64_t user_id, const std::string& username, const std::string& pat,
                    const std::string& ip, const std::string& device, const policy& p,
                    std::int64_t now) const;
  Json::Value jwks() const;  // {"keys":[…]}; empty list for HS256

 private:
  jwt::key key_;
  std::string issuer_;
};

struct identity {
  std::int64_t user_id = 0;
  std::string username;
  std::string pat;
  std::int64_t exp = 0;
  std::string token;     // as presented, prefix removed
  std::shared_ptr<const Json::Value> payload;  // the verified claims
  std::shared_ptr<const user> subject;
};

struct bearer_result {
  std::optional<identity> who;
  reason why = reason::token_missing;  // meaningful when !who
};

// The token of `Authorization: Bearer …` checked end to end; the reason is kept for logs
// and metrics, the client sees one answer (errors.h).
// record_use = false leaves no trace at all (the session's "last used" time is not
// touched): `me` reads without writing.
bearer_result authenticate_bearer(service& svc, const http::request& r, std::int64_t now,
                                  bool record_use = true);

// Checks an already-extracted token (prefix included) the same way.
bearer_result check_token(service& svc, const http::request& r, const std::string& raw, std::int64_t now,
                          bool record_use = true);

}  // namespace cartgate
