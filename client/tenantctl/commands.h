#pragma once
// tenantctl's commands. Each add*() registers a command group on the CLI11 app; when the command
// line selects one of its commands, its callback sets `action`, which cli.cpp runs once the
// connection's Context exists.

#include "tenantctl/context.h"

#include <CLI/CLI.hpp>

#include <functional>

namespace tenantd::ctl {

using Action = std::function<void(Context&)>;

// tenant-commands.cpp: status, tenant create|list|show|update, token create|revoke|list.
void addStatusCommand(CLI::App& app, Action& action);
void addTenantCommands(CLI::App& app, Action& action);
void addTokenCommands(CLI::App& app, Action& action);
// data-commands.cpp: limits get|set|check|track, usage, secret put|get|rm|list,
// config get|set, audit.
void addLimitsCommands(CLI::App& app, Action& action);
void addUsageCommand(CLI::App& app, Action& action);
void addSecretCommands(CLI::App& app, Action& action);
void addConfigCommands(CLI::App& app, Action& action);
void addAuditCommand(CLI::App& app, Action& action);
// bench.cpp
void addBenchCommand(CLI::App& app, Action& action);

// "--tenant ID" (also -t), required.
CLI::Option* addTenantOption(CLI::App& command, std::string& tenant);

}  // namespace tenantd::ctl
