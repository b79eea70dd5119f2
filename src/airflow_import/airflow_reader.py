"""Reads an Airflow DAG file without running it: the values the file computes and the DAGs,
tasks, groups and edges it declares (Importer), for airflow_mapper to turn into Sparkplane's.

Part of the Airflow importer embedded in the sparkplane binary (see airflow_to_sparkplane.py).
The file is only parsed (ast.parse); nothing in it is imported, executed or evaluated. Values are
computed by a small evaluator over literals, names bound to literals, f-strings,
timedelta/datetime/pendulum constructors, range() and loops over such values; everything else is
"unresolved" and, when it matters, reported with its line.
"""

import ast
import datetime as _dt


class Unresolved(Exception):
    def __init__(self, node, why):
        super().__init__(why)
        self.node = node
        self.why = why


class Sym:
    """An imported name or an attribute of one: airflow.operators.bash.BashOperator."""

    def __init__(self, path):
        self.path = path

    @property
    def name(self):
        return self.path.rsplit(".", 1)[-1]


class Delta:
    def __init__(self, seconds):
        self.seconds = seconds


class When:
    def __init__(self, value, tz):
        self.value = value  # naive datetime.datetime
        self.tz = tz  # IANA name or None (naive: Airflow's default time zone, UTC)


class ParamV:
    def __init__(self, default, has_default, description, dropped):
        self.default = default
        self.has_default = has_default
        self.description = description
        self.dropped = dropped  # schema keywords Sparkplane does not check


class Lazy:
    """A name bound to a value that could not be computed; an error only when used."""

    def __init__(self, err):
        self.err = err


class FuncRef:
    def __init__(self, node, kind, deco_kwargs, deco_node, env):
        self.node = node
        self.env = env  # where it was defined: its body sees those names
        self.kind = kind  # None, "dag", "task_group", "task.bash", "task", "task.<other>"
        self.deco_kwargs = deco_kwargs
        self.deco_node = deco_node
        self.calls = 0
        self.overrides = {}


class Bound:
    """fn.override(...): the decorated function with other task arguments."""

    def __init__(self, func, overrides):
        self.func = func
        self.overrides = overrides


class Method:
    def __init__(self, obj, name):
        self.obj = obj
        self.name = name


class Task:
    def __init__(self, airflow_id, op, node, dag, group):
        self.airflow_id = airflow_id
        self.op = op  # operator class name, or "@task.bash" ...
        self.node = node
        self.dag = dag
        self.group = group
        self.kwargs = {}  # name -> value or Unresolved
        self.kw_nodes = {}
        self.func = None  # FuncRef of a decorated task or python_callable
        self.command = None  # @task.bash: the returned string (or Unresolved)
        self.setup = False
        self.teardown = False


class TaskRef:
    def __init__(self, task):
        self.task = task


class Group:
    def __init__(self, group_id, parent, prefix, dag):
        self.group_id = group_id
        self.parent = parent
        self.prefix = prefix  # "outer.inner." or ""
        self.dag = dag
        self.tasks = []
        self.default_args = {}


class GroupRef:
    def __init__(self, group):
        self.group = group


class DagInfo:
    def __init__(self, node, kwargs, kw_nodes):
        self.node = node
        self.kwargs = kwargs
        self.kw_nodes = kw_nodes
        self.tasks = []
        self.edges = []  # (upstream Task, downstream Task), in the order they were made
        self.ids = {}


class DagRef:
    def __init__(self, dag):
        self.dag = dag


OPERATORS_MAPPED = {"BashOperator", "EmptyOperator", "DummyOperator", "SparkSubmitOperator",
                    "PythonOperator"}


