/* ntmobile's tests of its lwIP TCP patches (patches/lwip), in the style and with the helpers of
 * lwIP's own TCP unit tests: a pcb in ESTABLISHED on a test netif that records what it sends, and
 * segments from the "peer" fed to tcp_input. Each test names the patch it covers. */
#include "ntm_tcp_tests.h"

#include <string.h>

#include "lwip/inet_chksum.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/ip4.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "tcp/tcp_helper.h"

#define SEGS 8

static struct netif netif;
static struct test_tcp_txcounters txcounters;
static struct test_tcp_counters counters;
static struct netif *old_netif_list;
static struct netif *old_netif_default;

static void ntm_setup(void) {
  old_netif_list = netif_list;
  old_netif_default = netif_default;
  netif_list = NULL;
  netif_default = NULL;
  tcp_remove_all();
  memset(&counters, 0, sizeof(counters));
  test_tcp_init_netif(&netif, &txcounters, &test_local_ip, &test_netmask);
  lwip_check_ensure_no_alloc(SKIP_POOL(MEMP_SYS_TIMEOUT));
}

static void ntm_teardown(void) {
  if (txcounters.tx_packets != NULL) {
    pbuf_free(txcounters.tx_packets);
    txcounters.tx_packets = NULL;
  }
  netif_list = NULL;
  netif_default = NULL;
  tcp_remove_all();
  netif_list = old_netif_list;
  netif_default = old_netif_default;
  lwip_check_ensure_no_alloc(SKIP_POOL(MEMP_SYS_TIMEOUT));
}

/* An established pcb that has sent SEGS full segments (cwnd and the peer's window allow them). */
static struct tcp_pcb *sender_with_segments_in_flight(u32_t *first_seqno) {
  static char data[SEGS * TCP_MSS];
  err_t err;
  struct tcp_pcb *pcb = test_tcp_new_counters_pcb(&counters);
  EXPECT_RETNULL(pcb != NULL);
  tcp_set_state(pcb, ESTABLISHED, &test_local_ip, &test_remote_ip, TEST_LOCAL_PORT,
                TEST_REMOTE_PORT);
  pcb->mss = TCP_MSS;
  pcb->cwnd = pcb->snd_wnd;
  *first_seqno = pcb->snd_nxt;
  err = tcp_write(pcb, data, sizeof(data), TCP_WRITE_FLAG_COPY); /* (EXPECT_* evaluate twice) */
  EXPECT_RETNULL(err == ERR_OK);
  err = tcp_output(pcb);
  EXPECT_RETNULL(err == ERR_OK);
  EXPECT_RETNULL(txcounters.num_tx_calls == SEGS);
  return pcb;
}

/* A pure ACK from the peer acknowledging up to `ackno`, with SACK blocks (pairs of segment
 * indexes relative to `base`: [from, to) in segments). */
static struct pbuf *ack_with_sacks(struct tcp_pcb *pcb, u32_t ackno, u32_t base,
                                   const int (*blocks)[2], int num_blocks) {
  const u16_t optlen = (u16_t)(num_blocks > 0 ? 4 + 8 * num_blocks : 0); /* NOP NOP 5 len */
  const u16_t len = (u16_t)(sizeof(struct ip_hdr) + sizeof(struct tcp_hdr) + optlen);
  struct pbuf *p = pbuf_alloc(PBUF_RAW, len, PBUF_POOL);
  struct ip_hdr *iphdr;
  struct tcp_hdr *tcphdr;
  u8_t *opt;
  int i;
  EXPECT_RETNULL(p != NULL && p->len == len);
  memset(p->payload, 0, len);
  iphdr = (struct ip_hdr *)p->payload;
  iphdr->dest.addr = ip_2_ip4(&pcb->local_ip)->addr;
  iphdr->src.addr = ip_2_ip4(&pcb->remote_ip)->addr;
  IPH_VHL_SET(iphdr, 4, IP_HLEN / 4);
  IPH_LEN_SET(iphdr, lwip_htons(len));
  IPH_TTL_SET(iphdr, 64);
  IPH_PROTO_SET(iphdr, IP_PROTO_TCP);
  IPH_CHKSUM_SET(iphdr, inet_chksum(iphdr, IP_HLEN));
  pbuf_remove_header(p, sizeof(struct ip_hdr));
  tcphdr = (struct tcp_hdr *)p->payload;
  tcphdr->src = lwip_htons(pcb->remote_port);
  tcphdr->dest = lwip_htons(pcb->local_port);
  tcphdr->seqno = lwip_htonl(pcb->rcv_nxt);
  tcphdr->ackno = lwip_htonl(ackno);
  TCPH_HDRLEN_FLAGS_SET(tcphdr, (sizeof(struct tcp_hdr) + optlen) / 4, TCP_ACK);
  tcphdr->wnd = lwip_htons(TCP_WND);
  opt = (u8_t *)(tcphdr + 1);
  if (num_blocks > 0) {
    *opt++ = 1;
    *opt++ = 1;
    *opt++ = 5;
    *opt++ = (u8_t)(2 + 8 * num_blocks);
    for (i = 0; i < num_blocks; i++) {
      u32_t left = lwip_htonl(base + (u32_t)blocks[i][0] * TCP_MSS);
      u32_t right = lwip_htonl(base + (u32_t)blocks[i][1] * TCP_MSS);
      memcpy(opt, &left, 4);
      memcpy(opt + 4, &right, 4);
      opt += 8;
    }
  }
  tcphdr->chksum = ip_chksum_pseudo(p, IP_PROTO_TCP, p->tot_len, &pcb->remote_ip, &pcb->local_ip);
  pbuf_add_header(p, sizeof(struct ip_hdr));
  return p;
}

