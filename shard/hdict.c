/* shard/hdict.c — the hashtable of hashtable-encoded hashes (see hdict.h).
 * The hash seed is drawn once per process; everything else lives in the
 * table, on the calling thread's heap. */
#include "shard/hdict.h"
#include "shard/memory.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define HDICT_MIN 4

static uint64_t hash_seed;
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static void draw_seed(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof(s), 0) != (ssize_t)sizeof(s)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&s;
    }
    hash_seed = s | 1;
}

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

uint64_t hdict_hash(const char *s, size_t len)
{
    pthread_once(&seed_once, draw_seed);
    uint64_t h = mix64(hash_seed ^ (len * 0xff51afd7ed558ccdull));
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = mix64(h ^ w) + 0x632be59bd9b4e019ull;
    }
    uint64_t tail = 0;
    memcpy(&tail, s + i, len - i);
    return mix64(h ^ tail ^ ((uint64_t)(len - i) << 56));
}

static uint32_t buckets_for(uint64_t n)
{
    uint64_t size = HDICT_MIN;
    while (size < n && size < (1ull << 31))
        size <<= 1;
    return (uint32_t)size;
}

static struct hdict *alloc_table(uint32_t size)
{
    struct hdict *d = smem_calloc(sizeof(*d) + sizeof(struct hfield *) * size);
    d->mask = size - 1;
    return d;
}

struct hdict *hdict_new(uint64_t hint) { return alloc_table(buckets_for(hint)); }

void hdict_free(struct hdict *d)
{
    if (!d)
        return;
    for (uint64_t i = 0; i <= d->mask && d->count; i++) {
        struct hfield *f = d->b[i];
        while (f) {
            struct hfield *n = f->next;
            smem_free(f);
            d->count--;
            f = n;
        }
    }
    smem_free(d);
}

static inline struct hfield **bucket_of(struct hdict *d, const char *f, size_t flen)
{
    return &d->b[hdict_hash(f, flen) & d->mask];
}

static inline bool same_name(const struct hfield *x, const char *f, size_t flen)
{
    return x->flen == flen && memcmp(x->data, f, flen) == 0;
}

/* The link pointing at the field, or NULL; *chain gets the bucket's length
 * when the field is absent. */
static struct hfield **find_link(struct hdict *d, const char *f, size_t flen, uint32_t *chain)
{
    struct hfield **link = bucket_of(d, f, flen);
    uint32_t n = 0;
    for (; *link; link = &(*link)->next, n++)
        if (same_name(*link, f, flen))
            return link;
    if (chain)
        *chain = n;
    return NULL;
}

struct hfield *hdict_find(const struct hdict *d, const char *f, size_t flen)
{
    struct hfield **link = find_link((struct hdict *)d, f, flen, NULL);
    return link ? *link : NULL;
}

/* Move every field into a table of `size` buckets (hashes recomputed). */
static struct hdict *resize(struct hdict *d, uint32_t size)
{
    struct hdict *nd = alloc_table(size);
    nd->count = d->count;
    for (uint64_t i = 0; i <= d->mask; i++) {
        struct hfield *f = d->b[i];
        while (f) {
            struct hfield *n = f->next;
            struct hfield **slot = &nd->b[hdict_hash(f->data, f->flen) & nd->mask];
            f->next = *slot;
            *slot = f;
            f = n;
        }
    }
    for (uint64_t i = 0; i <= nd->mask; i++) {
        uint32_t len = 0;
        for (struct hfield *f = nd->b[i]; f; f = f->next)
            len++;
        if (len > nd->maxchain)
            nd->maxchain = len;
    }
    smem_free(d);
    return nd;
}

static struct hfield *new_field(const char *f, size_t flen, const char *v, size_t vlen)
{
    struct hfield *x = smem_alloc(sizeof(*x) + flen + vlen);
    x->next = NULL;
    x->flen = (uint32_t)flen;
    x->vlen = (uint32_t)vlen;
    memcpy(x->data, f, flen);
    if (vlen)
        memcpy(x->data + flen, v, vlen);
    return x;
}

static void insert_new(struct hdict **dp, struct hfield *x, uint32_t chain)
{
    struct hdict *d = *dp;
    struct hfield **slot = bucket_of(d, x->data, x->flen);
    x->next = *slot;
    *slot = x;
    d->count++;
    if (chain + 1 > d->maxchain)
        d->maxchain = chain + 1;
    if (d->count > (uint64_t)d->mask + 1 && d->mask < (1u << 31) - 1)
        *dp = resize(d, (d->mask + 1) * 2);
}

