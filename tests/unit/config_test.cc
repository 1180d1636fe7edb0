// The bootstrap TOML file: strict keys, documented defaults, refused weak settings.
#include "infra/config.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
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

TEST(Config, ListenConnectionSettingsAreReadAndChecked) {
  auto d = config::from_toml("");
  EXPECT_EQ(d.listen_url, "");
  EXPECT_EQ(d.listen_heartbeat_ms, 250);
  EXPECT_EQ(d.listen_deadline_ms, 750);
  auto c = config::from_toml(
      "[database]\nlisten_url = \"postgresql://127.0.0.1:6432/x\"\nlisten_heartbeat_ms = 100\n"
      "listen_deadline_ms = 400\n");
  EXPECT_EQ(c.listen_url, "postgresql://127.0.0.1:6432/x");
  EXPECT_EQ(c.listen_heartbeat_ms, 100);
  EXPECT_EQ(c.listen_deadline_ms, 400);
  EXPECT_THROW(config::from_toml("[database]\nlisten_heartbeat_ms = 5\n"), config_error);
  EXPECT_THROW(config::from_toml("[database]\nlisten_heartbeat_ms = 500\nlisten_deadline_ms = 500\n"),
               config_error);
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

// A secret file in a fresh folder, with the given mode.
std::string secret_file_with_mode(const std::string& name, mode_t mode) {
  auto dir = std::filesystem::temp_directory_path() / ("cartgate-config-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = (dir / name).string();
  std::ofstream(path) << "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
  ::chmod(path.c_str(), mode);
  return path;
}

TEST(Config, SecretFileReadableOrWritableByOthersIsRefusedWithTheFix) {
  struct key_case {
    const char* section;
    const char* key;
  };
  for (auto [section, key] : {key_case{"jwt", "secret_file"}, key_case{"secrets", "encryption_key_file"},
                              key_case{"secrets", "storefront_key_file"}, key_case{"mail", "password_file"},
                              key_case{"wordpress", "password_file"}, key_case{"jwt", "private_key_file"}}) {
    for (mode_t mode : {0644, 0604, 0602, 0666}) {
      auto path = secret_file_with_mode(std::string(section) + "-" + key, mode);
      try {
        std::string toml;  // built by append: GCC 12 misreports `"[" + std::string&&` under -Wrestrict
        toml.append("[").append(section).append("]\n").append(key).append(" = \"").append(path).append("\"\n");
        config::from_toml(toml);
        ADD_FAILURE() << section << "." << key << " with mode " << std::oct << mode << " was accepted";
      } catch (const config_error& e) {
        std::string what = e.what();
        EXPECT_EQ(what.find('\n'), std::string::npos) << what;
        EXPECT_NE(what.find(path), std::string::npos) << what;
        EXPECT_NE(what.find(std::string(section) + "." + key), std::string::npos) << what;
        EXPECT_NE(what.find("chmod 600 " + path), std::string::npos) << what;
      }
    }
  }
}

TEST(Config, SecretFileClosedToOthersIsRead) {
  auto owner_only = secret_file_with_mode("jwt_secret_600", 0600);
  EXPECT_EQ(config::from_toml("[jwt]\nsecret_file = \"" + owner_only + "\"\n").secret.size(), 64u);
  // Group-readable is fine: the storefront key is shared with PHP-FPM's group.
  auto group = secret_file_with_mode("storefront_640", 0640);
  EXPECT_EQ(config::from_toml("[secrets]\nstorefront_key_file = \"" + group + "\"\n").storefront_key.size(), 64u);
}

TEST(Config, PlaintextMailOffThisMachineIsOffUnlessSaidSo) {
  EXPECT_FALSE(config::from_toml("").smtp_allow_plaintext);
  EXPECT_TRUE(config::from_toml("[mail]\nallow_plaintext = true\n").smtp_allow_plaintext);
  EXPECT_THROW(config::from_toml("[mail]\nallow_plaintext = \"yes\"\n"), config_error);
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
