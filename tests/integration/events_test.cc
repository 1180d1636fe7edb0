// Contract §2.3: `cartgate events tail` prints the cartgate_events stream, one JSON per
// line, flushed at once: token_generated at login, token_refreshed at rotation,
// token_deleted at logout; each payload has event, user_id (string), pat, time (integer)
// and never a token. The audit trail records login_ok / login_failed without secrets.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "auth_helpers.h"

extern char** environ;

namespace cartgate::test {
namespace {

using namespace std::chrono_literals;

std::set<int> listening_backends() {
  auto c = db();
  pqxx::read_transaction t(c);
  std::set<int> out;
  for (auto row : t.exec("SELECT pid FROM pg_stat_activity WHERE query ILIKE 'LISTEN%cartgate_events%'"))
    out.insert(row[0].as<int>());
  return out;
}

// `cartgate events tail` running for the object's lifetime; lines read as they come.
class event_tail {
 public:
  event_tail() {
    auto before = listening_backends();
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    std::string bin = env("CARTGATE_TEST_BINARY");
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e)
      if (std::strncmp(*e, "CARTGATE_CONFIG=", 16) != 0) envs.emplace_back(*e);
    envs.push_back("CARTGATE_CONFIG=" + env("CARTGATE_TEST_CONFIG"));
    std::vector<char*> envp;
    for (auto& s : envs) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string a0 = bin, a1 = "events", a2 = "tail";
    char* argv[] = {a0.data(), a1.data(), a2.data(), nullptr};
    int rc = posix_spawn(&pid_, bin.c_str(), &fa, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    if (rc != 0) {
      ::close(out[0]);
      throw std::runtime_error("cannot start cartgate events tail");
    }
    fd_ = out[0];
    // Ready once its LISTEN is in place: a backend not listening before now listens.
    bool ready = eventually([&] {
      for (int pid : listening_backends())
        if (!before.count(pid)) return true;
      return false;
    }, 10000ms);
    if (!ready) throw std::runtime_error("cartgate events tail did not start listening");
  }
  ~event_tail() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status;
      waitpid(pid_, &status, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }
  event_tail(const event_tail&) = delete;
  event_tail& operator=(const event_tail&) = delete;

  // The next line, or "" when none comes within `limit`.
  std::string next_line(std::chrono::milliseconds limit = 5000ms) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (true) {
      auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return "";
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }

  // The next event of `user_id` named `name`, skipping others (other tests' traffic).
  Json::Value next_event(const std::string& name, std::int64_t user_id,
                         std::chrono::milliseconds limit = 5000ms) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      auto line = next_line(std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now()));
      if (line.empty()) break;
      seen_.push_back(line);
      auto j = parse_json(line);
      if (j["event"].asString() == name && j["user_id"].asString() == std::to_string(user_id)) return j;
    }
    return Json::Value();
  }

  const std::vector<std::string>& seen() const { return seen_; }

 private:
  pid_t pid_ = 0;
  int fd_ = -1;
  std::string buffer_;
  std::vector<std::string> seen_;
};

void expect_event_shape(const Json::Value& e, const std::string& name, std::int64_t user_id,
                        const std::string& pat) {
  ASSERT_TRUE(e.isObject()) << "no " << name << " event";
  EXPECT_EQ(e["event"].asString(), name);
  EXPECT_TRUE(e["user_id"].isString()) << compact(e);
  EXPECT_EQ(e["user_id"].asString(), std::to_string(user_id));
  if (!pat.empty()) {
    EXPECT_EQ(e["pat"].asString(), pat);
  }
  ASSERT_TRUE(e["time"].isIntegral()) << compact(e);
  EXPECT_NEAR(static_cast<double>(e["time"].asInt64()), static_cast<double>(unix_now()), 60);
}

void expect_no_secret(const std::vector<std::string>& lines, const std::vector<std::string>& secrets) {
  for (auto& line : lines) {
    for (auto& s : secrets) {
      EXPECT_EQ(line.find(s), std::string::npos) << "a secret in: " << line;
    }
  }
}

TEST(Events, LoginRefreshLogoutAreStreamedWithoutTokens) {
  limits_lifted lifted;
  auto u = make_user();
  event_tail tail;

  auto s = login_ok(u);
  std::string pat = pat_of(s.access);
  expect_event_shape(tail.next_event("token_generated", u.id), "token_generated", u.id, pat);

  auto r = refresh(s.refresh);
  ASSERT_EQ(r.status, 200) << r.body;
  std::string access2 = r.json()["token"].asString(), refresh2 = r.json()["refresh_token"].asString();
  expect_event_shape(tail.next_event("token_refreshed", u.id), "token_refreshed", u.id, pat);

  ASSERT_EQ(logout(access2).status, 200);
  expect_event_shape(tail.next_event("token_deleted", u.id), "token_deleted", u.id, pat);

  expect_no_secret(tail.seen(), {s.access, split_token(s.access)[2], s.refresh, access2,
                                 split_token(access2)[2], refresh2, u.password});
  for (auto& line : tail.seen()) {
    auto j = parse_json(line);
    EXPECT_FALSE(j.isMember("token")) << line;
    EXPECT_FALSE(j.isMember("refresh_token")) << line;
  }
}

