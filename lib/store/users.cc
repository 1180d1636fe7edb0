#include "store/users.h"

#include <algorithm>
#include <cctype>
#include <pqxx/stream_to>
#include <tuple>

#include "base/text.h"

namespace cartgate::users {
namespace {

const std::string columns = column_list("users");

std::optional<user> one(const pqxx::result& rows) {
  if (rows.empty()) return std::nullopt;
  return from_row(rows[0]);
}

std::string roles_literal(const std::vector<std::string>& roles) {
  // Role slugs are validated to [a-z0-9_-], so they need no quoting inside the literal.
  std::string out = "{";
  for (std::size_t i = 0; i < roles.size(); ++i) {
    if (i) out += ',';
    out += roles[i];
  }
  return out + "}";
}

}  // namespace

std::string column_list(std::string_view table) {
  std::string t(table);
  return t + ".id, " + t + ".login, " + t + ".email, coalesce(" + t + ".phone, ''), " + t + ".password_hash, " +
         t + ".first_name, " + t + ".last_name, " + t + ".display_name, array_to_string(" + t + ".roles, ','), " +
         t + ".origin, coalesce(" + t + ".wordpress_pass, '')";
}

user from_row(const pqxx::row& r, int first) {
  user u;
  u.id = r[first].as<std::int64_t>();
  u.login = r[first + 1].c_str();
  u.email = r[first + 2].c_str();
  u.phone = r[first + 3].c_str();
  u.password_hash = r[first + 4].c_str();
  u.first_name = r[first + 5].c_str();
  u.last_name = r[first + 6].c_str();
  u.display_name = r[first + 7].c_str();
  u.roles = text::split_list(r[first + 8].c_str());
  u.owner = std::string_view(r[first + 9].c_str()) == "wordpress" ? origin::wordpress : origin::cartgate;
  u.wordpress_pass = r[first + 10].c_str();
  return u;
}

std::optional<user> find_by_identifier(pqxx::transaction_base& tx, std::string_view identifier) {
  if (identifier.empty() || identifier.size() > 254) return std::nullopt;
  std::string id(identifier);
  // One statement, exact matches only: login first, then email, then phone, so a login
  // that looks like someone else's phone number cannot shadow them.
  return one(tx.exec_params(std::string("SELECT ") + columns +
                                " FROM users WHERE lower(login) = lower($1) OR lower(email) = lower($1)"
                                " OR phone = $1 ORDER BY (lower(login) = lower($1)) DESC,"
                                " (lower(email) = lower($1)) DESC LIMIT 1",
                            id));
}

std::optional<user> find_by_id(pqxx::transaction_base& tx, std::int64_t id) {
  return one(tx.exec_params(std::string("SELECT ") + columns + " FROM users WHERE id = $1", id));
}

password::legacy_schemes legacy_schemes(pqxx::transaction_base& tx) {
  // The predicate repeats the index's, so the planner probes users_legacy_hash_idx.
  auto r = tx.exec(
      "SELECT EXISTS (SELECT 1 FROM users WHERE password_hash NOT LIKE '$argon2id$%'"
      "               AND substr(password_hash, 1, 3) IN ('$2y', '$2b', '$2a', '$wp')),"
      "       EXISTS (SELECT 1 FROM users WHERE password_hash NOT LIKE '$argon2id$%'"
      "               AND substr(password_hash, 1, 3) IN ('$P$', '$H$'))");
  return password::legacy_schemes{r[0][0].as<bool>(), r[0][1].as<bool>()};
}

std::optional<user> find(pqxx::transaction_base& tx, std::string_view key) {
  if (!key.empty() && std::all_of(key.begin(), key.end(), [](unsigned char c) { return std::isdigit(c); }) &&
      key.size() < 19) {
    if (auto u = find_by_id(tx, std::stoll(std::string(key)))) return u;
  }
  return one(tx.exec_params(std::string("SELECT ") + columns +
                                " FROM users WHERE lower(login) = lower($1) OR lower(email) = lower($1)"
                                " ORDER BY (lower(login) = lower($1)) DESC LIMIT 1",
                            std::string(key)));
}

namespace {

// Login, email and phone are one namespace of identifiers (a login form takes any): the
// conflict that u's identifiers would make with another account, or "".
std::string identifier_conflict(pqxx::transaction_base& tx, const user& u) {
  // Adds and updates of identifiers are serialised, so two of them cannot both pass this
  // check with the same new identifier.
  tx.exec("SELECT pg_advisory_xact_lock(hashtext('cartgate.user_identifiers'))");
  struct candidate {
    const char* what;
    std::string value;
  };
  const candidate mine[] = {{"login", u.login}, {"email", u.email}, {"phone", u.phone}};
  for (const auto& c : mine) {
    if (c.value.empty()) continue;
    auto rows = tx.exec_params(
        "SELECT CASE WHEN lower(login) = lower($1) THEN 'login'"
        "            WHEN lower(email) = lower($1) THEN 'email' ELSE 'phone' END"
        " FROM users WHERE id <> $2 AND (lower(login) = lower($1) OR lower(email) = lower($1) OR phone = $1)"
        " LIMIT 1",
        c.value, u.id);
    if (!rows.empty()) {
      std::string theirs = rows[0][0].c_str();
      if (theirs == c.what) return std::string("a user with that ") + c.what + " already exists";
      return std::string("the ") + c.what + " '" + c.value + "' is another user's " + theirs;
    }
  }
  return {};
}

const char* origin_name(origin o) { return o == origin::wordpress ? "wordpress" : "cartgate"; }

}  // namespace

std::int64_t add(pqxx::transaction_base& tx, const user& u) {
  if (auto why = identifier_conflict(tx, u); !why.empty()) throw conflict(why);
  if (u.id != 0 && !tx.exec_params("SELECT 1 FROM users WHERE id = $1", u.id).empty()) {
    throw conflict("user id " + std::to_string(u.id) + " is taken");
  }
  try {
    // Explicit ids go through the same statement: an empty $1 takes the sequence's next.
    auto r = tx.exec_params(
        "INSERT INTO users (id, login, email, phone, password_hash, first_name, last_name, display_name, roles,"
        " origin, wordpress_pass)"
        " VALUES (coalesce(nullif($1, '')::bigint, nextval('users_id_seq')), $2, $3, nullif($4, ''), $5, $6, $7,"
        " $8, $9::text[], $10, nullif($11, '')) RETURNING id",
        u.id ? std::to_string(u.id) : std::string(), u.login, u.email, u.phone, u.password_hash, u.first_name,
        u.last_name, u.display_name.empty() ? u.login : u.display_name,
        roles_literal(u.roles.empty() ? std::vector<std::string>{"customer"} : u.roles), origin_name(u.owner),
        u.wordpress_pass);
    return r[0][0].as<std::int64_t>();
  } catch (const pqxx::unique_violation&) {
    // The check above holds the identifier lock, so only a path around it lands here.
    throw conflict("a user with that login, email or phone already exists");
  }
}

std::vector<std::size_t> add_many(pqxx::transaction_base& tx, const std::vector<user>& batch) {
  std::vector<std::size_t> left;
  if (batch.empty()) return left;
  // The same serialisation as add(): no identifier can be taken meanwhile by another
  // process between the clash check below and the insert.
  tx.exec("SELECT pg_advisory_xact_lock(hashtext('cartgate.user_identifiers'))");
  tx.exec("SET LOCAL client_min_messages = warning");  // no "already exists, skipping" notice
  tx.exec(
      "CREATE TEMP TABLE IF NOT EXISTS import_batch (n integer, id text, login text, email text, phone text,"
      " password_hash text, first_name text, last_name text, display_name text, roles text, origin text,"
      " wordpress_pass text) ON COMMIT DELETE ROWS");
  tx.exec("TRUNCATE import_batch");
  {
    // COPY in text format; empty fields stay empty strings, made NULL where NULL is meant.
    pqxx::stream_to copy(tx, "import_batch");
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const user& u = batch[i];
      copy << std::make_tuple(
          std::to_string(i), u.id ? std::to_string(u.id) : std::string(), u.login, u.email, u.phone,
          u.password_hash, u.first_name, u.last_name, u.display_name.empty() ? u.login : u.display_name,
          roles_literal(u.roles.empty() ? std::vector<std::string>{"customer"} : u.roles),
          std::string(origin_name(u.owner)), u.wordpress_pass);
    }
    copy.complete();
  }
  tx.exec("ANALYZE import_batch");  // a temporary table has no statistics otherwise
  // Rows sharing an identifier (any of login, email, phone against any other, as add()
  // compares them) with an account, or with another row; rows whose id is taken. Checking
  // lower() of phones too can only flag more rows, and a flagged row goes the exact way.
  auto flagged = tx.exec(
      "WITH k AS (SELECT b.n, x, lower(x) AS key FROM import_batch b,"
      "   LATERAL (VALUES (b.login), (b.email), (b.phone)) v(x) WHERE coalesce(x, '') <> '')"
      " SELECT n FROM k WHERE EXISTS (SELECT 1 FROM users u WHERE lower(u.login) = k.key"
      "   OR lower(u.email) = k.key OR u.phone = k.x)"
      " UNION SELECT n FROM k WHERE key IN (SELECT key FROM k GROUP BY key HAVING count(DISTINCT n) > 1)"
      " UNION SELECT b.n FROM import_batch b JOIN users u ON u.id = nullif(b.id, '')::bigint"
      " ORDER BY 1");
  std::string excluded = "{";
  for (auto r : flagged) {
    left.push_back(r[0].as<std::size_t>());
    excluded += (excluded.size() > 1 ? "," : "") + std::to_string(left.back());
  }
  tx.exec_params(
      "INSERT INTO users (id, login, email, phone, password_hash, first_name, last_name, display_name, roles,"
      " origin, wordpress_pass)"
      " SELECT coalesce(nullif(b.id, '')::bigint, nextval('users_id_seq')), b.login, b.email, nullif(b.phone, ''),"
      " b.password_hash,"
      " coalesce(b.first_name, ''), coalesce(b.last_name, ''), coalesce(b.display_name, ''), b.roles::text[],"
      " b.origin, nullif(b.wordpress_pass, '') FROM import_batch b WHERE b.n <> ALL ($1::int[]) ORDER BY b.n",
      excluded + "}");
  return left;
}

