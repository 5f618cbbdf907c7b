/* shard/strset.c — the lean string hash set (see strset.h). */
#include "shard/strset.h"
#include "shard/memory.h"
#include "shard/hdict.h"

#include <string.h>

#define STRSET_MIN_SLOTS 4u

/* The seeded hash hashtable-encoded hashes use (drawn once per process). */
uint64_t strset_hash(const char *m, size_t n) { return hdict_hash(m, n); }

/* ---------- member blobs: varint length, bytes ---------- */

static size_t varint_put(uint8_t *p, uint64_t v)
{
    size_t i = 0;
    while (v >= 0x80) {
        p[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[i++] = (uint8_t)v;
    return i;
}

static const char *blob_bytes(const uint8_t *b, size_t *n)
{
    uint64_t v = 0;
    unsigned shift = 0;
    size_t i = 0;
    for (;;) {
        uint8_t c = b[i++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            break;
        shift += 7;
    }
    *n = (size_t)v;
    return (const char *)b + i;
}

static uint8_t *blob_new(const char *m, size_t n)
{
    uint8_t hdr[10];
    size_t h = varint_put(hdr, n);
    uint8_t *b = smem_alloc(h + n);
    memcpy(b, hdr, h);
    if (n)
        memcpy(b + h, m, n);
    return b;
}

static bool blob_eq(const uint8_t *b, const char *m, size_t n)
{
    size_t bn;
    const char *p = blob_bytes(b, &bn);
    return bn == n && (n == 0 || memcmp(p, m, n) == 0);
}

static uint32_t blob_home(const uint8_t *b, uint32_t mask)
{
    size_t n;
    const char *p = blob_bytes(b, &n);
    return (uint32_t)strset_hash(p, n) & mask;
}

/* ---------- the table ---------- */

static uint32_t slots_for(size_t count)
{
    uint32_t cap = STRSET_MIN_SLOTS;
    while ((uint64_t)count * 4 > (uint64_t)cap * 3)
        cap <<= 1;
    return cap;
}

static struct strset *alloc_table(uint32_t cap)
{
    struct strset *s = smem_calloc(sizeof(*s) + sizeof(uint8_t *) * cap);
    s->mask = cap - 1;
    return s;
}

struct strset *strset_new(size_t hint) { return alloc_table(slots_for(hint)); }

void strset_free(struct strset *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i <= s->mask; i++)
        smem_free(s->slot[i]);
    smem_free(s);
}

/* Place a blob known to be absent. */
static void place(struct strset *s, uint8_t *b, uint32_t home)
{
    uint32_t i = home;
    while (s->slot[i])
        i = (i + 1) & s->mask;
    s->slot[i] = b;
    s->count++;
}

static struct strset *rebuild(struct strset *s, uint32_t cap)
{
    struct strset *n = alloc_table(cap);
    for (uint32_t i = 0; i <= s->mask; i++)
        if (s->slot[i])
            place(n, s->slot[i], blob_home(s->slot[i], n->mask));
    smem_free(s);
    return n;
}

/* Slot holding m, or -1. */
static int64_t find(const struct strset *s, const char *m, size_t n, uint32_t *home)
{
    uint32_t i = (uint32_t)strset_hash(m, n) & s->mask;
    if (home)
        *home = i;
    while (s->slot[i]) {
        if (blob_eq(s->slot[i], m, n))
            return i;
        i = (i + 1) & s->mask;
    }
    return -1;
}

bool strset_contains(const struct strset *s, const char *m, size_t n) { return find(s, m, n, NULL) >= 0; }

bool strset_add(struct strset **sp, const char *m, size_t n)
{
    struct strset *s = *sp;
    if (find(s, m, n, NULL) >= 0)
        return false;
    if ((uint64_t)(s->count + 1) * 4 > (uint64_t)(s->mask + 1) * 3)
        *sp = s = rebuild(s, (s->mask + 1) * 2);
    place(s, blob_new(m, n), (uint32_t)strset_hash(m, n) & s->mask);
    return true;
}

/* Is `home` cyclically within (hole, j]? Then the element at j stays. */
static bool home_between(uint32_t hole, uint32_t home, uint32_t j)
{
    if (hole <= j)
        return hole < home && home <= j;
    return hole < home || home <= j;
}

static void delete_at(struct strset *s, uint32_t hole)
{
    smem_free(s->slot[hole]);
    s->slot[hole] = NULL;
    s->count--;
    for (uint32_t j = (hole + 1) & s->mask; s->slot[j]; j = (j + 1) & s->mask) {
        if (home_between(hole, blob_home(s->slot[j], s->mask), j))
            continue;
        s->slot[hole] = s->slot[j];
        s->slot[j] = NULL;
        hole = j;
    }
}

bool strset_remove(struct strset **sp, const char *m, size_t n)
{
    struct strset *s = *sp;
    int64_t i = find(s, m, n, NULL);
    if (i < 0)
        return false;
    delete_at(s, (uint32_t)i);
    uint32_t cap = s->mask + 1;
    if (cap > STRSET_MIN_SLOTS && (uint64_t)s->count * 8 < cap)
        *sp = rebuild(s, slots_for(s->count));
    return true;
}

bool strset_at(const struct strset *s, size_t i, const char **m, size_t *n)
{
    if (i > s->mask || !s->slot[i])
        return false;
    *m = blob_bytes(s->slot[i], n);
    return true;
}

bool strset_next(const struct strset *s, size_t *pos, const char **m, size_t *n)
{
    while (*pos <= s->mask) {
        size_t i = (*pos)++;
        if (s->slot[i]) {
            *m = blob_bytes(s->slot[i], n);
            return true;
        }
    }
    return false;
}

size_t strset_random(const struct strset *s, uint64_t (*rnd)(void), const char **m, size_t *n)
{
    for (;;) {
        size_t i = (size_t)(rnd() & s->mask);
        if (s->slot[i]) {
            *m = blob_bytes(s->slot[i], n);
            return i;
        }
    }
}

static uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
    v = ((v >> 8) & 0x00ff00ff00ff00ffull) | ((v & 0x00ff00ff00ff00ffull) << 8);
    v = ((v >> 16) & 0x0000ffff0000ffffull) | ((v & 0x0000ffff0000ffffull) << 16);
    return (v >> 32) | (v << 32);
}

uint64_t strset_scan(const struct strset *s, uint64_t cursor, strset_visit_fn fn, void *arg)
{
    uint64_t mask = s->mask;
    uint32_t home = (uint32_t)(cursor & mask);
    for (uint32_t i = home; s->slot[i]; i = (i + 1) & s->mask) {
        if (blob_home(s->slot[i], s->mask) != home)
            continue;
        size_t n;
        const char *m = blob_bytes(s->slot[i], &n);
        fn(arg, m, n);
    }
    cursor |= ~mask;
    cursor = rev64(cursor);
    cursor++;
    return rev64(cursor);
}

size_t strset_memory(const struct strset *s)
{
    size_t total = smem_usable(s);
    for (uint32_t i = 0; i <= s->mask; i++)
        total += smem_usable(s->slot[i]);
    return total;
}
