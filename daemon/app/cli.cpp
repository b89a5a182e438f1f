#include "cli.h"

#include "util/version.h"

#include <CLI/CLI.hpp>

#include <charconv>
#include <iostream>

namespace tenantd {

std::optional<int64_t> parseDuration(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  int64_t unit = 0;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return std::nullopt;
  }
  int64_t n = 0;
  auto digits = text.substr(0, text.size() - 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size() || n <= 0) return std::nullopt;
  if (n > (int64_t{1} << 40) / unit) return std::nullopt;
  return n * unit;
}

namespace {
Command exitWith(int code) {
  Command cmd;
  cmd.kind = CommandKind::EXIT;
  cmd.exitCode = code;
  return cmd;
}

void addGlobalOptions(CLI::App& app, Overrides& o, std::string& listenText,
                      std::string& levelText) {
  app.add_option("--config", o.configFile, "TOML config file (see systemd/tenantd.toml.example)");
  app.add_option("--data-dir", o.dataDir, "Directory of the SQLite store");
  app.add_option("--socket", o.socketPath, "Path of the RPC Unix socket");
  app.add_option("--listen", listenText, "REST listener HOST:PORT (e.g. 127.0.0.1:3000)")
      ->check([](const std::string& v) {
        return parseListenAddress(v) ? std::string() : "expected HOST:PORT, e.g. 127.0.0.1:3000";
      });
  app.add_option("--log-level", levelText, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.add_flag("--dev", o.dev,
               "Development mode: paths under ./, a generated demo tenant and token");
  app.add_option("--central-url", o.centralUrl,
                 "Managed mode: the central's base URL ([central] url)");
  app.add_option("--central-key", o.centralKeys,
                 "A public key file the central's answers must be signed with (repeatable)");
}
}  // namespace

Command parseCommandLine(int argc, const char* const* argv) {
  Command cmd;
  CLI::App app{"tenantd: the per-host tenant sidecar (limits, usage, secrets, config)", "tenantd"};
  app.set_version_flag("--version", std::string("tenantd ") + TENANTD_VERSION);
  std::string listenText, levelText;
  addGlobalOptions(app, cmd.overrides, listenText, levelText);
  app.fallthrough();  // Global flags are accepted after a subcommand too.
  app.require_subcommand(0, 1);

  auto* tenant = app.add_subcommand("tenant", "Manage tenants in the store (offline)");
  tenant->require_subcommand(1);
  auto* tenantCreate = tenant->add_subcommand("create", "Create a tenant");
  tenantCreate->add_option("id", cmd.tenantId, "Tenant id")->required();
  tenantCreate->add_option("--name", cmd.tenantName, "Display name")->required();
  tenantCreate->add_option("--plan", cmd.plan, "Plan (picks limit tiers)")->required();
  tenantCreate->add_option("--timezone", cmd.timezone, "IANA timezone for calendar periods");
  tenantCreate->add_option("--api-calls", cmd.apiCalls, "Limit shown by /tenant/info")
      ->check(CLI::NonNegativeNumber);
  tenantCreate->add_option("--llm-tokens", cmd.llmTokens, "Limit shown by /tenant/info")
      ->check(CLI::NonNegativeNumber);
  tenantCreate->add_option("--storage", cmd.storage, "Limit in bytes shown by /tenant/info")
      ->check(CLI::NonNegativeNumber);
  auto* tenantUpdate = tenant->add_subcommand("update", "Change a tenant's name, plan or limits");
  tenantUpdate->add_option("id", cmd.tenantId, "Tenant id")->required();
  tenantUpdate->add_option("--name", cmd.tenantName, "Display name");
  tenantUpdate->add_option("--plan", cmd.plan, "Plan (picks limit tiers)");
  auto* updateTimezone =
      tenantUpdate->add_option("--timezone", cmd.timezone, "IANA timezone (applies at restart)");
  tenantUpdate->add_option("--api-calls", cmd.apiCalls, "Limit shown by /tenant/info")
      ->check(CLI::NonNegativeNumber);
  tenantUpdate->add_option("--llm-tokens", cmd.llmTokens, "Limit shown by /tenant/info")
      ->check(CLI::NonNegativeNumber);
  tenantUpdate->add_option("--storage", cmd.storage, "Limit in bytes shown by /tenant/info")
      ->check(CLI::NonNegativeNumber);
  auto* tenantList = tenant->add_subcommand("list", "List tenants");

  auto* token = app.add_subcommand("token", "Manage API tokens (offline)");
  token->require_subcommand(1);
  auto* tokenCreate =
      token->add_subcommand("create", "Create a bearer token; prints it alone on the last line");
  tokenCreate->add_option("--tenant", cmd.tenantId, "Tenant the token acts for")->required();
  tokenCreate->add_option("--role", cmd.role, "admin or reader")
      ->check(CLI::IsMember({"admin", "reader"}));
  std::string ttlText;
  tokenCreate->add_option("--ttl", ttlText, "Lifetime such as 90s, 15m, 12h, 30d")
      ->check([](const std::string& v) {
        return parseDuration(v) ? std::string() : "expected a duration such as 15m, 12h or 30d";
      });
  auto* tokenRevoke = token->add_subcommand("revoke", "Revoke a token by its id (tok_...)");
  tokenRevoke->add_option("id", cmd.tokenId, "Token id")->required();

  auto* central = app.add_subcommand(
      "central",
      "Run as the central: the tenant API as source of truth, and /v1/sync for sidecars");
  central->require_subcommand(0, 1);
  auto* centralSnapshot = central->add_subcommand(
      "snapshot", "Write the full signed snapshot of the store to FILE (a static central)");
  centralSnapshot->add_option("file", cmd.outputFile, "Path of the snapshot file")->required();
  auto* hostToken = app.add_subcommand("host-token", "Host tokens of a central (offline)");
  hostToken->require_subcommand(1);
  auto* hostTokenCreate = hostToken->add_subcommand(
      "create", "Create a host and its token; prints the token alone on the last line");
  hostTokenCreate->add_option("--host", cmd.hostId, "The host's id")->required();
  auto* checkDb = app.add_subcommand("check-db", "Check the store's integrity and invariants");

  auto* keys = app.add_subcommand("keys", "Master keys for tenant secrets");
  keys->require_subcommand(1);
  auto* keysGenerate = keys->add_subcommand("generate", "Write a new random key file (0600)");
  keysGenerate->add_option("file", cmd.keyFile, "Path of the new key file")->required();
  auto* keysRotate = keys->add_subcommand(
      "rotate", "Re-seal every secret under a new key, in one transaction (offline)");
  keysRotate->add_option("--new-key", cmd.keyFile, "The new key file")->required();
  auto* secrets = app.add_subcommand("secrets", "Sealed tenant secrets (offline)");
  secrets->require_subcommand(1);
  auto* secretsVerify =
      secrets->add_subcommand("verify", "Open every secret with the configured keys");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return exitWith(0);
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return exitWith(0);
  } catch (const CLI::CallForVersion&) {
    std::cout << "tenantd " << TENANTD_VERSION << "\n";
    return exitWith(0);
  } catch (const CLI::ParseError& e) {
    std::cerr << "tenantd: " << e.what() << " (see tenantd --help)\n";
    return exitWith(2);
  }

