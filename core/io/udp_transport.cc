#include "io/udp_transport.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>
#include <system_error>

namespace ntm::io {

namespace {

using Clock = std::chrono::steady_clock;

// Tuning (not protocol) constants.
// How long one send_batch may wait in total for socket-buffer room before dropping the rest.
constexpr auto kSendWaitBudget = std::chrono::milliseconds(10);
// Soft errors (stale ICMP reports) tolerated per drain or per send chunk before giving up.
constexpr int kMaxSoftErrors = 8;
// UDP GSO limits: the kernel's UDP_MAX_SEGMENTS is 64 on older kernels, and the whole super-
// datagram must fit in one IP packet (65535 minus headers).
constexpr size_t kMaxGsoSegments = 64;
constexpr size_t kMaxGsoBytes = 65000;

// epoll tags.
constexpr uint32_t kTagWake = 0;
constexpr uint32_t kTagV4 = 4;
constexpr uint32_t kTagV6 = 6;

[[noreturn]] void throw_errno(int err, const std::string& what) {
  throw std::system_error(err, std::system_category(), "udp transport: " + what);
}

// Errors a socket reports after an ICMP message about an earlier datagram (peer not up yet, no
// route for a moment). The datagram at hand is not affected; the error is consumed by reporting it.
bool is_soft_error(int err) {
  return err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH || err == EHOSTDOWN ||
         err == ENETDOWN || err == EPROTO || err == EPERM || err == EMSGSIZE;
}

// Errors that concern the socket rather than one datagram: nothing more can be sent on it.
bool is_socket_error(int err) {
  return err == EBADF || err == ENOTSOCK || err == EFAULT || err == EOPNOTSUPP;
}

// The family a destination is sent on; an IPv4-mapped IPv6 address goes out as IPv4.
Endpoint route(const Endpoint& to) {
  static constexpr std::array<uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0,    0,
                                                            0, 0, 0, 0, 0xff, 0xff};
  if (to.is_v6() && std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), to.address.begin())) {
    return Endpoint::v4({to.address[12], to.address[13], to.address[14], to.address[15]}, to.port);
  }
  return to;
}

bool is_ipv6_loopback(const Endpoint& e) {
  static constexpr std::array<uint8_t, 16> kLoopback = {0, 0, 0, 0, 0, 0, 0, 0,
                                                        0, 0, 0, 0, 0, 0, 0, 1};
  return e.is_v6() && std::equal(kLoopback.begin(), kLoopback.end(), e.address.begin());
}

union SockAddr {
  sockaddr sa;
  sockaddr_in in;
  sockaddr_in6 in6;
};

socklen_t fill_sockaddr(const Endpoint& e, SockAddr& out) {
  if (e.is_v4()) {
    out.in = {};
    out.in.sin_family = AF_INET;
    std::memcpy(&out.in.sin_addr, e.address.data(), 4);
    out.in.sin_port = htons(e.port);
    return sizeof(sockaddr_in);
  }
  out.in6 = {};
  out.in6.sin6_family = AF_INET6;
  std::memcpy(&out.in6.sin6_addr, e.address.data(), 16);
  out.in6.sin6_port = htons(e.port);
  return sizeof(sockaddr_in6);
}

void set_buffer(int fd, int force_option, int option, size_t bytes) {
  int value = static_cast<int>(std::min<size_t>(bytes, INT_MAX / 2));
  if (::setsockopt(fd, SOL_SOCKET, force_option, &value, sizeof(value)) == 0) return;
  // Without CAP_NET_ADMIN: the kernel silently caps this one at {r,w}mem_max.
  (void)::setsockopt(fd, SOL_SOCKET, option, &value, sizeof(value));
}

std::optional<Endpoint> bound_endpoint(int fd) {
  sockaddr_storage storage{};
  socklen_t len = sizeof(storage);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &len) != 0) return std::nullopt;
  // getsockname on a v6 socket bound to a v4-mapped address is not possible (V6ONLY), so the
  // mapping in from_sockaddr never changes the family here.
  return Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&storage));
}

int bind_to(int fd, const Endpoint& e) {
  SockAddr addr;
  socklen_t len = fill_sockaddr(e, addr);
  return ::bind(fd, &addr.sa, len) == 0 ? 0 : errno;
}

bool supports_gso(int fd) {
  int value = 0;
  socklen_t len = sizeof(value);
  return ::getsockopt(fd, SOL_UDP, UDP_SEGMENT, &value, &len) == 0;
}

