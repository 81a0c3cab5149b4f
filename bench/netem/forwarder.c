#define _GNU_SOURCE
#include "forwarder.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "packet_queue.h"
#include "shaper.h"
#include "udp_counters.h"

#define BATCH 64          /* datagrams per recvmmsg/sendmmsg */
#define SOCKET_BUFFER (32 << 20)

struct link;

struct side {
    int fd;
    struct sockaddr_storage bound;
    struct netem_address peer; /* len 0 until learned (when not fixed) */
    bool peer_fixed;
    struct direction *inbound;  /* the direction whose datagrams arrive on this side */
    struct direction *outbound; /* the direction whose datagrams leave from this side */
};

struct direction_stats {
    uint64_t received, received_bytes, forwarded, forwarded_bytes;
    uint64_t lost_random, lost_burst, dropped_queue, dropped_oversize, dropped_full;
    uint64_t dropped_no_peer, send_errors, held_back;
    uint64_t max_queue_bytes, max_in_flight;
};

struct direction {
    struct netem_shaper shaper;
    struct netem_heap heap;
    struct side *out;
    bool blocked; /* the out socket's buffer is full: wait for EPOLLOUT */
    struct direction_stats st;
};

struct link {
    struct side a, b;
    struct direction a2b, b2a;
};

struct forwarder {
    const struct netem_config *cfg;
    struct link links[NETEM_MAX_LINKS];
    size_t nlinks;
    struct netem_pool pool;
    size_t pool_max_in_use;
    struct netem_packet *scratch[BATCH]; /* receive targets when the pool is exhausted */
    int epfd, sigfd;
    uint64_t arrivals;
    uint64_t start_ns;
    struct netem_udp_counters udp_start;
    FILE *out, *err;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void set_buffer(int fd, int force_opt, int opt)
{
    int size = SOCKET_BUFFER;
    /* FORCE (as root) goes beyond net.core.[rw]mem_max, which cannot be raised from inside a
     * namespace; otherwise take what the limit allows. */
    if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof size) != 0)
        setsockopt(fd, SOL_SOCKET, opt, &size, sizeof size);
}

static bool open_side(struct forwarder *fw, struct side *s, const struct netem_address *bind_to,
                      const struct netem_address *peer)
{
    char text[80];
    s->fd = socket(bind_to->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        fprintf(fw->err, "ntm-netem: socket: %s\n", strerror(errno));
        return false;
    }
    set_buffer(s->fd, SO_RCVBUFFORCE, SO_RCVBUF);
    set_buffer(s->fd, SO_SNDBUFFORCE, SO_SNDBUF);
    if (bind(s->fd, (const struct sockaddr *)&bind_to->addr, bind_to->len) != 0) {
        fprintf(fw->err, "ntm-netem: cannot bind %s: %s\n",
                netem_format_address((const struct sockaddr *)&bind_to->addr, text, sizeof text),
                strerror(errno));
        return false;
    }
    socklen_t len = sizeof s->bound;
    getsockname(s->fd, (struct sockaddr *)&s->bound, &len);
    s->peer = *peer;
    s->peer_fixed = peer->len != 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
    if (epoll_ctl(fw->epfd, EPOLL_CTL_ADD, s->fd, &ev) != 0) {
        fprintf(fw->err, "ntm-netem: epoll_ctl: %s\n", strerror(errno));
        return false;
    }
    return true;
}

/* The rate counts what the datagram costs on the wire: IP and UDP headers of the out side. */
static void init_direction(struct direction *d, const struct netem_impairment *cfg,
                           struct side *out, uint64_t seed)
{
    struct netem_impairment c = *cfg;
    c.overhead_bytes = out->bound.ss_family == AF_INET6 ? 48 : 28;
    netem_shaper_init(&d->shaper, &c, seed);
    netem_heap_init(&d->heap);
    d->out = out;
    d->blocked = false;
    memset(&d->st, 0, sizeof d->st);
}

static bool open_links(struct forwarder *fw)
{
    const struct netem_config *cfg = fw->cfg;
    for (size_t i = 0; i < cfg->nlinks; i++) {
        struct link *l = &fw->links[i];
        const struct netem_link_config *lc = &cfg->links[i];
        l->a.fd = l->b.fd = -1;
        fw->nlinks = i + 1;
        if (!open_side(fw, &l->a, &lc->a_bind, &lc->a_peer) ||
            !open_side(fw, &l->b, &lc->b_bind, &lc->b_peer))
            return false;
        /* Each direction draws from its own stream of random numbers. */
        init_direction(&l->a2b, &cfg->a2b, &l->b, cfg->seed * 2 * NETEM_MAX_LINKS + 2 * i);
        init_direction(&l->b2a, &cfg->b2a, &l->a, cfg->seed * 2 * NETEM_MAX_LINKS + 2 * i + 1);
        l->a.inbound = &l->a2b;
        l->a.outbound = &l->b2a;
        l->b.inbound = &l->b2a;
        l->b.outbound = &l->a2b;
        char a[80], b[80];
        fprintf(fw->out, "ready link=%zu a=%s b=%s\n", i,
                netem_format_address((struct sockaddr *)&l->a.bound, a, sizeof a),
                netem_format_address((struct sockaddr *)&l->b.bound, b, sizeof b));
    }
    fflush(fw->out);
    return true;
}

