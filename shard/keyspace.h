/* shard/keyspace.h — one shard thread's keyspace: per database, per owned
 * slot, a table allocated on first key. Lazy expiry on lookup and an active
 * expiry cycle that walks slots with volatile keys.
 * Owns: databases, slot tables, key counts, the LRU clock stamp on access.
 * Must not know about sockets, RESP, or which thread owns which slot: callers
 * pass the slot. */
#ifndef DARTER_SHARD_KEYSPACE_H
#define DARTER_SHARD_KEYSPACE_H

#include "shard/table.h"

#define KS_SLOTS 16384
/* Slot tables are reached through a two-level array: KS_CHUNKS chunks of
 * KS_CHUNK_SLOTS pointers, each chunk allocated on the first key of one of
 * its slots (a thread owns contiguous slot ranges, so it only ever
 * allocates the chunks covering them). */
#define KS_CHUNK_SLOTS 128
#define KS_CHUNKS (KS_SLOTS / KS_CHUNK_SLOTS)

struct ks_db {
    struct table ***chunks; /* [KS_CHUNKS] of [KS_CHUNK_SLOTS], allocated on first key */
    uint64_t keys;
    uint64_t volatile_keys;
};

struct ks_stats {
    uint64_t expired_keys;
    uint64_t keyspace_hits;
    uint64_t keyspace_misses;
    uint64_t evicted_keys;
};

struct keyspace {
    int ndb;
    struct ks_db *dbs;
    struct ks_stats stats;
    /* active expiry position */
    int expire_db;
    unsigned expire_slot;
    uint64_t expire_cursor;
    uint64_t rnd;
    /* persist.c: called before active expiry deletes keys of a slot (snapshot copy-on-write) */
    void (*before_write)(void *arg, unsigned slot);
    void *before_write_arg;
    /* Called just before an expired entry is deleted, by active expiry and by
     * lazy expiry in ks_find (the entry is still valid during the call). */
    void (*on_expired)(void *arg, int db, unsigned slot, struct entry *e);
    void *on_expired_arg;
};

/* A located key: where its link is, so it can be replaced or removed. */
struct ks_ref {
    struct table *table;
    struct entry **link;
    uint64_t hash;
};

void ks_init(struct keyspace *ks, int ndb);
void ks_destroy(struct keyspace *ks);

/* Find a live key; an expired key is deleted and reported missing.
 * Returns the entry or NULL; `ref` (optional) receives its location. */
struct entry *ks_find(struct keyspace *ks, int db, unsigned slot, const char *key, size_t len,
                      int64_t now_ms, struct ks_ref *ref);
/* Add an entry whose key is not present (call ks_find first). */
void ks_add(struct keyspace *ks, int db, unsigned slot, struct entry *e);
/* Replace the entry at ref with `e` (same key), freeing the old one unless it is `e`. */
void ks_replace(struct keyspace *ks, int db, struct ks_ref *ref, struct entry *e);
/* The entry at ref was reallocated to `e` (same key): relink it. */
void ks_relink(struct keyspace *ks, int db, struct ks_ref *ref, struct entry *e);
/* Delete the entry at ref and free it. */
void ks_delete(struct keyspace *ks, int db, struct ks_ref *ref);
/* Remove the entry at ref without freeing it (ownership to the caller). */
struct entry *ks_take(struct keyspace *ks, int db, struct ks_ref *ref);
/* Set or clear (when_ms < 0) a key's expiry, keeping counters right. */
struct entry *ks_set_expire(struct keyspace *ks, int db, struct ks_ref *ref, int64_t when_ms);

uint64_t ks_db_size(struct keyspace *ks, int db);
uint64_t ks_db_volatile(struct keyspace *ks, int db);
void ks_flush_db(struct keyspace *ks, int db);
void ks_swap_db(struct keyspace *ks, int a, int b);
uint64_t ks_slot_count(struct keyspace *ks, int db, unsigned slot);
struct table *ks_slot_table(struct keyspace *ks, int db, unsigned slot);

/* Active expiry: examine up to `budget` entries; returns how many expired. */
uint64_t ks_active_expire(struct keyspace *ks, int64_t now_ms, unsigned budget, const unsigned *slots,
                          unsigned nslots);

static inline bool ks_is_expired(const struct entry *e, int64_t now_ms)
{
    return (e->flags & E_EXPIRE) && entry_expire(e) <= now_ms;
}

#endif
