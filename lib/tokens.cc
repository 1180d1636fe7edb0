#include "tokens.h"

#include "log.h"
#include "metrics.h"
#include "service.h"
#include "token_memo.h"

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

// What the Bearer check needs from verified claims; nullopt when data.user is not
// CoCart's shape.
std::optional<token_claims> claims_of(Json::Value& verified_payload) {
  const Json::Value& payload = verified_payload;  // const: reading adds no members
  const Json::Value& u = payload["data"]["user"];
  if (!u.isObject() || !u["id"].isIntegral() || !u["pat"].isString() || !u["username"].isString()) {
    return std::nullopt;
  }
  token_claims c;
  c.user_id = u["id"].asInt64();
  c.username = u["username"].asString();
  c.pat = u["pat"].asString();
  if (u["ip"].isString()) c.ip = u["ip"].asString();
  if (u["device"].isString()) c.device = u["device"].asString();
  c.exp = payload["exp"].asInt64();
  for (const char* name : {"nbf", "iat"}) {
    if (payload.isMember(name)) c.not_before = std::max(c.not_before, payload[name].asInt64());
  }
  c.payload = std::make_shared<const Json::Value>(std::move(verified_payload));
  return c;
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
  // A token this thread verified before skips the signature and parsing, not the clock.
  token_memo& memo = token_memo::for_this_thread(&svc);
  const token_claims* c = memo.find(token);
  if (c != nullptr) {
    // The order of jwt::verify: exp, then nbf/iat.
    if (c->exp <= now) return fail(reason::token_expired);
    if (c->not_before > now) return fail(reason::token_not_yet_valid);
  } else {
    auto v = jwt::verify(token, svc.keys().key(), now, svc.keys().issuer());
    if (v.why != jwt::reason::ok) return fail(from_jwt(v.why));
    auto claims = claims_of(v.payload);
    if (!claims) return fail(reason::token_malformed);
    memo.remember(token, std::move(*claims));
    c = memo.find(token);
  }

  if (p.bind_ip && !c->ip.empty() && c->ip != r.client_ip) return fail(reason::token_ip_mismatch);
  if (p.bind_device && !c->device.empty() && c->device != r.header("user-agent")) {
    return fail(reason::token_device_mismatch);
  }

  auto s = svc.sessions().get(c->pat, svc.db());
  if (!s.subject) return fail(reason::user_deleted);
  if (!s.live || s.expires_at <= now) return fail(reason::session_revoked);
  if (s.user_id != c->user_id) return fail(reason::session_revoked);
  if (record_use) svc.sessions().touch(c->pat, now);

  bearer_result out;
  identity who;
  who.user_id = c->user_id;
  who.username = c->username;
  who.pat = c->pat;
  who.exp = c->exp;
  who.token = std::string(token);
  who.payload = c->payload;
  who.subject = s.subject;
  out.who = std::move(who);
  return out;
}

}  // namespace cartgate
