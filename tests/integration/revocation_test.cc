// Contract §2.2: a revocation (logout, `jwt destroy`, password change, user deletion)
// takes effect on every worker within 1 second. The test pool has two workers, each
// caching sessions in memory. The token is first used until both workers have answered
// for it, then revoked, then used from several client threads with each worker
// answering in turn: no answer 1 s or later after the revocation returned may accept it.
#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "auth_helpers.h"

namespace cartgate::test {
namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Runs `fn` from 4 threads until `duration` passes.
void hammer(clock_type::duration duration, const std::function<void()>& fn) {
  auto until = clock_type::now() + duration;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      while (clock_type::now() < until) fn();
    });
  }
  for (auto& t : threads) t.join();
}

// The pool's threads all wait on one socket and the kernel wakes the first idle waiter
// per new connection (EPOLLEXCLUSIVE), so light traffic lands on one worker. Holding
// half-received requests open on the socket pins request threads of whichever worker
// took them; with enough held, the other worker answers too.
class held_requests {
 public:
  void hold(std::size_t n) {
    while (held_.size() < n) {
      auto c = std::make_unique<fastcgi_client>(env("CARTGATE_TEST_SOCKET"));
      c->begin("POST", validate_path, 64);  // the body never comes
      held_.push_back(std::move(c));
      std::this_thread::sleep_for(30ms);
    }
  }
  void release() {
    held_.clear();
    std::this_thread::sleep_for(100ms);  // the pinned threads go back to accepting
  }
  std::size_t size() const { return held_.size(); }

 private:
  std::vector<std::unique_ptr<fastcgi_client>> held_;
};

struct usage {
  int requests = 0;
  int accepted = 0;            // non-401 answers in all
  int accepted_late = 0;       // of them, 1 s or later after `since`
  long last_accepted_ms = -1;  // when the last one came, relative to `since`
  std::set<int> workers;       // pids that answered health meanwhile
};

// The nginx server whose cart route the nginx module guards (0: not built).
int module_port() {
  const char* v = std::getenv("CARTGATE_TEST_MODULE_PORT");
  return v && *v ? std::atoi(v) : 0;
}

// Uses the token (me, the cart behind nginx's auth subrequest and, when built, the cart
// behind the nginx module) and asks health which worker answers, from 4 threads, until
// `until`.
void use_token(const std::string& token, clock_type::time_point since, clock_type::time_point until,
               usage& out) {
  std::mutex mu;
  hammer(until - clock_type::now(), [&] {
    auto a = me(token);
    auto b = http(cart_path, bearer(token));
    http_options in_nginx = bearer(token);
    in_nginx.port = module_port();
    // Without the module: the subrequest's route once more, so the counts stay alike.
    auto c = http(cart_path, module_port() != 0 ? in_nginx : bearer(token));
    auto h = http(health_path);
    long ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - since).count();
    std::lock_guard lock(mu);
    if (h.status == 200) out.workers.insert(h.json()["pid"].asInt());
    for (auto* r : {&a, &b, &c}) {
      ++out.requests;
      if (r->status == 401) continue;
      ++out.accepted;
      out.last_accepted_ms = std::max(out.last_accepted_ms, ms);
      if (ms >= 1000) ++out.accepted_late;
    }
  });
}

// Uses the token on each pool worker that `seen` does not name yet, that worker alone:
// the others are paused (SIGSTOP) meanwhile, for less than the listener's heartbeat
// deadline, so every worker keeps trusting its cache. For when held requests did not
// bring the other worker in.
void use_token_on_unseen_workers(const std::string& token, clock_type::time_point since,
                                 clock_type::duration each, usage& seen) {
  const std::vector<int> workers = worker_pids(pool_master_pid());
  for (int w : workers) {
    if (seen.workers.count(w) != 0) continue;
    std::vector<int> others;
    for (int o : workers) if (o != w) others.push_back(o);
    paused rest(others);
    use_token(token, since, clock_type::now() + each, seen);
  }
}

// Gets the session cached in both workers, revokes it with `revoke`, then uses the token
// for 1.2 s with the usual worker answering and 0.5 s more with the other one: nothing
// may be accepted 1 s or later after `revoke` returned.
void expect_revoked_on_every_worker_within_1s(const std::string& token, const std::function<void()>& revoke) {
  usage warm;
  auto now = clock_type::now();
  use_token(token, now, now + 400ms, warm);
  held_requests held;
  std::set<int> usual = warm.workers;
  for (std::size_t n = 1; n <= 15; ++n) {
    held.hold(n);
    usage more;
    now = clock_type::now();
    use_token(token, now, now + 300ms, more);
    warm.requests += more.requests;
    warm.accepted += more.accepted;
    bool other_answered = false;
    for (int pid : more.workers) other_answered |= warm.workers.insert(pid).second;
    if (other_answered) break;
  }
  now = clock_type::now();
  use_token(token, now, now + 300ms, warm);  // the other worker has it cached too
  use_token_on_unseen_workers(token, now, 300ms, warm);
  ASSERT_EQ(warm.accepted, warm.requests) << "the token was not valid before the revocation";
  ASSERT_GE(warm.workers.size(), 2u) << "only one worker answered; cannot show cross-worker revocation";
  held.release();

  revoke();
  auto revoked_at = clock_type::now();
  usage after;
  use_token(token, revoked_at, revoked_at + 1200ms, after);
  std::set<int> first_phase = after.workers;
  // Which worker a held request lands on varies; start over if the other one never came.
  for (int attempt = 0; attempt < 3 && after.workers.size() == first_phase.size(); ++attempt) {
    held.release();
    for (std::size_t n = 1; n <= 15; ++n) {
      held.hold(n);
      use_token(token, revoked_at, clock_type::now() + 150ms, after);
      if (after.workers.size() > first_phase.size()) break;
    }
  }
  use_token(token, revoked_at, clock_type::now() + 300ms, after);
  held.release();
  use_token_on_unseen_workers(token, revoked_at, 300ms, after);
  EXPECT_GT(after.requests, 20);
  EXPECT_GE(after.workers.size(), 2u) << "the polling reached only one worker";
  EXPECT_EQ(after.accepted_late, 0) << after.accepted << " of " << after.requests
                                    << " requests still accepted; the last " << after.last_accepted_ms
                                    << " ms after the revocation";
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(is_bearer_failure(me(token)));
}

