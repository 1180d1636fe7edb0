// The revocation state file: what one writer puts in it and what the nginx module's
// decision (auth/revocation_layout.h, the very function the module calls) makes of it.
#include "auth/revocation_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string>

namespace cartgate {
namespace {

std::int64_t mono_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

class RevocationFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path = ::testing::TempDir() + "revocation-" + std::to_string(::getpid()) + ".state";
    std::remove(path.c_str());
  }
  void TearDown() override { std::remove(path.c_str()); }

  // What the module decides for a token of `pat`, user 7, issued at `iat`.
  cartgate_state_verdict decide(const revocation_file& f, const std::string& pat, std::int64_t iat,
                                std::int64_t user = 7) {
    return cartgate_state_decide(f.header(), pat.data(), pat.size(), user, iat, mono_ns(), 1000000000LL);
  }

  std::string path;
  const std::int64_t t0 = 1'700'000'000;
  const std::int64_t ttl = 864000;
};

TEST_F(RevocationFile, OneWriterAtATime) {
  revocation_file a(path, ""), b(path, "");
  ASSERT_TRUE(a.try_take());
  EXPECT_FALSE(b.try_take());
  EXPECT_TRUE(cartgate_state_valid(a.header(), CARTGATE_STATE_SIZE));
}

TEST_F(RevocationFile, NeverHeardIsUnknown) {
  revocation_file f(path, "");
  ASSERT_TRUE(f.try_take());
  f.reset(t0);
  EXPECT_EQ(decide(f, "pat_a", t0 + 100), CARTGATE_STATE_UNKNOWN);
  f.heard(mono_ns());
  EXPECT_EQ(decide(f, "pat_a", t0 + 100), CARTGATE_STATE_ALLOWED);
}