static void set_blocked(struct forwarder *fw, struct direction *d, bool blocked)
{
    d->blocked = blocked;
    struct epoll_event ev = {.events = EPOLLIN | (blocked ? EPOLLOUT : 0), .data.ptr = d->out};
    epoll_ctl(fw->epfd, EPOLL_CTL_MOD, d->out->fd, &ev);
}

/* Sends every datagram of `d` that is due at `now`, in batches. */
static void flush_direction(struct forwarder *fw, struct direction *d, uint64_t now)
{
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct netem_packet *pkts[BATCH];
    while (!d->blocked) {
        size_t n = 0;
        while (n < BATCH) {
            struct netem_packet *top = netem_heap_top(&d->heap);
            if (!top || top->deliver_ns > now)
                break;
            pkts[n++] = netem_heap_pop(&d->heap);
        }
        if (n == 0)
            return;
        if (d->out->peer.len == 0) { /* nobody to send to yet on that side */
            for (size_t i = 0; i < n; i++)
                netem_pool_put(&fw->pool, pkts[i]);
            d->st.dropped_no_peer += n;
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            iov[i].iov_base = pkts[i]->data;
            iov[i].iov_len = pkts[i]->len;
            memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
            msgs[i].msg_hdr.msg_name = &d->out->peer.addr;
            msgs[i].msg_hdr.msg_namelen = d->out->peer.len;
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        size_t done = 0;
        while (done < n) {
            int r = sendmmsg(d->out->fd, msgs + done, (unsigned)(n - done), 0);
            if (r > 0) {
                for (size_t i = done; i < done + (size_t)r; i++) {
                    d->st.forwarded++;
                    d->st.forwarded_bytes += pkts[i]->len;
                    netem_pool_put(&fw->pool, pkts[i]);
                }
                done += (size_t)r;
            } else if (errno == EINTR) {
                continue;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                /* Keep them (same times and order) until the socket drains. */
                for (size_t i = done; i < n; i++)
                    netem_heap_push(&d->heap, pkts[i]);
                set_blocked(fw, d, true);
                return;
            } else {
                /* ENOBUFS, unreachable...: this datagram is lost like on a real router. */
                d->st.send_errors++;
                netem_pool_put(&fw->pool, pkts[done]);
                done++;
            }
        }
    }
}

static void admit(struct forwarder *fw, struct direction *d, struct netem_packet *pkt,
                  uint64_t now)
{
    uint64_t deliver;
    bool held_back = false;
    switch (netem_shaper_admit(&d->shaper, now, pkt->len, &deliver, &held_back)) {
    case NETEM_LOST_RANDOM:
        d->st.lost_random++;
        netem_pool_put(&fw->pool, pkt);
        return;
    case NETEM_LOST_BURST:
        d->st.lost_burst++;
        netem_pool_put(&fw->pool, pkt);
        return;
    case NETEM_DROP_QUEUE:
        d->st.dropped_queue++;
        netem_pool_put(&fw->pool, pkt);
        return;
    case NETEM_PASS:
        break;
    }
    pkt->deliver_ns = deliver;
    pkt->order = fw->arrivals++;
    if (!netem_heap_push(&d->heap, pkt)) {
        d->st.dropped_full++;
        netem_pool_put(&fw->pool, pkt);
        return;
    }
    d->st.held_back += held_back;
    uint64_t backlog = netem_shaper_backlog(&d->shaper, now);
    if (backlog > d->st.max_queue_bytes)
        d->st.max_queue_bytes = backlog;
    if (d->heap.size > d->st.max_in_flight)
        d->st.max_in_flight = d->heap.size;
}

/* One recvmmsg batch from side `s`; level-triggered epoll brings us back for the rest. */
static void receive_batch(struct forwarder *fw, struct side *s)
{
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_storage from[BATCH];
    struct netem_packet *pkts[BATCH];
    bool pooled[BATCH];
    for (size_t i = 0; i < BATCH; i++) {
        pkts[i] = netem_pool_get(&fw->pool);
        pooled[i] = pkts[i] != NULL;
        if (!pooled[i])
            pkts[i] = fw->scratch[i];
        iov[i].iov_base = pkts[i]->data;
        iov[i].iov_len = fw->pool.slot_size;
        memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof from[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    if (fw->pool.in_use > fw->pool_max_in_use)
        fw->pool_max_in_use = fw->pool.in_use;
    int r = recvmmsg(s->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    uint64_t now = now_ns();
    size_t got = r > 0 ? (size_t)r : 0;
    struct direction *d = s->inbound;
    for (size_t i = 0; i < got; i++) {
        d->st.received++;
        d->st.received_bytes += msgs[i].msg_len;
        if (!s->peer_fixed) {
            memcpy(&s->peer.addr, &from[i], msgs[i].msg_hdr.msg_namelen);
            s->peer.len = msgs[i].msg_hdr.msg_namelen;
        }
        if (!pooled[i]) {
            d->st.dropped_full++;
            continue;
        }
        if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
            d->st.dropped_oversize++;
            netem_pool_put(&fw->pool, pkts[i]);
            continue;
        }
        pkts[i]->len = msgs[i].msg_len;
        admit(fw, d, pkts[i], now);
    }
    for (size_t i = got; i < BATCH; i++)
        if (pooled[i])
            netem_pool_put(&fw->pool, pkts[i]);
}

static void print_direction(FILE *out, const char *name, const struct direction *d)
{
    const struct direction_stats *s = &d->st;
    fprintf(out,
            "\"%s\":{\"received\":%llu,\"received_bytes\":%llu,\"forwarded\":%llu,"
            "\"forwarded_bytes\":%llu,\"lost_random\":%llu,\"lost_burst\":%llu,"
            "\"dropped_queue\":%llu,\"dropped_oversize\":%llu,\"dropped_full\":%llu,"
            "\"dropped_no_peer\":%llu,\"send_errors\":%llu,\"held_back\":%llu,"
            "\"max_queue_bytes\":%llu,\"max_in_flight\":%llu,\"in_flight\":%zu}",
            name, (unsigned long long)s->received, (unsigned long long)s->received_bytes,
            (unsigned long long)s->forwarded, (unsigned long long)s->forwarded_bytes,
            (unsigned long long)s->lost_random, (unsigned long long)s->lost_burst,
            (unsigned long long)s->dropped_queue, (unsigned long long)s->dropped_oversize,
            (unsigned long long)s->dropped_full, (unsigned long long)s->dropped_no_peer,
            (unsigned long long)s->send_errors, (unsigned long long)s->held_back,
            (unsigned long long)s->max_queue_bytes, (unsigned long long)s->max_in_flight,
            d->heap.size);
}

static void print_stats(struct forwarder *fw)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    struct netem_udp_counters udp;
    bool have_udp = netem_read_udp_counters(&udp);
    FILE *out = fw->out;
    fprintf(out, "stats {\"elapsed_s\":%.6f,\"cpu_s\":%.6f,\"pool_max_in_use\":%zu,",
            (double)(now_ns() - fw->start_ns) / 1e9, cpu, fw->pool_max_in_use);
    /* The namespace's UDP drop counters since start (all sockets of the namespace: exact for
     * the emulator only where it runs alone in its namespace). */
    if (have_udp && fw->udp_start.valid)
        fprintf(out, "\"udp_rcvbuf_errors\":%llu,\"udp_sndbuf_errors\":%llu,"
                     "\"udp_in_errors\":%llu,",
                (unsigned long long)(udp.rcvbuf_errors - fw->udp_start.rcvbuf_errors),
                (unsigned long long)(udp.sndbuf_errors - fw->udp_start.sndbuf_errors),
                (unsigned long long)(udp.in_errors - fw->udp_start.in_errors));
    fputs("\"links\":[", out);
    for (size_t i = 0; i < fw->nlinks; i++) {
        struct link *l = &fw->links[i];
        char a[80], b[80], ap[80], bp[80];
        fprintf(out, "%s{\"a\":\"%s\",\"b\":\"%s\",\"a_peer\":\"%s\",\"b_peer\":\"%s\",",
                i ? "," : "", netem_format_address((struct sockaddr *)&l->a.bound, a, sizeof a),
                netem_format_address((struct sockaddr *)&l->b.bound, b, sizeof b),
                l->a.peer.len ? netem_format_address((struct sockaddr *)&l->a.peer.addr, ap,
                                                     sizeof ap)
                              : "-",
                l->b.peer.len ? netem_format_address((struct sockaddr *)&l->b.peer.addr, bp,
                                                     sizeof bp)
                              : "-");
        print_direction(out, "a2b", &l->a2b);
        fputc(',', out);
        print_direction(out, "b2a", &l->b2a);
        fputc('}', out);
    }
    fputs("]}\n", out);
    fflush(out);
}

/* The earliest time something is due (a datagram or the end of the run); 0: none. */
static uint64_t next_deadline(struct forwarder *fw, uint64_t end_ns)
{
    uint64_t t = end_ns;
    for (size_t i = 0; i < fw->nlinks; i++) {
        struct direction *dirs[] = {&fw->links[i].a2b, &fw->links[i].b2a};
        for (size_t k = 0; k < 2; k++) {
            struct netem_packet *top = netem_heap_top(&dirs[k]->heap);
            if (top && !dirs[k]->blocked && (t == 0 || top->deliver_ns < t))
                t = top->deliver_ns;
        }
    }
    return t;
}

/* true: keep running. */
static bool handle_signal(struct forwarder *fw)
{
    struct signalfd_siginfo si;
    while (read(fw->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGUSR1)
            print_stats(fw);
        else
            return false;
    }
    return true;
}

static int loop(struct forwarder *fw)
{
    uint64_t end_ns = fw->cfg->duration_s > 0
                          ? fw->start_ns + (uint64_t)(fw->cfg->duration_s * 1e9)
                          : 0;
    struct epoll_event evs[32];
    for (;;) {
        uint64_t now = now_ns();
        for (size_t i = 0; i < fw->nlinks; i++) {
            flush_direction(fw, &fw->links[i].a2b, now);
            flush_direction(fw, &fw->links[i].b2a, now);
        }
        if (end_ns && now >= end_ns)
            return 0;
        uint64_t deadline = next_deadline(fw, end_ns);
        struct timespec ts, *tsp = NULL;
        if (deadline) {
            uint64_t wait = deadline > now ? deadline - now : 0;
            ts.tv_sec = (time_t)(wait / 1000000000ULL);
            ts.tv_nsec = (long)(wait % 1000000000ULL);
            tsp = &ts;
        }
        int n = epoll_pwait2(fw->epfd, evs, 32, tsp, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(fw->err, "ntm-netem: epoll_pwait2: %s\n", strerror(errno));
            return 1;
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &fw->sigfd) {
                if (!handle_signal(fw))
                    return 0;
                continue;
            }
            struct side *s = evs[i].data.ptr;
            if ((evs[i].events & EPOLLOUT) && s->outbound->blocked)
                set_blocked(fw, s->outbound, false);
            if (evs[i].events & EPOLLIN)
                receive_batch(fw, s);
        }
    }
}

static void close_all(struct forwarder *fw)
{
    for (size_t i = 0; i < fw->nlinks; i++) {
        struct link *l = &fw->links[i];
        if (l->a.fd >= 0)
            close(l->a.fd);
        if (l->b.fd >= 0)
            close(l->b.fd);
        netem_heap_destroy(&l->a2b.heap);
        netem_heap_destroy(&l->b2a.heap);
    }
    for (size_t i = 0; i < BATCH; i++)
        free(fw->scratch[i]);
    netem_pool_destroy(&fw->pool);
    if (fw->sigfd >= 0)
        close(fw->sigfd);
    if (fw->epfd >= 0)
        close(fw->epfd);
}

int netem_run(const struct netem_config *cfg, FILE *out, FILE *err)
{
    static struct forwarder fw; /* large (BATCH scratch pointers, links): not on the stack */
    memset(&fw, 0, sizeof fw);
    fw.cfg = cfg;
    fw.out = out;
    fw.err = err;
    fw.sigfd = -1;
    fw.epfd = epoll_create1(EPOLL_CLOEXEC);
    netem_pool_init(&fw.pool, cfg->max_size, cfg->max_packets);
    /* Wake-ups as close to each datagram's time as the timer allows (default slack: 50 us). */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    fw.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &fw.sigfd};
    bool ok = fw.epfd >= 0 && fw.sigfd >= 0 &&
              epoll_ctl(fw.epfd, EPOLL_CTL_ADD, fw.sigfd, &ev) == 0;
    for (size_t i = 0; ok && i < BATCH; i++) {
        fw.scratch[i] = malloc(sizeof(struct netem_packet) + fw.pool.slot_size);
        ok = fw.scratch[i] != NULL;
    }
    if (!ok)
        fprintf(err, "ntm-netem: cannot set up the event loop: %s\n", strerror(errno));
    ok = ok && open_links(&fw);
    int rc = 1;
    if (ok) {
        fw.start_ns = now_ns();
        netem_read_udp_counters(&fw.udp_start);
        rc = loop(&fw);
        print_stats(&fw);
    }
    close_all(&fw);
    return rc;
}
