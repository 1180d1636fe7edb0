// The caller's own sessions (contract §2.4), for the user of the Bearer token:
//   GET    /wp-json/cartgate/v1/sessions               → [{pat, created, last_used, expires,
//                                                          ip, device, current}…], newest first
//   DELETE /wp-json/cartgate/v1/sessions/{pat}         → true; 404 cartgate_session_not_found
//   DELETE /wp-json/cartgate/v1/sessions?others=true   → {"ended": N}, every session but this one
// Ending a session is a revocation like logout: every worker forgets it (NOTIFY), the
// audit trail records it and token_deleted fires. No answer lists or echoes a token.
#include "api/handlers.h"
#include "infra/log.h"
#include "store/audit.h"
#include "store/sessions.h"

namespace cartgate::api {
namespace {

Json::Value session_json(const sessions::live_session& l, const std::string& current_pat) {
  Json::Value o(Json::objectValue);
  o["pat"] = l.pat;
  o["created"] = static_cast<Json::Int64>(l.created);
  o["last_used"] = l.last_used ? Json::Value(static_cast<Json::Int64>(*l.last_used)) : Json::Value();
  o["expires"] = static_cast<Json::Int64>(l.expires);
  o["ip"] = l.ip;
  o["device"] = l.device;
  o["current"] = l.pat == current_pat;
  return o;
}

// Audit rows and events for sessions the owner ended, inside the ending transaction (the
// external stream) and after it (in-process plugins).
void record_ended(pqxx::transaction_base& w, const identity& who, const std::vector<std::string>& ended,
                  const std::string& ip, bool others, std::int64_t now) {
  for (const auto& pat : ended) {
    Json::Value detail(Json::objectValue);
    detail["by"] = "owner";
    detail["from"] = who.pat;
    if (others) detail["others"] = true;
    audit::record(w, "session_ended", who.user_id, pat, ip, detail);
    audit::publish(w, events::event(events::kind::token_deleted, who.user_id, pat, now));
  }
}

void announce_ended(services& s, const identity& who, const std::vector<std::string>& ended, std::int64_t now) {
  for (const auto& pat : ended) {
    events::event e(events::kind::token_deleted, who.user_id, pat, now);
    e.subject = who.subject.get();
    s.bus.publish(e);
  }
}

}  // namespace

http::response list_sessions(services& s, http::request& r) {
  std::int64_t now = s.now();
  auto bearer = s.bearer(s.policy.current()).request(r, now);
  if (!bearer.who) return s.refuse(bearer.why);
  const identity& who = *bearer.who;
  auto rows = db::with_transaction(s.db, [&](pqxx::work& w) { return sessions::list_live(w, who.user_id, now); });
  Json::Value list(Json::arrayValue);
  for (const auto& l : rows) list.append(session_json(l, who.pat));
  return http::json_response(200, list);
}

http::response end_session(services& s, http::request& r) {
  std::int64_t now = s.now();
  auto bearer = s.bearer(s.policy.current()).request(r, now);
  if (!bearer.who) return s.refuse(bearer.why);
  const identity& who = *bearer.who;
  std::string pat = r.path_param("pat");
  // Only a pat of cartgate's own shape can name a session; anything else (longer, other
  // characters) is not looked up at all.
  bool well_formed = pat.size() == 28 && pat.rfind("pat_", 0) == 0 &&
                     pat.find_first_not_of("0123456789abcdef", 4) == std::string::npos;
  bool ended = well_formed && db::with_transaction(s.db, [&](pqxx::work& w) {
                 if (!sessions::end_own(w, who.user_id, pat, "ended_by_owner", now)) return false;
                 record_ended(w, who, {pat}, r.client_ip, false, now);
                 return true;
               });
  if (!ended) {
    log::info("session_end_refused", {{"user_id", std::to_string(who.user_id)}, {"reason", "session_not_found"}});
    return s.refuse(reason::session_not_found);
  }
  announce_ended(s, who, {pat}, now);
  http::response res;
  res.body = "true";
  return res;
}

http::response end_other_sessions(services& s, http::request& r) {
  std::int64_t now = s.now();
  auto bearer = s.bearer(s.policy.current()).request(r, now);
  if (!bearer.who) return s.refuse(bearer.why);
  const identity& who = *bearer.who;
  // DELETE on the collection ends the others only when asked to in so many words: a
  // client that forgot the flag must not log its user out everywhere by accident.
  if (!r.query_flag("others")) return s.refuse(reason::sessions_others_required);
  auto ended = db::with_transaction(s.db, [&](pqxx::work& w) {
    auto pats = sessions::end_others(w, who.user_id, who.pat, "ended_by_owner", now);
    record_ended(w, who, pats, r.client_ip, true, now);
    return pats;
  });
  announce_ended(s, who, ended, now);
  Json::Value body(Json::objectValue);
  body["ended"] = static_cast<Json::Int64>(ended.size());
  return http::json_response(200, body);
}

}  // namespace cartgate::api
