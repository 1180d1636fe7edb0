// The permission chain as tables of (request, expected decision): each built-in rule's
// pure decision, the chain's ordering and failure handling, and the example plugins
// loaded from build/plugins through the real ABI.
#include <gtest/gtest.h>

#include <functional>

#include "infra/db.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <unistd.h>

#include "http/errors.h"
#include "rules/builtin.h"
#include "rules/chain.h"
#include "rules/plugins.h"
#include "rules/rate_limit.h"

namespace cartgate::rules {
namespace {

Json::Value body_of(const http::response& r) { return *http::parse_json(r.body); }

// The client-facing answer of a decision: "allow", or "STATUS code".
std::string answer(const std::optional<failure>& f) {
  if (!f) return "allow";
  auto res = to_response(*f);
  return std::to_string(res.status) + " " + body_of(res)["code"].asString();
}

policy with(std::map<std::string, std::string> values) { return policy::from_values(values); }

TEST(GeoRule, BlockedListThenAllowList) {
  struct row {
    const char* blocked;
    const char* allowed;
    std::optional<std::string> country;
    const char* expected;
  };
  const row rows[] = {
      {"", "", "CN", "allow"},
      {"CN,RU,KP", "", "CN", "403 cocart_geo_blocked"},
      {"CN,RU,KP", "", "RU", "403 cocart_geo_blocked"},
      {"CN,RU,KP", "", "DE", "allow"},
      {"", "US,CA,GB,AU", "US", "allow"},
      {"", "US,CA,GB,AU", "DE", "403 cocart_geo_restricted"},
      {"US", "US,CA", "US", "403 cocart_geo_blocked"},  // blocked wins over allowed
      {"CN", "", std::nullopt, "allow"},                 // unknown is never "blocked"
      {"", "US", std::nullopt, "403 cocart_geo_restricted"},  // …but fails an allow list
  };
  for (const auto& r : rows) {
    auto pol = with({{"geo.blocked_countries", r.blocked}, {"geo.allowed_countries", r.allowed}});
    auto f = decide_geo(pol, r.country);
    EXPECT_EQ(answer(f), r.expected) << r.blocked << " / " << r.allowed << " / "
                                     << r.country.value_or("(none)");
    if (f) {
      auto data = body_of(to_response(*f))["data"];
      ASSERT_TRUE(data.isMember("country_code"));
      if (r.country) {
        EXPECT_EQ(data["country_code"].asString(), *r.country);
      } else {
        EXPECT_TRUE(data["country_code"].isNull());
      }
    }
  }
}

TEST(GeoRule, CountryHeaderWinsOverDatabaseWhenPresent) {
  geo::country_db empty;
  http::request req;
  req.client_ip = "8.8.8.8";
  req.headers["x-country-code"] = " de ";
  EXPECT_EQ(request_country(req, "X-Country-Code", empty).value_or(""), "DE");
  req.headers["x-country-code"] = "UK";
  EXPECT_EQ(request_country(req, "X-Country-Code", empty).value_or(""), "GB");
  req.headers["x-country-code"] = "";  // geoip2 had no answer: fall back to the database
  EXPECT_FALSE(request_country(req, "X-Country-Code", empty));
  req.headers["x-country-code"] = "FR";  // header not configured: ignored
  EXPECT_FALSE(request_country(req, "", empty));
}

TEST(ScheduleRule, NoWindowsMeansUnrestricted) {
  EXPECT_EQ(answer(decide_schedule({}, "UTC", 1772937000)), "allow");
}

TEST(ScheduleRule, WindowAcrossMidnightAndDeniedDataKeys) {
  // Saturday 22:00 → Sunday 02:00, site time Europe/Berlin (UTC+1 in January).
  std::vector<schedule::window> sat_night = {{6, 22 * 60, 2 * 60}};
  // Sat 2026-01-03 23:00 Berlin: inside, before midnight.
  EXPECT_EQ(answer(decide_schedule(sat_night, "Europe/Berlin", 1767477600)), "allow");
  // Sun 2026-01-04 01:00 Berlin: inside, after midnight.
  EXPECT_EQ(answer(decide_schedule(sat_night, "Europe/Berlin", 1767484800)), "allow");
  // Sun 2026-01-04 03:00 Berlin: outside; next opening Sat 2026-01-10 22:00 +01:00.
  auto f = decide_schedule(sat_night, "Europe/Berlin", 1767492000);
  ASSERT_EQ(answer(f), "403 cocart_time_restricted");
  auto data = body_of(to_response(*f))["data"];
  EXPECT_EQ(data["current_time"].asString(), "03:00");
  EXPECT_EQ(data["next_available"].asString(), "2026-01-10T22:00:00+01:00");
}

TEST(ScheduleRule, DstChangeUsesTheOffsetInForceAtTheOpening) {
  // Sunday 2026-03-08 US clocks spring forward at 02:00 (−05:00 → −04:00).
  std::vector<schedule::window> sunday_noon = {{0, 12 * 60, 13 * 60}};
  // Sun 01:30 EST: closed; opens at 12:00 EDT the same day.
  auto f = decide_schedule(sunday_noon, "America/New_York", 1772951400);
  ASSERT_EQ(answer(f), "403 cocart_time_restricted");
  auto data = body_of(to_response(*f))["data"];
  EXPECT_EQ(data["current_time"].asString(), "01:30");
  EXPECT_EQ(data["next_available"].asString(), "2026-03-08T12:00:00-04:00");
  // Sun 12:00 EDT: open.
  EXPECT_EQ(answer(decide_schedule(sunday_noon, "America/New_York", 1772985600)), "allow");
}

TEST(ScheduleRule, WindowThatNeverOpensGivesNullNextAvailable) {
  // A stored window that can never match (out-of-range day) leaves nothing to wait for.
  std::vector<schedule::window> never = {{9, 0, 10}};
  auto f = decide_schedule(never, "UTC", 1772937000);
  ASSERT_EQ(answer(f), "403 cocart_time_restricted");
  EXPECT_TRUE(body_of(to_response(*f))["data"]["next_available"].isNull());
}

TEST(DeviceRule, RequiredMissingUnregisteredRegistered) {
  struct row {
    bool required;
    const char* device_id;
    bool registered;
    const char* expected;
  };
  const row rows[] = {
      {false, "", false, "allow"},
      {true, "", false, "400 cocart_device_id_required"},
      {true, "phone-1", false, "403 cocart_device_not_registered"},
      {true, "phone-1", true, "allow"},
  };
  for (const auto& r : rows) {
    auto f = decide_device(r.required, r.device_id, r.registered);
    EXPECT_EQ(answer(f), r.expected) << r.device_id;
  }
  auto f = decide_device(true, "phone-1", false);
  EXPECT_TRUE(body_of(to_response(*f))["data"]["device_registration_required"].asBool());
}

TEST(DeviceRule, PolicyAppliesToAllOrListedRoles) {
  EXPECT_FALSE(with({}).device_required_for({"customer"}));
  EXPECT_TRUE(with({{"device.required", "all"}}).device_required_for({"customer"}));
  auto vip = with({{"device.required", "vip_customer"}});
  EXPECT_TRUE(vip.device_required_for({"customer", "vip_customer"}));
  EXPECT_FALSE(vip.device_required_for({"customer"}));
}

TEST(DeviceRule, DeviceIdParamAcceptsStringsAndNumbers) {
  Json::Value p(Json::objectValue);
  EXPECT_EQ(http::param_text(p, "device_id"), "");
  p["device_id"] = "abc";
  EXPECT_EQ(http::param_text(p, "device_id"), "abc");
  p["device_id"] = 42;
  EXPECT_EQ(http::param_text(p, "device_id"), "42");
  p["device_id"] = Json::Value(Json::objectValue);
  EXPECT_EQ(http::param_text(p, "device_id"), "");
}

TEST(ClientRule, UnknownClientAndSemverMinimum) {
  struct row {
    const char* client_id;
    const char* app_version;
    std::optional<client_row> known;
    const char* expected;
  };
  const row rows[] = {
      {"", "0.1.0", std::nullopt, "allow"},  // no X-Client-ID: no check (seed)
      {"ios-app", "", std::nullopt, "400 cocart_unknown_client"},
      {"ios-app", "1.0.0", client_row{""}, "allow"},  // no minimum
      {"ios-app", "", client_row{"2.0.0"}, "allow"},  // no version sent (seed)
      {"ios-app", "1.9.9", client_row{"2.0.0"}, "426 cocart_outdated_client"},
      {"ios-app", "1.2.9", client_row{"1.2.10"}, "426 cocart_outdated_client"},  // not text order
      {"ios-app", "1.2.10", client_row{"1.2.9"}, "allow"},
      {"ios-app", "2.0.0-beta.1", client_row{"2.0.0"}, "426 cocart_outdated_client"},
      {"ios-app", "2", client_row{"2.0.0"}, "allow"},
      {"ios-app", "not-a-version", client_row{"1.0.0"}, "426 cocart_outdated_client"},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(answer(decide_client(r.client_id, r.app_version, r.known)), r.expected)
        << r.client_id << " " << r.app_version;
  }
  auto f = decide_client("ios-app", "1.9.9", client_row{"2.0.0"});
  auto data = body_of(to_response(*f))["data"];
  EXPECT_EQ(data["current_version"].asString(), "1.9.9");
  EXPECT_EQ(data["minimum_version"].asString(), "2.0.0");
}

// --- the chain --------------------------------------------------------------------

class fake_rule : public rule {
 public:
  enum class does { allow, deny, throw_error };
  fake_rule(std::string name, does d, std::vector<std::string>* trace)
      : name_(std::move(name)), does_(d), trace_(trace) {}
  std::string_view name() const override { return name_; }
  std::optional<failure> check(context& c) override {
    trace_->push_back(name_ + (c.permission_so_far && *c.permission_so_far ? ":denied" : ":allowed"));
    if (does_ == does::deny) return failure{reason::geo_blocked};
    if (does_ == does::throw_error) throw std::runtime_error("boom");
    return std::nullopt;
  }

