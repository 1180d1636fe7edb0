// The options table: the stored values of the runtime policy (contract §7). Writing a row
// fires NOTIFY cartgate_options (a trigger in sql/001_init.sql), and every worker re-reads
// the whole table. Values are validated before they are written (policy/options.h).
//
//   auto stored = stored_options::read_all(tx);           // key → canonical text
//   policy p = stored_options::load_policy(tx);           // throws option_error
//   stored_options::set(tx, "jwt.max_sessions", "3");
#pragma once

#include <pqxx/pqxx>

#include <map>
#include <optional>
#include <string>

#include "policy/options.h"

namespace cartgate::stored_options {

std::map<std::string, std::string> read_all(pqxx::transaction_base& tx);
// The snapshot the stored values make (defaults for the rest). Throws option_error when
// a stored value no longer validates.
policy load_policy(pqxx::transaction_base& tx);
std::optional<std::string> get(pqxx::transaction_base& tx, const std::string& key);
// value must already be canonical (validate_option).
void set(pqxx::transaction_base& tx, const std::string& key, const std::string& value);
void unset(pqxx::transaction_base& tx, const std::string& key);

}  // namespace cartgate::stored_options
