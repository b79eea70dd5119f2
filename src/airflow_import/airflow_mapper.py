"""Maps what airflow_reader read from an Airflow DAG file onto a Sparkplane DAG (Mapper), and
tells what a Python callable of the file does from the calls in its body (CallableAnalysis): a
Spark cluster's create or delete through the Kubernetes client, an Airflow connection's create or
delete, or something else, which is reported.

Part of the Airflow importer embedded in the sparkplane binary (see airflow_to_sparkplane.py).
"""

import ast
import datetime as _dt
import re

from airflow_reader import Delta, FuncRef, ParamV, Sym, Unresolved, When, callee_name

# The YAML name of Airflow's CronTriggerTimetable mode (the run's logical date is the fire time).
TRIGGER_TIMETABLE = "cron_trigger"

HINTS = {
    "BranchPythonOperator": "Sparkplane has no branching; run both paths and let trigger rules "
                            "or skip_on_exit_code (a bash task exiting 99 is skipped) decide",
    "ShortCircuitOperator": "write a bash task that exits 99 to skip (skip_on_exit_code) and "
                            "give downstream tasks a trigger rule",
    "TriggerDagRunOperator": "Sparkplane DAGs cannot trigger each other yet; run "
                             "`sparkplane dags trigger DAG` from a bash task",
    "KubernetesPodOperator": "run the container's command in a bash task, or the Spark part as "
                             "a spark_submit task on a spark_cluster",
    "ExternalTaskSensor": "Sparkplane has no cross-DAG sensors; poll with a bash task and retries",
}

COMMON_FIELDS = {"retries", "retry_delay", "retry_exponential_backoff", "max_retry_delay",
                 "execution_timeout", "trigger_rule"}
# Task arguments with no Sparkplane equivalent that change nothing about what runs.
IGNORED_NOTE = {
    "owner": "no task owners in Sparkplane",
    "doc": "task docs are not kept", "doc_md": "task docs are not kept",
    "doc_rst": "task docs are not kept", "doc_json": "task docs are not kept",
    "doc_yaml": "task docs are not kept",
    "pool": "no pools: the server's parallelism limits every task",
    "pool_slots": "no pools: the server's parallelism limits every task",
    "queue": "no queues", "priority_weight": "no priority weights",
    "weight_rule": "no priority weights",
    "email": "no e-mail alerts", "email_on_failure": "no e-mail alerts",
    "email_on_retry": "no e-mail alerts",
    "sla": "no SLAs", "executor_config": "no executor config",
    "do_xcom_push": "bash tasks publish outputs with ::sparkplane-output KEY=VALUE lines",
    "multiple_outputs": "no XCom", "max_active_tis_per_dag": "no per-task concurrency limit",
    "max_active_tis_per_dagrun": "no per-task concurrency limit",
    "output_encoding": "output is kept as bytes", "run_as_user": "tasks run as the server's user",
    "task_display_name": "no display names", "map_index_template": "no mapped tasks",
    "ignore_first_depends_on_past": "no depends_on_past",
    "retry_delay_multiplier": None,
}
# Task arguments whose behaviour would be lost: an error.
LOST = {
    "depends_on_past": "Sparkplane tasks do not wait for the previous run",
    "wait_for_downstream": "Sparkplane tasks do not wait for the previous run",
    "on_failure_callback": "callbacks run Python code; use a task with trigger_rule one_failed",
    "on_success_callback": "callbacks run Python code; use a downstream task",
    "on_retry_callback": "callbacks run Python code", "on_execute_callback": "callbacks run Python code",
    "on_skipped_callback": "callbacks run Python code",
    "outlets": "no datasets/assets: downstream DAGs would not be triggered",
    "inlets": "no datasets/assets",
    "pre_execute": "hooks run Python code", "post_execute": "hooks run Python code",
}
DAG_IGNORED_NOTE = {"doc_md": "DAG docs are not kept", "owner_links": "no owner links",
                    "default_view": "no default view", "orientation": "no graph orientation",
                    "access_control": "roles are per server, not per DAG",
                    "is_paused_upon_creation": "new DAGs start unpaused",
                    "render_template_as_native_obj": "templates render to strings",
                    "dag_display_name": "no display names", "jinja_environment_kwargs": None,
                    "max_active_tasks": "the server's parallelism limits tasks",
                    "concurrency": "the server's parallelism limits tasks",
                    "max_consecutive_failed_dag_runs": "DAGs are not paused after failures",
                    "fail_stop": "a failed task does not stop the others",
                    "fail_fast": "a failed task does not stop the others"}
DAG_LOST = {"on_failure_callback": "callbacks run Python code",
            "on_success_callback": "callbacks run Python code",
            "sla_miss_callback": "callbacks run Python code",
            "dagrun_timeout": "Sparkplane has no run timeout; give tasks execution_timeout",
            "user_defined_macros": "templates are {{ dotted.path }} only",
            "user_defined_filters": "templates are {{ dotted.path }} only",
            "template_searchpath": "commands are not read from template files"}

BASH_FIELDS = {"bash_command", "env", "cwd", "skip_on_exit_code", "append_env"}
SPARK_FIELDS = {"application", "conf", "conn_id", "files", "py_files", "archives", "jars",
                "java_class", "packages", "total_executor_cores", "executor_cores",
                "executor_memory", "driver_memory", "name", "application_args", "env_vars",
                "deploy_mode", "num_executors", "driver_class_path", "exclude_packages",
                "repositories", "keytab", "principal", "proxy_user", "properties_file",
                "spark_binary", "verbose", "status_poll_interval", "yarn_queue",
                "use_krb5ccache", "track_driver"}
SPARK_LOST = {"driver_class_path", "exclude_packages", "repositories", "keytab", "principal",
              "proxy_user", "properties_file", "use_krb5ccache"}
SPARK_NOTE = {"num_executors": "YARN/Kubernetes only; standalone clusters use "
                               "total_executor_cores", "spark_binary": "Spark's spark-submit is used",
              "verbose": "the log has the argv", "status_poll_interval": None,
              "yarn_queue": "no YARN", "track_driver": None}

