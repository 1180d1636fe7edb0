// The test stack's WordPress storefront, as integration tests reach it: SQL in WordPress's
// database (as MariaDB's root, over the stack's socket), WordPress's own REST API as its
// administrator (an application password), and customers made the way a store makes
// them — wp_insert_user, through POST /wp-json/wp/v2/users — then mirrored into cartgate
// by the account sync (lib/auth/account_sync.h).
//
//   auto c = make_wordpress_customer();          // WordPress id, login, email, password
//   ASSERT_TRUE(mirrored(c.id));                  // cartgate has the account
//   auto s = login_ok(c);                         // through cartgate, with that password
#pragma once

#include <chrono>
#include <string>

#include "support/stack.h"

namespace cartgate::test {

std::string wp_table(const std::string& name);  // "wpt_users" for "users"
// Runs SQL in WordPress's database; returns its tab-separated output; throws on failure.
std::string wp_sql(const std::string& sql);
// HTTP options carrying the administrator's application password (HTTP Basic).
http_options wordpress_admin();

// A new WordPress user (wp_insert_user through the REST API). Login, email and password
// are made up unless given.
test_user make_wordpress_customer(std::string login = "", std::string password = "");

// True once cartgate has the WordPress account `id` (origin wordpress) with this login
// ("" = any), within `limit`.
bool mirrored(std::int64_t id, const std::string& login = "",
              std::chrono::milliseconds limit = std::chrono::milliseconds(5000));

}  // namespace cartgate::test
