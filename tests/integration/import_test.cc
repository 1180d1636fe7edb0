// `cartgate user import --format wordpress`: the three WordPress hash formats log in
// with their known passwords, and the first successful login rewrites the hash as
// argon2id; wrong passwords fail for each; running the import again changes nothing.
#include <filesystem>
#include <fstream>

#include "auth_helpers.h"

namespace cartgate::test {
namespace {

namespace fs = std::filesystem;

// phpass "portable" hash, the test vector of the phpass distribution (test.php):
// password "test12345".
const std::string phpass_hash = "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0";
const std::string phpass_password = "test12345";
// bcrypt as PHP's password_hash() writes it, from the PHP manual's password_verify()
// example: password "rasmuslerdorf".
const std::string bcrypt_hash = "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a";
const std::string bcrypt_password = "rasmuslerdorf";

// WordPress 6.8's wp_hash_password(): "$wp" + bcrypt(base64(HMAC-SHA384(key "wp-sha384",
// password))), bcrypt's "$2b$" written as PHP's "$2y$". Made with python3-bcrypt.
std::string wp_bcrypt_hash(const std::string& password) {
  auto r = run({"/usr/bin/python3", "-c",
                "import base64, bcrypt, hashlib, hmac, sys\n"
                "pw = sys.argv[1].encode()\n"
                "pre = base64.b64encode(hmac.new(b'wp-sha384', pw, hashlib.sha384).digest())\n"
                "h = bcrypt.hashpw(pre, bcrypt.gensalt(10)).decode()\n"
                "print('$wp' + h.replace('$2b$', '$2y$', 1))\n",
                password});
  if (r.status != 0) throw std::runtime_error("python3 bcrypt: " + r.err);
  return first_line(r.out);
}

struct imported {
  test_user user;
  std::string original_hash;
};

std::string hash_of(std::int64_t id) {
  auto c = db();
  pqxx::read_transaction t(c);
  return t.exec_params("SELECT password_hash FROM users WHERE id = $1", id)[0][0].c_str();
}

// Ids no account has yet, far below cartgate's own range (10^12 up), like WordPress's.
std::int64_t fresh_id_base() {
  auto c = db();
  pqxx::read_transaction t(c);
  auto top = t.exec("SELECT coalesce(max(id), 0) FROM users WHERE id < 1000000000000")[0][0].as<std::int64_t>();
  return std::max<std::int64_t>(top, 1000000) + 10;
}

class WordPressImport : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(state_dir()) / unique_name("import");
    fs::create_directories(dir_);
    csv_ = (dir_ / "users.csv").string();
    wp_password_ = "correct horse " + unique_name("wp");
    std::vector<std::pair<std::string, std::string>> rows = {
        {phpass_hash, phpass_password},
        {bcrypt_hash, bcrypt_password},
        {wp_bcrypt_hash(wp_password_), wp_password_},
    };
    // Columns as a WordPress export gives them (wp_users plus two usermeta values).
    std::ofstream out(csv_);
    out << "ID,user_login,user_email,user_pass,display_name,first_name,last_name,roles\r\n";
    int i = 0;
    // The import keeps these ids, so every run of the fixture takes a range of its own.
    const std::int64_t id_base = fresh_id_base();
    for (auto& [hash, password] : rows) {
      test_user u;
      u.login = unique_name("wp");
      u.email = u.login + "@shop.example";
      u.password = password;
      ++i;
      out << (id_base + i) << "," << u.login << "," << u.email << ",\"" << hash << "\",\"Customer " << i
          << "\",First,\"Last, Jr.\",customer\r\n";
      users_.push_back({u, hash});
    }
    out.close();
    auto r = cli({"user", "import", "--format", "wordpress", csv_});
    ASSERT_EQ(r.status, 0) << r.err << r.out;
    EXPECT_NE(r.out.find("imported 3"), std::string::npos) << r.out;
    auto c = db();
    pqxx::read_transaction t(c);
    for (auto& x : users_) {
      auto rows = t.exec_params("SELECT id FROM users WHERE login = $1", x.user.login);
      ASSERT_EQ(rows.size(), 1u) << x.user.login;
      x.user.id = rows[0][0].as<std::int64_t>();
    }
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  limits_lifted lifted_;
  fs::path dir_;
  std::string csv_, wp_password_;
  std::vector<imported> users_;  // phpass, bcrypt, $wp$
};

TEST_F(WordPressImport, KeepsHashesAsExported) {
  for (auto& x : users_) EXPECT_EQ(hash_of(x.user.id), x.original_hash) << x.user.login;
  EXPECT_EQ(users_[2].original_hash.rfind("$wp$2y$10$", 0), 0u) << users_[2].original_hash;
}

TEST_F(WordPressImport, EachHashFormatLogsInAndIsRehashedToArgon2id) {
  for (auto& x : users_) {
    SCOPED_TRACE(x.original_hash.substr(0, 7));
    auto s = login_ok(x.user);
    EXPECT_EQ(s.body["user_id"].asString(), std::to_string(x.user.id));
    EXPECT_EQ(s.body["first_name"].asString(), "First");
    EXPECT_EQ(s.body["last_name"].asString(), "Last, Jr.");
    std::string now_hash = hash_of(x.user.id);
    EXPECT_EQ(now_hash.rfind("$argon2id$", 0), 0u) << now_hash;
    // The new hash verifies the same password.
    EXPECT_EQ(login(x.user).status, 200);
    EXPECT_EQ(hash_of(x.user.id), now_hash);  // rehashed once, not on every login
  }
}

TEST_F(WordPressImport, WrongPasswordFailsForEachFormatAndKeepsHash) {
  for (auto& x : users_) {
    SCOPED_TRACE(x.original_hash.substr(0, 7));
    test_user wrong = x.user;
    wrong.password = x.user.password + "!";
    EXPECT_TRUE(is_error(login(wrong), 401, "cocart_authentication_error"));
    EXPECT_EQ(hash_of(x.user.id), x.original_hash);
  }
}

TEST_F(WordPressImport, LoginByEmailWorksForImportedUser) {
  test_user by_email = users_[0].user;
  by_email.login = users_[0].user.email;
  EXPECT_EQ(login_ok(by_email).body["user_id"].asString(), std::to_string(users_[0].user.id));
}

TEST_F(WordPressImport, RerunningTheImportChangesNothing) {
  ASSERT_EQ(login(users_[0].user).status, 200);  // one of them already rehashed
  std::vector<std::string> before;
  for (auto& x : users_) before.push_back(hash_of(x.user.id));
  auto r = cli({"user", "import", "--format", "wordpress", csv_});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("imported 0"), std::string::npos) << r.out;
  for (std::size_t i = 0; i < users_.size(); ++i) EXPECT_EQ(hash_of(users_[i].user.id), before[i]);
  auto c = db();
  pqxx::read_transaction t(c);
  for (auto& x : users_) {
    EXPECT_EQ(t.exec_params("SELECT count(*) FROM users WHERE login = $1", x.user.login)[0][0].as<int>(), 1);
  }
  EXPECT_EQ(login(users_[0].user).status, 200);
}

TEST(WordPressImportErrors, UnsupportedHashIsReportedAndOthersImported) {
  fs::path dir = fs::path(state_dir()) / unique_name("import");
  fs::create_directories(dir);
  std::string csv = (dir / "users.csv").string();
  std::string good = unique_name("wp"), bad = unique_name("wp");
  std::ofstream(csv) << "user_login,user_email,user_pass\n"
                     << good << "," << good << "@shop.example," << bcrypt_hash << "\n"
                     << bad << "," << bad << "@shop.example,5f4dcc3b5aa765d61d8327deb882cf99\n";
  auto r = cli({"user", "import", "--format", "wordpress", csv});
  fs::remove_all(dir);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("unsupported"), std::string::npos) << r.err;
  auto c = db();
  pqxx::read_transaction t(c);
  EXPECT_EQ(t.exec_params("SELECT count(*) FROM users WHERE login = $1", good)[0][0].as<int>(), 1);
  EXPECT_EQ(t.exec_params("SELECT count(*) FROM users WHERE login = $1", bad)[0][0].as<int>(), 0);
}

}  // namespace
}  // namespace cartgate::test
