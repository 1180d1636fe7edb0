#include "rules/plugins.h"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "base/text.h"
#include "infra/log.h"
#include "infra/metrics.h"
#include "rules/plugin_api.h"

namespace cartgate::plugins {
namespace {

namespace fs = std::filesystem;

using text::ascii_lower;

// What the request view's getters read from. Returned pointers stay valid during the
// call because they point into strings this object owns.
struct request_state {
  const rules::context* ctx;
  mutable std::vector<std::unique_ptr<std::string>> owned;

  const char* keep(std::string s) const {
    owned.push_back(std::make_unique<std::string>(std::move(s)));
    return owned.back()->c_str();
  }
};

const char* get_header(const void* handle, const char* name) {
  auto* st = static_cast<const request_state*>(handle);
  if (!name) return nullptr;
  auto& headers = st->ctx->req.headers;
  auto it = headers.find(ascii_lower(name));
  return it == headers.end() ? nullptr : it->second.c_str();
}

const char* get_param(const void* handle, const char* name) {
  auto* st = static_cast<const request_state*>(handle);
  if (!name || !st->ctx->params.isObject() || !st->ctx->params.isMember(name)) return nullptr;
  const auto& v = st->ctx->params[name];
  if (v.isString()) return v.asCString();
  if (v.isNull() || v.isObject() || v.isArray()) return nullptr;
  return st->keep(v.asString());
}

struct library {
  void* handle = nullptr;
  ~library() {
    if (handle) dlclose(handle);
  }
};

static_assert(CARTGATE_EVENT_TOKEN_GENERATED == events::bit(events::kind::token_generated) &&
                  CARTGATE_EVENT_TOKEN_REFRESHED == events::bit(events::kind::token_refreshed) &&
                  CARTGATE_EVENT_TOKEN_VALIDATED == events::bit(events::kind::token_validated) &&
                  CARTGATE_EVENT_TOKEN_DELETED == events::bit(events::kind::token_deleted) &&
                  CARTGATE_EVENT_AUTHENTICATED == events::bit(events::kind::authenticated) &&
                  CARTGATE_EVENTS_ALL == events::every_kind,
              "the ABI's event bits are events::bit()");

// What a queued event keeps of events::event: the request's own objects (the user, the
// decoded token) are gone by the time the plugins see it. Never the token.
struct user_copy {
  std::int64_t id = 0;
  std::string login, email, display_name;
  std::vector<std::string> roles;
};

struct queued_event {
  events::kind what;
  std::int64_t user_id;
  std::int64_t time;
  std::string pat;
  std::string ip;
  std::unique_ptr<user_copy> user;  // null when the event has no subject
};

queued_event copy_of(const events::event& e) {
  queued_event q{e.what, e.user_id, e.time, e.pat, e.client_ip, nullptr};
  if (e.subject) {
    q.user = std::make_unique<user_copy>(user_copy{e.subject->id, e.subject->login, e.subject->email,
                                                   e.subject->display_name, e.subject->roles});
  }
  return q;
}

// The JSON of ABI version 1 (and of CARTGATE_PLUGIN_JSON): the external stream's fields
// plus what a plugin in this process may see, the client's address and the user.
std::string json_of(const queued_event& q) {
  Json::Value v = events::external_payload(events::event(q.what, q.user_id, q.pat, q.time));
  if (!q.ip.empty()) v["ip"] = q.ip;
  if (q.user) {
    Json::Value u(Json::objectValue);
    u["id"] = Json::Value(static_cast<Json::Int64>(q.user->id));
    u["login"] = q.user->login;
    u["email"] = q.user->email;
    u["display_name"] = q.user->display_name;
    u["roles"] = Json::Value(Json::arrayValue);
    for (auto& r : q.user->roles) u["roles"].append(r);
    v["user"] = u;
  }
  return http::to_json(v);
}

// The ABI's views of a batch; they point into the batch and into this object, so they
// live as long as both. JSON is built only for the kinds in json_kinds.
class batch_views {
 public:
  batch_views(const std::vector<queued_event>& batch, std::uint32_t json_kinds) {
    std::size_t n = batch.size();
    roles_.resize(n);
    users_.resize(n);
    json_.resize(n);
    all_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& q = batch[i];
      auto& ev = all_[i];
      ev.kind = events::bit(q.what);
      ev.name = events::kind_name(q.what).data();  // a string literal: NUL-terminated
      ev.user_id = q.user_id;
      ev.pat = q.pat.c_str();
      ev.time = q.time;
      ev.ip = q.ip.c_str();
      ev.user = nullptr;
      ev.payload_json = nullptr;
      if (q.user) {
        for (auto& r : q.user->roles) roles_[i].push_back(r.c_str());
        users_[i] = cartgate_user_view{q.user->id, q.user->login.c_str(), q.user->email.c_str(),
                                       q.user->display_name.c_str(), roles_[i].data(), roles_[i].size()};
        ev.user = &users_[i];
      }
      if (ev.kind & json_kinds) {
        json_[i] = json_of(q);
        ev.payload_json = json_[i].c_str();
      }
    }
  }
  const std::vector<cartgate_event>& all() const { return all_; }

