// What the Exim stand-ins recorded (see exim_stubs.cc).
#ifndef SENDERWATCH_TESTS_ABI_EXIM_STUBS_H_
#define SENDERWATCH_TESTS_ABI_EXIM_STUBS_H_

#include <string>
#include <vector>

namespace abi_test {
std::vector<std::string>& MainLog();
std::string& SpoolDirectory();
// What $exim_uid and $exim_gid expand to (decimal; empty: unknown).
std::string& EximUid();
std::string& EximGid();
// When set, log_write also appends each line to this file, so lines logged
// by processes the plugin forks can be read back.
std::string& MainLogFile();
}  // namespace abi_test

#endif  // SENDERWATCH_TESTS_ABI_EXIM_STUBS_H_
