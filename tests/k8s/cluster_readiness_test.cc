// Readiness of a Spark cluster's Deployments from watch events (relists included) and the
// explanations of pods that are not ready, from pod and event bodies shaped as kube-apiserver
// v1.37 serves them (PodScheduled=False/Unschedulable, ImagePullBackOff, CrashLoopBackOff,
// failing readiness probes, FailedScheduling events).
#include "k8s/cluster_readiness.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sp::k8s {
namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

json Deployment(const std::string& name, int replicas, int available, int generation = 1,
                int observed = 1, int current = -1, int updated = -1) {
  return {{"metadata", {{"name", name}, {"generation", generation}}},
          {"spec", {{"replicas", replicas}}},
          {"status",
           {{"observedGeneration", observed},
            {"replicas", current < 0 ? replicas : current},
            {"updatedReplicas", updated < 0 ? replicas : updated},
            {"availableReplicas", available}}}};
}

WatchEvent Event(WatchEventType type, json object) {
  WatchEvent e;
  e.type = type;
  e.object = std::move(object);
  return e;
}

WatchEvent Relisted(std::vector<json> items) {
  WatchEvent e;
  e.type = WatchEventType::kRelisted;
  e.items = std::move(items);
  return e;
}

TEST(DeploymentRolloutTest, RolledOutMeansEveryReplicaOfTheCurrentSpecIsAvailable) {
  EXPECT_TRUE(DeploymentRolledOut(Deployment("w", 2, 2)));
  EXPECT_FALSE(DeploymentRolledOut(Deployment("w", 2, 1)));
  EXPECT_FALSE(DeploymentRolledOut(Deployment("w", 2, 2, /*generation=*/2, /*observed=*/1)));
  // Scaled down from 3 to 1: one pod still terminating.
  EXPECT_FALSE(DeploymentRolledOut(Deployment("w", 1, 1, 2, 2, /*current=*/2, /*updated=*/1)));
  json zero = {{"metadata", {{"name", "w"}, {"generation", 3}}},
               {"spec", {{"replicas", 0}}},
               {"status", {{"observedGeneration", 3}}}};
  EXPECT_TRUE(DeploymentRolledOut(zero));
  EXPECT_EQ(DeploymentProgress(Deployment("w", 1, 1, 2, 2, 2, 1)), "1/1 available, 1 old pod left");
  EXPECT_EQ(DeploymentProgress(Deployment("w", 2, 0, 2, 1)),
            "0/2 available, spec not yet seen by the controller");
}

TEST(DeploymentRolloutTest, FollowsEventsUntilBothAreReady) {
  DeploymentRollout r({"m", "w"});
  r.Apply(Relisted({Deployment("m", 1, 0)}));
  EXPECT_FALSE(r.Done());
  EXPECT_EQ(r.Summary(), "m 0/1 available, w not created");
  r.Apply(Event(WatchEventType::kAdded, Deployment("w", 2, 0)));
  r.Apply(Event(WatchEventType::kModified, Deployment("m", 1, 1)));
  r.Apply(Event(WatchEventType::kModified, Deployment("w", 2, 1)));
  EXPECT_FALSE(r.Done());
  r.Apply(Event(WatchEventType::kBookmark, json::object()));
  r.Apply(Event(WatchEventType::kModified, Deployment("w", 2, 2)));
  EXPECT_TRUE(r.Done());
  EXPECT_EQ(r.deleted(), "");
}

TEST(DeploymentRolloutTest, ARelistAfterAReconnectReplacesWhatWasKnown) {
  DeploymentRollout r({"m", "w"});
  r.Apply(Relisted({Deployment("m", 1, 1), Deployment("w", 2, 0)}));
  EXPECT_FALSE(r.Done());
  // The events in between were missed (410 Gone); the relist says where things are now.
  r.Apply(Relisted({Deployment("m", 1, 1), Deployment("w", 2, 2)}));
  EXPECT_TRUE(r.Done());
}

TEST(DeploymentRolloutTest, ADeletedDeploymentIsReported) {
  DeploymentRollout r({"m", "w"});
  r.Apply(Relisted({Deployment("m", 1, 1), Deployment("w", 2, 0)}));
  r.Apply(Event(WatchEventType::kDeleted, Deployment("w", 2, 0)));
  EXPECT_EQ(r.deleted(), "w");
  DeploymentRollout gone_in_relist({"m", "w"});
  gone_in_relist.Apply(Relisted({Deployment("m", 1, 1), Deployment("w", 2, 0)}));
  gone_in_relist.Apply(Relisted({Deployment("m", 1, 1)}));
  EXPECT_EQ(gone_in_relist.deleted(), "w");
}