 private:
  std::vector<std::vector<const char*>> roles_;
  std::vector<cartgate_user_view> users_;
  std::vector<std::string> json_;
  std::vector<cartgate_event> all_;
};

class plugin_rule;

// Events on their way to the plugins of one bus (one worker process). The request that
// fires an event copies it into one queue shared by every plugin (a short lock, no
// wake-up but for the first event of a batch and the batch_wake-th); one thread takes
// the whole queue at most max_delay later and hands each plugin, in load order, the
// events it wants as one batch. Compared with a thread per plugin woken per event
// (ABI 1's design), a request costs a copy and a lock, and a plugin a call per batch.
// One thread for all plugins means a plugin that blocks in its callback delays the
// others; the ABI docs ask for slow work on the plugin's own thread.
class event_hub {
 public:
  static constexpr std::size_t max_queued = 10000;
  static constexpr std::size_t batch_wake = 256;
  static constexpr std::chrono::milliseconds max_delay{50};

  explicit event_hub(events::bus& bus) : bus_(bus) {}
  ~event_hub() {
    link_->store(nullptr);
    halt();
  }

  // The hub of `bus`, made on first use; it lives as long as a plugin holds it.
  static std::shared_ptr<event_hub> of(events::bus& bus);

  void attach(plugin_rule* r, std::uint32_t kinds, bool json);
  // Delivers everything queued (to every plugin, so the order holds), then forgets r.
  void detach(plugin_rule* r);
  void push(const events::event& e);

 private:
  struct subscriber {
    plugin_rule* rule;
    std::uint32_t kinds;
    bool json;
  };

  void run();
  void halt();
  void deliver_locked(const std::vector<queued_event>& batch);  // deliver_mu_ held

  events::bus& bus_;
  std::size_t listener_ = 0;
  bool subscribed_ = false;
  std::atomic<std::uint32_t> kinds_{0};
  std::shared_ptr<std::atomic<event_hub*>> link_ = std::make_shared<std::atomic<event_hub*>>(this);

  // Lock order: deliver_mu_ before mu_. deliver_mu_ makes deliveries one at a time, so a
  // batch taken later is never delivered before one taken earlier.
  std::mutex deliver_mu_;
  std::vector<subscriber> subscribers_;  // guarded by deliver_mu_
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<queued_event> queue_;
  std::uint64_t dropped_ = 0;  // since the last log line
  bool stopping_ = false;
  std::thread thread_;
};

class plugin_rule : public rules::rule {
 public:
  plugin_rule(std::shared_ptr<library> lib, const cartgate_plugin* p, void* state, std::string name)
      : lib_(std::move(lib)), p_(p), state_(state), name_(std::move(name)) {
    // A version 2 table says what it wants; reading struct_size of a version 1 table
    // would read past its end, so abi_version is checked first.
    bool v2 = p_->abi_version >= 2 &&
              p_->struct_size >= offsetof(cartgate_plugin, on_events) + sizeof(p_->on_events);
    if (v2) {
      on_events_ = p_->on_events;
      kinds_ = (on_events_ || p_->on_event) ? (p_->events & CARTGATE_EVENTS_ALL) : 0;
      json_ = !on_events_ || (p_->flags & CARTGATE_PLUGIN_JSON);
    } else {
      kinds_ = p_->on_event ? CARTGATE_EVENTS_ALL : 0;
      json_ = true;
    }
  }
  ~plugin_rule() override { stop(); }

