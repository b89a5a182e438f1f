#pragma once
// ISO-8601 instants as the API accepts them: "2024-01-01T10:00:00Z", with optional fractional
// seconds (1 to 3 digits) and a numeric offset ("...T10:00:00.250+02:00").

#include "clock.h"

#include <optional>
#include <string_view>

namespace tenantd {

std::optional<UnixMillis> parseIso8601(std::string_view text);

}  // namespace tenantd
