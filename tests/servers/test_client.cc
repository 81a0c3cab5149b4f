#include "test_client.h"

#include "control/registration.h"

#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <stdexcept>

#include "as/tls.h"
#include "crypto/random.h"

namespace ntm::test {

namespace {
// The TLS client writes to sockets the server may have closed: no SIGPIPE in tests.
const bool kIgnoreSigpipe = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();
}  // namespace

TempDir::TempDir() {
  char tmpl[] = "/tmp/ntm-server-test-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  path = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

LoginResult tls_exchange(const Endpoint& as, const std::filesystem::path& pinned_pem,
                         const control::Bytes& frame, const std::optional<Endpoint>& source) {
  LoginResult result;
  io::UniqueFd fd(::socket(as.is_v6() ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (source) {
    sockaddr_storage local{};
    const unsigned local_len = source->to_sockaddr(local);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), local_len) != 0) {
      result.tls_error = std::string("bind: ") + std::strerror(errno);
      return result;
    }
  }
  sockaddr_storage ss{};
  const unsigned len = as.to_sockaddr(ss);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    result.tls_error = std::string("connect: ") + std::strerror(errno);
    return result;
  }
  auto ctx = servers::tls::make_pinned_client_context(pinned_pem);
  servers::tls::SslPtr ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd.get());
  if (SSL_connect(ssl.get()) != 1) {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
    result.tls_error = buf;
    ERR_clear_error();
    return result;
  }
  result.tls_ok = true;
  size_t written = 0;
  if (SSL_write_ex(ssl.get(), frame.data(), frame.size(), &written) != 1) return result;
  control::Bytes in;
  uint8_t buf[4096];
  while (true) {
    size_t n = 0;
    if (SSL_read_ex(ssl.get(), buf, sizeof(buf), &n) != 1) break;
    in.insert(in.end(), buf, buf + n);
  }
  ERR_clear_error();
  auto f = control::decode_frame(in);
  if (!f || f->type != control::MessageType::login_response) return result;
  auto r = control::decode_login_response(f->body);
  if (r) result.response = std::move(r).value();
  return result;
}

LoginResult tls_login(const Endpoint& as, const std::filesystem::path& pinned_pem,
                      const control::LoginRequest& request, const std::optional<Endpoint>& source) {
  return tls_exchange(as, pinned_pem, control::encode_login_request_frame(request), source);
}

UdpSocket::UdpSocket(const Endpoint& bind) {
  fd_ = io::UniqueFd(::socket(bind.is_v6() ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd_) throw std::runtime_error("socket failed");
  sockaddr_storage ss{};
  const unsigned len = bind.to_sockaddr(ss);
  if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    throw std::runtime_error("bind failed");
  sockaddr_storage b{};
  socklen_t blen = sizeof(b);
  ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&b), &blen);
  local_ = *Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&b));
}

