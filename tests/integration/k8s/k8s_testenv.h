// A real Kubernetes control plane for the k8s integration tests, one per test binary.
//
// Including this header registers `K8sTestEnv`, a GoogleTest Environment. Before the first test
// it runs tests/k8s/testenv/up.sh in a fresh temporary directory: etcd, kube-apiserver (TLS,
// client certificates, a static admin token, RBAC, service-account tokens),
// kube-controller-manager, kube-scheduler and kwok faking 3 Ready nodes, all on 127.0.0.1, with
// a port base derived from the pid so that test binaries running side by side do not collide.
// Deployments get Running pods (kwok plays the kubelet; no container ever runs). Startup takes
// ~10 s; the binaries come from the cache that scripts/setup.sh fills (~18 min cold).
//
//   class MyTest : public sp::testing::K8sTest {};
//   TEST_F(MyTest, Something) {
//     const sp::testing::K8sCluster& k8s = cluster();   // server, CA, admin cert/key, token, ...
//     std::string ns = Namespace();                       // fresh namespace, deleted afterwards
//     sp::testing::KubeResponse r = sp::testing::Kube(k8s, "GET", "/api/v1/nodes");
//   }
//
// Share the control plane between tests; isolate them with namespaces (`K8sTest::Namespace()`).
// If the cache is empty, every K8sTest fails with "run scripts/setup.sh ..." (never a skip).
//
// Cleanup, so that no control plane outlives the binary: the Environment's TearDown runs
// `down.sh DIR --purge`; an atexit handler does the same if the binary exits early. Because
// the components run in their own sessions, a signal that kills the binary (ctest's timeout,
// Ctrl-C, SIGKILL) would leave them behind, so before starting anything the Environment also
// forks a detached watchdog: it blocks reading a pipe that only this process can write, and
// runs `down.sh DIR --purge` when the read returns EOF, i.e. whenever this process ends, however
// it ends. No work happens inside a signal handler.
//
// Thread safety: set up once before the tests run; read-only afterwards. `Kube()` may be called
// from any thread (it forks curl).
//
// Environment: K8S_TESTENV_PORT_BASE forces the port base; K8S_TESTENV_KEEP=1 leaves the
// control plane running at the end (its directory is printed) for debugging with kubectl.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifndef SP_SOURCE_DIR
#error "k8s_testenv.h needs SP_SOURCE_DIR (the repository root) as a compile definition"
#endif

extern char** environ;

namespace sp::testing {

// How to reach the control plane. Every path is absolute and exists while the binary runs.
struct K8sCluster {
  std::string dir;                  // the environment's directory; logs/NAME.log per component
  int port_base = 0;                // etcd +0, etcd peer +1, API server +2, ... kwok +5
  std::string server;               // https://127.0.0.1:<port_base + 2>
  std::string ca_file;              // PEM CA that signed the API server's certificate
  std::string admin_cert_file;      // PEM client certificate, group system:masters
  std::string admin_key_file;       // its PEM EC private key
  std::string admin_token;          // static bearer token, also system:masters
  std::string kubeconfig;           // admin; certificate-authority/client-certificate/-key paths
  std::string kubeconfig_embedded;  // admin; certificate-authority-data, client-*-data inline
  std::string kubeconfig_token;     // certificate-authority-data + token
  std::string sa_issuer;            // --service-account-issuer of the API server
  std::vector<std::string> nodes = {"kwok-node-0", "kwok-node-1", "kwok-node-2"};

