// ConnectionTaskType; see connection_task.h.
#include "operators/connection_task.h"

#include <algorithm>
#include <optional>

#include "operators/connections.h"
#include "operators/internal/fields.h"
#include "operators/internal/results.h"
#include "store/store.h"

namespace sp::operators {

namespace {

using internal::FieldPhase;
using internal::FieldReader;
using internal::ListForm;

constexpr const char* kUriParts[] = {"conn_type", "host", "port", "schema", "login", "password"};

struct ConnectionPlan {
  std::string action = "create";
  ConnectionInput input;
};

// Reads the fields into a plan. In FieldPhase::kRendered with r.ok() afterwards, the plan is
// complete (AddConnection still validates the values themselves).
ConnectionPlan ReadPlan(FieldReader& r) {
  ConnectionPlan p;
  if (std::optional<std::string> a = r.Choice("action", {"create", "delete"})) p.action = *a;
  if (std::optional<std::string> id =
          r.RequiredString("conn_id", "the connection's name, which other tasks give as conn_id")) {
    if (Status s = ValidateConnId(*id); !s.ok()) r.Problem("conn_id", s.message());
    p.input.conn_id = *id;
  }
  if (p.action == "delete" && !r.Deferred("action")) return p;  // nothing else is used

  if (r.Has("uri")) {
    for (const char* part : kUriParts) {
      if (r.Has(part)) {
        r.Problem("uri", std::string("give either uri or conn_type/host/port/schema/login/"
                                     "password, not both ('") +
                             part + "' is set too)");
      }
    }
    if (std::optional<std::string> uri = r.String("uri")) {
      Result<ConnectionInput> parsed = ParseConnectionUri(*uri);
      if (!parsed.ok()) {
        r.Problem("uri", parsed.status().message());
      } else {
        std::string id = p.input.conn_id;
        p.input = *parsed;
        p.input.conn_id = id;
      }
    }
  } else {
    if (!r.Has("conn_type") && p.action == "create") {
      r.Problem("conn_type",
                "missing required field 'conn_type' (for example spark), or give a uri such as "
                "spark://127.0.0.1:7077");
    }
    if (auto v = r.String("conn_type")) p.input.conn_type = *v;
    if (auto v = r.String("host")) p.input.host = *v;
    if (auto v = r.Int("port", 0, 65535)) p.input.port = static_cast<int>(*v);
    if (auto v = r.String("schema")) p.input.schema = *v;
    if (auto v = r.String("login")) p.input.login = *v;
    if (auto v = r.String("password")) p.input.password = *v;
  }
  std::optional<std::map<std::string, std::string>> extras = r.StringMap("extras");
  if (extras) {
    for (auto& [k, v] : *extras) p.input.extras[k] = v;
  }
  std::optional<std::vector<std::string>> secret =
      r.StringList("secret_extras", ListForm::kCommaSeparated);
  if (secret) {
    // Added to those the uri's query already names (LooksLikeSecretName), never replacing them.
    for (const std::string& name : *secret) {
      if (std::find(p.input.secret_extras.begin(), p.input.secret_extras.end(), name) ==
          p.input.secret_extras.end()) {
        p.input.secret_extras.push_back(name);
      }
    }
  }
  // Names can be checked once both lists are known (not templates).
  bool extras_known =
      !r.Deferred("extras") && (!r.Has("extras") || extras.has_value()) && !r.Deferred("uri");
  if (secret && extras_known) {
    for (size_t i = 0; i < secret->size(); ++i) {
      const std::string& name = (*secret)[i];
      if (r.phase() == FieldPhase::kUnrendered && internal::IsTemplated(name)) continue;
      if (p.input.extras.count(name) == 0) {
        r.Problem("secret_extras", "secret_extras[" + std::to_string(i) + "]",
                  "'" + name +
                      "' is not one of the extras; list the names of extras whose "
                      "values are secret");
      }
    }
  }
  return p;
}

}  // namespace

std::vector<std::string> ConnectionTaskType::FieldNames() const {
  return {"action", "conn_id",  "conn_type", "host",          "port", "schema",
          "login",  "password", "extras",    "secret_extras", "uri"};
}

void ConnectionTaskType::Validate(const dag::TaskSpec& spec,
                                  std::vector<dag::DagError>* errors) const {
  FieldReader r(spec.fields, FieldPhase::kUnrendered);
  ReadPlan(r);
  internal::AppendDagErrors(spec, r.problems(), errors);
}

void ConnectionTaskType::Start(std::shared_ptr<TaskContext> ctx) {
  FieldReader r(ctx->fields(), FieldPhase::kRendered);
  ConnectionPlan plan = ReadPlan(r);
  if (!r.ok()) {
    internal::Fail(ctx, "invalid connection task: " + r.FirstProblem(), /*retryable=*/false);
    return;
  }
  store::Store* store = services_->store;
  if (store == nullptr) {
    internal::Fail(ctx, "no store is configured", /*retryable=*/false);
    return;
  }
  const std::string& id = plan.input.conn_id;
  nlohmann::json outputs = {{"conn_id", id}};
  if (plan.action == "delete") {
    Status s = DeleteConnection(*store, id);
    if (s.code() == StatusCode::kNotFound) {
      internal::Log(*ctx, "no connection '" + id + "'; nothing to delete");
    } else if (!s.ok()) {
      internal::Fail(ctx, "could not delete connection '" + id + "': " + s.message(),
                     internal::IsRetryable(s));
      return;
    } else {
      internal::Log(*ctx, "deleted connection '" + id + "'");
    }
    ctx->Complete(internal::Succeeded(std::move(outputs), ""));
    return;
  }
  Result<store::ConnectionRecord> saved = AddConnection(
      *store, plan.input, SecretKeySource{services_->config.secret_key_path}, ctx->run_key());
  if (!saved.ok()) {
    internal::Fail(ctx, "could not save connection '" + id + "': " + saved.status().message(),
                   internal::IsRetryable(saved.status()));
    return;
  }
  internal::Log(*ctx,
                "saved connection '" + id + "': " + DescribeConnection(HiddenConnection(*saved)));
  outputs["conn_type"] = saved->conn_type;
  outputs["host"] = saved->host;
  outputs["port"] = saved->port;
  ctx->Complete(internal::Succeeded(std::move(outputs), ""));
}

void ConnectionTaskType::Cancel(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle,
                                Millis grace) {
  // Start finishes before it returns, so there is nothing in flight to stop.
  ctx->Complete(internal::Failed("cancelled", /*retryable=*/true));
}

void ConnectionTaskType::Recover(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle) {
  internal::Fail(ctx, "lost on restart: the connection task was interrupted", /*retryable=*/true);
}

}  // namespace sp::operators
