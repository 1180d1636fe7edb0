// Example event plugin (seed 000, "Track API usage analytics"): counts the requests each
// user makes with a token (the `authenticated` event) in <data_dir>/api_usage/<user_id>,
// a file holding the decimal count. The read-increment-write runs under flock(2), so the
// worker processes of one host never lose a count.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json/json.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "plugin_api.h"

namespace {

struct state {
  std::string dir;
};

bool parse(const char* text, Json::Value* out) {
  Json::CharReaderBuilder b;
  std::string errs;
  std::unique_ptr<Json::CharReader> r(b.newCharReader());
  std::string s(text);
  return r->parse(s.data(), s.data() + s.size(), out, &errs);
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
  *out = new state{dir};
  return CARTGATE_OK;
}

void stop(void* s) { delete static_cast<state*>(s); }

void on_event(void* s, const char* name, const char* payload_json) {
  if (std::string(name) != "authenticated") return;
  Json::Value in;
  if (!parse(payload_json, &in)) return;
  std::string id = in["user_id"].asString();
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) return;
  std::string path = static_cast<state*>(s)->dir + "/" + id;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return;
  if (::flock(fd, LOCK_EX) == 0) {
    char buf[32] = {0};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    long long count = n > 0 ? std::atoll(buf) : 0;
    std::string next = std::to_string(count + 1) + "\n";
    if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, next.data(), next.size(), 0);
    ::flock(fd, LOCK_UN);
  }
  ::close(fd);
}

const cartgate_plugin plugin = {CARTGATE_PLUGIN_ABI_VERSION, "api_usage", start, stop, nullptr,
                                on_event};

}  // namespace

extern "C" CARTGATE_EXPORT const cartgate_plugin* cartgate_plugin_entry(void) { return &plugin; }