  std::string LogFile(const std::string& component) const {
    return dir + "/logs/" + component + ".log";
  }
};

namespace k8s_internal {

inline const std::string kNotBuiltHint =
    "run scripts/setup.sh (builds the k8s test environment, ~18 min cold)";
inline const std::string kScripts = std::string(SP_SOURCE_DIR) + "/tests/k8s/testenv";
// up.sh's exit statuses (see up.sh).
constexpr int kExitNotBuilt = 3;
constexpr int kExitPortTaken = 4;

struct Output {
  int exit_code = -1;
  std::string text;  // stdout and stderr, interleaved
};

// fork/exec of argv with stdout+stderr captured; `env` entries (NAME=VALUE) are added to the
// environment. Everything is prepared before fork: the child only calls async-signal-safe
// functions, and closes every inherited descriptor but 0-2 so that nothing (a pipe of ours, a
// log file) leaks into the daemons up.sh starts. The child dies with the calling thread, so
// call it from a thread that waits for it (it always does: Run is synchronous).
inline Output Run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}) {
  std::vector<std::string> env_strings(env);
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env_strings) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  std::string path = argv[0];
  if (path.find('/') == std::string::npos) {  // resolve like execvp, before fork
    for (std::string dir : {"/usr/local/bin", "/usr/bin", "/bin"}) {
      if (::access((dir + "/" + argv[0]).c_str(), X_OK) == 0) {
        path = dir + "/" + argv[0];
        break;
      }
    }
  }
  int fds[2];
  Output out;
  if (::pipe2(fds, O_CLOEXEC) != 0) return out;
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // If this process is killed while up.sh runs, up.sh must not go on starting daemons that
    // the watchdog's down.sh would miss.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close_range(3, ~0U, 0);
    ::execve(path.c_str(), cargv.data(), cenv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    out.text.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The down.sh command for the atexit path, built while it is still safe to allocate.
struct ExitCleanup {
  pid_t owner = 0;  // a forked child (death test, our own fork) must not tear down
  std::vector<std::string> argv;
  bool done = true;
};
inline ExitCleanup& exit_cleanup() {
  static auto* cleanup = new ExitCleanup;  // never destroyed: used from atexit
  return *cleanup;
}

}  // namespace k8s_internal

class K8sTestEnv : public ::testing::Environment {
 public:
  // The Environment registered for this test binary.
  static K8sTestEnv& Get();

  void SetUp() override {
    namespace fs = std::filesystem;
    using k8s_internal::Run;
    auto t0 = std::chrono::steady_clock::now();
    std::string tmpl = (fs::temp_directory_path() / "sp-k8s-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      Fail("mkdtemp failed: " + std::string(std::strerror(errno)));
      return;
    }
    cluster_.dir = tmpl;
    StartWatchdog();
    auto& cleanup = k8s_internal::exit_cleanup();
    cleanup.owner = ::getpid();
    cleanup.argv = {"/bin/bash", k8s_internal::kScripts + "/down.sh", cluster_.dir, "--purge"};
    cleanup.done = false;
    std::atexit([] {
      auto& c = k8s_internal::exit_cleanup();
      if (c.done || c.owner != ::getpid()) return;
      c.done = true;
      k8s_internal::Run(c.argv);
    });

    // 6 ports from base; stay below the ephemeral range (32768+), spread by pid, and move on
    // when up.sh finds one taken.
    int base = 10000 + (::getpid() % 2700) * 8;
    bool fixed_base = std::getenv("K8S_TESTENV_PORT_BASE") != nullptr;
    if (fixed_base) base = std::atoi(std::getenv("K8S_TESTENV_PORT_BASE"));
    k8s_internal::Output up;
    for (int attempt = 0; attempt < 5; ++attempt) {
      up = Run({"/bin/bash", k8s_internal::kScripts + "/up.sh", cluster_.dir},
               {"K8S_TESTENV_PORT_BASE=" + std::to_string(base)});
      if (up.exit_code != k8s_internal::kExitPortTaken || fixed_base) break;
      Run({"/bin/bash", k8s_internal::kScripts + "/down.sh", cluster_.dir, "--purge"});
      base = 10000 + (base - 10000 + 8 * 337) % (2700 * 8);
    }
    std::cerr << up.text;
    if (up.exit_code == k8s_internal::kExitNotBuilt) {
      Fail("the k8s test environment is not built: " + k8s_internal::kNotBuiltHint + "\n" +
           up.text);
      return;
    }
    if (up.exit_code != 0) {
      Fail("tests/k8s/testenv/up.sh " + cluster_.dir + " failed (exit " +
           std::to_string(up.exit_code) + "):\n" + up.text);
      return;
    }
    std::map<std::string, std::string> env;
    std::istringstream lines(k8s_internal::ReadText(cluster_.dir + "/testenv.env"));
    for (std::string line; std::getline(lines, line);) {
      auto eq = line.find('=');
      if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
    }
    cluster_.port_base = std::atoi(env["K8S_TESTENV_PORT_BASE"].c_str());
    cluster_.server = env["K8S_SERVER"];
    cluster_.ca_file = env["K8S_CA_FILE"];
    cluster_.admin_cert_file = env["K8S_ADMIN_CERT_FILE"];
    cluster_.admin_key_file = env["K8S_ADMIN_KEY_FILE"];
    cluster_.admin_token = k8s_internal::ReadText(env["K8S_ADMIN_TOKEN_FILE"]);
    while (!cluster_.admin_token.empty() && std::isspace(cluster_.admin_token.back())) {
      cluster_.admin_token.pop_back();
    }
    cluster_.kubeconfig = env["K8S_KUBECONFIG"];
    cluster_.kubeconfig_embedded = env["K8S_KUBECONFIG_EMBEDDED"];
    cluster_.kubeconfig_token = env["K8S_KUBECONFIG_TOKEN"];
    cluster_.sa_issuer = env["K8S_SA_ISSUER"];
    if (cluster_.server.empty() || cluster_.admin_token.empty()) {
      Fail("up.sh succeeded but " + cluster_.dir + "/testenv.env is incomplete");
      return;
    }
    ready_ = true;
    std::cerr << "k8s testenv: up in " << MillisSince(t0) << " ms at " << cluster_.server
              << " (dir " << cluster_.dir << ")\n";
  }

