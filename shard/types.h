/* shard/types.h — the value types other than strings, as the rest of the
 * shard sees them: one table of operations per type (free, clone, memory,
 * RDB codec), the encodings Redis reports, and the size limits that pick an
 * encoding (hash-max-listpack-entries and friends).
 * Owns: the registry and the calling thread's limits. Each type's operations
 * live in its own file (shard/t_list.c, t_hash.c, t_set.c, t_zset.c,
 * t_stream.c); commands live in server/cmd_<type>.c. Must not know about
 * sockets, RESP or other threads. */
#ifndef DARTER_SHARD_TYPES_H
#define DARTER_SHARD_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/buf.h"

struct rdb_in;

/* Redis's OBJ_ENCODING_* numbering (OBJECT ENCODING names them). */
enum obj_encoding {
    OBJ_ENC_RAW = 0,
    OBJ_ENC_INT = 1,
    OBJ_ENC_HT = 2,
    OBJ_ENC_INTSET = 6,
    OBJ_ENC_SKIPLIST = 7,
    OBJ_ENC_EMBSTR = 8,
    OBJ_ENC_QUICKLIST = 9,
    OBJ_ENC_STREAM = 10,
    OBJ_ENC_LISTPACK = 11,
};

struct type_ops {
    const char *name; /* TYPE's answer */
    /* Free the value (allocated on the calling thread's heap). */
    void (*free)(void *ptr, int enc);
    /* Deep copy on the calling thread's heap (COPY, snapshots). */
    void *(*clone)(const void *ptr, int enc);
    /* Bytes the value holds (usable sizes), for MEMORY USAGE. */
    size_t (*memory)(const void *ptr, int enc);
    /* RDB: the type byte this value is written as, and its encoding. */
    int (*rdb_type)(const void *ptr, int enc);
    bool (*rdb_encode)(struct buf *b, const void *ptr, int enc, int flags);
    /* RDB: decode a value of type byte `rdb_type` (one of those mapped to
     * this type in rdb.c), choosing the encoding under the current limits.
     * Returns the value and sets *enc; NULL with rdb_in_fail on bad data;
     * NULL without a failure for an empty collection (skipped). */
    void *(*rdb_decode)(struct rdb_in *in, unsigned rdb_type, int *enc);
};

extern const struct type_ops list_type_ops;
extern const struct type_ops set_type_ops;
extern const struct type_ops zset_type_ops;
extern const struct type_ops hash_type_ops;
extern const struct type_ops stream_type_ops;

/* The operations of obj_type (enum obj_type), NULL for strings/unknown. */
const struct type_ops *type_ops_of(int obj_type);
/* OBJECT ENCODING's name for an encoding number. */
const char *type_encoding_name(int enc);

/* Encoding limits (Redis's config names), per thread: each worker sets its
 * own copy from its config at start and on CONFIG SET; a thread that never
 * set them sees Redis's defaults. */
struct type_limits {
    long long hash_max_listpack_entries;
    long long hash_max_listpack_value;
    long long set_max_intset_entries;
    long long zset_max_listpack_entries;
    long long zset_max_listpack_value;
    long long list_max_listpack_size;
    long long list_compress_depth;
    long long stream_node_max_bytes;
    long long stream_node_max_entries;
};

const struct type_limits *type_limits(void);
void type_limits_set(const struct type_limits *l);

#endif
