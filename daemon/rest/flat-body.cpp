#include "flat-body.h"

#include "http/router.h"
#include "service/json-input.h"

#include <sodium.h>
#include <strings.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include <kj/common.h>
#include <rapidjson/reader.h>
#include <rapidjson/stream.h>

namespace tenantd {

namespace {

constexpr int MAX_DEPTH = 32;  // A flat body has depth 1; deeper is refused, not walked.

// RapidJSON's reader copies every string into its scratch stack before handing it over; this
// allocator wipes that memory before freeing it, so a secret's value does not linger in freed
// heap. Each block carries its size in front.
struct WipingAllocator {
  [[maybe_unused]] static const bool kNeedFree = true;  // RapidJSON's Allocator concept.
  static constexpr size_t HEADER = alignof(std::max_align_t);

  void* Malloc(size_t size) {
    if (size == 0) return nullptr;
    auto* block = static_cast<unsigned char*>(std::malloc(size + HEADER));
    if (block == nullptr) return nullptr;
    std::memcpy(block, &size, sizeof size);
    return block + HEADER;
  }
  void* Realloc(void* old, size_t oldSize, size_t newSize) {
    if (newSize == 0) {
      Free(old);
      return nullptr;
    }
    void* fresh = Malloc(newSize);
    if (fresh != nullptr && old != nullptr) std::memcpy(fresh, old, std::min(oldSize, newSize));
    Free(old);
    return fresh;
  }
  static void Free(void* ptr) {
    if (ptr == nullptr) return;
    auto* block = static_cast<unsigned char*>(ptr) - HEADER;
    size_t size;
    std::memcpy(&size, block, sizeof size);
    sodium_memzero(ptr, size);
    std::free(block);
  }
};

class FlatHandler final : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, FlatHandler> {
public:
  explicit FlatHandler(FlatBody& body) : body_(body) {}
  bool tooDeep = false;
  std::optional<std::string> duplicate;  // A top-level name given twice.

  bool Null() { return scalar({}); }
  bool Bool(bool b) {
    JsonScalar v;
    v.kind = JsonScalar::Kind::BOOL;
    v.boolean = b;
    return scalar(std::move(v));
  }
  bool Int(int i) { return integer(i); }
  bool Uint(unsigned u) { return integer(u); }
  bool Int64(int64_t i) { return integer(i); }
  bool Uint64(uint64_t u) {
    if (u <= uint64_t(INT64_MAX)) return integer(static_cast<int64_t>(u));
    JsonScalar v;
    v.kind = JsonScalar::Kind::BIG_INTEGER;
    return scalar(std::move(v));
  }
  bool Double(double) {
    JsonScalar v;
    v.kind = JsonScalar::Kind::NUMBER;
    return scalar(std::move(v));
  }
  bool String(const char* s, rapidjson::SizeType length, bool) {
    JsonScalar v;
    v.kind = JsonScalar::Kind::STRING;
    v.text.assign(s, length);
    return scalar(std::move(v));
  }
  bool Key(const char* s, rapidjson::SizeType length, bool) {
    if (depth_ == 1) key_.assign(s, length);
    return true;
  }
  bool StartObject() { return open(true); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool StartArray() { return open(false); }
  bool EndArray(rapidjson::SizeType) { return close(); }

private:
  bool integer(int64_t i) {
    JsonScalar v;
    v.kind = JsonScalar::Kind::INTEGER;
    v.integer = i;
    return scalar(std::move(v));
  }
  bool scalar(JsonScalar v) {
    if (depth_ == 1 && body_.isObject) return set(std::move(v));
    return true;
  }
  bool open(bool object) {
    if (depth_ == 0) {
      body_.isObject = object;
    } else if (depth_ == 1 && body_.isObject) {
      JsonScalar v;
      v.kind = JsonScalar::Kind::COMPOUND;
      if (!set(std::move(v))) return false;
    }
    if (++depth_ > MAX_DEPTH) {
      tooDeep = true;
      return false;
    }
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }
  // False (the parse stops) for a name already given.
  bool set(JsonScalar v) {
    for (auto& field : body_.fields) {
      if (field.first == key_) {
        duplicate = shortName(key_);
        return false;
      }
    }
    body_.fields.emplace_back(std::move(key_), std::move(v));
    key_.clear();
    return true;
  }

  FlatBody& body_;
  int depth_ = 0;
  std::string key_;
};

bool isAscii(std::string_view text) {
  unsigned char any = 0;
  for (unsigned char c : text) any |= c;
  return any < 0x80;
}

}  // namespace

const JsonScalar* FlatBody::find(std::string_view name) const {
  for (auto& [key, value] : fields) {
    if (key == name) return &value;
  }
  return nullptr;
}

std::optional<HttpResponse> checkJsonContentType(const HttpRequest& request) {
  auto type = request.header("content-type");
  if (!type) return std::nullopt;
  std::string_view t = *type;
  auto semi = t.find(';');
  if (semi != std::string_view::npos) t = t.substr(0, semi);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  if (t.size() == 16 && strncasecmp(t.data(), "application/json", 16) == 0) return std::nullopt;
  return errorResponse(415, "unsupported_media_type", "the body must be application/json");
}

std::variant<FlatBody, HttpResponse> parseFlatBody(const HttpRequest& request) {
  if (auto refused = checkJsonContentType(request)) return std::move(*refused);
  // JSON never holds a raw NUL; the reader would take one for the end of the input.
  if (std::memchr(request.body.data(), 0, request.body.size()) != nullptr) {
    return errorResponse(400, "invalid_request", "the body is not valid JSON");
  }
  FlatBody body;
  body.fields.reserve(6);
  FlatHandler handler(body);
  WipingAllocator allocator;
  rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, WipingAllocator> reader(&allocator,
                                                                                         256);
  // Parsed in place in a private, NUL-terminated copy (wiped after): strings are decoded where
  // they lie instead of being pushed byte by byte onto the reader's stack. RapidJSON's UTF-8
  // validation takes a sequence's continuation bytes without looking, so a lead byte at the
  // end reads up to three bytes past the terminator (clang's ASan found it): four NULs end it.
  std::string text(request.body);
  text.append(4, '\0');
  KJ_DEFER(sodium_memzero(text.data(), text.size()));
  rapidjson::InsituStringStream in(text.data());
  // Recursive descent is safe here: the handler stops the parse past MAX_DEPTH. UTF-8
  // validation costs the reader instructions on every byte; ASCII needs none.
  constexpr unsigned FLAGS = rapidjson::kParseInsituFlag;
  bool failed =
      isAscii(request.body)
          ? reader.Parse<FLAGS>(in, handler).IsError()
          : reader.Parse<FLAGS | rapidjson::kParseValidateEncodingFlag>(in, handler).IsError();
  if (failed) {
    if (handler.tooDeep) return errorResponse(400, "invalid_request", "the body nests too deeply");
    if (handler.duplicate) {
      return errorResponse(400, "invalid_request",
                           "the body is ambiguous: it names \"" + *handler.duplicate + "\" twice");
    }
    return errorResponse(400, "invalid_request", "the body is not valid JSON");
  }
  return body;
}

}  // namespace tenantd
