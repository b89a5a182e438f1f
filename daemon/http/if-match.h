#pragma once
// The If-Match request header (RFC 9110 §13.1.1): "*" or a list of entity tags.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tenantd {

struct IfMatch {
  // "*": any current representation matches, so there is no precondition to hold.
  bool any = false;
  // The opaque parts of the strong tags ("3" for `"3"`). Weak tags (W/"3") are dropped: If-Match
  // compares strongly, so they can never match.
  std::vector<std::string> strongTags;
};

// nullopt when the header is not `*` nor a comma-separated list of entity tags; such a header is
// a bad request, while a well-formed tag that names nothing current is a failed precondition.
std::optional<IfMatch> parseIfMatch(std::string_view header);

}  // namespace tenantd
