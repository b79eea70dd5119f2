// HttpServer on Boost.Beast with C++20 coroutines (see server.h). The only translation unit that
// compiles Beast: it is slow to build (tens of seconds), so nothing else includes it.
#include "http/server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdio>
#include <exception>
#include <set>
#include <thread>
#include <utility>  // before Asio: awaitable.hpp uses std::exchange

namespace sp::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kHeaderLimit = 16 * 1024;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Request Convert(bhttp::request<bhttp::string_body>&& req, const std::string& remote) {
  Request r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  size_t q = r.target.find('?');
  r.path = r.target.substr(0, q);
  if (q != std::string::npos) r.query = ParseQuery(std::string_view(r.target).substr(q + 1));
  for (const auto& field : req) {
    std::string name = Lower(field.name_string());
    auto [it, inserted] = r.headers.emplace(name, std::string(field.value()));
    if (!inserted) it->second += (name == "cookie" ? "; " : ", ") + std::string(field.value());
  }
  r.body = std::move(req.body());
  r.remote_address = remote;
  return r;
}

// `head`: the answer to a HEAD request: GET's headers (Content-Length included), no body.
bhttp::response<bhttp::string_body> ToBeast(Response&& resp, unsigned version, bool keep_alive,
                                            bool head = false) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(resp.status), version};
  // insert, not set: a response may carry a header twice (two Set-Cookie lines).
  for (auto& [name, value] : resp.headers) res.insert(name, value);
  res.body() = std::move(resp.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  if (head) res.body().clear();
  return res;
}

}  // namespace

