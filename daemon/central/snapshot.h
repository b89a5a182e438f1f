#pragma once
// What a central sends (docs/SYNC.md, "The feed"): the payload for a sidecar that has applied
// `since`, read from the central's own store in one read on its writer connection, each secret
// opened with the central's keyring and sealed at once to the recipient's key. Used by the live
// feed (central/feed.h) and by `tenantd central snapshot` (a static file any HTTP server
// serves). Runs on the thread that owns `ctx`.

#include "secrets/keyring.h"
#include "store/writer.h"
#include "sync/envelope.h"
#include "util/log.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tenantd::central {

struct Snapshot {
  int64_t version = 0;   // The central's counter when it was read.
  std::string envelope;  // The signed envelope around the payload: the response body.
  size_t tenants = 0;
};

// Copied into each writer job, so a job still queued when the daemon stops needs nothing its
// owner held: the signing keys are shared, the keyring outlives the writer.
struct SnapshotSource {
  std::string centralId;
  const Keyring& keyring;                    // Opens the central's stored secrets.
  std::optional<sync::PublicKey> recipient;  // Secrets are sealed to it; none: not sent.
  std::vector<std::shared_ptr<const sync::SigningKey>> signers;  // Each signs the payload.
};

// since nullopt: a full snapshot. Secrets that no longer open, are expired, or await re-sealing
// are left out and logged (by tenant and name, never a value).
Snapshot readSnapshot(WriterContext& ctx, const SnapshotSource& source,
                      std::optional<int64_t> since, UnixMillis now, Log& log);

}  // namespace tenantd::central
