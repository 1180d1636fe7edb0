#include "crypto/base64url.h"

#include <gtest/gtest.h>

#include <string>

namespace {

namespace b64 = cartgate::base64url;

// RFC 4648 §10 test vectors, with the '=' padding removed as RFC 7515 §2 requires.
TEST(Base64url, EncodesRfc4648Vectors) {
  EXPECT_EQ(b64::encode(""), "");
  EXPECT_EQ(b64::encode("f"), "Zg");
  EXPECT_EQ(b64::encode("fo"), "Zm8");
  EXPECT_EQ(b64::encode("foo"), "Zm9v");
  EXPECT_EQ(b64::encode("foob"), "Zm9vYg");
  EXPECT_EQ(b64::encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(b64::encode("foobar"), "Zm9vYmFy");
}

TEST(Base64url, DecodesRfc4648Vectors) {
  EXPECT_EQ(b64::decode(""), "");
  EXPECT_EQ(b64::decode("Zg"), "f");
  EXPECT_EQ(b64::decode("Zm8"), "fo");
  EXPECT_EQ(b64::decode("Zm9v"), "foo");
  EXPECT_EQ(b64::decode("Zm9vYg"), "foob");
  EXPECT_EQ(b64::decode("Zm9vYmE"), "fooba");
  EXPECT_EQ(b64::decode("Zm9vYmFy"), "foobar");
}

// RFC 4648 §5: '-' and '_' replace '+' and '/'.
TEST(Base64url, UsesUrlSafeAlphabet) {
  EXPECT_EQ(b64::encode("\xfb\xff"), "-_8");
  EXPECT_EQ(b64::encode("\xff\xff\xff"), "____");
  EXPECT_EQ(b64::decode("-_8"), "\xfb\xff");
}

TEST(Base64url, RoundTripsEveryByteValueAtEveryLength) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  for (std::size_t len = 0; len <= bytes.size(); ++len) {
    const std::string in = bytes.substr(bytes.size() - len);
    const std::string text = b64::encode(in);
    EXPECT_EQ(text.size(), b64::encoded_size(len));
    EXPECT_EQ(b64::decode(text), in) << "length " << len;
  }
}

TEST(Base64url, DecodeRejectsPadding) {
  EXPECT_FALSE(b64::decode("Zg=="));
  EXPECT_FALSE(b64::decode("Zm8="));
  EXPECT_FALSE(b64::decode("Zm9v===="));
  EXPECT_FALSE(b64::decode("===="));
}

TEST(Base64url, DecodeRejectsCharactersOutsideAlphabet) {
  EXPECT_FALSE(b64::decode("+_8"));  // standard Base64 '+'
  EXPECT_FALSE(b64::decode("-/8"));  // standard Base64 '/'
  EXPECT_FALSE(b64::decode("Zm9v Yg"));
  EXPECT_FALSE(b64::decode("Zm9v\nYg"));
  EXPECT_FALSE(b64::decode("Zm9v."));
  EXPECT_FALSE(b64::decode(std::string("Zm\0v", 4)));
  EXPECT_FALSE(b64::decode("Zm9\xc3\xa9"));
  for (int c = 0; c < 256; ++c) {
    const bool in_alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                             (c >= '0' && c <= '9') || c == '-' || c == '_';
    const std::string text = std::string("AAA") + static_cast<char>(c);
    EXPECT_EQ(b64::decode(text).has_value(), in_alphabet) << "character " << c;
  }
}

TEST(Base64url, DecodeRejectsImpossibleLength) {
  EXPECT_FALSE(b64::decode("Z"));
  EXPECT_FALSE(b64::decode("Zm9vY"));
}

// A final character whose unused low bits are set decodes to the same bytes as the canonical
// one; accepting both would give one token several spellings.
TEST(Base64url, DecodeRejectsNonCanonicalTrailingBits) {
  EXPECT_FALSE(b64::decode("Zh"));   // 'h' = 0b100001: low 4 bits must be zero
  EXPECT_FALSE(b64::decode("Zm9"));  // '9' = 0b111101: low 2 bits must be zero
  EXPECT_TRUE(b64::decode("Zg"));
  EXPECT_TRUE(b64::decode("Zm8"));
  // Exhaustively: of the 64 possible last characters, a 2-character tail (one byte, 4 unused
  // bits) accepts 64/16 = 4 and a 3-character tail (two bytes, 2 unused bits) 64/4 = 16; each
  // accepted text is the encoding of what it decodes to.
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (const std::string prefix : {"Q", "QU", "Zm9vQ", "Zm9vQU"}) {
    int accepted = 0;
    for (char last : alphabet) {
      const std::string text = prefix + last;
      if (const auto bytes = b64::decode(text)) {
        ++accepted;
        EXPECT_EQ(b64::encode(*bytes), text);
      }
    }
    EXPECT_EQ(accepted, prefix.size() % 4 == 1 ? 4 : 16) << "prefix " << prefix;
  }
}

TEST(Base64url, DecodeIntoReplacesPreviousContents) {
  std::string out = "left over";
  ASSERT_TRUE(b64::decode_into("Zm9v", out));
  EXPECT_EQ(out, "foo");
  EXPECT_FALSE(b64::decode_into("Zm9v=", out));
}

TEST(Base64url, EncodeAppendKeepsExistingText) {
  std::string out = "prefix.";
  b64::encode_append("foo", out);
  EXPECT_EQ(out, "prefix.Zm9v");
}

}  // namespace
