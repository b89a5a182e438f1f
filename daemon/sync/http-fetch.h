#pragma once
// HTTP requests for the sidecar's feed and the writes it forwards, on the daemon's own libuv loop:
// libcurl's multi interface driven by curl_multi_socket_action from a uv_poll per socket and one
// uv_timer (docs/SYNC.md, "The client underneath"). No thread per request and nothing blocks the
// loop; a request's promise resolves on the loop thread. Dropping the promise aborts the transfer.

#include <kj/async.h>
#include <kj/function.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tenantd::sync {

struct FetchRequest {
  std::string method = "GET";
  std::string url;
  std::string body;                  // Sent when not empty (POST, PUT).
  std::vector<std::string> headers;  // "Name: value"
  int64_t connectTimeoutMs = 5000;
  int64_t timeoutMs = 30000;  // The whole transfer, a long poll's wait included.
  size_t maxBodyBytes = 64 << 20;
  std::string caFile;  // Empty: the system's CA store. Verification is always on.
};

struct FetchResult {
  // FAILED: no HTTP answer (refused, reset, timed out, TLS); TOO_LARGE: over maxBodyBytes.
  enum class Kind { ANSWERED, FAILED, TOO_LARGE };
  Kind kind = Kind::FAILED;
  long status = 0;
  std::string body;
  std::string etag;  // Empty: none.
  // Every response header, names lower-cased, values trimmed (at most MAX_HEADERS).
  std::vector<std::pair<std::string, std::string>> headers;
  static constexpr size_t MAX_HEADERS = 64;
  std::optional<std::string_view> header(std::string_view lowercaseName) const {
    for (auto& [name, value] : headers) {
      if (name == lowercaseName) return std::string_view(value);
    }
    return std::nullopt;
  }
  std::string error;  // FAILED: libcurl's reason, for the log; never a header's value.
};

class HttpFetcher {
public:
  // `wake` is called after work was started from outside a uv pass (UvBridge::kick).
  HttpFetcher(uv_loop_t& loop, kj::Function<void()> wake);
  ~HttpFetcher();
  HttpFetcher(const HttpFetcher&) = delete;
  HttpFetcher& operator=(const HttpFetcher&) = delete;

  kj::Promise<FetchResult> send(FetchRequest request);

private:
  class Transfer;
  struct Socket;
  static int onSocket(void* easy, int fd, int what, void* self, void* socketData);
  static int onTimer(void* multi, long timeoutMs, void* self);
  void act(int fd, int flags);
  void finishDone();

  uv_loop_t& loop_;
  kj::Function<void()> wake_;
  void* multi_;        // CURLM*
  uv_timer_t* timer_;  // Freed by its close callback.
};

}  // namespace tenantd::sync
