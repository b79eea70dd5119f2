// Argument parsing (CLI11) and dispatch to the subcommands in commands.h.
#include "cli/cli.h"

#include <CLI/CLI.hpp>

#include "cli/cluster_commands.h"
#include "cli/commands.h"
#include "cli/deploy_commands.h"
#include "cli/import_commands.h"
#include "cli/notebook_commands.h"

namespace sp::cli {

int Main(int argc, char** argv) {
  CLI::App app{"Sparkplane: Spark jobs on on-demand clusters, scheduled from YAML DAGs."};
  app.require_subcommand(1);
  app.fallthrough();
  app.footer(
      "Examples:\n"
      "  sparkplane server --data-dir ./data\n"
      "  sparkplane dags validate examples/dags\n"
      "  sparkplane dags test spark_pipeline --conf '{\"rows\": 1000}'\n"
      "  sparkplane runs list --dag spark_pipeline --json");
  GlobalOptions g;
  app.add_option("--data-dir", g.config.data_dir,
                 "Data directory (env SPARKPLANE_DATA_DIR; default ~/sparkplane)")
      ->check(CLI::Validator(
          [](std::string& dir) { return dir.empty() ? std::string("must not be empty") : ""; },
          "DIR"));
  app.add_option("--dags-folder", g.config.dags_folder,
                 "Folder of DAG files (env SPARKPLANE_DAGS_FOLDER; default <data-dir>/dags)");
  app.add_option("--config", g.config.config_file,
                 "Config file (env SPARKPLANE_CONFIG; default <data-dir>/sparkplane.yaml)");
  app.add_option("--store", g.config.store,
                 "Where the state lives: sqlite:PATH or postgresql://USER@HOST:PORT/DB (env "
                 "SPARKPLANE_STORE; default the SQLite file in <data-dir>)");
  app.add_flag("--json", g.json, "Print JSON instead of tables");
  int rc = 0;

  auto* server = app.add_subcommand("server", "Run the scheduler (long-running)");
  std::string http_address;
  server->add_option("--http-address", http_address,
                     "Where the web UI and HTTP API listen (HOST:PORT; default 127.0.0.1:8080, "
                     "\"off\" for none)");
  server->footer(
      "Example:\n  sparkplane server --data-dir /var/lib/sparkplane --http-address "
      "0.0.0.0:8080");
  server->callback([&] { rc = ServerCommand(g, http_address); });

  // users, tokens
  auto* users = app.add_subcommand("users", "People who may use the web UI and HTTP API");
  users->require_subcommand(1);
  std::string user_name, user_role = "viewer", token_name, token_role, token_id;
  bool user_pw_stdin = false;
  auto* ucreate = users->add_subcommand("create", "Create a user (prints a random password once)");
  ucreate->add_option("USERNAME", user_name, "Name to log in with")->required();
  ucreate->add_option("--role", user_role, "viewer, operator or admin (default viewer)");
  ucreate->add_flag("--password-stdin", user_pw_stdin, "Read the password from standard input");
  ucreate->callback([&] { rc = UsersCreate(g, user_name, user_role, user_pw_stdin); });
  users->add_subcommand("list", "List users")->callback([&] { rc = UsersList(g); });
  auto* udelete = users->add_subcommand("delete", "Delete a user with its sessions and tokens");
  udelete->add_option("USERNAME", user_name, "User")->required();
  udelete->callback([&] { rc = UsersDelete(g, user_name); });
  auto* upw =
      users->add_subcommand("password", "Set a user's password (random unless --password-stdin)");
  upw->add_option("USERNAME", user_name, "User")->required();
  upw->add_flag("--password-stdin", user_pw_stdin, "Read the password from standard input");
  upw->callback([&] { rc = UsersPassword(g, user_name, user_pw_stdin); });
  auto* tokens = app.add_subcommand("tokens", "API tokens for scripts (Authorization: Bearer)");
  tokens->require_subcommand(1);
  auto* tcreate = tokens->add_subcommand("create", "Create a token for a user (printed once)");
  tcreate->add_option("--user", user_name, "Whose token")->required();
  tcreate->add_option("--name", token_name, "What it is for");
  tcreate->add_option("--role", token_role, "At most the user's role (default: the user's)");
  tcreate->callback([&] { rc = TokensCreate(g, user_name, token_name, token_role); });
  auto* toklist = tokens->add_subcommand("list", "List tokens (never their secrets)");
  toklist->add_option("--user", user_name, "Only this user's");
  toklist->callback([&] { rc = TokensList(g, user_name); });
  auto* trevoke = tokens->add_subcommand("revoke", "Revoke a token by its id");
  trevoke->add_option("ID", token_id, "tok_...")->required();
  trevoke->callback([&] { rc = TokensRevoke(g, token_id); });

  // dags
  auto* dags = app.add_subcommand("dags", "List, show, validate, trigger and test DAGs");
  dags->require_subcommand(1);
  dags->fallthrough();
  dags->add_subcommand("list", "List DAGs with their schedule and paused state")->callback([&] {
    rc = DagsList(g);
  });

  std::string dag_id, conf, logical_date, run_id, start, end, dir;
  bool dot = false, dry_run = false;
  int n = 1;
  auto* show = dags->add_subcommand("show", "Show a DAG's settings and tasks");
  show->add_option("DAG_ID", dag_id, "DAG id")->required();
  show->add_flag("--dot", dot, "Print the task graph in Graphviz dot format");
  show->footer("Example:\n  sparkplane dags show spark_pipeline --dot | dot -Tpng > dag.png");
  show->callback([&] { rc = DagsShow(g, dag_id, dot); });

  auto* validate = dags->add_subcommand("validate", "Check every DAG file; exit 1 on any error");
  validate->add_option("DIR", dir, "Folder to check (default: the dags folder)");
  validate->footer("Example:\n  sparkplane dags validate examples/dags");
  validate->callback([&] { rc = DagsValidate(g, dir); });

  auto* trigger = dags->add_subcommand("trigger", "Create a manual run");
  trigger->add_option("DAG_ID", dag_id, "DAG id")->required();
  trigger->add_option("--conf,-c", conf, "JSON object overriding params");
  trigger->add_option("--logical-date,-e", logical_date, "Logical date (default: now)");
  trigger->add_option("--run-id,-r", run_id,
                      "Run id (default: manual__<logical date>, or manual__<now>_<random> as "
                      "Airflow 3 without --logical-date)");
  trigger->footer("Example:\n  sparkplane dags trigger spark_pipeline --conf '{\"rows\": 5000}'");
  trigger->callback([&] { rc = DagsTrigger(g, dag_id, conf, logical_date, run_id); });

  auto* pause = dags->add_subcommand("pause", "Stop creating scheduled runs of a DAG");
  pause->add_option("DAG_ID", dag_id, "DAG id")->required();
  pause->callback([&] { rc = DagsPause(g, dag_id, true); });
  auto* unpause = dags->add_subcommand("unpause", "Resume scheduled runs of a DAG");
  unpause->add_option("DAG_ID", dag_id, "DAG id")->required();
  unpause->callback([&] { rc = DagsPause(g, dag_id, false); });

  auto* test = dags->add_subcommand(
      "test", "Run one run in this process to completion, streaming task logs; exit 0 on success");
  test->add_option("DAG_ID", dag_id, "DAG id")->required();
  test->add_option("--conf,-c", conf, "JSON object overriding params");
  test->add_option("--logical-date,-e", logical_date, "Logical date (default: now)");
  test->footer("Example:\n  sparkplane dags test hello --conf '{\"name\": \"world\"}'");
  test->callback([&] { rc = DagsTest(g, dag_id, conf, logical_date); });

  auto* backfill = dags->add_subcommand("backfill", "Create runs for past schedule intervals");
  backfill->add_option("DAG_ID", dag_id, "DAG id")->required();
  backfill->add_option("--start-date,-s", start, "First logical date (inclusive)")->required();
  backfill->add_option("--end-date,-E", end, "Last logical date (inclusive)")->required();
  backfill->add_option("--conf,-c", conf, "JSON object overriding params");
  backfill->add_flag("--dry-run", dry_run, "Print the runs that would be created");
  backfill->footer(
      "Example:\n  sparkplane dags backfill nightly -s 2026-11-01 -E 2026-11-07 --dry-run");
  backfill->callback([&] { rc = DagsBackfill(g, dag_id, start, end, conf, dry_run); });

  auto* next = dags->add_subcommand("next-execution", "Print the next scheduled logical dates");
  next->add_option("DAG_ID", dag_id, "DAG id")->required();
  next->add_option("-n,--num-executions", n, "How many (default 1, at most 1000)")
      ->check(CLI::Range(1, 1000));
  next->footer("Example:\n  sparkplane dags next-execution nightly -n 5");
  next->callback([&] { rc = DagsNextExecution(g, dag_id, n); });

  // runs
  auto* runs = app.add_subcommand("runs", "List, show and cancel DAG runs");
  runs->require_subcommand(1);
  runs->fallthrough();
  std::string state;
  int limit = 50;
  std::vector<std::string> run_args;
  auto* rlist = runs->add_subcommand("list", "List runs, newest first");
  rlist->add_option("--dag,-d", dag_id, "Only runs of this DAG");
  rlist->add_option("--state", state, "Only runs in this state (queued, running, success, ...)");
  rlist->add_option("--limit", limit, "At most this many (default 50)")
      ->check(CLI::Range(1, 100000));
  rlist->footer("Example:\n  sparkplane runs list --dag spark_pipeline --state failed");
  rlist->callback([&] { rc = RunsList(g, dag_id, state, limit); });
  auto* rshow = runs->add_subcommand("show", "Show a run and its task instances");
  rshow->add_option("RUN", run_args, "KEY, or DAG_ID RUN_ID (RUN_ID may be 'latest')")
      ->required()
      ->expected(1, 2);
  rshow->footer("Example:\n  sparkplane runs show spark_pipeline latest");
  rshow->callback([&] { rc = RunsShow(g, run_args); });
  auto* rcancel = runs->add_subcommand("cancel", "Cancel a run (teardown tasks still run)");
  rcancel->add_option("RUN", run_args, "KEY, or DAG_ID RUN_ID")->required()->expected(1, 2);
  rcancel->callback([&] { rc = RunsCancel(g, run_args); });

  // tasks
  auto* tasks = app.add_subcommand("tasks", "Task instances of a run: list, logs, clear, mark");
  tasks->require_subcommand(1);
  tasks->fallthrough();
  std::vector<std::string> task_args;
  int try_number = 0;
  bool downstream = false;
  auto* tlist = tasks->add_subcommand("list", "Task instances of a run, and why they wait");
  tlist->add_option("RUN", run_args, "KEY, or DAG_ID RUN_ID")->required()->expected(1, 2);
  tlist->callback([&] { rc = TasksList(g, run_args); });
  auto* tlogs = tasks->add_subcommand("logs", "Print a task's log");
  tlogs->add_option("ARGS", task_args, "DAG_ID RUN_ID TASK_ID (or KEY TASK_ID)")
      ->required()
      ->expected(2, 3);
  tlogs->add_option("--try", try_number, "Try number (default: the latest)")
      ->check(CLI::PositiveNumber);
  tlogs->footer("Example:\n  sparkplane tasks logs spark_pipeline latest spark_application");
  tlogs->callback([&] { rc = TasksLogs(g, task_args, try_number); });
  auto* tclear = tasks->add_subcommand("clear", "Clear tasks so they run again");
  tclear->add_option("ARGS", task_args, "DAG_ID RUN_ID TASK_ID... (or KEY TASK_ID...)")
      ->required()
      ->expected(2, -1);
  tclear->add_flag("--downstream,-d", downstream, "Also clear downstream tasks");
  tclear->footer("Example:\n  sparkplane tasks clear spark_pipeline latest spark_application -d");
  tclear->callback([&] { rc = TasksClear(g, task_args, downstream); });
  auto* ttest = tasks->add_subcommand(
      "test", "Run one task in this process without its upstreams; exit 0 on success");
  ttest->add_option("DAG_ID", dag_id, "DAG id")->required();
  ttest->add_option("TASK_ID", task_args, "Task id(s)")->required();
  ttest->add_option("--conf,-c", conf, "JSON object overriding params");
  ttest->add_option("--logical-date,-e", logical_date, "Logical date (default: now)");
  ttest->footer("Example:\n  sparkplane tasks test hello greet --conf '{\"name\": \"x\"}'");
  ttest->callback([&] { rc = DagsTest(g, dag_id, conf, logical_date, task_args); });
  auto* tmark = tasks->add_subcommand("mark", "Mark a task success, failed or skipped");
  tmark->add_option("ARGS", task_args, "DAG_ID RUN_ID TASK_ID (or KEY TASK_ID)")
      ->required()
      ->expected(2, 3);
  tmark->add_option("--state", state, "success, failed or skipped")->required();
  tmark->callback([&] { rc = TasksMark(g, task_args, state); });

  // connections
  auto* conns = app.add_subcommand("connections", "Named endpoints and credentials for tasks");
  conns->require_subcommand(1);
  conns->fallthrough();
  ConnectionArgs ca;
  bool reveal = false;
  auto* cadd = conns->add_subcommand("add", "Add or replace a connection");
  cadd->add_option("CONN_ID", ca.conn_id, "Connection id")->required();
  cadd->add_option("--uri", ca.uri, "TYPE://[LOGIN[:PASSWORD]@]HOST[:PORT][/SCHEMA][?K=V]");
  cadd->add_option("--conn-type", ca.conn_type, "Type, e.g. spark");
  cadd->add_option("--host", ca.host, "Host");
  cadd->add_option("--port", ca.port, "Port");
  cadd->add_option("--schema", ca.schema, "Schema");
  cadd->add_option("--login", ca.login, "Login");
  auto* cpw = cadd->add_option("--password", ca.password,
                               "Password (stored encrypted; visible in `ps`: prefer "
                               "--password-stdin)");
  cadd->add_flag("--password-stdin", ca.password_stdin,
                 "Read the password from standard input (its first line)")
      ->excludes(cpw);
  cadd->add_option("--extras", ca.extras, "JSON object of extra settings");
  cadd->add_option("--secret-extra", ca.secret_extras, "An extras key whose value is secret");
  cadd->footer(
      "Examples:\n  sparkplane connections add spark_remote --uri spark://10.0.0.5:7077\n"
      "  sparkplane connections add warehouse --conn-type postgres --host db --port 5432 "
      "--login etl --password-stdin <pw.txt");
  cadd->callback([&] { rc = ConnectionsAdd(g, ca); });
  conns->add_subcommand("list", "List connections (secrets masked)")->callback([&] {
    rc = ConnectionsList(g);
  });
  auto* cget = conns->add_subcommand("get", "Show one connection");
  cget->add_option("CONN_ID", ca.conn_id, "Connection id")->required();
  cget->add_flag("--reveal", reveal, "Print secrets in clear (needs the secret key)");
  cget->callback([&] { rc = ConnectionsGet(g, ca.conn_id, reveal); });
  auto* cdel = conns->add_subcommand("delete", "Delete a connection");
  cdel->add_option("CONN_ID", ca.conn_id, "Connection id")->required();
  cdel->callback([&] { rc = ConnectionsDelete(g, ca.conn_id); });
  conns->add_subcommand("keygen", "Write a new secret key for connection secrets")->callback([&] {
    rc = ConnectionsKeygen(g);
  });

  // cluster
  auto* cluster = app.add_subcommand("cluster", "On-demand Spark clusters Sparkplane created");
  cluster->require_subcommand(1);
  cluster->fallthrough();
  bool all_clusters = false;
  auto* clist = cluster->add_subcommand("list", "Clusters that are not deleted (--all: every one)");
  clist->add_flag("--all", all_clusters, "Include deleted clusters");
  clist->callback([&] { rc = ClusterList(g, all_clusters); });
  ClusterCreateArgs cc;
  auto* ccreate = cluster->add_subcommand("create", "Create an ad-hoc Spark cluster");
  ccreate->add_option("NAME", cc.name, "Cluster name")->required();
  ccreate->add_option("--backend", cc.backend, "local or kubernetes (default: configured)");
  ccreate->add_option("--workers", cc.workers, "Number of workers (default 1)");
  ccreate->add_option("--worker-cores", cc.worker_cores, "Cores per worker (default 1)");
  ccreate->add_option("--worker-memory", cc.worker_memory, "Memory per worker (default 1g)");
  ccreate->add_option("--worker-scratch", cc.worker_scratch,
                      "kubernetes: size limit of a worker's scratch volume (default 10Gi)");
  ccreate->add_option("--master-cores", cc.master_cores, "kubernetes: master cores");
  ccreate->add_option("--master-memory", cc.master_memory, "kubernetes: master memory");
  ccreate->add_option("--image", cc.image, "kubernetes: Spark image");
  ccreate->add_option("--node-selector", cc.node_selector, "kubernetes: KEY=VALUE (repeatable)");
  ccreate->add_option("--master-conf", cc.master_conf, "spark.KEY=VALUE for the master");
  ccreate->add_option("--worker-conf", cc.worker_conf, "spark.KEY=VALUE for the workers");
  ccreate->add_flag("--authenticate", cc.authenticate, "kubernetes: spark.authenticate on");
  ccreate->add_flag("--master-rest", cc.master_rest, "kubernetes: keep the REST submission server");
  ccreate->add_option("--ui-node-port", cc.ui_node_port,
                      "kubernetes: expose the UI on node port PORT (0 = any port)");
  ccreate->add_option("--ready-timeout", cc.ready_timeout, "How long to wait (default 120s)");
  ccreate->add_option("--max-age", cc.max_age,
                      "Delete the cluster this long after creation (default: cluster_max_age, "
                      "24h; none: never)");
  ccreate->add_option("--idle-timeout", cc.idle_timeout,
                      "Delete the cluster after this long without a running application");
  ccreate->footer(
      "Examples:\n  sparkplane cluster create adhoc --workers 2\n"
      "  sparkplane cluster create big --backend kubernetes --workers 4 --ui-node-port 0");
  ccreate->callback([&] { rc = ClusterCreate(g, cc); });
  int scale_workers = 1;
  auto* cscale = cluster->add_subcommand("scale", "Change a cluster's worker count");
  cscale->add_option("NAME", cc.name, "Cluster name")->required();
  cscale->add_option("--workers", scale_workers, "New worker count")->required();
  cscale->add_option("--ready-timeout", cc.ready_timeout, "How long to wait (default 120s)");
  cscale->callback([&] { rc = ClusterScale(g, cc.name, scale_workers, cc.ready_timeout); });
  auto* cdelete = cluster->add_subcommand("delete", "Delete a cluster (idempotent)");
  cdelete->add_option("NAME", cc.name, "Cluster name")->required();
  cdelete->add_option("--backend", cc.backend, "local or kubernetes");
  cdelete->callback([&] { rc = ClusterDelete(g, cc.name, cc.backend); });
  std::vector<std::string> guard_args;
  auto* cguard = cluster->add_subcommand("guard", "");  // internal: started with a local cluster
  cguard->group("");
  cguard->add_option("ARGS", guard_args, "after --: see clusters/lifetime.h");
  cguard->callback([&] { rc = ClusterGuard(guard_args); });
  bool sweep_dry_run = false;
  auto* csweep = cluster->add_subcommand(
      "sweep", "Delete the Kubernetes clusters past their deadline or idle timeout (no server)");
  csweep->add_flag("--dry-run", sweep_dry_run, "Say what would be deleted; delete nothing");
  csweep->footer(
      "Runs every minute as the CronJob sparkplane-cluster-sweep (deploy/base/sweep.yaml).\n"
      "Example:\n  sparkplane cluster sweep --namespace sparkplane --dry-run");
  csweep->callback([&] { rc = ClusterSweep(g, sweep_dry_run); });
  auto* pool =
      app.add_subcommand("pool", "Warm pools of local clusters (pools: in sparkplane.yaml)");
  pool->require_subcommand(1);
  pool->add_subcommand("list", "Each pool and its idle clusters")->callback([&] {
    rc = PoolList(g);
  });
  // Where the kubernetes backend's clusters live: these flags, then sparkplane.yaml, then the
  // environment (kubectl's order).
  for (CLI::App* c : {ccreate, cscale, cdelete, csweep}) {
    c->add_option("--kubeconfig", g.config.kubeconfig,
                  "Kubeconfig (default: sparkplane.yaml's kubeconfig, $KUBECONFIG, "
                  "~/.kube/config)");
    c->add_option("--context", g.config.kube_context, "Kubeconfig context");
    c->add_option("--namespace,-n", g.config.kube_namespace,
                  "Namespace (default: sparkplane.yaml's namespace, the context's)");
  }

  // deploy, undeploy, services, health
  DeployOptions dopts;
  auto add_deploy_flags = [&](CLI::App* c) {
    c->add_option("--namespace,-n", dopts.namespace_name, "Namespace (default: sparkplane)");
    c->add_option("--kubeconfig", dopts.kubeconfig,
                  "Kubeconfig (default: $KUBECONFIG, ~/.kube/config)");
    c->add_option("--context", dopts.context, "Kubeconfig context");
  };
  auto* deploy = app.add_subcommand(
      "deploy", "Deploy Sparkplane on Kubernetes: storage, scheduler, history, all, or help");
  deploy->add_option("COMPONENT", dopts.components, "storage | scheduler | history | all | help")
      ->required();
  add_deploy_flags(deploy);
  deploy->add_option("--overlay", dopts.overlay,
                     "single-node (hostPath), multi-node, ha, or ha-try (ha with its own "
                     "PostgreSQL, for trying out)");
  deploy->add_flag("--dry-run", dopts.dry_run, "Server-side dry run: validate, persist nothing");
  deploy->add_flag("--force-conflicts", dopts.force_conflicts, "Take over fields others own");
  deploy->footer(
      "Examples:\n  sparkplane deploy all --dry-run\n"
      "  sparkplane deploy all --overlay multi-node --namespace spark\n"
      "  sparkplane services");
  deploy->callback([&] {
    bool help = !dopts.components.empty() && dopts.components[0] == "help";
    rc = help ? DeployHelp(g) : DeployCommand(g, dopts);
  });
  auto* undeploy = app.add_subcommand("undeploy", "Remove what `deploy` applied");
  undeploy->add_option("COMPONENT", dopts.components, "storage | scheduler | history | all | help")
      ->required();
  add_deploy_flags(undeploy);
  undeploy->add_flag("--dry-run", dopts.dry_run, "List what would be deleted");
  undeploy->add_option("--timeout", dopts.timeout_seconds,
                       "Seconds to wait until gone (default 180)");
  undeploy->callback([&] {
    bool help = !dopts.components.empty() && dopts.components[0] == "help";
    rc = help ? DeployHelp(g) : UndeployCommand(g, dopts);
  });
  auto* services = app.add_subcommand("services", "Every exposed service with a URL to reach it");
  add_deploy_flags(services);
  services->callback([&] { rc = ServicesCommand(g, dopts); });
  app.add_subcommand("health", "Exit 0 when the server answers on its control socket")
      ->callback([&] { rc = HealthCommand(g); });

  // db
  auto* db = app.add_subcommand("db", "The scheduler's database and what it records");
  db->require_subcommand(1);
  db->fallthrough();
  std::string older_than;
  bool clean_dry_run = false;
  auto* dbclean = db->add_subcommand(
      "clean", "Delete finished runs (with task logs) and Spark event logs older than a duration");
  dbclean->add_option("--older-than", older_than, "e.g. 30d, 12h")->required();
  dbclean->add_flag("--dry-run", clean_dry_run, "List what would be deleted; delete nothing");
  dbclean->footer(
      "Active runs are never deleted. The server does this hourly when `retention` is set.\n"
      "Example:\n  sparkplane db clean --older-than 30d --dry-run");
  dbclean->callback([&] { rc = DbClean(g, older_than, clean_dry_run); });
  db->add_subcommand("check", "Where the state lives and whether its schema is current")
      ->callback([&] { rc = DbCheck(g); });
  db->add_subcommand("migrate", "Bring the store's schema to this version")->callback([&] {
    rc = DbMigrate(g);
  });
  std::string copy_from;
  std::string copy_to;
  auto* dbcopy = db->add_subcommand(
      "copy", "Copy the whole history (runs, logs' records, users) into another, empty store");
  dbcopy->add_option("--from", copy_from, "Source: sqlite:PATH or postgresql://...")->required();
  dbcopy->add_option("--to", copy_to, "Target: sqlite:PATH or postgresql://...")->required();
  dbcopy->footer(
      "Stop the server first. Task logs and Spark event logs stay in the data directory.\n"
      "Example:\n  sparkplane db copy --from sqlite:$HOME/sparkplane/history/scheduler/"
      "sparkplane.db --to postgresql://sparkplane@db:5432/sparkplane");
  dbcopy->callback([&] { rc = DbCopy(g, copy_from, copy_to); });

  // schedulers
  auto* schedulers = app.add_subcommand(
      "schedulers", "The servers sharing a PostgreSQL store: which one is active");
  schedulers->require_subcommand(1);
  schedulers->fallthrough();
  bool schedulers_all = false;
  auto* schedulers_list =
      schedulers->add_subcommand("list", "Instances, their role and their last heartbeat");
  schedulers_list->add_flag("--all", schedulers_all, "Include stopped and gone instances");
  schedulers_list->callback([&] { rc = SchedulersList(g, schedulers_all); });

  // history
  auto* history = app.add_subcommand("history", "Spark application summaries from the event logs");
  history->require_subcommand(1);
  history->fallthrough();
  std::string app_id;
  history->add_subcommand("list", "Every Spark application in history/spark")->callback([&] {
    rc = HistoryList(g);
  });
  auto* hshow = history->add_subcommand("show", "One application: jobs, stages, tasks, bytes");
  hshow->add_option("APP_ID", app_id, "Spark application id")->required();
  hshow->footer("Example:\n  sparkplane history show app-spark_pipeline-1-20261126071500-0000");
  hshow->callback([&] { rc = HistoryShow(g, app_id); });
  int hs_port = 18080;
  std::string hs_host = "127.0.0.1";
  auto* hs = app.add_subcommand("history-server",
                                "Run Spark's own History Server on history/spark (foreground)");
  hs->add_option("--port", hs_port, "UI port (default 18080)");
  hs->add_option("--host", hs_host, "Address to bind (default 127.0.0.1)");
  hs->callback([&] { rc = HistoryServer(g, hs_port, hs_host); });

  // import
  auto* import_cmd = app.add_subcommand("import", "Turn another scheduler's DAG file into YAML");
  import_cmd->require_subcommand(1);
  ImportAirflowArgs ia;
  auto* iairflow = import_cmd->add_subcommand(
      "airflow", "Read an Airflow DAG file (never run) and write it as a Sparkplane DAG");
  iairflow->add_option("FILE", ia.file, "Airflow DAG file (.py)")->required();
  iairflow->add_option("-o,--output", ia.output, "Where to write the YAML (default: stdout)");
  iairflow->add_option("--dag-id", ia.dag_id, "Which DAG, when the file defines several");
  iairflow->add_option("--apps-dir", ia.apps_dir,
                       "Paths under this dir become relative to <data>/apps (default /apps)");
  iairflow->footer(
      "Exit 1 when something was not converted (reported as FILE:LINE; the YAML is still\n"
      "written, with placeholder tasks that fail until edited).\n"
      "Example:\n  sparkplane import airflow dags/etl.py -o ~/sparkplane/dags/etl.yaml");
  iairflow->callback([&] { rc = ImportAirflow(g, ia); });

  // notebook
  auto* notebook = app.add_subcommand(
      "notebook",
      "JupyterLab on an on-demand cluster (local or Kubernetes), through Spark Connect");
  notebook->require_subcommand(1);
  notebook->fallthrough();
  NotebookStartArgs nb;
  std::string nb_stop_timeout = "90s";
  std::string nb_backend;
  std::vector<std::string> nb_guard_args;
  auto* nbstart = notebook->add_subcommand(
      "start", "Start a notebook and its cluster (foreground; Ctrl-C stops and deletes them)");
  nbstart->add_option("NAME", nb.name, "Notebook name ([a-z0-9-], at most 40)")->required();
  nbstart->add_option("--workers", nb.workers, "Number of workers (default 1)")
      ->check(CLI::Range(1, 64));
  nbstart->add_option("--worker-cores", nb.worker_cores, "Cores per worker (default 1)");
  nbstart->add_option("--worker-memory", nb.worker_memory, "Memory per worker (default 1g)");
  nbstart->add_option("--idle-timeout", nb.idle_timeout,
                      "Stop after this long without activity and no busy kernel (default 1h; "
                      "none: never)");
  nbstart->add_option("--max-age", nb.max_age,
                      "Stop this long after the start (default: cluster_max_age, 24h; none)");
  nbstart->add_option("--backend", nb.backend, "local or kubernetes (default: configured)");
  nbstart->add_option("--ready-timeout", nb.ready_timeout,
                      "How long to wait (default 3m; kubernetes: 10m for each of the cluster "
                      "and the notebook pod)");
  nbstart->add_option("--notebook-image", nb.notebook_image,
                      "kubernetes: JupyterLab image with PySpark's Connect client (default: "
                      "notebook_image, quay.io/jupyter/pyspark-notebook:spark-4.0.1)");
  nbstart->add_flag("--node-port", nb.node_port,
                    "kubernetes: expose JupyterLab on a node port (default: ClusterIP, reached "
                    "with kubectl port-forward)");
  nbstart->add_option("--root-dir", nb.root_dir,
                      "Folder of the notebooks (default <data-dir>/notebooks/NAME/files)");
  nbstart->footer(
      "Examples:\n  sparkplane notebook start explore --workers 2 --idle-timeout 30m\n"
      "  sparkplane notebook start team --backend kubernetes --namespace spark");
  nbstart->callback([&] { rc = NotebookStart(g, nb); });
  auto* nblist =
      notebook->add_subcommand("list", "Running notebooks: URL (no token), cluster, age");
  nblist->add_option("--backend", nb_backend,
                     "local or kubernetes (default: local, and kubernetes when configured)");
  nblist->callback([&] { rc = NotebookList(g, nb_backend); });
  auto* nbstop = notebook->add_subcommand("stop", "Stop a notebook and delete its cluster");
  nbstop->add_option("NAME", nb.name, "Notebook name")->required();
  nbstop->add_option("--timeout", nb_stop_timeout, "How long to wait (default 90s)");
  nbstop->add_option("--backend", nb_backend,
                     "local or kubernetes (default: a local notebook of that name, else the "
                     "configured backend)");
  nbstop->callback([&] { rc = NotebookStop(g, nb.name, nb_stop_timeout, nb_backend); });
  for (CLI::App* c : {nbstart, nblist, nbstop}) {
    c->add_option("--kubeconfig", g.config.kubeconfig, "kubernetes: kubeconfig");
    c->add_option("--context", g.config.kube_context, "kubernetes: kubeconfig context");
    c->add_option("--namespace,-n", g.config.kube_namespace, "kubernetes: namespace");
  }
  auto* nbguard = notebook->add_subcommand("guard", "");  // internal: started with a notebook
  nbguard->group("");
  nbguard->add_option("ARGS", nb_guard_args, "after --: see notebook/notebook.h");
  nbguard->callback([&] { rc = NotebookGuard(nb_guard_args); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return rc;
}

}  // namespace sp::cli
