// Token events (seed 000): token_generated, token_refreshed, token_validated,
// token_deleted, authenticated — fired where CoCart JWT fires its PHP hooks. In-process
// listeners are called synchronously, each only for the kinds it subscribed to (plugins'
// listener queues the event for their thread); the external stream (PostgreSQL NOTIFY
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

// A set of kinds, one bit each (bit(kind::authenticated) | …).
constexpr std::uint32_t bit(kind k) { return 1u << static_cast<unsigned>(k); }
constexpr std::uint32_t every_kind = 0x1fu;

class bus {
 public:
  using listener_fn = std::function<void(const event&)>;
  // A listener hears the kinds in `kinds` only; the returned id widens them later
  // (plugins loaded one by one share one listener).
  std::size_t subscribe(listener_fn fn, std::uint32_t kinds = every_kind) {
    listeners_.push_back({std::move(fn), kinds});
    wanted_ |= kinds;
    return listeners_.size() - 1;
  }
  void add_kinds(std::size_t id, std::uint32_t kinds) {
    listeners_.at(id).kinds |= kinds;
    wanted_ |= kinds;
  }
  // Calls every listener of e's kind in order; a listener that throws is logged and
  // skipped, so a faulty plugin cannot break authentication.
  void publish(const event& e) const;
  bool empty() const { return listeners_.empty(); }
  // Whether any listener hears kind k: when none does, the event need not be built.
  bool wants(kind k) const { return (wanted_ & bit(k)) != 0; }

 private:
  struct listener {
    listener_fn fn;
    std::uint32_t kinds;
  };
  std::vector<listener> listeners_;
  std::uint32_t wanted_ = 0;
};

}  // namespace cartgate::events
