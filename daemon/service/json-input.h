#pragma once
// JSON documents that arrive from outside (REST bodies, Admin calls, stored rows) are read here,
// with their nesting bounded while parsing. nlohmann's parser and destructor are iterative, but
// dump(), copy and comparison recurse once per level: a 58,000-deep array inside `cache` crashed
// the loop thread on its first dump. Nothing deeper than the bound ever becomes a json value that
// the daemon keeps.

#include "contract.h"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <variant>

namespace tenantd {

// Levels of objects and arrays a document may nest; the outermost object is level 1. Our own
// documents need 4 (config.rateLimit.routes[..]); tenants' free-form `cache` and `webhooks`
// get the rest.
constexpr int MAX_JSON_DEPTH = contract::MAX_JSON_DEPTH;

struct JsonInputError {
  // Completes "the body is ...": "not valid JSON", "nested deeper than 32 levels",
  // "ambiguous: it names \"a\" twice in one object".
  std::string message;
};

// A name from the sender's document for an error message: at most 64 bytes and "...", cut on a
// UTF-8 boundary (the message is JSON again, which must stay valid UTF-8).
std::string shortName(std::string_view name);

// Parses `text`, refusing it as soon as the parser opens level maxDepth + 1 or meets a name
// already given in the same object.
std::variant<nlohmann::json, JsonInputError> parseJsonInput(std::string_view text,
                                                            int maxDepth = MAX_JSON_DEPTH);

}  // namespace tenantd
