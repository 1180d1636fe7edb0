// Fuzzes the client-IP resolution (X-Forwarded-For behind trusted proxies): address
// text round-trips through its canonical form; proxy_list::parse either fails with a
// message or yields a list; the resolved client is the peer itself when the peer is not
// trusted, and otherwise an address that the peer or the header really named.
// Input: proxy list '\n' REMOTE_ADDR '\n' X-Forwarded-For.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "http/client_ip.h"

namespace net = cartgate::net;
using fuzz::check;

namespace {

void check_address_text(std::string_view text) {
  auto a = net::address::parse(text);
  if (!a) return;
  std::string canon = a->to_string();
  auto again = net::address::parse(canon);
  check(again.has_value() && *again == *a);
  check(again->to_string() == canon);
  check(a->is_v4() == (canon.find(':') == std::string::npos));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::reader in(data, size);
  std::string_view proxies = in.field(), remote = in.field(), xff = in.rest();
  check_address_text(remote);
  check_address_text(proxies);
  check_address_text(xff);

  std::string error;
  auto list = net::proxy_list::parse(proxies, &error);
  if (!list) {
    check(!error.empty());
    list = net::proxy_list::parse("127.0.0.1,::1,10.0.0.0/8", nullptr);
    check(list.has_value());
  }
  std::string client = net::resolve_client_ip(remote, xff, *list);
  auto peer = net::address::parse(remote);
  if (!peer) {
    check(client == remote);
    return 0;
  }
  auto got = net::address::parse(client);
  check(got.has_value() && got->to_string() == client);
  if (!list->contains(*peer)) {
    check(client == peer->to_string());
  } else if (!(*got == *peer)) {
    // Anything else must have come from the header, never be made up.
    check(!xff.empty());
  }
  return 0;
}
