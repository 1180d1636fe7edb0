// Glue shared by the admin verbs: lazy access to the configuration and the database, and
// the error type whose message becomes the one-line reason on stderr (exit status 1).
#pragma once

#include <CLI/CLI.hpp>
#include <pqxx/pqxx>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "infra/config.h"

namespace cartgate::cli {

class cli_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct context {
  std::string config_path;
  std::optional<cartgate::config> cfg;
  std::unique_ptr<pqxx::connection> conn;

  const cartgate::config& configuration();
  pqxx::connection& db();
};

// Runs fn; an exception of type E becomes a cli_error with its message (the one line the
// operator sees).
template <typename E, typename Fn>
auto as_cli_error(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const E& e) {
    throw cli_error(e.what());
  }
}

// Reads the first line of stdin (the newline is optional); used for passwords.
std::string read_stdin_line();
bool stdin_is_terminal();

// Each file registers its verbs on the root app.
void register_server(CLI::App& app, context& ctx);   // serve, migrate
void register_options(CLI::App& app, context& ctx);  // option …
void register_users(CLI::App& app, context& ctx);    // user …
void register_jwt(CLI::App& app, context& ctx);      // jwt …, events tail
void register_twofactor(CLI::App& app, context& ctx);  // 2fa …
void register_rules(CLI::App& app, context& ctx);    // device …, schedule …, client …
void register_wordpress(CLI::App& app, context& ctx);  // wordpress …
void register_retention(CLI::App& app, context& ctx);  // retention run

}  // namespace cartgate::cli
