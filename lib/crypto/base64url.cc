#include "crypto/base64url.h"

#include <array>
#include <cstdint>

namespace cartgate::base64url {
namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::uint8_t invalid = 0xff;

// Reverse table built at compile time; every byte outside the alphabet maps to `invalid`.
constexpr std::array<std::uint8_t, 256> make_reverse() {
  std::array<std::uint8_t, 256> table{};
  for (auto& v : table) v = invalid;
  for (std::uint8_t i = 0; i < 64; ++i) table[static_cast<unsigned char>(alphabet[i])] = i;
  return table;
}
constexpr std::array<std::uint8_t, 256> reverse = make_reverse();

inline std::uint8_t value_of(char c) { return reverse[static_cast<unsigned char>(c)]; }

}  // namespace

void encode_append(std::string_view bytes, std::string& out) {
  const std::size_t start = out.size();
  out.resize(start + encoded_size(bytes.size()));
  char* dst = out.data() + start;
  const auto* src = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v =
        (std::uint32_t{src[i]} << 16) | (std::uint32_t{src[i + 1]} << 8) | src[i + 2];
    *dst++ = alphabet[(v >> 18) & 63];
    *dst++ = alphabet[(v >> 12) & 63];
    *dst++ = alphabet[(v >> 6) & 63];
    *dst++ = alphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t v = std::uint32_t{src[i]} << 16;
    *dst++ = alphabet[(v >> 18) & 63];
    *dst++ = alphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    const std::uint32_t v = (std::uint32_t{src[i]} << 16) | (std::uint32_t{src[i + 1]} << 8);
    *dst++ = alphabet[(v >> 18) & 63];
    *dst++ = alphabet[(v >> 12) & 63];
    *dst++ = alphabet[(v >> 6) & 63];
  }
}

std::string encode(std::string_view bytes) {
  std::string out;
  encode_append(bytes, out);
  return out;
}

bool decode_into(std::string_view text, std::string& out) {
  out.clear();
  const std::size_t rest = text.size() % 4;
  // One leftover character carries only 6 bits: never a whole byte, so never canonical.
  if (rest == 1) return false;
  out.resize(text.size() / 4 * 3 + (rest == 0 ? 0 : rest - 1));
  char* dst = out.data();
  std::size_t i = 0;
  for (; i + 4 <= text.size(); i += 4) {
    const std::uint8_t a = value_of(text[i]), b = value_of(text[i + 1]), c = value_of(text[i + 2]),
                       d = value_of(text[i + 3]);
    // Valid values are 0..63; `invalid` (0xff) sets the top bits, so one test covers all four.
    if (((a | b | c | d) & 0xc0) != 0) return false;
    const std::uint32_t v =
        (std::uint32_t{a} << 18) | (std::uint32_t{b} << 12) | (std::uint32_t{c} << 6) | d;
    *dst++ = static_cast<char>(v >> 16);
    *dst++ = static_cast<char>(v >> 8);
    *dst++ = static_cast<char>(v);
  }
  if (rest == 2) {
    const std::uint8_t a = value_of(text[i]), b = value_of(text[i + 1]);
    if (((a | b) & 0xc0) != 0) return false;
    // The last character's low 4 bits fall beyond the final byte; they must be zero.
    if ((b & 0x0f) != 0) return false;
    *dst++ = static_cast<char>((a << 2) | (b >> 4));
  } else if (rest == 3) {
    const std::uint8_t a = value_of(text[i]), b = value_of(text[i + 1]), c = value_of(text[i + 2]);
    if (((a | b | c) & 0xc0) != 0) return false;
    if ((c & 0x03) != 0) return false;  // low 2 bits beyond the final byte
    const std::uint32_t v = (std::uint32_t{a} << 10) | (std::uint32_t{b} << 4) | (c >> 2);
    *dst++ = static_cast<char>(v >> 8);
    *dst++ = static_cast<char>(v);
  }
  return true;
}

std::optional<std::string> decode(std::string_view text) {
  std::string out;
  if (!decode_into(text, out)) return std::nullopt;
  return out;
}

}  // namespace cartgate::base64url
