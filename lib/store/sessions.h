// Login sessions and their refresh tokens in PostgreSQL. A session ("pat") outlives its
// access tokens; it ends when its refresh token expires, at logout, or when revoked.
// Refresh tokens exist only as SHA-256 hashes and rotate on every use: presenting a
// retired one is reuse, and revokes the whole session.
//
//   auto s = sessions::create(tx, user_id, ip, device, policy, now);   // evicts past the cap
//   auto r = sessions::rotate(tx, presented_refresh_token, policy, now);
//   sessions::revoke_user(tx, user_id, "password_changed");            // notifies workers
#pragma once

#include <pqxx/pqxx>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/options.h"
#include "store/users.h"

namespace cartgate::sessions {

std::string new_pat();            // "pat_" + 24 hex
std::string new_refresh_token();  // 128 hex (64 random bytes)
bool looks_like_refresh_token(std::string_view token);

struct created {
  std::string pat;
  std::string refresh_token;
  std::vector<std::string> evicted;  // sessions revoked to stay under jwt.max_sessions
};

created create(pqxx::transaction_base& tx, std::int64_t user_id, const std::string& ip,
               const std::string& device, const policy& p, std::int64_t now);

// A fresh refresh token for an existing session; the session's previous ones are retired
// (presenting one of them later counts as reuse). Locks the session's row, as rotate
// does, so a concurrent rotation and re-login leave one live refresh token.
std::string reissue_refresh(pqxx::transaction_base& tx, const std::string& pat, std::int64_t user_id,
                            const policy& p, std::int64_t now);

// When the session was logged in with a second factor (sql/004): login writes it after a
// good code; the Two Factor routes read it to decide whether a change of factor needs a
// current code (contract §3). nullopt: never, or no such session.
void record_second_factor(pqxx::transaction_base& tx, const std::string& pat, std::int64_t now);
std::optional<std::int64_t> second_factor_at(pqxx::transaction_base& tx, const std::string& pat);

enum class rotate_status { ok, unknown, expired, reused, session_revoked };
struct rotated {
  rotate_status status = rotate_status::unknown;
  std::string pat;
  std::int64_t user_id = 0;
  std::string refresh_token;  // the new one, when ok
};
// The user a live (unretired, unexpired) refresh token belongs to, without locking it.
std::optional<std::int64_t> refresh_token_owner(pqxx::transaction_base& tx, std::string_view presented);

// Locks the session's row, then the presented token's, so of two concurrent rotations
// exactly one succeeds, and a concurrent re-login (reissue_refresh) waits its turn.
rotated rotate(pqxx::transaction_base& tx, std::string_view presented, const policy& p, std::int64_t now);

// What a worker's session cache keeps of one session: its state and its user (without
// the password hash). nullopt: no such session.
struct state {
  std::int64_t user_id = 0;
  bool live = false;  // false: revoked
  std::int64_t expires_at = 0;
  user subject;
};
std::optional<state> lookup(pqxx::transaction_base& tx, const std::string& pat);

// Revocations notify every worker (cartgate_revoke) when the transaction commits, with
// one of these payloads: "pat:<pat>", "user:<id>" or "all".
std::string revoke_payload_pat(const std::string& pat);
std::string revoke_payload_user(std::int64_t user_id);
inline constexpr const char* revoke_payload_all = "all";

bool revoke_session(pqxx::transaction_base& tx, const std::string& pat, const std::string& why);
int revoke_user(pqxx::transaction_base& tx, std::int64_t user_id, const std::string& why);
int revoke_all(pqxx::transaction_base& tx, const std::string& why);

// Writes a batch of "last used" times (pat → unix seconds); a time never moves back.
void record_last_used(pqxx::transaction_base& tx, const std::unordered_map<std::string, std::int64_t>& batch);

// One live session as its owner sees it: GET /wp-json/cartgate/v1/sessions and
// `cartgate jwt list --user=…` show the same rows.
struct live_session {
  std::string pat;
  std::int64_t created = 0;                // unix seconds
  std::optional<std::int64_t> last_used;  // nullopt: never used (written in 5 s batches)
  std::int64_t expires = 0;
  std::string ip, device;                  // the bindings it was issued with ("" = none)
};
// The user's sessions that are neither revoked nor expired at `now`, newest first.
std::vector<live_session> list_live(pqxx::transaction_base& tx, std::int64_t user_id, std::int64_t now);

// Ends `pat` if it is a live session of `user_id` (and notifies every worker); false when
// it is not one — unknown, ended, expired, or another user's, all alike.
bool end_own(pqxx::transaction_base& tx, std::int64_t user_id, const std::string& pat, const std::string& why,
             std::int64_t now);
// Ends every live session of `user_id` except `keep`; returns the sessions it ended.
std::vector<std::string> end_others(pqxx::transaction_base& tx, std::int64_t user_id, const std::string& keep,
                                    const std::string& why, std::int64_t now);

struct session_row {
  std::string pat;
  std::int64_t user_id;
  std::string login;
  std::string ip, device;
  std::int64_t created_at, expires_at, last_used_at;  // last_used_at 0 = never
  bool revoked;
};
// Every session, newest first (`cartgate jwt list`), OFFSET and LIMIT a page.
std::vector<session_row> list(pqxx::transaction_base& tx, std::int64_t offset, std::int64_t limit);
// list()'s query ($1 offset, $2 limit): its ORDER BY is sessions_created_idx's order
// (sql/007), so a page reads the index instead of sorting the table. Public so a test can
// ask PostgreSQL how it plans it.
extern const char* const list_query;

// Deletes expired sessions (and their refresh tokens) in batches; returns how many.
std::int64_t cleanup_expired(pqxx::connection& c, std::int64_t batch_size,
                             const std::function<void(std::int64_t)>& progress);

}  // namespace cartgate::sessions
