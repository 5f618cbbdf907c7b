/* shard/hdict.h — the field→value table behind hashtable-encoded hashes.
 * One allocation per field (chain link, lengths, field bytes, value bytes)
 * and one for the header plus bucket array; chained buckets, power-of-two
 * size, resized whole (no second table), seeded hash.
 * Owns: the table layout, lookup/insert/delete, fair random sampling
 * (HRANDFIELD) and Redis's reverse-binary cursor scan (HSCAN), which visits
 * every field present for the whole scan at least once across resizes.
 * Memory from the calling thread's shard heap. Must not know about entries,
 * RESP, RDB or threads. */
#ifndef DARTER_SHARD_HDICT_H
#define DARTER_SHARD_HDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hfield {
    struct hfield *next;
    uint32_t flen, vlen;
    char data[]; /* field bytes, then value bytes */
};

static inline const char *hfield_name(const struct hfield *f) { return f->data; }
static inline const char *hfield_value(const struct hfield *f) { return f->data + f->flen; }

struct hdict {
    uint64_t count;
    uint32_t mask;     /* buckets - 1 */
    uint32_t maxchain; /* upper bound of every chain's length (random sampling) */
    struct hfield *b[];
};

/* A table sized for about `hint` fields. */
struct hdict *hdict_new(uint64_t hint);
void hdict_free(struct hdict *d);
static inline uint64_t hdict_count(const struct hdict *d) { return d->count; }

struct hfield *hdict_find(const struct hdict *d, const char *f, size_t flen);
/* Set field to value; true when the field is new. May move *dp. */
bool hdict_set(struct hdict **dp, const char *f, size_t flen, const char *v, size_t vlen);
/* Add a field that must not exist: false (nothing changed) when it does. */
bool hdict_add(struct hdict **dp, const char *f, size_t flen, const char *v, size_t vlen);
/* Delete field; false when absent. May move *dp (shrinks when sparse). */
bool hdict_delete(struct hdict **dp, const char *f, size_t flen);

/* A uniformly chosen field (the table must not be empty); *rnd is a PRNG
 * state advanced by the call. */
struct hfield *hdict_random(const struct hdict *d, uint64_t *rnd);

typedef void (*hdict_scan_fn)(const struct hfield *f, void *arg);
/* Visit one bucket at `cursor`; returns the next cursor, 0 when done. */
uint64_t hdict_scan(const struct hdict *d, uint64_t cursor, hdict_scan_fn fn, void *arg);

/* Iteration in bucket order; the table must not change meanwhile. */
struct hdict_iter {
    const struct hdict *d;
    uint64_t bucket;
    const struct hfield *next;
};
void hdict_iter_init(struct hdict_iter *it, const struct hdict *d);
const struct hfield *hdict_iter_next(struct hdict_iter *it);

struct hdict *hdict_clone(const struct hdict *d);
/* Usable bytes of the header, buckets and every field. */
size_t hdict_memory(const struct hdict *d);

/* The seeded 64-bit hash the table uses (exposed for tests). */
uint64_t hdict_hash(const char *s, size_t len);

#endif
