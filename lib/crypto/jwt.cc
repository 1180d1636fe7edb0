#include "crypto/jwt.h"

#include <json/reader.h>
#include <json/writer.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "crypto/base64url.h"

namespace cartgate::jwt {
namespace {

// ---- OpenSSL ownership -------------------------------------------------------------------

struct openssl_free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  void operator()(EVP_MAC* p) const { EVP_MAC_free(p); }
  void operator()(EVP_MAC_CTX* p) const { EVP_MAC_CTX_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
  void operator()(OSSL_DECODER_CTX* p) const { OSSL_DECODER_CTX_free(p); }
};
template <typename T>
using ossl_ptr = std::unique_ptr<T, openssl_free>;

constexpr std::size_t hs256_size = 32;        // HMAC-SHA-256 output
constexpr std::size_t es256_coord_size = 32;  // P-256 field/scalar size
constexpr std::size_t es256_sig_size = 64;    // JOSE r||s (RFC 7518 §3.4)
constexpr std::size_t min_hmac_secret = 32;   // RFC 7518 §3.2: key >= hash output
constexpr int min_rsa_bits = 2048;            // RFC 7518 §3.3

[[noreturn]] void bad_key(const std::string& what) {
  throw std::invalid_argument("jwt key: " + what);
}

// The most recent OpenSSL reason, for exception messages; also empties the thread's error
// queue so a later, unrelated OpenSSL user does not pick up our leftovers.
std::string openssl_reason() {
  unsigned long last = 0;
  for (unsigned long e; (e = ERR_get_error()) != 0;) last = e;
  if (last == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(last, buf, sizeof buf);
  return buf;
}

// ---- JSON ---------------------------------------------------------------------------------

// One strict reader per thread: CharReader is not thread-safe, and building one per call would
// cost an allocation on every request. Strict mode refuses duplicate keys (so the JSON we check
// is the JSON any other parser would see), trailing garbage and comments before the root.
// (jsoncpp 1.9 still skips comments inside objects, upstream issue #706; acceptable because
// everything we act on is covered by the signature, which is checked on the raw bytes.)
Json::CharReader& json_reader() {
  thread_local const std::unique_ptr<Json::CharReader> reader = [] {
    Json::CharReaderBuilder builder;
    Json::CharReaderBuilder::strictMode(&builder.settings_);
    builder["stackLimit"] = 64;  // a token has no business nesting deeper
    return std::unique_ptr<Json::CharReader>(builder.newCharReader());
  }();
  return *reader;
}

// jsoncpp reports nesting past stackLimit by throwing, not by returning false.
bool parse_object(const std::string& text, Json::Value& out) {
  try {
    return json_reader().parse(text.data(), text.data() + text.size(), &out, nullptr) &&
           out.isObject();
  } catch (const Json::Exception&) {
    return false;
  }
}

std::string compact_json(const Json::Value& v) {
  thread_local const Json::StreamWriterBuilder builder = [] {
    Json::StreamWriterBuilder b;
    b["indentation"] = "";  // also drops the spaces around ':'
    return b;
  }();
  return Json::writeString(builder, v);
}

template <std::size_t N>
const Json::Value* member(const Json::Value& object, const char (&name)[N]) {
  return object.find(name, name + N - 1);  // no allocation, unlike operator[] with a string
}

std::string_view string_of(const Json::Value& v) {
  const char* begin = nullptr;
  const char* end = nullptr;
  if (!v.getString(&begin, &end)) return {};
  return {begin, static_cast<std::size_t>(end - begin)};
}

// ---- ES256 signature forms ----------------------------------------------------------------
// JOSE carries ECDSA signatures as fixed-width r||s; OpenSSL speaks DER SEQUENCE{INTEGER r,
// INTEGER s}. The raw->DER direction runs on every ES256 verify, so it is done by hand on the
// stack instead of through ECDSA_SIG/BIGNUM allocations.

// DER INTEGER of an unsigned big-endian 32-byte value: minimal length, 0x00 prefix when the top
// bit is set (else it would read as negative). Returns bytes written (at most 35).
std::size_t der_integer(const unsigned char* value, unsigned char* out) {
  std::size_t skip = 0;
  while (skip + 1 < es256_coord_size && value[skip] == 0) ++skip;
  const std::size_t len = es256_coord_size - skip;
  const bool pad = (value[skip] & 0x80) != 0;
  std::size_t o = 0;
  out[o++] = 0x02;
  out[o++] = static_cast<unsigned char>(len + (pad ? 1 : 0));
  if (pad) out[o++] = 0x00;
  std::memcpy(out + o, value + skip, len);
  return o + len;
}

// 64-byte r||s -> DER. Content is at most 70 bytes, so the short length form always applies.
std::size_t raw_to_der(const unsigned char* raw, unsigned char (&der)[72]) {
  std::size_t n = der_integer(raw, der + 2);
  n += der_integer(raw + es256_coord_size, der + 2 + n);
  der[0] = 0x30;
  der[1] = static_cast<unsigned char>(n);
  return n + 2;
}

std::string der_to_raw(const unsigned char* der, std::size_t len) {
  const unsigned char* p = der;
  ossl_ptr<ECDSA_SIG> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
  if (!sig) throw std::runtime_error("jwt: cannot parse ECDSA signature: " + openssl_reason());
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(es256_sig_size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, es256_coord_size) < 0 ||
      BN_bn2binpad(s, out + es256_coord_size, es256_coord_size) < 0)
    throw std::runtime_error("jwt: ECDSA signature does not fit P-256");
  return raw;
}

// ---- key loading helpers ------------------------------------------------------------------

// Refuse encrypted PEMs instead of letting OpenSSL prompt on the terminal of a daemon.
int no_passphrase(char*, int, int, void*) { return -1; }

ossl_ptr<EVP_PKEY> read_private_pem(std::string_view pem) {
  ossl_ptr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw std::bad_alloc();
  ossl_ptr<EVP_PKEY> k(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!k)
    bad_key("cannot read private key PEM (encrypted keys are not supported): " + openssl_reason());
  return k;
}

// Through the generic decoder so both SubjectPublicKeyInfo ("PUBLIC KEY") and PKCS#1
// ("RSA PUBLIC KEY") files work.
ossl_ptr<EVP_PKEY> read_public_pem(std::string_view pem) {
  EVP_PKEY* raw = nullptr;
  ossl_ptr<OSSL_DECODER_CTX> dctx(OSSL_DECODER_CTX_new_for_pkey(
      &raw, "PEM", nullptr, nullptr, EVP_PKEY_PUBLIC_KEY, nullptr, nullptr));
  if (!dctx) throw std::runtime_error("jwt: cannot create PEM decoder: " + openssl_reason());
  const auto* data = reinterpret_cast<const unsigned char*>(pem.data());
  std::size_t len = pem.size();
  if (!OSSL_DECODER_from_data(dctx.get(), &data, &len) || raw == nullptr)
    bad_key("cannot read public key PEM: " + openssl_reason());
  return ossl_ptr<EVP_PKEY>(raw);
}

void check_key_type(const EVP_PKEY* k, algorithm alg, const char* which) {
  if (alg == algorithm::rs256) {
    if (!EVP_PKEY_is_a(k, "RSA")) bad_key(std::string(which) + " key is not an RSA key (RS256)");
    const int bits = EVP_PKEY_get_bits(k);
    if (bits < min_rsa_bits)
      bad_key(std::string(which) + " RSA key has " + std::to_string(bits) +
              " bits; RS256 needs at least 2048");
    return;
  }
  if (!EVP_PKEY_is_a(k, "EC")) bad_key(std::string(which) + " key is not an EC key (ES256)");
  char group[80] = {};
  std::size_t group_len = 0;
  // Keys with explicit curve parameters have no group name and are refused too.
  if (!EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                      &group_len) ||
      std::strcmp(group, SN_X9_62_prime256v1) != 0) {
    ERR_clear_error();
    bad_key(std::string(which) +
            " EC key is not on P-256 (ES256), curve: " + (group[0] ? group : "explicit/unknown"));
  }
}

std::string bn_param(const EVP_PKEY* k, const char* name, int pad_to) {
  BIGNUM* raw = nullptr;
  if (!EVP_PKEY_get_bn_param(k, name, &raw))
    throw std::runtime_error(std::string("jwt: cannot read key parameter ") + name + ": " +
                             openssl_reason());
  ossl_ptr<BIGNUM> bn(raw);
  // JWK integers are minimal big-endian (RFC 7518 §6.3.1); EC coordinates are full width
  // (§6.2.1.2), hence pad_to.
  const int len = pad_to > 0 ? pad_to : BN_num_bytes(bn.get());
  std::string out(static_cast<std::size_t>(len), '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), len) < 0)
    throw std::runtime_error(std::string("jwt: key parameter ") + name + " too large");
  return base64url::encode(out);
}

std::string sha256_base64url(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr))
    throw std::runtime_error("jwt: SHA-256 failed: " + openssl_reason());
  return base64url::encode({reinterpret_cast<const char*>(digest), len});
}

