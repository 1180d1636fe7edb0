// The login and refresh pipelines (lib/auth/login.h, lib/auth/refresh.h) run alone,
// against the test stack's PostgreSQL: no worker, no HTTP, keys and rules of the test's
// own, and a clock that stands still for the whole test.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <future>
#include <thread>

#include "auth/bearer.h"
#include "auth/login.h"
#include "auth/refresh.h"
#include "crypto/jwt.h"
#include "crypto/random.h"
#include "rules/rate_limit.h"
#include "store/sessions.h"
#include "store/users.h"
#include "support/stack.h"

namespace cartgate {
namespace {

using namespace std::chrono_literals;

// Password work done by one call, per scheme (password::work_done() before and after).
struct pw_counts {
  std::uint64_t argon2id = 0, bcrypt = 0, phpass_rounds = 0;
  bool operator==(const pw_counts&) const = default;
  friend std::ostream& operator<<(std::ostream& o, const pw_counts& c) {
    return o << "{argon2id " << c.argon2id << ", bcrypt " << c.bcrypt << ", phpass rounds " << c.phpass_rounds << "}";
  }
};

config test_config() {
  config cfg;
  cfg.algorithm = "HS256";
  cfg.secret = "pipeline-test-secret-pipeline-test-secret";
  cfg.issuer = "https://pipeline.example";
  return cfg;
}

// The test database's URL with an application_name of this test's own, so its
// connections can be told apart in pg_stat_activity.
std::string tagged_url() {
  std::string url = test::env("CARTGATE_TEST_DATABASE_URL");
  url += url.find('?') == std::string::npos ? "?" : "&";
  return url + "application_name=pipeline_test";
}

// A rule that denies every user named in `who`.
class deny_rule : public rules::rule {
 public:
  explicit deny_rule(std::int64_t who) : who_(who) {}
  std::string_view name() const override { return "deny_for_test"; }
  std::optional<failure> check(rules::context& c) override {
    if (c.subject.id == who_) return failure{reason::plugin_denied};
    return std::nullopt;
  }

 private:
  std::int64_t who_;
};

struct Pipelines : ::testing::Test {
  config cfg = test_config();
  db::pool pool{tagged_url(), 4};
  token_keys keys{cfg};
  rules::chain chain{std::vector<std::unique_ptr<rules::rule>>{}};
  events::bus bus;
  password::limiter slots{1};
  twofactor::settings no_twofactor{};
  policy pol = policy::defaults();
  // One instant for the whole test: the pipelines take the clock as a parameter.
  std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  // An address (and a /64, what per-IP limits count) of this test's own, so rate-limit
  // counts start from zero.
  std::string ip = "2001:db8:" + random::hex(2) + ":" + random::hex(2) + "::" + random::hex(2);
  std::string ip_bucket() const { return rate_limit::login_ip_bucket(rate_limit::ip_key(ip, 64)); }

  login_pipeline login(rules::chain& rules) {
    return login_pipeline{pool, keys, rules, bus, slots, password::argon2_params{}, 300ms, no_twofactor};
  }
  login_pipeline login() { return login(chain); }
  refresh_pipeline refresh(rules::chain& rules) { return refresh_pipeline{pool, keys, rules, bus}; }
  refresh_pipeline refresh() { return refresh(chain); }

  http::request request() {
    http::request r;
    r.client_ip = ip;
    r.headers["user-agent"] = "pipeline-test/1.0";
    return r;
  }
  Json::Value params = Json::Value(Json::objectValue);

