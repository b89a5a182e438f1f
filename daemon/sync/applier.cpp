#include "sync/applier.h"

#include "service/tenant-loader.h"

#include <kj/debug.h>

#include <chrono>
#include <set>

namespace tenantd::sync {

struct Applier::Committed {
  kj::Own<SyncPayload> payload;  // Owned by the job while it runs, then handed back.
  std::vector<std::unique_ptr<TenantState>> newTenants;
  std::vector<std::pair<TokenHash, TokenRecord>> tokens;
  std::optional<std::string> refused;  // A secret that did not open: nothing was written.
};

Applier::Applier(Services& services, Writer& writer, const Keyring& keyring, Recipients recipients,
                 std::optional<AppliedSync> applied, Log& log)
    : services_(services),
      writer_(writer),
      keyring_(keyring),
      recipients_(kj::mv(recipients)),
      applied_(std::move(applied)),
      log_(log) {}

namespace {
const RecipientKey* keyNamed(const Applier::Recipients& keys, std::string_view id) {
  for (auto& k : keys) {
    if (k->id() == id) return k.get();
  }
  return nullptr;
}

ApplyOutcome refused(std::string reason, std::string message) {
  ApplyOutcome out;
  out.kind = ApplyOutcome::Kind::REFUSED;
  out.reason = std::move(reason);
  out.message = std::move(message);
  return out;
}
}  // namespace

kj::Promise<ApplyOutcome> Applier::apply(SyncPayload payload) {
  if (applied_) {
    if (payload.central != applied_->central) {
      return refused("other_central", "the payload comes from central \"" +
                                          shortName(payload.central) + "\", this host follows \"" +
                                          applied_->central + "\"");
    }
    if (payload.version < applied_->version) {
      return refused("replayed", "version " + std::to_string(payload.version) +
                                     " is older than the applied " +
                                     std::to_string(applied_->version));
    }
    if (payload.version == applied_->version) {
      ApplyOutcome same;
      same.kind = ApplyOutcome::Kind::UNCHANGED;
      return same;
    }
  }
  // Every secret must be sealed to the key this host holds: checked before anything changes.
  for (auto& doc : payload.tenants) {
    for (auto& s : doc.secrets) {
      if (keyNamed(recipients_, s.recipient) == nullptr) {
        std::string held;
        for (auto& k : recipients_) held += (held.empty() ? "" : ", ") + k->id();
        return refused("secret", "tenant " + doc.info.id + ": secret " + s.name +
                                     " is sealed to key " + shortName(s.recipient) +
                                     (held.empty() ? ", and this host holds no recipient key"
                                                   : ", this host holds " + held));
      }
    }
  }

  // A full snapshot deletes every tenant it does not name.
  std::vector<std::string> deleted = payload.deleted;
  if (payload.full) {
    std::set<std::string> named;
    for (auto& doc : payload.tenants) named.insert(doc.info.id);
    for (auto& id : services_.tenants.ids()) {
      if (!named.count(id)) deleted.push_back(id);
    }
  }
  // Deleted tenants stop being served now, and their recorded usage goes to the writer ahead of
  // the job that deletes them (the rows reference the tenant).
  std::vector<std::string> retired;
  for (auto& id : deleted) {
    if (services_.tenants.retire(id)) retired.push_back(id);
  }
  services_.batcher.flushNow();

  std::set<std::string> known;
  for (auto& doc : payload.tenants) {
    if (services_.tenants.find(doc.info.id)) known.insert(doc.info.id);
  }
  UnixMillis now = services_.clock.now();
  Recipients recipients = recipients_;
  const Keyring& keyring = keyring_;
  Log& log = log_;
  auto job = [owned = kj::heap<SyncPayload>(kj::mv(payload)), deleted, known = kj::mv(known), now,
              recipients, &keyring, &log](WriterContext& ctx) mutable {
    auto out = kj::heap<Committed>();
    const SyncPayload& p = *owned;
    out->payload = kj::mv(owned);
    // Open every value first: one that does not open refuses the payload before any write.
    std::vector<std::vector<SecretValue>> values(p.tenants.size());
    for (size_t i = 0; i < p.tenants.size(); ++i) {
      for (auto& s : p.tenants[i].secrets) {
        const RecipientKey* key = keyNamed(recipients, s.recipient);  // Checked on the loop.
        auto value = key->open(s.sealed);
        if (!value) {
          out->refused = "tenant " + p.tenants[i].info.id + ": secret " + s.name +
                         " does not open with key " + key->id();
          return out;
        }
        values[i].push_back(kj::mv(*value));
      }
    }
    SyncStore& store = ctx.sync();
    for (auto& id : deleted) store.deleteTenant(id);
    for (auto& doc : p.tenants) {
      store.putTenant(doc.info);
      store.deleteTokens(doc.info.id);
    }
    for (size_t i = 0; i < p.tenants.size(); ++i) {
      auto& doc = p.tenants[i];
      const std::string& id = doc.info.id;
      for (auto& t : doc.tokens) store.insertToken(t.record, t.hash);
      auto text = [](auto& d) {
        return d ? std::optional<std::string>(d->json) : std::nullopt;
      };
      auto version = [](auto& d) -> int64_t {
        return d ? d->version : 0;
      };
      store.putDocument(MirroredDoc::CONFIG, id, text(doc.config), version(doc.config), now);
      store.putDocument(MirroredDoc::RBAC, id, text(doc.rbac), version(doc.rbac), now);
      store.putDocument(MirroredDoc::RULES, id, text(doc.rules), version(doc.rules), now);
      std::vector<std::string> names;
      for (size_t j = 0; j < doc.secrets.size(); ++j) {
        auto& s = doc.secrets[j];
        store.putSecret(id, s.name, s.version, values[i][j], keyring.primary(), s.expiresAt, now);
        names.push_back(s.name);
      }
      store.deleteSecretsExcept(id, names);  // `names` is sorted: the parser sorts secrets.
    }
    store.setApplied({p.central, p.version, now});
    for (auto& doc : p.tenants) {
      if (!known.count(doc.info.id)) {
        out->newTenants.push_back(loadTenant(ctx.db, doc.info, now, log));
      }
    }
    out->tokens = ctx.catalog().listAllTokens();
    return out;
  };
  return writer_.submit<kj::Own<Committed>>(kj::mv(job))
      .then(
          [this, retired](kj::Own<Committed> committed) mutable -> kj::Promise<ApplyOutcome> {
            if (committed->refused) {
              for (auto& id : retired) services_.tenants.restore(id);
              return refused("secret", *committed->refused);
            }
            ApplyOutcome out;
            SyncPayload& p = *committed->payload;
            out.tenants = p.tenants.size();
            out.deleted = retired.size();
            applied_ = AppliedSync{p.central, p.version, services_.clock.now()};
            auto started = std::chrono::steady_clock::now();
            auto swapped = swapIn(kj::mv(committed));
            out.swapMicros = std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::steady_clock::now() - started)
                                 .count();
            return swapped.then([out]() { return out; });
          },
          [this, retired](kj::Exception&& e) -> kj::Promise<ApplyOutcome> {
            for (auto& id : retired) services_.tenants.restore(id);
            return kj::mv(e);
          });
}

