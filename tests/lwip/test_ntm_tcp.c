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

/* The sequence number of the first segment the test netif recorded since the last reset. */
static u32_t first_sent_seqno(void) {
  u32_t seqno = 0;
  EXPECT(txcounters.tx_packets != NULL);
  if (txcounters.tx_packets != NULL) {
    pbuf_copy_partial(txcounters.tx_packets, &seqno, sizeof(seqno), IP_HLEN + 4);
  }
  return lwip_ntohl(seqno);
}

static void reset_tx_record(void) {
  if (txcounters.tx_packets != NULL) {
    pbuf_free(txcounters.tx_packets);
    txcounters.tx_packets = NULL;
  }
  txcounters.num_tx_calls = 0;
  txcounters.num_tx_bytes = 0;
  txcounters.copy_tx_packets = 1;
}

/* 0013: segments 0 and 2 of a window are lost. Three duplicate ACKs resend segment 0; its ACK
 * (a partial ACK: up to segment 2) resends segment 2 at once and fast recovery goes on until an
 * ACK covers the whole window. lwIP 2.1.3 left recovery at the partial ACK and sent nothing:
 * with no more duplicate ACKs to come, segment 2 waited for the retransmission timeout. */
START_TEST(test_ntm_tcp_partial_ack_resends_next_hole) {
  struct tcp_pcb *pcb;
  u32_t base;
  tcpwnd_size_t ssthresh;
  int i;
  LWIP_UNUSED_ARG(_i);

  pcb = sender_with_segments_in_flight(&base);
  EXPECT_RET(pcb != NULL);
  reset_tx_record();
  for (i = 0; i < 3; i++) { /* segments 1, 3 and 4 arrive */
    test_tcp_input(ack_with_sacks(pcb, base, base, NULL, 0), &netif);
  }
  EXPECT_RET(txcounters.num_tx_calls == 1);
  EXPECT(first_sent_seqno() == base);
  EXPECT_RET((pcb->flags & TF_INFR) != 0);
  ssthresh = pcb->ssthresh;
  for (i = 0; i < 3; i++) { /* segments 5 to 7 */
    test_tcp_input(ack_with_sacks(pcb, base, base, NULL, 0), &netif);
  }
  reset_tx_record();
  /* The resent segment 0 arrives: the receiver acknowledges up to the next hole. */
  test_tcp_input(ack_with_sacks(pcb, base + 2 * TCP_MSS, base, NULL, 0), &netif);
  EXPECT(txcounters.num_tx_calls == 1);
  EXPECT(first_sent_seqno() == base + 2 * TCP_MSS);
  EXPECT((pcb->flags & TF_INFR) != 0);
  EXPECT(pcb->ssthresh == ssthresh);
  /* The resent segment 2 arrives: everything is acknowledged, recovery ends. */
  test_tcp_input(ack_with_sacks(pcb, base + SEGS * TCP_MSS, base, NULL, 0), &netif);
  EXPECT((pcb->flags & TF_INFR) == 0);
  EXPECT(pcb->cwnd >= ssthresh && pcb->cwnd <= ssthresh + TCP_MSS); /* (+ Reno growth) */
  EXPECT(pcb->unacked == NULL);
  tcp_abort(pcb);
}
END_TEST

/* 0013: after a retransmission timeout, duplicate ACKs for data sent before it (the receiver
 * holds segments beyond the hole; the go-back-N resending draws more) start no fast retransmit:
 * the timeout already cut ssthresh for these losses. lwIP 2.1.3 halved it again from the
 * one-segment cwnd, to 2 MSS, and the connection then grew by one segment per round trip. A
 * second timeout before the first one's resending is acknowledged holds ssthresh too. */
START_TEST(test_ntm_tcp_one_cut_per_loss_event) {
  struct tcp_pcb *pcb;
  u32_t base;
  tcpwnd_size_t ssthresh, cwnd;
  int i;
  LWIP_UNUSED_ARG(_i);

  pcb = sender_with_segments_in_flight(&base);
  EXPECT_RET(pcb != NULL);
  reset_tx_record();
  cwnd = pcb->cwnd;
  pcb->rtime = pcb->rto; /* the next slow tick times out */
  tcp_slowtmr();
  EXPECT_RET(txcounters.num_tx_calls == 1);
  EXPECT(first_sent_seqno() == base);
  ssthresh = pcb->ssthresh;
  EXPECT(ssthresh == LWIP_MIN(cwnd, pcb->snd_wnd) / 2);
  EXPECT(pcb->cwnd == pcb->mss);
  reset_tx_record();
  for (i = 0; i < 3; i++) {
    test_tcp_input(ack_with_sacks(pcb, base, base, NULL, 0), &netif);
  }
  EXPECT(pcb->ssthresh == ssthresh);
  EXPECT((pcb->flags & TF_INFR) == 0);
  EXPECT(txcounters.num_tx_calls == 0);
  /* The resent segment is lost as well: the next timeout holds ssthresh. */
  pcb->rtime = pcb->rto;
  tcp_slowtmr();
  EXPECT(txcounters.num_tx_calls == 1);
  EXPECT(pcb->ssthresh == ssthresh);
  tcp_abort(pcb);
}
END_TEST

Suite *ntm_tcp_suite(void) {
  testfunc tests[] = {
      TESTFUNC(test_ntm_tcp_unacked_tail_follows_the_queue),
      TESTFUNC(test_ntm_tcp_send_buffer_size_per_pcb),
      TESTFUNC(test_ntm_tcp_initial_rto_and_floor),
      TESTFUNC(test_ntm_tcp_partial_ack_resends_next_hole),
      TESTFUNC(test_ntm_tcp_one_cut_per_loss_event),
  };
  return create_suite("NTM_TCP", tests, sizeof(tests) / sizeof(testfunc), ntm_setup,
                      ntm_teardown);
}
