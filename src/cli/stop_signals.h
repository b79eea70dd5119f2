// StopSignals: how a foreground command (a local `cluster create`, `notebook start`) waits for
// Ctrl-C or SIGTERM. Blocks SIGINT and SIGTERM in the calling thread, and so in the threads it
// starts afterwards, so they can be waited for; restores the old mask when destroyed. Make one
// before any thread starts.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <ctime>

namespace sp::cli {

class StopSignals {
 public:
  StopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~StopSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Waits up to `ms` for a stop signal; true if one came.
  bool Wait(long ms) const {
    timespec ts{ms / 1000, (ms % 1000) * 1000000};
    return sigtimedwait(&set_, nullptr, &ts) > 0;
  }

 private:
  sigset_t set_;
  sigset_t old_;
};

}  // namespace sp::cli