std::string read_file(const std::string& path, const char* which) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    bad_key(std::string("cannot open ") + which + " key file " + path + ": " +
            std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) bad_key(std::string("cannot read ") + which + " key file " + path);
  return std::move(text).str();
}

bool add_overflows(std::int64_t a, std::int64_t b, std::int64_t& out) {
  return __builtin_add_overflow(a, b, &out);
}
// a + b clamped to the int64 range, so absurd exp/now/leeway values cannot wrap around.
std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (!add_overflows(a, b, r)) return r;
  return b > 0 ? INT64_MAX : INT64_MIN;
}

}  // namespace

// ---- key ----------------------------------------------------------------------------------

struct key::impl {
  algorithm alg = algorithm::hs256;
  std::string kid;
  std::string header_prefix;  // base64url(header) + "." — identical for every token we sign

  // HS256: a MAC context already keyed; each use duplicates it, which skips both the
  // algorithm fetch (a global lookup) and the key schedule.
  ossl_ptr<EVP_MAC_CTX> hmac_template;

  // RS256/ES256.
  ossl_ptr<EVP_PKEY> pkey;
  bool has_private = false;
  // Initialised once for DigestVerify; verify() copies it instead of re-running
  // EVP_DigestVerifyInit, whose provider/algorithm fetches take locks in OpenSSL 3.
  ossl_ptr<EVP_MD_CTX> verify_template;
  Json::Value jwk;
};

