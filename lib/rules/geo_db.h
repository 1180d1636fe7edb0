// IP-to-country database for the geolocation rule: Debian's tor-geoipdb range files
// (the default; always installable, no licence key) or a MaxMind .mmdb file.
// Load once at start (or on reload) and share: lookups never modify the object.
//
//   auto db = cartgate::geo::country_db::load_tor("/usr/share/tor/geoip",
//                                                 "/usr/share/tor/geoip6");
//   std::optional<std::string> cc = db.lookup("8.8.8.8");  // "US"
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct MMDB_s;

namespace cartgate::geo {

class country_db {
 public:
  // An empty database: every lookup is nullopt (for when the country comes from a
  // header nginx sets instead).
  country_db() = default;

  // Tor's format: "FROM_INT,TO_INT,CC" (IPv4 as 32-bit integers) and
  // "FROM_V6,TO_V6,CC" (IPv6 text), '#' comments. Either path may be empty to skip
  // that family. Throws std::runtime_error naming path and line on unreadable or
  // malformed input, or on overlapping ranges (binary search would silently pick one).
  static country_db load_tor(const std::string& ipv4_path, const std::string& ipv6_path);

  // A MaxMind DB (GeoLite2-Country, GeoIP2-Country, DB-IP country lite...): memory
  // mapped, country.iso_code. Throws std::runtime_error naming path on failure.
  static country_db load_mmdb(const std::string& path);

  // Upper-case code for the address, or nullopt when the text is not an address or
  // the database has no country for it (private, loopback, unallocated, Tor's "??").
  // Codes pass through as the data has them, including non-ISO ones such as "EU" or
  // "AP", except "UK", which is folded into ISO's "GB" so that an allow list naming
  // GB covers it. IPv4-mapped IPv6 is looked up as IPv4.
  std::optional<std::string> lookup(std::string_view ip) const;

  // Number of ranges held (tor), or the search tree's node count (mmdb).
  std::size_t size() const;

 private:
  struct v4_range {
    std::uint32_t from, to;
    char cc[2];
  };
  struct v6_range {
    std::array<std::uint8_t, 16> from, to;  // network order: compares as numbers
    char cc[2];
  };
  std::vector<v4_range> v4_;
  std::vector<v6_range> v6_;
  // Shared so that copies of a loaded db stay cheap; MMDB_lookup_* only reads the
  // mapping, which libmaxminddb documents as safe from many threads.
  std::shared_ptr<MMDB_s> mmdb_;
};

}  // namespace cartgate::geo