  std::uint32_t kinds() const { return kinds_; }
  bool wants_json() const { return json_; }

  // Events reach the plugin through the bus's hub (event_hub above), in batches.
  void listen(events::bus& bus) {
    if (!kinds_) return;
    hub_ = event_hub::of(bus);
    hub_->attach(this, kinds_, json_);
  }

  // One batch, already filtered to this plugin's kinds.
  void receive(const cartgate_event* evs, std::size_t n) {
    try {
      if (on_events_) {
        on_events_(state_, evs, n);
      } else {
        for (std::size_t i = 0; i < n; ++i) p_->on_event(state_, evs[i].name, evs[i].payload_json);
      }
    } catch (...) {
      log::error("plugin_event_failed", {{"plugin", name_}, {"events", std::to_string(n)}});
    }
  }

  std::string_view name() const override { return name_; }

  void stop() override {
    if (hub_) {
      hub_->detach(this);  // what is queued reaches this plugin before its stop()
      hub_.reset();
    }
    if (p_ && p_->stop && !stopped_) {
      stopped_ = true;
      p_->stop(state_);
    }
  }

  // Synchronous delivery of one event (plugins::deliver, for tests).
  void on_event(const events::event& e) {
    if (!(kinds_ & events::bit(e.what))) return;
    std::vector<queued_event> one;
    one.push_back(copy_of(e));
    batch_views views(one, json_ ? kinds_ : 0);
    receive(views.all().data(), 1);
  }

 private:
  std::uint32_t kinds_ = 0;
  bool json_ = false;
  void (*on_events_)(void*, const cartgate_event*, std::size_t) = nullptr;
  std::shared_ptr<event_hub> hub_;

 public:

  std::optional<failure> check(rules::context& c) override {
    if (!p_->check) return std::nullopt;
    cartgate_permission so_far{1, "", 0};
    std::string so_far_code;
    if (c.permission_so_far && *c.permission_so_far) {
      auto res = to_response(**c.permission_so_far);
      so_far.allowed = 0;
      auto body = http::parse_json(res.body);
      so_far_code = body ? (*body)["code"].asString() : "";
      so_far.code = so_far_code.c_str();
      so_far.status = res.status;
    }
    std::vector<const char*> roles;
    for (auto& r : c.subject.roles) roles.push_back(r.c_str());
    cartgate_user_view user{c.subject.id,           c.subject.login.c_str(),
                            c.subject.email.c_str(), c.subject.display_name.c_str(),
                            roles.data(),            roles.size()};
    request_state st{&c, {}};
    std::string endpoint(c.endpoint);
    cartgate_request_view req{&st,
                              get_header,
                              get_param,
                              c.req.client_ip.c_str(),
                              endpoint.c_str(),
                              c.req.method.c_str(),
                              c.req.path.c_str()};
    cartgate_decision out{};
    int rc = p_->check(state_, &so_far, &user, &req, &out);
    if (rc != CARTGATE_OK) {
      log::error("plugin_check_failed", {{"plugin", name_}, {"rc", std::to_string(rc)}});
      return failure{reason::plugin_failed};
    }
    if (!out.deny) return std::nullopt;
    failure f{reason::plugin_denied};
    out.code[sizeof out.code - 1] = '\0';
    out.message[sizeof out.message - 1] = '\0';
    out.data_json[sizeof out.data_json - 1] = '\0';
    f.plugin = plugin_answer{out.code, out.message, out.status};
    if (out.data_json[0]) {
      auto data = http::parse_json(out.data_json);
      if (data && data->isObject()) {
        for (auto& k : data->getMemberNames()) {
          if (k != "status") f.data[k] = (*data)[k];
        }
      } else {
        log::warn("plugin_bad_data_json", {{"plugin", name_}});
      }
    }
    return f;
  }

