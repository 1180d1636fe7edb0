#include "cli.h"

#include <unistd.h>

#include <iostream>

namespace cartgate::cli {

const cartgate::config& context::configuration() {
  if (!cfg) cfg = cartgate::config::load(config_path);
  return *cfg;
}

pqxx::connection& context::db() {
  if (!conn) {
    try {
      conn = std::make_unique<pqxx::connection>(configuration().database_url);
    } catch (const std::exception& e) {
      throw cli_error(std::string("cannot connect to the database: ") + e.what());
    }
  }
  return *conn;
}

std::string read_stdin_line() {
  std::string line;
  if (!std::getline(std::cin, line) && line.empty()) {
    throw cli_error("expected a password on standard input");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

bool stdin_is_terminal() { return isatty(STDIN_FILENO) != 0; }

}  // namespace cartgate::cli

