// A connection to a MariaDB/MySQL server through MariaDB Connector/C, for the one thing
// cartgate reads there: the WordPress store's own database (store/wordpress.h). Every
// statement is a prepared statement with `?` placeholders; values travel as text (NULL
// for nullopt), results come back as text.
//
//   mariadb::connection db(settings);                       // throws mariadb::error
//   auto rows = db.query("SELECT ID, user_login FROM wp_users WHERE ID > ? LIMIT 100", {"0"});
//   std::uint64_t n = db.execute("DELETE FROM wp_cartgate_outbox WHERE id = ?", {"7"});
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct st_mysql;

namespace cartgate::mariadb {

struct settings {
  std::string socket;  // a unix socket path; when empty, host and port
  std::string host = "localhost";
  unsigned port = 3306;
  std::string database;
  std::string user;
  std::string password;
  unsigned connect_timeout = 2;  // seconds, also for each read and write
};

class error : public std::runtime_error {
 public:
  error(const std::string& what, unsigned code) : std::runtime_error(what), code_(code) {}
  unsigned code() const { return code_; }  // the server's or client's error number (0: none)

 private:
  unsigned code_;
};

using value = std::optional<std::string>;  // nullopt: SQL NULL
using row = std::vector<value>;

class connection {
 public:
  explicit connection(const settings& s);  // throws error
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  std::vector<row> query(std::string_view sql, const std::vector<value>& params = {});
  // Affected rows.
  std::uint64_t execute(std::string_view sql, const std::vector<value>& params = {});

 private:
  st_mysql* db_;
};

}  // namespace cartgate::mariadb
