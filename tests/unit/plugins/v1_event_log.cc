// A plugin as built for ABI version 1, before batches: its own copy of that version's
// table (which ends at on_event) and no cartgate header, as a binary built then would
// be. It appends "<event name> <payload JSON>" per event to <data_dir>/v1_events.log,
// so tests/unit/plugin_events_test.cc can check that old plugins still get every event.
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include <string>

namespace {

struct v1_plugin {
  uint32_t abi_version;
  const char* name;
  int (*start)(const char* config_json, void** state);
  void (*stop)(void* state);
  void* check;  // no rule
  void (*on_event)(void* state, const char* event_name, const char* payload_json);
};

struct state {
  int fd;
};

// The data_dir value of the start JSON, e.g. {"data_dir":"/tmp/x",…} (test paths hold no
// quotes or escapes).
std::string data_dir(const std::string& json) {
  auto key = json.find("\"data_dir\":\"");
  if (key == std::string::npos) return "";
  auto from = key + 12, to = json.find('"', from);
  return to == std::string::npos ? "" : json.substr(from, to - from);
}

int start(const char* config_json, void** out) {
  std::string dir = data_dir(config_json);
  if (dir.empty()) return 1;
  int fd = ::open((dir + "/v1_events.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return 2;
  *out = new state{fd};
  return 0;
}

void stop(void* s) {
  auto* st = static_cast<state*>(s);
  ::close(st->fd);
  delete st;
}

void on_event(void* s, const char* name, const char* payload_json) {
  std::string line = std::string(name) + " " + payload_json + "\n";
  (void)!::write(static_cast<state*>(s)->fd, line.data(), line.size());
}

const v1_plugin plugin = {1u, "v1_event_log", start, stop, nullptr, on_event};

}  // namespace

extern "C" __attribute__((visibility("default"))) const v1_plugin* cartgate_plugin_entry(void) {
  return &plugin;
}
