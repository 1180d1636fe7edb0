// CoCart's login route and the JWT plugin's refresh-token route: the request read, the
// pipeline run (auth/login.h, auth/refresh.h), the outcome answered.
#include <openssl/evp.h>

#include "api/handlers.h"
#include "base/text.h"
#include "http/errors.h"

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

}  // namespace

http::response login(services& s, http::request& r) {
  std::int64_t now = s.now();
  auto params = http::parse_params(r);
  if (!params) return to_response(reason::invalid_json);
  bool avatars = r.query_flag("avatars");
  const policy& p = s.policy.current();

  if (r.bearer_token()) {
    auto bearer = s.bearer(p).request(r, now);
    if (bearer.who) {
      auto out = s.login.relogin(*bearer.who, p, now);
      if (out.denied) return to_response(*out.denied);
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
  if (a.identifier.empty() || a.password.empty()) return to_response(reason::missing_credentials);
  if (a.identifier.size() > 254 || a.password.size() > password::max_password_bytes) {
    return to_response(reason::bad_credentials);
  }

  auto out = s.login.run(a, p, now);
  if (out.denied) return with_limit_headers(to_response(*out.denied), out.limit_headers);
  return with_limit_headers(http::json_response(200, login_body(*out.who, out.access, out.refresh, avatars)),
                            out.limit_headers);
}

http::response refresh_token(services& s, http::request& r) {
  auto params = http::parse_params(r);
  if (!params) return to_response(reason::invalid_json);
  auto out = s.refresh.run(r, *params, s.policy.current(), s.now());
  http::response res;
  if (out.denied) {
    res = to_response(*out.denied);
  } else {
    Json::Value body(Json::objectValue);
    body["token"] = out.access;
    body["refresh_token"] = out.refresh_token;
    res = http::json_response(200, body);
  }
  for (auto& h : out.limit_headers) res.set_header(h.name, h.value);
  return res;
}

}  // namespace cartgate::api
