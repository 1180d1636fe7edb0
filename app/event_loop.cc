#include "event_loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/routes.h"
#include "blocking_pool.h"
#include "http/errors.h"
#include "http/message.h"
#include "infra/db.h"
#include "infra/log.h"
#include "infra/metrics.h"
#include "wire/cgi.h"
#include "wire/fastcgi.h"
#include "wire/http1.h"

namespace cartgate {
namespace {

constexpr std::chrono::milliseconds drain_grace{500};
// nginx sends one request at a time per connection; a peer that queues more than this
// on one connection (FastCGI requests begun, or HTTP bytes waiting behind an unanswered
// request) is cut off rather than buffered without end.
constexpr int max_in_flight_per_connection = 8;
constexpr std::size_t max_http_backlog = http1::max_head_bytes + http::max_body_bytes;

struct loop;

enum class protocol { fastcgi, http };

// Where an answer goes and how it is framed.
struct reply_to {
  int fd;
  std::uint64_t serial;  // the connection it came on; a closed one drops the answer
  protocol proto;
  std::uint16_t id;  // FastCGI request id
  bool keep;         // FCGI_KEEP_CONN / HTTP keep-alive
};

bool unread_bytes(int fd) {
  int pending = 0;
  return ::ioctl(fd, FIONREAD, &pending) == 0 && pending > 0;
}

std::string encode(const reply_to& to, const http::response& res) {
  if (to.proto == protocol::http) return http1::encode_response(res, to.keep);
  return fastcgi::encode_response(to.id, cgi::response_text(res));
}

struct answer {
  reply_to to;
  http::response response;  // framed by the loop, which knows whether it is draining
};

struct connection {
  connection(int f, std::uint64_t s, protocol p)
      : fd(f), serial(s), proto(p), parser(http::max_body_bytes) {}
  int fd;
  std::uint64_t serial;
  protocol proto;
  fastcgi::parser parser;
  http1::parser http_parser;
  std::string out;  // bytes not yet written
  std::size_t out_offset = 0;
  int in_flight = 0;             // requests begun and not yet answered
  bool close_when_done = false;  // a request came without FCGI_KEEP_CONN
  bool watching_out = false;     // EPOLLOUT armed
  bool closed = false;           // closed; freed after the current batch of events
  bool answered_in_drain = false;

  bool mid_request() const {
    return proto == protocol::http ? http_parser.mid_request() : parser.mid_request();
  }
  bool idle() const { return in_flight == 0 && out_offset == out.size() && !mid_request(); }
};

struct loop {
  loop(api::services& s, int listen, int auth_listen, blocking_pool& b, blocking_pool& logins,
       std::chrono::milliseconds login_wait)
      : svc(s), listen_fd(listen), auth_fd(auth_listen), blocking(b), password_lane(logins),
        password_wait(login_wait) {}

  void run(const volatile std::sig_atomic_t* drain);
  void post(answer a);

  api::services& svc;
  int listen_fd;  // FastCGI
  int auth_fd;    // HTTP: the auth subrequest and the storefront; -1 when not configured
  blocking_pool& blocking;
  blocking_pool& password_lane;             // runs_on::password: logins
  std::chrono::milliseconds password_wait;  // password.wait_ms (the pipeline waits that long for its slot)
  int ep = -1;
  int wake_fd = -1;
  bool draining = false;
  std::uint64_t next_serial = 1;
  std::unordered_map<int, std::unique_ptr<connection>> conns;
  // Connections closed during one batch of events stay allocated until the batch ends,
  // so a later event of the same batch can still look at them (and see `closed`).
  std::vector<std::unique_ptr<connection>> graveyard;
  std::mutex answers_mu;
  std::vector<answer> answers;
  // Jobs handed to the blocking threads whose answers this loop has not yet taken (also
  // those whose connection has gone): the loop outlives every one of them, since their
  // answers are posted to it.
  int pending_jobs = 0;
  // Draining: idle kept-alive connections get a short grace before they are closed, so
  // a request nginx is sending on one right now is served rather than cut off; a
  // connection that carries a request meanwhile is closed after its answer.
  std::chrono::steady_clock::time_point idle_close_at;
  bool idle_closing = false;