/* Replace the value of the field at link. */
static void replace_value(struct hfield **link, const char *v, size_t vlen)
{
    struct hfield *x = *link;
    if (x->vlen != vlen) {
        x = smem_realloc(x, sizeof(*x) + x->flen + vlen);
        x->vlen = (uint32_t)vlen;
        *link = x;
    }
    if (vlen)
        memmove(x->data + x->flen, v, vlen);
}

bool hdict_set(struct hdict **dp, const char *f, size_t flen, const char *v, size_t vlen)
{
    uint32_t chain = 0;
    struct hfield **link = find_link(*dp, f, flen, &chain);
    if (link) {
        replace_value(link, v, vlen);
        return false;
    }
    insert_new(dp, new_field(f, flen, v, vlen), chain);
    return true;
}

bool hdict_add(struct hdict **dp, const char *f, size_t flen, const char *v, size_t vlen)
{
    uint32_t chain = 0;
    if (find_link(*dp, f, flen, &chain))
        return false;
    insert_new(dp, new_field(f, flen, v, vlen), chain);
    return true;
}

bool hdict_delete(struct hdict **dp, const char *f, size_t flen)
{
    struct hdict *d = *dp;
    struct hfield **link = find_link(d, f, flen, NULL);
    if (!link)
        return false;
    struct hfield *x = *link;
    *link = x->next;
    smem_free(x);
    d->count--;
    uint64_t size = (uint64_t)d->mask + 1;
    if (size > HDICT_MIN && d->count < size / 8)
        *dp = resize(d, buckets_for(d->count));
    return true;
}

static inline uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Rejection sampling: a uniform (bucket, position < maxchain) pair hits
 * every field with the same probability; misses draw again. */
struct hfield *hdict_random(const struct hdict *d, uint64_t *rnd)
{
    if (!d->count)
        return NULL;
    uint32_t maxchain = d->maxchain ? d->maxchain : 1;
    for (;;) {
        uint64_t r = next_rand(rnd);
        struct hfield *f = d->b[r & d->mask];
        uint32_t pos = (uint32_t)((r >> 32) % maxchain);
        while (f && pos--)
            f = f->next;
        if (f)
            return f;
    }
}

static inline uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((v & 0x0F0F0F0F0F0F0F0Full) << 4);
    v = ((v >> 8) & 0x00FF00FF00FF00FFull) | ((v & 0x00FF00FF00FF00FFull) << 8);
    v = ((v >> 16) & 0x0000FFFF0000FFFFull) | ((v & 0x0000FFFF0000FFFFull) << 16);
    return (v >> 32) | (v << 32);
}

uint64_t hdict_scan(const struct hdict *d, uint64_t cursor, hdict_scan_fn fn, void *arg)
{
    uint64_t mask = d->mask;
    for (const struct hfield *f = d->b[cursor & mask]; f; f = f->next)
        fn(f, arg);
    cursor |= ~mask;
    cursor = rev64(cursor);
    cursor++;
    return rev64(cursor);
}

void hdict_iter_init(struct hdict_iter *it, const struct hdict *d)
{
    it->d = d;
    it->bucket = 0;
    it->next = NULL;
}

const struct hfield *hdict_iter_next(struct hdict_iter *it)
{
    while (!it->next) {
        if (it->bucket > it->d->mask)
            return NULL;
        it->next = it->d->b[it->bucket++];
    }
    const struct hfield *f = it->next;
    it->next = f->next;
    return f;
}

struct hdict *hdict_clone(const struct hdict *d)
{
    struct hdict *c = alloc_table(d->mask + 1);
    c->count = d->count;
    c->maxchain = d->maxchain;
    for (uint64_t i = 0; i <= d->mask; i++) {
        struct hfield **tail = &c->b[i];
        for (const struct hfield *f = d->b[i]; f; f = f->next) {
            struct hfield *x = new_field(f->data, f->flen, f->data + f->flen, f->vlen);
            *tail = x;
            tail = &x->next;
        }
    }
    return c;
}

size_t hdict_memory(const struct hdict *d)
{
    size_t n = smem_usable(d);
    for (uint64_t i = 0; i <= d->mask; i++)
        for (const struct hfield *f = d->b[i]; f; f = f->next)
            n += smem_usable(f);
    return n;
}
