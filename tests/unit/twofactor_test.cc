#include "auth/twofactor.h"

#include <gtest/gtest.h>

#include "crypto/totp.h"
#include "infra/config.h"
#include "infra/outbox.h"

namespace cartgate::twofactor {
namespace {

state with(bool email, bool totp, int backup) {
  state s;
  s.email = email;
  s.totp = totp;
  s.backup_remaining = backup;
  return s;
}

std::string name_of(std::optional<provider> p) { return p ? std::string(provider_name(*p)) : ""; }

// ---- providers -------------------------------------------------------------------------

TEST(TwoFactorProviders, NamesRoundTrip) {
  for (provider p : kAllProviders) EXPECT_EQ(parse_provider(provider_name(p)), p);
}

TEST(TwoFactorProviders, UnknownOrDifferentlySpelledNamesAreRefused) {
  EXPECT_FALSE(parse_provider(""));
  EXPECT_FALSE(parse_provider("TOTP"));
  EXPECT_FALSE(parse_provider("backup_codes"));
  EXPECT_FALSE(parse_provider("email "));
}

TEST(TwoFactorProviders, AvailableListFollowsPluginOrder) {
  auto all = available(with(true, true, 3));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0], provider::email);
  EXPECT_EQ(all[1], provider::totp);
  EXPECT_EQ(all[2], provider::backup);
}

TEST(TwoFactorProviders, BackupCountsOnlyWhileCodesRemain) {
  EXPECT_TRUE(with(false, false, 1).any());
  EXPECT_FALSE(with(false, false, 0).any());
  EXPECT_TRUE(available(with(true, false, 0)) == std::vector<provider>{provider::email});
}

TEST(TwoFactorProviders, NoProviderMeansNoSecondFactor) {
  EXPECT_FALSE(state{}.any());
  EXPECT_EQ(default_provider(state{}), std::nullopt);
}

// ---- default provider (seed 003 "Default Provider Logic") ----------------------------------

struct default_case {
  const char* what;
  state s;
  std::string expected;
};

TEST(TwoFactorDefault, FollowsSeedPriorityOrder) {
  auto last = [](state s, provider p) { s.last_used = p; return s; };
  auto prim = [](state s, provider p) { s.primary = p; return s; };
  const default_case cases[] = {
      {"first enabled when nothing else is known", with(true, true, 0), "email"},
      {"first enabled: totp before backup", with(false, true, 10), "totp"},
      {"only backup codes", with(false, false, 10), "backup"},
      {"primary beats first enabled", prim(with(true, true, 0), provider::totp), "totp"},
      {"primary not enabled is skipped", prim(with(true, false, 0), provider::totp), "email"},
      {"last used beats primary", last(prim(with(true, true, 0), provider::totp), provider::email), "email"},
      {"last used but disabled falls back to primary",
       last(prim(with(true, true, 0), provider::totp), provider::backup), "totp"},
      {"last used backup while codes remain", last(with(true, true, 2), provider::backup), "backup"},
      {"last used backup after the last code went falls back",
       last(with(false, true, 0), provider::backup), "totp"},
      {"nothing enabled", last(prim(state{}, provider::totp), provider::email), ""},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(name_of(default_provider(c.s)), c.expected) << c.what;
  }
}

// ---- the challenge answer ----------------------------------------------------------------

TEST(TwoFactorChallenge, MatchesSeedExample) {
  state s = with(true, true, 0);
  s.primary = provider::totp;
  auto res = to_response(challenge(s, false));
  EXPECT_EQ(res.status, 401);
  auto body = http::parse_json(res.body);
  ASSERT_TRUE(body);
  EXPECT_EQ((*body)["code"].asString(), "cocart_2fa_required");
  EXPECT_EQ((*body)["message"].asString(),
            "2FA verification required. Please provide a 2FA code using one of these providers: "
            "email, totp");
  const Json::Value& d = (*body)["data"];
  EXPECT_EQ(d["status"].asInt(), 401);
  EXPECT_TRUE(d["2fa_required"].asBool());
  ASSERT_EQ(d["available_providers"].size(), 2u);
  EXPECT_EQ(d["available_providers"][0].asString(), "email");
  EXPECT_EQ(d["available_providers"][1].asString(), "totp");
  EXPECT_EQ(d["default_provider"].asString(), "totp");
  EXPECT_TRUE(d["email_sent"].isBool());
  EXPECT_FALSE(d["email_sent"].asBool());
}

TEST(TwoFactorChallenge, ReportsEmailSent) {
  auto f = challenge(with(true, false, 0), true);
  EXPECT_TRUE(f.data["email_sent"].asBool());
  EXPECT_EQ(f.data["default_provider"].asString(), "email");
}

TEST(TwoFactorChallenge, DoesNotCountTowardRateLimitButWrongCodeDoes) {
  EXPECT_FALSE(is_code_failure(challenge(with(true, false, 0), false)));
  EXPECT_FALSE(is_code_failure(failure{reason::twofactor_invalid_provider}));
  EXPECT_TRUE(is_code_failure(failure{reason::twofactor_invalid_code}));
}

