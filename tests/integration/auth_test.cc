// Contract §2.1–2.2 through nginx: login in each credential form, its answer and its
// errors; the access token's claims; IP and User-Agent bindings; the session cap; the
// token prefix; validate-token, me, logout (one session vs all); the nginx auth
// subrequest guarding the stand-in cart; the JWKS document of an HS256 stack.
#include <openssl/evp.h>

#include <regex>

#include <thread>

#include "auth_helpers.h"

namespace cartgate::test {
namespace {

const std::string dev_note =
    "Don't forget to store the users login information in order to authenticate all other "
    "routes with CoCart.";

std::string md5_hex(const std::string& in) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(in.data(), in.size(), d, &n, EVP_md5(), nullptr);
  std::string out;
  char buf[3];
  for (unsigned int i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", d[i]);
    out += buf;
  }
  return out;
}

// ---- login: credential forms -------------------------------------------------------

TEST(Login, JsonBodyByLoginReturnsTokens) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  EXPECT_EQ(split_token(s.access).size(), 3u);
  EXPECT_TRUE(is_hex(s.refresh, 128)) << s.refresh;
  EXPECT_EQ(validate(s.access).status, 200);
}

TEST(Login, JsonBodyWithWrongPasswordIsRefused) {
  limits_lifted lifted;
  auto u = make_user();
  u.password += "x";
  EXPECT_TRUE(is_error(login(u), 401, "cocart_authentication_error"));
}

TEST(Login, HttpBasicCredentialsAreAccepted) {
  limits_lifted lifted;
  auto u = make_user();
  http_options o;
  o.method = "POST";
  o.basic = true;
  o.basic_user = u.login;
  o.basic_password = u.password;
  auto r = http(login_path, o);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["user_id"].asString(), std::to_string(u.id));
}

TEST(Login, HttpBasicWithWrongPasswordIsRefused) {
  limits_lifted lifted;
  auto u = make_user();
  http_options o;
  o.method = "POST";
  o.basic = true;
  o.basic_user = u.login;
  o.basic_password = u.password + "x";
  EXPECT_TRUE(is_error(http(login_path, o), 401, "cocart_authentication_error"));
}

TEST(Login, FormBodyIsAccepted) {
  limits_lifted lifted;
  auto u = make_user();
  http_options o;
  o.method = "POST";
  o.content_type = "application/x-www-form-urlencoded";
  o.body = "username=" + u.login + "&password=" + u.password;
  auto r = http(login_path, o);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["user_id"].asString(), std::to_string(u.id));
}

TEST(Login, FormBodyWithWrongPasswordIsRefused) {
  limits_lifted lifted;
  auto u = make_user();
  http_options o;
  o.method = "POST";
  o.content_type = "application/x-www-form-urlencoded";
  o.body = "username=" + u.login + "&password=wrong" + u.password;
  EXPECT_TRUE(is_error(http(login_path, o), 401, "cocart_authentication_error"));
}

TEST(Login, ByEmailAddress) {
  limits_lifted lifted;
  auto u = make_user();
  test_user by_email = u;
  by_email.login = u.email;
  auto s = login_ok(by_email);
  EXPECT_EQ(s.body["user_id"].asString(), std::to_string(u.id));
  EXPECT_EQ(token_payload(s.access)["data"]["user"]["username"].asString(), u.login);
}

TEST(Login, ByEmailAddressWithWrongPasswordIsRefused) {
  limits_lifted lifted;
  auto u = make_user();
  test_user by_email = u;
  by_email.login = u.email;
  by_email.password = "not-" + u.password;
  EXPECT_TRUE(is_error(login(by_email), 401, "cocart_authentication_error"));
}

TEST(Login, ByPhoneNumber) {
  limits_lifted lifted;
  std::string phone = unique_phone();
  auto u = make_user({"--phone", phone});
  test_user by_phone = u;
  by_phone.login = phone;
  auto s = login_ok(by_phone);
  EXPECT_EQ(s.body["user_id"].asString(), std::to_string(u.id));
}

