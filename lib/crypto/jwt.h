// jwt: CoCart-compatible access tokens, i.e. compact JWS (RFC 7515) carrying a JWT claims set
// (RFC 7519), signed with HS256, RS256 or ES256. One configured key decides the only accepted
// algorithm; verify() never lets a token choose how it is checked.
//
//   auto k = cartgate::jwt::key::hmac(secret);                   // once, at start
//   std::string token = cartgate::jwt::sign(claims, k);
//   auto v = cartgate::jwt::verify(token, k, now, "https://shop.example");
//   if (v.why != cartgate::jwt::reason::ok) log(cartgate::jwt::reason_name(v.why));
#pragma once

#include <json/value.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartgate::jwt {

enum class algorithm { hs256, rs256, es256 };

// Exact, case-sensitive JOSE names ("HS256", "RS256", "ES256"); anything else, "none"
// included, is nullopt.
std::optional<algorithm> algorithm_from_name(std::string_view name);
std::string_view algorithm_name(algorithm alg);

struct verified;

// A signing/verification key. Loaded once at start, then shared read-only by every thread:
// copies are cheap (they share one immutable state) and all members are const.
class key {
 public:
  // HS256. The secret is used as raw bytes. Throws std::invalid_argument if it is shorter
  // than 32 bytes (RFC 7518 §3.2: at least the hash size).
  // A kid (optional) names the key in the header of the tokens it signs, for key rotation
  // (keyring below); without one the header has no kid, as CoCart JWT writes it.
  static key hmac(std::string secret, std::string kid = {});

  // RS256 (RSA, at least 2048 bits) or ES256 (P-256 only). Either PEM may be empty: no
  // private key makes a verify-only key; no public key derives it from the private one.
  // When both are given they must be the same key pair. Encrypted private keys are refused
  // (no passphrase prompt). kid empty -> the RFC 7638 JWK thumbprint (base64url SHA-256).
  // Throws std::invalid_argument with a message naming what is wrong (never key material).
  static key from_pem(algorithm alg, std::string_view private_pem, std::string_view public_pem = {},
                      std::string kid = {});
  // Same, reading the files; an empty path means "not given". Unreadable files throw
  // std::invalid_argument naming the path.
  static key from_pem_files(algorithm alg, const std::string& private_path,
                            const std::string& public_path = {}, std::string kid = {});

  algorithm alg() const;
  // HS256: the kid given to hmac(), often empty. RS256/ES256: never empty.
  const std::string& kid() const;
  bool can_sign() const;
  // {"kty","use":"sig","alg","kid", "n","e" | "crv","x","y"} for a JWKS document; a null
  // Value for HS256 (a shared secret is never published).
  Json::Value public_jwk() const;

  struct impl;  // defined in jwt.cc

 private:
  explicit key(std::shared_ptr<const impl> state) : impl_(std::move(state)) {}
  std::shared_ptr<const impl> impl_;

  friend std::string sign_json(std::string_view payload_json, const key& k);
  friend verified verify(std::string_view token, const key& k, std::int64_t now,
                         std::string_view expected_issuer, std::int64_t leeway);
};

// Header exactly {"typ":"JWT","alg":...} (+"kid" for RS256/ES256), payload as compact JSON.
// Throws std::invalid_argument if payload is not an object or the key cannot sign, and
// std::runtime_error if OpenSSL fails.
std::string sign(const Json::Value& payload, const key& k);
// The same with a payload already serialised as a compact JSON object, so a caller can
// keep its claims in a fixed order (CoCart's iss, iat, nbf, exp, data).
std::string sign_json(std::string_view payload_json, const key& k);

// Why a token was refused. Kept precise for logs and metrics; the client only ever sees the
// contract's single "Authentication failed." answer.
enum class reason {
  ok,
  malformed,        // not three segments, header not base64url, absurdly long
  bad_header,       // header not a JSON object, alg missing/not a string, kid not a string, crit
  alg_mismatch,     // header alg is not exactly the key's algorithm ("none" always lands here)
  kid_mismatch,     // asymmetric key and the header names another kid
  bad_signature,    // signature undecodable, wrong length or not valid
  bad_payload,      // payload not base64url JSON object, exp missing, claim of the wrong type
  expired,          // now >= exp + leeway
  not_yet_valid,    // nbf or iat later than now + leeway
  issuer_mismatch,  // iss missing or different from the expected issuer
};
// "ok", "malformed", "bad_header", ... (stable names for logs).
std::string_view reason_name(reason why);

struct verified {
  reason why = reason::malformed;
  // Trust these only when why == reason::ok. On alg/kid/signature failures header holds the
  // parsed header (useful in logs); payload is never parsed before the signature is good.
  Json::Value header;
  Json::Value payload;
};

// Tokens longer than this are refused as malformed before any work is done. CoCart tokens are
// well under 1 KiB; nginx's default header buffers stop far earlier anyway.
inline constexpr std::size_t max_token_size = 8192;

// Checks, in order: three segments; header JSON whose alg equals k.alg(); kid (asymmetric
// keys, when present); signature (constant time for HMAC); payload JSON object; exp (required
// integer, 64-bit); nbf and iat not after now + leeway; iss == expected_issuer when
// expected_issuer is non-empty. `now` and `leeway` are seconds since the epoch / seconds.
verified verify(std::string_view token, const key& k, std::int64_t now,
                std::string_view expected_issuer, std::int64_t leeway = 0);

// Key rotation: one key that signs and any number of retired ones that still verify, all
// of one algorithm, each named by its kid. A token is checked with the key its header's kid
// names (a token without kid: the key with an empty kid, else the signing key), so tokens
// signed before a rotation keep working until they expire, and a kid never changes the
// algorithm. With one key only, verification is exactly verify(token, key).
//
//   jwt::keyring ring(jwt::key::hmac(new_secret, "2026-12"), {jwt::key::hmac(old_secret)});
//   auto v = jwt::verify(token, ring, now, issuer);
class keyring {
 public:
  // Throws std::invalid_argument when a key has another algorithm than the signing key,
  // when two keys share a kid, or when the signing key cannot sign.
  explicit keyring(key signing, std::vector<key> retired = {});

  const key& signing() const { return keys_.front(); }
  const std::vector<key>& keys() const { return keys_; }  // the signing key first
  // The key to check `token` with; nullptr when its kid names none of them.
  const key* select(std::string_view token) const;
  // {"keys":[…]}: the public JWK of every asymmetric key still accepted; empty for HS256.
  Json::Value jwks() const;

 private:
  std::vector<key> keys_;
};

// verify() with the key the token's kid selects; an unknown kid is kid_mismatch.
verified verify(std::string_view token, const keyring& ring, std::int64_t now,
                std::string_view expected_issuer, std::int64_t leeway = 0);

struct decoded {
  Json::Value header;
  Json::Value payload;
};
// Splits and parses a token WITHOUT checking anything else, for the admin `jwt view` command.
// Never use the result to authenticate. nullopt unless three segments with JSON-object header
// and payload.
std::optional<decoded> decode_unverified(std::string_view token);

}  // namespace cartgate::jwt
