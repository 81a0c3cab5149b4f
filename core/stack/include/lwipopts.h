/*
 * ntmobile's lwIP options. lwIP is the virtual IP stack that owns a node's virtual IPv4/IPv6
 * addresses; its packets leave through the tunnel engine, never through a real interface.
 * Why these values: see docs/architecture.md ("The virtual stack") and design.md section 9.
 */
#ifndef NTM_LWIPOPTS_H
#define NTM_LWIPOPTS_H

/* --- threading: an OS port with core locking, also for input (no extra thread hop) --- */
#define NO_SYS 0
#define SYS_LIGHTWEIGHT_PROT 1
#define LWIP_TCPIP_CORE_LOCKING 1
#define LWIP_TCPIP_CORE_LOCKING_INPUT 1
#define LWIP_NETCONN_FULLDUPLEX 1 /* one reader + one writer thread; close wakes readers */
#define LWIP_NETCONN_SEM_PER_THREAD 1
#define TCPIP_THREAD_NAME "ntm-lwip"
#define TCPIP_THREAD_STACKSIZE 0
#define TCPIP_THREAD_PRIO 0
#define TCPIP_MBOX_SIZE 4096
#define DEFAULT_THREAD_STACKSIZE 0

/* --- memory: lwIP takes memory from the C library, so no fixed pool can run dry; every
 * allocation is counted against the node's memory budget (core/stack/stack_limits.cc) --- */
#define MEM_LIBC_MALLOC 1
#define MEMP_MEM_MALLOC 1
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
void *ntm_lwip_malloc(size_t size);
void *ntm_lwip_calloc(size_t count, size_t size);
void ntm_lwip_free(void *p);
#ifdef __cplusplus
}
#endif
#define mem_clib_malloc ntm_lwip_malloc
#define mem_clib_calloc ntm_lwip_calloc
#define mem_clib_free ntm_lwip_free
#define MEM_ALIGNMENT 8
#define PBUF_POOL_BUFSIZE 1600 /* one virtual-MTU packet in one pbuf */
/* The socket table: lwIP's is a static array of 32-byte slots, untouched (so not resident)
 * until used; max_sockets (an option up to 1,000,000) limits what is really open. */
#define MEMP_NUM_NETCONN (1 << 20) /* also the number of lwIP sockets */
#define MEMP_NUM_TCP_PCB 1024      /* not a limit with MEMP_MEM_MALLOC */
#define MEMP_NUM_TCP_PCB_LISTEN 128
#define MEMP_NUM_UDP_PCB 256
#define MEMP_NUM_SYS_TIMEOUT (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 16)

/* --- protocols: IPv4 + IPv6 on an L3 netif (no Ethernet, no ARP, no ND address resolution) --- */
#define LWIP_IPV4 1
#define LWIP_IPV6 1
#define LWIP_ARP 0
#define LWIP_ETHERNET 0
#define LWIP_ICMP 1
#define LWIP_RAW 0
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_DNS 0
#define LWIP_IGMP 0
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_IPV6_MLD 0
#define LWIP_IPV6_AUTOCONFIG 0
#define LWIP_IPV6_DHCP6 0
#define LWIP_IPV6_SEND_ROUTER_SOLICIT 0
#define LWIP_IPV6_DUP_DETECT_ATTEMPTS 0
#define LWIP_IPV6_ADDRESS_LIFETIMES 1 /* non-static addresses are /128: routing is ours */
#define LWIP_IPV6_NUM_ADDRESSES 3
#define LWIP_ND6_QUEUEING 0
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define LWIP_IPV6_FRAG 1
#define LWIP_IPV6_REASS 1
#define IPV6_FRAG_COPYHEADER 1 /* required on 64-bit, else an assert in ip6_reass_tmr */
#define LWIP_HAVE_LOOPIF 1
#define LWIP_NETIF_LOOPBACK 1
#define LWIP_LOOPBACK_MAX_PBUFS 0
#define LWIP_SINGLE_NETIF 0
#define LWIP_CHECKSUM_CTRL_PER_NETIF 1 /* the tunnel netif skips checksums: AEAD covers them */

/* --- TCP: windows and buffers that follow the path (up to max_socket_buffer), SACK out,
 * out-of-order queueing. The compile-time sizes are ceilings; core/stack/stack_limits.cc sizes
 * each connection (patches 0006, 0011) --- */
