#include "auth/bearer.h"

#include "infra/metrics.h"

namespace cartgate {
namespace {

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

std::optional<std::string> presented_token(const http::request& r, const policy& p) {
  if (auto t = r.bearer_token()) return t;
  if (p.auth_header.empty()) return std::nullopt;
  return r.bearer_token(p.auth_header);
}

bool token_header_present(const http::request& r, const policy& p) {
  if (!r.header("authorization").empty()) return true;
  return !p.auth_header.empty() && !r.header(p.auth_header).empty();
}

bearer_result bearer_check::request(const http::request& r, std::int64_t now, bool record_use) const {
  auto raw = presented_token(r, pol);
  if (!raw) return fail(reason::token_missing);
  std::string user_agent = r.header("user-agent");
  return token(*raw, request_facts{r.client_ip, user_agent}, now, record_use);
}

bearer_result bearer_check::token(std::string_view raw, const request_facts& facts, std::int64_t now,
                                  bool record_use) const {
  std::string_view token = raw;
  if (!pol.prefix.empty()) {
    if (token.substr(0, pol.prefix.size()) != pol.prefix) return fail(reason::token_malformed);
    token.remove_prefix(pol.prefix.size());
  }
  // A token this thread verified before skips the signature and parsing, not the clock.
  const token_claims* c = memo.find(token);
  if (c != nullptr) {
    // The order of jwt::verify: exp, then nbf/iat.
    if (c->exp <= now) return fail(reason::token_expired);
    if (c->not_before > now) return fail(reason::token_not_yet_valid);
  } else {
    auto v = jwt::verify(token, keys.ring(), now, keys.issuer());
    if (v.why != jwt::reason::ok) return fail(from_jwt(v.why));
    auto claims = claims_of(v.payload);
    if (!claims) return fail(reason::token_malformed);
    memo.remember(token, std::move(*claims));
    c = memo.find(token);
  }

  if (pol.bind_ip && !c->ip.empty() && c->ip != facts.client_ip) return fail(reason::token_ip_mismatch);
  if (pol.bind_device && !c->device.empty() && c->device != facts.user_agent) {
    return fail(reason::token_device_mismatch);
  }

  auto s = sessions.get(c->pat, now);
  if (!s.subject) return fail(reason::user_deleted);
  if (!s.live || s.expires_at <= now) return fail(reason::session_revoked);
  if (s.user_id != c->user_id) return fail(reason::session_revoked);
  if (record_use) sessions.touch(c->pat, now);

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
