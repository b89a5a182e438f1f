#include "tenantd/validate.h"

#include <catch2/catch.hpp>

#include "tenantd/client-testing.h"

namespace tenantd::client::detail {

namespace {
using testing::kindOf;
constexpr int64_t NOW = 1'700'000'000'000;
}  // namespace

TEST_CASE("Resource and metric names follow the contract") {
  CHECK(isValidName("api"));
  CHECK(isValidName("llm.tokens_v2-x"));
  CHECK(isValidName(std::string(64, 'a')));
  CHECK_FALSE(isValidName(""));
  CHECK_FALSE(isValidName("API"));
  CHECK_FALSE(isValidName("1api"));
  CHECK_FALSE(isValidName("a b"));
  CHECK_FALSE(isValidName(std::string(65, 'a')));
}

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
