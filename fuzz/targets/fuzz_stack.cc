// Fuzz target "stack": inner IP packets entering the virtual stack (core/stack, lwIP 2.1.3 with
// our options and patches) the way the node hands them over after decryption. The interface
// holds 100.64.0.2 and fd00::2, listens on TCP port 80 and UDP port 53 on both, and throws away
// whatever lwIP answers. lwIP keeps state between inputs (its timers run on its own thread), as
// it does in a node; a crash found here may need the inputs before it.
#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/core_lock.h"
#include "stack/virtual_interface.h"
#include "wire/constants.h"

extern "C" {
#include "lwip/tcp.h"
#include "lwip/udp.h"
}

using namespace ntm;

namespace {

class Discard final : public stack::PacketOutput {
 public:
  err_t output_packet(struct pbuf*) override { return ERR_OK; }
};

err_t on_recv(void*, struct tcp_pcb* pcb, struct pbuf* p, err_t) {
  if (p == nullptr) {
    tcp_close(pcb);
    return ERR_OK;
  }
  tcp_recved(pcb, p->tot_len);
  pbuf_free(p);
  return ERR_OK;
}

err_t on_accept(void*, struct tcp_pcb* pcb, err_t err) {
  if (err != ERR_OK || pcb == nullptr) return ERR_VAL;
  tcp_recv(pcb, on_recv);
  return ERR_OK;
}

void on_udp(void*, struct udp_pcb*, struct pbuf* p, const ip_addr_t*, u16_t) { pbuf_free(p); }

stack::VirtualInterface& interface() {
  static Discard discard;
  std::array<uint8_t, 16> v6{0xfd};
  v6[15] = 2;
  static stack::VirtualInterface vif(discard, std::array<uint8_t, 4>{100, 64, 0, 2}, v6, 1280);
  static const bool listening = [] {
    stack::CoreLock lock;
    struct tcp_pcb* tcp = tcp_new_ip_type(IPADDR_TYPE_ANY);
    tcp_bind(tcp, IP_ANY_TYPE, 80);
    tcp = tcp_listen(tcp);
    tcp_accept(tcp, on_accept);
    struct udp_pcb* udp = udp_new_ip_type(IPADDR_TYPE_ANY);
    udp_bind(udp, IP_ANY_TYPE, 53);
    udp_recv(udp, on_udp, nullptr);
    return true;
  }();
  (void)listening;
  return vif;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > wire::kMaxInnerPacket) return 0;
  auto& vif = interface();
  stack::CoreLock lock;
  (void)vif.input(std::span<const uint8_t>(data, size));
  return 0;
}
