// The bootstrap TOML file: strict keys, documented defaults, refused weak settings.
#include "infra/config.h"

#include <gtest/gtest.h>

#include <set>

namespace cartgate {
namespace {

TEST(Config, EmptyFileGivesDocumentedDefaults) {
  auto c = config::from_toml("");
  EXPECT_EQ(c.database_url, "postgresql:///cartgate");
  EXPECT_EQ(c.socket_path, "/run/cartgate/cartgate.sock");
  EXPECT_EQ(c.workers, 0);
  EXPECT_EQ(c.threads, 8);
  EXPECT_EQ(c.algorithm, "HS256");
  EXPECT_EQ(c.argon2_memory_kib, 19456u);
  EXPECT_EQ(c.argon2_iterations, 2u);
  EXPECT_EQ(c.argon2_parallelism, 1u);
  EXPECT_EQ(c.argon2_max_concurrent, 2);
  EXPECT_EQ(c.smtp_url, "smtp://127.0.0.1:2525");
  EXPECT_EQ(c.geoip_v4_file, "/usr/share/tor/geoip");
}

TEST(Config, AuthSocketSitsBesideTheFastcgiSocketByDefault) {
  auto c = config::from_toml("");
  EXPECT_EQ(c.io_threads, 1);
  EXPECT_EQ(c.auth_socket(), "/run/cartgate/cartgate-auth.sock");
  c.socket_path = "/tmp/pool";
  EXPECT_EQ(c.auth_socket(), "/tmp/pool-auth");
}

TEST(Config, AuthSocketCanBeNamedOrTurnedOff) {
  auto named = config::from_toml("[server]\nauth_socket = \"/run/x/auth.sock\"\nio_threads = 2\n");
  EXPECT_EQ(named.auth_socket(), "/run/x/auth.sock");
  EXPECT_EQ(named.io_threads, 2);
  auto off = config::from_toml("[server]\nauth_socket = \"off\"\n");
  EXPECT_EQ(off.auth_socket(), "");
}

TEST(Config, QueueBoundsHaveDefaultsAndMustBePositive) {
  auto c = config::from_toml("");
  EXPECT_EQ(c.queue_max, 1024);
  EXPECT_EQ(c.password_queue_max, 64);
  auto set = config::from_toml("[server]\nqueue_max = 10\n[password]\nqueue_max = 3\n");
  EXPECT_EQ(set.queue_max, 10);
  EXPECT_EQ(set.password_queue_max, 3);
  EXPECT_THROW(config::from_toml("[server]\nqueue_max = 0\n"), config_error);
  EXPECT_THROW(config::from_toml("[password]\nqueue_max = 0\n"), config_error);
}

TEST(Config, IoThreadsOutOfRangeAreRefused) {
  EXPECT_THROW(config::from_toml("[server]\nio_threads = 0\n"), config_error);
  EXPECT_THROW(config::from_toml("[server]\nio_threads = 65\n"), config_error);
}

TEST(Config, KnownKeysAreRead) {
  auto c = config::from_toml(R"(
[database]
url = "postgresql://u@h/db"
[server]
workers = 3
threads = 4
[jwt]
issuer = "https://shop.example.com"
algorithm = "ES256"
[plugins]
load = ["a.so", "b.so"]
)");
  EXPECT_EQ(c.database_url, "postgresql://u@h/db");
  EXPECT_EQ(c.workers, 3);
  EXPECT_EQ(c.threads, 4);
  EXPECT_EQ(c.issuer, "https://shop.example.com");
  EXPECT_EQ(c.algorithm, "ES256");
  EXPECT_EQ(c.plugins, (std::vector<std::string>{"a.so", "b.so"}));
}

TEST(Config, UnknownKeyIsAnError) {
  EXPECT_THROW(config::from_toml("[server]\nthreds = 4\n"), config_error);
  EXPECT_THROW(config::from_toml("[nope]\nx = 1\n"), config_error);
  EXPECT_THROW(config::from_toml("top = 1\n"), config_error);
}

TEST(Config, WrongTypesAndSyntaxAreErrors) {
  EXPECT_THROW(config::from_toml("[server]\nworkers = \"two\"\n"), config_error);
  EXPECT_THROW(config::from_toml("[server]\nworkers = -1\n"), config_error);
  EXPECT_THROW(config::from_toml("[server\n"), config_error);
}

TEST(Config, WeakArgon2IsRefused) {
  EXPECT_THROW(config::from_toml("[password]\nargon2_memory_kib = 1024\n"), config_error);
  EXPECT_THROW(config::from_toml("[password]\nargon2_iterations = 1\n"), config_error);
  EXPECT_NO_THROW(config::from_toml("[password]\nargon2_memory_kib = 65536\nargon2_iterations = 3\n"));
}

TEST(Config, MissingSecretFileIsAnError) {
  EXPECT_THROW(config::from_toml("[jwt]\nsecret_file = \"/nonexistent/secret\"\n"), config_error);
}

TEST(Config, EveryDocumentedKeyIsAccepted) {
  std::set<std::string> seen;
  for (auto& k : config_keys()) {
    EXPECT_TRUE(seen.insert(k.key).second) << "listed twice: " << k.key;
    EXPECT_NE(std::string(k.doc), "") << k.key;
  }
  EXPECT_NO_THROW(config::from_toml("[server]\nsocket_mode = \"0600\"\n[site]\nname = \"x\"\n"));
}

}  // namespace
}  // namespace cartgate
