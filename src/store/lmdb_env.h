// A two-layer C++ wrapper around LMDB, in the manner of lmdbxx, private to
// src/store. The first layer turns every LMDB return code into an Error that
// names the call and the code ("mdb_put: MDB_MAP_FULL: Environment mapsize
// limit reached"). The second layer is move-only RAII handles: an Env closes
// its environment, a Txn aborts unless committed, a Cursor closes itself.
//
// Process rules (the top of lmdb.h): an environment belongs to the process
// that opened it. After fork() the child must neither use nor close it, so
// Env and Txn remember the opening pid and, in any other process, their
// destructors leak the handle instead of touching LMDB: aborting an
// inherited read transaction would free the parent's reader slot.
//
// Lifetime: the string_views returned by Txn::Get and Cursor::Get point into
// the memory map and are valid only until the transaction ends (or, in a
// write transaction, until the next write). Copy what must outlive it.
#ifndef SENDERWATCH_SRC_STORE_LMDB_ENV_H_
#define SENDERWATCH_SRC_STORE_LMDB_ENV_H_

#include <lmdb.h>
#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "senderwatch/error.h"

namespace senderwatch::lmdb {

// ---- Layer 1: checked calls -------------------------------------------

// The ErrorKind an LMDB (or errno) code stands for: MDB_MAP_FULL is
// kStoreFull, damage codes are kStoreCorrupt, everything else kStoreIo.
ErrorKind KindOf(int rc);

// True for the codes that mean "this file is not a usable LMDB database":
// MDB_INVALID, MDB_CORRUPTED, MDB_VERSION_MISMATCH, MDB_PAGE_NOTFOUND.
bool IsCorruption(int rc);

// An Error for a failed call: message "CALL: mdb_strerror(rc)", code rc.
Error CallError(std::string_view call, int rc);

// Ok for rc == 0, else CallError.
Result<void> Check(std::string_view call, int rc);

// ---- Layer 2: RAII handles --------------------------------------------

class Env {
 public:
  Env() = default;
  ~Env();
  Env(Env&& other) noexcept { *this = std::move(other); }
  Env& operator=(Env&& other) noexcept;
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  // mdb_env_create. The handle belongs to the calling process.
  static Result<Env> Create();

  Result<void> SetMapSize(size_t bytes);
  Result<void> SetMaxReaders(unsigned int readers);
  Result<void> SetMaxDbs(MDB_dbi dbs);
  // mdb_env_open. After a failure the handle may only be destroyed.
  Result<void> Open(const std::string& path, unsigned int flags, mdb_mode_t mode);
  // mdb_reader_check: returns the number of stale reader slots cleared.
  Result<int> ReaderCheck();
  // mdb_env_sync(env, force).
  Result<void> Sync(bool force);
  Result<MDB_envinfo> Info() const;
  Result<MDB_stat> Stat() const;
  int MaxKeySize() const;

  // Closes now (a no-op outside the opening process, see above).
  void Close() noexcept;

  explicit operator bool() const { return env_ != nullptr; }
  MDB_env* get() const { return env_; }
  pid_t owner_pid() const { return pid_; }

 private:
  MDB_env* env_ = nullptr;
  pid_t pid_ = 0;
};

class Txn {
 public:
  Txn() = default;
  ~Txn();
  Txn(Txn&& other) noexcept { *this = std::move(other); }
  Txn& operator=(Txn&& other) noexcept;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  // mdb_txn_begin; `flags` is 0 for a write transaction or MDB_RDONLY.
  static Result<Txn> Begin(const Env& env, unsigned int flags);

  // mdb_txn_commit. The handle is gone afterwards, whatever the outcome.
  Result<void> Commit();
  // mdb_txn_abort (also what the destructor does).
  void Abort() noexcept;

  // mdb_dbi_open; nullopt when the named database does not exist and
  // MDB_CREATE was not given.
  Result<std::optional<MDB_dbi>> OpenDbi(const char* name, unsigned int flags);
  // mdb_get; nullopt when the key is absent.
  Result<std::optional<std::string_view>> Get(MDB_dbi dbi, std::string_view key);
  // mdb_put.
  Result<void> Put(MDB_dbi dbi, std::string_view key, std::string_view value,
                   unsigned int flags = 0);
  // mdb_del; false when the key was absent.
  Result<bool> Del(MDB_dbi dbi, std::string_view key);
  // mdb_stat.
  Result<MDB_stat> Stat(MDB_dbi dbi);

  explicit operator bool() const { return txn_ != nullptr; }
  MDB_txn* get() const { return txn_; }

 private:
  MDB_txn* txn_ = nullptr;
  pid_t pid_ = 0;
};

// A cursor must be destroyed (or closed) before its transaction ends.
class Cursor {
 public:
  using Entry = std::pair<std::string_view, std::string_view>;

  Cursor() = default;
  ~Cursor() { Close(); }
  Cursor(Cursor&& other) noexcept { *this = std::move(other); }
  Cursor& operator=(Cursor&& other) noexcept;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  // mdb_cursor_open.
  static Result<Cursor> Open(const Txn& txn, MDB_dbi dbi);

  // mdb_cursor_get with `op` (MDB_FIRST, MDB_NEXT, MDB_SET_RANGE with
  // `key`...); nullopt at the end.
  Result<std::optional<Entry>> Get(MDB_cursor_op op, std::string_view key = {});
  // mdb_cursor_del of the current entry; MDB_NEXT then yields the one after.
  Result<void> Del();
  // mdb_cursor_put (with MDB_CURRENT: replaces the current entry's value).
  Result<void> Put(std::string_view key, std::string_view value, unsigned int flags);
  void Close() noexcept;

 private:
  MDB_cursor* cursor_ = nullptr;
};

}  // namespace senderwatch::lmdb

#endif  // SENDERWATCH_SRC_STORE_LMDB_ENV_H_
