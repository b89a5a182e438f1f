#include "tenantctl/output.h"

#include <catch2/catch.hpp>

#include <sstream>

#include "tenantctl/bench.h"

namespace tenantd::ctl {

TEST_CASE("Tables align columns under capitalised headers without trailing blanks") {
  Table t({"id", "name"});
  t.add({"tenant-123", "Acme"});
  t.add({"t2", "Other Corp"});
  std::ostringstream out;
  t.print(out);
  CHECK(out.str() ==
        "ID          NAME\n"
        "tenant-123  Acme\n"
        "t2          Other Corp\n");
}

TEST_CASE("Rows of JSON objects print with every key in first-seen order") {
  auto rows = Json::parse(R"([{"resource":"llm","limit":10,"tiers":{"pro":5}},
                              {"resource":"api","extra":null}])");
  std::ostringstream out;
  printRows(out, rows, "none");
  CHECK(out.str() ==
        "RESOURCE  LIMIT  TIERS      EXTRA\n"
        "llm       10     {\"pro\":5}  -\n"
        "api       -      -          -\n");
  std::ostringstream empty;
  printRows(empty, Json::array(), "no rules");
  CHECK(empty.str() == "no rules\n");
}

TEST_CASE("Fields print as aligned name and value lines") {
  std::ostringstream out;
  printFields(out, {{"version", "0.1.0"}, {"rpc connections", "2"}, {"reason", ""}});
  CHECK(out.str() ==
        "version          0.1.0\n"
        "rpc connections  2\n"
        "reason           -\n");
}

TEST_CASE("The daemon's documents parse, and a non-JSON text is kept as a string") {
  CHECK(parseDocument(R"({"b":1,"a":2})").dump() == R"({"b":1,"a":2})");
  CHECK(parseDocument("oops") == Json("oops"));
}

TEST_CASE("Times print as ISO-8601 UTC and lifetime as a dash") {
  CHECK(isoTime(1'704'067'200'000) == "2024-01-01T00:00:00Z");
  CHECK(isoTime(1'704'067'200'999) == "2024-01-01T00:00:00Z");
  CHECK(isoTime(0) == "-");
}

TEST_CASE("Bench numbers read at a glance") {
  CHECK(formatRate(950) == "950");
  CHECK(formatRate(21'340) == "21.3 k");
  CHECK(formatRate(1'700'000) == "1.70 M");
  CHECK(formatMicros(45) == "45 us");
  CHECK(formatMicros(3'035) == "3.04 ms");
  CHECK(formatMicros(12'500) == "12.5 ms");
}

}  // namespace tenantd::ctl
