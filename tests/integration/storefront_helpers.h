// Helpers for tests that need the WordPress storefront as well as cartgate: WordPress's
// database, a customer both know under one id, and a logged-in WordPress cookie with its
// REST nonce.
//
// Until cartgate's accounts come from WordPress (the outbox drainer and an import that
// keeps ids), ids agree only when a test makes them agree: make_linked_customer() creates
// the cartgate user first and then a WordPress user with that id, in SQL. It is the one
// place that does so, to be swapped for "create it in WordPress, let cartgate follow"
// once that lands.
//
//   auto u = make_linked_customer();                      // same id and login on both sides
//   auto cookie = wordpress_login_cookie(u);              // "wordpress_logged_in_…=…"
//   auto nonce = rest_nonce(cookie);                      // X-WP-Nonce for that login
#pragma once

#include <string>

#include "auth_helpers.h"
#include "support/stack.h"

namespace cartgate::test {

inline std::string wp_table(const std::string& name) {
  return env("CARTGATE_TEST_WORDPRESS_TABLE_PREFIX") + name;
}

// Runs SQL in WordPress's database; throws with the client's message on failure.
inline std::string wp_sql(const std::string& sql) {
  auto r = run({"/usr/bin/mariadb", "--defaults-file=" + state_dir() + "/mariadb/my.cnf", "-u",
                "root", "-N", "-B", "wordpress"},
               sql);
  if (r.status != 0) throw std::runtime_error("mariadb: " + r.err + "\nSQL: " + sql);
  return r.out;
}

// A WordPress customer with this id and login (the password is never used: logins go
// through cartgate, cookies come from wordpress_login_cookie).
inline void make_wordpress_user(std::int64_t id, const std::string& login) {
  const std::string i = std::to_string(id);
  wp_sql("INSERT INTO " + wp_table("users") +
         " (ID, user_login, user_pass, user_nicename, user_email, user_registered, display_name)"
         " VALUES (" +
         i + ", '" + login + "', '*', '" + login + "', '" + login + "@example.com', NOW(), '" +
         login +
         "');"
         "INSERT INTO " +
         wp_table("usermeta") + " (user_id, meta_key, meta_value) VALUES (" + i + ", '" +
         wp_table("capabilities") + "', 'a:1:{s:8:\"customer\";b:1;}');");
}

// A cartgate user whose id WordPress does not use yet (its administrator is user 1).
inline test_user make_user_with_a_free_wordpress_id() {
  for (;;) {
    auto u = make_user();
    auto taken =
        wp_sql("SELECT COUNT(*) FROM " + wp_table("users") + " WHERE ID = " + std::to_string(u.id));
    if (taken.rfind("0", 0) == 0) return u;
  }
}

// WordPress's REST answers carry a Link header to its API root; cartgate's never do.
inline bool from_wordpress(const http_result& r) {
  return r.header("link").find("api.w.org") != std::string::npos;
}

// A customer of both: the cartgate account and the WordPress user share id and login.
inline test_user make_linked_customer() {
  auto u = make_user_with_a_free_wordpress_id();
  make_wordpress_user(u.id, u.login);
  return u;
}

// A logged-in WordPress session for the user, as wp_signon() makes one, and its cookie
// as "NAME=VALUE" (tests/wordpress/login-cookie.php). passed_second_factor marks the
// session as the Two Factor plugin does after a second factor.
inline std::string wordpress_login_cookie(const test_user& u, bool passed_second_factor = false) {
  std::vector<std::string> argv = {"/usr/bin/php", std::string(CARTGATE_SOURCE_DIR) + "/tests/wordpress/login-cookie.php",
                                   env("CARTGATE_TEST_WORDPRESS_CONFIG_NAME"),
                                   "127.0.0.1:" + env("CARTGATE_TEST_HTTP_PORT"), std::to_string(u.id)};
  if (passed_second_factor) argv.push_back("two-factor");
  auto r = run(argv);
  if (r.status != 0) throw std::runtime_error("login-cookie.php: " + r.err);
  return first_line(r.out);
}

// WordPress's REST nonce (action wp_rest) for that login, as a page script gets a fresh
// one: GET /wp-admin/admin-ajax.php?action=rest-nonce with the cookie.
inline std::string rest_nonce(const std::string& cookie) {
  http_options o;
  o.headers = {"Cookie: " + cookie};
  auto r = http("/wp-admin/admin-ajax.php?action=rest-nonce", o);
  if (r.status != 200 || r.body.empty() || r.body.size() > 20) {
    throw std::runtime_error("no REST nonce: HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 200));
  }
  return r.body;
}

}  // namespace cartgate::test
