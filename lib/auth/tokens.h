// Access tokens as CoCart JWT 3.x issues them: the signing key from the configuration,
// the claims in CoCart's order, and the JWKS document. Checking them is auth/bearer.h.
//
//   token_keys keys(cfg);                                   // once per process
//   std::string t = keys.issue(u, pat, ip, ua, policy, now);
#pragma once

#include <json/json.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "crypto/jwt.h"
#include "infra/config.h"
#include "policy/options.h"

namespace cartgate {

class token_keys {
 public:
  explicit token_keys(const config& cfg);  // throws config_error with the reason
  const jwt::key& key() const { return ring_.signing(); }
  // The signing key and the retired ones (jwt.retired_keys): what a Bearer check uses.
  const jwt::keyring& ring() const { return ring_; }
  const std::string& issuer() const { return issuer_; }

  // {iss, iat, nbf, exp, data:{user:{id, username, ip, device, pat}}}, prefixed by
  // jwt.prefix. An empty ip or device leaves that binding off for this token.
  std::string issue(std::int64_t user_id, const std::string& username, const std::string& pat,
                    const std::string& ip, const std::string& device, const policy& p,
                    std::int64_t now) const;
  Json::Value jwks() const;  // {"keys":[…]}: every public key still accepted; empty for HS256

 private:
  jwt::keyring ring_;
  std::string issuer_;
};

}  // namespace cartgate