// A non-blocking, close-on-exec UDP socket bound to `local` (v6 sockets are V6ONLY). When
// `preferred_port` is set and `local.port` is 0, that port is tried first.
UniqueFd open_socket(const Endpoint& local, uint16_t preferred_port, size_t buffer_bytes,
                     bool reuse_port) {
  const int family = local.is_v4() ? AF_INET : AF_INET6;
  UniqueFd fd(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!fd) {
    throw_errno(errno, std::string("cannot create an ") + (local.is_v4() ? "IPv4" : "IPv6") +
                           " UDP socket for " + local.to_string());
  }
  if (family == AF_INET6) {
    int one = 1;
    if (::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) {
      throw_errno(errno, "cannot set IPV6_V6ONLY on the socket for " + local.to_string());
    }
  }
  if (reuse_port) {
    int one = 1;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
      throw_errno(errno, "cannot set SO_REUSEPORT on the socket for " + local.to_string());
    }
  }
  if (buffer_bytes > 0) {
    set_buffer(fd.get(), SO_RCVBUFFORCE, SO_RCVBUF, buffer_bytes);
    set_buffer(fd.get(), SO_SNDBUFFORCE, SO_SNDBUF, buffer_bytes);
  }
  int err = EADDRINUSE;
  if (local.port == 0 && preferred_port != 0) {
    Endpoint preferred = local;
    preferred.port = preferred_port;
    err = bind_to(fd.get(), preferred);
  }
  if (err != 0) err = bind_to(fd.get(), local);
  if (err != 0) throw_errno(err, "cannot bind UDP socket to " + local.to_string());
  return fd;
}

void add_to_epoll(int epoll_fd, int fd, uint32_t tag) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u32 = tag;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) throw_errno(errno, "epoll_ctl");
}

// Scratch for one chunk of sends. Lives on the sending thread's stack (about 8 KiB), so
// concurrent send_batch calls share nothing and no call allocates.
struct SendScratch {
  // Room for one UDP_SEGMENT (u16) or one IP_TTL / IPV6_HOPLIMIT (int) control message.
  static constexpr size_t kControlBytes = CMSG_SPACE(sizeof(int));
  std::array<mmsghdr, UdpTransport::kMaxBatch> messages;
  std::array<iovec, UdpTransport::kMaxBatch> iov;
  std::array<SockAddr, UdpTransport::kMaxBatch> addresses;
  // One UDP_SEGMENT control message per GSO message, or a hop limit; aligned for cmsghdr.
  alignas(cmsghdr) std::array<std::array<unsigned char, kControlBytes>, UdpTransport::kMaxBatch>
      control;
};

// The shared wait budget of one send_batch call.
class SendBudget {
 public:
  // Waits until `fd` can take more data or the budget is spent. Returns whether it can.
  bool wait_writable(int fd) {
    auto now = Clock::now();
    if (!deadline_) deadline_ = now + kSendWaitBudget;
    for (;;) {
      if (now >= *deadline_) return false;
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline_ - now);
      pollfd p{fd, POLLOUT, 0};
      int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r > 0) return (p.revents & POLLOUT) != 0;
      if (r == 0) return false;
      if (errno != EINTR) return false;
      now = Clock::now();
    }
  }

 private:
  std::optional<Clock::time_point> deadline_;
};

// After a GSO send failed: the segments go out as plain datagrams; failures drop them.
void send_segments_one_by_one(int fd, const msghdr& gso_message) {
  for (size_t i = 0; i < gso_message.msg_iovlen; ++i) {
    msghdr single{};
    single.msg_name = gso_message.msg_name;
    single.msg_namelen = gso_message.msg_namelen;
    single.msg_iov = &gso_message.msg_iov[i];
    single.msg_iovlen = 1;
    while (::sendmsg(fd, &single, MSG_DONTWAIT) < 0 && errno == EINTR) {
    }
  }
}

// One datagram's own TTL (IPv4) or hop limit (IPv6), as a control message in `control`.
template <size_t N>
void set_hop_limit(msghdr& h, std::array<unsigned char, N>& control, const Endpoint& to,
                   uint8_t hop_limit) {
  control.fill(0);
  h.msg_control = control.data();
  h.msg_controllen = CMSG_SPACE(sizeof(int));
  cmsghdr* c = CMSG_FIRSTHDR(&h);
  c->cmsg_level = to.is_v4() ? IPPROTO_IP : IPPROTO_IPV6;
  c->cmsg_type = to.is_v4() ? IP_TTL : IPV6_HOPLIMIT;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  const int value = hop_limit;
  std::memcpy(CMSG_DATA(c), &value, sizeof(value));
}

