#include "iso8601.h"

#include <date/date.h>

#include <sstream>
#include <string>

namespace tenantd {

namespace {
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// The shape the API documents, checked before date::parse ranges the fields: the library reads
// the seconds as a long double and casts it to milliseconds unchecked, so "23:5599:.9" or a
// NaN spelled in the seconds was undefined behaviour inside it (found by the documents and
// rest-requests fuzzers).
bool hasDocumentedShape(std::string_view t) {
  constexpr std::string_view SHAPE = "DDDD-DD-DDTDD:DD:DD";
  if (t.size() < SHAPE.size() + 1) return false;
  for (size_t i = 0; i < SHAPE.size(); ++i) {
    if (SHAPE[i] == 'D' ? !isDigit(t[i]) : t[i] != SHAPE[i]) return false;
  }
  size_t i = SHAPE.size();
  if (t[i] == '.') {
    size_t first = ++i;
    while (i < t.size() && isDigit(t[i])) ++i;
    if (i == first || i - first > 3) return false;  // Milliseconds: date::parse reads 3.
  }
  std::string_view zone = t.substr(i);
  if (zone == "Z") return true;
  return zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && isDigit(zone[1]) &&
         isDigit(zone[2]) && zone[3] == ':' && isDigit(zone[4]) && isDigit(zone[5]);
}
}  // namespace

std::optional<UnixMillis> parseIso8601(std::string_view text) {
  if (!hasDocumentedShape(text)) return std::nullopt;
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
