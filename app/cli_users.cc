// `cartgate user add|import|passwd|delete|list`.
#include <chrono>
#include <fstream>
#include <iostream>
#include <optional>

#include "base/csv.h"
#include "base/text.h"
#include "cli.h"
#include "crypto/password.h"
#include "policy/options.h"
#include "store/audit.h"
#include "store/sessions.h"
#include "store/users.h"
#include "store/wordpress.h"

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

// Whether the row is in already: nullopt (no), true (the same account — a re-run), false
// (its id is held by a different account).
std::optional<bool> already_imported(pqxx::transaction_base& tx, const user& u) {
  if (u.id != 0) {
    auto have = users::find_by_id(tx, u.id);
    if (!have) return std::nullopt;
    return text::ascii_lower(have->login) == text::ascii_lower(u.login) &&
           text::ascii_lower(have->email) == text::ascii_lower(u.email);
  }
  auto exists = tx.exec_params(
      "SELECT 1 FROM users WHERE lower(login) = lower($1) OR lower(email) = lower($2)"
      " OR ($3 <> '' AND phone = $3)",
      u.login, u.email, u.phone);
  if (exists.empty()) return std::nullopt;
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
    if (!csv::read_record(in, header, line)) throw cli_error(file + " is empty");
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
    // Valid rows gather into batches: users::add_many inserts each batch's clash-free rows
    // in a few statements, and only the rows it leaves go through add() one by one, which
    // tells a re-run's row (already there) from a clash and names the clash.
    constexpr std::size_t batch_rows = 2000;
    std::vector<std::pair<std::size_t, user>> pending;
    auto started = std::chrono::steady_clock::now();
    auto last_report = started;
    auto one_by_one = [&](std::size_t at, const user& u) {
      if (auto same = already_imported(*w, u)) {
        if (*same) {
          ++skipped;  // already there: a re-run of the same import changes nothing
        } else {
          std::cerr << "cartgate: " << file << ":" << at << ": user id " << u.id << " is another account ("
                    << u.login << " <" << u.email << ">)\n";
          ++failed;
        }
        return;
      }
      try {
        // A row that clashes rolls back alone; the rows around it still import.
        pqxx::subtransaction row_tx(*w, "import_row");
        users::add(row_tx, u);
        row_tx.commit();
      } catch (const users::conflict& e) {
        std::cerr << "cartgate: " << file << ":" << at << ": " << e.what() << '\n';
        ++failed;
        return;
      }
      ++imported;
    };
    auto flush = [&] {
      if (pending.empty()) return;
      std::vector<user> batch;
      batch.reserve(pending.size());
      for (auto& p : pending) batch.push_back(p.second);
      auto left = users::add_many(*w, batch);
      imported += batch.size() - left.size();
      for (auto i : left) one_by_one(pending[i].first, pending[i].second);
      pending.clear();
      w->commit();
      w = std::make_unique<pqxx::work>(ctx.db());
      auto now = std::chrono::steady_clock::now();
      if (now - last_report >= std::chrono::seconds(2)) {
        last_report = now;
        double s = std::chrono::duration<double>(now - started).count();
        std::cerr << "cartgate: imported " << imported << " users (line " << line << ", "
                  << static_cast<long long>(imported / (s > 0 ? s : 1)) << " users/s)\n";
      }
    };
    while (true) {
      std::size_t at = line;
      if (!csv::read_record(in, row, line)) break;
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
      // WordPress's accounts keep WordPress's id (contract §8): carts, orders and addresses
      // are keyed by it. A row whose id, login, email or phone belongs to another account
      // is reported, never renumbered.
      std::string id_text = get("ID");
      if (!id_text.empty()) {
        try {
          std::size_t used = 0;
          u.id = std::stoll(id_text, &used);
          if (used != id_text.size() || u.id <= 0) throw std::invalid_argument("ID");
        } catch (const std::exception&) {
          std::cerr << "cartgate: " << file << ":" << at << ": invalid ID '" << id_text << "'\n";
          ++failed;
          continue;
        }
        u.owner = origin::wordpress;
        u.wordpress_pass = u.password_hash;
      }
      pending.push_back({at, std::move(u)});
      if (pending.size() == batch_rows) flush();
    }
    flush();
    users::advance_id_sequence(*w);
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
    // One password per customer (contract §8): an account WordPress owns gets the new
    // password there too, first, so a failure there changes nothing here.
    std::string wordpress_hash;
    if (u.owner == origin::wordpress) {
      if (!ctx.configuration().wordpress_enabled()) {
        throw cli_error(u.login + " belongs to WordPress and no [wordpress] database is configured: change the password in WordPress");
      }
      wordpress_hash = password::hash_bcrypt(pw);
      try {
        wordpress::database wp(wordpress::settings::from_config(ctx.configuration()));
        if (!wp.find(u.id)) throw cli_error(u.login + " is no longer a WordPress user");
        wp.set_password_hash(u.id, wordpress_hash);
      } catch (const mariadb::error& e) {
        throw cli_error(std::string("the password was not changed: ") + e.what());
      }
    }
    pqxx::work w(ctx.db());
    users::set_password_hash(w, u.id, hash);
    if (!wordpress_hash.empty()) users::set_wordpress_pass(w, u.id, wordpress_hash);
    int n = sessions::revoke_user(w, u.id, "password_changed");
    audit::record(w, "password_changed", u.id, "", "", Json::Value(Json::objectValue));
    w.commit();
    std::cerr << "cartgate: password changed; " << n << " session(s) revoked\n";
  });

  auto* del = user_cmd->add_subcommand("delete", "Delete a user and everything of theirs");
  del->add_option("user", target)->required();
  del->callback([&ctx] {
    user u = resolve(ctx, target);
    // WordPress owns its accounts (contract §8): deleting one here would be undone by the
    // next change WordPress reports, and the customer would keep a WordPress login.
    if (u.owner == origin::wordpress) {
      throw cli_error(u.login + " belongs to WordPress: delete the user there (Users in wp-admin); cartgate follows within a second");
    }
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

  auto* list = user_cmd->add_subcommand("list", "List users: id, login, email, roles, origin");
  list->callback([&ctx] {
    pqxx::read_transaction t(ctx.db());
    std::int64_t offset = 0;
    while (true) {
      auto page = users::list(t, offset, 1000);
      for (auto& u : page) {
        std::string r;
        for (auto& role : u.roles) r += (r.empty() ? "" : ",") + role;
        std::cout << u.id << '\t' << u.login << '\t' << u.email << '\t' << r << '\t'
                  << (u.owner == origin::wordpress ? "wordpress" : "cartgate") << '\n';
      }
      if (page.size() < 1000) break;
      offset += 1000;
    }
  });
}

}  // namespace cartgate::cli