  if (!listenText.empty()) cmd.overrides.listen = parseListenAddress(listenText);
  if (!levelText.empty()) {
    LogLevel level;
    parseLogLevel(levelText, level);
    cmd.overrides.logLevel = level;
  }
  if (!ttlText.empty()) cmd.ttlSeconds = parseDuration(ttlText);
  cmd.timezoneGiven = updateTimezone->count() > 0;

  if (tenantCreate->parsed())
    cmd.kind = CommandKind::TENANT_CREATE;
  else if (tenantUpdate->parsed())
    cmd.kind = CommandKind::TENANT_UPDATE;
  else if (tenantList->parsed())
    cmd.kind = CommandKind::TENANT_LIST;
  else if (tokenCreate->parsed())
    cmd.kind = CommandKind::TOKEN_CREATE;
  else if (tokenRevoke->parsed())
    cmd.kind = CommandKind::TOKEN_REVOKE;
  else if (checkDb->parsed())
    cmd.kind = CommandKind::CHECK_DB;
  else if (keysGenerate->parsed())
    cmd.kind = CommandKind::KEYS_GENERATE;
  else if (keysRotate->parsed())
    cmd.kind = CommandKind::KEYS_ROTATE;
  else if (secretsVerify->parsed())
    cmd.kind = CommandKind::SECRETS_VERIFY;
  else if (centralSnapshot->parsed())
    cmd.kind = CommandKind::CENTRAL_SNAPSHOT;
  else if (hostTokenCreate->parsed())
    cmd.kind = CommandKind::HOST_TOKEN_CREATE;
  else
    cmd.kind = CommandKind::RUN_DAEMON;
  cmd.overrides.centralRole = central->parsed();
  return cmd;
}

Config buildConfig(const Overrides& o) {
  Config config = o.dev ? devDefaults() : Config{};
  if (o.configFile) config = applyConfigFile(std::move(config), *o.configFile);
  if (o.dataDir) config.dataDir = *o.dataDir;
  if (o.socketPath) config.socketPath = *o.socketPath;
  if (o.listen) config.listen = *o.listen;
  if (o.logLevel) config.logLevel = *o.logLevel;
  config.centralRole = o.centralRole;
  if (o.centralUrl) {
    std::string url = *o.centralUrl;
    if (!url.starts_with("http://") && !url.starts_with("https://")) {
      throw ConfigError("--central-url: expected an http:// or https:// URL");
    }
    while (url.ends_with("/")) url.pop_back();
    config.central.url = url;
  }
  if (!o.centralKeys.empty()) config.central.verifyKeys = o.centralKeys;
  if (!config.central.url.empty() && !config.central.snapshotUrl.empty()) {
    throw ConfigError("[central] url and snapshot_url: set one, not both");
  }
  return config;
}

}  // namespace tenantd
