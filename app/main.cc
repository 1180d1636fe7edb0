// cartgate: the FastCGI worker pool and its admin CLI, one binary. main() registers
// every verb (cli_*.cc) and turns a failure into one line on stderr and exit status 1.
#include <sys/prctl.h>

#include <cstdlib>
#include <iostream>

#include "cli.h"

int main(int argc, char** argv) {
  using namespace cartgate;
  // No core dumps and no ptrace by the same user, in every process (the CLI reads the
  // same keys and secrets as the pool; fork() keeps this for the workers).
  prctl(PR_SET_DUMPABLE, 0);
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
  cli::register_wordpress(app, ctx);
  cli::register_retention(app, ctx);

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