  std::int64_t count(const std::string& sql, const std::string& arg) {
    auto c = test::db();
    pqxx::read_transaction t(c);
    return t.exec_params(sql, arg)[0][0].as<std::int64_t>();
  }
  std::int64_t live_sessions(std::int64_t user_id) {
    return count("SELECT count(*) FROM sessions WHERE user_id = $1::bigint AND revoked_at IS NULL",
                 std::to_string(user_id));
  }
};

TEST_F(Pipelines, LoginWithTheRightPasswordCreatesASessionAndSignedTokens) {
  auto u = test::make_user();
  auto req = request();
  auto out = login().run({req, params, u.login, u.password}, pol, now);
  ASSERT_FALSE(out.denied) << reason_name(out.denied->why);
  ASSERT_TRUE(out.who);
  EXPECT_EQ(out.who->id, u.id);
  EXPECT_EQ(out.refresh.size(), 128u);
  auto v = jwt::verify(out.access, keys.key(), now, cfg.issuer);
  ASSERT_EQ(v.why, jwt::reason::ok);
  EXPECT_EQ(v.payload["data"]["user"]["pat"].asString(), out.pat);
  EXPECT_EQ(v.payload["iat"].asInt64(), now) << "the pipeline's clock, not the machine's";
  EXPECT_EQ(live_sessions(u.id), 1);
  EXPECT_FALSE(out.limit_headers.empty()) << "every login answer carries the rate-limit headers";
}

TEST_F(Pipelines, LoginUnknownUserAndWrongPasswordLookAlikeAndBothCount) {
  auto u = test::make_user();
  auto req = request();
  auto wrong = login().run({req, params, u.login, "not-the-password"}, pol, now);
  auto unknown = login().run({req, params, test::unique_name("nobody"), "whatever"}, pol, now);
  ASSERT_TRUE(wrong.denied && unknown.denied);
  EXPECT_EQ(wrong.denied->why, reason::bad_credentials);
  EXPECT_EQ(unknown.denied->why, reason::bad_credentials);
  EXPECT_EQ(to_response(*wrong.denied).body, to_response(*unknown.denied).body);
  EXPECT_EQ(count("SELECT hits FROM rate_limits WHERE bucket = $1", ip_bucket()), 2);
  EXPECT_EQ(live_sessions(u.id), 0);
}

TEST_F(Pipelines, LoginRateLimitComesBeforeAnyPasswordWork) {
  auto u = test::make_user();
  auto req = request();
  for (int i = 0; i < pol.login_max; ++i) {
    EXPECT_EQ(login().run({req, params, u.login, "wrong"}, pol, now).denied->why, reason::bad_credentials);
  }
  // The only argon2 slot is taken: a login that did password work would answer busy.
  auto held = slots.acquire(0ms);
  ASSERT_TRUE(held);
  auto out = login().run({req, params, u.login, u.password}, pol, now);
  ASSERT_TRUE(out.denied);
  EXPECT_EQ(out.denied->why, reason::login_rate_limited);
}

TEST_F(Pipelines, LoginCountsEachAttemptBeforeThePasswordAndGivesSuccessesBack) {
  auto u = test::make_user();
  auto req = request();
  ASSERT_EQ(login().run({req, params, u.login, "wrong"}, pol, now).denied->why, reason::bad_credentials);
  EXPECT_EQ(count("SELECT hits FROM rate_limits WHERE bucket = $1", ip_bucket()), 1);
  auto ok = login().run({req, params, u.login, u.password}, pol, now);
  ASSERT_FALSE(ok.denied) << reason_name(ok.denied->why);
  EXPECT_EQ(count("SELECT hits FROM rate_limits WHERE bucket = $1", ip_bucket()), 1)
      << "a successful login is not a failure: its reservation is given back";
  EXPECT_EQ(count("SELECT hits FROM rate_limits WHERE bucket = $1",
                  rate_limit::login_user_bucket(u.id)), 1);
}

TEST_F(Pipelines, LoginsRacingPastTheLimitVerifyAtMostMaxPasswords) {
  auto u = test::make_user();
  auto req = request();
  password::limiter many{64};
  login_pipeline racing{pool, keys, chain, bus, many, password::argon2_params{}, 5000ms, no_twofactor};
  std::atomic<bool> go{false};
  std::vector<std::future<reason>> runs;
  for (int i = 0; i < 16; ++i) {
    runs.push_back(std::async(std::launch::async, [&] {
      while (!go) std::this_thread::yield();
      return racing.run({req, params, u.login, "wrong"}, pol, now).denied->why;
    }));
  }
  go = true;
  int failures = 0, limited = 0;
  for (auto& r : runs) {
    auto why = r.get();
    failures += why == reason::bad_credentials;
    limited += why == reason::login_rate_limited;
  }
  EXPECT_LE(failures, pol.login_max);
  EXPECT_GE(failures, 1);
  EXPECT_EQ(failures + limited, 16);
}

TEST_F(Pipelines, FailuresUnderAnIdentifierNeverSpendTheBudgetOfTheUserWithThatId) {
  auto u = test::make_user();
  auto req = request();
  for (int i = 0; i < pol.login_max; ++i) {
    // Another /64 each time: only the account bucket fills up.
    ip = "2001:db8:" + random::hex(2) + ":" + random::hex(2) + "::1";
    auto r = request();
    ASSERT_EQ(login().run({r, params, std::to_string(u.id), "wrong"}, pol, now).denied->why, reason::bad_credentials);
  }
  EXPECT_EQ(count("SELECT hits FROM rate_limits WHERE bucket = $1", rate_limit::login_name_bucket(std::to_string(u.id))),
            pol.login_max);
  auto out = login().run({req, params, u.login, u.password}, pol, now);
  EXPECT_FALSE(out.denied) << reason_name(out.denied->why);
}

TEST_F(Pipelines, LoginWithoutAnArgon2SlotIsBusy) {
  auto u = test::make_user();
  auto held = slots.acquire(0ms);
  ASSERT_TRUE(held);
  auto req = request();
  auto out = login().run({req, params, u.login, u.password}, pol, now);
  ASSERT_TRUE(out.denied);
  EXPECT_EQ(out.denied->why, reason::busy);
  EXPECT_EQ(live_sessions(u.id), 0);
}

TEST_F(Pipelines, LoginHoldsNoTransactionWhileWaitingForOrRunningArgon2) {
  auto u = test::make_user();
  auto held = slots.acquire(0ms);
  ASSERT_TRUE(held);
  auto req = request();
  auto running = std::async(std::launch::async, [&] { return login().run({req, params, u.login, u.password}, pol, now); });
  // While the login waits for the slot (slot_wait 300 ms), none of this test's
  // connections is inside a transaction.
  std::this_thread::sleep_for(100ms);
  auto in_transaction = count(
      "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state LIKE 'idle in transaction%'",
      "pipeline_test");
  held.reset();
  auto out = running.get();
  EXPECT_EQ(in_transaction, 0);
  EXPECT_FALSE(out.denied) << reason_name(out.denied->why);
}

TEST_F(Pipelines, LoginDeniedByARuleCreatesNoSessionAndIsNotAFailedLogin) {
  auto u = test::make_user();
  rules::chain denying{[&] {
    std::vector<std::unique_ptr<rules::rule>> v;
    v.push_back(std::make_unique<deny_rule>(u.id));
    return v;
  }()};
  auto req = request();
  auto out = login(denying).run({req, params, u.login, u.password}, pol, now);
  ASSERT_TRUE(out.denied);
  EXPECT_EQ(out.denied->why, reason::plugin_denied);
  EXPECT_EQ(live_sessions(u.id), 0);
  EXPECT_EQ(count("SELECT count(*) FROM rate_limits WHERE bucket = $1", ip_bucket()), 0);
}

TEST_F(Pipelines, LoginPastTheSessionCapEvictsTheOldest) {
  auto u = test::make_user();
  pol = policy::from_values({{"jwt.max_sessions", "2"}});
  auto req = request();
  std::vector<std::string> pats;
  for (int i = 0; i < 3; ++i) {
    auto out = login().run({req, params, u.login, u.password}, pol, now);
    ASSERT_FALSE(out.denied);
    pats.push_back(out.pat);
  }
  EXPECT_EQ(live_sessions(u.id), 2);
  EXPECT_EQ(count("SELECT count(*) FROM sessions WHERE pat = $1 AND revoked_at IS NOT NULL", pats[0]), 1);
}

TEST_F(Pipelines, ReloginKeepsTheAccessTokenAndRetiresTheRefreshToken) {
  auto u = test::make_user();
  auto req = request();
  auto first = login().run({req, params, u.login, u.password}, pol, now);
  ASSERT_FALSE(first.denied);
  identity who;
  who.user_id = u.id;
  who.pat = first.pat;
  who.token = first.access;
  auto again = login().relogin(who, pol, now);
  ASSERT_FALSE(again.denied);
  EXPECT_EQ(again.access, first.access);
  EXPECT_NE(again.refresh, first.refresh);
  Json::Value old_token(Json::objectValue);
  old_token["refresh_token"] = first.refresh;
  EXPECT_EQ(refresh().run(req, old_token, pol, now).denied->why, reason::refresh_reused);
}

TEST_F(Pipelines, RefreshRotatesAndAReusedTokenRevokesTheSession) {
  auto u = test::make_user();
  auto req = request();
  auto in = login().run({req, params, u.login, u.password}, pol, now);
  ASSERT_FALSE(in.denied);
  Json::Value body(Json::objectValue);
  body["refresh_token"] = in.refresh;
  auto next = refresh().run(req, body, pol, now);
  ASSERT_FALSE(next.denied) << reason_name(next.denied->why);
  EXPECT_NE(next.refresh_token, in.refresh);
  EXPECT_EQ(jwt::verify(next.access, keys.key(), now, cfg.issuer).why, jwt::reason::ok);
  auto reused = refresh().run(req, body, pol, now);
  ASSERT_TRUE(reused.denied);
  EXPECT_EQ(reused.denied->why, reason::refresh_reused);
  EXPECT_EQ(live_sessions(u.id), 0);
  body["refresh_token"] = next.refresh_token;
  EXPECT_EQ(refresh().run(req, body, pol, now).denied->why, reason::refresh_unknown);
}

TEST_F(Pipelines, RefreshPastItsExpiryIsRefusedWithoutRevoking) {
  auto u = test::make_user();
  pol = policy::from_values({{"jwt.refresh_ttl", "60"}});
  auto req = request();
  auto in = login().run({req, params, u.login, u.password}, pol, now);
  ASSERT_FALSE(in.denied);
  Json::Value body(Json::objectValue);
  body["refresh_token"] = in.refresh;
  auto late = refresh().run(req, body, pol, now + 61);
  ASSERT_TRUE(late.denied);
  EXPECT_EQ(late.denied->why, reason::refresh_expired);
}

// A worker's session cache remembers a session's expiry when it first reads it. A
// refresh (or a re-login) moves the expiry forward in the database only; the cache must
// read the session again once the remembered expiry has passed instead of calling it
// dead, or a customer who keeps refreshing is logged out at the first expiry.
struct CachedSessions : Pipelines {
  session_cache cache{[this](const std::string& pat) {
    auto c = pool.acquire();
    pqxx::read_transaction t(*c);
    return sessions::lookup(t, pat);
  }};
  std::string device = "pipeline-test/1.0";

