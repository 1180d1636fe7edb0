// The JWT plugin's token routes and cartgate's own: logout, validate-token, me, the
// nginx auth subrequest and the JWKS document. Each is a Bearer check (auth/bearer.h)
// and what follows from it.
#include "api/handlers.h"
#include "http/errors.h"
#include "infra/log.h"
#include "rules/rate_limit.h"
#include "store/audit.h"
#include "store/sessions.h"
#include "store/users.h"

namespace cartgate::api {
namespace {

void log_rejection(std::string_view route, reason why, const http::request& r) {
  log::info("token_rejected", {{"route", std::string(route)}, {"reason", std::string(reason_name(why))},
                               {"ip", r.client_ip}});
}

// Fires token_validated and authenticated for a request a token authenticated: plugins
// at once (they queue it for their own thread), the external stream only when
// configured, and asynchronously.
// An event no listener hears and the stream does not take is not built at all.
void announce(services& s, const policy& p, const identity& who, const http::request& r, std::int64_t now) {
  bool stream = p.stream_per_request;
  bool to_validated = stream || s.bus.wants(events::kind::token_validated);
  bool to_authenticated = stream || s.bus.wants(events::kind::authenticated);
  if (!to_validated && !to_authenticated) return;
  events::event validated(events::kind::token_validated, who.user_id, who.pat, now);
  validated.subject = who.subject.get();
  validated.client_ip = r.client_ip;
  events::event authenticated = validated;
  authenticated.what = events::kind::authenticated;
  if (to_validated && who.payload) validated.decoded = *who.payload;
  if (to_validated) s.bus.publish(validated);
  if (to_authenticated) s.bus.publish(authenticated);
  if (stream) {
    s.stream.enqueue(validated);
    s.stream.enqueue(authenticated);
  }
}

}  // namespace

http::response logout(services& s, http::request& r) {
  std::int64_t now = s.now();
  auto bearer = s.bearer(s.policy.current()).request(r, now);
  if (!bearer.who) {
    log_rejection("logout", bearer.why, r);
    return s.refuse(bearer.why);
  }
  const identity& who = *bearer.who;
  bool all = r.query_flag("all");
  db::with_transaction(s.db, [&](pqxx::work& w) {
    if (all) {
      sessions::revoke_user(w, who.user_id, "logout_all");
    } else {
      sessions::revoke_session(w, who.pat, "logout");
    }
    audit::record(w, all ? "logout_all" : "logout", who.user_id, who.pat, r.client_ip);
    audit::publish(w, events::event(events::kind::token_deleted, who.user_id, all ? "" : who.pat, now));
  });
  events::event e(events::kind::token_deleted, who.user_id, all ? "" : who.pat, now);
  e.subject = who.subject.get();
  s.bus.publish(e);
  http::response res;
  res.body = "true";
  return res;
}

http::response validate_token(services& s, http::request& r) {
  std::int64_t now = s.now();
  const policy& p = s.policy.current();
  // CoCart's 2/min per IP; every call counts, before the token is looked at. A lifted
  // limit (-1) costs nothing: no transaction at all.
  rate_limit::verdict limit;
  if (p.validate_max >= 0) {
    limit = db::with_transaction(s.db, [&](pqxx::work& w) {
      return rate_limit::hit(w, rate_limit::bucket("validate:ip", rate_limit::ip_key(r.client_ip, p.ipv6_prefix)), p.validate_max,
                             p.validate_window, now);
    });
  }
  auto res = [&] {
    if (limit.limited) return s.refuse(rate_limit::denial(limit));
    auto bearer = s.bearer(p).request(r, now);
    if (!bearer.who) {
      log_rejection("validate_token", bearer.why, r);
      return s.refuse(bearer.why);
    }
    if (p.rules_on_validate) {
      // The permission chain on validation too (rules.on_validate): a customer whose
      // country, schedule or device is no longer allowed stops validating.
      auto denied = db::with_transaction(s.db, [&](pqxx::work& w) -> std::optional<failure> {
        auto u = users::find_by_id(w, bearer.who->user_id);
        if (!u) return failure(reason::user_deleted);
        Json::Value none(Json::objectValue);
        rules::context ctx{r, none, *u, "validate", p, now, w};
        return s.rules.run(ctx);
      });
      if (denied) return s.refuse(*denied);
    }
    announce(s, p, *bearer.who, r, now);
    Json::Value body(Json::objectValue);
    body["message"] = "Token is valid.";
    return http::json_response(200, body);
  }();
  for (auto& h : rate_limit::headers(limit)) res.set_header(h.name, h.value);
  return res;
}

http::response me(services& s, http::request& r) {
  auto bearer = s.bearer(s.policy.current()).request(r, s.now(), /*record_use=*/false);
  if (!bearer.who) return s.refuse(bearer.why);
  Json::Value body(Json::objectValue);
  body["user_id"] = std::to_string(bearer.who->user_id);
  body["username"] = bearer.who->username;
  body["pat"] = bearer.who->pat;
  body["exp"] = static_cast<Json::Int64>(bearer.who->exp);
  return http::json_response(200, body);
}

http::response auth_subrequest(services& s, http::request& r) {
  std::int64_t now = s.now();
  const policy& p = s.policy.current();
  auto bearer = s.bearer(p).request(r, now);
  if (!bearer.who) {
    log::debug("auth_denied", {{"reason", std::string(reason_name(bearer.why))}});
    return s.refuse(bearer.why);
  }
  announce(s, p, *bearer.who, r, now);
  http::response res;
  res.status = 204;
  res.set_header("X-Cartgate-User-Id", std::to_string(bearer.who->user_id));
  res.set_header("X-Cartgate-User-Login", bearer.who->username);
  res.set_header("X-Cartgate-Session", bearer.who->pat);
  return res;
}

http::response auth_subrequest_optional(services& s, http::request& r) {
  // A guest (no header a token is read from) passes with no identity. nginx answers
  // such a request itself when neither Authorization nor the header it passes for
  // jwt.auth_header is there; this is the same rule with the live option, for a request
  // that carries the second header while the option names none (or another).
  if (!token_header_present(r, s.policy.current())) {
    http::response res;
    res.status = 204;
    return res;
  }
  return auth_subrequest(s, r);
}

http::response jwks(services& s, http::request&) { return http::json_response(200, s.keys.jwks()); }

}  // namespace cartgate::api
