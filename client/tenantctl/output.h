#pragma once
// tenantctl's two outputs: human tables (aligned columns, "-" for nothing) and, with --json,
// one JSON document per command. Documents the daemon sends as JSON text are shown as tables
// built from their own keys, so a field added on the daemon's side shows up without a change here.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace tenantd::ctl {

// Keys keep their order: the daemon's documents print as the daemon wrote them.
using Json = nlohmann::ordered_json;

class Table {
public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  // Headers in capitals, columns two spaces apart, no trailing blanks.
  void print(std::ostream& out) const;

private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// A value as one table cell: strings bare, null as "-", anything nested as compact JSON.
std::string cell(const Json& value);

// A JSON array of objects as a table: one column per key; the keys in `first` lead in that
// order, the others follow in the order they first appear. Prints `none` for an empty array.
void printRows(std::ostream& out, const Json& rows, const std::string& none,
               const std::vector<std::string>& first = {});

// An object's fields as "name  value" lines, names padded to one width.
void printFields(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& fields);

// An object as printFields; anything else compactly, on one line.
void printObject(std::ostream& out, const Json& object);

// Unix milliseconds as "2024-01-01T00:00:00Z" (UTC, seconds); 0 (lifetime, never) as "-".
std::string isoTime(int64_t unixMs);

// The daemon's JSON text; a text that is not JSON (it should be) is kept as a string.
Json parseDocument(const std::string& text);

}  // namespace tenantd::ctl
