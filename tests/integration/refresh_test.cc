// Contract §2.2, refresh tokens through nginx: rotation on every use, reuse of a rotated
// token revokes the whole session, the three error answers, and two concurrent
// rotations of one token of which exactly one wins.
#include <atomic>
#include <thread>

#include "auth_helpers.h"

namespace cartgate::test {
namespace {

TEST(RefreshRotation, ReturnsNewAccessAndRefreshToken) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  auto r = refresh(s.refresh);
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.json();
  ASSERT_TRUE(j["token"].isString() && j["refresh_token"].isString()) << r.body;
  EXPECT_EQ(j.size(), 2u) << r.body;
  std::string access = j["token"].asString();
  std::string next = j["refresh_token"].asString();
  EXPECT_TRUE(is_hex(next, 128));
  EXPECT_NE(next, s.refresh);
  EXPECT_EQ(pat_of(access), pat_of(s.access));  // same session
  EXPECT_EQ(token_payload(access)["data"]["user"]["id"].asInt64(), u.id);
  EXPECT_EQ(validate(access).status, 200);
  // The new refresh token rotates again.
  auto again = refresh(next);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_NE(again.json()["refresh_token"].asString(), next);
}

TEST(RefreshRotation, ReusedTokenRevokesSession) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  auto first = refresh(s.refresh);
  ASSERT_EQ(first.status, 200) << first.body;
  std::string new_access = first.json()["token"].asString();
  std::string new_refresh = first.json()["refresh_token"].asString();
  ASSERT_EQ(me(new_access).status, 200);

  auto reused = refresh(s.refresh);
  EXPECT_TRUE(is_error(reused, 401, "cocart_jwt_auth_refresh_token_reused"));
  // The whole session is gone: every access token of it, and the newest refresh token.
  EXPECT_TRUE(eventually([&] { return me(new_access).status == 401 && me(s.access).status == 401; },
                         std::chrono::milliseconds(1000)));
  EXPECT_TRUE(is_bearer_failure(validate(new_access)));
  EXPECT_EQ(refresh(new_refresh).status, 401);
}

TEST(RefreshRotation, ReuseLeavesOtherSessionsAlone) {
  limits_lifted lifted;
  auto u = make_user();
  auto a = login_ok(u);
  auto b = login_ok(u);
  ASSERT_EQ(refresh(a.refresh).status, 200);
  EXPECT_TRUE(is_error(refresh(a.refresh), 401, "cocart_jwt_auth_refresh_token_reused"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(me(b.access).status, 200);
}

TEST(RefreshRotation, MissingTokenIs400) {
  limits_lifted lifted;
  EXPECT_TRUE(is_error(post_json(refresh_path, Json::Value(Json::objectValue)), 400,
                       "cocart_jwt_auth_missing_refresh_token"));
  Json::Value empty;
  empty["refresh_token"] = "";
  EXPECT_TRUE(is_error(post_json(refresh_path, empty), 400, "cocart_jwt_auth_missing_refresh_token"));
}

TEST(RefreshRotation, TokenInQueryStringIsRefusedAndNotRotated) {
  limits_lifted lifted;
  auto s = login_ok(make_user());
  // Only in the URL, and in the URL beside a body: refused both times, never read.
  http_options o;
  o.method = "POST";
  auto only_query = http(std::string(refresh_path) + "?refresh_token=" + s.refresh, o);
  EXPECT_TRUE(is_error(only_query, 400, "rest_invalid_param")) << only_query.body;
  EXPECT_NE(only_query.json()["message"].asString().find("request body"), std::string::npos) << only_query.body;
  EXPECT_EQ(only_query.json()["message"].asString().find('\n'), std::string::npos);
  Json::Value body;
  body["refresh_token"] = s.refresh;
  auto both = post_json(std::string(refresh_path) + "?refresh_token=" + s.refresh, body);
  EXPECT_TRUE(is_error(both, 400, "rest_invalid_param")) << both.body;
  // The token was not used: it still rotates from the body.
  EXPECT_EQ(refresh(s.refresh).status, 200);
}

TEST(RefreshRotation, UnknownTokenIs401InvalidRefreshToken) {
  limits_lifted lifted;
  for (std::string t : {std::string(128, 'a'), std::string("short"), std::string(128, 'Z')}) {
    auto r = refresh(t);
    EXPECT_TRUE(is_error(r, 401, "cocart_authentication_error")) << t;
    EXPECT_EQ(r.json()["message"].asString(), "Invalid refresh token.");
  }
}

TEST(RefreshRotation, ExpiredTokenIs401RefreshTokenExpired) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  {
    auto c = db();
    pqxx::work w(c);
    w.exec_params("UPDATE refresh_tokens SET expires_at = now() - interval '1 minute' WHERE user_id = $1",
                  u.id);
    w.commit();
  }
  auto r = refresh(s.refresh);
  EXPECT_TRUE(is_error(r, 401, "cocart_authentication_error"));
  EXPECT_EQ(r.json()["message"].asString(), "Refresh token expired.");
}

TEST(RefreshRotation, UnexpiredTokenIsNotReportedExpired) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  {
    auto c = db();
    pqxx::work w(c);
    w.exec_params("UPDATE refresh_tokens SET expires_at = now() + interval '1 minute' WHERE user_id = $1",
                  u.id);
    w.commit();
  }
  EXPECT_EQ(refresh(s.refresh).status, 200);
}

TEST(RefreshRotation, TokenIsStoredOnlyAsHash) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  auto c = db();
  pqxx::read_transaction t(c);
  auto rows = t.exec_params("SELECT row_to_json(r)::text FROM refresh_tokens r WHERE user_id = $1", u.id);
  ASSERT_EQ(rows.size(), 1u);
  std::string row = rows[0][0].c_str();
  EXPECT_EQ(row.find(s.refresh), std::string::npos) << row;
  EXPECT_EQ(row.find(s.refresh.substr(0, 32)), std::string::npos) << row;
}

TEST(RefreshRotation, ConcurrentRefreshesWithOneTokenExactlyOneSucceeds) {
  limits_lifted lifted;
  auto u = make_user();
  for (int round = 0; round < 5; ++round) {
    auto s = login_ok(u);
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    http_result results[2];
    std::thread threads[2];
    for (int i = 0; i < 2; ++i) {
      threads[i] = std::thread([&, i] {
        ++ready;
        while (!go) std::this_thread::yield();
        results[i] = refresh(s.refresh);
      });
    }
    while (ready < 2) std::this_thread::yield();
    go = true;
    for (auto& t : threads) t.join();
    int ok = (results[0].status == 200) + (results[1].status == 200);
    EXPECT_EQ(ok, 1) << "round " << round << ": HTTP " << results[0].status << " "
                     << results[0].body << " / HTTP " << results[1].status << " " << results[1].body;
    for (auto& r : results) {
      if (r.status != 200) {
        EXPECT_EQ(r.status, 401) << r.body;
      }
    }
  }
}

}  // namespace
}  // namespace cartgate::test
