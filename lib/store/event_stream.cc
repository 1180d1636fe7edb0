#include "store/event_stream.h"

#include "http/message.h"
#include "infra/metrics.h"

namespace cartgate {
namespace {

void notify(pqxx::transaction_base& tx, const std::string& payload) {
  tx.exec_params("SELECT pg_notify('cartgate_events', $1)", payload);
}

}  // namespace

void event_stream::publish(pqxx::transaction_base& tx, const events::event& e) {
  notify(tx, http::to_json(events::external_payload(e)));
}

void event_stream::enqueue(const events::event& e) {
  std::lock_guard lock(mu_);
  if (queue_.size() >= max_queued) {
    metrics::add("cartgate_events_dropped_total");
    return;
  }
  queue_.push_back(http::to_json(events::external_payload(e)));
}

void event_stream::flush(pqxx::connection& c) {
  std::vector<std::string> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(queue_);
  }
  if (batch.empty()) return;
  pqxx::work w(c);
  for (auto& payload : batch) notify(w, payload);
  w.commit();
}

}  // namespace cartgate
