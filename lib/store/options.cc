#include "store/options.h"

namespace cartgate::stored_options {

std::map<std::string, std::string> read_all(pqxx::transaction_base& tx) {
  std::map<std::string, std::string> stored;
  for (auto row : tx.exec("SELECT key, value FROM options")) stored[row[0].c_str()] = row[1].c_str();
  return stored;
}

policy load_policy(pqxx::transaction_base& tx) { return policy::from_values(read_all(tx)); }

std::optional<std::string> get(pqxx::transaction_base& tx, const std::string& key) {
  auto rows = tx.exec_params("SELECT value FROM options WHERE key = $1", key);
  if (rows.empty()) return std::nullopt;
  return std::string(rows[0][0].c_str());
}

void set(pqxx::transaction_base& tx, const std::string& key, const std::string& value) {
  tx.exec_params(
      "INSERT INTO options (key, value) VALUES ($1, $2) "
      "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
      key, value);
}

void unset(pqxx::transaction_base& tx, const std::string& key) {
  tx.exec_params("DELETE FROM options WHERE key = $1", key);
}

}  // namespace cartgate::stored_options
