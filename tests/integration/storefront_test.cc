// The storefront behind the test stack's nginx (contract §8): WordPress from Debian's
// packages on PHP-FPM and MariaDB, with cartgate's must-use plugin and, in the test stack
// only, tests/wordpress/decoy-routes.php, which registers cartgate's routes inside
// WordPress the way CoCart and its plugins would on a real store. A body saying
// "wordpress-decoy" means a request reached WordPress's handler for a cartgate route.
//
// Customers are made in WordPress (support/storefront.h) and reach cartgate through the
// account sync, with WordPress's id.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "auth_helpers.h"
#include "support/stack.h"
#include "support/storefront.h"

namespace cartgate::test {
namespace {

constexpr const char* users_me_path = "/wp-json/wp/v2/users/me?context=edit";
constexpr const char* decoy = "wordpress-decoy";

// A customer registered in WordPress and mirrored into cartgate with WordPress's id.
test_user make_customer() {
  auto u = make_wordpress_customer();
  if (!mirrored(u.id, u.login)) throw std::runtime_error("WordPress user " + std::to_string(u.id) + " never reached cartgate");
  return u;
}

// WordPress's REST answers carry a Link header to its API root; cartgate's never do.
bool from_wordpress(const http_result& r) {
  return r.header("link").find("api.w.org") != std::string::npos;
}

std::string admin_pair() {
  auto o = wordpress_admin();
  return o.basic_user + ":" + o.basic_password;
}

TEST(Storefront, HomePageIsWordPress) {
  auto r = http("/");
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  EXPECT_NE(r.body.find("wp-content/themes"), std::string::npos) << r.body.substr(0, 300);
}

TEST(Storefront, AdministratorsApplicationPasswordManagesUsers) {
  auto pair = admin_pair();
  ASSERT_NE(pair.find(':'), std::string::npos) << "no LOGIN:PASSWORD in the admin file";
  http_options o;
  o.basic = true;
  o.basic_user = pair.substr(0, pair.find(':'));
  o.basic_password = pair.substr(pair.find(':') + 1);
  auto r = http("/wp-json/wp/v2/users?context=edit", o);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json().isArray());
  o.basic_password = "wrong";
  EXPECT_NE(http("/wp-json/wp/v2/users?context=edit", o).status, 200);
}

TEST(Storefront, GuardedWordPressRouteAnswersAsTheTokensCustomer) {
  limits_lifted lifted;
  auto u = make_customer();
  auto s = login_ok(u);
  auto r = http(users_me_path, bearer(s.access));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["id"].asInt64(), u.id);
  EXPECT_EQ(r.json()["username"].asString(), u.login);
}

TEST(Storefront, GuardedWordPressRouteWithoutTokenIs401) {
  EXPECT_TRUE(is_error(http(users_me_path), 401, "cocart_authentication_error"));
  EXPECT_TRUE(is_error(http(users_me_path, bearer("garbage")), 401, "cocart_authentication_error"));
}

TEST(Storefront, GuardedWordPressRouteRefusesALoggedOutToken) {
  limits_lifted lifted;
  auto u = make_customer();
  auto s = login_ok(u);
  ASSERT_EQ(http(users_me_path, bearer(s.access)).status, 200);
  ASSERT_EQ(logout(s.access).status, 200);
  // Every worker forgets the session within a second (NOTIFY), as for any guarded route.
  EXPECT_TRUE(eventually([&] { return http(users_me_path, bearer(s.access)).status == 401; },
                         std::chrono::milliseconds(1000)));
  EXPECT_TRUE(is_error(http(users_me_path, bearer(s.access)), 401, "cocart_authentication_error"));
}

TEST(Storefront, TokenWhoseLoginWordPressGivesAnotherUserIsNobodyThere) {
  limits_lifted lifted;
  auto u = make_customer();
  // WordPress renames the user behind cartgate's back (SQL: no hook, so no outbox row):
  // the token still names the old login.
  wp_sql("UPDATE " + wp_table("users") + " SET user_login = '" + unique_name("someone_else") +
         "' WHERE ID = " + std::to_string(u.id));
  auto r = http(users_me_path, bearer(login_ok(u).access));
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.body.find(u.login), std::string::npos) << r.body;
}

