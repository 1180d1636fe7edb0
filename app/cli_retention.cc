// `cartgate retention run`: one pruning pass now, with the stored retention options
// (lib/store/retention.h), printing each table's progress on stderr and a line per table
// on stdout. Safe beside the workers' scheduled pass: both delete in small batches and
// skip each other's locked rows.
#include <ctime>
#include <iomanip>
#include <iostream>

#include "cli.h"
#include "store/options.h"
#include "store/retention.h"

namespace cartgate::cli {

void register_retention(CLI::App& app, context& ctx) {
  static std::int64_t batch_rows = 0;
  auto* cmd = app.add_subcommand("retention", "Pruning of rows past their retention");
  cmd->require_subcommand(1);
  auto* run = cmd->add_subcommand("run", "Run one pruning pass now");
  run->add_option("--batch-rows", batch_rows, "Rows per batch (default: retention.batch_rows)")
      ->check(CLI::Range(1, 1000000));
  run->callback([&ctx] {
    policy p;
    {
      pqxx::read_transaction t(ctx.db());
      p = stored_options::load_policy(t);
    }
    auto s = retention::settings::from(p);
    if (batch_rows > 0) s.batch_rows = batch_rows;
    auto now = static_cast<std::int64_t>(std::time(nullptr));
    auto result = retention::run_pass(ctx.db(), s, now, [](const std::string& table, std::int64_t so_far) {
      std::cerr << "cartgate: " << table << ": " << so_far << " row(s) deleted so far\n";
    });
    for (auto& r : result) {
      std::cout << r.target << ": deleted " << r.rows << " row(s) in " << std::fixed << std::setprecision(2)
                << r.seconds << " s" << (r.complete ? "" : " (incomplete: lock not available)") << '\n';
    }
  });
}

}  // namespace cartgate::cli
