#include "auth/twofactor.h"

#include <stdexcept>

#include "base/text.h"
#include "crypto/codes.h"
#include "crypto/totp.h"
#include "http/message.h"
#include "infra/config.h"
#include "infra/log.h"
#include "infra/mailer.h"
#include "infra/metrics.h"
#include "infra/outbox.h"
#include "policy/options.h"
#include "rules/rate_limit.h"
#include "store/sessions.h"
#include "store/users.h"

namespace cartgate::twofactor {
namespace {

// A client that sends 2fa_code as a JSON number loses leading zeros (http::param_text
// gives its digits), and such a code then just fails.
using http::param_text;

// Codes as people type them: spaces and dashes dropped ("1234 5678", "1234-5678").
std::string normalize_code(std::string_view in) {
  std::string out;
  for (char c : in) {
    if (c != ' ' && c != '-' && c != '\t') out.push_back(c);
  }
  return out;
}

bool all_digits(std::string_view s, std::size_t len) {
  if (s.size() != len) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::string uid(std::int64_t id) { return std::to_string(id); }

std::optional<provider> provider_column(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return parse_provider(f.c_str());
}

std::string expiry_phrase(std::int64_t ttl) {
  if (ttl >= 120 && ttl % 60 == 0) return std::to_string(ttl / 60) + " minutes";
  return std::to_string(ttl) + " seconds";
}

// Mails a fresh email code: the hash goes to twofactor_email_codes, the message to the
// outbox, both in tx. Earlier unused codes are retired: only the newest mail is valid.
void send_email_code(pqxx::transaction_base& tx, const keys& k, const settings& cfg,
                     std::int64_t ttl, const user& u, std::int64_t now) {
  std::string code = codes::email_code();
  tx.exec_params("DELETE FROM twofactor_email_codes WHERE user_id = $1", u.id);
  tx.exec_params(
      "INSERT INTO twofactor_email_codes (user_id, code_hash, expires_at)"
      " VALUES ($1, $2, to_timestamp($3))",
      u.id, codes::hash(k.pepper, code), now + ttl);
  mail::message m;
  m.from = cfg.mail_from;
  m.to = u.email;
  m.subject = "Your verification code for " + cfg.site_name;
  m.text = "Hello " + (u.display_name.empty() ? u.login : u.display_name) +
           ",\n\nEnter this verification code to finish logging in to " + cfg.site_name +
           ":\n\n" + code + "\n\nIt is valid for " + expiry_phrase(ttl) +
           " and can be used once. If you did not try to log in, change your password.\n";
  outbox::enqueue(tx, k.box, m);
}

bool check_totp(pqxx::transaction_base& tx, const keys& k, std::int64_t user_id,
                std::string_view code, std::int64_t now) {
  auto r = tx.exec_params("SELECT totp_secret, totp_last_step FROM twofactor WHERE user_id = $1",
                          user_id);
  if (r.empty() || r[0][0].is_null()) return false;
  auto raw = k.box.open(r[0][0].c_str(), uid(user_id));
  if (!raw) {
    log::error("twofactor_totp_key_unreadable", {{"user_id", uid(user_id)}});
    return false;
  }
  auto m = totp::verify(*raw, code, now, r[0][1].as<std::int64_t>(), 1);
  if (!m.ok) return false;
  tx.exec_params("UPDATE twofactor SET totp_last_step = $2 WHERE user_id = $1", user_id, m.step);
  return true;
}

// Email and backup codes: compare the hash against every live code in constant time,
// then consume the match with a conditional UPDATE, so two concurrent logins with the
// same code cannot both succeed.
bool consume_hashed(pqxx::transaction_base& tx, const char* select_sql, const char* use_sql,
                    const std::string& hash, std::int64_t user_id, std::int64_t now) {
  auto rows = tx.exec_params(select_sql, user_id, now);
  std::optional<std::int64_t> match;
  for (auto row : rows) {
    if (codes::equal(row[1].c_str(), hash) && !match) match = row[0].as<std::int64_t>();
  }
  if (!match) return false;
  auto used = tx.exec_params(use_sql, *match, now);
  return used.affected_rows() == 1;
}

// The two tables of single-use codes: which live rows a code may match, and how one is
// spent. Email codes expire; backup codes last until used.
struct code_table {
  const char* select_live;
  const char* spend;
};
constexpr code_table email_codes{
    "SELECT id, code_hash FROM twofactor_email_codes"
    " WHERE user_id = $1 AND used_at IS NULL AND expires_at > to_timestamp($2)",
    "UPDATE twofactor_email_codes SET used_at = to_timestamp($2) WHERE id = $1 AND used_at IS NULL"};
constexpr code_table backup_codes{
    "SELECT id, code_hash FROM twofactor_backup_codes"
    " WHERE user_id = $1 AND used_at IS NULL AND $2::bigint IS NOT NULL",
    "UPDATE twofactor_backup_codes SET used_at = to_timestamp($2) WHERE id = $1 AND used_at IS NULL"};

bool check_code(pqxx::transaction_base& tx, const code_table& table, const keys& k, std::int64_t user_id,
                std::string_view code, std::int64_t now) {
  if (!all_digits(code, codes::kCodeDigits)) return false;
  return consume_hashed(tx, table.select_live, table.spend, codes::hash(k.pepper, code), user_id, now);
}

void ensure_row(pqxx::transaction_base& tx, std::int64_t user_id) {
  tx.exec_params("INSERT INTO twofactor (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING",
                 user_id);
}

}  // namespace

std::string_view provider_name(provider p) {
  switch (p) {
    case provider::email: return "email";
    case provider::totp: return "totp";
    case provider::backup: return "backup";
  }
  return "";
}

std::optional<provider> parse_provider(std::string_view name) {
  for (provider p : kAllProviders) {
    if (provider_name(p) == name) return p;
  }
  return std::nullopt;
}

std::string sanitize_provider_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (out.size() >= 32) break;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
        c == '-') {
      out.push_back(c);
    }
  }
  return out;
}

