// The datagram bridge: an OS descriptor that becomes readable when a datagram waits on an ntm
// datagram socket. The socket is tapped (core/node/datagram_tap.h): the thread that feeds the
// virtual stack writes each arriving datagram, after a 20-byte source record, as one message to
// a SOCK_SEQPACKET socketpair whose other end the application reads (recv(2), select/epoll,
// Python selectors/asyncio, Ruby IO). No thread of ours sits in between, so a datagram costs
// the application one wake-up, as a blocking ntm_recvfrom() does. Sending and everything else
// stay on the ntm descriptor.
//
// A bridge's sink (and its end of the pair) lives until the socket is untapped or closed: by
// ntm_close() of the socket, or by ntm_stop() after it closed every socket.
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "api_common.h"
#include "bridge.h"
#include "poll_close.h"
#include "node/datagram_tap.h"

namespace {

// The pair's queue towards the application: datagrams beyond it are dropped, as a full UDP
// receive buffer drops them (the kernel caps it at net.core.wmem_max).
constexpr int kPairBuffer = 4 * 1024 * 1024;
constexpr size_t kMaxPieces = 16;  // as datagram_tap.cc hands them over

class PairSink final : public ntm::sock::DatagramSink {
 public:
  PairSink(int ntm_fd, int pump_fd) : ntm_fd_(ntm_fd), pump_fd_(pump_fd) {}
  ~PairSink() override {
    // The application's reads now see end-of-file (closed, or the node stopped).
    ::shutdown(pump_fd_, SHUT_RDWR);
    ::close(pump_fd_);
  }
  PairSink(const PairSink&) = delete;
  PairSink& operator=(const PairSink&) = delete;

  int ntm_fd() const { return ntm_fd_; }

  // Under lwIP's core lock, on the stack's thread: never blocks.
  bool deliver(const ntm::sock::Address& from, const Piece* pieces, size_t count) override {
    unsigned char record[NTM_BRIDGE_DGRAM_HEADER_SIZE] = {};
    record[0] = static_cast<unsigned char>(from.family == 6 ? 6 : 4);
    record[2] = static_cast<unsigned char>(from.port >> 8);
    record[3] = static_cast<unsigned char>(from.port & 0xff);
    std::memcpy(record + 4, from.bytes, from.family == 6 ? 16 : 4);
    iovec parts[1 + kMaxPieces];
    parts[0] = {record, sizeof(record)};
    count = std::min(count, kMaxPieces);
    for (size_t i = 0; i < count; ++i) {
      parts[1 + i] = {const_cast<void*>(pieces[i].data), pieces[i].size};
    }
    msghdr message{};
    message.msg_iov = parts;
    message.msg_iovlen = 1 + count;
    if (::sendmsg(pump_fd_, &message, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) return true;
    // A full queue drops the datagram; EPIPE: the application closed its end - untap.
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == EINTR;
  }

 private:
  int ntm_fd_;
  int pump_fd_;  // our end of the pair
};

std::mutex g_mutex;  // guards the list

std::vector<std::unique_ptr<PairSink>>& bridges() {
  static auto* list = new std::vector<std::unique_ptr<PairSink>>;  // leaked: see bridge.cc
  return *list;
}

// Takes ntm_fd's bridge out of the list (nullptr if it has none).
std::unique_ptr<PairSink> take(int ntm_fd) {
  std::lock_guard lock(g_mutex);
  auto& list = bridges();
  auto it = std::find_if(list.begin(), list.end(), [&](const auto& b) { return b->ntm_fd() == ntm_fd; });
  if (it == list.end()) return nullptr;
  std::unique_ptr<PairSink> b = std::move(*it);
  list.erase(it);
  return b;
}

}  // namespace

namespace ntm::capi {

int close_bridged_datagram(int ntm_fd) {
  std::unique_ptr<PairSink> b = take(ntm_fd);
  if (!b) return 1;  // not bridged: the caller closes it
  // Untapped first, so that no delivery runs or starts once the sink is freed, even if a
  // racing ntm_stop() is the one that closes the socket.
  sock::untap_datagrams(ntm_fd, b.get());
  if (!runtime().remove_fd(ntm_fd)) {
    errno = EBADF;
    return -1;
  }
  return close_unless_polled(ntm_fd);
}

void end_datagram_bridges() {
  std::vector<std::unique_ptr<PairSink>> ended;
  {
    std::lock_guard lock(g_mutex);
    ended.swap(bridges());
  }
  for (auto& b : ended) sock::untap_datagrams(b->ntm_fd(), b.get());
}

}  // namespace ntm::capi

extern "C" NTM_EXTERN(int) ntm_bridge_datagram(int ntm_fd) {
  int type = 0;
  socklen_t len = sizeof(type);
  if (ntm_getsockopt(ntm_fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return -1;
  if (type != SOCK_DGRAM) {
    errno = EOPNOTSUPP;
    return -1;
  }
  std::lock_guard lock(g_mutex);  // one bridge per socket
  if (std::any_of(bridges().begin(), bridges().end(),
                  [&](const auto& b) { return b->ntm_fd() == ntm_fd; })) {
    errno = EALREADY;
    return -1;
  }
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return -1;
  int size = kPairBuffer;
  ::setsockopt(pair[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  std::unique_ptr<PairSink> sink;
  try {
    sink = std::make_unique<PairSink>(ntm_fd, pair[1]);
    bridges().reserve(bridges().size() + 1);
  } catch (const std::exception&) {
    if (!sink) ::close(pair[1]);
    ::close(pair[0]);
    errno = ENOMEM;
    return -1;
  }
  if (ntm::sock::tap_datagrams(ntm_fd, sink.get()) != 0) {
    int err = errno;
    ::close(pair[0]);
    errno = err;
    return -1;  // sink's destructor closes pair[1]
  }
  bridges().push_back(std::move(sink));
  return pair[0];
}

extern "C" NTM_EXTERN(ssize_t) ntm_bridge_recvfrom(int os_fd, void *buf, size_t len, int flags,
                                                   struct sockaddr *from, socklen_t *fromlen) {
  unsigned char record[NTM_BRIDGE_DGRAM_HEADER_SIZE];
  iovec parts[2] = {{record, sizeof(record)}, {buf, len}};
  msghdr message{};
  message.msg_iov = parts;
  message.msg_iovlen = 2;
  ssize_t n = ::recvmsg(os_fd, &message, flags);
  if (n < 0) return -1;
  if (n < static_cast<ssize_t>(sizeof(record))) {
    // End of file (the socket was closed or the node stopped), or not a bridged descriptor.
    errno = n == 0 ? EBADF : EPROTO;
    return -1;
  }
  if (from != nullptr && fromlen != nullptr) {
    sockaddr_storage source{};
    socklen_t size = ntm::capi::decode_address_record(record, source);
    std::memcpy(from, &source, std::min(*fromlen, size));
    *fromlen = size;
  }
  return n - static_cast<ssize_t>(sizeof(record));
}
