// Router: maps (method, path) to a handler. Patterns are literal segments and `{name}`
// parameters ("/api/v1/dags/{dag_id}/runs/{run_id}"); a parameter matches one non-empty
// segment, percent-decoded (so "%2F" inside a run id stays in that parameter). Literal segments
// win over parameters. An unknown path is 404; a known path with another method is 405 with the
// methods it has, for the Allow header.
//
// Thread safety: add every route before serving; Find() is then safe from any thread.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "http/message.h"

namespace sp::http {

using Handler = std::function<Response(Request&)>;
// Answers on the server's I/O thread from memory alone, or declines (nullopt: run `handler` on
// the pool). Must never block or read a store.
using QuickHandler = std::function<std::optional<Response>(Request&)>;

struct Route {
  std::string method;
  std::string pattern;
  Handler handler;
  std::vector<std::string> segments;  // of the pattern
  QuickHandler quick;                 // may be empty
};

struct RouteMatch {
  const Route* route = nullptr;  // null: see status
  int status = 404;              // 200 with a route, 404 or 405 without
  std::string allow;             // for 405: "GET, POST"
  std::map<std::string, std::string> params;
};

class Router {
 public:
  void Add(const std::string& method, const std::string& pattern, Handler handler,
           QuickHandler quick = nullptr);
  RouteMatch Find(const std::string& method, const std::string& path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

// Splits "/a/b/" into {"a", "b"} (empty segments dropped).
std::vector<std::string> SplitPath(std::string_view path);

}  // namespace sp::http
