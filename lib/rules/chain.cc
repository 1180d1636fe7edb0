#include "rules/chain.h"

#include "infra/db.h"
#include "infra/log.h"
#include "infra/metrics.h"
#include "rules/builtin.h"
#include "rules/plugins.h"

namespace cartgate::rules {

chain::chain(const config& cfg, events::bus& bus) {
  if (cfg.mmdb_file.empty()) {
    // The tor files, parsed into memory: only once a country option is set.
    config paths;
    paths.geoip_v4_file = cfg.geoip_v4_file;
    paths.geoip_v6_file = cfg.geoip_v6_file;
    rules_.push_back(make_geo_rule([paths] { return shared_country_db(paths); }, cfg.country_header));
  } else {
    // An mmdb is mapped, not parsed (cheap to hold), and one that cannot be read should
    // stop the start.
    rules_.push_back(make_geo_rule(shared_country_db(cfg), cfg.country_header));
  }
  rules_.push_back(make_schedule_rule());
  rules_.push_back(make_device_rule());
  rules_.push_back(make_client_rule());
  for (auto& r : rules_) r->start(cfg);
  for (auto& p : plugins::load_all(cfg, bus)) rules_.push_back(std::move(p));
}

chain::chain(std::vector<std::unique_ptr<rule>> rules) : rules_(std::move(rules)) {}

chain::~chain() {
  // Plugins last in, first out.
  for (auto it = rules_.rbegin(); it != rules_.rend(); ++it) {
    try {
      (*it)->stop();
    } catch (const std::exception& e) {
      log::warn("rule_stop_failed", {{"rule", std::string((*it)->name())}, {"error", e.what()}});
    }
  }
}

std::optional<failure> chain::run(context& ctx) {
  if (ctx.permission_so_far && *ctx.permission_so_far) return *ctx.permission_so_far;
  std::optional<failure> so_far;
  const std::optional<failure>* caller_view = ctx.permission_so_far;
  ctx.permission_so_far = &so_far;
  for (auto& r : rules_) {
    try {
      so_far = r->check(ctx);
    } catch (const std::exception& e) {
      // A database failure is not the rule's: the database away or a commit in doubt
      // answers 503, and a serialization failure lets the transaction be retried. Only
      // what db::classify calls a bug (or a plugin's own exception) is plugin_failed.
      auto what = db::classify(e);
      if (what == db::outcome::unavailable || what == db::outcome::retry) {
        ctx.permission_so_far = caller_view;
        throw;
      }
      log::error("rule_failed", {{"rule", std::string(r->name())}, {"error", e.what()}});
      so_far = failure{reason::plugin_failed};
    } catch (...) {
      log::error("rule_failed", {{"rule", std::string(r->name())}, {"error", "non-standard exception"}});
      so_far = failure{reason::plugin_failed};
    }
    if (so_far) {
      log::info("rule_denied", {{"rule", std::string(r->name())},
                                {"reason", std::string(reason_name(so_far->why))},
                                {"user_id", std::to_string(ctx.subject.id)},
                                {"endpoint", std::string(ctx.endpoint)}});
      metrics::add("cartgate_rule_denials_total{rule=\"" + std::string(r->name()) + "\"}");
      break;
    }
  }
  ctx.permission_so_far = caller_view;
  return so_far;
}

std::vector<std::string> chain::names() const {
  std::vector<std::string> out;
  for (auto& r : rules_) out.emplace_back(r->name());
  return out;
}

}  // namespace cartgate::rules
