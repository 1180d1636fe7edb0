// Fuzzes the TOTP inputs: base32 keys as people paste them, otpauth URIs, and codes.
// base32_decode output encodes back to text that decodes the same; any bytes survive
// encode then decode; otpauth_uri holds only URI characters; verify accepts a code only
// if it is the code of the step it reports, after last_used_step.
// Input: flags, 8 bytes of time, then issuer '\n' account '\n' code '\n' base32 key.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "crypto/totp.h"
#include "fuzz_check.h"

namespace totp = cartgate::totp;
using fuzz::check;

namespace {

bool uri_char(unsigned char c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("-._~%:/?&=", c) != nullptr && c != '\0';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return -1;
  fuzz::reader in(data, size);
  std::uint8_t flags = in.byte();
  std::uint64_t t = 0;
  for (int i = 0; i < 8; ++i) t = t << 8 | in.byte();
  // A real clock: 1970 to about 2106 (verify's callers pass time(nullptr)).
  std::int64_t now = static_cast<std::int64_t>(t % (1ULL << 32));
  std::string_view issuer = in.field(), account = in.field(), code = in.field(), key_text = in.rest();

  auto raw = totp::base32_decode(key_text);
  if (raw) {
    std::string text = totp::base32_encode(*raw);
    check(text.find('=') == std::string::npos);
    check(totp::base32_decode(text) == raw);
  }
  std::string bytes(key_text);
  check(totp::base32_decode(totp::base32_encode(bytes)) == bytes);

  std::string secret = raw && !raw->empty() ? *raw : std::string("12345678901234567890");
  std::string uri = totp::otpauth_uri(issuer, account, secret);
  check(uri.rfind("otpauth://totp/", 0) == 0);
  for (unsigned char c : uri) check(uri_char(c));

  std::int64_t last = (flags & 1) ? now / totp::kStepSeconds - (flags >> 1) % 4 : 0;
  auto m = totp::verify(secret, code, now, last, (flags >> 3) % 3);
  if (m.ok) {
    check(m.step > last);
    check(totp::code_at(secret, m.step * totp::kStepSeconds) == code);
  }
  // The code of now is always accepted when no step was used yet.
  std::string current = totp::code_at(secret, now);
  check(current.size() == 6);
  if (now / totp::kStepSeconds > 0) check(totp::verify(secret, current, now, 0).ok);

  if ((flags & 0xc0) == 0xc0 && uri.size() < 512) {
    try {
      check(!totp::qr_terminal(uri).empty());
    } catch (const std::runtime_error&) {
    }
  }
  return 0;
}