  void TearDown() override {
    auto& cleanup = k8s_internal::exit_cleanup();
    if (cleanup.done || cleanup.owner != ::getpid()) return;
    cleanup.done = true;
    if (const char* keep = std::getenv("K8S_TESTENV_KEEP"); keep && std::string(keep) == "1") {
      std::cerr << "k8s testenv: K8S_TESTENV_KEEP=1, left running: KUBECONFIG="
                << cluster_.kubeconfig << "; stop with tests/k8s/testenv/down.sh " << cluster_.dir
                << " --purge\n";
      if (watchdog_fd_ >= 0 && ::write(watchdog_fd_, "keep", 4) != 4) perror("watchdog");
      CloseWatchdog();
      return;
    }
    auto t0 = std::chrono::steady_clock::now();
    k8s_internal::Output down = k8s_internal::Run(cleanup.argv);
    std::cerr << down.text << "k8s testenv: down in " << MillisSince(t0) << " ms\n";
    if (down.exit_code != 0) ADD_FAILURE() << "down.sh failed:\n" << down.text;
    CloseWatchdog();
  }

  bool ready() const { return ready_; }
  const std::string& error() const { return error_; }
  const K8sCluster& cluster() const { return cluster_; }

 private:
  void Fail(const std::string& message) {
    error_ = message;
    // Also reported here, so a binary with no K8sTest-based test still fails.
    ADD_FAILURE() << error_;
  }

  // A grandchild in its own session (so that killing our process tree does not reach it) that
  // waits for EOF on a pipe and then runs down.sh, unless it was told "keep". The write end is
  // close-on-exec and held only by this process, so EOF means this process is gone.
  void StartWatchdog() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    std::string script = k8s_internal::kScripts + "/down.sh";
    const char* argv[] = {"/bin/bash",
                          "-c",
                          "[ \"$(cat)\" = keep ] || exec /bin/bash \"$0\" \"$1\" --purge",
                          script.c_str(),
                          cluster_.dir.c_str(),
                          nullptr};
    pid_t child = ::fork();
    if (child == 0) {
      ::setsid();
      if (::fork() == 0) {
        int devnull = ::open("/dev/null", O_RDWR);
        ::dup2(fds[0], 0);
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
        ::close_range(3, ~0U, 0);
        ::execve(argv[0], const_cast<char**>(argv), environ);
      }
      ::_exit(0);
    }
    ::close(fds[0]);
    watchdog_fd_ = fds[1];
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
  }
  void CloseWatchdog() {
    if (watchdog_fd_ >= 0) ::close(watchdog_fd_);
    watchdog_fd_ = -1;
  }

  static long MillisSince(std::chrono::steady_clock::time_point t0) {
    return static_cast<long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count());
  }

  K8sCluster cluster_;
  bool ready_ = false;
  std::string error_ = "the k8s test environment was not set up";
  int watchdog_fd_ = -1;
};