bool state::enabled(provider p) const {
  switch (p) {
    case provider::email: return email;
    case provider::totp: return totp;
    case provider::backup: return backup_remaining > 0;
  }
  return false;
}

bool state::any() const { return !available(*this).empty(); }

std::vector<provider> available(const state& s) {
  std::vector<provider> out;
  for (provider p : kAllProviders) {
    if (s.enabled(p)) out.push_back(p);
  }
  return out;
}

std::optional<provider> default_provider(const state& s) {
  if (s.last_used && s.enabled(*s.last_used)) return s.last_used;
  if (s.primary && s.enabled(*s.primary)) return s.primary;
  auto all = available(s);
  if (!all.empty()) return all.front();
  return std::nullopt;
}

failure challenge(const state& s, bool email_sent) {
  failure f{reason::twofactor_required};
  Json::Value list(Json::arrayValue);
  std::string joined;
  for (provider p : available(s)) {
    list.append(std::string(provider_name(p)));
    if (!joined.empty()) joined += ", ";
    joined += provider_name(p);
  }
  auto d = default_provider(s);
  f.data["2fa_required"] = true;
  f.data["available_providers"] = list;
  f.data["default_provider"] = d ? std::string(provider_name(*d)) : std::string();
  f.data["email_sent"] = email_sent;
  f.detail = joined;
  return f;
}

bool is_code_failure(const failure& f) { return f.why == reason::twofactor_invalid_code; }

