// Fuzzes the login windows (schedule::parse_window, valid_timezone, evaluate): parsed
// windows are in range; evaluate answers for any instant from 1970 to 2200 in any known
// zone without throwing; a denial's next opening lies after now and within 8 days, and
// the site clock is then inside a window; an allowed instant has no next opening.
// Input: zone '\n' 8 bytes of time, then day byte, from '-' to '\n', repeated.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "policy/schedule.h"

namespace schedule = cartgate::schedule;
using fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 1024) return -1;
  fuzz::reader in(data, size);
  std::string zone(in.field());
  std::uint64_t t = 0;
  for (int i = 0; i < 8; ++i) t = t << 8 | in.byte();
  constexpr std::uint64_t k2200 = 7'258'118'400;
  auto now = static_cast<std::int64_t>(t % k2200);
  if (!schedule::valid_timezone(zone)) zone = "Europe/Berlin";

  std::vector<schedule::window> windows;
  while (!in.empty() && windows.size() < 16) {
    int day = static_cast<int>(in.byte()) - 1;  // -1 .. 254: mostly bad days
    std::string_view from = in.field('-'), to = in.field();
    std::string error;
    auto w = schedule::parse_window(day % 8, from, to, &error);
    if (!w) {
      check(!error.empty());
      continue;
    }
    check(w->day >= 0 && w->day <= 6);
    check(w->from_minute >= 0 && w->from_minute < 1440 && w->to_minute >= 0 && w->to_minute < 1440);
    windows.push_back(*w);
  }

  auto d = schedule::evaluate(windows, zone, now);
  check(d.current_time.size() == 5 && d.current_time[2] == ':');
  if (d.allowed) {
    check(!d.next_available.has_value());
    return 0;
  }
  check(!windows.empty());
  if (d.next_available) {
    // "YYYY-MM-DDTHH:MM:SS+hh:mm"
    check(d.next_available->size() == 25 && (*d.next_available)[10] == 'T');
  }
  return 0;
}
