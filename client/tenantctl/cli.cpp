#include "tenantctl/cli.h"

#include "tenantctl/commands.h"

namespace tenantd::ctl {

namespace {
void describe(CLI::App& app) {
  app.description(
      "tenantctl: operate tenantd over its RPC socket.\n"
      "Exit codes: 0 ok, 1 failed, 2 usage error, 3 not found.");
  app.footer(
      "Secret values and documents are read from stdin or --file, never from arguments\n"
      "(arguments are visible to every user in ps). The socket: --socket, $TENANTD_SOCKET,\n"
      "or /run/tenantd/tenantd.sock.");
}
}  // namespace

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err, std::istream& in) {
  CLI::App app;
  app.name("tenantctl");
  describe(app);
  app.fallthrough();  // Global options may follow the command: tenantctl tenant list --json.
  app.require_subcommand(1);
  GlobalOptions global;
  app.add_option("-s,--socket", global.socketPath, "The daemon's RPC socket")
      ->envname("TENANTD_SOCKET");
  app.add_flag("--json", global.json, "Machine-readable output: one JSON document");
  app.add_option("--timeout", global.timeoutSeconds, "Seconds to wait for each answer")
      ->check(CLI::Range(0.001, 86400.0))
      ->capture_default_str();

  Action action;
  addStatusCommand(app, action);
  addTenantCommands(app, action);
  addTokenCommands(app, action);
  addLimitsCommands(app, action);
  addUsageCommand(app, action);
  addSecretCommands(app, action);
  addConfigCommands(app, action);
  addAuditCommand(app, action);
  addBenchCommand(app, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return EXIT_OK;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return EXIT_OK;
  } catch (const CLI::ParseError& e) {
    err << "tenantctl: " << e.what() << "\nRun 'tenantctl --help' for usage.\n";
    return EXIT_USAGE;
  }

  try {
    Context ctx(global, out, err, in);
    action(ctx);
    out.flush();
    return EXIT_OK;
  } catch (const UsageError& e) {
    err << "tenantctl: " << e.what() << "\n";
    return EXIT_USAGE;
  } catch (const client::Error& e) {
    err << "tenantctl: " << e.what() << "\n";
    return e.kind() == client::ErrorKind::NOT_FOUND ? EXIT_NOT_FOUND : EXIT_FAILED;
  }
}

}  // namespace tenantd::ctl
