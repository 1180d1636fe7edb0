#include "auth/login.h"

#include "base/text.h"
#include "infra/metrics.h"
#include "rules/rate_limit.h"
#include "store/audit.h"
#include "store/sessions.h"

namespace cartgate {
namespace {

// Step 2's result: what the password check found, carried into the later transaction.
struct password_check {
  bool ok = false;
  std::string verified_hash;  // the stored hash the password matched
  std::string upgraded_hash;  // argon2id at today's settings, when the stored one was weaker
};

login_outcome denied(failure f, std::vector<http::header> limit_headers = {}) {
  login_outcome out;
  out.denied = std::move(f);
  out.limit_headers = std::move(limit_headers);
  return out;
}

// Step 5: a new session (evicting past jwt.max_sessions), bound to the client's IP and
// User-Agent, with its refresh token and an access token, recorded as login_ok.
login_outcome open_session(pqxx::work& w, const token_keys& keys, user u, const http::request& req,
                           const policy& p, std::int64_t now, const Json::Value& detail) {
  const std::string& ip = req.client_ip;
  std::string device = req.header("user-agent");
  auto created = sessions::create(w, u.id, ip, device, p, now);
  login_outcome ok;
  ok.pat = created.pat;
  ok.refresh = created.refresh_token;
  ok.access = keys.issue(u.id, u.login, created.pat, ip, device, p, now);
  audit::record(w, "login_ok", u.id, created.pat, ip, detail);
  for (auto& evicted : created.evicted) audit::record(w, "session_evicted", u.id, evicted, ip);
  audit::publish(w, events::event(events::kind::token_generated, u.id, created.pat, now));
  ok.who = std::move(u);
  return ok;
}

// token_generated for plugins, once the session is committed.
void announce_login(const events::bus& bus, const login_outcome& out, const std::string& ip, std::int64_t now) {
  events::event e(events::kind::token_generated, out.who->id, out.pat, now);
  e.token = out.access;
  e.subject = &*out.who;
  e.client_ip = ip;
  bus.publish(e);
}

}  // namespace

login_outcome login_pipeline::run(const login_attempt& a, const policy& p, std::int64_t now) const {
  const std::string& ip = a.req.client_ip;

  // 1. Rate limit: this attempt takes its place in the IP and account buckets before any
  //    password work (rules/rate_limit.h reserve_login), so concurrent attempts cannot all
  //    pass; it is given back below unless the attempt turns out to be a failure.
  struct first_look {
    std::optional<user> found;
    rate_limit::login_reservation limit;
  };
  auto look = db::with_transaction(db, [&](pqxx::work& w) {
    first_look l;
    l.found = users::find_by_identifier(w, a.identifier);
    std::string account = l.found ? rate_limit::login_user_bucket(l.found->id)
                                  : rate_limit::login_name_bucket(a.identifier);
    l.limit = rate_limit::reserve_login(w, p, rate_limit::login_ip_bucket(rate_limit::ip_key(ip, p.ipv6_prefix)),
                                        account, now);
    return l;
  });
  auto limit_headers = rate_limit::headers(look.limit.limit);
  if (look.limit.limit.limited) {
    metrics::add("cartgate_logins_total{result=\"rate_limited\"}");
    return denied(rate_limit::denial(look.limit.limit, reason::login_rate_limited), limit_headers);
  }

  // 2. Password, bounded per process: a flood waits briefly, then gets 503. No
  //    transaction or pooled connection is held meanwhile.
  password_check pw;
  {
    // Every path costs one argon2id and one hash of each legacy scheme some account holds
    // (bcrypt, phpass), real or dummy, so timing reveals neither whether the account
    // exists nor how it was imported.
    const std::string* stored = look.found ? &look.found->password_hash : nullptr;
    if (legacy != nullptr && stored != nullptr) legacy->saw(password::scheme_of(*stored));
    const auto present = legacy != nullptr ? legacy->current() : password::legacy_schemes::all();
    auto verified = password::verify_for_login(a.password, stored, argon2, present, slots, slot_wait);
    if (!verified) {
      metrics::add("cartgate_password_busy_total");
      auto refunded = db::with_transaction(db, [&](pqxx::work& w) { return rate_limit::refund_login(w, look.limit); });
      return denied(failure(reason::busy), rate_limit::headers(refunded));
    }
    pw.ok = *verified;
    if (look.found && pw.ok) {
      pw.verified_hash = *stored;
      // Imported WordPress hashes (and weaker argon2 settings) become argon2id now.
      // In a slot like any argon2id; with none free, a later login upgrades it.
      if (password::needs_rehash(*stored, argon2)) {
        if (auto permit = slots.acquire(slot_wait)) pw.upgraded_hash = password::hash(a.password, argon2);
      }
    }
  }

  // 3–5 in one transaction, so what the rules and two-factor wrote (a mailed code, a used
  // code, the last client) commits with the session, or with the denial.
  login_outcome out = db::with_transaction(db, [&](pqxx::work& w) {
    // The account as it is now: deleted, or its password changed, since step 1 means the
    // password that was checked is no longer the account's.
    std::optional<user> u;
    if (look.found && pw.ok) {
      u = users::find_by_id(w, look.found->id);
      if (u && u->password_hash != pw.verified_hash) u.reset();
    }
    if (!u) {
      metrics::add("cartgate_logins_total{result=\"failed\"}");
      audit::record(w, "login_failed", look.found ? look.found->id : 0, "", ip, Json::Value(Json::objectValue));
      return denied(failure(reason::bad_credentials), limit_headers);  // stays counted
    }
    // From here on only a wrong two-factor code is a failed login: anything else gives
    // the reserved attempt back, in the transaction that decides the outcome.
    auto refunded_headers = [&] { return rate_limit::headers(rate_limit::refund_login(w, look.limit)); };
    if (!pw.upgraded_hash.empty()) {
      u->password_hash = pw.upgraded_hash;
      users::set_password_hash(w, u->id, u->password_hash);
      audit::record(w, "password_rehashed", u->id, "", ip);
    }

    // 3. Permission rules (contract §4, 2–6).
    rules::context ctx{a.req, a.params, *u, "login", p, now, w};
    if (auto f = rules.run(ctx)) return denied(std::move(*f), refunded_headers());

    // 4. Second factor (contract §3). Only a wrong code is a failed login (it counts
    //    toward the rate limit); a challenge without a code is the normal first half.
    bool second_factor = false;
    if (auto f = twofactor::check_login(w, twofactor, p, *u, a.params, now, &second_factor)) {
      if (!twofactor::is_code_failure(*f)) return denied(std::move(*f), refunded_headers());
      audit::record(w, "login_2fa_failed", u->id, "", ip);
      return denied(std::move(*f), limit_headers);  // stays counted
    }

    // 5. Tokens.
    login_outcome ok = open_session(w, keys, std::move(*u), a.req, p, now, Json::Value(Json::objectValue));
    if (second_factor) sessions::record_second_factor(w, ok.pat, now);
    ok.limit_headers = refunded_headers();
    return ok;
  });
  if (out.denied) return out;

  metrics::add("cartgate_logins_total{result=\"ok\"}");
  announce_login(bus, out, ip, now);
  return out;
}

login_outcome login_pipeline::vouched(const vouched_login& a, const policy& p, std::int64_t now) const {
  const std::string& ip = a.req.client_ip;
  login_outcome out = db::with_transaction(db, [&](pqxx::work& w) {
    auto refused = [&](reason why, std::int64_t user_id) {
      Json::Value detail(Json::objectValue);
      detail["via"] = "storefront";
      detail["reason"] = std::string(reason_name(why));
      audit::record(w, "login_refused", user_id, "", ip, detail);
      return denied(failure(why));
    };
    // The account: WordPress's id, and its login as a check that the two name the same
    // customer (until cartgate's accounts come from WordPress, ids may disagree).
    auto u = users::find_by_id(w, a.user_id);
    if (!u || text::ascii_lower(u->login) != text::ascii_lower(a.login)) {
      return refused(reason::storefront_account_unknown, u ? u->id : 0);
    }

    // 3. Permission rules, as for a login.
    rules::context ctx{a.req, a.params, *u, "login", p, now, w};
    if (auto f = rules.run(ctx)) return denied(std::move(*f));

    // 4. Second factor: proven by the WordPress login, or refused.
    bool enrolled = a.second_factor_enrolled_in_wordpress || twofactor::load_state(w, u->id).any();
    if (enrolled && !a.second_factor_passed) return refused(reason::storefront_second_factor_missing, u->id);

    // 5. Tokens.
    Json::Value detail(Json::objectValue);
    detail["via"] = "storefront";
    if (enrolled) detail["second_factor"] = "wordpress";
    login_outcome ok = open_session(w, keys, std::move(*u), a.req, p, now, detail);
    if (enrolled) sessions::record_second_factor(w, ok.pat, now);
    return ok;
  });
  if (out.denied) {
    metrics::add("cartgate_logins_total{result=\"storefront_refused\"}");
    return out;
  }
  metrics::add("cartgate_logins_total{result=\"storefront_ok\"}");
  announce_login(bus, out, ip, now);
  return out;
}

login_outcome login_pipeline::relogin(const identity& who, const policy& p, std::int64_t now) const {
  return db::with_transaction(db, [&](pqxx::work& w) {
    auto u = users::find_by_id(w, who.user_id);
    if (!u) return denied(failure(reason::user_deleted));
    login_outcome out;
    out.refresh = sessions::reissue_refresh(w, who.pat, who.user_id, p, now);
    audit::record(w, "refresh_reissued", who.user_id, who.pat, "");
    out.access = p.prefix + who.token;
    out.pat = who.pat;
    out.who = std::move(u);
    return out;
  });
}

}  // namespace cartgate
