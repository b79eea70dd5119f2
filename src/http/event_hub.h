// EventHub: fans one sequence of Server-Sent Events out to many streams. Events carry increasing
// ids from their source (the store's state-event ids, which survive a restart); the hub keeps
// the last `capacity` of them. A stream that resumes with Last-Event-ID gets what it missed from
// the buffer, or from `backfill` (the store) when the buffer no longer reaches back that far,
// or an `event: reset` (refetch everything) when neither can; never a silent gap.
//
// Events without an id (`id == 0`: a cluster or DAG-list change) are delivered to streams open
// at the time and are not replayed. Each stream filters by topic (e.g. a DAG id; "" = all).
// A stream that falls more than `capacity` events behind is reset rather than buffered without
// bound, so a slow client costs bounded memory. The backfill is read only in Subscribe() (called
// on a handler thread), never while the server's I/O thread takes events.
//
// Thread safety: Publish and Subscribe from any thread; streams are read on the server's I/O
// thread. Wakes are coalesced: a stream is woken once until it has taken its events.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "http/event_stream.h"

namespace sp::http {

struct HubEvent {
  int64_t id = 0;     // 0: not resumable
  std::string type;   // SSE `event:`
  std::string data;   // one line of JSON
  std::string topic;  // matched against a stream's filter ("" reaches every stream)
};

class EventHub {
 public:
  // Events with ids in (after, ...], oldest first, at most `limit`; for resumes from before
  // the buffer.
  using Backfill = std::function<Result<std::vector<HubEvent>>(int64_t after, int limit)>;

  explicit EventHub(size_t capacity = 10000, Backfill backfill = nullptr);

  void Publish(HubEvent event);
  // Publishes several events and wakes the streams once.
  void PublishAll(std::vector<HubEvent> events);
  // `last_event_id`: the id the client saw last (nullopt: a new client, from now on). Reads what
  // the client missed now (from the backfill if need be), so call it off the I/O thread.
  // `topic`: "" for every event, else only events of that topic (and topic-less ones).
  std::shared_ptr<EventStream> Subscribe(std::optional<int64_t> last_event_id, std::string topic);

  // Where the source stands before anything is published (events up to `id` exist, to be
  // backfilled for clients that resume from before it).
  void SetLastId(int64_t id);
  int64_t last_id() const;
  size_t open_streams() const;

 private:
  class Stream;
  friend class Stream;
  // Fills `out` with the SSE text of events after `*cursor` for `topic`; false when the stream
  // must be reset (it fell behind the buffer and the backfill, when allowed, could not help).
  bool Collect(int64_t* cursor, uint64_t* transient_seen, const std::string& topic,
               std::string* out, bool allow_backfill);
  void WakeAll();

  const size_t capacity_;
  Backfill backfill_;
  mutable std::mutex mu_;
  std::deque<HubEvent> events_;                          // resumable, ids increasing; mu_
  std::deque<std::pair<uint64_t, HubEvent>> transient_;  // (sequence, event); mu_
  uint64_t transient_seq_ = 0;                           // mu_
  int64_t last_id_ = 0;                                  // mu_
  std::vector<std::weak_ptr<Stream>> streams_;           // mu_
  std::atomic<size_t> open_{0};
};

// One SSE frame: "id: 7\nevent: task\ndata: {...}\n\n" (no id line for id 0).
std::string FormatEvent(const HubEvent& e);

}  // namespace sp::http
