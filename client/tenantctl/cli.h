#pragma once
// tenantctl's entry point, as a function so tests can run it in-process.
//
// Exit codes: 0 done; 1 the daemon refused or failed (unavailable, timeout, permission-denied,
// invalid-argument, conflict, ...); 2 a usage error on the command line; 3 not found (no such
// tenant, token, secret or reservation). Errors are one line on stderr: "tenantctl: <kind>: ...".

#include <iostream>

namespace tenantd::ctl {

constexpr int EXIT_OK = 0;
constexpr int EXIT_FAILED = 1;
constexpr int EXIT_USAGE = 2;
constexpr int EXIT_NOT_FOUND = 3;

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err, std::istream& in);

}  // namespace tenantd::ctl
