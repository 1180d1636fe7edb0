#include "infra/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace cartgate::log {
namespace {

std::atomic<int> current{static_cast<int>(level::info)};

const char* name(level l) {
  switch (l) {
    case level::error: return "error";
    case level::warn: return "warn";
    case level::info: return "info";
    case level::debug: return "debug";
  }
  return "info";
}

void append_value(std::string& out, std::string_view v) {
  bool quote = v.empty() || v.find_first_of(" \"=") != std::string_view::npos;
  if (quote) out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n' || c == '\r') c = ' ';
    out += c;
  }
  if (quote) out += '"';
}

}  // namespace

void set_level(level l) { current = static_cast<int>(l); }

bool parse_level(std::string_view text, level* out) {
  for (level l : {level::error, level::warn, level::info, level::debug}) {
    if (text == name(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

void write(level l, std::string_view event, const fields& f) {
  if (static_cast<int>(l) > current.load(std::memory_order_relaxed)) return;
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string line = stamp;
  line += " level=";
  line += name(l);
  line += " pid=" + std::to_string(getpid());
  line += " event=";
  append_value(line, event);
  for (auto& [k, v] : f) {
    line += ' ';
    line += k;
    line += '=';
    append_value(line, v);
  }
  line += '\n';
  // One write per record so lines from several processes do not interleave.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace cartgate::log