keys keys::from_config(const config& cfg) {
  const std::string& hex = cfg.encryption_key_hex;
  if (hex.empty()) {
    throw std::runtime_error("two-factor needs secrets.encryption_key_file (or CARTGATE_ENCRYPTION_KEY)");
  }
  if (hex.size() != 2 * secretbox::kKeySize) {
    throw std::runtime_error("the encryption key must be 64 hex characters");
  }
  auto decoded = text::hex_decode(hex);
  if (!decoded) throw std::runtime_error("the encryption key must be 64 hex characters");
  std::string raw = std::move(*decoded);
  // One configured key, two independent uses: the pepper is an HMAC of a fixed label,
  // so it reveals nothing about the key that seals TOTP secrets.
  std::string pepper = codes::hash(raw, "cartgate codes");
  return keys{secretbox(std::move(raw)), std::move(pepper)};
}

state load_state(pqxx::transaction_base& tx, std::int64_t user_id, bool lock) {
  state s;
  auto r = tx.exec_params(
      std::string("SELECT totp_enabled AND totp_secret IS NOT NULL, email_enabled, primary_provider,"
                  " last_used_provider, COALESCE(extract(epoch FROM last_used_at)::bigint, 0)"
                  " FROM twofactor WHERE user_id = $1") +
          (lock ? " FOR UPDATE" : ""),
      user_id);
  if (!r.empty()) {
    s.totp = r[0][0].as<bool>();
    s.email = r[0][1].as<bool>();
    s.primary = provider_column(r[0][2]);
    s.last_used = provider_column(r[0][3]);
    s.last_used_at = r[0][4].as<std::int64_t>();
  }
  auto b = tx.exec_params(
      "SELECT count(*) FROM twofactor_backup_codes WHERE user_id = $1 AND used_at IS NULL", user_id);
  s.backup_remaining = b[0][0].as<int>();
  return s;
}

std::optional<failure> check_login(pqxx::transaction_base& tx, const settings& with, const policy& pol,
                                   const user& u, const Json::Value& params, std::int64_t now,
                                   bool* passed_code) {
  if (passed_code != nullptr) *passed_code = false;
  const std::int64_t email_ttl = pol.email_ttl;
  state s = load_state(tx, u.id, true);
  if (!s.any()) return std::nullopt;
  if (with.sealing == nullptr) {
    throw std::runtime_error("two-factor needs secrets.encryption_key_file (or CARTGATE_ENCRYPTION_KEY)");
  }
  const keys& k = *with.sealing;

  std::string requested_name = param_text(params, "2fa_provider");
  std::string code = normalize_code(param_text(params, "2fa_code"));

  std::optional<provider> requested;
  if (!requested_name.empty()) {
    requested = parse_provider(requested_name);
    if (!requested || !s.enabled(*requested)) {
      failure f{reason::twofactor_invalid_provider};
      f.detail = sanitize_provider_name(requested_name);
      log::info("twofactor_invalid_provider", {{"user_id", uid(u.id)}});
      return f;
    }
  }

  if (code.empty()) {
    // The challenge. Email is mailed when it is the default provider, or when the client
    // asks for it by name (how a client whose default is totp gets an email code).
    auto d = default_provider(s);
    bool send = requested ? *requested == provider::email : d == provider::email;
    if (send) {
      // Each challenge costs a mail to the customer: a password holder may not use the
      // login to flood their inbox. Past the limit the challenge still answers, without
      // mail (email_sent false), and the codes already sent stay valid.
      auto v = rate_limit::hit(tx, rate_limit::bucket("2fa_email:user", std::to_string(u.id)), pol.email_max,
                               email_ttl, now);
      if (v.limited) {
        metrics::add("cartgate_twofactor_email_limited_total");
        send = false;
      }
    }
    if (send) send_email_code(tx, k, with, email_ttl, u, now);
    metrics::add("cartgate_twofactor_challenges_total");
    log::info("twofactor_challenge", {{"user_id", uid(u.id)},
                                      {"default_provider", d ? std::string(provider_name(*d)) : ""},
                                      {"email_sent", send ? "true" : "false"}});
    return challenge(s, send);
  }

  provider p = requested ? *requested : *default_provider(s);
  bool ok = false;
  switch (p) {
    case provider::totp: ok = check_totp(tx, k, u.id, code, now); break;
    case provider::email: ok = check_code(tx, email_codes, k, u.id, code, now); break;
    case provider::backup: ok = check_code(tx, backup_codes, k, u.id, code, now); break;
  }
  std::string name(provider_name(p));
  if (!ok) {
    metrics::add("cartgate_twofactor_failures_total{provider=\"" + name + "\"}");
    log::info("twofactor_invalid_code", {{"user_id", uid(u.id)}, {"provider", name}});
    return failure{reason::twofactor_invalid_code};
  }
  ensure_row(tx, u.id);
  tx.exec_params(
      "UPDATE twofactor SET last_used_provider = $2, last_used_at = to_timestamp($3)"
      " WHERE user_id = $1",
      u.id, name, now);
  metrics::add("cartgate_twofactor_success_total{provider=\"" + name + "\"}");
  log::info("twofactor_passed", {{"user_id", uid(u.id)}, {"provider", name}});
  if (passed_code != nullptr) *passed_code = true;
  return std::nullopt;
}