 private:
  void accept_ready(int fd, protocol proto);
  void on_readable(connection& c);
  void take_fastcgi_requests(connection& c);
  void take_http_requests(connection& c);
  void start_request(connection& c, const reply_to& to, http::request r);
  bool hand_off(const reply_to& to, const api::route* rt, http::request r);
  void finish(connection& c, reply_to to, const http::response& res);
  void queue_out(connection& c, const std::string& bytes);
  void flush(connection& c);  // may close c
  void close_conn(connection& c);
  void take_answers();
  void begin_drain();
  void close_idle();
};

void loop::post(answer a) {
  {
    std::lock_guard lock(answers_mu);
    answers.push_back(std::move(a));
  }
  std::uint64_t one = 1;
  ssize_t n = ::write(wake_fd, &one, sizeof one);
  (void)n;  // a full counter still wakes the loop
}

void loop::take_answers() {
  std::uint64_t count;
  ssize_t n = ::read(wake_fd, &count, sizeof count);
  (void)n;
  std::vector<answer> batch;
  {
    std::lock_guard lock(answers_mu);
    batch.swap(answers);
  }
  for (auto& a : batch) {
    --pending_jobs;
    auto it = conns.find(a.to.fd);
    if (it == conns.end() || it->second->serial != a.to.serial) continue;  // nginx went away
    connection& c = *it->second;
    finish(c, a.to, a.response);
    // The next request of an HTTP connection waited for this answer.
    if (!c.closed && c.proto == protocol::http) take_http_requests(c);
  }
}

void loop::accept_ready(int listening, protocol proto) {
  if (listening < 0) return;
  // Take a bounded batch, so a burst of connects cannot starve the connections already
  // open; level-triggered epoll brings the loop back for the rest.
  for (int i = 0; i < 64; ++i) {
    int fd = ::accept4(listening, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        log::warn("accept_failed", {{"error", std::strerror(errno)}});
      }
      return;
    }
    auto c = std::make_unique<connection>(fd, next_serial++, proto);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = c.get();
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      continue;
    }
    conns.emplace(fd, std::move(c));
    metrics::add(proto == protocol::http
                     ? "cartgate_connections_accepted_total{socket=\"auth\"}"
                     : "cartgate_connections_accepted_total{socket=\"fastcgi\"}");
  }
}

void loop::on_readable(connection& c) {
  const int fd = c.fd;
  char buf[16384];
  // A few reads per wake-up: enough for any request nginx sends, without letting one
  // connection hold the loop.
  for (int i = 0; i < 8; ++i) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      if (c.proto == protocol::http) {
        c.http_parser.feed(buf, static_cast<std::size_t>(n));
        if (c.in_flight > 0 && c.http_parser.buffered() > max_http_backlog) {
          log::warn("http_backlog_exceeded");
          close_conn(c);
          return;
        }
      } else if (!c.parser.feed(buf, static_cast<std::size_t>(n))) {
        log::warn("fastcgi_protocol_error",
                  {{"error", std::string(fastcgi::error_name(c.parser.last_error()))}});
        close_conn(c);
        return;
      }
      if (static_cast<std::size_t>(n) < sizeof buf) break;
      continue;
    }
    if (n == 0) {
      // nginx closed its end: nothing begun here can still be delivered.
      close_conn(c);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    close_conn(c);
    return;
  }
  if (c.proto == protocol::http) {
    take_http_requests(c);
  } else {
    take_fastcgi_requests(c);
  }
  if (!c.closed) flush(c);
}

void loop::take_fastcgi_requests(connection& c) {
  std::string replies = c.parser.take_replies();
  if (!replies.empty()) queue_out(c, replies);
  while (auto req = c.parser.next_request()) {
    if (c.in_flight >= max_in_flight_per_connection) {
      log::warn("fastcgi_too_many_in_flight");
      close_conn(c);
      return;
    }
    reply_to to{c.fd, c.serial, protocol::fastcgi, req->id, req->keep_conn};
    if (!req->keep_conn) c.close_when_done = true;
    bool too_large = false;
    http::request r = cgi::to_request(*req, too_large);
    if (too_large) {
      ++c.in_flight;
      finish(c, to, to_response(failure{reason::request_too_large}));
    } else {
      start_request(c, to, std::move(r));
    }
    if (c.closed) return;  // a failed write, or the last answer before a close
  }
}