TEST(Storefront, ForgedIdentityHeadersReachNoWordPressRoute) {
  limits_lifted lifted;
  const std::vector<std::string> forged = {"X-Cartgate-User-Id: 1", "X-Cartgate-User-Login: admin",
                                           "X-Cartgate-Session: pat_000000000000000000000000"};
  http_options o;
  o.headers = forged;
  // Unguarded spellings of the same route: WordPress sees nobody.
  for (const char* path :
       {"/?rest_route=/wp/v2/users/me&context=edit", "/wp-json/wp/v2/Users/Me",
        "/index.php?rest_route=%2Fwp%2Fv2%2Fusers%2Fme", "/wp-json/wp/v2/users/1?context=edit"}) {
    auto r = http(path, o);
    EXPECT_EQ(r.status, 401) << path << ": " << r.body;
  }
  // Guarded, with a valid token: the token's customer, never user 1.
  auto u = make_customer();
  auto with_token = bearer(login_ok(u).access);
  with_token.headers = forged;
  auto r = http(users_me_path, with_token);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["id"].asInt64(), u.id);
}

// Every spelling WordPress would accept for a cartgate route (see rest_api_loaded and
// WP::parse_request: rest_route from the query or a form body, after PHP's decoding; the
// wp-json rewrite, case-insensitive route matching, a trailing slash or newline) reaches
// cartgate or gets 404 rest_no_route, never the decoy.
TEST(Storefront, EverySpellingOfCartgateRoutesMissesWordPress) {
  const std::vector<std::string> routes = {
      "/cocart/v2/login",           "/cocart/v2/logout",    "/cocart/jwt/refresh-token",
      "/cocart/jwt/validate-token", "/two-factor/1.0/totp", "/cartgate/v1/health"};
  for (const auto& route : routes) {
    std::string encoded, upper, letter_encoded;
    for (char c : route) {
      encoded += c == '/' ? std::string("%2F") : std::string(1, c);
      upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      letter_encoded += c == 'o' ? std::string("%6F") : std::string(1, c);
    }
    const std::vector<std::string> spellings = {
        "/?rest_route=" + route,
        "/index.php?rest_route=" + route,
        "/?rest_route=" + encoded,
        "/?rest_route=" + upper,
        "/?rest.route=" + route,
        "/?rest%5Froute=" + route,
        "/?%72est_route=" + route,
        "/?rest_route=" + letter_encoded,
        "/?a=1&rest_route=/wp/v2/posts&rest_route=" + route,
        "/wp-trackback.php?rest_route=" + route,
        "/wp-json" + route + "/",
        "/wp-json" + upper,
        "/index.php/wp-json" + route,
        "/wp-json" + route + "%0A",
        "/wp-json/" + route,
    };
    for (const auto& path : spellings) {
      http_options post;
      post.method = "POST";
      auto r = http(path, post);
      EXPECT_EQ(r.body.find(decoy), std::string::npos) << path << " reached WordPress: " << r.body;
      // cartgate's answer, or WordPress's 404 for a route it no longer has.
      if (from_wordpress(r)) {
        EXPECT_TRUE(is_error(r, 404, "rest_no_route")) << path;
      }
    }
    http_options form;
    form.method = "POST";
    form.content_type = "application/x-www-form-urlencoded";
    form.body = "rest_route=" + route;
    auto r = http("/", form);
    EXPECT_TRUE(is_error(r, 404, "rest_no_route")) << "form body naming " << route;
  }
}

TEST(Storefront, BatchRequestsCannotReachCartgateRoutesInWordPress) {
  http_options o;
  o.method = "POST";
  o.content_type = "application/json";
  o.body = R"({"requests":[{"method":"POST","path":"/cocart/v2/login"},)"
           R"({"method":"POST","path":"/cocart/jwt/refresh-token"}]})";
  auto r = http("/wp-json/batch/v1", o);
  EXPECT_EQ(r.body.find(decoy), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("rest_no_route"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace cartgate::test
