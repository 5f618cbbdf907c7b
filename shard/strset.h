/* shard/strset.h — a memory-lean hash set of byte strings: one allocation
 * holding a power-of-two array of slots (open addressing, linear probing,
 * deletion by backward shift, so no tombstones), each slot pointing to one
 * member blob (a varint length and the bytes). Supports uniform random
 * sampling and a reverse-binary cursor scan that keeps Redis's SSCAN
 * guarantee across resizes: elements are visited by home bucket, and an
 * element always lies in the run of occupied slots that starts at its home.
 * Owns: the table's layout. Memory comes from the calling thread's heap
 * (shard/memory.h); members hash with the per-process seeded hash of
 * shard/hdict.h. Must not know about RESP, sockets or threads. */
#ifndef DARTER_SHARD_STRSET_H
#define DARTER_SHARD_STRSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strset {
    uint32_t count;
    uint32_t mask;    /* slots - 1 */
    uint8_t *slot[];  /* member blobs, NULL when empty */
};

/* A set sized for `hint` members. */
struct strset *strset_new(size_t hint);
void strset_free(struct strset *s);
/* Add a copy of m; may reallocate *s. True when it was new. */
bool strset_add(struct strset **s, const char *m, size_t n);
/* Remove m; may reallocate *s (shrinking). True when it was there. */
bool strset_remove(struct strset **s, const char *m, size_t n);
bool strset_contains(const struct strset *s, const char *m, size_t n);
static inline size_t strset_count(const struct strset *s) { return s->count; }
static inline size_t strset_slots(const struct strset *s) { return (size_t)s->mask + 1; }
/* The member in slot i, if any: its bytes and length. */
bool strset_at(const struct strset *s, size_t i, const char **m, size_t *n);
/* Iterate: *pos starts at 0; false at the end. */
bool strset_next(const struct strset *s, size_t *pos, const char **m, size_t *n);
/* A uniformly random member (the set must not be empty); rnd() gives
 * 64 random bits. Returns its slot. */
size_t strset_random(const struct strset *s, uint64_t (*rnd)(void), const char **m, size_t *n);
/* Visit every member whose home bucket is the cursor's; returns the next
 * cursor (0 when the scan is complete). */
typedef void (*strset_visit_fn)(void *arg, const char *m, size_t n);
uint64_t strset_scan(const struct strset *s, uint64_t cursor, strset_visit_fn fn, void *arg);
/* Bytes held (usable sizes of the table and every member). */
size_t strset_memory(const struct strset *s);
/* The hash a member's home bucket comes from. */
uint64_t strset_hash(const char *m, size_t n);

#endif