// One request at a time: the next is parsed only once the previous one is answered, so
// answers leave in order even when one of them waited on a blocking thread.
void loop::take_http_requests(connection& c) {
  while (c.in_flight == 0 && !c.closed && !c.close_when_done) {
    auto req = c.http_parser.next();
    if (!req) {
      if (c.http_parser.failed()) {
        log::warn("http_protocol_error",
                  {{"error", std::string(http1::error_name(c.http_parser.last_error()))}});
        failure f{c.http_parser.last_error() == http1::error::body_too_large
                      ? reason::request_too_large
                      : reason::bad_request};
        c.close_when_done = true;
        ++c.in_flight;
        finish(c, reply_to{c.fd, c.serial, protocol::http, 0, false}, to_response(f));
      }
      return;
    }
    http::request& r = req->http;
    reply_to to{c.fd, c.serial, protocol::http, 0, req->keep_alive};
    if (!req->keep_alive) c.close_when_done = true;
    // nginx names the client's address in a header it always sets itself (a client's
    // header of that name is replaced, never passed).
    auto addr = r.headers.find("x-cartgate-remote-addr");
    if (addr != r.headers.end()) {
      r.remote_addr = std::move(addr->second);
      r.headers.erase(addr);
    }
    // This socket serves the routes the table marks internal (the auth subrequest, the
    // storefront's signed requests); everything else goes over FastCGI and is
    // rest_no_route here (api::find_route).
    r.internal = true;
    start_request(c, to, std::move(r));
  }
}

void loop::start_request(connection& c, const reply_to& to, http::request r) {
  ++c.in_flight;
  // A hot route, or no route at all (rest_no_route needs nothing), is tried in the loop.
  const api::route* rt = api::find_route(r);
  if (rt == nullptr || rt->runs == api::runs_on::loop) {
    try {
      db::no_wait_scope in_loop;
      finish(c, to, api::answer(svc, r, rt));
      return;
    } catch (const db::would_block&) {
      // Needs PostgreSQL: on to a thread that may wait, as if it had never been tried.
    }
  }
  if (!hand_off(to, rt, std::move(r))) {
    metrics::add("cartgate_queue_full_total");
    finish(c, to, to_response(failure(reason::busy)));
  }
}

// To the blocking threads: logins to their own lane, the rest to the shared one. False
// when that lane's queue is full (nothing was queued).
bool loop::hand_off(const reply_to& to, const api::route* rt, http::request r) {
  bool login = rt != nullptr && rt->runs == api::runs_on::password;
  bool queued = false;
  if (login) {
    // Bounded by length, not by time: a login held up by a slow database is still
    // answered once it thaws (the drain on SIGTERM counts on that).
    queued = password_lane.try_submit([this, to, rt, r = std::move(r)]() mutable { post(answer{to, api::answer(svc, r, rt)}); });
  } else {
    queued = blocking.try_submit([this, to, rt, r = std::move(r)]() mutable { post(answer{to, api::answer(svc, r, rt)}); });
  }
  if (queued) ++pending_jobs;
  return queued;
}

void loop::finish(connection& c, reply_to to, const http::response& res) {
  --c.in_flight;
  if (draining) {
    // The last answer on this connection: over HTTP nginx is told so (Connection:
    // close) and will not reuse it; over FastCGI it is closed once written.
    to.keep = false;
    c.answered_in_drain = true;
  }
  queue_out(c, encode(to, res));
  flush(c);
}

void loop::queue_out(connection& c, const std::string& bytes) {
  if (c.out_offset == c.out.size()) {
    c.out.clear();
    c.out_offset = 0;
  }
  c.out += bytes;
}

void loop::flush(connection& c) {
  while (c.out_offset < c.out.size()) {
    ssize_t n =
        ::send(c.fd, c.out.data() + c.out_offset, c.out.size() - c.out_offset, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_offset += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!c.watching_out) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP | EPOLLOUT;
        ev.data.ptr = &c;
        ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
        c.watching_out = true;
      }
      return;
    }
    close_conn(c);
    return;
  }
  c.out.clear();
  c.out_offset = 0;
  if (c.watching_out) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = &c;
    ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
    c.watching_out = false;
  }
  if (c.in_flight > 0) return;
  // The peer asked for it (no keep-alive), or its request could not be parsed.
  if (c.close_when_done) {
    close_conn(c);
    return;
  }
  // Draining: after the connection's answer, or once the grace is over. A request nginx
  // has begun sending is served, not cut off: closing with unread bytes would reset the
  // connection under it.
  if ((c.answered_in_drain || idle_closing) && !c.mid_request() && !unread_bytes(c.fd))
    close_conn(c);
}

void loop::close_conn(connection& c) {
  if (c.closed) return;
  c.closed = true;
  ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
  ::close(c.fd);
  auto it = conns.find(c.fd);
  graveyard.push_back(std::move(it->second));
  conns.erase(it);
}

void loop::begin_drain() {
  draining = true;
  // What is already queued on the sockets was sent before the drain began: take it.
  accept_ready(listen_fd, protocol::fastcgi);
  accept_ready(auth_fd, protocol::http);
  ::epoll_ctl(ep, EPOLL_CTL_DEL, listen_fd, nullptr);
  if (auth_fd >= 0) ::epoll_ctl(ep, EPOLL_CTL_DEL, auth_fd, nullptr);
  idle_close_at = std::chrono::steady_clock::now() + drain_grace;
}

