#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/epoll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <thread>
#include <vector>

#include "event_loop.h"
#include "http/errors.h"
#include "infra/heap_trim.h"
#include "infra/log.h"
#include "infra/metrics.h"
#include "worker/worker.h"

namespace cartgate {
namespace {

// Signal handlers only set these flags; the loops below do the work.
volatile sig_atomic_t got_term = 0;
volatile sig_atomic_t got_hup = 0;
volatile sig_atomic_t got_chld = 0;

void on_signal(int sig) {
  if (sig == SIGTERM || sig == SIGINT) got_term = got_term < 2 ? got_term + 1 : 2;
  if (sig == SIGHUP) got_hup = 1;
  if (sig == SIGCHLD) got_chld = 1;
}

void install(int sig, void (*fn)(int)) {
  struct sigaction sa {};
  sa.sa_handler = fn;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: sleeps and polls wake up on a signal
  sigaction(sig, &sa, nullptr);
}

// Gives the socket file to `group` (server.socket_group): the group only nginx's user is
// in, so no other local account (PHP-FPM's included) can speak FastCGI to cartgate and
// claim a REMOTE_ADDR. "" keeps the process's own group.
void set_socket_group(const std::string& path, const std::string& group) {
  if (group.empty()) return;
  struct group* g = ::getgrnam(group.c_str());
  if (!g) throw config_error("config: server.socket_group: no group '" + group + "' (groupadd --system " + group + ")");
  if (::chown(path.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
    throw config_error("config: server.socket_group: cannot give " + path + " to group " + group + ": " +
                       std::strerror(errno) + " (is cartgate's user in that group?)");
  }
}

int open_socket(const std::string& path, const config& cfg, const std::string& group) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    throw config_error("socket path is too long: " + path);
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ::unlink(path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("cannot bind " + path + ": " + std::strerror(errno));
  }
  mode_t mode = static_cast<mode_t>(std::stoul(cfg.socket_mode, nullptr, 8));
  ::chmod(path.c_str(), mode);
  set_socket_group(path, group);
  if (::listen(fd, 1024) != 0) {
    throw std::runtime_error(std::string("listen: ") + std::strerror(errno));
  }
  // Every worker waits in epoll before accepting, and a non-blocking listener lets a
  // thread that lost the race come back instead of sleeping in accept() through a drain.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

[[noreturn]] void worker_main(const config& cfg, int listen_fd, int auth_fd, int generation) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  // Inherited from the master across fork(), and said again here: a worker holds the
  // signing keys and customers' tokens in memory, so it never writes a core dump and no
  // process of the same user may ptrace it or read its /proc/<pid>/mem.
  prctl(PR_SET_DUMPABLE, 0);
  install(SIGTERM, on_signal);
  install(SIGINT, on_signal);
  signal(SIGHUP, SIG_IGN);
  signal(SIGCHLD, SIG_DFL);
  signal(SIGPIPE, SIG_IGN);
  got_term = 0;
  got_hup = 0;
  got_chld = 0;
  int code = 0;
  try {
    worker w(cfg);
    w.start();
    // What starting freed goes back now; what requests free, every 2 s while it runs.
    heap_trim::now();
    heap_trim::periodic trimmer;
    log::info("worker_started", {{"generation", std::to_string(generation)}});
    {
      front connections(w.api(), listen_fd, auth_fd, front_options::from(cfg));
      connections.run(&got_term);
    }
    w.stop();
    log::info("worker_stopped");
  } catch (const std::exception& e) {
    log::error("worker_failed", {{"error", e.what()}});
    code = 1;
  }
  _exit(code);
}

}  // namespace

int serve(const config& initial, const std::function<config()>& reload) {
  config cfg = initial;
  metrics::init_shared();
  {
    // Fail before forking when the configuration cannot make a working worker
    // (bad keys, unreadable plugin…): the operator sees the reason once, at start.
    worker probe(cfg);
  }
  // The probe's freed heap would otherwise be copied into every worker by fork().
  heap_trim::now();
  int listen_fd = open_socket(cfg.socket_path, cfg, cfg.socket_group);
  const std::string auth_path = cfg.auth_socket();
  int auth_fd = auth_path.empty() ? -1 : open_socket(auth_path, cfg, cfg.auth_socket_group());
  auto worker_count = [](const config& c) {
    return c.workers > 0 ? c.workers : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  };
  int workers = worker_count(cfg);

  install(SIGTERM, on_signal);
  install(SIGINT, on_signal);
  install(SIGHUP, on_signal);
  install(SIGCHLD, on_signal);
  signal(SIGPIPE, SIG_IGN);

  std::map<pid_t, int> children;  // pid → generation
  int generation = 1;
  auto spawn = [&](int gen) {
    pid_t pid = fork();
    if (pid == 0) worker_main(cfg, listen_fd, auth_fd, gen);
    if (pid > 0) children[pid] = gen;
    return pid;
  };
  for (int i = 0; i < workers; ++i) spawn(generation);
  log::info("pool_started", {{"workers", std::to_string(workers)}, {"socket", cfg.socket_path}, {"auth_socket", auth_path}});

  auto backoff = std::chrono::milliseconds(0);
  auto last_crash = std::chrono::steady_clock::now();
  bool draining = false;
  while (true) {
    if (got_term && !draining) {
      draining = true;
      // Refuse new connections at once; what is queued or in flight still completes.
      ::unlink(cfg.socket_path.c_str());
      if (!auth_path.empty()) ::unlink(auth_path.c_str());
      log::info("pool_draining", {{"workers", std::to_string(children.size())}});
      for (auto& [pid, _] : children) kill(pid, SIGTERM);
    }
    if (got_term > 1) {
      for (auto& [pid, _] : children) kill(pid, SIGKILL);
    }
    if (got_hup && !draining) {
      got_hup = 0;
      // Re-read the configuration for the new generation. A file that no longer loads,
      // or a worker that cannot be built with it, keeps the running settings. The socket
      // stays the one bound at start.
      if (reload) {
        try {
          config next = reload();
          if (next.socket_path != cfg.socket_path || next.socket_mode != cfg.socket_mode ||
              next.auth_socket() != auth_path) {
            log::warn("reload_socket_unchanged", {{"socket", cfg.socket_path}});
            next.socket_path = cfg.socket_path;
            next.socket_mode = cfg.socket_mode;
            next.auth_socket_setting = auth_path.empty() ? "off" : auth_path;
          }
          { worker probe(next); }
          cfg = std::move(next);
          workers = worker_count(cfg);
          log::info("config_reloaded");
        } catch (const std::exception& e) {
          log::error("config_reload_failed_kept_previous", {{"error", e.what()}});
        }
      }
      int old = generation++;
      log::info("pool_reloading", {{"generation", std::to_string(generation)}});
      for (int i = 0; i < workers; ++i) spawn(generation);
      for (auto& [pid, gen] : children) {
        if (gen == old) kill(pid, SIGTERM);
      }
    }
    got_chld = 0;
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      auto it = children.find(pid);
      if (it == children.end()) continue;
      int gen = it->second;
      children.erase(it);
      bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (draining || gen != generation) continue;
      // A worker of the current generation died: replace it. Repeated crashes back off
      // so a worker that cannot start does not spin the machine.
      log::warn("worker_died", {{"pid", std::to_string(pid)},
                                {"status", clean ? "exit" : (WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status)) : "exit " + std::to_string(WEXITSTATUS(status)))}});
      metrics::add("cartgate_worker_restarts_total");
      auto now = std::chrono::steady_clock::now();
      backoff = (now - last_crash < std::chrono::seconds(5))
                    ? std::min(std::max(backoff * 2, std::chrono::milliseconds(50)), std::chrono::milliseconds(5000))
                    : std::chrono::milliseconds(0);
      last_crash = now;
      if (backoff.count() > 0) std::this_thread::sleep_for(backoff);
      spawn(generation);
    }
    if (draining && children.empty()) break;
    if (!got_term && !got_hup && !got_chld) {
      // Sleep until a signal; a 200 ms tick keeps the loop honest if one is missed.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  ::close(listen_fd);
  if (auth_fd >= 0) ::close(auth_fd);
  log::info("pool_stopped");
  return 0;
}

}  // namespace cartgate
