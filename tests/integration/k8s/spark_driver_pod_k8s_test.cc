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
#include <memory>
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
// The submission id of the try under test, and of an earlier life's try with the same DAG, run
// key, task and try number (a redeploy restarted run keys; Spark kept its finished driver).
constexpr char kSubmission[] = "5ab1d7e0c3f24a8b9d6e1f0a2b3c4d5e";
constexpr char kStaleSubmission[] = "0ld0000000000000000000000000cafe";

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
  // `argv` other than `true`: the previous server's spark-submit still runs (adopted).
  json LostHandle(std::vector<std::string> argv = {"true"}) {
    auto ended = std::make_shared<std::promise<void>>();
    executor::SpawnSpec spec;
    spec.argv = argv;
    bool running = argv.front() != "true";
    Result<executor::ProcessHandle> h =
        processes_.Spawn(spec, [ended](const executor::ExitInfo&) { ended->set_value(); });
    EXPECT_TRUE(h.ok()) << h.status();
    if (!h.ok()) return json::object();
    if (!running) ended->get_future().wait();
    json handle = h->ToJson();
    handle["local_dir"] = dir_.File("tmp/try");
    handle["master"] = "k8s://" + cluster().server;
    handle["exit_record"] = log_ + ".exit";
    handle["log_offset"] = 0;
    handle["event_log_dir"] = "";
    handle["app_id_prefix"] = "app";
    handle["driver_pod"] = {
        {"namespace", ns_},
        {"api_server", cluster().server},
        {"driver_container", "spark-kubernetes-driver"},
        {"labels",
         {{"app.kubernetes.io/managed-by", "sparkplane"},
          {"sparkplane.io/dag", "nightly-etl"},
          {"sparkplane.io/run", "42"},
          {"sparkplane.io/task", "aggregate"},
          {"sparkplane.io/try", "1"},
          {"sparkplane.io/submission", kSubmission}}},
        {"annotations",
         {{"sparkplane.io/dag-id", "nightly-etl"}, {"sparkplane.io/task-id", "aggregate"}}}};
    return handle;
  }

  // A driver pod as spark-submit makes it for try `try_number`, once kwok has made it Running.
  void MakeDriverPod(const std::string& name, int try_number = 1,
                     const std::string& submission = kSubmission, bool annotated = true,
                     json containers = nullptr, json finalizers = nullptr) {
    if (containers.is_null()) {
      containers = json::array({{{"name", "spark-kubernetes-driver"},
                                 {"image", "apache/spark:4.0.1"},
                                 {"args", json::array({"driver"})}}});
    }
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
            {"sparkplane.io/submission", submission},
            {"spark-role", "driver"},
            {"spark-app-selector", kAppId},
            {"spark-version", "4.0.1"}}},
          {"annotations",
           {{"sparkplane.io/dag-id", "nightly-etl"}, {"sparkplane.io/task-id", "aggregate"}}}}},
        {"spec", {{"restartPolicy", "Never"}, {"containers", containers}}}};
    if (!annotated) pod["metadata"].erase("annotations");
    if (!finalizers.is_null()) pod["metadata"]["finalizers"] = finalizers;
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

  static json Terminated(const std::string& container, int exit_code) {
    json terminated = {{"exitCode", exit_code},
                       {"reason", exit_code == 0 ? "Completed" : "Error"},
                       {"startedAt", "2026-01-01T00:00:00Z"},
                       {"finishedAt", "2026-01-01T00:05:00Z"}};
    return {{"name", container}, {"image", "apache/spark:4.0.1"},
            {"imageID", ""},     {"ready", false},
            {"restartCount", 0}, {"state", {{"terminated", terminated}}}};
  }

  // What the kubelet reports when the driver container exits with `exit_code`.
  void EndDriverPod(const std::string& name, int exit_code) {
    EndPod(name, exit_code == 0 ? "Succeeded" : "Failed",
           json::array({Terminated("spark-kubernetes-driver", exit_code)}));
  }

  void EndPod(const std::string& name, const std::string& phase, const json& containers,
              const std::string& reason = "", const std::string& message = "") {
    json status = {{"status", {{"phase", phase}, {"containerStatuses", containers}}}};
    if (!reason.empty()) status["status"]["reason"] = reason;
    if (!message.empty()) status["status"]["message"] = message;
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

  // Waits until pod `name` is gone (kwok finishes a deletion).
  void AwaitGone(const std::string& name) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (Kube(cluster(), "GET", "/api/v1/namespaces/" + ns_ + "/pods/" + name).status != 404) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "pod " << name << " is still there";
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  bool Terminating(const std::string& name) {
    KubeResponse r = Kube(cluster(), "GET", "/api/v1/namespaces/" + ns_ + "/pods/" + name);
    json body = r.Json();
    return r.status == 200 && body.is_object() && body["metadata"].contains("deletionTimestamp");
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

TEST_F(SparkDriverPodK8sTest, OnlyThePodOfTheTrysSubmissionIsFollowedAndDeleted) {
  // An earlier life of the same DAG, run key, task and try (run keys restart with a new
  // database; Spark keeps finished drivers): it succeeded, and must not end this try.
  ASSERT_NO_FATAL_FAILURE(MakeDriverPod("aggregate-0ld0-driver", 1, kStaleSubmission));
  ASSERT_NO_FATAL_FAILURE(EndDriverPod("aggregate-0ld0-driver", 0));
  // The try's labels but none of its annotations: not made by spark-submit for this try.
  ASSERT_NO_FATAL_FAILURE(
      MakeDriverPod("aggregate-bare-driver", 1, kSubmission, /*annotated=*/false));
  ASSERT_NO_FATAL_FAILURE(MakeDriverPod("aggregate-7f3a-driver"));
  auto ctx = Context();
  json handle = LostHandle();
  type_.Recover(ctx, handle);
  ASSERT_NO_FATAL_FAILURE(AwaitLog("watching driver pod aggregate-7f3a-driver"));
  EXPECT_EQ(ctx->complete_calls(), 0) << "the stale driver's success ended the try";

  type_.Cancel(ctx, handle, Millis(2000));
  std::optional<TaskResult> r = ctx->WaitForResult(std::chrono::seconds(60));
  ASSERT_TRUE(r.has_value()) << ReadFile(log_);
  EXPECT_FALSE(r->success);
  EXPECT_THAT(r->message, HasSubstr("cancelled; driver pod aggregate-7f3a-driver was deleted"));
  ASSERT_NO_FATAL_FAILURE(AwaitGone("aggregate-7f3a-driver"));
  EXPECT_EQ(Phase("aggregate-0ld0-driver"), "Succeeded") << "another submission's pod was touched";
  EXPECT_EQ(Phase("aggregate-bare-driver"), "Running") << "a pod without annotations was touched";
  EXPECT_THAT(ReadFile(log_), Not(HasSubstr("deleted driver pod aggregate-0ld0-driver")));
}

TEST_F(SparkDriverPodK8sTest, ADriverInAnotherClusterIsNotFollowed) {
  ASSERT_NO_FATAL_FAILURE(MakeDriverPod("aggregate-7f3a-driver"));
  auto ctx = Context();
  json handle = LostHandle();
  // The try ran against another API server than this server's kubeconfig names.
  handle["driver_pod"]["api_server"] = "https://10.255.0.1:6443";
  type_.Recover(ctx, handle);
  std::optional<TaskResult> r = ctx->WaitForResult(std::chrono::seconds(60));
  ASSERT_TRUE(r.has_value()) << ReadFile(log_);
  EXPECT_FALSE(r->success);
  EXPECT_TRUE(r->retryable);
  EXPECT_THAT(r->message, AllOf(HasSubstr("lost on restart"),
                                HasSubstr("the cluster of https://10.255.0.1:6443"),
                                HasSubstr(cluster().server)));
  EXPECT_THAT(ReadFile(log_), Not(HasSubstr("watching driver pod")));
  EXPECT_EQ(Phase("aggregate-7f3a-driver"), "Running");
}

TEST_F(SparkDriverPodK8sTest, TheSameServerWrittenOtherwiseIsFollowed) {
  ASSERT_NO_FATAL_FAILURE(MakeDriverPod("aggregate-7f3a-driver"));
  ASSERT_NO_FATAL_FAILURE(EndDriverPod("aggregate-7f3a-driver", 0));
  auto ctx = Context();
  json handle = LostHandle();
  // As the k8s:// master may say it: upper-case scheme, a trailing slash.
  std::string server = cluster().server;
  handle["driver_pod"]["api_server"] = "k8s://HTTPS" + server.substr(server.find("://")) + "/";
  type_.Recover(ctx, handle);
  std::optional<TaskResult> r = ctx->WaitForResult(std::chrono::seconds(60));
  ASSERT_TRUE(r.has_value()) << ReadFile(log_);
  EXPECT_TRUE(r->success) << r->message;
}

TEST_F(SparkDriverPodK8sTest, ACancelThatCannotDeleteThePodFailsTheTryForGood) {
  ASSERT_NO_FATAL_FAILURE(MakeDriverPod("aggregate-7f3a-driver"));
  auto ctx = Context();
  json handle = LostHandle();
  type_.Recover(ctx, handle);
  ASSERT_NO_FATAL_FAILURE(AwaitLog("watching driver pod aggregate-7f3a-driver"));
  // The API cannot be reached any more (the watch is already open): the delete fails.
  services_.config.kubeconfig = dir_.File("no-such-kubeconfig");
  type_.Cancel(ctx, handle, Millis(2000));
  std::optional<TaskResult> r = ctx->WaitForResult(std::chrono::seconds(60));
  ASSERT_TRUE(r.has_value()) << ReadFile(log_);
  EXPECT_FALSE(r->success);
  EXPECT_FALSE(r->retryable) << "a retry would run a second driver beside " << r->message;
  EXPECT_THAT(r->message, AllOf(HasSubstr("cancelled"), HasSubstr("could not be deleted"),
                                HasSubstr("sparkplane.io/submission=" + std::string(kSubmission)),
                                HasSubstr("namespace " + ns_)));
  EXPECT_THAT(ReadFile(log_), HasSubstr("(attempt 5 of 5)"));
  EXPECT_EQ(Phase("aggregate-7f3a-driver"), "Running");
  EXPECT_EQ(ctx->complete_calls(), 1);
}

TEST_F(SparkDriverPodK8sTest, ADriverThatSucceedsWhileCancelledDoesNotSucceedTheTry) {
  // A finalizer holds the pod while it terminates, as a driver's grace would: it exits 0 on
  // SIGTERM meanwhile.
  ASSERT_NO_FATAL_FAILURE(MakeDriverPod("aggregate-7f3a-driver", 1, kSubmission, true, nullptr,
                                        json::array({"sparkplane.io/test-hold"})));
  auto ctx = Context();
  json handle = LostHandle();
  type_.Recover(ctx, handle);
  ASSERT_NO_FATAL_FAILURE(AwaitLog("watching driver pod aggregate-7f3a-driver"));
  type_.Cancel(ctx, handle, Millis(30000));
  ASSERT_NO_FATAL_FAILURE(AwaitLog("deleted driver pod aggregate-7f3a-driver"));
  ASSERT_TRUE(Terminating("aggregate-7f3a-driver"));
  ASSERT_NO_FATAL_FAILURE(EndDriverPod("aggregate-7f3a-driver", 0));
  std::optional<TaskResult> r = ctx->WaitForResult(std::chrono::seconds(60));
  // Let the pod go.
  KubeResponse released =
      Kube(cluster(), "PATCH", "/api/v1/namespaces/" + ns_ + "/pods/aggregate-7f3a-driver",
           R"({"metadata":{"finalizers":null}})", "application/merge-patch+json");
  EXPECT_EQ(released.status, 200) << released.body;
  ASSERT_TRUE(r.has_value()) << ReadFile(log_);
  EXPECT_FALSE(r->success) << "a cancelled try succeeded: " << r->message;
  EXPECT_THAT(r->message, AllOf(HasSubstr("cancelled"), HasSubstr("aggregate-7f3a-driver")));
}

TEST_F(SparkDriverPodK8sTest, TheNamedDriverContainerGivesTheExitAndThePodReasonIsKept) {
  // A pod template's driver container "driver" beside a sidecar that ended first.
  json containers = json::array(
      {{{"name", "log-shipper"}, {"image", "busybox"}},
       {{"name", "driver"}, {"image", "apache/spark:4.0.1"}, {"args", json::array({"driver"})}}});
  ASSERT_NO_FATAL_FAILURE(MakeDriverPod("aggregate-7f3a-driver", 1, kSubmission, true, containers));
  ASSERT_NO_FATAL_FAILURE(
      EndPod("aggregate-7f3a-driver", "Failed",
             json::array({Terminated("log-shipper", 137), Terminated("driver", 3)}), "Evicted",
             "The node was low on resource: memory."));
  auto ctx = Context();
  json handle = LostHandle();
  handle["driver_pod"]["driver_container"] = "driver";
  type_.Recover(ctx, handle);
  std::optional<TaskResult> r = ctx->WaitForResult(std::chrono::seconds(60));
  ASSERT_TRUE(r.has_value()) << ReadFile(log_);
  EXPECT_FALSE(r->success);
  EXPECT_EQ(r->exit_code, 3) << r->message;
  EXPECT_THAT(r->message, AllOf(HasSubstr("exit code 3 (Error)"), HasSubstr("Evicted"),
                                HasSubstr("The node was low on resource: memory.")));
}

TEST_F(SparkDriverPodK8sTest, AnAdoptedTryCancelledAsForeignDoesNotFollowItsPod) {
  ASSERT_NO_FATAL_FAILURE(MakeDriverPod("aggregate-7f3a-driver"));
  auto ctx = Context();
  // The previous server's spark-submit still runs: Recover adopts it.
  json handle = LostHandle({"sleep", "600"});
  type_.Recover(ctx, handle);
  ASSERT_NO_FATAL_FAILURE(AwaitLog("watching it"));
  type_.Cancel(ctx, handle, Millis(2000));
  std::optional<TaskResult> r = ctx->WaitForResult(std::chrono::seconds(60));
  ASSERT_TRUE(r.has_value()) << ReadFile(log_);
  EXPECT_FALSE(r->success);
  EXPECT_THAT(r->message, AllOf(HasSubstr("cancelled; spark-submit"),
                                HasSubstr("driver pod aggregate-7f3a-driver was deleted")));
  ASSERT_NO_FATAL_FAILURE(AwaitLog("ended after a cancel; the cancel completes the try"));
  EXPECT_THAT(ReadFile(log_), Not(HasSubstr("looking for the driver pod")));
  EXPECT_EQ(ctx->complete_calls(), 1);
}

}  // namespace
}  // namespace sp::operators
