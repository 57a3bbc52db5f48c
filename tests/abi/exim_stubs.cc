// Stand-ins for the Exim symbols senderwatch.so imports, exported from the
// test binary (ENABLE_EXPORTS) so dlopen resolves them here as it would in
// /usr/sbin/exim4. log_write lines are kept for assertions.
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "exim_stubs.h"

namespace abi_test {
std::vector<std::string>& MainLog() {
  static std::vector<std::string> lines;
  return lines;
}
std::string& SpoolDirectory() {
  static std::string spool;
  return spool;
}
std::string& EximUid() {
  static std::string uid;
  return uid;
}
std::string& EximGid() {
  static std::string gid;
  return gid;
}
std::string& MainLogFile() {
  static std::string path;
  return path;
}
}  // namespace abi_test

extern "C" __attribute__((visibility("default"))) void log_write(unsigned int, int, const char* format, ...) {
  char buffer[4096];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  abi_test::MainLog().emplace_back(buffer);
  // Processes the plugin forks (the notify watcher) log here too.
  if (!abi_test::MainLogFile().empty()) {
    if (FILE* f = std::fopen(abi_test::MainLogFile().c_str(), "a")) {
      std::fprintf(f, "%s\n", buffer);
      std::fclose(f);
    }
  }
}

extern "C" __attribute__((visibility("default"))) unsigned char* expand_string(unsigned char* s) {
  if (std::strcmp(reinterpret_cast<char*>(s), "$spool_directory") == 0) {
    return reinterpret_cast<unsigned char*>(abi_test::SpoolDirectory().data());
  }
  if (std::strcmp(reinterpret_cast<char*>(s), "$exim_uid") == 0) {
    return reinterpret_cast<unsigned char*>(abi_test::EximUid().data());
  }
  if (std::strcmp(reinterpret_cast<char*>(s), "$exim_gid") == 0) {
    return reinterpret_cast<unsigned char*>(abi_test::EximGid().data());
  }
  return s;
}

// Exim's pool is never freed during a test; strdup is the closest stand-in.
extern "C" __attribute__((visibility("default"))) unsigned char* string_copy_function(const unsigned char* s) {
  return reinterpret_cast<unsigned char*>(strdup(reinterpret_cast<const char*>(s)));
}
