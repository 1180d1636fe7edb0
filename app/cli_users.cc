// `cartgate user add|import|passwd|delete|list`.
#include <fstream>
#include <iostream>

#include "base/text.h"
#include "cli.h"
#include "crypto/password.h"
#include "policy/options.h"
#include "store/audit.h"
#include "store/sessions.h"
#include "store/users.h"

namespace cartgate::cli {
namespace {

password::argon2_params argon(const config& c) {
  return {c.argon2_memory_kib, c.argon2_iterations, c.argon2_parallelism};
}

bool valid_role(const std::string& r) {
  if (r.empty() || r.size() > 64) return false;
  for (char c : r) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

// RFC 4180 CSV: quoted fields, doubled quotes, newlines inside quotes.
bool read_csv_record(std::istream& in, std::vector<std::string>& fields, std::size_t& line) {
  fields.clear();
  std::string field;
  bool quoted = false, any = false;
  char c;
  while (in.get(c)) {
    any = true;
    if (quoted) {
      if (c == '"') {
        if (in.peek() == '"') {
          in.get(c);
          field += '"';
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      ++line;
      fields.push_back(std::move(field));
      return true;
    } else if (c != '\r') {
      field += c;
    }
  }
  if (!any) return false;
  fields.push_back(std::move(field));
  return true;
}

user resolve(context& ctx, const std::string& key) {
  pqxx::read_transaction t(ctx.db());
  auto u = users::find(t, key);
  if (!u) throw cli_error("no user '" + key + "'");
  return *u;
}

}  // namespace

void register_users(CLI::App& app, context& ctx) {
  auto* user_cmd = app.add_subcommand("user", "Manage customer accounts");
  user_cmd->require_subcommand(1);

  static std::string login, email, first_name, last_name, display_name, phone, target, file, format;
  static std::vector<std::string> roles;

  auto* add = user_cmd->add_subcommand("add", "Create a user; the password is read from stdin");
  add->add_option("login", login)->required();
  add->add_option("--email", email)->required();
  add->add_option("--first-name", first_name);
  add->add_option("--last-name", last_name);
  add->add_option("--display-name", display_name);
  add->add_option("--role", roles, "Role slug (repeatable); default customer");
  add->add_option("--phone", phone);
  add->callback([&ctx] {
    if (!users::valid_login(login)) throw cli_error("invalid login '" + login + "'");
    if (!users::valid_email(email)) throw cli_error("invalid email '" + email + "'");
    for (auto& r : roles) {
      if (!valid_role(r)) throw cli_error("invalid role slug '" + r + "'");
    }
    std::string pw = read_stdin_line();
    if (pw.empty()) throw cli_error("the password must not be empty");
    user u;
    u.login = login;
    u.email = email;
    u.first_name = first_name;
    u.last_name = last_name;
    u.display_name = display_name;
    u.phone = phone;
    u.roles = roles;
    u.password_hash = password::hash(pw, argon(ctx.configuration()));
    pqxx::work w(ctx.db());
    std::int64_t id;
    try {
      id = users::add(w, u);
    } catch (const users::conflict& e) {
      throw cli_error(e.what());
    }
    w.commit();
    std::cout << id << '\n';
  });

  auto* import = user_cmd->add_subcommand(
      "import", "Import a WordPress users CSV, keeping its password hashes (upgraded on first login)");
  import->add_option("--format", format, "Only 'wordpress'")->required();
  import->add_option("file", file)->required();
  import->callback([&ctx] {
    if (format != "wordpress") throw cli_error("--format must be wordpress");
    std::ifstream in(file);
    if (!in) throw cli_error("cannot read " + file);
    std::vector<std::string> header, row;
    std::size_t line = 1;
    if (!read_csv_record(in, header, line)) throw cli_error(file + " is empty");
    std::map<std::string, std::size_t> col;
    for (std::size_t i = 0; i < header.size(); ++i) {
      std::string h = header[i];
      if (i == 0 && h.size() >= 3 && h.compare(0, 3, "\xEF\xBB\xBF") == 0) h.erase(0, 3);  // BOM
      col[h] = i;
    }
    for (const char* need : {"user_login", "user_email", "user_pass"}) {
      if (!col.count(need)) throw cli_error(file + ": missing column " + need);
    }
    auto get = [&](const char* name) -> std::string {
      auto it = col.find(name);
      return it == col.end() || it->second >= row.size() ? std::string() : row[it->second];
    };
    std::size_t imported = 0, skipped = 0, failed = 0;
    auto w = std::make_unique<pqxx::work>(ctx.db());
    while (true) {
      std::size_t at = line;
      if (!read_csv_record(in, row, line)) break;
      if (row.size() == 1 && row[0].empty()) continue;
      user u;
      // One line per column of the WordPress export (README, "Importing WordPress users").
      u.login = get("user_login");
      u.email = get("user_email");
      u.password_hash = get("user_pass");
      u.first_name = get("first_name");
      u.last_name = get("last_name");
      u.display_name = get("display_name");
      u.phone = get("billing_phone");
      if (u.phone.empty()) u.phone = get("phone");
      for (auto& r : text::split_list(get("roles"))) {
        if (valid_role(r)) u.roles.push_back(r);
      }
      std::string problem;
      if (!users::valid_login(u.login)) problem = "invalid user_login";
      else if (!users::valid_email(u.email)) problem = "invalid user_email";
      else if (password::scheme_of(u.password_hash) == password::scheme::unknown) problem = "unsupported user_pass hash";
      if (!problem.empty()) {
        std::cerr << "cartgate: " << file << ":" << at << ": " << problem << '\n';
        ++failed;
        continue;
      }
      auto exists = w->exec_params(
          "SELECT 1 FROM users WHERE lower(login) = lower($1) OR lower(email) = lower($2)"
          " OR ($3 <> '' AND phone = $3)",
          u.login, u.email, u.phone);
      if (!exists.empty()) {
        ++skipped;  // already there: a re-run of the same import changes nothing
        continue;
      }
      users::add(*w, u);
      ++imported;
      if (imported % 500 == 0) {
        w->commit();
        w = std::make_unique<pqxx::work>(ctx.db());
        std::cerr << "cartgate: imported " << imported << " users…\n";
      }
    }
    w->commit();
    std::cout << "imported " << imported << ", already present " << skipped << ", failed " << failed << '\n';
    if (failed) throw cli_error(std::to_string(failed) + " row(s) could not be imported");
  });

  auto* passwd = user_cmd->add_subcommand("passwd", "Set a new password (stdin); ends every session");
  passwd->add_option("user", target)->required();
  passwd->callback([&ctx] {
    user u = resolve(ctx, target);
    std::string pw = read_stdin_line();
    if (pw.empty()) throw cli_error("the password must not be empty");
    std::string hash = password::hash(pw, argon(ctx.configuration()));
    pqxx::work w(ctx.db());
    users::set_password_hash(w, u.id, hash);
    int n = sessions::revoke_user(w, u.id, "password_changed");
    audit::record(w, "password_changed", u.id, "", "", Json::Value(Json::objectValue));
    w.commit();
    std::cerr << "cartgate: password changed; " << n << " session(s) revoked\n";
  });

  auto* del = user_cmd->add_subcommand("delete", "Delete a user and everything of theirs");
  del->add_option("user", target)->required();
  del->callback([&ctx] {
    user u = resolve(ctx, target);
    pqxx::work w(ctx.db());
    sessions::revoke_user(w, u.id, "user_deleted");
    users::remove(w, u.id);
    audit::record(w, "user_deleted", 0, "", "", [&] {
      Json::Value d(Json::objectValue);
      d["user_id"] = std::to_string(u.id);
      return d;
    }());
    w.commit();
  });

  auto* list = user_cmd->add_subcommand("list", "List users: id, login, email, roles");
  list->callback([&ctx] {
    pqxx::read_transaction t(ctx.db());
    std::int64_t offset = 0;
    while (true) {
      auto page = users::list(t, offset, 1000);
      for (auto& u : page) {
        std::string r;
        for (auto& role : u.roles) r += (r.empty() ? "" : ",") + role;
        std::cout << u.id << '\t' << u.login << '\t' << u.email << '\t' << r << '\n';
      }
      if (page.size() < 1000) break;
      offset += 1000;
    }
  });
}

}  // namespace cartgate::cli