// ---- Revalidation ------------------------------------------------------------------------

namespace {

// A current code proves a factor when it is right for any enabled provider; the lengths
// tell TOTP (6 digits) from email and backup codes (8), so at most one kind is spent.
std::optional<provider> spend_current_code(pqxx::transaction_base& tx, const keys& k, const state& s,
                                           std::int64_t user_id, std::string_view code, std::int64_t now) {
  for (provider p : available(s)) {
    bool ok = false;
    switch (p) {
      case provider::totp: ok = check_totp(tx, k, user_id, code, now); break;
      case provider::email: ok = check_code(tx, email_codes, k, user_id, code, now); break;
      case provider::backup: ok = check_code(tx, backup_codes, k, user_id, code, now); break;
    }
    if (ok) return p;
  }
  return std::nullopt;
}

// A time a little ahead of `now` (another host's clock) still counts as fresh.
bool fresh_second_factor_login(pqxx::transaction_base& tx, const std::string& pat, std::int64_t now) {
  auto at = sessions::second_factor_at(tx, pat);
  return at && *at > now - kRevalidationWindowSeconds;
}

}  // namespace

std::optional<failure> revalidate(pqxx::transaction_base& tx, const settings& with, const policy& pol,
                                  const state& before, const change_request& r, std::int64_t now) {
  if (!before.any()) return std::nullopt;
  if (fresh_second_factor_login(tx, r.pat, now)) return std::nullopt;
  std::string code = normalize_code(r.current_code);
  if (code.empty()) {
    log::info("twofactor_revalidation_refused", {{"user_id", uid(r.user_id)}, {"reason", "no_proof"}});
    return failure{reason::twofactor_revalidation_required};
  }
  if (with.sealing == nullptr) {
    throw std::runtime_error("two-factor needs secrets.encryption_key_file (or CARTGATE_ENCRYPTION_KEY)");
  }
  // A current code is a guess like a login code: the same limit bounds both, and the
  // attempt is counted before the code is checked, as a login's is.
  const std::string account = uid(r.user_id);
  auto reservation = rate_limit::reserve_login(
      tx, pol, rate_limit::login_ip_bucket(rate_limit::ip_key(r.client_ip, pol.ipv6_prefix)),
      rate_limit::login_user_bucket(r.user_id), now);
  if (reservation.limit.limited) return rate_limit::denial(reservation.limit, reason::login_rate_limited);
  if (auto p = spend_current_code(tx, *with.sealing, before, r.user_id, code, now)) {
    rate_limit::refund_login(tx, reservation);
    log::info("twofactor_revalidated", {{"user_id", account}, {"provider", std::string(provider_name(*p))}});
    return std::nullopt;
  }
  metrics::add("cartgate_twofactor_revalidation_failures_total");
  log::info("twofactor_revalidation_refused", {{"user_id", account}, {"reason", "bad_code"}});
  failure f{reason::twofactor_revalidation_required};
  for (auto& h : rate_limit::headers(reservation.limit)) f.headers.push_back(h);
  return f;
}