Status ParseListenAddress(const std::string& text, HttpServerOptions* options) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    return InvalidArgumentError("listen address '" + text +
                                "' must be HOST:PORT (e.g. 127.0.0.1:8080)");
  }
  std::string host = text.substr(0, colon);
  std::string port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535) {
    return InvalidArgumentError("listen address '" + text + "': port must be 0..65535");
  }
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (ec)
    return InvalidArgumentError("listen address '" + text + "': '" + host +
                                "' is not an IP address");
  options->address = host;
  options->port = static_cast<int>(p);
  return OkStatus();
}

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, std::function<Response(Request&)> handler,
       RequestObserver observer, std::function<std::optional<Response>(Request&)> quick)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        quick_(std::move(quick)),
        observer_(std::move(observer)),
        pool_(static_cast<size_t>(std::max(1, options_.worker_threads))) {}

  ~Impl() { Stop(); }

  Status Start() {
    boost::system::error_code ec;
    tcp::endpoint ep(asio::ip::make_address(options_.address, ec),
                     static_cast<unsigned short>(options_.port));
    if (ec) return InvalidArgumentError("bad HTTP address '" + options_.address + "'");
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return UnavailableError("cannot listen on " + options_.address + ":" +
                              std::to_string(options_.port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(ioc_, Listen(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
    return OkStatus();
  }

  int port() const { return port_; }

  void Stop() {
    if (stopped_.exchange(true)) return;
    if (thread_.joinable()) {
      asio::post(ioc_, [this] {
        boost::system::error_code ec;
        acceptor_.close(ec);
        for (beast::tcp_stream* s : live_) s->socket().close(ec);
        for (asio::steady_timer* t : timers_) t->cancel();
      });
      // Connections end on their own once closed; don't wait on a stuck handler forever.
      for (int i = 0; i < 200 && !idle(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      ioc_.stop();
      thread_.join();
    }
    pool_.join();
  }

 private:
  bool idle() const { return connections_.load() == 0 && accepting_.load() == false; }

  asio::awaitable<void> Listen() {
    accepting_ = true;
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
        continue;  // EMFILE and the like: keep serving the connections we have
      }
      if (connections_.load() >= options_.max_connections) {
        boost::system::error_code ignored;
        socket.close(ignored);  // over the limit: refuse at once rather than queue memory
        continue;
      }
      asio::co_spawn(ioc_, Serve(std::move(socket)), asio::detached);
    }
    accepting_ = false;
  }

  asio::awaitable<void> Serve(tcp::socket socket) {
    connections_.fetch_add(1);
    beast::tcp_stream stream(std::move(socket));
    live_.insert(&stream);
    boost::system::error_code ec;
    if (stopped_) {  // accepted just before Stop() closed what was live
      live_.erase(&stream);
      connections_.fetch_sub(1);
      co_return;
    }
    std::string remote = stream.socket().remote_endpoint(ec).address().to_string();
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(kHeaderLimit);
      parser.body_limit(options_.max_body);
      stream.expires_after(options_.read_timeout);
      auto [rec, n] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
      if (rec) {
        if (rec == bhttp::error::body_limit) {
          co_await WriteSimple(stream,
                               Problem(413, "the request body is larger than " +
                                                std::to_string(options_.max_body) + " bytes"));
        } else if (rec == bhttp::error::header_limit) {
          co_await WriteSimple(stream, Problem(431, "the request headers are too large"));
        } else if (rec != bhttp::error::end_of_stream && rec != asio::error::eof &&
                   rec != beast::error::timeout && rec != asio::error::operation_aborted &&
                   rec != asio::error::connection_reset && n > 0) {
          co_await WriteSimple(stream, Problem(400, "malformed HTTP request: " + rec.message()));
        }
        break;
      }
      bhttp::request<bhttp::string_body> req = parser.release();
      const unsigned version = req.version();
      const bool keep_alive = req.keep_alive();
      const bool head = req.method() == bhttp::verb::head;
      Request request = Convert(std::move(req), remote);

      auto t0 = std::chrono::steady_clock::now();
      std::optional<Response> quick = Quick(request);
      Response resp;
      if (quick) {
        resp = std::move(*quick);
      } else {  // (not a ?: : GCC 12 miscompiles co_await inside a conditional expression)
        resp = co_await asio::co_spawn(pool_, Handle(request), asio::use_awaitable);
      }
      auto took = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - t0);
      if (observer_) observer_(request, resp.status, took);
      if (stopped_) break;

      if (resp.stream && head) {
        resp.stream.reset();  // HEAD of an event stream: its headers only
        resp.SetHeader("Content-Type", "text/event-stream");
        resp.SetHeader("Cache-Control", "no-cache");
      }
      if (resp.stream) {
        co_await ServeStream(stream, std::move(resp), version);
        break;
      }
      auto res = ToBeast(std::move(resp), version, keep_alive, head);
      stream.expires_after(options_.write_timeout);
      auto [wec, written] = co_await bhttp::async_write(stream, res, kTuple);
      if (wec || !keep_alive) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    live_.erase(&stream);
    connections_.fetch_sub(1);
  }

  // The quick handler, on the I/O thread; nullopt when there is none, it declines or it throws
  // (the pool's handler then answers, 500 included).
  std::optional<Response> Quick(Request& request) {
    if (!quick_) return std::nullopt;
    try {
      return quick_(request);
    } catch (...) {
      return std::nullopt;
    }
  }

  // Runs the handler on a pool thread.
  asio::awaitable<Response> Handle(Request& request) {
    try {
      co_return handler_(request);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "sparkplane http: handler for %s %s threw: %s\n", request.method.c_str(),
                   request.path.c_str(), e.what());
    } catch (...) {
    }
    co_return Problem(500, "internal error while answering this request");
  }

  asio::awaitable<void> WriteSimple(beast::tcp_stream& stream, Response resp) {
    auto res = ToBeast(std::move(resp), 11, false);
    stream.expires_after(options_.write_timeout);
    co_await bhttp::async_write(stream, res, kTuple);
  }

  asio::awaitable<void> ServeStream(beast::tcp_stream& stream, Response resp, unsigned version) {
    std::shared_ptr<EventStream> source = resp.stream;
    bhttp::response<bhttp::empty_body> head{static_cast<bhttp::status>(resp.status), version};
    for (auto& [name, value] : resp.headers) head.insert(name, value);
    head.set(bhttp::field::content_type, "text/event-stream");
    head.set(bhttp::field::cache_control, "no-cache");
    head.set("X-Accel-Buffering", "no");
    head.keep_alive(false);  // the body ends when the connection does
    bhttp::response_serializer<bhttp::empty_body> sr{head};
    stream.expires_after(options_.write_timeout);
    auto [hec, hn] = co_await bhttp::async_write_header(stream, sr, kTuple);
    if (hec) co_return;

    auto timer = std::make_shared<asio::steady_timer>(ioc_);
    auto woken = std::make_shared<std::atomic<bool>>(false);
    std::weak_ptr<asio::steady_timer> weak = timer;
    source->SetWaker([ex = ioc_.get_executor(), weak, woken] {
      woken->store(true);
      asio::post(ex, [weak] {
        if (auto t = weak.lock()) t->cancel();
      });
    });
    timers_.insert(timer.get());
    const Millis poll = source->poll_interval();
    auto last_write = std::chrono::steady_clock::now();
    for (;;) {
      woken->store(false);
      std::string text = source->Take();
      auto now = std::chrono::steady_clock::now();
      if (text.empty() && now - last_write >= options_.heartbeat) text = ":\n\n";
      if (!text.empty()) {
        stream.expires_after(options_.write_timeout);
        auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(text), kTuple);
        if (wec) break;
        last_write = std::chrono::steady_clock::now();
      }
      if (source->Finished() || stopped_) break;
      if (woken->load()) continue;
      Millis wait = options_.heartbeat;
      if (poll.count() > 0) wait = std::min(wait, poll);
      timer->expires_after(wait);
      co_await timer->async_wait(kTuple);
      if (stopped_) break;
    }
    timers_.erase(timer.get());
    source->SetWaker(nullptr);
  }

  HttpServerOptions options_;
  std::function<Response(Request&)> handler_;
  std::function<std::optional<Response>(Request&)> quick_;
  RequestObserver observer_;
  asio::io_context ioc_{1};
  asio::thread_pool pool_;
  tcp::acceptor acceptor_{ioc_};
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> accepting_{false};
  std::atomic<int> connections_{0};
  // I/O thread only: what Stop() closes.
  std::set<beast::tcp_stream*> live_;
  std::set<asio::steady_timer*> timers_;
};

HttpServer::HttpServer(HttpServerOptions options, std::function<Response(Request&)> handler,
                       RequestObserver observer,
                       std::function<std::optional<Response>(Request&)> quick)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(observer),
                                   std::move(quick))) {}

HttpServer::~HttpServer() = default;

Status HttpServer::Start() {
  return impl_->Start();
}
int HttpServer::port() const {
  return impl_->port();
}
void HttpServer::Stop() {
  impl_->Stop();
}

}  // namespace sp::http
