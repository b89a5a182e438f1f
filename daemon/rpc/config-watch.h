#pragma once
// Tenant.watchConfig(): one app watcher of one tenant's configuration. It gets the current
// document at once, then the latest after each change, with at most one changed() call in
// flight: changes that land while a call is out are coalesced into the next call, so a slow
// watcher sees the latest version, never a backlog.
//
// Ownership: the WatchHandle capability owns the ConfigWatch; SettingsService (the owner of
// config state) holds only a subscription that the ConfigWatch's destructor removes. So the
// watch ends when the app drops the handle, when its connection closes (Cap'n Proto releases
// every capability the connection held), or, earlier, when a changed() call fails (the
// subscription and the watcher are released; the husk goes with the handle).
//
// Each watch costs a subscription and up to one call in flight, so a connection holds at most
// WatchBudget::MAX_PER_CONNECTION of them; past that watchConfig answers "overloaded:".

#include "service/settings-service.h"

#include "contract.h"
#include "tenantd.capnp.h"

namespace tenantd {

// The watches one connection holds, shared by every capability the connection was given (its
// Sidecar, Admin and Tenant capabilities) and counted down as watches end.
class WatchBudget final : public kj::Refcounted {
public:
  static constexpr uint32_t MAX_PER_CONNECTION = contract::MAX_WATCHES_PER_CONNECTION;

  // A slot for one watch, given back when the slot is dropped.
  class Slot {
  public:
    explicit Slot(kj::Own<WatchBudget> budget) : budget_(kj::mv(budget)) { ++budget_->open_; }
    ~Slot() { --budget_->open_; }
    KJ_DISALLOW_COPY(Slot);

  private:
    kj::Own<WatchBudget> budget_;
  };

  // Throws "overloaded:" when the connection already holds MAX_PER_CONNECTION watches.
  kj::Own<Slot> take();

private:
  uint32_t open_ = 0;
};

class ConfigWatch final : public ConfigListener, private kj::TaskSet::ErrorHandler {
public:
  ConfigWatch(SettingsService& settings, TenantState& tenant, rpc::ConfigWatcher::Client watcher,
              kj::Own<WatchBudget::Slot> slot);
  KJ_DISALLOW_COPY(ConfigWatch);

  // Sends the current configuration; call once, after construction.
  void start() { deliver(); }
  bool active() const { return watcher_ != nullptr; }

private:
  void configChanged() override { deliver(); }
  void taskFailed(kj::Exception&& exception) override;
  // Sends the tenant's current document unless a call is in flight (its completion sends
  // again) or the watcher already has this version.
  void deliver();
  void end();

  TenantState& tenant_;
  kj::Maybe<rpc::ConfigWatcher::Client> watcher_;
  kj::Own<ConfigSubscription> subscription_;
  kj::Own<WatchBudget::Slot> slot_;  // Held while the watch lives, husk included.
  bool inFlight_ = false;
  int64_t delivered_ = -1;  // The version the watcher last received.
  // Last member, so destroyed first: an in-flight call is cancelled before the rest goes.
  kj::TaskSet tasks_;
};

class WatchHandleImpl final : public rpc::WatchHandle::Server {
public:
  explicit WatchHandleImpl(kj::Own<ConfigWatch> watch) : watch_(kj::mv(watch)) {}

private:
  kj::Own<ConfigWatch> watch_;
};

}  // namespace tenantd
