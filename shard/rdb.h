/* shard/rdb.h — the RDB codec: Redis-compatible snapshot and DUMP payload
 * encoding and decoding of keyspace entries. Works on in-memory buffers only
 * (no sockets, no threads, no files): writers append to a struct buf, the
 * reader parses a whole file image. Per-type value encoders/decoders are kept
 * separate (see rdb.c) so new types can be added one at a time. */
#ifndef DARTER_SHARD_RDB_H
#define DARTER_SHARD_RDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/buf.h"
#include "shard/crc64.h"
#include "shard/object.h"

#define RDB_VERSION 10

/* Opcodes (Redis 7.0 rdb.h numbering). */
#define RDB_OPCODE_FUNCTION2 245
#define RDB_OPCODE_FUNCTION 246
#define RDB_OPCODE_MODULE_AUX 247
#define RDB_OPCODE_IDLE 248
#define RDB_OPCODE_FREQ 249
#define RDB_OPCODE_AUX 250
#define RDB_OPCODE_RESIZEDB 251
#define RDB_OPCODE_EXPIRETIME_MS 252
#define RDB_OPCODE_EXPIRETIME 253
#define RDB_OPCODE_SELECTDB 254
#define RDB_OPCODE_EOF 255

/* Value type bytes. A type whose codec (shard/types.h) is missing is refused
 * with "Unsupported RDB value type". */
#define RDB_TYPE_STRING 0
#define RDB_TYPE_LIST 1
#define RDB_TYPE_SET 2
#define RDB_TYPE_ZSET 3
#define RDB_TYPE_HASH 4
#define RDB_TYPE_ZSET_2 5
#define RDB_TYPE_MODULE_PRE_GA 6
#define RDB_TYPE_MODULE_2 7
#define RDB_TYPE_HASH_ZIPMAP 9
#define RDB_TYPE_LIST_ZIPLIST 10
#define RDB_TYPE_SET_INTSET 11
#define RDB_TYPE_ZSET_ZIPLIST 12
#define RDB_TYPE_HASH_ZIPLIST 13
#define RDB_TYPE_LIST_QUICKLIST 14
#define RDB_TYPE_STREAM_LISTPACKS 15
#define RDB_TYPE_HASH_LISTPACK 16
#define RDB_TYPE_ZSET_LISTPACK 17
#define RDB_TYPE_LIST_QUICKLIST_2 18
#define RDB_TYPE_STREAM_LISTPACKS_2 19

/* Options for the _ex writers (0 = what Redis does with default config:
 * LZF compression on, no IDLE/FREQ opcodes). */
enum rdb_save_flags {
    RDB_SAVE_NO_COMPRESS = 1 << 0, /* rdbcompression no */
    RDB_SAVE_IDLE = 1 << 1,        /* write an IDLE opcode (maxmemory-policy *-lru) */
    RDB_SAVE_FREQ = 1 << 2,        /* write a FREQ opcode (maxmemory-policy *-lfu) */
};

/* ---- Writing (appends to a struct buf; the caller writes buffers to files) ---- */

/* "REDIS0010" + aux fields redis-ver 7.0.15, redis-bits 64, ctime, used-mem 0, aof-base 0. */
void rdb_write_header(struct buf *b);
/* SELECTDB opcode + db number. */
void rdb_write_select_db(struct buf *b, int db);
/* RESIZEDB opcode + key count + expires count. */
void rdb_write_resize_db(struct buf *b, uint64_t keys, uint64_t expires);
/* One key: optional EXPIRETIME_MS, then type byte, key string, value.
 * Returns false (and appends nothing) for a type it cannot encode. */
bool rdb_write_entry(struct buf *b, struct entry *e);
/* RDB_OPCODE_FUNCTION2 + the library's code (as Redis 7.0 saves each
 * library, after the AUX fields and before the first SELECTDB). */
void rdb_write_function(struct buf *b, const char *code, size_t len);
/* EOF opcode + 8-byte little-endian CRC64 of everything before it. The caller
 * passes the CRC of all earlier bytes (crc64_redis(0, ...) chained over every
 * byte written so far); the function folds in the EOF byte itself. */
void rdb_write_footer(struct buf *b, uint64_t crc_so_far);

/* rdb_write_entry with rdb_save_flags. `now_ms` is only used for IDLE/FREQ
 * (idle seconds from e->lru as an LRU clock, or the decayed LFU counter). */
bool rdb_write_entry_ex(struct buf *b, struct entry *e, int flags, int64_t now_ms);

/* Lower-level writers: an AUX field, a length, a string (int-encoded / LZF /
 * plain, as Redis chooses), and a value without type byte or key. */
void rdb_write_aux(struct buf *b, const char *k, const char *v, size_t vl);
void rdb_write_len(struct buf *b, uint64_t len);
void rdb_write_string(struct buf *b, const char *s, size_t len);
void rdb_write_string_ex(struct buf *b, const char *s, size_t len, int flags);
/* Type byte for e's value, or -1 if it cannot be encoded. */
int rdb_value_type(const struct entry *e);
/* The value only (no type byte, no key). False (nothing appended) for a type
 * it cannot encode. */