def dotted(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return base + "." + node.attr if base else None
    return None


def callee_name(call):
    f = call.func
    if isinstance(f, ast.Attribute):
        return f.attr
    if isinstance(f, ast.Name):
        return f.id
    return ""


class Importer:
    def __init__(self, path, source, options):
        self.path = path
        self.source = source
        self.apps_dir = options.get("apps_dir", "/apps").rstrip("/")
        self.problems = []
        self.dags = []
        self.dag_stack = []
        self.group_stack = []
        self.module_env = {"__name__": "airflow_dag_file", "True": True, "False": False,
                           "None": None}
        self.funcs = {}  # module-level def name -> FunctionDef
        self.airflow3 = False  # imports airflow.sdk (Airflow 3 only)
        self.depth = 0

    # ---- reporting -----------------------------------------------------------------------
    def report(self, node, severity, message):
        line = getattr(node, "lineno", 0) if node is not None else 0
        col = getattr(node, "col_offset", -1) + 1 if node is not None else 0
        key = (line, col, severity, message)
        if key not in {(p["line"], p["column"], p["severity"], p["message"]) for p in self.problems}:
            self.problems.append({"line": line, "column": col, "severity": severity,
                                  "message": message})

    def error(self, node, message):
        self.report(node, "error", message)

    def note(self, node, message):
        self.report(node, "note", message)

    # ---- evaluation ----------------------------------------------------------------------
    def lookup(self, env, name, node):
        e = env
        while e is not None:
            if name in e:
                v = e[name]
                if isinstance(v, Lazy):
                    raise Unresolved(node, "'%s' is computed at run time (%s)" % (name, v.err.why))
                return v
            e = e.get("\0parent")
        if name in ("str", "int", "float", "bool", "len", "range", "list", "dict", "tuple",
                    "sorted", "min", "max", "abs"):
            return Sym("builtins." + name)
        raise Unresolved(node, "'%s' is not defined in this file" % name)

    def ev(self, node, env):
        self.depth += 1
        try:
            if self.depth > 200:
                raise Unresolved(node, "expression too deep")
            return self._ev(node, env)
        finally:
            self.depth -= 1

    def _ev(self, node, env):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.lookup(env, node.id, node)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            out = []
            for elt in node.elts:
                if isinstance(elt, ast.Starred):
                    out.extend(self.ev(elt.value, env))
                else:
                    out.append(self.ev(elt, env))
            return out
        if isinstance(node, ast.Dict):
            out = {}
            for k, v in zip(node.keys, node.values):
                if k is None:
                    out.update(self.ev(v, env))
                else:
                    out[self.ev(k, env)] = self.ev(v, env)
            return out
        if isinstance(node, ast.JoinedStr):
            parts = []
            for v in node.values:
                if isinstance(v, ast.Constant):
                    parts.append(v.value)
                else:
                    x = self.ev(v.value, env)
                    if not isinstance(x, (str, int, float)) or isinstance(x, bool):
                        raise Unresolved(v, "f-string value is not a literal")
                    spec = self.ev(v.format_spec, env) if v.format_spec else ""
                    parts.append(format(x, spec))
            return "".join(parts)
        if isinstance(node, ast.UnaryOp):
            x = self.ev(node.operand, env)
            if isinstance(node.op, ast.USub) and isinstance(x, (int, float)):
                return -x
            if isinstance(node.op, ast.Not) and isinstance(x, (bool, int, str, type(None))):
                return not x
            raise Unresolved(node, "unsupported operator")
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, (ast.RShift, ast.LShift)):
                return self.dependency(node, env)
            a, b = self.ev(node.left, env), self.ev(node.right, env)
            simple = (str, int, float)
            if isinstance(a, Delta) and isinstance(b, Delta) and isinstance(node.op, ast.Add):
                return Delta(a.seconds + b.seconds)
            if isinstance(a, Delta) and isinstance(b, (int, float)) and isinstance(node.op, ast.Mult):
                return Delta(a.seconds * b)
            if isinstance(node.op, ast.Add) and type(a) == type(b) and isinstance(a, (str, int, float, list)):
                return a + b
            if isinstance(a, simple) and isinstance(b, simple):
                try:
                    if isinstance(node.op, ast.Mult) and not (isinstance(a, str) or isinstance(b, str)):
                        return a * b
                    if isinstance(node.op, ast.Sub) and not isinstance(a, str):
                        return a - b
                    if isinstance(node.op, ast.Mod) and isinstance(a, str):
                        return a % b
                    if isinstance(node.op, ast.FloorDiv) and not isinstance(a, str):
                        return a // b
                except Exception:  # noqa: BLE001 - a wrong literal operation is just unresolved
                    pass
            if isinstance(node.op, ast.Mod) and isinstance(a, str) and isinstance(b, list):
                return a % tuple(b)
            raise Unresolved(node, "cannot compute this expression without running the file")
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            a, b = self.ev(node.left, env), self.ev(node.comparators[0], env)
            if not all(isinstance(x, (str, int, float, bool, type(None), list)) for x in (a, b)):
                raise Unresolved(node, "comparison of computed values")
            op = node.ops[0]
            table = {ast.Eq: lambda: a == b, ast.NotEq: lambda: a != b, ast.In: lambda: a in b,
                     ast.NotIn: lambda: a not in b, ast.Lt: lambda: a < b, ast.Gt: lambda: a > b,
                     ast.LtE: lambda: a <= b, ast.GtE: lambda: a >= b,
                     ast.Is: lambda: a is b, ast.IsNot: lambda: a is not b}
            if type(op) in table:
                return table[type(op)]()
        if isinstance(node, ast.Attribute):
            base = self.ev(node.value, env)
            if isinstance(base, Sym):
                if base.name == "TriggerRule" or base.path.endswith("TriggerRule"):
                    return node.attr.lower()
                return Sym(base.path + "." + node.attr)
            if isinstance(base, (TaskRef, GroupRef, FuncRef, Bound, DagRef)):
                return Method(base, node.attr)
            if isinstance(base, (str, dict, list)):
                return Method(base, node.attr)
            raise Unresolved(node, "attribute of a computed value")
        if isinstance(node, ast.Subscript):
            base = self.ev(node.value, env)
            key = self.ev(node.slice, env)
            try:
                return base[key]
            except Exception:  # noqa: BLE001
                raise Unresolved(node, "subscript of a computed value")
        if isinstance(node, ast.Call):
            return self.call(node, env)
        if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
            return self.comprehension(node, env)
        if isinstance(node, ast.IfExp):
            return self.ev(node.body if self.ev(node.test, env) else node.orelse, env)
        if isinstance(node, ast.BoolOp):
            vals = [self.ev(v, env) for v in node.values]
            if isinstance(node.op, ast.And):
                out = True
                for v in vals:
                    out = v
                    if not v:
                        break
                return out
            out = False
            for v in vals:
                out = v
                if v:
                    break
            return out
        raise Unresolved(node, "%s cannot be computed without running the file"
                         % type(node).__name__)

    def comprehension(self, node, env):
        if len(node.generators) != 1:
            raise Unresolved(node, "nested comprehension")
        gen = node.generators[0]
        out = []
        for item in self.iterate(gen.iter, env):
            local = {"\0parent": env}
            self.bind_target(gen.target, item, local)
            if all(self.ev(c, local) for c in gen.ifs):
                out.append(self.ev(node.elt, local))
        return out

    def iterate(self, node, env):
        v = self.ev(node, env)
        if isinstance(v, dict):
            v = list(v)
        if not isinstance(v, (list, str)):
            raise Unresolved(node, "the loop runs over a value computed at run time")
        if len(v) > 1000:
            raise Unresolved(node, "the loop has more than 1000 items")
        return list(v)

    def bind_target(self, target, value, env):
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (list, tuple)) \
                and len(value) == len(target.elts):
            for t, v in zip(target.elts, value):
                self.bind_target(t, v, env)
        else:
            raise Unresolved(target, "unsupported assignment target")

    def kwargs_of(self, call, env, lazy=False):
        """Keyword arguments: values, or Unresolved instances when lazy."""
        out, nodes = {}, {}
        for kw in call.keywords:
            if kw.arg is None:
                v = self.ev(kw.value, env)
                if not isinstance(v, dict):
                    raise Unresolved(kw.value, "**kwargs of a computed value")
                out.update(v)
                continue
            nodes[kw.arg] = kw.value
            try:
                out[kw.arg] = self.ev(kw.value, env)
            except Unresolved as e:
                if not lazy:
                    raise
                out[kw.arg] = e
        return out, nodes

    def call(self, node, env):
        fn = self.ev(node.func, env)
        if isinstance(fn, Method):
            return self.method(node, fn, env)
        if isinstance(fn, (FuncRef, Bound)):
            return self.call_function(node, fn, env)
        if not isinstance(fn, Sym):
            raise Unresolved(node, "call of a computed value")
        name, path = fn.name, fn.path
        if name in ("DAG",):
            return self.make_dag(node, env)
        if name == "TaskGroup":
            return self.make_group(node, env)
        if name in ("chain", "cross_downstream", "chain_linear"):
            return self.chain(node, name, env)
        if name == "timedelta" or path in ("pendulum.duration",):
            kw, _ = self.kwargs_of(node, env)
            args = [self.ev(a, env) for a in node.args]
            names = ["days", "seconds", "microseconds", "milliseconds", "minutes", "hours",
                     "weeks"]
            if path == "pendulum.duration":
                names = ["days", "seconds", "microseconds", "milliseconds", "minutes", "hours",
                         "weeks"]
            for n, a in zip(names, args):
                kw[n] = a
            try:
                return Delta(_dt.timedelta(**kw).total_seconds())
            except Exception as e:  # noqa: BLE001
                raise Unresolved(node, "invalid timedelta: %s" % e)
        if name in ("datetime",) and not path.endswith("datetime.datetime.now") \
                or path in ("pendulum.datetime", "pendulum.DateTime"):
            return self.make_datetime(node, env, path)
        if path in ("pendulum.parse", "datetime.datetime.fromisoformat",
                    "datetime.fromisoformat") or name == "fromisoformat":
            text = self.ev(node.args[0], env) if node.args else None
            if not isinstance(text, str):
                raise Unresolved(node, "date text is computed")
            kw, _ = self.kwargs_of(node, env)
            try:
                d = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise Unresolved(node, "'%s' is not an ISO date" % text)
            return self.aware(d, kw.get("tz"), node)
        if name in ("days_ago", "now", "today", "utcnow", "yesterday", "tomorrow"):
            raise Unresolved(node, "%s() moves with the clock: the start date must be a fixed "
                                   "date such as datetime(2024, 1, 1)" % name)
        if name == "Param":
            return self.make_param(node, env)
        if name == "get" and ("Variable" in path):
            raise Unresolved(node, "Airflow Variables are read when the file is parsed; put "
                                   "the value in params or env")
        if path.startswith("builtins."):
            args = [self.ev(a, env) for a in node.args]
            b = {"str": str, "int": int, "float": float, "bool": bool, "len": len,
                 "range": lambda *a: list(range(*a)), "list": list, "tuple": list,
                 "sorted": sorted, "min": min, "max": max, "abs": abs, "dict": dict}[name]
            try:
                if name == "dict":
                    kw, _ = self.kwargs_of(node, env)
                    return dict(*args, **kw)
                return b(*args)
            except Exception:  # noqa: BLE001
                raise Unresolved(node, "invalid %s() call" % name)
        if name in ("CronTriggerTimetable", "CronDataIntervalTimetable", "DeltaDataIntervalTimetable",
                    "DeltaTriggerTimetable", "MultipleCronTriggerTimetable", "EventsTimetable",
                    "Dataset", "Asset", "AssetAll", "AssetAny", "DatasetAll", "DatasetAny",
                    "ContinuousTimetable", "AssetOrTimeSchedule", "DatasetOrTimeSchedule"):
            kw, _ = self.kwargs_of(node, env, lazy=True)
            args = []
            for a in node.args:
                try:
                    args.append(self.ev(a, env))
                except Unresolved as e:
                    args.append(e)
            return ("timetable", name, args, kw, node)
        if self.is_operator(fn):
            return self.make_task(node, fn, env)
        raise Unresolved(node, "%s() runs code when the file is parsed" % dotted(node.func))

    def is_operator(self, sym):
        n = sym.name
        return n in OPERATORS_MAPPED or n.endswith("Operator") or n.endswith("Sensor") or \
            n.endswith("SensorAsync") or n.endswith("OperatorAsync")

    def aware(self, d, tz, node):
        if d.tzinfo is not None and tz is None:
            off = d.utcoffset()
            if off == _dt.timedelta(0):
                return When(d.replace(tzinfo=None), "UTC")
            return When((d - off).replace(tzinfo=None), "UTC")
        if tz is not None and not isinstance(tz, str):
            if isinstance(tz, Sym) and tz.name in ("utc", "UTC"):
                tz = "UTC"
            else:
                raise Unresolved(node, "time zone is computed")
        return When(d.replace(tzinfo=None), tz)

    def make_datetime(self, node, env, path):
        args = [self.ev(a, env) for a in node.args]
        kw, _ = self.kwargs_of(node, env)
        tz = kw.pop("tz", None) if "tz" in kw else kw.pop("tzinfo", None)
        if isinstance(tz, (Sym,)) and tz.name in ("utc", "UTC"):
            tz = "UTC"
        if isinstance(tz, tuple) and tz and tz[0] == "tz":
            tz = tz[1]
        try:
            d = _dt.datetime(*args, **kw)
        except Exception as e:  # noqa: BLE001
            raise Unresolved(node, "invalid date: %s" % e)
        if tz is None and path.startswith("pendulum"):
            tz = "UTC"  # pendulum.datetime defaults to UTC
        if tz is not None and not isinstance(tz, str):
            raise Unresolved(node, "time zone is computed")
        return When(d, tz)

    def make_param(self, node, env):
        kw, _ = self.kwargs_of(node, env)
        has_default = bool(node.args) or "default" in kw
        default = self.ev(node.args[0], env) if node.args else kw.pop("default", None)
        description = kw.pop("description", None)
        kw.pop("title", None)
        return ParamV(default, has_default, description, sorted(kw))

    def method(self, node, m, env):
        obj, name = m.obj, m.name
        if isinstance(obj, str):
            args = [self.ev(a, env) for a in node.args]
            if name in ("format", "upper", "lower", "strip", "replace", "join", "split",
                        "lstrip", "rstrip"):
                kw, _ = self.kwargs_of(node, env)
                try:
                    return getattr(obj, name)(*args, **kw)
                except Exception:  # noqa: BLE001
                    pass
            raise Unresolved(node, "str.%s() of a computed value" % name)
        if isinstance(obj, (dict, list)):
            args = [self.ev(a, env) for a in node.args]
            if isinstance(obj, dict) and name in ("get", "keys", "values", "items", "copy"):
                r = getattr(obj, name)(*args)
                return [list(x) for x in r] if name == "items" else (
                    list(r) if name in ("keys", "values") else r)
            raise Unresolved(node, "%s() changes a value" % name)
        if isinstance(obj, (FuncRef, Bound)) and name == "override":
            kw, nodes = self.kwargs_of(node, env, lazy=True)
            base = obj.func if isinstance(obj, Bound) else obj
            merged = dict(obj.overrides) if isinstance(obj, Bound) else {}
            merged.update(kw)
            return Bound(base, merged)
        if isinstance(obj, (FuncRef, Bound)) and name in ("expand", "partial", "expand_kwargs"):
            raise Unresolved(node, "dynamic task mapping (.%s) makes tasks at run time; write one "
                                   "task per item" % name)
        if isinstance(obj, TaskRef):
            t = obj.task
            if name in ("set_downstream", "set_upstream"):
                others = self.task_list(self.ev(node.args[0], env), node.args[0],
                                        downstream=(name == "set_downstream"))
                for o in others:
                    if name == "set_downstream":
                        self.edge(t, o)
                    else:
                        self.edge(o, t)
                return None
            if name == "as_setup":
                t.setup = True
                return obj
            if name == "as_teardown":
                t.teardown = True
                kw, _ = self.kwargs_of(node, env)
                for s in self.task_list(kw.get("setups", []), node, downstream=False):
                    s.setup = True
                    self.edge(s, t)
                return obj
            if name == "expand" or name == "partial":
                raise Unresolved(node, "dynamic task mapping makes tasks at run time")
        if isinstance(obj, GroupRef) and name in ("set_downstream", "set_upstream"):
            other = self.ev(node.args[0], env)
            if name == "set_downstream":
                self.link(obj, other, node)
            else:
                self.link(other, obj, node)
            return None
        if isinstance(obj, DagRef) and name == "test":
            return None
        raise Unresolved(node, ".%s() cannot be computed without running the file" % name)

    # ---- DAGs, groups, tasks ---------------------------------------------------------------
    def make_dag(self, node, env, func=None, deco_kwargs=None):
        if func is None:
            kwargs, nodes = self.kwargs_of(node, env, lazy=True)
            if node.args:
                try:
                    kwargs["dag_id"] = self.ev(node.args[0], env)
                except Unresolved as e:
                    kwargs["dag_id"] = e
                nodes["dag_id"] = node.args[0]
        else:
            kwargs, nodes = deco_kwargs
            kwargs = dict(kwargs)
            kwargs.setdefault("dag_id", func.node.name)
            nodes = dict(nodes)
            nodes.setdefault("dag_id", func.node)
        d = DagInfo(node, kwargs, nodes)
        self.dags.append(d)
        return DagRef(d)

    def current_dag(self, kw_dag=None):
        if isinstance(kw_dag, DagRef):
            return kw_dag.dag
        if self.group_stack:
            return self.group_stack[-1].dag
        return self.dag_stack[-1] if self.dag_stack else None

    def make_group(self, node, env):
        kw, _ = self.kwargs_of(node, env, lazy=True)
        gid = self.ev(node.args[0], env) if node.args else kw.get("group_id")
        if not isinstance(gid, str):
            raise Unresolved(node, "the TaskGroup's group_id is computed")
        parent = kw.get("parent_group") if isinstance(kw.get("parent_group"), GroupRef) else None
        parent = parent.group if parent else (self.group_stack[-1] if self.group_stack else None)
        dag = self.current_dag(kw.get("dag"))
        prefix_flag = kw.get("prefix_group_id", True)
        prefix = (parent.prefix if parent else "") + (gid + "." if prefix_flag is not False else "")
        g = Group(gid, parent, prefix, dag)
        da = kw.get("default_args")
        g.default_args = dict(parent.default_args) if parent else {}
        if isinstance(da, dict):
            g.default_args.update(da)
        for k in ("tooltip", "ui_color", "ui_fgcolor", "add_suffix_on_collision", "group_id",
                  "prefix_group_id", "parent_group", "dag", "default_args"):
            kw.pop(k, None)
        for k in kw:
            self.note(node, "TaskGroup argument '%s' is not kept" % k)
        return GroupRef(g)

    def make_task(self, node, sym, env, func=None, overrides=None, command=None):
        if func is None:
            kwargs, nodes = self.kwargs_of(node, env, lazy=True)
            op = sym.name
        else:
            kwargs = dict(func.deco_kwargs[0])
            nodes = dict(func.deco_kwargs[1])
            kwargs.update(overrides or {})
            op = sym
        dag = self.current_dag(kwargs.pop("dag", None))
        if dag is None:
            raise Unresolved(node, "%s outside any DAG (no `with DAG(...)` and no dag=)" % op)
        grp = kwargs.pop("task_group", None)
        group = grp.group if isinstance(grp, GroupRef) else (
            self.group_stack[-1] if self.group_stack else None)
        if func is None:
            tid = kwargs.pop("task_id", None)
        else:
            tid = kwargs.pop("task_id", None)
            if tid is None:
                base = func.node.name
                func.calls += 1
                tid = base if func.calls == 1 else "%s__%d" % (base, func.calls - 1)
        if isinstance(tid, Unresolved) or not isinstance(tid, str):
            raise Unresolved(node, "task_id is computed at run time")
        full = (group.prefix if group else "") + tid
        if group:
            for k, v in group.default_args.items():
                kwargs.setdefault(k, v)
        t = Task(full, op, node, dag, group)
        t.kwargs = kwargs
        t.kw_nodes = nodes
        t.func = func
        t.command = command
        if full in dag.ids:
            self.error(node, "task id '%s' is used twice (first at line %d)"
                       % (full, dag.ids[full].node.lineno))
            return TaskRef(dag.ids[full])
        dag.ids[full] = t
        dag.tasks.append(t)
        g = group
        while g is not None:
            g.tasks.append(t)
            g = g.parent
        return TaskRef(t)

    def call_function(self, node, fn, env):
        func = fn.func if isinstance(fn, Bound) else fn
        overrides = fn.overrides if isinstance(fn, Bound) else {}
        if func.kind == "dag":
            ref = self.make_dag(node, env, func, func.deco_kwargs)
            self.dag_stack.append(ref.dag)
            try:
                self.body(func.node.body, self.bind_args(func, node, env))
            finally:
                self.dag_stack.pop()
            return ref
        if func.kind == "task_group":
            kw, _ = func.deco_kwargs
            gid = overrides.get("group_id", kw.get("group_id", func.node.name))
            dag = self.current_dag()
            parent = self.group_stack[-1] if self.group_stack else None
            g = Group(gid, parent, (parent.prefix if parent else "") + gid + ".", dag)
            g.default_args = dict(parent.default_args) if parent else {}
            if isinstance(kw.get("default_args"), dict):
                g.default_args.update(kw["default_args"])
            self.group_stack.append(g)
            try:
                self.body(func.node.body, self.bind_args(func, node, env))
            finally:
                self.group_stack.pop()
            return GroupRef(g)
        if func.kind == "task.bash":
            command = self.bash_function_command(func, node, env)
            return self.make_task(node, "@task.bash", env, func, overrides, command)
        if func.kind is not None and func.kind.startswith("task"):
            label = "@" + func.kind
            return self.make_task(node, label, env, func, overrides)
        raise Unresolved(node, "%s() runs Python code" % func.node.name)

    def bind_args(self, func, node, env):
        local = {"\0parent": func.env}
        params = [a.arg for a in func.node.args.args]
        defaults = func.node.args.defaults
        for p, dflt in zip(params[len(params) - len(defaults):], defaults):
            try:
                local[p] = self.ev(dflt, env)
            except Unresolved as e:
                local[p] = Lazy(e)
        for p, a in zip(params, node.args):
            try:
                local[p] = self.ev(a, env)
            except Unresolved as e:
                local[p] = Lazy(e)
        for kw in node.keywords:
            if kw.arg:
                try:
                    local[kw.arg] = self.ev(kw.value, env)
                except Unresolved as e:
                    local[kw.arg] = Lazy(e)
        return local

    def bash_function_command(self, func, node, env):
        local = self.bind_args(func, node, env)
        body = [s for s in func.node.body
                if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        try:
            for s in body[:-1]:
                if isinstance(s, ast.Assign) and len(s.targets) == 1:
                    self.bind_target(s.targets[0], self.ev(s.value, local), local)
                else:
                    raise Unresolved(s, "the function runs Python code before returning")
            if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
                raise Unresolved(func.node, "the function does not end with `return \"command\"`")
            v = self.ev(body[-1].value, local)
            if not isinstance(v, str):
                raise Unresolved(body[-1], "the function does not return a string")
            return v
        except Unresolved as e:
            return e

    # ---- dependencies --------------------------------------------------------------------
    def edge(self, up, down):
        if up is down:
            return
        dag = down.dag
        if up.dag is not down.dag:
            self.error(down.node, "dependency between tasks of two DAGs")
            return
        if (up, down) not in dag.edges:
            dag.edges.append((up, down))

    def task_list(self, v, node, downstream):
        """Tasks a value stands for: the roots of a group on the downstream side, its leaves on
        the upstream side (Airflow's TaskGroup >>)."""
        if isinstance(v, TaskRef):
            return [v.task]
        if isinstance(v, GroupRef):
            members = set(v.group.tasks)
            dag = v.group.dag
            if downstream:
                return [t for t in v.group.tasks
                        if not any(u in members and d is t for u, d in dag.edges)]
            return [t for t in v.group.tasks
                    if not any(d in members and u is t for u, d in dag.edges)]
        if isinstance(v, list):
            out = []
            for x in v:
                out.extend(self.task_list(x, node, downstream))
            return out
        raise Unresolved(node, "a dependency on something that is not a task")

    def link(self, left, right, node):
        ups = self.task_list(left, node, downstream=False)
        downs = self.task_list(right, node, downstream=True)
        for u in ups:
            for d in downs:
                self.edge(u, d)

    def dependency(self, node, env):
        left = self.ev(node.left, env)
        right = self.ev(node.right, env)
        if isinstance(node.op, ast.RShift):
            self.link(left, right, node)
        else:
            self.link(right, left, node)
        return right

    def chain(self, node, name, env):
        items = [self.ev(a, env) for a in node.args]
        if name == "cross_downstream":
            self.link(items[0], items[1], node)
            return None
        for a, b in zip(items, items[1:]):
            if isinstance(a, list) and isinstance(b, list) and name == "chain":
                if len(a) != len(b):
                    self.error(node, "chain(): lists of different lengths (%d and %d)"
                               % (len(a), len(b)))
                    continue
                for x, y in zip(a, b):
                    self.link(x, y, node)
            else:
                self.link(a, b, node)
        return None

    # ---- statements ----------------------------------------------------------------------
    def makes_tasks(self, node):
        """Whether a statement we could not evaluate would have made tasks or dependencies."""
        for n in ast.walk(node):
            if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.RShift, ast.LShift)):
                return True
            if isinstance(n, ast.Call):
                name = callee_name(n)
                if name.endswith(("Operator", "Sensor")) or name in (
                        "chain", "set_upstream", "set_downstream", "TaskGroup", "DAG",
                        "cross_downstream"):
                    return True
                try:
                    v = self.lookup(self.module_env, name, n) if isinstance(n.func, ast.Name) else None
                except Unresolved:
                    v = None
                if isinstance(v, FuncRef) and v.kind is not None:
                    return True
        return False

    def unresolved_statement(self, stmt, e):
        if self.makes_tasks(stmt):
            what = "this statement makes tasks or dependencies"
            self.error(e.node if e.node is not None else stmt,
                       "%s but cannot be read without running the file: %s; write it out "
                       "task by task (or with literal values)" % (what, e.why))

    def body(self, stmts, env):
        for s in stmts:
            self.stmt(s, env)

    def stmt(self, s, env):
        try:
            self._stmt(s, env)
        except Unresolved as e:
            self.unresolved_statement(s, e)

    def _stmt(self, s, env):
        if isinstance(s, ast.Import):
            self.airflow3 |= any(a.name.startswith("airflow.sdk") for a in s.names)
            for a in s.names:
                if a.asname:
                    env[a.asname] = Sym(a.name)
                else:
                    env[a.name.split(".")[0]] = Sym(a.name.split(".")[0])
        elif isinstance(s, ast.ImportFrom):
            self.airflow3 |= (s.module or "").startswith("airflow.sdk")
            for a in s.names:
                env[a.asname or a.name] = Sym((s.module or "") + "." + a.name)
        elif isinstance(s, ast.Assign):
            try:
                v = self.ev(s.value, env)
            except Unresolved as e:
                if self.makes_tasks(s.value):
                    raise
                for t in s.targets:
                    self.bind_lazy(t, e, env)
                return
            for t in s.targets:
                try:
                    self.bind_target(t, v, env)
                except Unresolved:
                    pass  # obj.attr = value: not something a DAG's shape depends on
        elif isinstance(s, ast.AnnAssign) and s.value is not None:
            self._stmt(ast.Assign(targets=[s.target], value=s.value, lineno=s.lineno,
                                  col_offset=s.col_offset), env)
        elif isinstance(s, ast.AugAssign):
            if isinstance(s.target, ast.Name):
                self._stmt(ast.Assign(targets=[s.target],
                                      value=ast.BinOp(left=ast.Name(id=s.target.id, ctx=ast.Load(),
                                                                    lineno=s.lineno,
                                                                    col_offset=s.col_offset),
                                                      op=s.op, right=s.value, lineno=s.lineno,
                                                      col_offset=s.col_offset),
                                      lineno=s.lineno, col_offset=s.col_offset), env)
        elif isinstance(s, ast.Expr):
            if isinstance(s.value, ast.Constant):
                return
            self.ev(s.value, env)
        elif isinstance(s, (ast.With, ast.AsyncWith)):
            pushed = []
            try:
                for item in s.items:
                    v = self.ev(item.context_expr, env)
                    if item.optional_vars is not None:
                        self.bind_target(item.optional_vars, v, env)
                    if isinstance(v, DagRef):
                        self.dag_stack.append(v.dag)
                        pushed.append(self.dag_stack)
                    elif isinstance(v, GroupRef):
                        self.group_stack.append(v.group)
                        pushed.append(self.group_stack)
                self.body(s.body, env)
            finally:
                for stack in pushed:
                    stack.pop()
        elif isinstance(s, ast.For):
            items = self.iterate(s.iter, env)
            for item in items:
                self.bind_target(s.target, item, env)
                self.body(s.body, env)
            self.body(s.orelse, env)
        elif isinstance(s, ast.If):
            self.body(s.body if self.ev(s.test, env) else s.orelse, env)
        elif isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)):
            env[s.name] = self.function(s, env)
            if env is self.module_env:
                self.funcs[s.name] = s
        elif isinstance(s, ast.Try):
            self.body(s.body, env)
            self.body(s.finalbody, env)
        elif isinstance(s, (ast.Return, ast.Pass, ast.ClassDef, ast.Global, ast.Nonlocal,
                            ast.Delete, ast.Assert, ast.Raise)):
            if isinstance(s, ast.ClassDef):
                env[s.name] = Lazy(Unresolved(s, "classes defined in the file are not read"))
        elif self.makes_tasks(s):
            raise Unresolved(s, "%s statements are not read" % type(s).__name__)

    def bind_lazy(self, target, e, env):
        if isinstance(target, ast.Name):
            env[target.id] = Lazy(e)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:
                self.bind_lazy(t, e, env)

    def function(self, s, env):
        kind, kwargs, deco_node = None, ({}, {}), None
        for d in s.decorator_list:
            call = d if isinstance(d, ast.Call) else None
            target = d.func if call else d
            try:
                sym = self.ev(target, env)
            except Unresolved:
                continue
            if not isinstance(sym, Sym):
                continue
            path = sym.path
            parts = path.split(".")
            if parts[-1] == "dag" or path.endswith(".DAG"):
                kind = "dag"
            elif parts[-1] == "task_group":
                kind = "task_group"
            elif "task" in parts:
                i = len(parts) - 1 - parts[::-1].index("task")
                rest = parts[i + 1:]
                kind = "task" + ("." + ".".join(rest) if rest else "")
            else:
                continue
            deco_node = d
            if call:
                kwargs = self.kwargs_of(call, env, lazy=True)
                if call.args and kind in ("dag", "task_group"):
                    key = "dag_id" if kind == "dag" else "group_id"
                    try:
                        kwargs[0][key] = self.ev(call.args[0], env)
                    except Unresolved as e:
                        kwargs[0][key] = e
        return FuncRef(s, kind, kwargs, deco_node, env)

    # ---- running it ----------------------------------------------------------------------
    def run(self, tree):
        self.body(tree.body, self.module_env)
