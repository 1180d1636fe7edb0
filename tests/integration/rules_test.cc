// Issue 5 through nginx: every error of seed 001 with every data key, real public IPs
// (X-Forwarded-For from the trusted loopback proxy) resolved by the real tor-geoipdb
// data, rate limits shared by two pools on one database, live option changes, time
// windows across midnight, and the example plugins' effects.
#include <date/tz.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include "support/stack.h"

namespace cartgate::test {
namespace {

using namespace std::chrono_literals;

// Resets an option when the test ends, also on failure.
struct option_guard {
  std::vector<std::string> keys;
  ~option_guard() {
    for (auto& k : keys) unset_option(k);
  }
  void set(const std::string& k, const std::string& v) {
    keys.push_back(k);
    set_option(k, v);
  }
};

// An address from TEST-NET-3 no other test uses, so per-IP counters start at zero.
std::string fresh_ip() {
  static std::mt19937 rng(std::random_device{}());
  return "203.0.113." + std::to_string(std::uniform_int_distribution<int>(1, 254)(rng)) + "";
}
std::string fresh_v6() {
  static std::mt19937 rng(std::random_device{}());
  char buf[64];
  std::snprintf(buf, sizeof buf, "2001:db8::%x:%x", std::uniform_int_distribution<int>(1, 65535)(rng),
                std::uniform_int_distribution<int>(1, 65535)(rng));
  return buf;
}

http_result login(const test_user& u, const std::string& ip, std::vector<std::string> headers = {},
                  Json::Value extra = Json::Value(Json::objectValue), int port = 0,
                  std::string password = "") {
  Json::Value body = extra;
  body["username"] = u.login;
  body["password"] = password.empty() ? u.password : password;
  http_options o;
  o.forwarded_for = ip;
  o.headers = std::move(headers);
  o.port = port;
  return post_json(login_path, body, o);
}

class Rules : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!login_route_available()) GTEST_SKIP() << "login route not available";
  }
};

// ---- geolocation -----------------------------------------------------------------

TEST_F(Rules, GeoBlockedCountriesDenyRealAddressesWithCountryCode) {
  option_guard g;
  g.set("geo.blocked_countries", "CN,RU,KP");
  auto u = make_user();
  struct row {
    const char* ip;
    const char* country;
  };
  for (auto r : {row{"114.114.114.114", "CN"}, row{"77.88.8.8", "RU"}}) {
    auto res = login(u, r.ip);
    ASSERT_TRUE(is_error(res, 403, "cocart_geo_blocked")) << r.ip << " " << res.body;
    EXPECT_EQ(res.json()["data"]["country_code"].asString(), r.country);
    EXPECT_EQ(res.json()["message"].asString(), "Access from your location is not permitted");
  }
  EXPECT_EQ(login(u, "8.8.8.8").status, 200);
  EXPECT_EQ(login(u, "85.214.132.117").status, 200);
}

TEST_F(Rules, GeoAllowListRestrictsOtherRegionsIpv4AndIpv6) {
  option_guard g;
  g.set("geo.allowed_countries", "US,CA,GB,AU");
  auto u = make_user();
  auto de = login(u, "85.214.132.117");
  ASSERT_TRUE(is_error(de, 403, "cocart_geo_restricted")) << de.body;
  EXPECT_EQ(de.json()["data"]["country_code"].asString(), "DE");
  EXPECT_EQ(de.json()["message"].asString(), "Access is restricted to approved regions only");
  EXPECT_EQ(login(u, "8.8.8.8").status, 200);
  EXPECT_EQ(login(u, "2001:4860:4860::8888").status, 200);  // Google DNS, US, via geoip6
  // A private address has no country, so it is outside any allow list. (A fresh one:
  // 127.0.0.1's login failure bucket belongs to the other suites.)
  auto local = login(u, "10.77." + fresh_ip().substr(10) + ".1");
  ASSERT_TRUE(is_error(local, 403, "cocart_geo_restricted")) << local.body;
  EXPECT_TRUE(local.json()["data"]["country_code"].isNull());
}

