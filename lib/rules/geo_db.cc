#include "rules/geo_db.h"

#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "http/client_ip.h"

namespace cartgate::geo {
namespace {

[[noreturn]] void fail(const std::string& path, std::size_t line, const std::string& why) {
  throw std::runtime_error(path + ":" + std::to_string(line) + ": " + why);
}

// Two letters, or Tor's "??" (no country). A code half made of '?' ("A?") is refused:
// it would otherwise be answered by lookup() as if it were a country.
bool read_code(std::string_view text, char out[2]) {
  if (text == "??") {
    out[0] = out[1] = '?';
    return true;
  }
  if (text.size() != 2) return false;
  for (int i = 0; i < 2; ++i) {
    char c = text[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!(c >= 'A' && c <= 'Z')) return false;
    out[i] = c;
  }
  return true;
}

// Both tor files share one shape; only the address syntax differs. parse_addr turns a
// field into the range's key type or returns false.
template <typename Range, typename ParseAddr>
std::vector<Range> load_ranges(const std::string& path, ParseAddr parse_addr) {
  std::vector<Range> out;
  if (path.empty()) return out;
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));

  // Line numbers are kept until the overlap check so an error can point at both lines.
  std::vector<std::size_t> lines;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string_view s = line;
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    if (s.empty() || s.front() == '#') continue;
    auto c1 = s.find(',');
    auto c2 = c1 == s.npos ? s.npos : s.find(',', c1 + 1);
    if (c2 == s.npos) fail(path, number, "expected FROM,TO,CC");
    Range r{};
    if (!parse_addr(s.substr(0, c1), r.from) || !parse_addr(s.substr(c1 + 1, c2 - c1 - 1), r.to))
      fail(path, number, "bad address");
    if (r.to < r.from) fail(path, number, "range ends before it starts");
    if (!read_code(s.substr(c2 + 1), r.cc)) fail(path, number, "bad country code");
    out.push_back(r);
    lines.push_back(number);
  }
  if (in.bad()) throw std::runtime_error(path + ": read error");

  std::vector<std::size_t> order(out.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return out[a].from < out[b].from; });
  std::vector<Range> sorted;
  sorted.reserve(out.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i > 0 && !(out[order[i - 1]].to < out[order[i]].from))
      fail(path, lines[order[i]],
           "range overlaps the one on line " + std::to_string(lines[order[i - 1]]));
    sorted.push_back(out[order[i]]);
  }
  return sorted;
}

template <typename Range, typename Key>
std::optional<std::string> find(const std::vector<Range>& ranges, const Key& key) {
  // The last range starting at or before key is the only one that can hold it.
  auto it = std::upper_bound(ranges.begin(), ranges.end(), key,
                             [](const Key& k, const Range& r) { return k < r.from; });
  if (it == ranges.begin()) return std::nullopt;
  --it;
  if (it->to < key) return std::nullopt;
  std::string cc(it->cc, 2);
  if (cc == "??") return std::nullopt;
  return cc;
}

std::string normalise(std::string cc) {
  for (auto& c : cc)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  // "UK" is reserved by ISO for the United Kingdom but its code is GB; some registries
  // still publish UK and an allow list would never match it.
  if (cc == "UK") return "GB";
  return cc;
}

}  // namespace

country_db country_db::load_tor(const std::string& ipv4_path, const std::string& ipv6_path) {
  country_db db;
  db.v4_ = load_ranges<v4_range>(ipv4_path, [](std::string_view s, std::uint32_t& out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && end == s.data() + s.size() && !s.empty();
  });
  db.v6_ =
      load_ranges<v6_range>(ipv6_path, [](std::string_view s, std::array<std::uint8_t, 16>& out) {
        // Only real IPv6 text: a dotted quad here would be a file mix-up.
        if (s.find(':') == s.npos) return false;
        auto a = net::parse_address(s);
        if (!a) return false;
        out = a->bytes;
        return true;
      });
  return db;
}

country_db country_db::load_mmdb(const std::string& path) {
  auto raw = std::make_unique<MMDB_s>();
  int status = MMDB_open(path.c_str(), MMDB_MODE_MMAP, raw.get());
  // A failed MMDB_open frees what it allocated itself; only the struct is ours.
  if (status != MMDB_SUCCESS)
    throw std::runtime_error(path + ": cannot open MaxMind DB: " + MMDB_strerror(status));
  std::shared_ptr<MMDB_s> handle(raw.release(), [](MMDB_s* m) {
    MMDB_close(m);
    delete m;
  });
  country_db db;
  db.mmdb_ = std::move(handle);
  return db;
}

std::optional<std::string> country_db::lookup(std::string_view ip) const {
  auto a = net::parse_address(ip);
  if (!a) return std::nullopt;

  if (mmdb_) {
    sockaddr_storage ss{};
    if (a->is_v4()) {
      auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
      sin->sin_family = AF_INET;
      std::memcpy(&sin->sin_addr, a->bytes.data() + 12, 4);
    } else {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
      sin6->sin6_family = AF_INET6;
      std::memcpy(&sin6->sin6_addr, a->bytes.data(), 16);
    }
    int mmdb_error = MMDB_SUCCESS;
    MMDB_lookup_result_s result =
        MMDB_lookup_sockaddr(mmdb_.get(), reinterpret_cast<sockaddr*>(&ss), &mmdb_error);
    if (mmdb_error != MMDB_SUCCESS || !result.found_entry) return std::nullopt;
    // Some networks (anycast, satellite) have no "country" but do have the country
    // they are registered in; that is the better answer than none.
    for (const char* key : {"country", "registered_country"}) {
      MMDB_entry_data_s data{};
      if (MMDB_get_value(&result.entry, &data, key, "iso_code", nullptr) == MMDB_SUCCESS &&
          data.has_data && data.type == MMDB_DATA_TYPE_UTF8_STRING && data.data_size == 2)
        return normalise(std::string(data.utf8_string, data.data_size));
    }
    return std::nullopt;
  }

  std::optional<std::string> cc = a->is_v4() ? find(v4_, a->v4()) : find(v6_, a->bytes);
  if (!cc) return std::nullopt;
  return normalise(std::move(*cc));
}

std::size_t country_db::size() const {
  if (mmdb_) return mmdb_->metadata.node_count;
  return v4_.size() + v6_.size();
}

}  // namespace cartgate::geo
