// The AS under hostile load (issue 13 item 3, issue 12 item 9): slow clients that trickle a TLS
// record byte by byte, connection floods from one source, saturated password workers.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "as_fixture.h"
#include "common/log_limiter.h"
#include "util/log.h"

using namespace ntm;
using namespace ntm::servers;
using control::LoginStatus;
using namespace std::chrono_literals;

namespace {

struct LoadFixture : test::AsUnderTest {
  using test::AsUnderTest::AsUnderTest;
  uint64_t count(AsLogin r) const { return server->logins().get(r); }
};

// A TCP connection to `to` from the loopback address 127.0.0.<source> (any 127/8 address is
// local on Linux, so one host can act as many sources). Non-blocking once connected.
io::UniqueFd connect_from(uint8_t source, const Endpoint& to) {
  io::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(0x7f000000u | source);
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) == 0);
  sockaddr_storage ss{};
  const unsigned len = to.to_sockaddr(ss);
  REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0);
  ::fcntl(fd.get(), F_SETFL, O_NONBLOCK);
  return fd;
}

// True when the server has closed `fd` (EOF or reset), waiting at most `timeout`.
bool closed_by_server(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  uint8_t b[256];
  const ssize_t n = ::recv(fd, b, sizeof(b), 0);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

// Sends one byte of a TLS ClientHello record (header claiming 512 bytes, then filler) on each
// connection every `period`, until `stop`: the slowest client that still makes progress.
class Trickler {
 public:
  Trickler(std::vector<io::UniqueFd>& fds, std::chrono::milliseconds period)
      : thread_([this, &fds, period] {
          static const uint8_t header[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
          size_t step = 0;
          while (!stop_) {
            const uint8_t byte = step < sizeof(header) ? header[step] : 0x00;
            for (auto& fd : fds) (void)::send(fd.get(), &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            ++step;
            for (auto waited = 0ms; waited < period && !stop_; waited += 10ms)
              std::this_thread::sleep_for(10ms);
          }
        }) {}
  ~Trickler() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Captures what the process writes to stderr (the logger's output) while alive.
class StderrCapture {
 public:
  explicit StderrCapture(const std::filesystem::path& file) : file_(file) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~StderrCapture() { restore(); }
  // Stops capturing; returns the number of lines written meanwhile.
  size_t restore() {
    if (saved_ >= 0) {
      std::fflush(stderr);
      ::dup2(saved_, 2);
      ::close(saved_);
      saved_ = -1;
    }
    std::ifstream in(file_);
    std::string line;
    size_t n = 0;
    while (std::getline(in, line)) ++n;
    return n;
  }

 private:
  std::filesystem::path file_;
  int saved_ = -1;
};

}  // namespace

TEST_CASE("AS: 200 byte-trickling connections do not lock out 20 logins", "[servers][as][load]") {
  LoadFixture f([](AccountServerConfig& c) { c.handshake_timeout = 4s; });
  f.accounts.add_password_account("alice", "pw");

  // 200 slow clients from four other addresses (50 each, under the per-source limit).
  std::vector<io::UniqueFd> slow;
  for (int i = 0; i < 200; ++i)
    slow.push_back(connect_from(static_cast<uint8_t>(2 + i % 4), f.server->local_endpoint()));
  Trickler trickle(slow, 200ms);
  std::this_thread::sleep_for(500ms);  // every slow connection is accepted and mid-handshake

  // 20 legitimate logins, 5 at a time, each with the client's usual 5 s patience.
  std::atomic<int> ok{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (int t = 0; t < 5; ++t)
    clients.emplace_back([&] {
      for (int i = 0; i < 4; ++i) {
        auto r = f.login("alice", "pw");
        if (r.response && r.response->status == LoginStatus::ok) ++ok;
      }
    });
  for (auto& c : clients) c.join();
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(ok == 20);
  CHECK(took < 4s);

  // The slow connections were held, not dropped, while the logins went through...
  size_t still_open = 0;
  for (auto& fd : slow) still_open += closed_by_server(fd.get(), 0ms) ? 0 : 1;
  CHECK(still_open == 200);
  // ...and the whole-handshake deadline ends them although they keep sending.
  size_t closed = 0;
  const auto until = std::chrono::steady_clock::now() + 6s;
  for (auto& fd : slow) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    closed += closed_by_server(fd.get(), std::max(left, 1ms)) ? 1 : 0;
  }
  CHECK(closed == 200);
  CHECK(f.count(AsLogin::timed_out) == 200);
}

TEST_CASE("AS: connections over the per-source limit are closed at once, quietly",
          "[servers][as][load]") {
  LoadFixture f([](AccountServerConfig& c) { c.max_connections_per_source = 4; });
  f.accounts.add_password_account("alice", "pw");
  test::TempDir logs;
  const auto level = log::level();
  log::set_level(log::Level::warn);
  StderrCapture capture(logs.path / "stderr.log");
  std::vector<io::UniqueFd> held;
  for (int i = 0; i < 4; ++i) held.push_back(connect_from(2, f.server->local_endpoint()));
  // A flood from the same address: each connection beyond the limit is closed at accept.
  size_t closed_at_once = 0;
  for (int i = 0; i < 300; ++i) {
    auto fd = connect_from(2, f.server->local_endpoint());
    closed_at_once += closed_by_server(fd.get(), 2000ms) ? 1 : 0;
  }
  CHECK(closed_at_once == 300);
  CHECK(f.count(AsLogin::overloaded) == 300);
  // Another source is served meanwhile.
  auto r = f.login("alice", "pw");
  REQUIRE(r.response);
  CHECK(r.response->status == LoginStatus::ok);
  for (auto& fd : held) CHECK_FALSE(closed_by_server(fd.get(), 0ms));
  // 300 refusals wrote a handful of log lines, not 300.
  const size_t lines = capture.restore();
  log::set_level(level);
  CHECK(lines <= 10);
}

TEST_CASE("AS: saturated password workers answer busy with a retry time", "[servers][as][load]") {
  // A wait budget smaller than one password check: every login is "too slow" to queue.
  LoadFixture f([](AccountServerConfig& c) {
    c.workers = 1;
    c.max_login_wait = 1ms;
  });
  f.accounts.add_password_account("alice", "pw");
  auto r = f.login("alice", "pw");
  REQUIRE(r.response);
  CHECK(r.response->status == LoginStatus::busy);
  CHECK(r.response->retry_after_ms >= 250);
  CHECK(r.response->retry_after_ms <= 5000);
  CHECK_THAT(r.response->message, Catch::Contains("retry in"));
  CHECK(f.count(AsLogin::busy) == 1);
}

TEST_CASE("log limiter lets a few lines through per window and counts the rest",
          "[servers][log]") {
  LogLimiter limiter(3, std::chrono::seconds(10));
  const auto t0 = LogLimiter::Clock::now();
  uint64_t suppressed = 0;
  int written = 0;
  for (int i = 0; i < 100; ++i) written += limiter.allow(suppressed, t0) ? 1 : 0;
  CHECK(written == 3);
  CHECK(limiter.allow(suppressed, t0 + std::chrono::seconds(11)));
  CHECK(suppressed == 97);
  CHECK(limiter.allow(suppressed, t0 + std::chrono::seconds(11)));
  CHECK(suppressed == 0);
}