TEST_F(Rules, OptionChangeReachesRunningWorkersWithoutRestart) {
  auto u = make_user();
  int master = pool_master_pid();
  auto before = worker_pids(master);
  ASSERT_EQ(login(u, "77.88.8.8").status, 200);
  {
    option_guard g;
    g.set("geo.blocked_countries", "RU");
    // Every worker answers (several requests spread over the pool).
    for (int i = 0; i < 6; ++i) EXPECT_TRUE(is_error(login(u, "77.88.8.8"), 403, "cocart_geo_blocked"));
  }
  EXPECT_TRUE(eventually([&] { return login(u, "77.88.8.8").status == 200; }, 2s));
  EXPECT_EQ(worker_pids(master), before) << "no worker was restarted";
}

TEST_F(Rules, InvalidOptionValuesAreRefusedByTheCli) {
  EXPECT_NE(cli({"option", "set", "geo.blocked_countries", "XX"}).status, 0);
  EXPECT_NE(cli({"option", "set", "site.timezone", "Mars/Olympus"}).status, 0);
  EXPECT_NE(cli({"option", "set", "rate_limit.login.max", "lots"}).status, 0);
  EXPECT_NE(cli({"option", "set", "rules.on_refresh", "maybe"}).status, 0);
}

// ---- time windows ----------------------------------------------------------------

// A fixed-offset zone in which the wall clock now shows 03:xx, so windows can be placed
// around midnight without racing the real clock. Etc/GMT-N is UTC+N (POSIX sign).
std::string zone_showing_three_am() {
  auto now = std::chrono::floor<std::chrono::minutes>(std::chrono::system_clock::now());
  auto hour = std::chrono::duration_cast<std::chrono::hours>(now - std::chrono::floor<date::days>(now)).count();
  int k = static_cast<int>((3 - hour + 48) % 24);  // UTC+k shows 03:xx
  if (k == 0) return "Etc/GMT";
  if (k <= 14) return "Etc/GMT-" + std::to_string(k);
  return "Etc/GMT+" + std::to_string(24 - k);
}

TEST_F(Rules, WindowAcrossMidnightAllowsAfterMidnightAndDeniesAfterItEnds) {
  option_guard g;
  std::string tz = zone_showing_three_am();
  g.set("site.timezone", tz);
  auto zt = date::make_zoned(tz, std::chrono::system_clock::now());
  auto local = zt.get_local_time();
  if (std::chrono::floor<std::chrono::minutes>(local - date::floor<date::days>(local)).count() > 3 * 60 + 55) {
    GTEST_SKIP() << "too close to 04:00 in " << tz;
  }
  auto today = date::floor<date::days>(local);
  int weekday = static_cast<int>(date::weekday(today).c_encoding());
  int yesterday = (weekday + 6) % 7;
  auto u = make_user();

  // Yesterday 22:00 → today 05:00 covers 03:xx.
  ASSERT_EQ(cli({"schedule", "set", u.login, "--day", std::to_string(yesterday), "--from", "22:00",
                 "--to", "05:00"}).status, 0);
  EXPECT_EQ(login(u, "8.8.8.8").status, 200);

  // Yesterday 22:00 → today 02:00 has ended; it opens again in 6 days at 22:00.
  ASSERT_EQ(cli({"schedule", "clear", u.login}).status, 0);
  ASSERT_EQ(cli({"schedule", "set", u.login, "--day", std::to_string(yesterday), "--from", "22:00",
                 "--to", "02:00"}).status, 0);
  auto res = login(u, "8.8.8.8");
  ASSERT_TRUE(is_error(res, 403, "cocart_time_restricted")) << res.body;
  auto data = res.json()["data"];
  EXPECT_EQ(data["current_time"].asString().substr(0, 3), "03:");
  auto next_local = today + date::days(6) + std::chrono::hours(22);
  auto offset = zt.get_info().offset;
  auto off_min = std::chrono::duration_cast<std::chrono::minutes>(offset).count();
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%c%02d:%02d", off_min < 0 ? '-' : '+',
                static_cast<int>(std::abs(off_min) / 60), static_cast<int>(std::abs(off_min) % 60));
  EXPECT_EQ(data["next_available"].asString(), date::format("%Y-%m-%dT%H:%M:%S", next_local) + suffix);
  EXPECT_EQ(res.json()["message"].asString(), "Access is not permitted at this time");

  ASSERT_EQ(cli({"schedule", "clear", u.login}).status, 0);
  EXPECT_EQ(login(u, "8.8.8.8").status, 200) << "no windows: unrestricted";
}

