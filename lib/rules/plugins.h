// C++ plugins (contract §4.6): shared objects in [plugins] directory that implement
// lib/rules/plugin_api.h. Each becomes a rules::rule at the end of the chain; the events
// it subscribes to reach it in batches from one queue per events::bus (worker process).
//
//   auto loaded = plugins::load_all(cfg, bus);   // throws plugins::load_error naming the file
//   for (auto& p : loaded) chain_rules.push_back(std::move(p));
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "infra/config.h"
#include "infra/events.h"
#include "rules/rule.h"

namespace cartgate::plugins {

class load_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The files to load: cfg.plugins inside cfg.plugin_dir, or every *.so there (sorted by
// name, so the order is stable). Empty when plugin_dir is unset.
std::vector<std::string> plugin_files(const config& cfg);

// dlopen()s and start()s each file; throws load_error ("plugin FILE: reason") when one
// cannot be opened, lacks the entry symbol, has another ABI version or fails to start.
// Plugins already started are stopped again before the throw.
std::vector<std::unique_ptr<rules::rule>> load_all(const config& cfg, events::bus& bus);

// Loads one file (used by load_all and the tests).
std::unique_ptr<rules::rule> load(const std::string& path, const config& cfg, events::bus& bus);

// The JSON a plugin's on_event receives: external fields plus a non-secret user view.
std::string event_json(const events::event& e);
// Hands one event to a loaded plugin at once, as a batch of one, if it subscribes to it
// (tests).
void deliver(rules::rule& plugin, const events::event& e);

}  // namespace cartgate::plugins
