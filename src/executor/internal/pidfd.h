// pidfd system calls. glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37), so C++ code
// cannot link against its declarations; these call the system calls directly.
//
// Thread safety: stateless.
#pragma once

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sp::executor::internal {

// A descriptor that becomes readable when `pid` exits; -1 with errno on failure.
inline int PidfdOpen(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

inline int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

}  // namespace sp::executor::internal
