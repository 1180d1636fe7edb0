#include "store/sessions.h"

#include <openssl/sha.h>

#include <algorithm>
#include <functional>

#include "crypto/random.h"

namespace cartgate::sessions {
namespace {

pqxx::binarystring token_hash(std::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return pqxx::binarystring(digest, sizeof digest);
}

void notify_revoke(pqxx::transaction_base& tx, const std::string& payload) {
  tx.exec_params("SELECT pg_notify('cartgate_revoke', $1)", payload);
}

std::string insert_refresh(pqxx::transaction_base& tx, const std::string& pat, std::int64_t user_id,
                           const policy& p, std::int64_t now) {
  std::string token = new_refresh_token();
  tx.exec_params(
      "INSERT INTO refresh_tokens (token_hash, pat, user_id, created_at, expires_at)"
      " VALUES ($1, $2, $3, to_timestamp($4), to_timestamp($5))",
      token_hash(token), pat, user_id, now, now + p.refresh_ttl);
  return token;
}

// Everything that retires or issues a session's refresh tokens (rotate, reissue_refresh)
// first locks the session's row, always before any token row, so they run one after
// the other per session. Under READ COMMITTED each later statement then sees what the
// previous holder committed — in particular the token a rotation just inserted, which a
// re-login must retire — and the lock order is the same everywhere, so no deadlock.
void lock_session(pqxx::transaction_base& tx, const std::string& pat) {
  tx.exec_params("SELECT 1 FROM sessions WHERE pat = $1 FOR UPDATE", pat);
}

}  // namespace

std::string new_pat() { return "pat_" + random::hex(12); }
std::string new_refresh_token() { return random::hex(64); }

bool looks_like_refresh_token(std::string_view token) {
  return token.size() == 128 && std::all_of(token.begin(), token.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

created create(pqxx::transaction_base& tx, std::int64_t user_id, const std::string& ip,
               const std::string& device, const policy& p, std::int64_t now) {
  created c;
  // Serialise logins of one user so the session cap holds under concurrency.
  tx.exec_params("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user_id);
  if (p.max_sessions > 0) {
    auto live = tx.exec_params(
        "SELECT pat FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > to_timestamp($2)"
        " ORDER BY created_at DESC, pat",
        user_id, now);
    // Keep max_sessions - 1 of the newest, so the new one makes max_sessions.
    for (std::size_t i = static_cast<std::size_t>(p.max_sessions) - 1; i < live.size(); ++i) {
      std::string pat = live[static_cast<int>(i)][0].c_str();
      revoke_session(tx, pat, "evicted");
      c.evicted.push_back(pat);
    }
  }
  c.pat = new_pat();
  // `now` has whole seconds, and several logins of one user often share one: created_at
  // is kept strictly increasing per user (logins of a user are serialised by the lock
  // above), so "oldest first" eviction evicts the session that really came first.
  tx.exec_params(
      "INSERT INTO sessions (pat, user_id, ip, device, created_at, expires_at)"
      " VALUES ($1, $2, $3, $4, greatest(to_timestamp($5),"
      " (SELECT max(created_at) + interval '1 microsecond' FROM sessions WHERE user_id = $2)),"
      " to_timestamp($6))",
      c.pat, user_id, ip, device.substr(0, 512), now, now + p.refresh_ttl);
  c.refresh_token = insert_refresh(tx, c.pat, user_id, p, now);
  return c;
}

void record_second_factor(pqxx::transaction_base& tx, const std::string& pat, std::int64_t now) {
  tx.exec_params("UPDATE sessions SET second_factor_at = to_timestamp($2) WHERE pat = $1", pat, now);
}

std::optional<std::int64_t> second_factor_at(pqxx::transaction_base& tx, const std::string& pat) {
  auto r = tx.exec_params(
      "SELECT floor(extract(epoch FROM second_factor_at))::bigint FROM sessions WHERE pat = $1", pat);
  if (r.empty() || r[0][0].is_null()) return std::nullopt;
  return r[0][0].as<std::int64_t>();
}

std::string reissue_refresh(pqxx::transaction_base& tx, const std::string& pat, std::int64_t user_id,
                            const policy& p, std::int64_t now) {
  lock_session(tx, pat);
  tx.exec_params("UPDATE refresh_tokens SET retired_at = to_timestamp($2) WHERE pat = $1 AND retired_at IS NULL",
                 pat, now);
  tx.exec_params("UPDATE sessions SET expires_at = greatest(expires_at, to_timestamp($2)) WHERE pat = $1", pat,
                 now + p.refresh_ttl);
  return insert_refresh(tx, pat, user_id, p, now);
}

std::optional<std::int64_t> refresh_token_owner(pqxx::transaction_base& tx, std::string_view presented) {
  if (!looks_like_refresh_token(presented)) return std::nullopt;
  auto rows = tx.exec_params(
      "SELECT user_id FROM refresh_tokens WHERE token_hash = $1 AND retired_at IS NULL AND expires_at > now()",
      token_hash(presented));
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<std::int64_t>();
}

rotated rotate(pqxx::transaction_base& tx, std::string_view presented, const policy& p, std::int64_t now) {
  rotated r;
  if (!looks_like_refresh_token(presented)) return r;  // unknown
  auto owner = tx.exec_params("SELECT pat FROM refresh_tokens WHERE token_hash = $1", token_hash(presented));
  if (owner.empty()) return r;
  lock_session(tx, owner[0][0].c_str());
  auto rows = tx.exec_params(
      "SELECT t.pat, t.user_id, t.retired_at IS NOT NULL, extract(epoch FROM t.expires_at)::bigint,"
      " s.revoked_at IS NOT NULL"
      " FROM refresh_tokens t JOIN sessions s ON s.pat = t.pat WHERE t.token_hash = $1 FOR UPDATE OF t, s",
      token_hash(presented));
  if (rows.empty()) return r;
  auto row = rows[0];
  r.pat = row[0].c_str();
  r.user_id = row[1].as<std::int64_t>();
  bool retired = row[2].as<bool>();
  std::int64_t expires = row[3].as<std::int64_t>();
  bool revoked = row[4].as<bool>();
  if (retired) {
    // Someone holds a token that was already exchanged: the session is compromised.
    revoke_session(tx, r.pat, "refresh_token_reused");
    r.status = rotate_status::reused;
    return r;
  }
  if (revoked) {
    r.status = rotate_status::session_revoked;
    return r;
  }
  if (now >= expires) {
    r.status = rotate_status::expired;
    return r;
  }
  tx.exec_params("UPDATE refresh_tokens SET retired_at = to_timestamp($2) WHERE token_hash = $1",
                 token_hash(presented), now);
  tx.exec_params("UPDATE sessions SET expires_at = to_timestamp($2), last_used_at = to_timestamp($3) WHERE pat = $1",
                 r.pat, now + p.refresh_ttl, now);
  r.refresh_token = insert_refresh(tx, r.pat, r.user_id, p, now);
  r.status = rotate_status::ok;
  return r;
}

std::optional<state> lookup(pqxx::transaction_base& tx, const std::string& pat) {
  auto rows = tx.exec_params(
      "SELECT s.user_id, (s.revoked_at IS NULL), extract(epoch FROM s.expires_at)::bigint, " +
          users::column_list("u") + " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.pat = $1",
      pat);
  if (rows.empty()) return std::nullopt;
  state st;
  st.user_id = rows[0][0].as<std::int64_t>();
  st.live = rows[0][1].as<bool>();
  st.expires_at = rows[0][2].as<std::int64_t>();
  st.subject = users::from_row(rows[0], 3);
  st.subject.password_hash.clear();
  return st;
}

std::string revoke_payload_pat(const std::string& pat) { return "pat:" + pat; }
std::string revoke_payload_user(std::int64_t user_id) { return "user:" + std::to_string(user_id); }

bool revoke_session(pqxx::transaction_base& tx, const std::string& pat, const std::string& why) {
  auto res = tx.exec_params(
      "UPDATE sessions SET revoked_at = now(), revoke_reason = $2 WHERE pat = $1 AND revoked_at IS NULL", pat, why);
  notify_revoke(tx, revoke_payload_pat(pat));
  return res.affected_rows() > 0;
}

int revoke_user(pqxx::transaction_base& tx, std::int64_t user_id, const std::string& why) {
  auto res = tx.exec_params(
      "UPDATE sessions SET revoked_at = now(), revoke_reason = $2 WHERE user_id = $1 AND revoked_at IS NULL",
      user_id, why);
  notify_revoke(tx, revoke_payload_user(user_id));
  return static_cast<int>(res.affected_rows());
}

int revoke_all(pqxx::transaction_base& tx, const std::string& why) {
  auto res = tx.exec_params("UPDATE sessions SET revoked_at = now(), revoke_reason = $1 WHERE revoked_at IS NULL", why);
  notify_revoke(tx, revoke_payload_all);
  return static_cast<int>(res.affected_rows());
}

std::vector<live_session> list_live(pqxx::transaction_base& tx, std::int64_t user_id, std::int64_t now) {
  std::vector<live_session> out;
  // floor: created_at carries microseconds (kept increasing per user, see create()).
  for (auto r : tx.exec_params(
           "SELECT pat, floor(extract(epoch FROM created_at))::bigint,"
           " floor(extract(epoch FROM last_used_at))::bigint, floor(extract(epoch FROM expires_at))::bigint,"
           " ip, device FROM sessions"
           " WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > to_timestamp($2)"
           " ORDER BY created_at DESC, pat",
           user_id, now)) {
    live_session l;
    l.pat = r[0].c_str();
    l.created = r[1].as<std::int64_t>();
    if (!r[2].is_null()) l.last_used = r[2].as<std::int64_t>();
    l.expires = r[3].as<std::int64_t>();
    l.ip = r[4].is_null() ? "" : r[4].c_str();
    l.device = r[5].is_null() ? "" : r[5].c_str();
    out.push_back(std::move(l));
  }
  return out;
}

bool end_own(pqxx::transaction_base& tx, std::int64_t user_id, const std::string& pat, const std::string& why,
             std::int64_t now) {
  auto res = tx.exec_params(
      "UPDATE sessions SET revoked_at = now(), revoke_reason = $3"
      " WHERE pat = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > to_timestamp($4)",
      pat, user_id, why, now);
  if (res.affected_rows() == 0) return false;
  notify_revoke(tx, revoke_payload_pat(pat));
  return true;
}

std::vector<std::string> end_others(pqxx::transaction_base& tx, std::int64_t user_id, const std::string& keep,
                                    const std::string& why, std::int64_t now) {
  std::vector<std::string> ended;
  for (auto r : tx.exec_params(
           "UPDATE sessions SET revoked_at = now(), revoke_reason = $3"
           " WHERE user_id = $1 AND pat <> $2 AND revoked_at IS NULL AND expires_at > to_timestamp($4)"
           " RETURNING pat",
           user_id, keep, why, now)) {
    ended.emplace_back(r[0].c_str());
  }
  // One notification per session, not "user:<id>": the caller's own session stays
  // cached on every worker.
  for (auto& pat : ended) notify_revoke(tx, revoke_payload_pat(pat));
  return ended;
}

void record_last_used(pqxx::transaction_base& tx, const std::unordered_map<std::string, std::int64_t>& batch) {
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
  tx.exec_params(
      "UPDATE sessions s SET last_used_at = greatest(coalesce(s.last_used_at, to_timestamp(0)), to_timestamp(v.t))"
      " FROM unnest($1::text[], $2::bigint[]) AS v(pat, t) WHERE s.pat = v.pat",
      pats, times);
}

const char* const list_query =
    "SELECT s.pat, s.user_id, u.login, s.ip, s.device, extract(epoch FROM s.created_at)::bigint,"
    " extract(epoch FROM s.expires_at)::bigint, coalesce(extract(epoch FROM s.last_used_at)::bigint, 0),"
    " s.revoked_at IS NOT NULL"
    " FROM sessions s JOIN users u ON u.id = s.user_id ORDER BY s.created_at DESC, s.pat OFFSET $1 LIMIT $2";

std::vector<session_row> list(pqxx::transaction_base& tx, std::int64_t offset, std::int64_t limit) {
  std::vector<session_row> out;
  for (auto r : tx.exec_params(list_query, offset, limit)) {
    out.push_back({r[0].c_str(), r[1].as<std::int64_t>(), r[2].c_str(), r[3].c_str(), r[4].c_str(),
                   r[5].as<std::int64_t>(), r[6].as<std::int64_t>(), r[7].as<std::int64_t>(), r[8].as<bool>()});
  }
  return out;
}

std::int64_t cleanup_expired(pqxx::connection& c, std::int64_t batch_size,
                             const std::function<void(std::int64_t)>& progress) {
  std::int64_t total = 0;
  while (true) {
    pqxx::work w(c);
    auto res = w.exec_params(
        "DELETE FROM sessions WHERE pat IN (SELECT pat FROM sessions WHERE expires_at <= now() LIMIT $1)",
        batch_size);
    w.exec_params(
        "DELETE FROM refresh_tokens WHERE token_hash IN"
        " (SELECT token_hash FROM refresh_tokens WHERE expires_at <= now() LIMIT $1)",
        batch_size);
    w.commit();
    auto n = static_cast<std::int64_t>(res.affected_rows());
    total += n;
    if (progress) progress(total);
    if (n < batch_size) break;
  }
  return total;
}

}  // namespace cartgate::sessions
