// The LMDB wrapper (see lmdb_env.h). Every function here is one LMDB call
// plus the translation of its return code; policy (retries, rebuilds,
// syncing) lives in the store (lmdb_store_impl.h).
#include "store/lmdb_env.h"

#include <unistd.h>

#include <string>


namespace senderwatch::lmdb {
namespace {

MDB_val ToVal(std::string_view bytes) {
  // LMDB does not write through mv_data for keys and input values.
  return MDB_val{bytes.size(), const_cast<char*>(bytes.data())};
}

std::string_view FromVal(const MDB_val& val) {
  return {static_cast<const char*>(val.mv_data), val.mv_size};
}

}  // namespace

ErrorKind KindOf(int rc) {
  if (rc == MDB_MAP_FULL) return ErrorKind::kStoreFull;
  if (IsCorruption(rc)) return ErrorKind::kStoreCorrupt;
  return ErrorKind::kStoreIo;
}

bool IsCorruption(int rc) {
  return rc == MDB_INVALID || rc == MDB_CORRUPTED ||
         rc == MDB_VERSION_MISMATCH || rc == MDB_PAGE_NOTFOUND;
}

Error CallError(std::string_view call, int rc) {
  std::string message(call);
  message += ": ";
  message += mdb_strerror(rc);  // "MDB_MAP_FULL: ..." or strerror(errno)
  return Error{KindOf(rc), std::move(message), rc};
}

Result<void> Check(std::string_view call, int rc) {
  if (rc == 0) return {};
  return std::unexpected(CallError(call, rc));
}

// ---- Env ----------------------------------------------------------------

Env::~Env() { Close(); }

Env& Env::operator=(Env&& other) noexcept {
  if (this != &other) {
    Close();
    env_ = std::exchange(other.env_, nullptr);
    pid_ = std::exchange(other.pid_, 0);
  }
  return *this;
}

Result<Env> Env::Create() {
  Env env;
  if (auto r = Check("mdb_env_create", mdb_env_create(&env.env_)); !r) {
    env.env_ = nullptr;
    return std::unexpected(r.error());
  }
  env.pid_ = ::getpid();
  return env;
}

Result<void> Env::SetMapSize(size_t bytes) {
  return Check("mdb_env_set_mapsize", mdb_env_set_mapsize(env_, bytes));
}

Result<void> Env::SetMaxReaders(unsigned int readers) {
  return Check("mdb_env_set_maxreaders", mdb_env_set_maxreaders(env_, readers));
}

Result<void> Env::SetMaxDbs(MDB_dbi dbs) {
  return Check("mdb_env_set_maxdbs", mdb_env_set_maxdbs(env_, dbs));
}

Result<void> Env::Open(const std::string& path, unsigned int flags, mdb_mode_t mode) {
  return Check("mdb_env_open", mdb_env_open(env_, path.c_str(), flags, mode));
}

Result<int> Env::ReaderCheck() {
  int dead = 0;
  if (auto r = Check("mdb_reader_check", mdb_reader_check(env_, &dead)); !r) {
    return std::unexpected(r.error());
  }
  return dead;
}

Result<void> Env::Sync(bool force) {
  return Check("mdb_env_sync", mdb_env_sync(env_, force ? 1 : 0));
}

Result<MDB_envinfo> Env::Info() const {
  MDB_envinfo info{};
  if (auto r = Check("mdb_env_info", mdb_env_info(env_, &info)); !r) {
    return std::unexpected(r.error());
  }
  return info;
}

Result<MDB_stat> Env::Stat() const {
  MDB_stat stat{};
  if (auto r = Check("mdb_env_stat", mdb_env_stat(env_, &stat)); !r) {
    return std::unexpected(r.error());
  }
  return stat;
}

int Env::MaxKeySize() const { return mdb_env_get_maxkeysize(env_); }

void Env::Close() noexcept {
  if (env_ != nullptr && ::getpid() == pid_) mdb_env_close(env_);
  // In another process the handle is deliberately leaked (see the header).
  env_ = nullptr;
  pid_ = 0;
}

// ---- Txn ----------------------------------------------------------------

Txn::~Txn() { Abort(); }

Txn& Txn::operator=(Txn&& other) noexcept {
  if (this != &other) {
    Abort();
    txn_ = std::exchange(other.txn_, nullptr);
    pid_ = std::exchange(other.pid_, 0);
  }
  return *this;
}

Result<Txn> Txn::Begin(const Env& env, unsigned int flags) {
  Txn txn;
  if (auto r = Check("mdb_txn_begin", mdb_txn_begin(env.get(), nullptr, flags, &txn.txn_));
      !r) {
    txn.txn_ = nullptr;
    return std::unexpected(r.error());
  }
  txn.pid_ = env.owner_pid();
  return txn;
}

Result<void> Txn::Commit() {
  MDB_txn* txn = std::exchange(txn_, nullptr);
  return Check("mdb_txn_commit", mdb_txn_commit(txn));
}

void Txn::Abort() noexcept {
  if (txn_ != nullptr && ::getpid() == pid_) mdb_txn_abort(txn_);
  txn_ = nullptr;
}

Result<std::optional<MDB_dbi>> Txn::OpenDbi(const char* name, unsigned int flags) {
  MDB_dbi dbi = 0;
  const int rc = mdb_dbi_open(txn_, name, flags, &dbi);
  if (rc == MDB_NOTFOUND) return std::optional<MDB_dbi>();
  if (auto r = Check("mdb_dbi_open", rc); !r) return std::unexpected(r.error());
  return std::optional<MDB_dbi>(dbi);
}

Result<std::optional<std::string_view>> Txn::Get(MDB_dbi dbi, std::string_view key) {
  MDB_val k = ToVal(key);
  MDB_val v{};
  const int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
  if (auto r = Check("mdb_get", rc); !r) return std::unexpected(r.error());
  return std::optional<std::string_view>(FromVal(v));
}

Result<void> Txn::Put(MDB_dbi dbi, std::string_view key, std::string_view value,
                      unsigned int flags) {
  MDB_val k = ToVal(key);
  MDB_val v = ToVal(value);
  return Check("mdb_put", mdb_put(txn_, dbi, &k, &v, flags));
}

Result<bool> Txn::Del(MDB_dbi dbi, std::string_view key) {
  MDB_val k = ToVal(key);
  const int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  if (auto r = Check("mdb_del", rc); !r) return std::unexpected(r.error());
  return true;
}

Result<MDB_stat> Txn::Stat(MDB_dbi dbi) {
  MDB_stat stat{};
  if (auto r = Check("mdb_stat", mdb_stat(txn_, dbi, &stat)); !r) {
    return std::unexpected(r.error());
  }
  return stat;
}

// ---- Cursor -------------------------------------------------------------

Cursor& Cursor::operator=(Cursor&& other) noexcept {
  if (this != &other) {
    Close();
    cursor_ = std::exchange(other.cursor_, nullptr);
  }
  return *this;
}

Result<Cursor> Cursor::Open(const Txn& txn, MDB_dbi dbi) {
  Cursor cursor;
  if (auto r = Check("mdb_cursor_open", mdb_cursor_open(txn.get(), dbi, &cursor.cursor_));
      !r) {
    cursor.cursor_ = nullptr;
    return std::unexpected(r.error());
  }
  return cursor;
}

Result<std::optional<Cursor::Entry>> Cursor::Get(MDB_cursor_op op, std::string_view key) {
  MDB_val k = ToVal(key);
  MDB_val v{};
  const int rc = mdb_cursor_get(cursor_, &k, &v, op);
  if (rc == MDB_NOTFOUND) return std::optional<Entry>();
  if (auto r = Check("mdb_cursor_get", rc); !r) return std::unexpected(r.error());
  return std::optional<Entry>(Entry{FromVal(k), FromVal(v)});
}

Result<void> Cursor::Del() {
  return Check("mdb_cursor_del", mdb_cursor_del(cursor_, 0));
}

Result<void> Cursor::Put(std::string_view key, std::string_view value, unsigned int flags) {
  MDB_val k = ToVal(key);
  MDB_val v = ToVal(value);
  return Check("mdb_cursor_put", mdb_cursor_put(cursor_, &k, &v, flags));
}

void Cursor::Close() noexcept {
  if (cursor_ != nullptr) mdb_cursor_close(cursor_);
  cursor_ = nullptr;
}

}  // namespace senderwatch::lmdb
