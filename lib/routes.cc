#include "routes.h"

#include <vector>

#include "api/handlers.h"
#include "errors.h"
#include "service.h"

namespace cartgate {

const std::vector<route>& route_table() {
  static const std::vector<route> table = {
      {"GET", "/wp-json/cartgate/v1/health", "health", api::health},
      {"GET", "/metrics", "metrics", api::metrics},
      {"POST", "/wp-json/cocart/v2/login", "login", api::login},
      {"POST", "/wp-json/cocart/v2/logout", "logout", api::logout},
      {"POST", "/wp-json/cocart/jwt/refresh-token", "refresh_token", api::refresh_token},
      {"POST", "/wp-json/cocart/jwt/validate-token", "validate_token", api::validate_token, true},
      {"GET", "/wp-json/cartgate/v1/me", "me", api::me, true},
      // nginx's auth subrequest carries the main request's method: any method is fine.
      {"*", "/_cartgate/auth", "auth", api::auth_subrequest, true},
      {"GET", "/.well-known/jwks.json", "jwks", api::jwks, true},
      {"GET", "/wp-json/two-factor/1.0/totp", "twofactor_totp_key", api::totp_key},
      {"POST", "/wp-json/two-factor/1.0/totp", "twofactor_totp_enable", api::totp_enable},
      {"DELETE", "/wp-json/two-factor/1.0/totp", "twofactor_totp_disable", api::totp_disable},
      {"POST", "/wp-json/two-factor/1.0/generate-backup-codes", "twofactor_backup_codes",
       api::generate_backup_codes},
  };
  return table;
}

const route* find_route(const http::request& r) {
  // HEAD is answered like GET; nginx drops the body.
  std::string_view method = r.method == "HEAD" ? std::string_view("GET") : r.method;
  for (auto& rt : route_table()) {
    if (rt.path == r.path && (rt.method == method || rt.method == "*")) return &rt;
  }
  return nullptr;
}

http::response dispatch(service& svc, http::request& r, const route* rt, std::string_view* route_name) {
  if (rt != nullptr) {
    *route_name = rt->name;
    return rt->fn(svc, r);
  }
  *route_name = "no_route";
  return to_response(failure{reason::no_route});
}

}  // namespace cartgate