TEST(Events, FailedLoginAndRejectedRefreshAreNotStreamedAsSuccess) {
  limits_lifted lifted;
  auto u = make_user();
  event_tail tail;
  test_user wrong = u;
  wrong.password = "nope-" + u.password;
  ASSERT_EQ(login(wrong).status, 401);
  EXPECT_TRUE(is_error(refresh(std::string(128, 'b')), 401, "cocart_authentication_error"));
  EXPECT_TRUE(tail.next_event("token_generated", u.id, 800ms).isNull());
}

TEST(Events, LogoutAllIsStreamedAsTokenDeleted) {
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  event_tail tail;
  ASSERT_EQ(logout(s.access, "?all=true").status, 200);
  auto e = tail.next_event("token_deleted", u.id);
  ASSERT_TRUE(e.isObject());
  EXPECT_TRUE(e["user_id"].isString());
  EXPECT_TRUE(e["time"].isIntegral());
}

TEST(Events, CliJwtCreateAndDestroyAreStreamed) {
  auto u = make_user();
  event_tail tail;
  auto s = cli_jwt_create(u);
  expect_event_shape(tail.next_event("token_generated", u.id), "token_generated", u.id, pat_of(s.access));
  ASSERT_EQ(cli({"jwt", "destroy", u.login, "--force"}).status, 0);
  expect_event_shape(tail.next_event("token_deleted", u.id), "token_deleted", u.id, "");
  expect_no_secret(tail.seen(), {s.access, s.refresh});
}

TEST(Events, EndingOwnSessionsIsStreamedAsTokenDeletedForEachSession) {
  limits_lifted lifted;
  auto u = make_user();
  auto a = login_ok(u);
  auto b = login_ok(u);
  auto c = login_ok(u);
  event_tail tail;
  http_options o;
  o.method = "DELETE";
  o.bearer = c.access;
  ASSERT_EQ(http("/wp-json/cartgate/v1/sessions/" + pat_of(a.access), o).status, 200);
  expect_event_shape(tail.next_event("token_deleted", u.id), "token_deleted", u.id, pat_of(a.access));
  ASSERT_EQ(http("/wp-json/cartgate/v1/sessions?others=true", o).status, 200);
  expect_event_shape(tail.next_event("token_deleted", u.id), "token_deleted", u.id, pat_of(b.access));
  EXPECT_TRUE(tail.next_event("token_deleted", u.id, 500ms).isNull()) << "the caller's own session goes on";
  expect_no_secret(tail.seen(), {a.access, b.access, c.access, a.refresh, b.refresh, c.refresh});
}

TEST(Audit, LoginOkAndLoginFailedAreRecordedWithoutSecrets) {
  limits_lifted lifted;
  auto u = make_user();
  test_user wrong = u;
  wrong.password = "wrong-" + unique_name("pw");
  ASSERT_EQ(login(wrong).status, 401);
  auto s = login_ok(u);
  auto c = db();
  pqxx::read_transaction t(c);
  auto rows = t.exec_params(
      "SELECT event, row_to_json(a)::text FROM audit_events a WHERE user_id = $1 ORDER BY id", u.id);
  std::vector<std::string> events;
  for (auto row : rows) {
    events.push_back(row[0].c_str());
    std::string text = row[1].c_str();
    for (auto& secret : {u.password, wrong.password, s.access, split_token(s.access)[2], s.refresh}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << "a secret in audit row: " << text;
    }
  }
  EXPECT_NE(std::find(events.begin(), events.end(), "login_failed"), events.end());
  EXPECT_NE(std::find(events.begin(), events.end(), "login_ok"), events.end());
  auto ok = t.exec_params("SELECT pat, ip FROM audit_events WHERE user_id = $1 AND event = 'login_ok'", u.id);
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(std::string(ok[0][0].c_str()), pat_of(s.access));
  EXPECT_EQ(std::string(ok[0][1].c_str()), "127.0.0.1");
}

TEST(Audit, UnknownUserLoginFailureIsRecordedWithoutThePassword) {
  limits_lifted lifted;
  std::string name = unique_name("ghost");
  test_user ghost;
  ghost.login = name;
  ghost.password = "pw-" + unique_name("pw");
  ASSERT_EQ(login(ghost).status, 401);
  auto c = db();
  pqxx::read_transaction t(c);
  auto rows = t.exec("SELECT row_to_json(a)::text FROM audit_events a WHERE event = 'login_failed'"
                     " ORDER BY id DESC LIMIT 20");
  ASSERT_FALSE(rows.empty());
  for (auto row : rows) EXPECT_EQ(std::string(row[0].c_str()).find(ghost.password), std::string::npos);
}

}  // namespace
}  // namespace cartgate::test
