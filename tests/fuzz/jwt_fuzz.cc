// Fuzzes jwt::verify for each algorithm (HS256, RS256, ES256) and through a keyring.
// Byte 0 picks the key (low 2 bits) and the mode (bit 2):
// - token mode: the rest is a token. verify and decode_unverified must not crash; an
//   accepted token's header names the key's algorithm, and decode_unverified sees the
//   same header and payload.
// - signing mode: the rest is a payload. Signed by the key, the token must pass the
//   signature check; with any one character of its signature or payload changed it must
//   not be accepted; with its header's alg replaced ("none", another algorithm, a changed
//   case) it is refused as alg_mismatch.
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "crypto/base64url.h"
#include "crypto/jwt.h"
#include "fuzz_check.h"

namespace jwt = cartgate::jwt;
namespace b64 = cartgate::base64url;
using fuzz::check;

namespace {

constexpr std::int64_t kNow = 1'800'000'000;
constexpr std::string_view kIssuer = "https://shop.example";

std::string bio_text(BIO* bio) {
  char* p = nullptr;
  long n = BIO_get_mem_data(bio, &p);
  return std::string(p, static_cast<std::size_t>(n));
}

std::string private_pem(const char* what) {
  EVP_PKEY* k = std::string_view(what) == "RSA" ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  check(k != nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  std::string pem = bio_text(bio);
  BIO_free(bio);
  EVP_PKEY_free(k);
  return pem;
}

struct keys {
  jwt::key hs = jwt::key::hmac(std::string(32, 's'));
  jwt::key rs = jwt::key::from_pem(jwt::algorithm::rs256, private_pem("RSA"));
  jwt::key es = jwt::key::from_pem(jwt::algorithm::es256, private_pem("EC"));
  jwt::keyring ring{jwt::key::hmac(std::string(40, 'n'), "2026-12"),
                    {jwt::key::hmac(std::string(32, 'o'), "2026-06"), jwt::key::hmac(std::string(33, 'e'))}};
};

const keys& all_keys() {
  static const keys k;
  return k;
}

bool signature_stage_failure(jwt::reason why) {
  return why == jwt::reason::malformed || why == jwt::reason::bad_header ||
         why == jwt::reason::alg_mismatch || why == jwt::reason::kid_mismatch ||
         why == jwt::reason::bad_signature;
}

// Another base64url character than c.
char other_char(char c, std::uint8_t salt) {
  static constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  char r = alphabet[salt % alphabet.size()];
  return r == c ? alphabet[(salt + 1) % alphabet.size()] : r;
}

void token_mode(const jwt::key* k, const jwt::keyring* ring, std::string_view token) {
  auto v = ring ? jwt::verify(token, *ring, kNow, kIssuer, 60) : jwt::verify(token, *k, kNow, kIssuer, 60);
  auto d = jwt::decode_unverified(token);
  if (v.why != jwt::reason::ok) return;
  jwt::algorithm alg = ring ? ring->signing().alg() : k->alg();
  check(token.size() <= jwt::max_token_size);
  check(v.header["alg"].isString() && v.header["alg"].asString() == jwt::algorithm_name(alg));
  check(v.payload.isObject());
  check(d.has_value() && d->header == v.header && d->payload == v.payload);
}

void signing_mode(const jwt::key& k, std::string_view payload_text, std::uint8_t salt) {
  std::string token;
  try {
    token = jwt::sign_json(payload_text, k);
  } catch (const std::invalid_argument&) {
    return;  // not a JSON object
  }
  auto v = jwt::verify(token, k, kNow, kIssuer, 60);
  if (token.size() > jwt::max_token_size) {
    check(v.why == jwt::reason::malformed);
    return;
  }
  check(!signature_stage_failure(v.why));
  check(v.why != jwt::reason::ok || v.payload.isObject());

  auto dot1 = token.find('.');
  auto dot2 = token.rfind('.');
  check(dot1 != std::string::npos && dot2 > dot1);

  // One character of the signature changed: never accepted, refused at the signature.
  if (dot2 + 1 < token.size()) {
    std::string t = token;
    std::size_t at = dot2 + 1 + salt % (t.size() - dot2 - 1);
    t[at] = other_char(t[at], salt);
    check(jwt::verify(t, k, kNow, kIssuer, 60).why == jwt::reason::bad_signature);
  }
  // One character of the payload changed: never accepted.
  if (dot2 > dot1 + 1) {
    std::string t = token;
    std::size_t at = dot1 + 1 + salt % (dot2 - dot1 - 1);
    t[at] = other_char(t[at], static_cast<std::uint8_t>(salt * 7 + 3));
    check(jwt::verify(t, k, kNow, kIssuer, 60).why != jwt::reason::ok);
  }
  // The header's alg replaced: alg_mismatch, whatever the signature.
  std::string body = token.substr(dot1, dot2 - dot1);  // ".payload"
  for (std::string_view alg : {"none", "None", "HS256", "RS256", "ES256", "hs256", "HS384", ""}) {
    if (alg == jwt::algorithm_name(k.alg())) continue;
    std::string header = "{\"typ\":\"JWT\",\"alg\":\"" + std::string(alg) + "\"}";
    std::string head = b64::encode(header) + body;
    for (const std::string& sig : {std::string(), token.substr(dot2 + 1)}) {
      auto r = jwt::verify(head + "." + sig, k, kNow, kIssuer, 60);
      check(r.why == jwt::reason::alg_mismatch);
    }
  }
}

}  // namespace

// The RSA and EC keys are generated before the first input, so their second or so is not
// charged to that input's timeout.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  all_keys();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 3 * jwt::max_token_size) return -1;
  fuzz::reader in(data, size);
  std::uint8_t control = in.byte();
  std::uint8_t salt = in.byte();
  const keys& ks = all_keys();
  const jwt::key* k = nullptr;
  switch (control & 3) {
    case 0: k = &ks.hs; break;
    case 1: k = &ks.rs; break;
    case 2: k = &ks.es; break;
    default: break;  // the keyring
  }
  std::string_view rest = in.rest();
  if (control & 4) {
    signing_mode(k ? *k : ks.ring.signing(), rest, salt);
  } else {
    token_mode(k, k ? nullptr : &ks.ring, rest);
  }
  return 0;
}
