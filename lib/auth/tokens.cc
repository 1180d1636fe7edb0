#include "auth/tokens.h"

#include "http/message.h"

namespace cartgate {
namespace {

jwt::algorithm configured_algorithm(const config& cfg) {
  auto alg = jwt::algorithm_from_name(cfg.algorithm);
  if (!alg) throw config_error("jwt.algorithm must be HS256, RS256 or ES256");
  return *alg;
}

jwt::key load_key(const config& cfg) {
  auto alg = configured_algorithm(cfg);
  try {
    if (alg == jwt::algorithm::hs256) {
      if (cfg.secret.empty()) {
        throw config_error("HS256 needs a secret: set jwt.secret_file or CARTGATE_JWT_SECRET");
      }
      // The contract: an HS256 header names its key once more than one is configured.
      if (cfg.retired_keys.empty()) return jwt::key::hmac(cfg.secret);
      if (cfg.kid.empty()) throw config_error("jwt.kid must name the signing key when jwt.retired_keys is set");
      return jwt::key::hmac(cfg.secret, cfg.kid);
    }
    if (cfg.private_key_file.empty()) {
      throw config_error(cfg.algorithm + " needs jwt.private_key_file");
    }
    return jwt::key::from_pem_files(alg, cfg.private_key_file, cfg.public_key_file, cfg.kid);
  } catch (const std::invalid_argument& e) {
    throw config_error(std::string("jwt key: ") + e.what());
  }
}

// One "KID=FILE" entry of jwt.retired_keys: a verify-only key of the configured algorithm.
jwt::key load_retired_key(jwt::algorithm alg, const std::string& entry) {
  auto eq = entry.find('=');
  if (eq == std::string::npos || eq + 1 == entry.size()) {
    throw config_error("jwt.retired_keys: '" + entry + "' is not KID=FILE");
  }
  std::string kid = entry.substr(0, eq), file = entry.substr(eq + 1);
  try {
    if (alg == jwt::algorithm::hs256) return jwt::key::hmac(read_secret_file("jwt.retired_keys", file), kid);
    return jwt::key::from_pem_files(alg, "", file, kid);
  } catch (const std::invalid_argument& e) {
    throw config_error("jwt.retired_keys: " + file + ": " + e.what());
  }
}

jwt::keyring load_ring(const config& cfg) {
  auto signing = load_key(cfg);
  if (!signing.can_sign()) throw config_error("jwt key: a private key is needed to issue tokens");
  std::vector<jwt::key> retired;
  for (const auto& entry : cfg.retired_keys) retired.push_back(load_retired_key(configured_algorithm(cfg), entry));
  try {
    return jwt::keyring(std::move(signing), std::move(retired));
  } catch (const std::invalid_argument& e) {
    throw config_error(std::string("jwt key: ") + e.what());
  }
}

}  // namespace

token_keys::token_keys(const config& cfg) : ring_(load_ring(cfg)), issuer_(cfg.issuer) {}

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
  return p.prefix + jwt::sign_json(payload, ring_.signing());
}

Json::Value token_keys::jwks() const { return ring_.jwks(); }

}  // namespace cartgate
