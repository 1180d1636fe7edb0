// The routing table: its one alias (WordPress's rest_route query argument, as nginx hands
// it to cartgate, nginx/cartgate.conf, read the way PHP and WordPress read it), paths with
// a {name} segment, and which socket may reach which route. No handler runs here.
#include "api/routes.h"

#include <gtest/gtest.h>

#include <set>

namespace cartgate::api {
namespace {

http::request request(std::string method, std::string path, std::string query = "") {
  http::request r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.query = std::move(query);
  return r;
}

TEST(Routes, EachPathAndMethodFindsItsRoute) {
  EXPECT_EQ(find_route(request("POST", "/wp-json/cocart/v2/login"))->name, "login");
  EXPECT_EQ(find_route(request("GET", "/wp-json/cartgate/v1/me"))->name, "me");
  EXPECT_EQ(find_route(request("HEAD", "/wp-json/cartgate/v1/health"))->name, "health");
  EXPECT_EQ(find_route(request("PATCH", "/_cartgate/auth"))->name, "auth");
  EXPECT_EQ(find_route(request("GET", "/wp-json/cocart/v2/login")), nullptr) << "wrong method";
  EXPECT_EQ(find_route(request("POST", "/wp-json/cocart/v2/login/")), nullptr) << "nginx normalises, not us";
}

TEST(Routes, TheRouteTableDecidesWhatTheLoopMayAnswer) {
  for (const auto& rt : route_table()) {
    bool hot = rt.name == "validate_token" || rt.name == "me" || rt.name == "auth" || rt.name == "auth_optional" ||
               rt.name == "jwks";
    EXPECT_EQ(rt.runs == runs_on::loop, hot) << rt.name;
  }
}

TEST(Routes, OnlyLoginRunsOnTheLoginThreads) {
  for (const auto& rt : route_table()) {
    EXPECT_EQ(rt.runs == runs_on::password, rt.name == "login") << rt.name;
  }
}

TEST(RestRoute, SpellingsPhpAcceptsNameTheSameRoute) {
  const char* spellings[] = {
      "rest_route=/cocart/v2/login",
      "rest_route=%2Fcocart%2Fv2%2Flogin",
      "rest.route=/cocart/v2/login",
      "rest+route=/cocart/v2/login",
      "rest%20route=/cocart/v2/login",
      "rest[route=/cocart/v2/login",
      "+rest_route=/cocart/v2/login",
      "rest_route=//cocart/v2/login/",
      "rest_route=/CoCart/V2/Login",
      "rest_route=/cocart/v2/login%0A",
      "avatars=true&rest_route=/cocart/v2/login",
      "rest_route=/wp/v2/users&rest_route=/cocart/v2/login",
  };
  for (const char* q : spellings) EXPECT_EQ(rest_route_path(q), "/wp-json/cocart/v2/login") << q;
  EXPECT_EQ(rest_route_path(""), "");
  EXPECT_EQ(rest_route_path("rest_route="), "");
  EXPECT_EQ(rest_route_path("rest_route=///"), "");
  EXPECT_EQ(rest_route_path("restroute=/cocart/v2/login"), "");
  EXPECT_EQ(rest_route_path("xrest_route=/cocart/v2/login"), "");
}

TEST(RestRoute, TheAliasReachesCartgatesRouteWithTheSameMethod) {
  EXPECT_EQ(find_route(request("POST", "/_cartgate/rest-route", "rest_route=/cocart/v2/login"))->name, "login");
  EXPECT_EQ(find_route(request("POST", "/_cartgate/rest-route", "rest_route=/cocart/jwt/refresh-token"))->name,
            "refresh_token");
  EXPECT_EQ(find_route(request("GET", "/_cartgate/rest-route", "rest_route=/cocart/v2/login")), nullptr);
  EXPECT_EQ(find_route(request("POST", "/_cartgate/rest-route", "rest_route=/cocart/v2/nothing")), nullptr);
  EXPECT_EQ(find_route(request("GET", "/_cartgate/rest-route", "")), nullptr);
}

TEST(RestRoute, TheAliasNeverReachesTheAuthSubrequestOrMetrics) {
  EXPECT_EQ(find_route(request("GET", "/_cartgate/rest-route", "rest_route=/../_cartgate/auth")), nullptr);
  EXPECT_EQ(find_route(request("GET", "/_cartgate/rest-route", "rest_route=/metrics")), nullptr);
}

http::request req(const std::string& method, const std::string& path, bool internal = false) {
  http::request r;
  r.method = method;
  r.path = path;
  r.internal = internal;
  return r;
}

std::string route_name(const http::request& r) {
  const route* rt = find_route(r);
  return rt ? std::string(rt->name) : "no_route";
}

TEST(PathPattern, NamedSegmentMatchesOneNonEmptySegment) {
  std::map<std::string, std::string, std::less<>> got;
  EXPECT_TRUE(path_matches("/s/{pat}", "/s/pat_0123", &got));
  EXPECT_EQ(got["pat"], "pat_0123");
  EXPECT_FALSE(path_matches("/s/{pat}", "/s/"));
  EXPECT_FALSE(path_matches("/s/{pat}", "/s"));
  EXPECT_FALSE(path_matches("/s/{pat}", "/s/a/b"));
  EXPECT_FALSE(path_matches("/s/{pat}", "/t/a"));
  EXPECT_TRUE(path_matches("/s", "/s"));
  EXPECT_FALSE(path_matches("/s", "/s/"));
  EXPECT_FALSE(path_matches("/s", "/ss"));
}

TEST(Routes, OwnSessionRoutesAreTheContracts) {
  EXPECT_EQ(route_name(req("GET", "/wp-json/cartgate/v1/sessions")), "sessions_list");
  EXPECT_EQ(route_name(req("DELETE", "/wp-json/cartgate/v1/sessions")), "sessions_end_others");
  EXPECT_EQ(route_name(req("DELETE", "/wp-json/cartgate/v1/sessions/pat_0123456789abcdef01234567")), "sessions_end");
  EXPECT_EQ(route_name(req("GET", "/wp-json/cartgate/v1/sessions/pat_0123456789abcdef01234567")), "no_route");
  EXPECT_EQ(route_name(req("POST", "/wp-json/cartgate/v1/sessions")), "no_route");
  EXPECT_EQ(route_name(req("DELETE", "/wp-json/cartgate/v1/sessions/a/b")), "no_route");
}

TEST(Routes, StorefrontTokenIsReachableOnTheInternalSocketOnly) {
  EXPECT_EQ(route_name(req("POST", "/_cartgate/storefront/token", true)), "storefront_token");
  EXPECT_EQ(route_name(req("POST", "/_cartgate/storefront/token", false)), "no_route");
}

TEST(Routes, InternalSocketAnswersNoSiteRoute) {
  for (const char* path : {"/wp-json/cocart/v2/login", "/wp-json/cartgate/v1/me", "/wp-json/cartgate/v1/sessions",
                           "/wp-json/cartgate/v1/health"}) {
    EXPECT_EQ(route_name(req("GET", path, true)), "no_route") << path;
    EXPECT_EQ(route_name(req("POST", path, true)), "no_route") << path;
  }
}

TEST(Routes, AuthSubrequestIsReachableOnBothSockets) {
  for (bool internal : {true, false}) {
    EXPECT_EQ(route_name(req("GET", "/_cartgate/auth", internal)), "auth");
    EXPECT_EQ(route_name(req("POST", "/_cartgate/auth-optional", internal)), "auth_optional");
  }
}

TEST(Routes, EveryRouteNameIsUnique) {
  std::set<std::string_view> names;
  for (const auto& rt : route_table()) EXPECT_TRUE(names.insert(rt.name).second) << rt.name;
}

TEST(RestRoute, TheAliasReachesAnOwnSessionByItsPat) {
  auto r = request("DELETE", "/_cartgate/rest-route", "rest_route=/cartgate/v1/sessions/pat_0123456789abcdef01234567");
  ASSERT_NE(find_route(r), nullptr);
  EXPECT_EQ(find_route(r)->name, "sessions_end");
}

TEST(RestRoute, TheAliasNeverReachesTheStorefrontsRoute) {
  for (bool internal : {false, true}) {
    auto r = request("POST", "/_cartgate/rest-route", "rest_route=/../_cartgate/storefront/token");
    r.internal = internal;
    EXPECT_EQ(find_route(r), nullptr);
  }
}

}  // namespace
}  // namespace cartgate::api
