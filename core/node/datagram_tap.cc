// Datagram taps (datagram_tap.h): the socket's UDP pcb gets our receive callback in place of
// lwIP's (recv_udp in api_msg.c, which queues a netbuf for the socket's readers), with the sink
// as its argument. The original callback and argument are kept in the sink and put back on
// untap, so the socket then behaves as if it had never been tapped. Everything here runs under
// lwIP's core lock, as udp_input() does when it calls us.
#include "node/datagram_tap.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <new>

#include "stack/core_lock.h"

extern "C" {
#include "lwip/api.h"
#include "lwip/priv/sockets_priv.h"
#include "lwip/udp.h"
}

namespace ntm::sock {

struct TapAccess {
  static udp_recv_fn original(DatagramSink* s) {
    return reinterpret_cast<udp_recv_fn>(s->original_);
  }
  static void* original_arg(DatagramSink* s) { return s->original_arg_; }
  static bool v6_socket(DatagramSink* s) { return s->v6_socket_; }
  static void save(DatagramSink* s, udp_pcb* pcb, bool v6_socket) {
    s->original_ = reinterpret_cast<void (*)()>(pcb->recv);
    s->original_arg_ = pcb->recv_arg;
    s->v6_socket_ = v6_socket;
  }
};

namespace {

constexpr size_t kMaxPieces = 16;  // a longer pbuf chain is copied into one buffer

// The netconn of an open lwIP socket (core lock held); nullptr if there is none.
netconn* conn_of(int fd) {
  lwip_sock* s = lwip_socket_dbg_get_socket(fd);
  return s == nullptr ? nullptr : s->conn;
}

Address sender(const ip_addr_t* addr, u16_t port, bool v6_socket) {
  Address a;
  a.port = port;
  if (IP_IS_V6(addr)) {
    a.family = 6;
    std::memcpy(a.bytes, ip_2_ip6(addr)->addr, 16);
  } else if (v6_socket) {  // as lwip_recvfrom reports it: ::ffff:a.b.c.d
    a.family = 6;
    a.bytes[10] = a.bytes[11] = 0xff;
    std::memcpy(a.bytes + 12, &ip_2_ip4(addr)->addr, 4);
  } else {
    a.family = 4;
    std::memcpy(a.bytes, &ip_2_ip4(addr)->addr, 4);
  }
  return a;
}

void on_datagram(void* arg, udp_pcb* pcb, pbuf* p, const ip_addr_t* addr, u16_t port) {
  auto* sink = static_cast<DatagramSink*>(arg);
  if (p == nullptr) return;
  const Address from = sender(addr, port, TapAccess::v6_socket(sink));
  DatagramSink::Piece pieces[kMaxPieces];
  size_t count = 0;
  bool delivered;
  if (pbuf_clen(p) <= kMaxPieces) {
    for (pbuf* q = p; q != nullptr; q = q->next) pieces[count++] = {q->payload, q->len};
    delivered = sink->deliver(from, pieces, count);
  } else {
    std::unique_ptr<unsigned char[]> flat(new (std::nothrow) unsigned char[p->tot_len]);
    if (!flat) {
      pbuf_free(p);  // dropped, as by a full receive queue
      return;
    }
    pbuf_copy_partial(p, flat.get(), p->tot_len, 0);
    pieces[0] = {flat.get(), p->tot_len};
    delivered = sink->deliver(from, pieces, 1);
  }
  if (delivered) {
    pbuf_free(p);
    return;
  }
  // The sink gave up: this datagram and the next go to the socket's own queue.
  udp_recv_fn original = TapAccess::original(sink);
  void* original_arg = TapAccess::original_arg(sink);
  udp_recv(pcb, original, original_arg);
  if (original != nullptr) {
    original(original_arg, pcb, p, addr, port);
  } else {
    pbuf_free(p);
  }
}

}  // namespace

int tap_datagrams(int fd, DatagramSink* sink) {
  stack::CoreLock lock;
  netconn* conn = conn_of(fd);
  if (conn == nullptr) {
    errno = EBADF;
    return -1;
  }
  if (NETCONNTYPE_GROUP(netconn_type(conn)) != NETCONN_UDP || conn->pcb.udp == nullptr) {
    errno = EOPNOTSUPP;
    return -1;
  }
  udp_pcb* pcb = conn->pcb.udp;
  if (pcb->recv == on_datagram) {
    errno = EALREADY;
    return -1;
  }
  TapAccess::save(sink, pcb, NETCONNTYPE_ISIPV6(netconn_type(conn)) != 0);
  udp_recv(pcb, on_datagram, sink);
  return 0;
}

void untap_datagrams(int fd, DatagramSink* sink) {
  stack::CoreLock lock;
  netconn* conn = conn_of(fd);
  if (conn == nullptr || NETCONNTYPE_GROUP(netconn_type(conn)) != NETCONN_UDP) return;
  udp_pcb* pcb = conn->pcb.udp;
  if (pcb == nullptr || pcb->recv != on_datagram || pcb->recv_arg != sink) return;
  udp_recv(pcb, TapAccess::original(sink), TapAccess::original_arg(sink));
}

}  // namespace ntm::sock
