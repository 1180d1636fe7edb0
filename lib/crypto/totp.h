// Time-based one-time passwords (RFC 6238: HMAC-SHA-1, 30 s steps, 6 digits) for the
// `totp` two-factor provider, plus the key formats authenticator apps expect.
//
//   std::string key = cartgate::totp::generate_secret();          // store sealed
//   show(cartgate::totp::otpauth_uri("Shop", "ana@example.com", key));
//   auto m = cartgate::totp::verify(key, code, now, user.totp_last_step);
//   if (m.ok) user.totp_last_step = m.step;                      // replay guard
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cartgate::totp {

inline constexpr int kStepSeconds = 30;
inline constexpr int kDigits = 6;

// 20 raw random bytes (160 bits, the HMAC-SHA-1 block output size RFC 4226 recommends).
std::string generate_secret();

// RFC 4648 base32, uppercase, without '=' padding (what authenticator apps show).
std::string base32_encode(std::string_view raw);

// Decodes base32 as people paste it: either case, spaces anywhere, with or without
// trailing '=' padding. Returns nullopt for any other character, misplaced or wrong
// padding, an impossible length, or non-zero unused trailing bits. Empty input decodes
// to an empty string; callers check the key length they require.
std::optional<std::string> base32_decode(std::string_view text);

// otpauth://totp/Issuer:account?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30
// Issuer and account are percent-encoded (RFC 3986 unreserved characters kept).
std::string otpauth_uri(std::string_view issuer, std::string_view account,
                        std::string_view raw_secret);

// The code for the 30 s step containing unix_time. digits is 6..8 (RFC 6238's test
// vectors use 8); throws std::invalid_argument otherwise or for an empty secret.
std::string code_at(std::string_view raw_secret, std::int64_t unix_time, int digits = kDigits);

struct match {
  bool ok = false;
  std::int64_t step = 0;  // the step the code belonged to; store it as last_used_step
};

// Accepts `code` if it is exactly 6 ASCII digits and equals the code of some step in
// [now_step - drift_steps, now_step + drift_steps] that is greater than last_used_step
// (RFC 6238 §5.2: an accepted OTP must not be accepted again). Comparison is
// constant-time and every candidate step is computed, so timing does not reveal which
// step matched. drift_steps < 0 throws std::invalid_argument.
match verify(std::string_view raw_secret, std::string_view code, std::int64_t now,
             std::int64_t last_used_step, int drift_steps = 1);

// A QR code of `text` (error correction M) for a terminal, two modules per character
// row using UTF-8 half blocks, with a 4-module quiet zone. Light modules are drawn
// (as `qrencode -t UTF8` does), so it reads on the usual light-on-dark terminal.
// Lines end in '\n'. Throws std::runtime_error if the text cannot be encoded.
std::string qr_terminal(std::string_view text);

}  // namespace cartgate::totp