json Pod(const std::string& name, const std::string& component, json status) {
  return {{"metadata", {{"name", name}, {"labels", {{"app.kubernetes.io/component", component}}}}},
          {"status", std::move(status)}};
}

json Unschedulable(const std::string& name) {
  return Pod(name, "worker",
             {{"phase", "Pending"},
              {"conditions",
               json::array({{{"type", "PodScheduled"},
                             {"status", "False"},
                             {"reason", "Unschedulable"},
                             {"message",
                              "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 "
                              "nodes are available: 3 No preemption victims found for incoming "
                              "pod."}}})}});
}

TEST(ExplainNotReadyTest, UnschedulablePodsAreGroupedWithTheSchedulersMessage) {
  std::string why = ExplainNotReady({Unschedulable("w-1"), Unschedulable("w-2")}, {}, "x-");
  EXPECT_EQ(why,
            "worker pods w-1, w-2: not scheduled (Unschedulable): 0/3 nodes are available: 3 "
            "Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims "
            "found for incoming pod.");
}

TEST(ExplainNotReadyTest, ContainerStatesAndProbes) {
  json pull =
      Pod("m-1", "master",
          {{"phase", "Pending"},
           {"conditions", json::array({{{"type", "PodScheduled"}, {"status", "True"}},
                                       {{"type", "Ready"}, {"status", "False"}}})},
           {"containerStatuses",
            json::array({{{"name", "spark-master"},
                          {"ready", false},
                          {"state",
                           {{"waiting",
                             {{"reason", "ImagePullBackOff"},
                              {"message", "Back-off pulling image \"apache/spark:nope\""}}}}}}})}});
  json crash = Pod(
      "w-1", "worker",
      {{"phase", "Running"},
       {"containerStatuses",
        json::array({{{"name", "spark-worker"},
                      {"ready", false},
                      {"state", {{"waiting", {{"reason", "CrashLoopBackOff"}}}}},
                      {"lastState", {{"terminated", {{"exitCode", 1}, {"reason", "Error"}}}}}}})}});
  json probe =
      Pod("w-2", "worker",
          {{"phase", "Running"},
           {"conditions", json::array({{{"type", "Ready"}, {"status", "False"}}})},
           {"containerStatuses",
            json::array({{{"name", "spark-worker"},
                          {"ready", false},
                          {"state", {{"running", {{"startedAt", "2026-01-01T00:00:00Z"}}}}}}})}});
  json ready = Pod("w-3", "worker",
                   {{"phase", "Running"},
                    {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}});
  json terminating = Unschedulable("w-4");
  terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  std::string why = ExplainNotReady({pull, crash, probe, ready, terminating}, {}, "x-");
  EXPECT_THAT(why, HasSubstr("master pod m-1: container spark-master waiting (ImagePullBackOff): "
                             "Back-off pulling image \"apache/spark:nope\""));
  EXPECT_THAT(why, HasSubstr("worker pod w-1: container spark-worker waiting "
                             "(CrashLoopBackOff); last exit code 1 (Error)"));
  EXPECT_THAT(why, HasSubstr("worker pod w-2: running but not ready (its readiness probe fails)"));
  EXPECT_THAT(why, AllOf(Not(HasSubstr("w-3")), Not(HasSubstr("w-4"))));
}

TEST(ExplainNotReadyTest, WarningEventsAboutOurObjectsAddWhatPodsDoNotSay) {
  auto event = [](const std::string& kind, const std::string& name, const std::string& reason,
                  const std::string& message, const std::string& type = "Warning") {
    return json{{"type", type},
                {"reason", reason},
                {"message", message},
                {"lastTimestamp", "2026-01-01T00:00:0" + std::to_string(name.size() % 10) + "Z"},
                {"involvedObject", {{"kind", kind}, {"name", name}}}};
  };
  std::vector<json> events = {
      event("Pod", "sparkplane-x-worker-1", "FailedScheduling",
            "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 "
            "No preemption victims found for incoming pod."),
      event("ReplicaSet", "sparkplane-x-worker-5d9f", "FailedCreate",
            "pods \"sparkplane-x-worker-5d9f-abc\" is forbidden: exceeded quota: compute"),
      event("Pod", "someone-else", "BackOff", "not ours"),
      event("Pod", "sparkplane-x-master-1", "Pulled", "normal", "Normal"),
  };
  std::string why =
      ExplainNotReady({Unschedulable("sparkplane-x-worker-1")}, events, "sparkplane-x-");
  EXPECT_THAT(why, HasSubstr(": not scheduled (Unschedulable)"));
  EXPECT_THAT(why, HasSubstr("event FailedCreate on replicaset sparkplane-x-worker-5d9f: pods "
                             "\"sparkplane-x-worker-5d9f-abc\" is forbidden: exceeded quota"));
  EXPECT_THAT(why, Not(HasSubstr("event FailedScheduling")));  // the pod clause says it
  EXPECT_THAT(why, AllOf(Not(HasSubstr("not ours")), Not(HasSubstr("normal"))));
  EXPECT_EQ(ExplainNotReady({}, {}, "x-"), "");
}