#define TCP_MSS 1380 /* virtual MTU 1420 minus 40; IPv6 uses 1360 through eff. send MSS */
#define LWIP_CALCULATE_EFF_SEND_MSS 1
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 8
#define TCP_WND (0xFFFF << TCP_RCV_SCALE) /* ~16 MiB: the largest receive window */
#define TCP_SND_BUF (512 * 1024)          /* a new connection's send buffer; it grows (0011) */
#define TCP_SND_QUEUELEN 0xFFF0           /* pbufs queued per connection: ~16 MiB of segments */
#define TCP_SNDLOWAT (32 * 1024) /* lwIP keeps it in a u16 with 4*MSS to spare */
#define TCP_SNDQUEUELOWAT (TCP_SND_QUEUELEN / 2)
#define TCP_QUEUE_OOSEQ 1
#define LWIP_TCP_SACK_OUT 1
#define LWIP_TCP_MAX_SACK_NUM 4
#define TCP_LISTEN_BACKLOG 1
#define TCP_DEFAULT_LISTEN_BACKLOG 128
#define LWIP_TCP_KEEPALIVE 1
#define TCP_OVERSIZE TCP_MSS
#define LWIP_TCP_TIMESTAMPS 0
#define TCP_TMR_INTERVAL 25 /* fine timers: RTOs in 50 ms ticks (lwIP default: 500 ms, ours was 200 ms) */
#define LWIP_TCP_RTO_TIME 1000 /* initial RTO, RFC 6298 (patch 0005; lwIP 2.1.3 waited 3 s) */
#define LWIP_TCP_RTO_MIN 200   /* RTO floor, as Linux (patch 0012) */
/* TCP_MAXRTX stays 12 (lwIP's backoff table): from the 200 ms floor a dead path is given up
 * after ~3 min of retransmissions, as before (a 200 ms tick was the smallest RTO then). */

/* --- sockets API --- */
#define LWIP_SOCKET 1
#define LWIP_NETCONN 1
#define LWIP_COMPAT_SOCKETS 0
#define LWIP_POSIX_SOCKETS_IO_NAMES 0
#define LWIP_SOCKET_OFFSET 0
#define LWIP_SOCKET_SELECT 0
#define LWIP_SOCKET_POLL 1
#define LWIP_SO_RCVTIMEO 1
#define LWIP_SO_SNDTIMEO 1
#define LWIP_SO_RCVBUF 1
#define LWIP_SO_LINGER 0
#define SO_REUSE 1
#define LWIP_TCP_PCB_NUM_EXT_ARGS 0
#define RECV_BUFSIZE_DEFAULT 0x7fffffff /* "not set": TCP grows it (stack::kAutoReceiveBuffer) */
#define DEFAULT_TCP_RECVMBOX_SIZE 16384 /* >= TCP_WND / MSS, else lwIP refuses data; grows on use */
#define DEFAULT_UDP_RECVMBOX_SIZE 1024
#define DEFAULT_RAW_RECVMBOX_SIZE 64
#define DEFAULT_ACCEPTMBOX_SIZE 256
#define LWIP_NETIF_API 0
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK 0
#define LWIP_TIMEVAL_PRIVATE 0
#define LWIP_ERRNO_STDINCLUDE 1 /* lwIP sets the thread's real errno with the system's values */
#define LWIP_FIONREAD_LINUXMODE 1

/* --- integration with ntmobile (core/stack) --- */
#define LWIP_HOOK_FILENAME "ntm_lwip_hooks.h"
#define LWIP_HOOK_IP4_ROUTE_SRC(src, dest) ntm_lwip_route_ip4((src), (dest))
#define LWIP_HOOK_IP6_ROUTE(src, dest) ntm_lwip_route_ip6((src), (dest))
#define LWIP_HOOK_TCP_RCV_WND_LIMIT(pcb) ntm_lwip_rcv_wnd_limit(pcb)              /* patch 0006 */
#define LWIP_HOOK_TCP_ACCEPT_ALLOWED(lpcb, ip) ntm_lwip_accept_allowed((lpcb), (ip)) /* 0007 */
#define LWIP_HOOK_TCP_SND_BUF_LIMIT(pcb) ntm_lwip_snd_buf_limit(pcb)               /* 0011 */
#define LWIP_ASSERT_CORE_LOCKED() ntm_lwip_assert_core_locked()
#define LWIP_RAND() ntm_lwip_random()

/* --- statistics and debugging: off on the hot path --- */
#define LWIP_STATS 0
#define LWIP_STATS_DISPLAY 0
#define PPP_SUPPORT 0
#define LWIP_PERF 0
#ifdef NTM_LWIP_DEBUG
#define LWIP_DEBUG 1
#define TCP_DEBUG LWIP_DBG_ON
#endif

#endif /* NTM_LWIPOPTS_H */
