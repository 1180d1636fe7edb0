#include "crypto/totp.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace cartgate::totp {
namespace {

// RFC 6238 Appendix B: the SHA-1 seed is the 20-byte ASCII string "12345678901234567890".
const std::string kRfcSecret = "12345678901234567890";

// RFC 6238 Appendix B, SHA1 rows: (Unix time, 8-digit TOTP).
struct rfc_vector {
  std::int64_t time;
  const char* code;
};
constexpr rfc_vector kRfc6238Sha1[] = {
    {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
    {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
};

TEST(Totp, MatchesRfc6238AppendixBSha1Vectors) {
  for (const auto& v : kRfc6238Sha1) {
    EXPECT_EQ(code_at(kRfcSecret, v.time, 8), v.code) << "T=" << v.time;
  }
}

// RFC 6238 Appendix B, T=20000000000 (year 2603): time beyond 32-bit time_t.
TEST(Totp, SixDigitCodeIsLastSixOfRfcVectorPast2038) {
  EXPECT_EQ(code_at(kRfcSecret, 20000000000, 6), "353130");
}

TEST(Totp, CodeIsConstantWithinA30SecondStep) {
  // RFC 6238 §4.2: T = floor((time - T0) / X), X = 30.
  EXPECT_EQ(code_at(kRfcSecret, 1111111080), code_at(kRfcSecret, 1111111109));
  EXPECT_NE(code_at(kRfcSecret, 1111111109), code_at(kRfcSecret, 1111111110));
}

TEST(Totp, CodeAtRejectsUnsupportedDigitsAndEmptySecret) {
  EXPECT_THROW(code_at(kRfcSecret, 59, 5), std::invalid_argument);
  EXPECT_THROW(code_at(kRfcSecret, 59, 9), std::invalid_argument);
  EXPECT_THROW(code_at("", 59), std::invalid_argument);
}

std::string run(const std::string& cmd) {
  std::unique_ptr<FILE, decltype(&pclose)> p(popen(cmd.c_str(), "r"), &pclose);
  if (!p) return {};
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p.get())) out += buf;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

TEST(Totp, AgreesWithOathtoolForAGeneratedKey) {
  if (run("command -v oathtool").empty()) GTEST_SKIP() << "oathtool not installed";
  const std::string secret = generate_secret();
  const std::string b32 = base32_encode(secret);
  for (std::int64_t t : {std::int64_t{0}, std::int64_t{1700000000}, std::int64_t{1700000029},
                         std::int64_t{1700000030}, std::int64_t{4102444800}}) {
    const std::string expected =
        run("oathtool --totp --base32 " + b32 + " --now '@" + std::to_string(t) + "'");
    EXPECT_EQ(code_at(secret, t), expected) << "T=" << t;
  }
}

TEST(Totp, GeneratedSecretsAre20RandomBytes) {
  const std::string a = generate_secret();
  const std::string b = generate_secret();
  EXPECT_EQ(a.size(), 20u);
  EXPECT_EQ(b.size(), 20u);
  EXPECT_NE(a, b);
}

// verify(): the reference time sits in the middle of a step.
constexpr std::int64_t kNow = 1700000015;  // step 56666667
constexpr std::int64_t kStep = kNow / 30;
constexpr std::int64_t kNeverUsed = -1;

TEST(TotpVerify, AcceptsCurrentStepAndReportsIt) {
  const auto m = verify(kRfcSecret, code_at(kRfcSecret, kNow), kNow, kNeverUsed);
  EXPECT_TRUE(m.ok);
  EXPECT_EQ(m.step, kStep);
}

TEST(TotpVerify, AcceptsPreviousAndNextStepWithinOneStepDrift) {
  const auto prev = verify(kRfcSecret, code_at(kRfcSecret, kNow - 30), kNow, kNeverUsed);
  EXPECT_TRUE(prev.ok);
  EXPECT_EQ(prev.step, kStep - 1);
  const auto next = verify(kRfcSecret, code_at(kRfcSecret, kNow + 30), kNow, kNeverUsed);
  EXPECT_TRUE(next.ok);
  EXPECT_EQ(next.step, kStep + 1);
}

TEST(TotpVerify, RefusesCodesTwoStepsAway) {
  EXPECT_FALSE(verify(kRfcSecret, code_at(kRfcSecret, kNow - 60), kNow, kNeverUsed).ok);
  EXPECT_FALSE(verify(kRfcSecret, code_at(kRfcSecret, kNow + 60), kNow, kNeverUsed).ok);
}

TEST(TotpVerify, WiderDriftAcceptsTwoStepsAway) {
  EXPECT_TRUE(verify(kRfcSecret, code_at(kRfcSecret, kNow - 60), kNow, kNeverUsed, 2).ok);
  EXPECT_FALSE(verify(kRfcSecret, code_at(kRfcSecret, kNow - 30), kNow, kNeverUsed, 0).ok);
  EXPECT_THROW(verify(kRfcSecret, "123456", kNow, kNeverUsed, -1), std::invalid_argument);
}

// RFC 6238 §5.2: once an OTP has been accepted, a second attempt with it must fail.
TEST(TotpVerify, RefusesReplayOfAnAcceptedStep) {
  const std::string code = code_at(kRfcSecret, kNow);
  const auto first = verify(kRfcSecret, code, kNow, kNeverUsed);
  ASSERT_TRUE(first.ok);
  EXPECT_FALSE(verify(kRfcSecret, code, kNow, first.step).ok);
  EXPECT_FALSE(verify(kRfcSecret, code, kNow + 29, first.step).ok);  // still in the window
}

TEST(TotpVerify, RefusesOlderStepAfterANewerOneWasUsed) {
  const auto newer = verify(kRfcSecret, code_at(kRfcSecret, kNow), kNow, kNeverUsed);
  ASSERT_TRUE(newer.ok);
  EXPECT_FALSE(verify(kRfcSecret, code_at(kRfcSecret, kNow - 30), kNow, newer.step).ok);
  // The next step's code is still fresh.
  EXPECT_TRUE(verify(kRfcSecret, code_at(kRfcSecret, kNow + 30), kNow, newer.step).ok);
}

TEST(TotpVerify, RefusesWrongCode) {
  std::string code = code_at(kRfcSecret, kNow);
  code[5] = code[5] == '9' ? '0' : static_cast<char>(code[5] + 1);
  // Guard against the (1 in 10^6) chance the altered code is a neighbour step's code.
  if (code == code_at(kRfcSecret, kNow - 30) || code == code_at(kRfcSecret, kNow + 30)) {
    GTEST_SKIP();
  }
  EXPECT_FALSE(verify(kRfcSecret, code, kNow, kNeverUsed).ok);
}

TEST(TotpVerify, RefusesMalformedCodes) {
  const std::string good = code_at(kRfcSecret, kNow);
  ASSERT_TRUE(verify(kRfcSecret, good, kNow, kNeverUsed).ok);
  for (const std::string& bad : {
           std::string(""), good.substr(0, 5), good + "0", " " + good, good + " ",
           good.substr(0, 3) + " " + good.substr(3), good.substr(0, 5) + "a",
           std::string("12345\xd9", 6),  // a non-ASCII byte
           std::string("-12345"), std::string("+12345"), good.substr(0, 5) + std::string(1, '\0'),
           code_at(kRfcSecret, kNow, 8),  // the 8-digit form of a valid code
       }) {
    EXPECT_FALSE(verify(kRfcSecret, bad, kNow, kNeverUsed).ok) << "code=\"" << bad << "\"";
  }
}

TEST(TotpVerify, EmptySecretNeverMatches) {
  EXPECT_FALSE(verify("", "123456", kNow, kNeverUsed).ok);
}

// RFC 4648 §10 test vectors (with padding), and the unpadded forms we emit.
TEST(Base32, EncodesRfc4648Vectors) {
  EXPECT_EQ(base32_encode(""), "");
  EXPECT_EQ(base32_encode("f"), "MY");
  EXPECT_EQ(base32_encode("fo"), "MZXQ");
  EXPECT_EQ(base32_encode("foo"), "MZXW6");
  EXPECT_EQ(base32_encode("foob"), "MZXW6YQ");
  EXPECT_EQ(base32_encode("fooba"), "MZXW6YTB");
  EXPECT_EQ(base32_encode("foobar"), "MZXW6YTBOI");
  // RFC 6238's seed, as authenticator apps show it.
  EXPECT_EQ(base32_encode(kRfcSecret), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

// RFC 4648 §10 vectors with their '=' padding.
TEST(Base32, DecodesRfc4648VectorsWithAndWithoutPadding) {
  EXPECT_EQ(base32_decode("MY======"), "f");
  EXPECT_EQ(base32_decode("MZXQ===="), "fo");
  EXPECT_EQ(base32_decode("MZXW6==="), "foo");
  EXPECT_EQ(base32_decode("MZXW6YQ="), "foob");
  EXPECT_EQ(base32_decode("MZXW6YTB"), "fooba");
  EXPECT_EQ(base32_decode("MZXW6YTBOI======"), "foobar");
  EXPECT_EQ(base32_decode("MZXW6YTBOI"), "foobar");
  EXPECT_EQ(base32_decode(""), "");
}

TEST(Base32, DecodeAcceptsLowerCaseAndSpaces) {
  EXPECT_EQ(base32_decode("gezd gnbv gy3t qojq gezd gnbv gy3t qojq"), kRfcSecret);
  EXPECT_EQ(base32_decode("GezdGNBVgy3tqojqGEZDGNBVGY3TQOJQ"), kRfcSecret);
}

TEST(Base32, RoundTripsEveryLengthAndRandomKeys) {
  std::string raw;
  for (int i = 0; i < 64; ++i) {
    EXPECT_EQ(base32_decode(base32_encode(raw)), raw) << "length " << raw.size();
    raw.push_back(static_cast<char>(i * 37 + 11));
  }
  for (int i = 0; i < 20; ++i) {
    const std::string key = generate_secret();
    EXPECT_EQ(base32_decode(base32_encode(key)), key);
  }
}

TEST(Base32, DecodeRejectsGarbage) {
  for (const char* bad : {
           "MZXW1YTB",          // '1' is not in the alphabet
           "MZXW8YTB",          // nor is '8'
           "MZXW6YT!",          // punctuation
           "MZXW-6YTB",         // separators other than spaces
           "MZXW\t6YTB",        // tabs
           "M",                 // 1 symbol: impossible length
           "MZX",               // 3 symbols: impossible length
           "MZXW6Y",            // 6 symbols: impossible length
           "MZ======",          // "MZ" has non-zero unused bits (canonical is "MY")
           "MY=",               // padding of the wrong length
           "MY=======",         // too much padding
           "MY==A===",          // data after padding
           "MZXW6YTB========",  // padding after a full block
           "=",                 // padding alone
           "otpauth://totp/x",  // a URI pasted instead of a key
       }) {
    EXPECT_FALSE(base32_decode(bad).has_value()) << bad;
  }
  EXPECT_FALSE(base32_decode(std::string("MZXW6\0TB", 8)).has_value());
}

TEST(OtpauthUri, HasGoogleAuthenticatorKeyUriFormat) {
  EXPECT_EQ(otpauth_uri("Shop", "ana@example.com", kRfcSecret),
            "otpauth://totp/Shop:ana%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
            "&issuer=Shop&algorithm=SHA1&digits=6&period=30");
}

TEST(OtpauthUri, PercentEncodesIssuerAndAccount) {
  const std::string uri = otpauth_uri("My Shop & Co:", "José Ávila?", "abc");
  EXPECT_EQ(uri,
            "otpauth://totp/My%20Shop%20%26%20Co%3A:Jos%C3%A9%20%C3%81vila%3F?secret=MFRGG"
            "&issuer=My%20Shop%20%26%20Co%3A&algorithm=SHA1&digits=6&period=30");
}

TEST(QrTerminal, RendersSquareWithQuietZoneInHalfBlocks) {
  const std::string qr = qr_terminal("otpauth://totp/Shop:ana?secret=MFRGG&issuer=Shop");
  ASSERT_FALSE(qr.empty());
  ASSERT_EQ(qr.back(), '\n');
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t nl; (nl = qr.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(qr.substr(start, nl - start));
  }
  // Count UTF-8 characters per line: every line has the same width.
  auto columns = [](const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xc0) != 0x80;
    return n;
  };
  const std::size_t width = columns(lines.front());
  for (const auto& line : lines) EXPECT_EQ(columns(line), width);
  // Version v is 17 + 4v modules, plus 4 quiet modules each side; two rows per line.
  EXPECT_EQ((width - 8 - 17) % 4, 0u);
  EXPECT_EQ(lines.size(), (width + 1) / 2);
  // The quiet zone is light: the first two lines are full blocks only.
  std::string full;
  for (std::size_t i = 0; i < width; ++i) full += "\u2588";
  EXPECT_EQ(lines[0], full);
  EXPECT_EQ(lines[1], full);
  // Only the four glyphs appear.
  std::string rest = qr;
  for (const char* g : {"\u2588", "\u2580", "\u2584", " ", "\n"}) {
    for (std::size_t p; (p = rest.find(g)) != std::string::npos;) rest.erase(p, std::strlen(g));
  }
  EXPECT_EQ(rest, "");
}

}  // namespace
}  // namespace cartgate::totp
