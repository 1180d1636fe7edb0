#include "crypto/secretbox.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "crypto/base64url.h"

namespace cartgate {
namespace {

const std::string kKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string kTotpKey = "12345678901234567890";  // 20 raw bytes, like a TOTP key

TEST(Secretbox, RoundTripsPlaintext) {
  const secretbox box = secretbox::from_hex(kKeyHex);
  const std::string sealed = box.seal(kTotpKey);
  EXPECT_EQ(box.open(sealed), kTotpKey);
}

TEST(Secretbox, RoundTripsWithAssociatedDataEmptyAndBinaryPlaintext) {
  const secretbox box = secretbox::from_hex(kKeyHex);
  EXPECT_EQ(box.open(box.seal(kTotpKey, "user:42"), "user:42"), kTotpKey);
  EXPECT_EQ(box.open(box.seal("")), "");
  const std::string binary("\0\xff\x00\x80 zero", 9);
  EXPECT_EQ(box.open(box.seal(binary, "7"), "7"), binary);
}

TEST(Secretbox, SealedTextIsV1Base64urlOfNonceCiphertextTag) {
  const secretbox box = secretbox::from_hex(kKeyHex);
  const std::string sealed = box.seal(kTotpKey);
  ASSERT_EQ(sealed.substr(0, 3), "v1.");
  const auto raw = base64url::decode(sealed.substr(3));
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->size(), secretbox::kNonceSize + kTotpKey.size() + secretbox::kTagSize);
  EXPECT_EQ(raw->find(kTotpKey), std::string::npos);
}

TEST(Secretbox, SealingTwiceUsesFreshNonces) {
  const secretbox box = secretbox::from_hex(kKeyHex);
  const std::string a = box.seal(kTotpKey);
  const std::string b = box.seal(kTotpKey);
  EXPECT_NE(a, b);
  EXPECT_NE(base64url::decode(a.substr(3))->substr(0, 12),
            base64url::decode(b.substr(3))->substr(0, 12));
}

TEST(Secretbox, FlippingAnyBitOfNonceCiphertextOrTagFailsToOpen) {
  const secretbox box = secretbox::from_hex(kKeyHex);
  const std::string sealed = box.seal(kTotpKey, "user:42");
  const std::string raw = *base64url::decode(sealed.substr(3));
  for (std::size_t i = 0; i < raw.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = raw;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      EXPECT_FALSE(box.open("v1." + base64url::encode(bad), "user:42").has_value())
          << "byte " << i << " bit " << bit;
    }
  }
}

TEST(Secretbox, ChangingAnyCharacterOfTheTextFailsToOpen) {
  const secretbox box = secretbox::from_hex(kKeyHex);
  const std::string sealed = box.seal(kTotpKey);
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    for (char c : std::string("A_-z0.=+/ \x80")) {
      if (sealed[i] == c) continue;
      std::string bad = sealed;
      bad[i] = c;
      EXPECT_FALSE(box.open(bad).has_value()) << "position " << i << " -> " << c;
    }
  }
}

TEST(Secretbox, TruncatedOrExtendedTextFailsToOpen) {
  const secretbox box = secretbox::from_hex(kKeyHex);
  const std::string sealed = box.seal(kTotpKey);
  for (std::size_t n = 0; n < sealed.size(); ++n) {
    EXPECT_FALSE(box.open(sealed.substr(0, n)).has_value()) << "length " << n;
  }
  EXPECT_FALSE(box.open(sealed + "A").has_value());
  EXPECT_FALSE(box.open(sealed + "AAAA").has_value());
  EXPECT_FALSE(box.open("v2." + sealed.substr(3)).has_value());
  EXPECT_FALSE(box.open(sealed.substr(3)).has_value());
  EXPECT_FALSE(box.open("v1." + base64url::encode(std::string(28, '\0'))).has_value());
}

TEST(Secretbox, WrongAssociatedDataFailsToOpen) {
  const secretbox box = secretbox::from_hex(kKeyHex);
  const std::string sealed = box.seal(kTotpKey, "user:42");
  EXPECT_FALSE(box.open(sealed, "user:43").has_value());
  EXPECT_FALSE(box.open(sealed).has_value());
  EXPECT_FALSE(box.open(box.seal(kTotpKey), "user:42").has_value());
}

TEST(Secretbox, OtherKeyFailsToOpen) {
  const secretbox box = secretbox::from_hex(kKeyHex);
  std::string other_hex = kKeyHex;
  other_hex.back() = 'e';
  const secretbox other = secretbox::from_hex(other_hex);
  EXPECT_FALSE(other.open(box.seal(kTotpKey)).has_value());
}

TEST(Secretbox, RawAndHexKeysAreTheSameKey) {
  std::string raw;
  for (int i = 0; i < 32; ++i) raw.push_back(static_cast<char>(i));
  const secretbox from_raw(raw);
  const secretbox from_hex = secretbox::from_hex(kKeyHex);
  EXPECT_EQ(from_hex.open(from_raw.seal(kTotpKey)), kTotpKey);
  // Upper-case hex is the same key too.
  std::string upper = kKeyHex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(secretbox::from_hex(upper).open(from_raw.seal(kTotpKey)), kTotpKey);
}

TEST(Secretbox, WrongKeySizeThrows) {
  EXPECT_THROW(secretbox(std::string(31, 'k')), std::invalid_argument);
  EXPECT_THROW(secretbox(std::string(33, 'k')), std::invalid_argument);
  EXPECT_THROW(secretbox(std::string()), std::invalid_argument);
  EXPECT_NO_THROW(secretbox(std::string(32, 'k')));
}

TEST(Secretbox, MalformedHexKeyThrows) {
  EXPECT_THROW(secretbox::from_hex(kKeyHex.substr(0, 62)), std::invalid_argument);
  EXPECT_THROW(secretbox::from_hex(kKeyHex + "00"), std::invalid_argument);
  std::string bad = kKeyHex;
  bad[10] = 'g';
  EXPECT_THROW(secretbox::from_hex(bad), std::invalid_argument);
  EXPECT_THROW(secretbox::from_hex(""), std::invalid_argument);
}

TEST(Secretbox, CopiesOpenWhatTheOriginalSealed) {
  const secretbox box = secretbox::from_hex(kKeyHex);
  const secretbox copy = box;
  EXPECT_EQ(copy.open(box.seal(kTotpKey)), kTotpKey);
}

}  // namespace
}  // namespace cartgate
