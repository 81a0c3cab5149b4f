/* ntm-netem-probe: sends numbered, timestamped datagrams through ntm-netem and measures what
 * came out: loss (and its bursts), one-way delay, reordering, duplicates and the delivery rate.
 * The emulator's self-check (test_netem.py) and its packet-rate benchmark (pps.py) run it.
 *
 *   ntm-netem-probe --via A_ADDR --back B_ADDR [--count N | --seconds S] [--size BYTES]
 *                   [--pps RATE | --window N] [--drain-ms MS]
 *
 * The probe uses two sockets: the sender talks to side A of a link (--via), the receiver to
 * side B (--back). Both of the link's peers must be learned (no fixed peers): before measuring,
 * the receiver registers with side B and the sender pings through A until a ping arrives.
 * Prints one line 'result {json}'; exit status 1 if the path never came up, 2 on bad usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netem_config.h"

#define BATCH 64
#define MAGIC_DATA 0x4e544d44u /* "NTMD" */
#define MAGIC_PING 0x4e544d50u /* "NTMP" */
#define MAGIC_REG 0x4e544d52u  /* "NTMR" */
#define HEADER 16              /* magic u32, seq u32, sent time u64 (CLOCK_REALTIME ns) */

struct options {
    struct netem_address via, back;
    uint64_t count;      /* 0: use seconds */
    double seconds;
    size_t size;
    double pps;          /* 0: as fast as the window allows */
    uint64_t window;     /* 0: open loop */
    double drain_ms;
    double setup_ms;
};

struct results {
    uint64_t sent, received, duplicates, reordered, control_sent;
    uint64_t highest_seq, first_arrival_ns, last_arrival_ns, rx_bytes;
    uint64_t send_start_ns, send_end_ns;
    uint8_t *seen;          /* one byte per sequence number */
    int64_t *delays;        /* ns, one per distinct datagram received */
    size_t capacity;        /* of seen/delays */
};

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *out)
{
    fputs("usage: ntm-netem-probe --via A_ADDR --back B_ADDR [--count N | --seconds S]\n"
          "                       [--size BYTES] [--pps RATE | --window N] [--drain-ms MS]\n"
          "                       [--setup-ms MS]\n",
          out);
}

static bool parse(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof *o);
    o->size = 200;
    o->drain_ms = 1000;
    o->setup_ms = 5000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "ntm-netem-probe: %s needs a value\n", a);
            return false;
        }
        const char *v = argv[++i];
        char *end;
        double d = strtod(v, &end);
        bool number = *v && *end == '\0' && isfinite(d) && d >= 0;
        if (strcmp(a, "--via") == 0 || strcmp(a, "--back") == 0) {
            if (!netem_parse_address(v, strcmp(a, "--via") == 0 ? &o->via : &o->back)) {
                fprintf(stderr, "ntm-netem-probe: bad address '%s' for %s\n", v, a);
                return false;
            }
            continue;
        }
        if (!number) {
            fprintf(stderr, "ntm-netem-probe: bad value '%s' for %s\n", v, a);
            return false;
        }
        if (strcmp(a, "--count") == 0)
            o->count = (uint64_t)d;
        else if (strcmp(a, "--seconds") == 0)
            o->seconds = d;
        else if (strcmp(a, "--size") == 0 && d >= HEADER && d <= 65000)
            o->size = (size_t)d;
        else if (strcmp(a, "--pps") == 0)
            o->pps = d;
        else if (strcmp(a, "--window") == 0)
            o->window = (uint64_t)d;
        else if (strcmp(a, "--drain-ms") == 0)
            o->drain_ms = d;
        else if (strcmp(a, "--setup-ms") == 0)
            o->setup_ms = d;
        else {
            fprintf(stderr, "ntm-netem-probe: unknown option or bad value: %s %s\n", a, v);
            return false;
        }
    }
    if (!o->via.len || !o->back.len || (!o->count && o->seconds <= 0)) {
        usage(stderr);
        return false;
    }
    return true;
}

static int open_socket(int family)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int size = 32 << 20, on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    /* Kernel receive time stamps: the arrival time does not depend on when we get to read. */
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    return fd;
}

static void put_header(unsigned char *buf, uint32_t magic, uint32_t seq, uint64_t t)
{
    memcpy(buf, &magic, 4);
    memcpy(buf + 4, &seq, 4);
    memcpy(buf + 8, &t, 8);
}

static void send_control(int fd, const struct netem_address *to, uint32_t magic)
{
    unsigned char buf[HEADER];
    put_header(buf, magic, 0, realtime_ns());
    sendto(fd, buf, sizeof buf, 0, (const struct sockaddr *)&to->addr, to->len);
}

static bool grow(struct results *r, uint64_t need)
{
    if (need <= r->capacity)
        return true;
    size_t cap = r->capacity ? r->capacity : 65536;
    while (cap < need)
        cap *= 2;
    uint8_t *seen = realloc(r->seen, cap);
    if (!seen)
        return false;
    memset(seen + r->capacity, 0, cap - r->capacity);
    r->seen = seen;
    int64_t *delays = realloc(r->delays, cap * sizeof *delays);
    if (!delays)
        return false;
    r->delays = delays;
    r->capacity = cap;
    return true;
}