/* 0010: the pcb's unacked_tail is the last unacked segment through sending, a fast
 * retransmission (the segment goes back to unsent and returns to unacked) and acknowledgements. */
START_TEST(test_ntm_tcp_unacked_tail_follows_the_queue) {
  struct tcp_pcb *pcb;
  struct tcp_seg *last;
  u32_t base;
  int i;
  LWIP_UNUSED_ARG(_i);

  pcb = sender_with_segments_in_flight(&base);
  EXPECT_RET(pcb != NULL);
  for (last = pcb->unacked; last->next != NULL; last = last->next) {
  }
  EXPECT(pcb->unacked_tail == last);
  for (i = 0; i < 3; i++) {
    test_tcp_input(ack_with_sacks(pcb, base, base, NULL, 0), &netif);
  }
  for (last = pcb->unacked; last->next != NULL; last = last->next) {
  }
  EXPECT(pcb->unacked_tail == last);
  EXPECT(lwip_ntohl(last->tcphdr->seqno) == base + (SEGS - 1) * TCP_MSS);
  test_tcp_input(ack_with_sacks(pcb, base + 3 * TCP_MSS, base, NULL, 0), &netif);
  for (last = pcb->unacked; last->next != NULL; last = last->next) {
  }
  EXPECT(pcb->unacked_tail == last);
  tcp_abort(pcb);
}
END_TEST

/* 0011: a pcb's send buffer has its own size; it never drops below what is queued or in flight. */
START_TEST(test_ntm_tcp_send_buffer_size_per_pcb) {
  struct tcp_pcb *pcb;
  u32_t base;
  tcpwnd_size_t in_use;
  LWIP_UNUSED_ARG(_i);

  pcb = sender_with_segments_in_flight(&base);
  EXPECT_RET(pcb != NULL);
  EXPECT(pcb->snd_buf_size == TCP_SND_BUF);
  in_use = pcb->snd_buf_size - pcb->snd_buf;
  EXPECT(in_use == SEGS * TCP_MSS);
  tcp_set_sndbuf_size(pcb, 4 * TCP_SND_BUF);
  EXPECT(pcb->snd_buf_size == 4 * TCP_SND_BUF);
  EXPECT(pcb->snd_buf == 4 * TCP_SND_BUF - in_use);
  /* Less than in flight: held at what is in use (and at least twice TCP_SNDLOWAT, else the
     socket would never become writable again). */
  tcp_set_sndbuf_size(pcb, TCP_MSS);
  EXPECT(pcb->snd_buf_size == LWIP_MAX(in_use, 2 * TCP_SNDLOWAT));
  EXPECT(pcb->snd_buf == pcb->snd_buf_size - in_use);
  tcp_abort(pcb);
}
END_TEST

/* 0005 and 0012: a new pcb starts with the configured initial RTO; an RTT sample that computes
 * to less than LWIP_TCP_RTO_MIN gives the floor. */
START_TEST(test_ntm_tcp_initial_rto_and_floor) {
  struct tcp_pcb *pcb;
  u32_t base;
  int i;
  LWIP_UNUSED_ARG(_i);

  pcb = test_tcp_new_counters_pcb(&counters);
  EXPECT_RET(pcb != NULL);
  EXPECT(pcb->rto == LWIP_TCP_RTO_TIME / TCP_SLOW_INTERVAL);
  tcp_abort(pcb);

  pcb = sender_with_segments_in_flight(&base);
  EXPECT_RET(pcb != NULL);
  /* Instant ACKs from an estimate of zero variance: the computed RTO is zero ticks. */
  pcb->sa = 0;
  pcb->sv = 0;
  for (i = 1; i <= SEGS; i++) {
    pcb->rttest = tcp_ticks;
    pcb->rtseq = base + (u32_t)(i - 1) * TCP_MSS;
    test_tcp_input(ack_with_sacks(pcb, base + (u32_t)i * TCP_MSS, base, NULL, 0), &netif);
  }
  EXPECT(TCP_RTO_MIN_TICKS >= 1);
  EXPECT(TCP_RTO_MIN_TICKS * TCP_SLOW_INTERVAL >= LWIP_TCP_RTO_MIN);
  EXPECT(pcb->rto == TCP_RTO_MIN_TICKS);
  tcp_abort(pcb);
}
END_TEST

Suite *ntm_tcp_suite(void) {
  testfunc tests[] = {
      TESTFUNC(test_ntm_tcp_unacked_tail_follows_the_queue),
      TESTFUNC(test_ntm_tcp_send_buffer_size_per_pcb),
      TESTFUNC(test_ntm_tcp_initial_rto_and_floor),
  };
  return create_suite("NTM_TCP", tests, sizeof(tests) / sizeof(testfunc), ntm_setup,
                      ntm_teardown);
}
