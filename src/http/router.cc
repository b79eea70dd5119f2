// Router (see router.h).
#include "http/router.h"

#include <set>

namespace sp::http {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view seg = path.substr(0, slash);
    if (!seg.empty()) out.emplace_back(seg);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

void Router::Add(const std::string& method, const std::string& pattern, Handler handler,
                 QuickHandler quick) {
  routes_.push_back(
      Route{method, pattern, std::move(handler), SplitPath(pattern), std::move(quick)});
}

namespace {

bool IsParam(const std::string& seg) {
  return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}

// How well `route` matches: -1 no match, else the number of literal segments (more is better).
int Score(const Route& route, const std::vector<std::string>& raw,
          std::map<std::string, std::string>* params) {
  if (route.segments.size() != raw.size()) return -1;
  int literal = 0;
  std::map<std::string, std::string> found;
  for (size_t i = 0; i < raw.size(); ++i) {
    const std::string& seg = route.segments[i];
    if (IsParam(seg)) {
      std::optional<std::string> value = PercentDecode(raw[i]);
      if (!value || value->empty()) return -1;
      found[seg.substr(1, seg.size() - 2)] = std::move(*value);
    } else if (seg == raw[i]) {
      ++literal;
    } else {
      return -1;
    }
  }
  if (params) *params = std::move(found);
  return literal;
}

}  // namespace

RouteMatch Router::Find(const std::string& method, const std::string& path) const {
  std::vector<std::string> raw = SplitPath(path);
  RouteMatch best;
  int best_score = -1;
  int best_any = -1;  // the best score of a path match with any method
  for (const Route& r : routes_) {
    int score = Score(r, raw, nullptr);
    if (score < 0) continue;
    best_any = std::max(best_any, score);
    if (r.method == method && score > best_score) {
      best_score = score;
      best.route = &r;
    }
  }
  if (best.route && best_score == best_any) {
    Score(*best.route, raw, &best.params);
    best.status = 200;
    return best;
  }
  if (best_any < 0) return RouteMatch{};
  // The path is known (with its most literal pattern) but not for this method.
  std::set<std::string> methods;
  for (const Route& r : routes_) {
    if (Score(r, raw, nullptr) == best_any) methods.insert(r.method);
  }
  RouteMatch m;
  m.status = 405;
  for (const std::string& x : methods) m.allow += (m.allow.empty() ? "" : ", ") + x;
  return m;
}

}  // namespace sp::http
