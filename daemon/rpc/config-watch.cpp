#include "config-watch.h"

#include "rpc/sidecar.h"

namespace tenantd {

kj::Own<WatchBudget::Slot> WatchBudget::take() {
  if (open_ >= MAX_PER_CONNECTION) {
    throwRpcError("overloaded", kj::str("this connection already holds ", MAX_PER_CONNECTION,
                                        " config watches; drop one first"));
  }
  return kj::heap<Slot>(kj::addRef(*this));
}

ConfigWatch::ConfigWatch(SettingsService& settings, TenantState& tenant,
                         rpc::ConfigWatcher::Client watcher, kj::Own<WatchBudget::Slot> slot)
    : tenant_(tenant),
      watcher_(kj::mv(watcher)),
      subscription_(settings.watchConfig(tenant.info.id, *this)),
      slot_(kj::mv(slot)),
      tasks_(*this) {}

void ConfigWatch::deliver() {
  KJ_IF_MAYBE (watcher, watcher_) {
    if (inFlight_ || tenant_.configVersion == delivered_) return;
    auto request = watcher->changedRequest();
    request.setJson(tenant_.config.doc.dump());
    request.setVersion(static_cast<uint64_t>(tenant_.configVersion));
    delivered_ = tenant_.configVersion;
    inFlight_ = true;
    tasks_.add(request.send().ignoreResult().then(
        [this]() {
          inFlight_ = false;
          deliver();  // Whatever changed meanwhile, as one call with the latest version.
        },
        [this](kj::Exception&&) { end(); }));
  }
}

void ConfigWatch::end() {
  inFlight_ = false;
  subscription_ = nullptr;
  watcher_ = nullptr;
}

void ConfigWatch::taskFailed(kj::Exception&&) {
  end();
}

}  // namespace tenantd
