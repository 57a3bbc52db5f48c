// The C ABI Exim calls through ${dlfunc}: the only file that includes
// local_scan.h. Each entry point adapts Exim's calling convention to
// Dispatch() and always returns OK: in an ACL a forced failure would count
// as true and any other failure turns every RCPT into a 451, so errors are
// reported inside the result string instead (fail open).
//
// Only the symbols Exim exports may be referenced (log_write, expand_string,
// string_copy_function, ...); the module is linked with -z now so a missing
// one fails at dlopen instead of killing Exim at the first call.
#include <string>

#include "exim/dispatch.h"

#define DLFUNC_IMPL
extern "C" {
#include <local_scan.h>
}

#define SENDERWATCH_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

class EximHost final : public senderwatch::exim::Host {
 public:
  void LogMain(std::string_view line) noexcept override {
    log_write(0, LOG_MAIN, "%.*s", static_cast<int>(line.size()), line.data());
  }
  std::string SpoolDirectory() noexcept override { return ExpandLiteral("$spool_directory"); }
  std::string EximUid() noexcept override { return ExpandLiteral("$exim_uid"); }
  std::string EximGid() noexcept override { return ExpandLiteral("$exim_gid"); }

 private:
  // Expands one of Exim's own variables: a literal with no tainted data.
  static std::string ExpandLiteral(const char* variable) noexcept {
    try {
      const uschar* value = expand_string(const_cast<uschar*>(reinterpret_cast<const uschar*>(variable)));
      return value != nullptr ? std::string(reinterpret_cast<const char*>(value)) : std::string();
    } catch (...) {
      return {};
    }
  }
};

int Call(senderwatch::exim::Function function, uschar** yield, int argc, uschar* argv[]) noexcept {
  try {
    EximHost host;
    const std::string result = senderwatch::exim::Dispatch(
        function, argc, reinterpret_cast<const char* const*>(argv), host);
    // Exim copies an OK result into the expansion at once; a copy in Exim's
    // pool keeps the pointer valid however Exim uses it.
    *yield = string_copy(reinterpret_cast<const uschar*>(result.c_str()));
  } catch (...) {
    *yield = const_cast<uschar*>(US"verdict=ok error=internal");
  }
  return OK;
}

}  // namespace

SENDERWATCH_EXPORT int check_sender(uschar** yield, int argc, uschar* argv[]) noexcept {
  return Call(senderwatch::exim::Function::kCheckSender, yield, argc, argv);
}

SENDERWATCH_EXPORT int peek_sender(uschar** yield, int argc, uschar* argv[]) noexcept {
  return Call(senderwatch::exim::Function::kPeekSender, yield, argc, argv);
}

SENDERWATCH_EXPORT int record_bounce(uschar** yield, int argc, uschar* argv[]) noexcept {
  return Call(senderwatch::exim::Function::kRecordBounce, yield, argc, argv);
}

SENDERWATCH_EXPORT int record_defer(uschar** yield, int argc, uschar* argv[]) noexcept {
  return Call(senderwatch::exim::Function::kRecordDefer, yield, argc, argv);
}

SENDERWATCH_EXPORT int record_authfail(uschar** yield, int argc, uschar* argv[]) noexcept {
  return Call(senderwatch::exim::Function::kRecordAuthfail, yield, argc, argv);
}

// Not a check: the daemon's warm-up (dispatch.h, Function::kPreload).
SENDERWATCH_EXPORT int preload(uschar** yield, int argc, uschar* argv[]) noexcept {
  return Call(senderwatch::exim::Function::kPreload, yield, argc, argv);
}
