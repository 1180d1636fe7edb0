// Tokens cross-checked with an independent implementation, Debian's python3-jwt (PyJWT),
// both ways, through nginx: cartgate's tokens verify in PyJWT, and PyJWT's tokens (CoCart
// claims, the pat of a real session from `cartgate jwt create`) pass validate-token.
// HS256 runs on the main pool; RS256 and ES256 on pool B (same database) configured with
// a key pair made by openssl for the test, its public key taken from /.well-known/jwks.json.
// Hostile tokens: alg "none", an HS256 token keyed with the RS256 public key, a changed
// payload, an expired token, a token of another key.
#include <filesystem>

#include "auth_helpers.h"

namespace cartgate::test {
namespace {

namespace fs = std::filesystem;

void openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run(argv);
  if (r.status != 0) throw std::runtime_error("openssl failed: " + r.err);
}

struct key_pair {
  std::string private_pem, public_pem;  // file paths
};

// A fresh RS256 (RSA 2048) or ES256 (P-256) key pair in `dir`.
key_pair make_key_pair(const std::string& alg, const fs::path& dir, const std::string& name) {
  key_pair k{(dir / (name + ".pem")).string(), (dir / (name + ".pub.pem")).string()};
  if (alg == "RS256") {
    openssl({"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", k.private_pem});
  } else {
    openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", k.private_pem});
  }
  openssl({"pkey", "-in", k.private_pem, "-pubout", "-out", k.public_pem});
  fs::permissions(k.private_pem, fs::perms::owner_read | fs::perms::owner_write);  // cartgate refuses others'
  return k;
}

// ---- HS256, main pool ----------------------------------------------------------------

TEST(InteropHs256, CartgateTokenVerifiesInPyJwt) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  auto r = pyjwt({"verify", "HS256", hs256_secret_file(), s.access});
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = parse_json(r.out);
  EXPECT_EQ(j["header"]["alg"].asString(), "HS256");
  EXPECT_EQ(j["payload"], token_payload(s.access));
  EXPECT_EQ(j["payload"]["data"]["user"]["id"].asInt64(), u.id);
}

TEST(InteropHs256, CartgateTokenFailsInPyJwtWithWrongSecret) {
  limits_lifted lifted;
  auto s = login_ok(make_user());
  fs::path wrong = fs::path(state_dir()) / ("wrong-secret-" + unique_name("k"));
  std::ofstream(wrong) << "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
  auto r = pyjwt({"verify", "HS256", wrong.string(), s.access});
  fs::remove(wrong);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("InvalidSignatureError"), std::string::npos) << r.err;
}

TEST(InteropHs256, PyJwtTokenForRealSessionIsAccepted) {
  limits_lifted lifted;
  auto u = make_user();
  auto created = cli_jwt_create(u);
  std::string issuer = token_payload(created.access)["iss"].asString();
  std::int64_t now = unix_now();
  auto token = pyjwt_sign("HS256", hs256_secret_file(),
                          cocart_claims(issuer, u.id, u.login, pat_of(created.access), now, now + 600));
  auto r = validate(token);
  EXPECT_EQ(r.status, 200) << r.body;
  auto m = me(token);
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_EQ(m.json()["pat"].asString(), pat_of(created.access));
}

TEST(InteropHs256, PyJwtTokenForUnknownSessionIsRefused) {
  limits_lifted lifted;
  auto u = make_user();
  auto created = cli_jwt_create(u);
  std::string issuer = token_payload(created.access)["iss"].asString();
  std::int64_t now = unix_now();
  auto token = pyjwt_sign("HS256", hs256_secret_file(),
                          cocart_claims(issuer, u.id, u.login, "pat_0123456789abcdef01234567", now, now + 600));
  EXPECT_TRUE(is_bearer_failure(validate(token)));
  // Another user's real session under this user's id: refused too.
  auto other = make_user();
  auto theirs = cli_jwt_create(other);
  auto mixed = pyjwt_sign("HS256", hs256_secret_file(),
                          cocart_claims(issuer, u.id, u.login, pat_of(theirs.access), now, now + 600));
  EXPECT_TRUE(is_bearer_failure(validate(mixed)));
}