TEST(Login, ByPhoneNumberWithWrongPasswordIsRefused) {
  limits_lifted lifted;
  std::string phone = unique_phone();
  auto u = make_user({"--phone", phone});
  test_user by_phone = u;
  by_phone.login = phone;
  by_phone.password = "not-" + u.password;
  EXPECT_TRUE(is_error(login(by_phone), 401, "cocart_authentication_error"));
}

// ---- login: the answer -------------------------------------------------------------

TEST(Login, SuccessHasCoCartShape) {
  limits_lifted lifted;
  auto u = make_user({"--first-name", "Ada", "--last-name", "Lovelace", "--display-name",
                      "Countess", "--role", "customer", "--role", "vip_customer"});
  auto s = login_ok(u);
  const Json::Value& b = s.body;
  ASSERT_TRUE(b["user_id"].isString()) << compact(b);
  EXPECT_EQ(b["user_id"].asString(), std::to_string(u.id));
  EXPECT_EQ(b["first_name"].asString(), "Ada");
  EXPECT_EQ(b["last_name"].asString(), "Lovelace");
  EXPECT_EQ(b["display_name"].asString(), "Countess");
  EXPECT_EQ(b["role"].asString(), "Customer, Vip Customer");
  ASSERT_TRUE(b["avatar_urls"].isObject());
  EXPECT_EQ(b["avatar_urls"].size(), 0u);
  EXPECT_EQ(b["email"].asString(), u.email);
  EXPECT_TRUE(b["extras"]["jwt_token"].isString());
  EXPECT_TRUE(is_hex(b["extras"]["jwt_refresh"].asString(), 128));
  EXPECT_EQ(b["dev_note"].asString(), dev_note);
  // Nothing secret comes back.
  EXPECT_EQ(s.body.toStyledString().find(u.password), std::string::npos);
  EXPECT_FALSE(b.isMember("password"));
}

TEST(Login, AvatarsTrueGivesGravatarUrlsFor24_48_96) {
  limits_lifted lifted;
  auto u = make_user();
  Json::Value body;
  body["username"] = u.login;
  body["password"] = u.password;
  auto r = post_json(std::string(login_path) + "?avatars=true", body);
  ASSERT_EQ(r.status, 200) << r.body;
  const Json::Value a = r.json()["avatar_urls"];
  ASSERT_TRUE(a.isObject());
  EXPECT_EQ(a.size(), 3u) << compact(a);
  std::string hash = md5_hex(u.email);  // the email is lower-case already
  for (const char* size : {"24", "48", "96"}) {
    std::string url = a[size].asString();
    EXPECT_EQ(url.rfind("https://secure.gravatar.com/avatar/" + hash, 0), 0u) << url;
    EXPECT_NE(url.find(std::string("s=") + size), std::string::npos) << url;
  }
}

TEST(Login, AvatarsNotRequestedGivesEmptyObject) {
  limits_lifted lifted;
  auto u = make_user();
  Json::Value body;
  body["username"] = u.login;
  body["password"] = u.password;
  auto r = post_json(std::string(login_path) + "?avatars=false", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json()["avatar_urls"].isObject());
  EXPECT_EQ(r.json()["avatar_urls"].size(), 0u);
}

// ---- login: errors -----------------------------------------------------------------

TEST(Login, MissingCredentialsIs401AuthenticationError) {
  limits_lifted lifted;
  EXPECT_TRUE(is_error(post_json(login_path, Json::Value(Json::objectValue)), 401,
                       "cocart_authentication_error"));
  Json::Value only_user;
  only_user["username"] = "someone";
  EXPECT_TRUE(is_error(post_json(login_path, only_user), 401, "cocart_authentication_error"));
  http_options o;
  o.method = "POST";
  EXPECT_TRUE(is_error(http(login_path, o), 401, "cocart_authentication_error"));
}

TEST(Login, UnknownUserAndWrongPasswordLookAlike) {
  limits_lifted lifted;
  auto u = make_user();
  test_user wrong_password = u;
  wrong_password.password = "wrong-" + u.password;
  test_user unknown = u;
  unknown.login = unique_name("nobody");
  auto a = login(wrong_password);
  auto b = login(unknown);
  EXPECT_TRUE(is_error(a, 401, "cocart_authentication_error"));
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.body, b.body);
  EXPECT_EQ(a.header("www-authenticate"), b.header("www-authenticate"));
}

