/* shard/memory.c — per-thread mimalloc heap with a usable-size counter.
 * Must not be called for memory that another thread frees. */
#include "shard/memory.h"
#include <mimalloc.h>
#include <stdlib.h>

static _Thread_local mi_heap_t *tl_heap;
static _Thread_local int64_t tl_used;
static _Thread_local int64_t tl_peak;

void smem_thread_init(void)
{
    if (!tl_heap)
        tl_heap = mi_heap_new();
}

void smem_thread_done(void)
{
    /* The heap is kept: entries may still be freed during shutdown. */
}

static inline void count_in(void *p)
{
    tl_used += (int64_t)mi_usable_size(p);
    if (tl_used > tl_peak)
        tl_peak = tl_used;
}

void *smem_alloc(size_t n)
{
    if (!tl_heap)
        smem_thread_init();
    void *p = mi_heap_malloc(tl_heap, n);
    if (!p)
        abort();
    count_in(p);
    return p;
}

void *smem_calloc(size_t n)
{
    if (!tl_heap)
        smem_thread_init();
    void *p = mi_heap_zalloc(tl_heap, n);
    if (!p)
        abort();
    count_in(p);
    return p;
}

void *smem_realloc(void *p, size_t n)
{
    if (!p)
        return smem_alloc(n);
    tl_used -= (int64_t)mi_usable_size(p);
    void *q = mi_heap_realloc(tl_heap, p, n);
    if (!q)
        abort();
    count_in(q);
    return q;
}

void smem_free(void *p)
{
    if (!p)
        return;
    tl_used -= (int64_t)mi_usable_size(p);
    mi_free(p);
}

size_t smem_usable(const void *p) { return p ? mi_usable_size(p) : 0; }
int64_t smem_used(void) { return tl_used; }
int64_t smem_peak(void) { return tl_peak; }