 private:
  std::shared_ptr<library> lib_;  // declared first: unloaded after the plugin stopped
  const cartgate_plugin* p_;
  void* state_;
  std::string name_;
  bool stopped_ = false;
};

std::mutex hubs_mu;
std::map<const events::bus*, std::weak_ptr<event_hub>> hubs;  // guarded by hubs_mu

std::shared_ptr<event_hub> event_hub::of(events::bus& bus) {
  std::lock_guard lock(hubs_mu);
  for (auto it = hubs.begin(); it != hubs.end();) {  // forget hubs of buses gone
    it = it->second.expired() ? hubs.erase(it) : std::next(it);
  }
  if (auto h = hubs[&bus].lock()) return h;
  auto h = std::make_shared<event_hub>(bus);
  hubs[&bus] = h;
  return h;
}

void event_hub::attach(plugin_rule* r, std::uint32_t kinds, bool json) {
  std::lock_guard lock(deliver_mu_);
  subscribers_.push_back({r, kinds, json});
  kinds_ |= kinds;
  // Plugins load before the worker serves, on one thread: the bus is not in use yet.
  if (!subscribed_) {
    listener_ = bus_.subscribe(
        [link = link_](const events::event& e) {
          if (auto* h = link->load()) h->push(e);
        },
        kinds);
    subscribed_ = true;
  } else {
    bus_.add_kinds(listener_, kinds);
  }
}

void event_hub::push(const events::event& e) {
  if (!(kinds_.load(std::memory_order_relaxed) & events::bit(e.what))) return;
  queued_event q = copy_of(e);  // outside the lock
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    if (queue_.size() >= max_queued) {
      ++dropped_;
      metrics::add("cartgate_plugin_events_dropped_total");
      return;
    }
    queue_.push_back(std::move(q));
    // Started with the first event, after the worker has forked.
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    wake = queue_.size() == 1 || queue_.size() == batch_wake;
  }
  if (wake) cv_.notify_one();
}

void event_hub::run() {
  std::vector<queued_event> batch;
  while (true) {
    std::uint64_t dropped = 0;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      // The first event is here: let a batch gather, for max_delay at most.
      cv_.wait_for(lock, max_delay, [this] { return stopping_ || queue_.size() >= batch_wake; });
      if (queue_.empty() && stopping_) return;
    }
    {
      std::lock_guard deliver(deliver_mu_);
      {
        std::lock_guard lock(mu_);
        batch.swap(queue_);
        dropped = std::exchange(dropped_, 0);
      }
      if (dropped) log::warn("plugin_events_dropped", {{"count", std::to_string(dropped)}});
      deliver_locked(batch);
    }
    batch.clear();
  }
}

void event_hub::deliver_locked(const std::vector<queued_event>& batch) {
  if (batch.empty() || subscribers_.empty()) return;
  std::uint32_t json_kinds = 0;
  for (auto& s : subscribers_) {
    if (s.json) json_kinds |= s.kinds;
  }
  batch_views views(batch, json_kinds);
  const auto& all = views.all();
  std::vector<cartgate_event> mine;
  for (auto& s : subscribers_) {
    mine.clear();
    for (auto& ev : all) {
      if (ev.kind & s.kinds) mine.push_back(ev);
    }
    if (!mine.empty()) s.rule->receive(mine.data(), mine.size());
  }
}

void event_hub::detach(plugin_rule* r) {
  bool last = false;
  {
    std::lock_guard deliver(deliver_mu_);
    std::vector<queued_event> rest;
    {
      std::lock_guard lock(mu_);
      rest.swap(queue_);
    }
    deliver_locked(rest);
    std::erase_if(subscribers_, [r](const subscriber& s) { return s.rule == r; });
    std::uint32_t kinds = 0;
    for (auto& s : subscribers_) kinds |= s.kinds;
    kinds_ = kinds;
    last = subscribers_.empty();
  }
  if (last) halt();
}

