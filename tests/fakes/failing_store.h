// FailingStore: a Store that passes everything to a real store but fails the commits a test
// chooses (fault injection: a disk error or a busy database cannot be produced on demand).
// With AnswerLost, a failed commit is made first and its answer lost, as when a PostgreSQL
// session dies after COMMIT reached the server (a fault that cannot be timed for real);
// AnswerLostThenUnreadable adds an outage: the next kUnreadableReads reads of task instances
// fail (Unavailable) too.
#pragma once

#include <functional>
#include <memory>
#include <mutex>

#include "store/store.h"

namespace sp::fakes {

class FailingStore : public store::Store {
 public:
  // `fail` sees each Mutation and its 1-based commit number; a non-OK result is returned
  // instead of committing.
  using Rule = std::function<Status(const store::Mutation&, int commit_number)>;

  enum class Failure { kNothingCommitted, kAnswerLost, kAnswerLostThenUnreadable };
  static constexpr int kUnreadableReads = 7;

  FailingStore(std::unique_ptr<store::Store> inner, Rule rule,
               Failure failure = Failure::kNothingCommitted)
      : inner_(std::move(inner)), rule_(std::move(rule)), failure_(failure) {}

  int failures() const {
    std::lock_guard<std::mutex> lock(mu_);
    return failures_;
  }

  Status Commit(const store::Mutation& m) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      Status s = rule_(m, ++commits_);
      if (!s.ok()) {
        ++failures_;
        if (failure_ != Failure::kNothingCommitted) inner_->Commit(m).IgnoreError();
        if (failure_ == Failure::kAnswerLostThenUnreadable) unreadable_ = kUnreadableReads;
        return s;
      }
    }
    return inner_->Commit(m);
  }
  Result<std::vector<store::DagRecord>> ListDags() override { return inner_->ListDags(); }
  Result<std::optional<store::DagRecord>> GetDag(const std::string& id) override {
    return inner_->GetDag(id);
  }
  Result<std::vector<store::DagRun>> ListRuns(const store::RunFilter& f) override {
    return inner_->ListRuns(f);
  }
  Result<std::optional<store::DagRun>> GetRun(int64_t id) override { return inner_->GetRun(id); }
  Result<std::optional<store::DagRun>> FindRun(const std::string& d,
                                               const std::string& r) override {
    return inner_->FindRun(d, r);
  }
  Result<std::vector<store::TaskInstance>> ListTaskInstances(int64_t run) override {
    RETURN_IF_ERROR(Outage());
    return inner_->ListTaskInstances(run);
  }
  Result<std::optional<store::TaskInstance>> GetTaskInstance(int64_t run,
                                                             const std::string& task) override {
    RETURN_IF_ERROR(Outage());
    return inner_->GetTaskInstance(run, task);
  }
  Result<std::vector<store::TaskInstance>> ListTaskInstancesOfRuns(
      const std::vector<int64_t>& runs) override {
    return inner_->ListTaskInstancesOfRuns(runs);
  }
  Result<store::StateCounts> CountStates() override { return inner_->CountStates(); }
  Result<std::vector<store::StateEvent>> ListEventsAfter(int64_t after, int limit) override {
    return inner_->ListEventsAfter(after, limit);
  }
  Result<std::vector<store::StateEvent>> ListEvents(int64_t run) override {
    return inner_->ListEvents(run);
  }
  Result<int64_t> MaxRunId() override { return inner_->MaxRunId(); }
  Result<bool> RelayedCommandAnswered(int64_t id) override {
    RETURN_IF_ERROR(Outage());
    return inner_->RelayedCommandAnswered(id);
  }
  Result<int64_t> MaxEventId() override { return inner_->MaxEventId(); }
  Result<int64_t> RunsVersion() override { return inner_->RunsVersion(); }
  Result<std::vector<store::ClusterRecord>> ListClusters(bool deleted) override {
    return inner_->ListClusters(deleted);
  }
  Result<std::vector<store::ConnectionRecord>> ListConnections() override {
    return inner_->ListConnections();
  }
  Result<std::optional<store::ConnectionRecord>> GetConnection(const std::string& id) override {
    return inner_->GetConnection(id);
  }

 private:
  Status Outage() {
    std::lock_guard<std::mutex> lock(mu_);
    if (unreadable_ == 0) return OkStatus();
    --unreadable_;
    return UnavailableError("injected: the store cannot be read");
  }

  std::unique_ptr<store::Store> inner_;
  Rule rule_;
  Failure failure_;
  mutable std::mutex mu_;
  int commits_ = 0;
  int failures_ = 0;
  int unreadable_ = 0;  // reads of task instances still to fail
};

}  // namespace sp::fakes