void UdpSocket::send_to(const Endpoint& to, std::span<const uint8_t> bytes) {
  sockaddr_storage ss{};
  const unsigned len = to.to_sockaddr(ss);
  ::sendto(fd_.get(), bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
}

std::optional<UdpSocket::Datagram> UdpSocket::receive(std::chrono::milliseconds timeout) {
  pollfd p{fd_.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
  Datagram d;
  d.bytes.resize(65536);
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  const ssize_t n =
      ::recvfrom(fd_.get(), d.bytes.data(), d.bytes.size(), 0, reinterpret_cast<sockaddr*>(&ss), &len);
  if (n < 0) return std::nullopt;
  d.bytes.resize(static_cast<size_t>(n));
  d.from = *Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
  return d;
}

TestNode::TestNode(const control::LoginGrant& grant, const Endpoint& dc, const Endpoint& bind)
    : socket_(bind),
      grant_(grant),
      dc_(dc),
      session_channel_(control::DcRole::node, grant.node_id, grant.session_key) {}

void TestNode::send(control::MessageType type, const control::Bytes& plain) {
  if (!channel_) throw std::logic_error("TestNode::send before a registration");
  last_sent_ = channel_->seal(type, plain);
  socket_.send_to(dc_, last_sent_);
}

void TestNode::send_register(std::vector<Endpoint> private_endpoints,
                             const control::Challenge& challenge) {
  const uint64_t counter = session_channel_.send_counter();
  control::Register body{std::move(private_endpoints), challenge};
  body.version = protocol_version;
  last_sent_ = session_channel_.seal(control::MessageType::register_node, control::encode(body),
                                     grant_.ticket);
  last_register_ = last_sent_;
  pending_.emplace(control::DcRole::node, grant_.node_id,
                   control::registration_key(grant_.session_key, challenge, counter));
  socket_.send_to(dc_, last_sent_);
}

bool TestNode::receive_one(std::chrono::milliseconds timeout) {
  auto d = socket_.receive(timeout);
  if (!d) return false;
  if (auto c = control::decode_register_challenge(d->bytes)) {
    if (c.value().node_id == grant_.node_id) challenges_.push_back(c.value().challenge);
    return true;
  }
  std::optional<control::DcChannel::Opened> m;
  if (pending_) {
    m = pending_->open(d->bytes);
    if (m && m->type == control::MessageType::register_ack) {
      channel_ = std::move(pending_);
      pending_.reset();
    }
  }
  if (!m && channel_) m = channel_->open(d->bytes);
  if (!m) {
    ++unopened_;
    return true;
  }
  queue_.push_back(std::move(*m));
  return true;
}

std::optional<control::Challenge> TestNode::wait_challenge(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (challenges_.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    receive_one(left);
  }
  auto c = challenges_.front();
  challenges_.erase(challenges_.begin());
  return c;
}

std::optional<control::DcChannel::Opened> TestNode::wait_for(control::MessageType type,
                                                             std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool drained = false;
  while (true) {
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (it->type == type) {
        auto m = std::move(*it);
        queue_.erase(it);
        return m;
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      // Out of time: still take what has already arrived (a zero timeout polls once).
      if (drained) return std::nullopt;
      while (receive_one(0ms)) {
      }
      drained = true;
      continue;
    }
    receive_one(left);
  }
}

std::optional<control::RegisterAck> TestNode::register_node(std::vector<Endpoint> private_endpoints) {
  if (private_endpoints.empty()) private_endpoints.push_back(socket_.local());
  challenges_.clear();
  send_register(private_endpoints, {});
  auto challenge = wait_challenge();
  if (!challenge) return std::nullopt;
  send_register(private_endpoints, *challenge);
  auto m = wait_for(control::MessageType::register_ack);
  if (!m) return std::nullopt;
  auto ack = control::decode_register_ack(m->plaintext);
  if (!ack) return std::nullopt;
  return std::move(ack).value();
}

std::optional<control::KeepaliveAck> TestNode::keepalive() {
  send(control::MessageType::keepalive, control::encode(control::Keepalive{{socket_.local()}}));
  auto m = wait_for(control::MessageType::keepalive_ack);
  if (!m) return std::nullopt;
  auto ack = control::decode_keepalive_ack(m->plaintext);
  if (!ack) return std::nullopt;
  return std::move(ack).value();
}

bool relay_bind(UdpSocket& s, const Endpoint& rs, uint32_t relay_id, uint64_t node_id,
                uint64_t expires_unix, const control::RelayToken& token, uint64_t& sequence) {
  s.send_to(rs, control::encode(
                    control::make_relay_bind(relay_id, node_id, expires_unix, token, ++sequence, {})));
  std::optional<control::RelayChallenge> challenge;
  const auto deadline = std::chrono::steady_clock::now() + 1s;
  while (!challenge && std::chrono::steady_clock::now() < deadline) {
    auto d = s.receive(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!d) break;
    if (auto c = control::decode_relay_challenge(d->bytes); c && c->relay_id == relay_id)
      challenge = c.value();
  }
  if (!challenge) return false;
  s.send_to(rs, control::encode(control::make_relay_bind(relay_id, node_id, expires_unix, token,
                                                         ++sequence, challenge->cookie)));
  auto d = s.receive(1s);
  if (!d) return false;
  auto ack = control::decode_relay_bind_ack(d->bytes);
  return ack.ok() && ack->relay_id == relay_id;
}

control::Key32 fake_static_key(uint8_t seed) {
  control::Key32 k;
  k.fill(seed);
  k[0] = 0x01;
  return k;
}

}  // namespace ntm::test
