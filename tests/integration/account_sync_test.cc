// Accounts stay in step with the WordPress storefront (contract §8): customers made,
// changed and deleted in WordPress reach cartgate through the must-use plugin's outbox,
// with WordPress's ids; what cartgate changes on an account WordPress owns goes back or is
// refused; an existing store is copied in by `cartgate wordpress backfill`; a CSV import
// keeps ids and reports clashes row by row.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "auth_helpers.h"
#include "support/stack.h"
#include "support/storefront.h"

namespace cartgate::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* users_me_path = "/wp-json/wp/v2/users/me?context=edit";

// phpass "portable" hash, the test vector of the phpass distribution (test.php).
const std::string phpass_hash = "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0";
const std::string phpass_password = "test12345";

http_result wordpress_update(std::int64_t id, const Json::Value& body) {
  return post_json("/wp-json/wp/v2/users/" + std::to_string(id), body, wordpress_admin());
}

std::int64_t count(const std::string& sql, std::int64_t id) {
  auto c = db();
  pqxx::read_transaction t(c);
  return t.exec_params(sql, id)[0][0].as<std::int64_t>();
}

std::string form_encoded(const std::string& in) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : in) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

// WordPress's own login form (wp-login.php) accepts this password: 302 and a login cookie.
bool wordpress_accepts(const test_user& u, const std::string& password) {
  http_options o;
  o.method = "POST";
  o.content_type = "application/x-www-form-urlencoded";
  o.body = "log=" + form_encoded(u.login) + "&pwd=" + form_encoded(password) + "&testcookie=1";
  o.headers = {"Cookie: wordpress_test_cookie=WP%20Cookie%20check"};
  auto r = http("/wp-login.php", o);
  return r.status == 302 && r.header("set-cookie").find("wordpress_logged_in") != std::string::npos;
}

TEST(AccountSync, CustomerCreatedInWordPressLogsInThroughCartgateWithin1sWithItsWordPressId) {
  limits_lifted lifted;
  auto c = make_wordpress_customer();
  ASSERT_TRUE(eventually([&] { return login(c).status == 200; }, 1000ms))
      << "not mirrored within 1 s of wp_insert_user";
  auto s = login_ok(c);
  EXPECT_EQ(s.body["user_id"].asString(), std::to_string(c.id));
  EXPECT_EQ(s.body["first_name"].asString(), "Wendy");
  EXPECT_EQ(token_payload(s.access)["data"]["user"]["id"].asInt64(), c.id);
  auto r = http(users_me_path, bearer(s.access));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["id"].asInt64(), c.id);
  EXPECT_EQ(r.json()["username"].asString(), c.login);
}

TEST(AccountSync, PasswordChangedInWordPressSwapsPasswordsAndEndsSessionsWithin1s) {
  limits_lifted lifted;
  auto c = make_wordpress_customer();
  ASSERT_TRUE(mirrored(c.id));
  auto s = login_ok(c);
  ASSERT_EQ(me(s.access).status, 200);
  Json::Value body(Json::objectValue);
  body["password"] = "the new one " + unique_name("p");
  ASSERT_EQ(wordpress_update(c.id, body).status, 200);
  EXPECT_TRUE(eventually([&] { return me(s.access).status == 401; }, 1000ms)) << "old session still valid";
  EXPECT_TRUE(is_error(login(c), 401, "cocart_authentication_error")) << "old password still works";
  test_user renewed = c;
  renewed.password = body["password"].asString();
  EXPECT_EQ(login_ok(renewed).body["user_id"].asString(), std::to_string(c.id));
}

