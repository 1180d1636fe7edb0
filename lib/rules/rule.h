// The permission-rule interface (contract §4): after the password check, each rule sees
// the permission so far, the user, the request and the endpoint, and may deny with a
// contract error. Built-in rules (geo, schedule, device, client headers) and plugins
// implement the same interface and share its lifecycle: start(config) once per process,
// check() from many threads at once, stop() before unload.
//
//   class my_rule : public rules::rule {
//     std::string_view name() const override { return "my_rule"; }
//     std::optional<failure> check(rules::context& c) override {
//       if (c.req.header("x-store-channel").empty()) return failure{reason::plugin_denied};
//       return std::nullopt;   // allow
//     }
//   };
#pragma once

#include <json/json.h>
#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string_view>

#include "http/errors.h"
#include "http/message.h"
#include "infra/config.h"
#include "policy/options.h"
#include "store/users.h"

namespace cartgate::rules {

struct context {
  const http::request& req;  // req.client_ip already resolved from the trusted proxies
  const Json::Value& params;  // parsed body params (device_id, …)
  const user& subject;
  std::string_view endpoint;  // "login" (a password login or cookie → token), "refresh", "validate"
  const policy& pol;
  std::int64_t now;  // unix seconds
  pqxx::transaction_base& tx;  // devices, schedules, clients, client_info live here
  // What earlier rules decided (nullptr or nullopt: allowed so far). The chain stops at
  // the first denial, so a rule it calls always sees "allowed"; a caller that has its own
  // earlier verdict may pass it in, and then the chain returns it without running.
  const std::optional<failure>* permission_so_far = nullptr;
};

class rule {
 public:
  virtual ~rule() = default;
  virtual std::string_view name() const = 0;
  virtual void start(const config&) {}
  virtual void stop() {}
  // nullopt = allow. May throw: the chain turns that into 500 plugin_failed.
  virtual std::optional<failure> check(context& c) = 0;
};

}  // namespace cartgate::rules
