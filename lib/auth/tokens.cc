#include "auth/tokens.h"

#include "http/message.h"

namespace cartgate {
namespace {

jwt::key load_key(const config& cfg) {
  auto alg = jwt::algorithm_from_name(cfg.algorithm);
  if (!alg) throw config_error("jwt.algorithm must be HS256, RS256 or ES256");
  try {
    if (*alg == jwt::algorithm::hs256) {
      if (cfg.secret.empty()) {
        throw config_error("HS256 needs a secret: set jwt.secret_file or CARTGATE_JWT_SECRET");
      }
      return jwt::key::hmac(cfg.secret);
    }
    if (cfg.private_key_file.empty()) {
      throw config_error(cfg.algorithm + " needs jwt.private_key_file");
    }
    return jwt::key::from_pem_files(*alg, cfg.private_key_file, cfg.public_key_file, cfg.kid);
  } catch (const std::invalid_argument& e) {
    throw config_error(std::string("jwt key: ") + e.what());
  }
}

}  // namespace

token_keys::token_keys(const config& cfg) : key_(load_key(cfg)), issuer_(cfg.issuer) {
  if (!key_.can_sign()) throw config_error("jwt key: a private key is needed to issue tokens");
}

std::string token_keys::issue(std::int64_t user_id, const std::string& username, const std::string& pat,
                              const std::string& ip, const std::string& device, const policy& p,
                              std::int64_t now) const {
  // Written by hand to keep CoCart JWT's claim order; strings go through the JSON writer
  // for escaping.
  auto str = [](const std::string& s) { return http::to_json(Json::Value(s)); };
  std::string payload = "{\"iss\":" + str(issuer_) + ",\"iat\":" + std::to_string(now) +
                        ",\"nbf\":" + std::to_string(now) + ",\"exp\":" + std::to_string(now + p.access_ttl) +
                        ",\"data\":{\"user\":{\"id\":" + std::to_string(user_id) +
                        ",\"username\":" + str(username) + ",\"ip\":" + str(ip) + ",\"device\":" + str(device) +
                        ",\"pat\":" + str(pat) + "}}}";
  return p.prefix + jwt::sign_json(payload, key_);
}

Json::Value token_keys::jwks() const {
  Json::Value out(Json::objectValue);
  out["keys"] = Json::Value(Json::arrayValue);
  auto jwk = key_.public_jwk();
  if (!jwk.isNull()) out["keys"].append(jwk);
  return out;
}

}  // namespace cartgate
