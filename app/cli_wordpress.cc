// `cartgate wordpress backfill|status`: the account sync with the WordPress store
// (contract §8, lib/auth/account_sync.h). The running pool drains the outbox by itself;
// these verbs are for an existing store (backfill) and for looking (status).
#include <iostream>

#include "auth/account_sync.h"
#include "cli.h"
#include "store/users.h"
#include "store/wordpress.h"

namespace cartgate::cli {
namespace {

wordpress::database open_wordpress(context& ctx) {
  const config& cfg = ctx.configuration();
  if (!cfg.wordpress_enabled()) throw cli_error("no [wordpress] database is configured (wordpress.database)");
  return as_cli_error<mariadb::error>([&] { return wordpress::database(wordpress::settings::from_config(cfg)); });
}

}  // namespace

void register_wordpress(CLI::App& app, context& ctx) {
  auto* wp = app.add_subcommand("wordpress", "Accounts kept in step with the WordPress store");
  wp->require_subcommand(1);

  static std::size_t page = 500;
  auto* backfill = wp->add_subcommand(
      "backfill", "Copy every existing WordPress user into cartgate, keeping ids (safe to re-run)");
  backfill->add_option("--page", page, "Users per transaction")->check(CLI::Range(1, 10000));
  backfill->callback([&ctx] {
    auto db = open_wordpress(ctx);
    std::int64_t changed = 0;
    try {
      changed = account_sync::backfill(ctx.db(), db, page, [](std::int64_t done, std::int64_t total) {
        std::cerr << "cartgate: backfill " << done << "/" << total << " users\n";
      });
      pqxx::work w(ctx.db());
      users::advance_id_sequence(w);
      w.commit();
    } catch (const mariadb::error& e) {
      throw cli_error(e.what());
    }
    std::cout << "changed " << changed << " account(s)\n";
  });

  auto* status = wp->add_subcommand("status", "WordPress users, outbox rows waiting, and how far they were applied");
  status->callback([&ctx] {
    auto db = open_wordpress(ctx);
    pqxx::read_transaction t(ctx.db());
    auto last = t.exec("SELECT last_outbox_id, updated_at FROM wordpress_sync");
    auto mirrored = t.exec("SELECT count(*) FROM users WHERE origin = 'wordpress'")[0][0].as<std::int64_t>();
    std::cout << "wordpress_users\t" << db.count_accounts() << '\n'
              << "mirrored_accounts\t" << mirrored << '\n'
              << "outbox_waiting\t" << db.outbox(100000).size() << '\n'
              << "last_applied_outbox_id\t" << (last.empty() ? "0" : last[0][0].c_str()) << '\n';
  });
}

}  // namespace cartgate::cli
