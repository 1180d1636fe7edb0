#include "fcgi_server.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
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

#include "errors.h"
#include "log.h"
#include "metrics.h"
#include "service.h"

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

int open_socket(const config& cfg) {
  sockaddr_un addr{};
  if (cfg.socket_path.size() >= sizeof(addr.sun_path)) {
    throw config_error("server.socket path is too long");
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, cfg.socket_path.c_str());
  ::unlink(cfg.socket_path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("cannot bind " + cfg.socket_path + ": " + std::strerror(errno));
  }
  mode_t mode = static_cast<mode_t>(std::stoul(cfg.socket_mode, nullptr, 8));
  ::chmod(cfg.socket_path.c_str(), mode);
  if (::listen(fd, 1024) != 0) {
    throw std::runtime_error(std::string("listen: ") + std::strerror(errno));
  }
  // Every worker waits in epoll before accepting, and a non-blocking listener lets a
  // thread that lost the race come back instead of sleeping in accept() through a drain.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

std::string param(FCGX_Request& req, const char* name) {
  const char* v = FCGX_GetParam(name, req.envp);
  return v ? v : "";
}

std::string lower_media_type(std::string ct) {
  auto semi = ct.find(';');
  if (semi != std::string::npos) ct.erase(semi);
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  std::transform(ct.begin(), ct.end(), ct.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ct;
}

void write_response(FCGX_Request& req, const http::response& res) {
  std::string head = "Status: " + std::to_string(res.status) + " " +
                     std::string(http::status_text(res.status)) + "\r\n";
  if (res.status != 204) head += "Content-Type: " + res.content_type + "\r\n";
  head += "Cache-Control: no-store\r\n";
  for (auto& h : res.headers) head += h.name + ": " + h.value + "\r\n";
  head += "\r\n";
  FCGX_PutStr(head.data(), static_cast<int>(head.size()), req.out);
  if (res.status != 204 && !res.body.empty()) {
    FCGX_PutStr(res.body.data(), static_cast<int>(res.body.size()), req.out);
  }
}

void handle_one(service& svc, FCGX_Request& req) {
  http::request r;
  r.method = param(req, "REQUEST_METHOD");
  r.path = param(req, "DOCUMENT_URI");
  if (r.path.empty()) {
    r.path = param(req, "REQUEST_URI");
    auto q = r.path.find('?');
    if (q != std::string::npos) r.path.erase(q);
  }
  r.query = param(req, "QUERY_STRING");
  r.remote_addr = param(req, "REMOTE_ADDR");
  r.content_type = lower_media_type(param(req, "CONTENT_TYPE"));
  for (char** e = req.envp; e && *e; ++e) {
    std::string_view kv(*e);
    if (kv.rfind("HTTP_", 0) != 0) continue;
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name(kv.substr(5, eq - 5));
    for (auto& c : name) c = c == '_' ? '-' : static_cast<char>(std::tolower(c));
    r.headers[name] = std::string(kv.substr(eq + 1));
  }
  std::string length_text = param(req, "CONTENT_LENGTH");
  std::size_t length = 0;
  if (!length_text.empty()) {
    try {
      length = std::stoull(length_text);
    } catch (...) {
      length = http::max_body_bytes + 1;
    }
  }
  if (length > http::max_body_bytes) {
    write_response(req, to_response(failure{reason::request_too_large}));
    return;
  }
  r.body.resize(length);
  int got = length ? FCGX_GetStr(r.body.data(), static_cast<int>(length), req.in) : 0;
  r.body.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  write_response(req, svc.handle(r));
}

void request_thread(service& svc, int listen_fd) {
  FCGX_Request req;
  FCGX_InitRequest(&req, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR);
  // Every thread of every worker waits on the same socket. EPOLLEXCLUSIVE wakes one
  // waiter per new connection instead of all of them (no thundering herd); the timeout
  // lets a thread notice a drain.
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  ev.data.fd = listen_fd;
  if (ep < 0 || ::epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
    log::error("epoll_failed", {{"error", std::strerror(errno)}});
    if (ep >= 0) ::close(ep);
    return;
  }
  while (true) {
    bool draining = got_term != 0;
    if (!draining) {
      epoll_event ready{};
      ::epoll_wait(ep, &ready, 1, 200);
    }
    // Woken, or draining (take whatever is already queued, then stop), or the wait timed
    // out: an exclusive wake-up goes to one waiter only, and if that one cannot run (a
    // stopped or stalled process) the connection would wait for the next arrival. So
    // every 200 ms an idle thread also tries a non-blocking accept on its own.
    int rc = FCGX_Accept_r(&req);
    if (rc < 0) {
      if (draining) break;
      continue;  // nothing queued, or another thread took it
    }
    handle_one(svc, req);
    // libfcgi's default close is a "lingering" one: shutdown, then wait (up to 2 s) for
    // nginx to close its end. That keeps this thread busy for a whole round trip after
    // the answer is written. nginx has sent the whole request by now and reads until
    // END_REQUEST, so a plain close is safe; FCGX_Detach makes libfcgi do just that.
    FCGX_Detach(&req);
    FCGX_Finish_r(&req);
  }
  ::close(ep);
  FCGX_Free(&req, 1);
}

[[noreturn]] void worker_main(const config& cfg, int listen_fd, int generation) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
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
    service svc(cfg);
    svc.start();
    log::info("worker_started", {{"generation", std::to_string(generation)}});
    std::vector<std::thread> threads;
    for (int i = 0; i < cfg.threads; ++i) {
      threads.emplace_back([&svc, listen_fd] { request_thread(svc, listen_fd); });
    }
    for (auto& t : threads) t.join();
    svc.stop();
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
  if (FCGX_Init() != 0) {
    log::error("fcgi_init_failed");
    return 1;
  }
  metrics::init_shared();
  {
    // Fail before forking when the configuration cannot make a working service
    // (bad keys, unreadable plugin…): the operator sees the reason once, at start.
    service probe(cfg);
  }
  int listen_fd = open_socket(cfg);
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
    if (pid == 0) worker_main(cfg, listen_fd, gen);
    if (pid > 0) children[pid] = gen;
    return pid;
  };
  for (int i = 0; i < workers; ++i) spawn(generation);
  log::info("pool_started", {{"workers", std::to_string(workers)}, {"socket", cfg.socket_path}});

  auto backoff = std::chrono::milliseconds(0);
  auto last_crash = std::chrono::steady_clock::now();
  bool draining = false;
  while (true) {
    if (got_term && !draining) {
      draining = true;
      // Refuse new connections at once; what is queued or in flight still completes.
      ::unlink(cfg.socket_path.c_str());
      log::info("pool_draining", {{"workers", std::to_string(children.size())}});
      for (auto& [pid, _] : children) kill(pid, SIGTERM);
    }
    if (got_term > 1) {
      for (auto& [pid, _] : children) kill(pid, SIGKILL);
    }
    if (got_hup && !draining) {
      got_hup = 0;
      // Re-read the configuration for the new generation. A file that no longer loads,
      // or a service that cannot start with it, keeps the running settings. The socket
      // stays the one bound at start.
      if (reload) {
        try {
          config next = reload();
          if (next.socket_path != cfg.socket_path || next.socket_mode != cfg.socket_mode) {
            log::warn("reload_socket_unchanged", {{"socket", cfg.socket_path}});
            next.socket_path = cfg.socket_path;
            next.socket_mode = cfg.socket_mode;
          }
          { service probe(next); }
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
  log::info("pool_stopped");
  return 0;
}

}  // namespace cartgate
