// The notebook task type; see notebook_task.h.
#include "operators/notebook_task.h"

#include <filesystem>
#include <regex>

#include "operators/internal/fields.h"
#include "operators/internal/results.h"

namespace sp::operators {

namespace {

namespace fs = std::filesystem;
using internal::FieldPhase;
using internal::FieldReader;
using nlohmann::json;

// The runner: python -c RUNNER ARGS_JSON. Starts Spark Connect, executes the notebook with
// nbclient, saves it, stops everything; exit 0 iff every cell ran.
constexpr char kRunner[] = R"PY(
import json, os, shutil, signal, socket, subprocess, sys, tempfile, time

a = json.loads(sys.argv[1])
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # cancel: clean up in `finally`
tmp = tempfile.mkdtemp(prefix="sparkplane-notebook-")
os.chmod(tmp, 0o700)
connect = None
nb = None
failed = None


def log(line):
    print("[sparkplane] " + line, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    nb = nbformat.read(a["notebook"], as_version=4)
    if a["parameters"]:
        lines = ["# Parameters (injected by sparkplane)"]
        lines += ["%s = %r" % (k, value(v)) for k, v in sorted(a["parameters"].items())]
        cell = nbformat.v4.new_code_cell("\n".join(lines) + "\n")
        cell.metadata["tags"] = ["injected-parameters"]
        at = next((i + 1 for i, c in enumerate(nb.cells)
                   if "parameters" in c.get("metadata", {}).get("tags", [])), 0)
        nb.cells.insert(at, cell)
        log("parameters injected at cell %d: %s" % (at, ", ".join(sorted(a["parameters"]))))

    token = os.urandom(32).hex()
    port = free_port()
    for d in ("local", "jvmtmp", "runtime", "ipython"):
        os.makedirs(os.path.join(tmp, d), mode=0o700)
    env = dict(os.environ, SPARK_CONNECT_AUTHENTICATE_TOKEN=token, SPARK_LOCAL_IP="127.0.0.1")
    argv = [os.path.join(a["spark_home"], "bin", "spark-submit"),
            "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
            "--name", a["name"], "--master", a["master"],
            "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
            "--conf", "spark.connect.grpc.binding.port=%d" % port,
            "--conf", "spark.driver.host=127.0.0.1",
            "--conf", "spark.driver.bindAddress=127.0.0.1",
            "--conf", "spark.ui.enabled=false",
            "--conf", "spark.local.dir=" + os.path.join(tmp, "local"),
            "--conf", "spark.driver.extraJavaOptions=-Djava.io.tmpdir=" + os.path.join(tmp, "jvmtmp")]
    if a.get("event_log_dir"):
        argv += ["--conf", "spark.eventLog.enabled=true", "--conf", "spark.eventLog.dir=" + a["event_log_dir"]]
    log("starting Spark Connect on 127.0.0.1:%d against %s (its log: %s)" % (port, a["master"], a["connect_log"]))
    with open(a["connect_log"], "ab") as out:
        connect = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    give_up = time.time() + a["connect_timeout"]
    while True:
        if connect.poll() is not None:
            raise RuntimeError("the Spark Connect server exited with %s while starting; see %s"
                               % (connect.returncode, a["connect_log"]))
        if time.time() > give_up:
            raise RuntimeError("the Spark Connect server did not listen within %ds" % a["connect_timeout"])
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)

    # The kernel inherits this environment: SPARK_REMOTE with `localhost` (the client sends a
    # token without TLS only to localhost) and the token; private Jupyter and IPython dirs.
    os.environ.update(SPARK_REMOTE="sc://localhost:%d" % port, SPARK_CONNECT_AUTHENTICATE_TOKEN=token,
                      JUPYTER_RUNTIME_DIR=os.path.join(tmp, "runtime"), JUPYTER_PLATFORM_DIRS="1",
                      IPYTHONDIR=os.path.join(tmp, "ipython"))
    log("executing %s (%d cells) with kernel %s" % (a["notebook"], len(nb.cells), a["kernel"]))
    client = NotebookClient(nb, timeout=a["cell_timeout"], kernel_name=a["kernel"],
                            resources={"metadata": {"path": os.path.dirname(a["notebook"])}})
    started = time.time()
    try:
        client.execute()
        log("all cells ran in %.1fs" % (time.time() - started))
    except (CellExecutionError, CellTimeoutError) as e:
        index = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and any(
            o.get("output_type") == "error" for o in c.get("outputs", []))), None)
        failed = "cell %s failed" % (index if index is not None else "?")
        if index is not None:
            head = nb.cells[index].source.strip().splitlines()[:3]
            failed += " (" + " / ".join(head)[:200] + ")"
        print("[sparkplane] " + failed + ":\n" + str(e), flush=True)
