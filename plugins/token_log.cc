// Example event plugin (seed 000, error_log on each token event): appends one JSON line
// per token event to <data_dir>/token_events.log, e.g.
//   {"event":"token_generated","user_id":"7","pat":"pat_…","time":1767225600}
// The payload cartgate hands over never holds a token; this plugin writes only the
// fields above, so neither does the log. Each line is one write(2) on an O_APPEND file,
// so lines from several worker processes never interleave.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json/json.h>

#include <memory>
#include <string>

#include "rules/plugin_api.h"

namespace {

struct state {
  int fd = -1;
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
  *out = new state{fd};
  return CARTGATE_OK;
}

void stop(void* s) {
  auto* st = static_cast<state*>(s);
  if (!st) return;
  ::close(st->fd);
  delete st;
}

void on_event(void* s, const char* name, const char* payload_json) {
  auto* st = static_cast<state*>(s);
  Json::Value in;
  Json::CharReaderBuilder b;
  std::string errs;
  std::unique_ptr<Json::CharReader> r(b.newCharReader());
  std::string text(payload_json);
  if (!r->parse(text.data(), text.data() + text.size(), &in, &errs)) return;
  Json::Value line(Json::objectValue);
  line["event"] = name;
  line["user_id"] = in["user_id"];
  if (in.isMember("pat")) line["pat"] = in["pat"];
  line["time"] = in["time"];
  Json::StreamWriterBuilder w;
  w["indentation"] = "";
  std::string out = Json::writeString(w, line) + "\n";
  (void)!::write(st->fd, out.data(), out.size());
}

const cartgate_plugin plugin = {CARTGATE_PLUGIN_ABI_VERSION, "token_log", start, stop, nullptr,
                                on_event};

}  // namespace

extern "C" CARTGATE_EXPORT const cartgate_plugin* cartgate_plugin_entry(void) { return &plugin; }
