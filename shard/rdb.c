/* shard/rdb.c — the RDB codec (see rdb.h): Redis 7.0's RDB version 10 file
 * format and DUMP payloads, for the value types darter has.
 *
 * Layout of this file:
 *   - byte helpers (little/big endian)
 *   - writing: lengths, strings (int / LZF / plain), per-type value encoders
 *     (table `encoders`, indexed by enum obj_type), entries, file framing,
 *     DUMP payloads
 *   - reading: a bounds-checked cursor over the image (`struct rdb_in`),
 *     lengths, strings as references into the image (materialised only when
 *     needed), per-type value decoders (table `decoders`, indexed by the RDB
 *     type byte), the file loop, RESTORE payloads.
 * Strings are coded here; every other type's value codec lives with the type
 * (shard/t_*.c, reached through shard/types.h) and uses the reader/writer
 * helpers rdb.h exports. Adding a type: fill in its type_ops codec.
 *
 * Entries come from entry_* (the calling thread's shard heap); scratch space
 * from struct buf. No I/O, no globals other than the LZF hash table. */
#include "shard/rdb.h"
#include "shard/lzf.h"

#include "shard/types.h"

#include <inttypes.h>
#include <math.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define RDB_6BITLEN 0
#define RDB_14BITLEN 1
#define RDB_32BITLEN 0x80
#define RDB_64BITLEN 0x81
#define RDB_ENCVAL 3
#define RDB_ENC_INT8 0
#define RDB_ENC_INT16 1
#define RDB_ENC_INT32 2
#define RDB_ENC_LZF 3

#define LRU_BITS_MASK ((1u << 24) - 1)

/* ======================================================================
 * Byte helpers
 * ====================================================================== */

static inline void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t get_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* ======================================================================
 * Writing
 * ====================================================================== */

static size_t len_size(uint64_t len)
{
    return len < (1u << 6) ? 1 : len < (1u << 14) ? 2 : len <= UINT32_MAX ? 5 : 9;
}

static size_t encode_len(unsigned char *p, uint64_t len)
{
    if (len < (1u << 6)) {
        p[0] = (unsigned char)((RDB_6BITLEN << 6) | len);
        return 1;
    }
    if (len < (1u << 14)) {
        p[0] = (unsigned char)((RDB_14BITLEN << 6) | (len >> 8));
        p[1] = (unsigned char)(len & 0xff);
        return 2;
    }
    if (len <= UINT32_MAX) {
        p[0] = RDB_32BITLEN;
        for (int i = 0; i < 4; i++)
            p[1 + i] = (unsigned char)(len >> (8 * (3 - i))); /* big endian */
        return 5;
    }
    p[0] = RDB_64BITLEN;
    for (int i = 0; i < 8; i++)
        p[1 + i] = (unsigned char)(len >> (8 * (7 - i)));
    return 9;
}

void rdb_write_len(struct buf *b, uint64_t len)
{
    unsigned char tmp[9];
    buf_put(b, tmp, encode_len(tmp, len));
}

/* INT8/16/32 encoding of v; 0 when it does not fit in 32 bits. */
static size_t encode_int(unsigned char *p, int64_t v)
{
    if (v >= INT8_MIN && v <= INT8_MAX) {
        p[0] = (RDB_ENCVAL << 6) | RDB_ENC_INT8;
        put_le(p + 1, (uint64_t)v, 1);
        return 2;
    }
    if (v >= INT16_MIN && v <= INT16_MAX) {
        p[0] = (RDB_ENCVAL << 6) | RDB_ENC_INT16;
        put_le(p + 1, (uint64_t)v, 2);
        return 3;
    }
    if (v >= INT32_MIN && v <= INT32_MAX) {
        p[0] = (RDB_ENCVAL << 6) | RDB_ENC_INT32;
        put_le(p + 1, (uint64_t)v, 4);
        return 5;
    }
    return 0;
}

static void write_plain(struct buf *b, const char *s, size_t len)
{
    rdb_write_len(b, len);
    buf_put(b, s, len);
}

/* LZF-compressed string if it saves at least 4 bytes (Redis's rule). The
 * compressor writes straight into b, after room for the largest header; the
 * data moves down when the real header is shorter. */