void update(pqxx::transaction_base& tx, const user& u) {
  if (auto why = identifier_conflict(tx, u); !why.empty()) throw conflict(why);
  tx.exec_params(
      "UPDATE users SET login = $2, email = $3, phone = nullif($4, ''), first_name = $5, last_name = $6,"
      " display_name = $7, roles = $8::text[], origin = $9, updated_at = now() WHERE id = $1",
      u.id, u.login, u.email, u.phone, u.first_name, u.last_name, u.display_name.empty() ? u.login : u.display_name,
      roles_literal(u.roles.empty() ? std::vector<std::string>{"customer"} : u.roles), origin_name(u.owner));
}

void advance_id_sequence(pqxx::transaction_base& tx) {
  tx.exec("SELECT setval('users_id_seq', greatest((SELECT coalesce(max(id), 0) FROM users),"
          " (SELECT last_value FROM users_id_seq)))");
}

void set_wordpress_pass(pqxx::transaction_base& tx, std::int64_t id, const std::string& wordpress_hash) {
  tx.exec_params("UPDATE users SET wordpress_pass = $2 WHERE id = $1", id, wordpress_hash);
}

void set_password_hash(pqxx::transaction_base& tx, std::int64_t id, const std::string& hash) {
  tx.exec_params("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1", id, hash);
}

