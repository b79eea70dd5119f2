// The routes the server registers equal the operations of the OpenAPI document, both ways.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "api/http_api.h"
#include "dag/loader.h"

namespace sp::api {
namespace {

TEST(OpenApiRoutesTest, TheDocumentAndTheRouterListTheSameOperations) {
  RealClock clock;
  HttpApi web(nullptr, nullptr, nullptr, &clock, HttpApiOptions{});
  std::set<std::string> served;
  for (const http::Route& r : web.router().routes()) served.insert(r.method + " " + r.pattern);

  Result<nlohmann::json> spec = dag::YamlTextToJson(OpenApiYaml(), "openapi.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ((*spec)["openapi"], "3.1.0");
  std::set<std::string> documented;
  for (const auto& [path, item] : (*spec)["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      if (method == "parameters") continue;
      std::string m = method;
      for (char& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert(m + " " + path);
      EXPECT_TRUE(op.contains("x-required-role")) << m << " " << path;
      EXPECT_TRUE(op.contains("responses")) << m << " " << path;
    }
  }
  EXPECT_EQ(served, documented);
}

TEST(OpenApiRoutesTest, EveryReferenceResolves) {
  Result<nlohmann::json> spec = dag::YamlTextToJson(OpenApiYaml(), "openapi.yaml");
  ASSERT_TRUE(spec.ok());
  std::vector<std::string> missing;
  std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& j) {
    if (j.is_object()) {
      auto ref = j.find("$ref");
      if (ref != j.end() && ref->is_string()) {
        std::string pointer =
            ref->get<std::string>().substr(1);  // "#/components/..." -> "/components/..."
        if (!spec->contains(nlohmann::json::json_pointer(pointer))) missing.push_back(*ref);
      }
      for (const auto& [k, v] : j.items()) walk(v);
    } else if (j.is_array()) {
      for (const auto& v : j) walk(v);
    }
  };
  walk(*spec);
  EXPECT_THAT(missing, ::testing::IsEmpty());
}

}  // namespace
}  // namespace sp::api