// One registration per binary, however many test files include this header (inline variable).
// GoogleTest owns the object.
inline K8sTestEnv* const kK8sTestEnv =
    static_cast<K8sTestEnv*>(::testing::AddGlobalTestEnvironment(new K8sTestEnv));
inline K8sTestEnv& K8sTestEnv::Get() {
  return *kK8sTestEnv;
}

enum class KubeAuth { kToken, kClientCertificate, kAnonymous };

struct KubeResponse {
  int status = 0;  // HTTP status; 0 when curl itself failed (then `body` holds its error)
  std::string body;
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// One request to the API server with curl, as the admin. Test code only: it exists to set up
// and check state independently of Sparkplane's own Kubernetes client.
//   Kube(k8s, "POST", "/api/v1/namespaces", R"({"metadata":{"name":"x"}})")
inline KubeResponse Kube(const K8sCluster& k8s, const std::string& method, const std::string& path,
                         const std::string& body = "",
                         const std::string& content_type = "application/json",
                         KubeAuth auth = KubeAuth::kToken) {
  // A curl user agent gets pretty-printed JSON; a neutral one gets what a real client gets.
  std::vector<std::string> argv = {"curl", "-sS", "--noproxy", "*", "--max-time", "60"};
  argv.insert(argv.end(), {"-A", "sparkplane-k8s-test", "--cacert", k8s.ca_file});
  argv.insert(argv.end(), {"-X", method, "-w", "\n%{http_code}"});
  if (auth == KubeAuth::kToken) {
    argv.insert(argv.end(), {"-H", "Authorization: Bearer " + k8s.admin_token});
  } else if (auth == KubeAuth::kClientCertificate) {
    argv.insert(argv.end(), {"--cert", k8s.admin_cert_file, "--key", k8s.admin_key_file});
  }
  if (!body.empty()) {
    argv.insert(argv.end(), {"-H", "Content-Type: " + content_type, "--data-binary", body});
  }
  argv.push_back(k8s.server + path);
  k8s_internal::Output out = k8s_internal::Run(argv);
  KubeResponse r;
  auto nl = out.text.rfind('\n');
  if (out.exit_code == 0 && nl != std::string::npos) {
    r.status = std::atoi(out.text.c_str() + nl + 1);
    r.body = out.text.substr(0, nl);
  } else {
    r.body = "curl exited " + std::to_string(out.exit_code) + ": " + out.text;
  }
  return r;
}

// Base fixture: fails the test when the control plane is not up, and hands out a namespace of
// the test's own.
class K8sTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(K8sTestEnv::Get().ready()) << K8sTestEnv::Get().error(); }

  void TearDown() override {
    // Background deletion: namespace teardown takes seconds and nobody waits for it.
    for (const auto& ns : namespaces_) {
      Kube(cluster(), "DELETE", "/api/v1/namespaces/" + ns,
           R"({"apiVersion":"v1","kind":"DeleteOptions","propagationPolicy":"Background"})");
    }
  }

  const K8sCluster& cluster() const { return K8sTestEnv::Get().cluster(); }

  // A namespace named after the test (t-<suite>-<test>-<n>, DNS-1123), created on first use and
  // deleted after the test. Pods can be created in it right away (its default ServiceAccount
  // exists before this returns).
  const std::string& Namespace() {
    if (!namespaces_.empty()) return namespaces_.front();
    static int counter = 0;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = "t-";
    for (char c : std::string(info->test_suite_name()) + "-" + info->name()) {
      char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      name += std::isalnum(static_cast<unsigned char>(l)) ? l : '-';
    }
    name = name.substr(0, 50) + "-" + std::to_string(++counter);
    KubeResponse r =
        Kube(cluster(), "POST", "/api/v1/namespaces",
             R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + name + R"("}})");
    EXPECT_EQ(r.status, 201) << "creating namespace " << name << ": " << r.body;
    namespaces_.push_back(name);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (
        Kube(cluster(), "GET", "/api/v1/namespaces/" + name + "/serviceaccounts/default").status !=
        200) {
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "namespace " << name << " got no default ServiceAccount in 30 s";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return namespaces_.front();
  }

 private:
  std::vector<std::string> namespaces_;
};

