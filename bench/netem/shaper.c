#include "shaper.h"

#define NS_PER_S 1000000000ULL

void netem_shaper_init(struct netem_shaper *s, const struct netem_impairment *cfg, uint64_t seed)
{
    s->cfg = *cfg;
    netem_rng_seed(&s->rng, seed);
    s->in_burst = false;
    s->link_free_ns = 0;
    s->last_deliver_ns = 0;
    /* Gilbert model with a loss-free good state and an all-loss bad state: the mean stay in the
     * bad state is 1 / p_leave = the burst length, and the share of time in it is
     * p_enter / (p_enter + p_leave) = the loss rate. */
    if (cfg->loss_burst > 1.0 && cfg->loss > 0.0 && cfg->loss < 1.0) {
        s->p_leave_burst = 1.0 / cfg->loss_burst;
        s->p_enter_burst = cfg->loss * s->p_leave_burst / (1.0 - cfg->loss);
    } else {
        s->p_leave_burst = 0.0;
        s->p_enter_burst = 0.0;
    }
}

static uint64_t serialisation_ns(const struct netem_shaper *s, size_t len)
{
    uint64_t bits = ((uint64_t)len + s->cfg.overhead_bytes) * 8u;
    return (bits * NS_PER_S + s->cfg.rate_bps - 1) / s->cfg.rate_bps;
}

uint64_t netem_shaper_backlog(const struct netem_shaper *s, uint64_t now_ns)
{
    if (s->cfg.rate_bps == 0 || s->link_free_ns <= now_ns)
        return 0;
    /* Time left to drain, as bytes at the bottleneck rate. 128-bit to stay exact with long
     * queues at high rates. */
    __extension__ typedef unsigned __int128 u128;
    u128 left = (u128)(s->link_free_ns - now_ns) * s->cfg.rate_bps;
    return (uint64_t)(left / (8u * NS_PER_S));
}

static enum netem_verdict decide_loss(struct netem_shaper *s)
{
    if (s->p_leave_burst > 0.0) {
        double u = netem_rng_unit(&s->rng);
        if (s->in_burst) {
            if (u < s->p_leave_burst)
                s->in_burst = false;
        } else if (u < s->p_enter_burst) {
            s->in_burst = true;
        }
        return s->in_burst ? NETEM_LOST_BURST : NETEM_PASS;
    }
    if (s->cfg.loss > 0.0 && netem_rng_unit(&s->rng) < s->cfg.loss)
        return NETEM_LOST_RANDOM;
    return NETEM_PASS;
}

enum netem_verdict netem_shaper_admit(struct netem_shaper *s, uint64_t now_ns, size_t len,
                                      uint64_t *deliver_ns, bool *held_back)
{
    enum netem_verdict v = decide_loss(s);
    if (v != NETEM_PASS)
        return v;

    uint64_t leaves_bottleneck = now_ns;
    if (s->cfg.rate_bps != 0) {
        uint64_t backlog = netem_shaper_backlog(s, now_ns);
        if (backlog + len + s->cfg.overhead_bytes > s->cfg.queue_bytes)
            return NETEM_DROP_QUEUE;
        uint64_t start = s->link_free_ns > now_ns ? s->link_free_ns : now_ns;
        s->link_free_ns = start + serialisation_ns(s, len);
        leaves_bottleneck = s->link_free_ns;
    }

    uint64_t t = leaves_bottleneck + s->cfg.delay_ns;
    if (s->cfg.jitter_ns != 0) {
        /* Uniform in [-jitter, +jitter], never before the bottleneck released it. */
        uint64_t span = 2 * s->cfg.jitter_ns + 1;
        int64_t offset = (int64_t)(netem_rng_next(&s->rng) % span) - (int64_t)s->cfg.jitter_ns;
        if (offset < 0 && (uint64_t)-offset > s->cfg.delay_ns)
            t = leaves_bottleneck;
        else
            t = (uint64_t)((int64_t)t + offset);
    }
    *held_back = s->cfg.reorder > 0.0 && netem_rng_unit(&s->rng) < s->cfg.reorder;
    if (*held_back) {
        /* Does not move last_deliver_ns: the datagrams after it may overtake it. */
        *deliver_ns = (t > s->last_deliver_ns ? t : s->last_deliver_ns) + s->cfg.reorder_gap_ns;
        return NETEM_PASS;
    }
    if (t < s->last_deliver_ns)
        t = s->last_deliver_ns;
    s->last_deliver_ns = t;
    *deliver_ns = t;
    return NETEM_PASS;
}