static bool write_lzf(struct buf *b, const char *s, size_t len)
{
    if (len <= 4)
        return false;
    size_t cap = len - 4;
    size_t hmax = 1 + len_size(cap) + len_size(len);
    buf_reserve(b, hmax + cap);
    unsigned char *dst = (unsigned char *)b->data + b->len;
    size_t clen = lzf_compress(s, len, dst + hmax, cap);
    if (clen == 0)
        return false;
    unsigned char hdr[19];
    size_t h = 0;
    hdr[h++] = (RDB_ENCVAL << 6) | RDB_ENC_LZF;
    h += encode_len(hdr + h, clen);
    h += encode_len(hdr + h, len);
    if (h != hmax)
        memmove(dst + h, dst + hmax, clen);
    memcpy(dst, hdr, h);
    b->len += h + clen;
    return true;
}

/* rdbSaveRawString: int encoding for short integer-looking strings, LZF for
 * compressible strings longer than 20 bytes, plain bytes otherwise. */
void rdb_write_string_ex(struct buf *b, const char *s, size_t len, int flags)
{
    if (len <= 11) {
        int64_t v;
        unsigned char tmp[5];
        size_t n;
        if (string_to_int64(s, len, &v) && (n = encode_int(tmp, v)) > 0) {
            buf_put(b, tmp, n);
            return;
        }
    }
    if (!(flags & RDB_SAVE_NO_COMPRESS) && len > 20 && write_lzf(b, s, len))
        return;
    write_plain(b, s, len);
}

void rdb_write_string(struct buf *b, const char *s, size_t len) { rdb_write_string_ex(b, s, len, 0); }

/* rdbSaveLongLongAsStringObject: INT8/16/32, else the decimal digits. */
static void write_int_string(struct buf *b, int64_t v)
{
    unsigned char tmp[5];
    size_t n = encode_int(tmp, v);
    if (n) {
        buf_put(b, tmp, n);
        return;
    }
    char digits[24];
    write_plain(b, digits, int64_to_string(digits, v));
}

void rdb_write_aux(struct buf *b, const char *k, const char *v, size_t vl)
{
    buf_appendc(b, (char)RDB_OPCODE_AUX);
    rdb_write_string(b, k, strlen(k));
    rdb_write_string(b, v, vl);
}

/* ---- per-type value encoders ---- */

static bool encode_string(struct buf *b, struct entry *e, int flags)
{
    if (e->enc == ENC_INT)
        write_int_string(b, e->val.ival);
    else
        rdb_write_string_ex(b, entry_str(e), e->val.str.len, flags);
    return true;
}

int rdb_value_type(const struct entry *e)
{
    if (e->type == OBJ_STRING)
        return RDB_TYPE_STRING;
    const struct type_ops *ops = type_ops_of(e->type);
    if (!ops || !ops->rdb_type || !ops->rdb_encode)
        return -1;
    return ops->rdb_type(e->val.ptr, e->enc);
}

bool rdb_write_value(struct buf *b, struct entry *e, int flags)
{
    if (rdb_value_type(e) < 0)
        return false;
    if (e->type == OBJ_STRING)
        return encode_string(b, e, flags);
    size_t start = b->len;
    if (!type_ops_of(e->type)->rdb_encode(b, e->val.ptr, e->enc, flags)) {
        b->len = start;
        return false;
    }
    return true;
}

/* ---- entries and file framing ---- */

static uint32_t idle_seconds(const struct entry *e, int64_t now_ms)
{
    uint32_t now = (uint32_t)((now_ms / 1000) & LRU_BITS_MASK), lru = e->lru & LRU_BITS_MASK;
    return now >= lru ? now - lru : (LRU_BITS_MASK + 1 - lru) + now;
}

/* LFU layout in lru: minutes of the last decrement (16 bits), counter (8);
 * the counter decays one step per elapsed minute (as OBJECT FREQ reports). */
static uint8_t lfu_counter(const struct entry *e, int64_t now_ms)
{
    uint32_t ldt = (e->lru >> 8) & 0xffff, counter = e->lru & 0xff;
    uint32_t now = (uint32_t)((now_ms / 1000 / 60) & 0xffff);
    uint32_t elapsed = now >= ldt ? now - ldt : 65535 - ldt + now;
    return (uint8_t)(elapsed > counter ? 0 : counter - elapsed);
}

