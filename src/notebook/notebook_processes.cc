// Connect and Jupyter launch specs, probes, idle test and the marker sweep; see
// notebook_processes.h.
#include "notebook/notebook_processes.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <thread>

#include "common/file_text.h"
#include "common/random_hex.h"
#include "spark/master_client.h"

namespace sp::notebook {

using nlohmann::json;

LaunchSpec ConnectServerSpec(const std::string& spark_home, const NotebookState& s,
                             const NotebookPaths& paths, const std::string& event_log_dir) {
  const std::string port = std::to_string(s.connect_port);
  LaunchSpec spec;
  spec.argv = {spark_home + "/bin/spark-submit", "--class",
               "org.apache.spark.sql.connect.service.SparkConnectServer", "--name",
               "notebook-" + s.name, "--master", s.master_url, "--conf",
               "spark.connect.grpc.binding.address=127.0.0.1", "--conf",
               "spark.connect.grpc.binding.port=" + port, "--conf", "spark.driver.host=127.0.0.1",
               "--conf", "spark.driver.bindAddress=127.0.0.1", "--conf", "spark.ui.enabled=false",
               "--conf", "spark.local.dir=" + paths.spark_dir + "/local", "--conf",
               "spark.driver.extraJavaOptions=-Djava.io.tmpdir=" + paths.spark_dir + "/tmp",
               // An idle notebook frees the worker's cores: executors go after a minute without
               // tasks (shuffleTracking.timeout too, or one holding shuffle data never goes).
               "--conf", "spark.dynamicAllocation.enabled=true", "--conf",
               "spark.dynamicAllocation.shuffleTracking.enabled=true", "--conf",
               "spark.dynamicAllocation.minExecutors=0", "--conf",
               "spark.dynamicAllocation.executorIdleTimeout=60s", "--conf",
               "spark.dynamicAllocation.shuffleTracking.timeout=60s"};
  if (!event_log_dir.empty()) {
    spec.argv.insert(spec.argv.end(), {"--conf", "spark.eventLog.enabled=true", "--conf",
                                       "spark.eventLog.dir=" + event_log_dir});
  }
  spec.env = {{"SPARK_CONNECT_AUTHENTICATE_TOKEN", s.connect_token},
              {"SPARK_LOCAL_IP", "127.0.0.1"},
              {kMarkerEnv, ConnectMarker(s.marker)}};
  return spec;
}

LaunchSpec JupyterSpec(const std::string& python, const NotebookState& s,
                       const NotebookPaths& paths, bool allow_root) {
  LaunchSpec spec;
  spec.argv = {python,
               "-m",
               "jupyterlab",
               "--no-browser",
               "--ServerApp.ip=127.0.0.1",
               "--ServerApp.port=" + std::to_string(s.jupyter_port),
               "--ServerApp.port_retries=0",
               "--ServerApp.root_dir=" + s.root_dir,
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"};
  if (s.idle_timeout.count() > 0) {
    // Jupyter's own idle handling is the backstop of the owner's (which polls /api/status):
    // idle kernels are culled, even with a browser tab open, and a server left with no kernel
    // and no activity exits (its check runs every minute).
    const int64_t secs = std::max<int64_t>(1, s.idle_timeout.count() / 1000);
    const int64_t interval = std::clamp<int64_t>(secs / 4, 1, 60);
    spec.argv.insert(spec.argv.end(),
                     {"--MappingKernelManager.cull_idle_timeout=" + std::to_string(secs),
                      "--MappingKernelManager.cull_interval=" + std::to_string(interval),
                      "--MappingKernelManager.cull_connected=True",
                      "--ServerApp.shutdown_no_activity_timeout=" + std::to_string(secs)});
  }
  if (allow_root) spec.argv.push_back("--allow-root");
  spec.env = {{"JUPYTER_TOKEN", s.jupyter_token},
              {"JUPYTER_CONFIG_DIR", paths.jupyter_dir + "/config"},
              {"JUPYTER_DATA_DIR", paths.jupyter_dir + "/data"},
              {"JUPYTER_RUNTIME_DIR", paths.runtime_dir},
              {"JUPYTER_PLATFORM_DIRS", "1"},
              {"IPYTHONDIR", paths.jupyter_dir + "/ipython"},
              {"SPARK_REMOTE", s.SparkRemote()},
              {"SPARK_CONNECT_AUTHENTICATE_TOKEN", s.connect_token},
              {"PYTHONUNBUFFERED", "1"},
              {kMarkerEnv, s.marker}};
  return spec;
}

Result<std::string> RandomToken() {
  return RandomHex(32);
}

namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// "2026-12-04T13:40:01.123456Z" (Jupyter's times, always UTC) to a Time; nullopt if malformed.
std::optional<Time> ParseJupyterTime(const std::string& text) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
    return std::nullopt;
  }
  size_t dot = text.find('.');
  if (dot != std::string::npos) {
    std::string frac;
    for (size_t i = dot + 1; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]));
         ++i) {
      frac += text[i];
    }
    frac = (frac + "000").substr(0, 3);
    ms = std::stoi(frac);
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  time_t secs = ::timegm(&tm);
  return FromUnixMillis(static_cast<int64_t>(secs) * 1000 + ms);
}