TEST(Login, MalformedJsonIs400InvalidJson) {
  limits_lifted lifted;
  http_options o;
  o.method = "POST";
  o.content_type = "application/json";
  o.body = "{\"username\": \"x\", ";
  EXPECT_TRUE(is_error(http(login_path, o), 400, "rest_invalid_json"));
}

// ---- login with a valid Bearer (CoCart JWT 3.x) ------------------------------------

TEST(Login, WithValidBearerReturnsSameTokenAndFreshRefreshForSameSession) {
  limits_lifted lifted;
  auto u = make_user();
  auto first = login_ok(u);
  auto r = http(login_path, [&] {
    http_options o;
    o.method = "POST";
    o.bearer = first.access;
    return o;
  }());
  ASSERT_EQ(r.status, 200) << r.body;
  auto again = r.json();
  EXPECT_EQ(again["extras"]["jwt_token"].asString(), first.access);
  std::string fresh = again["extras"]["jwt_refresh"].asString();
  EXPECT_TRUE(is_hex(fresh, 128));
  EXPECT_NE(fresh, first.refresh);
  // Still one session: no new row.
  auto c = db();
  pqxx::read_transaction t(c);
  EXPECT_EQ(t.exec_params("SELECT count(*) FROM sessions WHERE user_id = $1", u.id)[0][0].as<int>(), 1);
  t.commit();
  // The fresh refresh token belongs to the same session.
  auto rotated = refresh(fresh);
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  EXPECT_EQ(pat_of(rotated.json()["token"].asString()), pat_of(first.access));
}

TEST(Login, WithValidBearerRetiresThePreviousRefreshToken) {
  limits_lifted lifted;
  auto u = make_user();
  auto first = login_ok(u);
  http_options o;
  o.method = "POST";
  o.bearer = first.access;
  ASSERT_EQ(http(login_path, o).status, 200);
  EXPECT_TRUE(is_error(refresh(first.refresh), 401, "cocart_jwt_auth_refresh_token_reused"));
  // Reuse revokes the session: its access token is dead too.
  EXPECT_TRUE(eventually([&] { return validate(first.access).status == 401; }, std::chrono::milliseconds(1000)));
}

TEST(Login, WithInvalidBearerAndNoCredentialsIsRefused) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  http_options o;
  o.method = "POST";
  o.bearer = with_payload(s.access, [&] {
    auto p = token_payload(s.access);
    p["data"]["user"]["id"] = static_cast<Json::Int64>(u.id + 1000000);
    return p;
  }());
  EXPECT_TRUE(is_error(http(login_path, o), 401, "cocart_authentication_error"));
}

// ---- the access token --------------------------------------------------------------

TEST(Tokens, PayloadHasCoCartClaimsAndNoSecret) {
  limits_lifted lifted;
  auto u = make_user();
  http_options o;
  o.user_agent = "Mozilla/5.0 (cartgate claim test)";
  auto s = login_ok(u, o);
  auto header = token_header(s.access);
  EXPECT_EQ(header["typ"].asString(), "JWT");
  EXPECT_EQ(header["alg"].asString(), "HS256");
  auto p = token_payload(s.access);
  EXPECT_TRUE(p["iss"].isString() && !p["iss"].asString().empty());
  ASSERT_TRUE(p["iat"].isIntegral() && p["nbf"].isIntegral() && p["exp"].isIntegral()) << compact(p);
  std::int64_t now = unix_now();
  EXPECT_NEAR(static_cast<double>(p["iat"].asInt64()), static_cast<double>(now), 60);
  EXPECT_EQ(p["nbf"].asInt64(), p["iat"].asInt64());
  EXPECT_EQ(p["exp"].asInt64() - p["iat"].asInt64(), 864000);  // 10 days by default
  const Json::Value& user = p["data"]["user"];
  ASSERT_TRUE(user["id"].isIntegral()) << compact(p);
  EXPECT_EQ(user["id"].asInt64(), u.id);
  EXPECT_EQ(user["username"].asString(), u.login);
  EXPECT_EQ(user["ip"].asString(), "127.0.0.1");
  EXPECT_EQ(user["device"].asString(), o.user_agent);
  EXPECT_TRUE(std::regex_match(user["pat"].asString(), std::regex("^pat_[0-9a-f]{24}$")))
      << user["pat"].asString();
  EXPECT_FALSE(p["data"].isMember("secret_key"));
  EXPECT_FALSE(p.isMember("secret_key"));
  std::string secret;
  std::ifstream(hs256_secret_file()) >> secret;
  ASSERT_FALSE(secret.empty());
  EXPECT_EQ(base64url_decode(split_token(s.access)[1]).find(secret), std::string::npos);
}

