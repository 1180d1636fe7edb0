// A server's secrets and sockets: `cartgate serve` refuses a secret file other accounts
// can read, no process of the pool can be dumped or read by ptrace, and the test stack
// (deploy/local/common.sh, the same as the local one) opens no socket to every account
// and runs no nginx worker as root.
#include <linux/capability.h>
#include <linux/kcmp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <errno.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "auth_helpers.h"

namespace cartgate::test {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The value of "Field:" in /proc/<pid>/status, "" when absent.
std::string status_field(pid_t pid, const std::string& field) {
  std::istringstream in(read_text("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return line.substr(field.size() + 1);
  }
  return "";
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for (auto& e : fs::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    std::istringstream ppid(status_field(pid, "PPid"));
    pid_t p = 0;
    if (ppid >> p && p == parent) out.push_back(pid);
  }
  return out;
}

pid_t pid_in(const std::string& file) {
  pid_t pid = 0;
  std::ifstream(file) >> pid;
  return pid;
}

// Whether a process of our own user, without CAP_SYS_PTRACE in its effective set, passes
// the kernel's ptrace "read" check on `pid` (kcmp() makes it, with real credentials). The
// kernel refuses it for a process that is not dumpable (PR_SET_DUMPABLE 0) and allows it
// otherwise, so this tells the two apart without attaching to anything.
bool readable_without_ptrace_capability(pid_t pid) {
  pid_t child = fork();
  if (child == 0) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (syscall(SYS_capget, &header, data) != 0) _exit(2);
    data[CAP_SYS_PTRACE / 32].effective &= ~(1u << (CAP_SYS_PTRACE % 32));
    if (syscall(SYS_capset, &header, data) != 0) _exit(2);
    if (syscall(SYS_kcmp, getpid(), pid, KCMP_VM, 0, 0) >= 0) _exit(0);
    _exit(errno == EPERM ? 1 : 2);
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) == 2) throw std::runtime_error("capset or kcmp failed");
  return WEXITSTATUS(status) == 0;
}

TEST(ServerHardening, ServeRefusesASecretFileOthersCanReadInOneLine) {
  auto dir = fs::path(state_dir()) / unique_name("open-secret");
  fs::create_directories(dir);
  auto secret = (dir / "jwt_secret").string();
  std::ofstream(secret) << "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
  fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                              fs::perms::others_read);  // 0644, as `openssl rand … > file` leaves it
  auto config = (dir / "cartgate.toml").string();
  std::ofstream(config) << "[server]\nsocket = \"" << (dir / "pool.sock").string() << "\"\nworkers = 1\n"
                        << "[jwt]\nsecret_file = \"" << secret << "\"\n";
  // A timeout: a pool that did start would otherwise serve for ever.
  auto r = run({"/usr/bin/timeout", "20", env("CARTGATE_TEST_BINARY"), "--config", config, "serve"});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(secret), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("chmod 600"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "pool.sock"));
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST(ServerHardening, PoolProcessesAreNotDumpable) {
  pid_t master = pid_in(env("CARTGATE_TEST_POOL_PID_FILE"));
  ASSERT_GT(master, 0);
  auto workers = children_of(master);
  ASSERT_FALSE(workers.empty()) << "no worker of pool " << master;
  // The check itself tells a dumpable process apart: one of ours.
  pid_t control = fork();
  if (control == 0) {
    pause();
    _exit(0);
  }
  EXPECT_TRUE(readable_without_ptrace_capability(control));
  kill(control, SIGKILL);
  waitpid(control, nullptr, 0);

  EXPECT_FALSE(readable_without_ptrace_capability(master)) << "master " << master;
  for (pid_t w : workers) EXPECT_FALSE(readable_without_ptrace_capability(w)) << "worker " << w;
}

// Every socket below the state folder, and whether an account that is none of its
// owner, its group or root could connect to it: others may write it and enter every
// folder on the way.
TEST(ServerHardening, StackOpensNoSocketToEveryAccount) {
  fs::path state = state_dir();
  int sockets = 0;
  for (auto it = fs::recursive_directory_iterator(state, fs::directory_options::skip_permission_denied);
       it != fs::recursive_directory_iterator(); ++it) {
    std::error_code ec;
    if (!it->is_socket(ec)) continue;
    ++sockets;
    struct stat st {};
    ASSERT_EQ(::stat(it->path().c_str(), &st), 0);
    bool others_reach = (st.st_mode & S_IWOTH) != 0;
    for (fs::path dir = it->path().parent_path(); others_reach && dir != state.parent_path(); dir = dir.parent_path()) {
      struct stat ds {};
      if (::stat(dir.c_str(), &ds) != 0 || (ds.st_mode & S_IXOTH) == 0) others_reach = false;
    }
    EXPECT_FALSE(others_reach) << it->path() << " (mode " << std::oct << (st.st_mode & 07777) << ")";
  }
  EXPECT_GE(sockets, 3) << "cartgate's two sockets and PHP-FPM's at least";
  // The modes the stack chooses itself (nginx and mariadbd make theirs 0666 and 0777,
  // which is why those sit in closed folders).
  for (const char* name : {"cartgate.sock", "cartgate-auth.sock", "php-fpm.sock"}) {
    struct stat st {};
    auto path = state / "run" / name;
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 0777, 0660u) << path;
  }
}

TEST(ServerHardening, StackNginxWorkersDoNotRunAsRoot) {
  pid_t master = pid_in(state_dir() + "/nginx/nginx.pid");
  ASSERT_GT(master, 0);
  auto workers = children_of(master);
  ASSERT_FALSE(workers.empty());
  for (pid_t w : workers) {
    std::istringstream uids(status_field(w, "Uid"));
    uid_t real = 0, effective = 0;
    uids >> real >> effective;
    EXPECT_NE(real, 0u) << "nginx worker " << w;
    EXPECT_NE(effective, 0u) << "nginx worker " << w;
  }
}

TEST(ServerHardening, NoProcessHasADatabasePasswordOnItsCommandLine) {
  // `ps` shows every argv to every account; the stack hands passwords over on stdin, in
  // files and in the environment only.
  std::vector<std::string> passwords;
  for (const char* name : {"db_password", "mariadb_wordpress_password", "mariadb_cartgate_password"}) {
    std::string pw;
    std::ifstream(state_dir() + "/secrets/" + name) >> pw;
    ASSERT_GE(pw.size(), 16u) << name;
    passwords.push_back(pw);
  }
  int seen = 0;
  for (auto& e : fs::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string argv = read_text(e.path() / "cmdline");
    if (argv.empty()) continue;
    ++seen;
    for (auto& pw : passwords) EXPECT_EQ(argv.find(pw), std::string::npos) << "process " << name;
  }
  EXPECT_GT(seen, 5);
}

}  // namespace
}  // namespace cartgate::test
