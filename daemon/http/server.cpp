#include "server.h"

#include "router.h"

#include <arpa/inet.h>
#include <h2o.h>
#include <netdb.h>
#include <sys/socket.h>

#include <kj/debug.h>

#include <cstring>

// picohttpparser, h2o's own request parser, is part of libh2o; Debian installs no header for it.
extern "C" {
struct phr_header {
  const char* name;
  size_t name_len;
  const char* value;
  size_t value_len;
};
int phr_parse_request(const char* buf, size_t len, const char** method, size_t* method_len,
                      const char** path, size_t* path_len, int* minor_version,
                      struct phr_header* headers, size_t* num_headers, size_t last_len);
}

namespace tenantd {

namespace {
// h2o hands our on_req the h2o_handler_t it allocated; we allocate it bigger to find our way back.
struct HandlerGlue {
  h2o_handler_t super;
  HttpServer* server;
};

// One accepted TCP connection; h2o owns it once accepted and calls onClose when done.
struct Connection {
  uv_tcp_t tcp;  // First, so the uv handle pointer is the Connection pointer.
  HttpServer* server;
};

const char* reasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "";
  }
}

std::string_view view(h2o_iovec_t v) {
  return std::string_view(v.base, v.len);
}

// h2o answers some requests itself, on the host's fallback path, before any handler sees them: a
// body over its own limit (twice ours), broken chunked encoding or Content-Length, a request
// target that is not a path. It answers in plain text; this output filter on the fallback path
// gives those answers the API's one error shape, keeping h2o's status and its words.
std::string_view errorCodeFor(int status) {
  switch (status) {
    case 404: return "not_found";
    case 413: return "payload_too_large";
    default: return status >= 500 ? "internal" : "invalid_request";
  }
}

void sendAsJsonError(h2o_ostream_t* self, h2o_req_t* req, h2o_iovec_t* bufs, size_t count,
                     h2o_send_state_t state) {
  // h2o's own errors come in one final call (h2o_send_inline); anything else passes as it is.
  if (h2o_send_state_is_in_progress(state) || count > 1) {
    h2o_ostream_send_next(self, req, bufs, count, state);
    return;
  }
  std::string said = count == 1 ? std::string(view(bufs[0])) : std::string(req->res.reason);
  if (req->res.status == 413) said = "the request body is over the limit";
  std::string json = errorResponse(req->res.status, errorCodeFor(req->res.status), said).body;
  h2o_iovec_t body = h2o_strdup(&req->pool, json.data(), json.size());
  h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
                 H2O_STRLIT("application/json"), 1);
  req->res.content_length = body.len;
  // HEAD gets the headers of the answer, without its body, as from h2o_send_inline.
  h2o_ostream_send_next(self, req, count == 1 ? &body : nullptr, count == 1 ? 1 : 0, state);
}

// Why the end of a request's body is ambiguous, or nullptr. h2o 2.2.5 reads a body by
// Transfer-Encoding when Content-Length is sent too, and by the first of several
// Content-Lengths, and keeps the connection open: what request smuggling through a proxy feeds
// on. RFC 9112 §6.3 makes differing lengths an error and has a server close the connection
// after answering a request with both. h2o keeps neither header in req->headers, so the head,
// still at the start of the socket's input while the request is handled, is parsed again by
// picohttpparser, for requests h2o read a body for (any with either header) whose head names
// Transfer-Encoding or Content-Length twice. That search is the cheap part: h2o has lower-cased
// the names in place, and a name follows a line break. The parse (~1.6 k instructions) is for
// the few it finds, and answers exactly (a match inside a value only costs the parse).
const char* ambiguousBodyFraming(h2o_req_t* req) {
  if (req->entity.base == nullptr) return nullptr;
  h2o_socket_t* sock = req->conn->callbacks->get_socket(req->conn);
  if (sock == nullptr || sock->input == nullptr) return nullptr;
  std::string_view input(sock->input->bytes, sock->input->size);
  // A Content-Length body follows the head in the same buffer; otherwise search it all.
  std::string_view head = input;
  if (req->entity.base > input.data() && req->entity.base <= input.data() + input.size()) {
    head = input.substr(0, req->entity.base - input.data());
  }
  size_t firstLength = head.find("\ncontent-length:");
  bool twoLengths = firstLength != std::string_view::npos &&
                    head.find("\ncontent-length:", firstLength + 1) != head.npos;
  if (!twoLengths && head.find("\ntransfer-encoding:") == std::string_view::npos) return nullptr;
  const char *method, *path;
  size_t methodLength, pathLength, count = H2O_MAX_HEADERS;
  int minor;
  phr_header headers[H2O_MAX_HEADERS];
  if (phr_parse_request(sock->input->bytes, sock->input->size, &method, &methodLength, &path,
                        &pathLength, &minor, headers, &count, 0) <= 0) {
    return nullptr;
  }
  std::optional<std::string_view> length;
  bool transferEncoding = false;
  for (size_t i = 0; i < count; ++i) {
    std::string_view value(headers[i].value, headers[i].value_len);
    if (h2o_lcstris(headers[i].name, headers[i].name_len, H2O_STRLIT("transfer-encoding"))) {
      transferEncoding = true;
    } else if (h2o_lcstris(headers[i].name, headers[i].name_len, H2O_STRLIT("content-length"))) {
      if (length && *length != value) return "the request has differing Content-Length headers";
      length = value;
    }
  }
  if (transferEncoding && length) {
    return "the request has both Content-Length and Transfer-Encoding";
  }
  return nullptr;
}

