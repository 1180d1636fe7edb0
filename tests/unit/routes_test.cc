// The routing table (lib/api/routes.h): paths with a {name} segment, and which socket may
// reach which route. No handler runs here.
#include "api/routes.h"

#include <gtest/gtest.h>

#include <set>

namespace cartgate::api {
namespace {

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

}  // namespace
}  // namespace cartgate::api
