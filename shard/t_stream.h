/* shard/t_stream.h — the stream value as command code sees it: entries
 * keyed by 128-bit IDs (ms-seq), stored in listpack nodes laid out exactly as
 * Redis's stream listpacks (so RDB writes them as they are), the nodes kept
 * in a sorted array indexed by master ID; consumer groups with their pending
 * entries lists (PEL) and consumers.
 * Owns: the structures, appending, iterating, deleting, trimming, groups and
 * consumers bookkeeping, and the RDB codec (types.h). Must not know about
 * sockets, RESP or other threads; every allocation comes from the calling
 * thread's shard heap. */
#ifndef DARTER_SHARD_T_STREAM_H
#define DARTER_SHARD_T_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Entry flags stored in each listpack entry (Redis's values). */
#define STREAM_ITEM_FLAG_NONE 0
#define STREAM_ITEM_FLAG_DELETED (1 << 0)
#define STREAM_ITEM_FLAG_SAMEFIELDS (1 << 1)

/* Largest listpack a node may grow to (Redis's STREAM_LISTPACK_MAX_SIZE). */
#define STREAM_LISTPACK_MAX_SIZE (1u << 30)
/* Group counter value meaning "unknown" (SCG_INVALID_ENTRIES_READ). */
#define STREAM_ENTRIES_READ_INVALID (-1LL)

struct sid {
    uint64_t ms, seq;
};

int sid_cmp(const struct sid *a, const struct sid *b);
/* Next/previous ID; false on overflow/underflow (the ID is left wrapped). */
bool sid_incr(struct sid *id);
bool sid_decr(struct sid *id);
static inline bool sid_is_zero(const struct sid *id) { return !id->ms && !id->seq; }
/* 16 bytes, big endian (Redis's streamEncodeID / rax key order). */
void sid_encode(unsigned char out[16], const struct sid *id);
void sid_decode(const unsigned char in[16], struct sid *id);
/* "ms-seq"; returns the length (buffer >= 42 bytes). */
int sid_format(char *buf, const struct sid *id);

/* A map from ID to pointer, sorted by ID. */
struct idmap_item {
    struct sid id;
    void *val;
};
struct idmap {
    struct idmap_item *items;
    size_t n, cap;
};

/* Index of the first item with id >= `id` (n if none). */
size_t idmap_lower(const struct idmap *m, const struct sid *id);
/* The item for exactly `id`, or NULL. */
struct idmap_item *idmap_find(const struct idmap *m, const struct sid *id);
/* Insert; false if the id is present (nothing changes). */
bool idmap_insert(struct idmap *m, const struct sid *id, void *val);
/* Remove `id`; returns its value or NULL. */
void *idmap_remove(struct idmap *m, const struct sid *id);
void idmap_free(struct idmap *m);

struct stream_consumer;

/* A pending entry (NACK): shared by the group PEL and its consumer's PEL. */
struct stream_nack {
    int64_t delivery_time;
    uint64_t delivery_count;
    struct stream_consumer *consumer;
};

struct stream_consumer {
    char *name;
    size_t nlen;
    int64_t seen_time;
    struct idmap pel; /* id -> stream_nack (owned by the group PEL) */
};

struct stream_cg {
    char *name;
    size_t nlen;
    struct sid last_id;
    long long entries_read;
    struct idmap pel; /* id -> stream_nack (owned) */
    struct stream_consumer **consumers; /* sorted by name (bytes, shorter first) */
    size_t nconsumers, capconsumers;
};

struct stream {
    struct idmap nodes; /* master id -> listpack */
    uint64_t length;
    struct sid last_id;
    struct sid first_id;
    struct sid max_deleted_id;
    uint64_t entries_added;
    struct stream_cg **groups; /* sorted by name */
    size_t ngroups, capgroups;
};

struct stream *stream_new(void);
void stream_free(struct stream *s);
struct stream *stream_clone(const struct stream *s);
size_t stream_memory(const struct stream *s);

