// One-line structured log records on stderr ("level=info event=login_failed reason=…").
// Records name reasons and ids, never tokens, codes, passwords or request bodies.
//
//   log::info("worker_started", {{"pid", std::to_string(getpid())}});
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cartgate::log {

enum class level { error = 0, warn = 1, info = 2, debug = 3 };

using fields = std::vector<std::pair<std::string, std::string>>;

void set_level(level l);
bool parse_level(std::string_view text, level* out);
void write(level l, std::string_view event, const fields& f = {});
inline void error(std::string_view e, const fields& f = {}) { write(level::error, e, f); }
inline void warn(std::string_view e, const fields& f = {}) { write(level::warn, e, f); }
inline void info(std::string_view e, const fields& f = {}) { write(level::info, e, f); }
inline void debug(std::string_view e, const fields& f = {}) { write(level::debug, e, f); }

}  // namespace cartgate::log
