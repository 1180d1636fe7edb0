// The process model of `cartgate serve`: a master that owns the FastCGI unix socket and a
// pool of worker processes that accept on it, each with a few request threads.
//
//   master: binds the socket, forks workers, replaces any that die (with backoff);
//           SIGTERM → unlink the socket path (new connects are refused at once), tell the
//           workers to drain, wait for them; a second SIGTERM exits now.
//           SIGHUP  → re-read the configuration (reload(); a failure keeps the old one),
//           start a fresh generation of workers with it, then drain the old one, so no
//           request is dropped.
//   worker: event loops accept on the shared socket and serve nginx's kept-alive
//           connections, with a few threads for requests that may wait (event_loop.h);
//           on drain they take what is already queued, finish what they have begun
//           and exit.
#pragma once

#include <functional>

#include "infra/config.h"

namespace cartgate {

int serve(const config& initial, const std::function<config()>& reload);

}  // namespace cartgate
