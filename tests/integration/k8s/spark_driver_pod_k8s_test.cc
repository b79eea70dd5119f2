// A native cluster-mode spark_submit try (k8s:// master, deploy_mode cluster) whose spark-submit
// died with the scheduler's pod while its driver pod kept running: SparkSubmitTaskType::Recover
// finds the driver pod by the try's labels and takes its outcome, against a real control plane
// (k8s_testenv.h).
//
// kwok plays the kubelet and runs no container, so each test makes the driver pod the way
// spark-submit would (its labels and annotations, Spark's spark-role and spark-app-selector
// labels, the spark-kubernetes-driver container), lets kwok mark it Running, and then moves it
// on as a kubelet would: through the status subresource, to Succeeded, or to Failed with the
// driver container's terminated exit code. The handle is what Launch saves, its spark-submit a
// process that has ended without leaving an exit record.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "executor/process.h"
#include "integration/k8s/k8s_testenv.h"
#include "k8s/resource.h"
#include "operators/recording_task_context.h"
#include "operators/spark_submit_task.h"

namespace sp::operators {
namespace {

using nlohmann::json;
using sp::testing::Kube;
using sp::testing::KubeResponse;
using ::testing::AllOf;
using testing::ContextIdentity;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ReadFile;
using testing::RecordingTaskContext;
using testing::ScratchDir;

constexpr char kAppId[] = "spark-5f1c0ffee0d54b6a8c1d2e3f4a5b6c7d";

class SparkDriverPodK8sTest : public sp::testing::K8sTest {
 protected:
  void SetUp() override {
    sp::testing::K8sTest::SetUp();
    ns_ = Namespace();
    services_.clock = &clock_;
    services_.processes = &processes_;
    services_.config.data_dir = dir_.path();
    services_.config.kubeconfig = cluster().kubeconfig;
    services_.config.kube_namespace = ns_;
  }

  ContextIdentity Identity(int try_number = 1) {
    ContextIdentity id;
    id.dag_id = "nightly-etl";
    id.run_key = 42;
    id.task_id = "aggregate";
    id.try_number = try_number;
    id.type = "spark_submit";
    return id;
  }

  std::shared_ptr<RecordingTaskContext> Context() {
    return std::make_shared<RecordingTaskContext>(
        &services_,
        json{{"master", "k8s://" + cluster().server},
             {"application", "local:///opt/spark/examples/jars/spark-examples.jar"}},
        log_, Identity());
  }

  // What Launch saved for try 1, its spark-submit gone (a process that ended) and no exit
  // record written: the scheduler's pod restarted.
  json LostHandle() {
    std::promise<void> ended;
    executor::SpawnSpec spec;
    spec.argv = {"true"};
    Result<executor::ProcessHandle> h =
        processes_.Spawn(spec, [&ended](const executor::ExitInfo&) { ended.set_value(); });
    EXPECT_TRUE(h.ok()) << h.status();
    if (!h.ok()) return json::object();
    ended.get_future().wait();
    json handle = h->ToJson();
    handle["local_dir"] = dir_.File("tmp/try");
    handle["master"] = "k8s://" + cluster().server;
    handle["exit_record"] = log_ + ".exit";
    handle["log_offset"] = 0;
    handle["event_log_dir"] = "";
    handle["app_id_prefix"] = "app";
    handle["driver_pod"] = {
        {"namespace", ns_},
        {"labels",
         {{"app.kubernetes.io/managed-by", "sparkplane"},
          {"sparkplane.io/dag", "nightly-etl"},
          {"sparkplane.io/run", "42"},
          {"sparkplane.io/task", "aggregate"},
          {"sparkplane.io/try", "1"}}},
        {"annotations",
         {{"sparkplane.io/dag-id", "nightly-etl"}, {"sparkplane.io/task-id", "aggregate"}}}};
    return handle;
  }

