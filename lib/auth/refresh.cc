#include "auth/refresh.h"

#include "infra/log.h"
#include "rules/rate_limit.h"
#include "store/audit.h"
#include "store/sessions.h"
#include "store/users.h"

namespace cartgate {
namespace {

reason reason_for(sessions::rotate_status s) {
  switch (s) {
    case sessions::rotate_status::ok: break;
    case sessions::rotate_status::reused: return reason::refresh_reused;
    case sessions::rotate_status::expired: return reason::refresh_expired;
    case sessions::rotate_status::unknown:
    case sessions::rotate_status::session_revoked: return reason::refresh_unknown;
  }
  return reason::refresh_unknown;
}

}  // namespace

refresh_outcome refresh_pipeline::run(const http::request& req, const Json::Value& params, const policy& p,
                                      std::int64_t now) const {
  refresh_outcome out;
  const std::string& ip = req.client_ip;

  // 1. Rate limit. A lifted limit (-1) costs nothing: no transaction at all.
  if (p.refresh_max >= 0) {
    auto limit = db::with_transaction(db, [&](pqxx::work& w) {
      return rate_limit::hit(w, rate_limit::bucket("refresh:ip", rate_limit::ip_key(ip, p.ipv6_prefix)), p.refresh_max, p.refresh_window, now);
    });
    out.limit_headers = rate_limit::headers(limit);
    if (limit.limited) {
      out.denied = rate_limit::denial(limit);
      return out;
    }
  }

  // 2. The token, from the body only. One in the query string is already in nginx's
  // access log: refused rather than read, so a client that sends it there learns at once.
  if (!req.query_param("refresh_token").empty()) {
    out.denied = failure(reason::refresh_in_query);
    return out;
  }
  std::string presented = http::param_text(params, "refresh_token");
  if (presented.empty()) {
    out.denied = failure(reason::refresh_missing);
    return out;
  }

  struct rotation {
    std::optional<failure> denied;
    sessions::rotated rot;
    std::optional<user> who;
    std::string access;
  };
  std::string device = req.header("user-agent");
  auto result = db::with_transaction(db, [&](pqxx::work& w) {
    rotation r;
    // 3. Rules, for the token's owner.
    if (p.rules_on_refresh) {
      if (auto owner = sessions::refresh_token_owner(w, presented)) {
        if (auto u = users::find_by_id(w, *owner)) {
          rules::context ctx{req, params, *u, "refresh", p, now, w};
          r.denied = rules.run(ctx);
          if (r.denied) return r;
        }
      }
    }
    // 4. Rotation. Reuse commits the revocation it caused.
    r.rot = sessions::rotate(w, presented, p, now);
    if (r.rot.status == sessions::rotate_status::reused) {
      audit::record(w, "refresh_reuse_detected", r.rot.user_id, r.rot.pat, ip);
      return r;
    }
    if (r.rot.status != sessions::rotate_status::ok) return r;
    r.who = users::find_by_id(w, r.rot.user_id);
    if (!r.who) return r;
    r.access = keys.issue(r.who->id, r.who->login, r.rot.pat, ip, device, p, now);
    audit::record(w, "token_refreshed", r.who->id, r.rot.pat, ip);
    audit::publish(w, events::event(events::kind::token_refreshed, r.who->id, r.rot.pat, now));
    return r;
  });

  if (result.denied) {
    out.denied = std::move(result.denied);
    return out;
  }
  if (result.rot.status == sessions::rotate_status::reused) {
    log::warn("refresh_token_reused", {{"pat", result.rot.pat}, {"ip", ip}});
  }
  if (result.rot.status != sessions::rotate_status::ok || !result.who) {
    out.denied = failure(reason_for(result.rot.status));
    return out;
  }
  events::event e(events::kind::token_refreshed, result.who->id, result.rot.pat, now);
  e.token = result.access;
  e.subject = &*result.who;
  e.client_ip = ip;
  bus.publish(e);
  out.access = std::move(result.access);
  out.refresh_token = std::move(result.rot.refresh_token);
  return out;
}

}  // namespace cartgate