TEST(InteropHs256, HostileTokensAreRefused) {
  limits_lifted lifted;
  auto u = make_user();
  auto created = cli_jwt_create(u);
  std::string issuer = token_payload(created.access)["iss"].asString();
  std::int64_t now = unix_now();
  auto claims = cocart_claims(issuer, u.id, u.login, pat_of(created.access), now, now + 600);
  ASSERT_EQ(validate(pyjwt_sign("HS256", hs256_secret_file(), claims)).status, 200);

  auto none = pyjwt({"none", compact(claims)});
  ASSERT_EQ(none.status, 0) << none.err;
  EXPECT_TRUE(is_bearer_failure(validate(first_line(none.out)))) << "alg none";

  auto changed = claims;
  changed["data"]["user"]["username"] = "admin";
  EXPECT_TRUE(is_bearer_failure(validate(with_payload(pyjwt_sign("HS256", hs256_secret_file(), claims), changed))))
      << "changed payload";

  auto expired = cocart_claims(issuer, u.id, u.login, pat_of(created.access), now - 7200, now - 60);
  EXPECT_TRUE(is_bearer_failure(validate(pyjwt_sign("HS256", hs256_secret_file(), expired)))) << "expired";

  fs::path wrong = fs::path(state_dir()) / ("wrong-secret-" + unique_name("k"));
  std::ofstream(wrong) << "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\n";
  auto other_key = pyjwt_sign("HS256", wrong.string(), claims);
  fs::remove(wrong);
  EXPECT_TRUE(is_bearer_failure(validate(other_key))) << "other secret";
}

TEST(InteropHs256, AsymmetricTokenIsRefusedByHs256Pool) {
  limits_lifted lifted;
  auto u = make_user();
  auto created = cli_jwt_create(u);
  fs::path dir = fs::path(state_dir()) / unique_name("keys");
  fs::create_directories(dir);
  auto k = make_key_pair("RS256", dir, "rsa");
  std::int64_t now = unix_now();
  auto token = pyjwt_sign("RS256", k.private_pem,
                          cocart_claims(token_payload(created.access)["iss"].asString(), u.id, u.login,
                                        pat_of(created.access), now, now + 600));
  fs::remove_all(dir);
  EXPECT_TRUE(is_bearer_failure(validate(token)));
}

// ---- RS256 / ES256, pool B -----------------------------------------------------------

const std::string pool_b_issuer = "https://pool-b.cartgate.test";

class AsymmetricInterop : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = fs::path(state_dir()) / unique_name("keys");
    fs::create_directories(dir_);
    key_ = make_key_pair(alg(), dir_, "signing");
    pool_.start(2, "[jwt]\nissuer = \"" + pool_b_issuer + "\"\nalgorithm = \"" + alg() +
                       "\"\nprivate_key_file = \"" + key_.private_pem + "\"\n");
  }
  void TearDown() override {
    pool_.stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string alg() const { return GetParam(); }
  static http_options on_b(http_options o = {}) {
    o.port = pool_b::port();
    return o;
  }
  Json::Value jwks() {
    auto r = http(jwks_path, on_b());
    if (r.status != 200) throw std::runtime_error("jwks: HTTP " + std::to_string(r.status) + " " + r.body);
    return r.json();
  }
  Json::Value claims_for(const test_user& u, const std::string& pat, std::int64_t iat, std::int64_t exp) {
    return cocart_claims(pool_b_issuer, u.id, u.login, pat, iat, exp);
  }

  limits_lifted lifted_;
  fs::path dir_;
  key_pair key_;
  pool_b pool_;
};

TEST_P(AsymmetricInterop, JwksPublishesThePublicKey) {
  auto j = jwks();
  ASSERT_EQ(j["keys"].size(), 1u) << compact(j);
  const Json::Value& k = j["keys"][0];
  EXPECT_EQ(k["kty"].asString(), alg() == "RS256" ? "RSA" : "EC");
  EXPECT_FALSE(k["kid"].asString().empty());
  // Never the private part.
  for (const char* priv : {"d", "p", "q", "dp", "dq", "qi"}) EXPECT_FALSE(k.isMember(priv)) << priv;
}

