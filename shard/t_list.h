/* shard/t_list.h — the list value: a quicklist, i.e. a doubly linked list of
 * listpack nodes (shard/listpack.h), each bounded by list-max-listpack-size
 * (positive: entries per node; -1..-5: 4/8/16/32/64 KB per node), as Redis
 * 7.0 (OBJECT ENCODING "quicklist"). list-compress-depth is accepted by
 * CONFIG but ignored: nodes are never LZF-compressed in memory.
 * Owns: the structure, editing, iteration, and the RDB codec (t_list.c).
 * Memory comes from the calling thread's shard heap. Must not know about
 * keys, RESP or threads. */
#ifndef DARTER_SHARD_T_LIST_H
#define DARTER_SHARD_T_LIST_H

#include "shard/listpack.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ql_node {
    struct ql_node *prev, *next;
    unsigned char *lp;
};

struct quicklist {
    struct ql_node *head, *tail;
    uint64_t count;   /* elements */
    uint32_t nnodes;
};

/* A position: an element of a node. */
struct ql_pos {
    struct ql_node *node;
    unsigned char *p;
};

enum ql_end { QL_HEAD = 0, QL_TAIL = 1 };

struct quicklist *ql_new(void);
void ql_free(struct quicklist *ql);
struct quicklist *ql_clone(const struct quicklist *ql);
size_t ql_memory(const struct quicklist *ql);

void ql_push(struct quicklist *ql, enum ql_end end, const char *s, size_t len);

/* Position of element `index` (negative from the tail); false if out of range. */
bool ql_index(const struct quicklist *ql, long long index, struct ql_pos *pos);
/* Step to the next (forward) or previous element; false past the end. */
bool ql_step(struct ql_pos *pos, bool forward);
/* Replace the element at pos. */
void ql_replace(struct quicklist *ql, struct ql_pos *pos, const char *s, size_t len);
/* Insert before/after the element at pos. */
void ql_insert(struct quicklist *ql, struct ql_pos *pos, bool after, const char *s, size_t len);
/* Delete the element at pos; pos moves to the element that was next in the
 * given direction (node NULL at the end). */
void ql_delete(struct quicklist *ql, struct ql_pos *pos, bool forward);
/* Delete `n` elements from index `start` (0 <= start, start+n <= count). */
void ql_delete_range(struct quicklist *ql, uint64_t start, uint64_t n);

/* May a node holding `lp` take one more element of `len` bytes under the
 * calling thread's list-max-listpack-size? */
bool ql_node_allows(const unsigned char *lp, size_t len);
/* Elements of a node. */
static inline unsigned long ql_node_count(const struct ql_node *n) { return lp_length(n->lp); }

#endif