  // A driver pod as spark-submit makes it for try `try_number`, once kwok has made it Running.
  void MakeDriverPod(const std::string& name, int try_number = 1) {
    json pod = {
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata",
         {{"name", name},
          {"labels",
           {{"app.kubernetes.io/managed-by", "sparkplane"},
            {"sparkplane.io/dag", "nightly-etl"},
            {"sparkplane.io/run", "42"},
            {"sparkplane.io/task", "aggregate"},
            {"sparkplane.io/try", std::to_string(try_number)},
            {"spark-role", "driver"},
            {"spark-app-selector", kAppId},
            {"spark-version", "4.0.1"}}},
          {"annotations",
           {{"sparkplane.io/dag-id", "nightly-etl"}, {"sparkplane.io/task-id", "aggregate"}}}}},
        {"spec",
         {{"restartPolicy", "Never"},
          {"containers", json::array({{{"name", "spark-kubernetes-driver"},
                                       {"image", "apache/spark:4.0.1"},
                                       {"args", json::array({"driver"})}}})}}}};
    KubeResponse made = Kube(cluster(), "POST", "/api/v1/namespaces/" + ns_ + "/pods", pod.dump());
    ASSERT_EQ(made.status, 201) << made.body;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (Phase(name) != "Running") {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << "kwok did not make pod " << name << " Running in 60 s";
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  std::string Phase(const std::string& name) {
    KubeResponse r = Kube(cluster(), "GET", "/api/v1/namespaces/" + ns_ + "/pods/" + name);
    json body = r.Json();
    if (r.status != 200 || !body.is_object() || !body["status"].is_object()) return "";
    return body["status"].value("phase", "");
  }

  // What the kubelet reports when the driver container exits with `exit_code`.
  void EndDriverPod(const std::string& name, int exit_code) {
    json terminated = {{"exitCode", exit_code},
                       {"reason", exit_code == 0 ? "Completed" : "Error"},
                       {"startedAt", "2026-01-01T00:00:00Z"},
                       {"finishedAt", "2026-01-01T00:05:00Z"}};
    json status = {
        {"status",
         {{"phase", exit_code == 0 ? "Succeeded" : "Failed"},
          {"containerStatuses", json::array({{{"name", "spark-kubernetes-driver"},
                                              {"image", "apache/spark:4.0.1"},
                                              {"imageID", ""},
                                              {"ready", false},
                                              {"restartCount", 0},
                                              {"state", {{"terminated", terminated}}}}})}}}};
    KubeResponse r =
        Kube(cluster(), "PATCH", "/api/v1/namespaces/" + ns_ + "/pods/" + name + "/status",
             status.dump(), "application/merge-patch+json");
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // Waits until the try's log has `text` (the recovery's own lines say what it does).
  void AwaitLog(const std::string& text) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (ReadFile(log_).find(text) == std::string::npos) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << "no \"" << text << "\" in the try's log within 60 s:\n"
          << ReadFile(log_);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  std::string ns_;
  ScratchDir dir_;
  std::string log_ = dir_.File("logs/aggregate/1.log");
  RealClock clock_;
  executor::ProcessSupervisor processes_;
  Services services_;
  SparkSubmitTaskType type_{&services_};
};

TEST_F(SparkDriverPodK8sTest, ARunningDriverIsWatchedUntilItSucceeds) {
  ASSERT_NO_FATAL_FAILURE(MakeDriverPod("aggregate-7f3a-driver"));
  // The same task's next try has a driver too: it is not this try's.
  ASSERT_NO_FATAL_FAILURE(MakeDriverPod("aggregate-9b1c-driver", /*try_number=*/2));
  auto ctx = Context();
  type_.Recover(ctx, LostHandle());
  ASSERT_NO_FATAL_FAILURE(AwaitLog(
      "spark-submit was gone after the restart; watching driver pod aggregate-7f3a-driver"));
  EXPECT_EQ(ctx->complete_calls(), 0) << "the try ended while its driver still ran";

  ASSERT_NO_FATAL_FAILURE(EndDriverPod("aggregate-7f3a-driver", 0));
  std::optional<TaskResult> r = ctx->WaitForResult(std::chrono::seconds(60));
  ASSERT_TRUE(r.has_value()) << ReadFile(log_);
  EXPECT_TRUE(r->success) << r->message;
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->outputs.value("app_id", ""), kAppId);
  EXPECT_EQ(r->outputs.value("driver_pod", ""), "aggregate-7f3a-driver");
  EXPECT_THAT(ReadFile(log_), HasSubstr("driver pod aggregate-7f3a-driver ended: Succeeded"));
  EXPECT_EQ(Phase("aggregate-9b1c-driver"), "Running");
}

TEST_F(SparkDriverPodK8sTest, ADriverThatFailedMeanwhileFailsTheTryWithItsExitCode) {
  ASSERT_NO_FATAL_FAILURE(MakeDriverPod("aggregate-7f3a-driver"));
  ASSERT_NO_FATAL_FAILURE(EndDriverPod("aggregate-7f3a-driver", 3));
  auto ctx = Context();
  type_.Recover(ctx, LostHandle());
  std::optional<TaskResult> r = ctx->WaitForResult(std::chrono::seconds(60));
  ASSERT_TRUE(r.has_value()) << ReadFile(log_);
  EXPECT_FALSE(r->success);
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_TRUE(r->retryable) << "a failed application is retried per the task's retries";
  EXPECT_EQ(r->outputs.value("exit_code", -1), 3);
  EXPECT_EQ(r->outputs.value("app_id", ""), kAppId);
  EXPECT_THAT(r->message, AllOf(HasSubstr("driver pod aggregate-7f3a-driver failed with exit code "
                                          "3 (Error)"),
                                HasSubstr(kAppId)));
  EXPECT_THAT(ReadFile(log_),
              AllOf(HasSubstr("driver pod aggregate-7f3a-driver had already ended"),
                    HasSubstr("driver pod aggregate-7f3a-driver ended: Failed (exit code 3, "
                              "Error)")));
}

TEST_F(SparkDriverPodK8sTest, NoDriverPodFailsTheTryRetryably) {
  // Another try's driver does not count.
  ASSERT_NO_FATAL_FAILURE(MakeDriverPod("aggregate-9b1c-driver", /*try_number=*/2));
  auto ctx = Context();
  type_.Recover(ctx, LostHandle());
  std::optional<TaskResult> r = ctx->WaitForResult(std::chrono::seconds(60));
  ASSERT_TRUE(r.has_value()) << ReadFile(log_);
  EXPECT_FALSE(r->success);
  EXPECT_TRUE(r->retryable);
  EXPECT_THAT(r->message, AllOf(HasSubstr("lost on restart"),
                                HasSubstr("no driver pod of this try exists in namespace " + ns_)));
}

TEST_F(SparkDriverPodK8sTest, CancellingARecoveredTryDeletesItsDriverPod) {
  ASSERT_NO_FATAL_FAILURE(MakeDriverPod("aggregate-7f3a-driver"));
  ASSERT_NO_FATAL_FAILURE(MakeDriverPod("aggregate-9b1c-driver", /*try_number=*/2));
  auto ctx = Context();
  json handle = LostHandle();
  type_.Recover(ctx, handle);
  ASSERT_NO_FATAL_FAILURE(AwaitLog("watching driver pod aggregate-7f3a-driver"));

  type_.Cancel(ctx, handle, Millis(2000));
  std::optional<TaskResult> r = ctx->WaitForResult(std::chrono::seconds(60));
  ASSERT_TRUE(r.has_value()) << ReadFile(log_);
  EXPECT_FALSE(r->success);
  EXPECT_THAT(r->message, HasSubstr("cancel"));
  EXPECT_THAT(ReadFile(log_), HasSubstr("deleted driver pod aggregate-7f3a-driver"));
  // The try ends once its pod is going; kwok finishes the deletion.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (
      Kube(cluster(), "GET", "/api/v1/namespaces/" + ns_ + "/pods/aggregate-7f3a-driver").status !=
      404) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the driver pod is still there";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(Phase("aggregate-9b1c-driver"), "Running") << "another try's driver was touched";
}

}  // namespace
}  // namespace sp::operators
