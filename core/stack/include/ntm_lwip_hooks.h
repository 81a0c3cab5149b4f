/* Hooks lwIP calls into ntmobile: routing (only virtual addresses with a tunnel are reachable),
 * the core-lock assertion and random numbers. Implemented in core/stack/lwip_hooks.cc. */
#ifndef NTM_LWIP_HOOKS_H
#define NTM_LWIP_HOOKS_H

#include "lwip/arch.h"

#ifdef __cplusplus
extern "C" {
#endif

struct netif;
struct ip4_addr;
struct ip6_addr;

struct netif *ntm_lwip_route_ip4(const struct ip4_addr *src, const struct ip4_addr *dest);
struct netif *ntm_lwip_route_ip6(const struct ip6_addr *src, const struct ip6_addr *dest);
void ntm_lwip_assert_core_locked(void);
u32_t ntm_lwip_random(void);

#ifdef __cplusplus
}
#endif

#endif