except SystemExit:
    failed = "cancelled"
    raise
except Exception as e:  # anything before the cells ran: a missing notebook, Connect, nbclient
    failed = "%s: %s" % (type(e).__name__, e)
    log("error: " + failed)
finally:
    if nb is not None:
        try:
            import nbformat
            nbformat.write(nb, a["output"])
            log("executed notebook saved to " + a["output"])
            print("::sparkplane-output output_notebook=" + a["output"], flush=True)
        except Exception as e:
            log("cannot save the executed notebook: %s" % e)
    if connect is not None and connect.poll() is None:
        connect.terminate()
        try:
            connect.wait(15)
        except subprocess.TimeoutExpired:
            connect.kill()
            connect.wait()
        log("Spark Connect stopped")
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if failed else 0)
)PY";

struct NotebookPlan {
  std::string notebook;
  std::string master;
  std::map<std::string, std::string> parameters;
  std::optional<Millis> cell_timeout;
  std::string kernel = "python3";
};

NotebookPlan ReadPlan(FieldReader& r, std::vector<internal::FieldProblem>* extra) {
  NotebookPlan p;
  if (auto v = r.RequiredString("notebook", "the .ipynb to execute")) p.notebook = *v;
  if (auto v = r.RequiredString("master", "the cluster's master URL, spark://HOST:PORT")) {
    p.master = *v;
    if (!internal::IsTemplated(json(*v)) && p.master.rfind("spark://", 0) != 0) {
      extra->push_back({"master", "master", "expected spark://HOST:PORT; got '" + p.master + "'"});
    }
  }
  if (auto v = r.StringMap("parameters")) {
    p.parameters = *v;
    static const std::regex kIdentifier("[A-Za-z_][A-Za-z0-9_]*");
    for (const auto& [k, _] : p.parameters) {
      if (!std::regex_match(k, kIdentifier)) {
        extra->push_back({"parameters", "parameters." + k,
                          "parameter names must be Python identifiers; got '" + k + "'"});
      }
    }
  }
  if (auto v = r.Duration("cell_timeout")) p.cell_timeout = *v;
  if (auto v = r.String("kernel")) p.kernel = *v;
  if (p.notebook.size() > 0 && !internal::IsTemplated(json(p.notebook)) &&
      fs::path(p.notebook).extension() != ".ipynb") {
    extra->push_back({"notebook", "notebook", "expected a .ipynb file; got '" + p.notebook + "'"});
  }
  return p;
}

// The try's context for the bash type: the same try, with the runner as its command.
class RunnerContext : public TaskContext {
 public:
  RunnerContext(std::shared_ptr<TaskContext> inner, json fields, std::string output)
      : inner_(std::move(inner)), output_(std::move(output)) {
    dag_id_ = inner_->dag_id();
    run_id_ = inner_->run_id();
    task_id_ = inner_->task_id();
    log_path_ = inner_->log_path();
    run_key_ = inner_->run_key();
    try_number_ = inner_->try_number();
    spec_ = &inner_->spec();
    fields_ = std::move(fields);
    env_ = inner_->env();
    services_ = &inner_->services();
  }
  Status SaveHandle(const json& handle) override { return inner_->SaveHandle(handle); }
  void Complete(TaskResult r) override {
    if (!output_.empty() && fs::exists(output_)) r.outputs["output_notebook"] = output_;
    if (!r.success && !r.skipped && !r.never_started) {
      r.message =
          "the notebook failed (the failing cell and its error are in the log; the "
          "executed notebook is " +
          output_ + "): " + r.message;
    }
    inner_->Complete(std::move(r));
  }
  void AppendLog(const std::string& line) const override { inner_->AppendLog(line); }

