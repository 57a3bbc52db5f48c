// The cheapest possible ${dlfunc} module: no C++ runtime, no dependencies.
// The cold-start benchmark uses it as the floor of what any plugin costs an
// Exim process (dlopen of a file, one relocation pass, one dlsym).
extern "C" __attribute__((visibility("default"))) int noop(unsigned char** yield, int,
                                                            unsigned char**) {
  *yield = nullptr;
  return 0;  // OK
}
