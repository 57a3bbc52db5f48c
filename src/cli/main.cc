// The `senderwatch` command: argv in, exit code out. Everything else is in
// cli.cc and the cmd_*.cc verbs.
#include <string>
#include <vector>

#include "cli/cli.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  return senderwatch::cli::RunCli(args);
}
