#include "if-match.h"

#include <catch2/catch.hpp>

namespace tenantd {
namespace {

std::vector<std::string> strong(std::string_view header) {
  auto parsed = parseIfMatch(header);
  REQUIRE(parsed);
  CHECK_FALSE(parsed->any);
  return parsed->strongTags;
}

TEST_CASE("If-Match: a star is no precondition") {
  auto parsed = parseIfMatch(" * ");
  REQUIRE(parsed);
  CHECK(parsed->any);
}

TEST_CASE("If-Match: lists of strong tags keep their opaque parts, weak tags never match") {
  CHECK(strong(R"("3")") == std::vector<std::string>{"3"});
  CHECK(strong(R"("1", "2" ,"x-y")") == std::vector<std::string>{"1", "2", "x-y"});
  CHECK(strong(R"(W/"3")").empty());
  CHECK(strong(R"(W/"3", "4")") == std::vector<std::string>{"4"});
  CHECK(strong(R"(, "5",,)") == std::vector<std::string>{"5"});
  CHECK(strong(R"("")") == std::vector<std::string>{""});
  CHECK(strong("\"caf\xc3\xa9\"") == std::vector<std::string>{"caf\xc3\xa9"});
}

TEST_CASE("If-Match: anything but a star or entity tags is malformed") {
  for (std::string_view bad : std::vector<std::string_view>{
           "", " ", ",", "3", "\"3", "3\"", "\"3\" \"4\"", "\"3\"x", "w/\"3\"", "W/3", "\"a b\"",
           "\"a\"b\"", "*, \"3\"", "**", std::string_view("\"a\0\"", 4), "\"\x7f\""}) {
    INFO(bad);
    CHECK_FALSE(parseIfMatch(bad));
  }
}

}  // namespace
}  // namespace tenantd
