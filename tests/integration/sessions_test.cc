// Contract §2.4 through nginx: a customer's own sessions. GET lists the live sessions of
// the token's user, newest first, with `current` on the token's own; DELETE /{pat} ends
// one of them (another user's is answered as an unknown one, 404
// cartgate_session_not_found); DELETE ?others=true ends every one but the caller's.
// Ending is a revocation (Revocation.* has the every-worker-within-1-s side of it), with
// an audit row per session. No answer lists or echoes a token.
#include <set>

#include "auth_helpers.h"

namespace cartgate::test {
namespace {

constexpr const char* sessions_path = "/wp-json/cartgate/v1/sessions";

http_result list_sessions(const std::string& token, http_options o = {}) {
  o.bearer = token;
  return http(sessions_path, o);
}

http_result end_session(const std::string& token, const std::string& pat, http_options o = {}) {
  o.method = "DELETE";
  o.bearer = token;
  return http(std::string(sessions_path) + "/" + pat, o);
}

http_result end_others(const std::string& token, const std::string& query = "?others=true", http_options o = {}) {
  o.method = "DELETE";
  o.bearer = token;
  return http(sessions_path + query, o);
}

std::vector<std::string> pats_listed(const http_result& r) {
  std::vector<std::string> out;
  for (const auto& s : r.json()) out.push_back(s["pat"].asString());
  return out;
}

std::int64_t audit_rows(const std::string& event, const std::string& pat) {
  auto c = db();
  pqxx::read_transaction t(c);
  return t.exec_params("SELECT count(*) FROM audit_events WHERE event = $1 AND pat = $2", event, pat)[0][0]
      .as<std::int64_t>();
}

TEST(OwnSessions, ListIsTheCallersLiveSessionsNewestFirstWithCurrentOnItsOwn) {
  limits_lifted lifted;
  auto u = make_user();
  auto a = login_ok(u);
  auto b = login_ok(u);
  auto c = login_ok(u);
  auto stranger = login_ok(make_user());
  auto r = list_sessions(b.access);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(r.json().isArray());
  EXPECT_EQ(pats_listed(r), (std::vector<std::string>{pat_of(c.access), pat_of(b.access), pat_of(a.access)}));
  for (const auto& s : r.json()) {
    EXPECT_EQ(s["current"].asBool(), s["pat"].asString() == pat_of(b.access)) << compact(s);
    EXPECT_TRUE(s["current"].isBool());
    EXPECT_TRUE(s["created"].isIntegral()) << compact(s);
    EXPECT_NEAR(static_cast<double>(s["created"].asInt64()), static_cast<double>(unix_now()), 60);
    EXPECT_TRUE(s["expires"].isIntegral());
    EXPECT_GT(s["expires"].asInt64(), s["created"].asInt64());
    EXPECT_TRUE(s["last_used"].isNull() || s["last_used"].isIntegral()) << compact(s);
    EXPECT_EQ(s["ip"].asString(), "127.0.0.1");
    EXPECT_EQ(s["device"].asString(), "cartgate-tests/1.0");
  }
  // The same list, seen from another of the user's sessions: only `current` moves.
  auto from_a = list_sessions(a.access);
  ASSERT_EQ(from_a.status, 200);
  EXPECT_EQ(pats_listed(from_a), pats_listed(r));
  EXPECT_TRUE(from_a.json()[2]["current"].asBool());
  EXPECT_FALSE(from_a.json()[1]["current"].asBool());
  // Never a token, never another user's session.
  for (const auto& secret : {a.access, a.refresh, b.access, b.refresh, c.access, c.refresh, pat_of(stranger.access)}) {
    EXPECT_EQ(r.body.find(secret), std::string::npos);
  }
}

TEST(OwnSessions, ListLeavesOutEndedSessionsAndShowsLastUseOnceThereIsOne) {
  limits_lifted lifted;
  auto u = make_user();
  auto gone = login_ok(u);
  auto used = login_ok(u);
  auto fresh = login_ok(u);
  ASSERT_EQ(logout(gone.access).status, 200);
  ASSERT_EQ(refresh(used.refresh).status, 200);  // a rotation records the use at once
  auto r = list_sessions(fresh.access);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(pats_listed(r), (std::vector<std::string>{pat_of(fresh.access), pat_of(used.access)}));
  EXPECT_TRUE(r.json()[1]["last_used"].isIntegral()) << r.body;
  EXPECT_NEAR(static_cast<double>(r.json()[1]["last_used"].asInt64()), static_cast<double>(unix_now()), 60);
}

TEST(OwnSessions, EndingOneAnswersTrueAndOnlyThatSessionStopsWorking) {
  limits_lifted lifted;
  auto u = make_user();
  auto phone = login_ok(u);
  auto laptop = login_ok(u);
  auto r = end_session(laptop.access, pat_of(phone.access));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "true");
  EXPECT_TRUE(eventually([&] { return me(phone.access).status == 401; }, std::chrono::milliseconds(1000)));
  EXPECT_TRUE(is_bearer_failure(me(phone.access)));
  EXPECT_TRUE(is_error(refresh(phone.refresh), 401, "cocart_authentication_error"));
  EXPECT_EQ(me(laptop.access).status, 200);
  EXPECT_EQ(pats_listed(list_sessions(laptop.access)), std::vector<std::string>{pat_of(laptop.access)});
  EXPECT_EQ(audit_rows("session_ended", pat_of(phone.access)), 1);
}

TEST(OwnSessions, EndingTheCallersOwnSessionIsALogout) {
  limits_lifted lifted;
  auto s = login_ok(make_user());
  ASSERT_EQ(end_session(s.access, pat_of(s.access)).status, 200);
  EXPECT_TRUE(eventually([&] { return me(s.access).status == 401; }, std::chrono::milliseconds(1000)));
}

TEST(OwnSessions, AnotherUsersSessionIsNotFoundLikeAnUnknownOneAndStaysLive) {
  limits_lifted lifted;
  auto mine = login_ok(make_user());
  auto theirs = login_ok(make_user());
  auto other = end_session(mine.access, pat_of(theirs.access));
  EXPECT_TRUE(is_error(other, 404, "cartgate_session_not_found")) << other.body;
  EXPECT_EQ(me(theirs.access).status, 200);
  EXPECT_EQ(audit_rows("session_ended", pat_of(theirs.access)), 0);
  // An unknown pat, one that is already ended, and one that is no pat at all: the same
  // answer, so a caller learns nothing about sessions that are not its own.
  auto ended = login_ok(make_user());
  ASSERT_EQ(logout(ended.access).status, 200);
  for (const std::string& pat : {std::string("pat_000000000000000000000000"), pat_of(ended.access),
                                 std::string("not-a-pat"), std::string("pat_") + std::string(200, 'a')}) {
    auto r = end_session(mine.access, pat);
    EXPECT_TRUE(is_error(r, 404, "cartgate_session_not_found")) << pat << ": " << r.body;
    EXPECT_EQ(r.body, other.body) << pat;
  }
  EXPECT_EQ(me(mine.access).status, 200);
}

TEST(OwnSessions, OthersTrueKeepsOnlyTheCallersSession) {
  limits_lifted lifted;
  auto u = make_user();
  auto a = login_ok(u);
  auto b = login_ok(u);
  auto c = login_ok(u);
  auto stranger = login_ok(make_user());
  auto r = end_others(b.access);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["ended"].asInt(), 2);
  auto left = list_sessions(b.access);
  ASSERT_EQ(left.status, 200);
  ASSERT_EQ(left.json().size(), 1u) << left.body;
  EXPECT_EQ(left.json()[0]["pat"].asString(), pat_of(b.access));
  EXPECT_TRUE(left.json()[0]["current"].asBool());
  EXPECT_TRUE(eventually([&] { return me(a.access).status == 401 && me(c.access).status == 401; },
                         std::chrono::milliseconds(1000)));
  EXPECT_EQ(me(b.access).status, 200);
  EXPECT_EQ(me(stranger.access).status, 200);
  EXPECT_EQ(audit_rows("session_ended", pat_of(a.access)), 1);
  EXPECT_EQ(audit_rows("session_ended", pat_of(c.access)), 1);
  // Nothing left to end.
  EXPECT_EQ(end_others(b.access).json()["ended"].asInt(), 0);
}

