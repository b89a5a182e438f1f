#include "tenantctl/context.h"

#include <fstream>
#include <iterator>
#include <sstream>

namespace tenantd::ctl {

Context::Context(GlobalOptions options, std::ostream& out, std::ostream& err, std::istream& in)
    : out(out), err(err), in(in), options_(std::move(options)), io_(kj::setupAsyncIo()) {
  if (options_.socketPath.empty()) options_.socketPath = client::defaultSocketPath();
}

rpc::Sidecar::Client Context::sidecar() {
  if (connection_.get() == nullptr) {
    try {
      connection_ = wait(client::connect(*io_.provider, options_.socketPath));
    } catch (const client::Error& e) {
      // Whatever the socket said (missing, refused, not a socket), the daemon is not there.
      if (e.kind() == client::ErrorKind::TIMEOUT) throw;
      throw client::Error(client::ErrorKind::UNAVAILABLE,
                          "cannot connect to " + options_.socketPath +
                              " (is tenantd running?): " + std::string(e.message()));
    }
  }
  return connection_->sidecar();
}

rpc::Admin::Client Context::admin() {
  KJ_IF_MAYBE (cached, admin_) {
    return *cached;
  }
  rpc::Admin::Client admin = sidecar().adminRequest().send().getAdmin();
  admin_ = admin;
  return admin;
}

rpc::Tenant::Client Context::tenant(const std::string& id) {
  auto request = sidecar().tenantRequest();
  request.setId(id);
  return request.send().getTenant();
}

std::string Context::readInput(const std::string& path) {
  if (path.empty() || path == "-") {
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) throw UsageError("cannot read " + path);
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

void Context::printJson(const Json& document) {
  out << document.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
}

}  // namespace tenantd::ctl
