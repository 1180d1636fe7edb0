// `cartgate 2fa …`: two-factor enrolment by an operator (contract §5). A key enabled here
// is active at once (no code needed, unlike the REST route), and secrets are printed
// only on stdout, once.
#include <iostream>

#include "auth/twofactor.h"
#include "cli.h"
#include "crypto/totp.h"
#include "store/users.h"

namespace cartgate::cli {
namespace {

user find_user(pqxx::transaction_base& tx, const std::string& who) {
  auto u = users::find(tx, who);
  if (!u) throw cli_error("no such user: " + who);
  return *u;
}

twofactor::provider parse_provider_arg(const std::string& name) {
  auto p = twofactor::parse_provider(name);
  if (!p) throw cli_error("unknown provider '" + twofactor::sanitize_provider_name(name) +
                          "' (expected email, totp or backup)");
  return *p;
}

twofactor::keys load_keys(context& ctx) {
  return as_cli_error<std::runtime_error>([&] { return twofactor::keys::from_config(ctx.configuration()); });
}

}  // namespace

void register_twofactor(CLI::App& app, context& ctx) {
  auto* tf = app.add_subcommand("2fa", "Two-factor enrolment: TOTP, email codes, backup codes");
  tf->require_subcommand(1);
  static std::string who, provider_arg;

  // Each verb is a block of the same shape (options, then a callback in one transaction):
  // CLI11's registration style, kept flat so each verb reads on its own.
  auto* totp_cmd = tf->add_subcommand("totp", "TOTP authenticator apps");
  totp_cmd->require_subcommand(1);
  auto* totp_enable = totp_cmd->add_subcommand(
      "enable", "New TOTP key for USER, active at once; prints the key, the otpauth:// URI and a QR code");
  totp_enable->add_option("user", who, "id, email or login")->required();
  totp_enable->callback([&ctx] {
    auto k = load_keys(ctx);
    pqxx::work w(ctx.db());
    user u = find_user(w, who);
    std::string raw = totp::generate_secret();
    twofactor::enable_totp(w, k, u.id, raw, 0);
    w.commit();
    std::string uri = totp::otpauth_uri(ctx.configuration().site_name, twofactor::totp_account(u), raw);
    // Key first (for typing in), the URI on a line of its own (for scripts), then the QR.
    std::cout << totp::base32_encode(raw) << '\n' << uri << "\n\n" << totp::qr_terminal(uri);
  });

  auto* email_cmd = tf->add_subcommand("email", "Codes mailed to the account's address");
  email_cmd->require_subcommand(1);
  auto* email_enable = email_cmd->add_subcommand("enable", "Turn on email codes for USER");
  email_enable->add_option("user", who, "id, email or login")->required();
  email_enable->callback([&ctx] {
    pqxx::work w(ctx.db());
    user u = find_user(w, who);
    twofactor::enable_email(w, u.id);
    w.commit();
  });

  auto* backup = tf->add_subcommand(
      "backup-codes", "New set of 10 backup codes for USER (the old set stops working); one per line");
  backup->add_option("user", who, "id, email or login")->required();
  backup->callback([&ctx] {
    auto k = load_keys(ctx);
    pqxx::work w(ctx.db());
    user u = find_user(w, who);
    auto set = twofactor::new_backup_codes(w, k, u.id);
    w.commit();
    for (const auto& c : set) std::cout << c << '\n';
  });

  auto* primary = tf->add_subcommand("primary", "Set USER's primary provider (email, totp, backup)");
  primary->add_option("user", who, "id, email or login")->required();
  primary->add_option("provider", provider_arg)->required();
  primary->callback([&ctx] {
    auto p = parse_provider_arg(provider_arg);
    pqxx::work w(ctx.db());
    user u = find_user(w, who);
    twofactor::set_primary(w, u.id, p);
    bool on = twofactor::load_state(w, u.id).enabled(p);
    w.commit();
    if (!on) {
      std::cerr << "cartgate: note: " << provider_arg
                << " is not enabled for this user; it becomes the default once it is\n";
    }
  });

  auto* disable = tf->add_subcommand("disable", "Turn off PROVIDER for USER, or every provider");
  disable->add_option("user", who, "id, email or login")->required();
  disable->add_option("provider", provider_arg);
  disable->callback([&ctx] {
    std::optional<twofactor::provider> p;
    if (!provider_arg.empty()) p = parse_provider_arg(provider_arg);
    pqxx::work w(ctx.db());
    user u = find_user(w, who);
    twofactor::disable(w, u.id, p);
    w.commit();
  });
}

}  // namespace cartgate::cli
