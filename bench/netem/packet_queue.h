/* Datagram storage for the emulator: a pool of fixed-size slots (received into directly, sent
 * from directly: no copy, no allocation per datagram once warm) and a time-ordered queue of the
 * datagrams waiting to leave (a binary min-heap on delivery time, ties kept in arrival order). */
#ifndef NTM_NETEM_PACKET_QUEUE_H
#define NTM_NETEM_PACKET_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct netem_packet {
    uint64_t deliver_ns;
    uint64_t order;               /* arrival number: equal delivery times leave in this order */
    uint32_t len;
    struct netem_packet *next;    /* free list link */
    unsigned char data[];         /* slot_size bytes */
};

/* Slots are allocated in chunks as needed, up to max_packets in all; never freed before exit. */
struct netem_pool {
    size_t slot_size;
    size_t max_packets;
    size_t allocated;
    size_t in_use;
    struct netem_packet *free_list;
    void **chunks;
    size_t nchunks;
};

void netem_pool_init(struct netem_pool *p, size_t slot_size, size_t max_packets);
void netem_pool_destroy(struct netem_pool *p);
/* A free slot, or NULL when max_packets are in use (or memory ran out). */
struct netem_packet *netem_pool_get(struct netem_pool *p);
void netem_pool_put(struct netem_pool *p, struct netem_packet *pkt);

struct netem_heap {
    struct netem_packet **items;
    size_t size;
    size_t capacity;
};

void netem_heap_init(struct netem_heap *h);
void netem_heap_destroy(struct netem_heap *h);
/* false if the heap could not grow (out of memory). */
bool netem_heap_push(struct netem_heap *h, struct netem_packet *pkt);
static inline struct netem_packet *netem_heap_top(const struct netem_heap *h)
{
    return h->size ? h->items[0] : NULL;
}
struct netem_packet *netem_heap_pop(struct netem_heap *h);

#endif