namespace {

std::string make_header_prefix(algorithm alg, const std::string& kid) {
  std::string json = R"({"typ":"JWT","alg":")";
  json += algorithm_name(alg);
  json += '"';
  if (alg != algorithm::hs256 || !kid.empty()) {
    json += R"(,"kid":)";
    json += Json::valueToQuotedString(kid.c_str());
  }
  json += '}';
  std::string prefix = base64url::encode(json);
  prefix += '.';
  return prefix;
}

// Raw signature (JOSE form) over data.
std::string sign_bytes(const key::impl& k, std::string_view data) {
  if (k.alg == algorithm::hs256) {
    ossl_ptr<EVP_MAC_CTX> ctx(EVP_MAC_CTX_dup(k.hmac_template.get()));
    unsigned char mac[hs256_size];
    std::size_t len = 0;
    if (!ctx ||
        !EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()),
                        data.size()) ||
        !EVP_MAC_final(ctx.get(), mac, &len, sizeof mac))
      throw std::runtime_error("jwt: HMAC failed: " + openssl_reason());
    return std::string(reinterpret_cast<const char*>(mac), len);
  }
  // Signing (login, refresh) is far rarer than verifying, so a fresh init per call is fine.
  ossl_ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  std::string sig(static_cast<std::size_t>(EVP_PKEY_get_size(k.pkey.get())), '\0');
  std::size_t len = sig.size();
  if (!ctx ||
      EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, k.pkey.get(),
                            nullptr) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    throw std::runtime_error("jwt: signing failed: " + openssl_reason());
  if (k.alg == algorithm::es256)
    return der_to_raw(reinterpret_cast<const unsigned char*>(sig.data()), len);
  sig.resize(len);
  return sig;
}