// Sends scratch.messages[0, count) on `fd`; see send_batch for the error policy.
void send_messages(int fd, SendScratch& scratch, size_t count, SendBudget& budget,
                   std::atomic<bool>& gso) {
  size_t next = 0;
  int soft_errors = 0;
  while (next < count) {
    int sent = ::sendmmsg(fd, &scratch.messages[next], static_cast<unsigned>(count - next),
                          MSG_DONTWAIT);
    if (sent > 0) {
      next += static_cast<size_t>(sent);
      continue;
    }
    int err = sent == 0 ? EAGAIN : errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      if (budget.wait_writable(fd)) continue;
      return;  // no room within the budget: drop the rest
    }
    // A pending ICMP report was returned instead of sending: the datagram did not go out yet.
    if (err == ECONNREFUSED && ++soft_errors <= kMaxSoftErrors) continue;
    const msghdr& failed = scratch.messages[next].msg_hdr;
    const bool gso_message = failed.msg_iovlen > 1;
    if (!gso_message && is_socket_error(err)) return;  // nothing more can go out on this socket
    if (gso_message) {
      // GSO refused (e.g. segment larger than the path MTU, or no checksum offload): send the
      // segments plainly; stop using GSO if the device or kernel cannot do it at all.
      if (err == EIO || err == ENOPROTOOPT || err == EOPNOTSUPP) {
        gso.store(false, std::memory_order_relaxed);
      }
      send_segments_one_by_one(fd, failed);
    }
    ++next;  // drop the datagram that failed and carry on with the rest
  }
}

// Sends, in order, the datagrams of `datagrams` whose destination is of `family`.
void send_family(int fd, Endpoint::Family family, std::span<const OutgoingDatagram> datagrams,
                 SendBudget& budget, std::atomic<bool>& gso_flag, bool loopback_only = false) {
  SendScratch scratch;
  const bool gso = gso_flag.load(std::memory_order_relaxed);
  size_t messages = 0;
  size_t vectors = 0;
  // The open GSO group (the last message): destination, segment size, totals.
  Endpoint group_to;
  size_t group_segment = 0;
  size_t group_bytes = 0;
  bool group_open = false;

  auto flush = [&] {
    for (size_t m = 0; m < messages; ++m) {
      msghdr& h = scratch.messages[m].msg_hdr;
      if (h.msg_controllen != 0) continue;  // a hop limit (set_hop_limit), never grouped
      if (h.msg_iovlen < 2) continue;
      scratch.control[m].fill(0);  // the padding after the segment size goes to the kernel too
      h.msg_control = scratch.control[m].data();
      h.msg_controllen = SendScratch::kControlBytes;
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      auto segment = static_cast<uint16_t>(h.msg_iov[0].iov_len);
      std::memcpy(CMSG_DATA(c), &segment, sizeof(segment));
    }
    if (messages > 0) send_messages(fd, scratch, messages, budget, gso_flag);
    messages = 0;
    vectors = 0;
    group_open = false;
  };

  for (const auto& d : datagrams) {
    Endpoint to = route(d.to);
    if (to.family != family) continue;
    if (loopback_only && !is_ipv6_loopback(to)) continue;
    const size_t size = d.bytes.size();
    iovec v{const_cast<uint8_t*>(d.bytes.data()), size};
    if (group_open && size > 0 && size <= group_segment && to == group_to &&
        scratch.messages[messages - 1].msg_hdr.msg_iovlen < kMaxGsoSegments &&
        group_bytes + size <= kMaxGsoBytes && vectors < UdpTransport::kMaxBatch) {
      scratch.iov[vectors++] = v;
      scratch.messages[messages - 1].msg_hdr.msg_iovlen += 1;
      group_bytes += size;
      // Every segment but the last must be exactly the segment size.
      if (size < group_segment) group_open = false;
      continue;
    }
    if (messages == UdpTransport::kMaxBatch || vectors == UdpTransport::kMaxBatch) flush();
    msghdr& h = scratch.messages[messages].msg_hdr;
    h = {};
    h.msg_namelen = fill_sockaddr(to, scratch.addresses[messages]);
    h.msg_name = &scratch.addresses[messages];
    scratch.iov[vectors] = v;
    h.msg_iov = &scratch.iov[vectors];
    h.msg_iovlen = 1;
    if (d.hop_limit != 0) set_hop_limit(h, scratch.control[messages], to, d.hop_limit);
    ++messages;
    ++vectors;
    group_open = gso && size > 0 && d.hop_limit == 0;
    group_to = to;
    group_segment = size;
    group_bytes = size;
  }
  flush();
}

}  // namespace