Result<json> GetJson(const std::string& url) {
  ASSIGN_OR_RETURN(std::string body, spark::HttpGet(url, Millis(3000)));
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return UnavailableError(url + ": the answer is not JSON");
  return j;
}

std::string ReadAll(const std::string& path) {
  Result<std::string> text = ReadFileText(path, "process file");
  return text.ok() ? std::move(*text) : std::string();
}

}  // namespace

Result<int> PickFreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return UnavailableError(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a = Loopback(0);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    return UnavailableError("cannot pick a free port: " + why);
  }
  ::close(fd);
  return static_cast<int>(ntohs(a.sin_port));
}

bool PortAccepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a = Loopback(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

Result<json> JupyterStatus(int port, const std::string& token) {
  return GetJson("http://127.0.0.1:" + std::to_string(port) + "/api/status?token=" + token);
}

Result<json> JupyterKernels(int port, const std::string& token) {
  return GetJson("http://127.0.0.1:" + std::to_string(port) +
                 "/api/kernels?no_track_activity=1&token=" + token);
}

bool JupyterIdle(const json& status, const json& kernels, Time now, Millis idle_timeout) {
  if (!status.is_object() || !kernels.is_array()) return false;
  std::optional<Time> last = ParseJupyterTime(status.value("last_activity", ""));
  if (!last) return false;
  for (const json& k : kernels) {
    if (!k.is_object()) return false;
    const std::string state = k.value("execution_state", "");
    if (state == "busy" || state == "starting") return false;
    std::optional<Time> t = ParseJupyterTime(k.value("last_activity", ""));
    if (t && *t > *last) last = t;
  }
  return now - *last >= idle_timeout;
}

std::vector<int> MarkedProcesses(const std::string& marker) {
  std::vector<int> pids;
  if (marker.empty()) return pids;
  const std::string needle = std::string(kMarkerEnv) + "=" + marker;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return pids;
  const int self = static_cast<int>(::getpid());
  while (dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0' || pid == self) continue;
    std::string env = ReadAll("/proc/" + std::string(e->d_name) + "/environ");
    // Entries are NUL-separated: match a whole entry.
    for (size_t pos = 0; pos < env.size();) {
      size_t next = env.find('\0', pos);
      if (next == std::string::npos) next = env.size();
      if (env.compare(pos, next - pos, needle) == 0) {
        pids.push_back(static_cast<int>(pid));
        break;
      }
      pos = next + 1;
    }
  }
  ::closedir(proc);
  return pids;
}

bool SweepMarked(const std::string& marker, Millis grace) {
  std::vector<int> pids = MarkedProcesses(marker);
  if (pids.empty()) return true;
  for (int pid : pids) ::kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(Millis(100));
    if (MarkedProcesses(marker).empty()) return true;
  }
  for (int pid : MarkedProcesses(marker)) ::kill(pid, SIGKILL);
  for (int i = 0; i < 30; ++i) {
    if (MarkedProcesses(marker).empty()) return true;
    std::this_thread::sleep_for(Millis(100));
  }
  return false;
}

}  // namespace sp::notebook
