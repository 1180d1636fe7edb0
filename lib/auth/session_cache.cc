#include "auth/session_cache.h"

#include "infra/metrics.h"

namespace cartgate {

namespace {

// A session read before its expiry may have been extended since (rotate, a re-login);
// one read at or past its expiry is over for good (nothing extends an expired session).
bool worth_reading_again(const session_cache::entry& e, std::int64_t now) {
  return e.live && e.subject && e.expires_at <= now && e.read_at < e.expires_at;
}

}  // namespace

session_cache::entry session_cache::read(const std::string& pat, std::int64_t now) const {
  entry e;
  e.read_at = now;
  if (auto st = load_(pat)) {
    e.user_id = st->user_id;
    e.live = st->live;
    e.expires_at = st->expires_at;
    e.subject = std::make_shared<const user>(std::move(st->subject));
  }
  return e;
}

session_cache::entry session_cache::get(const std::string& pat, std::int64_t now) {
  // Fail closed: while revocations may be going unheard, memory is neither read nor
  // filled, so each check sees PostgreSQL (or fails with it, as 503).
  if (!trusted()) {
    metrics::add("cartgate_session_cache_untrusted_reads_total");
    return read(pat, now);
  }
  std::uint64_t generation;
  {
    std::shared_lock lock(mu_);
    auto it = map_.find(pat);
    if (it != map_.end() && !worth_reading_again(it->second, now)) return it->second;
    generation = generation_;
  }
  entry e = read(pat, now);
  std::unique_lock lock(mu_);
  // A revocation processed while we were reading may concern this very session, and a
  // listener that went away meanwhile may have missed one; then the answer is used once
  // but not remembered, and the next request reads again.
  if (generation == generation_ && trusted()) {
    if (map_.size() >= max_entries_ && !map_.count(pat)) {
      map_.clear();
      by_user_.clear();
    }
    remember(pat, e);
  }
  return e;
}

void session_cache::on_notification(std::string_view payload) {
  std::unique_lock lock(mu_);
  ++generation_;
  if (payload == sessions::revoke_payload_all) {
    map_.clear();
    by_user_.clear();
  } else if (payload.rfind("pat:", 0) == 0) {
    auto it = map_.find(std::string(payload.substr(4)));
    if (it != map_.end()) forget(it);
  } else if (payload.rfind("user:", 0) == 0) {
    std::int64_t id = 0;
    try {
      id = std::stoll(std::string(payload.substr(5)));
    } catch (...) {
      map_.clear();
      by_user_.clear();
      return;
    }
    auto u = by_user_.find(id);
    if (u == by_user_.end()) return;
    for (const std::string* pat : u->second) map_.erase(*pat);
    by_user_.erase(u);
  } else {
    map_.clear();  // unknown payload: be safe
    by_user_.clear();
  }
}

void session_cache::remember(const std::string& pat, const entry& e) {
  auto [it, inserted] = map_.try_emplace(pat, e);
  if (!inserted) {
    if (it->second.user_id == e.user_id) {
      it->second = e;
      return;
    }
    forget(it);
    it = map_.try_emplace(pat, e).first;
  }
  by_user_[e.user_id].push_back(&it->first);
}

void session_cache::forget(std::unordered_map<std::string, entry>::iterator it) {
  auto u = by_user_.find(it->second.user_id);
  if (u != by_user_.end()) {
    auto& pats = u->second;
    for (auto p = pats.begin(); p != pats.end(); ++p) {
      if (*p == &it->first) {
        pats.erase(p);
        break;
      }
    }
    if (pats.empty()) by_user_.erase(u);
  }
  map_.erase(it);
}

void session_cache::clear() {
  std::unique_lock lock(mu_);
  ++generation_;
  map_.clear();
  by_user_.clear();
}

std::size_t session_cache::size() const {
  std::shared_lock lock(mu_);
  return map_.size();
}

void session_cache::touch(const std::string& pat, std::int64_t now) {
  std::lock_guard lock(touch_mu_);
  if (touched_.size() < 100000 || touched_.count(pat)) touched_[pat] = now;
}

std::unordered_map<std::string, std::int64_t> session_cache::take_last_used() {
  std::unordered_map<std::string, std::int64_t> batch;
  std::lock_guard lock(touch_mu_);
  batch.swap(touched_);
  return batch;
}

}  // namespace cartgate
