// CoCart's login route, the JWT plugin's refresh-token route and the storefront's cookie
// → token: the request read, the pipeline run (auth/login.h, auth/refresh.h), the
// outcome answered.
#include <openssl/evp.h>

#include "api/handlers.h"
#include "base/text.h"
#include "crypto/request_signature.h"
#include "http/client_ip.h"
#include "http/errors.h"
#include "infra/log.h"
#include "rules/rate_limit.h"

namespace cartgate::api {
namespace {

std::string md5_hex(const std::string& in) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(in.data(), in.size(), digest, &length, EVP_md5(), nullptr);
  return text::hex_encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

// Gravatar's, as WordPress builds them for rest_get_avatar_urls.
Json::Value avatar_urls(const user& u, bool wanted) {
  Json::Value out(Json::objectValue);
  if (!wanted) return out;
  std::string hash = md5_hex(text::ascii_lower(u.email));
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

// The login route is limited: every answer says where the caller stands. Headers the
// answer already has (a denial's own, fresher counts) win.
http::response with_limit_headers(http::response res, const std::vector<http::header>& limit_headers) {
  for (auto& h : limit_headers) {
    bool already = false;
    for (auto& existing : res.headers) already = already || existing.name == h.name;
    if (!already) res.headers.push_back(h);
  }
  return res;
}

// The customer's request as the storefront describes it in its signed body: what nginx
// handed WordPress (REMOTE_ADDR, the client's headers), so the token's IP and User-Agent
// bindings and the permission rules see what they would see on a login through nginx.
http::request customer_request(const Json::Value& body, const policy& p) {
  http::request c;
  c.method = "POST";
  c.path = "/_cartgate/storefront/token";
  const Json::Value& remote = body["remote_addr"];
  if (remote.isString()) c.remote_addr = remote.asString();
  const Json::Value& headers = body["headers"];
  if (headers.isObject()) {
    for (const auto& name : headers.getMemberNames()) {
      if (headers[name].isString()) c.headers[text::ascii_lower(name)] = headers[name].asString();
    }
  }
  c.client_ip = net::resolve_client_ip(c.remote_addr, c.header("x-forwarded-for"), p.trusted_proxies);
  return c;
}

bool is_hex_of_length(const Json::Value& v, std::size_t n) {
  if (!v.isString()) return false;
  std::string s = v.asString();
  return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

http::response login(services& s, http::request& r) {
  std::int64_t now = s.now();
  auto params = http::parse_params(r);
  if (!params) return s.refuse(reason::invalid_json);
  bool avatars = r.query_flag("avatars");
  const policy& p = s.policy.current();

  if (presented_token(r, p)) {
    auto bearer = s.bearer(p).request(r, now);
    if (bearer.who) {
      auto out = s.login.relogin(*bearer.who, p, now);
      if (out.denied) return s.refuse(*out.denied);
      return http::json_response(200, login_body(*out.who, out.access, out.refresh, avatars));
    }
  }

  login_attempt a{r, *params, {}, {}};
  if (auto basic = r.basic_credentials()) {
    a.identifier = basic->first;
    a.password = basic->second;
  } else {
    a.identifier = http::param_text(*params, "username");
    a.password = http::param_text(*params, "password");
  }
  if (a.identifier.empty() || a.password.empty()) return s.refuse(reason::missing_credentials);
  if (a.identifier.size() > 254 || a.password.size() > password::max_password_bytes) {
    return s.refuse(reason::bad_credentials);
  }

  auto out = s.login.run(a, p, now);
  if (out.denied) return with_limit_headers(s.refuse(*out.denied), out.limit_headers);
  return with_limit_headers(http::json_response(200, login_body(*out.who, out.access, out.refresh, avatars)),
                            out.limit_headers);
}

http::response refresh_token(services& s, http::request& r) {
  auto params = http::parse_params(r);
  if (!params) return s.refuse(reason::invalid_json);
  auto out = s.refresh.run(r, *params, s.policy.current(), s.now());
  http::response res;
  if (out.denied) {
    res = s.refuse(*out.denied);
  } else {
    Json::Value body(Json::objectValue);
    body["token"] = out.access;
    body["refresh_token"] = out.refresh_token;
    res = http::json_response(200, body);
  }
  for (auto& h : out.limit_headers) res.set_header(h.name, h.value);
  return res;
}

// POST /_cartgate/storefront/token, on the internal socket only (api/routes.cc): the
// must-use plugin's request for a customer WordPress logged in with its cookie and REST
// nonce (deploy/wordpress/cartgate.php). Signed with secrets.storefront_key_file
// (crypto/request_signature.h) and single use (its nonce), so neither a client nor a
// replay of an earlier request can ask for anybody's tokens. The body:
//   {"user_id": 12, "login": "alice", "nonce": "<32 hex>",
//    "remote_addr": "203.0.113.9", "headers": {"User-Agent": "…", "X-Forwarded-For": …},
//    "params": {"device_id": …}, "second_factor": {"enrolled": false, "passed": false}}
// The answer is the login route's (200 with extras.jwt_token and extras.jwt_refresh), or
// its error, which the plugin passes on to the customer.
http::response storefront_token(services& s, http::request& r) {
  if (s.cfg.storefront_key.empty()) return s.refuse(reason::no_route);  // cookie → token is off
  std::int64_t now = s.now();
  const policy& p = s.policy.current();
  auto v = request_signature::check(s.cfg.storefront_key, r.header("x-cartgate-signature"), r.method, r.path,
                                    r.body, now);
  if (v != request_signature::verdict::ok) {
    log::warn("storefront_request_refused", {{"reason", std::string(request_signature::verdict_name(v))}});
    return s.refuse(reason::storefront_unauthenticated);
  }
  auto body = http::parse_json(r.body);
  if (!body || !body->isObject() || !(*body)["user_id"].isIntegral() || !(*body)["login"].isString() ||
      !is_hex_of_length((*body)["nonce"], 32)) {
    return s.refuse(reason::invalid_param);
  }
  // Single use: a nonce seen in the last two skew windows is a replay (the signature's
  // time bounds the rest). The counter lives in PostgreSQL, so every worker and host
  // sees it (rules/rate_limit.h: one row per nonce, pruned when its window ends).
  auto seen = db::with_transaction(s.db, [&](pqxx::work& w) {
    return rate_limit::hit(w, rate_limit::bucket("storefront:nonce", (*body)["nonce"].asString()), 1,
                           2 * request_signature::max_skew_seconds, now);
  });
  if (seen.limited) {
    log::warn("storefront_request_refused", {{"reason", "replayed"}});
    return s.refuse(reason::storefront_replayed);
  }

  http::request customer = customer_request(*body, p);
  const Json::Value& params_in = (*body)["params"];
  Json::Value params = params_in.isObject() ? params_in : Json::Value(Json::objectValue);
  const Json::Value& factor = (*body)["second_factor"];
  vouched_login a{customer, params, (*body)["user_id"].asInt64(), (*body)["login"].asString(),
                  factor.isObject() && factor["enrolled"].isBool() && factor["enrolled"].asBool(),
                  factor.isObject() && factor["passed"].isBool() && factor["passed"].asBool()};
  auto out = s.login.vouched(a, p, now);
  if (out.denied) return s.refuse(*out.denied);
  return http::json_response(200, login_body(*out.who, out.access, out.refresh, false));
}

}  // namespace cartgate::api
