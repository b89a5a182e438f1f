#include "catalog-service.h"

#include "service/tenant-loader.h"

#include <set>

namespace tenantd {

std::optional<NewToken> createToken(Catalog& catalog, std::string_view tenantId, Role role,
                                    std::optional<int64_t> ttlSeconds, UnixMillis now) {
  NewToken token{issueToken(), {}};
  TokenRecord& record = token.record;
  record.id = token.issued.id;
  record.tenantId = std::string(tenantId);
  record.role = role;
  record.createdAtMs = now;
  if (ttlSeconds) record.expiresAtMs = now + *ttlSeconds * 1000;
  if (catalog.addToken(record, token.issued.hash) == Catalog::TokenAdded::NO_SUCH_TENANT) {
    return std::nullopt;
  }
  return token;
}

CatalogService::CatalogService(Writer& writer, Tenants& tenants, Auth& auth, const Clock& clock,
                               Log& log)
    : writer_(writer), tenants_(tenants), auth_(auth), clock_(clock), log_(log) {}

kj::Promise<std::optional<Tenant>> CatalogService::createTenant(Tenant tenant, std::string actor) {
  tenant.createdAtMs = clock_.now();
  struct Created {
    std::unique_ptr<TenantState> state;  // Null: the id was taken.
  };
  return writer_
      .submit<Created>([this, tenant, actor](WriterContext& ctx) {
        Created out;
        if (ctx.catalog().createTenant(tenant) == Catalog::Created::ALREADY_EXISTS) return out;
        ctx.secrets().audit(
            {0, tenant.id, tenant.createdAtMs, actor, "tenant.create", tenant.id, {}});
        // Built here, as the catalog refresh builds tenants the CLI created; adopted below.
        out.state = loadTenant(ctx.db, tenant, tenant.createdAtMs, log_);
        return out;
      })
      .then([this, tenant, actor](Created created) -> std::optional<Tenant> {
        if (!created.state) return std::nullopt;
        // The catalog refresh may have adopted it first (it reads the same committed row);
        // adopt() then keeps the one already there.
        tenants_.adopt(std::move(created.state));
        log_.info("audit", "tenant " + tenant.id + " created by " + actor);
        return tenant;
      });
}

kj::Promise<std::optional<Tenant>> CatalogService::updateTenant(std::string id, TenantPatch patch,
                                                                std::string actor) {
  UnixMillis now = clock_.now();
  return writer_
      .submit<std::optional<Tenant>>([id, patch, actor, now](WriterContext& ctx) {
        auto tenant = ctx.catalog().findTenant(id);
        if (!tenant) return tenant;
        if (patch.name) tenant->name = *patch.name;
        if (patch.plan) tenant->plan = *patch.plan;
        if (patch.timezone) tenant->timezone = *patch.timezone;
        if (patch.apiCalls) tenant->apiCallsLimit = *patch.apiCalls;
        if (patch.llmTokens) tenant->llmTokensLimit = *patch.llmTokens;
        if (patch.storage) tenant->storageLimit = *patch.storage;
        ctx.catalog().updateTenant(*tenant);
        ctx.secrets().audit({0, id, now, actor, "tenant.update", id, {}});
        return tenant;
      })
      .then([this, actor](std::optional<Tenant> tenant) {
        if (tenant) {
          tenants_.updateInfo(*tenant);
          log_.info("audit", "tenant " + tenant->id + " updated by " + actor);
        }
        return tenant;
      });
}

kj::Promise<std::vector<Tenant>> CatalogService::listTenants() {
  return writer_.submit<std::vector<Tenant>>(
      [](WriterContext& ctx) { return ctx.catalog().listTenants(); });
}

kj::Promise<std::optional<Tenant>> CatalogService::findTenant(std::string id) {
  return writer_.submit<std::optional<Tenant>>(
      [id](WriterContext& ctx) { return ctx.catalog().findTenant(id); });
}

kj::Promise<std::optional<NewToken>> CatalogService::createToken(std::string tenantId, Role role,
                                                                 std::optional<int64_t> ttlSeconds,
                                                                 std::string actor) {
  UnixMillis now = clock_.now();
  return writer_
      .submit<std::optional<NewToken>>(
          [tenantId, role, ttlSeconds, actor, now](WriterContext& ctx) {
            auto token = tenantd::createToken(ctx.catalog(), tenantId, role, ttlSeconds, now);
            if (token) {
              ctx.secrets().audit({0, tenantId, now, actor, "token.create", token->record.id, {}});
            }
            return token;
          })
      .then([this, actor](std::optional<NewToken> token) {
        if (token) {
          auth_.add(token->issued.hash, token->record);
          log_.info("audit", "tenant " + token->record.tenantId + ": token " + token->record.id +
                                 " created by " + actor);
        }
        return token;
      });
}

kj::Promise<Catalog::Revoked> CatalogService::revokeToken(std::string tokenId, std::string actor) {
  UnixMillis now = clock_.now();
  return writer_
      .submit<Catalog::Revoked>([tokenId, actor, now](WriterContext& ctx) {
        auto tenant = ctx.catalog().tenantOfToken(tokenId);
        auto revoked = ctx.catalog().revokeToken(tokenId, now);
        if (revoked == Catalog::Revoked::REVOKED) {
          ctx.secrets().audit({0, *tenant, now, actor, "token.revoke", tokenId, {}});
        }
        return revoked;
      })
      .then([this, tokenId, actor, now](Catalog::Revoked revoked) {
        if (revoked == Catalog::Revoked::REVOKED) {
          auth_.revoke(tokenId, now);
          log_.info("audit", "token " + tokenId + " revoked by " + actor);
        }
        return revoked;
      });
}

kj::Promise<std::optional<std::vector<TokenRecord>>> CatalogService::listTokens(
    std::string tenantId) {
  return writer_.submit<std::optional<std::vector<TokenRecord>>>(
      [tenantId](WriterContext& ctx) -> std::optional<std::vector<TokenRecord>> {
        if (!ctx.catalog().findTenant(tenantId)) return std::nullopt;
        return ctx.catalog().listTokens(tenantId);
      });
}

kj::Promise<bool> CatalogService::changedOutside() {
  return writer_.submit<int64_t>([](WriterContext& ctx) { return ctx.db.dataVersion(); })
      .then([this](int64_t version) {
        bool changed = dataVersion_ != -1 && version != dataVersion_;
        dataVersion_ = version;
        return changed;
      });
}

kj::Promise<void> CatalogService::reload() {
  struct Changes {
    std::vector<std::pair<TokenHash, TokenRecord>> tokens;
    std::vector<std::unique_ptr<TenantState>> newTenants;
    std::vector<Tenant> known;  // Current info of tenants already loaded.
  };
  std::set<std::string> known;  // A copy: the writer thread must not read loop-thread state.
  for (auto& tenant : tenants_.ids()) known.insert(tenant);
  UnixMillis now = clock_.now();
  return writer_
      .submit<kj::Own<Changes>>([this, known = std::move(known), now](WriterContext& ctx) {
        auto changes = kj::heap<Changes>();
        changes->tokens = ctx.catalog().listAllTokens();
        for (auto& tenant : ctx.catalog().listTenants()) {
          if (!known.count(tenant.id)) {
            changes->newTenants.push_back(loadTenant(ctx.db, tenant, now, log_));
          } else {
            changes->known.push_back(tenant);
          }
        }
        return changes;
      })
      .then([this](kj::Own<Changes> changes) {
        auth_.replaceAll(std::move(changes->tokens));
        for (auto& info : changes->known) tenants_.updateInfo(info);
        for (auto& t : changes->newTenants) {
          log_.info("store", "tenant " + t->info.id + " added");
          tenants_.adopt(std::move(t));
        }
        log_.info("store", "reloaded tenants and tokens after a change from outside the daemon");
      });
}

}  // namespace tenantd