TEST(OwnSessions, DeletingTheListWithoutOthersTrueEndsNothing) {
  limits_lifted lifted;
  auto u = make_user();
  auto a = login_ok(u);
  auto b = login_ok(u);
  for (const char* query : {"", "?others=false", "?all=true"}) {
    EXPECT_TRUE(is_error(end_others(b.access, query), 400, "rest_invalid_param")) << query;
  }
  EXPECT_EQ(me(a.access).status, 200);
  EXPECT_EQ(list_sessions(b.access).json().size(), 2u);
}

TEST(OwnSessions, EveryRouteRefusesAMissingOrBadTokenAsABearerFailure) {
  limits_lifted lifted;
  auto s = login_ok(make_user());
  for (const std::string& token : {std::string(), std::string("garbage"), s.access + "x"}) {
    EXPECT_TRUE(is_bearer_failure(list_sessions(token))) << token;
    EXPECT_TRUE(is_bearer_failure(end_session(token, pat_of(s.access)))) << token;
    EXPECT_TRUE(is_bearer_failure(end_others(token))) << token;
  }
  EXPECT_EQ(me(s.access).status, 200) << "a refused request ends nothing";
}

TEST(OwnSessions, CliListShowsAnAdminTheRowsTheUserSees) {
  limits_lifted lifted;
  auto u = make_user();
  login_ok(u);
  auto b = login_ok(u);
  auto api = list_sessions(b.access).json();
  auto r = cli({"jwt", "list", "--user=" + u.login, "--format=json"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto listed = parse_json(r.out);
  ASSERT_EQ(listed.size(), api.size()) << r.out;
  for (Json::ArrayIndex i = 0; i < api.size(); ++i) {
    Json::Value expected = api[i], got = listed[i];
    expected.removeMember("current");  // only a token can say which one is "current"
    // Listing with b is a use of b, written in the next 5 s batch: last_used may have
    // moved from null in between.
    EXPECT_TRUE(got["last_used"].isNull() || got["last_used"].isIntegral());
    expected.removeMember("last_used");
    got.removeMember("last_used");
    EXPECT_EQ(compact(got), compact(expected));
  }
  auto table = cli({"jwt", "list", "--user=" + std::to_string(u.id)});
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_NE(table.out.find(pat_of(b.access)), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("cartgate-tests/1.0"), std::string::npos) << table.out;
  EXPECT_NE(cli({"jwt", "list", "--user=" + unique_name("nobody")}).status, 0);
}

}  // namespace
}  // namespace cartgate::test
