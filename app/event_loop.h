// One worker process's FastCGI front: event loops that own nginx's connections, and a
// few threads for the requests that may wait.
//
//   front front(worker.api(), listen_fd, auth_fd, cfg.io_threads, cfg.threads);
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
// back through an eventfd. Which routes may be tried in the loop is the route table's
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

#include <csignal>

#include "api/services.h"

namespace cartgate {

class front {
 public:
  // listen_fd: the FastCGI socket; auth_fd: the HTTP socket of the auth subrequest (or -1).
  front(api::services& svc, int listen_fd, int auth_fd, int io_threads, int blocking_threads);
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
