/* shard/table.h — the per-slot hash table: chained buckets, power-of-two
 * size, rehashed whole on growth (tables are per slot, so small).
 * Owns: bucket arrays and chain links of entries. Does not own expiry policy
 * or types; it only stores, finds, unlinks and scans entries. */
#ifndef DARTER_SHARD_TABLE_H
#define DARTER_SHARD_TABLE_H

#include "shard/object.h"

struct table {
    struct entry **buckets;
    uint32_t size;     /* number of buckets, power of two */
    uint32_t count;    /* entries */
    uint32_t volatile_count;
};

uint64_t key_hash64(const char *key, size_t len);

struct table *table_new(void);
void table_free(struct table *t);
/* The link (pointer slot) that points at the entry with this key, or NULL. */
struct entry **table_find(struct table *t, const char *key, size_t len, uint64_t hash);
/* Insert an entry whose key is not present. */
void table_insert(struct table *t, struct entry *e, uint64_t hash);
/* Unlink the entry at `link`, returning it. */
struct entry *table_unlink(struct table *t, struct entry **link);
/* Shrink when sparse; call after deletions. */
void table_maybe_shrink(struct table *t);

typedef void (*table_scan_fn)(struct entry *e, void *arg);
/* Redis's reverse-binary cursor scan: calls fn for every entry in one bucket
 * (and its expansions); returns the next cursor, 0 when done. Every entry
 * present for the whole scan is visited at least once, across resizes. */
uint64_t table_scan(struct table *t, uint64_t cursor, table_scan_fn fn, void *arg);
/* The entry at a random position (NULL if empty). `rnd` is a random 64-bit value. */
struct entry *table_random(struct table *t, uint64_t rnd);

#endif
