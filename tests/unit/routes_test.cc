// The routing table and its one alias: WordPress's rest_route query argument, as nginx
// hands it to cartgate (nginx/cartgate.conf), read the way PHP and WordPress read it.
#include "api/routes.h"

#include <gtest/gtest.h>

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
    bool hot = rt.name == "validate_token" || rt.name == "me" || rt.name == "auth" || rt.name == "jwks";
    EXPECT_EQ(rt.runs == runs_on::loop, hot) << rt.name;
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

}  // namespace
}  // namespace cartgate::api