TEST(Revocation, LogoutReachesEveryWorkerWithin1s) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  auto other = login_ok(u);
  expect_revoked_on_every_worker_within_1s(s.access, [&] { ASSERT_EQ(logout(s.access).status, 200); });
  EXPECT_EQ(me(other.access).status, 200);  // logout without all=true
}

TEST(Revocation, LogoutAllReachesEveryWorkerWithin1s) {
  limits_lifted lifted;
  auto u = make_user();
  auto a = login_ok(u);
  auto b = login_ok(u);
  expect_revoked_on_every_worker_within_1s(b.access, [&] { ASSERT_EQ(logout(a.access, "?all=true").status, 200); });
  EXPECT_TRUE(is_bearer_failure(me(a.access)));
}

TEST(Revocation, JwtDestroyReachesEveryWorkerWithin1s) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  expect_revoked_on_every_worker_within_1s(s.access, [&] {
    auto r = cli({"jwt", "destroy", u.login, "--force"});
    ASSERT_EQ(r.status, 0) << r.err;
  });
}

TEST(Revocation, PasswordChangeReachesEveryWorkerWithin1s) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  expect_revoked_on_every_worker_within_1s(s.access, [&] {
    auto r = cli({"user", "passwd", u.login}, "a-new-password-" + unique_name("pw") + "\n");
    ASSERT_EQ(r.status, 0) << r.err;
  });
  // The old password no longer logs in.
  EXPECT_TRUE(is_error(login(u), 401, "cocart_authentication_error"));
}

TEST(Revocation, UserDeleteReachesEveryWorkerWithin1s) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  expect_revoked_on_every_worker_within_1s(s.access, [&] {
    auto r = cli({"user", "delete", u.login});
    ASSERT_EQ(r.status, 0) << r.err;
  });
  EXPECT_TRUE(is_error(login(u), 401, "cocart_authentication_error"));
}

// Contract §2.4: a customer ending one of their sessions (DELETE …/sessions/{pat}), or all
// but the current one (?others=true), is a revocation like logout.
TEST(Revocation, EndingOneOwnSessionReachesEveryWorkerWithin1s) {
  limits_lifted lifted;
  auto u = make_user();
  auto kept = login_ok(u);
  auto ended = login_ok(u);
  expect_revoked_on_every_worker_within_1s(ended.access, [&] {
    http_options o;
    o.method = "DELETE";
    o.bearer = kept.access;
    auto r = http("/wp-json/cartgate/v1/sessions/" + pat_of(ended.access), o);
    ASSERT_EQ(r.status, 200) << r.body;
  });
  EXPECT_EQ(me(kept.access).status, 200);
}

TEST(Revocation, EndingOtherOwnSessionsReachesEveryWorkerWithin1s) {
  limits_lifted lifted;
  auto u = make_user();
  auto kept = login_ok(u);
  auto ended = login_ok(u);
  expect_revoked_on_every_worker_within_1s(ended.access, [&] {
    http_options o;
    o.method = "DELETE";
    o.bearer = kept.access;
    auto r = http("/wp-json/cartgate/v1/sessions?others=true", o);
    ASSERT_EQ(r.status, 200) << r.body;
  });
  EXPECT_EQ(me(kept.access).status, 200);
}

// The twin: with no revocation, the same traffic is accepted on both workers throughout.
TEST(Revocation, UnrevokedSessionStaysValidOnEveryWorker) {
  limits_lifted lifted;
  auto s = login_ok(make_user());
  usage first;
  auto now = clock_type::now();
  use_token(s.access, now, now + 500ms, first);
  held_requests held;
  usage all = first;
  for (std::size_t n = 1; n <= 15 && all.workers.size() < 2; ++n) {
    held.hold(n);
    now = clock_type::now();
    use_token(s.access, now, now + 300ms, all);
  }
  EXPECT_GE(all.workers.size(), 2u);
  EXPECT_EQ(all.accepted, all.requests);
  EXPECT_GT(all.requests, 20);
}

}  // namespace
}  // namespace cartgate::test
