// Events to plugins (lib/rules/plugin_api.h): batches through the bus, what plugins of
// ABI version 1 still get, and events nobody wants that are never heard. The plugins are
// real shared objects: the examples from build/plugins and a version 1 plugin built from
// tests/unit/plugins/ into build/test_plugins.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "rules/plugins.h"
#include "store/users.h"

namespace cartgate::plugins {
namespace {

namespace fs = std::filesystem;

// A data folder of the test's own, handed to the plugins through CARTGATE_PLUGIN_DATA_DIR.
struct data_dir {
  fs::path path = fs::temp_directory_path() / ("cartgate-plugin-events-" + std::to_string(::getpid()));
  data_dir() {
    fs::remove_all(path);
    fs::create_directories(path);
    ::setenv("CARTGATE_PLUGIN_DATA_DIR", path.c_str(), 1);
  }
  ~data_dir() {
    ::unsetenv("CARTGATE_PLUGIN_DATA_DIR");
    fs::remove_all(path);
  }
  std::vector<std::string> lines(const char* file) const {
    std::ifstream in(path / file);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
};

config example_plugins(std::vector<std::string> names) {
  config cfg;
  cfg.plugin_dir = CARTGATE_PLUGIN_DIR;
  cfg.plugins = std::move(names);
  return cfg;
}

std::string v1_plugin() { return std::string(CARTGATE_TEST_PLUGIN_DIR) + "/v1_event_log.so"; }

user customer(std::int64_t id) {
  user u;
  u.id = id;
  u.login = "cust" + std::to_string(id);
  u.email = u.login + "@example.com";
  u.roles = {"customer"};
  return u;
}

events::event fired(events::kind k, const user& u, std::int64_t time) {
  events::event e(k, u.id, "pat_0123456789abcdef01234567", time);
  e.subject = &u;
  e.client_ip = "192.0.2.1";
  return e;
}

TEST(PluginEvents, VersionOnePluginGetsEveryEventInOrderAsJson) {
  data_dir dir;
  user u = customer(7);
  {
    events::bus bus;
    config cfg;
    auto p = load(v1_plugin(), cfg, bus);
    EXPECT_EQ(p->name(), "v1_event_log");
    events::event gen = fired(events::kind::token_generated, u, 1767225600);
    gen.token = "eyJhbGciOiJIUzI1NiJ9.secret.sig";  // in-process only; never passed on
    bus.publish(gen);
    bus.publish(fired(events::kind::token_validated, u, 1767225601));
    bus.publish(fired(events::kind::authenticated, u, 1767225601));
    bus.publish(events::event(events::kind::token_deleted, 7, "", 1767225602));
  }  // stopped: what was queued is delivered first
  auto lines = dir.lines("v1_events.log");
  ASSERT_EQ(lines.size(), 4u);
  const char* names[] = {"token_generated ", "token_validated ", "authenticated ", "token_deleted "};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(lines[i].rfind(names[i], 0), 0u) << lines[i];
    EXPECT_NE(lines[i].find("\"user_id\":\"7\""), std::string::npos) << lines[i];
    EXPECT_EQ(lines[i].find("eyJ"), std::string::npos) << "no token in payloads";
  }
  EXPECT_NE(lines[2].find("\"login\":\"cust7\""), std::string::npos) << "the user, as in version 1";
  EXPECT_NE(lines[2].find("\"ip\":\"192.0.2.1\""), std::string::npos) << lines[2];
}

TEST(PluginEvents, BatchedPluginsGetEveryPublishedEventAndStopDeliversTheRest) {
  data_dir dir;
  user u = customer(9);
  const int requests = 1500;  // more than one batch
  {
    events::bus bus;
    auto loaded = load_all(example_plugins({"token_log.so", "api_usage.so"}), bus);
    config cfg;
    loaded.push_back(load(v1_plugin(), cfg, bus));  // an old plugin beside the new ones
    for (int i = 0; i < requests; ++i) {
      bus.publish(fired(events::kind::token_validated, u, 1767225600 + i));
      bus.publish(fired(events::kind::authenticated, u, 1767225600 + i));
    }
  }  // the chain's destruction at SIGTERM: every plugin stopped, nothing lost
  auto log = dir.lines("token_events.log");
  ASSERT_EQ(log.size(), 2u * requests);
  EXPECT_EQ(log[0], "{\"event\":\"token_validated\",\"user_id\":\"9\",\"pat\":\"pat_0123456789abcdef01234567\","
                    "\"time\":1767225600}");
  EXPECT_EQ(log[1].rfind("{\"event\":\"authenticated\"", 0), 0u) << log[1];
  bool in_order = true;
  for (int i = 0; i < requests; ++i) {
    in_order = in_order && log[2 * i].find("\"time\":" + std::to_string(1767225600 + i) + "}") != std::string::npos;
  }
  EXPECT_TRUE(in_order) << "one worker's events keep their order";
  EXPECT_EQ(dir.lines("v1_events.log").size(), 2u * requests);
  auto count = dir.lines("api_usage/9");
  ASSERT_EQ(count.size(), 1u);
  EXPECT_EQ(count[0], std::to_string(requests)) << "authenticated only, one count each";
}

TEST(PluginEvents, EventsNoLoadedPluginWantsAreNotHeard) {
  data_dir dir;
  {
    events::bus bus;
    auto loaded = load_all(example_plugins({"api_usage.so", "vip_notify.so"}), bus);
    EXPECT_TRUE(bus.wants(events::kind::authenticated));
    EXPECT_FALSE(bus.wants(events::kind::token_validated)) << "so token_validated is not even built";
    EXPECT_FALSE(bus.wants(events::kind::token_generated));
  }
  {
    events::bus bus;
    auto loaded = load_all(example_plugins({"store_channel.so"}), bus);
    EXPECT_TRUE(bus.empty()) << "a rule-only plugin listens to nothing";
    for (auto k : {events::kind::token_validated, events::kind::authenticated}) EXPECT_FALSE(bus.wants(k));
  }
  {
    events::bus bus;
    auto loaded = load_all(example_plugins({"token_log.so"}), bus);
    EXPECT_TRUE(bus.wants(events::kind::token_validated));
    EXPECT_TRUE(bus.wants(events::kind::token_deleted));
  }
}

TEST(PluginEvents, BusSkipsListenersOfOtherKinds) {
  events::bus bus;
  int heard = 0;
  auto id = bus.subscribe([&](const events::event&) { ++heard; }, events::bit(events::kind::token_deleted));
  bus.publish(events::event(events::kind::authenticated, 1));
  EXPECT_EQ(heard, 0);
  bus.publish(events::event(events::kind::token_deleted, 1));
  EXPECT_EQ(heard, 1);
  bus.add_kinds(id, events::bit(events::kind::authenticated));
  EXPECT_TRUE(bus.wants(events::kind::authenticated));
  bus.publish(events::event(events::kind::authenticated, 1));
  EXPECT_EQ(heard, 2);
}

}  // namespace
}  // namespace cartgate::plugins
