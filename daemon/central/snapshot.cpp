#include "central/snapshot.h"

#include "sync/document.h"
#include "sync/recipient.h"

namespace tenantd::central {

namespace {
std::optional<std::pair<std::string, int64_t>> versioned(const std::optional<VersionedDoc>& d) {
  if (!d) return std::nullopt;
  return std::make_pair(d->doc, d->version);
}

std::vector<sync::SyncedSecret> sealedSecrets(WriterContext& ctx, const Tenant& tenant,
                                              const SnapshotSource& source, UnixMillis now,
                                              Log& log) {
  std::vector<sync::SyncedSecret> out;
  if (!source.recipient) return out;
  std::string recipientId = sync::keyIdOf(*source.recipient);
  for (auto& name : ctx.secrets().names(tenant.id)) {
    auto stored = ctx.secrets().get(tenant.id, name);
    if (!stored || stored->format != SEAL_FORMAT) continue;
    if (stored->expiresAt && *stored->expiresAt <= now) continue;
    const SecretKey* key = source.keyring.find(stored->sealed.keyId);
    auto value = key ? open(*key, labelOf(tenant.id, *stored), stored->sealed) : std::nullopt;
    if (!value) {
      log.warn("central", "tenant " + tenant.id + ": secret " + name +
                              " does not open with this central's keys; not sent");
      continue;
    }
    out.push_back({name, stored->version, stored->expiresAt, recipientId,
                   sync::sealTo(*source.recipient, *value)});
  }
  return out;
}
}  // namespace

Snapshot readSnapshot(WriterContext& ctx, const SnapshotSource& source,
                      std::optional<int64_t> since, UnixMillis now, Log& log) {
  Snapshot out;
  out.version = ctx.sync().version();
  std::vector<sync::StoredDocuments> docs;
  std::vector<std::string> deleted;
  auto add = [&](const Tenant& tenant) {
    sync::StoredDocuments d;
    d.info = tenant;
    d.config = versioned(ctx.settings().getConfig(tenant.id));
    d.rbac = versioned(ctx.settings().getRbac(tenant.id));
    if (auto rules = ctx.usage().loadRules(tenant.id)) d.rules = {rules->json, rules->version};
    d.tokens = ctx.catalog().tokensWithHashes(tenant.id);
    d.secrets = sealedSecrets(ctx, tenant, source, now, log);
    docs.push_back(std::move(d));
  };
  if (!since) {
    for (auto& tenant : ctx.catalog().listTenants()) add(tenant);
  } else {
    for (auto& changed : ctx.sync().changedSince(*since)) {
      if (auto tenant = ctx.catalog().findTenant(changed.id)) {
        add(*tenant);
      } else {
        deleted.push_back(changed.id);
      }
    }
  }
  out.tenants = docs.size();
  std::string payload = sync::writePayload(source.centralId, out.version, !since, docs, deleted);
  std::vector<const sync::SigningKey*> keys;
  for (auto& k : source.signers) keys.push_back(k.get());
  out.envelope = sync::sealEnvelope(payload, keys);
  return out;
}

}  // namespace tenantd::central
