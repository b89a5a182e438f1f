#include "tenantd/error.h"

#include "tenantd/connect.h"

#include <catch2/catch.hpp>

namespace tenantd::client {

TEST_CASE("errorFromText reads the daemon's kind behind Cap'n Proto's remote prefix") {
  Error e = errorFromText("remote exception: not-found: no such tenant");
  CHECK(e.kind() == ErrorKind::NOT_FOUND);
  CHECK(std::string(e.what()) == "not-found: no such tenant");
  CHECK(e.message() == "no such tenant");
  CHECK(errorFromText("overloaded: shed").kind() == ErrorKind::OVERLOADED);
  CHECK(errorFromText("already-exists: tenant t1").kind() == ErrorKind::ALREADY_EXISTS);
  CHECK(errorFromText("conflict: version 3").kind() == ErrorKind::CONFLICT);
}

TEST_CASE("A text without a known kind is internal and keeps all of its words") {
  Error e = errorFromText("remote exception: something broke");
  CHECK(e.kind() == ErrorKind::INTERNAL);
  CHECK(std::string(e.what()) == "internal: something broke");
  CHECK(errorFromText("not-found").kind() == ErrorKind::INTERNAL);
  CHECK(errorFromText("not-foundling: x").kind() == ErrorKind::INTERNAL);
}

TEST_CASE("toError prefers the daemon's kind and falls back to the exception's type") {
  using Type = kj::Exception::Type;
  auto make = [](Type type, const char* text) {
    return kj::Exception(type, __FILE__, 1, kj::str(text));
  };
  CHECK(toError(make(Type::FAILED, "remote exception: permission-denied: not admin")).kind() ==
        ErrorKind::PERMISSION_DENIED);
  CHECK(toError(make(Type::DISCONNECTED, "Peer disconnected.")).kind() == ErrorKind::DISCONNECTED);
  CHECK(toError(make(Type::OVERLOADED, "too much")).kind() == ErrorKind::OVERLOADED);
  CHECK(toError(make(Type::UNIMPLEMENTED, "remote exception: Method not implemented.")).kind() ==
        ErrorKind::UNIMPLEMENTED);
  CHECK(toError(make(Type::FAILED, "odd")).kind() == ErrorKind::INTERNAL);
  CHECK(toError(make(Type::DISCONNECTED, "unavailable: store")).kind() == ErrorKind::UNAVAILABLE);
}

TEST_CASE("Every kind has its wire name") {
  CHECK(kindName(ErrorKind::INVALID_ARGUMENT) == "invalid-argument");
  CHECK(kindName(ErrorKind::PERMISSION_DENIED) == "permission-denied");
  CHECK(kindName(ErrorKind::UNAVAILABLE) == "unavailable");
  CHECK(kindName(ErrorKind::TIMEOUT) == "timeout");
  CHECK(kindName(ErrorKind::DISCONNECTED) == "disconnected");
  CHECK(kindName(ErrorKind::UNIMPLEMENTED) == "unimplemented");
  CHECK(Error(ErrorKind::TIMEOUT, "no answer").message() == "no answer");
}

}  // namespace tenantd::client
