#include "iso8601.h"

#include <date/date.h>

#include <sstream>
#include <string>

namespace tenantd {

std::optional<UnixMillis> parseIso8601(std::string_view text) {
  if (text.size() > 64) return std::nullopt;
  for (const char* format : {"%FT%TZ", "%FT%T%Ez"}) {
    std::istringstream in{std::string(text)};
    date::sys_time<std::chrono::milliseconds> tp;
    in >> date::parse(format, tp);
    if (!in.fail() && in.peek() == std::char_traits<char>::eof()) {
      return tp.time_since_epoch().count();
    }
  }
  return std::nullopt;
}

}  // namespace tenantd
