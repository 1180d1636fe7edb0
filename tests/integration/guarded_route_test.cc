// The guarded routes behind nginx in both of its modes (docs/nginx-module.md): the auth
// subrequest to cartgate (cartgate-protect.conf, the storefront server) and the token
// checked inside nginx by cartgate's module (cartgate-verify.conf, the module server on
// CARTGATE_TEST_MODULE_PORT). The same cases, the same answers. Then what only the
// module mode has: revocations through the state file, and no allow on stale state.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

#include "auth/revocation_layout.h"
#include "auth_helpers.h"

namespace cartgate::test {
namespace {

constexpr const char* store_path = "/wp-json/cocart/v2/store";

struct mode {
  const char* name;
  bool module;
};

int module_port() {
  const char* v = std::getenv("CARTGATE_TEST_MODULE_PORT");
  return v && *v ? std::atoi(v) : 0;
}

class GuardedRoute : public ::testing::TestWithParam<mode> {
 protected:
  void SetUp() override {
    if (GetParam().module && module_port() == 0) GTEST_SKIP() << "nginx module not built (nginx-dev missing)";
  }
  http_options on(http_options o = {}) const {
    if (GetParam().module) o.port = module_port();
    return o;
  }
};

TEST_P(GuardedRoute, ValidTokenReachesUpstreamWithIdentity) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  auto r = http(cart_path, on(bearer(s.access)));
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.json();
  EXPECT_EQ(j["storefront"].asString(), "stand-in");
  EXPECT_EQ(j["user_id"].asString(), std::to_string(u.id));
  EXPECT_EQ(j["username"].asString(), u.login);
  EXPECT_EQ(j["pat"].asString(), pat_of(s.access));
}

TEST_P(GuardedRoute, MissingTokenIs401InErrorShape) {
  auto r = http(cart_path, on());
  EXPECT_TRUE(is_error(r, 401, "cocart_authentication_error"));
  EXPECT_TRUE(is_bearer_failure(r));
  EXPECT_EQ(r.body.find("stand-in"), std::string::npos);
}

TEST_P(GuardedRoute, BadTokenIs401InErrorShape) {
  limits_lifted lifted;
  auto s = login_ok(make_user());
  auto p = token_payload(s.access);
  p["data"]["user"]["username"] = "admin";
  auto r = http(cart_path, on(bearer(with_payload(s.access, p))));
  EXPECT_TRUE(is_bearer_failure(r));
  EXPECT_EQ(r.body.find("stand-in"), std::string::npos);
  EXPECT_TRUE(is_bearer_failure(http(cart_path, on(bearer("garbage")))));
  EXPECT_TRUE(is_bearer_failure(http(cart_path, on(bearer("eyJhbGciOiJub25lIn0.e30.")))));
}

TEST_P(GuardedRoute, TokenFromAnotherUserAgentIsRefused) {
  limits_lifted lifted;
  auto s = login_ok(make_user());
  http_options o = bearer(s.access);
  o.headers.push_back("User-Agent: another-device/1.0");
  EXPECT_TRUE(is_bearer_failure(http(cart_path, on(o))));
}

TEST_P(GuardedRoute, ForgedIdentityHeadersAreOverwritten) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  http_options o = bearer(s.access);
  o.headers = {"X-Cartgate-User-Id: 1", "X-Cartgate-User-Login: admin",
               "X-Cartgate-Session: pat_000000000000000000000000"};
  auto r = http(cart_path, on(o));
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.json();
  EXPECT_EQ(j["user_id"].asString(), std::to_string(u.id));
  EXPECT_EQ(j["username"].asString(), u.login);
  EXPECT_EQ(j["pat"].asString(), pat_of(s.access));
}

TEST_P(GuardedRoute, ForgedIdentityHeadersWithoutTokenAreRefused) {
  http_options o;
  o.headers = {"X-Cartgate-User-Id: 1", "X-Cartgate-User-Login: admin"};
  EXPECT_TRUE(is_error(http(cart_path, on(o)), 401, "cocart_authentication_error"));
}

TEST_P(GuardedRoute, InternalLocationIsNotReachableFromOutside) {
  EXPECT_EQ(http("/_cartgate/auth", on()).status, 404);
}

TEST_P(GuardedRoute, LoggedOutTokenIsRefused) {
  limits_lifted lifted;
  auto s = login_ok(make_user());
  ASSERT_EQ(http(cart_path, on(bearer(s.access))).status, 200);
  ASSERT_EQ(logout(s.access).status, 200);
  // The revocation reaches nginx through NOTIFY (within 1 s: revocation_test.cc).
  EXPECT_TRUE(eventually([&] { return http(cart_path, on(bearer(s.access))).status == 401; }));
  EXPECT_TRUE(is_bearer_failure(http(cart_path, on(bearer(s.access)))));
}