bool remove(pqxx::transaction_base& tx, std::int64_t id) {
  return tx.exec_params("DELETE FROM users WHERE id = $1", id).affected_rows() > 0;
}

std::vector<user> list(pqxx::transaction_base& tx, std::int64_t offset, std::int64_t limit) {
  std::vector<user> out;
  for (auto row : tx.exec_params(std::string("SELECT ") + columns +
                                     " FROM users ORDER BY id OFFSET $1 LIMIT $2",
                                 offset, limit)) {
    out.push_back(from_row(row));
  }
  return out;
}

std::string role_label(const std::vector<std::string>& roles) {
  std::string out;
  for (auto& slug : roles) {
    if (!out.empty()) out += ", ";
    bool start = true;
    for (char c : slug) {
      if (c == '_' || c == '-') {
        out += ' ';
        start = true;
      } else {
        out += start ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
        start = false;
      }
    }
  }
  return out;
}

bool valid_login(std::string_view login) {
  if (login.empty() || login.size() > 60) return false;
  return std::all_of(login.begin(), login.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '@' || c == ' ';
  });
}

bool valid_email(std::string_view email) {
  auto at = email.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= email.size() || email.size() > 254) return false;
  if (email.find('@', at + 1) != std::string_view::npos) return false;
  if (email.substr(at).find('.') == std::string_view::npos) return false;
  return std::none_of(email.begin(), email.end(), [](unsigned char c) {
    return c <= 0x20 || c == '<' || c == '>' || c == '"' || c == ',' || c == 0x7f;
  });
}

}  // namespace cartgate::users
