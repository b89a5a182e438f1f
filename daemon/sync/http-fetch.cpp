#include "sync/http-fetch.h"

#include <curl/curl.h>
#include <kj/debug.h>

#include <cctype>

namespace tenantd::sync {

namespace {
CURLM* multiOf(void* m) {
  return static_cast<CURLM*>(m);
}

struct GlobalInit {
  GlobalInit() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};
}  // namespace

// One uv_poll per socket libcurl asks us to watch; freed by its close callback.
struct HttpFetcher::Socket {
  uv_poll_t poll;
  HttpFetcher* fetcher;
  int fd;
};

// One GET in flight: the easy handle, what arrives, and the promise to fulfil.
class HttpFetcher::Transfer {
public:
  Transfer(kj::PromiseFulfiller<FetchResult>& fulfiller, HttpFetcher& fetcher, FetchRequest request)
      : fulfiller_(fulfiller), fetcher_(fetcher), request_(kj::mv(request)) {
    easy_ = curl_easy_init();
    KJ_ASSERT(easy_ != nullptr);
    for (auto& h : request_.headers) headers_ = curl_slist_append(headers_, h.c_str());
    curl_easy_setopt(easy_, CURLOPT_URL, request_.url.c_str());
    if (request_.method != "GET") {
      curl_easy_setopt(easy_, CURLOPT_CUSTOMREQUEST, request_.method.c_str());
    }
    if (!request_.body.empty()) {
      curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, request_.body.data());
      curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request_.body.size()));
    }
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(easy_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(request_.connectTimeoutMs));
    curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS, static_cast<long>(request_.timeoutMs));
    curl_easy_setopt(easy_, CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(request_.maxBodyBytes));
    curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!request_.caFile.empty()) curl_easy_setopt(easy_, CURLOPT_CAINFO, request_.caFile.c_str());
    curl_easy_setopt(easy_, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &Transfer::onBody);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, &Transfer::onHeader);
    curl_easy_setopt(easy_, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(easy_, CURLOPT_PRIVATE, this);
    curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, error_);
    KJ_ASSERT(curl_multi_add_handle(multiOf(fetcher_.multi_), easy_) == CURLM_OK);
    fetcher_.wake_();  // The multi's timer was armed from outside a uv pass.
  }

  ~Transfer() { release(); }
  KJ_DISALLOW_COPY(Transfer);

  void done(CURLcode code) {
    if (tooLarge_ || code == CURLE_FILESIZE_EXCEEDED) {
      result_.kind = FetchResult::Kind::TOO_LARGE;
    } else if (code != CURLE_OK) {
      result_.kind = FetchResult::Kind::FAILED;
      result_.error = error_[0] != '\0' ? error_ : curl_easy_strerror(code);
    } else {
      result_.kind = FetchResult::Kind::ANSWERED;
      curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &result_.status);
    }
    if (result_.kind != FetchResult::Kind::ANSWERED) result_.body.clear();
    release();
    fulfiller_.fulfill(kj::mv(result_));
  }

private:
  void release() {
    if (easy_ == nullptr) return;
    curl_multi_remove_handle(multiOf(fetcher_.multi_), easy_);
    curl_easy_cleanup(easy_);
    curl_slist_free_all(headers_);
    easy_ = nullptr;
    headers_ = nullptr;
  }

  static size_t onBody(char* data, size_t size, size_t count, void* self) {
    auto* t = static_cast<Transfer*>(self);
    size_t n = size * count;
    if (t->result_.body.size() + n > t->request_.maxBodyBytes) {
      t->tooLarge_ = true;
      return 0;  // Aborts the transfer (CURLE_WRITE_ERROR).
    }
    t->result_.body.append(data, n);
    return n;
  }

  static size_t onHeader(char* data, size_t size, size_t count, void* self) {
    auto* t = static_cast<Transfer*>(self);
    size_t n = size * count;
    std::string_view line(data, n);
    if (line.starts_with("HTTP/")) {  // A new response (after a 100 Continue).
      t->result_.etag.clear();
      t->result_.headers.clear();
      return n;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || t->result_.headers.size() >= FetchResult::MAX_HEADERS) {
      return n;
    }
    auto trim = [](std::string_view v) {
      while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
      while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
      return v;
    };
    std::string name(trim(line.substr(0, colon)));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value(trim(line.substr(colon + 1)));
    if (name == "etag") t->result_.etag = value;
    t->result_.headers.emplace_back(std::move(name), std::move(value));
    return n;
  }

  kj::PromiseFulfiller<FetchResult>& fulfiller_;
  HttpFetcher& fetcher_;
  FetchRequest request_;
  CURL* easy_ = nullptr;
  curl_slist* headers_ = nullptr;
  FetchResult result_;
  bool tooLarge_ = false;
  char error_[CURL_ERROR_SIZE] = {};
};