bool rdb_write_entry_ex(struct buf *b, struct entry *e, int flags, int64_t now_ms)
{
    int type = rdb_value_type(e);
    if (type < 0)
        return false;
    size_t start = b->len;
    if (entry_has_expire(e)) {
        unsigned char tmp[9];
        tmp[0] = RDB_OPCODE_EXPIRETIME_MS;
        put_le(tmp + 1, (uint64_t)entry_expire(e), 8);
        buf_put(b, tmp, 9);
    }
    if (flags & RDB_SAVE_IDLE) {
        buf_appendc(b, (char)RDB_OPCODE_IDLE);
        rdb_write_len(b, idle_seconds(e, now_ms));
    }
    if (flags & RDB_SAVE_FREQ) {
        buf_appendc(b, (char)RDB_OPCODE_FREQ);
        buf_appendc(b, (char)lfu_counter(e, now_ms));
    }
    buf_appendc(b, (char)type);
    rdb_write_string_ex(b, entry_key(e), e->keylen, flags);
    if (!rdb_write_value(b, e, flags)) {
        b->len = start;
        return false;
    }
    return true;
}

bool rdb_write_entry(struct buf *b, struct entry *e) { return rdb_write_entry_ex(b, e, 0, 0); }

void rdb_write_header(struct buf *b)
{
    char magic[16];
    int n = snprintf(magic, sizeof(magic), "REDIS%04d", RDB_VERSION);
    buf_put(b, magic, (size_t)n);
    char num[24];
    rdb_write_aux(b, "redis-ver", "7.0.15", 6);
    rdb_write_aux(b, "redis-bits", "64", 2);
    rdb_write_aux(b, "ctime", num, int64_to_string(num, (int64_t)time(NULL)));
    rdb_write_aux(b, "used-mem", "0", 1);
    rdb_write_aux(b, "aof-base", "0", 1);
}

void rdb_write_function(struct buf *b, const char *code, size_t len)
{
    buf_appendc(b, (char)RDB_OPCODE_FUNCTION2);
    rdb_write_string(b, code, len);
}

void rdb_write_select_db(struct buf *b, int db)
{
    buf_appendc(b, (char)RDB_OPCODE_SELECTDB);
    rdb_write_len(b, (uint64_t)db);
}

void rdb_write_resize_db(struct buf *b, uint64_t keys, uint64_t expires)
{
    buf_appendc(b, (char)RDB_OPCODE_RESIZEDB);
    rdb_write_len(b, keys);
    rdb_write_len(b, expires);
}

void rdb_write_footer(struct buf *b, uint64_t crc_so_far)
{
    unsigned char tmp[9];
    tmp[0] = RDB_OPCODE_EOF;
    uint64_t crc = crc64_redis(crc_so_far, tmp, 1);
    put_le(tmp + 1, crc, 8);
    buf_put(b, tmp, 9);
}

/* ---- DUMP payloads ---- */

bool rdb_dump_payload_ex(struct entry *e, struct buf *out, int flags)
{
    int type = rdb_value_type(e);
    if (type < 0)
        return false;
    size_t start = out->len;
    buf_appendc(out, (char)type);
    if (!rdb_write_value(out, e, flags)) {
        out->len = start;
        return false;
    }
    unsigned char tmp[10];
    put_le(tmp, RDB_VERSION, 2);
    buf_put(out, tmp, 2);
    uint64_t crc = crc64_redis(0, out->data + start, out->len - start);
    put_le(tmp, crc, 8);
    buf_put(out, tmp, 8);
    return true;
}

bool rdb_dump_payload(struct entry *e, struct buf *out) { return rdb_dump_payload_ex(e, out, 0); }

/* ======================================================================
 * Reading
 * ====================================================================== */

bool rdb_in_fail(struct rdb_in *in, size_t at, const char *fmt, ...)
{
    in->failed = true;
    if (in->err && in->errlen) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(in->err, in->errlen, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < in->errlen)
            snprintf(in->err + n, in->errlen - (size_t)n, " at offset %zu", at);
    }
    return false;
}

#define in_fail rdb_in_fail

static bool in_short(struct rdb_in *in, size_t at)
{
    return in_fail(in, at, "Short read or unexpected EOF");
}

static inline bool in_need(struct rdb_in *in, size_t n)
{
    return in->len - in->pos >= n ? true : in_short(in, in->pos);
}

static bool read_byte(struct rdb_in *in, unsigned *out)
{
    if (!in_need(in, 1))
        return false;
    *out = in->p[in->pos++];
    return true;
}

