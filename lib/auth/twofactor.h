// Two-factor login (contract §3, seed 003): the providers `email`, `totp` and `backup`,
// the 401 challenge with its default provider and provider memory, and the per-user
// state the CLI and the Two Factor REST routes change.
//
//   // inside the login transaction, after the password and the permission rules:
//   if (auto f = twofactor::check_login(tx, settings, policy, u, params, now)) {
//     if (twofactor::is_code_failure(*f)) count_failed_login();   // rate limit
//     tx.commit();                            // challenges, used codes, last step persist
//     return to_response(*f);
//   }
#pragma once

#include <json/json.h>
#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/secretbox.h"
#include "http/errors.h"
#include "policy/options.h"

namespace cartgate {

struct config;
struct user;

namespace twofactor {

// Listed, offered and tried in this order: the Two Factor plugin registers its providers
// as Email, TOTP, Backup Codes, and the seed's example answer lists ["email", "totp"].
enum class provider { email, totp, backup };
inline constexpr provider kAllProviders[] = {provider::email, provider::totp, provider::backup};

std::string_view provider_name(provider p);
std::optional<provider> parse_provider(std::string_view name);  // exact, lower case

// A provider name as it may appear in an error message: at most 32 characters of
// [A-Za-z0-9_-], anything else dropped, so a client cannot make us echo arbitrary text.
std::string sanitize_provider_name(std::string_view name);

// What the database says about one user's second factor.
struct state {
  bool totp = false;                 // enabled, with a key
  bool email = false;
  int backup_remaining = 0;          // unused backup codes; `backup` is on while > 0
  std::optional<provider> primary;   // `2fa primary USER PROVIDER`
  std::optional<provider> last_used; // provider memory
  std::int64_t last_used_at = 0;     // unix seconds, 0 when never

  bool enabled(provider p) const;
  bool any() const;
};

// Enabled providers, in kAllProviders order.
std::vector<provider> available(const state& s);
// Seed 003 "Default Provider Logic": last successfully used provider if still enabled →
// primary if enabled → first enabled → nullopt (answered as "").
std::optional<provider> default_provider(const state& s);

// The 401 cocart_2fa_required answer for this state.
failure challenge(const state& s, bool email_sent);

// True for the answer that counts toward the login rate limit: a wrong code. A challenge
// without a code does not count, nor does an unknown provider (no code was tried).
bool is_code_failure(const failure& f);

// Key material derived from config.encryption_key_hex: the box sealing TOTP keys and
// queued mail, and the pepper for code hashes (HMAC-SHA256(key, "cartgate codes")).
// Throws std::runtime_error when the key is missing or malformed.
struct keys {
  secretbox box;
  std::string pepper;
  static keys from_config(const config& cfg);
};

// What two-factor login needs besides the transaction: the keys (null when no
// encryption key is configured: then nobody can have a second factor, since nothing could
// have been sealed or peppered) and the words of the code mail.
struct settings {
  const keys* sealing = nullptr;
  std::string site_name;
  std::string mail_from;
};

// The login hook. nullopt: the user has no second factor, or gave a good code (provider
// memory updated). Otherwise the failure to answer with. Writes (a mailed code, a used
// code, the TOTP step) happen in tx, which the caller commits even on failure.
// policy gives twofactor.email_ttl and twofactor.email_max (emailed codes per user per
// email_ttl window: past it a challenge mails nothing and says email_sent false).
// A user with a second factor on a worker without keys is a configuration bug: throws.
// passed_code, when given, is set to whether a second factor was proven by a good code
// (login then records it on the session: see revalidate()).
std::optional<failure> check_login(pqxx::transaction_base& tx, const settings& s, const policy& pol,
                                   const user& u, const Json::Value& params, std::int64_t now,
                                   bool* passed_code = nullptr);

// ---- Revalidation (contract §3) ----------------------------------------------------------

// How long a login with a second factor lets its session change factors without a code.
inline constexpr std::int64_t kRevalidationWindowSeconds = 600;

// A request to change or remove a factor (POST/DELETE totp, generate-backup-codes).
struct change_request {
  std::int64_t user_id = 0;
  std::string pat;           // the Bearer token's session
  std::string current_code;  // `current_code` of the body, may be empty
  std::string client_ip;     // for the login rate limit
};

// nullopt when the change may go ahead: the account has no factor yet (it enrols with its
// token alone), or its session logged in with a second factor less than
// kRevalidationWindowSeconds ago, or current_code is right for one of its enabled
// providers (and is spent, like a login code). Otherwise 403 twofactor_revalidation_required;
// a wrong current_code counts toward the login rate limit like a wrong login code, and
// while that limit is reached no code is tried (429 login_rate_limited). Call it in the
// transaction that makes the change; the caller commits even on failure. `before` is the
// account's state (load_state with lock).
std::optional<failure> revalidate(pqxx::transaction_base& tx, const settings& with, const policy& pol,
                                  const state& before, const change_request& r, std::int64_t now);

// ---- Enrolment (CLI and REST) ----------------------------------------------------------

state load_state(pqxx::transaction_base& tx, std::int64_t user_id, bool lock = false);

// Turns TOTP on with raw_secret (sealed with the user id as associated data). last_step
// is the step of the code that proved the key (REST), so it cannot log in again; 0 (CLI).
void enable_totp(pqxx::transaction_base& tx, const keys& k, std::int64_t user_id,
                 std::string_view raw_secret, std::int64_t last_step);
// Stores a pending key for REST enrolment (GET totp); replaced by the next GET.
void set_pending_totp(pqxx::transaction_base& tx, const keys& k, std::int64_t user_id,
                      std::string_view raw_secret);
std::optional<std::string> pending_totp(pqxx::transaction_base& tx, const keys& k,
                                        std::int64_t user_id);
void enable_email(pqxx::transaction_base& tx, std::int64_t user_id);
// A new set of codes::kBackupSetSize codes; the previous set (used or not) is deleted.
std::vector<std::string> new_backup_codes(pqxx::transaction_base& tx, const keys& k,
                                          std::int64_t user_id);
void set_primary(pqxx::transaction_base& tx, std::int64_t user_id, provider p);
// One provider, or every one (nullopt), with its secrets and outstanding codes.
void disable(pqxx::transaction_base& tx, std::int64_t user_id, std::optional<provider> p);

// The account name in otpauth URIs: the email, or the login when there is none.
std::string totp_account(const user& u);

}  // namespace twofactor
}  // namespace cartgate
