// ResourceRef paths (core vs grouped APIs, namespaced vs cluster-scoped), names in messages and
// query escaping of selectors and continue tokens.
#include "k8s/resource.h"

#include <gtest/gtest.h>

namespace sp::k8s {
namespace {

TEST(ResourceRefTest, CoreNamespacedPaths) {
  EXPECT_EQ(Ref(kPods, "ns1", "driver-0").Path(), "/api/v1/namespaces/ns1/pods/driver-0");
  EXPECT_EQ(Ref(kPods, "ns1").Path(), "/api/v1/namespaces/ns1/pods");
  EXPECT_EQ(Ref(kSecrets, "ns1", "s").CollectionPath(), "/api/v1/namespaces/ns1/secrets");
  EXPECT_EQ(Ref(kServiceAccounts, "a", "b").Path(), "/api/v1/namespaces/a/serviceaccounts/b");
  EXPECT_EQ(Ref(kPersistentVolumeClaims, "a", "b").Path(),
            "/api/v1/namespaces/a/persistentvolumeclaims/b");
}

TEST(ResourceRefTest, GroupedPaths) {
  EXPECT_EQ(Ref(kDeployments, "ns", "m").Path(), "/apis/apps/v1/namespaces/ns/deployments/m");
  EXPECT_EQ(Ref(kNetworkPolicies, "ns", "p").Path(),
            "/apis/networking.k8s.io/v1/namespaces/ns/networkpolicies/p");
  EXPECT_EQ(Ref(kRoleBindings, "ns").Path(),
            "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/rolebindings");
  EXPECT_EQ(Ref(kIngresses, "ns", "i").Path(),
            "/apis/networking.k8s.io/v1/namespaces/ns/ingresses/i");
}

TEST(ResourceRefTest, ClusterScopedIgnoresNamespace) {
  EXPECT_EQ(ClusterRef(kNamespaces, "team-a").Path(), "/api/v1/namespaces/team-a");
  EXPECT_EQ(Ref(kNamespaces, "ignored", "team-a").Path(), "/api/v1/namespaces/team-a");
  EXPECT_EQ(ClusterRef(kPersistentVolumes).Path(), "/api/v1/persistentvolumes");
}

TEST(ResourceRefTest, AllNamespacesWhenNamespaceEmpty) {
  EXPECT_EQ(Ref(kDeployments, "").Path(), "/apis/apps/v1/deployments");
  EXPECT_EQ(Ref(kDeployments, "").Describe(), "deployments.apps in all namespaces");
}

TEST(ResourceRefTest, QualifiedNamesAndDescriptions) {
  EXPECT_EQ(kPods.QualifiedName(), "pods");
  EXPECT_EQ(kDeployments.QualifiedName(), "deployments.apps");
  EXPECT_EQ(kRoles.QualifiedName(), "roles.rbac.authorization.k8s.io");
  EXPECT_EQ(kDeployments.Group(), "apps");
  EXPECT_EQ(kConfigMaps.Group(), "");
  EXPECT_EQ(Ref(kDeployments, "ns", "m").Describe(), "deployments.apps \"m\" in namespace \"ns\"");
  EXPECT_EQ(ClusterRef(kNamespaces, "x").Describe(), "namespaces \"x\"");
}

TEST(ResourceRefTest, NamesArePathEscaped) {
  EXPECT_EQ(Ref(kConfigMaps, "ns", "a b/c").Path(), "/api/v1/namespaces/ns/configmaps/a%20b%2Fc");
}

TEST(QueryTest, EscapesSelectorsAndSkipsEmptyValues) {
  std::string q = Query()
                      .Add("labelSelector", "app=spark,cluster in (a,b),!old")
                      .Add("fieldSelector", "")
                      .Add("continue", "eyJ2Ijoi+/=")
                      .Encode();
  EXPECT_EQ(q,
            "?labelSelector=app%3Dspark%2Ccluster%20in%20%28a%2Cb%29%2C%21old&continue=eyJ2Ijoi%2B%"
            "2F%3D");
  EXPECT_EQ(Query().Encode(), "");
  EXPECT_EQ(Query().Add("a", "").Encode(), "");
  EXPECT_EQ(EscapeQueryValue("a-b_c.d~e"), "a-b_c.d~e");
}

}  // namespace
}  // namespace sp::k8s
