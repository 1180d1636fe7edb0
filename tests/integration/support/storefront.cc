#include "support/storefront.h"

#include <fstream>

namespace cartgate::test {

std::string wp_table(const std::string& name) { return env("CARTGATE_TEST_WORDPRESS_TABLE_PREFIX") + name; }

std::string wp_sql(const std::string& sql) {
  auto r = run({"/usr/bin/mariadb", "--defaults-file=" + env("CARTGATE_TEST_STATE") + "/mariadb/my.cnf", "-u",
                "root", "-N", "-B", "wordpress"},
               sql);
  if (r.status != 0) throw std::runtime_error("mariadb: " + r.err + "\nSQL: " + sql);
  return r.out;
}

http_options wordpress_admin() {
  std::ifstream f(env("CARTGATE_TEST_WORDPRESS_ADMIN_FILE"));
  std::string pair;
  std::getline(f, pair);
  auto colon = pair.find(':');
  if (colon == std::string::npos) throw std::runtime_error("no LOGIN:PASSWORD in the WordPress admin file");
  http_options o;
  o.basic = true;
  o.basic_user = pair.substr(0, colon);
  o.basic_password = pair.substr(colon + 1);
  return o;
}

test_user make_wordpress_customer(std::string login, std::string password) {
  test_user u;
  u.login = login.empty() ? unique_name("wpc") : login;
  u.email = u.login + "@shop.example";
  u.password = password.empty() ? "wp pass " + unique_name("p") : password;
  Json::Value body(Json::objectValue);
  body["username"] = u.login;
  body["email"] = u.email;
  body["password"] = u.password;
  body["first_name"] = "Wendy";
  body["last_name"] = "Press";
  auto r = post_json("/wp-json/wp/v2/users", body, wordpress_admin());
  if (r.status != 201) throw std::runtime_error("WordPress refused the user: " + std::to_string(r.status) + " " + r.body);
  u.id = r.json()["id"].asInt64();
  return u;
}

bool mirrored(std::int64_t id, const std::string& login, std::chrono::milliseconds limit) {
  return eventually(
      [&] {
        auto c = db();
        pqxx::read_transaction t(c);
        auto rows = t.exec_params("SELECT login FROM users WHERE id = $1 AND origin = 'wordpress'", id);
        return !rows.empty() && (login.empty() || login == rows[0][0].c_str());
      },
      limit);
}

}  // namespace cartgate::test