void setUpJsonErrors(h2o_filter_t*, h2o_req_t* req, h2o_ostream_t** slot) {
  if (req->res.status >= 400) {
    h2o_ostream_t* stream = h2o_add_ostream(req, sizeof(h2o_ostream_t), slot);
    stream->do_send = sendAsJsonError;
    slot = &stream->next;
  }
  h2o_setup_next_ostream(req, slot);
}
}  // namespace

std::optional<std::string_view> HttpRequest::header(std::string_view lowercaseName) const {
  if (native == nullptr) {
    for (auto& [name, value] : headers) {
      if (name == lowercaseName) return value;
    }
    return std::nullopt;
  }
  auto* req = static_cast<const h2o_req_t*>(native);
  ssize_t i = h2o_find_header_by_str(&req->headers, lowercaseName.data(), lowercaseName.size(), -1);
  if (i < 0) return std::nullopt;
  return view(req->headers.entries[i].value);
}

struct HttpServer::Impl {
  h2o_globalconf_t config;
  h2o_context_t context;
  h2o_accept_ctx_t acceptContext;
  uv_tcp_t listener;
  bool contextLive = false;
  bool listenerOpen = false;
};

void HttpServer::TaskErrors::taskFailed(kj::Exception&& e) {
  log_.error("http", std::string("deferred response failed: ") + e.getDescription().cStr());
}

namespace {
const char* INTERNAL_ERROR = R"({"error":{"code":"internal","message":"internal error"}})";
}

void HttpServer::send(h2o_req_t* req, const HttpResponse& response) {
  req->res.status = response.status;
  req->res.reason = reasonPhrase(response.status);
  // A literal (see HttpResponse): h2o may keep the pointer without a copy.
  h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, nullptr,
                 response.contentType.data(), response.contentType.size());
  for (auto& [name, value] : response.headers) {
    h2o_iovec_t n = h2o_strdup(&req->pool, name.data(), name.size());
    h2o_iovec_t v = h2o_strdup(&req->pool, value.data(), value.size());
    h2o_add_header_by_str(&req->pool, &req->res.headers, n.base, n.len, 1, nullptr, v.base, v.len);
  }
  // h2o_send_inline() copies the body into the request's pool, and leaves Content-Length
  // unset (chunked) unless we set it.
  req->res.content_length = response.body.size();
  h2o_send_inline(req, response.body.data(), response.body.size());
}

