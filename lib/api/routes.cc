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
  using enum reach;
  static const std::vector<route> table = {
      {"GET", "/wp-json/cartgate/v1/health", "health", health},
      {"GET", "/metrics", "metrics", metrics},
      {"POST", "/wp-json/cocart/v2/login", "login", login, password},
      {"POST", "/wp-json/cocart/v2/logout", "logout", logout},
      {"POST", "/wp-json/cocart/jwt/refresh-token", "refresh_token", refresh_token},
      {"POST", "/wp-json/cocart/jwt/validate-token", "validate_token", validate_token, loop},
      {"GET", "/wp-json/cartgate/v1/me", "me", me, loop},
      {"GET", "/wp-json/cartgate/v1/sessions", "sessions_list", list_sessions},
      {"DELETE", "/wp-json/cartgate/v1/sessions", "sessions_end_others", end_other_sessions},
      {"DELETE", "/wp-json/cartgate/v1/sessions/{pat}", "sessions_end", end_session},
      // nginx's auth subrequest carries the main request's method: any method is fine.
      {"*", "/_cartgate/auth", "auth", auth_subrequest, loop, both},
      {"*", "/_cartgate/auth-optional", "auth_optional", auth_subrequest_optional, loop, both},
      // Cookie → token: the storefront's must-use plugin, signed with secrets.storefront_key_file.
      {"POST", "/_cartgate/storefront/token", "storefront_token", storefront_token, blocking, internal},
      {"GET", "/.well-known/jwks.json", "jwks", jwks, loop},
      {"GET", "/wp-json/two-factor/1.0/totp", "twofactor_totp_key", totp_key},
      {"POST", "/wp-json/two-factor/1.0/totp", "twofactor_totp_enable", totp_enable},
      {"DELETE", "/wp-json/two-factor/1.0/totp", "twofactor_totp_disable", totp_disable},
      {"POST", "/wp-json/two-factor/1.0/generate-backup-codes", "twofactor_backup_codes",
       generate_backup_codes},
  };
  return table;
}

bool path_matches(std::string_view pattern, std::string_view path,
                  std::map<std::string, std::string, std::less<>>* captured) {
  while (!pattern.empty() || !path.empty()) {
    if (pattern.empty() || path.empty()) return false;
    if (pattern.front() == '{') {
      auto close = pattern.find('}');
      if (close == std::string_view::npos) return false;
      auto end = path.find('/');
      std::string_view segment = path.substr(0, end);
      if (segment.empty()) return false;
      if (captured) (*captured)[std::string(pattern.substr(1, close - 1))] = std::string(segment);
      pattern.remove_prefix(close + 1);
      path.remove_prefix(segment.size());
      continue;
    }
    if (pattern.front() != path.front()) return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
  }
  return true;
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

namespace {

// The path a request names: its own, or for nginx's /_cartgate/rest-route the one its
// rest_route argument names ("" when none), kept in `aliased`.
std::string_view routed_path(const http::request& r, std::string& aliased) {
  if (r.path != rest_route_alias) return r.path;
  aliased = rest_route_path(r.query);
  return aliased;
}

}  // namespace

const route* find_route(const http::request& r) {
  // HEAD is answered like GET; nginx drops the body.
  std::string_view method = r.method == "HEAD" ? std::string_view("GET") : r.method;
  const bool aliased = r.path == rest_route_alias;
  std::string alias_target;
  std::string_view path = routed_path(r, alias_target);
  if (path.empty()) return nullptr;
  for (auto& rt : route_table()) {
    // The auth subrequest and the storefront's route are nginx's and PHP's, never REST
    // routes a rest_route could name.
    if (aliased && rt.path.rfind("/wp-json/", 0) != 0) continue;
    bool reachable = rt.reach == reach::both || (rt.reach == reach::internal) == r.internal;
    if (reachable && path_matches(rt.path, path) && (rt.method == method || rt.method == "*")) return &rt;
  }
  return nullptr;
}

http::response answer(services& s, http::request& r, const route* rt) {
  const policy& p = s.policy.current();
  r.client_ip = net::resolve_client_ip(r.remote_addr, r.header("x-forwarded-for"), p.trusted_proxies);
  std::string_view route_name = rt ? rt->name : "no_route";
  http::response res;
  try {
    if (rt && rt->path.find('{') != std::string_view::npos) {
      std::string alias_target;
      path_matches(rt->path, routed_path(r, alias_target), &r.path_params);
    }
    res = rt ? rt->fn(s, r) : s.refuse(reason::no_route);
  } catch (const std::exception& e) {
    if (db::classify(e) == db::outcome::unavailable) {
      metrics::add("cartgate_database_unavailable_total");
      log::warn("database_unavailable", {{"route", std::string(route_name)}});
      res = s.refuse(reason::service_unavailable);
    } else {
      log::error("request_failed", {{"route", std::string(route_name)}, {"error", e.what()}});
      res = s.refuse(reason::internal_error);
    }
  }
  metrics::add("cartgate_requests_total{route=\"" + std::string(route_name) + "\",status=\"" +
               std::to_string(res.status) + "\"}");
  return res;
}

}  // namespace cartgate::api
