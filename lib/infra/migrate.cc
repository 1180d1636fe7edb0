#include "infra/migrate.h"

#include <set>

namespace cartgate {
namespace {

constexpr long long advisory_lock_key = 0x63617274676174;  // "cartgat"

std::set<std::string> applied_names(pqxx::connection& conn) {
  pqxx::work w(conn);
  w.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
  std::set<std::string> out;
  for (auto row : w.exec("SELECT version FROM schema_migrations")) out.insert(row[0].c_str());
  w.commit();
  return out;
}

}  // namespace

std::vector<std::string> pending_migrations(pqxx::connection& conn) {
  auto done = applied_names(conn);
  std::vector<std::string> out;
  for (auto& m : migrations()) {
    if (!done.count(std::string(m.name))) out.emplace_back(m.name);
  }
  return out;
}

std::vector<std::string> apply_migrations(pqxx::connection& conn,
                                          const std::function<void(std::string_view)>& progress) {
  {
    pqxx::nontransaction n(conn);
    n.exec_params("SELECT pg_advisory_lock($1)", advisory_lock_key);
  }
  std::vector<std::string> applied;
  try {
    auto done = applied_names(conn);
    for (auto& m : migrations()) {
      std::string name(m.name);
      if (done.count(name)) continue;
      if (progress) progress("applying " + name);
      pqxx::work w(conn);
      w.exec(std::string(m.sql));
      w.exec_params("INSERT INTO schema_migrations (version) VALUES ($1)", name);
      w.commit();
      applied.push_back(name);
    }
  } catch (...) {
    pqxx::nontransaction n(conn);
    n.exec_params("SELECT pg_advisory_unlock($1)", advisory_lock_key);
    throw;
  }
  pqxx::nontransaction n(conn);
  n.exec_params("SELECT pg_advisory_unlock($1)", advisory_lock_key);
  return applied;
}

}  // namespace cartgate