/* Reads what is queued on `fd`; returns the number of ping datagrams seen. */
static uint64_t receive(int fd, struct results *r)
{
    static unsigned char bufs[BATCH][2048];
    static char ctrl[BATCH][CMSG_SPACE(sizeof(struct timespec))];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    uint64_t pings = 0;
    for (;;) {
        for (size_t i = 0; i < BATCH; i++) {
            iov[i].iov_base = bufs[i];
            iov[i].iov_len = sizeof bufs[i];
            memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_control = ctrl[i];
            msgs[i].msg_hdr.msg_controllen = sizeof ctrl[i];
        }
        int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return pings;
        uint64_t fallback = realtime_ns();
        for (int i = 0; i < n; i++) {
            if (msgs[i].msg_len < HEADER)
                continue;
            uint32_t magic, seq;
            uint64_t sent;
            memcpy(&magic, bufs[i], 4);
            memcpy(&seq, bufs[i] + 4, 4);
            memcpy(&sent, bufs[i] + 8, 8);
            if (magic == MAGIC_PING) {
                pings++;
                continue;
            }
            if (magic != MAGIC_DATA || seq >= r->sent)
                continue;
            uint64_t at = fallback;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c;
                 c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
                    struct timespec ts;
                    memcpy(&ts, CMSG_DATA(c), sizeof ts);
                    at = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
                }
            }
            if (r->seen[seq]) {
                r->duplicates++;
                continue;
            }
            r->seen[seq] = 1;
            r->delays[r->received++] = (int64_t)(at - sent);
            r->rx_bytes += msgs[i].msg_len;
            if (!r->first_arrival_ns)
                r->first_arrival_ns = at;
            r->last_arrival_ns = at;
            if (r->received > 1 && seq < r->highest_seq)
                r->reordered++;
            if (seq > r->highest_seq)
                r->highest_seq = seq;
        }
    }
}

static void drain(int fd)
{
    unsigned char buf[2048];
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) >= 0) {
    }
}

