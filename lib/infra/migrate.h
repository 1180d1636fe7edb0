// Schema migrations: sql/NNN_name.sql applied in order, each in its own transaction and
// recorded in schema_migrations, so running `cartgate migrate` twice changes nothing.
//
//   auto applied = apply_migrations(conn, [](auto line) { std::cerr << line << '\n'; });
#pragma once

#include <pqxx/pqxx>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace cartgate {

struct migration {
  std::string_view name;  // "001_init"
  std::string_view sql;
};

// Every migration the binary carries, in order (generated from sql/ at build time).
const std::vector<migration>& migrations();

// Applies the missing migrations; returns the names applied. Concurrent runs serialise on
// an advisory lock.
std::vector<std::string> apply_migrations(pqxx::connection& conn,
                                          const std::function<void(std::string_view)>& progress);

// Names of migrations not yet applied (empty when the schema is current).
std::vector<std::string> pending_migrations(pqxx::connection& conn);

}  // namespace cartgate
