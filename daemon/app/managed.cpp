#include "app/managed.h"

#include "app/admin-commands.h"
#include "app/daemon.h"
#include "app/key-source.h"
#include "central/snapshot.h"
#include "store/sync-store.h"

#include <sodium.h>

#include <sys/stat.h>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <ostream>

namespace tenantd {

namespace {
std::unique_ptr<SecretKey> readKey(const std::string& path, const char* what) {
  auto read = readKeyFile(path, true);
  if (auto* e = std::get_if<KeyError>(&read)) {
    throw StartupError(std::string(what) + ": " + e->message);
  }
  return std::move(std::get<std::unique_ptr<SecretKey>>(read));
}

// --dev: the key file at `path`, generated on first use.
std::unique_ptr<SecretKey> devKey(const std::string& path, const char* what, Log& log) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (auto e = generateKeyFile(path)) throw StartupError(std::string(what) + ": " + e->message);
    log.warn("central", std::string("dev mode: generated ") + what + " " + path);
  }
  return readKey(path, what);
}

void writePublic(const std::string& path, const sync::PublicKey& key) {
  std::ofstream out(path, std::ios::trunc);
  out << sync::toHex(key) << "\n";
  if (!out.flush().good()) throw StartupError(path + ": cannot write the public key");
  chmod(path.c_str(), 0644);
}

sync::FeedOptions feedOptions(const CentralConfig& c, Log& log, bool dev) {
  sync::FeedOptions o;
  o.url = c.url;
  o.snapshotUrl = c.snapshotUrl;
  for (auto& file : c.verifyKeys) {
    auto key = sync::readPublicKeyFile(file);
    if (auto* e = std::get_if<KeyError>(&key))
      throw StartupError("[central] verify_keys: " + e->message);
    o.trusted.push_back(sync::VerifyKey::of(std::get<sync::PublicKey>(key)));
  }
  if (o.trusted.empty()) {
    if (!dev) {
      throw StartupError(
          "managed mode needs [central] verify_keys (or --central-key FILE): without one, "
          "anything that answers at the central's address could rewrite every tenant");
    }
    log.warn("sync", "dev mode: the central's answers are NOT verified (no verify_keys)");
  }
  o.caFile = c.caFile;
  o.pollIntervalMs = c.pollIntervalMs;
  o.waitSeconds = c.waitSeconds;
  o.connectTimeoutMs = c.connectTimeoutMs;
  o.timeoutMs = c.timeoutMs;
  o.maxBodyBytes = static_cast<size_t>(c.maxBodyBytes);
  o.maxBackoffMs = c.maxBackoffMs;
  return o;
}
}  // namespace

CentralKeys loadCentralKeys(const Config& config, Log& log) {
  const CentralConfig& c = config.central;
  CentralKeys keys;
  if (!c.signingKey.empty()) {
    keys.signer =
        std::make_unique<sync::SigningKey>(readKey(c.signingKey, "[central] signing_key"));
  } else if (config.dev) {
    keys.signer = std::make_shared<const sync::SigningKey>(
        devKey(config.dataDir + "/central.key", "the central's signing key", log));
    keys.pubFile = config.dataDir + "/central.pub";
    writePublic(keys.pubFile, keys.signer->verifyKey().key);
  } else {
    throw StartupError("the central role needs [central] signing_key (tenantd keys generate FILE)");
  }
  if (!c.recipientPublicKey.empty()) {
    auto key = sync::readPublicKeyFile(c.recipientPublicKey);
    if (auto* e = std::get_if<KeyError>(&key)) {
      throw StartupError("[central] recipient_public_key: " + e->message);
    }
    keys.recipient = std::get<sync::PublicKey>(key);
  } else if (config.dev) {
    sync::RecipientKey fleet(devKey(config.dataDir + "/fleet.key", "the fleet key", log));
    keys.recipient = fleet.publicKey();
  } else {
    log.warn("central", "no [central] recipient_public_key: secrets are not sent to sidecars");
  }
  return keys;
}

