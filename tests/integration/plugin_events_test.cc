// Issue 14 through nginx: per-request events reach the example plugins in batches, and
// a worker stopped by SIGTERM delivers what it still had queued before it exits — the
// token_log lines of every request a second pool answered are there the moment its
// master has exited, without waiting for a batch's delay.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>

#include "auth_helpers.h"

namespace cartgate::test {
namespace {

std::string token_log() {
  std::ifstream in(std::filesystem::path(env("CARTGATE_TEST_STATE")) / "run" / "plugins" / "token_events.log");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int lines_with(const std::string& log, const std::string& a, const std::string& b) {
  int n = 0;
  std::size_t from = 0;
  while (from < log.size()) {
    auto end = log.find('\n', from);
    if (end == std::string::npos) end = log.size();
    auto line = log.substr(from, end - from);
    if (line.find(a) != std::string::npos && line.find(b) != std::string::npos) ++n;
    from = end + 1;
  }
  return n;
}

TEST(PluginEvents, SigtermDeliversEveryQueuedEventBeforeTheWorkerExits) {
  if (!login_route_available()) GTEST_SKIP() << "login route not available";
  limits_lifted lifted;
  auto u = make_user();
  auto s = login_ok(u);
  std::string id = "\"user_id\":\"" + std::to_string(u.id) + "\"";

  pool_b b;
  b.start(1);  // one worker: every request below queues on the same worker
  const int requests = 30;
  http_options o;
  o.method = "POST";
  o.port = pool_b::port();
  o.bearer = s.access;
  for (int i = 0; i < requests; ++i) {
    auto r = http("/wp-json/cocart/jwt/validate-token", o);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  int status = b.stop(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status)) << "pool B exited on SIGTERM (status " << status << ")";

  // Checked once, right after the exit: nothing may still be on its way.
  auto log = token_log();
  EXPECT_EQ(lines_with(log, "\"event\":\"token_validated\"", id), requests) << "none lost at SIGTERM";
  EXPECT_EQ(lines_with(log, "\"event\":\"authenticated\"", id), requests);
  EXPECT_EQ(log.find(s.access.substr(0, 40)), std::string::npos) << "never a token";
}

}  // namespace
}  // namespace cartgate::test
