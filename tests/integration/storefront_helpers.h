// Helpers for tests that need a customer both WordPress and cartgate know, logged in to
// WordPress with its cookie: the customer is made in WordPress (support/storefront.h) and
// mirrored into cartgate by the account sync, with WordPress's id; the login cookie and
// the REST nonce for it are WordPress's own.
//
//   auto u = make_linked_customer();                      // same id and login on both sides
//   auto cookie = wordpress_login_cookie(u);              // "wordpress_logged_in_…=…"
//   auto nonce = rest_nonce(cookie);                      // X-WP-Nonce for that login
#pragma once

#include <string>

#include "auth_helpers.h"
#include "support/stack.h"
#include "support/storefront.h"

namespace cartgate::test {

// A customer registered in WordPress and mirrored into cartgate with WordPress's id.
inline test_user make_linked_customer() {
  auto u = make_wordpress_customer();
  if (!mirrored(u.id, u.login)) {
    throw std::runtime_error("WordPress user " + std::to_string(u.id) + " never reached cartgate");
  }
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
