#include "if-match.h"

namespace tenantd {

namespace {
bool isOws(char c) {
  return c == ' ' || c == '\t';
}
// etagc = %x21 / %x23-7E / obs-text: visible characters but the double quote, and octets ≥ 0x80.
bool isEtagChar(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c != 0x7f);
}
std::string_view trimOws(std::string_view s) {
  while (!s.empty() && isOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && isOws(s.back())) s.remove_suffix(1);
  return s;
}
}  // namespace

std::optional<IfMatch> parseIfMatch(std::string_view header) {
  IfMatch result;
  std::string_view rest = trimOws(header);
  if (rest == "*") {
    result.any = true;
    return result;
  }
  bool sawTag = false;
  while (true) {
    rest = trimOws(rest);
    // #rule lists may hold empty elements ("a, , b"); at least one tag must be there.
    if (!rest.empty() && rest.front() == ',') {
      rest.remove_prefix(1);
      continue;
    }
    if (rest.empty()) break;
    bool weak = rest.substr(0, 2) == "W/";
    if (weak) rest.remove_prefix(2);
    if (rest.empty() || rest.front() != '"') return std::nullopt;
    size_t close = 1;
    while (close < rest.size() && isEtagChar(static_cast<unsigned char>(rest[close]))) ++close;
    if (close == rest.size() || rest[close] != '"') return std::nullopt;
    if (!weak) result.strongTags.emplace_back(rest.substr(1, close - 1));
    sawTag = true;
    rest = trimOws(rest.substr(close + 1));
    if (!rest.empty() && rest.front() != ',') return std::nullopt;
  }
  if (!sawTag) return std::nullopt;
  return result;
}

}  // namespace tenantd
