/* io/mailbox.h — single-producer/single-consumer pointer rings.
 * Owns: the lock-free queue between exactly one sending and one receiving
 * thread. Knows nothing about what the pointers are; waking the receiver is
 * the loop's job (io/loop.h). */
#ifndef DARTER_IO_MAILBOX_H
#define DARTER_IO_MAILBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct spsc {
    _Alignas(64) _Atomic size_t head; /* next slot the consumer reads */
    _Alignas(64) _Atomic size_t tail; /* next slot the producer writes */
    _Alignas(64) size_t mask;
    void **slots;
};

bool spsc_init(struct spsc *q, size_t capacity_pow2);
void spsc_destroy(struct spsc *q);

static inline bool spsc_push(struct spsc *q, void *p)
{
    size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    size_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    if (t - h > q->mask)
        return false;
    q->slots[t & q->mask] = p;
    atomic_store_explicit(&q->tail, t + 1, memory_order_release);
    return true;
}

static inline void *spsc_pop(struct spsc *q)
{
    size_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    size_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
    if (h == t)
        return NULL;
    void *p = q->slots[h & q->mask];
    atomic_store_explicit(&q->head, h + 1, memory_order_release);
    return p;
}

static inline bool spsc_empty(struct spsc *q)
{
    return atomic_load_explicit(&q->head, memory_order_acquire) ==
           atomic_load_explicit(&q->tail, memory_order_acquire);
}

#endif
