// `sparkplane connections add|list|get|delete|keygen` and `sparkplane cluster list`.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "cli/table.h"
#include "clusters/cluster_backend.h"
#include "common/json_limits.h"
#include "dag/cron.h"
#include "operators/connections.h"
#include "operators/secrets.h"

namespace sp::cli {

int ConnectionsAdd(const GlobalOptions& g, const ConnectionArgs& a) {
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(g.config);
  if (!rt.ok()) return Fail(rt.status());
  operators::ConnectionInput in;
  if (!a.uri.empty()) {
    Result<operators::ConnectionInput> parsed = operators::ParseConnectionUri(a.uri);
    if (!parsed.ok()) return Fail(parsed.status());
    in = *parsed;
  }
  in.conn_id = a.conn_id;
  if (!a.conn_type.empty()) in.conn_type = a.conn_type;
  if (!a.host.empty()) in.host = a.host;
  if (a.port != 0) in.port = a.port;
  if (!a.schema.empty()) in.schema = a.schema;
  if (!a.login.empty()) in.login = a.login;
  if (!a.password.empty()) in.password = a.password;
  if (a.password_stdin) {
    Result<std::string> line = ReadPasswordLine();
    if (!line.ok()) return Fail(line.status());
    in.password = *line;
  }
  if (!a.extras.empty()) {
    Result<nlohmann::json> extras = ParseJsonBounded(a.extras);
    if (!extras.ok() || !extras->is_object()) {
      return Fail("--extras must be a JSON object of strings, e.g. '{\"queue\": \"etl\"}'");
    }
    for (const auto& [k, v] : extras->items()) {
      in.extras[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
  }
  // Added to the secret extras the URI's query names, never replacing them.
  for (const std::string& name : a.secret_extras) {
    if (std::find(in.secret_extras.begin(), in.secret_extras.end(), name) ==
        in.secret_extras.end()) {
      in.secret_extras.push_back(name);
    }
  }
  operators::SecretKeySource key{(*rt)->config.secret_key_file};
  Result<store::ConnectionRecord> added = operators::AddConnection(*(*rt)->store, in, key);
  if (!added.ok()) return Fail(added.status());
  operators::Connection shown = operators::HiddenConnection(*added);
  if (g.json) {
    std::printf("%s\n", shown.ToJson().dump(2).c_str());
  } else {
    std::printf("added connection %s: %s\n", shown.conn_id.c_str(),
                operators::DescribeConnection(shown).c_str());
  }
  return 0;
}

int ConnectionsList(const GlobalOptions& g) {
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(g.config);
  if (!rt.ok()) return Fail(rt.status());
  Result<std::vector<operators::Connection>> all = operators::ListConnections(*(*rt)->store);
  if (!all.ok()) return Fail(all.status());
  if (g.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& c : *all) out.push_back(c.ToJson());
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (all->empty()) {
    std::printf("no connections\n");
    return 0;
  }
  Table table({"CONN_ID", "TYPE", "HOST", "PORT", "LOGIN", "PASSWORD", "CREATED_BY_RUN"});
  for (const auto& c : *all) {
    table.Add({c.conn_id, c.conn_type, c.host, c.port ? std::to_string(c.port) : "-",
               c.login.empty() ? "-" : c.login, c.has_password ? operators::kMaskedSecret : "-",
               c.created_by_run ? std::to_string(c.created_by_run) : "-"});
  }
  table.Print();
  return 0;
}

int ConnectionsGet(const GlobalOptions& g, const std::string& conn_id, bool reveal) {
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(g.config);
  if (!rt.ok()) return Fail(rt.status());
  operators::SecretKeySource key{(*rt)->config.secret_key_file};
  Result<operators::Connection> c = operators::GetConnection(
      *(*rt)->store, conn_id,
      reveal ? operators::SecretReveal::kRevealed : operators::SecretReveal::kHidden, key);
  if (!c.ok()) return Fail(c.status());
  if (g.json || reveal) {
    std::printf("%s\n", c->ToJson().dump(2).c_str());
  } else {
    std::printf("%s: %s\n", c->conn_id.c_str(), operators::DescribeConnection(*c).c_str());
  }
  return 0;
}

int ConnectionsDelete(const GlobalOptions& g, const std::string& conn_id) {
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(g.config);
  if (!rt.ok()) return Fail(rt.status());
  Status s = operators::DeleteConnection(*(*rt)->store, conn_id);
  if (!s.ok()) return Fail(s);
  std::printf("deleted connection %s\n", conn_id.c_str());
  return 0;
}

int ConnectionsKeygen(const GlobalOptions& g) {
  Result<Config> cfg = ResolveConfig(g.config);
  if (!cfg.ok()) return Fail(cfg.status());
  Status s = EnsureDataDirs(*cfg);
  if (!s.ok()) return Fail(s);
  s = operators::GenerateKeyFile(cfg->secret_key_file);
  if (!s.ok()) return Fail(s);
  std::printf(
      "wrote a new secret key to %s (mode 0600); keep a copy: sealed secrets cannot be "
      "read without it\n",
      cfg->secret_key_file.c_str());
  return 0;
}

int ClusterList(const GlobalOptions& g, bool all) {
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(g.config);
  if (!rt.ok()) return Fail(rt.status());
  Result<std::vector<store::ClusterRecord>> clusters = (*rt)->store->ListClusters(all);
  if (!clusters.ok()) return Fail(clusters.status());
  auto lifetime = [](const store::ClusterRecord& c) {
    return clusters::Lifetime::FromJson(c.handle);
  };
  const Time now = (*rt)->clock.Now();
  if (g.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& c : *clusters) {
      out.push_back(
          {{"name", c.name},
           {"backend", c.backend},
           {"run", c.run_id},
           {"state", c.state},
           {"handle", c.handle},
           {"created_at", FormatTime(c.created_at)},
           {"deleted_at",
            c.deleted_at ? nlohmann::json(FormatTime(*c.deleted_at)) : nlohmann::json()},
           {"deadline", lifetime(c).deadline ? nlohmann::json(FormatTime(*lifetime(c).deadline))
                                             : nlohmann::json()},
           {"idle_timeout", lifetime(c).idle_timeout.count() > 0
                                ? nlohmann::json(dag::FormatDuration(lifetime(c).idle_timeout))
                                : nlohmann::json()}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (clusters->empty()) {
    std::printf(all ? "no clusters\n" : "no live clusters (--all shows deleted ones)\n");
    return 0;
  }
  Table table({"NAME", "BACKEND", "RUN", "STATE", "MASTER", "CREATED", "AGE", "DEADLINE",
               "IDLE TIMEOUT", "DELETED"});
  for (const auto& c : *clusters) {
    std::string master =
        c.handle.is_object() ? c.handle.value("master_url", std::string("-")) : "-";
    clusters::Lifetime l = lifetime(c);
    std::string age = FormatDurationBetween(c.created_at, c.deleted_at.value_or(now));
    table.Add({c.name, c.backend, c.run_id ? std::to_string(c.run_id) : "ad-hoc", c.state,
               master.empty() ? "-" : master, FormatTime(c.created_at), age,
               c.deleted_at ? "-" : FormatOptionalTime(l.deadline),
               l.idle_timeout.count() > 0 ? dag::FormatDuration(l.idle_timeout) : "-",
               FormatOptionalTime(c.deleted_at)});
  }
  table.Print();
  return 0;
}

int PoolList(const GlobalOptions& g) {
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(g.config);
  if (!rt.ok()) return Fail(rt.status());
  Result<std::vector<store::ClusterRecord>> records = (*rt)->store->ListClusters(false);
  if (!records.ok()) return Fail(records.status());
  const Time now = (*rt)->clock.Now();
  nlohmann::json out = nlohmann::json::array();
  Table table({"POOL", "SIZE", "SHAPE", "CLUSTER", "STATE", "AGE", "MASTER"});
  for (const clusters::PoolSpec& p : (*rt)->config.cluster_pools) {
    std::string shape = std::to_string(p.workers) + "x" + std::to_string(p.worker_cores) +
                        " cores, " + p.worker_memory;
    nlohmann::json members = nlohmann::json::array();
    for (const store::ClusterRecord& c : *records) {
      if (!c.handle.is_object() || c.handle.value("pool", "") != p.name) continue;
      std::string master = c.handle.value("master_url", "");
      std::string age = FormatDurationBetween(c.created_at, now);
      members.push_back({{"name", c.name},
                         {"state", c.state},
                         {"master_url", master},
                         {"created_at", FormatTime(c.created_at)}});
      table.Add({p.name, std::to_string(p.size), shape, c.name, c.state, age,
                 master.empty() ? "-" : master});
    }
    if (members.empty()) table.Add({p.name, std::to_string(p.size), shape, "-", "-", "-", "-"});
    out.push_back({{"name", p.name},
                   {"size", p.size},
                   {"workers", p.workers},
                   {"worker_cores", p.worker_cores},
                   {"worker_memory", p.worker_memory},
                   {"max_age", dag::FormatDuration(p.max_age)},
                   {"clusters", members}});
  }
  if (g.json) {
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if ((*rt)->config.cluster_pools.empty()) {
    std::printf("no warm pools (add pools: to sparkplane.yaml)\n");
    return 0;
  }
  table.Print();
  return 0;
}

}  // namespace sp::cli
