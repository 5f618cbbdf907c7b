/* shard/table.c — chained hash table per slot (see table.h). Memory from the
 * shard thread's heap. */
#include "shard/table.h"
#include "shard/memory.h"

#define TABLE_MIN 4

/* A 64-bit hash: 8 bytes at a time, multiply-xorshift mixing. */
static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

uint64_t key_hash64(const char *key, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (len * 0xff51afd7ed558ccdull);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, key + i, 8);
        h = mix64(h ^ w) + 0x632be59bd9b4e019ull;
    }
    uint64_t tail = 0;
    memcpy(&tail, key + i, len - i);
    return mix64(h ^ tail ^ ((uint64_t)(len - i) << 56));
}

struct table *table_new(void)
{
    struct table *t = smem_calloc(sizeof(*t));
    t->size = TABLE_MIN;
    t->buckets = smem_calloc(sizeof(struct entry *) * t->size);
    return t;
}

void table_free(struct table *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; i < t->size; i++) {
        struct entry *e = t->buckets[i];
        while (e) {
            struct entry *n = e->next;
            entry_free(e);
            e = n;
        }
    }
    smem_free(t->buckets);
    smem_free(t);
}

struct entry **table_find(struct table *t, const char *key, size_t len, uint64_t hash)
{
    uint32_t h32 = (uint32_t)hash;
    struct entry **link = &t->buckets[hash & (t->size - 1)];
    while (*link) {
        struct entry *e = *link;
        if (e->hash == h32 && e->keylen == len && memcmp(entry_key(e), key, len) == 0)
            return link;
        link = &e->next;
    }
    return NULL;
}

static void table_resize(struct table *t, uint32_t size)
{
    struct entry **nb = smem_calloc(sizeof(struct entry *) * size);
    for (uint32_t i = 0; i < t->size; i++) {
        struct entry *e = t->buckets[i];
        while (e) {
            struct entry *n = e->next;
            /* Buckets index by the low bits of the stored 32-bit hash. */
            uint32_t b = e->hash & (size - 1);
            e->next = nb[b];
            nb[b] = e;
            e = n;
        }
    }
    smem_free(t->buckets);
    t->buckets = nb;
    t->size = size;
}

void table_insert(struct table *t, struct entry *e, uint64_t hash)
{
    if (t->count >= t->size && t->size < (1u << 31))
        table_resize(t, t->size * 2);
    e->hash = (uint32_t)hash;
    uint32_t b = e->hash & (t->size - 1);
    e->next = t->buckets[b];
    t->buckets[b] = e;
    t->count++;
    if (e->flags & E_EXPIRE)
        t->volatile_count++;
}

struct entry *table_unlink(struct table *t, struct entry **link)
{
    struct entry *e = *link;
    *link = e->next;
    e->next = NULL;
    t->count--;
    if (e->flags & E_EXPIRE)
        t->volatile_count--;
    return e;
}

void table_maybe_shrink(struct table *t)
{
    if (t->size > TABLE_MIN && t->count < t->size / 8) {
        uint32_t size = t->size;
        while (size > TABLE_MIN && t->count < size / 4)
            size /= 2;
        table_resize(t, size);
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

uint64_t table_scan(struct table *t, uint64_t cursor, table_scan_fn fn, void *arg)
{
    uint64_t mask = t->size - 1;
    struct entry *e = t->buckets[cursor & mask];
    while (e) {
        struct entry *n = e->next; /* fn may not unlink, but be safe */
        fn(e, arg);
        e = n;
    }
    cursor |= ~mask;
    cursor = rev64(cursor);
    cursor++;
    cursor = rev64(cursor);
    return cursor;
}

struct entry *table_random(struct table *t, uint64_t rnd)
{
    if (!t->count)
        return NULL;
    for (uint32_t tries = 0;; tries++) {
        uint32_t b = (uint32_t)(rnd & (t->size - 1));
        if (t->buckets[b]) {
            uint32_t len = 0;
            for (struct entry *e = t->buckets[b]; e; e = e->next)
                len++;
            uint32_t pick = (uint32_t)((rnd >> 32) % len);
            struct entry *e = t->buckets[b];
            while (pick--)
                e = e->next;
            return e;
        }
        rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
        rnd ^= rnd >> 29;
    }
}