json UnschedulableBecause(const std::string& message) {
  return Pod("w-1", "worker",
             {{"phase", "Pending"},
              {"conditions", json::array({{{"type", "PodScheduled"},
                                           {"status", "False"},
                                           {"reason", "Unschedulable"},
                                           {"message", message}}})}});
}

json Waiting(const std::string& reason, const std::string& message) {
  return Pod(
      "m-1", "master",
      {{"phase", "Pending"},
       {"conditions", json::array({{{"type", "PodScheduled"}, {"status", "True"}},
                                   {{"type", "Ready"}, {"status", "False"}}})},
       {"containerStatuses",
        json::array({{{"name", "spark-master"},
                      {"ready", false},
                      {"state", {{"waiting", {{"reason", reason}, {"message", message}}}}}}})}});
}

TEST(PermanentPodFailureTest, AMissingClaimOrANodeSelectorNoNodeMatchesNeverHeals) {
  // Messages as kube-scheduler v1.37 writes them.
  EXPECT_EQ(PermanentPodFailure(UnschedulableBecause(
                "0/3 nodes are available: persistentvolumeclaim \"no-such-claim\" not found. "
                "preemption: 0/3 nodes are available: 3 Preemption is not helpful for "
                "scheduling.")),
            "worker pod w-1: not scheduled (Unschedulable): 0/3 nodes are available: "
            "persistentvolumeclaim \"no-such-claim\" not found. preemption: 0/3 nodes are "
            "available: 3 Preemption is not helpful for scheduling.");
  EXPECT_THAT(PermanentPodFailure(UnschedulableBecause(
                  "0/3 nodes are available: 3 node(s) didn't match Pod's node "
                  "affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not "
                  "helpful for scheduling.")),
              HasSubstr("didn't match Pod's node affinity/selector"));
}

TEST(PermanentPodFailureTest, WhatCanHealIsLeftToTheTimeout) {
  EXPECT_EQ(PermanentPodFailure(Unschedulable("w-1")), "");  // Insufficient cpu
  // One node lacks cpu, two do not match: a pod may end and free the cpu.
  EXPECT_EQ(PermanentPodFailure(UnschedulableBecause(
                "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's "
                "node affinity/selector. preemption: 0/3 nodes are available: 1 No preemption "
                "victims found for incoming pod, 2 Preemption is not helpful for scheduling.")),
            "");
  EXPECT_EQ(PermanentPodFailure(UnschedulableBecause(
                "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. "
                "preemption: 0/3 nodes are available: 3 Preemption is not helpful for "
                "scheduling.")),
            "");
  EXPECT_EQ(PermanentPodFailure(UnschedulableBecause("")), "");
  EXPECT_EQ(PermanentPodFailure(Waiting("ContainerCreating", "")), "");
  EXPECT_EQ(PermanentPodFailure(Waiting("CrashLoopBackOff", "back-off 10s")), "");
  json ready = Waiting("ImagePullBackOff", "x");
  ready["status"]["conditions"][1]["status"] = "True";
  EXPECT_EQ(PermanentPodFailure(ready), "");
  json terminating = Waiting("ImagePullBackOff", "x");
  terminating["metadata"]["deletionTimestamp"] = "2026-12-04T10:00:00Z";
  EXPECT_EQ(PermanentPodFailure(terminating), "");
}

TEST(PermanentPodFailureTest, ImagesThatCannotBePulledNeverHeal) {
  EXPECT_EQ(PermanentPodFailure(
                Waiting("ImagePullBackOff", "Back-off pulling image \"apache/spark:nope\"")),
            "master pod m-1: container spark-master waiting (ImagePullBackOff): Back-off "
            "pulling image \"apache/spark:nope\"");
  for (const char* reason :
       {"ErrImagePull", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError"}) {
    EXPECT_THAT(PermanentPodFailure(Waiting(reason, "")), HasSubstr(reason)) << reason;
  }
}

}  // namespace
}  // namespace sp::k8s
