// HttpApi (see http_api.h).
#include "api/http_api.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "api/command_router.h"
#include "api/control_socket.h"
#include "api/views.h"
#include "common/json_limits.h"
#include "common/nearest_name.h"
#include "scheduler/decide.h"
#include "spark/history.h"

namespace sp::api {

using http::Problem;
using http::Request;
using http::Response;
using nlohmann::json;

namespace {

constexpr char kSessionCookie[] = "__Host-sparkplane_session";
constexpr char kPlainSessionCookie[] = "sparkplane_session";
constexpr int64_t kMaxLogChunk = 1 << 20;
constexpr int kMaxPageSize = 1000;

bool Unsafe(const std::string& method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

// Constant-time comparison of two secrets.
bool SameSecret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The host part of an Origin ("http://host:port" -> "host:port").
std::string OriginHost(const std::string& origin) {
  size_t p = origin.find("://");
  return p == std::string::npos ? origin : origin.substr(p + 3);
}

// A browser on loopback (or behind TLS) accepts `Secure` cookies; plain http on another host
// does not, so there the cookie goes without the __Host- prefix (which requires Secure).
bool SecureContext(const Request& req) {
  if (req.Header("x-forwarded-proto") == "https") return true;
  std::string host = req.Header("host");
  host =
      host.substr(0, host.rfind(':') == std::string::npos || host.back() == ']' ? host.size()
                                                                                : host.rfind(':'));
  return host == "localhost" || host == "127.0.0.1" || host == "[::1]";
}

Result<json> BodyObject(const Request& req) {
  if (req.body.empty()) return json::object();
  ASSIGN_OR_RETURN(json body, ParseJsonBounded(req.body));
  if (!body.is_object()) {
    return InvalidArgumentError(std::string("the request body must be a JSON object, got ") +
                                body.type_name());
  }
  return body;
}

// The body as an object holding only `allowed` fields: a misspelt field is an error, not a
// silently ignored wish.
Result<json> BodyFields(const Request& req, std::initializer_list<const char*> allowed) {
  ASSIGN_OR_RETURN(json body, BodyObject(req));
  for (const auto& [k, v] : body.items()) {
    bool known = false;
    std::string list;
    for (const char* a : allowed) {
      known |= k == a;
      list += std::string(list.empty() ? "" : ", ") + a;
    }
    if (!known) {
      return InvalidArgumentError(
          "unknown field '" + k + "'" +
          (list.empty() ? "; this request takes no fields" : "; expected " + list));
    }
  }
  return body;
}

Result<int> IntQuery(const Request& req, const char* name, int def, int lo, int hi) {
  std::optional<std::string> v = req.Query(name);
  if (!v) return def;
  char* end = nullptr;
  long x = std::strtol(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || x < lo || x > hi) {
    return InvalidArgumentError("query parameter '" + std::string(name) +
                                "' must be an integer in " + std::to_string(lo) + ".." +
                                std::to_string(hi) + ", got '" + *v + "'");
  }
  return static_cast<int>(x);
}

Result<std::optional<int64_t>> CursorQuery(const Request& req) {
  std::optional<std::string> v = req.Query("cursor");
  if (!v || v->empty()) return std::optional<int64_t>();
  char* end = nullptr;
  long long x = std::strtoll(v->c_str(), &end, 10);
  if (*end != '\0' || x <= 0)
    return InvalidArgumentError("query parameter 'cursor' is not a cursor this API gave");
  return std::optional<int64_t>(x);
}

// One page of runs, newest first: `filter` plus the request's limit (default `default_limit`)
// and cursor; the next cursor is the page's last key when more runs follow, else null.
struct RunPage {
  std::vector<store::DagRun> runs;
  json next_cursor = nullptr;
};

Result<RunPage> ListRunPage(store::Store* reads, const Request& req, store::RunFilter filter,
                            int default_limit) {
  ASSIGN_OR_RETURN(int limit, IntQuery(req, "limit", default_limit, 1, kMaxPageSize));
  ASSIGN_OR_RETURN(filter.before_key, CursorQuery(req));
  filter.limit = limit + 1;
  RunPage page;
  ASSIGN_OR_RETURN(page.runs, reads->ListRuns(filter));
  if (static_cast<int>(page.runs.size()) > limit) {
    page.runs.pop_back();
    page.next_cursor = std::to_string(page.runs.back().id);
  }
  return page;
}

json TaskJson(const store::TaskInstance& ti, const dag::Dag* d) {
  json j = TaskInstanceToJson(ti);
  j.erase("log_path");  // a server path; the API serves logs by try
  const dag::TaskSpec* spec = d ? d->FindTask(ti.task_id) : nullptr;
  j["type"] = spec ? json(spec->type) : json(nullptr);
  auto app = ti.outputs.find("app_id");
  j["spark_app_id"] = app != ti.outputs.end() && app->is_string() ? *app : json(nullptr);
  return j;
}

char StateChar(store::TaskState s) {
  return static_cast<char>('0' + static_cast<int>(s));
}

json Legend() {
  json l = json::object();
  for (int i = 0; i <= static_cast<int>(store::TaskState::kSkipped); ++i) {
    l[std::string(1, static_cast<char>('0' + i))] =
        store::TaskStateName(static_cast<store::TaskState>(i));
  }
  l["."] = "absent";
  return l;
}

// Reads [offset, offset+length) of a file; the size at the time of reading.
struct Chunk {
  int64_t offset = 0;
  int64_t size = 0;
  std::string bytes;
};

Result<Chunk> ReadChunk(const std::string& path, int64_t offset, int64_t length) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFoundError("this try has no log (yet)");
  struct stat st {};
  ::fstat(fd, &st);
  Chunk c;
  c.size = st.st_size;
  c.offset = offset < 0 ? std::max<int64_t>(0, c.size + offset) : std::min<int64_t>(offset, c.size);
  int64_t n = std::min<int64_t>(length, c.size - c.offset);
  c.bytes.resize(static_cast<size_t>(std::max<int64_t>(n, 0)));
  ssize_t got = n > 0 ? ::pread(fd, c.bytes.data(), c.bytes.size(), c.offset) : 0;
  ::close(fd);
  c.bytes.resize(static_cast<size_t>(std::max<ssize_t>(got, 0)));
  return c;
}

// Follows one try's log: `log` events with the bytes appended, then `end` once the try has
// ended and every byte was sent. Polls the file (twice a second) and, once nothing new came,
// the store for the try's state.
class LogStream : public http::EventStream {
 public:
  LogStream(std::string path, int64_t offset, std::function<bool()> try_ended)
      : path_(std::move(path)), offset_(offset), try_ended_(std::move(try_ended)) {}

  std::string Take() override {
    Result<Chunk> c = ReadChunk(path_, offset_, 256 * 1024);
    std::string out;
    if (c.ok() && !c->bytes.empty()) {
      offset_ = c->offset + static_cast<int64_t>(c->bytes.size());
      out += http::FormatEvent(http::HubEvent{
          0, "log",
          json{{"offset", c->offset}, {"next_offset", offset_}, {"content", c->bytes}}.dump(
              -1, ' ', false, json::error_handler_t::replace),
          ""});
      return out;
    }
    if (try_ended_()) {
      // One last look: the try may have written its tail just before it ended.
      Result<Chunk> tail = ReadChunk(path_, offset_, 256 * 1024);
      if (tail.ok() && !tail->bytes.empty()) return Take();
      finished_ = true;
      out += http::FormatEvent(http::HubEvent{0, "end", json{{"offset", offset_}}.dump(), ""});
    }
    return out;
  }
  bool Finished() const override { return finished_; }
  void SetWaker(std::function<void()>) override {}
  Millis poll_interval() const override { return Millis(500); }