  bearer_result check(const std::string& access, std::int64_t at) {
    bearer_check b{keys, pol, token_memo::for_this_thread(&keys), cache};
    return b.token(access, request_facts{ip, device}, at, false);
  }
};

TEST_F(CachedSessions, RefreshedSessionOutlivesItsFirstExpiryInACacheThatHeldIt) {
  pol = policy::from_values({{"jwt.refresh_ttl", "60"}});
  auto u = test::make_user();
  auto in = login().run({request(), params, u.login, u.password}, pol, now);
  ASSERT_FALSE(in.denied);
  ASSERT_TRUE(check(in.access, now).who);  // cached, expiring at now + 60
  Json::Value body(Json::objectValue);
  body["refresh_token"] = in.refresh;
  auto next = refresh().run(request(), body, pol, now + 30);  // expires at now + 90
  ASSERT_FALSE(next.denied) << reason_name(next.denied->why);
  auto later = check(next.access, now + 61);
  EXPECT_TRUE(later.who) << reason_name(later.why);
  // The twin: without another refresh the session still ends at its new expiry.
  EXPECT_EQ(check(next.access, now + 91).why, reason::session_revoked);
}

TEST_F(CachedSessions, ReloginExtendedSessionOutlivesItsFirstExpiryInACacheThatHeldIt) {
  pol = policy::from_values({{"jwt.refresh_ttl", "60"}});
  auto u = test::make_user();
  auto in = login().run({request(), params, u.login, u.password}, pol, now);
  ASSERT_FALSE(in.denied);
  ASSERT_TRUE(check(in.access, now).who);
  identity who;
  who.user_id = u.id;
  who.pat = in.pat;
  who.token = in.access;
  ASSERT_FALSE(login().relogin(who, pol, now + 30).denied);  // expires at now + 90
  auto later = check(in.access, now + 61);
  EXPECT_TRUE(later.who) << reason_name(later.why);
  EXPECT_EQ(check(in.access, now + 91).why, reason::session_revoked);
}

// Contract §2.1: after a re-login the session's previous refresh token is retired. A
// rotation and re-logins racing on one session must leave at most one refresh token
// live: under READ COMMITTED, a re-login that retires "the session's tokens" without
// holding the session's row would miss the token a concurrent rotation just inserted.
TEST_F(Pipelines, RacingRotationsAndReloginsLeaveAtMostOneLiveRefreshToken) {
  auto u = test::make_user();
  for (int round = 0; round < 15; ++round) {
    auto in = login().run({request(), params, u.login, u.password}, pol, now);
    ASSERT_FALSE(in.denied);
    constexpr int threads = 8;
    std::atomic<int> ready{0};
    std::vector<std::thread> racers;
    for (int i = 0; i < threads; ++i) {
      racers.emplace_back([&, i] {
        ++ready;
        while (ready.load() < threads) std::this_thread::yield();
        try {
          db::with_transaction(pool, [&](pqxx::work& w) {
            if (i % 2 == 0) {
              sessions::rotate(w, in.refresh, pol, now);
            } else {
              sessions::reissue_refresh(w, in.pat, u.id, pol, now);
            }
          });
        } catch (const std::exception&) {
          // A transaction that gave up (a deadlock retried too often) changed nothing.
        }
      });
    }
    for (auto& t : racers) t.join();
    EXPECT_LE(count("SELECT count(*) FROM refresh_tokens WHERE pat = $1 AND retired_at IS NULL", in.pat), 1)
        << "round " << round;
  }
}

TEST_F(Pipelines, RefreshCountsEveryCallAgainstItsLimit) {
  pol = policy::from_values({{"rate_limit.refresh.max", "2"}});
  auto req = request();
  for (int i = 0; i < 2; ++i) EXPECT_EQ(refresh().run(req, params, pol, now).denied->why, reason::refresh_missing);
  auto out = refresh().run(req, params, pol, now);
  ASSERT_TRUE(out.denied);
  EXPECT_EQ(out.denied->why, reason::rate_limited);
  EXPECT_FALSE(out.limit_headers.empty());
}

TEST_F(Pipelines, RefreshDeniedByARuleLeavesTheTokenUsable) {
  auto u = test::make_user();
  auto req = request();
  auto in = login().run({req, params, u.login, u.password}, pol, now);
  ASSERT_FALSE(in.denied);
  rules::chain denying{[&] {
    std::vector<std::unique_ptr<rules::rule>> v;
    v.push_back(std::make_unique<deny_rule>(u.id));
    return v;
  }()};
  pol = policy::from_values({{"rules.on_refresh", "true"}});
  Json::Value body(Json::objectValue);
  body["refresh_token"] = in.refresh;
  EXPECT_EQ(refresh(denying).run(req, body, pol, now).denied->why, reason::plugin_denied);
  EXPECT_FALSE(refresh().run(req, body, pol, now).denied) << "the denied refresh did not rotate";
}

// Cookie → token (login_pipeline::vouched): the login from the rules on, for a customer
// WordPress logged in.
vouched_login vouched_for(const http::request& req, const Json::Value& params, const test::test_user& u) {
  return vouched_login{req, params, u.id, u.login, false, false};
}

TEST_F(Pipelines, VouchedLoginOpensASessionBoundToTheCustomersAddressAndDevice) {
  auto u = test::make_user();
  auto req = request();
  auto out = login().vouched(vouched_for(req, params, u), pol, now);
  ASSERT_FALSE(out.denied) << reason_name(out.denied->why);
  auto v = jwt::verify(out.access, keys.key(), now, cfg.issuer);
  ASSERT_EQ(v.why, jwt::reason::ok);
  EXPECT_EQ(v.payload["data"]["user"]["id"].asInt64(), u.id);
  EXPECT_EQ(v.payload["data"]["user"]["ip"].asString(), ip);
  EXPECT_EQ(v.payload["data"]["user"]["device"].asString(), "pipeline-test/1.0");
  EXPECT_EQ(v.payload["iat"].asInt64(), now);
  EXPECT_EQ(live_sessions(u.id), 1);
}

TEST_F(Pipelines, VouchedLoginNamingTheIdOfAnotherLoginIsRefused) {
  auto u = test::make_user();
  auto req = request();
  auto a = vouched_for(req, params, u);
  a.login = test::unique_name("someone_else");
  auto out = login().vouched(a, pol, now);
  ASSERT_TRUE(out.denied);
  EXPECT_EQ(out.denied->why, reason::storefront_account_unknown);
  a.login = u.login;
  for (auto& c : a.login) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_FALSE(login().vouched(a, pol, now).denied) << "WordPress logins compare without case";
  a.user_id = 0;
  EXPECT_EQ(login().vouched(a, pol, now).denied->why, reason::storefront_account_unknown);
}

TEST_F(Pipelines, VouchedLoginOfATwoFactorUserNeedsTheWordPressLoginToHavePassedIt) {
  auto u = test::make_user();
  ASSERT_EQ(test::cli({"2fa", "email", "enable", u.login}).status, 0);
  auto req = request();
  auto a = vouched_for(req, params, u);
  auto out = login().vouched(a, pol, now);
  ASSERT_TRUE(out.denied);
  EXPECT_EQ(out.denied->why, reason::storefront_second_factor_missing);
  EXPECT_EQ(live_sessions(u.id), 0);
  a.second_factor_passed = true;
  EXPECT_FALSE(login().vouched(a, pol, now).denied);
}

TEST_F(Pipelines, VouchedLoginOfAUserEnrolledInWordPressTwoFactorNeedsItPassedToo) {
  auto u = test::make_user();
  auto req = request();
  auto a = vouched_for(req, params, u);
  a.second_factor_enrolled_in_wordpress = true;
  EXPECT_EQ(login().vouched(a, pol, now).denied->why, reason::storefront_second_factor_missing);
  a.second_factor_passed = true;
  EXPECT_FALSE(login().vouched(a, pol, now).denied);
}

// sql/004: the Two Factor routes let a session change factors for 10 minutes after a
// login with a second factor; a login without one leaves nothing to go on.
TEST_F(Pipelines, OnlyALoginWithASecondFactorRecordsItOnTheSession) {
  auto u = test::make_user();
  auto req = request();
  auto plain = login().run({req, params, u.login, u.password}, pol, now);
  ASSERT_FALSE(plain.denied);
  EXPECT_EQ(count("SELECT count(*) FROM sessions WHERE pat = $1 AND second_factor_at IS NULL", plain.pat), 1);

  auto a = vouched_for(req, params, u);
  auto without = login().vouched(a, pol, now);
  ASSERT_FALSE(without.denied);
  EXPECT_EQ(count("SELECT count(*) FROM sessions WHERE pat = $1 AND second_factor_at IS NULL", without.pat), 1);

  a.second_factor_enrolled_in_wordpress = true;
  a.second_factor_passed = true;
  auto with = login().vouched(a, pol, now);
  ASSERT_FALSE(with.denied);
  EXPECT_EQ(count("SELECT count(*) FROM sessions WHERE pat = $1 AND second_factor_at = to_timestamp(" +
                      std::to_string(now) + ")",
                  with.pat),
            1);
}

TEST_F(Pipelines, VouchedLoginRunsThePermissionRules) {
  auto u = test::make_user();
  rules::chain denying{[&] {
    std::vector<std::unique_ptr<rules::rule>> v;
    v.push_back(std::make_unique<deny_rule>(u.id));
    return v;
  }()};
  auto req = request();
  auto out = login(denying).vouched(vouched_for(req, params, u), pol, now);
  ASSERT_TRUE(out.denied);
  EXPECT_EQ(out.denied->why, reason::plugin_denied);
  EXPECT_EQ(live_sessions(u.id), 0);
}

TEST_F(Pipelines, VouchedLoginPastTheSessionCapEvictsTheOldest) {
  pol = policy::from_values({{"jwt.max_sessions", "1"}});
  auto u = test::make_user();
  auto req = request();
  auto first = login().vouched(vouched_for(req, params, u), pol, now);
  auto second = login().vouched(vouched_for(req, params, u), pol, now);
  ASSERT_FALSE(first.denied || second.denied);
  EXPECT_EQ(live_sessions(u.id), 1);
  EXPECT_EQ(count("SELECT count(*) FROM sessions WHERE pat = $1 AND revoked_at IS NULL", second.pat), 1);
}

// ---- dummy work for the legacy schemes present ---------------------------------------

pw_counts work_since(const password::work_counters& before) {
  auto now = password::work_done();
  return {now.argon2id - before.argon2id, now.bcrypt - before.bcrypt, now.phpass_rounds - before.phpass_rounds};
}

TEST_F(Pipelines, AnImportedLegacyAccountTurnsItsDummyOnForUnknownUsers) {
  const auto phpass_target = test::make_user();
  const auto bcrypt_target = test::make_user();
  // The store as the test wants it, in a transaction never committed: every legacy hash
  // other tests left is argon2id here, then accounts get legacy hashes one by one, as an
  // import or the WordPress sync writes them. users::legacy_schemes reads it here; the
  // pipeline, on its own connections, sees only what the watch says.
  auto c = test::db();
  pqxx::work w(c);
  w.exec("UPDATE users SET password_hash = '" + password::dummy_hash(password::argon2_params{}) +
         "' WHERE password_hash NOT LIKE '$argon2id$%'");
  password::legacy_watch watch;
  auto pipeline = login();
  pipeline.legacy = &watch;
  auto req = request();
  auto unknown_user_work = [&] {
    const auto before = password::work_done();
    auto out = pipeline.run({req, params, "no-such-user-" + random::hex(6), "whatever"}, pol, now);
    EXPECT_TRUE(out.denied);
    return work_since(before);
  };

  watch.set(users::legacy_schemes(w));
  EXPECT_EQ(watch.current(), password::legacy_schemes::none());
  EXPECT_EQ(unknown_user_work(), (pw_counts{1, 0, 0})) << "an all-argon2id store: argon2id alone";

  users::set_password_hash(w, phpass_target.id, "$P$BPsuT5HFIpd0P6w6UDkPVl0Hi2x2rl.");  // a WordPress phpass
  watch.set(users::legacy_schemes(w));
  EXPECT_EQ(watch.current(), (password::legacy_schemes{.bcrypt = false, .phpass = true}));
  EXPECT_EQ(unknown_user_work(), (pw_counts{1, 0, 8192})) << "phpass present: its dummy runs";

  users::set_password_hash(w, bcrypt_target.id, "$wp" + password::hash_bcrypt("imported"));
  watch.set(users::legacy_schemes(w));
  EXPECT_EQ(watch.current(), password::legacy_schemes::all());
  EXPECT_EQ(unknown_user_work(), (pw_counts{1, 1, 8192})) << "both present: both dummies";
  w.abort();
}

TEST_F(Pipelines, ALegacyAccountFoundAtLoginTurnsItsDummyOnAtOnce) {
  // A reading taken before the account's hash arrived (the notification still on its way):
  // the login that finds it marks its scheme present, so the next unknown user pays it too.
  const auto u = test::make_user();
  auto c = test::db();
  pqxx::work w(c);
  users::set_password_hash(w, u.id, "$P$BPsuT5HFIpd0P6w6UDkPVl0Hi2x2rl.");
  w.commit();
  password::legacy_watch watch;
  watch.set(password::legacy_schemes::none());
  auto pipeline = login();
  pipeline.legacy = &watch;
  auto req = request();
  const auto before = password::work_done();
  EXPECT_TRUE(pipeline.run({req, params, u.login, "wrong"}, pol, now).denied);
  EXPECT_EQ(work_since(before), (pw_counts{1, 0, 8192})) << "its own scheme, and the argon2id dummy";
  EXPECT_EQ(watch.current(), (password::legacy_schemes{.bcrypt = false, .phpass = true}));
}

TEST_F(Pipelines, ALegacyHashWrittenNotifiesTheWorkers) {
  // sql/006's trigger: a legacy hash committed anywhere is a notification on
  // cartgate_password_schemes; an argon2id one is not.
  const auto u = test::make_user();
  auto listening = test::db();
  struct heard : pqxx::notification_receiver {
    using pqxx::notification_receiver::notification_receiver;
    int count = 0;
    void operator()(const std::string&, int) override { ++count; }
  } receiver(listening, "cartgate_password_schemes");
  auto write = [&](const std::string& hash) {
    auto c = test::db();
    pqxx::work w(c);
    users::set_password_hash(w, u.id, hash);
    w.commit();
  };
  auto heard_within = [&](std::chrono::milliseconds limit) {
    receiver.count = 0;
    listening.await_notification(static_cast<long>(limit.count() / 1000), static_cast<long>(limit.count() % 1000 * 1000));
    listening.get_notifs();
    return receiver.count;
  };
  write(password::hash("now-argon2id", password::argon2_params{.memory_kib = 64, .iterations = 1, .parallelism = 1}));
  EXPECT_EQ(heard_within(300ms), 0) << "argon2id: nothing to tell";
  write("$P$BPsuT5HFIpd0P6w6UDkPVl0Hi2x2rl.");
  EXPECT_GE(heard_within(5000ms), 1) << "phpass: every worker must hear";
  write("$wp" + password::hash_bcrypt("imported"));
  EXPECT_GE(heard_within(5000ms), 1) << "$wp$ bcrypt: every worker must hear";
}

}  // namespace
}  // namespace cartgate
