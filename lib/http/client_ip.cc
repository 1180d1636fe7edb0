#include "http/client_ip.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace cartgate::net {
namespace {

constexpr std::array<std::uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// One X-Forwarded-For element: a bare address, or one with a port that some proxies
// (and RFC 7239-style writers) append.
std::optional<address> parse_forwarded_entry(std::string_view s) {
  s = trim(s);
  if (auto a = address::parse(s)) return a;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    auto rest = s.substr(close + 1);
    if (rest.size() < 2 || rest.front() != ':') return std::nullopt;
    return address::parse(s.substr(1, close - 1));
  }
  // IPv4 with port: exactly one colon (an IPv6 address has at least two).
  auto colon = s.find(':');
  if (colon == std::string_view::npos || s.find(':', colon + 1) != std::string_view::npos)
    return std::nullopt;
  auto port = s.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || value > 65535) return std::nullopt;
  auto a = address::parse(s.substr(0, colon));
  if (!a || !a->is_v4()) return std::nullopt;
  return a;
}

bool prefix_matches(const address& a, const address& network, int bits) {
  int full = bits / 8;
  if (std::memcmp(a.bytes.data(), network.bytes.data(), full) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == network.bytes[full];
}

void clear_host_bits(address& a, int bits) {
  for (int i = 0; i < 16; ++i) {
    int keep = bits - i * 8;
    if (keep >= 8) continue;
    a.bytes[i] &= keep <= 0 ? 0 : static_cast<std::uint8_t>(0xff << (8 - keep));
  }
}

}  // namespace

std::optional<address> address::parse(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  // inet_pton wants a NUL-terminated string; an embedded NUL would silently cut the
  // input short, so refuse it (and anything too long to be an address) up front.
  if (text.empty() || text.size() > 45 || text.find('\0') != std::string_view::npos)
    return std::nullopt;
  std::string s(text);
  address a;
  if (s.find(':') == std::string::npos) {
    in_addr v4{};
    if (inet_pton(AF_INET, s.c_str(), &v4) != 1) return std::nullopt;
    std::copy(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), a.bytes.begin());
    std::memcpy(a.bytes.data() + 12, &v4, 4);
    return a;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) != 1) return std::nullopt;
  std::memcpy(a.bytes.data(), &v6, 16);
  return a;
}

bool address::is_v4() const {
  return std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), bytes.begin());
}

std::uint32_t address::v4() const {
  return (std::uint32_t{bytes[12]} << 24) | (std::uint32_t{bytes[13]} << 16) |
         (std::uint32_t{bytes[14]} << 8) | std::uint32_t{bytes[15]};
}

std::string address::to_string() const {
  if (is_v4()) {
    return std::to_string(bytes[12]) + '.' + std::to_string(bytes[13]) + '.' +
           std::to_string(bytes[14]) + '.' + std::to_string(bytes[15]);
  }
  // RFC 5952 §4: lower-case hex, no leading zeros, the longest run (first on a tie) of
  // two or more zero groups becomes "::". Written out rather than left to inet_ntop,
  // whose output for some prefixes (e.g. "::1.2.3.4") differs between libcs.
  std::array<unsigned, 8> g{};
  for (int i = 0; i < 8; ++i) g[i] = (unsigned{bytes[2 * i]} << 8) | bytes[2 * i + 1];
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  std::string out;
  char buf[8];
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, g[i], 16);
    out.append(buf, end);
  }
  return out;
}

std::optional<address> parse_address(std::string_view text) { return address::parse(text); }

std::optional<proxy_list> proxy_list::parse(std::string_view text, std::string* error) {
  auto fail = [&](std::string message) -> std::optional<proxy_list> {
    if (error) *error = std::move(message);
    return std::nullopt;
  };
  proxy_list list;
  if (trim(text).empty()) return list;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    auto item = trim(text.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) return fail("empty entry in trusted proxy list");

    auto slash = item.find('/');
    auto a = address::parse(item.substr(0, slash));
    if (!a) return fail("not an IP address: \"" + std::string(item) + "\"");
    int bits = 128;
    if (slash != std::string_view::npos) {
      auto p = item.substr(slash + 1);
      int n = -1;
      auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
      // The prefix counts bits of the address as written: "10.0.0.0/8" but
      // "::ffff:10.0.0.0/104" for the same block.
      bool v4_text = item.substr(0, slash).find(':') == std::string_view::npos;
      int max = v4_text ? 32 : 128;
      if (p.empty() || ec != std::errc{} || end != p.data() + p.size() || n < 0 || n > max)
        return fail("bad prefix length in \"" + std::string(item) + "\"");
      bits = v4_text ? 96 + n : n;
    }
    clear_host_bits(*a, bits);
    list.entries_.push_back({*a, bits});
  }
  return list;
}

bool proxy_list::contains(const address& a) const {
  for (const auto& e : entries_)
    if (prefix_matches(a, e.network, e.prefix_bits)) return true;
  return false;
}

std::string resolve_client_ip(std::string_view remote_addr, std::string_view x_forwarded_for,
                              const proxy_list& trusted) {
  auto peer = address::parse(remote_addr);
  if (!peer) return std::string(remote_addr);
  if (!trusted.contains(*peer)) return peer->to_string();

  // Each proxy appends the address it received from, so the right end is the most
  // trustworthy: walk leftwards while the hops are ours.
  address last_good = *peer;
  std::string_view rest = x_forwarded_for;
  if (trim(rest).empty()) return last_good.to_string();
  while (true) {
    auto comma = rest.rfind(',');
    auto item = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    auto hop = parse_forwarded_entry(item);
    if (!hop) break;
    if (!trusted.contains(*hop)) return hop->to_string();
    last_good = *hop;
    if (comma == std::string_view::npos) break;
    rest = rest.substr(0, comma);
  }
  return last_good.to_string();
}

}  // namespace cartgate::net
