// Fuzzes tenantd.toml: applyConfigText() on top of the --dev defaults, as the daemon reads its
// file at start and on reload. Anything it refuses must be a ConfigError (the daemon prints it
// and keeps its old configuration), never another exception or a crash.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    tenantd::Config config = tenantd::applyConfigText(tenantd::devDefaults(), text, "fuzz.toml");
    (void)config;
  } catch (const tenantd::ConfigError&) {
  }
  return 0;
}