CentralRole::CentralRole(const Config& config, Writer& writer, const Keyring& keyring,
                         kj::Timer& timer, const Clock& clock, Log& log)
    : CentralRole(loadCentralKeys(config, log), config, writer, keyring, timer, clock, log) {}

CentralRole::CentralRole(CentralKeys keys, const Config& config, Writer& writer,
                         const Keyring& keyring, kj::Timer& timer, const Clock& clock, Log& log)
    : signer_(keys.signer),
      recipient_(keys.recipient),
      pubFile_(keys.pubFile),
      feed_(writer, central::SnapshotSource{config.central.id, keyring, recipient_, {signer_}},
            timer, clock, log),
      api_(feed_, writer, config.dev, clock, log) {
  if (config.dev) log.warn("central", "dev mode: hosts without a host token are served");
}

HttpResult CentralRole::handle(const HttpRequest& request, RestServer& rest) {
  if (central::CentralApi::owns(request.path)) return api_.handle(request);
  HttpResult result = rest.handle(request);
  if (request.method == "GET" || request.method == "HEAD") return result;
  auto withVersion = [this](HttpResponse response) -> kj::Promise<HttpResponse> {
    if (response.status / 100 != 2) return kj::mv(response);  // Refused: nothing changed.
    return feed_.version().then([this, response = kj::mv(response)](int64_t version) mutable {
      feed_.changed(version);
      response.headers.emplace_back("tenantd-version", std::to_string(version));
      return kj::mv(response);
    });
  };
  if (result.is<HttpResponse>()) {
    HttpResponse& now = result.get<HttpResponse>();
    if (now.status / 100 != 2) return result;
    return withVersion(kj::mv(now));
  }
  return result.get<kj::Promise<HttpResponse>>().then(kj::mv(withVersion));
}

std::string CentralRole::describe() const {
  std::string out = "  central /v1/sync, signing key " + signer_->verifyKey().id;
  if (!pubFile_.empty()) out += " (public half: " + pubFile_ + ")";
  return out + "\n";
}

int runCentralSnapshot(const Config& config, const std::string& file, Log& log, std::ostream& out,
                       std::ostream& err) {
  auto loaded = loadKeyring(config, log);
  if (auto* e = std::get_if<KeyError>(&loaded)) {
    err << "tenantd: " << e->message << "\n";
    return 1;
  }
  Keyring keyring = std::move(std::get<Keyring>(loaded));
  CentralKeys keys = loadCentralKeys(config, log);
  auto db = openStore(config);
  central::Snapshot snapshot;
  {
    Transaction read(*db);  // One consistent view of every tenant.
    WriterContext ctx(*db);
    snapshot = central::readSnapshot(
        ctx, central::SnapshotSource{config.central.id, keyring, keys.recipient, {keys.signer}},
        std::nullopt, SystemClock().now(), log);
  }
  std::string temporary = file + ".tmp";
  {
    std::ofstream o(temporary, std::ios::trunc | std::ios::binary);
    o << snapshot.envelope;
    if (!o.flush().good()) {
      err << "tenantd: " << temporary << ": cannot write\n";
      return 1;
    }
  }
  chmod(temporary.c_str(), 0644);  // Served by a web server; secrets in it are sealed.
  if (std::rename(temporary.c_str(), file.c_str()) != 0) {
    err << "tenantd: " << file << ": cannot replace\n";
    return 1;
  }
  out << "wrote " << file << ": version " << snapshot.version << ", " << snapshot.tenants
      << " tenant(s), signed by " << keys.signer->verifyKey().id << "\n";
  return 0;
}

namespace {
// A key file, made on first use (0600) when it is the default path.
std::unique_ptr<SecretKey> hostKeyOf(const Config& config, Log& log) {
  if (!config.central.hostKey.empty()) return readKey(config.central.hostKey, "[central] host_key");
  std::string path = config.dataDir + "/host.key";
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (auto e = generateKeyFile(path)) throw StartupError("this host's key: " + e->message);
    log.info("sync", "made this host's key " + path);
  }
  return readKey(path, "this host's key");
}

