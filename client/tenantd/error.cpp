#include "tenantd/error.h"

#include <array>
#include <utility>

namespace tenantd::client {

namespace {
constexpr std::array<std::pair<ErrorKind, std::string_view>, 11> NAMES{{
    {ErrorKind::INVALID_ARGUMENT, "invalid-argument"},
    {ErrorKind::NOT_FOUND, "not-found"},
    {ErrorKind::PERMISSION_DENIED, "permission-denied"},
    {ErrorKind::ALREADY_EXISTS, "already-exists"},
    {ErrorKind::CONFLICT, "conflict"},
    {ErrorKind::UNAVAILABLE, "unavailable"},
    {ErrorKind::OVERLOADED, "overloaded"},
    {ErrorKind::TIMEOUT, "timeout"},
    {ErrorKind::DISCONNECTED, "disconnected"},
    {ErrorKind::UNIMPLEMENTED, "unimplemented"},
    {ErrorKind::INTERNAL, "internal"},
}};

std::string compose(ErrorKind kind, std::string_view message) {
  std::string out(kindName(kind));
  out += ": ";
  out += message;
  return out;
}
}  // namespace

std::string_view kindName(ErrorKind kind) {
  for (auto& [k, name] : NAMES) {
    if (k == kind) return name;
  }
  return "internal";
}

Error::Error(ErrorKind kind, std::string_view message)
    : std::runtime_error(compose(kind, message)), kind_(kind) {}

std::string_view Error::message() const {
  std::string_view all = what();
  return all.substr(kindName(kind_).size() + 2);
}

Error errorFromText(std::string_view text) {
  // Cap'n Proto prefixes what crossed the wire; the daemon's kind follows.
  constexpr std::string_view REMOTE = "remote exception: ";
  while (text.substr(0, REMOTE.size()) == REMOTE) text.remove_prefix(REMOTE.size());
  for (auto& [kind, name] : NAMES) {
    if (text.size() > name.size() + 1 && text.substr(0, name.size()) == name &&
        text.substr(name.size(), 2) == ": ") {
      return Error(kind, text.substr(name.size() + 2));
    }
  }
  return Error(ErrorKind::INTERNAL, text);
}

}  // namespace tenantd::client
