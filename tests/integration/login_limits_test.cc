// The login rate limit under pressure, through nginx: concurrent wrong passwords and
// wrong two-factor codes (each attempt counted before any password work), the bucket
// of a tried identifier kept apart from the account with that id, IPv6 clients counted
// by their /64 and IPv4 clients by address, and a login flood that leaves refresh and
// validate-token answering.
#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <random>
#include <thread>

#include "auth_helpers.h"

namespace cartgate::test {
namespace {

std::mt19937& rng() {
  thread_local std::mt19937 r(std::random_device{}());
  return r;
}
int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng()); }

// A /64 of its own (2001:db8:X:Y::/64) and an address inside it.
std::string fresh_v6_net() {
  char buf[64];
  std::snprintf(buf, sizeof buf, "2001:db8:%x:%x", pick(1, 65535), pick(1, 65535));
  return buf;
}
std::string in_net(const std::string& net, int host) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s:%x:%x:%x:%x", net.c_str(), pick(1, 65535), pick(1, 65535), pick(1, 65535),
                host);
  return buf;
}
// 198.18.0.0/15 (benchmarking addresses): a.b with b leaving room for neighbours.
std::string fresh_v4_prefix() { return "198." + std::to_string(pick(18, 19)) + "." + std::to_string(pick(0, 255)) + "."; }
std::string fresh_v4() { return fresh_v4_prefix() + std::to_string(pick(1, 250)); }

http_result login_from(const std::string& username, const std::string& password, const std::string& ip,
                       Json::Value body = Json::Value(Json::objectValue), int port = 0) {
  body["username"] = username;
  body["password"] = password;
  http_options o;
  o.forwarded_for = ip;
  o.port = port;
  return post_json(login_path, body, o);
}

// Runs `attempt` n times at once (all threads released together) and returns the answers.
std::vector<http_result> all_at_once(int n, const std::function<http_result()>& attempt) {
  std::atomic<bool> go{false};
  std::vector<std::future<http_result>> runs;
  for (int i = 0; i < n; ++i) {
    runs.push_back(std::async(std::launch::async, [&] {
      while (!go) std::this_thread::yield();
      return attempt();
    }));
  }
  go = true;
  std::vector<http_result> out;
  for (auto& r : runs) out.push_back(r.get());
  return out;
}

long count_status(const std::vector<http_result>& rs, long status) {
  return std::count_if(rs.begin(), rs.end(), [&](const http_result& r) { return r.status == status; });
}

constexpr int kLoginMax = 5;  // rate_limit.login.max's default, which the test stack keeps

class LoginLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!login_route_available()) GTEST_SKIP() << "login route not available";
  }
};

TEST_F(LoginLimits, FiftyConcurrentWrongPasswordsGetAtMostMaxFailuresAndTheRest429) {
  auto u = make_user();
  std::string ip = fresh_v4();
  auto answers = all_at_once(50, [&] { return login_from(u.login, "not-the-password", ip); });
  long failed = count_status(answers, 401), limited = count_status(answers, 429);
  EXPECT_LE(failed, kLoginMax) << "each 401 is a password verification past the limit's reach";
  EXPECT_GE(failed, 1);
  EXPECT_EQ(failed + limited, 50) << "nothing but 401 and 429";
  for (auto& r : answers) {
    if (r.status == 429) {
      EXPECT_TRUE(is_error(r, 429, "cocart_rate_limited")) << r.body;
      EXPECT_FALSE(r.header("Retry-After").empty());
      break;
    }
  }
  EXPECT_EQ(login_from(u.login, u.password, ip).status, 429) << "the window is spent, even for the password";
}

TEST_F(LoginLimits, FiftyConcurrentWrongTwoFactorCodesGetAtMostMaxFailuresAndTheRest429) {
  auto u = make_user();
  auto enabled = cli({"2fa", "totp", "enable", u.login});
  ASSERT_EQ(enabled.status, 0) << enabled.err;
  std::string ip = fresh_v4();
  Json::Value code(Json::objectValue);
  code["2fa_code"] = "not-a-code";
  auto answers = all_at_once(50, [&] { return login_from(u.login, u.password, ip, code); });
  long failed = count_status(answers, 401), limited = count_status(answers, 429);
  EXPECT_LE(failed, kLoginMax);
  EXPECT_GE(failed, 1);
  EXPECT_EQ(failed + limited, 50);
  for (auto& r : answers) {
    if (r.status == 401) {
      EXPECT_TRUE(is_error(r, 401, "cocart_2fa_invalid_code")) << r.body;
    }
  }
}

