// `cartgate device|schedule|client …`: the data behind the permission rules (contract §5).
// Devices and schedules belong to a user (USER = id, email or login); clients are global.
#include <iomanip>
#include <iostream>

#include "cli.h"
#include "policy/schedule.h"
#include "policy/semver.h"
#include "store/access_lists.h"
#include "store/users.h"

namespace cartgate::cli {
namespace {

user must_find(pqxx::transaction_base& tx, const std::string& who) {
  auto u = users::find(tx, who);
  if (!u) throw cli_error("no such user '" + who + "'");
  return *u;
}

std::string hhmm(int minute) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%02d:%02d", minute / 60, minute % 60);
  return buf;
}

bool printable_id(const std::string& s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (unsigned char c : s) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

const char* const day_names[] = {"Sunday", "Monday", "Tuesday", "Wednesday",
                                 "Thursday", "Friday", "Saturday"};

}  // namespace

void register_rules(CLI::App& app, context& ctx) {
  static std::string who, device_id, label, from, to, client_id, min_version;
  static int day = -1;

  // Each verb is a block of the same shape (options, then a callback in one transaction):
  // CLI11's registration style, kept flat so each verb reads on its own.
  // device add|list|remove
  auto* device = app.add_subcommand("device", "Devices registered for login (device.required)");
  device->require_subcommand(1);
  auto* dadd = device->add_subcommand("add", "Register DEVICE_ID for USER");
  dadd->add_option("user", who, "id, email or login")->required();
  dadd->add_option("device_id", device_id)->required();
  dadd->add_option("--label", label, "A note for humans, e.g. \"Alice's iPhone\"");
  dadd->callback([&ctx] {
    if (!printable_id(device_id, 200)) throw cli_error("device id must be 1-200 printable characters");
    pqxx::work w(ctx.db());
    auto u = must_find(w, who);
    access_lists::add_device(w, u.id, device_id, label);
    w.commit();
  });
  auto* dlist = device->add_subcommand("list", "Devices of USER: id, label, registered at");
  dlist->add_option("user", who)->required();
  dlist->callback([&ctx] {
    pqxx::read_transaction t(ctx.db());
    auto u = must_find(t, who);
    for (const auto& d : access_lists::devices_of(t, u.id)) {
      std::cout << d.id << '\t' << d.label << '\t' << d.created_at << '\n';
    }
  });
  auto* dremove = device->add_subcommand("remove", "Unregister DEVICE_ID from USER");
  dremove->add_option("user", who)->required();
  dremove->add_option("device_id", device_id)->required();
  dremove->callback([&ctx] {
    pqxx::work w(ctx.db());
    auto u = must_find(w, who);
    if (!access_lists::remove_device(w, u.id, device_id)) throw cli_error("device '" + device_id + "' is not registered for that user");
    w.commit();
  });

  // schedule set|clear|list
  auto* sched = app.add_subcommand("schedule", "Weekly login windows (site.timezone)");
  sched->require_subcommand(1);
  auto* sset = sched->add_subcommand("set", "Add a window on DAY (0 = Sunday); --to < --from runs past midnight");
  sset->add_option("user", who)->required();
  sset->add_option("--day", day, "0-6, 0 = Sunday")->required();
  sset->add_option("--from", from, "HH:MM")->required();
  sset->add_option("--to", to, "HH:MM")->required();
  sset->callback([&ctx] {
    std::string error;
    auto w = schedule::parse_window(day, from, to, &error);
    if (!w) throw cli_error(error);
    pqxx::work tx(ctx.db());
    auto u = must_find(tx, who);
    access_lists::add_window(tx, u.id, *w);
    tx.commit();
  });
  auto* sclear = sched->add_subcommand("clear", "Remove every window of USER (unrestricted again)");
  sclear->add_option("user", who)->required();
  sclear->callback([&ctx] {
    pqxx::work tx(ctx.db());
    auto u = must_find(tx, who);
    access_lists::clear_windows(tx, u.id);
    tx.commit();
  });
  auto* slist = sched->add_subcommand("list", "Windows of USER: day, from, to");
  slist->add_option("user", who)->required();
  slist->callback([&ctx] {
    pqxx::read_transaction t(ctx.db());
    auto u = must_find(t, who);
    for (const auto& w : access_lists::windows_of(t, u.id, access_lists::window_order::by_day)) {
      std::cout << w.day << '\t' << day_names[w.day] << '\t' << hhmm(w.from_minute) << '\t'
                << hhmm(w.to_minute) << '\n';
    }
  });

  // client add|remove|list
  auto* client = app.add_subcommand("client", "Known app clients (X-Client-ID, X-App-Version)");
  client->require_subcommand(1);
  auto* cadd = client->add_subcommand("add", "Register CLIENT_ID (again: updates its minimum)");
  cadd->add_option("client_id", client_id)->required();
  cadd->add_option("--min-version", min_version, "Oldest X-App-Version accepted (X.Y.Z)");
  cadd->callback([&ctx] {
    if (!printable_id(client_id, 200)) throw cli_error("client id must be 1-200 printable characters");
    if (!min_version.empty() && !semver::is_valid(min_version)) {
      throw cli_error("'" + min_version + "' is not a semantic version (X.Y.Z)");
    }
    pqxx::work w(ctx.db());
    access_lists::add_client(w, {client_id, min_version});
    w.commit();
  });
  auto* cremove = client->add_subcommand("remove", "Forget CLIENT_ID (its requests then get 400)");
  cremove->add_option("client_id", client_id)->required();
  cremove->callback([&ctx] {
    pqxx::work w(ctx.db());
    if (!access_lists::remove_client(w, client_id)) throw cli_error("no such client '" + client_id + "'");
    w.commit();
  });
  auto* clist = client->add_subcommand("list", "Known clients: id, minimum version");
  clist->callback([&ctx] {
    pqxx::read_transaction t(ctx.db());
    for (const auto& c : access_lists::clients(t)) std::cout << c.id << '\t' << c.min_version << '\n';
  });
}

}  // namespace cartgate::cli
