// HttpServer: HTTP/1.1 on one I/O thread (Boost.Beast + Asio, C++20 coroutines), handlers on a
// small thread pool so that a store read or a password hash never stalls other connections or
// event streams. A request the optional quick handler can answer from memory (a cached page for
// a remembered caller) is answered on the I/O thread instead: no hand-off to the pool and back,
// which under load cost more than the answer itself (docs/BENCHMARKS.md). Requests are bounded
// (headers 16 KiB, body `max_body`, `read_timeout` to arrive); an oversized body is answered 413, a
// malformed request 400, both then closed. A handler that throws is answered 500 and logged.
// Server-Sent Events responses are written on the I/O thread with a heartbeat comment every
// `heartbeat` and a write timeout, so a client that stops reading is dropped, never buffered for.
//
// Thread safety: Start/Stop from one thread; the handler runs on pool threads concurrently.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "http/message.h"

namespace sp::http {

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  int port = 8080;  // 0: any free port (see port())
  size_t max_body = 1 << 20;
  int worker_threads = 4;
  // Connections (event streams included) served at once; more are closed as they arrive.
  int max_connections = 2048;
  Millis read_timeout = Millis(30000);
  Millis write_timeout = Millis(30000);
  Millis heartbeat = Millis(15000);
};

// Called after each response with the request, its status and how long the handler took.
using RequestObserver =
    std::function<void(const Request& request, int status, std::chrono::microseconds took)>;

// Parses "HOST:PORT" ("0.0.0.0:8080", "[::1]:8080", ":8080" = all addresses) into options.
Status ParseListenAddress(const std::string& text, HttpServerOptions* options);

class HttpServer {
 public:
  // `quick` (may be null) runs first, on the I/O thread: it must answer from memory without
  // blocking, or decline with nullopt, and then `handler` runs on the pool.
  HttpServer(HttpServerOptions options, std::function<Response(Request&)> handler,
             RequestObserver observer = nullptr,
             std::function<std::optional<Response>(Request&)> quick = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the I/O thread. Unavailable with the address when binding fails.
  Status Start();
  int port() const;  // the bound port, after Start()
  // Closes the listener and every connection (event streams included), joins all threads.
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sp::http