 private:
  std::string name_;
  does does_;
  std::vector<std::string>* trace_;
};

struct fixture {
  http::request req;
  Json::Value params{Json::objectValue};
  user subject;
  pqxx::nullconnection conn;  // rules under test never reach the database
  pqxx::nontransaction tx{conn};
  policy pol = policy::defaults();
  context ctx() { return context{req, params, subject, "login", pol, 1772937000, tx}; }
};

std::unique_ptr<chain> chain_of(std::vector<std::pair<const char*, fake_rule::does>> spec,
                                std::vector<std::string>* trace) {
  std::vector<std::unique_ptr<rule>> rules;
  for (auto& [n, d] : spec) rules.push_back(std::make_unique<fake_rule>(n, d, trace));
  return std::make_unique<chain>(std::move(rules));
}

TEST(Chain, RunsInOrderAndFirstDenialWins) {
  using d = fake_rule::does;
  struct row {
    std::vector<std::pair<const char*, d>> spec;
    const char* expected;
    std::vector<std::string> trace;
  };
  const std::vector<row> rows = {
      {{{"a", d::allow}, {"b", d::allow}}, "allow", {"a:allowed", "b:allowed"}},
      {{{"a", d::allow}, {"b", d::deny}, {"c", d::allow}}, "403 cocart_geo_blocked",
       {"a:allowed", "b:allowed"}},
      {{{"a", d::throw_error}, {"b", d::allow}}, "500 cocart_internal_error", {"a:allowed"}},
      {{}, "allow", {}},
  };
  for (const auto& r : rows) {
    std::vector<std::string> trace;
    auto c = chain_of(r.spec, &trace);
    fixture fx;
    auto ctx = fx.ctx();
    auto f = c->run(ctx);
    EXPECT_EQ(answer(f), r.expected);
    EXPECT_EQ(trace, r.trace);
    if (f && f->why == reason::plugin_failed) {
      EXPECT_EQ(body_of(to_response(*f)).toStyledString().find("boom"), std::string::npos)
          << "a rule's exception text never reaches the client";
    }
  }
}

TEST(Chain, EarlierDenialPassedInIsReturnedWithoutRunningRules) {
  std::vector<std::string> trace;
  auto c = chain_of({{"a", fake_rule::does::allow}}, &trace);
  fixture fx;
  std::optional<failure> earlier = failure{reason::time_restricted};
  auto ctx = fx.ctx();
  ctx.permission_so_far = &earlier;
  EXPECT_EQ(answer(c->run(ctx)), "403 cocart_time_restricted");
  EXPECT_TRUE(trace.empty());
}

// A rule whose database work fails the way PostgreSQL fails.
class failing_db_rule : public rule {
 public:
  explicit failing_db_rule(std::function<void()> fail) : fail_(std::move(fail)) {}
  std::string_view name() const override { return "failing_db"; }
  std::optional<failure> check(context&) override {
    fail_();
    return std::nullopt;
  }

