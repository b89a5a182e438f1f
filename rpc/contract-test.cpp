#include "contract.h"

#include <catch2/catch.hpp>

#include <string>

namespace tenantd::contract {

namespace {
std::string_view fieldOf(const Check& c) {
  return c ? c->field : "";
}
constexpr int64_t NOW = 1'800'000'000'000;  // 2027-01-15
}  // namespace

TEST_CASE("Names: [a-z][a-z0-9_.-]{0,63}") {
  CHECK(isValidName("llm"));
  CHECK(isValidName("a.b_c-9"));
  CHECK(isValidName(std::string(MAX_NAME_BYTES, 'a')));
  CHECK_FALSE(isValidName(std::string(MAX_NAME_BYTES + 1, 'a')));
  CHECK_FALSE(isValidName(""));
  CHECK_FALSE(isValidName("9lives"));
  CHECK_FALSE(isValidName("Tokens"));
  CHECK_FALSE(isValidName("a b"));
  CHECK_FALSE(isValidName("a/b"));
}

TEST_CASE("A usage request: each bound at and past it, checked in field order") {
  CHECK_FALSE(checkUsage("", "llm", "tokens", 1));
  CHECK_FALSE(checkUsage(std::string(MAX_USER_ID_BYTES, 'u'), "llm", "tokens", MAX_AMOUNT));
  CHECK(fieldOf(checkUsage(std::string(MAX_USER_ID_BYTES + 1, 'u'), "llm", "tokens", 1)) ==
        "userId");
  CHECK(fieldOf(checkUsage("", "llm", "tokens", MAX_AMOUNT + 1)) == "amount");
  CHECK(fieldOf(checkUsage("", "llm", "tokens", 0)) == "amount");
  CHECK(fieldOf(checkUsage("", "llm", "tokens", -1)) == "amount");
  CHECK(fieldOf(checkUsage("", "LLM", "tokens", 1)) == "resource");
  CHECK(fieldOf(checkUsage("", "llm", "", 1)) == "metric");
  // The first problem wins, in the order resource, metric, userId, amount.
  CHECK(*checkUsage(std::string(200, 'u'), "", "", 0) ==
        FieldError{"resource", "must match [a-z][a-z0-9_.-]{0,63}"});
  CHECK(*checkUsage("", "llm", "tokens", 0) ==
        FieldError{"amount", "an integer from 1 to 2^53 (9007199254740992)"});
  CHECK(*checkUsage(std::string(129, 'u'), "llm", "tokens", 1) ==
        FieldError{"userId", "at most 128 bytes"});
}

TEST_CASE("A track's id and time") {
  CHECK_FALSE(checkTrackId(""));
  CHECK_FALSE(checkTrackId(std::string(MAX_TRACK_ID_BYTES, 'i')));
  CHECK(fieldOf(checkTrackId(std::string(MAX_TRACK_ID_BYTES + 1, 'i'))) == "id");

  CHECK_FALSE(checkTimestamp(EARLIEST_TIMESTAMP_MS, NOW));
  CHECK(*checkTimestamp(EARLIEST_TIMESTAMP_MS - 1, NOW) ==
        FieldError{"timestamp", "not before 2000-01-01T00:00:00Z"});
  CHECK_FALSE(checkTimestamp(NOW + MAX_FUTURE_MS, NOW));
  CHECK(*checkTimestamp(NOW + MAX_FUTURE_MS + 1, NOW) ==
        FieldError{"timestamp", "more than 5 minutes in the future"});
}

TEST_CASE("Reservations: ttl, id and the committed amount") {
  CHECK_FALSE(checkReserveTtl(1));
  CHECK_FALSE(checkReserveTtl(MAX_RESERVE_TTL_SECONDS));
  CHECK(fieldOf(checkReserveTtl(0)) == "ttlSeconds");
  CHECK(fieldOf(checkReserveTtl(MAX_RESERVE_TTL_SECONDS + 1)) == "ttlSeconds");
  CHECK_FALSE(checkReserveTtl(DEFAULT_RESERVE_TTL_SECONDS));

  CHECK_FALSE(checkReservationId(std::string(MAX_RESERVATION_ID_BYTES, 'r')));
  CHECK(fieldOf(checkReservationId(std::string(MAX_RESERVATION_ID_BYTES + 1, 'r'))) ==
        "reservationId");
  CHECK(fieldOf(checkReservationId("")) == "reservationId");

  CHECK_FALSE(checkCommitAmount(0));
  CHECK_FALSE(checkCommitAmount(MAX_AMOUNT));
  CHECK(fieldOf(checkCommitAmount(-1)) == "amount");
  CHECK(fieldOf(checkCommitAmount(MAX_AMOUNT + 1)) == "amount");
}

TEST_CASE("The bounds are the schema's constants") {
  // What other languages read from tenantd.capnp is what the daemon enforces.
  CHECK(MAX_AMOUNT == int64_t{1} << 53);
  CHECK(MAX_USER_ID_BYTES == 128);
  CHECK(MAX_FUTURE_MS == 300'000);
  CHECK(EARLIEST_TIMESTAMP_MS == 946'684'800'000);  // 2000-01-01T00:00:00Z
  CHECK(MAX_JSON_DEPTH == 32);
}

}  // namespace tenantd::contract
