#include "policy/schedule.h"

// Debian builds libdate-tz against the system tzdata (/usr/share/zoneinfo) with
// string_view and C-locale-only support; date's CMake target passes these defines.
// They change declarations in tz.h, so a translation unit compiled without them would
// not match the library: set them here too for builds that do not use that target.
#ifndef USE_OS_TZDB
#define USE_OS_TZDB 1
#endif
#ifndef HAS_STRING_VIEW
#define HAS_STRING_VIEW 1
#endif
#ifndef ONLY_C_LOCALE
#define ONLY_C_LOCALE 1
#endif
#include <date/tz.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace cartgate::schedule {
namespace {

using std::chrono::days;
using std::chrono::minutes;
using std::chrono::seconds;

// How far ahead next_available looks. Windows repeat weekly, so 8 days covers every
// window at least once even when today's occurrence is just over.
constexpr days kHorizon{8};

std::optional<int> parse_hhmm(std::string_view s) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos || colon < 1 || colon > 2 || s.size() != colon + 3)
    return std::nullopt;
  int parts[2] = {0, 0};
  std::string_view fields[2] = {s.substr(0, colon), s.substr(colon + 1)};
  for (int i = 0; i < 2; ++i)
    for (char c : fields[i]) {
      if (c < '0' || c > '9') return std::nullopt;
      parts[i] = parts[i] * 10 + (c - '0');
    }
  if (parts[0] > 23 || parts[1] > 59) return std::nullopt;
  return parts[0] * 60 + parts[1];
}

const date::time_zone* find_zone(std::string_view name) {
  if (name.empty()) return nullptr;
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return nullptr;  // locate_zone reports an unknown name by throwing
  }
}

bool well_formed(const window& w) {
  return w.day >= 0 && w.day <= 6 && w.from_minute >= 0 && w.from_minute < 1440 &&
         w.to_minute >= 0 && w.to_minute < 1440;
}

struct wall_clock {
  int weekday;  // 0 = Sunday
  int minute;   // of the day
};

wall_clock wall_clock_at(const date::time_zone& zone, date::sys_seconds t) {
  auto local = zone.to_local(t);
  auto day = date::floor<days>(local);
  return {static_cast<int>(date::weekday(day).c_encoding()),
          static_cast<int>(date::floor<minutes>(local - day).count())};
}

bool inside(const window& w, wall_clock c) {
  if (!well_formed(w)) return false;
  if (w.from_minute <= w.to_minute)
    return c.weekday == w.day && c.minute >= w.from_minute && c.minute <= w.to_minute;
  // Overnight: the evening part on w.day, the morning part on the day after.
  return (c.weekday == w.day && c.minute >= w.from_minute) ||
         (c.weekday == (w.day + 1) % 7 && c.minute <= w.to_minute);
}

bool allowed_at(const std::vector<window>& windows, const date::time_zone& zone,
                date::sys_seconds t) {
  auto c = wall_clock_at(zone, t);
  return std::any_of(windows.begin(), windows.end(), [&](const window& w) { return inside(w, c); });
}

std::string two_digits(long v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%02ld", v);
  return buf;
}

std::string format_iso8601(const date::time_zone& zone, date::sys_seconds t) {
  auto offset = zone.get_info(t).offset;
  auto local = date::local_seconds{(t + offset).time_since_epoch()};
  auto day = date::floor<days>(local);
  date::year_month_day ymd{day};
  date::hh_mm_ss<seconds> tod{local - day};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(tod.hours().count()),
                int(tod.minutes().count()), int(tod.seconds().count()));
  long off_min = date::floor<minutes>(offset).count();
  std::string out = buf;
  out += off_min < 0 ? '-' : '+';
  off_min = off_min < 0 ? -off_min : off_min;
  out += two_digits(off_min / 60) + ':' + two_digits(off_min % 60);
  return out;
}

// The instants at which "allowed" can turn from false to true: every occurrence of a
// window's start on the wall clock (a skipped start becomes the end of the gap; a
// repeated one counts twice), plus every UTC-offset change, where the wall clock jumps
// and may land inside a window. The first candidate after now at which the clock is
// inside a window is therefore the next opening.
std::optional<date::sys_seconds> next_opening(const std::vector<window>& windows,
                                              const date::time_zone& zone, date::sys_seconds now) {
  const auto horizon = now + kHorizon;
  std::vector<date::sys_seconds> candidates;

  auto today = date::floor<days>(zone.to_local(now));
  for (int d = -1; d <= kHorizon.count(); ++d) {
    auto day = today + days{d};
    int weekday = static_cast<int>(date::weekday(day).c_encoding());
    for (const auto& w : windows) {
      if (!well_formed(w) || w.day != weekday) continue;
      auto start = day + minutes{w.from_minute};
      auto info = zone.get_info(start);
      auto to_sys = [&](const date::sys_info& i) {
        return date::sys_seconds{(start - i.offset).time_since_epoch()};
      };
      switch (info.result) {
        case date::local_info::unique:
          candidates.push_back(to_sys(info.first));
          break;
        case date::local_info::nonexistent:
          candidates.push_back(info.first.end);  // where the gap ends
          break;
        case date::local_info::ambiguous:
          candidates.push_back(to_sys(info.first));
          candidates.push_back(to_sys(info.second));
          break;
      }
    }
  }
  for (auto info = zone.get_info(now); info.end <= horizon; info = zone.get_info(info.end))
    candidates.push_back(info.end);

  std::sort(candidates.begin(), candidates.end());
  for (auto c : candidates)
    if (c > now && c <= horizon && allowed_at(windows, zone, c)) return c;
  return std::nullopt;
}

}  // namespace

std::optional<window> parse_window(int day, std::string_view from_hhmm, std::string_view to_hhmm,
                                   std::string* error) {
  auto fail = [&](std::string message) -> std::optional<window> {
    if (error) *error = std::move(message);
    return std::nullopt;
  };
  if (day < 0 || day > 6) return fail("day must be 0 (Sunday) to 6 (Saturday)");
  auto from = parse_hhmm(from_hhmm);
  if (!from) return fail("start time must be HH:MM, 00:00 to 23:59");
  auto to = parse_hhmm(to_hhmm);
  if (!to) return fail("end time must be HH:MM, 00:00 to 23:59");
  return window{day, *from, *to};
}

bool valid_timezone(std::string_view iana_name) { return find_zone(iana_name) != nullptr; }

decision evaluate(const std::vector<window>& windows, std::string_view timezone,
                  std::int64_t now_unix) {
  const auto* zone = find_zone(timezone);
  if (!zone) throw std::invalid_argument("unknown time zone: " + std::string(timezone));
  date::sys_seconds now{seconds{now_unix}};

  auto clock = wall_clock_at(*zone, now);
  decision d;
  d.current_time = two_digits(clock.minute / 60) + ':' + two_digits(clock.minute % 60);
  d.allowed = windows.empty() || allowed_at(windows, *zone, now);
  if (!d.allowed) {
    if (auto next = next_opening(windows, *zone, now))
      d.next_available = format_iso8601(*zone, *next);
  }
  return d;
}

}  // namespace cartgate::schedule
