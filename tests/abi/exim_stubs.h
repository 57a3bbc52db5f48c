// What the Exim stand-ins recorded (see exim_stubs.cc).
#ifndef SENDERWATCH_TESTS_ABI_EXIM_STUBS_H_
#define SENDERWATCH_TESTS_ABI_EXIM_STUBS_H_

#include <string>
#include <vector>

namespace abi_test {
std::vector<std::string>& MainLog();
std::string& SpoolDirectory();
}  // namespace abi_test

#endif  // SENDERWATCH_TESTS_ABI_EXIM_STUBS_H_