/* A length, or (when *encoded is set) a special string encoding number. */
static bool read_len_enc(struct rdb_in *in, uint64_t *out, bool *encoded)
{
    size_t at = in->pos;
    unsigned c;
    if (!read_byte(in, &c))
        return false;
    *encoded = false;
    switch (c >> 6) {
    case RDB_ENCVAL:
        *encoded = true;
        *out = c & 0x3f;
        return true;
    case RDB_6BITLEN:
        *out = c & 0x3f;
        return true;
    case RDB_14BITLEN: {
        unsigned lo;
        if (!read_byte(in, &lo))
            return false;
        *out = ((uint64_t)(c & 0x3f) << 8) | lo;
        return true;
    }
    default:
        break;
    }
    int n = c == RDB_32BITLEN ? 4 : c == RDB_64BITLEN ? 8 : 0;
    if (!n)
        return in_fail(in, at, "Unknown length encoding 0x%02x", c);
    if (!in_need(in, (size_t)n))
        return false;
    *out = get_be(in->p + in->pos, n);
    in->pos += (size_t)n;
    return true;
}

static bool read_len(struct rdb_in *in, uint64_t *out)
{
    size_t at = in->pos;
    bool enc = false;
    if (!read_len_enc(in, out, &enc))
        return false;
    if (enc)
        return in_fail(in, at, "Unexpected string encoding where a length was expected");
    return true;
}

/* A string as it sits in the image; nothing is copied until rstr_copy. */
enum rstr_kind { RSTR_PLAIN, RSTR_INT, RSTR_LZF };

struct rstr {
    int kind;
    const char *p;   /* PLAIN: the bytes; LZF: the compressed bytes */
    size_t clen;     /* LZF: compressed length */
    size_t len;      /* length of the decoded string */
    int64_t ival;    /* INT */
    size_t at;       /* offset where the string starts (for errors) */
};

static bool read_string(struct rdb_in *in, struct rstr *s)
{
    s->at = in->pos;
    uint64_t len = 0;
    bool enc = false;
    if (!read_len_enc(in, &len, &enc))
        return false;
    if (!enc) {
        if (len > in->len - in->pos)
            return in_short(in, in->pos);
        s->kind = RSTR_PLAIN;
        s->p = (const char *)in->p + in->pos;
        s->len = (size_t)len;
        in->pos += (size_t)len;
        return true;
    }
    switch (len) {
    case RDB_ENC_INT8:
    case RDB_ENC_INT16:
    case RDB_ENC_INT32: {
        int n = len == RDB_ENC_INT8 ? 1 : len == RDB_ENC_INT16 ? 2 : 4;
        if (!in_need(in, (size_t)n))
            return false;
        uint64_t u = get_le(in->p + in->pos, n);
        in->pos += (size_t)n;
        s->kind = RSTR_INT;
        s->ival = n == 1 ? (int8_t)u : n == 2 ? (int16_t)u : (int32_t)u;
        char tmp[24];
        s->len = int64_to_string(tmp, s->ival);
        return true;
    }
    case RDB_ENC_LZF: {
        uint64_t clen, ulen;
        if (!read_len(in, &clen) || !read_len(in, &ulen))
            return false;
        if (clen > in->len - in->pos)
            return in_short(in, in->pos);
        /* LZF expands at most 264 bytes per 3-byte reference; a length
         * beyond that (or beyond what an entry can hold) is corrupt. */
        if (ulen == 0 || ulen > UINT32_MAX || ulen > clen * 88 + 32)
            return in_fail(in, s->at, "Invalid LZF compressed string (length %" PRIu64 " from %" PRIu64 " bytes)",
                           ulen, clen);
        s->kind = RSTR_LZF;
        s->p = (const char *)in->p + in->pos;
        s->clen = (size_t)clen;
        s->len = (size_t)ulen;
        in->pos += (size_t)clen;
        return true;
    }
    default:
        return in_fail(in, s->at, "Unknown RDB string encoding type %u", (unsigned)len);
    }
}

/* Write the decoded bytes of s (s->len of them) to dst. */
static bool rstr_copy(struct rdb_in *in, const struct rstr *s, char *dst)
{
    switch (s->kind) {
    case RSTR_PLAIN:
        if (s->len)
            memcpy(dst, s->p, s->len);
        return true;
    case RSTR_INT: {
        char tmp[24];
        memcpy(dst, tmp, int64_to_string(tmp, s->ival));
        return true;
    }
    default:
        if (lzf_decompress(s->p, s->clen, dst, s->len) != s->len)
            return in_fail(in, s->at, "Invalid LZF compressed string");
        return true;
    }
}