bool verify_bytes(const key::impl& k, std::string_view data, std::string_view sig) {
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (k.alg == algorithm::hs256) {
    if (sig.size() != hs256_size) return false;
    ossl_ptr<EVP_MAC_CTX> ctx(EVP_MAC_CTX_dup(k.hmac_template.get()));
    unsigned char mac[hs256_size];
    std::size_t len = 0;
    if (!ctx || !EVP_MAC_update(ctx.get(), in, data.size()) ||
        !EVP_MAC_final(ctx.get(), mac, &len, sizeof mac) || len != hs256_size) {
      ERR_clear_error();
      return false;
    }
    // Constant time: a byte-wise early exit would leak how much of a forged MAC is right.
    return CRYPTO_memcmp(mac, sig.data(), hs256_size) == 0;
  }

  const unsigned char* sig_bytes = reinterpret_cast<const unsigned char*>(sig.data());
  std::size_t sig_len = sig.size();
  unsigned char der[72];
  if (k.alg == algorithm::es256) {
    // Only the fixed-width JOSE form: a DER or shortened signature is a different encoding of
    // (maybe) the same signature, and accepting it would make tokens malleable.
    if (sig.size() != es256_sig_size) return false;
    sig_len = raw_to_der(sig_bytes, der);
    sig_bytes = der;
  }

  thread_local const ossl_ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (!ctx || !EVP_MD_CTX_copy_ex(ctx.get(), k.verify_template.get())) {
    ERR_clear_error();
    return false;
  }
  // This copy is used once: let Final consume it rather than duplicate it again.
  EVP_MD_CTX_set_flags(ctx.get(), EVP_MD_CTX_FLAG_FINALISE);
  const bool ok = EVP_DigestVerify(ctx.get(), sig_bytes, sig_len, in, data.size()) == 1;
  if (!ok) ERR_clear_error();  // a forged token must not leave errors for the next OpenSSL user
  return ok;
}

}  // namespace

std::optional<algorithm> algorithm_from_name(std::string_view name) {
  if (name == "HS256") return algorithm::hs256;
  if (name == "RS256") return algorithm::rs256;
  if (name == "ES256") return algorithm::es256;
  return std::nullopt;
}

// An enum's names for logs and metrics, one case each: these switches share a shape
// across the codecs by design (a name never shifts the way a number would).
std::string_view algorithm_name(algorithm alg) {
  switch (alg) {
    case algorithm::hs256:
      return "HS256";
    case algorithm::rs256:
      return "RS256";
    case algorithm::es256:
      return "ES256";
  }
  return "?";
}

key key::hmac(std::string secret, std::string kid) {
  if (secret.size() < min_hmac_secret)
    bad_key("HS256 secret has " + std::to_string(secret.size()) + " bytes; at least " +
            std::to_string(min_hmac_secret) + " are required");
  auto state = std::make_shared<impl>();
  state->alg = algorithm::hs256;
  state->kid = std::move(kid);
  state->header_prefix = make_header_prefix(algorithm::hs256, state->kid);

  ossl_ptr<EVP_MAC> mac(EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr));
  if (!mac) throw std::runtime_error("jwt: HMAC unavailable: " + openssl_reason());
  state->hmac_template.reset(EVP_MAC_CTX_new(mac.get()));
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  if (!state->hmac_template ||
      !EVP_MAC_init(state->hmac_template.get(),
                    reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), params))
    throw std::runtime_error("jwt: HMAC init failed: " + openssl_reason());
  // The template keeps its own copy of the key schedule; the string can be wiped now.
  OPENSSL_cleanse(secret.data(), secret.size());
  return key(std::move(state));
}

