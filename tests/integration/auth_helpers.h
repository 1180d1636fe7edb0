// Helpers shared by the login / token / session integration tests (issue 3): logging in
// through nginx, decoding tokens, options that are always put back, the rate limits
// lifted for a test (they count per IP, and every test comes from 127.0.0.1), and
// Debian's python3-jwt (PyJWT) as an independent JWT implementation.
//
//   limits_lifted lifted;                                  // rate_limit.*.max = -1 here
//   auto s = login_ok(make_user());                        // {access, refresh, body}
//   EXPECT_EQ(token_payload(s.access)["data"]["user"]["pat"], …);
//   option_guard g({{"jwt.bind_ip", "false"}});            // unset again on scope exit
//   auto t = pyjwt({"sign", "HS256", secret_file(), payload_json});
#pragma once

#include <gtest/gtest.h>
#include <json/json.h>

#include <chrono>
#include <fstream>
#include <initializer_list>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/stack.h"

namespace cartgate::test {

inline constexpr const char* logout_path = "/wp-json/cocart/v2/logout";
inline constexpr const char* refresh_path = "/wp-json/cocart/jwt/refresh-token";
inline constexpr const char* validate_path = "/wp-json/cocart/jwt/validate-token";
inline constexpr const char* me_path = "/wp-json/cartgate/v1/me";
inline constexpr const char* cart_path = "/wp-json/cocart/v2/cart";
inline constexpr const char* jwks_path = "/.well-known/jwks.json";

// Sets options for its lifetime and unsets them afterwards (back to the defaults), also
// when the test fails. One settle pause per change of state, not one per key.
class option_guard {
 public:
  option_guard(std::initializer_list<std::pair<std::string, std::string>> values)
      : values_(values) {
    for (auto& [k, v] : values_) {
      auto r = cli({"option", "set", k, v});
      if (r.status != 0) {
        unset_all();
        throw std::runtime_error("cartgate option set " + k + " " + v + ": " + r.err);
      }
      set_.push_back(k);
    }
    settle();
  }
  ~option_guard() {
    unset_all();
    settle();
  }
  option_guard(const option_guard&) = delete;
  option_guard& operator=(const option_guard&) = delete;

 private:
  void unset_all() {
    for (auto& k : set_) cli({"option", "unset", k});
    set_.clear();
  }
  // Workers take options on NOTIFY within milliseconds; the contract allows a second.
  static void settle() { std::this_thread::sleep_for(std::chrono::milliseconds(300)); }
  std::vector<std::pair<std::string, std::string>> values_;
  std::vector<std::string> set_;
};

// Rate limits count per client IP and every test comes from 127.0.0.1, so tests that are
// not about rate limits run with them lifted (they are the rules' tests, not these).
class limits_lifted : public option_guard {
 public:
  limits_lifted()
      : option_guard({{"rate_limit.login.max", "-1"},
                      {"rate_limit.refresh.max", "-1"},
                      {"rate_limit.validate.max", "-1"}}) {}
};

// ---- tokens ------------------------------------------------------------------------

inline std::string base64url_decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  std::string out;
  int bits = 0, acc = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) throw std::runtime_error("not base64url: " + std::string(in));
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

