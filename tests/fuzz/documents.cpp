// Fuzzes the pure parsers and decoders behind the REST and RPC surfaces, one chosen by the
// input's first byte: the tenant documents (config, rules, a role) through the very functions
// the services call, and the small decoders (ISO-8601, periods, months, percent-encoding,
// If-Match, listen addresses). Beyond the sanitizers it checks that what a document parser
// accepts, it accepts again in its canonical form, unchanged.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/period.h"
#include "http/if-match.h"
#include "http/router.h"
#include "service/documents.h"
#include "util/iso8601.h"
#include "util/listen-address.h"

namespace {

using namespace tenantd;

#define FUZZ_ASSERT(condition) \
  if (!(condition)) std::abort()

const DocumentBounds BOUNDS;

void config(std::string_view text) {
  if (text.size() > BOUNDS.configBytes) return;  // The caller's check (documents.h).
  auto prepared = prepareConfig(text, BOUNDS);
  if (auto* c = std::get_if<NewConfig>(&prepared)) {
    auto again = prepareConfig(c->json, BOUNDS);
    FUZZ_ASSERT(std::holds_alternative<NewConfig>(again));
    FUZZ_ASSERT(std::get<NewConfig>(again).json == c->json);
  }
}

void rules(std::string_view text) {
  auto prepared = prepareRules(text, BOUNDS);
  if (auto* r = std::get_if<NewRules>(&prepared)) {
    auto again = prepareRules(r->json, BOUNDS);
    FUZZ_ASSERT(std::holds_alternative<NewRules>(again));
    FUZZ_ASSERT(std::get<NewRules>(again).json == r->json);
  }
}

void role(std::string_view text, bool update) {
  auto prepared =
      prepareRole(text, update ? std::optional<std::string>("editor") : std::nullopt, BOUNDS);
  if (auto* r = std::get_if<RbacRole>(&prepared)) {
    FUZZ_ASSERT(isValidRoleName(r->name));
    if (update) FUZZ_ASSERT(r->name == "editor");
  }
}

void instants(std::string_view text) {
  if (auto t = parseIso8601(text); t && *t >= 0 && *t < 253'402'300'800'000) {
    // What we format (whole seconds, UTC, years 1970-9999), we read back to the second.
    FUZZ_ASSERT(parseIso8601(formatIso8601(*t)) == *t - *t % 1000);
  }
  if (auto p = parsePeriod(text)) FUZZ_ASSERT(parsePeriod(periodName(*p)) == p);
  if (auto w = parseMonth(text, date::locate_zone("Europe/Berlin"))) FUZZ_ASSERT(w->start < w->end);
}

void encodings(std::string_view text) {
  auto literal = percentDecode(text, Plus::LITERAL);
  auto spaced = percentDecode(text, Plus::SPACE);
  FUZZ_ASSERT(literal.has_value() == spaced.has_value());
  if (literal) FUZZ_ASSERT(literal->size() <= text.size());
  if (auto tags = parseIfMatch(text)) {
    for (auto& tag : tags->strongTags) FUZZ_ASSERT(tag.find('"') == std::string::npos);
  }
  if (auto address = parseListenAddress(text)) {
    FUZZ_ASSERT(parseListenAddress(formatListenAddress(*address)).has_value());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: config(text); break;
    case 1: rules(text); break;
    case 2: role(text, false); break;
    case 3: role(text, true); break;
    case 4: instants(text); break;
    case 5: encodings(text); break;
  }
  return 0;
}