TEST_F(Rules, NextAvailableCarriesTheDstOffsetInForceThen) {
  // In a DST zone, the expected offset is computed for the opening instant itself, so
  // the test holds whether or not a change falls within the coming week.
  option_guard g;
  g.set("site.timezone", "America/New_York");
  auto u = make_user();
  auto zt = date::make_zoned("America/New_York", std::chrono::system_clock::now());
  auto today = date::floor<date::days>(zt.get_local_time());
  int weekday = static_cast<int>(date::weekday(today).c_encoding());
  int in_three_days = (weekday + 3) % 7;
  ASSERT_EQ(cli({"schedule", "set", u.login, "--day", std::to_string(in_three_days), "--from", "12:00",
                 "--to", "12:30"}).status, 0);
  auto res = login(u, "8.8.8.8");
  ASSERT_TRUE(is_error(res, 403, "cocart_time_restricted")) << res.body;
  auto opening = date::make_zoned("America/New_York", today + date::days(3) + std::chrono::hours(12));
  auto off = std::chrono::duration_cast<std::chrono::minutes>(opening.get_info().offset).count();
  char expected[40];
  std::snprintf(expected, sizeof expected, "%s-%02d:00",
                date::format("%Y-%m-%dT%H:%M:%S", opening.get_local_time()).c_str(),
                static_cast<int>(-off / 60));
  EXPECT_EQ(res.json()["data"]["next_available"].asString(), expected);
}

TEST_F(Rules, ScheduleCliRejectsBadInput) {
  auto u = make_user();
  EXPECT_NE(cli({"schedule", "set", u.login, "--day", "7", "--from", "09:00", "--to", "10:00"}).status, 0);
  EXPECT_NE(cli({"schedule", "set", u.login, "--day", "1", "--from", "25:00", "--to", "10:00"}).status, 0);
  EXPECT_NE(cli({"schedule", "set", "no_such_user_x", "--day", "1", "--from", "09:00", "--to", "10:00"}).status, 0);
}

// ---- devices ---------------------------------------------------------------------

TEST_F(Rules, DeviceRequiredForListedRoleMissingUnregisteredRegistered) {
  option_guard g;
  g.set("device.required", "device_tester");
  auto u = make_user({"--role", "device_tester"});
  auto other = make_user();
  EXPECT_EQ(login(other, "8.8.8.8").status, 200) << "the rule applies to the listed role only";

  auto missing = login(u, "8.8.8.8");
  ASSERT_TRUE(is_error(missing, 400, "cocart_device_id_required")) << missing.body;
  EXPECT_EQ(missing.json()["message"].asString(), "Device ID is required for authentication");

  Json::Value with_device(Json::objectValue);
  with_device["device_id"] = "phone-1";
  auto unregistered = login(u, "8.8.8.8", {}, with_device);
  ASSERT_TRUE(is_error(unregistered, 403, "cocart_device_not_registered")) << unregistered.body;
  EXPECT_TRUE(unregistered.json()["data"]["device_registration_required"].asBool());
  EXPECT_EQ(unregistered.json()["message"].asString(), "This device is not registered for this account");

  ASSERT_EQ(cli({"device", "add", u.email, "phone-1", "--label", "Test phone"}).status, 0);
  EXPECT_NE(cli({"device", "list", u.login}).out.find("phone-1\tTest phone"), std::string::npos);
  EXPECT_EQ(login(u, "8.8.8.8", {}, with_device).status, 200);
  ASSERT_EQ(cli({"device", "remove", std::to_string(u.id), "phone-1"}).status, 0);
  EXPECT_TRUE(is_error(login(u, "8.8.8.8", {}, with_device), 403, "cocart_device_not_registered"));
  EXPECT_NE(cli({"device", "remove", u.login, "phone-1"}).status, 0) << "already gone";
}

// ---- client headers ----------------------------------------------------------------

