// CoCart's login and the JWT plugin's routes: login, logout, refresh-token,
// validate-token, plus cartgate's me, the nginx auth subrequest and the JWKS document.
#include <openssl/evp.h>

#include <ctime>

#include "api/handlers.h"
#include "audit.h"
#include "errors.h"
#include "log.h"
#include "metrics.h"
#include "rules/rate_limit.h"
#include "service.h"
#include "sessions.h"
#include "tokens.h"
#include "twofactor.h"
#include "users.h"

namespace cartgate::api {
namespace {

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string param_string(const Json::Value& params, const char* name) {
  const Json::Value& v = params[name];
  if (v.isString()) return v.asString();
  if (v.isIntegral()) return std::to_string(v.asInt64());
  return {};
}

std::string md5_hex(const std::string& in) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(in.data(), in.size(), digest, &length, EVP_md5(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    unsigned char b = digest[i];
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

Json::Value avatar_urls(const user& u, bool wanted) {
  Json::Value out(Json::objectValue);
  if (!wanted) return out;
  std::string email = u.email;
  for (auto& c : email) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string hash = md5_hex(email);
  for (int size : {24, 48, 96}) {
    out[std::to_string(size)] =
        "https://secure.gravatar.com/avatar/" + hash + "?s=" + std::to_string(size) + "&d=mm&r=g";
  }
  return out;
}

Json::Value login_body(const user& u, const std::string& access, const std::string& refresh, bool avatars) {
  Json::Value body(Json::objectValue);
  body["user_id"] = std::to_string(u.id);
  body["first_name"] = u.first_name;
  body["last_name"] = u.last_name;
  body["display_name"] = u.display_name;
  body["role"] = users::role_label(u.roles);
  body["avatar_urls"] = avatar_urls(u, avatars);
  body["email"] = u.email;
  body["extras"]["jwt_token"] = access;
  body["extras"]["jwt_refresh"] = refresh;
  body["dev_note"] =
      "Don't forget to store the users login information in order to authenticate all other routes with CoCart.";
  return body;
}

void log_rejection(std::string_view route, reason why, const http::request& r) {
  log::info("token_rejected", {{"route", std::string(route)}, {"reason", std::string(reason_name(why))},
                               {"ip", r.client_ip}});
}

// Re-login with a valid Bearer token (CoCart JWT 3.x): the same access token back, a
// fresh refresh token for the same session, the previous refresh token retired.
http::response relogin(service& svc, const identity& who, bool avatars, std::int64_t now) {
  const policy& p = svc.current_policy();
  std::string refresh;
  auto u = db::with_transaction(svc.db(), [&](pqxx::work& w) {
    auto found = users::find_by_id(w, who.user_id);
    if (!found) return found;
    refresh = sessions::reissue_refresh(w, who.pat, who.user_id, p, now);
    audit::record(w, "refresh_reissued", who.user_id, who.pat, "");
    return found;
  });
  if (!u) return to_response(reason::user_deleted);
  return http::json_response(200, login_body(*u, p.prefix + who.token, refresh, avatars));
}

}  // namespace

http::response login(service& svc, http::request& r) {
  std::int64_t now = unix_now();
  auto params = http::parse_params(r);
  if (!params) return to_response(reason::invalid_json);
  bool avatars = r.query_flag("avatars");

  if (r.bearer_token()) {
    auto bearer = authenticate_bearer(svc, r, now);
    if (bearer.who) return relogin(svc, *bearer.who, avatars, now);
  }

  std::string identifier, password_text;
  if (auto basic = r.basic_credentials()) {
    identifier = basic->first;
    password_text = basic->second;
  } else {
    identifier = param_string(*params, "username");
    password_text = param_string(*params, "password");
  }
  if (identifier.empty() || password_text.empty()) return to_response(reason::missing_credentials);
  if (identifier.size() > 254 || password_text.size() > password::max_password_bytes) {
    return to_response(reason::bad_credentials);
  }

  const policy& p = svc.current_policy();
  auto argon = svc.argon2();
  std::string device = r.header("user-agent");

  struct outcome {
    std::optional<failure> denied;
    std::optional<user> who;
    std::string access, refresh, pat;
    std::vector<http::header> limit_headers;
  };
  outcome result = db::with_transaction(svc.db(), [&](pqxx::work& w) {
    outcome out;
    auto found = users::find_by_identifier(w, identifier);
    // Rate limit first (contract §4.1), before any password work: failures per IP and per
    // account. While limited even correct credentials get the 429.
    std::string account = found ? std::to_string(found->id) : identifier;
    auto limit = rate_limit::peek_login(w, p, r.client_ip, account, now);
    out.limit_headers = rate_limit::headers(limit);
    if (limit.limited) {
      metrics::add("cartgate_logins_total{result=\"rate_limited\"}");
      out.denied = rate_limit::denial(limit, std::string(rate_limit::login_message));
      return out;
    }

    // Password work is bounded per process: a flood waits briefly, then gets 503.
    auto permit = svc.password_slots().acquire(std::chrono::milliseconds(svc.cfg().argon2_wait_ms));
    if (!permit) {
      metrics::add("cartgate_password_busy_total");
      out.denied = failure(reason::busy);
      return out;
    }
    // Unknown users are checked against a dummy hash: same work, same answer, same time.
    bool ok = password::verify(password_text, found ? found->password_hash : password::dummy_hash(argon));
    if (found && password::scheme_of(found->password_hash) != password::scheme::argon2id) {
      // An imported WordPress hash checks in far less time than argon2; the dummy work
      // keeps such an account's wrong password as slow as an unknown user's, so timing
      // does not reveal that it exists.
      (void)password::verify(password_text, password::dummy_hash(argon));
    }
    if (!found || !ok) {
      metrics::add("cartgate_logins_total{result=\"failed\"}");
      audit::record(w, "login_failed", found ? found->id : 0, "", r.client_ip,
                    Json::Value(Json::objectValue));
      out.denied = failure(reason::bad_credentials);
      auto counted = rate_limit::count_login_failure(w, p, r.client_ip, account, now);
      out.denied->headers = rate_limit::headers(counted);
      return out;
    }
    if (password::needs_rehash(found->password_hash, argon)) {
      // Imported WordPress hashes (and weaker argon2 settings) become argon2id now.
      found->password_hash = password::hash(password_text, argon);
      users::set_password_hash(w, found->id, found->password_hash);
      audit::record(w, "password_rehashed", found->id, "", r.client_ip);
    }
    permit.reset();

    // Permission rules (contract §4, 2–6) after the password, before two-factor.
    rules::context ctx{r, *params, *found, "login", p, now, w};
    if (auto denied = svc.rules().run(ctx)) {
      out.denied = std::move(denied);
      return out;
    }

    // Two-factor (contract §3) after the password and rules, before any token. Its
    // failures are answered from here, and this transaction still commits so a mailed
    // code, a used code or a TOTP step sticks.
    if (auto f = twofactor::check_login(svc, w, *found, *params, now)) {
      // Only a wrong code is a failed login (it counts toward the rate limit); a
      // challenge without a code is the normal first half of the exchange.
      if (twofactor::is_code_failure(*f)) {
        audit::record(w, "login_2fa_failed", found->id, "", r.client_ip);
        auto counted = rate_limit::count_login_failure(w, p, r.client_ip, account, now);
        for (auto& h : rate_limit::headers(counted)) f->headers.push_back(h);
      }
      out.denied = std::move(f);
      return out;
    }

    auto created = sessions::create(w, found->id, r.client_ip, device, p, now);
    out.pat = created.pat;
    out.refresh = created.refresh_token;
    out.access = svc.keys().issue(found->id, found->login, created.pat, r.client_ip, device, p, now);
    audit::record(w, "login_ok", found->id, created.pat, r.client_ip);
    for (auto& evicted : created.evicted) {
      audit::record(w, "session_evicted", found->id, evicted, r.client_ip);
    }
    audit::publish(w, events::event(events::kind::token_generated, found->id, created.pat, now));
    out.who = std::move(found);
    return out;
  });

  if (result.denied) {
    auto res = to_response(*result.denied);
    // The login route is limited: every answer says where the caller stands.
    for (auto& h : result.limit_headers) {
      bool already = false;
      for (auto& existing : res.headers) already = already || existing.name == h.name;
      if (!already) res.headers.push_back(h);
    }
    return res;
  }
  metrics::add("cartgate_logins_total{result=\"ok\"}");
  events::event e(events::kind::token_generated, result.who->id, result.pat, now);
  e.token = result.access;
  e.subject = &*result.who;
  e.client_ip = r.client_ip;
  svc.events().publish(e);
  auto res = http::json_response(200, login_body(*result.who, result.access, result.refresh, avatars));
  res.headers = result.limit_headers;
  return res;
}

http::response logout(service& svc, http::request& r) {
  std::int64_t now = unix_now();
  auto bearer = authenticate_bearer(svc, r, now);
  if (!bearer.who) {
    log_rejection("logout", bearer.why, r);
    return to_response(bearer.why);
  }
  const identity& who = *bearer.who;
  bool all = r.query_flag("all");
  db::with_transaction(svc.db(), [&](pqxx::work& w) {
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
  svc.events().publish(e);
  http::response res;
  res.body = "true";
  return res;
}

namespace {
http::response refresh_token_limited(service& svc, http::request& r, const Json::Value& params,
                                     const policy& p, const rate_limit::verdict& limit,
                                     std::int64_t now);
}  // namespace

http::response refresh_token(service& svc, http::request& r) {
  std::int64_t now = unix_now();
  auto params = http::parse_params(r);
  if (!params) return to_response(reason::invalid_json);
  const policy& p = svc.current_policy();
  // CoCart's 10/min per IP; every call counts, in a short transaction of its own.
  rate_limit::verdict limit;
  if (p.refresh_max >= 0) {
    limit = db::with_transaction(svc.db(), [&](pqxx::work& w) {
      return rate_limit::hit(w, rate_limit::bucket("refresh:ip", r.client_ip), p.refresh_max,
                             p.refresh_window, now);
    });
  }
  auto res = refresh_token_limited(svc, r, *params, p, limit, now);
  for (auto& h : rate_limit::headers(limit)) res.set_header(h.name, h.value);
  return res;
}

namespace {
http::response refresh_token_limited(service& svc, http::request& r, const Json::Value& params_in,
                                     const policy& p, const rate_limit::verdict& limit,
                                     std::int64_t now) {
  if (limit.limited) return to_response(rate_limit::denial(limit));
  const Json::Value* params = &params_in;
  std::string presented = param_string(*params, "refresh_token");
  if (presented.empty()) presented = r.query_param("refresh_token");
  if (presented.empty()) return to_response(reason::refresh_missing);

  std::string device = r.header("user-agent");
  struct outcome {
    std::optional<failure> denied;
    sessions::rotated rot;
    std::optional<user> who;
    std::string access;
  };
  auto result = db::with_transaction(svc.db(), [&](pqxx::work& w) {
    outcome out;
    if (p.rules_on_refresh) {
      // The chain runs before rotation, so a denied refresh leaves the token usable.
      if (auto owner = sessions::refresh_token_owner(w, presented)) {
        if (auto u = users::find_by_id(w, *owner)) {
          rules::context ctx{r, params_in, *u, "refresh", p, now, w};
          out.denied = svc.rules().run(ctx);
          if (out.denied) return out;
        }
      }
    }
    out.rot = sessions::rotate(w, presented, p, now);
    switch (out.rot.status) {
      case sessions::rotate_status::reused:
        audit::record(w, "refresh_reuse_detected", out.rot.user_id, out.rot.pat, r.client_ip);
        return out;
      case sessions::rotate_status::ok:
        break;
      default:
        return out;
    }
    out.who = users::find_by_id(w, out.rot.user_id);
    if (!out.who) return out;
    out.access = svc.keys().issue(out.who->id, out.who->login, out.rot.pat, r.client_ip, device, p, now);
    audit::record(w, "token_refreshed", out.who->id, out.rot.pat, r.client_ip);
    audit::publish(w, events::event(events::kind::token_refreshed, out.who->id, out.rot.pat, now));
    return out;
  });

  if (result.denied) return to_response(*result.denied);
  switch (result.rot.status) {
    case sessions::rotate_status::ok:
      break;
    case sessions::rotate_status::reused:
      log::warn("refresh_token_reused", {{"pat", result.rot.pat}, {"ip", r.client_ip}});
      return to_response(reason::refresh_reused);
    case sessions::rotate_status::expired:
      return to_response(reason::refresh_expired);
    case sessions::rotate_status::unknown:
    case sessions::rotate_status::session_revoked:
      return to_response(reason::refresh_unknown);
  }
  if (!result.who) return to_response(reason::refresh_unknown);
  events::event e(events::kind::token_refreshed, result.who->id, result.rot.pat, now);
  e.token = result.access;
  e.subject = &*result.who;
  e.client_ip = r.client_ip;
  svc.events().publish(e);
  Json::Value body(Json::objectValue);
  body["token"] = result.access;
  body["refresh_token"] = result.rot.refresh_token;
  return http::json_response(200, body);
}
}  // namespace

// Fires token_validated and authenticated for a request a token authenticated: plugins
// synchronously, the external stream only when configured, and asynchronously.
void announce(service& svc, const identity& who, const http::request& r, std::int64_t now) {
  bool stream = svc.current_policy().stream_per_request;
  if (svc.events().empty() && !stream) return;
  events::event validated(events::kind::token_validated, who.user_id, who.pat, now);
  if (who.payload) validated.decoded = *who.payload;
  validated.subject = who.subject.get();
  validated.client_ip = r.client_ip;
  events::event authenticated = validated;
  authenticated.what = events::kind::authenticated;
  authenticated.decoded = Json::Value();
  svc.events().publish(validated);
  svc.events().publish(authenticated);
  if (stream) {
    svc.publish_async(validated);
    svc.publish_async(authenticated);
  }
}

http::response validate_token(service& svc, http::request& r) {
  std::int64_t now = unix_now();
  // CoCart's 2/min per IP; every call counts, before the token is looked at.
  const policy& p = svc.current_policy();
  // A lifted limit (-1) costs nothing: no transaction at all.
  rate_limit::verdict limit;
  if (p.validate_max >= 0) {
    limit = db::with_transaction(svc.db(), [&](pqxx::work& w) {
      return rate_limit::hit(w, rate_limit::bucket("validate:ip", r.client_ip), p.validate_max,
                             p.validate_window, now);
    });
  }
  auto res = [&] {
    if (limit.limited) return to_response(rate_limit::denial(limit));
    auto bearer = authenticate_bearer(svc, r, now);
    if (!bearer.who) {
      log_rejection("validate_token", bearer.why, r);
      return to_response(bearer.why);
    }
    if (p.rules_on_validate) {
      // The permission chain on validation too (rules.on_validate): a customer whose
      // country, schedule or device is no longer allowed stops validating.
      auto denied = db::with_transaction(svc.db(), [&](pqxx::work& w) -> std::optional<failure> {
        auto u = users::find_by_id(w, bearer.who->user_id);
        if (!u) return failure(reason::user_deleted);
        Json::Value none(Json::objectValue);
        rules::context ctx{r, none, *u, "validate", p, now, w};
        return svc.rules().run(ctx);
      });
      if (denied) return to_response(*denied);
    }
    announce(svc, *bearer.who, r, now);
    Json::Value body(Json::objectValue);
    body["message"] = "Token is valid.";
    return http::json_response(200, body);
  }();
  for (auto& h : rate_limit::headers(limit)) res.set_header(h.name, h.value);
  return res;
}

http::response me(service& svc, http::request& r) {
  auto bearer = authenticate_bearer(svc, r, unix_now(), /*record_use=*/false);
  if (!bearer.who) return to_response(bearer.why);
  Json::Value body(Json::objectValue);
  body["user_id"] = std::to_string(bearer.who->user_id);
  body["username"] = bearer.who->username;
  body["pat"] = bearer.who->pat;
  body["exp"] = static_cast<Json::Int64>(bearer.who->exp);
  return http::json_response(200, body);
}

http::response auth_subrequest(service& svc, http::request& r) {
  std::int64_t now = unix_now();
  auto bearer = authenticate_bearer(svc, r, now);
  if (!bearer.who) {
    log::debug("auth_denied", {{"reason", std::string(reason_name(bearer.why))}});
    return to_response(bearer.why);
  }
  announce(svc, *bearer.who, r, now);
  http::response res;
  res.status = 204;
  res.set_header("X-Cartgate-User-Id", std::to_string(bearer.who->user_id));
  res.set_header("X-Cartgate-User-Login", bearer.who->username);
  res.set_header("X-Cartgate-Session", bearer.who->pat);
  return res;
}

http::response jwks(service& svc, http::request&) { return http::json_response(200, svc.keys().jwks()); }

}  // namespace cartgate::api