void event_hub::halt() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

std::string start_json(const config& cfg) {
  Json::Value v(Json::objectValue);
  v["site_name"] = cfg.site_name;
  v["admin_email"] = cfg.admin_email;
  v["smtp_url"] = cfg.smtp_url;  // credentials stay with cartgate
  v["mail_from"] = cfg.mail_from;
  v["plugin_dir"] = cfg.plugin_dir;
  const char* data_dir = std::getenv("CARTGATE_PLUGIN_DATA_DIR");
  // Per deployment, writable by the service: beside the socket unless overridden (one
  // checkout may run several stacks from the same plugin directory).
  std::string beside_socket = fs::path(cfg.socket_path).parent_path().string() + "/plugins";
  v["data_dir"] = data_dir && *data_dir ? std::string(data_dir) : beside_socket;
  return http::to_json(v);
}

}  // namespace

std::string event_json(const events::event& e) { return json_of(copy_of(e)); }

void deliver(rules::rule& plugin, const events::event& e) {
  if (auto* p = dynamic_cast<plugin_rule*>(&plugin)) p->on_event(e);
}

std::vector<std::string> plugin_files(const config& cfg) {
  std::vector<std::string> out;
  if (cfg.plugin_dir.empty()) return out;
  if (!cfg.plugins.empty()) {
    for (auto& name : cfg.plugins) {
      out.push_back(name.find('/') == std::string::npos ? cfg.plugin_dir + "/" + name : name);
    }
    return out;
  }
  std::error_code ec;
  fs::directory_iterator it(cfg.plugin_dir, ec);
  if (ec) throw load_error("plugin directory " + cfg.plugin_dir + ": " + ec.message());
  for (auto& entry : it) {
    if (entry.is_regular_file() && entry.path().extension() == ".so") {
      out.push_back(entry.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<rules::rule> load(const std::string& path, const config& cfg, events::bus& bus) {
  auto fail = [&](const std::string& why) { return load_error("plugin " + path + ": " + why); };
  auto lib = std::make_shared<library>();
  // RTLD_LOCAL: two plugins may define the same helper names without clashing.
  lib->handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib->handle) throw fail(dlerror());
  auto entry = reinterpret_cast<cartgate_plugin_entry_fn>(dlsym(lib->handle, CARTGATE_PLUGIN_ENTRY));
  if (!entry) throw fail("no " CARTGATE_PLUGIN_ENTRY "() symbol");
  const cartgate_plugin* p = entry();
  if (!p) throw fail(CARTGATE_PLUGIN_ENTRY "() returned null");
  if (p->abi_version < CARTGATE_PLUGIN_ABI_VERSION_MIN || p->abi_version > CARTGATE_PLUGIN_ABI_VERSION) {
    throw fail("ABI version " + std::to_string(p->abi_version) + ", cartgate expects " +
               std::to_string(CARTGATE_PLUGIN_ABI_VERSION_MIN) + " to " +
               std::to_string(CARTGATE_PLUGIN_ABI_VERSION));
  }
  std::string name = p->name && *p->name ? p->name : fs::path(path).stem().string();
  void* state = nullptr;
  if (p->start) {
    int rc = 0;
    try {
      rc = p->start(start_json(cfg).c_str(), &state);
    } catch (const std::exception& e) {
      throw fail(std::string("start threw: ") + e.what());
    }
    if (rc != CARTGATE_OK) throw fail("start returned " + std::to_string(rc));
  }
  auto rule = std::make_unique<plugin_rule>(std::move(lib), p, state, name);
  rule->listen(bus);
  log::info("plugin_loaded", {{"plugin", name}, {"file", path}});
  return rule;
}

std::vector<std::unique_ptr<rules::rule>> load_all(const config& cfg, events::bus& bus) {
  std::vector<std::unique_ptr<rules::rule>> out;
  for (auto& f : plugin_files(cfg)) out.push_back(load(f, cfg, bus));  // a throw unwinds `out`
  return out;
}

}  // namespace cartgate::plugins