TEST_F(Rules, ClientHeadersUnknownOutdatedAndRecorded) {
  auto u = make_user();
  std::string client = unique_name("app");
  ASSERT_EQ(cli({"client", "add", client, "--min-version", "2.1.0"}).status, 0);
  EXPECT_NE(cli({"client", "add", unique_name("app"), "--min-version", "two"}).status, 0);

  auto unknown = login(u, "8.8.8.8", {"X-Client-ID: " + unique_name("nope")});
  ASSERT_TRUE(is_error(unknown, 400, "cocart_unknown_client")) << unknown.body;
  EXPECT_EQ(unknown.json()["message"].asString(), "Unknown client identifier.");

  auto old = login(u, "8.8.8.8", {"X-Client-ID: " + client, "X-App-Version: 2.0.10"});
  ASSERT_TRUE(is_error(old, 426, "cocart_outdated_client")) << old.body;
  EXPECT_EQ(old.json()["data"]["current_version"].asString(), "2.0.10");
  EXPECT_EQ(old.json()["data"]["minimum_version"].asString(), "2.1.0");
  EXPECT_EQ(old.json()["message"].asString(), "Client version is outdated and no longer supported.");

  EXPECT_EQ(login(u, "8.8.8.8", {"X-Client-ID: " + client, "X-App-Version: 2.10.0"}).status, 200)
      << "semantic, not textual, comparison";
  auto c = db();
  pqxx::read_transaction t(c);
  auto row = t.exec_params("SELECT client_id, app_version FROM client_info WHERE user_id = $1", u.id);
  ASSERT_EQ(row.size(), 1u);
  EXPECT_EQ(row[0][0].as<std::string>(), client);
  EXPECT_EQ(row[0][1].as<std::string>(), "2.10.0");
  t.commit();
  ASSERT_EQ(cli({"client", "remove", client}).status, 0);
  EXPECT_TRUE(is_error(login(u, "8.8.8.8", {"X-Client-ID: " + client}), 400, "cocart_unknown_client"));
}

// ---- rate limits -------------------------------------------------------------------

TEST_F(Rules, LoginFailuresPerIpHoldAcrossTwoPoolsAndBlockCorrectPasswords) {
  option_guard g;
  g.set("rate_limit.login.max", "3");
  pool_b b;
  b.start(1);
  auto u = make_user();
  auto other = make_user();
  std::string ip = fresh_ip();
  // Failures alternate between the main pool and pool B: one shared count.
  for (int i = 0; i < 3; ++i) {
    auto r = login(i % 2 ? other : u, ip, {}, Json::Value(Json::objectValue), i % 2 ? pool_b::port() : 0,
                   "wrong-password");
    ASSERT_TRUE(is_error(r, 401, "cocart_authentication_error")) << r.body;
    EXPECT_EQ(r.header("X-RateLimit-Limit"), "3");
    EXPECT_EQ(r.header("X-RateLimit-Remaining"), std::to_string(2 - i));
    EXPECT_FALSE(r.header("X-RateLimit-Reset").empty());
  }
  for (int port : {0, pool_b::port()}) {
    auto limited = login(u, ip, {}, Json::Value(Json::objectValue), port);  // correct password
    ASSERT_TRUE(is_error(limited, 429, "cocart_rate_limited")) << limited.body;
    EXPECT_EQ(limited.json()["message"].asString(), "Too many login attempts. Please try again later.");
    auto retry = limited.json()["data"]["retry_after"].asInt64();
    EXPECT_GT(retry, 800);
    EXPECT_LE(retry, 900);
    EXPECT_EQ(limited.header("Retry-After"), std::to_string(retry));
    EXPECT_EQ(limited.header("X-RateLimit-Remaining"), "0");
  }
  EXPECT_EQ(login(u, fresh_ip() == ip ? "198.51.100.7" : fresh_ip()).status, 200) << "another IP is fine";
}

TEST_F(Rules, LoginFailuresPerAccountLimitAcrossIps) {
  option_guard g;
  g.set("rate_limit.login.max", "2");
  auto u = make_user();
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(login(u, fresh_v6(), {}, Json::Value(Json::objectValue), 0, "wrong").status, 401);
  }
  auto limited = login(u, fresh_v6());
  EXPECT_TRUE(is_error(limited, 429, "cocart_rate_limited")) << limited.body;
}