TEST(AccountSync, UserDeletedInWordPressLosesItsTokensWithin1s) {
  limits_lifted lifted;
  auto c = make_wordpress_customer();
  ASSERT_TRUE(mirrored(c.id));
  auto s = login_ok(c);
  http_options o = wordpress_admin();
  o.method = "DELETE";
  ASSERT_EQ(http("/wp-json/wp/v2/users/" + std::to_string(c.id) + "?force=true&reassign=1", o).status, 200);
  EXPECT_TRUE(eventually([&] { return me(s.access).status == 401; }, 1000ms));
  EXPECT_TRUE(is_error(http(users_me_path, bearer(s.access)), 401, "cocart_authentication_error"));
  EXPECT_EQ(count("SELECT count(*) FROM users WHERE id = $1", c.id), 0);
  EXPECT_TRUE(is_error(login(c), 401, "cocart_authentication_error"));
}

TEST(AccountSync, ProfileChangesInWordPressAreCopied) {
  limits_lifted lifted;
  auto c = make_wordpress_customer();
  ASSERT_TRUE(mirrored(c.id));
  Json::Value body(Json::objectValue);
  body["email"] = unique_name("moved") + "@shop.example";
  body["first_name"] = "Wilma";
  ASSERT_EQ(wordpress_update(c.id, body).status, 200);
  EXPECT_TRUE(eventually([&] {
    auto conn = db();
    pqxx::read_transaction t(conn);
    auto r = t.exec_params("SELECT email, first_name FROM users WHERE id = $1", c.id);
    return !r.empty() && body["email"].asString() == r[0][0].c_str() && std::string("Wilma") == r[0][1].c_str();
  }, 1000ms));
  test_user by_email = c;
  by_email.login = body["email"].asString();
  EXPECT_EQ(login_ok(by_email).body["first_name"].asString(), "Wilma");
}

TEST(AccountSync, ChangeMadeWhilePostgresqlIsDownArrivesAfterwardsExactlyOnce) {
  limits_lifted lifted;
  auto c = make_wordpress_customer();
  ASSERT_TRUE(mirrored(c.id));
  auto before = count("SELECT count(*) FROM audit_events WHERE event = 'password_changed' AND user_id = $1", c.id);
  Json::Value body(Json::objectValue);
  body["password"] = "changed while down " + unique_name("p");
  {
    pg_outage down;
    ASSERT_EQ(wordpress_update(c.id, body).status, 200);
    std::this_thread::sleep_for(500ms);  // the drainer tries, and fails, meanwhile
    auto waiting = wp_sql("SELECT COUNT(*) FROM " + wp_table("cartgate_outbox") + " WHERE user_id = " +
                          std::to_string(c.id));
    EXPECT_NE(waiting.rfind("0", 0), 0u) << "the change waits in WordPress's outbox";
  }
  test_user renewed = c;
  renewed.password = body["password"].asString();
  EXPECT_TRUE(eventually([&] { return login(renewed).status == 200; }, 5000ms));
  std::this_thread::sleep_for(600ms);  // a few more drain passes
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE event = 'password_changed' AND user_id = $1", c.id),
            before + 1)
      << "applied once";
}

TEST(AccountSync, ChangeMadeWhileCartgateIsStoppedArrivesAfterItResumesExactlyOnce) {
  limits_lifted lifted;
  auto c = make_wordpress_customer();
  ASSERT_TRUE(mirrored(c.id));
  auto before = count("SELECT count(*) FROM audit_events WHERE event = 'password_changed' AND user_id = $1", c.id);
  Json::Value body(Json::objectValue);
  body["password"] = "changed while stopped " + unique_name("p");
  int master = pool_master_pid();
  {
    auto pids = worker_pids(master);
    pids.push_back(master);
    paused stopped(pids);
    ASSERT_EQ(wordpress_update(c.id, body).status, 200);
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE event = 'password_changed' AND user_id = $1", c.id),
              before)
        << "nothing applied while every worker is stopped";
  }
  test_user renewed = c;
  renewed.password = body["password"].asString();
  EXPECT_TRUE(eventually([&] { return login(renewed).status == 200; }, 5000ms));
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE event = 'password_changed' AND user_id = $1", c.id),
            before + 1);
}

