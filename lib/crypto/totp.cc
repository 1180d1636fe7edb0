#include "crypto/totp.h"

#include <liboath/oath.h>
#include <openssl/crypto.h>
#include <qrencode.h>

#include <array>
#include <memory>
#include <stdexcept>

#include "crypto/random.h"

namespace cartgate::totp {
namespace {

constexpr char kBase32Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// oath_init must run once before any other liboath call; a function-local static gives
// us exactly-once, thread-safe initialisation. After it, oath_totp_generate only reads
// its arguments and is safe to call from several threads.
void ensure_oath() {
  static const int rc = oath_init();
  if (rc != OATH_OK) throw std::runtime_error("totp: oath_init failed");
}

int base32_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

bool six_ascii_digits(std::string_view code) {
  if (code.size() != static_cast<std::size_t>(kDigits)) return false;
  for (char c : code) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0f]);
    }
  }
  return out;
}

}  // namespace

std::string generate_secret() { return random::bytes(20); }

std::string base32_encode(std::string_view raw) {
  std::string out;
  out.reserve((raw.size() * 8 + 4) / 5);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : raw) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32Alphabet[(buffer >> (bits - 5)) & 0x1f]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kBase32Alphabet[(buffer << (5 - bits)) & 0x1f]);
  return out;
}

std::optional<std::string> base32_decode(std::string_view text) {
  std::string symbols;
  std::size_t padding = 0;
  for (char c : text) {
    if (c == ' ') continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0) return std::nullopt;  // data after padding
    if (base32_value(c) < 0) return std::nullopt;
    symbols.push_back(c);
  }
  // A final quantum carries 2, 4, 5 or 7 symbols (1..4 bytes); 1, 3 or 6 are impossible.
  const std::size_t rem = symbols.size() % 8;
  if (rem == 1 || rem == 3 || rem == 6) return std::nullopt;
  if (padding > 0) {
    const std::size_t expected = rem == 0 ? 0 : 8 - rem;
    if (padding != expected) return std::nullopt;
  }
  std::string out;
  out.reserve(symbols.size() * 5 / 8);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : symbols) {
    buffer = (buffer << 5) | static_cast<std::uint32_t>(base32_value(c));
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  // Leftover bits must be zero: otherwise two different strings would decode to the same
  // key, and a typo in the last character could go unnoticed.
  if ((buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string otpauth_uri(std::string_view issuer, std::string_view account,
                        std::string_view raw_secret) {
  std::string uri = "otpauth://totp/";
  uri += percent_encode(issuer);
  uri += ':';
  uri += percent_encode(account);
  uri += "?secret=";
  uri += base32_encode(raw_secret);
  uri += "&issuer=";
  uri += percent_encode(issuer);
  uri += "&algorithm=SHA1&digits=6&period=30";
  return uri;
}

std::string code_at(std::string_view raw_secret, std::int64_t unix_time, int digits) {
  if (digits < 6 || digits > 8) throw std::invalid_argument("totp: digits must be 6..8");
  if (raw_secret.empty()) throw std::invalid_argument("totp: empty secret");
  ensure_oath();
  std::array<char, 16> otp{};
  const int rc = oath_totp_generate(
      raw_secret.data(), raw_secret.size(), static_cast<time_t>(unix_time), kStepSeconds,
      OATH_TOTP_DEFAULT_START_TIME, static_cast<unsigned>(digits), otp.data());
  if (rc != OATH_OK) {
    throw std::runtime_error(std::string("totp: ") + oath_strerror_name(rc));
  }
  return std::string(otp.data(), static_cast<std::size_t>(digits));
}

match verify(std::string_view raw_secret, std::string_view code, std::int64_t now,
             std::int64_t last_used_step, int drift_steps) {
  if (drift_steps < 0) throw std::invalid_argument("totp: negative drift");
  match result;
  if (!six_ascii_digits(code) || raw_secret.empty()) return result;
  const std::int64_t now_step = floor_div(now, kStepSeconds);
  for (std::int64_t step = now_step - drift_steps; step <= now_step + drift_steps; ++step) {
    if (step < 0) continue;
    const std::string expected = code_at(raw_secret, step * kStepSeconds, kDigits);
    const bool equal = CRYPTO_memcmp(expected.data(), code.data(), expected.size()) == 0;
    // The replay guard: a step at or before the last accepted one never matches again.
    // Steps are walked in increasing order, so the earliest matching step is kept.
    if (equal && step > last_used_step && !result.ok) {
      result.ok = true;
      result.step = step;
    }
  }
  return result;
}

std::string qr_terminal(std::string_view text) {
  const std::string input(text);  // QRencode wants a NUL-terminated string
  std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(
      QRcode_encodeString8bit(input.c_str(), 0, QR_ECLEVEL_M), &QRcode_free);
  if (!qr) throw std::runtime_error("totp: QR encoding failed");

  constexpr int kQuiet = 4;  // ISO/IEC 18004 quiet zone, in modules
  const int width = qr->width;
  const int size = width + 2 * kQuiet;
  auto dark = [&](int row, int col) {
    row -= kQuiet;
    col -= kQuiet;
    if (row < 0 || col < 0 || row >= width || col >= width) return false;
    return (qr->data[row * width + col] & 1) != 0;
  };

  // Each character covers two module rows. Light modules are printed (foreground);
  // dark ones are left as the terminal background.
  static constexpr const char* kGlyph[4] = {
      "\u2588",  // top light, bottom light: full block
      "\u2580",  // top light, bottom dark: upper half
      "\u2584",  // top dark, bottom light: lower half
      " ",       // both dark
  };
  std::string out;
  for (int row = 0; row < size; row += 2) {
    for (int col = 0; col < size; ++col) {
      const int top = dark(row, col) ? 2 : 0;
      const int bottom = (row + 1 < size && dark(row + 1, col)) ? 1 : 0;
      // Past the last row (odd size) the missing half is treated as light quiet zone.
      out += kGlyph[top | bottom];
    }
    out += '\n';
  }
  return out;
}

}  // namespace cartgate::totp
