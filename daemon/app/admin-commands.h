#pragma once
// The offline maintenance commands (tenant, token, check-db). Each opens the store with its own
// connection, which is safe beside a running daemon: WAL lets readers in, and the busy timeout
// waits out the daemon's writer. Each returns the process exit code.

#include "app/cli.h"
#include "service/catalog-service.h"
#include "store/catalog.h"
#include "util/clock.h"
#include "util/log.h"

#include <kj/memory.h>

#include <iosfwd>

namespace tenantd {

// Creates the data directory (0700) and the database if missing, and migrates it.
kj::Own<Db> openStore(const Config& config);

int runTenantCreate(const Config& config, const Command& cmd, const Clock& clock, std::ostream& out,
                    std::ostream& err);
int runTenantUpdate(const Config& config, const Command& cmd, const Clock& clock, std::ostream& out,
                    std::ostream& err);
int runTenantList(const Config& config, std::ostream& out);
int runTokenCreate(const Config& config, const Command& cmd, const Clock& clock, std::ostream& out,
                   std::ostream& err);
int runTokenRevoke(const Config& config, const Command& cmd, const Clock& clock, std::ostream& out,
                   std::ostream& err);
// The store's integrity, its invariants, and every sealed secret opened with the configured keys
// (a store holding secrets fails without them).
int runCheckDb(const Config& config, Log& log, std::ostream& out, std::ostream& err);
int runKeysGenerate(const Command& cmd, std::ostream& out, std::ostream& err);
int runKeysRotate(const Config& config, const Command& cmd, Log& log, std::ostream& out,
                  std::ostream& err);
int runSecretsVerify(const Config& config, Log& log, std::ostream& out, std::ostream& err);

}  // namespace tenantd
