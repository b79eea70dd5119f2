// AdHocTaskContext; see ad_hoc_try.h.
#include "operators/ad_hoc_try.h"

namespace sp::operators {

AdHocTaskContext::AdHocTaskContext(const Services* services, const std::string& task_type,
                                   nlohmann::json fields,
                                   std::function<void(const std::string&)> log)
    : log_(std::move(log)) {
  run_id_ = "ad-hoc";
  run_key_ = 0;
  task_id_ = "cluster";
  try_number_ = 1;
  fields_ = std::move(fields);
  services_ = services;
  spec_storage_.id = task_id_;
  spec_storage_.type = task_type;
  spec_storage_.fields = fields_;
  spec_ = &spec_storage_;
}

void AdHocTaskContext::Complete(TaskResult result) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!result_) result_ = std::move(result);
  cv_.notify_all();
}

void AdHocTaskContext::AppendLog(const std::string& line) const {
  if (log_) log_(line);
}

bool AdHocTaskContext::done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return result_.has_value();
}

TaskResult AdHocTaskContext::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return result_.has_value(); });
  return *result_;
}

}  // namespace sp::operators