TEST_P(GuardedRoute, OptionalGuardLetsGuestsThroughAndChecksTokens) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  auto guest = http(store_path, on());
  ASSERT_EQ(guest.status, 200) << guest.body;
  EXPECT_EQ(guest.json()["user_id"].asString(), "");
  auto customer = http(store_path, on(bearer(s.access)));
  ASSERT_EQ(customer.status, 200) << customer.body;
  EXPECT_EQ(customer.json()["user_id"].asString(), std::to_string(u.id));
  EXPECT_TRUE(is_bearer_failure(http(store_path, on(bearer("garbage")))));
  http_options basic;
  basic.headers = {"Authorization: Basic YWRtaW46YWRtaW4="};
  EXPECT_TRUE(is_bearer_failure(http(store_path, on(basic))));
}

INSTANTIATE_TEST_SUITE_P(Modes, GuardedRoute,
                         ::testing::Values(mode{"auth_request", false}, mode{"module", true}),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- module mode only --------------------------------------------------------------

// The state file as nginx maps it.
class state_view {
 public:
  state_view() {
    std::string path = env("CARTGATE_TEST_STATE") + "/run/revocation.state";
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) throw std::runtime_error("cannot open " + path);
    void* m = ::mmap(nullptr, CARTGATE_STATE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) throw std::runtime_error("cannot map " + path);
    h_ = static_cast<const cartgate_state_header*>(m);
  }
  ~state_view() { ::munmap(const_cast<cartgate_state_header*>(h_), CARTGATE_STATE_SIZE); }
  // Whether nginx's workers would trust it now (its heard-at instant under 1 s old).
  bool fresh() const {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    std::int64_t now = ts.tv_sec * 1000000000LL + ts.tv_nsec;
    std::int64_t heard = __atomic_load_n(&h_->heard_at_ns, __ATOMIC_ACQUIRE);
    return heard != 0 && now - heard <= 1000000000LL;
  }
  const cartgate_state_header* header() const { return h_; }

 private:
  const cartgate_state_header* h_;
};

class ModuleMode : public ::testing::Test {
 protected:
  void SetUp() override {
    if (module_port() == 0) GTEST_SKIP() << "nginx module not built (nginx-dev missing)";
  }
  static http_options module(http_options o = {}) {
    o.port = module_port();
    return o;
  }
};

TEST_F(ModuleMode, CartgateKeepsTheStateFresh) {
  state_view state;
  EXPECT_TRUE(cartgate_state_valid(state.header(), CARTGATE_STATE_SIZE));
  EXPECT_TRUE(eventually([&] { return state.fresh(); }));
  EXPECT_GT(state.header()->writer_pid, 0);
}

TEST_F(ModuleMode, RevokedSessionIsInTheStateFile) {
  limits_lifted lifted;
  state_view state;
  // A token the file covers: issued more than the skew after the writer's last reset.
  ASSERT_TRUE(eventually([&] {
    return std::time(nullptr) > __atomic_load_n(&state.header()->covered_since, __ATOMIC_RELAXED) + CARTGATE_STATE_SKEW;
  }, std::chrono::milliseconds(5000)));
  auto u = make_user();
  auto s = login_ok(u);
  auto pat = pat_of(s.access);
  std::int64_t iat = token_payload(s.access)["iat"].asInt64();
  auto verdict = [&] { return cartgate_state_look_up(state.header(), pat.data(), pat.size(), u.id, iat); };
  ASSERT_EQ(verdict(), CARTGATE_STATE_ALLOWED);
  ASSERT_EQ(http(cart_path, module(bearer(s.access))).status, 200);
  ASSERT_EQ(logout(s.access).status, 200);
  EXPECT_TRUE(eventually([&] { return verdict() == CARTGATE_STATE_REVOKED; }));
  EXPECT_TRUE(is_bearer_failure(http(cart_path, module(bearer(s.access)))));
}

// With the writer's LISTEN connection gone (PostgreSQL stopped), the state ages; past
// 1 s the module asks cartgate (which cannot answer without its database: 503) and
// never lets the token through on what the file last said.
TEST_F(ModuleMode, StaleStateIsNeverTrusted) {
  limits_lifted lifted;
  auto s = login_ok(make_user());
  ASSERT_EQ(http(cart_path, module(bearer(s.access))).status, 200);
  state_view state;
  {
    pg_outage outage;
    ASSERT_TRUE(eventually([&] { return !state.fresh(); }));
    for (int i = 0; i < 20; ++i) {
      auto r = http(cart_path, module(bearer(s.access)));
      EXPECT_NE(r.status, 200) << r.body;
      EXPECT_EQ(r.body.find("stand-in"), std::string::npos);
    }
  }
  // Back: fresh again, and the token is accepted again.
  EXPECT_TRUE(eventually([&] { return state.fresh(); }, std::chrono::milliseconds(30000)));
  EXPECT_TRUE(eventually([&] { return http(cart_path, module(bearer(s.access))).status == 200; },
                         std::chrono::milliseconds(30000)));
}

}  // namespace
}  // namespace cartgate::test
