#include "infra/events.h"

#include "infra/log.h"

namespace cartgate::events {

std::string_view kind_name(kind k) {
  switch (k) {
    case kind::token_generated: return "token_generated";
    case kind::token_refreshed: return "token_refreshed";
    case kind::token_validated: return "token_validated";
    case kind::token_deleted: return "token_deleted";
    case kind::authenticated: return "authenticated";
  }
  return "unknown";
}

Json::Value external_payload(const event& e) {
  Json::Value v(Json::objectValue);
  v["event"] = std::string(kind_name(e.what));
  v["user_id"] = std::to_string(e.user_id);
  if (!e.pat.empty()) v["pat"] = e.pat;
  v["time"] = static_cast<Json::Int64>(e.time);
  return v;
}

void bus::publish(const event& e) const {
  for (auto& l : listeners_) {
    if (!(l.kinds & bit(e.what))) continue;
    try {
      l.fn(e);
    } catch (const std::exception& ex) {
      log::error("event_listener_failed", {{"event", std::string(kind_name(e.what))}, {"error", ex.what()}});
    } catch (...) {
      log::error("event_listener_failed", {{"event", std::string(kind_name(e.what))}});
    }
  }
}

}  // namespace cartgate::events