HttpServer::HttpServer(uv_loop_t& loop, HttpOptions options, HttpHandler handler, Log& log,
                       kj::Function<void()> wake)
    : impl_(std::make_unique<Impl>()),
      loop_(loop),
      handler_(kj::mv(handler)),
      log_(log),
      maxBodyBytes_(options.maxBodyBytes),
      maxConnections_(std::max<size_t>(1, options.maxConnections)),
      wake_(kj::mv(wake)) {
  h2o_config_init(&impl_->config);
  impl_->config.server_name = h2o_iovec_init(H2O_STRLIT("tenantd"));
  // Up to twice our limit the body reaches on_req, which refuses it after counting it; above
  // that h2o refuses it while reading, closing the connection (setUpJsonErrors shapes the 413).
  impl_->config.max_request_entity_size = std::min<uint64_t>(options.maxBodyBytes * 2, 64 << 20);
  impl_->config.http1.req_timeout = options.requestTimeoutMs;
  impl_->config.http1.upgrade_to_http2 = 0;
  impl_->config.http2.idle_timeout = options.requestTimeoutMs;
  h2o_hostconf_t* host =
      h2o_config_register_host(&impl_->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
  h2o_create_filter(&host->fallback_path, sizeof(h2o_filter_t))->on_setup_ostream = setUpJsonErrors;
  h2o_pathconf_t* path = h2o_config_register_path(host, "/", 0);
  auto* glue = reinterpret_cast<HandlerGlue*>(h2o_create_handler(path, sizeof(HandlerGlue)));
  glue->server = this;
  glue->super.on_req = [](h2o_handler_t* self, h2o_req_t* req) -> int {
    HttpServer& server = *reinterpret_cast<HandlerGlue*>(self)->server;
    std::string_view full = view(req->path);
    std::string_view path = full, query;
    if (req->query_at != SIZE_MAX) {
      path = full.substr(0, req->query_at);
      query = full.substr(req->query_at + 1);
    }
    HttpRequest request{view(req->method), path, query,
                        req->entity.base != nullptr ? view(req->entity) : std::string_view(), req};
    // A body may hold a secret's plaintext, and handlers are done with it when they return
    // (a deferred one copies what it needs first): wipe it on every path, refusals included
    // (401, 403, 413, 429 answered before any handler reads it), and before the answer is
    // sent, since a client that has its answer may look at our memory at once.
    auto wipeBody = [req]() {
      if (req->entity.base != nullptr) explicit_bzero(req->entity.base, req->entity.len);
    };
    if (const char* ambiguous = ambiguousBodyFraming(req)) {
      wipeBody();
      req->http1_is_persistent = 0;  // Whatever follows on this connection is not read.
      send(req, errorResponse(400, "invalid_request", ambiguous));
      return 0;
    }
    if (request.body.size() > server.maxBodyBytes_) {
      wipeBody();
      send(req, HttpResponse(413, R"({"error":{"code":"payload_too_large","message":)"
                                  R"("the request body is over the limit"}})"));
      return 0;
    }
    kj::Maybe<HttpResult> result;
    kj::Maybe<kj::Exception> fault =
        kj::runCatchingExceptions([&]() { result = server.handler_(request); });
    wipeBody();
    KJ_IF_MAYBE (e, fault) {
      // A fault in our code: answer 500 without details (they may name internals).
      server.log_.error("http", std::string("handler failed: ") + e->getDescription().cStr());
      send(req, HttpResponse(500, INTERNAL_ERROR));
      return 0;
    }
    KJ_IF_MAYBE (r, result) {
      KJ_SWITCH_ONEOF(*r) {
        KJ_CASE_ONEOF(now, HttpResponse) {
          send(req, now);
        }
        KJ_CASE_ONEOF(later, kj::Promise<HttpResponse>) {
          // h2o's HTTP/1 stops reading and clears the request timeout before calling us, so
          // `req` stays valid until we answer; the drain waits for these connections.
          HttpServer* owner = &server;
          server.deferred_.add(kj::mv(later)
                                   .then([req](HttpResponse response) { send(req, response); },
                                         [req, owner](kj::Exception&& e) {
                                           owner->log_.error("http",
                                                             std::string("handler failed: ") +
                                                                 e.getDescription().cStr());
                                           send(req, HttpResponse(500, INTERNAL_ERROR));
                                         })
                                   .then([owner]() { owner->wake_(); }));
        }
      }
    }
    return 0;
  };
  h2o_context_init(&impl_->context, &loop_, &impl_->config);
  impl_->contextLive = true;
  impl_->acceptContext = h2o_accept_ctx_t{};
  impl_->acceptContext.ctx = &impl_->context;
  impl_->acceptContext.hosts = impl_->config.hosts;
}

HttpServer::~HttpServer() {
  if (impl_->listenerOpen) {
    // The owner should have drained; close what is left so the loop can close.
    uv_close(reinterpret_cast<uv_handle_t*>(&impl_->listener), nullptr);
  }
  if (impl_->contextLive) {
    // h2o 2.2.5's HTTP/2 request_shutdown links a graceful-shutdown entry on one_sec_timeout even
    // with no HTTP/2 connection, and h2o_context_dispose() asserts every timeout is empty.
    if (h2o_timeout_is_linked(&impl_->context.http2._graceful_shutdown_timeout)) {
      h2o_timeout_unlink(&impl_->context.http2._graceful_shutdown_timeout);
    }
    h2o_context_dispose(&impl_->context);
  }
  h2o_config_dispose(&impl_->config);
}

namespace {
ListenAddress boundAddress(uv_tcp_t& tcp) {
  sockaddr_storage ss;
  int len = sizeof(ss);
  int rc = uv_tcp_getsockname(&tcp, reinterpret_cast<sockaddr*>(&ss), &len);
  KJ_REQUIRE(rc == 0, "getsockname failed", uv_err_name(rc));
  char host[INET6_ADDRSTRLEN] = {};
  ListenAddress out;
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    out.port = ntohs(a->sin6_port);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    out.port = ntohs(a->sin_port);
  }
  out.host = host;
  return out;
}
}  // namespace

