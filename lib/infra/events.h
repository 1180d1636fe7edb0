// Token events (seed 000): token_generated, token_refreshed, token_validated,
// token_deleted, authenticated — fired where CoCart JWT fires its PHP hooks. In-process
// listeners (plugins) are called synchronously; the external stream (PostgreSQL NOTIFY
// cartgate_events) and the audit table never see a token or secret.
//
//   bus.subscribe([](const events::event& e) { … });   // a plugin, at start
//   bus.publish(e);                                     // where CoCart fires the hook
#pragma once

#include <json/json.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace cartgate {
struct user;
}

namespace cartgate::events {

enum class kind { token_generated, token_refreshed, token_validated, token_deleted, authenticated };
std::string_view kind_name(kind k);

struct event {
  explicit event(kind k, std::int64_t user = 0, std::string session = {}, std::int64_t at = 0)
      : what(k), user_id(user), pat(std::move(session)), time(at) {}

  kind what;
  std::int64_t user_id;
  std::string pat;              // "" when no session is involved (token_deleted for all)
  std::int64_t time;            // unix seconds
  std::string token;            // token_generated / token_refreshed: in-process listeners only
  const cartgate::user* subject = nullptr;  // may be null (token_validated, token_deleted)
  Json::Value decoded;          // token_validated: the verified payload
  std::string client_ip;
};

// The JSON published on cartgate_events: {event, user_id (string), pat?, time}. No token.
Json::Value external_payload(const event& e);

class bus {
 public:
  using listener_fn = std::function<void(const event&)>;
  void subscribe(listener_fn fn) { listeners_.push_back(std::move(fn)); }
  // Calls every listener in order; a listener that throws is logged and skipped, so a
  // faulty plugin cannot break authentication.
  void publish(const event& e) const;
  bool empty() const { return listeners_.empty(); }

 private:
  std::vector<listener_fn> listeners_;
};

}  // namespace cartgate::events