TEST(Tokens, EachLoginGetsItsOwnSession) {
  limits_lifted lifted;
  auto u = make_user();
  auto a = login_ok(u);
  auto b = login_ok(u);
  EXPECT_NE(pat_of(a.access), pat_of(b.access));
  EXPECT_NE(a.refresh, b.refresh);
}

TEST(Tokens, ValidateTokenAnswersTokenIsValid) {
  limits_lifted lifted;
  auto s = login_ok(make_user());
  auto r = validate(s.access);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json(), parse_json(R"({"message":"Token is valid."})"));
}

TEST(Tokens, ValidateTokenWithoutBearerIsRefused) {
  limits_lifted lifted;
  http_options o;
  o.method = "POST";
  EXPECT_TRUE(is_error(http(validate_path, o), 401, "cocart_authentication_error"));
}

TEST(Tokens, ChangedPayloadIsRefused) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  auto p = token_payload(s.access);
  p["exp"] = static_cast<Json::Int64>(p["exp"].asInt64() + 1);
  EXPECT_TRUE(is_bearer_failure(validate(with_payload(s.access, p))));
}

TEST(Tokens, ExpiredTokenIsRefused) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  auto real = token_payload(s.access);
  std::int64_t now = unix_now();
  // Signed with the stack's own HS256 secret: only the expiry is wrong.
  auto expired = cocart_claims(real["iss"].asString(), u.id, u.login, pat_of(s.access),
                               now - 7200, now - 3600);
  auto fresh = cocart_claims(real["iss"].asString(), u.id, u.login, pat_of(s.access), now - 10,
                             now + 3600);
  EXPECT_TRUE(is_bearer_failure(validate(pyjwt_sign("HS256", hs256_secret_file(), expired))));
  EXPECT_EQ(validate(pyjwt_sign("HS256", hs256_secret_file(), fresh)).status, 200);
}

TEST(Tokens, NotYetValidTokenIsRefused) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  std::int64_t now = unix_now();
  auto claims = cocart_claims(token_payload(s.access)["iss"].asString(), u.id, u.login,
                              pat_of(s.access), now + 3600, now + 7200);
  EXPECT_TRUE(is_bearer_failure(validate(pyjwt_sign("HS256", hs256_secret_file(), claims))));
}

TEST(Tokens, WrongIssuerIsRefused) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  std::int64_t now = unix_now();
  auto claims = cocart_claims("https://elsewhere.example", u.id, u.login, pat_of(s.access), now,
                              now + 3600);
  EXPECT_TRUE(is_bearer_failure(validate(pyjwt_sign("HS256", hs256_secret_file(), claims))));
}

// Past 2038: a 32-bit exp would wrap and turn into a past date.
TEST(Tokens, FarFutureExpiryIsAccepted) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  std::int64_t now = unix_now();
  auto claims = cocart_claims(token_payload(s.access)["iss"].asString(), u.id, u.login,
                              pat_of(s.access), now, 4102444800);  // 2100-01-01
  auto r = me(pyjwt_sign("HS256", hs256_secret_file(), claims));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["exp"].asInt64(), 4102444800);
}

TEST(Tokens, MeReturnsIdentityOfToken) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  auto r = me(s.access);
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.json();
  ASSERT_TRUE(j["user_id"].isString()) << r.body;
  EXPECT_EQ(j["user_id"].asString(), std::to_string(u.id));
  EXPECT_EQ(j["username"].asString(), u.login);
  EXPECT_EQ(j["pat"].asString(), pat_of(s.access));
  ASSERT_TRUE(j["exp"].isIntegral()) << r.body;
  EXPECT_EQ(j["exp"].asInt64(), token_payload(s.access)["exp"].asInt64());
}

