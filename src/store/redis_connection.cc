// hiredis calls, checked (redis_connection.h).
#include "store/redis_connection.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <charconv>
#include <utility>

namespace senderwatch::store_internal {
namespace {

timeval ToTimeval(int64_t ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

bool ParseInt(std::string_view text, int& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

RedisReply Copy(const redisReply& reply) {
  RedisReply out;
  switch (reply.type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      out.type = reply.type == REDIS_REPLY_STRING   ? RedisReply::Type::kString
                 : reply.type == REDIS_REPLY_STATUS ? RedisReply::Type::kStatus
                                                    : RedisReply::Type::kError;
      out.str.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = reply.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(reply.elements);
      for (size_t i = 0; i < reply.elements; ++i) out.elements.push_back(Copy(*reply.element[i]));
      break;
    case REDIS_REPLY_NIL:
      break;
    default:  // RESP3 types (hiredis 1.x): never asked for (no HELLO 3)
      out.type = RedisReply::Type::kError;
      out.str = "unexpected reply type " + std::to_string(reply.type);
      break;
  }
  return out;
}

// hiredis writes with write(2): on a connection Redis has closed, the
// kernel raises SIGPIPE, which kills a process that has not ignored it, and
// the plugin must not change Exim's signal dispositions. So SIGPIPE is
// blocked in this thread while hiredis writes, and one it raised is taken
// off the pending set before the old mask returns; the write then fails
// with EPIPE, which is reported as an error like any other.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    // One pending already belongs to someone else: leave it alone.
    if (sigpending(&pending) == 0) was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    blocked_ = pthread_sigmask(SIG_BLOCK, &pipe_, &old_) == 0;
  }
  ~SigpipeBlocked() {
    if (!blocked_) return;
    sigset_t pending;
    sigemptyset(&pending);
    if (!was_pending_ && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
      const timespec no_wait{0, 0};
      (void)sigtimedwait(&pipe_, nullptr, &no_wait);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
  bool blocked_ = false;
};

}  // namespace

Result<RedisAddress> ParseRedisAddress(std::string_view text) {
  RedisAddress address;
  address.text = std::string(text);
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorKind::kConfig, "redis address '" + std::string(text) + "': " +
                                             std::string(why) +
                                             " (expected unix:/path or redis://host:port/db)");
  };
  if (text.starts_with("unix:")) {
    address.socket_path = std::string(text.substr(5));
    if (address.socket_path.empty() || address.socket_path.front() != '/') {
      return bad("the socket path must be absolute");
    }
    return address;
  }
  if (!text.starts_with("redis://")) return bad("unknown scheme");
  std::string_view rest = text.substr(8);
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    if (!ParseInt(rest.substr(slash + 1), address.db) || address.db < 0) {
      return bad("the database must be a number");
    }
    rest = rest.substr(0, slash);
  }
  if (rest.find('@') != std::string_view::npos) {
    return bad("put the password in redis_password_file, not in the address");
  }
  // "[::1]:6379" for IPv6, else "host:port".
  std::string_view host = rest;
  std::string_view port;
  if (rest.starts_with('[')) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("unclosed '['");
    host = rest.substr(1, close - 1);
    if (rest.size() > close + 1) {
      if (rest[close + 1] != ':') return bad("expected ':' after ']'");
      port = rest.substr(close + 2);
    }
  } else if (const size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) return bad("no host");
  if (!port.empty() && (!ParseInt(port, address.port) || address.port <= 0 || address.port > 65535)) {
    return bad("the port must be 1 to 65535");
  }
  address.host = std::string(host);
  return address;
}

void RedisConnection::Free::operator()(redisContext* context) const { redisFree(context); }

RedisConnection::~RedisConnection() = default;

Result<RedisConnection> RedisConnection::Connect(const RedisAddress& address,
                                                 std::string_view user,
                                                 std::string_view password, int64_t timeout_ms) {
  const timeval tv = ToTimeval(timeout_ms);
  redisContext* raw = address.socket_path.empty()
                          ? redisConnectWithTimeout(address.host.c_str(), address.port, tv)
                          : redisConnectUnixWithTimeout(address.socket_path.c_str(), tv);
  if (raw == nullptr) {
    return MakeError(ErrorKind::kStoreOpen, "redis " + address.text + ": connect: out of memory");
  }
  RedisConnection connection(raw, address.text, timeout_ms);
  if (raw->err != 0) return std::unexpected(connection.Failure("connect"));
  if (redisSetTimeout(raw, tv) != REDIS_OK) {
    return std::unexpected(connection.Failure("set timeout"));
  }
  if (!password.empty()) {
    RedisCommand auth{"AUTH"};
    if (!user.empty()) auth.push_back(user);
    auth.push_back(password);
    auto reply = connection.Command(auth);
    if (!reply) return std::unexpected(reply.error());
    if (reply->is_error()) {
      // The server's words (WRONGPASS ...) never contain the password.
      return MakeError(ErrorKind::kStoreOpen, "redis " + address.text + ": AUTH refused: " + reply->str);
    }
  }
  if (address.db != 0) {
    const std::string db = std::to_string(address.db);
    auto reply = connection.Command({"SELECT", db});
    if (!reply) return std::unexpected(reply.error());
    if (reply->is_error()) {
      return MakeError(ErrorKind::kStoreOpen, "redis " + address.text + ": SELECT " + db + ": " + reply->str);
    }
  }
  return connection;
}

Error RedisConnection::Failure(std::string_view what) {
  broken_ = true;
  std::string cause = context_ && context_->errstr[0] != '\0' ? context_->errstr : "unknown error";
  // hiredis 0.14 reports a read timeout as EAGAIN; 1.x says "timed out".
  if (cause.find("temporarily unavailable") != std::string::npos ||
      cause.find("timed out") != std::string::npos ||
      cause.find("Timeout") != std::string::npos) {
    cause = "no answer within " + std::to_string(timeout_ms_) + "ms (redis_timeout)";
  }
  return Error{ErrorKind::kStoreOpen, "redis " + address_ + ": " + std::string(what) + ": " + cause,
               context_ ? context_->err : 0};
}

Result<std::vector<RedisReply>> RedisConnection::Pipeline(const std::vector<RedisCommand>& commands) {
  if (broken_) {
    return MakeError(ErrorKind::kStoreOpen, "redis " + address_ + ": connection lost earlier");
  }
  const SigpipeBlocked no_sigpipe;
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& command : commands) {
    argv.clear();
    lengths.clear();
    for (const auto& arg : command) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    if (redisAppendCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(),
                               lengths.data()) != REDIS_OK) {
      return std::unexpected(Failure(command.empty() ? "command" : std::string(command[0])));
    }
  }
  std::vector<RedisReply> replies;
  replies.reserve(commands.size());
  for (const auto& command : commands) {
    void* raw = nullptr;
    if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) {
      return std::unexpected(Failure(command.empty() ? "command" : std::string(command[0])));
    }
    std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(raw),
                                                        freeReplyObject);
    replies.push_back(Copy(*reply));
  }
  return replies;
}

Result<RedisReply> RedisConnection::Command(const RedisCommand& command) {
  auto replies = Pipeline({command});
  if (!replies) return std::unexpected(replies.error());
  return std::move(replies->front());
}

}  // namespace senderwatch::store_internal
