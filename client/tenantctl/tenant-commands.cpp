// status, tenant and token: the Admin capability's catalog side.

#include "tenantctl/commands.h"

#include <memory>

namespace tenantd::ctl {

namespace {
Json limitValue(int64_t v) {
  return v < 0 ? Json(nullptr) : Json(v);
}

Json tenantJson(rpc::TenantInfo::Reader t) {
  auto limits = t.getLimits();
  return Json{{"id", t.getId().cStr()},
              {"name", t.getName().cStr()},
              {"plan", t.getPlan().cStr()},
              {"timezone", t.getTimezone().cStr()},
              {"createdAt", t.getCreatedAt().cStr()},
              {"limits", Json{{"apiCalls", limitValue(limits.getApiCalls())},
                              {"llmTokens", limitValue(limits.getLlmTokens())},
                              {"storage", limitValue(limits.getStorage())}}}};
}

Json tokenJson(rpc::TokenInfo::Reader t) {
  return Json{
      {"id", t.getId().cStr()},
      {"tenantId", t.getTenantId().cStr()},
      {"role", t.getRole().cStr()},
      {"createdAt", t.getCreatedAt().cStr()},
      {"expiresAt", t.getExpiresAt().size() == 0 ? Json(nullptr) : Json(t.getExpiresAt().cStr())},
      {"revoked", t.getRevoked()}};
}

void printTenant(Context& ctx, const Json& t) {
  printFields(ctx.out, {{"id", cell(t["id"])},
                        {"name", cell(t["name"])},
                        {"plan", cell(t["plan"])},
                        {"timezone", cell(t["timezone"])},
                        {"created", cell(t["createdAt"])},
                        {"api calls", cell(t["limits"]["apiCalls"])},
                        {"llm tokens", cell(t["limits"]["llmTokens"])},
                        {"storage", cell(t["limits"]["storage"])}});
}

std::string uptime(uint64_t seconds) {
  std::string out;
  if (seconds >= 86400) out += std::to_string(seconds / 86400) + "d ";
  if (seconds >= 3600) out += std::to_string(seconds / 3600 % 24) + "h ";
  if (seconds >= 60) out += std::to_string(seconds / 60 % 60) + "m ";
  return out + std::to_string(seconds % 60) + "s";
}

struct TenantArgs {
  std::string id, name, plan, timezone;
  int64_t apiCalls = -1, llmTokens = -1, storage = -1;
};

// --api-calls, --llm-tokens, --storage: what GET /tenant/info shows as the tenant's limits.
void addLimitOptions(CLI::App* command, TenantArgs& a) {
  command->add_option("--api-calls", a.apiCalls, "API calls limit shown by tenant info")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--llm-tokens", a.llmTokens, "LLM tokens limit shown by tenant info")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--storage", a.storage, "Storage limit in bytes shown by tenant info")
      ->check(CLI::NonNegativeNumber);
}

void setLimits(rpc::TenantLimits::Builder out, const TenantArgs& a) {
  out.setApiCalls(a.apiCalls);
  out.setLlmTokens(a.llmTokens);
  out.setStorage(a.storage);
}

void showTenant(Context& ctx, rpc::TenantInfo::Reader t, const char* verb) {
  Json j = tenantJson(t);
  if (ctx.json()) return ctx.printJson(j);
  if (verb == nullptr) return printTenant(ctx, j);
  ctx.out << verb << " tenant " << t.getId().cStr() << " (" << t.getName().cStr() << ", plan "
          << t.getPlan().cStr() << ")\n";
}
}  // namespace

CLI::Option* addTenantOption(CLI::App& command, std::string& tenant) {
  return command.add_option("-t,--tenant", tenant, "Tenant id")->required();
}

