#include <unistd.h>

#include "api/handlers.h"
#include "http/client_ip.h"
#include "http/errors.h"
#include "infra/metrics.h"

namespace cartgate::api {
namespace {

bool is_loopback(const net::address& a) {
  if (a.is_v4()) return (a.v4() >> 24) == 127;
  static const auto v6_loopback = net::parse_address("::1");
  return v6_loopback && a == *v6_loopback;
}

}  // namespace

http::response health(services& s, http::request&) {
  Json::Value body(Json::objectValue);
  body["version"] = CARTGATE_VERSION;
  body["pid"] = static_cast<Json::Int64>(getpid());
  bool db_ok = false;
  try {
    auto conn = s.db.acquire();
    pqxx::nontransaction n(*conn);
    n.exec("SELECT 1");
    db_ok = true;
  } catch (const std::exception&) {
    db_ok = false;
  }
  if (!db_ok) {
    failure f{reason::service_unavailable};
    f.data["process"] = "ok";
    f.data["database"] = "unavailable";
    return s.refuse(f);
  }
  body["status"] = "ok";
  body["process"] = "ok";
  body["database"] = "ok";
  return http::json_response(200, body);
}

http::response metrics(services& s, http::request& r) {
  auto peer = net::parse_address(r.remote_addr);
  if (!peer || !is_loopback(*peer)) return s.refuse(failure{reason::no_route});
  http::response res;
  res.content_type = "text/plain; version=0.0.4; charset=utf-8";
  res.body = metrics::render();
  return res;
}

}  // namespace cartgate::api
