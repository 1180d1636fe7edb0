#include "crypto/jwt.h"

#include <gtest/gtest.h>
#include <json/reader.h>
#include <json/writer.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "crypto/base64url.h"

namespace {

using namespace cartgate::jwt;
namespace b64 = cartgate::base64url;

// A fixed clock: tests never read the real time, except the PyJWT cross-checks (PyJWT checks
// exp against its own clock).
constexpr std::int64_t t0 = 1'700'000'000;  // 2023-11-14T22:13:20Z
constexpr char issuer[] = "https://shop.example";
const std::string hs_secret = "0123456789abcdef0123456789abcdef-cartgate-unit-test";

// ---- fixtures: claims, keys, files --------------------------------------------------------

// The payload CoCart JWT 3.x issues (CONTRACT §2.2).
Json::Value cocart_claims(std::int64_t now, std::int64_t ttl = 864000) {
  Json::Value c(Json::objectValue);
  c["iss"] = issuer;
  c["iat"] = Json::Int64{now};
  c["nbf"] = Json::Int64{now};
  c["exp"] = Json::Int64{now + ttl};
  Json::Value& user = c["data"]["user"];
  user["id"] = 42;
  user["username"] = "ada";
  user["ip"] = "203.0.113.7";
  user["device"] = "Mozilla/5.0 (X11; Linux x86_64)";
  user["pat"] = "pat_0123456789abcdef01234567";
  return c;
}

std::string compact(const Json::Value& v) {
  Json::StreamWriterBuilder b;
  b["indentation"] = "";
  return Json::writeString(b, v);
}

Json::Value parse_json(const std::string& text) {
  Json::Value v;
  std::string errs;
  std::unique_ptr<Json::CharReader> r(Json::CharReaderBuilder().newCharReader());
  if (!r->parse(text.data(), text.data() + text.size(), &v, &errs))
    throw std::runtime_error("bad JSON from test helper: " + errs + " in: " + text);
  return v;
}

struct pkey_free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string private_pem(EVP_PKEY* k, const EVP_CIPHER* cipher = nullptr, std::string pass = {}) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, k, cipher, reinterpret_cast<unsigned char*>(pass.data()),
                           static_cast<int>(pass.size()), nullptr, nullptr);
  std::string pem = bio_text(bio);
  BIO_free(bio);
  return pem;
}

std::string public_pem(EVP_PKEY* k) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, k);
  std::string pem = bio_text(bio);
  BIO_free(bio);
  return pem;
}

struct pem_pair {
  std::string private_pem;
  std::string public_pem;
};

pem_pair generate(const char* what) {
  pkey_ptr k(std::string_view(what) == "RSA-2048"   ? EVP_RSA_gen(2048)
             : std::string_view(what) == "RSA-1024" ? EVP_RSA_gen(1024)
             : std::string_view(what) == "P-256"    ? EVP_EC_gen("P-256")
                                                    : EVP_EC_gen("P-384"));
  if (!k) throw std::runtime_error(std::string("key generation failed: ") + what);
  return {private_pem(k.get()), public_pem(k.get())};
}

// Generated once per process: RSA key generation is the slowest thing in this file.
const pem_pair& rsa_pair() {
  static const pem_pair p = generate("RSA-2048");
  return p;
}
const pem_pair& ec_pair() {
  static const pem_pair p = generate("P-256");
  return p;
}

key make_key(algorithm alg) {
  switch (alg) {
    case algorithm::hs256:
      return key::hmac(hs_secret);
    case algorithm::rs256:
      return key::from_pem(alg, rsa_pair().private_pem, rsa_pair().public_pem);
    case algorithm::es256:
      return key::from_pem(alg, ec_pair().private_pem, ec_pair().public_pem);
  }
  throw std::logic_error("unknown algorithm");
}

