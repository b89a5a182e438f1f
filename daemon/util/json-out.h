#pragma once
// JSON documents written straight into a buffer with RapidJSON's writer, for the answers on the
// hot path (check, track, usage). Building an nlohmann object and dumping it cost ~20 k
// instructions per check response (callgrind; BENCHMARKS.md). Keys come out in the order written.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace tenantd {

class JsonOut {
public:
  JsonOut& beginObject() { return ok(writer_.StartObject()); }
  JsonOut& endObject() { return ok(writer_.EndObject()); }
  JsonOut& beginArray() { return ok(writer_.StartArray()); }
  JsonOut& endArray() { return ok(writer_.EndArray()); }
  JsonOut& key(std::string_view name) {
    return ok(writer_.Key(name.data(), static_cast<rapidjson::SizeType>(name.size())));
  }

  JsonOut& value(bool b) { return ok(writer_.Bool(b)); }
  JsonOut& value(int64_t i) { return ok(writer_.Int64(i)); }
  JsonOut& value(std::string_view s) {
    return ok(writer_.String(s.data(), static_cast<rapidjson::SizeType>(s.size())));
  }
  JsonOut& value(const char* s) { return value(std::string_view(s)); }
  JsonOut& null() { return ok(writer_.Null()); }

  template <typename T>
  JsonOut& field(std::string_view name, T v) {
    return key(name).value(v);
  }
  JsonOut& nullField(std::string_view name) { return key(name).null(); }

  // The finished document (its objects and arrays all closed).
  std::string str() const { return std::string(buffer_.GetString(), buffer_.GetSize()); }

private:
  // The writer refuses only misuse (a key outside an object, an unbalanced end): a bug here.
  JsonOut& ok(bool written) {
    if (!written) throw std::logic_error("JsonOut: malformed document");
    return *this;
  }

  rapidjson::StringBuffer buffer_{nullptr, 512};
  rapidjson::Writer<rapidjson::StringBuffer> writer_{buffer_};
};

}  // namespace tenantd
