// Key rotation without logging anyone out (docs/key-rotation.md): pool B signs with a new
// HS256 key named by its kid while the main pool's key is retired (jwt.retired_keys), so
// tokens the main pool issued before keep working on pool B; a SIGHUP with the retired key
// removed ends them. Every token is cross-checked with Debian's python3-jwt.
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "auth_helpers.h"

namespace cartgate::test {
namespace {

namespace fs = std::filesystem;

std::string main_issuer() { return "http://127.0.0.1:" + env("CARTGATE_TEST_HTTP_PORT"); }

class KeyRotation : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(state_dir()) / unique_name("rotation");
    fs::create_directories(dir_);
    new_secret_ = (dir_ / "jwt_secret.new").string();
    std::ofstream(new_secret_) << "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\n";
    fs::permissions(new_secret_, fs::perms::owner_read | fs::perms::owner_write);
    pool_.start(2, jwt_table(true));
  }
  void TearDown() override {
    pool_.stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // The main pool's issuer, so its tokens are pool B's too; its secret retired with an
  // empty kid (its tokens carry none).
  std::string jwt_table(bool with_retired) const {
    std::string t = "[jwt]\nissuer = \"" + main_issuer() + "\"\nalgorithm = \"HS256\"\nsecret_file = \"" +
                    new_secret_ + "\"\nkid = \"" + new_kid + "\"\n";
    if (with_retired) t += "retired_keys = [\"=" + hs256_secret_file() + "\"]\n";
    return t;
  }

  // pool B's own configuration file, rewritten as an operator would before `systemctl reload`.
  void drop_retired_key_and_reload() {
    std::string path = state_dir() + "/pool-b.toml";
    std::ifstream in(path);
    std::string line, text;
    while (std::getline(in, line)) {
      if (line.rfind("retired_keys", 0) != 0) text += line + "\n";
    }
    in.close();
    std::ofstream(path) << text;
    pool_.signal(SIGHUP);
  }

  static http_options on_b(http_options o = {}) {
    o.port = pool_b::port();
    return o;
  }

  static constexpr const char* new_kid = "2026-12";
  limits_lifted lifted_;
  fs::path dir_;
  std::string new_secret_;
  pool_b pool_;
};

TEST_F(KeyRotation, TokensOfTheRetiredKeyKeepWorkingAndNewOnesNameTheNewKey) {
  auto u = make_user();
  auto before = login_ok(u);  // the main pool: the old key, no kid
  EXPECT_FALSE(token_header(before.access).isMember("kid"));
  EXPECT_EQ(validate(before.access, on_b()).status, 200);
  EXPECT_EQ(me(before.access, on_b()).status, 200);

  auto after = login_ok(u, on_b());
  EXPECT_EQ(token_header(after.access)["kid"].asString(), new_kid);
  auto checked = pyjwt({"verify", "HS256", new_secret_, after.access});
  ASSERT_EQ(checked.status, 0) << checked.err;
  EXPECT_EQ(parse_json(checked.out)["header"]["kid"].asString(), new_kid);
  EXPECT_NE(pyjwt({"verify", "HS256", hs256_secret_file(), after.access}).status, 0);
  EXPECT_EQ(validate(after.access, on_b()).status, 200);
  // The retired key never signs: refreshing on pool B gives a token of the new key.
  auto r = refresh(before.refresh, on_b());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(token_header(r.json()["token"].asString())["kid"].asString(), new_kid);
}

TEST_F(KeyRotation, PyJwtTokensAreCheckedWithTheKeyTheirKidNames) {
  auto u = make_user();
  auto session = cli_jwt_create(u);
  std::int64_t now = unix_now();
  auto claims = cocart_claims(main_issuer(), u.id, u.login, pat_of(session.access), now, now + 600);
  EXPECT_EQ(validate(pyjwt_sign("HS256", new_secret_, claims, new_kid), on_b()).status, 200);
  EXPECT_EQ(validate(pyjwt_sign("HS256", hs256_secret_file(), claims), on_b()).status, 200);
  // The old secret under the new kid, the new secret without kid, an unknown kid: refused.
  EXPECT_TRUE(is_bearer_failure(validate(pyjwt_sign("HS256", hs256_secret_file(), claims, new_kid), on_b())));
  EXPECT_TRUE(is_bearer_failure(validate(pyjwt_sign("HS256", new_secret_, claims), on_b())));
  EXPECT_TRUE(is_bearer_failure(validate(pyjwt_sign("HS256", new_secret_, claims, "1999-01"), on_b())));
}

TEST_F(KeyRotation, SighupWithoutTheRetiredKeyEndsItsTokensOnly) {
  auto u = make_user();
  auto before = login_ok(u);
  auto after = login_ok(u, on_b());
  ASSERT_EQ(me(before.access, on_b()).status, 200);
  drop_retired_key_and_reload();
  EXPECT_TRUE(eventually([&] { return me(before.access, on_b()).status == 401; }, std::chrono::milliseconds(15000)));
  EXPECT_EQ(me(after.access, on_b()).status, 200);
}

}  // namespace
}  // namespace cartgate::test
