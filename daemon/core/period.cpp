#include "period.h"

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

}  // namespace tenantd
