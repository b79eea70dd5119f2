"""Reads an Airflow DAG file statically and prints the Sparkplane DAG it means, as JSON.

Embedded in the sparkplane binary with its sibling modules and run by
airflow_import/airflow_import.cc as `python -I -S -c <loader> N NAME SOURCE... FILE OPTIONS_JSON`:
the loader makes the N embedded modules importable, takes them off sys.argv and calls main().
The file is only parsed (ast.parse); nothing in it is imported, executed or evaluated: values are
computed by airflow_reader's small evaluator, and everything else is reported with its line.

airflow_reader reads the file, airflow_mapper maps what it read to Sparkplane, this module runs
them; the C++ side writes the YAML, loads it with Sparkplane's own loader and prints the report.
Output: one line `::sparkplane-import-result {json}` on stdout, where json is
  {"dag": {...the Sparkplane DAG, keys in YAML order...},
   "tasks": [{"id", "line", "what", "comments": [...]}],   # parallel to dag.tasks
   "problems": [{"line", "column", "severity": "error"|"note", "message"}],
   "dag_ids": [...every DAG the file defines...]}
or {"fatal": {"line", "column", "message"}, "dag_ids": [...]}.
"""

import ast
import json
import sys

from airflow_mapper import Mapper
from airflow_reader import Importer

MARKER = "::sparkplane-import-result "


def main():
    path = sys.argv[1]
    options = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}

    def emit(obj):
        sys.stdout.write(MARKER + json.dumps(obj) + "\n")

    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as e:
        emit({"fatal": {"line": 0, "column": 0, "message": "cannot read: %s" % e.strerror},
              "dag_ids": []})
        return
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as e:
        emit({"fatal": {"line": e.lineno or 0, "column": e.offset or 0,
                        "message": "Python syntax error: %s" % e.msg}, "dag_ids": []})
        return
    except ValueError as e:
        emit({"fatal": {"line": 0, "column": 0, "message": str(e)}, "dag_ids": []})
        return
    imp = Importer(path, source, options)
    imp.run(tree)
    ids = []
    for d in imp.dags:
        v = d.kwargs.get("dag_id")
        ids.append(v if isinstance(v, str) else "<computed>")
    want = options.get("dag_id") or ""
    if not imp.dags:
        emit({"fatal": {"line": 0, "column": 0,
                        "message": "no DAG found (no DAG(...), `with DAG(...)` or called @dag "
                                   "function that can be read without running the file)"},
              "dag_ids": ids, "problems": imp.problems})
        return
    if want:
        chosen = [d for d, i in zip(imp.dags, ids) if i == want]
        if not chosen:
            emit({"fatal": {"line": 0, "column": 0, "message": "no DAG '%s' in the file (it "
                            "defines %s)" % (want, ", ".join(ids))}, "dag_ids": ids})
            return
        dag = chosen[0]
    elif len(imp.dags) > 1:
        emit({"fatal": {"line": imp.dags[1].node.lineno, "column": 0,
                        "message": "the file defines %d DAGs (%s); choose one with --dag-id"
                                   % (len(ids), ", ".join(ids))}, "dag_ids": ids})
        return
    else:
        dag = imp.dags[0]
    # Problems found while reading belong to this DAG unless they point into another's lines.
    m = Mapper(imp, dag)
    out = m.map_dag()
    emit({"dag": out, "tasks": [s for _, s in m.out_tasks], "problems": imp.problems,
          "dag_ids": ids})


if __name__ == "__main__":
    main()