void addStatusCommand(CLI::App& app, Action& action) {
  auto* status = app.add_subcommand("status", "The daemon's state: version, readiness, counts");
  status->callback([&action] {
    action = [](Context& ctx) {
      auto response = ctx.wait(ctx.admin().statusRequest().send());
      auto s = response.getStatus();
      Json j{{"version", s.getVersion().cStr()},
             {"uptimeSeconds", s.getUptimeSeconds()},
             {"ready", s.getReady()},
             {"reason", s.getReason().cStr()},
             {"tenants", s.getTenants()},
             {"restListen", s.getRestListen().cStr()},
             {"socketPath", s.getSocketPath().cStr()},
             {"databasePath", s.getDatabasePath().cStr()},
             {"rpcConnections", s.getRpcConnections()}};
      if (ctx.json()) return ctx.printJson(j);
      printFields(ctx.out, {{"version", s.getVersion().cStr()},
                            {"uptime", uptime(s.getUptimeSeconds())},
                            {"ready", s.getReady() ? "yes" : "no"},
                            {"reason", s.getReason().cStr()},
                            {"tenants", std::to_string(s.getTenants())},
                            {"rest", s.getRestListen().cStr()},
                            {"socket", s.getSocketPath().cStr()},
                            {"database", s.getDatabasePath().cStr()},
                            {"rpc connections", std::to_string(s.getRpcConnections())}});
    };
  });
}

void addTenantCommands(CLI::App& app, Action& action) {
  auto* tenant = app.add_subcommand("tenant", "Create, list, show and update tenants");
  tenant->require_subcommand(1);

  auto create = std::make_shared<TenantArgs>();
  auto* c = tenant->add_subcommand("create", "Create a tenant");
  c->add_option("id", create->id, "Tenant id: letters, digits, '_', '.', '-'")->required();
  c->add_option("--name", create->name, "Display name")->required();
  c->add_option("--plan", create->plan, "Plan (picks limit tiers)")->required();
  c->add_option("--timezone", create->timezone, "IANA zone of its calendar windows (UTC)");
  addLimitOptions(c, *create);
  c->callback([&action, create] {
    action = [create](Context& ctx) {
      auto request = ctx.admin().createTenantRequest();
      request.setId(create->id);
      request.setName(create->name);
      request.setPlan(create->plan);
      request.setTimezone(create->timezone.empty() ? "UTC" : create->timezone);
      setLimits(request.initLimits(), *create);
      auto response = ctx.wait(request.send());
      showTenant(ctx, response.getTenant(), "created");
    };
  });

  auto* list = tenant->add_subcommand("list", "List every tenant");
  list->callback([&action] {
    action = [](Context& ctx) {
      auto response = ctx.wait(ctx.admin().listTenantsRequest().send());
      Json rows = Json::array();
      for (auto t : response.getTenants()) rows.push_back(tenantJson(t));
      if (ctx.json()) return ctx.printJson(rows);
      Table table({"id", "name", "plan", "timezone", "created"});
      for (auto& t : rows) {
        table.add({cell(t["id"]), cell(t["name"]), cell(t["plan"]), cell(t["timezone"]),
                   cell(t["createdAt"])});
      }
      if (table.empty()) {
        ctx.out << "no tenants\n";
      } else {
        table.print(ctx.out);
      }
    };
  });

  auto show = std::make_shared<std::string>();
  auto* s = tenant->add_subcommand("show", "Show one tenant");
  s->add_option("id", *show, "Tenant id")->required();
  s->callback([&action, show] {
    action = [show](Context& ctx) {
      auto request = ctx.admin().getTenantRequest();
      request.setId(*show);
      auto response = ctx.wait(request.send());
      showTenant(ctx, response.getTenant(), nullptr);
    };
  });

  auto quotas = std::make_shared<std::string>();
  auto* q = tenant->add_subcommand("quotas", "Show what a tenant holds against each quota");
  q->add_option("id", *quotas, "Tenant id")->required();
  q->callback([&action, quotas] {
    action = [quotas](Context& ctx) {
      auto request = ctx.admin().quotasRequest();
      request.setTenantId(*quotas);
      auto response = ctx.wait(request.send());
      Json rows = Json::array();
      for (auto quota : response.getQuotas()) {
        rows.push_back({{"name", quota.getName().cStr()},
                        {"used", quota.getUsed()},
                        {"limit", quota.getLimit()}});
      }
      if (ctx.json()) return ctx.printJson(rows);
      Table table({"quota", "used", "limit"});
      for (auto& r : rows) table.add({cell(r["name"]), cell(r["used"]), cell(r["limit"])});
      table.print(ctx.out);
    };
  });

  auto update = std::make_shared<TenantArgs>();
  auto* u = tenant->add_subcommand("update", "Change a tenant's name, plan, zone or limits");
  u->add_option("id", update->id, "Tenant id")->required();
  u->add_option("--name", update->name, "New display name");
  u->add_option("--plan", update->plan, "New plan");
  u->add_option("--timezone", update->timezone, "New IANA zone");
  addLimitOptions(u, *update);
  u->callback([&action, update] {
    action = [update](Context& ctx) {
      auto request = ctx.admin().updateTenantRequest();
      request.setId(update->id);
      auto change = request.initUpdate();
      change.setName(update->name);
      change.setPlan(update->plan);
      change.setTimezone(update->timezone);
      setLimits(change.initLimits(), *update);
      auto response = ctx.wait(request.send());
      showTenant(ctx, response.getTenant(), "updated");
    };
  });
}

