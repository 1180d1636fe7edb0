// Example event plugin (seed 000, error_log on each token event): appends one JSON line
// per token event to <data_dir>/token_events.log, e.g.
//   {"event":"token_generated","user_id":"7","pat":"pat_…","time":1767225600}
// The events cartgate hands over never hold a token; this plugin writes only the fields
// above, so neither does the log. Events arrive in batches (ABI version 2, on_events):
// a batch's lines are formatted into one buffer and written with one write(2) on an
// O_APPEND file, so lines from several worker processes never interleave and a busy
// worker costs one system call per batch, not one per event.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json/json.h>

#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>

#include "rules/plugin_api.h"

namespace {

struct state {
  int fd = -1;
  std::string buf;  // used by one delivery at a time: cartgate calls on_events serially
};

int start(const char* config_json, void** out) {
  Json::Value cfg;
  Json::CharReaderBuilder b;
  std::string errs;
  std::unique_ptr<Json::CharReader> r(b.newCharReader());
  std::string text(config_json);
  if (!r->parse(text.data(), text.data() + text.size(), &cfg, &errs)) return 1;
  std::string dir = cfg["data_dir"].asString();
  if (dir.empty()) return 2;
  ::mkdir(dir.c_str(), 0750);
  std::string path = dir + "/token_events.log";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return 3;
  *out = new state{fd, {}};
  return CARTGATE_OK;
}

void stop(void* s) {
  auto* st = static_cast<state*>(s);
  if (!st) return;
  ::close(st->fd);
  delete st;
}

// A JSON string. Event names and session ids are plain ASCII; anything else is escaped
// all the same, so a line is always valid JSON.
void append_string(std::string& out, const char* s) {
  out += '"';
  for (; *s; ++s) {
    unsigned char c = static_cast<unsigned char>(*s);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

// Whole lines only, and a bounded buffer: a huge batch goes out in a few writes.
void write_out(state* st) {
  size_t off = 0;
  while (off < st->buf.size()) {
    ssize_t n = ::write(st->fd, st->buf.data() + off, st->buf.size() - off);
    if (n <= 0) break;  // the disk is full or gone: nothing sensible to do from here
    off += static_cast<size_t>(n);
  }
  st->buf.clear();
}

void on_events(void* s, const cartgate_event* evs, size_t n) {
  auto* st = static_cast<state*>(s);
  for (size_t i = 0; i < n; ++i) {
    const cartgate_event& e = evs[i];
    char num[32];
    st->buf += "{\"event\":";
    append_string(st->buf, e.name);
    snprintf(num, sizeof num, "%" PRId64, e.user_id);
    st->buf += ",\"user_id\":\"";
    st->buf += num;
    st->buf += '"';
    if (*e.pat) {
      st->buf += ",\"pat\":";
      append_string(st->buf, e.pat);
    }
    snprintf(num, sizeof num, "%" PRId64, e.time);
    st->buf += ",\"time\":";
    st->buf += num;
    st->buf += "}\n";
    if (st->buf.size() >= 64 * 1024) write_out(st);
  }
  write_out(st);
}

const cartgate_plugin plugin = {CARTGATE_PLUGIN_ABI_VERSION, "token_log", start, stop, nullptr,
                                nullptr, sizeof(cartgate_plugin), CARTGATE_EVENTS_ALL, 0, on_events};

}  // namespace

extern "C" CARTGATE_EXPORT const cartgate_plugin* cartgate_plugin_entry(void) { return &plugin; }