ListenAddress HttpServer::listen(const ListenAddress& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port = std::to_string(address.port);
  int gai = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found);
  KJ_REQUIRE(gai == 0, "cannot resolve listen address", address.host, gai_strerror(gai));
  KJ_DEFER(freeaddrinfo(found));

  KJ_ASSERT(uv_tcp_init(&loop_, &impl_->listener) == 0);
  impl_->listenerOpen = true;
  int rc = uv_tcp_bind(&impl_->listener, found->ai_addr, 0);
  KJ_REQUIRE(rc == 0, "cannot bind the REST listener", formatListenAddress(address),
             uv_strerror(rc));
  startListening();
  return boundAddress(impl_->listener);
}

ListenAddress HttpServer::adopt(int fd) {
  KJ_ASSERT(uv_tcp_init(&loop_, &impl_->listener) == 0);
  impl_->listenerOpen = true;
  int rc = uv_tcp_open(&impl_->listener, fd);
  KJ_REQUIRE(rc == 0, "cannot use the inherited REST socket", uv_strerror(rc));
  startListening();
  return boundAddress(impl_->listener);
}

void HttpServer::startListening() {
  impl_->listener.data = this;
  int rc =
      uv_listen(reinterpret_cast<uv_stream_t*>(&impl_->listener), 1024,
                [](uv_stream_t* listener, int status) {
                  auto& server = *static_cast<HttpServer*>(listener->data);
                  if (status != 0) {
                    server.log_.warn("http", std::string("accept failed: ") + uv_err_name(status));
                    return;
                  }
                  server.acceptOne();
                });
  KJ_REQUIRE(rc == 0, "cannot listen", uv_strerror(rc));
  listening_ = true;
}

bool HttpServer::acceptOne() {
  if (connections_.size() >= maxConnections_) {
    // Not taking it leaves it with libuv, which stops polling the listener: later connections
    // wait in the kernel's backlog until onConnectionClosed() takes this one.
    if (!acceptPaused_) {
      log_.warn("http", "REST connections at max_connections (" + std::to_string(maxConnections_) +
                            "); accepting paused");
    }
    acceptPaused_ = true;
    return false;
  }
  acceptPaused_ = false;
  auto* listener = reinterpret_cast<uv_stream_t*>(&impl_->listener);
  auto* conn = new Connection{};
  conn->server = this;
  uv_tcp_init(listener->loop, &conn->tcp);
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&conn->tcp)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&conn->tcp),
             [](uv_handle_t* h) { delete reinterpret_cast<Connection*>(h); });
    return true;
  }
  connections_.insert(conn);
  h2o_socket_t* sock =
      h2o_uv_socket_create(reinterpret_cast<uv_stream_t*>(&conn->tcp), [](uv_handle_t* h) {
        auto* c = reinterpret_cast<Connection*>(h);
        c->server->onConnectionClosed(c);
        delete c;
      });
  h2o_accept(&impl_->acceptContext, sock);
  return true;
}

void HttpServer::onConnectionClosed(void* connection) {
  connections_.erase(connection);
  if (acceptPaused_ && listening_) acceptOne();
  if (connections_.empty()) {
    KJ_IF_MAYBE (f, drained_) {
      (*f)->fulfill();
      drained_ = nullptr;
    }
  }
}

kj::Promise<void> HttpServer::shutdown() {
  if (impl_->listenerOpen) {
    impl_->listenerOpen = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&impl_->listener), nullptr);
  }
  listening_ = false;
  // Turns keep-alive off for every response from now on.
  h2o_context_request_shutdown(&impl_->context);
  // h2o 2.2.5's HTTP/1 does not close idle keep-alive connections on shutdown. Shutting down
  // our read side gives each connection EOF: an idle one closes at once; one that is answering
  // has reading paused, finishes its response, and then closes.
  for (void* c : connections_) {
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&static_cast<Connection*>(c)->tcp), &fd) == 0) {
      ::shutdown(fd, SHUT_RD);
    }
  }
  if (connections_.empty()) return kj::READY_NOW;
  auto paf = kj::newPromiseAndFulfiller<void>();
  drained_ = kj::mv(paf.fulfiller);
  return kj::mv(paf.promise);
}

}  // namespace tenantd
