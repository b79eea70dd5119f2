// The control socket; see control_socket.h for the protocol and the threads.
#include "api/control_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <exception>
#include <optional>
#include <system_error>
#include <utility>

#include "api/command_router.h"
#include "dag/cron.h"

namespace sp::api {
namespace {

// How long a client waits for a free connection slot before it is told "too many clients".
constexpr Millis kSlotWait{100};

// Answers are small except a backfill's created_runs (at most ~10,000 keys).
constexpr size_t kMaxResponseBytes = size_t{64} << 20;

// A transport deadline for one connection: how long a peer may keep us waiting. It is not
// domain time (nothing is scheduled or stored by it), so it reads the monotonic clock directly.
using SteadyTime = std::chrono::steady_clock::time_point;

int MillisLeft(SteadyTime deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count(), 1 << 30));
}

std::string Serialize(const nlohmann::json& j) {
  // Messages may quote what a client sent; bytes that are not UTF-8 must not make dump() throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// ---- request fields ------------------------------------------------------------------------

Status WrongType(const char* field, const char* expected, const nlohmann::json& got) {
  return InvalidArgumentError(std::string("field '") + field + "' must be " + expected + ", got " +
                              got.type_name());
}

Status Missing(const char* field, const std::string& op, const char* expected) {
  return InvalidArgumentError(std::string("field '") + field + "' is required for op '" + op +
                              "' (" + expected + ")");
}

// The field's value, or nullptr when it is absent or null.
const nlohmann::json* Field(const nlohmann::json& req, const char* field) {
  auto it = req.find(field);
  if (it == req.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<std::string> OptionalString(const nlohmann::json& req, const char* field) {
  const nlohmann::json* v = Field(req, field);
  if (v == nullptr) return std::string();
  if (!v->is_string()) return WrongType(field, "a string", *v);
  return v->get<std::string>();
}

Result<std::string> RequiredString(const nlohmann::json& req, const char* field,
                                   const std::string& op) {
  const nlohmann::json* v = Field(req, field);
  if (v == nullptr) return Missing(field, op, "a string");
  if (!v->is_string()) return WrongType(field, "a string", *v);
  std::string s = v->get<std::string>();
  if (s.empty()) return InvalidArgumentError(std::string("field '") + field + "' is empty");
  return s;
}

Result<bool> OptionalBool(const nlohmann::json& req, const char* field, bool fallback) {
  const nlohmann::json* v = Field(req, field);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) return WrongType(field, "a boolean", *v);
  return v->get<bool>();
}

// A run key: a positive integer.
Result<int64_t> RequiredRunKey(const nlohmann::json& req, const std::string& op) {
  constexpr const char* kField = "run";
  constexpr const char* kExpected = "a positive integer (a run key)";
  const nlohmann::json* v = Field(req, kField);
  if (v == nullptr) return Missing(kField, op, kExpected);
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > 0 && u <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(u);
  } else if (v->is_number_integer()) {
    int64_t i = v->get<int64_t>();
    if (i > 0) return i;
  }
  if (!v->is_number()) return WrongType(kField, kExpected, *v);
  return InvalidArgumentError(std::string("field 'run' must be ") + kExpected + ", got " +
                              v->dump());
}

Result<nlohmann::json> OptionalObject(const nlohmann::json& req, const char* field) {
  const nlohmann::json* v = Field(req, field);
  if (v == nullptr) return nlohmann::json::object();
  if (!v->is_object()) return WrongType(field, "an object", *v);
  return *v;
}

Result<std::vector<std::string>> OptionalStringList(const nlohmann::json& req, const char* field) {
  std::vector<std::string> out;
  const nlohmann::json* v = Field(req, field);
  if (v == nullptr) return out;
  if (!v->is_array()) return WrongType(field, "an array of strings", *v);
  for (size_t i = 0; i < v->size(); ++i) {
    const nlohmann::json& item = (*v)[i];
    if (!item.is_string()) {
      return InvalidArgumentError(std::string("field '") + field +
                                  "' must be an array of strings, got " + item.type_name() +
                                  " at index " + std::to_string(i));
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<Time> RequiredTime(const nlohmann::json& req, const char* field, const std::string& op) {
  const nlohmann::json* v = Field(req, field);
  if (v == nullptr) return Missing(field, op, "a UTC date or time such as 2026-11-26");
  if (!v->is_string()) return WrongType(field, "a string", *v);
  return ParseUtcTime(v->get<std::string>(), field);
}

Result<scheduler::Event> ParseRequestFields(const nlohmann::json& req) {
  if (!req.is_object()) {
    return InvalidArgumentError(std::string("request must be a JSON object with an \"op\", got ") +
                                req.type_name());
  }
  const nlohmann::json* op_field = Field(req, "op");
  if (op_field == nullptr) {
    return InvalidArgumentError("request must be a JSON object with an \"op\"");
  }
  if (!op_field->is_string()) return WrongType("op", "a string", *op_field);
  // A value nested without bound would overflow the stack in the copies below; the socket
  // limits the text already, offline commands pass what the CLI built.
  RETURN_IF_ERROR(CheckJsonValueDepth(req));
  const std::string op = op_field->get<std::string>();

  if (op == "trigger") {
    scheduler::TriggerRun t;
    ASSIGN_OR_RETURN(t.dag_id, RequiredString(req, "dag_id", op));
    ASSIGN_OR_RETURN(t.conf, OptionalObject(req, "conf"));
    ASSIGN_OR_RETURN(t.run_id, OptionalString(req, "run_id"));
    if (const nlohmann::json* v = Field(req, "logical_date"); v != nullptr) {
      if (!v->is_string()) return WrongType("logical_date", "a string", *v);
      ASSIGN_OR_RETURN(t.logical_date, ParseUtcTime(v->get<std::string>(), "logical_date"));
    }
    ASSIGN_OR_RETURN(std::string type, OptionalString(req, "type"));
    if (type == "test") {
      t.type = store::RunType::kTest;
    } else if (!type.empty() && type != "manual") {
      return InvalidArgumentError("field 'type' must be \"manual\" or \"test\", got '" + type +
                                  "'");
    }
    return scheduler::Event(std::move(t));
  }
  if (op == "backfill") {
    scheduler::Backfill b;
    ASSIGN_OR_RETURN(b.dag_id, RequiredString(req, "dag_id", op));
    ASSIGN_OR_RETURN(b.conf, OptionalObject(req, "conf"));
    ASSIGN_OR_RETURN(b.from, RequiredTime(req, "from", op));
    ASSIGN_OR_RETURN(b.to, RequiredTime(req, "to", op));
    return scheduler::Event(std::move(b));
  }
  if (op == "cancel") {
    ASSIGN_OR_RETURN(int64_t run, RequiredRunKey(req, op));
    return scheduler::Event(scheduler::CancelRun{run});
  }
  if (op == "clear") {
    scheduler::ClearTasks c;
    ASSIGN_OR_RETURN(c.run, RequiredRunKey(req, op));
    ASSIGN_OR_RETURN(c.tasks, OptionalStringList(req, "tasks"));
    ASSIGN_OR_RETURN(c.include_downstream, OptionalBool(req, "downstream", false));
    return scheduler::Event(std::move(c));
  }
  if (op == "mark") {
    ASSIGN_OR_RETURN(int64_t run, RequiredRunKey(req, op));
    ASSIGN_OR_RETURN(std::string task, RequiredString(req, "task", op));
    ASSIGN_OR_RETURN(std::string state, RequiredString(req, "state", op));
    auto st = store::ParseTaskState(state);
    if (!st || (*st != store::TaskState::kSuccess && *st != store::TaskState::kFailed &&
                *st != store::TaskState::kSkipped)) {
      return InvalidArgumentError(
          "field 'state' must be \"success\", \"failed\" or \"skipped\", got '" + state + "'");
    }
    return scheduler::Event(scheduler::MarkTask{run, std::move(task), *st});
  }
  if (op == "pause" || op == "unpause") {
    ASSIGN_OR_RETURN(std::string dag_id, RequiredString(req, "dag_id", op));
    return scheduler::Event(scheduler::SetPaused{std::move(dag_id), op == "pause"});
  }
  if (op == "clean") {
    scheduler::PruneRuns p;
    // A UTC time, or Unix millis (what the CLI sends: cutoffs are not whole seconds).
    const nlohmann::json* before = Field(req, "before");
    if (before != nullptr && before->is_number_integer()) {
      p.before = FromUnixMillis(before->get<int64_t>());
    } else {
      ASSIGN_OR_RETURN(p.before, RequiredTime(req, "before", op));
    }
    ASSIGN_OR_RETURN(p.dry_run, OptionalBool(req, "dry_run", false));
    return scheduler::Event(p);
  }
  if (op == "ping") return scheduler::Event(scheduler::Tick{});
  return InvalidArgumentError("unknown op '" + op + "'");
}

bool IsPing(const nlohmann::json& req) {
  if (!req.is_object()) return false;
  auto it = req.find("op");
  return it != req.end() && it->is_string() && it->get_ref<const std::string&>() == "ping";
}

// ---- socket I/O ----------------------------------------------------------------------------

// Writes all of `s` by `deadline`. Never raises SIGPIPE: a client that hung up is an error
// here, not the end of the process. Gives up when `wake_fd` (may be -1) becomes readable.
Status SendAll(int fd, const std::string& s, SteadyTime deadline, int wake_fd) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      return UnavailableError(std::string("send: ") + std::strerror(errno));
    }
    pollfd p[2] = {{fd, POLLOUT, 0}, {wake_fd, POLLIN, 0}};
    int r = ::poll(p, 2, MillisLeft(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return UnavailableError(std::string("poll: ") + std::strerror(errno));
    if (r == 0) return DeadlineExceededError("the peer did not take the message in time");
    if (p[1].revents & POLLIN) return CancelledError("stopping");
  }
  return OkStatus();
}

// Reads one line (without its '\n'; the whole input when the peer closes without one) of at
// most `max_bytes` by `deadline`. Cancelled when the peer closed without sending anything, or
// when `wake_fd` (may be -1) becomes readable.
Result<std::string> ReadLine(int fd, SteadyTime deadline, size_t max_bytes, int wake_fd,
                             const char* what) {
  std::string buf;
  char chunk[4096];
  for (;;) {
    size_t nl = buf.find('\n');
    if (nl != std::string::npos) {
      if (nl > max_bytes) break;
      buf.resize(nl);
      return buf;
    }
    if (buf.size() > max_bytes) break;
    pollfd p[2] = {{fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    int r = ::poll(p, 2, MillisLeft(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return UnavailableError(std::string("poll: ") + std::strerror(errno));
    if (r == 0) {
      return DeadlineExceededError(std::string("no complete ") + what + " within the time limit");
    }
    if (p[1].revents & POLLIN) return CancelledError("stopping");
    ssize_t n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n < 0) return UnavailableError(std::string("recv: ") + std::strerror(errno));
    if (n == 0) {
      if (buf.empty()) return CancelledError("the peer closed the connection");
      if (buf.size() > max_bytes) break;
      return buf;
    }
    buf.append(chunk, static_cast<size_t>(n));
  }
  return InvalidArgumentError(std::string(what) + " larger than " + std::to_string(max_bytes) +
                              " bytes");
}

}  // namespace

Result<Time> ParseUtcTime(const std::string& s, const std::string& field) {
  // The DAG loader's parser (one for the whole program): any ISO-8601 offset, converted to UTC,
  // and fractional seconds, as Airflow 3 takes a logical date and as YAML's start_date is read.
  if (std::optional<Time> t = dag::ParseDateTime(s)) return *t;
  return InvalidArgumentError(field +
                              ": expected a date such as 2026-11-26 or a time such as "
                              "2026-11-26T02:00:00Z or 2026-11-26T03:00:00.5+01:00; got '" +
                              s + "'");
}

Result<scheduler::Event> ParseControlRequest(const nlohmann::json& req) {
  try {
    return ParseRequestFields(req);
  } catch (const std::exception& e) {
    // The checks above leave nothing to throw; a library exception here is a bug, and it must
    // not end the server.
    return InternalError(std::string("cannot read the request: ") + e.what());
  }
}

nlohmann::json ControlResponse(const Result<scheduler::CommandResult>& result) {
  if (!result.ok()) {
    return {{"ok", false},
            {"code", StatusCodeName(result.status().code())},
            {"error", result.status().message()}};
  }
  nlohmann::json out = {{"ok", true}, {"created_runs", result->created_runs}};
  if (!result->pruned_runs.empty()) {
    // The count is exact; the list names the oldest runs, bounded so a dry run over years of
    // history stays a small answer.
    constexpr size_t kMaxListed = 1000;
    nlohmann::json runs = nlohmann::json::array();
    for (size_t i = 0; i < result->pruned_runs.size() && i < kMaxListed; ++i) {
      const store::DagRun& r = result->pruned_runs[i];
      runs.push_back({{"key", r.id}, {"dag_id", r.dag_id}, {"run_id", r.run_id}});
    }
    out["pruned_count"] = result->pruned_runs.size();
    out["pruned_runs"] = std::move(runs);
  }
  return out;
}

// ---- the server ----------------------------------------------------------------------------

ControlServer::ControlServer(std::string socket_path, scheduler::Scheduler* scheduler,
                             ControlServerOptions options)
    : path_(std::move(socket_path)), scheduler_(scheduler), options_(options) {}

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
  if (rc == 0) bound_ = true;
  if (rc != 0 || ::listen(listen_fd_, 64) != 0) {
    return UnavailableError("cannot listen on " + path_ + ": " + std::strerror(errno));
  }
  if (::pipe2(wake_pipe_, O_CLOEXEC) != 0) return UnavailableError("pipe failed");
  try {
    thread_ = std::thread([this] { AcceptLoop(); });
  } catch (const std::system_error& e) {
    return UnavailableError(std::string("cannot start the control socket thread: ") + e.what());
  }
  return OkStatus();
}

void ControlServer::Stop() {
  if (wake_pipe_[1] >= 0) {
    char c = 'x';
    (void)!::write(wake_pipe_[1], &c, 1);
  }
  if (thread_.joinable()) thread_.join();
  JoinAllConnections();
  for (int* fd : {&listen_fd_, &wake_pipe_[0], &wake_pipe_[1]}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  if (bound_) ::unlink(path_.c_str());
  bound_ = false;
}

void ControlServer::JoinFinishedConnections() {
  std::vector<std::thread> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint64_t id : finished_) {
      auto it = connections_.find(id);
      if (it == connections_.end()) continue;
      done.push_back(std::move(it->second));
      connections_.erase(it);
    }
    finished_.clear();
  }
  for (std::thread& t : done) t.join();  // each is past its last use of `this`
}

void ControlServer::JoinAllConnections() {
  std::map<uint64_t, std::thread> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all.swap(connections_);
    finished_.clear();
  }
  for (auto& [id, t] : all) t.join();
}

void ControlServer::AcceptLoop() {
  for (;;) {
    JoinFinishedConnections();
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    int r = ::poll(p, 2, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || (p[1].revents & POLLIN)) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors or memory: the pending connection stays in the backlog; try again
        // a little later instead of spinning on it.
        pollfd wake{wake_pipe_[0], POLLIN, 0};
        ::poll(&wake, 1, 100);
      }
      continue;
    }

    std::unique_lock<std::mutex> lock(mu_);
    auto full = [&] {
      return connections_.size() - finished_.size() >=
             static_cast<size_t>(std::max(options_.max_clients, 0));
    };
    // A burst of clients that hang up at once fills every slot for a moment; a short wait lets
    // their threads end before the next client is turned away.
    if (full()) slot_freed_.wait_for(lock, kSlotWait, [&] { return !full(); });
    if (!full()) {
      uint64_t id = next_connection_++;
      try {
        connections_[id] = std::thread([this, fd, id] {
          Serve(fd);
          std::lock_guard<std::mutex> done(mu_);
          finished_.push_back(id);
          slot_freed_.notify_one();
        });
        continue;  // the thread owns fd now
      } catch (const std::system_error&) {
        connections_.erase(id);
      }
    }
    lock.unlock();
    // Answered from here without waiting: the socket is new, so the line fits in its buffer.
    std::string busy = Serialize(ControlResponse(
        Status(UnavailableError("too many clients: " + std::to_string(options_.max_clients) +
                                " connections are being served; try again"))));
    (void)::send(fd, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::close(fd);
  }
}

nlohmann::json ControlServer::Answer(const std::string& line) {
  Result<nlohmann::json> req = ParseJsonBounded(line, options_.request_limits);
  if (!req.ok()) return ControlResponse(req.status().With("request"));
  // Liveness probes must not wait for a busy loop.
  if (IsPing(*req)) {
    if (loading_.load()) return {{"ok", true}, {"loading", true}};
    return {{"ok", true}};
  }
  Result<scheduler::Event> ev = ParseControlRequest(*req);
  if (!ev.ok()) return ControlResponse(ev.status());
  if (commands_ != nullptr) return ControlResponse(commands_->Submit(*req));
  return ControlResponse(scheduler_->Submit(std::move(*ev)));
}

void ControlServer::Serve(int fd) {
  SteadyTime deadline = std::chrono::steady_clock::now() + options_.request_timeout;
  std::string out;
  try {
    Result<std::string> line =
        ReadLine(fd, deadline, options_.request_limits.max_bytes, wake_pipe_[0], "request");
    if (line.ok()) {
      out = Serialize(Answer(*line));
    } else if (line.status().code() != StatusCode::kCancelled) {
      out = Serialize(ControlResponse(line.status()));
    }
  } catch (const std::exception& e) {
    out = Serialize(ControlResponse(
        Status(InternalError(std::string("the server failed on this request: ") + e.what()))));
  } catch (...) {
    out = "{\"ok\":false,\"code\":\"INTERNAL\",\"error\":\"the server failed on this request\"}\n";
  }
  if (!out.empty()) {
    // The answer gets its own time limit: a command may have waited on the loop for a while.
    SteadyTime send_deadline = std::chrono::steady_clock::now() + options_.request_timeout;
    SendAll(fd, out, send_deadline, wake_pipe_[0]).IgnoreError();  // the client may be gone
  }
  ::close(fd);
}

Result<nlohmann::json> SendControlRequest(const std::string& socket_path,
                                          const nlohmann::json& request, Millis timeout) {
  SteadyTime deadline = std::chrono::steady_clock::now() + timeout;
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
  // A send that fails (the server hung up: too many clients) may still have an answer waiting.
  Status sent = SendAll(fd, Serialize(request), deadline, -1);
  Result<std::string> line = ReadLine(fd, deadline, kMaxResponseBytes, -1, "answer");
  ::close(fd);
  if (!line.ok()) {
    if (!sent.ok()) return UnavailableError("cannot send the request: " + sent.message());
    if (line.status().code() == StatusCode::kCancelled) {
      return UnavailableError("the server closed the connection without an answer");
    }
    if (line.status().code() == StatusCode::kDeadlineExceeded) {
      return DeadlineExceededError("no answer within " + std::to_string(timeout.count()) + " ms");
    }
    return line.status();
  }
  Result<nlohmann::json> resp =
      ParseJsonBounded(*line, JsonLimits{kDefaultJsonMaxDepth, kMaxResponseBytes});
  if (!resp.ok())
    return InternalError("the server's answer is not usable: " + resp.status().message());
  return resp;
}

}  // namespace sp::api