inline std::string base64url_encode(std::string_view in) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  int bits = 0, acc = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(abc[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(abc[(acc << (6 - bits)) & 63]);
  return out;
}

inline Json::Value parse_json(const std::string& text) {
  Json::CharReaderBuilder b;
  Json::Value v;
  std::string errs;
  std::unique_ptr<Json::CharReader> reader(b.newCharReader());
  if (!reader->parse(text.data(), text.data() + text.size(), &v, &errs))
    throw std::runtime_error("not JSON: " + text.substr(0, 300));
  return v;
}

inline std::string compact(const Json::Value& v) {
  Json::StreamWriterBuilder w;
  w["indentation"] = "";
  return Json::writeString(w, v);
}

inline std::vector<std::string> split_token(const std::string& token) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    auto dot = token.find('.', start);
    parts.push_back(token.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

// The decoded header / payload of a compact JWS (no verification).
inline Json::Value token_header(const std::string& token) {
  return parse_json(base64url_decode(split_token(token).at(0)));
}
inline Json::Value token_payload(const std::string& token) {
  return parse_json(base64url_decode(split_token(token).at(1)));
}

// The same token with its payload replaced (the signature kept: no longer valid).
inline std::string with_payload(const std::string& token, const Json::Value& payload) {
  auto p = split_token(token);
  return p.at(0) + "." + base64url_encode(compact(payload)) + "." + p.at(2);
}

inline bool is_hex(const std::string& s, std::size_t length) {
  return s.size() == length && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

inline std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- login and friends, through nginx ----------------------------------------------

struct session_tokens {
  std::string access, refresh;
  Json::Value body;
};

inline http_result login(const test_user& u, http_options o = {}) {
  Json::Value body;
  body["username"] = u.login;
  body["password"] = u.password;
  return post_json(login_path, body, std::move(o));
}

// Logs in and fails the test (throws) unless it answered 200 with both tokens.
inline session_tokens login_ok(const test_user& u, http_options o = {}) {
  auto r = login(u, std::move(o));
  if (r.status != 200) {
    throw std::runtime_error("login of " + u.login + " gave HTTP " + std::to_string(r.status) +
                             ": " + r.body.substr(0, 300));
  }
  session_tokens s;
  s.body = r.json();
  s.access = s.body["extras"]["jwt_token"].asString();
  s.refresh = s.body["extras"]["jwt_refresh"].asString();
  return s;
}

inline http_options bearer(const std::string& token, http_options o = {}) {
  o.bearer = token;
  return o;
}

inline http_result validate(const std::string& token, http_options o = {}) {
  o.method = "POST";
  o.bearer = token;
  return http(validate_path, o);
}

inline http_result me(const std::string& token, http_options o = {}) {
  o.bearer = token;
  return http(me_path, o);
}

inline http_result refresh(const std::string& refresh_token, http_options o = {}) {
  Json::Value body;
  body["refresh_token"] = refresh_token;
  return post_json(refresh_path, body, std::move(o));
}

inline http_result logout(const std::string& token, const std::string& query = "",
                          http_options o = {}) {
  o.method = "POST";
  o.bearer = token;
  return http(logout_path + query, o);
}

// A Bearer failure as contract §2.2 words it: the §1 shape, 401
// cocart_authentication_error and WWW-Authenticate: Bearer error="invalid_token".
inline ::testing::AssertionResult is_bearer_failure(const http_result& r) {
  auto shape = is_error(r, 401, "cocart_authentication_error");
  if (!shape) return shape;
  if (r.header("www-authenticate") != "Bearer error=\"invalid_token\"") {
    return ::testing::AssertionFailure()
           << "WWW-Authenticate is '" << r.header("www-authenticate") << "'";
  }
  return ::testing::AssertionSuccess();
}

// ---- the test stack's secrets and PyJWT --------------------------------------------

inline std::string state_dir() { return env("CARTGATE_TEST_STATE"); }
inline std::string hs256_secret_file() { return state_dir() + "/secrets/jwt_secret"; }

// Debian's python3-jwt: `python3 -c SCRIPT ARGS…` with /usr/bin/python3 (the python3 on
// PATH may be another installation without it). Commands:
//   sign ALG KEYFILE PAYLOAD_JSON [KID]   HS256: KEYFILE holds the secret; else a PEM key
//   verify ALG KEY TOKEN                  HS256: KEY a secret file; else a JWK (JSON text)
//   none PAYLOAD_JSON                     alg "none", empty signature
//   hs_with_key_file KEYFILE PAYLOAD_JSON HS256 keyed with the file's bytes as they are
// verify prints {"header":…, "payload":…} or exits 1 with the PyJWT error on stderr.
inline constexpr const char* pyjwt_script = R"PY(
import base64, hashlib, hmac, json, sys
import jwt
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def secret(path):
    with open(path, "rb") as f:
        return f.read().rstrip(b"\r\n")

cmd = sys.argv[1]
if cmd == "sign":
    alg, keyfile, payload = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    headers = {"typ": "JWT"}
    if len(sys.argv) > 5:
        headers["kid"] = sys.argv[5]
    key = secret(keyfile) if alg == "HS256" else open(keyfile, "rb").read()
    print(jwt.encode(payload, key, algorithm=alg, headers=headers))
elif cmd == "verify":
    alg, key, token = sys.argv[2], sys.argv[3], sys.argv[4]
    if alg == "HS256":
        k = secret(key)
    elif alg == "RS256":
        k = RSAAlgorithm.from_jwk(key)
    else:
        k = ECAlgorithm.from_jwk(key)
    try:
        payload = jwt.decode(token, k, algorithms=[alg], options={"verify_aud": False})
    except jwt.PyJWTError as e:
        print(type(e).__name__ + ": " + str(e), file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"header": jwt.get_unverified_header(token), "payload": payload}))
elif cmd == "none":
    payload = json.loads(sys.argv[2])
    head = b64(json.dumps({"typ": "JWT", "alg": "none"}).encode())
    print(head + "." + b64(json.dumps(payload).encode()) + ".")
elif cmd == "hs_with_key_file":
    key = open(sys.argv[2], "rb").read()
    head = b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
    body = b64(json.dumps(json.loads(sys.argv[3])).encode())
    sig = hmac.new(key, (head + "." + body).encode(), hashlib.sha256).digest()
    print(head + "." + body + "." + b64(sig))
)PY";