/* Contiguous bytes of s: points into the image for plain strings, else
 * decodes into `scratch` (appending at its end). */
static const char *rstr_bytes(struct rdb_in *in, const struct rstr *s, struct buf *scratch, size_t *off)
{
    if (s->kind == RSTR_PLAIN)
        return s->p;
    buf_reserve(scratch, s->len + 1);
    *off = scratch->len;
    if (!rstr_copy(in, s, scratch->data + scratch->len))
        return NULL;
    scratch->len += s->len;
    scratch->data[scratch->len] = '\0';
    return scratch->data + *off;
}

/* ---- the reader API for per-type codecs (rdb.h) ---- */

bool rdb_read_byte(struct rdb_in *in, unsigned *out) { return read_byte(in, out); }
bool rdb_read_len(struct rdb_in *in, uint64_t *out) { return read_len(in, out); }

const char *rdb_read_str(struct rdb_in *in, struct buf *scratch, size_t *len)
{
    struct rstr s;
    size_t off = 0;
    if (!read_string(in, &s))
        return NULL;
    *len = s.len;
    if (s.kind == RSTR_PLAIN)
        return s.len ? s.p : "";
    return rstr_bytes(in, &s, scratch, &off);
}

bool rdb_read_int_str(struct rdb_in *in, int64_t *out, bool *is_int)
{
    struct rstr s;
    if (!read_string(in, &s))
        return false;
    *is_int = s.kind == RSTR_INT;
    if (*is_int)
        *out = s.ival;
    return true;
}

bool rdb_read_raw(struct rdb_in *in, size_t n, const unsigned char **p)
{
    if (!in_need(in, n))
        return false;
    *p = in->p + in->pos;
    in->pos += n;
    return true;
}

bool rdb_read_binary_double(struct rdb_in *in, double *out)
{
    const unsigned char *p;
    if (!rdb_read_raw(in, 8, &p))
        return false;
    uint64_t u = get_le(p, 8);
    memcpy(out, &u, 8);
    return true;
}

/* RDB_TYPE_ZSET's scores: a length byte (253 nan, 254 +inf, 255 -inf) and
 * that many ASCII characters. */
bool rdb_read_old_double(struct rdb_in *in, double *out)
{
    size_t at = in->pos;
    unsigned n;
    if (!read_byte(in, &n))
        return false;
    if (n >= 253) {
        *out = n == 253 ? NAN : n == 254 ? INFINITY : -INFINITY;
        return true;
    }
    const unsigned char *p;
    if (!rdb_read_raw(in, n, &p))
        return false;
    char tmp[256];
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    char *end;
    *out = strtod(tmp, &end);
    if (end != tmp + n)
        return in_fail(in, at, "Invalid double value");
    return true;
}

size_t rdb_in_pos(const struct rdb_in *in) { return in->pos; }

void rdb_write_binary_double(struct buf *b, double d)
{
    uint64_t u;
    unsigned char tmp[8];
    memcpy(&u, &d, 8);
    put_le(tmp, u, 8);
    buf_put(b, tmp, 8);
}

/* ---- per-type value decoders ---- */

/* rdbLoadObject for RDB_TYPE_STRING, then tryObjectEncoding: integers as
 * ENC_INT, short strings embstr, others raw. Long compressed strings are
 * decompressed straight into the entry. */
static struct entry *decode_string(struct rdb_in *in, const char *key, size_t klen)
{
    struct rstr s;
    if (!read_string(in, &s))
        return NULL;
    if (s.len > UINT32_MAX) {
        in_fail(in, s.at, "String of %zu bytes is too long", s.len);
        return NULL;
    }
    switch (s.kind) {
    case RSTR_INT:
        return entry_new_int(key, klen, s.ival);
    case RSTR_PLAIN:
        return entry_new_string(key, klen, s.p, s.len);
    default:
        break;
    }
    if (s.len <= 20) {
        char tmp[20];
        if (!rstr_copy(in, &s, tmp))
            return NULL;
        return entry_new_string(key, klen, tmp, s.len);
    }
    struct entry *e = entry_new_string_raw(key, klen, NULL, 0, s.len);
    if (!rstr_copy(in, &s, entry_str(e))) {
        entry_free(e);
        return NULL;
    }
    e->val.str.len = (uint32_t)s.len;
    e->enc = s.len <= EMBSTR_MAX ? ENC_EMBSTR : ENC_RAW;
    return e;
}

