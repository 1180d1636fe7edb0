#include "session_cache.h"

#include <vector>

#include "log.h"
#include "options.h"

namespace cartgate {

std::string revoke_payload_pat(const std::string& pat) { return "pat:" + pat; }
std::string revoke_payload_user(std::int64_t user_id) { return "user:" + std::to_string(user_id); }

session_cache::entry session_cache::get(const std::string& pat, db::pool& pool) {
  std::uint64_t generation;
  {
    std::shared_lock lock(mu_);
    auto it = map_.find(pat);
    if (it != map_.end()) return it->second;
    generation = generation_;
  }
  entry e;
  {
    auto conn = pool.acquire();
    try {
      pqxx::read_transaction t(*conn);
      auto rows = t.exec_params(
          "SELECT s.user_id, (s.revoked_at IS NULL) AS live, extract(epoch FROM s.expires_at)::bigint,"
          " u.login, u.email, u.display_name, array_to_string(u.roles, ',')"
          " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.pat = $1",
          pat);
      if (!rows.empty()) {
        auto r = rows[0];
        e.user_id = r[0].as<std::int64_t>();
        e.live = r[1].as<bool>();
        e.expires_at = r[2].as<std::int64_t>();
        auto u = std::make_shared<user>();
        u->id = e.user_id;
        u->login = r[3].c_str();
        u->email = r[4].c_str();
        u->display_name = r[5].c_str();
        u->roles = split_list(r[6].c_str());
        e.subject = std::move(u);
      }
    } catch (const pqxx::broken_connection&) {
      conn.discard();
      throw;
    }
  }
  std::unique_lock lock(mu_);
  // A revocation processed while we were reading may concern this very session; then the
  // answer is used once but not remembered, and the next request reads again.
  if (generation == generation_) {
    if (map_.size() >= max_entries_) map_.clear();
    map_.emplace(pat, e);
  }
  return e;
}

void session_cache::on_notification(std::string_view payload) {
  std::unique_lock lock(mu_);
  ++generation_;
  if (payload == revoke_payload_all) {
    map_.clear();
  } else if (payload.rfind("pat:", 0) == 0) {
    map_.erase(std::string(payload.substr(4)));
  } else if (payload.rfind("user:", 0) == 0) {
    std::int64_t id = 0;
    try {
      id = std::stoll(std::string(payload.substr(5)));
    } catch (...) {
      map_.clear();
      return;
    }
    for (auto it = map_.begin(); it != map_.end();) {
      it = it->second.user_id == id ? map_.erase(it) : std::next(it);
    }
  } else {
    map_.clear();  // unknown payload: be safe
  }
}

void session_cache::clear() {
  std::unique_lock lock(mu_);
  ++generation_;
  map_.clear();
}

std::size_t session_cache::size() const {
  std::shared_lock lock(mu_);
  return map_.size();
}

void session_cache::touch(const std::string& pat, std::int64_t now) {
  std::lock_guard lock(touch_mu_);
  if (touched_.size() < 100000 || touched_.count(pat)) touched_[pat] = now;
}

void session_cache::flush_last_used(pqxx::connection& c) {
  std::unordered_map<std::string, std::int64_t> batch;
  {
    std::lock_guard lock(touch_mu_);
    batch.swap(touched_);
  }
  if (batch.empty()) return;
  // pats are "pat_" + hex, so they need no quoting inside an array literal.
  std::string pats = "{", times = "{";
  for (auto& [pat, t] : batch) {
    if (pats.size() > 1) {
      pats += ',';
      times += ',';
    }
    pats += pat;
    times += std::to_string(t);
  }
  pats += '}';
  times += '}';
  try {
    pqxx::work w(c);
    w.exec_params(
        "UPDATE sessions s SET last_used_at = greatest(coalesce(s.last_used_at, to_timestamp(0)), to_timestamp(v.t))"
        " FROM unnest($1::text[], $2::bigint[]) AS v(pat, t) WHERE s.pat = v.pat",
        pats, times);
    w.commit();
  } catch (const std::exception& e) {
    log::warn("last_used_flush_failed", {{"sessions", std::to_string(batch.size())}});
    throw;
  }
}

}  // namespace cartgate