// A public key PEM from raw JWK parameters, so RFC keys can be used as published.
pkey_ptr pkey_from(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* k = nullptr;
  if (ctx == nullptr || params == nullptr || EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
    throw std::runtime_error("EVP_PKEY_fromdata failed");
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  return pkey_ptr(k);
}

std::string ec_p256_public_pem(std::string_view x, std::string_view y) {
  // Appended piecewise: GCC 12 misreports `"literal" + std::string` under -Wrestrict.
  std::string point(1, '\x04');
  point.append(b64::decode(x).value()).append(b64::decode(y).value());
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  return public_pem(pkey_from("EC", bld).get());
}

std::string rsa_public_pem(std::string_view n, std::string_view e) {
  const std::string nb = b64::decode(n).value(), eb = b64::decode(e).value();
  BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(nb.data()),
                           static_cast<int>(nb.size()), nullptr);
  BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(eb.data()),
                           static_cast<int>(eb.size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
  std::string pem = public_pem(pkey_from("RSA", bld).get());
  BN_free(bn_n);
  BN_free(bn_e);
  return pem;
}

// An HS256 token over arbitrary header/payload text, for headers and payloads sign() would
// never produce (alg "none", crit, duplicate keys, claims of the wrong type...).
std::string hs256_token(std::string_view header_json, std::string_view payload_json,
                        std::string_view secret = hs_secret) {
  std::string input = b64::encode(header_json) + "." + b64::encode(payload_json);
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + b64::encode({reinterpret_cast<const char*>(mac), len});
}

std::string segment(const std::string& token, int index) {
  std::size_t start = 0;
  for (int i = 0; i < index; ++i) start = token.find('.', start) + 1;
  const std::size_t end = token.find('.', start);
  return token.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string with_segment(const std::string& token, int index, const std::string& replacement) {
  std::string parts[3] = {segment(token, 0), segment(token, 1), segment(token, 2)};
  parts[index] = replacement;
  return parts[0] + "." + parts[1] + "." + parts[2];
}

reason check(std::string_view token, const key& k, std::int64_t now = t0 + 60,
             std::string_view iss = issuer, std::int64_t leeway = 0) {
  return verify(token, k, now, iss, leeway).why;
}

// ---- hostile input helper (after jwt_verify_lib's fuzzJwtSignature) -----------------------

// A valid token must stop verifying under every single-bit change anywhere in it and under
// every truncation of its signature. Base64url decoding is canonical, so there is no bit
// that "does not matter".
void expect_every_mutation_rejected(const std::string& token, const key& k, std::int64_t now) {
  ASSERT_EQ(check(token, k, now), reason::ok);
  int accepted = 0;
  for (std::size_t i = 0; i < token.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string mutated = token;
      mutated[i] = static_cast<char>(mutated[i] ^ (1 << bit));
      if (check(mutated, k, now) == reason::ok && ++accepted <= 5)
        ADD_FAILURE() << "accepted with byte " << i << " bit " << bit << " flipped";
    }
  }
  const std::size_t signature_start = token.rfind('.') + 1;
  for (std::size_t len = signature_start; len < token.size(); ++len) {
    if (check(token.substr(0, len), k, now) == reason::ok && ++accepted <= 5)
      ADD_FAILURE() << "accepted with signature truncated to " << len - signature_start;
  }
  EXPECT_EQ(accepted, 0);
}

// ---- RFC vectors --------------------------------------------------------------------------

// RFC 7515 Appendix A.1 (also the example JWT of RFC 7519 §3.1).
// Header:  {"typ":"JWT",\r\n "alg":"HS256"}
// Payload: {"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}
constexpr char rfc7515_a1_token[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlf"
    "Q"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
// RFC 7515 Appendix A.1.1: the HMAC key as a JWK "k" value (64 bytes).
constexpr char rfc7515_a1_k[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
constexpr std::int64_t rfc7515_exp = 1300819380;

// A header or payload nested deeper than the reader's limit made jsoncpp throw out of
// verify() (seen first through tests/fuzz/body_fuzz.cc on the bodies' reader).
TEST(Jwt, JsonNestedTooDeepIsRefusedNotThrown) {
  const key k = key::hmac(std::string(32, 's'));
  const std::string deep = std::string(100, '[');
  EXPECT_EQ(verify(b64::encode(deep) + ".e30.AAAA", k, 0, "").why, reason::bad_header);
  const std::string token = sign_json("{\"exp\":" + deep + "}", k);
  EXPECT_EQ(verify(token, k, 0, "").why, reason::bad_payload);
  EXPECT_FALSE(decode_unverified(b64::encode(deep) + ".e30.AAAA").has_value());
}

TEST(Jwt, Rfc7515A1Hs256VectorVerifies) {
  const key k = key::hmac(b64::decode(rfc7515_a1_k).value());
  const verified v = verify(rfc7515_a1_token, k, rfc7515_exp - 1, "joe");
  ASSERT_EQ(v.why, reason::ok) << reason_name(v.why);
  EXPECT_EQ(v.header["typ"].asString(), "JWT");
  EXPECT_EQ(v.payload["exp"].asInt64(), rfc7515_exp);
  EXPECT_TRUE(v.payload["http://example.com/is_root"].asBool());
}

TEST(Jwt, Rfc7515A1Hs256VectorIsExpiredAtItsExp) {
  const key k = key::hmac(b64::decode(rfc7515_a1_k).value());
  EXPECT_EQ(check(rfc7515_a1_token, k, rfc7515_exp, "joe"), reason::expired);
  EXPECT_EQ(check(rfc7515_a1_token, k, rfc7515_exp, "joe", 1), reason::ok);  // leeway
}

TEST(Jwt, Rfc7515A1Hs256VectorFailsWithOtherSecret) {
  EXPECT_EQ(check(rfc7515_a1_token, key::hmac(hs_secret), rfc7515_exp - 1, "joe"),
            reason::bad_signature);
}

// RFC 7515 Appendix A.3: ES256, public key from the published JWK x/y.
// Header:  {"alg":"ES256"}
// Payload: {"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}
constexpr char rfc7515_a3_token[] =
    "eyJhbGciOiJFUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlf"
    "Q"
    ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
constexpr char rfc7515_a3_x[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
constexpr char rfc7515_a3_y[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

key rfc7515_a3_key() {
  return key::from_pem(algorithm::es256, {}, ec_p256_public_pem(rfc7515_a3_x, rfc7515_a3_y));
}

TEST(Jwt, Rfc7515A3Es256VectorVerifies) {
  const key k = rfc7515_a3_key();
  EXPECT_FALSE(k.can_sign());
  const verified v = verify(rfc7515_a3_token, k, rfc7515_exp - 1, "joe");
  ASSERT_EQ(v.why, reason::ok) << reason_name(v.why);
  EXPECT_EQ(v.payload["iss"].asString(), "joe");
}

TEST(Jwt, Rfc7515A3Es256VectorRejectsDerEncodedSignature) {
  // Same (r, s) in OpenSSL's DER form: a different encoding JOSE does not allow.
  const std::string raw = b64::decode(segment(rfc7515_a3_token, 2)).value();
  auto der_int = [](std::string v) {
    while (v.size() > 1 && v[0] == 0) v.erase(0, 1);
    if (static_cast<unsigned char>(v[0]) & 0x80) v.insert(0, 1, '\0');
    return std::string("\x02") + static_cast<char>(v.size()) + v;
  };
  const std::string body = der_int(raw.substr(0, 32)) + der_int(raw.substr(32));
  const std::string der = std::string("\x30") + static_cast<char>(body.size()) + body;
  const std::string token = with_segment(rfc7515_a3_token, 2, b64::encode(der));
  EXPECT_EQ(check(token, rfc7515_a3_key(), rfc7515_exp - 1, "joe"), reason::bad_signature);
}

TEST(Jwt, Rfc7515A3Es256VectorRejectsSwappedRAndS) {
  const std::string raw = b64::decode(segment(rfc7515_a3_token, 2)).value();
  const std::string token =
      with_segment(rfc7515_a3_token, 2, b64::encode(raw.substr(32) + raw.substr(0, 32)));
  EXPECT_EQ(check(token, rfc7515_a3_key(), rfc7515_exp - 1, "joe"), reason::bad_signature);
}

// RFC 7638 §3.1: the JWK thumbprint of the RFC 7517 Appendix A.1 RSA key.
TEST(Jwt, DefaultKidIsRfc7638Thumbprint) {
  const std::string n =
      "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
      "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Qvzq"
      "Y368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu"
      "0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
  const key k = key::from_pem(algorithm::rs256, {}, rsa_public_pem(n, "AQAB"));
  EXPECT_EQ(k.kid(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  const Json::Value jwk = k.public_jwk();
  EXPECT_EQ(jwk["n"].asString(), n);
  EXPECT_EQ(jwk["e"].asString(), "AQAB");
}

// ---- names --------------------------------------------------------------------------------

TEST(Jwt, AlgorithmNamesAreExactAndNeverNone) {
  for (algorithm a : {algorithm::hs256, algorithm::rs256, algorithm::es256})
    EXPECT_EQ(algorithm_from_name(algorithm_name(a)), a);
  EXPECT_FALSE(algorithm_from_name("none"));
  EXPECT_FALSE(algorithm_from_name("hs256"));
  EXPECT_FALSE(algorithm_from_name("HS256 "));
  EXPECT_FALSE(algorithm_from_name("HS512"));
  EXPECT_FALSE(algorithm_from_name(""));
}

TEST(Jwt, ReasonNamesAreStableForLogs) {
  EXPECT_EQ(reason_name(reason::ok), "ok");
  EXPECT_EQ(reason_name(reason::malformed), "malformed");
  EXPECT_EQ(reason_name(reason::bad_header), "bad_header");
  EXPECT_EQ(reason_name(reason::alg_mismatch), "alg_mismatch");
  EXPECT_EQ(reason_name(reason::kid_mismatch), "kid_mismatch");
  EXPECT_EQ(reason_name(reason::bad_signature), "bad_signature");
  EXPECT_EQ(reason_name(reason::bad_payload), "bad_payload");
  EXPECT_EQ(reason_name(reason::expired), "expired");
  EXPECT_EQ(reason_name(reason::not_yet_valid), "not_yet_valid");
  EXPECT_EQ(reason_name(reason::issuer_mismatch), "issuer_mismatch");
}

// ---- what sign() emits --------------------------------------------------------------------

TEST(Jwt, SignEmitsExactHeaderAndCompactPayload) {
  const std::string token = sign(cocart_claims(t0), key::hmac(hs_secret));
  EXPECT_EQ(b64::decode(segment(token, 0)), R"({"typ":"JWT","alg":"HS256"})");
  const std::string payload = b64::decode(segment(token, 1)).value();
  // No whitespace outside strings (the User-Agent has its own spaces, but no ", " or ": ").
  EXPECT_EQ(payload.find(": "), std::string::npos);
  EXPECT_EQ(payload.find(", "), std::string::npos);
  EXPECT_EQ(payload.find('\n'), std::string::npos);
  EXPECT_EQ(parse_json(payload), cocart_claims(t0));
}

TEST(Jwt, SignAddsKidForAsymmetricKeys) {
  for (algorithm a : {algorithm::rs256, algorithm::es256}) {
    const key k = make_key(a);
    const std::string token = sign(cocart_claims(t0), k);
    EXPECT_EQ(b64::decode(segment(token, 0)), R"({"typ":"JWT","alg":")" +
                                                  std::string(algorithm_name(a)) + R"(","kid":")" +
                                                  k.kid() + R"("})");
  }
}

TEST(Jwt, SignRejectsNonObjectPayload) {
  EXPECT_THROW(sign(Json::Value("x"), key::hmac(hs_secret)), std::invalid_argument);
}

TEST(Jwt, VerifyOnlyKeyCannotSign) {
  const key k = key::from_pem(algorithm::rs256, {}, rsa_pair().public_pem);
  EXPECT_FALSE(k.can_sign());
  EXPECT_THROW(sign(cocart_claims(t0), k), std::invalid_argument);
  EXPECT_EQ(check(sign(cocart_claims(t0), make_key(algorithm::rs256)), k), reason::ok);
}

// ---- per-algorithm behaviour --------------------------------------------------------------

class JwtAlg : public ::testing::TestWithParam<algorithm> {};

INSTANTIATE_TEST_SUITE_P(All, JwtAlg,
                         ::testing::Values(algorithm::hs256, algorithm::rs256, algorithm::es256),
                         [](const auto& info) { return std::string(algorithm_name(info.param)); });

TEST_P(JwtAlg, SignedTokenVerifiesAndReturnsClaims) {
  const key k = make_key(GetParam());
  const verified v = verify(sign(cocart_claims(t0), k), k, t0 + 60, issuer);
  ASSERT_EQ(v.why, reason::ok) << reason_name(v.why);
  EXPECT_EQ(v.payload, cocart_claims(t0));
  EXPECT_EQ(v.header["alg"].asString(), algorithm_name(GetParam()));
}

TEST_P(JwtAlg, EveryBitFlipAndSignatureTruncationIsRejected) {
  const key k = make_key(GetParam());
  expect_every_mutation_rejected(sign(cocart_claims(t0), k), k, t0 + 60);
}

TEST_P(JwtAlg, ChangedPayloadIsRejected) {
  const key k = make_key(GetParam());
  const std::string token = sign(cocart_claims(t0), k);
  Json::Value claims = cocart_claims(t0);
  claims["data"]["user"]["id"] = 1;  // become the shop admin
  EXPECT_EQ(check(with_segment(token, 1, b64::encode(compact(claims))), k), reason::bad_signature);
}

TEST_P(JwtAlg, SignatureFromOtherKeyIsRejected) {
  const key k = make_key(GetParam());
  const key other =
      GetParam() == algorithm::hs256 ? key::hmac(hs_secret + "x")
      : GetParam() == algorithm::rs256
          ? key::from_pem(algorithm::rs256, generate("RSA-2048").private_pem, {}, k.kid())
          : key::from_pem(algorithm::es256, generate("P-256").private_pem, {}, k.kid());
  EXPECT_EQ(check(sign(cocart_claims(t0), other), k), reason::bad_signature);
}

TEST_P(JwtAlg, UnsignedAlgNoneTokenIsRejected) {
  const key k = make_key(GetParam());
  const std::string payload = b64::encode(compact(cocart_claims(t0)));
  // Header: {"alg":"none","typ":"JWT"} — with an empty and with a stolen signature.
  const std::string header = b64::encode(R"({"alg":"none","typ":"JWT"})");
  EXPECT_EQ(check(header + "." + payload + ".", k), reason::alg_mismatch);
  const std::string real = sign(cocart_claims(t0), k);
  EXPECT_EQ(check(header + "." + payload + "." + segment(real, 2), k), reason::alg_mismatch);
  // Header: {"alg":"None"} and {"alg":"NONE"}: case variants some libraries let through.
  EXPECT_EQ(check(b64::encode(R"({"alg":"None"})") + "." + payload + ".", k), reason::alg_mismatch);
  EXPECT_EQ(check(b64::encode(R"({"alg":"NONE"})") + "." + payload + ".", k), reason::alg_mismatch);
}

TEST_P(JwtAlg, ExpiredTokenIsRejected) {
  const key k = make_key(GetParam());
  const std::string token = sign(cocart_claims(t0, 600), k);
  EXPECT_EQ(check(token, k, t0 + 599), reason::ok);
  EXPECT_EQ(check(token, k, t0 + 600), reason::expired);  // RFC 7519 §4.1.4: now must be before exp
  EXPECT_EQ(check(token, k, t0 + 600, issuer, 30), reason::ok);
  EXPECT_EQ(check(token, k, t0 + 630, issuer, 30), reason::expired);
}

TEST_P(JwtAlg, TokenFromTheFutureIsNotYetValid) {
  const key k = make_key(GetParam());
  const std::string token = sign(cocart_claims(t0), k);  // nbf = iat = t0
  EXPECT_EQ(check(token, k, t0), reason::ok);
  EXPECT_EQ(check(token, k, t0 - 1), reason::not_yet_valid);
  EXPECT_EQ(check(token, k, t0 - 1, issuer, 1), reason::ok);
}

TEST_P(JwtAlg, WrongOrMissingIssuerIsRejected) {
  const key k = make_key(GetParam());
  const std::string token = sign(cocart_claims(t0), k);
  EXPECT_EQ(check(token, k, t0 + 1, "https://other.example"), reason::issuer_mismatch);
  EXPECT_EQ(check(token, k, t0 + 1, "https://shop.example/"), reason::issuer_mismatch);
  Json::Value no_iss = cocart_claims(t0);
  no_iss.removeMember("iss");
  EXPECT_EQ(check(sign(no_iss, k), k, t0 + 1), reason::issuer_mismatch);
  EXPECT_EQ(check(sign(no_iss, k), k, t0 + 1, ""), reason::ok);  // empty: not checked
}

// jsoncpp's Int is 32-bit: an exp read with isInt/asInt would break in 2038.
TEST_P(JwtAlg, ExpPast2038IsAccepted) {
  const key k = make_key(GetParam());
  Json::Value claims = cocart_claims(t0);
  claims["exp"] = Json::Int64{1} << 40;  // year 36812
  const std::string token = sign(claims, k);
  EXPECT_EQ(check(token, k, t0), reason::ok);
  EXPECT_EQ(check(token, k, (std::int64_t{1} << 40) - 1), reason::ok);
  EXPECT_EQ(check(token, k, std::int64_t{1} << 40), reason::expired);
  EXPECT_EQ(check(token, k, t0, issuer, INT64_MAX), reason::ok);  // no overflow on exp + leeway
}

// ---- algorithm confusion ------------------------------------------------------------------

// The classic attack: sign HS256 with the server's *public* RSA key as HMAC secret, hoping the
// verifier feeds the PEM it holds to HMAC.
TEST(Jwt, Hs256TokenKeyedWithRs256PublicPemIsRejectedByRs256Key) {
  const key rs = make_key(algorithm::rs256);
  const std::string forged = sign(cocart_claims(t0), key::hmac(rsa_pair().public_pem));
  EXPECT_EQ(check(forged, rs), reason::alg_mismatch);
  // Same with the kid the server expects, hand-built.
  // Header: {"typ":"JWT","alg":"HS256","kid":<rs kid>}
  const std::string header = R"({"typ":"JWT","alg":"HS256","kid":")" + rs.kid() + R"("})";
  EXPECT_EQ(check(hs256_token(header, compact(cocart_claims(t0)), rsa_pair().public_pem), rs),
            reason::alg_mismatch);
}

TEST(Jwt, KeyOfOneAlgorithmRejectsTokensOfAnother) {
  const algorithm all[] = {algorithm::hs256, algorithm::rs256, algorithm::es256};
  for (algorithm signer : all) {
    for (algorithm verifier : all) {
      if (signer == verifier) continue;
      EXPECT_EQ(check(sign(cocart_claims(t0), make_key(signer)), make_key(verifier)),
                reason::alg_mismatch)
          << algorithm_name(signer) << " token, " << algorithm_name(verifier) << " key";
    }
  }
}

// ---- header and payload shapes ------------------------------------------------------------

TEST(Jwt, KidMismatchIsRejectedAndMissingKidAccepted) {
  const key k = make_key(algorithm::rs256);
  const key other_kid = key::from_pem(algorithm::rs256, rsa_pair().private_pem, {}, "2024-rotated");
  EXPECT_EQ(other_kid.kid(), "2024-rotated");
  EXPECT_EQ(check(sign(cocart_claims(t0), other_kid), k), reason::kid_mismatch);
  EXPECT_EQ(check(sign(cocart_claims(t0), k), other_kid), reason::kid_mismatch);
  // (Tokens without kid are accepted: see JwtInterop.PyJwtTokenVerifiesInCartgate.)
  const key hs = key::hmac(hs_secret);
  // HS256 keys have no kid: a kid in the header is informational.
  // Header: {"alg":"HS256","kid":"anything"}
  EXPECT_EQ(
      check(hs256_token(R"({"alg":"HS256","kid":"anything"})", compact(cocart_claims(t0))), hs),
      reason::ok);
  // Header: {"alg":"HS256","kid":7}
  EXPECT_EQ(check(hs256_token(R"({"alg":"HS256","kid":7})", compact(cocart_claims(t0))), hs),
            reason::bad_header);
}

TEST(Jwt, BadHeadersAreRejected) {
  const key k = key::hmac(hs_secret);
  const std::string claims = compact(cocart_claims(t0));
  // Header: {"alg":"HS256","crit":["exp"]} — RFC 7515 §4.1.11: unknown critical extension.
  EXPECT_EQ(check(hs256_token(R"({"alg":"HS256","crit":["exp"]})", claims), k), reason::bad_header);
  // Header: {"typ":"JWT"} — no alg at all.
  EXPECT_EQ(check(hs256_token(R"({"typ":"JWT"})", claims), k), reason::bad_header);
  // Header: {"alg":["HS256"]}
  EXPECT_EQ(check(hs256_token(R"({"alg":["HS256"]})", claims), k), reason::bad_header);
  // Header: {"alg":"HS256","alg":"HS256"} — duplicate keys are ambiguous across parsers.
  EXPECT_EQ(check(hs256_token(R"({"alg":"HS256","alg":"HS256"})", claims), k), reason::bad_header);
  // Header: ["HS256"], not an object.
  EXPECT_EQ(check(hs256_token(R"(["HS256"])", claims), k), reason::bad_header);
  // Header: {"alg":"HS256"} followed by garbage.
  EXPECT_EQ(check(hs256_token(R"({"alg":"HS256"}x)", claims), k), reason::bad_header);
  // Header: /*c*/{"alg":"HS256"} — a comment before the root. (jsoncpp still skips comments
  // *inside* objects even in strict mode, upstream issue #706; harmless here because those
  // bytes are covered by the signature.)
  EXPECT_EQ(check(hs256_token(R"(/*c*/{"alg":"HS256"})", claims), k), reason::bad_header);
}

TEST(Jwt, BadPayloadsAreRejectedAfterTheSignature) {
  const key k = key::hmac(hs_secret);
  const std::string header = R"({"typ":"JWT","alg":"HS256"})";
  // Payload without exp: CoCart tokens always expire, so a token that never does is refused.
  EXPECT_EQ(check(hs256_token(header, R"({"iss":"https://shop.example"})"), k),
            reason::bad_payload);
  // exp as a string, a fraction, a boolean, beyond int64.
  EXPECT_EQ(check(hs256_token(header, R"({"exp":"1800000000"})"), k, t0, ""), reason::bad_payload);
  EXPECT_EQ(check(hs256_token(header, R"({"exp":1800000000.5})"), k, t0, ""), reason::bad_payload);
  EXPECT_EQ(check(hs256_token(header, R"({"exp":true})"), k, t0, ""), reason::bad_payload);
  EXPECT_EQ(check(hs256_token(header, R"({"exp":18446744073709551615})"), k, t0, ""),
            reason::bad_payload);
  EXPECT_EQ(check(hs256_token(header, R"({"exp":1800000000,"nbf":"0"})"), k, t0, ""),
            reason::bad_payload);
  EXPECT_EQ(check(hs256_token(header, R"({"exp":1800000000,"iat":null})"), k, t0, ""),
            reason::bad_payload);
  // Duplicate exp: one parser could read the first, another the last.
  EXPECT_EQ(check(hs256_token(header, R"({"exp":1,"exp":1800000000})"), k, t0, ""),
            reason::bad_payload);
  EXPECT_EQ(check(hs256_token(header, "[1800000000]"), k, t0, ""), reason::bad_payload);
  EXPECT_EQ(check(hs256_token(header, "not json"), k, t0, ""), reason::bad_payload);
  // The same good payload passes, so the failures above are about the claims.
  EXPECT_EQ(check(hs256_token(header, R"({"exp":1800000000})"), k, t0, ""), reason::ok);
  // An integral number written as a float is still a NumericDate.
  EXPECT_EQ(check(hs256_token(header, R"({"exp":1.8e9})"), k, t0, ""), reason::ok);
  // A non-string iss when one is expected.
  EXPECT_EQ(check(hs256_token(header, R"({"exp":1800000000,"iss":7})"), k, t0),
            reason::issuer_mismatch);
}

TEST(Jwt, IatInTheFutureIsNotYetValid) {
  const key k = key::hmac(hs_secret);
  // Header: {"typ":"JWT","alg":"HS256"}  Payload: {"exp":t0+600,"iat":t0+100}
  const std::string token =
      hs256_token(R"({"typ":"JWT","alg":"HS256"})", R"({"exp":1700000600,"iat":1700000100})");
  EXPECT_EQ(check(token, k, t0, ""), reason::not_yet_valid);
  EXPECT_EQ(check(token, k, t0, "", 100), reason::ok);
}

TEST(Jwt, MalformedTokensAreRejected) {
  const key k = key::hmac(hs_secret);
  const std::string good = sign(cocart_claims(t0), k);
  const std::string h = segment(good, 0), p = segment(good, 1), s = segment(good, 2);
  const std::pair<std::string, reason> cases[] = {
      {"", reason::malformed},
      {"abc", reason::malformed},
      {h + "." + p, reason::malformed},
      {good + ".", reason::malformed},
      {good + "." + s, reason::malformed},
      {h + "=." + p + "." + s, reason::malformed},  // padded header
      {" " + good, reason::malformed},
      {h.substr(0, h.size() - 4) + "." + p + "." + s, reason::bad_header},  // cut header
      {h + "." + p + "." + s + "=", reason::bad_signature},                 // padded signature
      {h + "." + p + "." + s.substr(0, 42) + "+", reason::bad_signature},
      {h + "." + p + "=." + s, reason::bad_signature},  // payload text is signed as is
      {h + "." + p + "." + s + s, reason::bad_signature},
      {"..", reason::bad_header},
      {good + std::string(max_token_size, 'A'), reason::malformed},  // oversized
  };
  for (const auto& [token, expected] : cases)
    EXPECT_EQ(check(token, k), expected)
        << token.substr(0, 80) << " -> " << reason_name(check(token, k));
}

// ---- keys ---------------------------------------------------------------------------------

TEST(JwtKey, HmacRejectsSecretShorterThan32Bytes) {
  EXPECT_THROW(key::hmac(std::string(31, 'x')), std::invalid_argument);
  EXPECT_NO_THROW(key::hmac(std::string(32, 'x')));
  EXPECT_TRUE(key::hmac(std::string(32, 'x')).public_jwk().isNull());
  EXPECT_EQ(key::hmac(std::string(32, 'x')).kid(), "");
}

TEST(JwtKey, FromPemRejectsWeakOrWrongKeys) {
  const pem_pair rsa1024 = generate("RSA-1024");
  const pem_pair p384 = generate("P-384");
  EXPECT_THROW(key::from_pem(algorithm::rs256, rsa1024.private_pem), std::invalid_argument);
  EXPECT_THROW(key::from_pem(algorithm::rs256, {}, rsa1024.public_pem), std::invalid_argument);
  EXPECT_THROW(key::from_pem(algorithm::es256, p384.private_pem), std::invalid_argument);
  EXPECT_THROW(key::from_pem(algorithm::es256, rsa_pair().private_pem), std::invalid_argument);
  EXPECT_THROW(key::from_pem(algorithm::rs256, ec_pair().private_pem), std::invalid_argument);
  EXPECT_THROW(key::from_pem(algorithm::rs256, {}, ec_pair().public_pem), std::invalid_argument);
  EXPECT_THROW(key::from_pem(algorithm::hs256, rsa_pair().private_pem), std::invalid_argument);
  EXPECT_THROW(key::from_pem(algorithm::rs256, {}, {}), std::invalid_argument);
  EXPECT_THROW(key::from_pem(algorithm::rs256,
                             "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
               std::invalid_argument);
  EXPECT_THROW(key::from_pem(algorithm::rs256, {}, "not a pem"), std::invalid_argument);
}

TEST(JwtKey, FromPemRejectsMismatchedPair) {
  try {
    key::from_pem(algorithm::rs256, rsa_pair().private_pem, generate("RSA-2048").public_pem);
    FAIL() << "mismatched pair accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("not a pair"), std::string::npos) << e.what();
  }
  EXPECT_THROW(key::from_pem(algorithm::es256, ec_pair().private_pem, generate("P-256").public_pem),
               std::invalid_argument);
}

TEST(JwtKey, FromPemRefusesEncryptedPrivateKeyWithoutPrompting) {
  pkey_ptr k(EVP_EC_gen("P-256"));
  const std::string encrypted = private_pem(k.get(), EVP_aes_256_cbc(), "hunter22");
  ASSERT_NE(encrypted.find("ENCRYPTED"), std::string::npos);
  EXPECT_THROW(key::from_pem(algorithm::es256, encrypted), std::invalid_argument);
}

TEST(JwtKey, PrivateOnlyKeyDerivesPublicHalf) {
  for (algorithm a : {algorithm::rs256, algorithm::es256}) {
    const pem_pair& pair = a == algorithm::rs256 ? rsa_pair() : ec_pair();
    const key both = key::from_pem(a, pair.private_pem, pair.public_pem);
    const key priv = key::from_pem(a, pair.private_pem);
    const key pub = key::from_pem(a, {}, pair.public_pem);
    EXPECT_TRUE(priv.can_sign());
    EXPECT_EQ(priv.kid(), pub.kid());
    EXPECT_EQ(priv.public_jwk(), pub.public_jwk());
    EXPECT_EQ(check(sign(cocart_claims(t0), priv), pub), reason::ok);
    EXPECT_EQ(check(sign(cocart_claims(t0), both), priv), reason::ok);
  }
}

TEST(JwtKey, PublicJwkHasJoseMembersAndNoPrivateOnes) {
  const Json::Value rsa = make_key(algorithm::rs256).public_jwk();
  EXPECT_EQ(rsa["kty"].asString(), "RSA");
  EXPECT_EQ(rsa["use"].asString(), "sig");
  EXPECT_EQ(rsa["alg"].asString(), "RS256");
  EXPECT_EQ(rsa["e"].asString(), "AQAB");
  EXPECT_EQ(b64::decode(rsa["n"].asString()).value().size(), 256u);
  EXPECT_EQ(rsa["kid"].asString(), make_key(algorithm::rs256).kid());
  const Json::Value ec = make_key(algorithm::es256).public_jwk();
  EXPECT_EQ(ec["kty"].asString(), "EC");
  EXPECT_EQ(ec["crv"].asString(), "P-256");
  EXPECT_EQ(ec["alg"].asString(), "ES256");
  EXPECT_EQ(b64::decode(ec["x"].asString()).value().size(), 32u);
  EXPECT_EQ(b64::decode(ec["y"].asString()).value().size(), 32u);
  for (const char* secret : {"d", "p", "q", "dp", "dq", "qi", "k"}) {
    EXPECT_FALSE(rsa.isMember(secret)) << secret;
    EXPECT_FALSE(ec.isMember(secret)) << secret;
  }
}

struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/cartgate_jwt_test_XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& content) const {
    const std::string file = path + "/" + name;
    std::ofstream(file, std::ios::binary) << content;
    return file;
  }
};

TEST(JwtKey, FromPemFilesReadsKeysAndNamesMissingFile) {
  const temp_dir dir;
  const std::string priv = dir.write("private.pem", ec_pair().private_pem);
  const std::string pub = dir.write("public.pem", ec_pair().public_pem);
  const key k = key::from_pem_files(algorithm::es256, priv, pub, "es-1");
  EXPECT_EQ(k.kid(), "es-1");
  EXPECT_EQ(
      check(sign(cocart_claims(t0), k), key::from_pem_files(algorithm::es256, {}, pub, "es-1")),
      reason::ok);
  try {
    key::from_pem_files(algorithm::es256, dir.path + "/missing.pem");
    FAIL() << "missing file accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pem"), std::string::npos) << e.what();
  }
}

// ---- threads ------------------------------------------------------------------------------

// Keys are shared read-only; verify() keeps per-thread scratch state. Run all three algorithms
// at once from several threads and expect only correct answers.
TEST(Jwt, ConcurrentVerifyFromManyThreadsIsConsistent) {
  const key keys[] = {make_key(algorithm::hs256), make_key(algorithm::rs256),
                      make_key(algorithm::es256)};
  std::vector<std::string> good, bad;
  for (const key& k : keys) {
    good.push_back(sign(cocart_claims(t0), k));
    std::string t = good.back();
    t[t.size() - 5] = t[t.size() - 5] == 'A' ? 'B' : 'A';
    bad.push_back(t);
  }
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        const int which = (i + t) % 3;
        if (check(good[which], keys[which]) != reason::ok) ++wrong;
        if (check(bad[which], keys[which]) != reason::bad_signature) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

// ---- decode_unverified --------------------------------------------------------------------

TEST(Jwt, DecodeUnverifiedShowsClaimsWithoutChecking) {
  const std::string token = sign(cocart_claims(t0, -10), key::hmac(hs_secret));  // expired
  const auto d = decode_unverified(with_segment(token, 2, "forged"));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->header["alg"].asString(), "HS256");
  EXPECT_EQ(d->payload["data"]["user"]["id"].asInt(), 42);
  EXPECT_FALSE(decode_unverified("a.b"));
  EXPECT_FALSE(decode_unverified("!!.??.x"));
  EXPECT_FALSE(decode_unverified(b64::encode("[]") + "." + b64::encode("{}") + "."));
}

// ---- cross-check with an independent implementation: Debian's python3-jwt (PyJWT 2.6) ------

constexpr char python[] = "/usr/bin/python3";  // the python3 on PATH may lack the module

constexpr char pyjwt_script[] = R"PY(
import base64, hashlib, json, sys
import jwt
mode, alg, key_file = sys.argv[1:4]
key = None if alg == "none" else open(key_file, "rb").read()
if mode == "verify":
    claims = jwt.decode(sys.argv[4], key, algorithms=[alg], issuer=sys.argv[5],
                        options={"require": ["exp", "iat", "nbf", "iss"]})
    print(json.dumps(claims, sort_keys=True, separators=(",", ":")))
elif mode == "sign":
    print(jwt.encode(json.loads(sys.argv[4]), key, algorithm=None if alg == "none" else alg,
                     headers=json.loads(sys.argv[5])))
elif mode == "verify_jwk":
    public = jwt.PyJWK(json.loads(key)).key
    claims = jwt.decode(sys.argv[4], public, algorithms=[alg])
    print(json.dumps(claims, sort_keys=True, separators=(",", ":")))
elif mode == "thumbprint":
    jwk = json.loads(key)
    required = {"RSA": ["e", "kty", "n"], "EC": ["crv", "kty", "x", "y"]}[jwk["kty"]]
    canonical = json.dumps({m: jwk[m] for m in required}, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    print(base64.urlsafe_b64encode(digest).rstrip(b"=").decode())
)PY";

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct run_result {
  int status = -1;
  std::string output;  // stdout + stderr, trailing newline removed
};

run_result run(const std::string& command) {
  run_result r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  while (!r.output.empty() && r.output.back() == '\n') r.output.pop_back();
  return r;
}

class JwtInterop : public ::testing::TestWithParam<algorithm> {
 protected:
  static void SetUpTestSuite() {
    available_ = run(std::string(python) + " -c 'import jwt, cryptography'").status == 0;
    dir_ = std::make_unique<temp_dir>();
    script_ = dir_->write("pyjwt_check.py", pyjwt_script);
    dir_->write("HS256.key", hs_secret);
    dir_->write("RS256.key", rsa_pair().private_pem);
    dir_->write("RS256.pub", rsa_pair().public_pem);
    dir_->write("ES256.key", ec_pair().private_pem);
    dir_->write("ES256.pub", ec_pair().public_pem);
  }
  static void TearDownTestSuite() { dir_.reset(); }
  void SetUp() override {
    if (!available_)
      GTEST_SKIP() << python << " with the jwt (python3-jwt) module is not installed";
  }

  static std::string key_file(algorithm a, bool for_signing) {
    const std::string name(algorithm_name(a));
    return dir_->path + "/" + name + (a == algorithm::hs256 || for_signing ? ".key" : ".pub");
  }
  static run_result pyjwt(const std::string& mode, const std::string& alg, const std::string& file,
                          const std::string& arg1, const std::string& arg2 = "") {
    return run(std::string(python) + " " + script_ + " " + mode + " " + alg + " " +
               shell_quote(file) + " " + shell_quote(arg1) + " " + shell_quote(arg2));
  }

  static inline bool available_ = false;
  static inline std::unique_ptr<temp_dir> dir_;
  static inline std::string script_;
};

INSTANTIATE_TEST_SUITE_P(All, JwtInterop,
                         ::testing::Values(algorithm::hs256, algorithm::rs256, algorithm::es256),
                         [](const auto& info) { return std::string(algorithm_name(info.param)); });

// PyJWT checks exp/nbf against the real clock, so these tokens use it too.
std::int64_t wall_clock() { return static_cast<std::int64_t>(std::time(nullptr)); }

TEST_P(JwtInterop, CartgateTokenVerifiesInPyJwt) {
  const key k = make_key(GetParam());
  const Json::Value claims = cocart_claims(wall_clock(), 600);
  const run_result r = pyjwt("verify", std::string(algorithm_name(GetParam())),
                             key_file(GetParam(), false), sign(claims, k), issuer);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(parse_json(r.output), claims);
}

TEST_P(JwtInterop, PyJwtTokenVerifiesInCartgate) {
  const key k = make_key(GetParam());
  const Json::Value claims = cocart_claims(wall_clock(), 600);
  Json::Value headers(Json::objectValue);
  if (GetParam() != algorithm::hs256) headers["kid"] = k.kid();
  const run_result r = pyjwt("sign", std::string(algorithm_name(GetParam())),
                             key_file(GetParam(), true), compact(claims), compact(headers));
  ASSERT_EQ(r.status, 0) << r.output;
  const verified v = verify(r.output, k, wall_clock(), issuer);
  ASSERT_EQ(v.why, reason::ok) << reason_name(v.why) << " for " << r.output;
  EXPECT_EQ(v.payload, claims);
  // And a PyJWT token without kid: kid is optional, the signature decides.
  const run_result bare = pyjwt("sign", std::string(algorithm_name(GetParam())),
                                key_file(GetParam(), true), compact(claims), "{}");
  ASSERT_EQ(bare.status, 0) << bare.output;
  EXPECT_EQ(check(bare.output, k, wall_clock()), reason::ok);
  // And PyJWT's tampered-with token is refused.
  Json::Value other = claims;
  other["data"]["user"]["id"] = 1;
  EXPECT_EQ(check(with_segment(r.output, 1, b64::encode(compact(other))), k, wall_clock()),
            reason::bad_signature);
}

TEST_P(JwtInterop, PyJwtUnsignedTokenIsRejected) {
  const run_result r = pyjwt("sign", "none", key_file(GetParam(), true),
                             compact(cocart_claims(wall_clock(), 600)), "{}");
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_EQ(r.output.back(), '.');  // header.payload. with an empty signature
  EXPECT_EQ(check(r.output, make_key(GetParam()), wall_clock()), reason::alg_mismatch);
}

// JWKS: only asymmetric keys are published (an HS256 secret never is).
class JwtJwksInterop : public JwtInterop {};

INSTANTIATE_TEST_SUITE_P(Asymmetric, JwtJwksInterop,
                         ::testing::Values(algorithm::rs256, algorithm::es256),
                         [](const auto& info) { return std::string(algorithm_name(info.param)); });

TEST_P(JwtJwksInterop, PublicJwkVerifiesInPyJwtAndKidIsItsThumbprint) {
  const key k = make_key(GetParam());
  const std::string jwk_file =
      dir_->write(std::string(algorithm_name(GetParam())) + ".jwk", compact(k.public_jwk()));
  const Json::Value claims = cocart_claims(wall_clock(), 600);
  const run_result r =
      pyjwt("verify_jwk", std::string(algorithm_name(GetParam())), jwk_file, sign(claims, k));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(parse_json(r.output), claims);
  const run_result thumb = pyjwt("thumbprint", "-", jwk_file, "");
  ASSERT_EQ(thumb.status, 0) << thumb.output;
  EXPECT_EQ(thumb.output, k.kid());
}

// ---- key rotation: a keyring -------------------------------------------------------------

const std::string hs_secret_new = "fedcba9876543210fedcba9876543210-cartgate-rotated-key";

Json::Value header_of(const std::string& token) {
  Json::Value h;
  Json::Reader().parse(b64::decode(segment(token, 0)).value(), h);
  return h;
}

TEST(JwtKeyring, HmacWithKidWritesItInTheHeader) {
  EXPECT_FALSE(header_of(sign(cocart_claims(t0), key::hmac(hs_secret))).isMember("kid"));
  EXPECT_EQ(header_of(sign(cocart_claims(t0), key::hmac(hs_secret_new, "2026-12")))["kid"].asString(), "2026-12");
}

TEST(JwtKeyring, TokensOfARetiredHs256KeyVerifyUntilTheyExpire) {
  const key old_key = key::hmac(hs_secret);  // tokens before the rotation carry no kid
  const key new_key = key::hmac(hs_secret_new, "2026-12");
  const std::string before = sign(cocart_claims(t0), old_key);
  const std::string after = sign(cocart_claims(t0), new_key);
  const keyring ring(new_key, {old_key});
  EXPECT_EQ(verify(before, ring, t0 + 1, issuer).why, reason::ok);
  EXPECT_EQ(verify(after, ring, t0 + 1, issuer).why, reason::ok);
  EXPECT_EQ(verify(before, ring, t0 + 864000, issuer).why, reason::expired);
  // The signing key is the new one.
  EXPECT_EQ(ring.signing().kid(), "2026-12");
  // Once retired for good, the old tokens stop.
  EXPECT_EQ(verify(before, keyring(new_key), t0 + 1, issuer).why, reason::bad_signature);
}

TEST(JwtKeyring, KidSelectsTheKeyAndAnUnknownKidIsRefused) {
  const key a = key::hmac(hs_secret, "a");
  const key b = key::hmac(hs_secret_new, "b");
  const keyring ring(b, {a});
  // Signed by a's secret but naming b: checked with b, so the signature fails.
  std::string forged = hs256_token(R"({"typ":"JWT","alg":"HS256","kid":"b"})", compact(cocart_claims(t0)), hs_secret);
  EXPECT_EQ(verify(forged, ring, t0 + 1, issuer).why, reason::bad_signature);
  std::string unknown = hs256_token(R"({"typ":"JWT","alg":"HS256","kid":"c"})", compact(cocart_claims(t0)), hs_secret);
  EXPECT_EQ(verify(unknown, ring, t0 + 1, issuer).why, reason::kid_mismatch);
  // No kid and no key without kid: the signing key checks it.
  std::string bare = hs256_token(R"({"typ":"JWT","alg":"HS256"})", compact(cocart_claims(t0)), hs_secret_new);
  EXPECT_EQ(verify(bare, ring, t0 + 1, issuer).why, reason::ok);
}

TEST(JwtKeyring, RetiredAsymmetricKeysVerifyAndAreAllInTheJwks) {
  const key signing = make_key(algorithm::es256);
  const pem_pair old_pair = generate("P-256");
  const key old_signer = key::from_pem(algorithm::es256, old_pair.private_pem, old_pair.public_pem);
  const key old_public = key::from_pem(algorithm::es256, {}, old_pair.public_pem);
  const keyring ring(signing, {old_public});
  EXPECT_EQ(verify(sign(cocart_claims(t0), old_signer), ring, t0 + 1, issuer).why, reason::ok);
  EXPECT_EQ(verify(sign(cocart_claims(t0), signing), ring, t0 + 1, issuer).why, reason::ok);
  auto jwks = ring.jwks();
  ASSERT_EQ(jwks["keys"].size(), 2u);
  EXPECT_EQ(jwks["keys"][0]["kid"].asString(), signing.kid());
  EXPECT_EQ(jwks["keys"][1]["kid"].asString(), old_public.kid());
  EXPECT_EQ(keyring(key::hmac(hs_secret_new, "b"), {key::hmac(hs_secret)}).jwks()["keys"].size(), 0u);
}

TEST(JwtKeyring, MixedAlgorithmsSharedKidsAndVerifyOnlySigningKeysAreRefused) {
  EXPECT_THROW(keyring(key::hmac(hs_secret_new, "b"), {make_key(algorithm::rs256)}), std::invalid_argument);
  EXPECT_THROW(keyring(key::hmac(hs_secret_new, "b"), {key::hmac(hs_secret, "b")}), std::invalid_argument);
  EXPECT_THROW(keyring(key::from_pem(algorithm::es256, {}, ec_pair().public_pem)), std::invalid_argument);
}

}  // namespace
