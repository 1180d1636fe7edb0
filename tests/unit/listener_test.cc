// The LISTEN connection's URL (lib/infra/listener.h): libpq's keepalives,
// tcp_user_timeout and connect_timeout are added so a silently dead link is noticed,
// and a setting the operator wrote is kept.
#include "infra/listener.h"

#include <gtest/gtest.h>

namespace cartgate {
namespace {

listener::liveness settings() {
  listener::liveness l;
  l.deadline = std::chrono::milliseconds(750);
  l.connect_timeout = 2;
  return l;
}

TEST(ListenerUrl, UriGetsKeepalivesAndTcpUserTimeout) {
  auto url = listener::hardened_url("postgresql://u:p@127.0.0.1:5432/db", settings());
  EXPECT_EQ(url,
            "postgresql://u:p@127.0.0.1:5432/db?keepalives=1&keepalives_idle=1&keepalives_interval=1"
            "&keepalives_count=3&tcp_user_timeout=750&connect_timeout=2");
}

TEST(ListenerUrl, ExistingQueryAndOperatorSettingsAreKept) {
  auto url = listener::hardened_url("postgres:///db?application_name=x&tcp_user_timeout=300&connect_timeout=5",
                                    settings());
  EXPECT_EQ(url.find("tcp_user_timeout=750"), std::string::npos);
  EXPECT_EQ(url.find("connect_timeout=2"), std::string::npos);
  EXPECT_NE(url.find("application_name=x&tcp_user_timeout=300&connect_timeout=5&keepalives=1"), std::string::npos);
}

TEST(ListenerUrl, KeyValueFormGetsSpaceSeparatedSettings) {
  auto url = listener::hardened_url("host=127.0.0.1 dbname=db", settings());
  EXPECT_EQ(url,
            "host=127.0.0.1 dbname=db keepalives=1 keepalives_idle=1 keepalives_interval=1 keepalives_count=3"
            " tcp_user_timeout=750 connect_timeout=2");
}

TEST(ListenerLiveness, NotLiveBeforeItHasConnected) {
  listener l("postgresql://127.0.0.1:1/none", settings());
  EXPECT_FALSE(l.live());
}

}  // namespace
}  // namespace cartgate