TEST(AccountSync, CartgatePasswdOnAWordPressAccountWritesThrough) {
  limits_lifted lifted;
  auto c = make_wordpress_customer();
  ASSERT_TRUE(mirrored(c.id));
  auto s = login_ok(c);
  std::string fresh = "set by cartgate " + unique_name("p");
  auto r = cli({"user", "passwd", c.login}, fresh + "\n");
  ASSERT_EQ(r.status, 0) << r.err;
  test_user renewed = c;
  renewed.password = fresh;
  EXPECT_EQ(login(renewed).status, 200);
  EXPECT_TRUE(is_error(login(c), 401, "cocart_authentication_error"));
  EXPECT_TRUE(eventually([&] { return me(s.access).status == 401; }, 1000ms)) << "the old sessions ended";
  EXPECT_TRUE(wordpress_accepts(c, fresh)) << "WordPress takes the new password";
  EXPECT_FALSE(wordpress_accepts(c, c.password)) << "and no longer the old one";
  // The write-back is no WordPress change: the session made now survives the next drains.
  auto later = login_ok(renewed);
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(me(later.access).status, 200);
}

TEST(AccountSync, CartgateRefusesToDeleteAWordPressAccount) {
  auto c = make_wordpress_customer();
  ASSERT_TRUE(mirrored(c.id));
  auto r = cli({"user", "delete", c.login});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("belongs to WordPress"), std::string::npos) << r.err;
  EXPECT_EQ(count("SELECT count(*) FROM users WHERE id = $1", c.id), 1);
}

TEST(AccountSync, BackfillCopiesAnExistingStoreKeepingIdsAndIsSafeToRerun) {
  limits_lifted lifted;
  // Users that were there before the plugin: rows written straight into WordPress's
  // tables, so no outbox row announces them.
  std::vector<test_user> old;
  for (int i = 0; i < 3; ++i) {
    test_user u;
    u.login = unique_name("old");
    u.email = u.login + "@shop.example";
    u.password = phpass_password;
    wp_sql("INSERT INTO " + wp_table("users") +
           " (user_login, user_pass, user_nicename, user_email, user_registered, display_name) VALUES ('" + u.login +
           "', '" + phpass_hash + "', '" + u.login + "', '" + u.email + "', NOW(), 'O''Brien, \"Jr.\"')");
    u.id = std::stoll(wp_sql("SELECT ID FROM " + wp_table("users") + " WHERE user_login = '" + u.login + "'"));
    wp_sql("INSERT INTO " + wp_table("usermeta") + " (user_id, meta_key, meta_value) VALUES (" +
           std::to_string(u.id) + ", 'last_name', 'Smith, \"the\" O''Neill')");
    old.push_back(u);
  }
  auto r = cli({"wordpress", "backfill", "--page", "2"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("backfill"), std::string::npos) << "progress on stderr: " << r.err;
  for (auto& u : old) {
    auto s = login_ok(u);
    EXPECT_EQ(s.body["user_id"].asString(), std::to_string(u.id));
    EXPECT_EQ(s.body["display_name"].asString(), "O'Brien, \"Jr.\"");
    EXPECT_EQ(s.body["last_name"].asString(), "Smith, \"the\" O'Neill");
  }
  auto again = cli({"wordpress", "backfill"});
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("changed 0"), std::string::npos) << again.out;
}

// Ids no account has yet, below cartgate's own range (10^12 up), like WordPress's.
std::int64_t fresh_id() {
  auto c = db();
  pqxx::read_transaction t(c);
  return std::max<std::int64_t>(
             t.exec("SELECT coalesce(max(id), 0) FROM users WHERE id < 1000000000000")[0][0].as<std::int64_t>(),
             5000000) +
         100;
}