key key::from_pem(algorithm alg, std::string_view private_pem, std::string_view public_pem,
                  std::string kid) {
  if (alg == algorithm::hs256) bad_key("HS256 uses a shared secret (key::hmac), not a PEM key");
  if (private_pem.empty() && public_pem.empty())
    bad_key(std::string(algorithm_name(alg)) + " needs a private or a public key PEM");

  auto state = std::make_shared<impl>();
  state->alg = alg;
  ossl_ptr<EVP_PKEY> priv;
  ossl_ptr<EVP_PKEY> pub;
  if (!private_pem.empty()) {
    priv = read_private_pem(private_pem);
    check_key_type(priv.get(), alg, "private");
  }
  if (!public_pem.empty()) {
    pub = read_public_pem(public_pem);
    check_key_type(pub.get(), alg, "public");
  }
  if (priv && pub && EVP_PKEY_eq(priv.get(), pub.get()) != 1) {
    ERR_clear_error();
    bad_key("private and public keys are not a pair");
  }
  // A private EVP_PKEY also holds the public half, so it serves both directions.
  state->has_private = priv != nullptr;
  state->pkey = priv ? std::move(priv) : std::move(pub);

  state->verify_template.reset(EVP_MD_CTX_new());
  if (!state->verify_template ||
      EVP_DigestVerifyInit_ex(state->verify_template.get(), nullptr, "SHA256", nullptr, nullptr,
                              state->pkey.get(), nullptr) != 1)
    throw std::runtime_error("jwt: cannot initialise verification: " + openssl_reason());

  // RFC 7638: the thumbprint hashes only the required members, in lexicographic order.
  Json::Value jwk(Json::objectValue);
  std::string canonical;
  if (alg == algorithm::rs256) {
    const std::string n = bn_param(state->pkey.get(), OSSL_PKEY_PARAM_RSA_N, 0);
    const std::string e = bn_param(state->pkey.get(), OSSL_PKEY_PARAM_RSA_E, 0);
    canonical = R"({"e":")" + e + R"(","kty":"RSA","n":")" + n + R"("})";
    jwk["kty"] = "RSA";
    jwk["n"] = n;
    jwk["e"] = e;
  } else {
    const std::string x = bn_param(state->pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X, es256_coord_size);
    const std::string y = bn_param(state->pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y, es256_coord_size);
    canonical = R"({"crv":"P-256","kty":"EC","x":")" + x + R"(","y":")" + y + R"("})";
    jwk["kty"] = "EC";
    jwk["crv"] = "P-256";
    jwk["x"] = x;
    jwk["y"] = y;
  }
  state->kid = kid.empty() ? sha256_base64url(canonical) : std::move(kid);
  jwk["use"] = "sig";
  jwk["alg"] = std::string(algorithm_name(alg));
  jwk["kid"] = state->kid;
  state->jwk = std::move(jwk);
  state->header_prefix = make_header_prefix(alg, state->kid);

  // Self-test once at load: a key that cannot round-trip is better refused at start than
  // discovered on the first login.
  if (state->has_private) {
    static constexpr std::string_view probe = "cartgate key self-test";
    if (!verify_bytes(*state, probe, sign_bytes(*state, probe)))
      bad_key("key failed its sign/verify self-test");
  }
  return key(std::move(state));
}

key key::from_pem_files(algorithm alg, const std::string& private_path,
                        const std::string& public_path, std::string kid) {
  const std::string priv =
      private_path.empty() ? std::string() : read_file(private_path, "private");
  const std::string pub = public_path.empty() ? std::string() : read_file(public_path, "public");
  if (!private_path.empty() && priv.empty())
    bad_key("private key file " + private_path + " is empty");
  if (!public_path.empty() && pub.empty()) bad_key("public key file " + public_path + " is empty");
  return from_pem(alg, priv, pub, std::move(kid));
}