struct UdpTransport::ReceiveScratch {
  std::array<mmsghdr, kMaxBatch> messages;
  std::array<iovec, kMaxBatch> iov;
  std::array<sockaddr_storage, kMaxBatch> addresses;
};

UdpTransport::UdpTransport(Key) : rx_(std::make_unique<ReceiveScratch>()) {}

UdpTransport::~UdpTransport() = default;

std::unique_ptr<UdpTransport> UdpTransport::open(const UdpOptions& options) {
  if (!options.enable_v4 && !options.enable_v6) {
    throw_errno(EINVAL, "both IPv4 and IPv6 are disabled");
  }
  const Endpoint bind4 = options.bind_v4.value_or(Endpoint::v4({0, 0, 0, 0}, 0));
  const Endpoint bind6 = options.bind_v6.value_or(Endpoint::v6({}, 0));
  if (options.enable_v4 && !bind4.is_v4()) {
    throw_errno(EINVAL, "bind_v4 " + bind4.to_string() + " is not an IPv4 address");
  }
  if (options.enable_v6 && !bind6.is_v6()) {
    throw_errno(EINVAL, "bind_v6 " + bind6.to_string() + " is not an IPv6 address");
  }

  auto t = std::make_unique<UdpTransport>(Key{});
  t->epoll_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  if (!t->epoll_) throw_errno(errno, "epoll_create1");
  t->wake_fd_ = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!t->wake_fd_) throw_errno(errno, "eventfd");
  add_to_epoll(t->epoll_.get(), t->wake_fd_.get(), kTagWake);

  if (options.enable_v4) {
    t->fd4_ = open_socket(bind4, 0, options.socket_buffer_bytes, options.reuse_port);
  }
  if (options.enable_v6) {
    // Both ports left to the kernel: try to give v6 the port v4 got, so one number serves both.
    uint16_t preferred_port = 0;
    if (bind6.port == 0 && t->fd4_) {
      if (auto v4 = bound_endpoint(t->fd4_.get())) preferred_port = v4->port;
    }
    try {
      t->fd6_ = open_socket(bind6, preferred_port, options.socket_buffer_bytes,
                            options.reuse_port);
    } catch (const std::system_error& e) {
      // No IPv6 on this machine (or not even on the default wildcard address): run v4-only.
      const int err = e.code().value();
      const bool no_ipv6 = err == EAFNOSUPPORT ||
                           (err == EADDRNOTAVAIL && !options.bind_v6.has_value());
      if (!(no_ipv6 && t->fd4_)) throw;
    }
  }

  if (t->fd4_) add_to_epoll(t->epoll_.get(), t->fd4_.get(), kTagV4);
  if (t->fd6_) add_to_epoll(t->epoll_.get(), t->fd6_.get(), kTagV6);
  for (const UniqueFd* fd : {&t->fd4_, &t->fd6_}) {
    if (!*fd) continue;
    auto local = bound_endpoint(fd->get());
    if (!local) throw_errno(errno, "getsockname");
    t->local_.push_back(*local);
  }
  if (options.use_gso) {
    bool ok = true;
    if (t->fd4_) ok = ok && supports_gso(t->fd4_.get());
    if (t->fd6_) ok = ok && supports_gso(t->fd6_.get());
    t->gso_.store(ok, std::memory_order_relaxed);
  }
  return t;
}

void UdpTransport::send_batch(std::span<const OutgoingDatagram> datagrams) {
  if (datagrams.empty()) return;
  SendBudget budget;
  bool any4 = false;
  bool any6 = false;
  for (const auto& d : datagrams) {
    Endpoint::Family f = route(d.to).family;
    any4 = any4 || f == Endpoint::Family::v4;
    any6 = any6 || f == Endpoint::Family::v6;
  }
  // A datagram for a family without a socket (or with no valid address) is dropped.
  if (any4 && fd4_) send_family(fd4_.get(), Endpoint::Family::v4, datagrams, budget, gso_);
  if (any6 && fd6_) {
    send_family(fd6_.get(), Endpoint::Family::v6, datagrams, budget, gso_,
                ipv6_held_.load(std::memory_order_relaxed));
  }
}

