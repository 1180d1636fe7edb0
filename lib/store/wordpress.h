// WordPress's tables as cartgate reads them (contract §8): the store's accounts
// ({prefix}users and the usermeta cartgate keeps), the must-use plugin's outbox
// ({prefix}cartgate_outbox, deploy/wordpress/README.md), and the one write cartgate may
// make there — a password changed through cartgate, written back so that one password
// works on both sides. The only SQL against WordPress's database is in this file.
//
//   wordpress::database wp(settings);                       // throws mariadb::error
//   for (auto& r : wp.outbox(500)) …                        // oldest first
//   auto a = wp.find(42);                                   // nullopt: no such user
//   wp.forget({r.id, …});                                   // rows handled
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "infra/config.h"
#include "infra/mariadb.h"

namespace cartgate::wordpress {

struct settings {
  mariadb::settings db;
  std::string table_prefix = "wp_";  // [A-Za-z0-9_]+; users are network-wide (base prefix)

  static settings from_config(const config& cfg);  // the [wordpress] table
};

// A WordPress user as cartgate keeps it.
struct account {
  std::int64_t id = 0;
  std::string login, email, password_hash, display_name, first_name, last_name, phone;
  std::vector<std::string> roles;  // from {prefix}capabilities, e.g. {"customer"}
};

struct outbox_row {
  std::uint64_t id = 0;
  std::int64_t user_id = 0;
  std::string event;  // user_changed | password_changed | user_deleted
};

// The role slugs a PHP-serialized capabilities array grants, in its order:
// a:2:{s:8:"customer";b:1;s:4:"shop";b:0;} → {"customer"}. Anything malformed → {}.
std::vector<std::string> roles_from_capabilities(std::string_view serialized);

// True for a prefix that may be spliced into a table name.
bool valid_table_prefix(std::string_view prefix);

class database {
 public:
  explicit database(const settings& s);  // throws mariadb::error, std::invalid_argument

  // Up to `limit` outbox rows, oldest first.
  std::vector<outbox_row> outbox(std::size_t limit);
  // Deletes exactly these outbox rows (rows written meanwhile stay).
  void forget(const std::vector<std::uint64_t>& ids);

  std::optional<account> find(std::int64_t id);
  // Accounts with an id above `after`, by id, at most `limit` (the backfill's pages).
  std::vector<account> accounts_after(std::int64_t after, std::size_t limit);
  std::int64_t count_accounts();

  // A password set through cartgate, as a hash WordPress verifies (bcrypt $2y$, which
  // WordPress's phpass checks through crypt()); any pending reset link stops working.
  void set_password_hash(std::int64_t id, const std::string& hash);

 private:
  std::vector<account> with_meta(std::vector<account> accounts);

  std::string prefix_;
  mariadb::connection db_;
};

}  // namespace cartgate::wordpress