algorithm key::alg() const { return impl_->alg; }
const std::string& key::kid() const { return impl_->kid; }
bool key::can_sign() const { return impl_->alg == algorithm::hs256 || impl_->has_private; }
Json::Value key::public_jwk() const { return impl_->jwk; }  // null for HS256

// ---- sign / verify ------------------------------------------------------------------------

std::string sign(const Json::Value& payload, const key& k) {
  if (!payload.isObject()) throw std::invalid_argument("jwt: payload must be a JSON object");
  return sign_json(compact_json(payload), k);
}

std::string sign_json(std::string_view payload_json, const key& k) {
  if (payload_json.empty() || payload_json.front() != '{') {
    throw std::invalid_argument("jwt: payload must be a JSON object");
  }
  if (!k.can_sign()) throw std::invalid_argument("jwt: key has no private part and cannot sign");
  const key::impl& state = *k.impl_;
  std::string token = state.header_prefix;
  base64url::encode_append(payload_json, token);
  const std::string sig = sign_bytes(state, token);
  token += '.';
  base64url::encode_append(sig, token);
  return token;
}

// An enum's names for logs and metrics, one case each: these switches share a shape
// across the codecs by design (a name never shifts the way a number would).
std::string_view reason_name(reason why) {
  switch (why) {
    case reason::ok:
      return "ok";
    case reason::malformed:
      return "malformed";
    case reason::bad_header:
      return "bad_header";
    case reason::alg_mismatch:
      return "alg_mismatch";
    case reason::kid_mismatch:
      return "kid_mismatch";
    case reason::bad_signature:
      return "bad_signature";
    case reason::bad_payload:
      return "bad_payload";
    case reason::expired:
      return "expired";
    case reason::not_yet_valid:
      return "not_yet_valid";
    case reason::issuer_mismatch:
      return "issuer_mismatch";
  }
  return "unknown";
}

verified verify(std::string_view token, const key& k, std::int64_t now,
                std::string_view expected_issuer, std::int64_t leeway) {
  verified result;  // why = malformed until proven otherwise
  const key::impl& state = *k.impl_;
  if (leeway < 0) leeway = 0;

  if (token.size() > max_token_size) return result;
  const std::size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return result;
  const std::size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return result;
  const std::string_view signing_input = token.substr(0, dot2);
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_b64 = token.substr(dot2 + 1);

  // One scratch buffer per thread for decoded segments; its capacity survives across calls.
  thread_local std::string scratch;
  if (!base64url::decode_into(header_b64, scratch)) return result;

  // ---- header: the key, not the token, decides the algorithm.
  result.why = reason::bad_header;
  if (!parse_object(scratch, result.header)) return result;
  const Json::Value* alg = member(result.header, "alg");
  if (alg == nullptr || !alg->isString()) return result;
  if (string_of(*alg) != algorithm_name(state.alg)) {
    result.why = reason::alg_mismatch;
    return result;
  }
  if (const Json::Value* kid = member(result.header, "kid")) {
    if (!kid->isString()) return result;
    // HS256 keys have no kid of their own; a kid there is informational only.
    if (state.alg != algorithm::hs256 && string_of(*kid) != state.kid) {
      result.why = reason::kid_mismatch;
      return result;
    }
  }
  // RFC 7515 §4.1.11: extensions listed in "crit" must be understood; we understand none.
  if (member(result.header, "crit") != nullptr) return result;

  // ---- signature, before the payload is even parsed.
  result.why = reason::bad_signature;
  if (!base64url::decode_into(signature_b64, scratch)) return result;
  if (!verify_bytes(state, signing_input, scratch)) return result;

  // ---- payload and claims.
  result.why = reason::bad_payload;
  if (!base64url::decode_into(payload_b64, scratch) || !parse_object(scratch, result.payload))
    return result;
  const Json::Value& claims = result.payload;

  // isInt64/asInt64, not isInt/asInt: jsoncpp's Int is 32-bit and would fail in 2038.
  const Json::Value* exp = member(claims, "exp");
  if (exp == nullptr || !exp->isInt64()) return result;
  // RFC 7519 §4.1.4: valid only while now is before exp.
  if (saturating_add(exp->asInt64(), leeway) <= now) {
    result.why = reason::expired;
    return result;
  }
  const std::int64_t latest_start = saturating_add(now, leeway);
  for (const Json::Value* start : {member(claims, "nbf"), member(claims, "iat")}) {
    if (start == nullptr) continue;
    if (!start->isInt64()) return result;
    if (start->asInt64() > latest_start) {
      result.why = reason::not_yet_valid;
      return result;
    }
  }
  if (!expected_issuer.empty()) {
    const Json::Value* iss = member(claims, "iss");
    if (iss == nullptr || !iss->isString() || string_of(*iss) != expected_issuer) {
      result.why = reason::issuer_mismatch;
      return result;
    }
  }
  result.why = reason::ok;
  return result;
}

