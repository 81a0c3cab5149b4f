#include "packet_queue.h"

#include <stdlib.h>

#define CHUNK_SLOTS 1024

void netem_pool_init(struct netem_pool *p, size_t slot_size, size_t max_packets)
{
    p->slot_size = slot_size;
    p->max_packets = max_packets;
    p->allocated = 0;
    p->in_use = 0;
    p->free_list = NULL;
    p->chunks = NULL;
    p->nchunks = 0;
}

void netem_pool_destroy(struct netem_pool *p)
{
    for (size_t i = 0; i < p->nchunks; i++)
        free(p->chunks[i]);
    free(p->chunks);
    p->chunks = NULL;
    p->nchunks = 0;
    p->free_list = NULL;
}

static size_t stride(const struct netem_pool *p)
{
    size_t s = sizeof(struct netem_packet) + p->slot_size;
    return (s + 63) & ~(size_t)63; /* keep slots on their own cache lines */
}

static bool grow(struct netem_pool *p)
{
    size_t n = p->max_packets - p->allocated;
    if (n == 0)
        return false;
    if (n > CHUNK_SLOTS)
        n = CHUNK_SLOTS;
    void **chunks = realloc(p->chunks, (p->nchunks + 1) * sizeof *chunks);
    if (!chunks)
        return false;
    p->chunks = chunks;
    unsigned char *mem = aligned_alloc(64, n * stride(p));
    if (!mem)
        return false;
    p->chunks[p->nchunks++] = mem;
    for (size_t i = 0; i < n; i++) {
        struct netem_packet *pkt = (struct netem_packet *)(void *)(mem + i * stride(p));
        pkt->next = p->free_list;
        p->free_list = pkt;
    }
    p->allocated += n;
    return true;
}

struct netem_packet *netem_pool_get(struct netem_pool *p)
{
    if (!p->free_list && !grow(p))
        return NULL;
    struct netem_packet *pkt = p->free_list;
    p->free_list = pkt->next;
    p->in_use++;
    return pkt;
}

void netem_pool_put(struct netem_pool *p, struct netem_packet *pkt)
{
    pkt->next = p->free_list;
    p->free_list = pkt;
    p->in_use--;
}

void netem_heap_init(struct netem_heap *h)
{
    h->items = NULL;
    h->size = 0;
    h->capacity = 0;
}

void netem_heap_destroy(struct netem_heap *h)
{
    free(h->items);
    netem_heap_init(h);
}

static bool before(const struct netem_packet *a, const struct netem_packet *b)
{
    return a->deliver_ns != b->deliver_ns ? a->deliver_ns < b->deliver_ns : a->order < b->order;
}

bool netem_heap_push(struct netem_heap *h, struct netem_packet *pkt)
{
    if (h->size == h->capacity) {
        size_t cap = h->capacity ? h->capacity * 2 : 1024;
        struct netem_packet **items = realloc(h->items, cap * sizeof *items);
        if (!items)
            return false;
        h->items = items;
        h->capacity = cap;
    }
    size_t i = h->size++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(pkt, h->items[parent]))
            break;
        h->items[i] = h->items[parent];
        i = parent;
    }
    h->items[i] = pkt;
    return true;
}

struct netem_packet *netem_heap_pop(struct netem_heap *h)
{
    if (h->size == 0)
        return NULL;
    struct netem_packet *top = h->items[0];
    struct netem_packet *last = h->items[--h->size];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->size)
            break;
        if (child + 1 < h->size && before(h->items[child + 1], h->items[child]))
            child++;
        if (!before(h->items[child], last))
            break;
        h->items[i] = h->items[child];
        i = child;
    }
    if (h->size)
        h->items[i] = last;
    return top;
}
