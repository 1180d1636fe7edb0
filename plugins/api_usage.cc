// Example event plugin (seed 000, "Track API usage analytics"): counts the requests each
// user makes with a token (the `authenticated` event) in <data_dir>/api_usage/<user_id>,
// a file holding the decimal count.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json/json.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>
#include <memory>
#include <string>

#include "rules/plugin_api.h"

namespace {

// Counts are gathered in memory and added to the files at most every 500 ms (and at
// stop), so a busy user costs one locked file update per flush, not one per request.
struct state {
  std::string dir;
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, long long> pending;  // user id -> uses not yet written
  bool stopping = false;
  std::thread flusher;
};

// Each example plugin is one self-contained file that a plugin author can copy, seeing
// only rules/plugin_api.h, so small helpers like this one repeat from plugin to plugin.
bool parse(const char* text, Json::Value* out) {
  Json::CharReaderBuilder b;
  std::string errs;
  std::unique_ptr<Json::CharReader> r(b.newCharReader());
  std::string s(text);
  return r->parse(s.data(), s.data() + s.size(), out, &errs);
}

// The read-increment-write runs under flock(2), so the worker processes of one host
// never lose a count.
void add_to_file(const std::string& path, long long n) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return;
  if (::flock(fd, LOCK_EX) == 0) {
    char buf[32] = {0};
    ssize_t got = ::pread(fd, buf, sizeof buf - 1, 0);
    long long count = got > 0 ? std::atoll(buf) : 0;
    std::string next = std::to_string(count + n) + "\n";
    if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, next.data(), next.size(), 0);
    ::flock(fd, LOCK_UN);
  }
  ::close(fd);
}

void flush(state* st) {
  std::map<std::string, long long> batch;
  {
    std::lock_guard lock(st->mu);
    batch.swap(st->pending);
  }
  for (auto& [id, n] : batch) add_to_file(st->dir + "/" + id, n);
}

void flush_loop(state* st) {
  std::unique_lock lock(st->mu);
  while (!st->stopping) {
    st->cv.wait_for(lock, std::chrono::milliseconds(500));
    lock.unlock();
    flush(st);
    lock.lock();
  }
}

int start(const char* config_json, void** out) {
  Json::Value cfg;
  if (!parse(config_json, &cfg) || cfg["data_dir"].asString().empty()) return 1;
  std::string dir = cfg["data_dir"].asString();
  ::mkdir(dir.c_str(), 0750);
  dir += "/api_usage";
  ::mkdir(dir.c_str(), 0750);
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return 2;
  auto* s = new state;
  s->dir = dir;
  *out = s;
  return CARTGATE_OK;
}

void stop(void* p) {
  auto* st = static_cast<state*>(p);
  {
    std::lock_guard lock(st->mu);
    st->stopping = true;
  }
  st->cv.notify_all();
  if (st->flusher.joinable()) st->flusher.join();
  flush(st);
  delete st;
}

// Only `authenticated` is subscribed (ABI version 2), so cartgate never queues the other
// events for this plugin; a batch of them costs one lock.
void on_events(void* p, const cartgate_event* evs, size_t n) {
  auto* st = static_cast<state*>(p);
  std::lock_guard lock(st->mu);
  for (size_t i = 0; i < n; ++i) {
    if (evs[i].kind != CARTGATE_EVENT_AUTHENTICATED || evs[i].user_id <= 0) continue;
    ++st->pending[std::to_string(evs[i].user_id)];
  }
  // Started on first use: start() runs before the worker processes fork.
  if (!st->flusher.joinable()) st->flusher = std::thread(flush_loop, st);
}

const cartgate_plugin plugin = {CARTGATE_PLUGIN_ABI_VERSION, "api_usage", start, stop, nullptr,
                                nullptr, sizeof(cartgate_plugin), CARTGATE_EVENT_AUTHENTICATED, 0,
                                on_events};

}  // namespace

extern "C" CARTGATE_EXPORT const cartgate_plugin* cartgate_plugin_entry(void) { return &plugin; }
