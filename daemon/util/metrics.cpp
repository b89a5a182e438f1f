#include "metrics.h"

#include <prometheus/text_serializer.h>

namespace tenantd {

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  secretReads_ = &prometheus::BuildCounter()
                      .Name("tenantd_secret_reads_total")
                      .Help("Secret reads over RPC, by outcome")
                      .Register(*registry_);
  restErrors_ = &prometheus::BuildCounter()
                     .Name("tenantd_rest_errors_total")
                     .Help("REST requests answered with an error status")
                     .Register(*registry_);
  commitFailures_ = &prometheus::BuildCounter()
                         .Name("tenantd_store_commit_failures_total")
                         .Help("Store writes that could not be committed; nothing was recorded")
                         .Register(*registry_)
                         .Add({});
  for (const char* o : {"ok", "not_found", "expired", "open_failed"}) secretReads(o);
}

prometheus::Counter& Metrics::secretReads(const std::string& outcome) {
  return secretReads_->Add({{"outcome", outcome}});
}

prometheus::Counter& Metrics::restErrors(int status) {
  return restErrors_->Add({{"status", std::to_string(status)}});
}

std::string Metrics::render() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace tenantd
