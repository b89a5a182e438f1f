#pragma once
// The one exception type of libtenantd-client. Business outcomes (not allowed, over a limit, a
// duplicate track) are values; whatever kept a call from getting its answer is an Error with a
// stable kind: the kinds the daemon puts at the start of its RPC error texts (rpc/tenantd.capnp)
// plus the client's own (timeout, disconnected).

#include <stdexcept>
#include <string>
#include <string_view>

namespace tenantd::client {

enum class ErrorKind {
  INVALID_ARGUMENT,   // The request breaks the contract (a bad name, amount or id).
  NOT_FOUND,          // No such tenant, secret or reservation.
  PERMISSION_DENIED,  // This process's uid/gid may not do that (the daemon uses SO_PEERCRED).
  ALREADY_EXISTS,     // Admin: the id is taken.
  CONFLICT,           // Admin: the stored version moved on.
  UNAVAILABLE,        // The daemon cannot be reached, or its store could not commit.
  OVERLOADED,         // The daemon shed the call.
  TIMEOUT,            // No answer in time. For track/consume/commit the outcome is unknown.
  DISCONNECTED,       // The connection dropped while the call was in flight.
  UNIMPLEMENTED,      // The daemon does not know this method (it is older than this client).
  INTERNAL,           // Anything else: a bug on one side or the other.
};

// The kind as it appears on the wire and in what(): "invalid-argument", "not-found", ...
std::string_view kindName(ErrorKind kind);

class Error : public std::runtime_error {
public:
  // what() is "<kind>: <message>".
  Error(ErrorKind kind, std::string_view message);
  ErrorKind kind() const { return kind_; }
  // what() without the "<kind>: " prefix.
  std::string_view message() const;

private:
  ErrorKind kind_;
};

// Reads the kind from a daemon error text ("not-found: no such tenant", also behind Cap'n Proto's
// "remote exception: " prefix); INTERNAL with the whole text when it has no kind.
Error errorFromText(std::string_view text);

}  // namespace tenantd::client