TEST_P(AsymmetricInterop, CartgateTokenVerifiesInPyJwtWithJwksKey) {
  auto u = make_user();
  auto s = login_ok(u, on_b());
  auto header = token_header(s.access);
  EXPECT_EQ(header["alg"].asString(), alg());
  EXPECT_EQ(header["typ"].asString(), "JWT");
  auto key = jwks()["keys"][0];
  EXPECT_EQ(header["kid"].asString(), key["kid"].asString());
  auto r = pyjwt({"verify", alg(), compact(key), s.access});
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = parse_json(r.out);
  EXPECT_EQ(j["payload"]["iss"].asString(), pool_b_issuer);
  EXPECT_EQ(j["payload"]["data"]["user"]["id"].asInt64(), u.id);
  EXPECT_EQ(j["payload"]["data"]["user"]["username"].asString(), u.login);
  EXPECT_EQ(validate(s.access, on_b()).status, 200);
}

TEST_P(AsymmetricInterop, CartgateTokenFailsInPyJwtWhenChanged) {
  auto u = make_user();
  auto s = login_ok(u, on_b());
  auto p = token_payload(s.access);
  p["data"]["user"]["id"] = static_cast<Json::Int64>(1);
  auto r = pyjwt({"verify", alg(), compact(jwks()["keys"][0]), with_payload(s.access, p)});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("InvalidSignatureError"), std::string::npos) << r.err;
}

TEST_P(AsymmetricInterop, PyJwtTokenForRealSessionIsAccepted) {
  auto u = make_user();
  auto created = cli_jwt_create(u);
  std::int64_t now = unix_now();
  auto kid = jwks()["keys"][0]["kid"].asString();
  auto token = pyjwt_sign(alg(), key_.private_pem, claims_for(u, pat_of(created.access), now, now + 600), kid);
  auto r = validate(token, on_b());
  EXPECT_EQ(r.status, 200) << r.body;
  auto m = me(token, on_b());
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_EQ(m.json()["user_id"].asString(), std::to_string(u.id));
  // Only the configured algorithm: the HS256 main pool refuses the same token.
  EXPECT_TRUE(is_bearer_failure(validate(token)));
}

TEST_P(AsymmetricInterop, HostileTokensAreRefused) {
  auto u = make_user();
  auto created = cli_jwt_create(u);
  std::int64_t now = unix_now();
  auto kid = jwks()["keys"][0]["kid"].asString();
  auto claims = claims_for(u, pat_of(created.access), now, now + 600);
  ASSERT_EQ(validate(pyjwt_sign(alg(), key_.private_pem, claims, kid), on_b()).status, 200);

  auto none = pyjwt({"none", compact(claims)});
  ASSERT_EQ(none.status, 0) << none.err;
  EXPECT_TRUE(is_bearer_failure(validate(first_line(none.out), on_b()))) << "alg none";

  // The classic confusion: the public key (as published) used as an HMAC secret.
  auto confused = pyjwt({"hs_with_key_file", key_.public_pem, compact(claims)});
  ASSERT_EQ(confused.status, 0) << confused.err;
  EXPECT_TRUE(is_bearer_failure(validate(first_line(confused.out), on_b()))) << "HS256 keyed with public key";

  auto changed = claims;
  changed["data"]["user"]["username"] = "admin";
  EXPECT_TRUE(is_bearer_failure(
      validate(with_payload(pyjwt_sign(alg(), key_.private_pem, claims, kid), changed), on_b())))
      << "changed payload";

  auto expired = claims_for(u, pat_of(created.access), now - 7200, now - 60);
  EXPECT_TRUE(is_bearer_failure(validate(pyjwt_sign(alg(), key_.private_pem, expired, kid), on_b())))
      << "expired";

  auto stranger = make_key_pair(alg(), dir_, "stranger");
  EXPECT_TRUE(is_bearer_failure(validate(pyjwt_sign(alg(), stranger.private_pem, claims, kid), on_b())))
      << "another key, same kid";
  EXPECT_TRUE(is_bearer_failure(validate(pyjwt_sign(alg(), stranger.private_pem, claims), on_b())))
      << "another key, no kid";
}

TEST_P(AsymmetricInterop, RS256AndES256AreNotInterchangeable) {
  auto u = make_user();
  auto created = cli_jwt_create(u);
  std::int64_t now = unix_now();
  std::string other_alg = alg() == "RS256" ? "ES256" : "RS256";
  auto other = make_key_pair(other_alg, dir_, "other");
  auto token = pyjwt_sign(other_alg, other.private_pem, claims_for(u, pat_of(created.access), now, now + 600));
  EXPECT_TRUE(is_bearer_failure(validate(token, on_b())));
}

INSTANTIATE_TEST_SUITE_P(Algorithms, AsymmetricInterop, ::testing::Values("RS256", "ES256"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace cartgate::test
