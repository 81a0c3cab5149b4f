// The hooks lwIP calls (see ntm_lwip_hooks.h): routing decisions are the node's, random numbers
// come from OpenSSL's generator.
#include <atomic>

#include <openssl/rand.h>

#include "stack/lwip_port.h"

extern "C" {
#include "ntm_lwip_hooks.h"
}

namespace {
std::atomic<ntm::stack::RouteIp4Fn> g_route_ip4{nullptr};
std::atomic<ntm::stack::RouteIp6Fn> g_route_ip6{nullptr};
}  // namespace

namespace ntm::stack {
void set_route_functions(RouteIp4Fn ip4, RouteIp6Fn ip6) {
  g_route_ip4.store(ip4);
  g_route_ip6.store(ip6);
}
}  // namespace ntm::stack

extern "C" {

struct netif *ntm_lwip_route_ip4(const struct ip4_addr *, const struct ip4_addr *dest) {
  auto fn = g_route_ip4.load(std::memory_order_acquire);
  return fn != nullptr ? fn(dest) : nullptr;
}

struct netif *ntm_lwip_route_ip6(const struct ip6_addr *, const struct ip6_addr *dest) {
  auto fn = g_route_ip6.load(std::memory_order_acquire);
  return fn != nullptr ? fn(dest) : nullptr;
}

u32_t ntm_lwip_random(void) {
  u32_t value = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char *>(&value), sizeof(value)) != 1) {
    ntm_lwip_platform_assert("no random numbers", __FILE__, __LINE__);
  }
  return value;
}

}  // extern "C"
