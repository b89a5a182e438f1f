#pragma once
// Calendar-aligned limit periods in a tenant's timezone. A "month" is the calendar month in the
// tenant's zone, not 30 days from the epoch; a "week" is the ISO week (Monday first). Windows are
// half-open [start, end) in UTC milliseconds. Pure computation: the caller supplies the zone.

#include "util/clock.h"

#include <date/tz.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace tenantd {

enum class Period { MINUTE, HOUR, DAY, WEEK, MONTH, YEAR, LIFETIME };

std::optional<Period> parsePeriod(std::string_view text);
std::string_view periodName(Period period);

struct Window {
  UnixMillis start;
  UnixMillis end;  // Exclusive. LIFETIME: [min, max).
  bool contains(UnixMillis t) const { return t >= start && t < end; }
  bool operator==(const Window&) const = default;
};

constexpr Window LIFETIME_WINDOW{std::numeric_limits<int64_t>::min(),
                                 std::numeric_limits<int64_t>::max()};

// The window of `period` that contains `t`, in `zone` (nullptr: UTC). Local boundaries that a DST
// change skips resolve to the first instant after the gap; repeated local hours belong to the
// window whose local label they carry, so a local day can last 23 or 25 hours.
Window windowAt(Period period, UnixMillis t, const date::time_zone* zone);

// Usage reports use the tenant's calendar too, so a report and the limits engine agree on what
// "November" and "November 1st" mean. A month is named "YYYY-MM" and a day "YYYY-MM-DD", in the
// tenant's zone.
// The window of the local month `yyyyMm` names; nullopt unless the whole text is a month from
// 1970-01 to 9999-12 (each digit checked: "2026-1x" is not January).
std::optional<Window> parseMonth(std::string_view yyyyMm, const date::time_zone* zone);
// "YYYY-MM" and "YYYY-MM-DD" of the local month and day windows holding `t`.
std::string monthLabel(UnixMillis t, const date::time_zone* zone);
std::string dayLabel(UnixMillis t, const date::time_zone* zone);

}  // namespace tenantd
