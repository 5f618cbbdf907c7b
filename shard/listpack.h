/* shard/listpack.h — Redis's listpack, byte for byte: one allocation of
 *   <total bytes u32 LE> <count u16 LE> <entry>... <0xFF>
 * where each entry is an encoding+data followed by its backlen. Used as the
 * compact encoding of lists (quicklist nodes), hashes, sorted sets and
 * stream nodes, and written to / read from RDB files as is.
 * Owns: the format, reading, editing, validation, and conversion of Redis's
 * older ziplist format to listpack (for RDB files from Redis < 7).
 * Memory comes from the calling thread's shard heap (shard/memory.h).
 * Must not know about types, keys, RESP or threads.
 *
 * Element pointers (`p`) point at an entry inside the listpack; any call that
 * returns a new listpack pointer invalidates old element pointers unless it
 * hands back an updated one. Strings that are canonical integers (what
 * string_to_int64 accepts) are stored as integers, like Redis's lpAppend. */
#ifndef DARTER_SHARD_LISTPACK_H
#define DARTER_SHARD_LISTPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lp_where { LP_BEFORE = 0, LP_AFTER = 1, LP_REPLACE = 2 };

/* A decoded element: a string (sval/slen) or an integer (sval NULL, ival). */
struct lp_val {
    const unsigned char *sval;
    uint32_t slen;
    int64_t ival;
};

unsigned char *lp_new(size_t capacity);
void lp_free(unsigned char *lp);
unsigned char *lp_dup(const unsigned char *lp);
size_t lp_bytes(const unsigned char *lp);
/* Number of elements (walks the listpack when the u16 count saturated). */
unsigned long lp_length(const unsigned char *lp);

/* Navigation: NULL past either end. */
unsigned char *lp_first(unsigned char *lp);
unsigned char *lp_last(unsigned char *lp);
unsigned char *lp_next(unsigned char *lp, unsigned char *p);
unsigned char *lp_prev(unsigned char *lp, unsigned char *p);
/* Element at index (negative from the end), NULL if out of range. */
unsigned char *lp_seek(unsigned char *lp, long index);

/* Decode the element at p. */
void lp_get(const unsigned char *p, struct lp_val *v);
/* The element as bytes: integers are formatted into tmp (>= 21 bytes). */
const char *lp_get_str(const unsigned char *p, char *tmp, size_t *len);
/* The element as an integer, if it is one or a string that parses as one. */
bool lp_get_int(const unsigned char *p, int64_t *out);
/* Compare the element at p with bytes s/len (integers compare by text). */
bool lp_eq(const unsigned char *p, const char *s, size_t len);

/* Editing. Each returns the (possibly moved) listpack. */
unsigned char *lp_append(unsigned char *lp, const char *s, size_t len);
unsigned char *lp_prepend(unsigned char *lp, const char *s, size_t len);
unsigned char *lp_append_int(unsigned char *lp, int64_t v);
/* Insert s before/after p, or replace the element at p. *newp (optional)
 * receives the inserted/replaced element. */
unsigned char *lp_insert(unsigned char *lp, const char *s, size_t len, unsigned char *p, enum lp_where where,
                         unsigned char **newp);
unsigned char *lp_insert_int(unsigned char *lp, int64_t v, unsigned char *p, enum lp_where where,
                             unsigned char **newp);
/* Delete the element at p; *nextp (optional) receives the element that
 * followed it (NULL at the end). */
unsigned char *lp_delete(unsigned char *lp, unsigned char *p, unsigned char **nextp);
/* Delete `num` elements starting at index (negative from the end). */
unsigned char *lp_delete_range(unsigned char *lp, long index, unsigned long num);
/* Concatenate b onto a (a is resized; b untouched). */
unsigned char *lp_merge(unsigned char *a, const unsigned char *b);

/* From p on, compare every (skip+1)-th element with s (lpFind: skip 1 walks
 * the keys of a field/value listpack). NULL when absent. */
unsigned char *lp_find(unsigned char *lp, unsigned char *p, const char *s, size_t len, unsigned skip);

/* Check a listpack from an untrusted source (RDB, RESTORE) of `size` bytes:
 * header, every entry's encoding and backlen, the terminator and count.
 * `count_out` (optional) receives the element count. */
bool lp_validate(const unsigned char *lp, size_t size, unsigned long *count_out);

/* Redis's ziplist (RDB types 10, 12, 13 and quicklist v1 nodes) of `size`
 * bytes to a new listpack with the same elements; NULL if the ziplist is
 * malformed. */
unsigned char *lp_from_ziplist(const unsigned char *zl, size_t size);

#endif