TEST_F(Rules, RefreshAndValidateCountEveryCallPerIp) {
  option_guard g;
  g.set("rate_limit.refresh.max", "3");
  pool_b b;
  b.start(1);
  std::string ip = fresh_ip();
  http_options o;
  o.forwarded_for = ip;
  Json::Value body(Json::objectValue);
  body["refresh_token"] = std::string(128, 'a');
  for (int i = 0; i < 3; ++i) {
    o.port = i % 2 ? pool_b::port() : 0;
    auto r = post_json("/wp-json/cocart/jwt/refresh-token", body, o);
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(r.header("X-RateLimit-Remaining"), std::to_string(2 - i));
  }
  auto limited = post_json("/wp-json/cocart/jwt/refresh-token", body, o);
  ASSERT_TRUE(is_error(limited, 429, "cocart_rate_limited")) << limited.body;
  EXPECT_TRUE(limited.json()["data"].isMember("retry_after"));
  EXPECT_FALSE(limited.header("Retry-After").empty());

  // validate-token: CoCart's default 2 per minute.
  http_options v;
  v.method = "POST";
  v.forwarded_for = fresh_v6();
  v.bearer = "not-a-token";
  EXPECT_EQ(http("/wp-json/cocart/jwt/validate-token", v).status, 401);
  v.port = pool_b::port();
  EXPECT_EQ(http("/wp-json/cocart/jwt/validate-token", v).status, 401);
  auto third = http("/wp-json/cocart/jwt/validate-token", v);
  ASSERT_TRUE(is_error(third, 429, "cocart_rate_limited")) << third.body;
  EXPECT_EQ(third.header("X-RateLimit-Limit"), "2");
}

// ---- plugins -----------------------------------------------------------------------

std::filesystem::path plugin_data() { return std::filesystem::path(env("CARTGATE_TEST_STATE")) / "run" / "plugins"; }

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(Rules, StoreChannelPluginRuleDeniesWithItsOwnCodes) {
  auto u = make_user();
  auto bad = login(u, "8.8.8.8", {"X-Store-Channel: kiosk"});
  ASSERT_TRUE(is_error(bad, 400, "cocart_invalid_store_channel")) << bad.body;
  EXPECT_EQ(bad.json()["data"]["channel"].asString(), "kiosk");
  auto pos = login(u, "8.8.8.8", {"X-Store-Channel: pos"});
  ASSERT_TRUE(is_error(pos, 403, "cocart_store_channel_forbidden")) << pos.body;
  EXPECT_EQ(login(u, "8.8.8.8", {"X-Store-Channel: web"}).status, 200);
}

TEST_F(Rules, EventPluginsLogTokenEventsCountUsesAndMailTheAdminForVips) {
  clear_mails();
  auto vip = make_user({"--role", "vip_customer", "--display-name", "Vera Important"});
  std::string ip = fresh_ip();
  auto res = login(vip, ip);
  ASSERT_EQ(res.status, 200) << res.body;
  std::string token = res.json()["extras"]["jwt_token"].asString();
  std::string id = std::to_string(vip.id);

  // token_log: a token_generated line for this user, and never the token.
  EXPECT_TRUE(eventually([&] {
    auto log = read_all(plugin_data() / "token_events.log");
    return log.find("\"event\":\"token_generated\",\"user_id\":\"" + id + "\"") != std::string::npos ||
           log.find("\"user_id\":\"" + id + "\"") != std::string::npos;
  }, 3s));
  EXPECT_EQ(read_all(plugin_data() / "token_events.log").find(token.substr(0, 40)), std::string::npos);

  // Two token-authenticated requests (the nginx auth subrequest): two more counted uses.
  // (The data folder outlives the test database, so ids of earlier runs may have counts.)
  auto count = [&] { return std::atoll(read_all(plugin_data() / "api_usage" / id).c_str()); };
  long long before = count();
  http_options o;
  o.forwarded_for = ip;
  o.bearer = token;
  for (int i = 0; i < 2; ++i) ASSERT_EQ(http("/wp-json/cocart/v2/cart", o).status, 200);
  EXPECT_TRUE(eventually([&] { return count() == before + 2; }, 3s)) << count() << " after " << before;

  // vip_notify: one mail to the admin for this session.
  EXPECT_TRUE(eventually([&] {
    for (auto& m : mails()) {
      if (m.find("VIP Customer Login") != std::string::npos && m.find("Vera Important") != std::string::npos &&
          m.find("admin@localhost") != std::string::npos) {
        return true;
      }
    }
    return false;
  }, 10s));
  for (auto& m : mails()) EXPECT_EQ(m.find(token.substr(0, 40)), std::string::npos);

  // A plain customer triggers no mail.
  clear_mails();
  auto plain = make_user();
  auto r2 = login(plain, ip);
  o.bearer = r2.json()["extras"]["jwt_token"].asString();
  ASSERT_EQ(http("/wp-json/cocart/v2/cart", o).status, 200);
  std::this_thread::sleep_for(500ms);
  for (auto& m : mails()) EXPECT_EQ(m.find("VIP Customer Login"), std::string::npos);
}

}  // namespace
}  // namespace cartgate::test
