#include "redis-replies.h"

#include "fleet/key-slot.h"

#include <hiredis/hiredis.h>

#include <charconv>

namespace tenantd::fleet {

namespace {
// The whole of `text` as a decimal in [low, high].
std::optional<int64_t> decimalIn(std::string_view text, int64_t low, int64_t high) {
  int64_t value = 0;
  auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || parsed.ec != std::errc() || parsed.ptr != text.data() + text.size() ||
      value < low || value > high) {
    return std::nullopt;
  }
  return value;
}

std::string_view textOf(const redisReply* r) {
  return std::string_view(r->str, r->len);
}

bool isText(const redisReply* r) {
  return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

// A host name or address to dial, or empty ("the node that answered"): no spaces, no control
// bytes (a NUL would cut it short on its way to the resolver).
bool dialable(std::string_view host) {
  for (unsigned char ch : host) {
    if (ch <= ' ' || ch == 0x7f) return false;
  }
  return true;
}

bool isIntegerIn(const redisReply* r, int64_t low, int64_t high) {
  return r->type == REDIS_REPLY_INTEGER && r->integer >= low && r->integer <= high;
}
}  // namespace

std::optional<Redirect> parseRedirect(std::string_view error) {
  Redirect to;
  to.ask = error.starts_with("ASK ");
  if (!to.ask && !error.starts_with("MOVED ")) return std::nullopt;
  error.remove_prefix(to.ask ? 4 : 6);
  size_t space = error.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  std::string_view endpoint = error.substr(space + 1);
  size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto slot = decimalIn(error.substr(0, space), 0, CLUSTER_SLOTS - 1);
  auto port = decimalIn(endpoint.substr(colon + 1), 1, 65535);
  if (!slot || !port) return std::nullopt;
  std::string_view host = endpoint.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);  // An IPv6 literal: dialled without its brackets.
  }
  if (!dialable(host) || host.find_first_of("[]") != std::string_view::npos) return std::nullopt;
  to.slot = static_cast<uint16_t>(*slot);
  to.host = std::string(host);
  to.port = static_cast<int>(*port);
  return to;
}

std::optional<std::vector<SlotRange>> parseClusterSlots(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY) return std::nullopt;
  std::vector<SlotRange> ranges;
  for (size_t i = 0; i < r->elements; ++i) {
    // [first, last, [host, port, id, ...], replicas...]
    const redisReply* range = r->element[i];
    if (range->type != REDIS_REPLY_ARRAY || range->elements < 3) continue;
    const redisReply* first = range->element[0];
    const redisReply* last = range->element[1];
    const redisReply* master = range->element[2];
    if (!isIntegerIn(first, 0, CLUSTER_SLOTS - 1) ||
        !isIntegerIn(last, first->integer, CLUSTER_SLOTS - 1) ||
        master->type != REDIS_REPLY_ARRAY || master->elements < 2 ||
        !isIntegerIn(master->element[1], 1, 65535)) {
      continue;
    }
    const redisReply* endpoint = master->element[0];
    SlotRange s;
    if (isText(endpoint)) {
      s.host = std::string(textOf(endpoint));
    } else if (endpoint->type != REDIS_REPLY_NIL) {
      continue;
    }
    // "?": the node is set to announce a hostname it does not have; nowhere to dial.
    if (s.host == "?" || !dialable(s.host)) continue;
    s.first = static_cast<uint16_t>(first->integer);
    s.last = static_cast<uint16_t>(last->integer);
    s.port = static_cast<int>(master->element[1]->integer);
    ranges.push_back(std::move(s));
  }
  return ranges;
}

std::optional<RedisAddress> parseMasterAddress(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !isText(r->element[0]) ||
      !isText(r->element[1]) || r->element[0]->len == 0 || !dialable(textOf(r->element[0]))) {
    return std::nullopt;
  }
  auto port = decimalIn(textOf(r->element[1]), 1, 65535);
  if (!port) return std::nullopt;
  return RedisAddress{"", std::string(textOf(r->element[0])), static_cast<int>(*port)};
}

bool isMasterRole(const redisReply* r) {
  return r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements > 0 && isText(r->element[0]) &&
         textOf(r->element[0]) == "master";
}

void ReplyFree::operator()(redisReply* r) const {
  freeReplyObject(r);
}

OwnedReply readReply(std::string_view resp) {
  std::unique_ptr<redisReader, void (*)(redisReader*)> reader(redisReaderCreate(), redisReaderFree);
  if (reader == nullptr) throw std::bad_alloc();
  void* reply = nullptr;
  if (redisReaderFeed(reader.get(), resp.data(), resp.size()) != REDIS_OK ||
      redisReaderGetReply(reader.get(), &reply) != REDIS_OK) {
    return nullptr;
  }
  return OwnedReply(static_cast<redisReply*>(reply));
}

}  // namespace tenantd::fleet
