// The permission chain (contract §4, steps 2–6): geolocation, time windows, device
// registration, client headers, then plugins, in that order; the first denial wins. The
// login flow calls it after the password check (rate limits come before the password,
// see rules/rate_limit.h), and refresh / validate-token call it when rules.on_refresh /
// rules.on_validate are true. One chain per process: construct it at start.
//
//   rules::chain chain(cfg, bus);              // loads the geo db and the plugins; may throw
//   rules::context ctx{req, params, user, "login", pol, now, tx};
//   if (auto denied = chain.run(ctx)) return to_response(*denied);
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "infra/config.h"
#include "infra/events.h"
#include "rules/rule.h"

namespace cartgate::rules {

class chain {
 public:
  // Built-ins from cfg, then plugins (throws plugins::load_error, naming the file, when
  // one fails to load or start; config errors for the geo database likewise throw).
  chain(const config& cfg, events::bus& bus);
  // For tests: exactly these rules, in this order, already started.
  explicit chain(std::vector<std::unique_ptr<rule>> rules);
  ~chain();
  chain(const chain&) = delete;
  chain& operator=(const chain&) = delete;

  // nullopt = allowed. A rule that throws denies with 500 plugin_failed (logged with the
  // rule's name); it never takes the worker down. A context that arrives already denied
  // (permission_so_far) returns that denial unchanged.
  std::optional<failure> run(context& ctx);

  std::vector<std::string> names() const;  // for logs and `health`

 private:
  std::vector<std::unique_ptr<rule>> rules_;
};

}  // namespace cartgate::rules
