#pragma once
// Applies a checked payload (sync/document.h) all or nothing (docs/SYNC.md, "All or nothing"):
// every document of the payload, the deletions and the applied version are written in one job on
// the writer, so one SQLite transaction; only once it has committed does the new state go into
// memory (tenants adopted, info, configuration and roles replaced, rules installed with usage
// replayed, the token index replaced). A payload that does not commit changes nothing. Runs on
// the event-loop thread, one payload at a time.

#include "secrets/keyring.h"
#include "service/services.h"
#include "store/sync-store.h"
#include "store/writer.h"
#include "sync/document.h"
#include "sync/recipient.h"
#include "util/log.h"

#include <kj/async.h>

#include <memory>
#include <optional>
#include <string>

namespace tenantd::sync {

struct ApplyOutcome {
  // UNCHANGED: the version already applied (a static snapshot polled again).
  enum class Kind { APPLIED, UNCHANGED, REFUSED };
  Kind kind = Kind::APPLIED;
  std::string reason;      // REFUSED: the metric's label ("replayed", "other_central", "secret").
  std::string message;     // REFUSED: why, in words; never a value.
  size_t tenants = 0;      // APPLIED: documents written.
  size_t deleted = 0;      // APPLIED: tenants deleted.
  int64_t swapMicros = 0;  // APPLIED: the event loop's share (into memory after the commit).
};

class Applier {
public:
  // `recipients` open the secrets in the feed, each value with the key its `recipient` names
  // (this host's own, a fleet key); a secret sealed to none of them refuses the payload.
  // `applied` is what the store says was applied last (SyncStore::applied, read at start).
  // The keys are shared with writer jobs, which may outlive this when the daemon stops.
  using Recipients = std::vector<std::shared_ptr<const RecipientKey>>;
  Applier(Services& services, Writer& writer, const Keyring& keyring, Recipients recipients,
          std::optional<AppliedSync> applied, Log& log);

  const std::optional<AppliedSync>& applied() const { return applied_; }
  kj::Promise<ApplyOutcome> apply(SyncPayload payload);

private:
  // The in-memory half, after the commit.
  struct Committed;
  kj::Promise<void> swapIn(kj::Own<Committed> committed);

  Services& services_;
  Writer& writer_;
  const Keyring& keyring_;
  Recipients recipients_;
  std::optional<AppliedSync> applied_;
  Log& log_;
};

}  // namespace tenantd::sync
