#include "api/control_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace sp::api {
namespace {

Result<Time> ParseIsoTime(const nlohmann::json& j, const char* field) {
  if (!j.is_string()) return InvalidArgumentError(std::string(field) + " must be a string");
  std::string s = j.get<std::string>();
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) {
    std::tm d{};
    end = strptime(s.c_str(), "%Y-%m-%d", &d);
    if (!end || *end != '\0') {
      return InvalidArgumentError(std::string(field) +
                                  ": expected a date such as 2026-11-26 or "
                                  "2026-11-26T02:00:00Z; got '" +
                                  s + "'");
    }
    tm = d;
  } else if (*end != '\0' && std::string(end) != "Z" && std::string(end) != "+00:00") {
    return InvalidArgumentError(std::string(field) +
                                ": only UTC times are accepted (end with Z); got '" + s + "'");
  }
  return FromUnixMillis(static_cast<int64_t>(timegm(&tm)) * 1000);
}

bool WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads one line (up to 1 MiB) with a deadline.
Result<std::string> ReadLine(int fd, Millis timeout) {
  std::string buf;
  char chunk[4096];
  while (buf.find('\n') == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (r == 0)
      return DeadlineExceededError("no answer within " + std::to_string(timeout.count()) + " ms");
    if (r < 0 && errno == EINTR) continue;
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
    if (buf.size() > (1 << 20)) return InvalidArgumentError("request too large");
  }
  auto nl = buf.find('\n');
  if (nl != std::string::npos) buf.resize(nl);
  return buf;
}

}  // namespace

Result<scheduler::Event> ParseControlRequest(const nlohmann::json& req) {
  if (!req.is_object() || !req.contains("op") || !req["op"].is_string()) {
    return InvalidArgumentError("request must be a JSON object with an \"op\"");
  }
  std::string op = req["op"];
  auto str = [&](const char* k) -> std::string {
    return req.contains(k) && req[k].is_string() ? req[k].get<std::string>() : "";
  };
  auto run = [&]() -> int64_t {
    return req.contains("run") && req["run"].is_number_integer() ? req["run"].get<int64_t>() : 0;
  };
  nlohmann::json conf = req.contains("conf") ? req["conf"] : nlohmann::json::object();
  if (op == "trigger") {
    scheduler::TriggerRun t;
    t.dag_id = str("dag_id");
    t.conf = conf;
    t.run_id = str("run_id");
    if (req.contains("logical_date") && !req["logical_date"].is_null()) {
      ASSIGN_OR_RETURN(t.logical_date, ParseIsoTime(req["logical_date"], "logical_date"));
    }
    if (str("type") == "test") t.type = store::RunType::kTest;
    return scheduler::Event(t);
  }
  if (op == "backfill") {
    scheduler::Backfill b;
    b.dag_id = str("dag_id");
    b.conf = conf;
    ASSIGN_OR_RETURN(b.from, ParseIsoTime(req.value("from", nlohmann::json()), "from"));
    ASSIGN_OR_RETURN(b.to, ParseIsoTime(req.value("to", nlohmann::json()), "to"));
    return scheduler::Event(b);
  }
  if (op == "cancel") return scheduler::Event(scheduler::CancelRun{run()});
  if (op == "clear") {
    scheduler::ClearTasks c;
    c.run = run();
    if (req.contains("tasks") && req["tasks"].is_array()) {
      for (const auto& t : req["tasks"]) {
        if (t.is_string()) c.tasks.push_back(t);
      }
    }
    c.include_downstream = req.value("downstream", false);
    return scheduler::Event(c);
  }
  if (op == "mark") {
    auto st = store::ParseTaskState(str("state"));
    if (!st) return InvalidArgumentError("state must be success or failed");
    return scheduler::Event(scheduler::MarkTask{run(), str("task"), *st});
  }
  if (op == "pause" || op == "unpause") {
    return scheduler::Event(scheduler::SetPaused{str("dag_id"), op == "pause"});
  }
  if (op == "ping") return scheduler::Event(scheduler::Tick{});
  return InvalidArgumentError("unknown op '" + op + "'");
}

nlohmann::json ControlResponse(const Result<scheduler::CommandResult>& result) {
  if (!result.ok()) {
    return {{"ok", false},
            {"code", StatusCodeName(result.status().code())},
            {"error", result.status().message()}};
  }
  return {{"ok", true}, {"created_runs", result->created_runs}};
}

ControlServer::ControlServer(std::string socket_path, scheduler::Scheduler* scheduler)
    : path_(std::move(socket_path)), scheduler_(scheduler) {}

ControlServer::~ControlServer() {
  Stop();
}

Status ControlServer::Start() {
  sockaddr_un addr{};
  if (path_.size() >= sizeof(addr.sun_path)) {
    return FailedPreconditionError("control socket path too long: " + path_);
  }
  ::unlink(path_.c_str());
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return UnavailableError(std::string("socket: ") + std::strerror(errno));
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
  mode_t old = ::umask(0077);
  int rc = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (rc != 0 || ::listen(listen_fd_, 64) != 0) {
    return UnavailableError("cannot listen on " + path_ + ": " + std::strerror(errno));
  }
  if (::pipe2(wake_pipe_, O_CLOEXEC) != 0) return UnavailableError("pipe failed");
  thread_ = std::thread([this] { AcceptLoop(); });
  return OkStatus();
}

void ControlServer::Stop() {
  if (wake_pipe_[1] >= 0) {
    char c = 'x';
    (void)!::write(wake_pipe_[1], &c, 1);
  }
  if (thread_.joinable()) thread_.join();
  for (int* fd : {&listen_fd_, &wake_pipe_[0], &wake_pipe_[1]}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  if (!path_.empty()) ::unlink(path_.c_str());
}

void ControlServer::AcceptLoop() {
  for (;;) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    int r = ::poll(p, 2, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || (p[1].revents & POLLIN)) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    Serve(fd);
    ::close(fd);
  }
}

void ControlServer::Serve(int fd) {
  Result<std::string> line = ReadLine(fd, Millis(5000));
  nlohmann::json response;
  if (!line.ok()) {
    response = ControlResponse(line.status());
  } else {
    nlohmann::json req = nlohmann::json::parse(*line, nullptr, /*allow_exceptions=*/false);
    if (req.is_discarded()) {
      response = ControlResponse(Status(InvalidArgumentError("request is not valid JSON")));
    } else {
      Result<scheduler::Event> ev = ParseControlRequest(req);
      response = ev.ok() ? ControlResponse(scheduler_->Submit(*ev)) : ControlResponse(ev.status());
    }
  }
  WriteAll(fd, response.dump() + "\n");
}

Result<nlohmann::json> SendControlRequest(const std::string& socket_path,
                                          const nlohmann::json& request, Millis timeout) {
  sockaddr_un addr{};
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return FailedPreconditionError("control socket path too long: " + socket_path);
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return UnavailableError(std::string("socket: ") + std::strerror(errno));
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return UnavailableError("no server listening on " + socket_path);
  }
  bool sent = WriteAll(fd, request.dump() + "\n");
  Result<std::string> line =
      sent ? ReadLine(fd, timeout) : Result<std::string>(UnavailableError("send failed"));
  ::close(fd);
  if (!line.ok()) return line.status();
  nlohmann::json resp = nlohmann::json::parse(*line, nullptr, false);
  if (resp.is_discarded()) return InternalError("server answered with invalid JSON");
  return resp;
}

}  // namespace sp::api
