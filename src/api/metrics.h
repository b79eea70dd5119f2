// Metrics: the server's Prometheus text exposition (GET /metrics). Counters and histograms are
// kept here (lock-free where they are hot); gauges that live elsewhere (runs and task instances
// by state from the store, open event streams) are read when the page is rendered.
//
// Thread safety: every method is safe to call from several threads.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace sp::api {

// A histogram with fixed bucket bounds in seconds (Prometheus `le` buckets).
class Histogram {
 public:
  static constexpr std::array<double, 12> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                     0.01,   0.025,   0.05,   0.1,   0.5,    2.5};
  void Observe(std::chrono::microseconds took);
  // Appends `name{labels,le=..}` lines (bucket, sum, count).
  void Render(const std::string& name, const std::string& labels, std::string* out) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};  // last: +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_us_{0};
};

class Metrics {
 public:
  void ObservePass(std::chrono::microseconds took) { pass_.Observe(took); }
  void ObserveTaskStart(std::chrono::microseconds latency) { task_start_.Observe(latency); }
  // `route`: the route's pattern ("/api/v1/dags/{dag_id}"), so label values stay few.
  void ObserveRequest(const std::string& method, const std::string& route, int status,
                      std::chrono::microseconds took);
  void ObserveCluster(const std::string& phase, std::chrono::microseconds took);

  // The exposition text; `gauges` are appended as they are ("name{labels} value" lines with
  // their # TYPE lines).
  std::string Render(const std::string& gauges) const;

 private:
  Histogram pass_;
  Histogram task_start_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Histogram> requests_;        // (method, route); mu_
  std::map<std::tuple<std::string, std::string, int>, uint64_t> responses_;  // mu_
  std::map<std::string, Histogram> clusters_;                                // phase; mu_
};

}  // namespace sp::api
