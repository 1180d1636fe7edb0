// Customer accounts: who can log in, by login, email or phone, and with which password
// hash (argon2id, or a WordPress hash imported as is and upgraded on first login).
//
//   pqxx::work w(conn);
//   auto u = users::find_by_identifier(w, "alice@example.com");   // login, email or phone
//   auto id = users::add(w, new_user);                              // throws users::conflict
#pragma once

#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/password.h"

namespace cartgate {

// Who owns an account: cartgate (`cartgate user add`, a CSV import) or the WordPress
// store, whose account it mirrors with WordPress's id (auth/account_sync.h).
enum class origin { cartgate, wordpress };

struct user {
  std::int64_t id = 0;  // 0 when adding: the next id of cartgate's own range
  std::string login;
  std::string email;
  std::string phone;  // "" when none
  std::string password_hash;
  std::string first_name;
  std::string last_name;
  std::string display_name;
  std::vector<std::string> roles;  // slugs: "customer", "vip_customer", …
  origin owner = origin::cartgate;
  std::string wordpress_pass;  // origin wordpress: WordPress's user_pass as last seen
};

namespace users {

class conflict : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Login, email (case-insensitive) or phone, as CoCart's login accepts them.
std::optional<user> find_by_identifier(pqxx::transaction_base& tx, std::string_view identifier);
std::optional<user> find_by_id(pqxx::transaction_base& tx, std::int64_t id);
// The CLI's USER argument: a numeric id, an email or a login.
std::optional<user> find(pqxx::transaction_base& tx, std::string_view id_email_or_login);

// Inserts u, with u.id when it is set (an imported or WordPress account keeps its id).
// Throws conflict with the reason: the id is taken, or the login, email or phone is
// already one of another account's identifiers — login, email and phone share one
// namespace, since a login form accepts any of them, so one identifier never names two
// accounts.
std::int64_t add(pqxx::transaction_base& tx, const user& u);
// Inserts, in a few statements whatever the batch's size (COPY into a temporary table,
// then one INSERT … SELECT), every account of `batch` that clashes with nothing: neither
// its id nor any of its identifiers is an existing account's, nor another row's of the
// batch. Returns the positions of the rows it left, in order, for add() one by one (which
// then names each clash, or finds the row already there) — a bulk import's fast path.
std::vector<std::size_t> add_many(pqxx::transaction_base& tx, const std::vector<user>& batch);
// Rewrites every field of the account u.id but its password hash (a WordPress change);
// throws conflict as add does.
void update(pqxx::transaction_base& tx, const user& u);
// Moves cartgate's own id range past ids that were given explicitly (after an import).
void advance_id_sequence(pqxx::transaction_base& tx);
void set_wordpress_pass(pqxx::transaction_base& tx, std::int64_t id, const std::string& wordpress_hash);
void set_password_hash(pqxx::transaction_base& tx, std::int64_t id, const std::string& hash);
bool remove(pqxx::transaction_base& tx, std::int64_t id);
// Which legacy schemes (bcrypt or $wp$, phpass) some account's hash is in: one probe per
// scheme of the partial index sql/006 made, as cheap at a million users as at ten.
password::legacy_schemes legacy_schemes(pqxx::transaction_base& tx);
std::vector<user> list(pqxx::transaction_base& tx, std::int64_t offset, std::int64_t limit);

// The columns a user is read from (qualified by `table`, e.g. "u" in a join) and the
// mapping of a row that has them from column `first` on: the one row mapping, also for
// stores that join users (sessions).
std::string column_list(std::string_view table);
user from_row(const pqxx::row& r, int first = 0);

// "Customer, Vip Customer": capitalised role names joined by ", " (the login response).
std::string role_label(const std::vector<std::string>& roles);
bool valid_login(std::string_view login);  // WordPress's sanitize_user alphabet
bool valid_email(std::string_view email);

}  // namespace users
}  // namespace cartgate