// The first line of `path`, or of systemd's credential `name` when `path` is empty ("" when
// there is neither). `what` names the setting in the error.
std::string credentialLine(std::string path, const char* name, const std::string& what) {
  if (path.empty()) {
    const char* credentials = getenv("CREDENTIALS_DIRECTORY");
    if (credentials == nullptr) return "";
    path = std::string(credentials) + "/" + name;
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return "";
  }
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line) || line.empty()) {
    throw StartupError(what + ": " + path + ": cannot read it");
  }
  return line;
}

std::string hostTokenOf(const Config& config) {
  return credentialLine(config.central.hostTokenFile, "host.token", "[central] host_token_file");
}

sync::Applier::Recipients recipientsOf(const Config& config, Log& log) {
  sync::Applier::Recipients keys;
  keys.push_back(std::make_shared<const sync::RecipientKey>(hostKeyOf(config, log)));
  if (!config.central.recipientKey.empty()) {
    keys.push_back(std::make_shared<const sync::RecipientKey>(
        readKey(config.central.recipientKey, "[central] recipient_key")));
  }
  return keys;
}
}  // namespace

std::string hostIdFor(const Config& config, Db& db) {
  SyncStore store(db);
  const std::string& configured =
      !config.fleet.hostId.empty() ? config.fleet.hostId : config.central.hostId;
  if (!configured.empty()) {
    store.setHostId(configured);
    return configured;
  }
  if (auto id = store.hostId()) return *id;
  uint8_t bytes[8];
  randombytes_buf(bytes, sizeof(bytes));
  char hex[sizeof(bytes) * 2 + 1];
  sodium_bin2hex(hex, sizeof(hex), bytes, sizeof(bytes));
  std::string id = std::string("host-") + hex;
  store.setHostId(id);
  return id;
}

fleet::RedisOptions redisOptionsOf(const Config& config) {
  fleet::RedisOptions o;
  // Both checked when the config was read.
  if (!config.fleet.redis.empty()) o.address = *parseRedisAddress(config.fleet.redis);
  for (auto& s : config.fleet.sentinels) o.sentinels.push_back(*parseRedisAddress(s));
  o.sentinelMaster = config.fleet.sentinelMaster;
  o.password = credentialLine(config.fleet.passwordFile, "redis.password", "[fleet] password_file");
  o.connectTimeoutMs = config.fleet.connectTimeoutMs;
  o.timeoutMs = config.fleet.timeoutMs;
  o.maxBackoffMs = config.fleet.maxBackoffMs;
  return o;
}

int runHostTokenCreate(const Config& config, const std::string& hostId, std::ostream& out,
                       std::ostream& err) {
  if (!isValidTenantId(hostId)) {
    err << "tenantd: --host: 1-64 letters, digits, '_', '.', '-'\n";
    return 2;
  }
  auto db = openStore(config);
  IssuedToken issued = issueToken();
  std::string token = "tnh_" + issued.secret.substr(4);  // tnh_: a host's, good for /v1 only.
  if (!SyncStore(*db).createHost(hostId, hashToken(token), SystemClock().now())) {
    err << "tenantd: host " << hostId << " exists already\n";
    return 1;
  }
  out << "host " << hostId << ": token (shown once; give it to the host as host.token):\n"
      << token << "\n";
  return 0;
}