kj::Promise<void> Applier::swapIn(kj::Own<Committed> committed) {
  SyncPayload& payload = *committed->payload;
  services_.auth.replaceAll(kj::mv(committed->tokens));
  for (auto& t : committed->newTenants) services_.tenants.adopt(kj::mv(t));
  kj::Vector<kj::Promise<void>> installs;
  for (auto& doc : payload.tenants) {
    TenantState* t = services_.tenants.find(doc.info.id);
    KJ_ASSERT(t != nullptr, "adopted above or already known", doc.info.id);
    services_.tenants.updateInfo(doc.info);
    services_.settings.mirrorConfig(
        *t, doc.config ? std::optional(kj::mv(doc.config->value)) : std::nullopt,
        doc.config ? doc.config->version : 0);
    services_.settings.mirrorRoles(*t,
                                   doc.rbac ? std::optional(kj::mv(doc.rbac->value)) : std::nullopt,
                                   doc.rbac ? doc.rbac->version : 0);
    int64_t rulesVersion = doc.rules ? doc.rules->version : 0;
    std::string rulesJson = doc.rules ? doc.rules->json : "[]";
    if (rulesVersion == t->rulesVersion && rulesJson == t->rulesJson) continue;
    NewRules rules{doc.rules ? kj::mv(doc.rules->value) : std::vector<Rule>{}, kj::mv(rulesJson)};
    std::string id = doc.info.id;
    installs.add(services_.limits.mirrorRules(*t, kj::mv(rules), rulesVersion)
                     .then([this, id](bool installed) {
                       if (!installed) {
                         log_.warn("sync", "tenant " + id +
                                               ": the central's rules are stored but another "
                                               "install was running; they apply at restart");
                       }
                     })
                     .eagerlyEvaluate(nullptr));
  }
  return kj::joinPromises(installs.releaseAsArray()).attach(kj::mv(committed));
}

}  // namespace tenantd::sync
