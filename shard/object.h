/* shard/object.h — keyspace entries: one allocation holding the header, the
 * optional expiry time, the key bytes and (for strings) the value bytes.
 * Owns: entry layout, creation, resizing and freeing; string encodings
 * (int / embstr / raw, as Redis reports them). Types with their own structures
 * hang off `val.ptr` and are freed through obj_free_value. Knows nothing of
 * sockets, RESP or threads other than its own. */
#ifndef DARTER_SHARD_OBJECT_H
#define DARTER_SHARD_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Numbering follows Redis's OBJ_* so RDB code can reuse it. */
enum obj_type { OBJ_STRING = 0, OBJ_LIST = 1, OBJ_SET = 2, OBJ_ZSET = 3, OBJ_HASH = 4, OBJ_STREAM = 6 };
enum obj_enc { ENC_RAW = 0, ENC_INT = 1, ENC_EMBSTR = 8 };

#define EMBSTR_MAX 44

enum entry_flags { E_EXPIRE = 1 };

struct entry {
    struct entry *next;
    uint32_t hash;   /* low 32 bits of the key's 64-bit hash */
    uint32_t keylen;
    uint32_t lru;    /* LRU clock (seconds, 24 bits) or LFU counter in the low byte */
    uint8_t type;
    uint8_t enc;
    uint8_t flags;
    uint8_t spare;
    union {
        void *ptr;                               /* non-string types */
        int64_t ival;                            /* ENC_INT strings */
        struct { uint32_t len, cap; } str;       /* inline string bytes */
    } val;
    char data[];     /* [int64 expire_ms][key][string bytes] */
};

static inline bool entry_has_expire(const struct entry *e) { return e->flags & E_EXPIRE; }
static inline int64_t entry_expire(const struct entry *e)
{
    int64_t t;
    if (!(e->flags & E_EXPIRE))
        return -1;
    memcpy(&t, e->data, sizeof(t));
    return t;
}
static inline char *entry_key(struct entry *e) { return e->data + ((e->flags & E_EXPIRE) ? 8 : 0); }
static inline const char *entry_ckey(const struct entry *e)
{
    return e->data + ((e->flags & E_EXPIRE) ? 8 : 0);
}
/* Bytes of an inline string value (not for ENC_INT). */
static inline char *entry_str(struct entry *e) { return entry_key(e) + e->keylen; }

/* A string entry; the value is stored as an integer when Redis would. */
struct entry *entry_new_string(const char *key, size_t klen, const char *val, size_t vlen);
/* A string entry with exactly these bytes as raw/embstr (never int). */
struct entry *entry_new_string_raw(const char *key, size_t klen, const char *val, size_t vlen, size_t cap);
struct entry *entry_new_int(const char *key, size_t klen, int64_t v);
/* An entry for a non-string type; `ptr` is owned by the entry from now on. */
struct entry *entry_new_object(const char *key, size_t klen, int type, int enc, void *ptr);
/* Free the entry and its value. */
void entry_free(struct entry *e);
/* Set or clear the expiry; may move the entry (the caller relinks). */
struct entry *entry_set_expire(struct entry *e, int64_t when_ms);
/* Grow a raw string's capacity to hold `len` bytes; may move the entry. */
struct entry *entry_reserve_str(struct entry *e, size_t len);
/* Turn an int-encoded string into raw bytes; may move the entry. */
struct entry *entry_make_raw(struct entry *e);
/* The string value as bytes. For ENC_INT, writes digits into `tmp` (>= 24 bytes). */
const char *entry_string(struct entry *e, char *tmp, size_t *len);
size_t entry_string_len(struct entry *e);
/* Deep copy under a new key (COPY, RENAME across dbs). */
struct entry *entry_clone(struct entry *e, const char *key, size_t klen);
/* Bytes the entry uses (for MEMORY USAGE and accounting). */
size_t entry_memory(const struct entry *e);

/* A new entry under another key holding e's value, type, encoding, LRU and
 * expiry; e's header is freed but its value moves (no deep copy). RENAME. */
struct entry *entry_rekey(struct entry *e, const char *key, size_t klen);

/* Moving a value between shard threads (RENAME/COPY across shards): an
 * image of the value through `put`, rebuilt on the receiving thread's heap.
 * Other types travel in their RDB encoding (shard/types.h). */
typedef void (*obj_put_fn)(void *ctx, const void *p, size_t n);
/* Image of an entry's value, type, encoding, LRU and expiry (not the key).
 * False when its type cannot be dumped. */
bool entry_dump(struct entry *e, obj_put_fn put, void *ctx);
/* Rebuild an entry from entry_dump's image under `key`; NULL if it cannot. */
struct entry *entry_load(const char *key, size_t klen, const char *img, size_t n);

bool string_to_int64(const char *s, size_t len, int64_t *out);
size_t int64_to_string(char *buf, int64_t v);

#endif
