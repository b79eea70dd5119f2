// The command line: the only place that parses argv and prints for humans.
#pragma once

namespace sp::cli {
int Main(int argc, char** argv);
}
