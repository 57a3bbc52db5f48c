// Times dlopen() of a ${dlfunc} module in a fresh process, the way Exim loads
// it (RTLD_LAZY, once per process), plus the first call when a function name
// and arguments are given. Prints one line: "dlopen_ms=X first_call_ms=Y".
// This binary exports stand-ins for the Exim symbols the plugin imports, as
// tests/abi does, so the module resolves them here.
//
//   senderwatch_dlopen_timer MODULE.so [FUNCTION [ARG...]]
#include <dlfcn.h>
#include <time.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern "C" __attribute__((visibility("default"))) void log_write(unsigned int, int, const char*, ...) {}

extern "C" __attribute__((visibility("default"))) unsigned char* expand_string(unsigned char* s) {
  if (std::strcmp(reinterpret_cast<char*>(s), "$spool_directory") == 0) {
    const char* spool = std::getenv("SPOOL");
    return reinterpret_cast<unsigned char*>(const_cast<char*>(spool ? spool : "/tmp"));
  }
  return s;
}

extern "C" __attribute__((visibility("default"))) unsigned char* string_copy_function(
    const unsigned char* s) {
  return reinterpret_cast<unsigned char*>(strdup(reinterpret_cast<const char*>(s)));
}

namespace {
double NowMs() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODULE.so [FUNCTION [ARG...]]\n", argv[0]);
    return 2;
  }
  const double t0 = NowMs();
  void* handle = dlopen(argv[1], RTLD_LAZY);
  const double t1 = NowMs();
  if (handle == nullptr) {
    std::fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  double call_ms = 0;
  if (argc >= 3) {
    using DlFunc = int (*)(unsigned char**, int, unsigned char**);
    auto fn = reinterpret_cast<DlFunc>(dlsym(handle, argv[2]));
    if (fn == nullptr) {
      std::fprintf(stderr, "dlsym: %s\n", dlerror());
      return 1;
    }
    unsigned char* yield = nullptr;
    const double t2 = NowMs();
    fn(&yield, argc - 3, reinterpret_cast<unsigned char**>(argv + 3));
    call_ms = NowMs() - t2;
  }
  std::printf("dlopen_ms=%.4f first_call_ms=%.4f\n", t1 - t0, call_ms);
  return 0;
}
