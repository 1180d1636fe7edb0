// Weekly login windows for the time-based rule: a user may log in only while the
// site's wall clock (site.timezone) is inside one of their windows. No windows means
// no restriction. The clock is a parameter, so tests and callers pass `now`.
//
//   auto w = cartgate::schedule::parse_window(1, "09:00", "17:00", &err);  // Monday
//   auto d = cartgate::schedule::evaluate({*w}, "America/New_York", now_unix);
//   if (!d.allowed) { /* 403 with d.current_time, d.next_available */ }
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartgate::schedule {

// Wall-clock minutes on a weekday of the site's time zone, both ends included to the
// minute (the seed compares "H:i" strings with >= and <=, so 09:00-17:00 admits
// 17:00:59). to_minute < from_minute runs past midnight: day d from `from` to 23:59
// and day d+1 from 00:00 to `to`.
struct window {
  int day;          // 0 = Sunday .. 6 = Saturday (PHP's date('w'))
  int from_minute;  // 0..1439
  int to_minute;    // 0..1439
};

// Times as "HH:MM" or "H:MM", 00:00..23:59. Returns nullopt and sets *error (if given)
// on a bad day or time.
std::optional<window> parse_window(int day, std::string_view from_hhmm, std::string_view to_hhmm,
                                   std::string* error);

// An IANA zone name known to the system tzdata ("Europe/Berlin", "UTC").
bool valid_timezone(std::string_view iana_name);

struct decision {
  bool allowed;
  std::string current_time;  // "HH:MM", site time
  // When denied: the first instant after now at which the site clock is inside a
  // window, as ISO 8601 with the offset in force then, e.g.
  // "2026-03-08T09:00:00-04:00"; nullopt when allowed or when nothing opens within
  // 8 days.
  std::optional<std::string> next_available;
};

// Decides for the instant now_unix (seconds since the epoch). Throws
// std::invalid_argument for an unknown time zone (options validation rejects those
// first, with valid_timezone). Windows with out-of-range fields never match.
//
// DST: the wall clock decides, as it does for a person reading it. A start time
// skipped by a spring-forward gap opens at the first instant after the gap; a start
// time that happens twice at fall-back opens at the first occurrence (and, if that
// has passed, at the second, since the clock shows the time again). A window lying
// wholly inside a gap never shows on the clock, so it does not open that day.
//
// Known limit: Debian's libdate-tz reads the compiled zoneinfo files and ignores their
// POSIX-rule footer, so offsets after the last listed transition (2037 in bookworm's
// "fat" files) stay at that transition's offset: DST is not applied after 2037. If
// tzdata is ever built "slim", that limit moves back to 2007 and the DST tests fail.
decision evaluate(const std::vector<window>& windows, std::string_view timezone,
                  std::int64_t now_unix);

}  // namespace cartgate::schedule
