#include "api/routes.h"

#include <vector>

#include "api/handlers.h"
#include "base/text.h"
#include "http/client_ip.h"
#include "http/errors.h"
#include "infra/log.h"
#include "infra/metrics.h"

namespace cartgate::api {

const std::vector<route>& route_table() {
  using enum runs_on;
  static const std::vector<route> table = {
      {"GET", "/wp-json/cartgate/v1/health", "health", health},
      {"GET", "/metrics", "metrics", metrics},
      {"POST", "/wp-json/cocart/v2/login", "login", login},
      {"POST", "/wp-json/cocart/v2/logout", "logout", logout},
      {"POST", "/wp-json/cocart/jwt/refresh-token", "refresh_token", refresh_token},
      {"POST", "/wp-json/cocart/jwt/validate-token", "validate_token", validate_token, loop},
      {"GET", "/wp-json/cartgate/v1/me", "me", me, loop},
      // nginx's auth subrequest carries the main request's method: any method is fine.
      {"*", "/_cartgate/auth", "auth", auth_subrequest, loop},
      {"GET", "/.well-known/jwks.json", "jwks", jwks, loop},
      {"GET", "/wp-json/two-factor/1.0/totp", "twofactor_totp_key", totp_key},
      {"POST", "/wp-json/two-factor/1.0/totp", "twofactor_totp_enable", totp_enable},
      {"DELETE", "/wp-json/two-factor/1.0/totp", "twofactor_totp_disable", totp_disable},
      {"POST", "/wp-json/two-factor/1.0/generate-backup-codes", "twofactor_backup_codes",
       generate_backup_codes},
  };
  return table;
}

namespace {
constexpr std::string_view rest_route_alias = "/_cartgate/rest-route";
}  // namespace

std::string rest_route_path(std::string_view query) {
  std::string found;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    // PHP's names: leading spaces dropped, then ' ', '.' and '[' become '_'.
    std::string name = http::url_decode(pair.substr(0, eq), true);
    name.erase(0, name.find_first_not_of(' '));
    for (auto& c : name) {
      if (c == ' ' || c == '.' || c == '[') c = '_';
    }
    if (name != "rest_route") continue;
    found = http::url_decode(pair.substr(eq + 1), true);  // the last one wins, as in PHP
  }
  if (found.empty()) return {};
  // WordPress trims the route's slashes and matches case-insensitively (rest_api_loaded,
  // WP_REST_Server::match_request_to_handler).
  auto first = found.find_first_not_of('/');
  auto last = found.find_last_not_of("/\n\r\t ");
  if (first == std::string::npos || last == std::string::npos || last < first) return {};
  return "/wp-json/" + text::ascii_lower(std::string_view(found).substr(first, last - first + 1));
}

const route* find_route(const http::request& r) {
  // HEAD is answered like GET; nginx drops the body.
  std::string_view method = r.method == "HEAD" ? std::string_view("GET") : r.method;
  std::string aliased;
  std::string_view path = r.path;
  if (path == rest_route_alias) {
    aliased = rest_route_path(r.query);
    path = aliased;
  }
  for (auto& rt : route_table()) {
    // The auth subrequest is nginx's own, never a REST route.
    if (!aliased.empty() && rt.path.rfind("/wp-json/", 0) != 0) continue;
    if (rt.path == path && (rt.method == method || rt.method == "*")) return &rt;
  }
  return nullptr;
}

http::response answer(services& s, http::request& r, const route* rt) {
  const policy& p = s.policy.current();
  r.client_ip = net::resolve_client_ip(r.remote_addr, r.header("x-forwarded-for"), p.trusted_proxies);
  std::string_view route_name = rt ? rt->name : "no_route";
  http::response res;
  try {
    res = rt ? rt->fn(s, r) : to_response(failure{reason::no_route});
  } catch (const std::exception& e) {
    if (db::classify(e) == db::outcome::unavailable) {
      metrics::add("cartgate_database_unavailable_total");
      log::warn("database_unavailable", {{"route", std::string(route_name)}});
      res = to_response(failure{reason::service_unavailable});
    } else {
      log::error("request_failed", {{"route", std::string(route_name)}, {"error", e.what()}});
      res = to_response(failure{reason::internal_error});
    }
  }
  metrics::add("cartgate_requests_total{route=\"" + std::string(route_name) + "\",status=\"" +
               std::to_string(res.status) + "\"}");
  return res;
}

}  // namespace cartgate::api