 private:
  std::function<void()> fail_;
};

TEST(Chain, DatabaseAwayOrCommitInDoubtInsideARuleIsNotAPluginFailure) {
  // Each of these must leave the chain (the route answers 503, or the transaction is
  // retried), never become 500 plugin_failed.
  const std::vector<std::pair<const char*, std::function<void()>>> rows = {
      {"admin shutdown 57P01", [] { throw pqxx::sql_error("terminating connection", "SELECT 1", "57P01"); }},
      {"cannot connect now 57P03", [] { throw pqxx::sql_error("starting up", "SELECT 1", "57P03"); }},
      {"connection exception 08006", [] { throw pqxx::sql_error("connection failure", "SELECT 1", "08006"); }},
      {"in doubt", [] { throw pqxx::in_doubt_error("commit in doubt"); }},
      {"broken connection", [] { throw pqxx::broken_connection("gone"); }},
      {"serialization failure 40001", [] { throw pqxx::serialization_failure("could not serialize access"); }},
  };
  for (const auto& [what, fail] : rows) {
    std::vector<std::unique_ptr<rule>> rules;
    rules.push_back(std::make_unique<failing_db_rule>(fail));
    chain c(std::move(rules));
    fixture fx;
    auto ctx = fx.ctx();
    try {
      auto f = c.run(ctx);
      ADD_FAILURE() << what << ": the chain answered " << answer(f);
    } catch (const std::exception& e) {
      auto outcome = db::classify(e);
      EXPECT_TRUE(outcome == db::outcome::unavailable || outcome == db::outcome::retry) << what;
    }
    EXPECT_EQ(ctx.permission_so_far, nullptr) << what << ": the caller's view is restored";
  }
}

TEST(Chain, OtherSqlErrorInsideARuleIsAPluginFailure) {
  std::vector<std::unique_ptr<rule>> rules;
  rules.push_back(std::make_unique<failing_db_rule>(
      [] { throw pqxx::sql_error("relation \"nope\" does not exist", "SELECT 1 FROM nope", "42P01"); }));
  chain c(std::move(rules));
  fixture fx;
  auto ctx = fx.ctx();
  EXPECT_EQ(answer(c.run(ctx)), "500 cocart_internal_error");
}

// --- plugins through the real ABI --------------------------------------------------

std::string plugin_path(const char* name) { return std::string(CARTGATE_PLUGIN_DIR) + "/" + name; }

TEST(Plugins, StoreChannelRuleAsTable) {
  config cfg;
  events::bus bus;
  auto p = plugins::load(plugin_path("store_channel.so"), cfg, bus);
  EXPECT_EQ(p->name(), "store_channel");
  struct row {
    const char* channel;  // nullptr = header absent
    std::vector<std::string> roles;
    const char* expected;
  };
  const row rows[] = {
      {nullptr, {"customer"}, "allow"},
      {"web", {"customer"}, "allow"},
      {"kiosk", {"customer"}, "400 cocart_invalid_store_channel"},
      {"pos", {"customer"}, "403 cocart_store_channel_forbidden"},
      {"pos", {"customer", "shop_manager"}, "allow"},
  };
  for (const auto& r : rows) {
    fixture fx;
    if (r.channel) fx.req.headers["x-store-channel"] = r.channel;
    fx.subject.roles = r.roles;
    auto ctx = fx.ctx();
    auto f = p->check(ctx);
    EXPECT_EQ(answer(f), r.expected) << (r.channel ? r.channel : "(none)");
  }
  fixture fx;
  fx.req.headers["x-store-channel"] = "kiosk";
  auto ctx = fx.ctx();
  auto data = body_of(to_response(*p->check(ctx)))["data"];
  EXPECT_EQ(data["channel"].asString(), "kiosk");
  EXPECT_EQ(data["allowed_channels"].size(), 4u);
  EXPECT_EQ(data["status"].asInt(), 400);
}

TEST(Plugins, LoadFailureNamesTheFile) {
  config cfg;
  events::bus bus;
  try {
    plugins::load(plugin_path("does_not_exist.so"), cfg, bus);
    FAIL() << "expected load_error";
  } catch (const plugins::load_error& e) {
    EXPECT_NE(std::string(e.what()).find("does_not_exist.so"), std::string::npos);
  }
  cfg.plugin_dir = CARTGATE_PLUGIN_DIR;
  cfg.plugins = {"store_channel.so", "missing.so"};
  EXPECT_THROW(plugins::load_all(cfg, bus), plugins::load_error);
}

TEST(Plugins, EventPluginsLogAndCountWithoutTokens) {
  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path() / ("cartgate-plugins-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ::setenv("CARTGATE_PLUGIN_DATA_DIR", dir.c_str(), 1);
  config cfg;
  cfg.plugin_dir = CARTGATE_PLUGIN_DIR;
  cfg.plugins = {"token_log.so", "api_usage.so"};
  {
    events::bus bus;
    auto loaded = plugins::load_all(cfg, bus);
    ASSERT_EQ(loaded.size(), 2u);
    user u;
    u.id = 7;
    u.roles = {"customer"};
    events::event gen(events::kind::token_generated, 7, "pat_0123456789abcdef01234567", 1767225600);
    gen.token = "eyJhbGciOiJIUzI1NiJ9.secret.sig";  // in-process only; never passed on
    gen.subject = &u;
    gen.client_ip = "192.0.2.1";
    events::event auth(events::kind::authenticated, 7, "pat_0123456789abcdef01234567", 1767225601);
    auth.subject = &u;
    for (auto* e : {&gen, &auth, &auth}) {
      EXPECT_EQ(plugins::event_json(*e).find("eyJ"), std::string::npos) << "no token in payloads";
      for (auto& p : loaded) plugins::deliver(*p, *e);
    }
  }  // plugins stopped and unloaded here
  std::ifstream log(dir / "token_events.log");
  std::string line, all;
  int lines = 0;
  while (std::getline(log, line)) {
    ++lines;
    all += line + "\n";
  }
  EXPECT_EQ(lines, 3);
  EXPECT_NE(all.find("\"event\":\"token_generated\""), std::string::npos) << all;
  EXPECT_NE(all.find("\"user_id\":\"7\""), std::string::npos) << all;
  EXPECT_EQ(all.find("eyJ"), std::string::npos) << "the log never holds a token";
  std::ifstream count(dir / "api_usage" / "7");
  std::string n;
  count >> n;
  EXPECT_EQ(n, "2") << "two authenticated events, one count each";
  ::unsetenv("CARTGATE_PLUGIN_DATA_DIR");
  fs::remove_all(dir);
}

TEST(RateLimit, HeadersAndDenialShape) {
  rate_limit::verdict v{true, 5, 0, 1767226500, 900};
  auto f = rate_limit::denial(v, reason::login_rate_limited);
  auto res = to_response(f);
  EXPECT_EQ(res.status, 429);
  auto body = body_of(res);
  EXPECT_EQ(body["code"].asString(), "cocart_rate_limited");
  EXPECT_EQ(body["message"].asString(), "Too many login attempts. Please try again later.");
  EXPECT_EQ(body["data"]["retry_after"].asInt64(), 900);
  std::map<std::string, std::string> h;
  for (auto& x : res.headers) h[x.name] = x.value;
  EXPECT_EQ(h["X-RateLimit-Limit"], "5");
  EXPECT_EQ(h["X-RateLimit-Remaining"], "0");
  EXPECT_EQ(h["X-RateLimit-Reset"], "1767226500");
  EXPECT_EQ(h["Retry-After"], "900");
  EXPECT_TRUE(rate_limit::headers(rate_limit::verdict{}).empty()) << "disabled: no headers";
  rate_limit::verdict ok{false, 10, 7, 1767226500, 0};
  auto oh = rate_limit::headers(ok);
  EXPECT_EQ(oh.size(), 3u) << "no Retry-After while not limited";
}

TEST(RateLimit, StricterPrefersTheLimitedAndLongerWait) {
  rate_limit::verdict a{false, 5, 3, 100, 0}, b{true, 5, 0, 200, 50}, c{true, 5, 0, 300, 150};
  EXPECT_TRUE(rate_limit::stricter(a, b).limited);
  EXPECT_EQ(rate_limit::stricter(b, c).retry_after, 150);
  EXPECT_EQ(rate_limit::stricter(rate_limit::verdict{}, a).remaining, 3);
}

TEST(RateLimit, IpKeyKeepsAnIpv4AddressWhole) {
  EXPECT_EQ(rate_limit::ip_key("192.0.2.1", 64), "192.0.2.1");
  EXPECT_NE(rate_limit::ip_key("192.0.2.1", 64), rate_limit::ip_key("192.0.2.2", 64))
      << "neighbouring IPv4 addresses are different clients";
  EXPECT_EQ(rate_limit::ip_key("::ffff:192.0.2.1", 64), "192.0.2.1") << "IPv4-mapped counts as IPv4";
}

TEST(RateLimit, IpKeyCountsAnIpv6ClientByItsPrefix) {
  EXPECT_EQ(rate_limit::ip_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64), "2001:db8:1:2::/64");
  EXPECT_EQ(rate_limit::ip_key("2001:db8:1:2::1", 64), rate_limit::ip_key("2001:db8:1:2:ffff::9", 64))
      << "one /64, one bucket";
  EXPECT_EQ(rate_limit::ip_key("2001:DB8:1:2::1", 64), rate_limit::ip_key("2001:db8:1:2:0:0:0:1", 64))
      << "spelling does not matter";
  EXPECT_NE(rate_limit::ip_key("2001:db8:1:2::1", 64), rate_limit::ip_key("2001:db8:1:3::1", 64))
      << "the next /64 is another client";
}

TEST(RateLimit, IpKeyFollowsTheConfiguredPrefix) {
  EXPECT_EQ(rate_limit::ip_key("2001:db8:1:2::1", 48), "2001:db8:1::/48");
  EXPECT_EQ(rate_limit::ip_key("2001:db8:1:2::1", 56), rate_limit::ip_key("2001:db8:1:ff::1", 56));
  EXPECT_EQ(rate_limit::ip_key("2001:db8:1:2::1", 60), "2001:db8:1::/60");
  EXPECT_EQ(rate_limit::ip_key("2001:db8::1", 128), "2001:db8::1/128");
  EXPECT_NE(rate_limit::ip_key("2001:db8::1", 128), rate_limit::ip_key("2001:db8::2", 128));
}

TEST(RateLimit, IpKeyLeavesWhatIsNotAnAddressAsGiven) {
  EXPECT_EQ(rate_limit::ip_key("", 64), "");
  EXPECT_EQ(rate_limit::ip_key("not-an-ip", 64), "not-an-ip");
}

TEST(RateLimit, LoginBucketsKeepAccountsAndTriedNamesApart) {
  EXPECT_EQ(rate_limit::login_user_bucket(42), "login:user:42");
  EXPECT_EQ(rate_limit::login_name_bucket("42"), "login:name:42");
  EXPECT_NE(rate_limit::login_user_bucket(42), rate_limit::login_name_bucket("42"));
  EXPECT_EQ(rate_limit::login_name_bucket("Alice"), rate_limit::login_name_bucket("alice"));
  EXPECT_EQ(rate_limit::login_ip_bucket("192.0.2.1"), "login:ip:192.0.2.1");
}

TEST(Options, Ipv6PrefixDefaultsToA64AndIsBounded) {
  EXPECT_EQ(policy::from_values({}).ipv6_prefix, 64);
  EXPECT_EQ(policy::from_values({{"rate_limit.ipv6_prefix", "56"}}).ipv6_prefix, 56);
  EXPECT_THROW(validate_option("rate_limit.ipv6_prefix", "0"), option_error);
  EXPECT_THROW(validate_option("rate_limit.ipv6_prefix", "129"), option_error);
}

TEST(Options, RuleEndpointSwitchesAreValidated) {
  EXPECT_EQ(validate_option("rules.on_refresh", "true"), "true");
  EXPECT_THROW(validate_option("rules.on_validate", "yes"), option_error);
  EXPECT_TRUE(with({{"rules.on_refresh", "true"}}).rules_on_refresh);
  EXPECT_FALSE(policy::defaults().rules_on_validate);
}

// A worker that never checks a country never parses the tor files (~14 MiB of ranges):
// the rule loads its database the first time a country option asks, and only then.
TEST(GeoRule, DatabaseIsLoadedOnlyOnceACountryOptionIsSet) {
  int loads = 0;
  auto rule = make_geo_rule(
      [&loads] {
        ++loads;
        return std::make_shared<const geo::country_db>();
      },
      "X-Country-Code");
  fixture fx;
  fx.req.headers["x-country-code"] = "CN";
  auto ctx = fx.ctx();
  EXPECT_EQ(answer(rule->check(ctx)), "allow");
  EXPECT_EQ(loads, 0);
  fx.pol = with({{"geo.blocked_countries", "CN"}});
  auto limited = fx.ctx();
  EXPECT_EQ(answer(rule->check(limited)), "403 cocart_geo_blocked");
  EXPECT_EQ(answer(rule->check(limited)), "403 cocart_geo_blocked");
  EXPECT_EQ(loads, 1);
}

}  // namespace
}  // namespace cartgate::rules
