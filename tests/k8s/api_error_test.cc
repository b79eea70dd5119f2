// Kubernetes Status bodies -> Status: every case under tests/data/k8s/status/ (request, HTTP
// code, body, expected code and message substrings), plus ParseApiStatus on odd bodies.
#include "k8s/api_error.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "k8s/k8s_test_util.h"

namespace sp::k8s {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

const std::map<std::string, ResourceType>& TypesByPlural() {
  static const auto* types =
      new std::map<std::string, ResourceType>{{"pods", kPods},
                                              {"services", kServices},
                                              {"configmaps", kConfigMaps},
                                              {"secrets", kSecrets},
                                              {"namespaces", kNamespaces},
                                              {"deployments", kDeployments},
                                              {"roles", kRoles},
                                              {"networkpolicies", kNetworkPolicies}};
  return *types;
}

Verb VerbFromName(const std::string& name) {
  for (int v = 0; v < kVerbCount; ++v) {
    if (name == VerbName(static_cast<Verb>(v))) return static_cast<Verb>(v);
  }
  ADD_FAILURE() << "unknown verb " << name;
  return Verb::kGet;
}

TEST(ApiErrorTest, CasesFromDataFiles) {
  int cases = 0;
  for (const auto& entry : std::filesystem::directory_iterator(testing::DataDir() + "/status")) {
    if (entry.path().extension() != ".json") continue;
    ++cases;
    json c = json::parse(testing::ReadText(entry.path().string()), nullptr, false);
    ASSERT_FALSE(c.is_discarded()) << entry.path();
    SCOPED_TRACE(entry.path().filename().string() + ": " + c.value("description", ""));
    ASSERT_EQ(c.value("name", ""), entry.path().stem().string()) << "name must match the file";
    const json& request = c["request"];
    auto type = TypesByPlural().find(request.value("resource", ""));
    ASSERT_NE(type, TypesByPlural().end()) << request.dump();
    RequestContext context;
    context.verb = VerbFromName(request.value("verb", ""));
    context.ref = Ref(type->second, request.value("namespace", ""), request.value("name", ""));
    context.server = "https://127.0.0.1:26102";
    context.credential_source = "bearer token of user \"robot\" in /tmp/kubeconfig";
    std::string body = c["body"].is_string() ? c["body"].get<std::string>() : c["body"].dump();

    Status status = ApiErrorToStatus(context, c.value("http_code", 0), body);
    EXPECT_STREQ(StatusCodeName(status.code()), c.value("expect_code", "").c_str())
        << status.ToString();
    for (const json& substring : c["expect"]) {
      EXPECT_THAT(status.message(), HasSubstr(substring.get<std::string>()));
    }
  }
  EXPECT_GE(cases, 10);
}

TEST(ApiErrorTest, ParseApiStatusRejectsOtherBodies) {
  EXPECT_FALSE(ParseApiStatus("").has_value());
  EXPECT_FALSE(ParseApiStatus("<html>").has_value());
  EXPECT_FALSE(ParseApiStatus(R"({"kind":"Deployment"})").has_value());
  std::optional<ApiStatus> s = ParseApiStatus(
      R"({"kind":"Status","code":422,"reason":"Invalid","details":{"causes":[{"field":"a"},3]}})");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->code, 422);
  ASSERT_EQ(s->causes.size(), 1u);
  EXPECT_EQ(s->causes[0].field, "a");
}

TEST(ApiErrorTest, SubresourceAndUnknownCodes) {
  RequestContext context{Verb::kPatch, Ref(kDeployments, "ns", "m"), "status", "https://h", ""};
  Status s = ApiErrorToStatus(
      context, 403,
      R"({"kind":"Status","message":"deployments.apps \"m\" is forbidden: User \"u\" cannot patch resource \"deployments/status\" in API group \"apps\" in the namespace \"ns\"","code":403})");
  EXPECT_THAT(s.message(), HasSubstr("may not patch deployments.apps/status in namespace \"ns\""));
  EXPECT_THAT(s.message(), HasSubstr("on resource \"deployments/status\""));
  Status teapot = ApiErrorToStatus(context, 418, "");
  EXPECT_EQ(teapot.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(teapot.message(), HasSubstr("HTTP 418"));
}

}  // namespace
}  // namespace sp::k8s
