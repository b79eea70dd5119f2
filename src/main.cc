// The sparkplane binary: all behaviour lives in cli/.
#include <csignal>

#include "cli/cli.h"

int main(int argc, char** argv) {
  // A peer that hangs up (a CLI client interrupted before the server's answer, a probe that
  // timed out, a closed pipe or socket under libcurl) must be an EPIPE error where it happens,
  // not the end of the server. An ignored signal stays ignored across exec: code that starts
  // programs must restore SIG_DFL in the child (executor/internal/launch.cc resets every
  // disposition).
  std::signal(SIGPIPE, SIG_IGN);
  return sp::cli::Main(argc, argv);
}
