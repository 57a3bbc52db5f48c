// The private redis-server of tests (redis_server.h).
#include "testutil/redis_server.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

namespace senderwatch::testing {
namespace {

// A loopback port free right now (the kernel's choice).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), size) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

bool Connects(const std::string& socket_path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

bool RedisServer::Available() { return ::access(kBinary, X_OK) == 0; }

RedisServer::RedisServer(bool tcp, std::string password)
    : socket_(dir_.Join("redis.sock")), port_(tcp ? FreePort() : 0), password_(std::move(password)) {
  std::ofstream config(dir_.Join("redis.conf"));
  config << "port " << port_ << "\n"
         << "bind 127.0.0.1\n"
         << "unixsocket " << socket_ << "\n"
         << "unixsocketperm 777\n"  // Exim's user connects in end-to-end tests
         << "dir " << dir_.path() << "\n"
         << "logfile " << dir_.Join("redis.log") << "\n"
         << "save \"\"\nappendonly no\n"
         << "maxmemory-policy noeviction\n";
  if (!password_.empty()) config << "requirepass " << password_ << "\n";
  config.close();
  // The Exim user must reach the socket inside the private directory.
  ::chmod(dir_.path().c_str(), 0755);
  Start();
}

RedisServer::~RedisServer() {
  Resume();
  Stop();
}

bool RedisServer::Start() {
  if (pid_ > 0) return true;
  if (!Available()) {
    error_ = std::string(kBinary) + " is not installed (apt-get install redis-server)";
    return false;
  }
  const std::string config = dir_.Join("redis.conf");
  const pid_t pid = ::fork();
  if (pid < 0) {
    error_ = "fork failed";
    return false;
  }
  if (pid == 0) {
    ::execl(kBinary, kBinary, config.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 500; ++i) {
    if (Connects(socket_)) {
      pid_ = pid;
      return true;
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  error_ = "redis-server did not start; its log: " + ReadText(dir_.Join("redis.log"));
  return false;
}

void RedisServer::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void RedisServer::Pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void RedisServer::Resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

}  // namespace senderwatch::testing
