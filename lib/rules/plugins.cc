#include "rules/plugins.h"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <memory>

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

class plugin_rule : public rules::rule {
 public:
  plugin_rule(std::shared_ptr<library> lib, const cartgate_plugin* p, void* state, std::string name)
      : lib_(std::move(lib)), p_(p), state_(state), name_(std::move(name)) {}
  ~plugin_rule() override {
    link_->store(nullptr);  // the bus may outlive this rule (a later plugin failed to load)
    stop();
  }

  // Events reach the plugin on a thread of its own, in order: the request that fired
  // them only serialises the payload and queues it, so a plugin that writes files or
  // sends mail never slows token validation. The thread starts with the first event
  // (after the worker has forked) and drains the queue at stop.
  void queue_event(const events::event& e) {
    if (!p_->on_event || stopped_) return;
    std::string name(events::kind_name(e.what));
    std::string json = event_json(e);
    {
      std::lock_guard lock(queue_mu_);
      if (queue_.size() >= 10000) {
        metrics::add("cartgate_plugin_events_dropped_total");
        return;
      }
      bool was_empty = queue_.empty();
      queue_.emplace_back(std::move(name), std::move(json));
      if (!dispatcher_.joinable()) dispatcher_ = std::thread([this] { dispatch(); });
      // The dispatcher drains everything queued before it sleeps again, so only the
      // event that finds the queue empty needs to wake it.
      if (!was_empty) return;
    }
    queue_cv_.notify_one();
  }
  std::shared_ptr<std::atomic<plugin_rule*>> link() { return link_; }

  std::string_view name() const override { return name_; }

  void stop() override {
    {
      std::lock_guard lock(queue_mu_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    if (dispatcher_.joinable()) dispatcher_.join();
    if (p_ && p_->stop && !stopped_) {
      stopped_ = true;
      p_->stop(state_);
    }
  }

  void on_event(const events::event& e) {
    if (!p_->on_event) return;
    auto json = event_json(e);
    p_->on_event(state_, std::string(events::kind_name(e.what)).c_str(), json.c_str());
  }

 private:
  void dispatch() {
    std::unique_lock lock(queue_mu_);
    while (true) {
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      auto [name, json] = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      try {
        p_->on_event(state_, name.c_str(), json.c_str());
      } catch (...) {
        log::error("plugin_event_failed", {{"plugin", name_}, {"event", name}});
      }
      lock.lock();
    }
  }

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::pair<std::string, std::string>> queue_;
  bool stopping_ = false;
  std::thread dispatcher_;

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
  std::shared_ptr<std::atomic<plugin_rule*>> link_ =
      std::make_shared<std::atomic<plugin_rule*>>(this);
};

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

std::string event_json(const events::event& e) {
  // The external stream's fields (never e.token or e.decoded), plus what a plugin in this
  // process may see: the client's address and the user.
  Json::Value v = events::external_payload(e);
  if (!e.client_ip.empty()) v["ip"] = e.client_ip;
  if (e.subject) {
    Json::Value u(Json::objectValue);
    u["id"] = Json::Value(static_cast<Json::Int64>(e.subject->id));
    u["login"] = e.subject->login;
    u["email"] = e.subject->email;
    u["display_name"] = e.subject->display_name;
    u["roles"] = Json::Value(Json::arrayValue);
    for (auto& r : e.subject->roles) u["roles"].append(r);
    v["user"] = u;
  }
  return http::to_json(v);
}

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
  if (p->abi_version != CARTGATE_PLUGIN_ABI_VERSION) {
    throw fail("ABI version " + std::to_string(p->abi_version) + ", cartgate expects " +
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
  if (p->on_event) {
    bus.subscribe([link = rule->link()](const events::event& e) {
      if (auto* r = link->load()) r->queue_event(e);
    });
  }
  log::info("plugin_loaded", {{"plugin", name}, {"file", path}});
  return rule;
}

std::vector<std::unique_ptr<rules::rule>> load_all(const config& cfg, events::bus& bus) {
  std::vector<std::unique_ptr<rules::rule>> out;
  for (auto& f : plugin_files(cfg)) out.push_back(load(f, cfg, bus));  // a throw unwinds `out`
  return out;
}

}  // namespace cartgate::plugins