// ---- Enrolment ---------------------------------------------------------------------------

void enable_totp(pqxx::transaction_base& tx, const keys& k, std::int64_t user_id,
                 std::string_view raw_secret, std::int64_t last_step) {
  ensure_row(tx, user_id);
  tx.exec_params(
      "UPDATE twofactor SET totp_secret = $2, totp_enabled = true, totp_last_step = $3,"
      "  totp_pending_secret = NULL, totp_pending_at = NULL WHERE user_id = $1",
      user_id, k.box.seal(raw_secret, uid(user_id)), last_step);
}

void set_pending_totp(pqxx::transaction_base& tx, const keys& k, std::int64_t user_id,
                      std::string_view raw_secret) {
  ensure_row(tx, user_id);
  // A different associated data from the active key's: a pending key copied into
  // totp_secret does not open.
  tx.exec_params(
      "UPDATE twofactor SET totp_pending_secret = $2, totp_pending_at = now() WHERE user_id = $1",
      user_id, k.box.seal(raw_secret, uid(user_id) + ":pending"));
}

std::optional<std::string> pending_totp(pqxx::transaction_base& tx, const keys& k,
                                        std::int64_t user_id) {
  auto r = tx.exec_params("SELECT totp_pending_secret FROM twofactor WHERE user_id = $1", user_id);
  if (r.empty() || r[0][0].is_null()) return std::nullopt;
  return k.box.open(r[0][0].c_str(), uid(user_id) + ":pending");
}

void enable_email(pqxx::transaction_base& tx, std::int64_t user_id) {
  ensure_row(tx, user_id);
  tx.exec_params("UPDATE twofactor SET email_enabled = true WHERE user_id = $1", user_id);
}

std::vector<std::string> new_backup_codes(pqxx::transaction_base& tx, const keys& k,
                                          std::int64_t user_id) {
  tx.exec_params("DELETE FROM twofactor_backup_codes WHERE user_id = $1", user_id);
  auto set = codes::backup_set();
  for (const auto& c : set) {
    tx.exec_params("INSERT INTO twofactor_backup_codes (user_id, code_hash) VALUES ($1, $2)",
                   user_id, codes::hash(k.pepper, c));
  }
  return set;
}

void set_primary(pqxx::transaction_base& tx, std::int64_t user_id, provider p) {
  ensure_row(tx, user_id);
  tx.exec_params("UPDATE twofactor SET primary_provider = $2 WHERE user_id = $1", user_id,
                 std::string(provider_name(p)));
}

void disable(pqxx::transaction_base& tx, std::int64_t user_id, std::optional<provider> p) {
  if (!p || *p == provider::totp) {
    tx.exec_params(
        "UPDATE twofactor SET totp_enabled = false, totp_secret = NULL, totp_last_step = 0,"
        "  totp_pending_secret = NULL, totp_pending_at = NULL WHERE user_id = $1",
        user_id);
  }
  if (!p || *p == provider::email) {
    tx.exec_params("UPDATE twofactor SET email_enabled = false WHERE user_id = $1", user_id);
    tx.exec_params("DELETE FROM twofactor_email_codes WHERE user_id = $1", user_id);
  }
  if (!p || *p == provider::backup) {
    tx.exec_params("DELETE FROM twofactor_backup_codes WHERE user_id = $1", user_id);
  }
  if (!p) {
    tx.exec_params(
        "UPDATE twofactor SET primary_provider = NULL, last_used_provider = NULL,"
        "  last_used_at = NULL WHERE user_id = $1",
        user_id);
  }
}

std::string totp_account(const user& u) { return u.email.empty() ? u.login : u.email; }

}  // namespace cartgate::twofactor
