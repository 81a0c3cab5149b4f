// A node's login when the AS (or something in front of it) drops connections: an AS at its
// per-source connection limit, or restarting, closes or resets the TCP connection during the TLS
// handshake. That is a transient failure the node retries within its start budget - never a TLS
// failure that ends start-up (seen as "TLS with the AS failed: unexpected eof while reading" in
// a burst of 200 nodes from one address).
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "as_fixture.h"
#include "node/login_client.h"

using namespace ntm;
using namespace ntm::servers;
using namespace std::chrono_literals;

namespace {

io::UniqueFd listen_loopback(Endpoint& bound) {
  io::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  REQUIRE(::listen(fd.get(), 16) == 0);
  socklen_t len = sizeof(a);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  bound = Endpoint::v4({127, 0, 0, 1}, ntohs(a.sin_port));
  return fd;
}

io::UniqueFd connect_loopback(const Endpoint& to) {
  io::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_storage ss{};
  const socklen_t len = to.to_sockaddr(ss);
  REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0);
  return fd;
}

// Copies bytes both ways until either side closes (at most `limit`).
void relay(int a, int b, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  char buffer[16384];
  while (std::chrono::steady_clock::now() < deadline) {
    if (::poll(p, 2, 100) < 0) return;
    for (int i = 0; i < 2; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::read(p[i].fd, buffer, sizeof(buffer));
      if (n <= 0 || ::send(p[1 - i].fd, buffer, static_cast<size_t>(n), MSG_NOSIGNAL) != n) return;
    }
  }
}

enum class Drop { after_client_hello, reset };

// A front for the AS that drops the first `drops` connections the way an AS at its connection
// limit does (after reading the ClientHello: a close, or a reset), then passes connections on.
class DroppingFront {
 public:
  DroppingFront(const Endpoint& as, unsigned drops, Drop how) : as_(as), drops_(drops), how_(how) {
    listener_ = listen_loopback(endpoint_);
    thread_ = std::thread([this] { serve(); });
  }
  ~DroppingFront() {
    stopping_ = true;
    ::shutdown(listener_.get(), SHUT_RDWR);
    thread_.join();
  }
  Endpoint endpoint() const { return endpoint_; }
  unsigned dropped() const { return dropped_.load(); }

 private:
  void serve() {
    while (!stopping_) {
      io::UniqueFd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c) return;
      if (dropped_ < drops_) {
        char hello[512];
        (void)::read(c.get(), hello, sizeof(hello));
        if (how_ == Drop::reset) {
          linger l{1, 0};  // close with RST
          ::setsockopt(c.get(), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        }
        ++dropped_;
        continue;  // closed here
      }
      io::UniqueFd upstream = connect_loopback(as_);
      relay(c.get(), upstream.get(), 10s);
    }
  }

  Endpoint as_;
  unsigned drops_;
  Drop how_;
  Endpoint endpoint_;
  io::UniqueFd listener_;
  std::atomic<bool> stopping_{false};
  std::atomic<unsigned> dropped_{0};
  std::thread thread_;
};

struct LoginFixture : test::AsUnderTest {
  LoginFixture() { accounts.add_password_account("alice", "pw"); }

  node::ControlPlaneConfig config(const Endpoint& via) const {
    std::ifstream in(certificate());
    std::stringstream pem;
    pem << in.rdbuf();
    node::ControlPlaneConfig c;
    c.server = via;
    c.server_certificate = pem.str();
    c.account = "alice";
    c.password = "pw";
    return c;
  }
};

}  // namespace

TEST_CASE("login: a connection the AS drops during the TLS handshake is a transient failure",
          "[servers][login]") {
  LoginFixture f;
  const Drop how = GENERATE(Drop::after_client_hello, Drop::reset);
  DroppingFront front(f.server->local_endpoint(), 1, how);
  try {
    node::login(f.config(front.endpoint()), test::fake_static_key(1), 2000ms);
    FAIL("the login went through a dropped connection");
  } catch (const node::LoginError& e) {
    INFO(e.what());
    CHECK(e.kind() == node::LoginError::Kind::network);
    CHECK(e.transient());
  }
  CHECK(front.dropped() == 1);
}

TEST_CASE("login: start-up logs in after the AS dropped its first connections",
          "[servers][login]") {
  LoginFixture f;
  const Drop how = GENERATE(Drop::after_client_hello, Drop::reset);
  DroppingFront front(f.server->local_endpoint(), 3, how);
  const auto grant =
      node::login_with_retry(f.config(front.endpoint()), test::fake_static_key(1), 2000ms, 20s);
  CHECK(grant.fqdn == "alice.example");
  CHECK(front.dropped() == 3);
}

TEST_CASE("login: a certificate that is not the pinned one still fails at once",
          "[servers][login]") {
  LoginFixture f;
  test::TempDir other;
  tls::ensure_identity(other.path / "c.pem", other.path / "c.key", "as.example");
  auto config = f.config(f.server->local_endpoint());
  std::ifstream in(other.path / "c.pem");
  std::stringstream pem;
  pem << in.rdbuf();
  config.server_certificate = pem.str();
  const auto started = std::chrono::steady_clock::now();
  try {
    node::login_with_retry(config, test::fake_static_key(1), 2000ms, 20s);
    FAIL("logged in to an AS whose certificate is not pinned");
  } catch (const node::LoginError& e) {
    INFO(e.what());
    CHECK(e.kind() == node::LoginError::Kind::tls);
  }
  CHECK(std::chrono::steady_clock::now() - started < 2s);  // not retried for 20 s
}
