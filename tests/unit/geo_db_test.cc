#include "rules/geo_db.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "policy/country_codes.h"

namespace cartgate::geo {
namespace {

// Debian's tor-geoipdb, converted from the IPFire location database. The expected
// countries were checked against the installed files (grep for the covering range).
constexpr const char* kTorV4 = "/usr/share/tor/geoip";
constexpr const char* kTorV6 = "/usr/share/tor/geoip6";

const country_db& tor_db() {
  static const country_db db = country_db::load_tor(kTorV4, kTorV6);
  return db;
}

// A scratch file removed when the test ends.
class temp_file {
 public:
  explicit temp_file(const std::string& contents)
      : path_(std::filesystem::temp_directory_path() /
              ("cartgate_geo_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++))) {
    std::ofstream(path_) << contents;
  }
  ~temp_file() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

TEST(GeoTor, WellKnownPublicAddressesResolveToTheirCountry) {
  struct row {
    const char* ip;
    const char* country;
  };
  const row rows[] = {
      {"8.8.8.8", "US"},          // Google DNS: 100663296,135630591,US
      {"85.214.132.117", "DE"},   // Strato: 1440088064,1440155711,DE
      {"114.114.114.114", "CN"},  // 114DNS: 1920073472,1920434175,CN
      {"77.88.8.8", "RU"},        // Yandex DNS: 1297614336,1297619231,RU
      {"175.45.176.1", "KP"},     // Star JV: 2939006976,2939007999,KP
      {"81.2.69.142", "GB"},
      {"1.0.0.0", "AU"},               // first line of the file, lower edge
      {"::ffff:8.8.8.8", "US"},        // mapped form looks up the IPv4 table
      {"2001:4860:4860::8888", "US"},  // 2001:4860::,2001:4860:ffff:...,US
      {"2a02:6b8::feed:ff", "RU"},     // Yandex
      {"2003::1", "DE"},               // Deutsche Telekom
      {"240e::1", "CN"},               // China Telecom
  };
  for (const auto& r : rows) {
    auto cc = tor_db().lookup(r.ip);
    ASSERT_TRUE(cc) << r.ip;
    EXPECT_EQ(*cc, r.country) << r.ip;
  }
}

TEST(GeoTor, PrivateLoopbackAndJunkHaveNoCountry) {
  const char* rows[] = {"10.0.0.1",
                        "127.0.0.1",
                        "192.168.1.1",
                        "172.16.0.1",
                        "100.64.0.1",
                        "0.0.0.0",
                        "255.255.255.255",
                        "::1",
                        "fe80::1",
                        "fd00::1",
                        "::",
                        "not an ip",
                        "",
                        "8.8.8.8:53"};
  for (const char* ip : rows) EXPECT_FALSE(tor_db().lookup(ip)) << ip;
}

TEST(GeoTor, LoadsBothFamilies) {
  // ~385k IPv4 and ~276k IPv6 lines in bookworm's package; only sanity-check the
  // order of magnitude so a data update does not break the test.
  EXPECT_GT(tor_db().size(), 100000u);
}

TEST(GeoTor, ConcurrentLookupsAgree) {
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i)
        if (tor_db().lookup(i % 2 ? "8.8.8.8" : "2a02:6b8::feed:ff") !=
            std::optional<std::string>(i % 2 ? "US" : "RU"))
          ++wrong[t];
    });
  for (auto& th : threads) th.join();
  for (int w : wrong) EXPECT_EQ(w, 0);
}

TEST(GeoTor, SmallFileRangesAndEdges) {
  temp_file v4(
      "# comment\n"
      "\n"
      "16777216,16777471,au\r\n"  // 1.0.0.0-1.0.0.255, lower case and CRLF tolerated
      "16777472,16777472,??\n"    // unknown
      "33554432,33554435,UK\n");  // 2.0.0.0-2.0.0.3, folded into GB
  temp_file v6("2001:db8::,2001:db8::ffff,NL\n");
  auto db = country_db::load_tor(v4.path(), v6.path());
  EXPECT_EQ(db.size(), 4u);
  struct row {
    const char* ip;
    std::optional<std::string> country;
  };
  const row rows[] = {
      {"0.255.255.255", std::nullopt},
      {"1.0.0.0", "AU"},
      {"1.0.0.255", "AU"},
      {"1.0.1.0", std::nullopt},
      {"1.0.1.1", std::nullopt},
      {"2.0.0.3", "GB"},
      {"2.0.0.4", std::nullopt},
      {"2001:db8::", "NL"},
      {"2001:db8::ffff", "NL"},
      {"2001:db8::1:0", std::nullopt},
      {"2001:db7::", std::nullopt},
  };
  for (const auto& r : rows) EXPECT_EQ(db.lookup(r.ip), r.country) << r.ip;
}

TEST(GeoTor, EmptyPathSkipsThatFamily) {
  temp_file v4("16777216,16777471,AU\n");
  auto db = country_db::load_tor(v4.path(), "");
  EXPECT_EQ(db.lookup("1.0.0.1"), "AU");
  EXPECT_FALSE(db.lookup("2001:4860:4860::8888"));
}

TEST(GeoTor, EmptyDatabaseKnowsNothing) {
  country_db db;
  EXPECT_EQ(db.size(), 0u);
  EXPECT_FALSE(db.lookup("8.8.8.8"));
}

TEST(GeoTor, BadFilesThrowNamingPathAndLine) {
  struct row {
    const char* name;
    const char* v4;
    const char* v6;
    const char* line;  // expected ":N:" in the message
  };
  const row rows[] = {
      {"missing field", "# ok\n1,2\n", "", ":2:"},
      {"not a number", "1,2,US\nx,2,US\n", "", ":2:"},
      {"number too big", "1,4294967296,US\n", "", ":1:"},
      {"reversed range", "5,4,US\n", "", ":1:"},
      {"bad code", "1,2,USA\n", "", ":1:"},
      {"overlap", "1,10,US\n20,30,DE\n5,6,FR\n", "", ":3:"},
      {"IPv4 in the IPv6 file", "", "1.2.3.4,1.2.3.5,US\n", ":1:"},
      {"bad IPv6", "", "2001:db8::,2001:zz8::,US\n", ":1:"},
  };
  for (const auto& r : rows) {
    temp_file v4(r.v4), v6(r.v6);
    try {
      country_db::load_tor(v4.path(), v6.path());
      ADD_FAILURE() << r.name << ": no exception";
    } catch (const std::runtime_error& e) {
      std::string what = e.what();
      const std::string& path = *r.v4 ? v4.path() : v6.path();
      EXPECT_NE(what.find(path + r.line), std::string::npos) << r.name << ": " << what;
    }
  }
}

// Found by tests/fuzz/geo_db_fuzz.cc: "A?" was read as a code, and lookup() answered
// "A?" for the range as if it were a country. Only two letters or Tor's "??" are codes.
TEST(GeoTor, CodeHalfMadeOfQuestionMarksIsRefused) {
  for (const char* cc : {"A?", "?z", "?"}) {
    temp_file v4(std::string("1,100,") + cc + "\n");
    EXPECT_THROW(country_db::load_tor(v4.path(), ""), std::runtime_error) << cc;
  }
  temp_file unknown("1,100,??\n200,300,de\n");
  auto db = country_db::load_tor(unknown.path(), "");
  EXPECT_EQ(db.size(), 2u);
  EXPECT_EQ(db.lookup("0.0.0.50"), std::nullopt);
  EXPECT_EQ(db.lookup("0.0.1.44"), "DE");
}

TEST(GeoTor, MissingFileThrowsNamingPath) {
  try {
    country_db::load_tor("/nonexistent/geoip", "");
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/geoip"), std::string::npos);
  }
}

TEST(GeoMmdb, MissingOrInvalidFileThrowsNamingPath) {
  temp_file junk("this is not a MaxMind database");
  for (const std::string& path : {std::string("/nonexistent/country.mmdb"), junk.path()}) {
    try {
      country_db::load_mmdb(path);
      ADD_FAILURE() << path << ": no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
}

TEST(CountryCodes, AcceptsAssignedUpperCaseCodesOnly) {
  struct row {
    const char* code;
    bool expected;
  };
  const row rows[] = {
      {"US", true},  {"DE", true},  {"CN", true},  {"RU", true},   {"KP", true},  {"GB", true},
      {"AD", true},  {"ZW", true},  {"SS", true},  {"BQ", true},   {"us", false}, {"Us", false},
      {"UK", false}, {"EU", false}, {"AP", false}, {"ZZ", false},  {"XK", false}, {"AN", false},
      {"??", false}, {"", false},   {"U", false},  {"USA", false}, {"AA", false},
  };
  for (const auto& r : rows) EXPECT_EQ(is_country_code(r.code), r.expected) << r.code;
}

}  // namespace
}  // namespace cartgate::geo