// `me` reads and writes nothing; its twin, validate-token, records the session's use
// (batched by each worker every 5 s).
std::string last_used_of(const std::string& pat) {
  auto c = db();
  pqxx::read_transaction t(c);
  auto rows = t.exec_params("SELECT coalesce(last_used_at::text, '') FROM sessions WHERE pat = $1", pat);
  return rows.empty() ? "missing" : rows[0][0].c_str();
}

TEST(Tokens, MeLeavesNoTraceOnTheSession) {
  limits_lifted lifted;
  auto s = login_ok(make_user());
  for (int i = 0; i < 4; ++i) ASSERT_EQ(me(s.access).status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(6500));  // past one flush period
  EXPECT_EQ(last_used_of(pat_of(s.access)), "");
}

TEST(Tokens, ValidationRecordsTheSessionsLastUse) {
  limits_lifted lifted;
  auto s = login_ok(make_user());
  for (int i = 0; i < 4; ++i) ASSERT_EQ(validate(s.access).status, 200);
  EXPECT_TRUE(eventually([&] { return !last_used_of(pat_of(s.access)).empty(); }, std::chrono::seconds(8)));
}

TEST(Tokens, MeWithoutValidTokenIsRefused) {
  EXPECT_TRUE(is_bearer_failure(me("not-a-token")));
  EXPECT_TRUE(is_error(http(me_path), 401, "cocart_authentication_error"));
}

// ---- bindings ----------------------------------------------------------------------

TEST(Bindings, OtherUserAgentIsRefused) {
  limits_lifted lifted;
  auto s = login_ok(make_user());
  http_options other;
  other.user_agent = "SomethingElse/2.0";
  EXPECT_TRUE(is_bearer_failure(validate(s.access, other)));
  EXPECT_EQ(validate(s.access).status, 200);
}

TEST(Bindings, OtherClientIpIsRefused) {
  limits_lifted lifted;
  auto s = login_ok(make_user());
  // 127.0.0.1 (nginx's peer) is a trusted proxy, so X-Forwarded-For is the client IP.
  http_options other;
  other.forwarded_for = "203.0.113.7";
  EXPECT_TRUE(is_bearer_failure(validate(s.access, other)));
  EXPECT_EQ(validate(s.access).status, 200);
}

TEST(Bindings, TokenIssuedBehindProxyCarriesForwardedIp) {
  limits_lifted lifted;
  http_options from;
  from.forwarded_for = "198.51.100.23";
  auto s = login_ok(make_user(), from);
  EXPECT_EQ(token_payload(s.access)["data"]["user"]["ip"].asString(), "198.51.100.23");
  EXPECT_EQ(validate(s.access, from).status, 200);
  EXPECT_TRUE(is_bearer_failure(validate(s.access)));
}

TEST(Bindings, BindIpFalseAcceptsOtherClientIp) {
  limits_lifted lifted;
  auto s = login_ok(make_user());
  option_guard g({{"jwt.bind_ip", "false"}});
  http_options other;
  other.forwarded_for = "203.0.113.7";
  EXPECT_EQ(validate(s.access, other).status, 200);
  // The device binding still holds.
  other.user_agent = "SomethingElse/2.0";
  EXPECT_TRUE(is_bearer_failure(validate(s.access, other)));
}

TEST(Bindings, BindDeviceFalseAcceptsOtherUserAgent) {
  limits_lifted lifted;
  auto s = login_ok(make_user());
  option_guard g({{"jwt.bind_device", "false"}});
  http_options other;
  other.user_agent = "SomethingElse/2.0";
  EXPECT_EQ(validate(s.access, other).status, 200);
  // The IP binding still holds.
  other.forwarded_for = "203.0.113.7";
  EXPECT_TRUE(is_bearer_failure(validate(s.access, other)));
}

// ---- session cap -------------------------------------------------------------------

