#include "policy/semver.h"

#include <gtest/gtest.h>

namespace cartgate::semver {
namespace {

int sign(int v) { return v < 0 ? -1 : v > 0 ? 1 : 0; }

TEST(Semver, ComparesByPrecedence) {
  struct row {
    const char* a;
    const char* b;
    int expected;  // sign of compare(a, b)
  };
  const row rows[] = {
      {"1.2.10", "1.2.9", 1},  // numeric, not string, order
      {"1.10.0", "1.9.9", 1},
      {"10.0.0", "9.99.99", 1},
      {"1.0.0-alpha", "1.0.0", -1},  // prerelease below release
      {"2", "2.0.0", 0},             // missing parts are zero
      {"2.1", "2.1.0", 0},
      {"2.1", "2.0.9", 1},
      {"1.0.0+build.5", "1.0.0+build.7", 0},  // build metadata ignored
      {"1.0.0-rc.1+x", "1.0.0-rc.1", 0},
      // SemVer §11.4 example chain, each lower than the next:
      {"1.0.0-alpha", "1.0.0-alpha.1", -1},
      {"1.0.0-alpha.1", "1.0.0-alpha.beta", -1},  // numeric below alphanumeric
      {"1.0.0-alpha.beta", "1.0.0-beta", -1},
      {"1.0.0-beta", "1.0.0-beta.2", -1},
      {"1.0.0-beta.2", "1.0.0-beta.11", -1},  // numeric identifiers numerically
      {"1.0.0-beta.11", "1.0.0-rc.1", -1},
      {"1.0.0-rc.1", "1.0.0", -1},
      {"1.0.0-RC", "1.0.0-rc", -1},  // ASCII order: upper case first
      {"1.0.0-a-b", "1.0.0-a", 1},
      {"1-beta", "1.0.0-beta", 0},
      {"18446744073709551615.0.0", "18446744073709551614.9.9", 1},
      {"1.0.0-99999999999999999999999", "1.0.0-99999999999999999999998", 1},
      {"0.0.0", "0.0.0", 0},
  };
  for (const auto& r : rows) {
    auto a = parse(r.a), b = parse(r.b);
    ASSERT_TRUE(a) << r.a;
    ASSERT_TRUE(b) << r.b;
    EXPECT_EQ(sign(compare(*a, *b)), r.expected) << r.a << " vs " << r.b;
    EXPECT_EQ(sign(compare(*b, *a)), -r.expected) << r.b << " vs " << r.a;
  }
}

TEST(Semver, ParsesParts) {
  auto v = parse("1.2.3-alpha.1+build.007");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->major, 1u);
  EXPECT_EQ(v->minor, 2u);
  EXPECT_EQ(v->patch, 3u);
  EXPECT_EQ(v->prerelease, (std::vector<std::string>{"alpha", "1"}));
  EXPECT_EQ(v->build, (std::vector<std::string>{"build", "007"}));  // zeros allowed here
  EXPECT_EQ(v->to_string(), "1.2.3-alpha.1+build.007");
  EXPECT_EQ(parse("4")->to_string(), "4.0.0");
}

TEST(Semver, RejectsMalformedVersions) {
  const char* rows[] = {
      "",         "v1.2.3",    "1.2.3.4",
      "01.2.3",   "1.02.3",    "1.2.03",
      "1.2.3-",   "1.2.3+",    "1.2.3-a..b",
      "1.2.3-01", "1.2.3-a_b", " 1.2.3",
      "1.2.3 ",   "1..3",      "1.",
      ".1",       "-1.2.3",    "1.2.x",
      "a.b.c",    "1.2.3+a+b", "18446744073709551616.0.0",
      "1.2.3-é",
  };
  for (const char* input : rows) {
    EXPECT_FALSE(parse(input)) << input;
    EXPECT_FALSE(is_valid(input)) << input;
  }
}

TEST(Semver, AcceptsValidVersions) {
  const char* rows[] = {"0",
                        "0.0",
                        "1.2.3",
                        "1.0.0-0",
                        "1.0.0-0.3.7",
                        "1.0.0-x.7.z.92",
                        "1.0.0+20130313144700",
                        "1.0.0-beta+exp.sha.5114f85",
                        "1.0.0-x-y-z.--",
                        "1.0.0+0.build.1-rc.10000aaa-kk-0.1"};
  for (const char* input : rows) EXPECT_TRUE(is_valid(input)) << input;
}

}  // namespace
}  // namespace cartgate::semver
