// The session cache alone (lib/auth/session_cache.h): a fake loader that counts its
// reads, a fixed clock, and a trust predicate the test flips as the listener would.
#include "auth/session_cache.h"

#include <gtest/gtest.h>

#include <map>

namespace cartgate {
namespace {

// 2026-01-01T00:00:00Z.
constexpr std::int64_t t0 = 1767225600;

struct SessionCache : ::testing::Test {
  std::map<std::string, sessions::state> rows;
  int reads = 0;
  bool trusted = true;
  session_cache cache{[this](const std::string& pat) -> std::optional<sessions::state> {
    ++reads;
    auto it = rows.find(pat);
    if (it == rows.end()) return std::nullopt;
    return it->second;
  }};

  void SetUp() override {
    cache.trust_while([this] { return trusted; });
    put("pat_a", true, t0 + 60);
  }
  void put(const std::string& pat, bool live, std::int64_t expires_at, std::int64_t user_id = 7) {
    sessions::state st;
    st.user_id = user_id;
    st.live = live;
    st.expires_at = expires_at;
    st.subject.id = 7;
    st.subject.login = "alice";
    rows[pat] = st;
  }
};

TEST_F(SessionCache, TrustedCacheReadsASessionOnce) {
  EXPECT_TRUE(cache.get("pat_a", t0).live);
  EXPECT_TRUE(cache.get("pat_a", t0 + 1).live);
  EXPECT_EQ(reads, 1);
}

TEST_F(SessionCache, UntrustedCacheReadsTheStoreOnEveryCheckAndRemembersNothing) {
  EXPECT_TRUE(cache.get("pat_a", t0).live);  // remembered while trusted
  trusted = false;
  put("pat_a", false, t0 + 60);  // revoked, and the notification went unheard
  EXPECT_FALSE(cache.get("pat_a", t0).live);
  EXPECT_FALSE(cache.get("pat_a", t0).live);
  EXPECT_EQ(reads, 3);
  EXPECT_EQ(cache.get("pat_b", t0).subject, nullptr);
  EXPECT_EQ(reads, 4);
  EXPECT_EQ(cache.size(), 1u);  // only what was read while trusted
}

TEST_F(SessionCache, TrustRestoredAfterAClearCachesAgain) {
  cache.get("pat_a", t0);
  trusted = false;
  put("pat_a", false, t0 + 60);
  cache.get("pat_a", t0);
  cache.clear();  // what the listener's reconnect does before it is live again
  trusted = true;
  EXPECT_FALSE(cache.get("pat_a", t0).live);
  EXPECT_FALSE(cache.get("pat_a", t0).live);
  EXPECT_EQ(reads, 3);
}

TEST_F(SessionCache, SessionPastItsRememberedExpiryIsReadAgain) {
  EXPECT_EQ(cache.get("pat_a", t0).expires_at, t0 + 60);
  put("pat_a", true, t0 + 120);  // refreshed meanwhile
  auto later = cache.get("pat_a", t0 + 61);
  EXPECT_TRUE(later.live);
  EXPECT_EQ(later.expires_at, t0 + 120);
  EXPECT_EQ(reads, 2);
  cache.get("pat_a", t0 + 62);  // the extended one is remembered again
  EXPECT_EQ(reads, 2);
}

TEST_F(SessionCache, SessionReadPastItsExpiryIsNotReadAgain) {
  auto e = cache.get("pat_a", t0 + 61);  // already over when read
  EXPECT_LE(e.expires_at, t0 + 61);
  cache.get("pat_a", t0 + 62);
  cache.get("pat_a", t0 + 63);
  EXPECT_EQ(reads, 1);
}

TEST_F(SessionCache, UserRevocationForgetsThatUsersSessionsOnly) {
  put("pat_b", true, t0 + 60);
  put("pat_c", true, t0 + 60, 8);
  for (auto p : {"pat_a", "pat_b", "pat_c"}) cache.get(p, t0);
  EXPECT_EQ(cache.size(), 3u);
  cache.on_notification("user:7");
  EXPECT_EQ(cache.size(), 1u);
  cache.get("pat_c", t0);
  EXPECT_EQ(reads, 3);  // user 8's session still remembered
  put("pat_a", false, t0 + 60);
  EXPECT_FALSE(cache.get("pat_a", t0).live);  // read again: the revocation is seen
  EXPECT_EQ(reads, 4);
}

TEST_F(SessionCache, SessionForgottenAloneLeavesItsUsersOthersToAUserRevocation) {
  put("pat_b", true, t0 + 60);
  cache.get("pat_a", t0);
  cache.get("pat_b", t0);
  cache.on_notification("pat:pat_a");
  EXPECT_EQ(cache.size(), 1u);
  cache.get("pat_a", t0);  // read again and remembered again
  cache.on_notification("user:7");
  EXPECT_EQ(cache.size(), 0u);
  cache.on_notification("user:7");  // nothing left of that user: nothing happens
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(reads, 3);
}

TEST_F(SessionCache, FullCacheStartsOverAndStillRevokesByUser) {
  session_cache small{[this](const std::string& pat) -> std::optional<sessions::state> {
                        ++reads;
                        auto it = rows.find(pat);
                        if (it == rows.end()) return std::nullopt;
                        return it->second;
                      },
                      2};
  put("pat_b", true, t0 + 60);
  put("pat_c", true, t0 + 60, 8);
  small.get("pat_a", t0);
  small.get("pat_b", t0);
  small.get("pat_c", t0);  // full: the cache starts over with pat_c alone
  EXPECT_EQ(small.size(), 1u);
  small.on_notification("user:8");
  EXPECT_EQ(small.size(), 0u);
}

}  // namespace
}  // namespace cartgate
