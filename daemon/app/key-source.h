#pragma once
// Where the daemon's master keys come from, first found wins:
//  1. a systemd credential, $CREDENTIALS_DIRECTORY/master.key (LoadCredentialEncrypted= can bind
//     it to the host's TPM);
//  2. [secrets] key_file from the config (refused if group or others can read it);
//  3. only with --dev: <data_dir>/master.key, generated on first use, with a loud warning.
// Keys are never stored in the database.

#include "config/config.h"
#include "secrets/keyring.h"
#include "util/log.h"

#include <variant>

namespace tenantd {

std::variant<Keyring, KeyError> loadKeyring(const Config& config, Log& log);

}  // namespace tenantd
