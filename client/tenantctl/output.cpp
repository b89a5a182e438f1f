#include "tenantctl/output.h"

#include <algorithm>
#include <cctype>
#include <ctime>

namespace tenantd::ctl {

namespace {
void printLine(std::ostream& out, const std::vector<std::string>& cells,
               const std::vector<size_t>& widths) {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) {
    line += cells[i];
    if (i + 1 < cells.size()) line += std::string(widths[i] - cells[i].size() + 2, ' ');
  }
  out << line << "\n";
}
}  // namespace

void Table::print(std::ostream& out) const {
  std::vector<std::string> headers;
  for (auto h : headers_) {
    std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return std::toupper(c); });
    headers.push_back(h);
  }
  std::vector<size_t> widths(headers.size());
  for (size_t i = 0; i < headers.size(); ++i) widths[i] = headers[i].size();
  for (auto& row : rows_) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  printLine(out, headers, widths);
  for (auto row : rows_) {
    row.resize(headers.size());
    printLine(out, row, widths);
  }
}

std::string cell(const Json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void printRows(std::ostream& out, const Json& rows, const std::string& none,
               const std::vector<std::string>& first) {
  if (!rows.is_array() || rows.empty()) {
    out << (rows.is_array() ? none : cell(rows)) << "\n";
    return;
  }
  std::vector<std::string> keys;
  for (auto& key : first) {
    bool used = std::any_of(rows.begin(), rows.end(),
                            [&](const Json& row) { return row.is_object() && row.contains(key); });
    if (used) keys.push_back(key);
  }
  for (auto& row : rows) {
    if (!row.is_object()) continue;
    for (auto& [key, value] : row.items()) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
  }
  Table table(keys);
  for (auto& row : rows) {
    std::vector<std::string> cells;
    for (auto& key : keys) cells.push_back(row.contains(key) ? cell(row[key]) : "-");
    table.add(cells);
  }
  table.print(out);
}

void printFields(std::ostream& out,
                 const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t width = 0;
  for (auto& [name, value] : fields) width = std::max(width, name.size());
  for (auto& [name, value] : fields) {
    out << name << std::string(width - name.size() + 2, ' ') << (value.empty() ? "-" : value)
        << "\n";
  }
}

void printObject(std::ostream& out, const Json& object) {
  if (!object.is_object()) {
    out << cell(object) << "\n";
    return;
  }
  std::vector<std::pair<std::string, std::string>> fields;
  for (auto& [key, value] : object.items()) fields.emplace_back(key, cell(value));
  printFields(out, fields);
}

std::string isoTime(int64_t unixMs) {
  if (unixMs == 0) return "-";
  time_t seconds = static_cast<time_t>(unixMs / 1000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

Json parseDocument(const std::string& text) {
  auto parsed = Json::parse(text, nullptr, false);
  return parsed.is_discarded() ? Json(text) : parsed;
}

}  // namespace tenantd::ctl