TEST_F(LoginLimits, FailuresUnderAUsernameThatIsAnIdNeverLimitTheUserWithThatId) {
  auto u = make_user();
  for (int i = 0; i < kLoginMax; ++i) {
    auto r = login_from(std::to_string(u.id), "whatever", fresh_v4());  // another address each time
    ASSERT_TRUE(is_error(r, 401, "cocart_authentication_error")) << r.body;
  }
  auto sixth = login_from(std::to_string(u.id), "whatever", fresh_v4());
  EXPECT_TRUE(is_error(sixth, 429, "cocart_rate_limited")) << "the tried name has its own bucket: " << sixth.body;
  auto r = login_from(u.login, u.password, fresh_v4());
  EXPECT_EQ(r.status, 200) << "user " << u.id << " is not limited: " << r.body;
}

TEST_F(LoginLimits, Ipv6ClientsInOneSlash64ShareABucketAndTheNextSlash64DoesNot) {
  auto u = make_user();
  std::string net = fresh_v6_net();
  for (int i = 0; i < kLoginMax; ++i) {
    // A new address and a new unknown name each time: only the per-IP bucket fills.
    auto r = login_from(unique_name("nobody"), "whatever", in_net(net, i + 1));
    ASSERT_TRUE(is_error(r, 401, "cocart_authentication_error")) << r.body;
  }
  auto rotated = login_from(u.login, u.password, in_net(net, 99));
  EXPECT_TRUE(is_error(rotated, 429, "cocart_rate_limited")) << "same /64, other address: " << rotated.body;
  auto next = login_from(u.login, u.password, in_net(fresh_v6_net(), 1));
  EXPECT_EQ(next.status, 200) << "another /64 is another client: " << next.body;
}

TEST_F(LoginLimits, Ipv4ClientsAreCountedByAddress) {
  auto u = make_user();
  std::string prefix = fresh_v4_prefix();
  std::string limited_ip = prefix + "10";
  for (int i = 0; i < kLoginMax; ++i) {
    auto r = login_from(unique_name("nobody"), "whatever", limited_ip);
    ASSERT_TRUE(is_error(r, 401, "cocart_authentication_error")) << r.body;
  }
  EXPECT_EQ(login_from(u.login, u.password, limited_ip).status, 429);
  auto neighbour = login_from(u.login, u.password, prefix + "11");
  EXPECT_EQ(neighbour.status, 200) << "the next IPv4 address is another client: " << neighbour.body;
}

// ---- a login flood ----------------------------------------------------------------

// Pool B with one worker, one argon2 slot and a short login queue: a flood of logins
// fills it at once, and refresh and validate-token still answer, from the threads
// logins never take. Before, logins queued ahead of everything else on the same threads
// (each holding one up to password.wait_ms for its slot), so a refresh waited behind the
// whole flood; the probes give up after kProbeTimeoutMs, far more than they need here.
constexpr long kProbeTimeoutMs = 8000;

TEST_F(LoginLimits, RefreshAndValidateTokenAnswerWhileALoginFloodRuns) {
  pool_b b;
  b.start(1, "[password]\nmax_concurrent = 1\nqueue_max = 4\n");
  struct probe {
    std::string ip;
    session_tokens tokens;
  };
  std::vector<probe> probes;
  for (int i = 0; i < 3; ++i) {
    auto u = make_user();
    http_options o;
    o.forwarded_for = fresh_v4();
    o.port = pool_b::port();
    probes.push_back({o.forwarded_for, login_ok(u, o)});
  }

  std::atomic<bool> stop{false};
  std::atomic<int> busy_with_retry_after{0}, floods{0};
  std::vector<std::future<void>> flood;
  for (int i = 0; i < 64; ++i) {
    flood.push_back(std::async(std::launch::async, [&] {
      while (!stop) {
        // Unknown names from addresses of their own: argon2 against the dummy hash, and
        // no rate limit in the way.
        auto r = login_from(unique_name("flood"), "whatever", fresh_v4(), Json::Value(Json::objectValue),
                            pool_b::port());
        ++floods;
        if (is_error(r, 503, "cocart_service_unavailable") && !r.header("Retry-After").empty()) ++busy_with_retry_after;
      }
    }));
  }
  ASSERT_TRUE(eventually([&] { return busy_with_retry_after.load() > 0; }, std::chrono::milliseconds(20000)))
      << "the flood overflows the login queue: 503 with Retry-After";

  int before = floods.load();
  for (auto& p : probes) {
    http_options o;
    o.forwarded_for = p.ip;
    o.port = pool_b::port();
    o.timeout_ms = kProbeTimeoutMs;
    auto v = validate(p.tokens.access, o);
    EXPECT_EQ(v.status, 200) << v.error << v.body;
    auto r = refresh(p.tokens.refresh, o);
    EXPECT_EQ(r.status, 200) << r.error << r.body;
  }
  int after = floods.load();
  stop = true;
  for (auto& f : flood) f.get();
  EXPECT_GT(after, before) << "the flood was still being answered while the probes ran";
}

}  // namespace
}  // namespace cartgate::test