HttpFetcher::HttpFetcher(uv_loop_t& loop, kj::Function<void()> wake)
    : loop_(loop), wake_(kj::mv(wake)) {
  static GlobalInit init;
  multi_ = curl_multi_init();
  KJ_ASSERT(multi_ != nullptr);
  curl_multi_setopt(multiOf(multi_), CURLMOPT_SOCKETFUNCTION, &HttpFetcher::onSocket);
  curl_multi_setopt(multiOf(multi_), CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multiOf(multi_), CURLMOPT_TIMERFUNCTION, &HttpFetcher::onTimer);
  curl_multi_setopt(multiOf(multi_), CURLMOPT_TIMERDATA, this);
  timer_ = new uv_timer_t;
  uv_timer_init(&loop_, timer_);
  timer_->data = this;
}

HttpFetcher::~HttpFetcher() {
  // Transfers still open hold promises their owners must have dropped first (they remove their
  // handles); the multi then watches nothing.
  curl_multi_cleanup(multiOf(multi_));
  uv_timer_stop(timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

kj::Promise<FetchResult> HttpFetcher::send(FetchRequest request) {
  return kj::newAdaptedPromise<FetchResult, Transfer>(*this, kj::mv(request));
}

int HttpFetcher::onSocket(void*, int fd, int what, void* self, void* socketData) {
  auto* fetcher = static_cast<HttpFetcher*>(self);
  auto* socket = static_cast<Socket*>(socketData);
  if (what == CURL_POLL_REMOVE) {
    if (socket != nullptr) {
      uv_poll_stop(&socket->poll);
      uv_close(reinterpret_cast<uv_handle_t*>(&socket->poll),
               [](uv_handle_t* h) { delete static_cast<Socket*>(h->data); });
      curl_multi_assign(multiOf(fetcher->multi_), fd, nullptr);
    }
    return 0;
  }
  if (socket == nullptr) {
    socket = new Socket{};
    socket->fetcher = fetcher;
    socket->fd = fd;
    uv_poll_init_socket(&fetcher->loop_, &socket->poll, fd);
    socket->poll.data = socket;
    curl_multi_assign(multiOf(fetcher->multi_), fd, socket);
  }
  int events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
  uv_poll_start(&socket->poll, events, [](uv_poll_t* poll, int status, int ready) {
    auto* s = static_cast<Socket*>(poll->data);
    int flags = 0;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (ready & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (ready & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    s->fetcher->act(s->fd, flags);
  });
  return 0;
}

int HttpFetcher::onTimer(void*, long timeoutMs, void* self) {
  auto* fetcher = static_cast<HttpFetcher*>(self);
  if (timeoutMs < 0) {
    uv_timer_stop(fetcher->timer_);
    return 0;
  }
  uv_timer_start(
      fetcher->timer_,
      [](uv_timer_t* timer) {
        static_cast<HttpFetcher*>(timer->data)->act(CURL_SOCKET_TIMEOUT, 0);
      },
      static_cast<uint64_t>(timeoutMs), 0);
  return 0;
}

void HttpFetcher::act(int fd, int flags) {
  int running = 0;
  curl_multi_socket_action(multiOf(multi_), fd, flags, &running);
  finishDone();
}

void HttpFetcher::finishDone() {
  int pending = 0;
  while (CURLMsg* msg = curl_multi_info_read(multiOf(multi_), &pending)) {
    if (msg->msg != CURLMSG_DONE) continue;
    Transfer* transfer = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &transfer);
    transfer->done(msg->data.result);  // Removes the handle: `msg` is not read after this.
  }
}

}  // namespace tenantd::sync
