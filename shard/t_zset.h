/* shard/t_zset.h — sorted sets as the rest of darter sees them: the value
 * hangs off an entry (struct entry, type OBJ_ZSET) in one of Redis 7.0's two
 * encodings, chosen by zset-max-listpack-entries / zset-max-listpack-value:
 *   OBJ_ENC_LISTPACK: one listpack of member,score pairs ordered by score
 *                     then member (bytes), as Redis writes it;
 *   OBJ_ENC_SKIPLIST: a skiplist with spans (ranks) plus a member -> node
 *                     hash table ("skiplist" in OBJECT ENCODING).
 * Every function that edits may change e->val.ptr and e->enc (conversion),
 * never the entry itself. All memory comes from the calling thread's shard
 * heap: call these only on the thread that owns the key.
 *
 * How command code (cmd_zset.c, cmd_geo.c) uses it: find the entry with
 * db_find_type(c, key, OBJ_ZSET, &ref, &wrongtype) (server/server.h), create
 * one with zset_new_entry() + db_add(), edit with zset_add()/zset_del(),
 * read with zset_score()/zset_rank() and the iterators, and delete the key
 * (ks_delete) when zset_card() drops to 0. Storing a computed result under
 * a key, possibly on another thread, is server/cmd_zset.h.
 * Must not know about sockets, RESP or other threads. */
#ifndef DARTER_SHARD_T_ZSET_H
#define DARTER_SHARD_T_ZSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shard/object.h"

/* Score interval [min,max]; minex/maxex make an end exclusive. */
struct zrange_spec {
    double min, max;
    bool minex, maxex;
};

/* Lex interval: an end is a byte string, or -inf/+inf (inf = -1 / +1). */
struct zlex_spec {
    const char *min, *max;
    size_t minlen, maxlen;
    int mininf, maxinf; /* -1: '-', +1: '+', 0: the bytes */
    bool minex, maxex;
};

/* One member as read: bytes (valid until the zset changes; integers held in
 * a listpack are formatted into the iterator's/caller's buffer) and score. */
struct zset_elem {
    const char *m;
    size_t len;
    double score;
};

/* ---- creating ---- */
/* An empty zset value in the encoding Redis would pick for `size_hint`
 * members whose longest is `maxelelen` bytes; *enc receives it. */
void *zset_create(size_t size_hint, size_t maxelelen, int *enc);
/* A new key holding an empty zset (as zset_create). */
struct entry *zset_new_entry(const char *key, size_t klen, size_t size_hint, size_t maxelelen);

/* ---- reading ---- */
unsigned long zset_card(const struct entry *e);
bool zset_score(const struct entry *e, const char *m, size_t len, double *score);
/* 0-based rank from the lowest (rev: highest) score, -1 when absent;
 * *score (optional) receives the member's score. */
long zset_rank(const struct entry *e, const char *m, size_t len, bool rev, double *score);
/* Members in a range (Redis's zsetCount / zlexcount). */
unsigned long zset_count_score(const struct entry *e, const struct zrange_spec *r);
unsigned long zset_count_lex(const struct entry *e, const struct zlex_spec *r);

/* ---- editing ---- */
enum zadd_in { ZADD_IN_INCR = 1, ZADD_IN_NX = 2, ZADD_IN_XX = 4, ZADD_IN_GT = 8, ZADD_IN_LT = 16 };
enum zadd_out { ZADD_OUT_NOP = 1, ZADD_OUT_NAN = 2, ZADD_OUT_ADDED = 4, ZADD_OUT_UPDATED = 8 };
/* Redis's zsetAdd: add or update `m` with `score` under the NX/XX/GT/LT/INCR
 * flags. Returns false only when INCR made the score NaN (*out has
 * ZADD_OUT_NAN, nothing changed). *newscore (optional) receives the score
 * the member ends with (INCR). Converts listpack -> skiplist when the
 * limits are crossed. */
bool zset_add(struct entry *e, double score, const char *m, size_t len, int in, int *out, double *newscore);
/* Remove a member; false when absent. */
bool zset_del(struct entry *e, const char *m, size_t len);
/* Remove ranges; return how many went. Ranks are 0-based, inclusive. */
unsigned long zset_del_range_rank(struct entry *e, unsigned long start, unsigned long end);
unsigned long zset_del_range_score(struct entry *e, const struct zrange_spec *r);
unsigned long zset_del_range_lex(struct entry *e, const struct zlex_spec *r);

/* ---- encodings ---- */
/* Convert to OBJ_ENC_LISTPACK or OBJ_ENC_SKIPLIST. */
void zset_convert(struct entry *e, int enc);
/* zsetConvertToListpackIfNeeded: after building a skiplist result
 * (ZUNIONSTORE, ZRANGESTORE ...), go back to a listpack when it fits. */
void zset_shrink_if_fits(struct entry *e, size_t maxelelen, size_t totlen);

/* ---- iterating ----
 * Initialise, then call zset_iter_next until it returns false. The zset
 * must not change while iterating. */
enum zset_iter_kind { ZIT_RANK, ZIT_SCORE, ZIT_LEX };
struct zset_iter {
    const struct entry *e;
    int kind;
    bool rev;
    unsigned long left;          /* ZIT_RANK: members still to return */
    struct zrange_spec score;    /* ZIT_SCORE */
    struct zlex_spec lex;        /* ZIT_LEX */
    unsigned char *eptr, *sptr;  /* listpack position */
    void *node;                  /* skiplist position */
    char tmp[32];                /* an integer member's digits */
};
/* From rank `start` (0-based, counted from the end `rev` names) up to
 * `count` members. */
void zset_iter_rank(struct zset_iter *it, const struct entry *e, unsigned long start, unsigned long count, bool rev);
/* Members with scores in r, ascending (rev: descending). */
void zset_iter_score(struct zset_iter *it, const struct entry *e, const struct zrange_spec *r, bool rev);
/* Members in the lex range r (meaningful when all scores are equal). */
void zset_iter_lex(struct zset_iter *it, const struct entry *e, const struct zlex_spec *r, bool rev);
bool zset_iter_next(struct zset_iter *it, struct zset_elem *out);

/* ---- ranges ---- */
bool zset_value_gte_min(double v, const struct zrange_spec *r);
bool zset_value_lte_max(double v, const struct zrange_spec *r);
bool zset_lex_gte_min(const char *s, size_t n, const struct zlex_spec *r);
bool zset_lex_lte_max(const char *s, size_t n, const struct zlex_spec *r);

/* ---- scanning ----
 * ZSCAN: visit the members of one cursor step and return the next cursor
 * (0 when done). A listpack is visited whole in one step, as Redis does. */
typedef void (*zset_visit_fn)(void *arg, const char *m, size_t len, double score);
uint64_t zset_scan(const struct entry *e, uint64_t cursor, zset_visit_fn fn, void *arg);

/* Redis's d2string: how a score is written as text into a listpack
 * (integers as integers, nan, inf, -inf, -0, else %.17g). */
int zset_score_to_string(char *buf, size_t len, double d);

#endif