/* Append one entry of `nfields` pairs (fv[2*i] field, fv[2*i+1] value).
 * `use_id` NULL: the next ID; else that ID, with seq picked when !seq_given.
 * Returns 0, or -1 when the ID is not greater than the top item (or no
 * sequence is left for that ms), -2 when the elements are too large. */
struct stream_str {
    const char *p;
    size_t len;
};
int stream_append(struct stream *s, const struct stream_str *fv, size_t nfields, const struct sid *use_id,
                  bool seq_given, int64_t now_ms, struct sid *added);

/* Iteration over [start, end] (inclusive), forwards or backwards. */
struct stream_iter {
    struct stream *s;
    struct sid start, end;
    bool rev;
    bool skip_tombstones;
    bool done;
    long node;            /* index into s->nodes */
    unsigned char *lp;    /* current node (NULL before the first) */
    struct sid master;
    int64_t master_fields;
    unsigned char *master_fields_p; /* first master field */
    unsigned char *master_end;      /* the master entry's terminator */
    unsigned char *p;               /* forward: next entry's flags; rev: previous entry's lp-count */
    /* the current entry */
    unsigned char *flags_p;
    int64_t flags;
    unsigned char *field_p; /* next field (or NULL with same fields) */
    unsigned char *value_p; /* next value */
    unsigned char *mf_p;    /* next master field (same fields) */
    char ftmp[24], vtmp[24];
};

void stream_iter_start(struct stream_iter *it, struct stream *s, const struct sid *start, const struct sid *end,
                       bool rev);
/* The next entry: its ID and number of field/value pairs. */
bool stream_iter_next(struct stream_iter *it, struct sid *id, int64_t *nfields);
/* The next field/value pair of the current entry (valid until the next call). */
void stream_iter_field(struct stream_iter *it, const char **f, size_t *flen, const char **v, size_t *vlen);

/* True if `id` is a live entry. */
bool stream_entry_exists(struct stream *s, const struct sid *id);
/* Mark `id` deleted; false if it was not a live entry. */
bool stream_delete(struct stream *s, const struct sid *id);
/* First (or last) entry's ID; with skip_tombstones false deleted ones count.
 * Empty: first -> max ID, last -> 0-0; returns false. */
bool stream_edge_id(struct stream *s, bool first, bool skip_tombstones, struct sid *out);

enum stream_trim_strategy { TRIM_NONE = 0, TRIM_MAXLEN = 1, TRIM_MINID = 2 };
struct stream_trim {
    int strategy;
    bool approx;
    long long limit; /* 0 = none */
    long long maxlen;
    struct sid minid;
};
/* Trim from the head; returns the number of entries removed. */
int64_t stream_trim(struct stream *s, const struct stream_trim *t);

/* Lag and logical read counters (Redis 7.0). */
bool stream_range_has_tombstones(const struct stream *s, const struct sid *start, const struct sid *end);
long long stream_estimate_distance(const struct stream *s, const struct sid *id);
/* XINFO's lag: false when unknown (null reply). */
bool stream_cg_lag(const struct stream *s, const struct stream_cg *cg, long long *lag);

/* Groups and consumers. */
struct stream_cg *stream_cg_find(const struct stream *s, const char *name, size_t nlen);
/* NULL if it exists already. */
struct stream_cg *stream_cg_create(struct stream *s, const char *name, size_t nlen, const struct sid *id,
                                   long long entries_read);
bool stream_cg_destroy(struct stream *s, const char *name, size_t nlen);
struct stream_consumer *stream_consumer_find(const struct stream_cg *cg, const char *name, size_t nlen);
/* NULL if it exists already. */
struct stream_consumer *stream_consumer_create(struct stream_cg *cg, const char *name, size_t nlen,
                                               int64_t now_ms);
/* Delete a consumer and its pending entries; returns how many were pending. */
size_t stream_consumer_delete(struct stream_cg *cg, struct stream_consumer *c);
struct stream_nack *stream_nack_new(struct stream_consumer *c, int64_t now_ms);
void stream_nack_free(struct stream_nack *n);

/* Node count (XINFO's radix-tree-keys). */
static inline size_t stream_nodes(const struct stream *s) { return s->nodes.n; }

#endif