void addTokenCommands(CLI::App& app, Action& action) {
  auto* token = app.add_subcommand("token", "Create, revoke and list REST API tokens");
  token->require_subcommand(1);

  struct CreateArgs {
    std::string tenant, role = "admin";
    int64_t ttlSeconds = 0;
  };
  auto create = std::make_shared<CreateArgs>();
  auto* c = token->add_subcommand("create", "Issue a token; it is shown once");
  addTenantOption(*c, create->tenant);
  c->add_option("--role", create->role, "admin or reader")
      ->check(CLI::IsMember({"admin", "reader"}))
      ->capture_default_str();
  c->add_option("--ttl", create->ttlSeconds, "Lifetime: 3600, 90m, 12h, 30d (none: no expiry)")
      ->transform(CLI::AsNumberWithUnit(
          std::map<std::string, int64_t>{{"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}}))
      ->check(CLI::PositiveNumber);
  c->callback([&action, create] {
    action = [create](Context& ctx) {
      auto request = ctx.admin().createTokenRequest();
      request.setTenantId(create->tenant);
      request.setRole(create->role);
      request.setTtlSeconds(create->ttlSeconds);
      auto response = ctx.wait(request.send());
      auto info = response.getInfo();
      if (ctx.json()) {
        return ctx.printJson(
            Json{{"token", response.getToken().cStr()}, {"info", tokenJson(info)}});
      }
      ctx.out << "created token " << info.getId().cStr() << " for tenant "
              << info.getTenantId().cStr() << " (role " << info.getRole().cStr();
      if (info.getExpiresAt().size() > 0) ctx.out << ", expires " << info.getExpiresAt().cStr();
      ctx.out << "); it is shown once:\n" << response.getToken().cStr() << "\n";
    };
  });

  auto revoke = std::make_shared<std::string>();
  auto* r = token->add_subcommand("revoke", "Revoke a token by its id (tok_...)");
  r->add_option("token-id", *revoke, "The token's public id")->required();
  r->callback([&action, revoke] {
    action = [revoke](Context& ctx) {
      auto request = ctx.admin().revokeTokenRequest();
      request.setTokenId(*revoke);
      ctx.wait(request.send());
      if (ctx.json()) return ctx.printJson(Json{{"revoked", *revoke}});
      ctx.out << "revoked " << *revoke << "\n";
    };
  });

  auto list = std::make_shared<std::string>();
  auto* l = token->add_subcommand("list", "List a tenant's tokens (never the secrets)");
  addTenantOption(*l, *list);
  l->callback([&action, list] {
    action = [list](Context& ctx) {
      auto request = ctx.admin().listTokensRequest();
      request.setTenantId(*list);
      auto response = ctx.wait(request.send());
      Json rows = Json::array();
      for (auto t : response.getTokens()) rows.push_back(tokenJson(t));
      if (ctx.json()) return ctx.printJson(rows);
      Table table({"id", "role", "created", "expires", "revoked"});
      for (auto& t : rows) {
        table.add({cell(t["id"]), cell(t["role"]), cell(t["createdAt"]), cell(t["expiresAt"]),
                   t["revoked"].get<bool>() ? "yes" : "no"});
      }
      if (table.empty()) {
        ctx.out << "no tokens\n";
      } else {
        table.print(ctx.out);
      }
    };
  });
}

}  // namespace tenantd::ctl