/* A collection: its type's codec (shard/types.h) builds the value. A value
 * that decodes to nothing (an empty collection) is skipped as Redis does:
 * NULL without an error. */
static int obj_type_of_rdb(unsigned t);

static struct entry *decode_object(struct rdb_in *in, unsigned t, const char *key, size_t klen)
{
    int type = obj_type_of_rdb(t);
    const struct type_ops *ops = type_ops_of(type);
    int enc = 0;
    void *v = ops && ops->rdb_decode ? ops->rdb_decode(in, t, &enc) : NULL;
    if (!v)
        return NULL;
    return entry_new_object(key, klen, type, enc, v);
}

/* Indexed by the RDB type byte: its name and the object type it decodes to
 * (-1: a type darter cannot load). */
static const struct {
    const char *name;
    int obj_type;
} decoders[RDB_TYPE_STREAM_LISTPACKS_2 + 1] = {
    [RDB_TYPE_STRING] = {"string", OBJ_STRING},
    [RDB_TYPE_LIST] = {"list", OBJ_LIST},
    [RDB_TYPE_SET] = {"set", OBJ_SET},
    [RDB_TYPE_ZSET] = {"zset", OBJ_ZSET},
    [RDB_TYPE_HASH] = {"hash", OBJ_HASH},
    [RDB_TYPE_ZSET_2] = {"zset v2", OBJ_ZSET},
    [RDB_TYPE_MODULE_PRE_GA] = {"module (pre-GA)", -1},
    [RDB_TYPE_MODULE_2] = {"module", -1},
    [RDB_TYPE_HASH_ZIPMAP] = {"hash zipmap", OBJ_HASH},
    [RDB_TYPE_LIST_ZIPLIST] = {"list ziplist", OBJ_LIST},
    [RDB_TYPE_SET_INTSET] = {"set intset", OBJ_SET},
    [RDB_TYPE_ZSET_ZIPLIST] = {"zset ziplist", OBJ_ZSET},
    [RDB_TYPE_HASH_ZIPLIST] = {"hash ziplist", OBJ_HASH},
    [RDB_TYPE_LIST_QUICKLIST] = {"list quicklist", OBJ_LIST},
    [RDB_TYPE_STREAM_LISTPACKS] = {"stream", OBJ_STREAM},
    [RDB_TYPE_HASH_LISTPACK] = {"hash listpack", OBJ_HASH},
    [RDB_TYPE_ZSET_LISTPACK] = {"zset listpack", OBJ_ZSET},
    [RDB_TYPE_LIST_QUICKLIST_2] = {"list quicklist v2", OBJ_LIST},
    [RDB_TYPE_STREAM_LISTPACKS_2] = {"stream v2", OBJ_STREAM},
};

static int obj_type_of_rdb(unsigned t)
{
    return t < sizeof(decoders) / sizeof(decoders[0]) && decoders[t].name ? decoders[t].obj_type : -1;
}

/* Decode a value of RDB type t under `key`. NULL with in->failed clear: an
 * empty collection (skipped). */
static struct entry *decode_value(struct rdb_in *in, unsigned t, const char *key, size_t klen)
{
    return t == RDB_TYPE_STRING ? decode_string(in, key, klen) : decode_object(in, t, key, klen);
}

/* True when values of type byte t can be decoded; else reports why not. */
static bool decodable(struct rdb_in *in, unsigned t, size_t at)
{
    if (t < sizeof(decoders) / sizeof(decoders[0]) && decoders[t].name) {
        const struct type_ops *ops = type_ops_of(decoders[t].obj_type);
        if (decoders[t].obj_type == OBJ_STRING || (ops && ops->rdb_decode))
            return true;
        return in_fail(in, at, "Unsupported RDB value type %u (%s)", t, decoders[t].name);
    }
    return in_fail(in, at, "Unknown RDB value type %u", t);
}

/* ---- the file loop ---- */

