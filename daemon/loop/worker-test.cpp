#include "worker.h"

#include <kj/async-io.h>
#include <kj/debug.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace tenantd {
namespace {

TEST_CASE("A worker runs jobs on its own thread and answers on the caller's loop, in order") {
  auto io = kj::setupAsyncIo();
  Worker worker;
  auto caller = std::this_thread::get_id();
  std::vector<kj::Promise<std::thread::id>> ran;
  for (int i = 0; i < 3; ++i) {
    ran.push_back(worker.run<std::thread::id>([]() { return std::this_thread::get_id(); }));
  }
  std::vector<int> order;
  auto done = kj::heapArrayBuilder<kj::Promise<void>>(50);
  for (int i = 0; i < 50; ++i) {
    done.add(worker.run<int>([i]() { return i; }).then([&order](int i) { order.push_back(i); }));
  }
  for (auto& p : ran) CHECK(p.wait(io.waitScope) != caller);
  kj::joinPromises(done.finish()).wait(io.waitScope);
  for (int i = 0; i < 50; ++i) CHECK(order[i] == i);
}

TEST_CASE("A job that throws rejects its promise, and the worker goes on") {
  auto io = kj::setupAsyncIo();
  Worker worker;
  auto failed = worker.run<int>([]() -> int { KJ_FAIL_REQUIRE("bad document"); });
  auto error = failed
                   .then([](int) { return std::string("resolved"); },
                         [](kj::Exception&& e) { return std::string(e.getDescription().cStr()); })
                   .wait(io.waitScope);
  CHECK(error.find("bad document") != std::string::npos);
  CHECK(worker.run<int>([]() { return 7; }).wait(io.waitScope) == 7);
}

TEST_CASE("Destroying a worker runs every job already submitted") {
  auto io = kj::setupAsyncIo();
  std::atomic<int> ran{0};
  {
    Worker worker;
    for (int i = 0; i < 100; ++i) {
      worker.run<int>([&ran]() { return ++ran; }).detach([](kj::Exception&&) {});
    }
  }
  CHECK(ran.load() == 100);
}

}  // namespace
}  // namespace tenantd
