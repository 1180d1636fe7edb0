// The one mapping from failure reasons to the contract's answers (contract §1, §2.2).
#include "http/errors.h"

#include <gtest/gtest.h>

#include <set>

namespace cartgate {
namespace {

Json::Value body_of(const http::response& r) { return *http::parse_json(r.body); }

std::string header_of(const http::response& r, const std::string& name) {
  for (auto& h : r.headers) {
    if (h.name == name) return h.value;
  }
  return {};
}

TEST(Errors, StatusEqualsDataStatusForEveryReason) {
  for (reason why : all_reasons()) {
    auto res = to_response(failure(why));
    auto body = body_of(res);
    EXPECT_EQ(body["data"]["status"].asInt(), res.status) << reason_name(why);
    EXPECT_FALSE(body["code"].asString().empty()) << reason_name(why);
    EXPECT_FALSE(body["message"].asString().empty()) << reason_name(why);
    EXPECT_NE(reason_name(why), "unknown");
  }
}

TEST(Errors, EveryBearerFailureLooksTheSameToTheClient) {
  auto expected = to_response(failure(reason::token_expired));
  for (reason why : {reason::token_missing, reason::token_malformed, reason::token_bad_signature,
                     reason::token_alg_mismatch, reason::token_not_yet_valid, reason::token_issuer_mismatch,
                     reason::token_ip_mismatch, reason::token_device_mismatch, reason::session_revoked,
                     reason::user_deleted}) {
    auto res = to_response(failure(why));
    EXPECT_EQ(res.status, 401);
    EXPECT_EQ(res.body, expected.body) << reason_name(why);
    EXPECT_EQ(header_of(res, "WWW-Authenticate"), "Bearer error=\"invalid_token\"");
  }
}

// jwt.failure_status 403 (CoCart JWT 3.x): the status changes, and data.status with it;
// code, message and WWW-Authenticate stay as they are.
TEST(Errors, BearerFailuresAnswer403WithTheSameCodeMessageAndHeaderWhenAsked) {
  for (reason why : all_reasons()) {
    if (!is_token_failure(why)) continue;
    auto as_401 = to_response(failure(why));
    auto as_403 = to_response(failure(why), 403);
    EXPECT_EQ(as_403.status, 403) << reason_name(why);
    auto a = body_of(as_401), b = body_of(as_403);
    EXPECT_EQ(b["code"], a["code"]);
    EXPECT_EQ(b["message"], a["message"]);
    EXPECT_EQ(b["data"]["status"].asInt(), 403);
    EXPECT_EQ(header_of(as_403, "WWW-Authenticate"), "Bearer error=\"invalid_token\"");
  }
}

TEST(Errors, FailureStatusLeavesEveryOtherReasonAlone) {
  for (reason why : all_reasons()) {
    if (is_token_failure(why)) continue;
    EXPECT_EQ(to_response(failure(why), 403).body, to_response(failure(why)).body) << reason_name(why);
    EXPECT_EQ(to_response(failure(why), 403).status, to_response(failure(why)).status) << reason_name(why);
  }
}

TEST(Errors, BearerStatusOtherThan401Or403KeepsThe401) {
  for (int status : {0, 200, 400, 402, 500}) {
    EXPECT_EQ(to_response(failure(reason::token_expired), status).status, 401) << status;
  }
}

TEST(Errors, SessionNotFoundIsCartgates404) {
  auto res = to_response(failure(reason::session_not_found));
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(body_of(res)["code"].asString(), "cartgate_session_not_found");
  EXPECT_EQ(header_of(res, "WWW-Authenticate"), "");
}

TEST(Errors, CredentialFailuresHaveNoWwwAuthenticateBearer) {
  auto res = to_response(failure(reason::bad_credentials));
  EXPECT_EQ(res.status, 401);
  EXPECT_EQ(body_of(res)["code"].asString(), "cocart_authentication_error");
  EXPECT_EQ(header_of(res, "WWW-Authenticate"), "");
}

TEST(Errors, RefreshAnswersAreTheContracts) {
  EXPECT_EQ(body_of(to_response(failure(reason::refresh_missing)))["code"].asString(),
            "cocart_jwt_auth_missing_refresh_token");
  EXPECT_EQ(body_of(to_response(failure(reason::refresh_unknown)))["message"].asString(), "Invalid refresh token.");
  EXPECT_EQ(body_of(to_response(failure(reason::refresh_expired)))["message"].asString(), "Refresh token expired.");
  EXPECT_EQ(body_of(to_response(failure(reason::refresh_reused)))["code"].asString(),
            "cocart_jwt_auth_refresh_token_reused");
}

TEST(Errors, BusyIsA503ThatSaysWhenToComeBack) {
  auto res = to_response(failure(reason::busy));
  EXPECT_EQ(res.status, 503);
  std::string retry;
  for (auto& h : res.headers) {
    if (h.name == "Retry-After") retry = h.value;
  }
  EXPECT_EQ(retry, "1");
}

TEST(Errors, ExtraDataAndHeadersAreKept) {
  failure f(reason::login_rate_limited);
  f.data["retry_after"] = 42;
  f.headers.push_back({"Retry-After", "42"});
  auto res = to_response(f);
  auto body = body_of(res);
  EXPECT_EQ(res.status, 429);
  EXPECT_EQ(body["data"]["retry_after"].asInt(), 42);
  EXPECT_EQ(body["message"].asString(), "Too many login attempts. Please try again later.");
  EXPECT_EQ(header_of(res, "Retry-After"), "42");
}

TEST(Errors, PluginOverridesCodeAndStatus) {
  failure f(reason::plugin_denied);
  f.plugin = plugin_answer{"store_channel_unknown", "", 400};
  auto res = to_response(f);
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(body_of(res)["code"].asString(), "store_channel_unknown");
  EXPECT_EQ(body_of(res)["data"]["status"].asInt(), 400);
}

TEST(Errors, PluginAnswerIsIgnoredForOtherReasons) {
  failure f(reason::geo_blocked);
  f.plugin = plugin_answer{"store_channel_unknown", "nope", 400};
  auto res = to_response(f);
  EXPECT_EQ(res.status, 403);
  EXPECT_EQ(body_of(res)["code"].asString(), "cocart_geo_blocked");
}

TEST(Errors, DetailFillsTheMessageSlot) {
  failure f(reason::twofactor_invalid_provider);
  f.detail = "sms";
  EXPECT_EQ(body_of(to_response(f))["message"].asString(), "Invalid 2FA provider: sms");
  // Without a slot in its message, a reason ignores the detail.
  failure g(reason::refresh_unknown);
  g.detail = "ignored";
  EXPECT_EQ(body_of(to_response(g))["message"].asString(), "Invalid refresh token.");
}

TEST(Errors, ReasonNamesAreUniqueAndMatchTheEnum) {
  std::set<std::string_view> seen;
  for (reason why : all_reasons()) EXPECT_TRUE(seen.insert(reason_name(why)).second) << reason_name(why);
  EXPECT_EQ(reason_name(reason::token_expired), "token_expired");
  EXPECT_EQ(reason_name(reason::plugin_failed), "plugin_failed");
  EXPECT_TRUE(is_token_failure(reason::user_deleted));
  EXPECT_FALSE(is_token_failure(reason::refresh_unknown));
}

}  // namespace
}  // namespace cartgate
