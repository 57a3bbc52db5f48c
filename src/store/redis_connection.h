// A thin, checked layer over hiredis: one blocking connection with connect
// and command timeouts, commands sent as argument vectors (never formatted
// into strings: account names are hostile), and replies copied into plain
// values so no hiredis object outlives a call.
//
// Only the part of the hiredis API that both Debian 12's 0.14 and Debian
// 13's 1.x provide is used (redisConnect*WithTimeout, redisSetTimeout,
// redisAppendCommandArgv, redisGetReply).
//
// A RedisConnection belongs to one process: after fork() the child must
// open its own (RedisStore checks the pid). Not thread-safe.
#ifndef SENDERWATCH_SRC_STORE_REDIS_CONNECTION_H_
#define SENDERWATCH_SRC_STORE_REDIS_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "senderwatch/error.h"

struct redisContext;

namespace senderwatch::store_internal {

// Where Redis listens, parsed from "unix:/path" or "redis://host[:port][/db]".
struct RedisAddress {
  std::string socket_path;  // set for unix sockets
  std::string host;
  int port = 6379;
  int db = 0;
  std::string text;  // as written, for messages (it holds no secret)
};
Result<RedisAddress> ParseRedisAddress(std::string_view text);

// One reply, copied out of hiredis.
struct RedisReply {
  enum class Type { kNil, kString, kInteger, kArray, kStatus, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  long long integer = 0;
  std::vector<RedisReply> elements;

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
};

using RedisCommand = std::vector<std::string_view>;

class RedisConnection {
 public:
  // Connects within `timeout_ms`, then AUTHs (with `user` when not empty)
  // and SELECTs the database. Every command afterwards has the same
  // timeout. Failures are kStoreOpen errors naming the address and cause.
  static Result<RedisConnection> Connect(const RedisAddress& address, std::string_view user,
                                         std::string_view password, int64_t timeout_ms);

  RedisConnection(RedisConnection&&) noexcept = default;
  RedisConnection& operator=(RedisConnection&&) noexcept = default;
  ~RedisConnection();

  // Sends all commands, then reads all replies: one round trip. A Redis
  // error reply is a reply; a broken or timed-out connection is a
  // kStoreOpen Error, after which the connection is unusable (broken()).
  Result<std::vector<RedisReply>> Pipeline(const std::vector<RedisCommand>& commands);
  Result<RedisReply> Command(const RedisCommand& command);

  bool broken() const { return broken_; }

 private:
  struct Free {
    void operator()(redisContext* context) const;
  };
  RedisConnection(redisContext* context, std::string address, int64_t timeout_ms)
      : context_(context), address_(std::move(address)), timeout_ms_(timeout_ms) {}
  Error Failure(std::string_view what);

  std::unique_ptr<redisContext, Free> context_;
  std::string address_;
  int64_t timeout_ms_ = 0;
  bool broken_ = false;
};

}  // namespace senderwatch::store_internal

#endif  // SENDERWATCH_SRC_STORE_REDIS_CONNECTION_H_
