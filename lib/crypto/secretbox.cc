#include "crypto/secretbox.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <climits>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "base/text.h"
#include "crypto/base64url.h"
#include "crypto/random.h"

namespace cartgate {
namespace {

constexpr std::string_view kPrefix = "v1.";

using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

cipher_ctx new_ctx() {
  cipher_ctx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (!ctx) throw std::runtime_error("secretbox: EVP_CIPHER_CTX_new failed");
  return ctx;
}

const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// EVP lengths are ints; secrets here are tiny, so anything near INT_MAX is a bug.
void check_length(std::size_t n) {
  if (n > static_cast<std::size_t>(INT_MAX / 2)) {
    throw std::length_error("secretbox: input too large");
  }
}


}  // namespace

secretbox::secretbox(std::string key) {
  if (key.size() != kKeySize) {
    OPENSSL_cleanse(key.data(), key.size());
    throw std::invalid_argument("secretbox: key must be 32 bytes");
  }
  std::memcpy(key_.data(), key.data(), kKeySize);
  OPENSSL_cleanse(key.data(), key.size());
}

secretbox secretbox::from_hex(std::string_view hex) {
  if (hex.size() != 2 * kKeySize) {
    throw std::invalid_argument("secretbox: key must be 64 hex characters");
  }
  auto key = text::hex_decode(hex);
  if (!key) throw std::invalid_argument("secretbox: key must be 64 hex characters");
  return secretbox(std::move(*key));
}

secretbox::~secretbox() { OPENSSL_cleanse(key_.data(), key_.size()); }

std::string secretbox::seal(std::string_view plaintext, std::string_view associated_data) const {
  check_length(plaintext.size());
  check_length(associated_data.size());
  const std::string nonce = random::bytes(kNonceSize);

  std::string raw(kNonceSize + plaintext.size() + kTagSize, '\0');
  std::memcpy(raw.data(), nonce.data(), kNonceSize);
  auto* ct = reinterpret_cast<unsigned char*>(raw.data() + kNonceSize);

  cipher_ctx ctx = new_ctx();
  int len = 0;
  bool ok = EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) == 1 &&
            EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), bytes_of(nonce)) == 1;
  if (ok && !associated_data.empty()) {
    ok = EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes_of(associated_data),
                           static_cast<int>(associated_data.size())) == 1;
  }
  int written = 0;
  if (ok && !plaintext.empty()) {
    ok = EVP_EncryptUpdate(ctx.get(), ct, &len, bytes_of(plaintext),
                           static_cast<int>(plaintext.size())) == 1;
    written = len;
  }
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), ct + written, &len) == 1 &&
       EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, ct + plaintext.size()) == 1;
  if (!ok) throw std::runtime_error("secretbox: encryption failed");

  std::string out(kPrefix);
  base64url::encode_append(raw, out);
  return out;
}

std::optional<std::string> secretbox::open(std::string_view sealed,
                                           std::string_view associated_data) const {
  if (sealed.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  // base64url::decode is strict (one accepted encoding per byte string), so any change
  // to the text changes the decoded bytes and then fails authentication.
  std::optional<std::string> raw = base64url::decode(sealed.substr(kPrefix.size()));
  if (!raw || raw->size() < kNonceSize + kTagSize) return std::nullopt;
  check_length(raw->size());
  check_length(associated_data.size());

  const std::size_t ct_size = raw->size() - kNonceSize - kTagSize;
  const auto* nonce = reinterpret_cast<const unsigned char*>(raw->data());
  const unsigned char* ct = nonce + kNonceSize;
  // EVP wants a non-const tag pointer for SET_TAG; it only reads it.
  auto* tag = reinterpret_cast<unsigned char*>(raw->data() + kNonceSize + ct_size);

  std::string plain(ct_size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plain.data());
  cipher_ctx ctx = new_ctx();
  int len = 0;
  bool ok = EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) == 1 &&
            EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), nonce) == 1;
  if (ok && !associated_data.empty()) {
    ok = EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes_of(associated_data),
                           static_cast<int>(associated_data.size())) == 1;
  }
  int written = 0;
  if (ok && ct_size > 0) {
    ok = EVP_DecryptUpdate(ctx.get(), out, &len, ct, static_cast<int>(ct_size)) == 1;
    written = len;
  }
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, tag) == 1 &&
       EVP_DecryptFinal_ex(ctx.get(), out + written, &len) == 1;
  if (!ok) {
    // Nothing decrypted under a bad tag leaves this function.
    OPENSSL_cleanse(plain.data(), plain.size());
    return std::nullopt;
  }
  return plain;
}

}  // namespace cartgate