bool rdb_load_buffer(const char *data, size_t len, int64_t now_ms, const struct rdb_loader_cb *cb, char *err,
                     size_t errlen)
{
    struct rdb_in in = {.p = (const unsigned char *)data, .len = len, .err = err, .errlen = errlen};
    struct buf scratch;
    buf_init(&scratch);
    bool ok = false;
    if (err && errlen)
        err[0] = '\0';

    if (len < 9)
        return in_short(&in, 0);
    if (memcmp(data, "REDIS", 5) != 0)
        return in_fail(&in, 0, "Wrong signature trying to load DB from file");
    int ver = 0;
    for (int i = 5; i < 9; i++) {
        if (data[i] < '0' || data[i] > '9')
            return in_fail(&in, 5, "Bad RDB version '%.4s'", data + 5);
        ver = ver * 10 + (data[i] - '0');
    }
    if (ver < 1 || ver > RDB_VERSION)
        return in_fail(&in, 5, "Bad RDB version %d", ver);
    in.pos = 9;

    int db = 0;
    bool has_expire = false;
    int64_t expire = 0;
    int64_t lru_idle = -1, lfu_freq = -1;
    uint32_t lru_now = (uint32_t)(((now_ms > 0 ? now_ms : (int64_t)time(NULL) * 1000) / 1000) & LRU_BITS_MASK);
    uint32_t lfu_minutes = (uint32_t)(((now_ms > 0 ? now_ms : (int64_t)time(NULL) * 1000) / 60000) & 0xffff);
    size_t eof_at = 0;

    for (;;) {
        size_t at = in.pos;
        unsigned type;
        if (!read_byte(&in, &type))
            goto out;
        switch (type) {
        case RDB_OPCODE_EXPIRETIME:
            if (!in_need(&in, 4))
                goto out;
            expire = (int64_t)(int32_t)get_le(in.p + in.pos, 4) * 1000;
            in.pos += 4;
            has_expire = true;
            continue;
        case RDB_OPCODE_EXPIRETIME_MS:
            if (!in_need(&in, 8))
                goto out;
            expire = (int64_t)get_le(in.p + in.pos, 8);
            in.pos += 8;
            has_expire = true;
            continue;
        case RDB_OPCODE_FREQ: {
            unsigned f;
            if (!read_byte(&in, &f))
                goto out;
            lfu_freq = f;
            continue;
        }
        case RDB_OPCODE_IDLE: {
            uint64_t idle;
            if (!read_len(&in, &idle))
                goto out;
            lru_idle = idle > INT64_MAX ? INT64_MAX : (int64_t)idle;
            continue;
        }
        case RDB_OPCODE_SELECTDB: {
            uint64_t id;
            if (!read_len(&in, &id))
                goto out;
            if (id > INT_MAX) {
                in_fail(&in, at, "SELECTDB id %" PRIu64 " out of range", id);
                goto out;
            }
            db = (int)id;
            continue;
        }
        case RDB_OPCODE_RESIZEDB: {
            uint64_t keys, expires;
            if (!read_len(&in, &keys) || !read_len(&in, &expires))
                goto out;
            continue;
        }
        case RDB_OPCODE_AUX: {
            struct rstr k, v;
            if (!read_string(&in, &k) || !read_string(&in, &v))
                goto out;
            /* both fields NUL-terminated copies, for the callback's convenience */
            buf_clear(&scratch);
            buf_reserve(&scratch, k.len + v.len + 2);
            if (!rstr_copy(&in, &k, scratch.data) || !rstr_copy(&in, &v, scratch.data + k.len + 1))
                goto out;
            scratch.data[k.len] = '\0';
            scratch.data[k.len + 1 + v.len] = '\0';
            if (cb && cb->on_aux)
                cb->on_aux(cb->arg, scratch.data, k.len, scratch.data + k.len + 1, v.len);
            continue;
        }
        case RDB_OPCODE_MODULE_AUX:
            in_fail(&in, at, "Module auxiliary data (MODULE_AUX) is not supported");
            goto out;
        case RDB_OPCODE_FUNCTION:
            in_fail(&in, at, "Pre-release function format (FUNCTION) not supported");
            goto out;
        case RDB_OPCODE_FUNCTION2: {
            /* a function library: its whole code (shebang included) */
            struct rstr lib;
            if (!read_string(&in, &lib))
                goto out;
            if (!cb || !cb->on_function)
                continue;
            buf_clear(&scratch);
            buf_reserve(&scratch, lib.len + 1);
            if (!rstr_copy(&in, &lib, scratch.data))
                goto out;
            scratch.data[lib.len] = '\0';
            char ferr[256] = "";
            if (!cb->on_function(cb->arg, scratch.data, lib.len, ferr, sizeof(ferr))) {
                in_fail(&in, at, "Failed loading library: %s", ferr);
                goto out;
            }
            continue;
        }
        case RDB_OPCODE_EOF:
            eof_at = at;
            goto eof;
        default:
            break;
        }

        /* a key of value type `type` */
        if (!decodable(&in, type, at))
            goto out;
        struct rstr k;
        if (!read_string(&in, &k))
            goto out;
        if (k.len > UINT32_MAX) {
            in_fail(&in, k.at, "Key of %zu bytes is too long", k.len);
            goto out;
        }
        buf_clear(&scratch);
        size_t koff = 0;
        const char *key = rstr_bytes(&in, &k, &scratch, &koff);
        if (!key)
            goto out;
        struct entry *e = decode_value(&in, type, key, k.len);
        if (!e && in.failed)
            goto out;
        if (!e) {
            has_expire = false; /* an empty collection: skipped */
            lru_idle = lfu_freq = -1;
            continue;
        }
        if (has_expire && now_ms > 0 && expire <= now_ms) {
            entry_free(e); /* already expired: Redis drops it when loading as a master */
        } else {
            if (has_expire)
                e = entry_set_expire(e, expire < 0 ? 0 : expire);
            if (lfu_freq >= 0) {
                e->lru = (lfu_minutes << 8) | (uint32_t)lfu_freq;
            } else if (lru_idle >= 0) {
                int64_t abs = (int64_t)lru_now - (lru_idle % (LRU_BITS_MASK + 1));
                if (abs < 0)
                    abs += LRU_BITS_MASK + 1;
                e->lru = (uint32_t)abs;
            } else {
                e->lru = lru_now;
            }
            if (!cb || !cb->on_key) {
                entry_free(e);
            } else if (!cb->on_key(cb->arg, db, e)) {
                in_fail(&in, at, "Loading stopped by the caller");
                goto out;
            }
        }
        has_expire = false;
        lru_idle = lfu_freq = -1;
    }

eof:
    if (ver >= 5) {
        if (!in_need(&in, 8))
            goto out;
        uint64_t stored = get_le(in.p + in.pos, 8);
        if (stored != 0) {
            uint64_t computed = crc64_redis(0, data, eof_at + 1);
            if (computed != stored) {
                in_fail(&in, in.pos, "Wrong RDB checksum expected 0x%016" PRIx64 " got 0x%016" PRIx64, computed,
                        stored);
                goto out;
            }
        }
        in.pos += 8;
    }
    ok = true;
out:
    buf_free(&scratch);
    return ok;
}

