// The options table: validation on write, canonical values, typed snapshots (contract §7).
#include "policy/options.h"

#include <gtest/gtest.h>

namespace cartgate {
namespace {

TEST(Options, DefaultsAreTheContracts) {
  const policy& p = policy::defaults();
  EXPECT_EQ(p.access_ttl, 864000);
  EXPECT_EQ(p.refresh_ttl, 2592000);
  EXPECT_EQ(p.max_sessions, 5);
  EXPECT_TRUE(p.bind_ip);
  EXPECT_TRUE(p.bind_device);
  EXPECT_EQ(p.prefix, "");
  EXPECT_EQ(p.email_ttl, 900);
  EXPECT_EQ(p.login_max, 5);
  EXPECT_EQ(p.login_window, 900);
  EXPECT_EQ(p.refresh_max, 10);
  EXPECT_EQ(p.refresh_window, 60);
  EXPECT_EQ(p.validate_max, 2);
  EXPECT_EQ(p.validate_window, 60);
  EXPECT_TRUE(p.blocked_countries.empty());
  EXPECT_TRUE(p.allowed_countries.empty());
  EXPECT_EQ(p.device_required, "off");
  EXPECT_EQ(p.timezone, "UTC");
  EXPECT_FALSE(p.stream_per_request);
  EXPECT_EQ(p.auth_header, "") << "only Authorization carries a token by default";
  EXPECT_EQ(p.failure_status, 401);
  ASSERT_TRUE(net::parse_address("127.0.0.1"));
  EXPECT_TRUE(p.trusted_proxies.contains(*net::parse_address("127.0.0.1")));
  EXPECT_TRUE(p.trusted_proxies.contains(*net::parse_address("::1")));
}

TEST(Options, ValuesAreCanonicalised) {
  EXPECT_EQ(validate_option("geo.blocked_countries", " cn, ru ,kp"), "CN,RU,KP");
  EXPECT_EQ(validate_option("jwt.max_sessions", " 3 "), "3");
  EXPECT_EQ(validate_option("jwt.bind_ip", "false"), "false");
  EXPECT_EQ(validate_option("device.required", "customer, vip_customer"), "customer,vip_customer");
  EXPECT_EQ(validate_option("site.timezone", "Europe/Berlin"), "Europe/Berlin");
}

TEST(Options, MaxSessionsZeroIsRefusedAndMinusOneIsUnlimited) {
  EXPECT_THROW(validate_option("jwt.max_sessions", "0"), option_error);
  EXPECT_THROW(policy::from_values({{"jwt.max_sessions", "0"}}), option_error);
  EXPECT_EQ(validate_option("jwt.max_sessions", "-1"), "-1");
  EXPECT_EQ(validate_option("jwt.max_sessions", "1"), "1");
  try {
    validate_option("jwt.max_sessions", "0");
  } catch (const option_error& e) {
    EXPECT_NE(std::string(e.what()).find("-1"), std::string::npos) << e.what();
  }
}

TEST(Options, BadValuesAreRefusedWithTheKeyInTheMessage) {
  struct bad {
    const char* key;
    const char* value;
  };
  for (auto [key, value] : {bad{"jwt.max_sessions", "0x10"}, bad{"jwt.max_sessions", "-2"},
                            bad{"jwt.access_ttl", "10"}, bad{"jwt.bind_ip", "yes"},
                            bad{"geo.blocked_countries", "XX"}, bad{"geo.allowed_countries", "USA"},
                            bad{"site.timezone", "Mars/Olympus"}, bad{"device.required", "Customer!"},
                            bad{"net.trusted_proxies", "10.0.0.0/33"}, bad{"jwt.prefix", "has space"},
                            bad{"rate_limit.login.window", "0"}}) {
    try {
      validate_option(key, value);
      ADD_FAILURE() << key << "=" << value << " was accepted";
    } catch (const option_error& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
}

TEST(Options, UnknownKeyIsRefused) {
  EXPECT_THROW(validate_option("jwt.nope", "1"), option_error);
  EXPECT_THROW(policy::from_values({{"jwt.nope", "1"}}), option_error);
}

TEST(Options, SnapshotIsTyped) {
  auto p = policy::from_values({{"jwt.max_sessions", "-1"},
                                {"jwt.bind_device", "false"},
                                {"device.required", "vip_customer"},
                                {"events.stream_per_request", "true"}});
  EXPECT_EQ(p.max_sessions, -1);
  EXPECT_FALSE(p.bind_device);
  EXPECT_TRUE(p.stream_per_request);
  EXPECT_TRUE(p.device_required_for({"customer", "vip_customer"}));
  EXPECT_FALSE(p.device_required_for({"customer"}));
  EXPECT_EQ(p.values.at("jwt.max_sessions"), "-1");
  EXPECT_EQ(p.values.at("jwt.access_ttl"), "864000");
}

TEST(Options, AuthHeaderIsAHeaderNameKeptAsWrittenAndReadInLowerCase) {
  EXPECT_EQ(validate_option("jwt.auth_header", " X-Auth-Token "), "X-Auth-Token");
  EXPECT_EQ(validate_option("jwt.auth_header", ""), "");
  auto p = policy::from_values({{"jwt.auth_header", "X-Auth-Token"}});
  EXPECT_EQ(p.auth_header, "x-auth-token");
  EXPECT_EQ(p.values.at("jwt.auth_header"), "X-Auth-Token");
}

TEST(Options, AuthHeaderRefusesWhatIsNotAHeaderOrCarriesSomethingElse) {
  for (const char* value : {"X Auth", "X-Auth:Token", "X-Auth\tToken", "Cookie", "cookie", "Host", "User-Agent",
                            "X-Forwarded-For", "X-Cartgate-Remote-Addr", "x-cartgate-user-id", "Content-Length"}) {
    EXPECT_THROW(validate_option("jwt.auth_header", value), option_error) << value;
  }
  EXPECT_THROW(validate_option("jwt.auth_header", std::string(65, 'x')), option_error);
}

TEST(Options, FailureStatusIs401Or403Only) {
  EXPECT_EQ(validate_option("jwt.failure_status", "403"), "403");
  EXPECT_EQ(validate_option("jwt.failure_status", " 401 "), "401");
  EXPECT_EQ(policy::from_values({{"jwt.failure_status", "403"}}).failure_status, 403);
  for (const char* value : {"402", "400", "500", "200", "0403", "forbidden", ""}) {
    EXPECT_THROW(validate_option("jwt.failure_status", value), option_error) << value;
  }
}

TEST(Options, DeviceRequiredModes) {
  EXPECT_TRUE(policy::from_values({{"device.required", "all"}}).device_required_for({}));
  EXPECT_FALSE(policy::from_values({{"device.required", "off"}}).device_required_for({"customer"}));
}

TEST(Options, EveryDefaultPassesItsOwnValidation) {
  for (auto& d : option_table()) {
    EXPECT_NO_THROW(validate_option(d.key, d.default_value)) << d.key;
    EXPECT_FALSE(d.doc.empty()) << d.key;
  }
}

}  // namespace
}  // namespace cartgate
