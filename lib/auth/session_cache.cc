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
    if (map_.size() >= max_entries_) map_.clear();
    map_.insert_or_assign(pat, e);
  }
  return e;
}

void session_cache::on_notification(std::string_view payload) {
  std::unique_lock lock(mu_);
  ++generation_;
  if (payload == sessions::revoke_payload_all) {
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

std::unordered_map<std::string, std::int64_t> session_cache::take_last_used() {
  std::unordered_map<std::string, std::int64_t> batch;
  std::lock_guard lock(touch_mu_);
  batch.swap(touched_);
  return batch;
}

}  // namespace cartgate
