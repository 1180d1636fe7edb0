// Cookie → token through nginx: a customer logged in to the WordPress store (its login
// cookie, and WordPress's REST nonce for it) gets a cartgate token pair from
// POST /wp-json/wp-cartgate/v1/token, a route of the must-use plugin. WordPress asks
// cartgate over the internal socket with a signed, single-use request
// (secrets.storefront_key_file); the login's rules apply: the session cap, the token
// bound to the address and User-Agent nginx saw, and two-factor (refused unless the
// WordPress login passed a second factor).
#include "auth_helpers.h"
#include "crypto/request_signature.h"
#include "crypto/random.h"
#include "storefront_helpers.h"

namespace cartgate::test {
namespace {

constexpr const char* token_path = "/wp-json/wp-cartgate/v1/token";
constexpr const char* internal_path = "/_cartgate/storefront/token";

http_result cookie_token(const std::string& cookie, const std::string& nonce, http_options o = {}) {
  o.method = "POST";
  if (!cookie.empty()) o.headers.push_back("Cookie: " + cookie);
  if (!nonce.empty()) o.headers.push_back("X-WP-Nonce: " + nonce);
  return http(token_path, o);
}

std::int64_t sessions_of(std::int64_t user_id) {
  auto c = db();
  pqxx::read_transaction t(c);
  return t.exec_params("SELECT count(*) FROM sessions WHERE user_id = $1 AND revoked_at IS NULL", user_id)[0][0]
      .as<std::int64_t>();
}

std::string storefront_key() {
  std::ifstream in(env("CARTGATE_TEST_STOREFRONT_KEY_FILE"));
  std::string key;
  std::getline(in, key);
  return key;
}

// A request on cartgate's internal socket, as the must-use plugin sends it.
http_result internal_request(const std::string& body, const std::string& signature) {
  http_options o;
  o.method = "POST";
  o.unix_socket = internal_socket_path();
  o.content_type = "application/json";
  o.body = body;
  if (!signature.empty()) o.headers.push_back("X-Cartgate-Signature: " + signature);
  return http(internal_path, o);
}

std::string internal_body(const test_user& u) {
  Json::Value b;
  b["user_id"] = static_cast<Json::Int64>(u.id);
  b["login"] = u.login;
  b["nonce"] = random::hex(16);
  b["remote_addr"] = "127.0.0.1";
  b["headers"]["user-agent"] = "cartgate-tests/1.0";
  b["second_factor"]["enrolled"] = false;
  b["second_factor"]["passed"] = false;
  return compact(b);
}

TEST(CookieToken, LoggedInCustomerWithTheNonceGetsAWorkingTokenPair) {
  limits_lifted lifted;
  auto u = make_linked_customer();
  auto cookie = wordpress_login_cookie(u);
  auto r = cookie_token(cookie, rest_nonce(cookie));
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = r.json();
  EXPECT_EQ(body["user_id"].asString(), std::to_string(u.id));
  std::string access = body["extras"]["jwt_token"].asString();
  std::string refresh_token = body["extras"]["jwt_refresh"].asString();
  EXPECT_TRUE(is_hex(refresh_token, 128));
  // The token is cartgate's, bound to the address and User-Agent nginx saw.
  auto claims = token_payload(access)["data"]["user"];
  EXPECT_EQ(claims["id"].asInt64(), u.id);
  EXPECT_EQ(claims["username"].asString(), u.login);
  EXPECT_EQ(claims["ip"].asString(), "127.0.0.1");
  EXPECT_EQ(claims["device"].asString(), "cartgate-tests/1.0");
  EXPECT_EQ(me(access).status, 200);
  http_options other_device;
  other_device.user_agent = "another-device/2.0";
  EXPECT_TRUE(is_bearer_failure(me(access, other_device)));
  // It works where tokens work: the guarded WordPress route, and refresh.
  auto wp = http("/wp-json/wp/v2/users/me?context=edit", bearer(access));
  ASSERT_EQ(wp.status, 200) << wp.body;
  EXPECT_EQ(wp.json()["id"].asInt64(), u.id);
  EXPECT_EQ(refresh(refresh_token).status, 200);
  // Nothing of the cookie or the key is in the answer.
  EXPECT_EQ(r.body.find(cookie.substr(cookie.find('=') + 1)), std::string::npos);
  EXPECT_EQ(r.body.find(storefront_key()), std::string::npos);
  auto c = db();
  pqxx::read_transaction t(c);
  auto audit = t.exec_params("SELECT detail->>'via' FROM audit_events WHERE event = 'login_ok' AND pat = $1",
                             pat_of(access));
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(std::string(audit[0][0].c_str()), "storefront");
}

TEST(CookieToken, WithoutTheNonceNoTokenIsIssued) {
  limits_lifted lifted;
  auto u = make_linked_customer();
  auto cookie = wordpress_login_cookie(u);
  auto r = cookie_token(cookie, "");
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.body.find("jwt_token"), std::string::npos);
  EXPECT_EQ(sessions_of(u.id), 0);
}

TEST(CookieToken, WithAWrongNonceNoTokenIsIssued) {
  limits_lifted lifted;
  auto u = make_linked_customer();
  auto cookie = wordpress_login_cookie(u);
  auto r = cookie_token(cookie, "0123456789");
  EXPECT_TRUE(is_error(r, 403, "rest_cookie_invalid_nonce")) << r.body;
  // A nonce made for another login of the same user is no good either.
  auto other_login = wordpress_login_cookie(u);
  auto nonce_of_other = rest_nonce(other_login);
  EXPECT_NE(cookie_token(cookie, nonce_of_other).status, 200);
  EXPECT_EQ(sessions_of(u.id), 0);
}

TEST(CookieToken, WithoutTheLoginCookieNoTokenIsIssued) {
  limits_lifted lifted;
  auto u = make_linked_customer();
  auto nonce = rest_nonce(wordpress_login_cookie(u));
  // WordPress checks a nonce against the request's user: nobody's, without the cookie.
  EXPECT_TRUE(is_error(cookie_token("", nonce), 403, "rest_cookie_invalid_nonce"));
  auto forged = wordpress_login_cookie(u);
  forged.back() = forged.back() == 'a' ? 'b' : 'a';
  EXPECT_NE(cookie_token(forged, nonce).status, 200);
  EXPECT_EQ(sessions_of(u.id), 0);
}

TEST(CookieToken, TwoFactorUserIsRefusedUnlessTheWordPressLoginPassedIt) {
  limits_lifted lifted;
  auto u = make_linked_customer();
  auto enabled = cli({"2fa", "email", "enable", u.login});
  ASSERT_EQ(enabled.status, 0) << enabled.err;
  auto plain = wordpress_login_cookie(u);
  auto refused = cookie_token(plain, rest_nonce(plain));
  EXPECT_TRUE(is_error(refused, 403, "cartgate_2fa_login_required")) << refused.body;
  EXPECT_EQ(sessions_of(u.id), 0);
  // A login the Two Factor plugin let through after a second factor.
  auto proven = wordpress_login_cookie(u, /*passed_second_factor=*/true);
  auto r = cookie_token(proven, rest_nonce(proven));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(me(r.json()["extras"]["jwt_token"].asString()).status, 200);
}

TEST(CookieToken, SessionCapEvictsTheOldestAsALoginDoes) {
  limits_lifted lifted;
  option_guard cap({{"jwt.max_sessions", "2"}});
  auto u = make_linked_customer();
  auto first = login_ok(u);
  auto second = login_ok(u);
  auto cookie = wordpress_login_cookie(u);
  ASSERT_EQ(cookie_token(cookie, rest_nonce(cookie)).status, 200);
  EXPECT_EQ(sessions_of(u.id), 2);
  EXPECT_TRUE(eventually([&] { return me(first.access).status == 401; }, std::chrono::milliseconds(1000)));
  EXPECT_EQ(me(second.access).status, 200);
}

// cartgate checks that WordPress's id and login name the same account: a login renamed in
// WordPress behind the account sync's back (straight in SQL: no hook, no outbox row) is
// not the account cartgate has under that id.
TEST(CookieToken, WordPressUserWhoseLoginCartgateDoesNotShareIsRefused) {
  limits_lifted lifted;
  auto u = make_linked_customer();
  wp_sql("UPDATE " + wp_table("users") + " SET user_login = '" + unique_name("renamed") +
         "' WHERE ID = " + std::to_string(u.id));
  auto cookie = wordpress_login_cookie(u);
  auto r = cookie_token(cookie, rest_nonce(cookie));
  EXPECT_TRUE(is_error(r, 403, "cartgate_account_not_linked")) << r.body;
  EXPECT_EQ(sessions_of(u.id), 0);
}

TEST(CookieToken, InternalRouteCannotBeReachedThroughNginxOrFastCgi) {
  limits_lifted lifted;
  auto u = make_user();
  std::string body = internal_body(u);
  auto signature = request_signature::sign(storefront_key(), unix_now(), "POST", internal_path, body);
  for (const std::string& path : {std::string(internal_path), std::string("/wp-json/../_cartgate/storefront/token"),
                                  std::string("/?rest_route=/_cartgate/storefront/token")}) {
    http_options o;
    o.method = "POST";
    o.body = body;
    o.content_type = "application/json";
    o.headers = {"X-Cartgate-Signature: " + signature};
    auto r = http(path, o);
    EXPECT_NE(r.status, 200) << path << ": " << r.body.substr(0, 300);
    EXPECT_EQ(r.body.find("jwt_token"), std::string::npos) << path;
  }
  // Straight to the FastCGI socket (what nginx passes client requests to): no such route.
  auto direct = fastcgi(env("CARTGATE_TEST_SOCKET"), "POST", internal_path, body);
  EXPECT_TRUE(is_error(direct, 404, "rest_no_route")) << direct.body;
  EXPECT_EQ(sessions_of(u.id), 0);
}

TEST(CookieToken, InternalSocketTakesOnlySignedFreshSingleUseRequests) {
  limits_lifted lifted;
  auto u = make_user();
  const std::string key = storefront_key();
  auto now = unix_now();
  // Unsigned, signed with another key, signed for another body, or too old: refused alike.
  std::string body = internal_body(u);
  for (const std::string& sig :
       {std::string(), request_signature::sign("another-key-another-key-another-key", now, "POST", internal_path, body),
        request_signature::sign(key, now, "POST", internal_path, internal_body(u)),
        request_signature::sign(key, now - 300, "POST", internal_path, body)}) {
    EXPECT_TRUE(is_error(internal_request(body, sig), 401, "cartgate_storefront_unauthenticated")) << sig;
  }
  EXPECT_EQ(sessions_of(u.id), 0);
  // Signed as the plugin signs: tokens; the same request again: refused.
  auto signature = request_signature::sign(key, now, "POST", internal_path, body);
  auto ok = internal_request(body, signature);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(me(ok.json()["extras"]["jwt_token"].asString()).status, 200);
  EXPECT_TRUE(is_error(internal_request(body, signature), 401, "cartgate_storefront_unauthenticated"));
  EXPECT_EQ(sessions_of(u.id), 1);
}

}  // namespace
}  // namespace cartgate::test
