// The Bearer check alone (lib/auth/bearer.h): real keys and JWTs, a fixed clock, and a
// fake session store at its edge — no worker, no database.
#include "auth/bearer.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>

#include "crypto/jwt.h"

namespace cartgate {
namespace {

// 2026-01-01T00:00:00Z.
constexpr std::int64_t t0 = 1767225600;

config hs256_config() {
  config cfg;
  cfg.algorithm = "HS256";
  cfg.secret = "bearer-test-secret-bearer-test-secret-0123";
  cfg.issuer = "https://shop.example";
  return cfg;
}

// The sessions a fake store holds, and how often it was asked.
struct fake_store {
  std::map<std::string, sessions::state> rows;
  int reads = 0;
  session_cache::loader loader() {
    return [this](const std::string& pat) -> std::optional<sessions::state> {
      ++reads;
      auto it = rows.find(pat);
      if (it == rows.end()) return std::nullopt;
      return it->second;
    };
  }
};

sessions::state live_session(std::int64_t user_id, std::int64_t expires_at) {
  sessions::state st;
  st.user_id = user_id;
  st.live = true;
  st.expires_at = expires_at;
  st.subject.id = user_id;
  st.subject.login = "alice";
  return st;
}

struct BearerCheck : ::testing::Test {
  config cfg = hs256_config();
  token_keys keys{cfg};
  policy pol = policy::defaults();
  token_memo memo;
  fake_store store;
  session_cache cache{store.loader()};

  bearer_check check() { return bearer_check{keys, pol, memo, cache}; }

  // {iss, iat: t0, nbf: t0, exp: t0 + jwt.access_ttl, data.user {id 42, alice, ip, device, pat}}.
  std::string issue(const std::string& pat = "pat_0123456789abcdef01234567", const std::string& ip = "192.0.2.7",
                    const std::string& device = "shop-app/1.0") {
    return keys.issue(42, "alice", pat, ip, device, pol, t0);
  }