// ------------------------------------------------------------------------------------------
// Identities and volumes for tests that run Sparkplane's code as someone other than the admin.

// A kubeconfig that authenticates as ServiceAccount NS/NAME with a one-hour TokenRequest token
// (what a pod of that account presents), its context's namespace NS; written under the
// environment's directory. The account must exist. On failure the test fails and the kubeconfig
// has an empty token.
inline std::string ServiceAccountKubeconfig(const K8sCluster& k8s, const std::string& ns,
                                            const std::string& name) {
  KubeResponse r =
      Kube(k8s, "POST", "/api/v1/namespaces/" + ns + "/serviceaccounts/" + name + "/token",
           R"({"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest",)"
           R"("spec":{"expirationSeconds":3600}})");
  EXPECT_EQ(r.status, 201) << "token for serviceaccount " << ns << "/" << name << ": " << r.body;
  nlohmann::json body = r.Json();
  std::string token;
  if (body.is_object() && body["status"].is_object()) token = body["status"].value("token", "");
  std::string path = k8s.dir + "/" + ns + "-" + name + ".kubeconfig";
  std::ofstream(path, std::ios::trunc) << "apiVersion: v1\nkind: Config\n"
                                       << "clusters:\n- name: testenv\n  cluster:\n"
                                       << "    server: " << k8s.server << "\n"
                                       << "    certificate-authority: " << k8s.ca_file
                                       << "\nusers:\n- name: sa\n  user:\n    token: " << token
                                       << "\ncontexts:\n- name: sa\n  context:\n"
                                       << "    cluster: testenv\n    user: sa\n"
                                       << "    namespace: " << ns << "\n"
                                       << "current-context: sa\n";
  return path;
}

// PersistentVolumeClaim NS/CLAIM (ReadWriteMany, 1Gi) pre-bound to a hostPath PersistentVolume
// of its own, returned once Bound: the kube-scheduler places no pod whose claim is missing or
// unbound (under kwok nothing ever mounts the path). Returns the PersistentVolume's name, which
// the caller deletes: it is cluster-scoped, so the namespace's deletion does not take it.
inline std::string BoundClaim(const K8sCluster& k8s, const std::string& ns,
                              const std::string& claim) {
  using nlohmann::json;
  const std::string pv = ns + "-" + claim;
  KubeResponse v = Kube(k8s, "POST", "/api/v1/persistentvolumes",
                        json{{"apiVersion", "v1"},
                             {"kind", "PersistentVolume"},
                             {"metadata", {{"name", pv}}},
                             {"spec",
                              {{"capacity", {{"storage", "1Gi"}}},
                               {"accessModes", json::array({"ReadWriteMany"})},
                               {"storageClassName", "manual"},
                               {"persistentVolumeReclaimPolicy", "Delete"},
                               {"hostPath", {{"path", "/tmp/" + pv}}},
                               {"claimRef", {{"namespace", ns}, {"name", claim}}}}}}
                            .dump());
  EXPECT_EQ(v.status, 201) << "creating persistentvolume " << pv << ": " << v.body;
  KubeResponse c = Kube(k8s, "POST", "/api/v1/namespaces/" + ns + "/persistentvolumeclaims",
                        json{{"apiVersion", "v1"},
                             {"kind", "PersistentVolumeClaim"},
                             {"metadata", {{"name", claim}}},
                             {"spec",
                              {{"accessModes", json::array({"ReadWriteMany"})},
                               {"storageClassName", "manual"},
                               {"volumeName", pv},
                               {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}}
                            .dump());
  EXPECT_EQ(c.status, 201) << "creating persistentvolumeclaim " << claim << ": " << c.body;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    KubeResponse got =
        Kube(k8s, "GET", "/api/v1/namespaces/" + ns + "/persistentvolumeclaims/" + claim);
    json body = got.Json();
    if (body.is_object() && body["status"].is_object() &&
        body["status"].value("phase", "") == "Bound") {
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "persistentvolumeclaim " << claim << " was not Bound in 60 s: " << got.body;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return pv;
}

}  // namespace sp::testing