 private:
  std::shared_ptr<TaskContext> inner_;
  std::string output_;
};

// The runner's context from the notebook try's; an error when the fields are invalid.
Result<std::shared_ptr<TaskContext>> Wrap(const Services* services,
                                          std::shared_ptr<TaskContext> ctx) {
  FieldReader r(ctx->fields(), FieldPhase::kRendered);
  std::vector<internal::FieldProblem> extra;
  NotebookPlan plan = ReadPlan(r, &extra);
  if (!r.ok()) return InvalidArgumentError(r.FirstProblem());
  if (!extra.empty()) return InvalidArgumentError(extra[0].field + ": " + extra[0].message);
  const RuntimeConfig& config = services->config;
  if (config.python.empty() || config.spark_home.empty()) {
    return FailedPreconditionError(
        "no Python with nbclient or no Spark: run scripts/setup.sh, or set python and "
        "spark_home in sparkplane.yaml");
  }
  fs::path notebook = plan.notebook;
  if (notebook.is_relative()) notebook = fs::path(config.AppsDir()) / notebook;
  std::string base = ctx->log_path();
  if (base.size() > 4 && base.ends_with(".log")) base.resize(base.size() - 4);
  std::string output = ExecutedNotebookPath(ctx->log_path());
  json args = {{"notebook", notebook.lexically_normal().string()},
               {"output", output},
               {"connect_log", base + ".connect.log"},
               {"master", plan.master},
               {"spark_home", config.spark_home},
               {"event_log_dir", config.SparkHistoryDir()},
               {"name", ctx->dag_id() + "." + ctx->task_id()},
               {"parameters", plan.parameters},
               {"kernel", plan.kernel},
               {"connect_timeout", 180},
               {"cell_timeout",
                plan.cell_timeout ? json(plan.cell_timeout->count() / 1000.0) : json(nullptr)}};
  json fields = {{"command", {config.python, "-c", kRunner, args.dump()}},
                 {"cwd", notebook.parent_path().string()},
                 {"skip_on_exit_code", json::array()}};
  return std::shared_ptr<TaskContext>(
      std::make_shared<RunnerContext>(std::move(ctx), std::move(fields), output));
}

}  // namespace

std::string ExecutedNotebookPath(const std::string& log_path) {
  std::string base = log_path;
  if (base.size() > 4 && base.ends_with(".log")) base.resize(base.size() - 4);
  return base + ".ipynb";
}

std::vector<std::string> NotebookTaskType::FieldNames() const {
  return {"notebook", "master", "parameters", "cell_timeout", "kernel"};
}

void NotebookTaskType::Validate(const dag::TaskSpec& spec,
                                std::vector<dag::DagError>* errors) const {
  FieldReader r(spec.fields, FieldPhase::kUnrendered);
  std::vector<internal::FieldProblem> extra;
  ReadPlan(r, &extra);
  internal::AppendDagErrors(spec, r.problems(), errors);
  internal::AppendDagErrors(spec, extra, errors);
}

void NotebookTaskType::Start(std::shared_ptr<TaskContext> ctx) {
  Result<std::shared_ptr<TaskContext>> runner = Wrap(services_, ctx);
  if (!runner.ok()) {
    internal::Fail(ctx, "invalid notebook task: " + runner.status().message(),
                   /*retryable=*/false);
    return;
  }
  bash_.Start(*runner);
}

void NotebookTaskType::Cancel(std::shared_ptr<TaskContext> ctx, const json& handle, Millis grace) {
  Result<std::shared_ptr<TaskContext>> runner = Wrap(services_, ctx);
  bash_.Cancel(runner.ok() ? *runner : ctx, handle, grace);
}

void NotebookTaskType::Recover(std::shared_ptr<TaskContext> ctx, const json& handle) {
  Result<std::shared_ptr<TaskContext>> runner = Wrap(services_, ctx);
  bash_.Recover(runner.ok() ? *runner : ctx, handle);
}

}  // namespace sp::operators
