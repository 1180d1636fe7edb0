// Retention (lib/store/retention.h): the workers' scheduled pass deletes rows past their
// retention and keeps the rest, never touches a live session or an unexpired refresh
// token, leaves a row a request holds for the next pass instead of waiting for it, and
// logins keep working while a big prune runs. Rows are written straight into the test
// database with times in the past; the pass is the one the running pool schedules.
#include <thread>

#include "auth_helpers.h"

namespace cartgate::test {
namespace {

std::int64_t count(const std::string& sql) {
  auto c = db();
  pqxx::read_transaction t(c);
  return t.exec(sql)[0][0].as<std::int64_t>();
}

void exec(const std::string& sql) {
  auto c = db();
  pqxx::work w(c);
  w.exec(sql);
  w.commit();
}

std::string db_now() {
  auto c = db();
  pqxx::read_transaction t(c);
  return t.exec("SELECT now()::text")[0][0].as<std::string>();
}

// Every table (six of them) has a retention_runs row written after `since`.
bool each_table_finished_after(const std::string& since) {
  return eventually(
      [&] {
        auto c = db();
        pqxx::read_transaction t(c);
        return t.exec_params("SELECT count(*) FROM retention_runs WHERE finished_at > $1::timestamptz", since)[0][0]
                   .as<int>() >= 6;
      },
      std::chrono::milliseconds(30000));
}

// Waits until every table has been pruned by a pass that began after this call. A pass
// may be half-way when the call comes, so waiting for one that ends after it is not
// enough; but once each table has ended after it, the pass under way then (or the next)
// began after that, and it is the one the second wait sees.
bool full_pass_after_now() {
  if (!each_table_finished_after(db_now())) return false;
  return each_table_finished_after(db_now());
}

std::string quoted(pqxx::connection& c, const std::string& s) { return c.quote(s); }

// A session row of user `uid` whose expiry is `expires` (an SQL interval from now).
std::string insert_session(std::int64_t uid, const std::string& expires) {
  auto pat = "pat_" + unique_name("r").substr(0, 24);
  auto c = db();
  pqxx::work w(c);
  w.exec_params("INSERT INTO sessions (pat, user_id, created_at, expires_at)"
                " VALUES ($1, $2, now() - interval '40 days', now() + $3::interval)",
                pat, uid, expires);
  w.commit();
  return pat;
}

void insert_refresh(const std::string& pat, std::int64_t uid, const std::string& expires, bool retired) {
  auto c = db();
  pqxx::work w(c);
  w.exec_params("INSERT INTO refresh_tokens (token_hash, pat, user_id, expires_at, retired_at)"
                " VALUES (decode(md5(random()::text) || md5(random()::text), 'hex'), $1, $2,"
                " now() + $3::interval, CASE WHEN $4 THEN now() ELSE NULL END)",
                pat, uid, expires, retired);
  w.commit();
}

bool session_exists(const std::string& pat) {
  auto c = db();
  pqxx::read_transaction t(c);
  return !t.exec_params("SELECT 1 FROM sessions WHERE pat = $1", pat).empty();
}

TEST(Retention, ScheduledPassDeletesRowsPastRetentionAndKeepsTheRest) {
  auto u = make_user();
  auto tag = unique_name("ret");
  {
    auto c = db();
    pqxx::work w(c);
    auto t = quoted(c, tag);
    w.exec("INSERT INTO audit_events (time, event, user_id, detail) VALUES"
           " (now() - interval '40 days', " + t + ", " + std::to_string(u.id) + ", '{\"age\":\"old\"}'),"
           " (now() - interval '20 days', " + t + ", " + std::to_string(u.id) + ", '{\"age\":\"recent\"}')");
    w.exec("INSERT INTO rate_limits (bucket, hits, window_start, window_end) VALUES"
           " (" + quoted(c, tag + ":ended") + ", 3, now() - interval '2 minutes', now() - interval '1 minute'),"
           " (" + quoted(c, tag + ":open") + ", 3, now() - interval '1 minute', now() + interval '10 minutes')");
    w.exec("INSERT INTO twofactor_email_codes (user_id, code_hash, expires_at, used_at) VALUES"
           " (" + std::to_string(u.id) + ", 'old', now() - interval '3 days', now() - interval '3 days'),"
           " (" + std::to_string(u.id) + ", 'fresh', now() + interval '10 minutes', NULL)");
    w.exec("INSERT INTO twofactor_backup_codes (user_id, code_hash, used_at) VALUES"
           " (" + std::to_string(u.id) + ", 'spent', now() - interval '3 days'),"
           " (" + std::to_string(u.id) + ", 'unused', NULL)");
    w.commit();
  }
  auto long_expired = insert_session(u.id, "-10 days");
  auto lately_expired = insert_session(u.id, "-2 days");
  auto live = insert_session(u.id, "20 days");
  insert_refresh(live, u.id, "-10 days", true);   // a rotated token, long expired
  insert_refresh(live, u.id, "20 days", false);   // the session's current one
  // Inconsistent on purpose: an expired session whose refresh token still lives stays.
  auto guarded = insert_session(u.id, "-10 days");
  insert_refresh(guarded, u.id, "5 days", true);

  option_guard opts({{"retention.interval_s", "1"},
                     {"retention.audit_days", "30"},
                     {"retention.sessions_days", "7"},
                     {"retention.twofactor_days", "1"},
                     {"retention.rate_limit_s", "0"}});
  auto audit = [&](const std::string& age) {
    return count("SELECT count(*) FROM audit_events WHERE event = '" + tag + "' AND detail->>'age' = '" + age + "'");
  };
  ASSERT_TRUE(eventually([&] { return audit("old") == 0; }, std::chrono::milliseconds(30000)))
      << "no scheduled pass deleted the 40-day-old audit event";
  ASSERT_TRUE(full_pass_after_now());

  EXPECT_EQ(audit("recent"), 1);
  EXPECT_FALSE(session_exists(long_expired));
  EXPECT_TRUE(session_exists(lately_expired));
  EXPECT_TRUE(session_exists(live));
  EXPECT_TRUE(session_exists(guarded));
  EXPECT_EQ(count("SELECT count(*) FROM refresh_tokens WHERE pat = '" + live + "'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM refresh_tokens WHERE pat = '" + live + "' AND expires_at > now()"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM refresh_tokens WHERE pat = '" + guarded + "'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM rate_limits WHERE bucket = '" + tag + ":ended'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM rate_limits WHERE bucket = '" + tag + ":open'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM twofactor_email_codes WHERE user_id = " + std::to_string(u.id) +
                  " AND code_hash = 'old'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM twofactor_email_codes WHERE user_id = " + std::to_string(u.id) +
                  " AND code_hash = 'fresh'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM twofactor_backup_codes WHERE user_id = " + std::to_string(u.id) +
                  " AND code_hash = 'spent'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM twofactor_backup_codes WHERE user_id = " + std::to_string(u.id) +
                  " AND code_hash = 'unused'"), 1);
}

TEST(Retention, KeepingNothingStillLeavesLiveSessionsWorking) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  auto rotated = refresh(s.refresh);  // the first refresh token is now retired, unexpired
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  auto pat = pat_of(s.access);
  option_guard opts({{"retention.interval_s", "1"},
                     {"retention.sessions_days", "0"},
                     {"retention.twofactor_days", "0"}});
  ASSERT_TRUE(full_pass_after_now());
  EXPECT_TRUE(session_exists(pat));
  EXPECT_EQ(count("SELECT count(*) FROM refresh_tokens WHERE pat = '" + pat + "'"), 2);
  EXPECT_EQ(validate(rotated.json()["token"].asString()).status, 200);
  // The retired token is still known as one: presenting it is reuse, not "unknown".
  EXPECT_TRUE(is_error(refresh(s.refresh), 401, "cocart_jwt_auth_refresh_token_reused"));
}

TEST(Retention, RowHeldByARequestIsLeftForTheNextPassNotWaitedFor) {
  auto tag = unique_name("held");
  exec("INSERT INTO rate_limits (bucket, hits, window_start, window_end)"
       " SELECT '" + tag + ":' || i, 1, now() - interval '2 minutes', now() - interval '1 minute'"
       " FROM generate_series(1, 50) AS i");
  {
    // A transaction of the test holds one of the ended windows, as a login counting on
    // that bucket would, before passes come every second.
    auto holder = db();
    pqxx::work held(holder);
    ASSERT_EQ(held.exec("SELECT 1 FROM rate_limits WHERE bucket = '" + tag + ":25' FOR UPDATE").size(), 1u);
    option_guard opts({{"retention.interval_s", "1"}, {"retention.batch_rows", "7"}});
    ASSERT_TRUE(eventually([&] { return count("SELECT count(*) FROM rate_limits WHERE bucket LIKE '" + tag +
                                              ":%'") == 1; },
                           std::chrono::milliseconds(30000)))
        << "the pass stopped at the held row";
    EXPECT_EQ(count("SELECT count(*) FROM rate_limits WHERE bucket = '" + tag + ":25'"), 1);
    held.commit();
    EXPECT_TRUE(eventually([&] { return count("SELECT count(*) FROM rate_limits WHERE bucket LIKE '" + tag +
                                              ":%'") == 0; },
                           std::chrono::milliseconds(30000)));
  }
}

TEST(Retention, LoginsSucceedWhileABigPruneRuns) {
  limits_lifted lifted;
  auto u = make_user();
  auto tag = unique_name("bulk");
  exec("INSERT INTO audit_events (time, event, detail)"
       " SELECT now() - interval '200 days' - i * interval '1 second', '" + tag + "', '{}'"
       " FROM generate_series(1, 300000) AS i");
  auto remaining = [&] { return count("SELECT count(*) FROM audit_events WHERE event = '" + tag + "'"); };
  option_guard opts({{"retention.interval_s", "1"}, {"retention.batch_rows", "500"}});
  ASSERT_TRUE(eventually([&] { return remaining() < 300000; }, std::chrono::milliseconds(30000)))
      << "the prune did not start";
  int during = 0, ok = 0;
  while (true) {
    auto before = remaining();
    auto r = login(u);
    auto after = remaining();
    if (before > 0 && after > 0) {
      ++during;
      if (r.status == 200) ++ok; else ADD_FAILURE() << "login during the prune: " << r.status << " " << r.body;
    }
    if (after == 0 || during >= 20) break;
  }
  EXPECT_GT(during, 0) << "the prune ended before any login ran beside it";
  EXPECT_EQ(ok, during);
  EXPECT_TRUE(eventually([&] { return remaining() == 0; }, std::chrono::milliseconds(120000)));
}

TEST(Retention, CliRunDeletesAndReportsEachTable) {
  auto tag = unique_name("cli");
  exec("INSERT INTO audit_events (time, event, detail)"
       " SELECT now() - interval '400 days', '" + tag + "', '{}' FROM generate_series(1, 12)");
  auto r = cli({"retention", "run", "--batch-rows=5"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("audit_events: deleted "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rate_limits: deleted "), std::string::npos) << r.out;
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE event = '" + tag + "'"), 0);
}

}  // namespace
}  // namespace cartgate::test