SCHEDULE_PRESETS = {"@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually"}


def duration(seconds):
    ms = int(round(seconds * 1000))
    if ms % 1000:
        return "%dms" % ms
    s = ms // 1000
    if s == 0:
        return "0s"
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if s >= size:
            out += "%d%s" % (s // size, unit)
            s %= size
    return out


class Mapper:
    def __init__(self, imp, dag):
        self.imp = imp
        self.dag = dag
        self.out_tasks = []  # [(sp_task dict, source dict)]
        self.notes_seen = set()
        self.span = {}  # Task -> (first sp id, last sp id) or None (merged away)
        self.alias = {}  # Task -> Task it was merged into
        self.create_task = None  # sp id of the spark_cluster create
        self.extra_edges = []  # (up sp id, down sp id, why)

    def error(self, node, msg):
        self.imp.error(node, msg)

    def note(self, node, msg):
        self.imp.note(node, msg)

    def note_once(self, key, node, msg):
        if key not in self.notes_seen:
            self.notes_seen.add(key)
            self.note(node, msg)

    def value(self, v, node, what):
        if isinstance(v, Unresolved):
            self.error(v.node or node, "%s: %s" % (what, v.why))
            return None
        return v

    def sp_id(self, airflow_id, node):
        sid = airflow_id.replace(".", "__")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,250}", sid):
            fixed = re.sub(r"[^A-Za-z0-9_-]", "_", sid)[:250] or "task"
            self.error(node, "task id '%s' is not a valid Sparkplane id (letters, digits, _ and "
                             "-); written as '%s'" % (airflow_id, fixed))
            sid = fixed
        return sid

    # ---- DAG level ---------------------------------------------------------------------
    def when(self, v, node, field, out):
        v = self.value(v, node, field)
        if v is None:
            return None
        if isinstance(v, str):
            try:
                v = When(_dt.datetime.fromisoformat(v), None)
            except ValueError:
                self.error(node, "%s: '%s' is not a date" % (field, v))
                return None
        if not isinstance(v, When):
            self.error(node, "%s: expected a datetime" % field)
            return None
        d, tz = v.value, v.tz
        if tz in (None, "UTC", "utc", "Etc/UTC"):
            if d.hour == d.minute == d.second == d.microsecond == 0:
                return d.strftime("%Y-%m-%d"), None
            return d.strftime("%Y-%m-%dT%H:%M:%SZ"), None
        try:
            from zoneinfo import ZoneInfo
            aware = d.replace(tzinfo=ZoneInfo(tz))
        except Exception:  # noqa: BLE001 - unknown zone name
            self.error(node, "%s: unknown time zone '%s'" % (field, tz))
            return None
        return aware.isoformat(), tz

    def schedule(self, v, node, start, out):
        v = self.value(v, node, "schedule")
        if v is None and isinstance(self.dag.kwargs.get("schedule"), Unresolved):
            return
        if v is None:
            out["schedule"] = "none"
            return
        if isinstance(v, str):
            s = v.strip()
            if s == "@continuous":
                self.error(node, "schedule '@continuous' has no Sparkplane equivalent; use a "
                                 "short cron such as '*/5 * * * *' with max_active_runs: 1")
                return
            out["schedule"] = "0 0 1 */3 *" if s == "@quarterly" else s
            if self.imp.airflow3 and s != "@once":
                out["timetable"] = TRIGGER_TIMETABLE
                self.note(node, "Airflow 3 runs a cron schedule with CronTriggerTimetable (its "
                                "default create_cron_data_intervals = False): written as "
                                "`timetable: %s`, a run per fire time without a data interval"
                          % TRIGGER_TIMETABLE)
            return
        if isinstance(v, Delta):
            self.delta_schedule(v, node, start, out)
            return
        if isinstance(v, tuple) and v and v[0] == "timetable":
            _, name, args, kw, tnode = v
            cron = args[0] if args else kw.get("cron")
            tz = kw.get("timezone")
            if name in ("CronTriggerTimetable", "CronDataIntervalTimetable") and isinstance(cron, str):
                out["schedule"] = cron
                if name == "CronTriggerTimetable":
                    out["timetable"] = TRIGGER_TIMETABLE
                    iv = kw.pop("interval", None)
                    if isinstance(iv, Delta) and iv.seconds:
                        out["timetable"] = {"type": TRIGGER_TIMETABLE,
                                            "interval": duration(iv.seconds)}
                    elif iv is not None and not isinstance(iv, Delta):
                        self.error(tnode, "CronTriggerTimetable interval is not a timedelta")
                else:
                    out["timetable"] = "cron_data_interval"
                if isinstance(tz, Sym) and tz.name.lower() == "utc":
                    tz = "UTC"
                if isinstance(tz, str):
                    out["timezone"] = tz
                elif tz is not None:
                    self.error(tnode, "timetable time zone is computed; write its IANA name")
                for k in kw:
                    if k not in ("cron", "timezone"):
                        self.error(tnode, "%s(%s=...) is not supported" % (name, k))
                return
            if name in ("DeltaDataIntervalTimetable",) and args and isinstance(args[0], Delta):
                self.delta_schedule(args[0], tnode, start, out)
                return
            self.error(tnode, "%s has no Sparkplane equivalent: Sparkplane schedules are cron "
                              "expressions (and @presets) or none; datasets/assets do not "
                              "trigger runs" % name)
            return
        if isinstance(v, list):
            self.error(node, "dataset/asset schedules have no Sparkplane equivalent; use a cron "
                             "schedule or trigger the DAG with `sparkplane dags trigger`")
            return
        self.error(node, "schedule: unsupported value")

    def delta_schedule(self, v, node, start, out):
        secs = int(v.seconds)
        cron = None
        if secs == 86400 * 7:
            cron, unit = "@weekly", None
        elif secs == 86400:
            cron = "@daily"
        elif secs == 3600:
            cron = "@hourly"
        elif secs % 3600 == 0 and 24 % (secs // 3600) == 0:
            cron = "0 */%d * * *" % (secs // 3600)
        elif secs % 60 == 0 and 60 % (secs // 60) == 0:
            cron = "*/%d * * * *" % (secs // 60)
        aligned = False
        if cron and isinstance(start, When):
            d = start.value
            since = d - _dt.datetime(d.year, d.month, d.day)
            if cron == "@weekly":
                aligned = since.total_seconds() == 0 and d.weekday() == 6
            else:
                aligned = since.total_seconds() % secs == 0
        if cron and aligned:
            out["schedule"] = cron
            self.note(node, "timedelta schedule written as cron '%s' (the same fire times, since "
                            "start_date is on that boundary)" % cron)
            return
        self.error(node, "a timedelta schedule (every %s from start_date) has no Sparkplane "
                         "equivalent unless start_date sits on a cron boundary; write a cron "
                         "expression%s" % (duration(secs), " such as '%s'" % cron if cron else ""))

    def map_dag(self):
        d = self.dag
        kw = dict(d.kwargs)
        nodes = d.kw_nodes
        out = {}
        node_of = lambda k: nodes.get(k, d.node)  # noqa: E731
        dag_id = self.value(kw.pop("dag_id", None), d.node, "dag_id")
        if not isinstance(dag_id, str):
            self.error(d.node, "the DAG has no literal dag_id")
            dag_id = "imported_dag"
        out["id"] = dag_id
        desc = self.value(kw.pop("description", None), node_of("description"), "description")
        if isinstance(desc, str):
            out["description"] = desc
        default_args = self.value(kw.pop("default_args", {}), node_of("default_args"),
                                  "default_args") or {}
        if not isinstance(default_args, dict):
            self.error(node_of("default_args"), "default_args: expected a dict")
            default_args = {}
        self.default_args = dict(default_args)
        start = kw.pop("start_date", None) or default_args.get("start_date")
        end = kw.pop("end_date", None) or default_args.get("end_date")
        self.default_args.pop("start_date", None)
        self.default_args.pop("end_date", None)
        sched_key = next((k for k in ("schedule", "schedule_interval", "timetable") if k in kw),
                         None)
        tz = None
        start_text = end_text = None
        if start is not None:
            r = self.when(start, node_of("start_date"), "start_date", out)
            if r:
                start_text, tz = r
        if end is not None:
            r = self.when(end, node_of("end_date"), "end_date", out)
            if r:
                end_text = r[0]
        if sched_key:
            self.schedule(kw.pop(sched_key), node_of(sched_key),
                          start if isinstance(start, When) else None, out)
        for k in ("schedule", "schedule_interval", "timetable"):
            if k in kw:
                self.error(node_of(k), "both %s and %s given" % (sched_key, k))
                kw.pop(k)
        if tz and "timezone" not in out:
            out["timezone"] = tz
        elif tz and out.get("timezone") != tz:
            self.note(node_of("start_date"), "start_date's zone %s differs from the timetable's "
                                             "%s; the timetable's is kept" % (tz, out["timezone"]))
        if start_text:
            out["start_date"] = start_text
        if end_text:
            out["end_date"] = end_text
        if "catchup" in kw:
            c = self.value(kw.pop("catchup"), node_of("catchup"), "catchup")
            if isinstance(c, bool):
                out["catchup"] = c
        if "max_active_runs" in kw:
            m = self.value(kw.pop("max_active_runs"), node_of("max_active_runs"), "max_active_runs")
            if isinstance(m, int):
                out["max_active_runs"] = m
        if "tags" in kw:
            tags = self.value(kw.pop("tags"), node_of("tags"), "tags")
            if isinstance(tags, list) and tags:
                out["tags"] = [str(t) for t in tags]
        if "params" in kw:
            params = self.value(kw.pop("params"), node_of("params"), "params")
            if isinstance(params, dict) and params:
                out["params"] = self.params(params, node_of("params"))
        for k in list(kw):
            n = node_of(k)
            if k in DAG_IGNORED_NOTE:
                why = DAG_IGNORED_NOTE[k]
                self.note(n, "DAG argument '%s' is not kept%s" % (k, ": " + why if why else ""))
            elif k in DAG_LOST:
                self.error(n, "DAG argument '%s' has no Sparkplane equivalent: %s" % (k, DAG_LOST[k]))
            else:
                self.error(n, "DAG argument '%s' is not supported" % k)
        dt = self.default_task(node_of("default_args"))
        if dt:
            out["default_task"] = dt
        self.map_tasks()
        out["tasks"] = [t for t, _ in self.out_tasks]
        return out

    def params(self, params, node):
        out = {}
        for name, v in params.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(name)):
                self.error(node, "param '%s': Sparkplane param names are identifiers" % name)
                continue
            if isinstance(v, ParamV):
                if v.dropped:
                    self.note(node, "param '%s': %s not checked by Sparkplane (only the default "
                                    "and description are kept)" % (name, ", ".join(v.dropped)))
                if v.description:
                    out[name] = {"default": self.jsonable(v.default, node, "params." + name),
                                 "description": v.description}
                else:
                    out[name] = self.jsonable(v.default, node, "params." + name)
            else:
                out[name] = self.jsonable(v, node, "params." + name)
        return out

    def jsonable(self, v, node, what):
        if isinstance(v, (str, int, float, bool)) or v is None:
            return v
        if isinstance(v, list):
            return [self.jsonable(x, node, what) for x in v]
        if isinstance(v, dict):
            return {str(k): self.jsonable(x, node, what) for k, x in v.items()}
        if isinstance(v, When):
            return self.when(v, node, what, None)[0] if self.when(v, node, what, None) else None
        if isinstance(v, Delta):
            return duration(v.seconds)
        self.error(node, "%s: a value that is not plain data" % what)
        return None

    def default_task(self, node):
        out = {}
        for k in list(self.default_args):
            v = self.default_args[k]
            if k in COMMON_FIELDS:
                f = self.common_field(k, v, node)
                if f is not None:
                    out[f[0]] = f[1]
                self.default_args.pop(k)
            elif k in LOST:
                self.error(node, "default_args.%s has no Sparkplane equivalent: %s" % (k, LOST[k]))
                self.default_args.pop(k)
            elif k in IGNORED_NOTE:
                why = IGNORED_NOTE[k]
                self.note(node, "default_args.%s is not kept%s" % (k, ": " + why if why else ""))
                self.default_args.pop(k)
        used = set()
        for t in self.dag.tasks:
            accepted = BASH_FIELDS if t.op in ("BashOperator",) else (
                SPARK_FIELDS if t.op == "SparkSubmitOperator" else set())
            for k in self.default_args:
                if k in accepted and k not in t.kwargs:
                    t.kwargs[k] = self.default_args[k]
                    used.add(k)
        for k in self.default_args:
            if k not in used:
                self.note(node, "default_args.%s is not used by any converted task" % k)
        return out

    def common_field(self, k, v, node):
        v = self.value(v, node, k)
        if v is None:
            return None
        if k == "retries":
            if isinstance(v, int) and not isinstance(v, bool):
                return k, v
        elif k in ("retry_delay", "max_retry_delay", "execution_timeout"):
            if isinstance(v, Delta):
                return k, duration(v.seconds)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return k, duration(v)
        elif k == "retry_exponential_backoff":
            if isinstance(v, (bool, int, float)):
                return k, v
        elif k == "trigger_rule":
            if isinstance(v, str):
                v = {"dummy": "always", "none_failed_or_skipped": "none_failed_min_one_success"}.get(v, v)
                return k, v
        self.error(node, "%s: unsupported value %r" % (k, v))
        return None

    # ---- tasks -------------------------------------------------------------------------
    def map_tasks(self):
        steps = {}
        for t in self.dag.tasks:
            steps[t] = self.task_steps(t)
        # Several recognised cluster creates (a master, then workers) are one spark_cluster
        # create; several cluster deletes one delete.
        first = {}
        for t in self.dag.tasks:
            kinds = [s["kind"] for s in steps[t]]
            for kind in ("cluster_create", "cluster_delete"):
                if kinds == [kind]:
                    if kind in first:
                        self.alias[t] = first[kind]
                        self.merge_cluster(steps[first[kind]][0], steps[t][0])
                        self.note(t.node, "'%s' is merged into '%s' (one Sparkplane spark_cluster "
                                          "task creates or deletes the master and its workers)"
                                  % (t.airflow_id, first[kind].airflow_id))
                    else:
                        first[kind] = t
        for t in self.dag.tasks:
            for s in steps[t]:
                if s["kind"] == "cluster_create" and t not in self.alias:
                    self.create_task = s["task"]["id"]
        for t in self.dag.tasks:
            if t in self.alias:
                continue
            ids = []
            for s in steps[t]:
                sp = s["task"]
                if s["kind"] == "cluster_create":
                    self.finish_create(s)
                if s["kind"] == "cluster_delete":
                    if not self.create_task:
                        self.error(t.node, "'%s' deletes a Spark cluster but no task of this DAG "
                                           "creates one that Sparkplane recognises" % t.airflow_id)
                    else:
                        sp["cluster_from"] = self.create_task
                if s["kind"] == "connection_create" and self.create_task and s.get("use_cluster"):
                    sp.pop("conn_type", None)
                    sp.pop("host", None)
                    sp.pop("port", None)
                    sp["uri"] = "{{ tasks.%s.outputs.master_url }}" % self.create_task
                    self.extra_edges.append((self.create_task, sp["id"]))
                ids.append(sp["id"])
                self.out_tasks.append((sp, {"id": sp["id"], "line": t.node.lineno,
                                            "what": s.get("what", t.op),
                                            "comments": s.get("comments", [])}))
            for a, b in zip(ids, ids[1:]):
                self.extra_edges.append((a, b))
            self.span[t] = (ids[0], ids[-1]) if ids else None
        # Dependencies: Airflow edges through the merge aliases, then the edges Sparkplane needs.
        deps = {sp["id"]: [] for sp, _ in self.out_tasks}
        for up, down in self.dag.edges:
            up, down = self.alias.get(up, up), self.alias.get(down, down)
            if up is down or not self.span.get(up) or not self.span.get(down):
                continue
            a, b = self.span[up][1], self.span[down][0]
            if a not in deps[b]:
                deps[b].append(a)
        by_id = {sp["id"]: sp for sp, _ in self.out_tasks}
        for a, b in self.extra_edges:
            if a != b and a not in deps[b] and not self.reaches(deps, b, a):
                deps[b].append(a)
        for sp, _ in self.out_tasks:
            if sp.get("teardown") and sp.get("type") == "spark_cluster" and self.create_task:
                if self.create_task not in deps[sp["id"]]:
                    deps[sp["id"]].insert(0, self.create_task)
        for sp, _ in self.out_tasks:
            if sp.get("teardown") and sp.get("type") == "connection":
                for other, _ in self.out_tasks:
                    if other.get("setup") and other.get("type") == "connection" and \
                            other.get("conn_id") == sp.get("conn_id") and \
                            other["id"] not in deps[sp["id"]] and \
                            not self.reaches(deps, other["id"], sp["id"]):
                        deps[sp["id"]].insert(0, other["id"])
        for sp, _ in self.out_tasks:
            if deps[sp["id"]]:
                # depends_on right after id/type, as people write it
                items = list(sp.items())
                sp.clear()
                for k, v in items[:2]:
                    sp[k] = v
                sp["depends_on"] = deps[sp["id"]]
                for k, v in items[2:]:
                    sp[k] = v
        del by_id

    def reaches(self, deps, frm, to):
        """Whether `to` is upstream of `frm`... i.e. frm depends (transitively) on to."""
        seen, stack = set(), [frm]
        while stack:
            x = stack.pop()
            if x == to:
                return True
            if x in seen:
                continue
            seen.add(x)
            stack.extend(deps.get(x, []))
        return False

    def merge_cluster(self, into, other):
        a, b = into.setdefault("facts", {}), other.get("facts", {})
        for k, v in b.items():
            if k == "workers" and "workers" in a and a.get("workers_from_worker"):
                continue
            if v is not None and (k not in a or k == "workers" and b.get("workers_from_worker")):
                a[k] = v
        if b.get("workers_from_worker"):
            a["workers_from_worker"] = True
        into.setdefault("comments", []).extend(other.get("comments", []))

    def finish_create(self, s):
        f = s.get("facts", {})
        sp = s["task"]
        if f.get("worker") or f.get("workers") is not None:
            sp["workers"] = f.get("workers") if f.get("workers") is not None else 1
        else:
            sp["workers"] = 1
            self.note(s["node"], "no Spark worker found in the cluster's creation; one worker is "
                                 "created (set `workers:`)")
        if f.get("worker_cores"):
            sp["worker_cores"] = f["worker_cores"]
        if f.get("worker_memory"):
            sp["worker_memory"] = f["worker_memory"]
        if f.get("image"):
            self.note(s["node"], "image '%s' is not carried over: the local backend runs "
                                 "Sparkplane's own Spark, the kubernetes backend the configured "
                                 "spark_image (add `backend: kubernetes` and `image:` to keep it)"
                      % f["image"])

    def common(self, t, sp):
        for k in sorted(COMMON_FIELDS):
            if k in t.kwargs:
                f = self.common_field(k, t.kwargs.pop(k), t.kw_nodes.get(k, t.node))
                if f is not None:
                    sp[f[0]] = f[1]
        if t.setup:
            sp["setup"] = True
        if t.teardown:
            sp["teardown"] = True

    def leftover(self, t, accepted):
        for k in list(t.kwargs):
            n = t.kw_nodes.get(k, t.node)
            if k in accepted:
                continue
            if k in LOST:
                self.error(n, "%s '%s': %s has no Sparkplane equivalent: %s"
                           % (t.op, t.airflow_id, k, LOST[k]))
            elif k in IGNORED_NOTE:
                why = IGNORED_NOTE[k]
                self.note_once(("ign", k), n, "%s is not kept%s" % (k, ": " + why if why else ""))
            elif k in ("python_callable", "op_args", "op_kwargs", "templates_dict",
                       "templates_exts", "show_return_value_in_logs"):
                pass
            else:
                self.error(n, "%s '%s': argument '%s' is not supported"
                           % (t.op, t.airflow_id, k))

    def placeholder(self, t, sp, what, why):
        for k in t.kwargs:
            if k in LOST:
                self.error(t.kw_nodes.get(k, t.node), "%s '%s': %s has no Sparkplane "
                           "equivalent: %s" % (t.op, t.airflow_id, k, LOST[k]))
        sp["type"] = "bash"
        sp["command"] = ["sh", "-c", "echo 'not converted from Airflow (%s at line %d): edit "
                         "this task' >&2; exit 1" % (what.replace("'", ""), t.node.lineno)]
        return [{"kind": "placeholder", "task": sp, "what": what,
                 "comments": ["NOT CONVERTED: %s" % why]}]

    def task_steps(self, t):
        sid = self.sp_id(t.airflow_id, t.node)
        sp = {"id": sid}
        op = t.op
        if op == "BashOperator" or op == "@task.bash":
            sp["type"] = "bash"
            if op == "@task.bash":
                cmd = t.command
                if isinstance(cmd, Unresolved):
                    self.error(cmd.node or t.node, "@task.bash '%s': %s" % (t.airflow_id, cmd.why))
                    return self.placeholder(t, sp, op, cmd.why)
            else:
                cmd = self.value(t.kwargs.pop("bash_command", None),
                                 t.kw_nodes.get("bash_command", t.node), "bash_command")
            if not isinstance(cmd, str):
                if cmd is not None:
                    self.error(t.node, "bash_command is not a string")
                return self.placeholder(t, sp, op, "bash_command is not a literal string")
            if not self.check_template(cmd, t):
                steps = self.placeholder(t, sp, op, "the command uses Jinja that Sparkplane "
                                                    "templates do not have")
                steps[0]["comments"].append("Airflow's command: %s" % " ".join(cmd.split()))
                return steps
            cmd = re.sub(r"\{\{\s*dag\.dag_id\s*\}\}", "{{ dag.id }}", cmd)
            if re.fullmatch(r"\S+\.(sh|bash)", cmd.strip()):
                self.error(t.kw_nodes.get("bash_command", t.node),
                           "bash_command '%s' names a script that Airflow reads as a Jinja "
                           "template (template_searchpath); Sparkplane runs the command as "
                           "written: give the script's full path" % cmd.strip())
            sp["command"] = cmd
            self.common(t, sp)
            env = self.value(t.kwargs.pop("env", None), t.kw_nodes.get("env", t.node), "env")
            append = t.kwargs.pop("append_env", False)
            if isinstance(env, dict) and env:
                sp["env"] = {str(k): str(v) for k, v in env.items()}
                if append is not True:
                    self.note_once("env", t.kw_nodes.get("env", t.node),
                                   "Airflow runs a BashOperator with env= and only those "
                                   "variables; Sparkplane adds them to its allowlisted "
                                   "environment (PATH, HOME, LANG, ...)")
            for k in ("cwd", "skip_on_exit_code"):
                if k in t.kwargs:
                    v = self.value(t.kwargs.pop(k), t.kw_nodes.get(k, t.node), k)
                    if v is not None:
                        sp[k] = v
            self.leftover(t, set())
            return [{"kind": "bash", "task": sp, "what": op}]
        if op in ("EmptyOperator", "DummyOperator"):
            sp["type"] = "bash"
            sp["command"] = ["true"]
            self.common(t, sp)
            self.leftover(t, set())
            return [{"kind": "empty", "task": sp, "what": op,
                     "comments": ["%s: does nothing" % op]}]
        if op == "SparkSubmitOperator":
            return self.spark_submit(t, sp)
        if op == "PythonOperator" or op == "@task" or op == "@task.python":
            fn = t.func if op != "PythonOperator" else t.kwargs.get("python_callable")
            if isinstance(fn, Unresolved) or not isinstance(fn, FuncRef):
                why = "python_callable is not a function defined in this file"
                self.error(t.node, "%s '%s': %s" % (op, t.airflow_id, why))
                return self.placeholder(t, sp, op, why)
            return self.python_steps(t, sp, fn)
        hint = HINTS.get(op)
        if hint is None:
            if op.endswith("Sensor") or op.endswith("SensorAsync"):
                hint = "poll in a bash task (exit non-zero until ready) with retries and retry_delay"
            elif op.startswith("@task"):
                hint = "run the code as a bash task (python3 script.py) or a spark_submit task"
            else:
                hint = "write it as a bash task running the same command"
        why = "%s has no Sparkplane task type; %s" % (op, hint)
        self.error(t.node, "%s '%s': %s" % (op, t.airflow_id, why))
        return self.placeholder(t, sp, op, why)

    def check_template(self, text, t):
        """False (and errors reported) when `text` has Jinja beyond {{ dotted.path }}."""
        ok = True
        for m in re.finditer(r"\{%.*?%\}", text, re.S):
            ok = False
            self.error(t.node, "'%s': Jinja statement %s is not a Sparkplane template (only "
                               "{{ dotted.path }})" % (t.airflow_id, m.group(0)))
        for m in re.finditer(r"\{\{(.*?)\}\}", text, re.S):
            inner = m.group(1).strip()
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)*", inner):
                ok = False
                self.error(t.node, "'%s': Jinja expression {{ %s }} is not a Sparkplane template "
                                   "(only {{ dotted.path }}: ds, ts, params.NAME, "
                                   "tasks.ID.outputs.KEY, ...)" % (t.airflow_id, inner))
        return ok

    def path_value(self, p, node):
        if self.apps_dir and isinstance(p, str) and p.startswith(self.imp.apps_dir + "/"):
            rel = p[len(self.imp.apps_dir) + 1:]
            self.note_once("apps", node, "paths under %s/ (the reference design's application "
                                         "volume) are written relative to <data>/apps"
                           % self.imp.apps_dir)
            return rel
        return p

    @property
    def apps_dir(self):
        return self.imp.apps_dir

    def spark_submit(self, t, sp):
        sp["type"] = "spark_submit"
        kw = t.kwargs
        n = lambda k: t.kw_nodes.get(k, t.node)  # noqa: E731
        conn = self.value(kw.pop("conn_id", "spark_default"), n("conn_id"), "conn_id")
        if isinstance(conn, str):
            sp["conn_id"] = conn
        app = self.value(kw.pop("application", None), n("application"), "application")
        if not isinstance(app, str):
            self.error(t.node, "SparkSubmitOperator '%s' has no literal application" % t.airflow_id)
            return self.placeholder(t, sp, "SparkSubmitOperator", "no literal application")
        sp["application"] = self.path_value(app, n("application"))
        if "java_class" in kw:
            v = self.value(kw.pop("java_class"), n("java_class"), "java_class")
            if v:
                sp["java_class"] = v
        for k in ("py_files", "jars", "files", "archives", "packages"):
            if k in kw:
                v = self.value(kw.pop(k), n(k), k)
                if isinstance(v, str):
                    v = [x.strip() for x in v.split(",") if x.strip()]
                if isinstance(v, list) and v:
                    sp[k] = [self.path_value(x, n(k)) if k != "packages" else x for x in v]
        if "conf" in kw:
            conf = kw.pop("conf")
            out = {}
            if isinstance(conf, Unresolved) and not isinstance(t.kw_nodes.get("conf"), ast.Dict):
                self.value(conf, n("conf"), "conf")
            elif isinstance(conf, dict):
                for ck, cv in conf.items():
                    out[str(ck)] = str(cv) if not isinstance(cv, bool) else str(cv).lower()
            elif isinstance(t.kw_nodes.get("conf"), ast.Dict):
                # Some values are computed (spark.driver.host = the worker's IP, typically).
                cnode = t.kw_nodes["conf"]
                for kk, vv in zip(cnode.keys, cnode.values):
                    try:
                        ck = self.imp.ev(kk, self.imp.module_env)
                    except Unresolved:
                        self.error(kk, "conf key is computed")
                        continue
                    try:
                        cv = self.imp.ev(vv, self.imp.module_env)
                        out[str(ck)] = str(cv) if not isinstance(cv, bool) else str(cv).lower()
                    except Unresolved as e:
                        if ck in ("spark.driver.host", "spark.driver.bindAddress"):
                            self.note(vv, "conf %s (computed on the Airflow worker) is left to "
                                          "Sparkplane, which sets it itself: 127.0.0.1 for local "
                                          "clusters, the pod IP in Kubernetes" % ck)
                        else:
                            self.error(vv, "conf %s: %s" % (ck, e.why))
            if out:
                sp["conf"] = out
        for k in ("executor_memory", "driver_memory"):
            if k in kw:
                v = self.value(kw.pop(k), n(k), k)
                if v:
                    sp[k] = str(v)
        for k in ("executor_cores", "total_executor_cores"):
            if k in kw:
                v = self.value(kw.pop(k), n(k), k)
                if v is not None:
                    sp[k] = int(v)
        if "name" in kw:
            v = self.value(kw.pop("name"), n("name"), "name")
            if v:
                sp["name"] = v
        if "deploy_mode" in kw:
            v = self.value(kw.pop("deploy_mode"), n("deploy_mode"), "deploy_mode")
            if v:
                sp["deploy_mode"] = v
        if "application_args" in kw:
            v = self.value(kw.pop("application_args"), n("application_args"), "application_args")
            if isinstance(v, list):
                sp["application_args"] = [str(x) for x in v]
                for x in v:
                    if isinstance(x, str):
                        self.check_template(x, t)
        if "env_vars" in kw:
            v = self.value(kw.pop("env_vars"), n("env_vars"), "env_vars")
            if isinstance(v, dict) and v:
                sp["env"] = {str(a): str(b) for a, b in v.items()}
        self.common(t, sp)
        for k in list(kw):
            if k in SPARK_LOST:
                self.error(n(k), "SparkSubmitOperator '%s': %s is not supported by Sparkplane's "
                                 "spark_submit" % (t.airflow_id, k))
                kw.pop(k)
            elif k in SPARK_NOTE:
                why = SPARK_NOTE[k]
                self.note(n(k), "%s is not kept%s" % (k, ": " + why if why else ""))
                kw.pop(k)
        self.leftover(t, set())
        return [{"kind": "spark_submit", "task": sp, "what": "SparkSubmitOperator"}]

    # ---- Python callables: the reference design's recognisable steps -----------------------
    def python_steps(self, t, sp, fn):
        a = CallableAnalysis(self.imp, fn)
        kinds = a.steps()
        label = ("PythonOperator(python_callable=%s)" % fn.node.name
                 if t.op == "PythonOperator" else "%s %s()" % (t.op, fn.node.name))
        if a.others or not kinds:
            calls = ", ".join("%s at line %d" % (c, line) for c, line in a.others[:6])
            if not kinds:
                why = ("%s runs Python code Sparkplane cannot run%s; rewrite it as a bash task "
                       "(e.g. `python3 script.py`) or a spark_submit task"
                       % (label, ": it calls " + calls if calls else ""))
            else:
                why = ("%s creates or deletes a Spark cluster or connection but also calls %s, "
                       "which Sparkplane would not do; move that code to its own task"
                       % (label, calls))
            self.error(t.node, "'%s': %s" % (t.airflow_id, why))
            return self.placeholder(t, sp, label, why)
        for k in ("op_args", "op_kwargs", "python_callable", "templates_dict"):
            t.kwargs.pop(k, None)
        out = []
        base = sp["id"]
        for i, (kind, facts) in enumerate(kinds):
            s = {"id": base if i == 0 else "%s_%s" % (base, kind.split("_")[0])}
            if kind == "cluster_create":
                s.update({"type": "spark_cluster", "setup": True, "action": "create"})
                comment = "%s: creates the Spark master and workers (Kubernetes client)" % label
            elif kind == "cluster_delete":
                s.update({"type": "spark_cluster", "teardown": True, "action": "delete"})
                comment = "%s: deletes the Spark master and workers" % label
            elif kind == "connection_create":
                s.update({"type": "connection", "setup": True, "action": "create",
                          "conn_id": facts.get("conn_id")})
                for k in ("conn_type", "host", "port"):
                    if facts.get(k) is not None:
                        s[k] = facts[k]
                comment = ("%s: creates Airflow connection '%s'" % (label, facts.get("conn_id")))
            else:
                s.update({"type": "connection", "teardown": True, "action": "delete",
                          "conn_id": facts.get("conn_id")})
                comment = "%s: deletes Airflow connection '%s'" % (label, facts.get("conn_id"))
            if kind.startswith("connection") and not facts.get("conn_id"):
                self.error(t.node, "'%s': the connection's conn_id is not a literal" % t.airflow_id)
            retry = {}
            self.common(t, retry)
            tr = retry.pop("trigger_rule", None)
            retry.pop("setup", None)
            retry.pop("teardown", None)
            if tr and kind.endswith("delete") and tr not in ("all_done", "all_done_setup_success"):
                self.note(t.node, "'%s' becomes a teardown: it runs whatever happens upstream "
                                  "(trigger_rule %s not kept), and the run's state comes from "
                                  "the work, not from this delete" % (t.airflow_id, tr))
            elif tr and not kind.endswith("delete"):
                s["trigger_rule"] = tr
            s.update(retry)
            step = {"kind": kind, "task": s, "what": label, "comments": [comment],
                    "node": t.node, "facts": facts, "use_cluster": True}
            out.append(step)
        if len(out) > 1:
            self.note(t.node, "'%s' does %d things; it becomes the tasks %s"
                      % (t.airflow_id, len(out), ", ".join(s["task"]["id"] for s in out)))
        self.leftover(t, set())
        return out


K8S_CREATE = re.compile(r"^create_namespaced_(deployment|pod|service|replica_set|stateful_set)$")
K8S_DELETE = re.compile(r"^delete_namespaced_(deployment|pod|service|replica_set|stateful_set)$")
K8S_BENIGN = re.compile(r"^(read|list)_namespaced_\w+$|^(load_kube_config|load_incluster_config|"
                        r"AppsV1Api|CoreV1Api|ApiClient|Configuration|V1\w+|ApiException|"
                        r"Watch|stream)$")
BENIGN = {"print", "len", "str", "int", "float", "dict", "list", "range", "isinstance",
          "format", "get", "items", "keys", "values", "append", "extend", "join", "split",
          "strip", "lower", "upper", "replace", "startswith", "endswith", "sleep", "info",
          "debug", "warning", "error", "exception", "getLogger", "getenv", "Session",
          "create_session", "commit", "close", "rollback", "query", "filter", "filter_by",
          "first", "one", "one_or_none", "all", "count", "sorted", "min", "max", "time",
          "monotonic", "gethostname", "gethostbyname", "dumps", "loads", "Exception",
          "RuntimeError", "ValueError", "TimeoutError", "enumerate", "zip", "set", "bool",
          "provide_session", "add", "merge", "delete", "Connection", "flush", "expunge"}


class CallableAnalysis:
    """What a Python callable of the DAG file does, from the calls in its body (and in the
    functions of the same file it calls)."""

    def __init__(self, imp, fn):
        self.imp = imp
        self.fn = fn
        self.calls = []  # (name, Call node)
        self.strings = []
        self.others = []
        self.nodes = []
        seen = set()
        self.collect(fn.node, seen)

    def collect(self, fnode, seen):
        if fnode.name in seen:
            return
        seen.add(fnode.name)
        self.nodes.append(fnode)
        for n in ast.walk(fnode):
            if isinstance(n, ast.Call):
                name = callee_name(n)
                if isinstance(n.func, ast.Name) and name in self.imp.funcs:
                    self.collect(self.imp.funcs[name], seen)
                    continue
                self.calls.append((name, n))
            elif isinstance(n, ast.Constant) and isinstance(n.value, str):
                self.strings.append(n.value)

    def spark_evidence(self):
        text = " ".join(self.strings).lower()
        master = any(s in text for s in ("deploy.master.master", "start-master", "spark-master",
                                         "spark_master")) or ("master" in text and "spark" in text)
        worker = any(s in text for s in ("deploy.worker.worker", "start-worker", "start-slave",
                                         "spark-worker", "spark_worker"))
        return master, worker

    def steps(self):
        names = [c for c, _ in self.calls]
        creates = [c for c in names if K8S_CREATE.match(c)]
        deletes = [c for c in names if K8S_DELETE.match(c)]
        conn_made = "Connection" in names and any(c in ("add", "merge") for c in names)
        conn_deleted = ("delete" in names or "remove" in names) and self.mentions_connection()
        master, worker = self.spark_evidence()
        out = []
        order = []
        for c, n in self.calls:
            if K8S_CREATE.match(c) and "cluster_create" not in order:
                order.append("cluster_create")
            elif K8S_DELETE.match(c) and "cluster_delete" not in order:
                order.append("cluster_delete")
            elif c in ("add", "merge") and conn_made and "connection_create" not in order:
                order.append("connection_create")
            elif c == "delete" and conn_deleted and not K8S_DELETE.match(c) and \
                    "connection_delete" not in order:
                order.append("connection_delete")
        for kind in order:
            if kind.startswith("cluster"):
                if not (master or worker):
                    self.others.append(("%s() (not a Spark master or worker)" %
                                        (creates or deletes)[0],
                                        self.first_line(creates or deletes)))
                    continue
                facts = self.cluster_facts() if kind == "cluster_create" else {}
                facts["worker"] = worker
                if worker and not master:
                    facts["workers_from_worker"] = True
                out.append((kind, facts))
            else:
                out.append((kind, self.connection_facts(kind)))
        for c, n in self.calls:
            if K8S_CREATE.match(c) or K8S_DELETE.match(c) or K8S_BENIGN.match(c) or c in BENIGN:
                continue
            if c == "remove":
                continue
            self.others.append((c + "()", n.lineno))
        return out

    def first_line(self, names):
        for c, n in self.calls:
            if c in names:
                return n.lineno
        return self.fn.node.lineno

    def mentions_connection(self):
        for c, n in self.calls:
            if c == "Connection":
                return True
        for fnode in self.nodes:
            for n in ast.walk(fnode):
                if isinstance(n, ast.Name) and n.id == "Connection":
                    return True
        return False

    def literal(self, node):
        try:
            return self.imp.ev(node, self.imp.module_env)
        except Unresolved:
            return None

    def connection_facts(self, kind):
        facts = {}
        for fnode in self.nodes:
            for n in ast.walk(fnode):
                if isinstance(n, ast.Call) and callee_name(n) in ("Connection", "filter_by"):
                    for kw in n.keywords:
                        if kw.arg in ("conn_id", "conn_type", "host", "port"):
                            v = self.literal(kw.value)
                            if v is not None:
                                facts.setdefault(kw.arg, v)
                if isinstance(n, ast.Compare) and len(n.comparators) == 1:
                    left = n.left
                    if isinstance(left, ast.Attribute) and left.attr == "conn_id":
                        v = self.literal(n.comparators[0])
                        if isinstance(v, str):
                            facts.setdefault("conn_id", v)
        return facts

    def cluster_facts(self):
        facts = {"workers": None}
        parents = {}
        for fnode in self.nodes:
            for p in ast.walk(fnode):
                for c in ast.iter_child_nodes(p):
                    parents[c] = p

        def near_worker(n):
            # the enclosing statement mentions a worker
            x = n
            while x in parents and not isinstance(parents[x], (ast.FunctionDef,)):
                x = parents[x]
                if isinstance(x, ast.stmt):
                    break
            text = " ".join(c.value.lower() for c in ast.walk(x)
                            if isinstance(c, ast.Constant) and isinstance(c.value, str))
            names = " ".join(c.id.lower() for c in ast.walk(x) if isinstance(c, ast.Name))
            return "worker" in text or "worker" in names or "slave" in text

        for fnode in self.nodes:
            for n in ast.walk(fnode):
                if isinstance(n, ast.keyword) and n.arg == "replicas":
                    v = self.literal(n.value)
                    if isinstance(v, int) and near_worker(n.value):
                        facts["workers"] = v
                if isinstance(n, ast.Dict):
                    pairs = {}
                    for k, v in zip(n.keys, n.values):
                        if isinstance(k, ast.Constant):
                            pairs[k.value] = v
                    if "replicas" in pairs:
                        v = self.literal(pairs["replicas"])
                        if isinstance(v, int) and near_worker(n):
                            facts["workers"] = v
                    if "image" in pairs:
                        v = self.literal(pairs["image"])
                        if isinstance(v, str):
                            facts.setdefault("image", v)
                    if "name" in pairs and "value" in pairs:
                        self.env_fact(self.literal(pairs["name"]), self.literal(pairs["value"]),
                                      facts)
                if isinstance(n, ast.Call):
                    kws = {kw.arg: kw.value for kw in n.keywords if kw.arg}
                    if "image" in kws:
                        v = self.literal(kws["image"])
                        if isinstance(v, str):
                            facts.setdefault("image", v)
                    if "name" in kws and "value" in kws:
                        self.env_fact(self.literal(kws["name"]), self.literal(kws["value"]), facts)
                if isinstance(n, (ast.List, ast.Tuple)):
                    vals = [self.literal(e) for e in n.elts]
                    for a, b in zip(vals, vals[1:]):
                        if a in ("--cores", "-c") and b is not None:
                            self.env_fact("SPARK_WORKER_CORES", b, facts)
                        if a in ("--memory", "-m") and b is not None:
                            self.env_fact("SPARK_WORKER_MEMORY", b, facts)
        return facts

    def env_fact(self, name, value, facts):
        if name == "SPARK_WORKER_CORES":
            try:
                facts["worker_cores"] = int(value)
            except (TypeError, ValueError):
                pass
        elif name == "SPARK_WORKER_MEMORY" and isinstance(value, str) and \
                re.fullmatch(r"\d+[kmgtKMGT]?", value):
            facts["worker_memory"] = value.lower()
