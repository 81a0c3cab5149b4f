/* One direction of an emulated WAN link: what happens to a datagram between arriving at the
 * emulator and leaving it. Pure arithmetic on a clock given by the caller (no I/O, no time
 * reads), so it can be reasoned about and tested in isolation.
 *
 * Stages, in order (the same order as a real path: a lossy access link, then a bottleneck
 * router with a bounded queue, then propagation):
 *   1. loss: independent (--loss) or in bursts (Gilbert model: --loss with --loss-burst);
 *   2. bottleneck: a rate limit that serialises datagrams one after another, with a bounded
 *      queue in bytes (tail drop when a datagram does not fit);
 *   3. propagation: a fixed one-way delay plus uniform jitter; jitter never reorders (a later
 *      datagram never leaves before an earlier one), except for datagrams picked for
 *      reordering, which are held back by an extra gap so that later ones overtake them. */
#ifndef NTM_NETEM_SHAPER_H
#define NTM_NETEM_SHAPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rng.h"

/* How one direction is impaired (as configured on the command line). */
struct netem_impairment {
    uint64_t delay_ns;       /* one-way propagation delay */
    uint64_t jitter_ns;      /* each datagram's delay is delay +- up to jitter (uniform) */
    double loss;             /* probability in [0, 1] that a datagram is lost */
    double loss_burst;       /* mean length of a loss burst in datagrams; <= 1: independent */
    double reorder;          /* probability in [0, 1] that a datagram is held back */
    uint64_t reorder_gap_ns; /* how long a held-back datagram waits beyond its normal time */
    uint64_t rate_bps;       /* bottleneck rate in bits/s; 0 = unlimited (no queue either) */
    uint64_t queue_bytes;    /* bottleneck queue bound, including the datagram being sent */
    uint32_t overhead_bytes; /* added to each datagram's length for the rate (IP/UDP headers) */
};

enum netem_verdict {
    NETEM_PASS,         /* deliver at *deliver_ns */
    NETEM_LOST_RANDOM,  /* independent loss */
    NETEM_LOST_BURST,   /* loss inside a Gilbert burst */
    NETEM_DROP_QUEUE,   /* the bottleneck queue was full */
};

struct netem_shaper {
    struct netem_impairment cfg;
    struct netem_rng rng;
    double p_enter_burst;     /* Gilbert model: good -> bad per datagram */
    double p_leave_burst;     /* bad -> good per datagram (1 / mean burst length) */
    bool in_burst;
    uint64_t link_free_ns;    /* when the bottleneck has sent everything it holds */
    uint64_t last_deliver_ns; /* latest delivery time handed out (keeps jitter in order) */
};

/* Prepares a shaper; `seed` makes its random decisions repeatable. */
void netem_shaper_init(struct netem_shaper *s, const struct netem_impairment *cfg, uint64_t seed);

/* Decides the fate of a datagram of `len` bytes arriving at `now_ns`. On NETEM_PASS,
 * *deliver_ns is when it must leave the emulator and *held_back tells whether it was picked
 * for reordering. */
enum netem_verdict netem_shaper_admit(struct netem_shaper *s, uint64_t now_ns, size_t len,
                                      uint64_t *deliver_ns, bool *held_back);

/* Bytes queued at the bottleneck at `now_ns` (0 without a rate limit). */
uint64_t netem_shaper_backlog(const struct netem_shaper *s, uint64_t now_ns);

#endif