void UdpTransport::drain(int fd, std::span<ReceiveSlot> slots, size_t& filled) {
  ReceiveScratch& rx = *rx_;
  int soft_errors = 0;
  while (filled < slots.size()) {
    const size_t want = std::min(slots.size() - filled, kMaxBatch);
    for (size_t i = 0; i < want; ++i) {
      ReceiveSlot& slot = slots[filled + i];
      rx.iov[i] = {slot.buffer.data(), slot.buffer.size()};
      msghdr& h = rx.messages[i].msg_hdr;
      h = {};
      h.msg_name = &rx.addresses[i];
      h.msg_namelen = sizeof(sockaddr_storage);
      h.msg_iov = &rx.iov[i];
      h.msg_iovlen = 1;
    }
    int got = ::recvmmsg(fd, rx.messages.data(), static_cast<unsigned>(want), MSG_DONTWAIT,
                         nullptr);
    if (got < 0) {
      int err = errno;
      if (err == EINTR) continue;
      // An ICMP report about an earlier send (peer not up yet): consumed now, keep reading.
      if (is_soft_error(err) && ++soft_errors <= kMaxSoftErrors) continue;
      return;  // EAGAIN: drained
    }
    size_t kept = 0;
    for (size_t i = 0; i < static_cast<size_t>(got); ++i) {
      const msghdr& h = rx.messages[i].msg_hdr;
      const size_t length = rx.messages[i].msg_len;
      if ((h.msg_flags & MSG_TRUNC) != 0) continue;  // larger than the slot: drop
      ReceiveSlot& dst = slots[filled + kept];
      if (kept != i) {
        // An earlier datagram was dropped: move this one down (rare path).
        const ReceiveSlot& src = slots[filled + i];
        if (length > dst.buffer.size()) continue;
        std::memmove(dst.buffer.data(), src.buffer.data(), length);
      }
      dst.length = length;
      dst.from = Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&rx.addresses[i]))
                     .value_or(Endpoint{});
      ++kept;
    }
    filled += kept;
    if (static_cast<size_t>(got) < want) return;  // nothing more queued
  }
}

size_t UdpTransport::receive(std::span<ReceiveSlot> slots, std::chrono::milliseconds timeout) {
  if (slots.empty()) return 0;
  // Clamped so that now() + timeout cannot overflow.
  const auto deadline = Clock::now() + std::clamp<std::chrono::milliseconds>(
                                           timeout, std::chrono::milliseconds(0),
                                           std::chrono::hours(24 * 365));
  size_t filled = 0;
  std::array<epoll_event, 3> events;
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    int wait_ms = static_cast<int>(std::clamp<int64_t>(left.count(), 0, INT_MAX));
    int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), wait_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(errno, "epoll_wait");
    }
    bool woken = false;
    bool ready4 = false;
    bool ready6 = false;
    for (int i = 0; i < n; ++i) {
      switch (events[static_cast<size_t>(i)].data.u32) {
        case kTagWake: woken = true; break;
        case kTagV4: ready4 = true; break;
        case kTagV6: ready6 = true; break;
        default: break;
      }
    }
    if (woken) {
      uint64_t count = 0;
      if (::read(wake_fd_.get(), &count, sizeof(count)) < 0) {
        // EAGAIN: another reader cleared it already; nothing to do.
      }
    }
    if (v6_first_) {
      if (ready6) drain(fd6_.get(), slots, filled);
      if (ready4) drain(fd4_.get(), slots, filled);
    } else {
      if (ready4) drain(fd4_.get(), slots, filled);
      if (ready6) drain(fd6_.get(), slots, filled);
    }
    v6_first_ = !v6_first_;
    if (filled > 0 || woken || n == 0) return filled;
    // Readable but nothing usable (an ICMP report, a dropped oversized datagram): wait on.
    if (Clock::now() >= deadline) return 0;
  }
}

void UdpTransport::wake() {
  uint64_t one = 1;
  if (::write(wake_fd_.get(), &one, sizeof(one)) < 0) {
    // EAGAIN: the counter is already non-zero, so a wake-up is pending anyway.
  }
}

std::vector<Endpoint> UdpTransport::local_endpoints() const { return local_; }

}  // namespace ntm::io
