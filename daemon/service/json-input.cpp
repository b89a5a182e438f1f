#include "json-input.h"

#include <unordered_set>
#include <vector>

namespace tenantd {

namespace {
// Thrown from the parser's callback: the only way to stop nlohmann's parse early. They never
// leave parseJsonInput().
struct TooDeep {};
struct DuplicateKey {
  std::string key;
};
}  // namespace

std::string shortName(std::string_view name) {
  constexpr size_t MAX = 64;
  if (name.size() <= MAX) return std::string(name);
  size_t cut = MAX;
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
  return std::string(name.substr(0, cut)) + "...";
}

std::variant<nlohmann::json, JsonInputError> parseJsonInput(std::string_view text, int maxDepth) {
  using Event = nlohmann::json::parse_event_t;
  // The names seen in each object still open: a name given twice refuses the document, where
  // nlohmann alone would keep the last (and a validator in front might have read the first).
  std::vector<std::unordered_set<std::string>> open;
  // `depth` counts the containers already open when this one starts: 0 for the outermost.
  auto check = [&](int depth, Event event, nlohmann::json& parsed) {
    switch (event) {
      case Event::object_start:
        if (depth >= maxDepth) throw TooDeep{};
        open.emplace_back();
        break;
      case Event::array_start:
        if (depth >= maxDepth) throw TooDeep{};
        break;
      case Event::key:
        if (!open.back().insert(parsed.get<std::string>()).second) {
          throw DuplicateKey{parsed.get<std::string>()};
        }
        break;
      case Event::object_end: open.pop_back(); break;
      default: break;
    }
    return true;
  };
  try {
    auto doc = nlohmann::json::parse(text.begin(), text.end(), check, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return JsonInputError{"not valid JSON"};
    return doc;
  } catch (const TooDeep&) {
    return JsonInputError{"nested deeper than " + std::to_string(maxDepth) + " levels"};
  } catch (const DuplicateKey& d) {
    return JsonInputError{"ambiguous: it names \"" + shortName(d.key) + "\" twice in one object"};
  }
}

}  // namespace tenantd