TEST(SessionCap, SixthLoginEvictsTheFirstSession) {
  limits_lifted lifted;
  auto u = make_user();
  std::vector<session_tokens> s;
  for (int i = 0; i < 6; ++i) s.push_back(login_ok(u));
  EXPECT_TRUE(eventually([&] { return me(s[0].access).status == 401; }, std::chrono::milliseconds(1000)));
  EXPECT_TRUE(is_bearer_failure(me(s[0].access)));
  for (int i = 1; i < 6; ++i) EXPECT_EQ(me(s[i].access).status, 200) << "session " << i;
  // The evicted session cannot be refreshed back to life either.
  EXPECT_EQ(refresh(s[0].refresh).status, 401);
}

TEST(SessionCap, FiveLoginsAllStayValid) {
  limits_lifted lifted;
  auto u = make_user();
  std::vector<session_tokens> s;
  for (int i = 0; i < 5; ++i) s.push_back(login_ok(u));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(me(s[i].access).status, 200) << "session " << i;
}

TEST(SessionCap, MaxSessionsOptionIsRespected) {
  limits_lifted lifted;
  option_guard g({{"jwt.max_sessions", "2"}});
  auto u = make_user();
  auto a = login_ok(u);
  auto b = login_ok(u);
  EXPECT_EQ(me(a.access).status, 200);
  auto c = login_ok(u);
  EXPECT_TRUE(eventually([&] { return me(a.access).status == 401; }, std::chrono::milliseconds(1000)));
  EXPECT_EQ(me(b.access).status, 200);
  EXPECT_EQ(me(c.access).status, 200);
}

// ---- prefix ------------------------------------------------------------------------

TEST(Prefix, IssuedTokensCarryPrefixAndValidate) {
  limits_lifted lifted;
  option_guard g({{"jwt.prefix", "abc_"}});
  auto s = login_ok(make_user());
  ASSERT_EQ(s.access.rfind("abc_", 0), 0u) << s.access;
  EXPECT_EQ(validate(s.access).status, 200);
  auto r = refresh(s.refresh);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["token"].asString().rfind("abc_", 0), 0u);
}

TEST(Prefix, UnprefixedTokenIsRefused) {
  limits_lifted lifted;
  option_guard g({{"jwt.prefix", "abc_"}});
  auto s = login_ok(make_user());
  ASSERT_EQ(s.access.rfind("abc_", 0), 0u) << s.access;
  EXPECT_TRUE(is_bearer_failure(validate(s.access.substr(4))));
  EXPECT_TRUE(is_bearer_failure(validate("xyz_" + s.access.substr(4))));
}

// ---- logout ------------------------------------------------------------------------

TEST(Logout, EndsThisSessionOnly) {
  limits_lifted lifted;
  auto u = make_user();
  auto a = login_ok(u);
  auto b = login_ok(u);
  auto r = logout(a.access);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "true");
  EXPECT_TRUE(eventually([&] { return me(a.access).status == 401; }, std::chrono::milliseconds(1000)));
  EXPECT_EQ(me(b.access).status, 200);
  EXPECT_EQ(refresh(a.refresh).status, 401);
  EXPECT_EQ(refresh(b.refresh).status, 200);
}

TEST(Logout, AllTrueEndsEverySession) {
  limits_lifted lifted;
  auto u = make_user();
  auto a = login_ok(u);
  auto b = login_ok(u);
  auto other_user = login_ok(make_user());
  auto r = logout(a.access, "?all=true");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "true");
  EXPECT_TRUE(eventually([&] { return me(a.access).status == 401 && me(b.access).status == 401; },
                         std::chrono::milliseconds(1000)));
  EXPECT_EQ(refresh(b.refresh).status, 401);
  EXPECT_EQ(me(other_user.access).status, 200);
}

TEST(Logout, WithoutValidTokenIsRefused) {
  limits_lifted lifted;
  EXPECT_TRUE(is_error(logout(""), 401, "cocart_authentication_error"));
  EXPECT_TRUE(is_bearer_failure(logout("eyJhbGciOiJub25lIn0.e30.")));
}

// ---- auth subrequest (nginx auth_request) ------------------------------------------
// The guarded route's cases run in both modes (auth subrequest, nginx module):
// guarded_route_test.cc.

// ---- JWKS --------------------------------------------------------------------------

TEST(Jwks, Hs256StackPublishesNoKeys) {
  auto r = http(jwks_path);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json(), parse_json(R"({"keys":[]})"));
}

}  // namespace
}  // namespace cartgate::test
