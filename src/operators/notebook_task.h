// NotebookTaskType ("notebook"): executes a Jupyter notebook (.ipynb) top to bottom with
// nbclient, its Spark cells running on the run's cluster through a Spark Connect server the try
// starts for itself, and saves the executed notebook next to the try's log.
//
// YAML fields (strings may be templates; values are checked again after rendering):
//   notebook      required: the .ipynb; a relative path is resolved against <data>/apps
//   master        required: the cluster, spark://HOST:PORT (typically
//                 "{{ tasks.create_cluster.outputs.master_url }}")
//   parameters    mapping of names (Python identifiers) to values: a code cell assigning them
//                 is inserted after the cell tagged `parameters` (papermill's convention; at the
//                 top when no cell has the tag). Values that read as JSON (5000, true, 1.5, a
//                 rendered {{ params.x }}) keep their type; anything else is a string.
//   cell_timeout  duration a single cell may run (default: no limit; the task's
//                 execution_timeout bounds the whole try)
//   kernel        kernel name (default python3, the Python of RuntimeConfig::python)
//
// A try is one process tree run exactly like a bash try (BashTaskType: gated, with an exit
// record, in its own process group; recovery after a restart and cancellation are the bash
// type's): RuntimeConfig::python runs a small embedded runner that starts the Connect server
// (spark-submit of SparkConnectServer against `master`, on 127.0.0.1 with a free port and a
// random token passed in the environment; its own java.io.tmpdir and spark.local.dir, removed
// at the end), waits for its port, executes the notebook with SPARK_REMOTE=sc://localhost:PORT
// and the token in the kernel's environment, writes the executed notebook to
// <log without .log>.ipynb (also when a cell fails), shuts the kernel down, then stops Connect.
// The Connect server's own output goes to <log without .log>.connect.log.
//
// Result: success iff every cell ran; the first failing cell stops the notebook and fails the
// try, its error (the cell's number, source head, exception and traceback) in the log. Outputs:
// `output_notebook` (the executed notebook's path).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "operators/bash_task.h"
#include "operators/task_type.h"

namespace sp::operators {

class NotebookTaskType : public TaskType {
 public:
  // `services` must outlive the type and every try it starts.
  explicit NotebookTaskType(const Services* services) : services_(services), bash_(services) {}

  std::string Name() const override { return "notebook"; }
  std::vector<std::string> FieldNames() const override;
  void Validate(const dag::TaskSpec& spec, std::vector<dag::DagError>* errors) const override;

  void Start(std::shared_ptr<TaskContext> ctx) override;
  void Cancel(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle,
              Millis grace) override;
  void Recover(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle) override;

 private:
  const Services* services_;
  BashTaskType bash_;  // runs the runner process
};

// The executed notebook's path for a try's log path (x/1.log -> x/1.ipynb).
std::string ExecutedNotebookPath(const std::string& log_path);

}  // namespace sp::operators
