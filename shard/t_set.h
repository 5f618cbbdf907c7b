/* shard/t_set.h — the set value as command code sees it: a set entry's value
 * is an intset (OBJ_ENC_INTSET: shard/intset.h, while every member is an
 * integer and there are at most set-max-intset-entries of them) or a strset
 * (OBJ_ENC_HT: shard/strset.h). Conversions follow Redis 7.0: adding a
 * non-integer, or growing past the limit, turns an intset into a hashtable
 * for good. These functions keep e->val.ptr and e->enc up to date.
 * Owns: the set encodings' common interface. Must not know about RESP,
 * sockets or threads. */
#ifndef DARTER_SHARD_T_SET_H
#define DARTER_SHARD_T_SET_H

#include "shard/object.h"
#include "shard/strset.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for any int64 in decimal. */
#define SET_INT_BUF 24

/* setTypeCreate: an empty intset if m is an integer Redis would store in an
 * intset, else an empty hashtable sized for `hint` members. */
struct entry *set_entry_new(const char *key, size_t klen, const char *m, size_t n, size_t hint);
/* createIntsetObject: an empty intset (grows into whatever is added). */
struct entry *set_entry_new_intset(const char *key, size_t klen);
/* Add / remove / test a member; true when the set changed / has it. */
bool set_add(struct entry *e, const char *m, size_t n);
bool set_remove(struct entry *e, const char *m, size_t n);
bool set_has(const struct entry *e, const char *m, size_t n);
size_t set_size(const struct entry *e);
/* Turn an intset into a hashtable sized for `hint` members. */
void set_convert_to_ht(struct entry *e, size_t hint);

/* Iteration in storage order (ascending for intsets). Members of an intset
 * are formatted into it->tmp; a member is valid until the next call. */
struct set_iter {
    const struct entry *e;
    size_t pos;
    char tmp[SET_INT_BUF];
};
void set_iter_init(struct set_iter *it, const struct entry *e);
bool set_iter_next(struct set_iter *it, const char **m, size_t *n);

/* A uniformly random member (the set is not empty), formatted into tmp for
 * intsets. rnd gives 64 random bits. */
void set_random(const struct entry *e, uint64_t (*rnd)(void), char tmp[SET_INT_BUF], const char **m, size_t *n);

/* SSCAN: visit the members of one cursor step; returns the next cursor. An
 * intset is visited whole (cursor 0 next), as Redis does. */
uint64_t set_scan(const struct entry *e, uint64_t cursor, strset_visit_fn fn, void *arg);

#endif
