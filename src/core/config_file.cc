// One reader for every file that configures senderwatch, so the policy file
// and the files it names get the same checks (see config_file.h).
#include "senderwatch/config_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "core/bounded_file.h"

namespace senderwatch {
namespace {

std::string Describe(std::string_view what, const std::string& path) {
  return std::string(what) + " " + path;
}

}  // namespace

bool FileTrust::Trusts(uid_t uid) const {
  return std::find(owners.begin(), owners.end(), uid) != owners.end();
}

FileTrust DefaultFileTrust() {
  FileTrust trust;
  trust.owners.push_back(0);
  if (::geteuid() != 0) trust.owners.push_back(::geteuid());
  return trust;
}

Result<std::string> ReadConfigFile(const std::string& path, std::string_view what,
                                   size_t max_bytes, const FileTrust& trust) {
  // Non-blocking, regular files only, bounded: the reader shared with the
  // store's lock journal (core/bounded_file.h).
  auto file = internal::ReadBoundedFile(
      path, {.what = what, .kind = ErrorKind::kConfig, .max_bytes = max_bytes});
  if (!file) return std::unexpected(file.error());
  const struct stat& st = file->st;
  // Exim's rule for its own configure file: whoever can write this file
  // chooses what senderwatch does in processes that run as root.
  if (!trust.Trusts(st.st_uid)) {
    return MakeError(ErrorKind::kConfig,
                     Describe(what, path) + " is owned by uid " + std::to_string(st.st_uid) +
                         ", not by root or the Exim user: refused");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return MakeError(ErrorKind::kConfig,
                     Describe(what, path) + " is writable by its group or by others: refused");
  }
  return std::move(file->text);
}

}  // namespace senderwatch
