// Client IP resolution: who is really on the other end of a request.
// REMOTE_ADDR is the peer (often nginx or a load balancer); only when that peer is a
// trusted proxy do we believe the X-Forwarded-For it appends to. Resolve once per
// request, before any rule runs, and hand the result to every rule.
//
//   auto proxies = cartgate::net::proxy_list::parse("127.0.0.1,::1,10.0.0.0/8", &err);
//   std::string ip = cartgate::net::resolve_client_ip(remote_addr, xff, *proxies);
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartgate::net {

// An IPv4 or IPv6 address, always held as 16 bytes. IPv4 is stored IPv4-mapped
// (::ffff:a.b.c.d), so "1.2.3.4" and "::ffff:1.2.3.4" are the same address: a
// dual-stack socket reports IPv4 peers in the mapped form, and token IP binding
// compares the canonical strings, so both spellings must normalise to one.
struct address {
  std::array<std::uint8_t, 16> bytes{};

  // Bare address text: "192.0.2.1", "2001:db8::1", "[2001:db8::1]". No ports, no
  // zone ids ("fe80::1%eth0"), no leading zeros in IPv4 octets (they read as octal
  // to some parsers, so they are ambiguous).
  static std::optional<address> parse(std::string_view text);

  bool is_v4() const;        // IPv4 or IPv4-mapped IPv6
  std::uint32_t v4() const;  // host order; only meaningful when is_v4()
  // Dotted quad for IPv4, RFC 5952 text (lower case, longest zero run as "::") else.
  std::string to_string() const;

  friend bool operator==(const address&, const address&) = default;
};

std::optional<address> parse_address(std::string_view text);

// Trusted proxies: addresses and CIDR blocks. Immutable after parse, so it may be
// shared by threads that only call contains().
class proxy_list {
 public:
  // Comma list; spaces around entries are ignored, "" is a valid empty list (trust
  // no one). "10.0.0.1/8" is accepted and means 10.0.0.0/8, as nginx's
  // set_real_ip_from does. Returns nullopt and sets *error (if given) on a bad entry.
  static std::optional<proxy_list> parse(std::string_view text, std::string* error);

  bool contains(const address& a) const;
  bool empty() const { return entries_.empty(); }

 private:
  struct entry {
    address network;  // host bits already cleared
    int prefix_bits;  // out of 128; an IPv4 /n is stored as /(96+n)
  };
  std::vector<entry> entries_;
};

// The client address for a request, in canonical text.
// - Peer not trusted: the peer's address (X-Forwarded-For is ignored; anyone can send
//   it).
// - Peer trusted: walk X-Forwarded-For right to left, skipping trusted hops; the first
//   untrusted address is the client. If every hop is trusted, the leftmost one. An entry
//   that is not an address stops the walk and the last good address wins, so junk
//   injected by a client can never be chosen.
// XFF entries may carry a port ("192.0.2.1:1234", "[2001:db8::1]:443"); it is dropped.
// A remote_addr that does not parse is returned unchanged.
std::string resolve_client_ip(std::string_view remote_addr, std::string_view x_forwarded_for,
                              const proxy_list& trusted);

}  // namespace cartgate::net
