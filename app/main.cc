// cartgate: the FastCGI worker pool and its admin CLI, one binary.
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "cli.h"
#include "db.h"
#include "log.h"

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

int main(int argc, char** argv) {
  using namespace cartgate;
  CLI::App app{"cartgate: CoCart-compatible authentication for headless WooCommerce"};
  app.require_subcommand(1);
  cli::context ctx;
  const char* env_config = std::getenv("CARTGATE_CONFIG");
  ctx.config_path = env_config ? env_config : "";
  app.add_option("-c,--config", ctx.config_path, "TOML config file (env CARTGATE_CONFIG)");

  cli::register_server(app, ctx);
  cli::register_options(app, ctx);
  cli::register_users(app, ctx);
  cli::register_jwt(app, ctx);
  cli::register_twofactor(app, ctx);
  cli::register_rules(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const cli::cli_error& e) {
    std::cerr << "cartgate: " << e.what() << '\n';
    return 1;
  } catch (const config_error& e) {
    std::cerr << "cartgate: " << e.what() << '\n';
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "cartgate: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
