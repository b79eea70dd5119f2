// Prometheus text exposition (see metrics.h).
#include "api/metrics.h"

#include <cstdio>
#include <tuple>

namespace sp::api {

void Histogram::Observe(std::chrono::microseconds took) {
  double s = static_cast<double>(took.count()) / 1e6;
  size_t i = 0;
  while (i < kBounds.size() && s > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<uint64_t>(std::max<int64_t>(took.count(), 0)),
                    std::memory_order_relaxed);
}

void Histogram::Render(const std::string& name, const std::string& labels, std::string* out) const {
  const std::string sep = labels.empty() ? "" : labels + ",";
  uint64_t cumulative = 0;
  char buf[64];
  for (size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    std::snprintf(buf, sizeof buf, "%g", kBounds[i]);
    *out += name + "_bucket{" + sep + "le=\"" + buf + "\"} " + std::to_string(cumulative) + "\n";
  }
  cumulative += buckets_[kBounds.size()].load(std::memory_order_relaxed);
  *out += name + "_bucket{" + sep + "le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(sum_us_.load()) / 1e6);
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  *out += name + "_sum" + braces + " " + buf + "\n";
  *out += name + "_count" + braces + " " + std::to_string(count_.load()) + "\n";
}

void Metrics::ObserveRequest(const std::string& method, const std::string& route, int status,
                             std::chrono::microseconds took) {
  std::lock_guard<std::mutex> lock(mu_);
  requests_[{method, route}].Observe(took);
  ++responses_[{method, route, status}];
}

void Metrics::ObserveCluster(const std::string& phase, std::chrono::microseconds took) {
  std::lock_guard<std::mutex> lock(mu_);
  clusters_[phase].Observe(took);
}

namespace {
std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}
}  // namespace

std::string Metrics::Render(const std::string& gauges) const {
  std::string out;
  out +=
      "# HELP sparkplane_scheduling_pass_seconds Time of one scheduling pass (decide, commit).\n";
  out += "# TYPE sparkplane_scheduling_pass_seconds histogram\n";
  pass_.Render("sparkplane_scheduling_pass_seconds", "", &out);
  out +=
      "# HELP sparkplane_task_start_latency_seconds From a try's launch decision to its start.\n";
  out += "# TYPE sparkplane_task_start_latency_seconds histogram\n";
  task_start_.Render("sparkplane_task_start_latency_seconds", "", &out);
  std::lock_guard<std::mutex> lock(mu_);
  out += "# HELP sparkplane_http_request_duration_seconds API request latency by route.\n";
  out += "# TYPE sparkplane_http_request_duration_seconds histogram\n";
  for (const auto& [key, h] : requests_) {
    h.Render("sparkplane_http_request_duration_seconds",
             "method=\"" + key.first + "\",route=\"" + Escape(key.second) + "\"", &out);
  }
  out += "# HELP sparkplane_http_responses_total API responses by route and status.\n";
  out += "# TYPE sparkplane_http_responses_total counter\n";
  for (const auto& [key, n] : responses_) {
    out += "sparkplane_http_responses_total{method=\"" + std::get<0>(key) + "\",route=\"" +
           Escape(std::get<1>(key)) + "\",status=\"" + std::to_string(std::get<2>(key)) + "\"} " +
           std::to_string(n) + "\n";
  }
  out +=
      "# HELP sparkplane_cluster_phase_seconds On-demand cluster create/ready/delete durations.\n";
  out += "# TYPE sparkplane_cluster_phase_seconds histogram\n";
  for (const auto& [phase, h] : clusters_) {
    h.Render("sparkplane_cluster_phase_seconds", "phase=\"" + Escape(phase) + "\"", &out);
  }
  out += gauges;
  return out;
}

}  // namespace sp::api
