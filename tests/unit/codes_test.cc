#include "crypto/codes.h"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>

#include "crypto/random.h"

namespace cartgate {
namespace {

bool all_digits(const std::string& s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool lower_hex(const std::string& s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// RFC 4231 §4.3 (test case 2): HMAC-SHA-256 with key "Jefe".
TEST(CodesHash, IsHmacSha256InLowercaseHex) {
  EXPECT_EQ(codes::hash("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(CodesHash, IsDeterministicPerPepper) {
  EXPECT_EQ(codes::hash("pepper-1", "12345678"), codes::hash("pepper-1", "12345678"));
  EXPECT_EQ(codes::hash("pepper-1", "12345678").size(), 64u);
  EXPECT_TRUE(lower_hex(codes::hash("pepper-1", "12345678")));
}

TEST(CodesHash, DiffersAcrossPeppersAndCodes) {
  EXPECT_NE(codes::hash("pepper-1", "12345678"), codes::hash("pepper-2", "12345678"));
  EXPECT_NE(codes::hash("pepper-1", "12345678"), codes::hash("pepper-1", "12345679"));
}

TEST(CodesHash, EmptyPepperThrows) {
  EXPECT_THROW(codes::hash("", "12345678"), std::invalid_argument);
}

TEST(CodesEqual, MatchesEqualStringsOnly) {
  const std::string h = codes::hash("pepper", "12345678");
  EXPECT_TRUE(codes::equal(h, codes::hash("pepper", "12345678")));
  EXPECT_FALSE(codes::equal(h, codes::hash("pepper", "87654321")));
  std::string one_off = h;
  one_off.back() = one_off.back() == '0' ? '1' : '0';
  EXPECT_FALSE(codes::equal(h, one_off));
}

TEST(CodesEqual, DifferentLengthsAreUnequal) {
  const std::string h = codes::hash("pepper", "12345678");
  EXPECT_FALSE(codes::equal(h, h.substr(0, 63)));
  EXPECT_FALSE(codes::equal(h.substr(0, 63), h));
  EXPECT_FALSE(codes::equal(h, ""));
  EXPECT_TRUE(codes::equal("", ""));
}

TEST(CodesBackupSet, GivesTenDistinctEightDigitCodes) {
  const auto set = codes::backup_set();
  ASSERT_EQ(set.size(), 10u);
  EXPECT_EQ(std::set<std::string>(set.begin(), set.end()).size(), 10u);
  for (const auto& code : set) {
    EXPECT_EQ(code.size(), 8u) << code;
    EXPECT_TRUE(all_digits(code)) << code;
  }
}

TEST(CodesBackupSet, NewSetsDiffer) { EXPECT_NE(codes::backup_set(), codes::backup_set()); }

TEST(CodesBackupSet, HonoursCountAndRejectsNegative) {
  EXPECT_TRUE(codes::backup_set(0).empty());
  EXPECT_EQ(codes::backup_set(3).size(), 3u);
  EXPECT_THROW(codes::backup_set(-1), std::invalid_argument);
}

TEST(CodesEmailCode, IsEightDigits) {
  for (int i = 0; i < 50; ++i) {
    const std::string code = codes::email_code();
    EXPECT_EQ(code.size(), 8u);
    EXPECT_TRUE(all_digits(code)) << code;
  }
}

TEST(RandomDigits, HasRequestedLengthAndOnlyDigits) {
  for (int n : {0, 1, 6, 8, 100}) {
    const std::string s = random::digits(n);
    EXPECT_EQ(s.size(), static_cast<std::size_t>(n));
    EXPECT_TRUE(all_digits(s)) << s;
  }
  EXPECT_THROW(random::digits(-1), std::invalid_argument);
}

TEST(RandomDigits, UsesEveryDigitRoughlyEvenly) {
  // Each digit is expected 10000 times (sd ~95). The bounds are 10 sd wide: this
  // catches a broken generator (a missing or stuck digit), not subtle bias.
  std::array<int, 10> counts{};
  for (char c : random::digits(100000)) ++counts[static_cast<std::size_t>(c - '0')];
  for (int d = 0; d < 10; ++d) {
    EXPECT_GT(counts[static_cast<std::size_t>(d)], 9000) << d;
    EXPECT_LT(counts[static_cast<std::size_t>(d)], 11000) << d;
  }
}

TEST(RandomHex, IsLowercaseHexOfTwiceTheLength) {
  const std::string s = random::hex(64);  // a refresh token: 128 hex characters
  EXPECT_EQ(s.size(), 128u);
  EXPECT_TRUE(lower_hex(s));
  EXPECT_NE(s, random::hex(64));
  EXPECT_EQ(random::hex(0), "");
}

TEST(RandomBytes, HasRequestedLength) {
  EXPECT_EQ(random::bytes(0).size(), 0u);
  EXPECT_EQ(random::bytes(33).size(), 33u);
  EXPECT_NE(random::bytes(32), random::bytes(32));
}

}  // namespace
}  // namespace cartgate
