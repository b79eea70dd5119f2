// ScriptedHttpServer: a loopback HTTP/1.1 server for the KubeClient's unit tests, answering each
// request from a script. It exists only for faults a real API server cannot be made to produce
// on demand in a unit test (a 503 then a 200, a Retry-After, a dropped connection, a watch stream
// cut after two events, a 410 on the next watch). The real behaviour against a real API server is
// tested in tests/integration/k8s/kube_client_test.cc.
//
// One connection at a time, one request per connection ("Connection: close"); streamed answers
// use chunked encoding, one chunk per scripted piece. Port 0; every request is recorded.
//
// Thread safety: the server runs its own thread; requests() may be read from the test thread.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sp::k8s::testing {

struct RecordedRequest {
  std::string method;
  std::string target;                          // path and query, as sent
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
  std::string Path() const { return target.substr(0, target.find('?')); }
  bool HasQuery(const std::string& key_value) const {
    size_t q = target.find('?');
    if (q == std::string::npos) return false;
    std::string query = "&" + target.substr(q + 1) + "&";
    return query.find("&" + key_value + "&") != std::string::npos;
  }
};

struct ScriptedResponse {
  enum class End {
    kComplete,  // a well-formed end
    kCut,       // close after the chunks without the terminating chunk (a dropped stream)
    kHoldOpen,  // keep the stream open until the client goes away or the server stops
  };
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::vector<std::string> chunks;  // non-empty: a chunked, streamed body
  End end = End::kComplete;
  bool drop_connection = false;  // read the request, then close without answering

  static ScriptedResponse Json(int status, const nlohmann::json& body) {
    ScriptedResponse r;
    r.status = status;
    r.body = body.dump();
    return r;
  }
  // A watch stream: one line per event, each its own chunk.
  static ScriptedResponse Events(const std::vector<nlohmann::json>& events, End end) {
    ScriptedResponse r;
    for (const auto& e : events) r.chunks.push_back(e.dump() + "\n");
    r.end = end;
    return r;
  }
  static ScriptedResponse Drop() {
    ScriptedResponse r;
    r.drop_connection = true;
    return r;
  }
};

class ScriptedHttpServer {
 public:
  using Handler = std::function<ScriptedResponse(const RecordedRequest&)>;

  // Answers the n-th request with the n-th response; requests beyond the script get a 500.
  static Handler Sequence(std::vector<ScriptedResponse> responses) {
    auto queue = std::make_shared<std::deque<ScriptedResponse>>(responses.begin(), responses.end());
    auto mu = std::make_shared<std::mutex>();
    return [queue, mu](const RecordedRequest&) {
      std::lock_guard<std::mutex> lock(*mu);
      if (queue->empty()) return ScriptedResponse::Json(500, {{"message", "script exhausted"}});
      ScriptedResponse r = queue->front();
      queue->pop_front();
      return r;
    };
  }

  explicit ScriptedHttpServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) stop_pipe_[0] = stop_pipe_[1] = -1;
    thread_ = std::thread([this] { Serve(); });
  }

  ~ScriptedHttpServer() {
    if (::write(stop_pipe_[1], "x", 1) != 1) std::perror("ScriptedHttpServer stop");
    thread_.join();
    ::close(listen_fd_);
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

  std::vector<RecordedRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  bool Stopping() const {
    pollfd p{stop_pipe_[0], POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }

  // Waits until `fd` is readable; false when the server is stopping.
  bool WaitReadable(int fd) const {
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    while (::poll(fds, 2, -1) < 0) {
    }
    return fds[1].revents == 0;
  }

  void Serve() {
    for (;;) {
      if (!WaitReadable(listen_fd_)) return;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      HandleConnection(fd);
      ::close(fd);
      if (Stopping()) return;
    }
  }

  static bool SendAll(int fd, const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  void HandleConnection(int fd) {
    std::string in;
    char buf[8192];
    size_t header_end = std::string::npos;
    while ((header_end = in.find("\r\n\r\n")) == std::string::npos) {
      if (!WaitReadable(fd)) return;
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    RecordedRequest request;
    std::string head = in.substr(0, header_end);
    size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    size_t sp1 = request_line.find(' '), sp2 = request_line.rfind(' ');
    request.method = request_line.substr(0, sp1);
    request.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t end = head.find("\r\n", pos);
      if (end == std::string::npos) end = head.size();
      std::string line = head.substr(pos, end - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        request.headers[name] = value;
      }
      pos = end + 2;
    }
    size_t content_length = 0;
    if (auto it = request.headers.find("content-length"); it != request.headers.end()) {
      content_length = std::stoul(it->second);
    }
    request.body = in.substr(header_end + 4);
    while (request.body.size() < content_length) {
      if (!WaitReadable(fd)) return;
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return;
      request.body.append(buf, static_cast<size_t>(n));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(request);
    }
    ScriptedResponse response = handler_(request);
    if (response.drop_connection) return;

    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " Scripted\r\n";
    out += "Connection: close\r\nContent-Type: application/json\r\n";
    for (const auto& [k, v] : response.headers) out += k + ": " + v + "\r\n";
    if (response.chunks.empty()) {
      out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n\r\n" + response.body;
      SendAll(fd, out);
      return;
    }
    out += "Transfer-Encoding: chunked\r\n\r\n";
    if (!SendAll(fd, out)) return;
    for (const std::string& chunk : response.chunks) {
      char size[32];
      std::snprintf(size, sizeof(size), "%zx\r\n", chunk.size());
      if (!SendAll(fd, size + chunk + "\r\n")) return;
    }
    switch (response.end) {
      case ScriptedResponse::End::kComplete:
        SendAll(fd, "0\r\n\r\n");
        return;
      case ScriptedResponse::End::kCut:
        return;
      case ScriptedResponse::End::kHoldOpen:
        // Until the client closes (a read returns 0) or the server stops.
        while (WaitReadable(fd)) {
          if (::recv(fd, buf, sizeof(buf), 0) <= 0) return;
        }
        return;
    }
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  int stop_pipe_[2] = {-1, -1};
  mutable std::mutex mu_;
  std::vector<RecordedRequest> requests_;
  std::thread thread_;
};

}  // namespace sp::k8s::testing
