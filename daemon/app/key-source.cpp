#include "key-source.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

namespace tenantd {

namespace {
std::optional<KeyError> take(std::variant<std::unique_ptr<SecretKey>, KeyError> loaded,
                             Keyring& ring, bool primary) {
  if (auto* e = std::get_if<KeyError>(&loaded)) return *e;
  auto& key = std::get<std::unique_ptr<SecretKey>>(loaded);
  if (primary) {
    ring.setPrimary(std::move(key));
  } else {
    ring.addPrevious(std::move(key));
  }
  return std::nullopt;
}
}  // namespace

std::variant<Keyring, KeyError> loadKeyring(const Config& config, Log& log) {
  Keyring ring;
  const char* credentials = getenv("CREDENTIALS_DIRECTORY");
  std::string credential = credentials != nullptr ? std::string(credentials) + "/master.key" : "";
  if (!credential.empty() && std::filesystem::exists(credential)) {
    // systemd makes credentials private to the service; their mode is its business.
    if (auto e = take(readKeyFile(credential, false), ring, true)) return *e;
    log.info("secrets", "master key " + ring.primary().id() + " from the systemd credential");
  } else if (!config.keyFile.empty()) {
    if (auto e = take(readKeyFile(config.keyFile, true), ring, true)) return *e;
    log.info("secrets", "master key " + ring.primary().id() + " from " + config.keyFile);
  } else if (config.dev) {
    std::string path = config.dataDir + "/master.key";
    if (!std::filesystem::exists(path)) {
      std::filesystem::create_directories(config.dataDir);
      if (auto e = generateKeyFile(path)) return *e;
    }
    if (auto e = take(readKeyFile(path, true), ring, true)) return *e;
    log.warn("secrets",
             "DEV MODE: secrets are sealed with a generated key kept next to the "
             "database (" +
                 path +
                 "); anyone who copies the data directory can read "
                 "them. Never use --dev in production.");
  } else {
    return KeyError{
        "no master key for tenant secrets: create one with `tenantd keys generate "
        "/etc/tenantd/master.key` and set [secrets] key_file, or pass a systemd credential "
        "named master.key"};
  }
  for (auto& path : config.previousKeyFiles) {
    if (auto e = take(readKeyFile(path, true), ring, false)) return *e;
  }
  return ring;
}

}  // namespace tenantd
