#pragma once
// How hard a commit waits for the disk: SQLite's PRAGMA synchronous, as the config names it
// (`[store] sync`). Here, below both, so the config does not depend on the store.

namespace tenantd {

enum class SyncLevel { NORMAL, FULL };

}  // namespace tenantd
