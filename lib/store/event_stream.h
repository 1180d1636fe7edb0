// The external event stream (seed 000): token events published with NOTIFY
// cartgate_events, {event, user_id, pat?, time} — never a token or a secret. Events that
// describe a committed change (login, refresh, logout) are published inside that
// change's transaction (publish); per-request events (token_validated, authenticated,
// only when events.stream_per_request is on) are queued here and sent in batches by the
// worker's background thread, never on the request path.
//
//   event_stream::publish(tx, e);        // with the transaction that did it
//   stream.enqueue(e);                   // request path: a copy into a bounded queue
//   stream.flush(conn);                  // background thread: one transaction per batch
#pragma once

#include <pqxx/pqxx>

#include <mutex>
#include <string>
#include <vector>

#include "infra/events.h"

namespace cartgate {

class event_stream {
 public:
  static constexpr std::size_t max_queued = 10000;  // past it events are dropped (and counted)

  static void publish(pqxx::transaction_base& tx, const events::event& e);

  void enqueue(const events::event& e);
  void flush(pqxx::connection& c);

 private:
  std::mutex mu_;
  std::vector<std::string> queue_;
};

}  // namespace cartgate
