#include "policy/schedule.h"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>

namespace cartgate::schedule {
namespace {

// A fixed instant given in UTC; the comment on each case says what the site clock shows.
std::int64_t utc(int y, unsigned mo, unsigned d, int h, int mi, int s = 0) {
  using namespace std::chrono;
  sys_seconds t = sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
  return t.time_since_epoch().count();
}

constexpr int kSun = 0, kMon = 1, kWed = 3, kFri = 5, kSat = 6;

window w(int day, const char* from, const char* to) {
  std::string error;
  auto parsed = parse_window(day, from, to, &error);
  EXPECT_TRUE(parsed) << error;
  return parsed.value_or(window{-1, 0, 0});
}

struct row {
  const char* name;
  std::vector<window> windows;
  const char* tz;
  std::int64_t now;
  bool allowed;
  const char* current_time;
  std::optional<std::string> next_available;
};

void check(const std::vector<row>& rows) {
  for (const auto& r : rows) {
    auto d = evaluate(r.windows, r.tz, r.now);
    EXPECT_EQ(d.allowed, r.allowed) << r.name;
    EXPECT_EQ(d.current_time, r.current_time) << r.name;
    EXPECT_EQ(d.next_available, r.next_available) << r.name;
  }
}

TEST(Schedule, NoWindowsMeansUnrestricted) {
  auto d = evaluate({}, "Europe/Berlin", utc(2026, 3, 4, 2, 0));  // Wed 03:00 CET
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.current_time, "03:00");
  EXPECT_FALSE(d.next_available);
}

TEST(Schedule, DayWindowIncludesBothEndsToTheMinute) {
  const std::vector<window> mon_9_17 = {w(kMon, "09:00", "17:00")};
  // 2026-03-02 is a Monday.
  check({
      {"before start", mon_9_17, "UTC", utc(2026, 3, 2, 8, 59, 59), false, "08:59",
       "2026-03-02T09:00:00+00:00"},
      {"at start", mon_9_17, "UTC", utc(2026, 3, 2, 9, 0), true, "09:00", std::nullopt},
      {"inside", mon_9_17, "UTC", utc(2026, 3, 2, 12, 34), true, "12:34", std::nullopt},
      {"last second of end minute", mon_9_17, "UTC", utc(2026, 3, 2, 17, 0, 59), true, "17:00",
       std::nullopt},
      {"after end: next week", mon_9_17, "UTC", utc(2026, 3, 2, 17, 1), false, "17:01",
       "2026-03-09T09:00:00+00:00"},
      {"other weekday", mon_9_17, "UTC", utc(2026, 3, 3, 12, 0), false, "12:00",
       "2026-03-09T09:00:00+00:00"},
  });
}

TEST(Schedule, NextAvailableIsTheEarliestWindowAcrossDays) {
  const std::vector<window> windows = {w(kMon, "09:00", "17:00"), w(kWed, "10:00", "11:00"),
                                       w(kWed, "07:30", "08:00")};
  check({
      {"Monday evening: Wednesday's earlier window", windows, "UTC", utc(2026, 3, 2, 18, 0), false,
       "18:00", "2026-03-04T07:30:00+00:00"},
      {"between Wednesday's windows", windows, "UTC", utc(2026, 3, 4, 9, 0), false, "09:00",
       "2026-03-04T10:00:00+00:00"},
      {"after the last window of the week", windows, "UTC", utc(2026, 3, 4, 12, 0), false, "12:00",
       "2026-03-09T09:00:00+00:00"},
  });
}

TEST(Schedule, OvernightWindowRunsIntoTheNextDay) {
  const std::vector<window> fri_night = {w(kFri, "22:00", "02:00")};
  const std::vector<window> sat_night = {w(kSat, "23:00", "01:00")};
  // 2026-03-06 is a Friday.
  check({
      {"Friday before start", fri_night, "UTC", utc(2026, 3, 6, 21, 59), false, "21:59",
       "2026-03-06T22:00:00+00:00"},
      {"Friday 23:30", fri_night, "UTC", utc(2026, 3, 6, 23, 30), true, "23:30", std::nullopt},
      {"Saturday 00:00", fri_night, "UTC", utc(2026, 3, 7, 0, 0), true, "00:00", std::nullopt},
      {"Saturday 02:00 (end included)", fri_night, "UTC", utc(2026, 3, 7, 2, 0), true, "02:00",
       std::nullopt},
      {"Saturday 02:01", fri_night, "UTC", utc(2026, 3, 7, 2, 1), false, "02:01",
       "2026-03-13T22:00:00+00:00"},
      {"Friday 01:00 is not the tail of Thursday", fri_night, "UTC", utc(2026, 3, 6, 1, 0), false,
       "01:00", "2026-03-06T22:00:00+00:00"},
      {"Saturday night wraps to Sunday", sat_night, "UTC", utc(2026, 3, 8, 0, 30), true, "00:30",
       std::nullopt},
      {"Sunday after the tail", sat_night, "UTC", utc(2026, 3, 8, 1, 1), false, "01:01",
       "2026-03-14T23:00:00+00:00"},
  });
}

TEST(Schedule, NewYorkSpringForward) {
  // 2026-03-08 (Sunday) 02:00 EST becomes 03:00 EDT: 02:00-02:59 never shows.
  const std::vector<window> sun_9 = {w(kSun, "09:00", "17:00")};
  const std::vector<window> sun_0230 = {w(kSun, "02:30", "04:00")};
  const std::vector<window> sun_gap_only = {w(kSun, "02:00", "02:30")};
  const char* ny = "America/New_York";
  check({
      {"Saturday noon EST: next opening has the new offset", sun_9, ny, utc(2026, 3, 7, 17, 0),
       false, "12:00", "2026-03-08T09:00:00-04:00"},
      {"09:00 EDT is inside", sun_9, ny, utc(2026, 3, 8, 13, 0), true, "09:00", std::nullopt},
      {"08:59 EDT is outside", sun_9, ny, utc(2026, 3, 8, 12, 59), false, "08:59",
       "2026-03-08T09:00:00-04:00"},
      {"start in the gap opens when the gap ends", sun_0230, ny, utc(2026, 3, 8, 6, 30), false,
       "01:30", "2026-03-08T03:00:00-04:00"},
      {"first instant after the gap is inside", sun_0230, ny, utc(2026, 3, 8, 7, 0), true, "03:00",
       std::nullopt},
      {"last EST minute is outside", sun_0230, ny, utc(2026, 3, 8, 6, 59), false, "01:59",
       "2026-03-08T03:00:00-04:00"},
      {"window wholly in the gap waits a week", sun_gap_only, ny, utc(2026, 3, 8, 6, 30), false,
       "01:30", "2026-03-15T02:00:00-04:00"},
  });
}

TEST(Schedule, NewYorkFallBack) {
  // 2026-11-01 (Sunday) 02:00 EDT becomes 01:00 EST: 01:00-01:59 shows twice.
  const std::vector<window> sun_0115 = {w(kSun, "01:15", "01:30")};
  const std::vector<window> sun_9 = {w(kSun, "09:00", "17:00")};
  const char* ny = "America/New_York";
  check({
      {"ambiguous start resolves to the earliest", sun_0115, ny, utc(2026, 11, 1, 4, 30), false,
       "00:30", "2026-11-01T01:15:00-04:00"},
      {"first 01:20 (EDT) is inside", sun_0115, ny, utc(2026, 11, 1, 5, 20), true, "01:20",
       std::nullopt},
      {"after the first pass, the clock shows 01:15 again in EST", sun_0115, ny,
       utc(2026, 11, 1, 5, 45), false, "01:45", "2026-11-01T01:15:00-05:00"},
      {"second 01:20 (EST) is inside", sun_0115, ny, utc(2026, 11, 1, 6, 20), true, "01:20",
       std::nullopt},
      {"after both passes: next week", sun_0115, ny, utc(2026, 11, 1, 6, 31), false, "01:31",
       "2026-11-08T01:15:00-05:00"},
      {"Saturday EDT: next opening has the winter offset", sun_9, ny, utc(2026, 10, 31, 16, 0),
       false, "12:00", "2026-11-01T09:00:00-05:00"},
  });
}

TEST(Schedule, BerlinDstChanges) {
  // 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET.
  const std::vector<window> mon_8_12 = {w(kMon, "08:00", "12:00")};
  const std::vector<window> sun_0230 = {w(kSun, "02:30", "02:45")};
  const char* berlin = "Europe/Berlin";
  check({
      {"current time after spring forward", mon_8_12, berlin, utc(2026, 3, 29, 1, 30), false,
       "03:30", "2026-03-30T08:00:00+02:00"},
      {"Friday before: next Monday in summer time", mon_8_12, berlin, utc(2026, 3, 27, 12, 0),
       false, "13:00", "2026-03-30T08:00:00+02:00"},
      {"Monday 08:00 CEST inside", mon_8_12, berlin, utc(2026, 3, 30, 6, 0), true, "08:00",
       std::nullopt},
      {"Sunday in October: next Monday in winter time", mon_8_12, berlin, utc(2026, 10, 24, 22, 0),
       false, "00:00", "2026-10-26T08:00:00+01:00"},
      // The clock shows 03:00 after the gap, which is past 02:45: no opening that day.
      {"spring: window wholly in the gap waits a week", sun_0230, berlin, utc(2026, 3, 29, 0, 30),
       false, "01:30", "2026-04-05T02:30:00+02:00"},
      {"autumn: first 02:30 (CEST)", sun_0230, berlin, utc(2026, 10, 25, 0, 30), true, "02:30",
       std::nullopt},
      {"autumn: between the passes", sun_0230, berlin, utc(2026, 10, 25, 0, 50), false, "02:50",
       "2026-10-25T02:30:00+01:00"},
  });
}

TEST(Schedule, OffsetsWithMinutesAndFarFuture) {
  const std::vector<window> mon_9 = {w(kMon, "09:00", "10:00")};
  check({
      // Asia/Kathmandu is UTC+05:45.
      {"quarter-hour offset", mon_9, "Asia/Kathmandu", utc(2026, 3, 2, 0, 0), false, "05:45",
       "2026-03-02T09:00:00+05:45"},
      // Clock values past 2038 (32-bit time_t) and past 2106 (uint32) must not wrap.
      // UTC only: DST after 2037 is a known limit of the OS tz files (see schedule.h).
      {"after 2038", mon_9, "UTC", utc(2040, 7, 2, 8, 0), false, "08:00",
       "2040-07-02T09:00:00+00:00"},
      {"after 2106", mon_9, "UTC", utc(2107, 1, 3, 9, 30), true, "09:30", std::nullopt},
  });
}

TEST(Schedule, MalformedWindowsNeverMatch) {
  auto d = evaluate({window{7, 0, 1439}, window{1, -1, 100}, window{1, 0, 1440}}, "UTC",
                    utc(2026, 3, 2, 12, 0));
  EXPECT_FALSE(d.allowed);
  EXPECT_FALSE(d.next_available);
}

TEST(Schedule, ValidTimezones) {
  for (const char* tz : {"UTC", "America/New_York", "Europe/Berlin", "Asia/Kathmandu",
                         "America/Argentina/Buenos_Aires"})
    EXPECT_TRUE(valid_timezone(tz)) << tz;
}

TEST(Schedule, InvalidTimezoneIsRejected) {
  for (const char* tz : {"", "Mars/Olympus_Mons", "america/new_york", "../../etc/passwd",
                         "/usr/share/zoneinfo/UTC", "Europe/Berlin "}) {
    EXPECT_FALSE(valid_timezone(tz)) << tz;
    EXPECT_THROW(evaluate({w(kMon, "09:00", "17:00")}, tz, 0), std::invalid_argument) << tz;
  }
}

TEST(ParseWindow, AcceptsAndRejects) {
  struct parse_row {
    int day;
    const char* from;
    const char* to;
    std::optional<window> expected;
  };
  auto same = [](const std::optional<window>& a, const std::optional<window>& b) {
    if (!a || !b) return !a && !b;
    return a->day == b->day && a->from_minute == b->from_minute && a->to_minute == b->to_minute;
  };
  const parse_row rows[] = {
      {0, "00:00", "23:59", window{0, 0, 1439}},
      {6, "9:05", "17:30", window{6, 545, 1050}},
      {3, "22:00", "02:00", window{3, 1320, 120}},  // overnight
      {1, "12:00", "12:00", window{1, 720, 720}},   // a single minute
      {7, "09:00", "10:00", std::nullopt},
      {-1, "09:00", "10:00", std::nullopt},
      {1, "24:00", "10:00", std::nullopt},
      {1, "09:60", "10:00", std::nullopt},
      {1, "0900", "10:00", std::nullopt},
      {1, "09:0", "10:00", std::nullopt},
      {1, "09:00:00", "10:00", std::nullopt},
      {1, "", "10:00", std::nullopt},
      {1, "09:00", "", std::nullopt},
      {1, " 9:00", "10:00", std::nullopt},
      {1, "123:00", "10:00", std::nullopt},
      {1, "-1:00", "10:00", std::nullopt},
      {1, "9am", "10:00", std::nullopt},
  };
  for (const auto& r : rows) {
    std::string error;
    auto got = parse_window(r.day, r.from, r.to, &error);
    EXPECT_TRUE(same(got, r.expected)) << r.day << " " << r.from << "-" << r.to;
    EXPECT_EQ(error.empty(), r.expected.has_value()) << r.from;
  }
}

}  // namespace
}  // namespace cartgate::schedule