static bool set_up_path(const struct options *o, int tx, int rx, int ep, struct results *r)
{
    uint64_t deadline = realtime_ns() + (uint64_t)(o->setup_ms * 1e6);
    while (realtime_ns() < deadline) {
        send_control(rx, &o->back, MAGIC_REG);
        send_control(tx, &o->via, MAGIC_PING);
        r->control_sent += 2;
        struct epoll_event ev;
        if (epoll_wait(ep, &ev, 1, 50) > 0 && receive(rx, r) > 0)
            return true;
        drain(tx);
    }
    return false;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double percentile_us(const int64_t *sorted, uint64_t n, double p)
{
    if (n == 0)
        return 0;
    uint64_t i = (uint64_t)(p * (double)(n - 1) + 0.5);
    return (double)sorted[i] / 1e3;
}

static void print_results(const struct options *o, struct results *r)
{
    uint64_t bursts = 0, longest = 0, run = 0, missing = 0;
    for (uint64_t s = 0; s < r->sent; s++) {
        if (!r->seen[s]) {
            missing++;
            run++;
            continue;
        }
        if (run) {
            bursts++;
            if (run > longest)
                longest = run;
        }
        run = 0;
    }
    if (run) {
        bursts++;
        if (run > longest)
            longest = run;
    }
    qsort(r->delays, r->received, sizeof *r->delays, cmp_i64);
    double span = (double)(r->last_arrival_ns - r->first_arrival_ns) / 1e9;
    double send_s = (double)(r->send_end_ns - r->send_start_ns) / 1e9;
    /* Delivery rate over the span between the first and the last arrival: the bytes after the
     * first datagram, each with the 28 bytes of IPv4 + UDP headers the emulator's rate counts. */
    double rate = span > 0 ? (double)(r->rx_bytes - r->rx_bytes / (r->received ? r->received : 1) +
                                      28.0 * (double)(r->received - 1)) *
                                 8 / span
                           : 0;
    printf("result {\"sent\":%llu,\"received\":%llu,\"lost\":%llu,\"duplicates\":%llu,"
           "\"reordered\":%llu,\"loss_bursts\":%llu,\"longest_burst\":%llu,"
           "\"mean_burst\":%.3f,\"delay_us\":{\"min\":%.1f,\"p50\":%.1f,\"p90\":%.1f,"
           "\"p99\":%.1f,\"max\":%.1f},\"size\":%zu,\"send_s\":%.6f,\"send_pps\":%.1f,"
           "\"arrival_span_s\":%.6f,\"rx_pps\":%.1f,\"rx_bps\":%.1f,\"control_sent\":%llu}\n",
           (unsigned long long)r->sent, (unsigned long long)r->received,
           (unsigned long long)missing, (unsigned long long)r->duplicates,
           (unsigned long long)r->reordered, (unsigned long long)bursts,
           (unsigned long long)longest, bursts ? (double)missing / (double)bursts : 0.0,
           r->received ? (double)r->delays[0] / 1e3 : 0.0,
           percentile_us(r->delays, r->received, 0.5), percentile_us(r->delays, r->received, 0.9),
           percentile_us(r->delays, r->received, 0.99),
           r->received ? (double)r->delays[r->received - 1] / 1e3 : 0.0, o->size, send_s,
           send_s > 0 ? (double)r->sent / send_s : 0.0, span,
           span > 0 ? (double)(r->received - 1) / span : 0.0, rate,
           (unsigned long long)r->control_sent);
    fflush(stdout);
}

/* How many datagrams may go out now: pacing (--pps), window (--window) and the end. */
static uint64_t allowed(const struct options *o, const struct results *r, uint64_t now,
                        uint64_t written_off)
{
    uint64_t limit = o->count ? o->count : UINT64_MAX;
    if (!o->count && now - r->send_start_ns >= (uint64_t)(o->seconds * 1e9))
        limit = r->sent;
    if (o->pps > 0) {
        uint64_t due = (uint64_t)((double)(now - r->send_start_ns) / 1e9 * o->pps) + 1;
        if (due < limit)
            limit = due;
    }
    if (o->window) {
        uint64_t in_flight = r->sent - r->received - written_off;
        uint64_t room = in_flight >= o->window ? 0 : o->window - in_flight;
        if (r->sent + room < limit)
            limit = r->sent + room;
    }
    return limit > r->sent ? limit - r->sent : 0;
}

int main(int argc, char **argv)
{
    struct options o;
    if (!parse(argc, argv, &o))
        return 2;
    struct results r;
    memset(&r, 0, sizeof r);
    int tx = open_socket(o.via.addr.ss_family), rx = open_socket(o.back.addr.ss_family);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = rx};
    if (tx < 0 || rx < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, rx, &ev) != 0) {
        fprintf(stderr, "ntm-netem-probe: cannot open sockets: %s\n", strerror(errno));
        return 1;
    }
    if (!set_up_path(&o, tx, rx, ep, &r)) {
        fprintf(stderr, "ntm-netem-probe: no ping came through within %.0f ms\n", o.setup_ms);
        return 1;
    }
    drain(tx);
    receive(rx, &r); /* late pings */

    static unsigned char bufs[BATCH][65000];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    r.send_start_ns = realtime_ns();
    uint64_t written_off = 0, last_progress = r.send_start_ns, last_received = 0;
    bool sending = true;
    for (;;) {
        uint64_t now = realtime_ns();
        uint64_t n = sending ? allowed(&o, &r, now, written_off) : 0;
        if (n > BATCH)
            n = BATCH;
        if (n && !grow(&r, r.sent + n)) {
            fprintf(stderr, "ntm-netem-probe: out of memory\n");
            return 1;
        }
        for (uint64_t i = 0; i < n; i++) {
            memset(bufs[i], 0, o.size);
            put_header(bufs[i], MAGIC_DATA, (uint32_t)(r.sent + i), now);
            iov[i].iov_base = bufs[i];
            iov[i].iov_len = o.size;
            memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
            msgs[i].msg_hdr.msg_name = &o.via.addr;
            msgs[i].msg_hdr.msg_namelen = o.via.len;
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        if (n) {
            int s = sendmmsg(tx, msgs, (unsigned)n, 0);
            if (s > 0)
                r.sent += (uint64_t)s;
            r.send_end_ns = realtime_ns();
        }
        receive(rx, &r);
        drain(tx);
        now = realtime_ns();
        if (r.received != last_received) {
            last_received = r.received;
            last_progress = now;
        }
        bool done_sending = o.count ? r.sent >= o.count
                                    : now - r.send_start_ns >= (uint64_t)(o.seconds * 1e9);
        if (done_sending)
            sending = false;
        if (!sending && (r.received >= r.sent ||
                         now - (last_progress > r.send_end_ns ? last_progress : r.send_end_ns) >
                             (uint64_t)(o.drain_ms * 1e6)))
            break;
        /* A closed window with nothing arriving: write the missing ones off (lost). */
        if (o.window && sending && allowed(&o, &r, now, written_off) == 0 &&
            now - last_progress > 200000000ULL) {
            written_off = r.sent - r.received;
            last_progress = now;
        }
        int timeout_ms = 0;
        if (!sending || (o.window && allowed(&o, &r, now, written_off) == 0))
            timeout_ms = 10;
        else if (o.pps > 0 && allowed(&o, &r, realtime_ns(), written_off) == 0)
            timeout_ms = 1;
        if (timeout_ms) {
            struct epoll_event e;
            epoll_wait(ep, &e, 1, timeout_ms);
        }
    }
    print_results(&o, &r);
    free(r.seen);
    free(r.delays);
    close(tx);
    close(rx);
    close(ep);
    return 0;
}
