// Fuzzes what the fleet reads out of Redis's answers (daemon/fleet/redis-replies.h), under ASan
// and UBSan: the input as a redirect's error text, and the input as the bytes a node writes
// (read into reply trees by hiredis, as on a live connection) through the slot-map, sentinel and
// ROLE readers. What they accept must be usable as it stands: slots in range, real ports, hosts
// with nothing a resolver would cut short, and a redirect written back parses to itself.
//
// hiredis allocates an array's elements when it reads the header ("*222678366" asks for 1.8 GB
// before one element arrives), so bytes that declare an array or string longer than a node
// would ever send here are not read as replies: the daemon trusts the Redis it is pointed at
// that far (a hostile one can lie about the totals anyway), and the fuzzer's memory limit is
// not what is under test.

#include <hiredis/hiredis.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "fleet/key-slot.h"
#include "fleet/redis-replies.h"

namespace {

using namespace tenantd;
using namespace tenantd::fleet;

void require(bool holds) {
  if (!holds) std::abort();
}

bool goodHost(std::string_view host) {
  for (unsigned char ch : host) {
    if (ch <= ' ' || ch == 0x7f) return false;
  }
  return true;
}

void redirect(std::string_view text) {
  auto to = parseRedirect(text);
  if (!to) return;
  require(to->slot < CLUSTER_SLOTS && to->port >= 1 && to->port <= 65535 && goodHost(to->host));
  std::string again = std::string(to->ask ? "ASK " : "MOVED ") + std::to_string(to->slot) + " " +
                      to->host + ":" + std::to_string(to->port);
  require(parseRedirect(again) == to);
}

// Whether a "*N" or "$N" in `bytes` declares more than a reply of the fleet's would hold.
bool declaresHuge(std::string_view bytes) {
  constexpr long long MOST = 100'000;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != '*' && bytes[i] != '$') continue;
    long long n = 0;
    for (size_t j = i + 1; j < bytes.size() && bytes[j] >= '0' && bytes[j] <= '9'; ++j) {
      n = n * 10 + (bytes[j] - '0');
      if (n > MOST) return true;
    }
  }
  return false;
}

void replies(std::string_view bytes) {
  if (declaresHuge(bytes)) return;
  std::unique_ptr<redisReader, void (*)(redisReader*)> reader(redisReaderCreate(), redisReaderFree);
  if (redisReaderFeed(reader.get(), bytes.data(), bytes.size()) != REDIS_OK) return;
  // A few replies in a row, as a pipeline answers.
  for (int i = 0; i < 8; ++i) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK || raw == nullptr) return;
    OwnedReply r(static_cast<redisReply*>(raw));
    if (auto ranges = parseClusterSlots(r.get())) {
      for (auto& s : *ranges) {
        require(s.first <= s.last && s.last < CLUSTER_SLOTS && s.port >= 1 && s.port <= 65535 &&
                s.host != "?" && goodHost(s.host));
      }
    }
    if (auto master = parseMasterAddress(r.get())) {
      require(!master->host.empty() && goodHost(master->host) && master->port >= 1 &&
              master->port <= 65535 && master->unixPath.empty());
    }
    (void)isMasterRole(r.get());
    if (r->type == REDIS_REPLY_ERROR) redirect(std::string_view(r->str, r->len));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  redirect(input);
  replies(input);
  return 0;
}
