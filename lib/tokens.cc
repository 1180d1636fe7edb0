#include "tokens.h"

#include "log.h"
#include "metrics.h"
#include "service.h"

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

reason from_jwt(jwt::reason r) {
  switch (r) {
    case jwt::reason::ok: return reason::token_malformed;  // not used
    case jwt::reason::malformed: return reason::token_malformed;
    case jwt::reason::bad_header: return reason::token_malformed;
    case jwt::reason::alg_mismatch: return reason::token_alg_mismatch;
    case jwt::reason::kid_mismatch: return reason::token_bad_signature;
    case jwt::reason::bad_signature: return reason::token_bad_signature;
    case jwt::reason::bad_payload: return reason::token_malformed;
    case jwt::reason::expired: return reason::token_expired;
    case jwt::reason::not_yet_valid: return reason::token_not_yet_valid;
    case jwt::reason::issuer_mismatch: return reason::token_issuer_mismatch;
  }
  return reason::token_malformed;
}

bearer_result fail(reason why) {
  metrics::add("cartgate_token_rejections_total{reason=\"" + std::string(reason_name(why)) + "\"}");
  bearer_result r;
  r.why = why;
  return r;
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

bearer_result authenticate_bearer(service& svc, const http::request& r, std::int64_t now, bool record_use) {
  auto raw = r.bearer_token();
  if (!raw) return fail(reason::token_missing);
  return check_token(svc, r, *raw, now, record_use);
}

bearer_result check_token(service& svc, const http::request& r, const std::string& raw, std::int64_t now,
                          bool record_use) {
  const policy& p = svc.current_policy();
  std::string_view token = raw;
  if (!p.prefix.empty()) {
    if (token.substr(0, p.prefix.size()) != p.prefix) return fail(reason::token_malformed);
    token.remove_prefix(p.prefix.size());
  }
  auto v = jwt::verify(token, svc.keys().key(), now, svc.keys().issuer());
  if (v.why != jwt::reason::ok) return fail(from_jwt(v.why));

  const Json::Value& u = v.payload["data"]["user"];
  if (!u.isObject() || !u["id"].isIntegral() || !u["pat"].isString() || !u["username"].isString()) {
    return fail(reason::token_malformed);
  }
  const std::string& ip = u["ip"].isString() ? u["ip"].asString() : std::string();
  const std::string& device = u["device"].isString() ? u["device"].asString() : std::string();
  if (p.bind_ip && !ip.empty() && ip != r.client_ip) return fail(reason::token_ip_mismatch);
  if (p.bind_device && !device.empty() && device != r.header("user-agent")) {
    return fail(reason::token_device_mismatch);
  }

  std::string pat = u["pat"].asString();
  auto s = svc.sessions().get(pat, svc.db());
  if (!s.subject) return fail(reason::user_deleted);
  if (!s.live || s.expires_at <= now) return fail(reason::session_revoked);
  std::int64_t id = u["id"].asInt64();
  if (s.user_id != id) return fail(reason::session_revoked);
  if (record_use) svc.sessions().touch(pat, now);

  bearer_result out;
  identity who;
  who.user_id = id;
  who.username = u["username"].asString();
  who.pat = std::move(pat);
  who.exp = v.payload["exp"].asInt64();
  who.token = std::string(token);
  who.payload = std::move(v.payload);
  who.subject = s.subject;
  out.who = std::move(who);
  return out;
}

}  // namespace cartgate