/* ---- RESTORE payloads ---- */

struct entry *rdb_restore_payload(const char *key, size_t klen, const char *p, size_t n, char *err, size_t errlen)
{
    const unsigned char *u = (const unsigned char *)p;
    if (n < 10 || get_le(u + n - 10, 2) > RDB_VERSION || crc64_redis(0, p, n - 8) != get_le(u + n - 8, 8)) {
        snprintf(err, errlen, "DUMP payload version or checksum are wrong");
        return NULL;
    }
    char why[128];
    struct rdb_in in = {.p = u, .len = n - 10, .err = why, .errlen = sizeof(why)};
    unsigned type;
    struct entry *e = NULL;
    if (read_byte(&in, &type) && decodable(&in, type, 0))
        e = decode_value(&in, type, key, klen);
    if (!e)
        snprintf(err, errlen, "Bad data format");
    return e;
}

/* ---- value images for moving an entry between threads ---- */

bool rdb_value_image(struct entry *e, struct buf *out)
{
    int t = rdb_value_type(e);
    if (t < 0)
        return false;
    buf_appendc(out, (char)t);
    return rdb_write_value(out, e, RDB_SAVE_NO_COMPRESS);
}

struct entry *rdb_entry_from_image(const char *key, size_t klen, const char *p, size_t n)
{
    struct rdb_in in = {.p = (const unsigned char *)p, .len = n};
    unsigned type;
    if (!read_byte(&in, &type) || !decodable(&in, type, 0))
        return NULL;
    return decode_value(&in, type, key, klen);
}