TEST(TwoFactorErrors, InvalidCodeAndProviderAnswersMatchSeed) {
  auto code = to_response(failure{reason::twofactor_invalid_code});
  EXPECT_EQ(code.status, 401);
  auto c = http::parse_json(code.body);
  EXPECT_EQ((*c)["code"].asString(), "cocart_2fa_invalid_code");
  EXPECT_EQ((*c)["message"].asString(), "Invalid 2FA code provided.");
  auto prov = to_response(failure{reason::twofactor_invalid_provider});
  EXPECT_EQ(prov.status, 400);
  EXPECT_EQ((*http::parse_json(prov.body))["code"].asString(), "cocart_2fa_invalid_provider");
}

TEST(TwoFactorErrors, ProviderNameIsSanitisedBeforeEchoing) {
  EXPECT_EQ(sanitize_provider_name("invalid_provider_name"), "invalid_provider_name");
  EXPECT_EQ(sanitize_provider_name("<script>alert(1)</script>"), "scriptalert1script");
  EXPECT_EQ(sanitize_provider_name("a\r\nb c\"d"), "abcd");
  EXPECT_EQ(sanitize_provider_name(std::string(500, 'x')).size(), 32u);
}

// ---- keys --------------------------------------------------------------------------------

config with_key(std::string hex) {
  config c;
  c.encryption_key_hex = std::move(hex);
  return c;
}

TEST(TwoFactorKeys, PepperIsDerivedAndStable) {
  auto a = keys::from_config(with_key(std::string(64, 'a')));
  auto b = keys::from_config(with_key(std::string(64, 'A')));
  auto c = keys::from_config(with_key(std::string(64, 'b')));
  EXPECT_EQ(a.pepper.size(), 64u);
  EXPECT_EQ(a.pepper, b.pepper);  // hex case does not matter
  EXPECT_NE(a.pepper, c.pepper);
  EXPECT_EQ(a.pepper.find(std::string(64, 'a')), std::string::npos);
}

TEST(TwoFactorKeys, SealedUnderOneKeyOpensOnlyWithIt) {
  auto a = keys::from_config(with_key(std::string(64, '1')));
  auto b = keys::from_config(with_key(std::string(64, '2')));
  auto sealed = a.box.seal("secret", "42");
  EXPECT_EQ(a.box.open(sealed, "42"), "secret");
  EXPECT_FALSE(a.box.open(sealed, "43"));
  EXPECT_FALSE(b.box.open(sealed, "42"));
}

TEST(TwoFactorKeys, MissingOrMalformedKeyIsAConfigurationError) {
  EXPECT_THROW(keys::from_config(with_key("")), std::runtime_error);
  EXPECT_THROW(keys::from_config(with_key(std::string(62, 'a'))), std::runtime_error);
  EXPECT_THROW(keys::from_config(with_key(std::string(63, 'a') + "g")), std::runtime_error);
}

// ---- outbox ------------------------------------------------------------------------------

TEST(OutboxBackoff, DoublesFromTwoSecondsUpToAMinute) {
  EXPECT_EQ(outbox::backoff_seconds(1), 2);
  EXPECT_EQ(outbox::backoff_seconds(2), 4);
  EXPECT_EQ(outbox::backoff_seconds(5), 32);
  EXPECT_EQ(outbox::backoff_seconds(6), 60);
  EXPECT_EQ(outbox::backoff_seconds(40), 60);
  EXPECT_EQ(outbox::backoff_seconds(0), 2);
  EXPECT_EQ(outbox::backoff_seconds(1000000), 60);  // no shift overflow
}

TEST(OutboxLease, OutlastsTheSmtpTimeout) {
  mail::smtp_settings s;
  EXPECT_GT(std::chrono::milliseconds(outbox::kLease).count(), s.timeout_ms * 2);
}

// ---- TOTP drift window used at login (RFC 6238 Appendix B key) ----------------------------

// RFC 6238 Appendix B: the SHA-1 seed "12345678901234567890"; T = 59 s is step 1.
TEST(TwoFactorTotpWindow, AcceptsNeighbourStepsRefusesTwoAway) {
  const std::string key = "12345678901234567890";
  const std::int64_t now = 59 + 30 * 1000;  // in step 1001
  auto code = [&](std::int64_t t) { return totp::code_at(key, t); };
  EXPECT_TRUE(totp::verify(key, code(now - 30), now, 0, 1).ok);
  EXPECT_TRUE(totp::verify(key, code(now + 30), now, 0, 1).ok);
  EXPECT_FALSE(totp::verify(key, code(now - 60), now, 0, 1).ok);
  EXPECT_FALSE(totp::verify(key, code(now + 60), now, 0, 1).ok);
  auto m = totp::verify(key, code(now), now, 0, 1);
  ASSERT_TRUE(m.ok);
  EXPECT_FALSE(totp::verify(key, code(now), now, m.step, 1).ok);  // replay
}

}  // namespace
}  // namespace cartgate::twofactor
