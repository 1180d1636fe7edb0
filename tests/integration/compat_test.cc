// Clients written for CoCart JWT 3.x or @cocart/sdk, through nginx (contract §2.2, §7):
// jwt.auth_header — a `Bearer …` token in another header (X-Auth-Token, the SDK's
// authHeaderName) is accepted on every Bearer route, the guarded ones behind nginx's auth
// subrequest included, and garbage there is refused; jwt.failure_status 403 — every
// Bearer failure answers 403 with the same code, message and WWW-Authenticate, also where
// nginx answers for the guarded routes.
#include "auth_helpers.h"
#include "storefront_helpers.h"

namespace cartgate::test {
namespace {

constexpr const char* sessions_path = "/wp-json/cartgate/v1/sessions";
constexpr const char* users_me_path = "/wp-json/wp/v2/users/me?context=edit";
constexpr const char* store_path = "/wp-json/cocart/v2/store";  // guests welcome (optional guard)

// One request with the token in X-Auth-Token only (no Authorization header).
http_options in_x_auth_token(const std::string& token, std::string method = "GET") {
  http_options o;
  o.method = std::move(method);
  o.headers = {"X-Auth-Token: Bearer " + token};
  return o;
}

struct bearer_route {
  const char* method;
  std::string path;
};

// Every route that takes a Bearer token, those behind nginx's guard last. Logout and the
// session-ending routes are left to the tests, which need the session afterwards.
std::vector<bearer_route> bearer_routes() {
  return {{"POST", validate_path},
          {"GET", me_path},
          {"GET", sessions_path},
          {"DELETE", std::string(sessions_path) + "?others=true"},
          {"DELETE", std::string(sessions_path) + "/pat_000000000000000000000000"},
          {"POST", logout_path},
          {"GET", "/wp-json/two-factor/1.0/totp"},
          {"POST", "/wp-json/two-factor/1.0/totp"},
          {"DELETE", "/wp-json/two-factor/1.0/totp"},
          {"POST", "/wp-json/two-factor/1.0/generate-backup-codes"},
          {"GET", cart_path},
          {"GET", users_me_path},
          {"GET", store_path}};
}

http_result call(const bearer_route& route, http_options o) {
  o.method = route.method;
  return http(route.path, o);
}

TEST(AuthHeader, TokenInXAuthTokenIsAcceptedOnEveryBearerRoute) {
  limits_lifted lifted;
  option_guard header({{"jwt.auth_header", "X-Auth-Token"}});
  auto u = make_linked_customer();
  auto s = login_ok(u);
  auto spare = login_ok(u);

  EXPECT_EQ(http(validate_path, in_x_auth_token(s.access, "POST")).status, 200);
  auto who = http(me_path, in_x_auth_token(s.access));
  ASSERT_EQ(who.status, 200) << who.body;
  EXPECT_EQ(who.json()["pat"].asString(), pat_of(s.access));
  auto listed = http(sessions_path, in_x_auth_token(s.access));
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.json().size(), 2u);
  EXPECT_EQ(http("/wp-json/two-factor/1.0/totp", in_x_auth_token(s.access)).status, 200);
  // The guarded routes: nginx's auth subrequest passes the header on to cartgate.
  auto cart = http(cart_path, in_x_auth_token(s.access));
  ASSERT_EQ(cart.status, 200) << cart.body;
  EXPECT_EQ(cart.json()["user_id"].asString(), std::to_string(u.id));
  EXPECT_EQ(cart.json()["pat"].asString(), pat_of(s.access));
  auto wp = http(users_me_path, in_x_auth_token(s.access));
  ASSERT_EQ(wp.status, 200) << wp.body;
  EXPECT_EQ(wp.json()["id"].asInt64(), u.id);
  auto store = http(store_path, in_x_auth_token(s.access));
  ASSERT_EQ(store.status, 200) << store.body;
  EXPECT_EQ(store.json()["user_id"].asString(), std::to_string(u.id));
  // Login with a valid token gets that token back (CoCart JWT 3.x), from this header too.
  auto relogin = http(login_path, in_x_auth_token(s.access, "POST"));
  ASSERT_EQ(relogin.status, 200) << relogin.body;
  EXPECT_EQ(relogin.json()["extras"]["jwt_token"].asString(), s.access);
  // The routes that end sessions, last.
  auto ended = http(std::string(sessions_path) + "/" + pat_of(spare.access), in_x_auth_token(s.access, "DELETE"));
  EXPECT_EQ(ended.status, 200) << ended.body;
  EXPECT_EQ(http(std::string(sessions_path) + "?others=true", in_x_auth_token(s.access, "DELETE")).status, 200);
  EXPECT_EQ(http(logout_path, in_x_auth_token(s.access, "POST")).status, 200);
  EXPECT_TRUE(eventually([&] { return me(s.access).status == 401; }, std::chrono::milliseconds(1000)));
}

TEST(AuthHeader, GarbageInXAuthTokenIsRefusedOnEveryBearerRoute) {
  limits_lifted lifted;
  option_guard header({{"jwt.auth_header", "X-Auth-Token"}});
  auto s = login_ok(make_user());
  std::string tampered = with_payload(s.access, [&] {
    auto p = token_payload(s.access);
    p["data"]["user"]["id"] = 1;
    return p;
  }());
  for (const std::string& garbage : {std::string("garbage"), tampered, s.access + "x"}) {
    for (const auto& route : bearer_routes()) {
      auto r = call(route, in_x_auth_token(garbage));
      EXPECT_TRUE(is_bearer_failure(r)) << route.method << " " << route.path << ": " << r.status << " " << r.body;
    }
  }
  EXPECT_EQ(me(s.access).status, 200);
}

TEST(AuthHeader, XAuthTokenIsNotReadWhileTheOptionIsEmpty) {
  limits_lifted lifted;
  auto s = login_ok(make_user());
  EXPECT_TRUE(is_bearer_failure(http(me_path, in_x_auth_token(s.access))));
  EXPECT_TRUE(is_bearer_failure(http(validate_path, in_x_auth_token(s.access, "POST"))));
  EXPECT_TRUE(is_bearer_failure(http(cart_path, in_x_auth_token(s.access))));
  // Where guests are welcome, a header cartgate does not read is no token: a guest.
  auto store = http(store_path, in_x_auth_token(s.access));
  ASSERT_EQ(store.status, 200) << store.body;
  EXPECT_EQ(store.json()["user_id"].asString(), "");
}

TEST(AuthHeader, AnotherNamedHeaderIsReadOnRoutesCartgateAnswersItself) {
  limits_lifted lifted;
  option_guard header({{"jwt.auth_header", "X-Shop-Token"}});
  auto s = login_ok(make_user());
  http_options o;
  o.headers = {"X-Shop-Token: Bearer " + s.access};
  EXPECT_EQ(http(me_path, o).status, 200);
  // X-Auth-Token is not the option's header now.
  EXPECT_TRUE(is_bearer_failure(http(me_path, in_x_auth_token(s.access))));
}

TEST(OptionalGuard, GuestsPassWithoutIdentityAndCustomersWithTheirs) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  auto guest = http(store_path);
  ASSERT_EQ(guest.status, 200) << guest.body;
  EXPECT_EQ(guest.json()["user_id"].asString(), "");
  auto customer = http(store_path, bearer(s.access));
  ASSERT_EQ(customer.status, 200) << customer.body;
  EXPECT_EQ(customer.json()["user_id"].asString(), std::to_string(u.id));
  // A credential that is there must be a valid token: never a guest.
  EXPECT_TRUE(is_bearer_failure(http(store_path, bearer("garbage"))));
  http_options basic;
  basic.basic = true;
  basic.basic_user = u.login;
  basic.basic_password = u.password;
  EXPECT_TRUE(is_bearer_failure(http(store_path, basic)));
}

