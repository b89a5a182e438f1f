#pragma once
// The request bodies of the usage, reservation and secret endpoints: one JSON object whose
// fields are scalars. RapidJSON's SAX reader parses them straight into the fields, with no
// document tree: on the hot path (POST …/check) building and freeing nlohmann's tree cost about
// 10 k instructions per request (callgrind; BENCHMARKS.md). Documents with nesting (config,
// rules, RBAC) are parsed into nlohmann's tree on the document worker (service/documents.h).

#include "http/server.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace tenantd {

struct JsonScalar {
  enum class Kind { NUL, BOOL, INTEGER, BIG_INTEGER, NUMBER, STRING, COMPOUND };
  Kind kind = Kind::NUL;
  bool boolean = false;  // BOOL
  int64_t integer = 0;   // INTEGER (BIG_INTEGER: above INT64_MAX, not kept)
  std::string text;      // STRING
};

struct FlatBody {
  bool isObject = false;  // Valid JSON that is not an object has no fields.
  // In document order. A name given twice refuses the whole body (parseFlatBody): a proxy or
  // validator in front that reads the first would otherwise see another request than we do.
  std::vector<std::pair<std::string, JsonScalar>> fields;

  const JsonScalar* find(std::string_view name) const;
};

// Parses a whole body: 415 if a Content-Type other than JSON is declared, 400 if it is not
// valid JSON (strict: UTF-8 checked, nothing after the value) or names a field twice. Nested values
// are kept only as COMPOUND. The parser's scratch memory is wiped before it is freed (secret values
// pass here).
std::variant<FlatBody, HttpResponse> parseFlatBody(const HttpRequest& request);

// The shared Content-Type rule: nullopt when absent or application/json (parameters allowed).
std::optional<HttpResponse> checkJsonContentType(const HttpRequest& request);

}  // namespace tenantd
