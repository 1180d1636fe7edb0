// `cartgate jwt create|list|view|destroy|cleanup` (mirroring `wp cocart jwt …`) and
// `cartgate events tail`.
#include <signal.h>

#include <ctime>
#include <iomanip>
#include <iostream>

#include "auth/tokens.h"
#include "cli.h"
#include "crypto/jwt.h"
#include "http/client_ip.h"
#include "http/message.h"
#include "store/audit.h"
#include "store/options.h"
#include "store/sessions.h"
#include "store/users.h"

namespace cartgate::cli {
namespace {

policy stored_policy(pqxx::connection& c) {
  pqxx::read_transaction t(c);
  return stored_options::load_policy(t);
}

std::string iso_time(std::int64_t t) {
  if (t <= 0) return "-";
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool confirm(const std::string& question) {
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "y" || answer == "Y" || answer == "yes";
}

volatile sig_atomic_t stop_tail = 0;
void on_stop(int) { stop_tail = 1; }

class printer : public pqxx::notification_receiver {
 public:
  explicit printer(pqxx::connection_base& c) : pqxx::notification_receiver(c, "cartgate_events") {}
  void operator()(const std::string& payload, int) override { std::cout << payload << std::endl; }
};

}  // namespace

void register_jwt(CLI::App& app, context& ctx) {
  auto* jwt_cmd = app.add_subcommand("jwt", "Create, inspect and revoke tokens and sessions");
  jwt_cmd->require_subcommand(1);
  static std::string who, user_agent, ip, token, pat, format = "table";
  static std::int64_t page = 1, per_page = 20, batch_size = 1000;
  static bool force = false;

  auto* create = jwt_cmd->add_subcommand("create", "Issue an access + refresh token for a user");
  create->add_option("--user", who, "id, email or login")->required();
  create->add_option("--user-agent", user_agent, "Bind the token to this User-Agent");
  create->add_option("--ip", ip, "Bind the token to this client IP");
  create->callback([&ctx] {
    // The token's ip claim is compared with the request's client IP in canonical text
    // (http/client_ip.h): "::ffff:192.0.2.1" or "2001:DB8::1" would never match it.
    if (!ip.empty()) {
      auto parsed = net::parse_address(ip);
      if (!parsed) throw cli_error("--ip: '" + ip + "' is not an IP address");
      ip = parsed->to_string();
    }
    token_keys keys(ctx.configuration());
    policy p = stored_policy(ctx.db());
    std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
    pqxx::work w(ctx.db());
    auto u = users::find(w, who);
    if (!u) throw cli_error("no user '" + who + "'");
    auto s = sessions::create(w, u->id, ip, user_agent, p, now);
    std::string access = keys.issue(u->id, u->login, s.pat, ip, user_agent, p, now);
    audit::record(w, "token_created_cli", u->id, s.pat, ip);
    audit::publish(w, events::event(events::kind::token_generated, u->id, s.pat, now));
    w.commit();
    std::cout << access << '\n' << s.refresh_token << '\n';
  });

  auto* list = jwt_cmd->add_subcommand("list", "List sessions, newest first");
  list->add_option("--page", page)->check(CLI::PositiveNumber);
  list->add_option("--per-page", per_page)->check(CLI::Range(1, 1000));
  list->add_option("--user", who, "Only this user's live sessions (id, email or login), as the user sees them");
  list->add_option("--format", format, "table or json (with --user)")->check(CLI::IsMember({"table", "json"}));
  list->callback([&ctx] {
    pqxx::read_transaction t(ctx.db());
    if (!who.empty()) {
      // The rows GET /wp-json/cartgate/v1/sessions answers the user with (without
      // `current`, which only a token can say).
      auto u = users::find(t, who);
      if (!u) throw cli_error("no user '" + who + "'");
      auto rows = sessions::list_live(t, u->id, static_cast<std::int64_t>(std::time(nullptr)));
      if (format == "json") {
        Json::Value out(Json::arrayValue);
        for (auto& l : rows) {
          Json::Value o(Json::objectValue);
          o["pat"] = l.pat;
          o["created"] = static_cast<Json::Int64>(l.created);
          o["last_used"] = l.last_used ? Json::Value(static_cast<Json::Int64>(*l.last_used)) : Json::Value();
          o["expires"] = static_cast<Json::Int64>(l.expires);
          o["ip"] = l.ip;
          o["device"] = l.device;
          out.append(o);
        }
        std::cout << http::to_json(out) << '\n';
        return;
      }
      std::cout << std::left << std::setw(30) << "PAT" << std::setw(22) << "CREATED" << std::setw(22) << "LAST_USED"
                << std::setw(22) << "EXPIRES" << std::setw(18) << "IP" << "DEVICE\n";
      for (auto& l : rows) {
        std::cout << std::left << std::setw(30) << l.pat << std::setw(22) << iso_time(l.created) << std::setw(22)
                  << iso_time(l.last_used.value_or(0)) << std::setw(22) << iso_time(l.expires) << std::setw(18)
                  << (l.ip.empty() ? "-" : l.ip) << (l.device.empty() ? "-" : l.device) << '\n';
      }
      return;
    }
    if (format == "json") throw cli_error("--format=json needs --user");
    auto rows = sessions::list(t, (page - 1) * per_page, per_page);
    std::cout << std::left << std::setw(30) << "PAT" << std::setw(10) << "USER_ID" << std::setw(20) << "LOGIN"
              << std::setw(22) << "CREATED" << std::setw(22) << "EXPIRES" << std::setw(22) << "LAST_USED"
              << std::setw(9) << "STATE" << "IP\n";
    for (auto& r : rows) {
      std::cout << std::left << std::setw(30) << r.pat << std::setw(10) << r.user_id << std::setw(20) << r.login
                << std::setw(22) << iso_time(r.created_at) << std::setw(22) << iso_time(r.expires_at)
                << std::setw(22) << iso_time(r.last_used_at) << std::setw(9) << (r.revoked ? "revoked" : "active")
                << (r.ip.empty() ? "-" : r.ip) << '\n';
    }
  });

  auto* view = jwt_cmd->add_subcommand("view", "Decode a token and say whether it verifies");
  view->add_option("token", token)->required();
  view->callback([&ctx] {
    token_keys keys(ctx.configuration());
    policy p = stored_policy(ctx.db());
    std::string_view t = token;
    if (!p.prefix.empty() && t.substr(0, p.prefix.size()) == p.prefix) t.remove_prefix(p.prefix.size());
    auto d = jwt::decode_unverified(t);
    if (!d) throw cli_error("not a JWT");
    auto v = jwt::verify(t, keys.ring(), static_cast<std::int64_t>(std::time(nullptr)), keys.issuer());
    Json::Value out(Json::objectValue);
    out["header"] = d->header;
    out["payload"] = d->payload;
    out["signature_and_claims"] = std::string(jwt::reason_name(v.why));
    Json::StreamWriterBuilder b;
    b["indentation"] = "  ";
    std::cout << Json::writeString(b, out) << '\n';
  });

  auto* destroy = jwt_cmd->add_subcommand("destroy", "Revoke a user's sessions (one with --pat)");
  destroy->add_option("user", who)->required();
  destroy->add_option("--pat", pat, "Only this session");
  destroy->add_flag("--force", force, "Do not ask for confirmation");
  destroy->callback([&ctx] {
    pqxx::work w(ctx.db());
    auto u = users::find(w, who);
    if (!u) throw cli_error("no user '" + who + "'");
    if (!force) {
      if (!stdin_is_terminal()) throw cli_error("refusing to revoke without a terminal; pass --force");
      if (!confirm("Revoke " + (pat.empty() ? std::string("every session") : pat) + " of " + u->login + "?")) {
        throw cli_error("aborted");
      }
    }
    int n = 0;
    if (pat.empty()) {
      n = sessions::revoke_user(w, u->id, "cli_destroy");
    } else {
      auto owner = w.exec_params("SELECT 1 FROM sessions WHERE pat = $1 AND user_id = $2", pat, u->id);
      if (owner.empty()) throw cli_error("no session " + pat + " for " + u->login);
      n = sessions::revoke_session(w, pat, "cli_destroy") ? 1 : 0;
    }
    audit::record(w, "sessions_revoked_cli", u->id, pat, "");
    audit::publish(w, events::event(events::kind::token_deleted, u->id, pat, static_cast<std::int64_t>(std::time(nullptr))));
    w.commit();
    std::cout << "revoked " << n << " session(s)\n";
  });

  auto* cleanup = jwt_cmd->add_subcommand("cleanup", "Delete expired sessions and refresh tokens");
  cleanup->add_option("--batch-size", batch_size)->check(CLI::Range(1, 100000));
  cleanup->add_flag("--force", force, "Remove every session, expired or not");
  cleanup->callback([&ctx] {
    if (force) {
      pqxx::work w(ctx.db());
      sessions::revoke_all(w, "cli_cleanup_force");
      auto res = w.exec("DELETE FROM sessions");
      audit::record(w, "sessions_removed_cli", 0, "", "");
      w.commit();
      std::cout << "removed " << res.affected_rows() << " session(s)\n";
      return;
    }
    auto n = sessions::cleanup_expired(ctx.db(), batch_size, [](std::int64_t so_far) {
      std::cerr << "cartgate: removed " << so_far << " expired session(s) so far\n";
    });
    std::cout << "removed " << n << " expired session(s)\n";
  });

  auto* events_cmd = app.add_subcommand("events", "The external event stream");
  events_cmd->require_subcommand(1);
  auto* tail = events_cmd->add_subcommand("tail", "Print cartgate_events payloads, one JSON per line");
  tail->callback([&ctx] {
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    printer p(ctx.db());
    ctx.db().get_notifs();
    while (!stop_tail) ctx.db().await_notification(0, 200000);
  });
}

}  // namespace cartgate::cli
