#include "period.h"

#include <cstdio>

namespace tenantd {

using std::chrono::milliseconds;

std::optional<Period> parsePeriod(std::string_view text) {
  if (text == "minute") return Period::MINUTE;
  if (text == "hour") return Period::HOUR;
  if (text == "day") return Period::DAY;
  if (text == "week") return Period::WEEK;
  if (text == "month") return Period::MONTH;
  if (text == "year") return Period::YEAR;
  if (text == "lifetime") return Period::LIFETIME;
  return std::nullopt;
}

std::string_view periodName(Period period) {
  switch (period) {
    case Period::MINUTE: return "minute";
    case Period::HOUR: return "hour";
    case Period::DAY: return "day";
    case Period::WEEK: return "week";
    case Period::MONTH: return "month";
    case Period::YEAR: return "year";
    case Period::LIFETIME: return "lifetime";
  }
  return "?";
}

namespace {
using LocalMs = date::local_time<milliseconds>;

LocalMs toLocal(UnixMillis t, const date::time_zone* zone) {
  date::sys_time<milliseconds> sys{milliseconds{t}};
  if (zone == nullptr) return LocalMs{sys.time_since_epoch()};
  return zone->to_local(sys);
}

UnixMillis toUnix(LocalMs local, const date::time_zone* zone) {
  if (zone == nullptr) return local.time_since_epoch().count();
  return zone->to_sys(local, date::choose::earliest).time_since_epoch().count();
}

// [start, end) in local time for the period containing `local`.
std::pair<LocalMs, LocalMs> localWindow(Period period, LocalMs local) {
  using namespace date;
  using std::chrono::hours;
  using std::chrono::minutes;
  switch (period) {
    case Period::MINUTE: {
      auto s = floor<minutes>(local);
      return {s, s + minutes{1}};
    }
    case Period::HOUR: {
      auto s = floor<hours>(local);
      return {s, s + hours{1}};
    }
    case Period::DAY: {
      auto s = floor<days>(local);
      return {s, s + days{1}};
    }
    case Period::WEEK: {
      auto d = floor<days>(local);
      auto s = d - (weekday{d} - Monday);  // weekday difference is in [0, 6].
      return {s, s + days{7}};
    }
    case Period::MONTH: {
      year_month_day ymd{floor<days>(local)};
      auto first = ymd.year() / ymd.month() / 1;
      return {local_days{first}, local_days{first + months{1}}};
    }
    case Period::YEAR: {
      year_month_day ymd{floor<days>(local)};
      return {local_days{ymd.year() / January / 1},
              local_days{(ymd.year() + years{1}) / January / 1}};
    }
    case Period::LIFETIME: break;
  }
  return {local, local};
}
}  // namespace

Window windowAt(Period period, UnixMillis t, const date::time_zone* zone) {
  if (period == Period::LIFETIME) return LIFETIME_WINDOW;
  date::sys_time<milliseconds> sys{milliseconds{t}};

  if (period == Period::MINUTE || period == Period::HOUR) {
    // Sub-day windows keep the instant's own UTC offset and never cross an offset change, so
    // both passes of a repeated (fall-back) hour are separate windows and every window contains
    // its instants. Offsets of 30 or 45 minutes still give local hour boundaries.
    milliseconds offset{0};
    UnixMillis lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
    if (zone != nullptr) {
      auto info = zone->get_info(sys);
      offset = std::chrono::duration_cast<milliseconds>(info.offset);
      lo = std::chrono::duration_cast<milliseconds>(info.begin.time_since_epoch()).count();
      hi = std::chrono::duration_cast<milliseconds>(info.end.time_since_epoch()).count();
    }
    auto [ls, le] = localWindow(period, LocalMs{sys.time_since_epoch() + offset});
    UnixMillis start = (ls.time_since_epoch() - offset).count();
    UnixMillis end = (le.time_since_epoch() - offset).count();
    return Window{std::max(start, lo), std::min(end, hi)};
  }

  // Day and longer: the instant's local calendar label, with boundaries at the earliest instant
  // carrying the next label (a skipped local midnight resolves to the end of the gap).
  auto [ls, le] = localWindow(period, toLocal(t, zone));
  Window w{toUnix(ls, zone), toUnix(le, zone)};
  // Where the clock falls back across a boundary, instants after the boundary carry the old
  // label again; time only moves forward, so they belong to the next window.
  if (t >= w.end) return windowAt(period, w.end, zone);
  return w;
}

std::optional<Window> parseMonth(std::string_view yyyyMm, const date::time_zone* zone) {
  if (yyyyMm.size() != 7 || yyyyMm[4] != '-') return std::nullopt;
  int digits[6];
  int n = 0;
  for (size_t i : {0, 1, 2, 3, 5, 6}) {
    char c = yyyyMm[i];
    if (c < '0' || c > '9') return std::nullopt;
    digits[n++] = c - '0';
  }
  int y = digits[0] * 1000 + digits[1] * 100 + digits[2] * 10 + digits[3];
  unsigned m = static_cast<unsigned>(digits[4] * 10 + digits[5]);
  if (y < 1970 || m < 1 || m > 12) return std::nullopt;
  // Noon on the 15th (UTC) lies inside the local month in every zone; the engine's own
  // boundaries (DST gaps included) then come from windowAt().
  auto mid = date::sys_days{date::year{y} / date::month{m} / 15} + std::chrono::hours{12};
  return windowAt(Period::MONTH,
                  std::chrono::duration_cast<milliseconds>(mid.time_since_epoch()).count(), zone);
}

namespace {
// Labels come from a window's first instant: after a fall-back across midnight, later instants
// carry the old date on the wall clock but belong to the next day (see windowAt).
date::year_month_day localDate(UnixMillis t, const date::time_zone* zone) {
  return date::year_month_day{date::floor<date::days>(toLocal(t, zone))};
}
}  // namespace

std::string monthLabel(UnixMillis t, const date::time_zone* zone) {
  auto d = localDate(windowAt(Period::MONTH, t, zone).start, zone);
  char out[16];
  std::snprintf(out, sizeof out, "%04d-%02u", static_cast<int>(d.year()),
                static_cast<unsigned>(d.month()));
  return out;
}

std::string dayLabel(UnixMillis t, const date::time_zone* zone) {
  auto d = localDate(windowAt(Period::DAY, t, zone).start, zone);
  char out[16];
  std::snprintf(out, sizeof out, "%04d-%02u-%02u", static_cast<int>(d.year()),
                static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
  return out;
}

}  // namespace tenantd
