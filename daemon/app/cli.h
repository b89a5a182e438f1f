#pragma once
// The command line, parsed with CLI11 into plain structs. Usage errors exit 2 with one line that
// names the flag; operational failures exit 1.

#include "config/config.h"

#include <optional>
#include <string>
#include <vector>

namespace tenantd {

enum class CommandKind {
  RUN_DAEMON,
  TENANT_CREATE,
  TENANT_UPDATE,
  TENANT_LIST,
  TOKEN_CREATE,
  TOKEN_REVOKE,
  CHECK_DB,
  KEYS_GENERATE,
  KEYS_ROTATE,
  SECRETS_VERIFY,
  CENTRAL_SNAPSHOT,
  HOST_TOKEN_CREATE,
  EXIT,  // --help or --version handled; exit with `exitCode`.
};

// Flags that override the config file; unset ones leave it alone.
struct Overrides {
  std::optional<std::string> configFile;
  std::optional<std::string> dataDir;
  std::optional<std::string> socketPath;
  std::optional<ListenAddress> listen;
  std::optional<LogLevel> logLevel;
  bool dev = false;
  bool centralRole = false;               // `tenantd central`
  std::optional<std::string> centralUrl;  // --central-url: [central] url
  std::vector<std::string> centralKeys;   // --central-key: [central] verify_keys
};

struct Command {
  CommandKind kind = CommandKind::RUN_DAEMON;
  int exitCode = 0;
  Overrides overrides;
  // tenant create
  std::string tenantId, tenantName, plan, timezone = "UTC";
  // tenant create/update: GET /tenant/info limits; -1 leaves them as they are (unset on create).
  int64_t apiCalls = -1, llmTokens = -1, storage = -1;
  bool timezoneGiven = false;
  // token create / revoke
  std::string role = "admin";
  std::optional<int64_t> ttlSeconds;
  std::string tokenId;
  // keys generate FILE / keys rotate --new-key FILE / central snapshot FILE
  std::string keyFile;
  std::string outputFile;
  // host-token create --host ID
  std::string hostId;
};

// Parses argv. On a usage error prints one line to stderr and returns EXIT with code 2; --help
// and --version print to stdout and return EXIT with code 0.
Command parseCommandLine(int argc, const char* const* argv);

// Defaults, then the config file (if any), then the flags. Throws ConfigError.
Config buildConfig(const Overrides& overrides);

// "90s", "15m", "12h", "30d" -> seconds; nullopt if malformed or not positive.
std::optional<int64_t> parseDuration(std::string_view text);

}  // namespace tenantd
