/* lwIP options of the unit-test build (tests/lwip): those of lwIP 2.1.3's own test/unit/lwipopts.h
 * for what its TCP tests need, without an OS (NO_SYS: the tests drive tcp_input and the timers
 * themselves), plus ntmobile's TCP options that the patches add (patches/lwip): SACK out and the
 * 200 ms RTO floor. The hooks (core/stack) are not compiled here: lwIP's
 * defaults (Reno-style growth, one send buffer size) stand where they are absent. */
#ifndef NTM_LWIP_TEST_LWIPOPTS_H
#define NTM_LWIP_TEST_LWIPOPTS_H

#define LWIP_TESTMODE 1
#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_NETCONN 0
#define LWIP_SOCKET 0
#define LWIP_IPV6 1
#define LWIP_CHECKSUM_ON_COPY 1
#define TCP_CHECKSUM_ON_COPY_SANITY_CHECK 1
#define TCP_CHECKSUM_ON_COPY_SANITY_CHECK_FAIL(printfmsg) LWIP_ASSERT("TCP_CHECKSUM_ON_COPY_SANITY_CHECK_FAIL", 0)

/* Minimal changes to opt.h required for tcp unit tests (as lwIP's): */
#define MEM_SIZE 16000
/* lwIP's default alignment (1) misaligns its pools' structs: UBSan (the sanitizer build) stops
 * at memp.c. ntmobile's own build uses the C library's allocator, aligned anyway. */
#define MEM_ALIGNMENT 8
#define TCP_SND_QUEUELEN 40
#define MEMP_NUM_TCP_SEG TCP_SND_QUEUELEN
#define TCP_SND_BUF (12 * TCP_MSS)
#define TCP_WND (10 * TCP_MSS)
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 0
#define PBUF_POOL_SIZE 400
#define MIB2_STATS 1
#define LWIP_ARP 0 /* no Ethernet here: src/netif is not part of the build */
#define LWIP_ETHERNET 0
#define TCP_LISTEN_BACKLOG 1 /* as ntmobile's build (patch 0009 uses its counter) */

/* ntmobile's (patch 0012; SACK out as in ntmobile's build). The initial RTO (0005) stays lwIP's
 * 3 s here: lwIP's own tests count timer ticks from it. */
#define LWIP_TCP_RTO_MIN 200
#define LWIP_TCP_SACK_OUT 1

#endif
