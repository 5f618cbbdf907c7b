/* shard/t_hash.h — the hash value as command code sees it: one interface
 * over Redis 7.0's two encodings, a listpack (field, value, field, value...)
 * while the hash is small, a hashtable (shard/hdict.h) once it has more than
 * hash-max-listpack-entries fields or a field/value longer than
 * hash-max-listpack-value bytes (type_limits()). Conversion is one-way, as
 * in Redis.
 * Owns: encoding choice and conversion, reads, writes, iteration, random
 * pairs and scanning of a hash entry's value. Must not know about RESP,
 * commands or other threads. */
#ifndef DARTER_SHARD_T_HASH_H
#define DARTER_SHARD_T_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shard/hdict.h"
#include "shard/object.h"

/* Bytes of a field or value: `p` may point into `tmp` (integers kept in a
 * listpack are formatted there), so do not copy the struct while in use. */
struct hash_str {
    const char *p;
    size_t len;
    char tmp[24];
};

/* A new, empty hash entry (listpack-encoded). */
struct entry *hash_entry_new(const char *key, size_t klen);

unsigned long hash_len(const struct entry *e);
/* The value of field; false when absent. */
bool hash_get(struct entry *e, const char *f, size_t flen, struct hash_str *out);
bool hash_exists(struct entry *e, const char *f, size_t flen);

/* Before writing fields: convert a listpack to a hashtable when one of the
 * strings about to be written is longer than hash-max-listpack-value
 * (`maxlen`) or their total (`sumlen`) would make the listpack unsafe
 * (Redis's hashTypeTryConversion). */
void hash_prepare_write(struct entry *e, size_t maxlen, size_t sumlen);
/* Set field to value (converting as Redis's hashTypeSet does); 1 when the
 * field is new, 0 when it was updated. */
int hash_set(struct entry *e, const char *f, size_t flen, const char *v, size_t vlen);
/* Delete field; false when absent. Never converts back. */
bool hash_delete(struct entry *e, const char *f, size_t flen);
/* Turn a listpack hash into a hashtable (no-op otherwise). */
void hash_convert_to_table(struct entry *e);

/* Iteration over every pair; the hash must not change meanwhile. */
struct hash_iter {
    struct entry *e;
    unsigned char *p;
    struct hdict_iter di;
};
void hash_iter_init(struct hash_iter *it, struct entry *e);
bool hash_iter_next(struct hash_iter *it, struct hash_str *f, struct hash_str *v);

/* A uniformly chosen pair (the hash must not be empty); *rnd is a PRNG
 * state advanced by the call. */
void hash_random_pair(struct entry *e, uint64_t *rnd, struct hash_str *f, struct hash_str *v);
/* `count` distinct pairs chosen uniformly (count < hash_len) into fn, in no
 * particular order. */
typedef void (*hash_pair_fn)(void *arg, const char *f, size_t flen, const char *v, size_t vlen);
void hash_random_distinct(struct entry *e, uint64_t *rnd, unsigned long count, hash_pair_fn fn, void *arg);

/* HSCAN step: a listpack hands every pair and returns 0; a hashtable hands
 * one bucket's pairs and returns the next cursor (0 when done). */
uint64_t hash_scan(struct entry *e, uint64_t cursor, hash_pair_fn fn, void *arg);

#endif
