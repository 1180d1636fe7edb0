// base64url: the URL-safe Base64 alphabet of RFC 4648 §5, without '=' padding, as JOSE
// (JWS/JWT/JWK) uses it. Decoding is strict so that every byte string has exactly one
// accepted encoding: a token cannot be altered without changing what it decodes to.
//
//   std::string text = cartgate::base64url::encode("hello");      // "aGVsbG8"
//   std::optional<std::string> bytes = cartgate::base64url::decode(text);
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace cartgate::base64url {

// Length of encode(n bytes): 4 characters per 3 bytes, the final group shortened.
constexpr std::size_t encoded_size(std::size_t n) {
  return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

std::string encode(std::string_view bytes);
// Appends the encoding to out (saves an allocation when building a token piece by piece).
void encode_append(std::string_view bytes, std::string& out);

// Rejects '=' padding, any character outside [A-Za-z0-9_-] (including whitespace and the
// '+' '/' of standard Base64), a length of 4k+1, and non-zero unused bits in the last
// character (e.g. "QR" is refused because only "QQ" canonically encodes "A").
std::optional<std::string> decode(std::string_view text);
// Same rules; replaces out's contents and returns false (out unspecified) on bad input.
// Lets a hot path reuse one buffer instead of allocating per call.
bool decode_into(std::string_view text, std::string& out);

}  // namespace cartgate::base64url