TEST_F(RevocationFile, StaleHeartbeatIsUnknownNeverAllowed) {
  revocation_file f(path, "");
  ASSERT_TRUE(f.try_take());
  f.reset(t0);
  f.heard(mono_ns() - 1'100'000'000LL);  // 1.1 s ago
  EXPECT_EQ(decide(f, "pat_a", t0 + 100), CARTGATE_STATE_UNKNOWN);
  f.apply("pat:pat_b", t0 + 50, ttl);
  EXPECT_EQ(decide(f, "pat_b", t0 + 10), CARTGATE_STATE_UNKNOWN);
}

TEST_F(RevocationFile, TokensIssuedBeforeTheResetAreLeftToCartgate) {
  revocation_file f(path, "");
  ASSERT_TRUE(f.try_take());
  f.reset(t0);
  f.heard(mono_ns());
  EXPECT_EQ(decide(f, "pat_a", t0 - 100), CARTGATE_STATE_UNKNOWN);
  EXPECT_EQ(decide(f, "pat_a", t0 + CARTGATE_STATE_SKEW), CARTGATE_STATE_UNKNOWN);
  EXPECT_EQ(decide(f, "pat_a", t0 + CARTGATE_STATE_SKEW + 1), CARTGATE_STATE_ALLOWED);
}

TEST_F(RevocationFile, RevokedSessionIsRevokedOthersAreNot) {
  revocation_file f(path, "");
  ASSERT_TRUE(f.try_take());
  f.reset(t0);
  f.heard(mono_ns());
  f.apply("pat:pat_0123456789abcdef01234567", t0 + 50, ttl);
  EXPECT_EQ(decide(f, "pat_0123456789abcdef01234567", t0 + 10), CARTGATE_STATE_REVOKED);
  EXPECT_EQ(decide(f, "pat_0123456789abcdef0123456", t0 + 10), CARTGATE_STATE_ALLOWED);
  EXPECT_EQ(decide(f, "pat_0123456789abcdef012345678", t0 + 10), CARTGATE_STATE_ALLOWED);
  // Until every token of it has expired; then it may go.
  f.purge(t0 + 50 + ttl + CARTGATE_STATE_SKEW - 1);
  EXPECT_EQ(decide(f, "pat_0123456789abcdef01234567", t0 + 10), CARTGATE_STATE_REVOKED);
  f.purge(t0 + 50 + ttl + CARTGATE_STATE_SKEW + 1);
  EXPECT_EQ(decide(f, "pat_0123456789abcdef01234567", t0 + 10), CARTGATE_STATE_ALLOWED);
}

TEST_F(RevocationFile, UserCutOffRevokesEarlierTokensOnlyAndLeavesTheEdgeToCartgate) {
  revocation_file f(path, "");
  ASSERT_TRUE(f.try_take());
  f.reset(t0);
  f.heard(mono_ns());
  std::int64_t cut = t0 + 100;
  f.apply("user:7", cut, ttl);
  EXPECT_EQ(decide(f, "pat_a", cut - CARTGATE_STATE_SKEW - 1), CARTGATE_STATE_REVOKED);
  EXPECT_EQ(decide(f, "pat_a", cut), CARTGATE_STATE_UNKNOWN);
  EXPECT_EQ(decide(f, "pat_a", cut + CARTGATE_STATE_SKEW), CARTGATE_STATE_UNKNOWN);
  EXPECT_EQ(decide(f, "pat_a", cut + CARTGATE_STATE_SKEW + 1), CARTGATE_STATE_ALLOWED);
  EXPECT_EQ(decide(f, "pat_a", cut - 50, /*user=*/8), CARTGATE_STATE_ALLOWED);
}

TEST_F(RevocationFile, GlobalCutOffRevokesEveryEarlierToken) {
  revocation_file f(path, "");
  ASSERT_TRUE(f.try_take());
  f.reset(t0);
  f.heard(mono_ns());
  f.apply("all", t0 + 100, ttl);
  EXPECT_EQ(decide(f, "pat_a", t0 + 50, 1), CARTGATE_STATE_REVOKED);
  EXPECT_EQ(decide(f, "pat_b", t0 + 50, 2), CARTGATE_STATE_REVOKED);
  EXPECT_EQ(decide(f, "pat_b", t0 + 100, 2), CARTGATE_STATE_UNKNOWN);
  EXPECT_EQ(decide(f, "pat_b", t0 + 110, 2), CARTGATE_STATE_ALLOWED);
}

TEST_F(RevocationFile, NotUnderstoodOrOverflowStartsOverRatherThanForget) {
  revocation_file f(path, "");
  ASSERT_TRUE(f.try_take());
  f.reset(t0);
  f.heard(mono_ns());
  f.apply("pat:" + std::string(40, 'x'), t0 + 100, ttl);  // longer than a slot holds
  EXPECT_EQ(decide(f, std::string(40, 'x'), t0 + 50), CARTGATE_STATE_UNKNOWN);
  EXPECT_EQ(decide(f, "pat_a", t0 + 50), CARTGATE_STATE_UNKNOWN);
  f.apply("what?", t0 + 200, ttl);
  EXPECT_EQ(decide(f, "pat_a", t0 + 150), CARTGATE_STATE_UNKNOWN);
  EXPECT_EQ(decide(f, "pat_a", t0 + 210), CARTGATE_STATE_ALLOWED);
}

TEST_F(RevocationFile, ReaderDuringAWriteGetsUnknown) {
  revocation_file f(path, "");
  ASSERT_TRUE(f.try_take());
  f.reset(t0);
  f.heard(mono_ns());
  // The seqlock odd, as while the writer changes the tables.
  auto* h = const_cast<cartgate_state_header*>(f.header());
  __atomic_fetch_add(&h->seq, 1, __ATOMIC_RELEASE);
  EXPECT_EQ(decide(f, "pat_a", t0 + 50), CARTGATE_STATE_UNKNOWN);
  __atomic_fetch_add(&h->seq, 1, __ATOMIC_RELEASE);
  EXPECT_EQ(decide(f, "pat_a", t0 + 50), CARTGATE_STATE_ALLOWED);
}

}  // namespace
}  // namespace cartgate
