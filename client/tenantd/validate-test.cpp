#include "tenantd/validate.h"

#include <catch2/catch.hpp>

#include "contract.h"
#include "tenantd/client-testing.h"

namespace tenantd::client::detail {

namespace {
using namespace contract;
using testing::kindOf;
constexpr int64_t NOW = 1'700'000'000'000;
}  // namespace

TEST_CASE("Usage is refused locally for bad names, user ids and amounts") {
  CHECK(kindOf([] { validate(Usage{"", "api", "calls", 1}); }) == std::nullopt);
  CHECK(kindOf([] { validate(Usage{"", "API", "calls", 1}); }) == ErrorKind::INVALID_ARGUMENT);
  CHECK(kindOf([] { validate(Usage{"", "api", "", 1}); }) == ErrorKind::INVALID_ARGUMENT);
  CHECK(kindOf([] {
          validate(Usage{std::string(129, 'u'), "api", "calls", 1});
        }) == ErrorKind::INVALID_ARGUMENT);
  CHECK(kindOf([] { validate(Usage{"", "api", "calls", 0}); }) == ErrorKind::INVALID_ARGUMENT);
  CHECK(kindOf([] {
          validate(Usage{"", "api", "calls", MAX_AMOUNT + 1});
        }) == ErrorKind::INVALID_ARGUMENT);
  CHECK(kindOf([] { validate(Usage{"", "api", "calls", MAX_AMOUNT}); }) == std::nullopt);
  CHECK(kindOf([] {
          validate(Usage{std::string(MAX_USER_ID_BYTES, 'u'), "api", "calls", 1});
        }) == std::nullopt);
}

TEST_CASE("A refusal names the field and the bound in the daemon's words") {
  try {
    validate(Usage{"", "api", "calls", MAX_AMOUNT + 1});
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("amount: an integer from 1 to 2^53") != std::string::npos);
  }
}

TEST_CASE("Track ids and timestamps are refused locally as the daemon would") {
  Usage u{"", "api", "calls", 1};
  CHECK(kindOf([&] { validate(TrackRequest{u, std::string(128, 'i'), 0}, NOW); }) == std::nullopt);
  CHECK(kindOf([&] {
          validate(TrackRequest{u, std::string(129, 'i'), 0}, NOW);
        }) == ErrorKind::INVALID_ARGUMENT);
  CHECK(kindOf([&] { validate(TrackRequest{u, "", NOW + MAX_FUTURE_MS}, NOW); }) == std::nullopt);
  CHECK(kindOf([&] {
          validate(TrackRequest{u, "", NOW + MAX_FUTURE_MS + 1}, NOW);
        }) == ErrorKind::INVALID_ARGUMENT);
  CHECK(kindOf([&] { validate(TrackRequest{u, "", 1000}, NOW); }) == ErrorKind::INVALID_ARGUMENT);
  CHECK(kindOf([&] {
          validate(TrackRequest{Usage{"", "api", "calls", -1}, "", 0}, NOW);
        }) == ErrorKind::INVALID_ARGUMENT);
}

}  // namespace tenantd::client::detail