SidecarSync::SidecarSync(const Config& config, std::string hostId, Services& services,
                         Writer& writer, const Keyring& keyring, std::optional<AppliedSync> applied,
                         uv_loop_t& loop, kj::Function<void()> wake, kj::Timer& timer,
                         Metrics& metrics, Log& log)
    : recipients_(recipientsOf(config, log)),
      source_(config.central.url.empty() ? config.central.snapshotUrl : config.central.url),
      centralUrl_(config.central.url),
      forwardLimits_(feedOptions(config.central, log, config.dev)),
      timer_(timer),
      log_(log),
      fetcher_(loop, kj::mv(wake)),
      applier_(services, writer, keyring, recipients_, applied, log),
      client_(
          fetcher_, applier_, services.worker,
          [&]() {
            sync::FeedOptions o = forwardLimits_;
            o.hostId = hostId;
            o.hostToken = hostTokenOf(config);
            o.hostKey = recipients_.front()->publicKey();
            if (o.hostToken.empty() && !config.dev && !config.central.url.empty()) {
              throw StartupError(
                  "managed mode needs a host token from the central "
                  "([central] host_token_file, or the credential host.token)");
            }
            return o;
          }(),
          config.bounds, services.readiness, timer, metrics, log) {
  services.readiness.becomeManaged(applied.has_value(), applied ? applied->appliedAt : 0);
}

bool SidecarSync::forwards(const HttpRequest& r) {
  if (r.method == "GET" || r.method == "HEAD") return false;
  if (r.path == "/tenant/limits/resources") return r.method == "PUT";  // Not usage: local.
  return r.path == "/tenant/config" || r.path == "/tenant/secrets" ||
         r.path.starts_with("/tenant/secrets/") || r.path == "/tenant/rbac/roles" ||
         r.path.starts_with("/tenant/rbac/roles/");
}

kj::Promise<HttpResponse> SidecarSync::forward(const HttpRequest& request) {
  if (centralUrl_.empty()) {
    return errorResponse(503, "unavailable",
                         "this host follows a static snapshot: change tenants where the snapshot "
                         "is made; nothing changed here");
  }
  sync::FetchRequest out = sync::requestWithin(forwardLimits_);
  out.method = std::string(request.method);
  out.url = centralUrl_ + std::string(request.path);
  if (!request.query.empty()) out.url += "?" + std::string(request.query);
  out.body = std::string(request.body);
  for (const char* name : {"authorization", "content-type", "if-match"}) {
    if (auto value = request.header(name))
      out.headers.push_back(name + (": " + std::string(*value)));
  }
  return fetcher_.send(kj::mv(out)).then([this](sync::FetchResult r) -> kj::Promise<HttpResponse> {
    if (r.kind != sync::FetchResult::Kind::ANSWERED) {
      log_.warn("sync", "a write could not be forwarded: the central could not be reached");
      return errorResponse(503, "unavailable",
                           "the central cannot be reached, and this document is written there: "
                           "nothing changed; retry later");
    }
    HttpResponse response(static_cast<int>(r.status), kj::mv(r.body));
    for (auto& [name, value] : r.headers) {
      if (name == "etag" || name == "retry-after" || name.starts_with("ratelimit-")) {
        response.headers.emplace_back(name, value);
      }
    }
    auto version = r.header("tenantd-version");
    int64_t v = 0;
    if (response.status / 100 != 2 || !version ||
        std::from_chars(version->data(), version->data() + version->size(), v).ec != std::errc()) {
      return kj::mv(response);
    }
    return client_.whenApplied(v)
        .then([]() { return true; })
        .exclusiveJoin(
            timer_.afterDelay(FORWARD_SYNC_MS * kj::MILLISECONDS).then([]() { return false; }))
        .then([this, v, response = kj::mv(response)](bool applied) mutable {
          if (!applied) {
            log_.warn("sync", "a forwarded write (version " + std::to_string(v) +
                                  ") was not applied here within 2 s; answering anyway");
          }
          return kj::mv(response);
        });
  });
}

std::string SidecarSync::describe() const {
  auto& applied = applier_.applied();
  return "  sync  " + source_ + " (" +
         (applied ? "serving version " + std::to_string(applied->version) + " until it answers"
                  : "no copy yet: not ready until the first sync") +
         ")\n";
}

}  // namespace tenantd
