// The floor for REST benchmarks: tenantd's HttpServer (h2o on libuv) with a handler that answers
// a constant JSON body, on a bare uv loop: no kj bridge, no auth, no JSON parsing, no engine.
// Usage: h2o-floor PORT

#include "http/server.h"
#include "util/malloc-tuning.h"

#include <kj/async.h>

#include <cstdlib>

using namespace tenantd;

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  holdFreedHeap();       // As tenantd does, so the two are measured on equal terms.
  kj::EventLoop kjLoop;  // HttpServer's deferred-response TaskSet needs one; unused here.
  kj::WaitScope waitScope(kjLoop);
  uv_loop_t loop;
  uv_loop_init(&loop);
  Log log(Log::Sink::STDERR, LogLevel::WARN);
  HttpServer server(
      loop, HttpOptions{},
      [](const HttpRequest&) -> HttpResult {
        return HttpResponse(200, R"({"allowed":true,"gateAction":"block"})");
      },
      log, []() {});
  server.listen({"127.0.0.1", static_cast<uint16_t>(atoi(argv[1]))});
  return uv_run(&loop, UV_RUN_DEFAULT);
}
