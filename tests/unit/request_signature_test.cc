// The storefront's signed requests (lib/crypto/request_signature.h): what is signed, how
// the header reads, and each way a request is refused. A fixed clock throughout.
#include "crypto/request_signature.h"

#include <gtest/gtest.h>

#include <string>

namespace cartgate {
namespace {

using request_signature::check;
using request_signature::sign;
using request_signature::verdict;

// 2026-01-01T00:00:00Z.
constexpr std::int64_t t0 = 1767225600;
const std::string key = "0123456789abcdef0123456789abcdef";
const std::string path = "/_cartgate/storefront/token";
const std::string body = R"({"user_id":42})";

TEST(RequestSignature, HeaderIsHmacSha256OfTimeMethodPathAndBody) {
  // HMAC-SHA256(key, "1767225600\nPOST\n/_cartgate/storefront/token\n{\"user_id\":42}"),
  // as Python's hmac and PHP's hash_hmac('sha256', …) compute it (the must-use plugin).
  EXPECT_EQ(sign(key, t0, "POST", path, body),
            "t=1767225600,v1=f3e36eb6ee1dcdb9274ecd200af98629afa104eee4f0af3c5401580757d31d0b");
}

TEST(RequestSignature, SignedRequestIsAccepted) {
  EXPECT_EQ(check(key, sign(key, t0, "POST", path, body), "POST", path, body, t0 + 3), verdict::ok);
}

TEST(RequestSignature, MissingHeaderIsMissing) {
  EXPECT_EQ(check(key, "", "POST", path, body, t0), verdict::missing);
}

TEST(RequestSignature, AnyOtherSpellingIsMalformed) {
  std::string good = sign(key, t0, "POST", path, body);
  std::string mac = good.substr(good.find("v1=") + 3);
  for (const std::string& h : {"v1=" + mac + ",t=1767225600", "t=1767225600;v1=" + mac, "t=1767225600,v2=" + mac,
                               "t=,v1=" + mac, "t=-1,v1=" + mac, "t=1767225600x,v1=" + mac,
                               "t=1767225600,v1=" + mac.substr(1), "t=1767225600,v1=" + mac + "0",
                               "t=1767225600,v1=" + std::string(64, 'G'), "T=1767225600,v1=" + mac,
                               "t=99999999999999999999,v1=" + mac, std::string("garbage")}) {
    EXPECT_EQ(check(key, h, "POST", path, body, t0), verdict::malformed) << h;
  }
}

TEST(RequestSignature, UpperCaseHexIsMalformedNotAnotherSpellingOfTheSameMac) {
  std::string good = sign(key, t0, "POST", path, body);
  std::string upper = good;
  for (auto i = upper.find("v1=") + 3; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  ASSERT_NE(upper, good);
  EXPECT_EQ(check(key, upper, "POST", path, body, t0), verdict::malformed);
}

TEST(RequestSignature, EveryFlippedBitOfTheMacIsRefused) {
  std::string good = sign(key, t0, "POST", path, body);
  auto at = good.find("v1=") + 3;
  const std::string hex = "0123456789abcdef";
  for (auto i = at; i < good.size(); ++i) {
    for (int bit = 0; bit < 4; ++bit) {
      std::string bad = good;
      int nibble = static_cast<int>(hex.find(bad[i]));
      bad[i] = hex[static_cast<std::size_t>(nibble ^ (1 << bit))];
      ASSERT_EQ(check(key, bad, "POST", path, body, t0), verdict::bad_signature) << "position " << i << " bit " << bit;
    }
  }
}

TEST(RequestSignature, AnotherBodyPathMethodOrKeyIsABadSignature) {
  std::string h = sign(key, t0, "POST", path, body);
  EXPECT_EQ(check(key, h, "POST", path, R"({"user_id":43})", t0), verdict::bad_signature);
  EXPECT_EQ(check(key, h, "POST", path, body + " ", t0), verdict::bad_signature);
  EXPECT_EQ(check(key, h, "POST", "/_cartgate/auth", body, t0), verdict::bad_signature);
  EXPECT_EQ(check(key, h, "PUT", path, body, t0), verdict::bad_signature);
  EXPECT_EQ(check("another-key-another-key-another-key", h, "POST", path, body, t0), verdict::bad_signature);
  EXPECT_EQ(check("", h, "POST", path, body, t0), verdict::bad_signature);
}

TEST(RequestSignature, TimeWithinAMinuteEitherWayIsAcceptedAndBeyondIsStale) {
  std::string h = sign(key, t0, "POST", path, body);
  EXPECT_EQ(check(key, h, "POST", path, body, t0 + 60), verdict::ok);
  EXPECT_EQ(check(key, h, "POST", path, body, t0 - 60), verdict::ok);
  EXPECT_EQ(check(key, h, "POST", path, body, t0 + 61), verdict::stale);
  EXPECT_EQ(check(key, h, "POST", path, body, t0 - 61), verdict::stale);
}

TEST(RequestSignature, TimesPast2038AreRead) {
  const std::int64_t late = 4102444800;  // 2100-01-01
  EXPECT_EQ(check(key, sign(key, late, "POST", path, body), "POST", path, body, late), verdict::ok);
}

TEST(RequestSignature, VerdictsHaveNames) {
  for (auto v : {verdict::ok, verdict::missing, verdict::malformed, verdict::stale, verdict::bad_signature}) {
    EXPECT_NE(request_signature::verdict_name(v), "unknown");
  }
}

}  // namespace
}  // namespace cartgate
