#include "store/wordpress.h"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace cartgate::wordpress {
namespace {

constexpr const char* account_columns = "ID, user_login, user_email, user_pass, display_name";

account from_row(const mariadb::row& r) {
  account a;
  a.id = std::stoll(r[0].value_or("0"));
  a.login = r[1].value_or("");
  a.email = r[2].value_or("");
  a.password_hash = r[3].value_or("");
  a.display_name = r[4].value_or("");
  return a;
}

// "?, ?, ?" for n values.
std::string placeholders(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
  return out;
}

bool role_slug(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// One PHP-serialized scalar at `at`: s:N:"…"; b:0|1; i:N; — its text, and whether it is
// true as a capability value. Returns false when malformed.
bool scalar(std::string_view in, std::size_t& at, std::string* text, bool* truthy) {
  if (at + 2 > in.size() || in[at + 1] != ':') return false;
  char type = in[at];
  at += 2;
  if (type == 's') {
    auto colon = in.find(':', at);
    if (colon == std::string_view::npos) return false;
    std::size_t n = 0;
    for (std::size_t i = at; i < colon; ++i) {
      if (in[i] < '0' || in[i] > '9') return false;
      n = n * 10 + static_cast<std::size_t>(in[i] - '0');
      if (n > in.size()) return false;
    }
    at = colon + 1;
    if (at + n + 3 > in.size() || in[at] != '"' || in[at + n + 1] != '"' || in[at + n + 2] != ';') return false;
    std::string_view value = in.substr(at + 1, n);
    if (text) *text = std::string(value);
    if (truthy) *truthy = !value.empty() && value != "0";
    at += n + 3;
    return true;
  }
  if (type == 'b' || type == 'i') {
    auto semi = in.find(';', at);
    if (semi == std::string_view::npos) return false;
    std::string_view value = in.substr(at, semi - at);
    if (text) *text = std::string(value);
    if (truthy) *truthy = !value.empty() && value != "0";
    at = semi + 1;
    return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> roles_from_capabilities(std::string_view in) {
  // a:N:{key;value;…}
  if (in.rfind("a:", 0) != 0) return {};
  auto open = in.find(":{");
  if (open == std::string_view::npos) return {};
  std::size_t count = 0;
  for (std::size_t i = 2; i < open; ++i) {
    if (in[i] < '0' || in[i] > '9') return {};
    count = count * 10 + static_cast<std::size_t>(in[i] - '0');
    if (count > 1000) return {};
  }
  std::size_t at = open + 2;
  std::vector<std::string> roles;
  for (std::size_t i = 0; i < count; ++i) {
    std::string key;
    bool granted = false;
    if (!scalar(in, at, &key, nullptr) || !scalar(in, at, nullptr, &granted)) return {};
    if (granted && role_slug(key)) roles.push_back(key);
  }
  if (at >= in.size() || in[at] != '}') return {};
  return roles;
}

settings settings::from_config(const config& cfg) {
  settings s;
  s.db.socket = cfg.wordpress_socket;
  s.db.host = cfg.wordpress_host;
  s.db.port = static_cast<unsigned>(cfg.wordpress_port);
  s.db.database = cfg.wordpress_database;
  s.db.user = cfg.wordpress_user;
  s.db.password = cfg.wordpress_password;
  s.db.connect_timeout = static_cast<unsigned>(cfg.connect_timeout);
  s.table_prefix = cfg.wordpress_table_prefix;
  return s;
}

bool valid_table_prefix(std::string_view prefix) {
  return !prefix.empty() && prefix.size() <= 32 && std::all_of(prefix.begin(), prefix.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

database::database(const settings& s) : prefix_(s.table_prefix), db_(s.db) {
  // Table names cannot be parameters: the prefix is spliced in, so it is checked first.
  if (!valid_table_prefix(prefix_)) throw std::invalid_argument("wordpress.table_prefix must be [A-Za-z0-9_]+");
}

std::vector<outbox_row> database::outbox(std::size_t limit) {
  std::vector<outbox_row> out;
  for (auto& r : db_.query("SELECT id, user_id, event FROM " + prefix_ + "cartgate_outbox ORDER BY id LIMIT ?",
                           {std::to_string(limit)})) {
    out.push_back({std::stoull(r[0].value_or("0")), std::stoll(r[1].value_or("0")), r[2].value_or("")});
  }
  return out;
}

void database::forget(const std::vector<std::uint64_t>& ids) {
  for (std::size_t start = 0; start < ids.size(); start += 500) {
    std::size_t n = std::min<std::size_t>(500, ids.size() - start);
    std::vector<mariadb::value> params;
    for (std::size_t i = 0; i < n; ++i) params.push_back(std::to_string(ids[start + i]));
    db_.execute("DELETE FROM " + prefix_ + "cartgate_outbox WHERE id IN (" + placeholders(n) + ")", params);
  }
}

std::optional<account> database::find(std::int64_t id) {
  auto rows = db_.query(std::string("SELECT ") + account_columns + " FROM " + prefix_ + "users WHERE ID = ?",
                        {std::to_string(id)});
  if (rows.empty()) return std::nullopt;
  auto found = with_meta({from_row(rows[0])});
  return found.front();
}

std::vector<account> database::accounts_after(std::int64_t after, std::size_t limit) {
  std::vector<account> out;
  for (auto& r : db_.query(std::string("SELECT ") + account_columns + " FROM " + prefix_ +
                               "users WHERE ID > ? ORDER BY ID LIMIT ?",
                           {std::to_string(after), std::to_string(limit)})) {
    out.push_back(from_row(r));
  }
  return with_meta(std::move(out));
}

std::int64_t database::count_accounts() {
  auto rows = db_.query("SELECT COUNT(*) FROM " + prefix_ + "users");
  return rows.empty() ? 0 : std::stoll(rows[0][0].value_or("0"));
}

std::vector<account> database::with_meta(std::vector<account> accounts) {
  if (accounts.empty()) return accounts;
  std::map<std::int64_t, account*> by_id;
  std::vector<mariadb::value> params = {prefix_ + "capabilities"};
  for (auto& a : accounts) {
    by_id[a.id] = &a;
    params.push_back(std::to_string(a.id));
  }
  for (auto& r : db_.query("SELECT user_id, meta_key, meta_value FROM " + prefix_ +
                               "usermeta WHERE meta_key IN ('first_name', 'last_name', 'billing_phone', ?)"
                               " AND user_id IN (" +
                               placeholders(accounts.size()) + ")",
                           params)) {
    auto it = by_id.find(std::stoll(r[0].value_or("0")));
    if (it == by_id.end()) continue;
    const std::string key = r[1].value_or("");
    const std::string value = r[2].value_or("");
    account& a = *it->second;
    if (key == "first_name") a.first_name = value;
    else if (key == "last_name") a.last_name = value;
    else if (key == "billing_phone") a.phone = value;
    else a.roles = roles_from_capabilities(value);
  }
  return accounts;
}

void database::set_password_hash(std::int64_t id, const std::string& hash) {
  db_.execute("UPDATE " + prefix_ + "users SET user_pass = ?, user_activation_key = '' WHERE ID = ?",
              {hash, std::to_string(id)});
}

}  // namespace cartgate::wordpress