  http::request request_with(const std::string& token, const std::string& ip = "192.0.2.7",
                             const std::string& ua = "shop-app/1.0") {
    http::request r;
    r.headers["authorization"] = "Bearer " + token;
    r.headers["user-agent"] = ua;
    r.client_ip = ip;
    return r;
  }
};

TEST_F(BearerCheck, LiveSessionIsAcceptedWithItsIdentity) {
  store.rows["pat_0123456789abcdef01234567"] = live_session(42, t0 + 86400);
  auto token = issue();
  auto out = check().request(request_with(token), t0 + 10);
  ASSERT_TRUE(out.who) << reason_name(out.why);
  EXPECT_EQ(out.who->user_id, 42);
  EXPECT_EQ(out.who->username, "alice");
  EXPECT_EQ(out.who->pat, "pat_0123456789abcdef01234567");
  EXPECT_EQ(out.who->exp, t0 + pol.access_ttl);
  EXPECT_EQ(out.who->token, token);
  ASSERT_TRUE(out.who->subject);
  EXPECT_EQ(out.who->subject->login, "alice");
}

TEST_F(BearerCheck, MissingHeaderIsTokenMissing) {
  http::request r;
  auto out = check().request(r, t0);
  EXPECT_FALSE(out.who);
  EXPECT_EQ(out.why, reason::token_missing);
}

TEST_F(BearerCheck, ExpiredTokenIsRefusedAlsoWhenRemembered) {
  store.rows["pat_0123456789abcdef01234567"] = live_session(42, t0 + 10 * pol.access_ttl);
  auto token = issue();
  ASSERT_TRUE(check().request(request_with(token), t0 + 1).who);  // now in the memo
  auto out = check().request(request_with(token), t0 + pol.access_ttl);
  EXPECT_FALSE(out.who);
  EXPECT_EQ(out.why, reason::token_expired);
}

TEST_F(BearerCheck, TokenBeforeItsNotBeforeIsRefused) {
  store.rows["pat_0123456789abcdef01234567"] = live_session(42, t0 + 86400);
  auto out = check().request(request_with(issue()), t0 - 60);
  EXPECT_EQ(out.why, reason::token_not_yet_valid);
}

TEST_F(BearerCheck, FarFutureExpiryPast2038IsHonoured) {
  // access_ttl at its maximum from a clock in 2037: exp lands after 2^31 seconds.
  pol = policy::from_values({{"jwt.access_ttl", "31536000"}});
  const std::int64_t late = 2140000000;  // 2037-10-25
  auto token = keys.issue(42, "alice", "pat_0123456789abcdef01234567", "", "", pol, late);
  store.rows["pat_0123456789abcdef01234567"] = live_session(42, late + 2 * 31536000);
  auto out = check().request(request_with(token), late + 31536000 - 1);
  ASSERT_TRUE(out.who) << reason_name(out.why);
  EXPECT_GT(out.who->exp, std::int64_t{1} << 31);
}

TEST_F(BearerCheck, RevokedSessionIsRefused) {
  auto st = live_session(42, t0 + 86400);
  st.live = false;
  store.rows["pat_0123456789abcdef01234567"] = st;
  EXPECT_EQ(check().request(request_with(issue()), t0 + 1).why, reason::session_revoked);
}

TEST_F(BearerCheck, SessionPastItsExpiryIsRefused) {
  store.rows["pat_0123456789abcdef01234567"] = live_session(42, t0 + 100);
  EXPECT_TRUE(check().request(request_with(issue()), t0 + 99).who);
  EXPECT_EQ(check().request(request_with(issue()), t0 + 100).why, reason::session_revoked);
}

TEST_F(BearerCheck, UnknownSessionMeansTheUserIsGone) {
  EXPECT_EQ(check().request(request_with(issue()), t0 + 1).why, reason::user_deleted);
}

TEST_F(BearerCheck, SessionOfAnotherUserIsRefused) {
  store.rows["pat_0123456789abcdef01234567"] = live_session(7, t0 + 86400);
  EXPECT_EQ(check().request(request_with(issue()), t0 + 1).why, reason::session_revoked);
}

TEST_F(BearerCheck, OtherClientIpOrUserAgentIsRefusedWhileBound) {
  store.rows["pat_0123456789abcdef01234567"] = live_session(42, t0 + 86400);
  auto token = issue();
  EXPECT_EQ(check().request(request_with(token, "198.51.100.1"), t0 + 1).why, reason::token_ip_mismatch);
  EXPECT_EQ(check().request(request_with(token, "192.0.2.7", "curl/8"), t0 + 1).why,
            reason::token_device_mismatch);
}

TEST_F(BearerCheck, OtherClientIpOrUserAgentIsAcceptedWhenNotBound) {
  store.rows["pat_0123456789abcdef01234567"] = live_session(42, t0 + 86400);
  pol = policy::from_values({{"jwt.bind_ip", "false"}, {"jwt.bind_device", "false"}});
  EXPECT_TRUE(check().request(request_with(issue(), "198.51.100.1", "curl/8"), t0 + 1).who);
}

TEST_F(BearerCheck, TokenIssuedWithoutBindingsIsAcceptedFromAnywhere) {
  store.rows["pat_0123456789abcdef01234567"] = live_session(42, t0 + 86400);
  auto token = issue("pat_0123456789abcdef01234567", "", "");
  EXPECT_TRUE(check().request(request_with(token, "198.51.100.1", "curl/8"), t0 + 1).who);
}

TEST_F(BearerCheck, ConfiguredPrefixIsRequiredAndStripped) {
  store.rows["pat_0123456789abcdef01234567"] = live_session(42, t0 + 86400);
  pol = policy::from_values({{"jwt.prefix", "shop_"}});
  auto token = issue();
  ASSERT_EQ(token.rfind("shop_", 0), 0u);
  auto out = check().request(request_with(token), t0 + 1);
  ASSERT_TRUE(out.who);
  EXPECT_EQ(out.who->token, token.substr(5));
  EXPECT_EQ(check().request(request_with(token.substr(5)), t0 + 1).why, reason::token_malformed);
}

TEST_F(BearerCheck, EveryFlippedSignatureBitIsRefused) {
  store.rows["pat_0123456789abcdef01234567"] = live_session(42, t0 + 86400);
  auto token = issue();
  auto sig_start = token.rfind('.') + 1;
  for (std::size_t i = sig_start; i < token.size(); ++i) {
    std::string bad = token;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    auto out = check().request(request_with(bad), t0 + 1);
    EXPECT_FALSE(out.who) << "position " << i;
  }
}

TEST_F(BearerCheck, TokenSignedByAnotherKeyIsRefused) {
  store.rows["pat_0123456789abcdef01234567"] = live_session(42, t0 + 86400);
  config other = cfg;
  other.secret = "another-secret-another-secret-another-0123";
  token_keys other_keys{other};
  auto token = other_keys.issue(42, "alice", "pat_0123456789abcdef01234567", "192.0.2.7", "shop-app/1.0", pol, t0);
  EXPECT_EQ(check().request(request_with(token), t0 + 1).why, reason::token_bad_signature);
}

TEST_F(BearerCheck, SessionIsReadOnceThenServedFromTheCache) {
  store.rows["pat_0123456789abcdef01234567"] = live_session(42, t0 + 86400);
  auto token = issue();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(check().request(request_with(token), t0 + i).who);
  EXPECT_EQ(store.reads, 1);
  cache.on_notification(sessions::revoke_payload_pat("pat_0123456789abcdef01234567"));
  store.rows["pat_0123456789abcdef01234567"].live = false;
  EXPECT_EQ(check().request(request_with(token), t0 + 6).why, reason::session_revoked);
  EXPECT_EQ(store.reads, 2);
}

TEST_F(BearerCheck, ReadWithoutRecordingLeavesNoTrace) {
  store.rows["pat_0123456789abcdef01234567"] = live_session(42, t0 + 86400);
  auto token = issue();
  ASSERT_TRUE(check().request(request_with(token), t0 + 1, /*record_use=*/false).who);
  EXPECT_TRUE(cache.take_last_used().empty());
  ASSERT_TRUE(check().request(request_with(token), t0 + 2).who);
  auto used = cache.take_last_used();
  ASSERT_EQ(used.size(), 1u);
  EXPECT_EQ(used["pat_0123456789abcdef01234567"], t0 + 2);
}

// jwt.auth_header: a `Bearer …` value in the named header is read too (@cocart/sdk's
// authHeaderName), and only while the option names that header.
struct BearerInAnotherHeader : BearerCheck {
  http::request in_header(const std::string& name, const std::string& value) {
    http::request r = request_with("unused");
    r.headers.erase("authorization");
    r.headers[name] = value;
    return r;
  }
};

TEST_F(BearerInAnotherHeader, TokenThereIsAcceptedWhenTheOptionNamesTheHeader) {
  store.rows["pat_0123456789abcdef01234567"] = live_session(42, t0 + 86400);
  pol = policy::from_values({{"jwt.auth_header", "X-Auth-Token"}});
  auto out = check().request(in_header("x-auth-token", "Bearer " + issue()), t0 + 1);
  ASSERT_TRUE(out.who) << reason_name(out.why);
  EXPECT_EQ(out.who->user_id, 42);
}

TEST_F(BearerInAnotherHeader, TokenThereIsMissingWhileTheOptionIsEmpty) {
  store.rows["pat_0123456789abcdef01234567"] = live_session(42, t0 + 86400);
  auto out = check().request(in_header("x-auth-token", "Bearer " + issue()), t0 + 1);
  EXPECT_FALSE(out.who);
  EXPECT_EQ(out.why, reason::token_missing);
  EXPECT_EQ(store.reads, 0);
}

TEST_F(BearerInAnotherHeader, TokenInAHeaderTheOptionDoesNotNameIsMissing) {
  pol = policy::from_values({{"jwt.auth_header", "X-Shop-Token"}});
  EXPECT_EQ(check().request(in_header("x-auth-token", "Bearer " + issue()), t0 + 1).why, reason::token_missing);
}

TEST_F(BearerInAnotherHeader, GarbageThereIsRefusedAndNeverReachesTheStore) {
  pol = policy::from_values({{"jwt.auth_header", "X-Auth-Token"}});
  EXPECT_EQ(check().request(in_header("x-auth-token", "Bearer garbage"), t0).why, reason::token_malformed);
  EXPECT_EQ(check().request(in_header("x-auth-token", "Bearer a.b.c"), t0).why, reason::token_malformed);
  // Not a Bearer value at all: no token was presented.
  EXPECT_EQ(check().request(in_header("x-auth-token", issue()), t0).why, reason::token_missing);
  EXPECT_EQ(check().request(in_header("x-auth-token", "Basic YTpi"), t0).why, reason::token_missing);
  EXPECT_EQ(store.reads, 0);
}

TEST_F(BearerInAnotherHeader, AuthorizationIsReadFirst) {
  store.rows["pat_0123456789abcdef01234567"] = live_session(42, t0 + 86400);
  pol = policy::from_values({{"jwt.auth_header", "X-Auth-Token"}});
  auto r = in_header("x-auth-token", "Bearer garbage");
  r.headers["authorization"] = "Bearer " + issue();
  EXPECT_TRUE(check().request(r, t0 + 1).who);
  // A Basic Authorization is no token: the other header's is read.
  r.headers["authorization"] = "Basic YTpi";
  EXPECT_EQ(check().request(r, t0 + 1).why, reason::token_malformed);
}

TEST_F(BearerInAnotherHeader, HeaderPresenceFollowsTheOption) {
  pol = policy::from_values({{"jwt.auth_header", "X-Auth-Token"}});
  EXPECT_TRUE(token_header_present(in_header("x-auth-token", "anything"), pol));
  EXPECT_FALSE(token_header_present(in_header("x-other", "Bearer x"), pol));
  EXPECT_FALSE(token_header_present(in_header("x-auth-token", "Bearer x"), policy::defaults()));
  http::request basic;
  basic.headers["authorization"] = "Basic YTpi";
  EXPECT_TRUE(token_header_present(basic, policy::defaults())) << "an Authorization header is never a guest's";
}

}  // namespace
}  // namespace cartgate