// The body every Bearer failure has with jwt.failure_status 403 (key order aside: nginx
// writes its own for the guarded routes).
Json::Value forbidden_body() {
  return parse_json(R"({"code":"cocart_authentication_error","message":"Authentication failed.","data":{"status":403}})");
}

::testing::AssertionResult is_bearer_failure_403(const http_result& r) {
  if (r.status != 403) return ::testing::AssertionFailure() << "HTTP " << r.status << ": " << r.body;
  Json::Value body;
  try {
    body = r.json();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << e.what();
  }
  if (!(body == forbidden_body())) return ::testing::AssertionFailure() << "body " << r.body;
  if (r.header("www-authenticate") != "Bearer error=\"invalid_token\"") {
    return ::testing::AssertionFailure() << "WWW-Authenticate is '" << r.header("www-authenticate") << "'";
  }
  if (r.header("content-type").find("application/json") == std::string::npos) {
    return ::testing::AssertionFailure() << "Content-Type is '" << r.header("content-type") << "'";
  }
  return ::testing::AssertionSuccess();
}

TEST(FailureStatus, Forbidden403AnswersEveryBearerFailureWithTheSameBodyAndHeader) {
  limits_lifted lifted;
  option_guard status({{"jwt.failure_status", "403"}});
  auto s = login_ok(make_user());
  ASSERT_EQ(logout(s.access).status, 200);  // a revoked session, one more way to fail
  EXPECT_TRUE(eventually([&] { return me(s.access).status == 403; }, std::chrono::milliseconds(1000)));
  for (const std::string& token : {std::string(), std::string("garbage"), s.access}) {
    for (const auto& route : bearer_routes()) {
      if (token.empty() && route.path == store_path) continue;  // no token there: a guest
      http_options o;
      o.bearer = token;
      auto r = call(route, o);
      EXPECT_TRUE(is_bearer_failure_403(r)) << route.method << " " << route.path << " with '" << token.substr(0, 12)
                                            << "'";
    }
  }
}

TEST(FailureStatus, Forbidden403AlsoAnswersATokenInTheOtherHeader) {
  limits_lifted lifted;
  option_guard both({{"jwt.failure_status", "403"}, {"jwt.auth_header", "X-Auth-Token"}});
  for (const auto& route : bearer_routes()) {
    EXPECT_TRUE(is_bearer_failure_403(call(route, in_x_auth_token("garbage")))) << route.method << " " << route.path;
  }
}

TEST(FailureStatus, DefaultIs401AndOtherFailuresKeepTheirStatus) {
  limits_lifted lifted;
  {
    option_guard status({{"jwt.failure_status", "403"}});
    // Not Bearer failures: a wrong password, a missing refresh token.
    auto u = make_user();
    test_user wrong = u;
    wrong.password = "not-" + u.password;
    EXPECT_TRUE(is_error(login(wrong), 401, "cocart_authentication_error"));
    EXPECT_TRUE(is_error(post_json(refresh_path, Json::Value(Json::objectValue)), 400,
                         "cocart_jwt_auth_missing_refresh_token"));
  }
  for (const auto& route : bearer_routes()) {
    http_options o;
    o.bearer = "garbage";
    EXPECT_TRUE(is_bearer_failure(call(route, o))) << route.method << " " << route.path;
  }
}

}  // namespace
}  // namespace cartgate::test