// ---- keyring ------------------------------------------------------------------------------

keyring::keyring(key signing, std::vector<key> retired) {
  if (!signing.can_sign()) throw std::invalid_argument("jwt: the signing key has no private part");
  keys_.push_back(std::move(signing));
  for (auto& k : retired) {
    if (k.alg() != keys_.front().alg()) {
      throw std::invalid_argument("jwt: retired key '" + k.kid() + "' is not " +
                                  std::string(algorithm_name(keys_.front().alg())));
    }
    for (const auto& other : keys_) {
      if (other.kid() == k.kid()) throw std::invalid_argument("jwt: two keys share the kid '" + k.kid() + "'");
    }
    keys_.push_back(std::move(k));
  }
}

namespace {

// The header's kid: "" when it has none, nullopt when the header is unreadable (verify()
// then says why).
std::optional<std::string> header_kid(std::string_view token) {
  if (token.size() > max_token_size) return std::nullopt;
  const std::size_t dot = token.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::string text;
  Json::Value header;
  if (!base64url::decode_into(token.substr(0, dot), text) || !parse_object(text, header)) return std::nullopt;
  const Json::Value* kid = member(header, "kid");
  if (kid == nullptr) return std::string();
  if (!kid->isString()) return std::nullopt;
  return std::string(string_of(*kid));
}

}  // namespace

const key* keyring::select(std::string_view token) const {
  if (keys_.size() == 1) return &keys_.front();
  auto kid = header_kid(token);
  if (!kid) return &keys_.front();  // verify() refuses it for what it is
  for (const auto& k : keys_) {
    if (k.kid() == *kid) return &k;
  }
  // No kid: tokens signed before kids were written, by the key retired with an empty kid
  // (matched above) or, when there is none, by the signing key.
  if (kid->empty()) return &keys_.front();
  return nullptr;
}

Json::Value keyring::jwks() const {
  Json::Value out(Json::objectValue);
  out["keys"] = Json::Value(Json::arrayValue);
  for (const auto& k : keys_) {
    auto jwk = k.public_jwk();
    if (!jwk.isNull()) out["keys"].append(jwk);
  }
  return out;
}

verified verify(std::string_view token, const keyring& ring, std::int64_t now,
                std::string_view expected_issuer, std::int64_t leeway) {
  const key* k = ring.select(token);
  if (k == nullptr) {
    verified v;
    v.why = reason::kid_mismatch;
    return v;
  }
  return verify(token, *k, now, expected_issuer, leeway);
}

std::optional<decoded> decode_unverified(std::string_view token) {
  const std::size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return std::nullopt;
  const std::size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return std::nullopt;
  decoded out;
  std::string text;
  if (!base64url::decode_into(token.substr(0, dot1), text) || !parse_object(text, out.header))
    return std::nullopt;
  if (!base64url::decode_into(token.substr(dot1 + 1, dot2 - dot1 - 1), text) ||
      !parse_object(text, out.payload))
    return std::nullopt;
  return out;
}

}  // namespace cartgate::jwt