 private:
  std::string path_;
  int64_t offset_;
  std::function<bool()> try_ended_;
  bool finished_ = false;
};

}  // namespace

std::string OpenApiYaml() {
  std::span<const UiFile> files = EmbeddedOpenApi();
  return files.empty() ? std::string() : std::string(files.front().content);
}

struct HttpApi::Caller {
  std::optional<auth::Principal> principal;
};

HttpApi::HttpApi(scheduler::Scheduler* scheduler, store::Store* reads, auth::AuthService* auth,
                 const Clock* clock, HttpApiOptions options, std::span<const UiFile> ui)
    : scheduler_(scheduler),
      reads_(reads),
      auth_(auth),
      clock_(clock),
      options_(std::move(options)),
      ui_(ui.begin(), ui.end()),
      hub_(10000,
           [this](int64_t after, int limit) -> Result<std::vector<http::HubEvent>> {
             // Resumes from before the buffer: read the store (run names from the same store).
             ASSIGN_OR_RETURN(std::vector<store::StateEvent> rows,
                              reads_->ListEventsAfter(after, limit));
             std::vector<http::HubEvent> out;
             std::map<int64_t, std::optional<store::DagRun>> runs;
             for (const store::StateEvent& e : rows) {
               auto found = runs.find(e.run_id);
               if (found == runs.end()) {
                 ASSIGN_OR_RETURN(std::optional<store::DagRun> r, reads_->GetRun(e.run_id));
                 found = runs.emplace(e.run_id, std::move(r)).first;
               }
               const std::optional<store::DagRun>& run = found->second;
               json data = {{"dag_id", run ? run->dag_id : ""},
                            {"run_id", run ? run->run_id : ""},
                            {"state", e.to_state},
                            {"from_state", e.from_state},
                            {"reason", e.reason},
                            {"at", FormatTime(e.at)}};
               if (!e.task_id.empty()) {
                 data["task_id"] = e.task_id;
                 data["try_number"] = e.try_number;
               }
               out.push_back(
                   {e.id, e.task_id.empty() ? "run" : "task", data.dump(), run ? run->dag_id : ""});
             }
             return out;
           }),
      catalog_(std::make_shared<Catalog>()) {
  Result<json> spec = dag::YamlTextToJson(OpenApiYaml(), "openapi.yaml");
  openapi_json_ = spec.ok() ? spec->dump() : json{{"error", spec.status().ToString()}}.dump();
  RegisterRoutes();
}

HttpApi::~HttpApi() {
  StopFeed();
}

std::shared_ptr<const HttpApi::Catalog> HttpApi::catalog() const {
  std::lock_guard<std::mutex> lock(catalog_mu_);
  return catalog_;
}

Response HttpApi::RunResponse(int64_t key, int status) {
  Result<std::optional<store::DagRun>> run = reads_->GetRun(key);
  if (!run.ok() || !*run) return Problem(500, "the run cannot be read back after the command");
  return http::JsonResponse(status, RunToJson(**run));
}

dag::DagPtr HttpApi::DagOf(const std::string& dag_id) const {
  auto c = catalog();
  auto it = c->dags.find(dag_id);
  return it == c->dags.end() ? nullptr : it->second;
}

void HttpApi::OnDagsLoaded(const std::vector<dag::LoadedFile>& files) {
  auto c = std::make_shared<Catalog>();
  c->files = files;
  for (const dag::LoadedFile& f : files) {
    if (f.dag && !c->dags.count(f.dag->id)) c->dags[f.dag->id] = f.dag;
  }
  bool changed;
  {
    std::lock_guard<std::mutex> lock(catalog_mu_);
    changed = catalog_->files.size() != c->files.size();
    for (size_t i = 0; !changed && i < c->files.size(); ++i) {
      changed = catalog_->files[i].dag != c->files[i].dag ||
                catalog_->files[i].errors.size() != c->files[i].errors.size();
    }
    catalog_ = std::move(c);
  }
  catalog_generation_.fetch_add(1, std::memory_order_release);
  if (changed) hub_.Publish(http::HubEvent{0, "dags", "{}", ""});
}

void HttpApi::OnPass(std::chrono::microseconds took) {
  metrics_.ObservePass(took);
  {
    std::lock_guard<std::mutex> lock(feed_mu_);
    feed_nudged_ = true;
  }
  feed_cv_.notify_one();
}

void HttpApi::ObserveRequest(const Request& request, int status, std::chrono::microseconds took) {
  // Label values come from a fixed set (routes Handle() matched, their methods): a client cannot
  // grow them.
  if (request.route.empty()) {
    metrics_.ObserveRequest("OTHER", "(unmatched)", status, took);
  } else {
    metrics_.ObserveRequest(request.method == "HEAD" ? "GET" : request.method, request.route,
                            status, took);
  }
}

Response HttpApi::Handle(Request& request) {
  // HEAD is GET without the body (the server drops it).
  const std::string method = request.method == "HEAD" ? "GET" : request.method;
  http::RouteMatch m = router_.Find(method, request.path);
  if (!m.route && method == "GET" && request.path.rfind("/api/", 0) != 0 &&
      request.path != "/metrics") {
    return UiFileResponse(request);
  }
  if (m.status == 405) {
    Response r = Problem(
        405, request.method + " is not allowed on " + request.path + "; allowed: " + m.allow);
    r.SetHeader("Allow", m.allow);
    return r;
  }
  if (!m.route) return Problem(404, "no such endpoint: " + request.path);
  request.params = std::move(m.params);
  request.route = m.route->pattern;
  return m.route->handler(request);
}

std::optional<Response> HttpApi::HandleQuick(Request& request) {
  if (request.method != "GET" && request.method != "HEAD") return std::nullopt;
  http::RouteMatch m = router_.Find("GET", request.path);
  if (!m.route || !m.route->quick) return std::nullopt;
  request.params = std::move(m.params);
  request.route = m.route->pattern;
  return m.route->quick(request);
}

auth::Role HttpApi::Needed(Access access) {
  return access == Access::kAdmin      ? auth::Role::kAdmin
         : access == Access::kOperator ? auth::Role::kOperator
                                       : auth::Role::kViewer;
}

namespace {
// The credentials a request carries: ("token", the bearer token) or ("session", the cookie's
// value, empty without one).
std::pair<std::string, std::string> CredentialsOf(const Request& req) {
  std::string authz = req.Header("authorization");
  if (authz.rfind("Bearer ", 0) == 0) return {"token", authz.substr(7)};
  std::string cookie = req.Cookie(kSessionCookie);
  if (cookie.empty()) cookie = req.Cookie(kPlainSessionCookie);
  return {"session", cookie};
}
}  // namespace

void HttpApi::Add(const std::string& method, const std::string& pattern, Access access, Handler h,
                  QuickHandler quick) {
  auto full = [this, access, h = std::move(h)](Request& req) -> Response {
    Caller caller;
    if (access != Access::kPublic) {
      Result<auth::Principal> who = UnauthenticatedError("authentication required");
      auto [kind, secret] = CredentialsOf(req);
      if (kind == "token") {
        who = auth_->FromToken(secret);
      } else if (!secret.empty()) {
        who = auth_->FromSession(secret);
      }
      if (!who.ok()) {
        Response r = Problem(who.status());
        r.SetHeader("WWW-Authenticate", "Bearer realm=\"sparkplane\"");
        return r;
      }
      if (who->via_session && Unsafe(req.method)) {
        std::string origin = req.Header("origin");
        if (!origin.empty() && OriginHost(origin) != req.Header("host")) {
          return Problem(403, "cross-origin request refused (Origin " + origin + ")", "CSRF");
        }
        if (!SameSecret(req.Header("x-csrf-token"), who->csrf_token)) {
          return Problem(403, "missing or wrong X-CSRF-Token header", "CSRF");
        }
      }
      auth::Role need = Needed(access);
      if (!auth::AtLeast(who->role, need)) {
        return Problem(403,
                       std::string("this needs the ") + auth::RoleName(need) + " role; you are " +
                           auth::RoleName(who->role),
                       "PERMISSION_DENIED");
      }
      caller.principal = *who;
    }
    return h(req, caller);
  };
  http::QuickHandler quick_route;
  if (quick) {
    // Only what the full path would also allow, for GETs (no CSRF check to make): a remembered
    // caller with the role. Any doubt (no credentials, unknown ones, too little role) goes to
    // the full path, which reads the store and gives the error.
    quick_route = [this, access,
                   quick = std::move(quick)](Request& req) -> std::optional<Response> {
      if (access != Access::kPublic) {
        auto [kind, secret] = CredentialsOf(req);
        std::optional<auth::Principal> who = auth_->Remembered(kind, secret);
        if (!who || !auth::AtLeast(who->role, Needed(access))) return std::nullopt;
      }
      return quick(req);
    };
  }
  router_.Add(method, pattern, std::move(full), std::move(quick_route));
}

Response HttpApi::Command(json request, int success_status,
                          const std::function<Response(const scheduler::CommandResult&)>& ok) {
  Result<scheduler::Event> event = ParseControlRequest(request);
  if (!event.ok()) return Problem(event.status());
  Result<scheduler::CommandResult> done =
      commands_ != nullptr ? commands_->Submit(request) : scheduler_->Submit(std::move(*event));
  if (!done.ok()) return Problem(done.status());
  Response r = ok(*done);
  if (r.status == 200 && success_status != 200) r.status = success_status;
  return r;
}

namespace {
Result<store::DagRun> FindRunOr404(store::Store* reads, const Request& req) {
  const std::string& dag_id = req.params.at("dag_id");
  const std::string& run_id = req.params.at("run_id");
  ASSIGN_OR_RETURN(std::optional<store::DagRun> run, reads->FindRun(dag_id, run_id));
  if (!run) return NotFoundError("DAG '" + dag_id + "' has no run '" + run_id + "'");
  return *run;
}
}  // namespace

void HttpApi::RegisterRoutes() {
  // ---- public
  Add("GET", "/api/v1/health", Access::kPublic, [this](Request&, const Caller&) {
    return http::JsonResponse(
        200, {{"status", loading_.load() ? "loading" : "ok"}, {"version", options_.version}});
  });
  Add("GET", "/api/v1/version", Access::kPublic, [this](Request&, const Caller&) {
    return http::JsonResponse(200, {{"version", options_.version}});
  });
  Add("GET", "/api/v1/openapi.json", Access::kPublic, [this](Request&, const Caller&) {
    Response r;
    r.SetHeader("Content-Type", "application/json");
    r.body = openapi_json_;
    return r;
  });
  Add("POST", "/api/v1/auth/login", Access::kPublic,
      [this](Request& req, const Caller&) { return Login(req); });

  // ---- viewer
  Add("POST", "/api/v1/auth/logout", Access::kViewer, [this](Request& req, const Caller&) {
    std::string cookie = req.Cookie(kSessionCookie);
    if (cookie.empty()) cookie = req.Cookie(kPlainSessionCookie);
    if (!cookie.empty()) auth_->Logout(cookie).IgnoreError();
    Response r;
    r.status = 204;
    r.headers.emplace_back(
        "Set-Cookie",
        std::string(kSessionCookie) + "=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax");
    r.headers.emplace_back("Set-Cookie", std::string(kPlainSessionCookie) +
                                             "=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
    return r;
  });
  Add("GET", "/api/v1/auth/me", Access::kViewer, [](Request&, const Caller& c) {
    return http::JsonResponse(200, {{"username", c.principal->username},
                                    {"role", auth::RoleName(c.principal->role)},
                                    {"csrf_token", c.principal->csrf_token}});
  });
  Add(
      "GET", "/api/v1/dags", Access::kViewer,
      [this](Request& req, const Caller&) { return ListDags(req); },
      [this](Request& req) { return KeptPage(req, DagsPageVersion()); });
  Add("GET", "/api/v1/dags/{dag_id}", Access::kViewer,
      [this](Request& req, const Caller&) { return GetDag(req.params.at("dag_id")); });
  Add("GET", "/api/v1/dags/{dag_id}/source", Access::kViewer, [this](Request& req, const Caller&) {
    auto c = catalog();
    auto it = c->dags.find(req.params.at("dag_id"));
    if (it == c->dags.end()) return Problem(404, "no DAG '" + req.params.at("dag_id") + "'");
    std::ifstream in(it->second->file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return http::JsonResponse(200, {{"file", it->second->file}, {"source", text.str()}});
  });
  Add("GET", "/api/v1/dags/{dag_id}/grid", Access::kViewer,
      [this](Request& req, const Caller&) { return Grid(req); });
  auto kept_runs = [this](Request& req) { return KeptPage(req, RunsPageVersion()); };
  Add(
      "GET", "/api/v1/runs", Access::kViewer,
      [this](Request& req, const Caller&) { return ListRuns(req, req.Query("dag_id")); },
      kept_runs);
  Add(
      "GET", "/api/v1/dags/{dag_id}/runs", Access::kViewer,
      [this](Request& req, const Caller&) { return ListRuns(req, req.params.at("dag_id")); },
      kept_runs);
  Add("GET", "/api/v1/dags/{dag_id}/runs/{run_id}", Access::kViewer,
      [this](Request& req, const Caller&) {
        Result<store::DagRun> run = FindRunOr404(reads_, req);
        if (!run.ok()) return Problem(run.status());
        return http::JsonResponse(200, RunToJson(*run));
      });
  Add("GET", "/api/v1/dags/{dag_id}/runs/{run_id}/tasks", Access::kViewer,
      [this](Request& req, const Caller&) {
        Result<store::DagRun> run = FindRunOr404(reads_, req);
        if (!run.ok()) return Problem(run.status());
        Result<std::vector<store::TaskInstance>> tis = reads_->ListTaskInstances(run->id);
        if (!tis.ok()) return Problem(tis.status());
        dag::DagPtr dag = DagOf(run->dag_id);
        json out = json::array();
        // In the DAG's (topological) order when the DAG is known.
        std::vector<const store::TaskInstance*> order;
        for (const auto& ti : *tis) order.push_back(&ti);
        if (dag) {
          std::map<std::string, size_t> pos;
          for (size_t i = 0; i < dag->tasks.size(); ++i) pos[dag->tasks[i].id] = i;
          std::stable_sort(order.begin(), order.end(), [&](auto* a, auto* b) {
            return (pos.count(a->task_id) ? pos[a->task_id] : SIZE_MAX) <
                   (pos.count(b->task_id) ? pos[b->task_id] : SIZE_MAX);
          });
        }
        for (auto* ti : order) out.push_back(TaskJson(*ti, dag.get()));
        return http::JsonResponse(200, {{"tasks", out}});
      });
  Add("GET", "/api/v1/dags/{dag_id}/runs/{run_id}/tasks/{task_id}", Access::kViewer,
      [this](Request& req, const Caller&) {
        Result<store::DagRun> run = FindRunOr404(reads_, req);
        if (!run.ok()) return Problem(run.status());
        Result<std::optional<store::TaskInstance>> ti =
            reads_->GetTaskInstance(run->id, req.params.at("task_id"));
        if (!ti.ok()) return Problem(ti.status());
        if (*ti) return http::JsonResponse(200, TaskJson(**ti, DagOf(run->dag_id).get()));
        return Problem(404,
                       "run '" + run->run_id + "' has no task '" + req.params.at("task_id") + "'");
      });
  Add("GET", "/api/v1/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/tries", Access::kViewer,
      [this](Request& req, const Caller&) {
        Result<store::DagRun> run = FindRunOr404(reads_, req);
        if (!run.ok()) return Problem(run.status());
        Result<std::vector<store::StateEvent>> events = reads_->ListEvents(run->id);
        if (!events.ok()) return Problem(events.status());
        json out = json::array();
        for (const auto& e : *events) {
          if (e.task_id != req.params.at("task_id")) continue;
          out.push_back({{"try_number", e.try_number},
                         {"from_state", e.from_state},
                         {"to_state", e.to_state},
                         {"reason", e.reason},
                         {"at", FormatTime(e.at)}});
        }
        return http::JsonResponse(200, {{"events", out}});
      });
  Add("GET", "/api/v1/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/logs/{try_number}",
      Access::kViewer, [this](Request& req, const Caller&) { return TaskLog(req); });
  Add("GET", "/api/v1/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/logs/{try_number}/stream",
      Access::kViewer, [this](Request& req, const Caller&) { return TaskLogStream(req); });
  Add("GET", "/api/v1/clusters", Access::kViewer, [this](Request& req, const Caller&) {
    std::string deleted_text = req.Query("include_deleted").value_or("false");
    if (deleted_text != "true" && deleted_text != "false") {
      return Problem(400, "query parameter 'include_deleted' must be true or false, got '" +
                              deleted_text + "'");
    }
    bool deleted = deleted_text == "true";
    Result<std::vector<store::ClusterRecord>> all = reads_->ListClusters(deleted);
    if (!all.ok()) return Problem(all.status());
    json out = json::array();
    for (const auto& c : *all) {
      json run = nullptr, dag = nullptr;
      if (c.run_id != 0) {
        if (auto r = reads_->GetRun(c.run_id); r.ok() && *r) {
          run = (*r)->run_id;
          dag = (*r)->dag_id;
        }
      }
      auto field = [&](const char* k) {
        return c.handle.is_object() && c.handle.contains(k) ? c.handle[k] : json(nullptr);
      };
      // A count: kubernetes handles keep one, local ones the list of worker processes.
      json workers = field("workers");
      if (workers.is_array()) workers = workers.size();
      if (!workers.is_number_integer()) workers = nullptr;
      out.push_back({{"name", c.name},
                     {"backend", c.backend},
                     {"state", c.state},
                     {"dag_id", dag},
                     {"run_id", run},
                     {"workers", workers},
                     {"master_url", field("master_url")},
                     {"created_at", FormatTime(c.created_at)},
                     {"deleted_at", TimeOrNull(c.deleted_at)}});
    }
    return http::JsonResponse(200, {{"clusters", out}});
  });
  Add("DELETE", "/api/v1/clusters/{name}", Access::kOperator,
      [this](Request& req, const Caller&) -> Response {
        const std::string& name = req.params.at("name");
        Result<std::vector<store::ClusterRecord>> all = reads_->ListClusters(false);
        if (!all.ok()) return Problem(all.status());
        auto it = std::find_if(all->begin(), all->end(),
                               [&](const store::ClusterRecord& c) { return c.name == name; });
        if (it == all->end()) return Problem(404, "no live Spark cluster named '" + name + "'");
        if (it->run_id != 0) {
          Result<std::optional<store::DagRun>> run = reads_->GetRun(it->run_id);
          if (!run.ok()) return Problem(run.status());
          if (*run && !store::IsTerminal((*run)->state)) {
            return Problem(409, "Spark cluster '" + name + "' belongs to run " + (*run)->run_id +
                                    " of DAG '" + (*run)->dag_id + "', which is " +
                                    store::RunStateName((*run)->state) +
                                    "; its teardown deletes it (cancel the run to end it sooner)");
          }
        }
        if (!options_.delete_cluster) {
          return Problem(501,
                         "this server cannot delete clusters; use `sparkplane cluster delete`");
        }
        Result<std::string> done = options_.delete_cluster(*it);
        if (!done.ok()) return Problem(done.status());
        return http::JsonResponse(200, {{"name", name}, {"message", *done}});
      });
  Add("GET", "/api/v1/spark/applications/{app_id}", Access::kViewer,
      [this](Request& req, const Caller&) {
        Result<spark::AppSummary> s =
            spark::SummarizeApplication(options_.spark_history_dir, req.params.at("app_id"));
        if (!s.ok()) return Problem(s.status());
        json j = SparkSummaryToJson(*s);
        j.erase("log_path");
        j["history_url"] = options_.history_server_url.empty()
                               ? json(nullptr)
                               : json(options_.history_server_url + "/history/" + s->app_id);
        return http::JsonResponse(200, j);
      });
  Add("GET", "/api/v1/events", Access::kViewer,
      [this](Request& req, const Caller&) { return Events(req); });
  Add("GET", "/metrics", Access::kViewer, [this](Request&, const Caller&) { return Metrics(); });
  Add("POST", "/api/v1/tokens", Access::kViewer, [this](Request& req, const Caller& c) {
    Result<json> body = BodyFields(req, {"name", "role"});
    if (!body.ok()) return Problem(body.status());
    std::optional<auth::Role> role;
    if (body->contains("role")) {
      role = (*body)["role"].is_string() ? auth::ParseRole((*body)["role"].get<std::string>())
                                         : std::nullopt;
      if (!role) return Problem(400, "field 'role' must be viewer, operator or admin");
    }
    auto name_field = body->find("name");
    if (name_field != body->end() && !name_field->is_string()) {
      return Problem(400, "field 'name' must be a string");
    }
    std::string name = name_field == body->end() ? "" : name_field->get<std::string>();
    Result<auth::NewToken> t = auth_->CreateToken(c.principal->username, name, role);
    if (!t.ok()) return Problem(t.status());
    return http::JsonResponse(201, {{"id", t->id}, {"token", t->token}});
  });
  Add("GET", "/api/v1/tokens", Access::kViewer, [this](Request&, const Caller& c) {
    std::optional<std::string> who;
    if (c.principal->role != auth::Role::kAdmin) who = c.principal->username;
    Result<std::vector<store::ApiTokenRecord>> all = auth_->ListTokens(who);
    if (!all.ok()) return Problem(all.status());
    json out = json::array();
    for (const auto& t : *all) {
      out.push_back({{"id", t.id},
                     {"username", t.username},
                     {"name", t.name},
                     {"role", t.role},
                     {"created_at", FormatTime(t.created_at)},
                     {"revoked_at", TimeOrNull(t.revoked_at)}});
    }
    return http::JsonResponse(200, {{"tokens", out}});
  });
  Add("DELETE", "/api/v1/tokens/{token_id}", Access::kViewer,
      [this](Request& req, const Caller& c) {
        Status s = auth_->RevokeToken(req.params.at("token_id"), c.principal);
        if (!s.ok()) return Problem(s);
        Response r;
        r.status = 204;
        return r;
      });

  // ---- operator: the control socket's commands
  Add("PATCH", "/api/v1/dags/{dag_id}", Access::kOperator, [this](Request& req, const Caller&) {
    Result<json> body = BodyFields(req, {"paused"});
    if (!body.ok()) return Problem(body.status());
    auto p = body->find("paused");
    if (p == body->end() || !p->is_boolean()) {
      return Problem(400, "field 'paused' must be a boolean");
    }
    std::string dag_id = req.params.at("dag_id");
    return Command({{"op", p->get<bool>() ? "pause" : "unpause"}, {"dag_id", dag_id}}, 200,
                   [&](const scheduler::CommandResult&) { return GetDag(dag_id); });
  });
  Add("POST", "/api/v1/dags/{dag_id}/runs", Access::kOperator, [this](Request& req, const Caller&) {
    Result<json> body = BodyFields(req, {"conf", "logical_date", "run_id"});
    if (!body.ok()) return Problem(body.status());
    json cmd = *body;
    cmd["op"] = "trigger";
    cmd["dag_id"] = req.params.at("dag_id");
    return Command(cmd, 201, [&](const scheduler::CommandResult& r) {
      if (r.created_runs.empty()) return Problem(500, "the trigger created no run");
      return RunResponse(r.created_runs.front(), 201);
    });
  });
  Add("POST", "/api/v1/dags/{dag_id}/runs/{run_id}/cancel", Access::kOperator,
      [this](Request& req, const Caller&) {
        Result<store::DagRun> run = FindRunOr404(reads_, req);
        if (!run.ok()) return Problem(run.status());
        int64_t key = run->id;
        return Command({{"op", "cancel"}, {"run", key}}, 200,
                       [&](const scheduler::CommandResult&) { return RunResponse(key, 200); });
      });
  Add("POST", "/api/v1/dags/{dag_id}/runs/{run_id}/repair", Access::kOperator,
      [this](Request& req, const Caller&) {
        Result<store::DagRun> run = FindRunOr404(reads_, req);
        if (!run.ok()) return Problem(run.status());
        if (!store::IsTerminal(run->state)) {
          return Problem(409,
                         "run '" + run->run_id + "' is still " + store::RunStateName(run->state) +
                             "; repair a finished run",
                         "FAILED_PRECONDITION");
        }
        Result<std::vector<store::TaskInstance>> tis = reads_->ListTaskInstances(run->id);
        if (!tis.ok()) return Problem(tis.status());
        std::vector<std::string> failed;
        for (const auto& ti : *tis) {
          if (ti.state == store::TaskState::kFailed ||
              ti.state == store::TaskState::kUpstreamFailed) {
            failed.push_back(ti.task_id);
          }
        }
        if (failed.empty()) {
          return Problem(409, "run '" + run->run_id + "' has no failed task to repair",
                         "FAILED_PRECONDITION");
        }
        return Command({{"op", "clear"}, {"run", run->id}, {"tasks", failed}, {"downstream", true}},
                       200, [&](const scheduler::CommandResult&) {
                         return http::JsonResponse(200, {{"cleared", failed}});
                       });
      });
  Add("POST", "/api/v1/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/clear", Access::kOperator,
      [this](Request& req, const Caller&) {
        Result<store::DagRun> run = FindRunOr404(reads_, req);
        if (!run.ok()) return Problem(run.status());
        Result<json> body = BodyFields(req, {"downstream"});
        if (!body.ok()) return Problem(body.status());
        json cmd = {{"op", "clear"}, {"run", run->id}, {"tasks", {req.params.at("task_id")}}};
        if (body->contains("downstream")) cmd["downstream"] = (*body)["downstream"];
        return Command(cmd, 200, [&](const scheduler::CommandResult&) {
          return http::JsonResponse(200, {{"cleared", {req.params.at("task_id")}}});
        });
      });
  Add("POST", "/api/v1/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/mark", Access::kOperator,
      [this](Request& req, const Caller&) {
        Result<store::DagRun> run = FindRunOr404(reads_, req);
        if (!run.ok()) return Problem(run.status());
        Result<json> body = BodyFields(req, {"state"});
        if (!body.ok()) return Problem(body.status());
        json cmd = {{"op", "mark"}, {"run", run->id}, {"task", req.params.at("task_id")}};
        if (body->contains("state")) cmd["state"] = (*body)["state"];
        return Command(cmd, 200, [&](const scheduler::CommandResult&) {
          return http::JsonResponse(200, {{"marked", req.params.at("task_id")}});
        });
      });

  // ---- admin
  Add("GET", "/api/v1/connections", Access::kAdmin, [this](Request&, const Caller&) {
    Result<std::vector<store::ConnectionRecord>> all = reads_->ListConnections();
    if (!all.ok()) return Problem(all.status());
    json out = json::array();
    for (const auto& c : *all) {
      out.push_back({{"conn_id", c.conn_id},
                     {"conn_type", c.conn_type},
                     {"host", c.host},
                     {"port", c.port},
                     {"schema", c.schema},
                     {"login", c.login},
                     {"has_password", !c.password_sealed.empty()},
                     {"extras", c.extras},
                     {"has_secret_extras", !c.extras_sealed.empty()}});
    }
    return http::JsonResponse(200, {{"connections", out}});
  });
  Add("GET", "/api/v1/users", Access::kAdmin, [this](Request&, const Caller&) {
    Result<std::vector<store::UserRecord>> all = auth_->ListUsers();
    if (!all.ok()) return Problem(all.status());
    json out = json::array();
    for (const auto& u : *all) {
      out.push_back(
          {{"username", u.username}, {"role", u.role}, {"created_at", FormatTime(u.created_at)}});
    }
    return http::JsonResponse(200, {{"users", out}});
  });
  Add("POST", "/api/v1/users", Access::kAdmin, [this](Request& req, const Caller&) {
    Result<json> body = BodyFields(req, {"username", "role", "password"});
    if (!body.ok()) return Problem(body.status());
    auto str = [&](const char* k) {
      auto it = body->find(k);
      return it != body->end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    std::optional<auth::Role> role = auth::ParseRole(str("role"));
    if (!role) return Problem(400, "field 'role' must be viewer, operator or admin");
    Status s = auth_->CreateUser(str("username"), *role, str("password"));
    if (!s.ok()) return Problem(s);
    return http::JsonResponse(201,
                              {{"username", str("username")}, {"role", auth::RoleName(*role)}});
  });
  Add("DELETE", "/api/v1/users/{username}", Access::kAdmin, [this](Request& req, const Caller& c) {
    if (req.params.at("username") == c.principal->username) {
      return Problem(409, "you cannot delete yourself", "FAILED_PRECONDITION");
    }
    Status s = auth_->DeleteUser(req.params.at("username"));
    if (!s.ok()) return Problem(s);
    Response r;
    r.status = 204;
    return r;
  });
}

Response HttpApi::Login(Request& req) {
  std::string origin = req.Header("origin");
  if (!origin.empty() && OriginHost(origin) != req.Header("host")) {
    return Problem(403, "cross-origin login refused (Origin " + origin + ")", "CSRF");
  }
  Result<json> body = BodyFields(req, {"username", "password"});
  if (!body.ok()) return Problem(body.status());
  auto str = [&](const char* k) {
    auto it = body->find(k);
    return it != body->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  Result<auth::NewSession> s = auth_->Login(str("username"), str("password"), req.remote_address);
  if (!s.ok()) {
    Response r = Problem(s.status());
    if (s.status().code() == StatusCode::kResourceExhausted) r.SetHeader("Retry-After", "60");
    return r;
  }
  Response r = http::JsonResponse(200, {{"username", s->principal.username},
                                        {"role", auth::RoleName(s->principal.role)},
                                        {"csrf_token", s->principal.csrf_token}});
  bool secure = SecureContext(req);
  r.headers.emplace_back(
      "Set-Cookie",
      std::string(secure ? kSessionCookie : kPlainSessionCookie) + "=" + s->cookie_value +
          "; Path=/; HttpOnly; SameSite=Lax" + (secure ? "; Secure" : "") +
          "; Max-Age=" + std::to_string((s->expires_at - clock_->Now()).count() / 1000));
  r.SetHeader("Cache-Control", "no-store");
  return r;
}

Response HttpApi::ListDags(Request& req) {
  // Kept like the runs lists (ListRuns), and for the current second at most.
  const std::optional<PageVersion> version = DagsPageVersion();
  if (std::optional<Response> kept = KeptPage(req, version)) return std::move(*kept);
  Response r = RenderDags();
  KeepPage(req, version, r);
  return r;
}

Response HttpApi::RenderDags() {
  auto c = catalog();
  std::map<std::string, store::DagRecord> records;
  if (auto all = reads_->ListDags(); all.ok()) {
    for (auto& r : *all) records[r.dag_id] = r;
  }
  json dags = json::array();
  for (const auto& [id, d] : c->dags) {
    const store::DagRecord* rec = records.count(id) ? &records[id] : nullptr;
    json recent = json::array();
    store::RunFilter f;
    f.dag_id = id;
    f.limit = 10;
    if (auto runs = reads_->ListRuns(f); runs.ok()) {
      for (const auto& r : *runs) {
        recent.push_back({{"run_id", r.run_id},
                          {"state", store::RunStateName(r.state)},
                          {"logical_date", FormatTime(r.logical_date)}});
      }
    }
    json next = nullptr;
    if (d->schedule && !d->schedule->is_once()) {
      auto runs = scheduler::NextScheduledRuns(
          *d, rec ? rec->last_scheduled_logical_date : std::nullopt, clock_->Now(), 1);
      if (!runs.empty()) next = FormatTime(runs.front().logical_date);
    }
    dags.push_back({{"dag_id", id},
                    {"file", d->file},
                    {"description", d->description},
                    {"paused", rec ? rec->paused : false},
                    {"schedule", d->schedule ? json(d->schedule->text()) : json(nullptr)},
                    {"next_run", next},
                    {"tags", d->tags},
                    {"task_count", d->tasks.size()},
                    {"recent_runs", recent}});
  }
  json errors = json::array();
  for (const dag::LoadedFile& f : c->files) {
    if (f.errors.empty()) continue;
    json list = json::array();
    for (const dag::DagError& e : f.errors) {
      list.push_back({{"message", e.ToString()},
                      {"line", e.location.line},
                      {"column", e.location.column},
                      {"field", e.field}});
    }
    errors.push_back({{"file", f.path}, {"errors", list}});
  }
  return http::JsonResponse(200, {{"dags", dags}, {"import_errors", errors}});
}

Response HttpApi::GetDag(const std::string& dag_id) {
  auto c = catalog();
  auto it = c->dags.find(dag_id);
  if (it == c->dags.end()) {
    std::vector<std::string> ids;
    for (const auto& [id, d] : c->dags) ids.push_back(id);
    std::string near = NearestName(dag_id, ids);
    return Problem(
        404, "no DAG '" + dag_id + "'" + (near.empty() ? "" : "; did you mean '" + near + "'?"),
        "NOT_FOUND");
  }
  json j = DagToJson(*it->second);
  Result<std::optional<store::DagRecord>> rec = reads_->GetDag(dag_id);
  j["paused"] = rec.ok() && *rec && (*rec)->paused;
  return http::JsonResponse(200, j);
}

Response HttpApi::Grid(Request& req) {
  auto c = catalog();
  const std::string& dag_id = req.params.at("dag_id");
  auto it = c->dags.find(dag_id);
  if (it == c->dags.end()) return Problem(404, "no DAG '" + dag_id + "'", "NOT_FOUND");
  const dag::Dag& d = *it->second;
  store::RunFilter f;
  f.dag_id = dag_id;
  Result<RunPage> page = ListRunPage(reads_, req, f, 25);
  if (!page.ok()) return Problem(page.status());
  const std::vector<store::DagRun>& runs = page->runs;
  std::vector<int64_t> keys;
  for (const auto& r : runs) keys.push_back(r.id);
  Result<std::vector<store::TaskInstance>> tis = reads_->ListTaskInstancesOfRuns(keys);
  if (!tis.ok()) return Problem(tis.status());
  std::map<std::string, size_t> pos;
  json tasks = json::array();
  for (size_t i = 0; i < d.tasks.size(); ++i) {
    pos[d.tasks[i].id] = i;
    tasks.push_back(d.tasks[i].id);
  }
  std::map<int64_t, std::string> states;
  for (int64_t k : keys) states[k] = std::string(d.tasks.size(), '.');
  for (const auto& ti : *tis) {
    auto p = pos.find(ti.task_id);
    if (p != pos.end()) states[ti.run_id][p->second] = StateChar(ti.state);
  }
  json out = json::array();
  for (const auto& r : runs) {
    out.push_back({{"run_id", r.run_id},
                   {"state", store::RunStateName(r.state)},
                   {"logical_date", FormatTime(r.logical_date)},
                   {"started_at", TimeOrNull(r.started_at)},
                   {"ended_at", TimeOrNull(r.ended_at)},
                   {"states", states[r.id]}});
  }
  return http::JsonResponse(
      200,
      {{"tasks", tasks}, {"runs", out}, {"legend", Legend()}, {"next_cursor", page->next_cursor}});
}

Response HttpApi::ListRuns(Request& req, const std::optional<std::string>& dag_id) {
  // A rendered page is kept until a run changes: the scheduler's count of commits that changed
  // runs (moves as soon as its commit is durable) and the store's runs_version (any writer, e.g.
  // another process; read by the feed thread every feed_interval). Both are read before the
  // page, so no page is kept past a change it may have missed. While tasks run and no run
  // changes, a list costs no database read at all (a read per request under a busy writer
  // gave a 113 ms p99 during a 1,000-task fan-out, docs/BENCHMARKS.md).
  const std::optional<PageVersion> version = RunsPageVersion();
  if (std::optional<Response> kept = KeptPage(req, version)) return std::move(*kept);
  Response r = RenderRuns(req, dag_id);
  KeepPage(req, version, r);
  return r;
}

std::optional<HttpApi::PageVersion> HttpApi::RunsPageVersion() const {
  const int64_t db_version = db_runs_version_.load(std::memory_order_acquire);
  if (db_version < 0) return std::nullopt;
  return PageVersion{scheduler_->listing_changes(), db_version, 0, 0};
}

std::optional<HttpApi::PageVersion> HttpApi::DagsPageVersion() const {
  std::optional<PageVersion> v = RunsPageVersion();
  if (!v) return std::nullopt;
  v->catalog = catalog_generation_.load(std::memory_order_acquire);
  v->second = ToUnixMillis(clock_->Now()) / 1000;
  return v;
}

std::optional<Response> HttpApi::KeptPage(const Request& req,
                                          const std::optional<PageVersion>& version) {
  if (!version) return std::nullopt;
  std::lock_guard<std::mutex> lock(page_cache_mu_);
  auto hit = page_cache_.find(req.target);
  if (hit == page_cache_.end() || !(hit->second.first == *version)) return std::nullopt;
  Response r;
  r.status = 200;
  r.SetHeader("Content-Type", "application/json");
  r.body = hit->second.second;
  return r;
}

void HttpApi::KeepPage(const Request& req, const std::optional<PageVersion>& version,
                       const Response& page) {
  if (!version || page.status != 200) return;
  std::lock_guard<std::mutex> lock(page_cache_mu_);
  if (page_cache_.size() >= kPageCacheEntries) page_cache_.clear();
  page_cache_[req.target] = {*version, page.body};
}

Response HttpApi::RenderRuns(Request& req, const std::optional<std::string>& dag_id) {
  store::RunFilter f;
  if (dag_id && !dag_id->empty()) f.dag_id = *dag_id;
  if (auto s = req.Query("state"); s && !s->empty()) {
    f.state = store::ParseRunState(*s);
    if (!f.state) {
      return Problem(400,
                     "query parameter 'state' must be queued, running, success, failed or "
                     "cancelled, got '" +
                         *s + "'");
    }
  }
  Result<RunPage> page = ListRunPage(reads_, req, f, 50);
  if (!page.ok()) return Problem(page.status());
  json out = json::array();
  for (const auto& r : page->runs) out.push_back(RunToJson(r));
  return http::JsonResponse(200, {{"runs", out}, {"next_cursor", page->next_cursor}});
}

namespace {

// The try a log request names: its run, task instance and number (1..the task's tries).
struct TryRef {
  store::DagRun run;
  store::TaskInstance ti;
  int try_number = 0;
};

Result<TryRef> FindTry(store::Store* reads, const Request& req) {
  ASSIGN_OR_RETURN(store::DagRun run, FindRunOr404(reads, req));
  const std::string& try_text = req.params.at("try_number");
  char* end = nullptr;
  long t = std::strtol(try_text.c_str(), &end, 10);
  if (try_text.empty() || *end != '\0' || t < 1 || t > 10000) {
    return InvalidArgumentError("the try number must be 1..10000, got '" + try_text + "'");
  }
  const std::string& task = req.params.at("task_id");
  ASSIGN_OR_RETURN(std::vector<store::TaskInstance> tis, reads->ListTaskInstances(run.id));
  for (auto& ti : tis) {
    if (ti.task_id != task) continue;
    if (t > ti.try_number) {
      return NotFoundError("task '" + task + "' has had " + std::to_string(ti.try_number) +
                           " tries, not " + std::to_string(t));
    }
    return TryRef{std::move(run), std::move(ti), static_cast<int>(t)};
  }
  return NotFoundError("run '" + run.run_id + "' has no task '" + task + "'");
}

// An integer query parameter that may be negative (log offsets count from the end then).
Result<int64_t> OffsetQuery(const Request& req, int64_t min) {
  std::optional<std::string> o = req.Query("offset");
  if (!o) return int64_t{0};
  char* end = nullptr;
  long long v = std::strtoll(o->c_str(), &end, 10);
  if (o->empty() || *end != '\0' || v < min) {
    return InvalidArgumentError("query parameter 'offset' must be an integer" +
                                std::string(min == 0 ? " >= 0" : "") + ", got '" + *o + "'");
  }
  return static_cast<int64_t>(v);
}

}  // namespace

Response HttpApi::TaskLog(Request& req) {
  Result<TryRef> ref = FindTry(reads_, req);
  if (!ref.ok()) return Problem(ref.status());
  Result<int64_t> offset = OffsetQuery(req, INT64_MIN);
  if (!offset.ok()) return Problem(offset.status());
  Result<int> length = IntQuery(req, "length", 65536, 1, kMaxLogChunk);
  if (!length.ok()) return Problem(length.status());
  std::string path = options_.scheduler_dir + "/" +
                     scheduler::TryLogPath(ref->run, ref->ti.task_id, ref->try_number);
  Result<Chunk> c = ReadChunk(path, *offset, *length);
  if (!c.ok()) return Problem(c.status());
  int64_t next = c->offset + static_cast<int64_t>(c->bytes.size());
  bool ended = ref->try_number < ref->ti.try_number || !store::IsActive(ref->ti.state);
  return http::JsonResponse(200, {{"offset", c->offset},
                                  {"next_offset", next},
                                  {"size", c->size},
                                  {"content", c->bytes},
                                  {"complete", ended && next >= c->size}});
}

Response HttpApi::TaskLogStream(Request& req) {
  Result<TryRef> ref = FindTry(reads_, req);
  if (!ref.ok()) return Problem(ref.status());
  Result<int64_t> offset = OffsetQuery(req, 0);
  if (!offset.ok()) return Problem(offset.status());
  int64_t key = ref->run.id;
  std::string task = ref->ti.task_id;
  int t = ref->try_number;
  store::Store* reads = reads_;
  auto ended = [reads, key, task, t] {
    Result<std::vector<store::TaskInstance>> tis = reads->ListTaskInstances(key);
    if (!tis.ok()) return false;
    for (const auto& x : *tis) {
      if (x.task_id == task) return t < x.try_number || !store::IsActive(x.state);
    }
    return true;
  };
  Response r;
  r.stream = std::make_shared<LogStream>(
      options_.scheduler_dir + "/" + scheduler::TryLogPath(ref->run, task, t), *offset, ended);
  return r;
}

Response HttpApi::Events(Request& req) {
  // EventSource sends Last-Event-ID itself when it reconnects; a first connection may pass
  // last_event_id in the query (EventSource cannot set headers).
  std::optional<int64_t> last;
  std::string last_text = req.Header("last-event-id");
  if (last_text.empty()) last_text = req.Query("last_event_id").value_or("");
  if (!last_text.empty() || req.Query("last_event_id")) {
    char* end = nullptr;
    long long v = std::strtoll(last_text.c_str(), &end, 10);
    if (last_text.empty() || *end != '\0' || v < 0) {
      return Problem(
          400, "Last-Event-ID must be an event id (an integer >= 0), got '" + last_text + "'");
    }
    last = v;
  }
  Response r;
  r.stream = hub_.Subscribe(last, req.Query("dag_id").value_or(""));
  return r;
}

Response HttpApi::Metrics() {
  std::string gauges;
  if (Result<store::StateCounts> counts = reads_->CountStates(); counts.ok()) {
    gauges += "# HELP sparkplane_runs Runs by state.\n# TYPE sparkplane_runs gauge\n";
    for (const auto& [state, n] : counts->runs) {
      gauges += "sparkplane_runs{state=\"" + state + "\"} " + std::to_string(n) + "\n";
    }
    gauges +=
        "# HELP sparkplane_task_instances Task instances by state.\n"
        "# TYPE sparkplane_task_instances gauge\n";
    for (const auto& [state, n] : counts->task_instances) {
      gauges += "sparkplane_task_instances{state=\"" + state + "\"} " + std::to_string(n) + "\n";
    }
  }
  gauges +=
      "# HELP sparkplane_event_streams Open Server-Sent Events streams.\n"
      "# TYPE sparkplane_event_streams gauge\nsparkplane_event_streams " +
      std::to_string(hub_.open_streams()) + "\n";
  Response r;
  r.SetHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  r.body = metrics_.Render(gauges);
  return r;
}

Response HttpApi::UiFileResponse(Request& req) {
  std::string path = req.path.substr(1);
  if (path.empty()) path = "index.html";
  const UiFile* found = nullptr;
  const UiFile* index = nullptr;
  for (const UiFile& f : ui_) {
    if (f.path == path) found = &f;
    if (f.path == "index.html") index = &f;
  }
  if (!found && path.rfind("assets/", 0) != 0) found = index;  // client-side routes
  if (!found) {
    if (ui_.empty()) {
      return Problem(404,
                     "this sparkplane was built without its web UI (scripts/build_ui.sh "
                     "builds it; the API is under /api/v1)");
    }
    return Problem(404, "no such file: " + req.path);
  }
  auto type = [](std::string_view p) -> std::string {
    auto ends = [&](std::string_view s) {
      return p.size() >= s.size() && p.substr(p.size() - s.size()) == s;
    };
    if (ends(".html")) return "text/html; charset=utf-8";
    if (ends(".js")) return "text/javascript; charset=utf-8";
    if (ends(".css")) return "text/css; charset=utf-8";
    if (ends(".svg")) return "image/svg+xml";
    if (ends(".png")) return "image/png";
    if (ends(".ico")) return "image/x-icon";
    if (ends(".json")) return "application/json";
    return "application/octet-stream";
  };
  Response r;
  r.SetHeader("Content-Type", type(found->path));
  // Vite names assets by content hash: they never change; index.html must be re-checked.
  r.SetHeader("Cache-Control", found->path.rfind("assets/", 0) == 0
                                   ? "public, max-age=31536000, immutable"
                                   : "no-cache");
  r.SetHeader("X-Content-Type-Options", "nosniff");
  if (found->path == "index.html") {
    r.SetHeader("Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                "frame-ancestors 'none'");
    r.SetHeader("X-Frame-Options", "DENY");
  }
  r.body = std::string(found->content);
  return r;
}

Status HttpApi::StartFeed() {
  // Events committed before this start are history: clients that resume from before it are
  // served from the store by the hub's backfill.
  ASSIGN_OR_RETURN(int64_t last, reads_->MaxEventId());
  feed_cursor_ = last;
  hub_.SetLastId(last);
  feed_ = std::thread([this] { FeedLoop(); });
  return OkStatus();
}

void HttpApi::StopFeed() {
  {
    std::lock_guard<std::mutex> lock(feed_mu_);
    feed_stopping_ = true;
  }
  feed_cv_.notify_all();
  if (feed_.joinable()) feed_.join();
}

void HttpApi::FeedLoop() {
  std::unique_lock<std::mutex> lock(feed_mu_);
  while (!feed_stopping_) {
    feed_cv_.wait_for(lock, options_.feed_interval, [&] { return feed_nudged_ || feed_stopping_; });
    if (feed_stopping_) break;
    feed_nudged_ = false;
    lock.unlock();
    FeedOnce().IgnoreError();
    lock.lock();
  }
}

Status HttpApi::FeedOnce() {
  ASSIGN_OR_RETURN(int64_t runs_version, reads_->RunsVersion());
  db_runs_version_.store(runs_version, std::memory_order_release);
  for (;;) {
    ASSIGN_OR_RETURN(std::vector<store::StateEvent> rows,
                     reads_->ListEventsAfter(feed_cursor_, 1000));
    if (rows.empty()) break;
    std::vector<http::HubEvent> out;
    for (const store::StateEvent& e : rows) {
      feed_cursor_ = e.id;
      auto name = run_names_.find(e.run_id);
      if (name == run_names_.end()) {
        ASSIGN_OR_RETURN(std::optional<store::DagRun> run, reads_->GetRun(e.run_id));
        if (!run) continue;  // deleted meanwhile (retention)
        if (run_names_.size() > 100000) run_names_.clear();
        name = run_names_.emplace(e.run_id, std::make_pair(run->dag_id, run->run_id)).first;
      }
      json data = {{"dag_id", name->second.first}, {"run_id", name->second.second},
                   {"state", e.to_state},          {"from_state", e.from_state},
                   {"reason", e.reason},           {"at", FormatTime(e.at)}};
      if (!e.task_id.empty()) {
        data["task_id"] = e.task_id;
        data["try_number"] = e.try_number;
        // Task start latency: from the launch decision (queued) to running.
        auto key = std::make_tuple(e.run_id, e.task_id, e.try_number);
        if (e.to_state == store::TaskStateName(store::TaskState::kQueued)) {
          if (queued_at_.size() > 100000) queued_at_.clear();
          queued_at_[key] = e.at;
        } else if (e.to_state == store::TaskStateName(store::TaskState::kRunning)) {
          auto q = queued_at_.find(key);
          if (q != queued_at_.end()) {
            metrics_.ObserveTaskStart(
                std::chrono::duration_cast<std::chrono::microseconds>(e.at - q->second));
            queued_at_.erase(q);
          }
        }
      }
      out.push_back({e.id, e.task_id.empty() ? "run" : "task", data.dump(), name->second.first});
    }
    hub_.PublishAll(std::move(out));
  }
  auto now = std::chrono::steady_clock::now();
  if (now >= next_cluster_poll_) {
    next_cluster_poll_ = now + std::chrono::seconds(2);
    ASSIGN_OR_RETURN(std::vector<store::ClusterRecord> clusters, reads_->ListClusters(true));
    std::vector<http::HubEvent> out;
    for (const auto& c : clusters) {
      auto& seen = cluster_states_[c.name];
      if (seen == c.state) continue;
      bool first_look = seen.empty();
      seen = c.state;
      if (c.deleted_at && !first_look) {
        metrics_.ObserveCluster("lifetime", std::chrono::duration_cast<std::chrono::microseconds>(
                                                *c.deleted_at - c.created_at));
      }
      if (first_look && c.deleted_at) continue;  // history from before this start
      out.push_back({0, "cluster",
                     json{{"name", c.name}, {"backend", c.backend}, {"state", c.state}}.dump(),
                     ""});
    }
    hub_.PublishAll(std::move(out));
  }
  return OkStatus();
}

}  // namespace sp::api
