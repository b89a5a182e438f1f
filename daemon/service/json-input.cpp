#include "json-input.h"

namespace tenantd {

namespace {
// Thrown from the parser's callback: the only way to stop nlohmann's parse early. It never
// leaves parseJsonInput().
struct TooDeep {};
}  // namespace

std::variant<nlohmann::json, JsonInputError> parseJsonInput(std::string_view text, int maxDepth) {
  using Event = nlohmann::json::parse_event_t;
  // `depth` counts the containers already open when this one starts: 0 for the outermost.
  auto bound = [maxDepth](int depth, Event event, nlohmann::json&) {
    if ((event == Event::object_start || event == Event::array_start) && depth >= maxDepth) {
      throw TooDeep{};
    }
    return true;
  };
  try {
    auto doc = nlohmann::json::parse(text.begin(), text.end(), bound, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return JsonInputError{"not valid JSON"};
    return doc;
  } catch (const TooDeep&) {
    return JsonInputError{"nested deeper than " + std::to_string(maxDepth) + " levels"};
  }
}

}  // namespace tenantd
