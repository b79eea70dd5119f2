// EventHub (see event_hub.h).
#include "http/event_hub.h"

#include <algorithm>

namespace sp::http {

namespace {
constexpr int kMaxPerTake = 1000;       // events per write, so one stream cannot hog the loop
constexpr size_t kTransientKept = 256;  // id-less events kept for streams about to take them
}  // namespace

std::string FormatEvent(const HubEvent& e) {
  std::string out;
  if (e.id > 0) out += "id: " + std::to_string(e.id) + "\n";
  out += "event: " + e.type + "\n";
  // SSE data cannot hold a raw newline; JSON from nlohmann's dump() never has one, but a
  // caller's text might: each line becomes its own data: line, which the client joins again.
  size_t start = 0;
  for (;;) {
    size_t nl = e.data.find('\n', start);
    out += "data: " + e.data.substr(start, nl - start) + "\n";
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  out += "\n";
  return out;
}

class EventHub::Stream : public EventStream {
 public:
  Stream(EventHub* hub, std::optional<int64_t> cursor, std::string topic, uint64_t transient_seen)
      : hub_(hub), topic_(std::move(topic)), transient_seen_(transient_seen) {
    if (cursor) {
      cursor_ = *cursor;
    } else {
      cursor_ = hub->last_id();
    }
    hub_->open_.fetch_add(1);
  }
  ~Stream() override { hub_->open_.fetch_sub(1); }

  // The first collection, on the subscribing (pool) thread: the only one allowed to read the
  // backfill, so the I/O thread never waits on the store.
  void Prime() {
    primed_ = "retry: 2000\n\n";
    if (!hub_->Collect(&cursor_, &transient_seen_, topic_, &primed_, /*allow_backfill=*/true)) {
      primed_ +=
          FormatEvent(HubEvent{0, "reset", R"({"reason":"events were missed; refetch"})", ""});
      cursor_ = hub_->last_id();
    }
  }

  std::string Take() override {
    pending_.store(false);
    std::string out = std::move(primed_);
    primed_.clear();
    if (!hub_->Collect(&cursor_, &transient_seen_, topic_, &out, /*allow_backfill=*/false)) {
      out += FormatEvent(HubEvent{0, "reset", R"({"reason":"events were missed; refetch"})", ""});
      cursor_ = hub_->last_id();
    }
    if (cursor_ < hub_->last_id()) Wake();  // more than one take's worth: come back at once
    return out;
  }
  bool Finished() const override { return false; }
  void SetWaker(std::function<void()> wake) override {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = std::move(wake);
  }
  void Wake() {
    if (pending_.exchange(true)) return;  // already woken, not yet taken
    std::lock_guard<std::mutex> lock(mu_);
    if (wake_) wake_();
  }

 private:
  EventHub* hub_;
  std::string topic_;
  int64_t cursor_ = 0;
  uint64_t transient_seen_;
  std::string primed_;
  std::atomic<bool> pending_{false};
  std::mutex mu_;
  std::function<void()> wake_;  // mu_
};

EventHub::EventHub(size_t capacity, Backfill backfill)
    : capacity_(std::max<size_t>(capacity, 1)), backfill_(std::move(backfill)) {}

void EventHub::Publish(HubEvent event) {
  std::vector<HubEvent> one;
  one.push_back(std::move(event));
  PublishAll(std::move(one));
}

void EventHub::PublishAll(std::vector<HubEvent> events) {
  if (events.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (HubEvent& e : events) {
      if (e.id > 0) {
        if (e.id <= last_id_) continue;  // already published (a feed re-read)
        last_id_ = e.id;
        events_.push_back(std::move(e));
        if (events_.size() > capacity_) events_.pop_front();
      } else {
        transient_.emplace_back(++transient_seq_, std::move(e));
        if (transient_.size() > kTransientKept) transient_.pop_front();
      }
    }
  }
  WakeAll();
}

void EventHub::WakeAll() {
  std::vector<std::shared_ptr<Stream>> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto keep = streams_.begin();
    for (auto& w : streams_) {
      if (auto s = w.lock()) {
        live.push_back(std::move(s));
        *keep++ = w;
      }
    }
    streams_.erase(keep, streams_.end());
  }
  for (auto& s : live) s->Wake();
}

std::shared_ptr<EventStream> EventHub::Subscribe(std::optional<int64_t> last_event_id,
                                                 std::string topic) {
  uint64_t seen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seen = transient_seq_;
  }
  auto stream = std::make_shared<Stream>(this, last_event_id, std::move(topic), seen);
  stream->Prime();
  std::lock_guard<std::mutex> lock(mu_);
  streams_.push_back(stream);
  return stream;
}

void EventHub::SetLastId(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  last_id_ = std::max(last_id_, id);
}

int64_t EventHub::last_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_id_;
}

size_t EventHub::open_streams() const {
  return open_.load();
}

bool EventHub::Collect(int64_t* cursor, uint64_t* transient_seen, const std::string& topic,
                       std::string* out, bool allow_backfill) {
  auto wanted = [&](const HubEvent& e) {
    return topic.empty() || e.topic.empty() || e.topic == topic;
  };
  std::vector<HubEvent> backfilled;
  bool need_backfill = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [seq, e] : transient_) {
      if (seq > *transient_seen && wanted(e)) *out += FormatEvent(e);
    }
    *transient_seen = transient_seq_;
    // An id from the future (another or a reset database) would stall the stream until the
    // ids caught up: a reset says so instead.
    if (*cursor > last_id_) return false;
    if (*cursor == last_id_) return true;
    // The buffer holds every id above events_.front().id - 1 that was published; a cursor
    // below that missed events the buffer no longer has.
    if (events_.empty() || *cursor < events_.front().id - 1) {
      need_backfill = true;
    } else {
      auto it = std::upper_bound(events_.begin(), events_.end(), *cursor,
                                 [](int64_t c, const HubEvent& e) { return c < e.id; });
      int n = 0;
      for (; it != events_.end() && n < kMaxPerTake; ++it, ++n) {
        if (wanted(*it)) *out += FormatEvent(*it);
        *cursor = it->id;
      }
      return true;
    }
  }
  if (!need_backfill || !backfill_ || !allow_backfill) return false;
  // Read from the source (on the subscribing thread: see Stream::Prime), at most kMaxPerTake
  // rows; the rest comes from the buffer or, if the stream is still behind it, a reset.
  Result<std::vector<HubEvent>> rows = backfill_(*cursor, kMaxPerTake);
  if (!rows.ok()) return false;
  // The source may already hold events that are not published yet (the feed reads it every
  // so often): those come from the buffer once published, in order. Sending them here would put
  // the cursor past last_id_, which the next Collect takes for an id from the future: a reset
  // and the same events again.
  const int64_t published = last_id();
  bool any = false;
  for (const HubEvent& e : *rows) {
    if (e.id > published) break;
    if (wanted(e)) *out += FormatEvent(e);
    *cursor = e.id;
    any = true;
  }
  return any;
}

}  // namespace sp::http
