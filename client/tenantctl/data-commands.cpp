// limits, usage, secret, config and audit: a tenant's data. The operator's changes go through
// the Admin capability; `limits check|track` and `secret get` act as the tenant's app would,
// through Sidecar.tenant(), so they need only the app role.

#include "tenantctl/commands.h"

#include <unistd.h>

#include <memory>

namespace tenantd::ctl {

namespace {
Json decisionJson(rpc::Decision::Reader d) {
  Json j{{"allowed", d.getAllowed()}, {"warning", d.getWarning()}, {"matched", d.getMatched()}};
  if (d.getMatched()) {
    j["gateAction"] = d.getGateAction().cStr();
    j["current"] = d.getCurrent();
    j["reserved"] = d.getReserved();
    j["limit"] = d.getLimit();
    j["remaining"] = d.getRemaining();
    j["period"] = d.getPeriod().cStr();
    j["scope"] = d.getScope().cStr();
    j["resetAtMs"] = d.getResetAtMs();
  }
  return j;
}

Json ruleUsageJson(rpc::RuleUsage::Reader u) {
  return Json{{"resource", u.getResource().cStr()},
              {"metric", u.getMetric().cStr()},
              {"period", u.getPeriod().cStr()},
              {"scope", u.getScope().cStr()},
              {"current", u.getCurrent()},
              {"reserved", u.getReserved()},
              {"limit", u.getLimit()},
              {"resetAtMs", u.getResetAtMs()}};
}

// A JSON document for the daemon, from a file or stdin; refused here if it is not JSON at all.
std::string readDocument(Context& ctx, const std::string& path) {
  std::string text = ctx.readInput(path);
  auto parsed = Json::parse(text, nullptr, false);
  if (parsed.is_discarded()) {
    throw UsageError((path.empty() || path == "-" ? std::string("stdin") : path) +
                     " does not hold valid JSON");
  }
  // The text as given, not re-serialised: dump() recurses once per level, and the daemon is the
  // one that bounds a document's depth.
  return text;
}

// Column order for the daemon's documents (whose keys arrive sorted).
const std::vector<std::string> RULE_COLUMNS{"resource", "metric", "period",
                                            "limit",    "scope",  "gateAction"};
const std::vector<std::string> USAGE_COLUMNS{"resource", "metric", "period",    "scope",
                                             "current",  "limit",  "percentage"};
const std::vector<std::string> AUDIT_COLUMNS{"id", "at", "actor", "action", "target", "version"};

void printDocument(Context& ctx, const std::string& text, const std::string& none,
                   const std::vector<std::string>& columns) {
  Json document = parseDocument(text);
  if (ctx.json()) return ctx.printJson(document);
  if (document.is_array()) return printRows(ctx.out, document, none, columns);
  printObject(ctx.out, document);
}

struct UsageArgs {
  std::string tenant, user, resource, metric, id;
  int64_t amount = 1;
  int64_t timestampMs = 0;
};

void addUsageOptions(CLI::App* command, UsageArgs& a) {
  addTenantOption(*command, a.tenant);
  command->add_option("-r,--resource", a.resource, "Resource, e.g. llm")->required();
  command->add_option("-m,--metric", a.metric, "Metric, e.g. tokens")->required();
  command->add_option("-a,--amount", a.amount, "Amount")->capture_default_str();
  command->add_option("-u,--user", a.user, "User id (user-scoped rules)");
}

void writeUsage(rpc::UsageRequest::Builder out, const UsageArgs& a) {
  out.setUserId(a.user);
  out.setResource(a.resource);
  out.setMetric(a.metric);
  out.setAmount(a.amount);
}
}  // namespace

void addLimitsCommands(CLI::App& app, Action& action) {
  auto* limits = app.add_subcommand("limits", "A tenant's resource limits: rules and checks");
  limits->require_subcommand(1);

  auto get = std::make_shared<std::string>();
  auto* g = limits->add_subcommand("get", "Show the tenant's rules");
  addTenantOption(*g, *get);
  g->callback([&action, get] {
    action = [get](Context& ctx) {
      auto request = ctx.admin().getLimitsRequest();
      request.setTenantId(*get);
      auto response = ctx.wait(request.send());
      printDocument(ctx, response.getJson(), "no rules", RULE_COLUMNS);
    };
  });

  struct SetArgs {
    std::string tenant, file;
  };
  auto set = std::make_shared<SetArgs>();
  auto* s = limits->add_subcommand(
      "set", "Replace the tenant's rules with a JSON array (as PUT /tenant/limits/resources)");
  addTenantOption(*s, set->tenant);
  s->add_option("-f,--file", set->file, "Read the rules from this file (default: stdin)");
  s->callback([&action, set] {
    action = [set](Context& ctx) {
      auto request = ctx.admin().setLimitsRequest();
      request.setTenantId(set->tenant);
      std::string rules = readDocument(ctx, set->file);
      request.setJson(rules);
      auto response = ctx.wait(request.send());
      Json answer = parseDocument(response.getJson());
      if (ctx.json()) return ctx.printJson(answer);
      size_t count = Json::parse(rules).size();
      ctx.out << "saved " << count << (count == 1 ? " rule" : " rules") << " for tenant "
              << set->tenant;
      if (answer.is_object() && answer.contains("version")) {
        ctx.out << " (version " << cell(answer["version"]) << ")";
      }
      ctx.out << "\n";
    };
  });

  auto check = std::make_shared<UsageArgs>();
  auto* c = limits->add_subcommand("check", "May this amount be used now? Changes nothing");
  addUsageOptions(c, *check);
  c->callback([&action, check] {
    action = [check](Context& ctx) {
      auto request = ctx.tenant(check->tenant).checkRequest();
      writeUsage(request.initRequest(), *check);
      auto response = ctx.wait(request.send());
      auto d = response.getDecision();
      if (ctx.json()) return ctx.printJson(decisionJson(d));
      ctx.out << (d.getAllowed() ? "allowed" : "not allowed")
              << (d.getWarning() ? " (warning)" : "");
      if (d.getMatched()) {
        ctx.out << ": " << d.getCurrent() << " used";
        if (d.getReserved() != 0) ctx.out << " + " << d.getReserved() << " reserved";
        ctx.out << " of " << d.getLimit() << " per " << d.getPeriod().cStr() << " ("
                << d.getScope().cStr() << " scope, " << d.getGateAction().cStr() << "), "
                << d.getRemaining() << " remaining";
        if (d.getResetAtMs() != 0) ctx.out << ", resets " << isoTime(d.getResetAtMs());
      } else {
        ctx.out << ": no rule applies";
      }
      ctx.out << "\n";
    };
  });

  auto track = std::make_shared<UsageArgs>();
  auto* t = limits->add_subcommand("track", "Record usage that happened");
  addUsageOptions(t, *track);
  t->add_option("--id", track->id, "Idempotency key: a repeat within 48 h is not counted");
  t->add_option("--timestamp-ms", track->timestampMs, "When it happened (Unix ms; default now)");
  t->callback([&action, track] {
    action = [track](Context& ctx) {
      auto request = ctx.tenant(track->tenant).trackRequest();
      auto r = request.initRequest();
      writeUsage(r.initUsage(), *track);
      r.setId(track->id);
      r.setTimestampMs(track->timestampMs);
      auto response = ctx.wait(request.send());
      auto result = response.getResult();
      Json rows = Json::array();
      for (auto u : result.getUsage()) rows.push_back(ruleUsageJson(u));
      if (ctx.json()) {
        return ctx.printJson(Json{{"duplicate", result.getDuplicate()}, {"usage", rows}});
      }
      ctx.out << (result.getDuplicate() ? "duplicate: already counted\n" : "recorded\n");
      for (auto& row : rows) {
        row["resetAt"] = isoTime(row["resetAtMs"].get<int64_t>());
        row.erase("resetAtMs");
      }
      if (!rows.empty()) printRows(ctx.out, rows, "", USAGE_COLUMNS);
    };
  });
}

void addUsageCommand(CLI::App& app, Action& action) {
  struct Args {
    std::string tenant, user, period;
    bool summary = false;
  };
  auto args = std::make_shared<Args>();
  auto* usage = app.add_subcommand("usage", "A tenant's usage against each rule, or a summary");
  addTenantOption(*usage, args->tenant);
  usage->add_option("-u,--user", args->user, "Usage of this user (user-scoped rules)");
  auto* summary =
      usage->add_flag("--summary", args->summary, "The month's totals (as GET /usage/summary)");
  usage->add_option("--period", args->period, "With --summary: YYYY-MM (default: this month)")
      ->needs(summary);
  usage->callback([&action, args] {
    action = [args](Context& ctx) {
      if (args->summary) {
        auto request = ctx.admin().usageSummaryRequest();
        request.setTenantId(args->tenant);
        request.setPeriod(args->period);
        auto response = ctx.wait(request.send());
        Json document = parseDocument(response.getJson());
        if (ctx.json()) return ctx.printJson(document);
        return printObject(ctx.out, document);
      }
      auto request = ctx.admin().usageRequest();
      request.setTenantId(args->tenant);
      request.setUserId(args->user);
      auto response = ctx.wait(request.send());
      printDocument(ctx, response.getJson(), "no rules", USAGE_COLUMNS);
    };
  });
}

void addSecretCommands(CLI::App& app, Action& action) {
  auto* secret = app.add_subcommand(
      "secret", "A tenant's secrets. Values come from stdin or a file, never from arguments");
  secret->require_subcommand(1);

  struct Args {
    std::string tenant, name, file;
  };
  auto put = std::make_shared<Args>();
  auto* p = secret->add_subcommand("put", "Store a new version of a secret, read from stdin");
  addTenantOption(*p, put->tenant);
  p->add_option("name", put->name, "Secret name")->required();
  p->add_option("-f,--file", put->file, "Read the value from this file (default: stdin)")
      ->check(CLI::ExistingFile);
  p->callback([&action, put] {
    action = [put](Context& ctx) {
      if ((put->file.empty() || put->file == "-") && isatty(STDIN_FILENO) && &ctx.in == &std::cin) {
        ctx.err << "tenantctl: reading the value from stdin (end with Ctrl-D)\n";
      }
      std::string value = ctx.readInput(put->file);
      auto request = ctx.admin().putSecretRequest();
      request.setTenantId(put->tenant);
      request.setName(put->name);
      request.setValue(
          capnp::Data::Reader(reinterpret_cast<const kj::byte*>(value.data()), value.size()));
      std::fill(value.begin(), value.end(), '\0');
      auto response = ctx.wait(request.send());
      if (ctx.json()) {
        return ctx.printJson(Json{{"name", put->name}, {"version", response.getVersion()}});
      }
      ctx.out << "stored " << put->name << " version " << response.getVersion() << "\n";
    };
  });

  auto get = std::make_shared<Args>();
  auto* g = secret->add_subcommand("get", "Print a secret's value (exact bytes, no newline)");
  addTenantOption(*g, get->tenant);
  g->add_option("name", get->name, "Secret name")->required();
  g->callback([&action, get] {
    action = [get](Context& ctx) {
      auto request = ctx.tenant(get->tenant).getSecretRequest();
      request.setName(get->name);
      auto response = ctx.wait(request.send());
      auto value = response.getValue();
      std::string text(reinterpret_cast<const char*>(value.begin()), value.size());
      if (ctx.json()) {
        ctx.printJson(
            Json{{"name", get->name}, {"version", response.getVersion()}, {"value", text}});
      } else {
        ctx.out << text << std::flush;
      }
      std::fill(text.begin(), text.end(), '\0');
    };
  });

  auto rm = std::make_shared<Args>();
  auto* r = secret->add_subcommand("rm", "Remove a secret (every version)");
  addTenantOption(*r, rm->tenant);
  r->add_option("name", rm->name, "Secret name")->required();
  r->callback([&action, rm] {
    action = [rm](Context& ctx) {
      auto request = ctx.admin().removeSecretRequest();
      request.setTenantId(rm->tenant);
      request.setName(rm->name);
      ctx.wait(request.send());
      if (ctx.json()) return ctx.printJson(Json{{"removed", rm->name}});
      ctx.out << "removed " << rm->name << "\n";
    };
  });

  auto list = std::make_shared<Args>();
  auto* l = secret->add_subcommand("list", "List a tenant's secret names (never values)");
  addTenantOption(*l, list->tenant);
  l->callback([&action, list] {
    action = [list](Context& ctx) {
      auto request = ctx.admin().listSecretsRequest();
      request.setTenantId(list->tenant);
      auto response = ctx.wait(request.send());
      Json names = Json::array();
      for (auto n : response.getNames()) names.push_back(n.cStr());
      if (ctx.json()) return ctx.printJson(names);
      for (auto& n : names) ctx.out << n.get<std::string>() << "\n";
    };
  });
}

void addConfigCommands(CLI::App& app, Action& action) {
  auto* config = app.add_subcommand("config", "A tenant's configuration document");
  config->require_subcommand(1);

  auto get = std::make_shared<std::string>();
  auto* g = config->add_subcommand("get", "Print the document (version on stderr)");
  addTenantOption(*g, *get);
  g->callback([&action, get] {
    action = [get](Context& ctx) {
      auto request = ctx.admin().getConfigRequest();
      request.setTenantId(*get);
      auto response = ctx.wait(request.send());
      Json document = parseDocument(response.getJson());
      if (ctx.json()) {
        return ctx.printJson(Json{{"version", response.getVersion()}, {"config", document}});
      }
      // stdout stays the document alone, ready for `config set`.
      ctx.printJson(document);
      ctx.err << "version " << response.getVersion() << "\n";
    };
  });

  struct SetArgs {
    std::string tenant, file;
    uint64_t ifVersion = 0;
  };
  auto set = std::make_shared<SetArgs>();
  auto* s = config->add_subcommand("set", "Replace the document with JSON from stdin or a file");
  addTenantOption(*s, set->tenant);
  s->add_option("-f,--file", set->file, "Read the document from this file (default: stdin)");
  s->add_option("--if-version", set->ifVersion,
                "Refuse (conflict) unless this is the stored version");
  s->callback([&action, set] {
    action = [set](Context& ctx) {
      auto request = ctx.admin().setConfigRequest();
      request.setTenantId(set->tenant);
      request.setJson(readDocument(ctx, set->file));
      request.setIfVersion(set->ifVersion);
      auto response = ctx.wait(request.send());
      if (ctx.json()) return ctx.printJson(Json{{"version", response.getVersion()}});
      ctx.out << "saved config version " << response.getVersion() << "\n";
    };
  });
}

void addAuditCommand(CLI::App& app, Action& action) {
  struct Args {
    std::string tenant;
    uint32_t limit = 0;
    int64_t before = 0;
  };
  auto args = std::make_shared<Args>();
  auto* audit = app.add_subcommand("audit", "Who changed what for a tenant, newest first");
  addTenantOption(*audit, args->tenant);
  audit->add_option("-n,--limit", args->limit, "At most this many entries (default 50)")
      ->check(CLI::Range(1, 1000));
  audit->add_option("--before", args->before, "Entries older than this id (paging)")
      ->check(CLI::PositiveNumber);
  audit->callback([&action, args] {
    action = [args](Context& ctx) {
      auto request = ctx.admin().auditRequest();
      request.setTenantId(args->tenant);
      request.setLimit(args->limit);
      request.setBeforeId(args->before);
      auto response = ctx.wait(request.send());
      Json document = parseDocument(response.getJson());
      if (ctx.json()) return ctx.printJson(document);
      Json entries =
          document.is_object() && document.contains("entries") ? document["entries"] : document;
      printRows(ctx.out, entries, "no entries", AUDIT_COLUMNS);
    };
  });
}

}  // namespace tenantd::ctl
