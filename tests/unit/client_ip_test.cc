#include "http/client_ip.h"

#include <gtest/gtest.h>

namespace cartgate::net {
namespace {

TEST(Address, ParsesAndPrintsCanonicalText) {
  struct row {
    const char* input;
    const char* canonical;
  };
  const row rows[] = {
      {"192.0.2.1", "192.0.2.1"},
      {"0.0.0.0", "0.0.0.0"},
      {"255.255.255.255", "255.255.255.255"},
      {"::1", "::1"},
      {"::", "::"},
      {"[2001:db8::1]", "2001:db8::1"},
      {"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},           // RFC 5952 §4.3: lower case
      {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},     // §4.2.3: first of equal runs
      {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},  // §4.2.2: one zero stays
      {"2001:0db8::0001", "2001:db8::1"},                // §4.1: no leading zeros
      {"::ffff:192.0.2.1", "192.0.2.1"},                 // IPv4-mapped is IPv4
      {"::FFFF:c000:0201", "192.0.2.1"},
  };
  for (const auto& r : rows) {
    auto a = parse_address(r.input);
    ASSERT_TRUE(a) << r.input;
    EXPECT_EQ(a->to_string(), r.canonical) << r.input;
  }
}

TEST(Address, RejectsWhatIsNotABareAddress) {
  const char* rows[] = {
      "",
      "unknown",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.2.3.4",
      "1.2.3.4 ",
      " 1.2.3.4",
      "1.2.3.4:80",
      "::1::2",
      "fe80::1%eth0",
      "[::1]:443",
      "2001:db8::g",
      "1.2.3.-4",
      "[::1",
      "0x7f.0.0.1",
      "12345678901234567890123456789012345678901234567890",
  };
  for (const char* input : rows) EXPECT_FALSE(parse_address(input)) << input;
  EXPECT_FALSE(parse_address(std::string_view("1.2.3.4\0junk", 12)));
}

TEST(Address, MappedAndPlainIpv4AreEqual) {
  EXPECT_EQ(*parse_address("10.1.2.3"), *parse_address("::ffff:10.1.2.3"));
  EXPECT_TRUE(parse_address("::ffff:10.1.2.3")->is_v4());
  EXPECT_EQ(parse_address("10.1.2.3")->v4(), 0x0a010203u);
  EXPECT_FALSE(parse_address("::10.1.2.3")->is_v4());  // deprecated "compatible" form
}

TEST(ProxyList, ParsesAddressesAndCidrs) {
  std::string error;
  auto list = proxy_list::parse(" 127.0.0.1, ::1 ,10.0.0.0/8,2001:db8::/32,172.16.5.9/12", &error);
  ASSERT_TRUE(list) << error;
  struct row {
    const char* ip;
    bool trusted;
  };
  const row rows[] = {
      {"127.0.0.1", true},      {"127.0.0.2", false},      {"::1", true},
      {"10.0.0.0", true},       {"10.255.255.255", true},  {"11.0.0.0", false},
      {"9.255.255.255", false}, {"::ffff:10.9.9.9", true}, {"2001:db8:ffff::1", true},
      {"2001:db9::1", false},   {"172.31.255.255", true},  {"172.32.0.0", false},
      {"::2", false},
  };
  for (const auto& r : rows) EXPECT_EQ(list->contains(*parse_address(r.ip)), r.trusted) << r.ip;
}

TEST(ProxyList, PrefixOfMappedIpv6CountsAll128Bits) {
  std::string error;
  auto list = proxy_list::parse("::ffff:10.0.0.0/104", &error);
  ASSERT_TRUE(list) << error;
  EXPECT_TRUE(list->contains(*parse_address("10.200.0.1")));
  EXPECT_FALSE(list->contains(*parse_address("11.0.0.1")));
}

TEST(ProxyList, ZeroPrefixTrustsTheWholeFamily) {
  auto list = proxy_list::parse("0.0.0.0/0", nullptr);
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->contains(*parse_address("203.0.113.9")));
  EXPECT_FALSE(list->contains(*parse_address("2001:db8::1")));
}

TEST(ProxyList, EmptyTextTrustsNoOne) {
  auto list = proxy_list::parse("  ", nullptr);
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->empty());
  EXPECT_FALSE(list->contains(*parse_address("127.0.0.1")));
}

TEST(ProxyList, RejectsBadEntriesWithAReason) {
  const char* rows[] = {"127.0.0.1,",   "localhost",   "10.0.0.0/33", "::/129",
                        "10.0.0.0/",    "10.0.0.0/-1", "10.0.0.0/8x", "1.2.3.4,,5.6.7.8",
                        "10.0.0.0/8/8", "10.0.0.0/ 8"};
  for (const char* input : rows) {
    std::string error;
    EXPECT_FALSE(proxy_list::parse(input, &error)) << input;
    EXPECT_FALSE(error.empty()) << input;
  }
}

TEST(ResolveClientIp, FollowsTrustedHopsOnly) {
  struct row {
    const char* name;
    const char* remote;
    const char* xff;
    const char* trusted;
    const char* expected;
  };
  const row rows[] = {
      {"untrusted peer, no header", "203.0.113.7", "", "127.0.0.1", "203.0.113.7"},
      {"untrusted peer spoofs XFF", "203.0.113.7", "1.1.1.1", "127.0.0.1", "203.0.113.7"},
      {"trusted peer, no header: the proxy itself", "127.0.0.1", "", "127.0.0.1", "127.0.0.1"},
      {"trusted peer, one hop", "127.0.0.1", "198.51.100.4", "127.0.0.1", "198.51.100.4"},
      {"client-sent XFF left of the real hop is ignored", "127.0.0.1", "6.6.6.6, 198.51.100.4",
       "127.0.0.1", "198.51.100.4"},
      {"chain of trusted hops via CIDR", "127.0.0.1", "198.51.100.4, 10.1.1.1, 10.2.2.2",
       "127.0.0.1,10.0.0.0/8", "198.51.100.4"},
      {"all hops trusted: leftmost", "127.0.0.1", "10.1.1.1,10.2.2.2", "127.0.0.1,10.0.0.0/8",
       "10.1.1.1"},
      {"garbage stops the walk: last good hop", "127.0.0.1", "198.51.100.4, garbage, 10.2.2.2",
       "127.0.0.1,10.0.0.0/8", "10.2.2.2"},
      {"garbage at the right end: the peer", "127.0.0.1", "198.51.100.4, <script>", "127.0.0.1",
       "127.0.0.1"},
      {"empty element stops the walk", "127.0.0.1", "198.51.100.4,,10.2.2.2",
       "127.0.0.1,10.0.0.0/8", "10.2.2.2"},
      {"only commas", "127.0.0.1", ",,", "127.0.0.1", "127.0.0.1"},
      {"IPv6 peer and client", "::1", "2001:db8::42", "::1", "2001:db8::42"},
      {"IPv6 client normalised", "::1", "2001:DB8:0:0::42", "::1", "2001:db8::42"},
      {"IPv6 CIDR hop", "::1", "2001:db8::42, fd00::7", "::1,fd00::/8", "2001:db8::42"},
      {"mapped peer matches IPv4 entry", "::ffff:127.0.0.1", "198.51.100.4", "127.0.0.1",
       "198.51.100.4"},
      {"mapped untrusted peer printed as IPv4", "::ffff:203.0.113.7", "", "127.0.0.1",
       "203.0.113.7"},
      {"IPv4 hop with port", "127.0.0.1", "198.51.100.4:5123", "127.0.0.1", "198.51.100.4"},
      {"bracketed IPv6 hop with port", "127.0.0.1", "[2001:db8::9]:443", "127.0.0.1",
       "2001:db8::9"},
      {"bracketed IPv6 hop without port", "127.0.0.1", "[2001:db8::9]", "127.0.0.1", "2001:db8::9"},
      {"port on a bare IPv6 is not a port", "127.0.0.1", "2001:db8::9:443", "127.0.0.1",
       "2001:db8::9:443"},
      {"bad port is garbage", "127.0.0.1", "198.51.100.4:99999", "127.0.0.1", "127.0.0.1"},
      {"empty trust list trusts no peer", "127.0.0.1", "198.51.100.4", "", "127.0.0.1"},
      {"unparseable peer returned as is", "unix:", "198.51.100.4", "127.0.0.1", "unix:"},
      {"tabs and spaces around elements", "127.0.0.1", "198.51.100.4 ,\t10.0.0.1 ",
       "127.0.0.1,10.0.0.0/8", "198.51.100.4"},
  };
  for (const auto& r : rows) {
    std::string error;
    auto trusted = proxy_list::parse(r.trusted, &error);
    ASSERT_TRUE(trusted) << r.name << ": " << error;
    EXPECT_EQ(resolve_client_ip(r.remote, r.xff, *trusted), r.expected) << r.name;
  }
}

}  // namespace
}  // namespace cartgate::net