void loop::close_idle() {
  idle_closing = true;
  std::vector<connection*> idle;
  for (auto& [_, c] : conns) {
    if (c->idle() && !unread_bytes(c->fd)) idle.push_back(c.get());
  }
  for (auto* c : idle) close_conn(*c);
  graveyard.clear();
}

void loop::run(const volatile std::sig_atomic_t* drain) {
  ep = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ep < 0 || wake_fd < 0)
    throw std::runtime_error(std::string("epoll/eventfd: ") + std::strerror(errno));
  epoll_event ev{};
  // Every loop of every worker waits on the same socket. EPOLLEXCLUSIVE wakes one
  // waiter per new connection instead of all of them.
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  ev.data.ptr = nullptr;
  if (::epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
    throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
  }
  if (auth_fd >= 0) {
    epoll_event aev{};
    aev.events = EPOLLIN | EPOLLEXCLUSIVE;
    aev.data.ptr = &auth_fd;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, auth_fd, &aev) != 0) {
      throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
    }
  }
  epoll_event wev{};
  wev.events = EPOLLIN;
  wev.data.ptr = this;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, wake_fd, &wev);

  epoll_event ready[64];
  while (true) {
    if (!draining && *drain) begin_drain();
    int timeout_ms = 200;
    if (draining && !idle_closing) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          idle_close_at - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        close_idle();
      else
        timeout_ms = static_cast<int>(std::min<long>(left.count(), 200));
    }
    if (draining && conns.empty() && pending_jobs == 0) break;
    int n = ::epoll_wait(ep, ready, 64, timeout_ms);
    if (n <= 0) {
      // A timeout (or a signal). An exclusive wake-up goes to one waiter only, and if
      // that one cannot run (a stopped or stalled process) a new connection would wait
      // for the next arrival; so an idle loop also tries to accept now and then.
      if (!draining) {
        accept_ready(listen_fd, protocol::fastcgi);
        accept_ready(auth_fd, protocol::http);
      }
      continue;
    }
    for (int i = 0; i < n; ++i) {
      void* tag = ready[i].data.ptr;
      if (tag == nullptr) {
        if (!draining) accept_ready(listen_fd, protocol::fastcgi);
        continue;
      }
      if (tag == &auth_fd) {
        if (!draining) accept_ready(auth_fd, protocol::http);
        continue;
      }
      if (tag == this) {
        take_answers();
        continue;
      }
      auto* c = static_cast<connection*>(tag);
      if (c->closed) continue;  // closed earlier in this batch
      std::uint32_t e = ready[i].events;
      if (e & EPOLLOUT) {
        flush(*c);
        if (c->closed) continue;
      }
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(*c);
    }
    graveyard.clear();
  }
  ::close(wake_fd);
  ::close(ep);
}

}  // namespace

front_options front_options::from(const config& cfg) {
  front_options o;
  o.io_threads = cfg.io_threads;
  o.threads = cfg.threads;
  o.queue_max = static_cast<std::size_t>(cfg.queue_max);
  o.password_threads = cfg.argon2_max_concurrent;
  o.password_queue_max = static_cast<std::size_t>(cfg.password_queue_max);
  o.password_wait = std::chrono::milliseconds(cfg.argon2_wait_ms);
  return o;
}

struct front::impl {
  impl(api::services& svc, int listen_fd, int auth_fd, const front_options& o)
      : pool(o.threads, o.queue_max), logins(o.password_threads, o.password_queue_max) {
    for (int i = 0; i < o.io_threads; ++i)
      loops.push_back(std::make_unique<loop>(svc, listen_fd, auth_fd, pool, logins, o.password_wait));
  }
  blocking_pool pool;
  blocking_pool logins;
  std::vector<std::unique_ptr<loop>> loops;
};

front::front(api::services& svc, int listen_fd, int auth_fd, const front_options& options)
    : impl_(new impl(svc, listen_fd, auth_fd, options)) {}

front::~front() { delete impl_; }

void front::run(const volatile std::sig_atomic_t* drain) {
  std::vector<std::thread> extra;
  for (std::size_t i = 1; i < impl_->loops.size(); ++i) {
    extra.emplace_back([this, i, drain] { impl_->loops[i]->run(drain); });
  }
  impl_->loops[0]->run(drain);
  for (auto& t : extra) t.join();
  // Every loop has seen all its answers, so the blocking threads are idle.
  impl_->pool.stop();
  impl_->logins.stop();
}

}  // namespace cartgate
