// `cartgate serve` and `cartgate migrate`.
#include <iostream>

#include "cli.h"
#include "infra/log.h"
#include "infra/migrate.h"
#include "supervisor.h"

namespace cartgate::cli {

void register_server(CLI::App& app, context& ctx) {
  auto* serve_cmd = app.add_subcommand("serve", "Run the FastCGI worker pool");
  serve_cmd->callback([&ctx] {
    const auto& cfg = ctx.configuration();
    log::level l;
    if (!log::parse_level(cfg.log_level, &l)) throw cli_error("server.log_level must be error, warn, info or debug");
    log::set_level(l);
    std::string path = ctx.config_path;
    int rc = serve(cfg, [path] { return cartgate::config::load(path); });
    if (rc != 0) throw cli_error("the worker pool stopped with an error");
  });

  auto* migrate_cmd = app.add_subcommand("migrate", "Apply sql/ migrations (idempotent)");
  migrate_cmd->callback([&ctx] {
    auto applied = apply_migrations(ctx.db(), [](std::string_view line) {
      std::cerr << "cartgate: " << line << '\n';
    });
    if (applied.empty()) {
      std::cout << "schema is up to date\n";
    } else {
      std::cout << "applied " << applied.size() << " migration(s)\n";
    }
  });
}

}  // namespace cartgate::cli
