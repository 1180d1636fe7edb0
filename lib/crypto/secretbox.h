// secretbox: authenticated encryption of small secrets at rest (TOTP keys) with
// AES-256-GCM. A sealed value is text, safe for a TEXT column: "v1." followed by
// base64url(nonce[12] || ciphertext || tag[16]). Associated data is authenticated but
// not stored; pass the owner's user id so a ciphertext copied to another row won't open.
//
//   cartgate::secretbox box = cartgate::secretbox::from_hex(config.totp_key_hex);
//   std::string sealed = box.seal(raw_key, std::to_string(user_id));
//   std::optional<std::string> raw = box.open(sealed, std::to_string(user_id));
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace cartgate {

class secretbox {
 public:
  static constexpr std::size_t kKeySize = 32;
  static constexpr std::size_t kNonceSize = 12;
  static constexpr std::size_t kTagSize = 16;

  // key must be exactly 32 raw bytes; otherwise std::invalid_argument.
  explicit secretbox(std::string key);
  // 64 hex characters (either case); otherwise std::invalid_argument.
  static secretbox from_hex(std::string_view hex);

  secretbox(const secretbox&) = default;
  secretbox& operator=(const secretbox&) = default;
  ~secretbox();  // wipes the key

  // A fresh random nonce per call, so sealing the same plaintext twice gives different
  // text. Throws std::runtime_error if OpenSSL fails.
  std::string seal(std::string_view plaintext, std::string_view associated_data = {}) const;

  // nullopt if the text is not a v1 box, was altered in any way, was sealed under another
  // key, or with different associated data.
  std::optional<std::string> open(std::string_view sealed,
                                  std::string_view associated_data = {}) const;

 private:
  std::array<unsigned char, kKeySize> key_{};
};

}  // namespace cartgate