inline cli_result pyjwt(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/python3", "-c", pyjwt_script};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

inline std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// A token PyJWT signed; throws when python fails.
inline std::string pyjwt_sign(const std::string& alg, const std::string& key_file,
                              const Json::Value& payload, const std::string& kid = "") {
  std::vector<std::string> args = {"sign", alg, key_file, compact(payload)};
  if (!kid.empty()) args.push_back(kid);
  auto r = pyjwt(args);
  if (r.status != 0) throw std::runtime_error("pyjwt sign failed: " + r.err);
  return first_line(r.out);
}

// CoCart JWT 3.x claims for a session, with no IP or device binding.
inline Json::Value cocart_claims(const std::string& issuer, std::int64_t user_id,
                                 const std::string& username, const std::string& pat,
                                 std::int64_t iat, std::int64_t exp) {
  Json::Value p;
  p["iss"] = issuer;
  p["iat"] = static_cast<Json::Int64>(iat);
  p["nbf"] = static_cast<Json::Int64>(iat);
  p["exp"] = static_cast<Json::Int64>(exp);
  p["data"]["user"]["id"] = static_cast<Json::Int64>(user_id);
  p["data"]["user"]["username"] = username;
  p["data"]["user"]["ip"] = "";
  p["data"]["user"]["device"] = "";
  p["data"]["user"]["pat"] = pat;
  return p;
}

// `cartgate jwt create --user=…` (extra flags appended): access and refresh token.
inline session_tokens cli_jwt_create(const test_user& u, const std::vector<std::string>& flags = {}) {
  std::vector<std::string> args = {"jwt", "create", "--user=" + u.login};
  args.insert(args.end(), flags.begin(), flags.end());
  auto r = cli(args);
  if (r.status != 0) throw std::runtime_error("cartgate jwt create failed: " + r.err);
  std::istringstream lines(r.out);
  session_tokens s;
  std::getline(lines, s.access);
  std::getline(lines, s.refresh);
  return s;
}

inline std::string pat_of(const std::string& token) {
  return token_payload(token)["data"]["user"]["pat"].asString();
}

}  // namespace cartgate::test
