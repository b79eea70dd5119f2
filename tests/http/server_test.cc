// HttpServer over real loopback sockets: the connection cap refuses what is over it at once and
// leaves the connections it serves alone; a freed slot is served again. The quick handler
// answers on the I/O thread; what it declines (or throws on) reaches the pool's handler.
#include "http/server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sp::http {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A blocking loopback client connection; closed when destroyed.
class Client {
 public:
  explicit Client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() { Close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Sends a keep-alive GET and returns what arrives within 5 s ("" when the server closed).
  std::string Get(const std::string& path) {
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n";
    if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) < 0) return "";
    return Read();
  }

  // What arrives within 5 s: a response, or "" when the peer closed the connection.
  std::string Read() {
    std::string out;
    pollfd p{fd_, POLLIN, 0};
    while (::poll(&p, 1, 5000) == 1) {
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
      if (out.find("\r\n\r\n") != std::string::npos && out.find("ok") != std::string::npos) break;
    }
    return out;
  }

  bool connected() const { return connected_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

TEST(HttpServerTest, ConnectionsOverTheCapAreClosedAndTheOthersServed) {
  HttpServerOptions options;
  options.port = 0;
  options.max_connections = 3;
  HttpServer server(options, [](Request&) { return JsonResponse(200, "ok"); });
  ASSERT_TRUE(server.Start().ok());

  // Three keep-alive connections, each served once (so the server counts it).
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<Client>(server.port()));
    ASSERT_TRUE(held.back()->connected());
    EXPECT_THAT(held.back()->Get("/"), StartsWith("HTTP/1.1 200")) << i;
  }
  // A fourth is accepted by the kernel and closed by the server without an answer.
  Client over(server.port());
  ASSERT_TRUE(over.connected());
  EXPECT_EQ(over.Get("/"), "");
  // The held ones are still served.
  for (auto& c : held) EXPECT_THAT(c->Get("/"), StartsWith("HTTP/1.1 200"));
  // A freed slot is taken by the next connection.
  held[0]->Close();
  std::string answer;
  for (int attempt = 0; attempt < 50 && answer.empty(); ++attempt) {
    Client next(server.port());
    answer = next.Get("/");
    if (answer.empty()) ::usleep(100 * 1000);  // the server has not seen the close yet
  }
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(answer, HasSubstr("ok"));
  server.Stop();
}

TEST(HttpServerTest, TheQuickHandlerAnswersOnTheIoThreadAndDeclinesToThePool) {
  HttpServerOptions options;
  options.port = 0;
  std::mutex mu;
  std::set<std::thread::id> quick_threads, pool_threads;
  HttpServer server(
      options,
      [&](Request& r) {
        std::lock_guard<std::mutex> lock(mu);
        pool_threads.insert(std::this_thread::get_id());
        return JsonResponse(200, "pool ok " + r.path);
      },
      nullptr,
      [&](Request& r) -> std::optional<Response> {
        {
          std::lock_guard<std::mutex> lock(mu);
          quick_threads.insert(std::this_thread::get_id());
        }
        if (r.path == "/throws") throw std::runtime_error("a bug");
        if (r.path != "/quick") return std::nullopt;
        return JsonResponse(200, "quick ok");
      });
  ASSERT_TRUE(server.Start().ok());
  Client c(server.port());
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(c.Get("/quick"), HasSubstr("quick ok"));
    EXPECT_THAT(c.Get("/slow"), HasSubstr("pool ok /slow"));
    EXPECT_THAT(c.Get("/throws"), HasSubstr("pool ok /throws"));
  }
  server.Stop();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(quick_threads.size(), 1u) << "always the one I/O thread";
  ASSERT_FALSE(pool_threads.empty());
  for (const auto& id : pool_threads) EXPECT_EQ(quick_threads.count(id), 0u) << "a pool thread";
}

}  // namespace
}  // namespace sp::http
