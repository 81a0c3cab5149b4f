/* Hooks lwIP calls into ntmobile: routing (only virtual addresses with a tunnel are reachable),
 * the core-lock assertion, random numbers and the limits. Implemented in core/stack/lwip_hooks.cc. */
#ifndef NTM_LWIP_HOOKS_H
#define NTM_LWIP_HOOKS_H

#include "lwip/arch.h"

#ifdef __cplusplus
extern "C" {
#endif

struct netif;
struct ip4_addr;
struct ip6_addr;
struct ip_addr;
struct tcp_pcb;
struct tcp_pcb_listen;

struct netif *ntm_lwip_route_ip4(const struct ip4_addr *src, const struct ip4_addr *dest);
struct netif *ntm_lwip_route_ip6(const struct ip6_addr *src, const struct ip6_addr *dest);
void ntm_lwip_assert_core_locked(void);
u32_t ntm_lwip_random(void);
/* The limits (core/stack/stack_limits.cc): receive window, accepting a connection. */
u32_t ntm_lwip_rcv_wnd_limit(const struct tcp_pcb *pcb);
u32_t ntm_lwip_snd_buf_limit(const struct tcp_pcb *pcb);
/* Congestion control (core/stack/congestion_control.cc): CUBIC. */
void ntm_lwip_cc_acked(struct tcp_pcb *pcb, u32_t acked);
u32_t ntm_lwip_cc_loss(struct tcp_pcb *pcb, int rto);
int ntm_lwip_accept_allowed(const struct tcp_pcb_listen *listener, const struct ip_addr *remote);

#ifdef __cplusplus
}
#endif

#endif
