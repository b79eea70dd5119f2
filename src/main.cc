// The sparkplane binary: all behaviour lives in cli/.
#include "cli/cli.h"

int main(int argc, char** argv) { return sp::cli::Main(argc, argv); }
