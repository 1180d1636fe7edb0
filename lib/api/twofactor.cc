// The Two Factor plugin's REST routes (contract §2, §3), for the user of the Bearer token:
//   GET    /wp-json/two-factor/1.0/totp                   → {key, otpauth_uri} (pending)
//   POST   /wp-json/two-factor/1.0/totp {key?, code}      → {success: true} once code proves key
//   DELETE /wp-json/two-factor/1.0/totp                   → {success: true}
//   POST   /wp-json/two-factor/1.0/generate-backup-codes  → {codes: […10], remaining: 10}
// On an account that already has a second factor, POST/DELETE totp and
// generate-backup-codes need a fresh proof of one (twofactor::revalidate): a login with a
// second factor less than 10 minutes ago, or `current_code` in the body.
#include <stdexcept>

#include "api/handlers.h"
#include "auth/twofactor.h"
#include "crypto/totp.h"
#include "http/errors.h"
#include "infra/db.h"
#include "infra/log.h"
#include "store/users.h"

namespace cartgate::api {
namespace {

// Shortest key accepted on POST: 80 bits, what the Two Factor plugin itself generates
// (16 base32 characters). Keys handed out by GET are 160 bits.
constexpr std::size_t kMinKeyBytes = 10;

// The keys that seal TOTP secrets and pepper codes; these routes need them.
const twofactor::keys& keys_for(const services& s) {
  if (s.twofactor.sealing == nullptr) {
    throw std::runtime_error("two-factor needs secrets.encryption_key_file (or CARTGATE_ENCRYPTION_KEY)");
  }
  return *s.twofactor.sealing;
}

bearer_result authenticate(services& s, const http::request& r) {
  return s.bearer(s.policy.current()).request(r, s.now());
}

// The change this request asks for, as twofactor::revalidate reads it. A body that is
// not JSON or form (DELETE usually has none) simply carries no current_code.
twofactor::change_request change_of(const identity& who, const http::request& r,
                                    const Json::Value* params) {
  twofactor::change_request c;
  c.user_id = who.user_id;
  c.pat = who.pat;
  c.client_ip = r.client_ip;
  if (params != nullptr && params->isObject()) c.current_code = http::param_text(*params, "current_code");
  return c;
}

std::optional<Json::Value> body_params(const http::request& r) {
  auto params = http::parse_params(r);
  if (!params || !params->isObject()) return std::nullopt;
  return *params;
}

// Loads the account's state (locked) and asks for the proof a change needs.
std::optional<failure> require_proof(services& s, pqxx::work& w, const twofactor::change_request& c) {
  auto before = twofactor::load_state(w, c.user_id, true);
  return twofactor::revalidate(w, s.twofactor, s.policy.current(), before, c, s.now());
}

void log_refusal(const char* what, std::int64_t user_id, const failure& f) {
  log::info(what, {{"user_id", std::to_string(user_id)}, {"reason", std::string(reason_name(f.why))}});
}

http::response success() {
  Json::Value body(Json::objectValue);
  body["success"] = true;
  return http::json_response(200, body);
}

}  // namespace

http::response totp_key(services& s, http::request& r) {
  auto who = authenticate(s, r);
  if (!who.who) return s.refuse(failure{who.why});
  const auto& k = keys_for(s);
  std::string raw = totp::generate_secret();
  auto uri = db::with_transaction(s.db, [&](pqxx::work& w) -> std::optional<std::string> {
    auto u = users::find_by_id(w, who.who->user_id);
    if (!u) return std::nullopt;
    twofactor::set_pending_totp(w, k, u->id, raw);
    return totp::otpauth_uri(s.twofactor.site_name, twofactor::totp_account(*u), raw);
  });
  if (!uri) return s.refuse(failure{reason::user_deleted});
  Json::Value body(Json::objectValue);
  body["key"] = totp::base32_encode(raw);
  body["otpauth_uri"] = *uri;
  return http::json_response(200, body);
}

http::response totp_enable(services& s, http::request& r) {
  auto who = authenticate(s, r);
  if (!who.who) return s.refuse(failure{who.why});
  auto params = http::parse_params(r);
  if (!params || !params->isObject()) return s.refuse(failure{reason::invalid_json});
  std::string key_text = http::param_text(*params, "key");
  std::string code = http::param_text(*params, "code");
  const auto& k = keys_for(s);
  std::int64_t user_id = who.who->user_id;
  std::int64_t now = s.now();

  // The key is the one GET handed out, sent back (as the plugin's client does), or left
  // out to mean that pending key. Any well-formed key of at least 80 bits is accepted,
  // as the Two Factor plugin does; the code proves the authenticator holds it.
  auto change = change_of(*who.who, r, &*params);
  auto outcome = db::with_transaction(s.db, [&](pqxx::work& w) -> std::optional<failure> {
    if (auto refused = require_proof(s, w, change)) return refused;
    std::optional<std::string> raw;
    if (key_text.empty()) {
      raw = twofactor::pending_totp(w, k, user_id);
    } else {
      raw = totp::base32_decode(key_text);
      if (raw && raw->size() < kMinKeyBytes) raw.reset();
    }
    if (!raw) return failure{reason::totp_key_invalid};
    auto m = totp::verify(*raw, code, now, 0, 1);
    // Contract §3: a wrong enrolment code is a bad request, not a login failure.
    if (!m.ok) return failure{reason::totp_enrol_code_invalid};
    twofactor::enable_totp(w, k, user_id, *raw, m.step);
    return std::nullopt;
  });
  if (outcome) {
    log::info("twofactor_totp_enrol_refused", {{"user_id", std::to_string(user_id)},
                                               {"reason", std::string(reason_name(outcome->why))}});
    return s.refuse(*outcome);
  }
  log::info("twofactor_totp_enabled", {{"user_id", std::to_string(user_id)}, {"by", "rest"}});
  return success();
}

http::response totp_disable(services& s, http::request& r) {
  auto who = authenticate(s, r);
  if (!who.who) return s.refuse(failure{who.why});
  std::int64_t user_id = who.who->user_id;
  auto params = body_params(r);
  auto change = change_of(*who.who, r, params ? &*params : nullptr);
  auto refused = db::with_transaction(s.db, [&](pqxx::work& w) -> std::optional<failure> {
    if (auto f = require_proof(s, w, change)) return f;
    twofactor::disable(w, user_id, twofactor::provider::totp);
    return std::nullopt;
  });
  if (refused) {
    log_refusal("twofactor_totp_disable_refused", user_id, *refused);
    return s.refuse(*refused);
  }
  log::info("twofactor_totp_disabled", {{"user_id", std::to_string(user_id)}, {"by", "rest"}});
  return success();
}

http::response generate_backup_codes(services& s, http::request& r) {
  auto who = authenticate(s, r);
  if (!who.who) return s.refuse(failure{who.why});
  const auto& k = keys_for(s);
  std::int64_t user_id = who.who->user_id;
  auto params = body_params(r);
  auto change = change_of(*who.who, r, params ? &*params : nullptr);
  std::optional<failure> refused;
  auto set = db::with_transaction(s.db, [&](pqxx::work& w) {
    refused = require_proof(s, w, change);
    if (refused) return std::vector<std::string>{};
    return twofactor::new_backup_codes(w, k, user_id);
  });
  if (refused) {
    log_refusal("twofactor_backup_codes_refused", user_id, *refused);
    return s.refuse(*refused);
  }
  log::info("twofactor_backup_codes_generated", {{"user_id", std::to_string(user_id)}, {"by", "rest"}});
  Json::Value body(Json::objectValue);
  Json::Value list(Json::arrayValue);
  for (const auto& c : set) list.append(c);
  body["codes"] = list;
  body["remaining"] = static_cast<int>(set.size());
  return http::json_response(200, body);
}

}  // namespace cartgate::api
