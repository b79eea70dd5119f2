// EventStream: the body of a Server-Sent Events response. The server calls Take() on its I/O
// thread whenever the stream was woken (by the waker it installed), every poll_interval() and
// after each heartbeat, and writes what Take() returns; it stops when Finished() turns true or
// the client goes away. Take() must not block for long: it runs on the only I/O thread.
#pragma once

#include <functional>
#include <string>

#include "common/clock.h"

namespace sp::http {

class EventStream {
 public:
  virtual ~EventStream() = default;
  // SSE text ready to send ("id: ..\nevent: ..\ndata: ..\n\n"...), possibly empty.
  virtual std::string Take() = 0;
  virtual bool Finished() const = 0;
  // Installed once, before the first Take(); callable from any thread, any number of times.
  virtual void SetWaker(std::function<void()> wake) = 0;
  // 0: Take() only on wakes (and heartbeats).
  virtual Millis poll_interval() const { return Millis(0); }
};

}  // namespace sp::http