bool rdb_write_value(struct buf *b, struct entry *e, int flags);

/* ---- Reading a whole file image in memory ---- */
struct rdb_loader_cb {
    void *arg;
    /* a key was decoded; `e` is allocated with entry_* (caller's thread heap);
     * expire already set on e; return false to stop */
    bool (*on_key)(void *arg, int db, struct entry *e);
    void (*on_aux)(void *arg, const char *k, size_t kl, const char *v, size_t vl);
    /* a FUNCTION2 library: its code (NUL-terminated, valid during the call);
     * return false with a message in err to stop loading */
    bool (*on_function)(void *arg, const char *code, size_t len, char *err, size_t errlen);
};

/* Parse and verify (CRC64 when non-zero in the file). On error returns false
 * and writes a message naming the byte offset ("... at offset N"); keys
 * delivered before the error stay delivered. Details:
 *  - on_key owns `e` from the call on, whether it returns true or false. If
 *    it returns false, loading stops: false, "Loading stopped by the caller".
 *  - Keys with expire <= now_ms are skipped (freed, never passed on); now_ms
 *    <= 0 keeps everything (replica / AOF-preamble style loading).
 *  - e->lru: from a FREQ opcode (LFU layout: minutes << 8 | counter), else
 *    from IDLE (LRU clock now - idle), else the LRU clock at now_ms.
 *  - db is the SELECTDB number (0..INT_MAX): the caller checks its range.
 *    Duplicate keys are not detected here.
 *  - on_aux's k and v are NUL-terminated (k[kl] == v[vl] == 0), decoded from
 *    int/LZF encodings; valid only during the call.
 *  - FUNCTION2 libraries go to on_function (skipped when NULL); MODULE_AUX, pre-GA FUNCTION and value
 *    types without a decoder are errors. Bytes after the checksum are ignored.
 * Any callback may be NULL (keys are then freed). */
bool rdb_load_buffer(const char *data, size_t len, int64_t now_ms, const struct rdb_loader_cb *cb,
                     char *err, size_t errlen);

/* ---- DUMP / RESTORE payloads ---- */
/* type byte + value + 2-byte RDB version (LE) + 8-byte CRC64 (LE). False for a
 * type it cannot encode (nothing appended). */
bool rdb_dump_payload(struct entry *e, struct buf *out);
bool rdb_dump_payload_ex(struct entry *e, struct buf *out, int flags);
/* Decode a DUMP payload into a new entry with the given key (no expiry).
 * Returns NULL and sets err on a bad payload ("DUMP payload version or
 * checksum are wrong" when version/CRC fail, or "Bad data format" otherwise). */
struct entry *rdb_restore_payload(const char *key, size_t klen, const char *p, size_t n, char *err,
                                  size_t errlen);

/* ---- Helpers for per-type value codecs (shard/t_*.c) ---- */

/* A bounds-checked cursor over an image. Every reader returns false after
 * recording the error (with its offset) in err and setting `failed`. */
struct rdb_in {
    const unsigned char *p;
    size_t len;
    size_t pos;
    char *err;
    size_t errlen;
    bool failed;
};

__attribute__((format(printf, 3, 4))) bool rdb_in_fail(struct rdb_in *in, size_t at, const char *fmt, ...);
bool rdb_read_byte(struct rdb_in *in, unsigned *out);
bool rdb_read_len(struct rdb_in *in, uint64_t *out);
/* A string's decoded bytes: into the image for plain strings, else appended
 * to `scratch` (valid until scratch grows again: clear it per element).
 * NULL on error. */
const char *rdb_read_str(struct rdb_in *in, struct buf *scratch, size_t *len);
/* n raw bytes of the image (for listpack/ziplist/intset blobs use rdb_read_str). */
bool rdb_read_raw(struct rdb_in *in, size_t n, const unsigned char **p);
/* RDB_TYPE_ZSET_2 scores (8 bytes little-endian IEEE). */
bool rdb_read_binary_double(struct rdb_in *in, double *out);
/* RDB_TYPE_ZSET scores (length byte, 253/254/255 = nan/+inf/-inf, ASCII). */
bool rdb_read_old_double(struct rdb_in *in, double *out);
size_t rdb_in_pos(const struct rdb_in *in);
void rdb_write_binary_double(struct buf *b, double d);

/* ---- Moving a value between threads ---- */
/* RDB type byte + value (uncompressed). False for a type with no codec. */
bool rdb_value_image(struct entry *e, struct buf *out);
/* Rebuild an entry under `key` on the calling thread's heap; NULL if bad. */
struct entry *rdb_entry_from_image(const char *key, size_t klen, const char *p, size_t n);

#endif
