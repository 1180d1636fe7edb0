// One worker process's FastCGI front: event loops that own nginx's connections, and a
// few threads for the requests that may wait.
//
//   front front(worker.api(), listen_fd, auth_fd, front_options::from(cfg));
//   front.run(draining_flag);     // returns once a drain has finished
//
// Why an event loop. Every storefront request crosses this process once (the auth
// subrequest), so its cost is what nginx pays per request. With a thread per connection
// and a connection per request, each request costs a connect, an accept, a wake-up of a
// sleeping thread and a close, and on a small machine those wake-ups were most of the
// time. Here nginx keeps its connections open (fastcgi_keep_conn + upstream keepalive),
// a loop reads whatever is ready on all of them in one wake-up, answers token checks from
// memory on the spot and writes the answers back without a context switch. Connections
// are never pinned to a thread, so an idle kept-alive connection costs a file descriptor,
// not a thread.
//
// Requests that may wait (login's argon2, refresh rotation, anything that reads
// PostgreSQL) go to the worker's blocking threads (blocking_pool.h); their answers come
// back through an eventfd. Logins (runs_on::password) have threads of their own, as many
// as argon2 slots, so a login takes a thread (and then a database connection) only when
// it can hash at once, and a login flood never holds the threads refresh, logout and
// first-sight token checks need. Both queues are bounded: a request past its queue's
// bound is answered 503 with Retry-After at once. Which routes may be tried in the loop is the route table's
// word (api/routes.h, runs_on). A hot route is first tried in the loop under db::no_wait_scope: a session not
// yet cached, or a rate limit to count, throws db::would_block before anything was done,
// and the request moves to a blocking thread.
//
// Draining: the loop takes the connections already queued on the listening sockets and
// stops accepting. For a short grace (500 ms) it still serves what nginx sends on its
// open connections, closing each one after that answer (over HTTP with "Connection:
// close", so nginx does not reuse it); then it closes the idle ones. Every request it
// has begun finishes, including one whose body is still arriving; then it returns.
// (A kept-alive connection closed while nginx writes a request on it is the one race
// keep-alive has; nginx retries an idempotent request on a fresh connection.)
#pragma once

#include <chrono>
#include <csignal>
#include <cstddef>

#include "api/services.h"
#include "infra/config.h"

namespace cartgate {

// The sizes of a front: its event loops, and its two kinds of blocking threads.
struct front_options {
  int io_threads = 1;
  int threads = 8;              // server.threads
  std::size_t queue_max = 0;    // server.queue_max: requests waiting for one of them
  int password_threads = 2;     // password.max_concurrent
  std::size_t password_queue_max = 0;  // password.queue_max: logins waiting for one of those
  std::chrono::milliseconds password_wait{2000};  // password.wait_ms
  static front_options from(const config& cfg);
};

class front {
 public:
  // listen_fd: the FastCGI socket; auth_fd: the HTTP socket of the auth subrequest (or -1).
  front(api::services& svc, int listen_fd, int auth_fd, const front_options& options);
  ~front();
  front(const front&) = delete;
  front& operator=(const front&) = delete;

  // Serves until *drain becomes non-zero and everything begun has been answered.
  void run(const volatile std::sig_atomic_t* drain);

 private:
  struct impl;
  impl* impl_;
};

}  // namespace cartgate