TEST(Import, KeepsIdsReportsEveryClashByRowAndKeepsCommasAndQuotes) {
  limits_lifted lifted;
  auto taken = make_user();
  fs::path dir = fs::path(state_dir()) / unique_name("import");
  fs::create_directories(dir);
  std::string csv = (dir / "users.csv").string();
  std::int64_t id = fresh_id();
  std::string good = unique_name("imp"), by_id = unique_name("imp"), by_email = unique_name("imp");
  std::ofstream(csv) << "ID,user_login,user_email,user_pass,display_name,last_name\n"
                     << id << "," << good << "," << good << "@shop.example,\"" << phpass_hash
                     << "\",\"O'Hara, \"\"Scarlett\"\"\",\"Last, Jr.\"\n"
                     << taken.id << "," << by_id << "," << by_id << "@shop.example," << phpass_hash << ",,\n"
                     << (id + 1) << "," << taken.email << "," << by_email << "@shop.example," << phpass_hash
                     << ",,\n";
  auto r = cli({"user", "import", "--format", "wordpress", csv});
  fs::remove_all(dir);
  EXPECT_NE(r.status, 0) << "clashing rows make the import fail";
  EXPECT_NE(r.err.find("users.csv:3: user id " + std::to_string(taken.id)), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("users.csv:4: the login '" + taken.email + "' is another user's email"), std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("imported 1"), std::string::npos) << r.out;
  test_user u{id, good, good + "@shop.example", phpass_password};
  auto s = login_ok(u);
  EXPECT_EQ(s.body["user_id"].asString(), std::to_string(id));
  EXPECT_EQ(s.body["display_name"].asString(), "O'Hara, \"Scarlett\"");
  EXPECT_EQ(s.body["last_name"].asString(), "Last, Jr.");
  EXPECT_EQ(count("SELECT count(*) FROM users WHERE id = $1", taken.id), 1);
  // cartgate's own next account is still numbered in its own range.
  EXPECT_GE(make_user().id, 1000000000000);
}

TEST(Identifiers, LoginEmailAndPhoneNeverNameTwoAccounts) {
  auto a = make_user({"--phone", unique_phone()});
  auto login_is_email = cli({"user", "add", a.email, "--email", unique_name("x") + "@shop.example"}, "pw-1234\n");
  EXPECT_EQ(login_is_email.status, 1);
  EXPECT_NE(login_is_email.err.find("is another user's email"), std::string::npos) << login_is_email.err;
  auto email_is_login = cli({"user", "add", unique_name("y"), "--email", a.login + "@x.example"}, "pw-1234\n");
  EXPECT_EQ(email_is_login.status, 0) << "a different email is fine: " << email_is_login.err;
  std::string login_as_email = unique_name("z") + "@shop.example";
  ASSERT_EQ(cli({"user", "add", login_as_email, "--email", unique_name("w") + "@shop.example"}, "pw-1234\n").status, 0);
  auto email_taken_as_login = cli({"user", "add", unique_name("v"), "--email", login_as_email}, "pw-1234\n");
  EXPECT_EQ(email_taken_as_login.status, 1);
  EXPECT_NE(email_taken_as_login.err.find("is another user's login"), std::string::npos) << email_taken_as_login.err;
}

TEST(RestRoute, LoginNamedByRestRouteIsCartgatesLogin) {
  limits_lifted lifted;
  auto c = make_wordpress_customer();
  ASSERT_TRUE(mirrored(c.id));
  for (const char* path : {"/?rest_route=/cocart/v2/login", "/index.php?rest_route=%2Fcocart%2Fv2%2Flogin%2F"}) {
    http_options o;
    o.method = "POST";
    o.basic = true;
    o.basic_user = c.login;
    o.basic_password = c.password;
    auto r = http(path, o);
    ASSERT_EQ(r.status, 200) << path << ": " << r.body;
    EXPECT_EQ(r.json()["user_id"].asString(), std::to_string(c.id)) << path;
    EXPECT_FALSE(r.json()["extras"]["jwt_token"].asString().empty()) << path << ": cartgate's answer, with tokens";
    o.basic_password = "wrong";
    EXPECT_TRUE(is_error(http(path, o), 401, "cocart_authentication_error")) << path;
  }
}

}  // namespace
}  // namespace cartgate::test
