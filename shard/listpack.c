/* shard/listpack.c — Redis's listpack format (see listpack.h).
 *
 * An entry is <encoding+data><backlen>. Encodings (first byte):
 *   0xxxxxxx            7-bit unsigned integer
 *   10xxxxxx            string, length < 64, bytes follow
 *   110xxxxx yyyyyyyy   13-bit signed integer
 *   1110xxxx yyyyyyyy   string, length < 4096, bytes follow
 *   0xF0 len32          string, 32-bit little-endian length, bytes follow
 *   0xF1..0xF4          16/24/32/64-bit signed little-endian integer
 *   0xFF                end of the listpack
 * backlen is the size of <encoding+data> in 1..5 bytes of 7 bits each, read
 * right to left: the rightmost byte holds the low bits; every byte but the
 * leftmost has its high bit set.
 * Owns nothing beyond the bytes it is handed; all allocation is on the
 * calling thread's shard heap. */
#include "shard/listpack.h"
#include "shard/memory.h"
#include "shard/object.h"

#include <string.h>

#define LP_HDR 6
#define LP_EOF 0xFF
#define LP_COUNT_UNKNOWN 65535

#define ENC_7BIT_UINT_MASK 0x80
#define ENC_6BIT_STR 0x80
#define ENC_13BIT_INT 0xC0
#define ENC_12BIT_STR 0xE0
#define ENC_32BIT_STR 0xF0
#define ENC_16BIT_INT 0xF1
#define ENC_24BIT_INT 0xF2
#define ENC_32BIT_INT 0xF3
#define ENC_64BIT_INT 0xF4

/* ---- header ---- */

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void set_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static unsigned hdr_count(const unsigned char *lp) { return (unsigned)lp[4] | (unsigned)lp[5] << 8; }

static void set_hdr_count(unsigned char *lp, unsigned long n)
{
    unsigned v = n < LP_COUNT_UNKNOWN ? (unsigned)n : LP_COUNT_UNKNOWN;
    lp[4] = (unsigned char)v;
    lp[5] = (unsigned char)(v >> 8);
}

size_t lp_bytes(const unsigned char *lp) { return get_u32(lp); }

unsigned char *lp_new(size_t capacity)
{
    unsigned char *lp = smem_alloc(capacity > LP_HDR + 1 ? capacity : LP_HDR + 1);
    set_u32(lp, LP_HDR + 1);
    lp[4] = lp[5] = 0;
    lp[LP_HDR] = LP_EOF;
    return lp;
}

void lp_free(unsigned char *lp) { smem_free(lp); }

unsigned char *lp_dup(const unsigned char *lp)
{
    size_t n = lp_bytes(lp);
    unsigned char *c = smem_alloc(n);
    memcpy(c, lp, n);
    return c;
}

/* ---- entry sizes ---- */

static unsigned backlen_size(uint64_t l)
{
    return l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;
}

static unsigned encode_backlen(unsigned char *buf, uint64_t l)
{
    unsigned n = backlen_size(l);
    for (unsigned i = 0; i < n; i++) {
        unsigned shift = 7 * (n - 1 - i);
        unsigned char b = (unsigned char)((l >> shift) & 127);
        buf[i] = i == 0 ? b : (unsigned char)(b | 128);
    }
    return n;
}

/* The backlen ending at p (its rightmost byte); UINT64_MAX if malformed. */
static uint64_t decode_backlen(const unsigned char *p)
{
    uint64_t v = 0;
    unsigned shift = 0;
    for (;;) {
        v |= (uint64_t)(p[0] & 127) << shift;
        if (!(p[0] & 128))
            return v;
        shift += 7;
        p--;
        if (shift > 28)
            return UINT64_MAX;
    }
}

/* Size of <encoding+data> of the entry at p; 0 for the terminator or an
 * unknown encoding. Reads at most the first 5 bytes. */
static uint64_t enc_data_size(const unsigned char *p)
{
    unsigned char c = p[0];
    if (!(c & ENC_7BIT_UINT_MASK))
        return 1;
    if ((c & 0xC0) == ENC_6BIT_STR)
        return 1 + (uint64_t)(c & 0x3F);
    if ((c & 0xE0) == ENC_13BIT_INT)
        return 2;
    if ((c & 0xF0) == ENC_12BIT_STR)
        return 2 + ((uint64_t)(c & 0x0F) << 8 | p[1]);
    switch (c) {
    case ENC_32BIT_STR: return 5 + (uint64_t)get_u32(p + 1);
    case ENC_16BIT_INT: return 3;
    case ENC_24BIT_INT: return 4;
    case ENC_32BIT_INT: return 5;
    case ENC_64BIT_INT: return 9;
    default: return 0;
    }
}

static size_t entry_size(const unsigned char *p)
{
    uint64_t l = enc_data_size(p);
    return (size_t)(l + backlen_size(l));
}

/* ---- encoding values ---- */

/* Encode integer v into buf (>= 9 bytes); returns the size. */
static unsigned encode_int(unsigned char *buf, int64_t v)
{
    if (v >= 0 && v <= 127) {
        buf[0] = (unsigned char)v;
        return 1;
    }
    if (v >= -4096 && v <= 4095) {
        uint64_t u = (uint64_t)v & 0x1FFF;
        buf[0] = (unsigned char)(ENC_13BIT_INT | (u >> 8));
        buf[1] = (unsigned char)u;
        return 2;
    }
    unsigned width;
    if (v >= -32768 && v <= 32767) {
        buf[0] = ENC_16BIT_INT;
        width = 2;
    } else if (v >= -8388608 && v <= 8388607) {
        buf[0] = ENC_24BIT_INT;
        width = 3;
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        buf[0] = ENC_32BIT_INT;
        width = 4;
    } else {
        buf[0] = ENC_64BIT_INT;
        width = 8;
    }
    uint64_t u = (uint64_t)v;
    for (unsigned i = 0; i < width; i++)
        buf[1 + i] = (unsigned char)(u >> (8 * i));
    return 1 + width;
}

/* Header of a string encoding (without the bytes); returns its size. */
static unsigned encode_str_header(unsigned char *buf, size_t len)
{
    if (len < 64) {
        buf[0] = (unsigned char)(ENC_6BIT_STR | len);
        return 1;
    }
    if (len < 4096) {
        buf[0] = (unsigned char)(ENC_12BIT_STR | (len >> 8));
        buf[1] = (unsigned char)len;
        return 2;
    }
    buf[0] = ENC_32BIT_STR;
    set_u32(buf + 1, (uint32_t)len);
    return 5;
}

/* What a new element looks like before it is written. */
struct lp_item {
    unsigned char head[9]; /* integer bytes, or a string header */
    unsigned hlen;
    const char *s;         /* string bytes (NULL for integers) */
    size_t slen;
};

static void item_from_int(struct lp_item *it, int64_t v)
{
    it->hlen = encode_int(it->head, v);
    it->s = NULL;
    it->slen = 0;
}

static void item_from_str(struct lp_item *it, const char *s, size_t len)
{
    int64_t v;
    if (len <= 20 && string_to_int64(s, len, &v)) {
        item_from_int(it, v);
        return;
    }
    it->hlen = encode_str_header(it->head, len);
    it->s = s;
    it->slen = len;
}

static size_t item_size(const struct lp_item *it)
{
    uint64_t l = it->hlen + it->slen;
    return (size_t)(l + backlen_size(l));
}

static void item_write(unsigned char *dst, const struct lp_item *it)
{
    memcpy(dst, it->head, it->hlen);
    if (it->slen)
        memcpy(dst + it->hlen, it->s, it->slen);
    encode_backlen(dst + it->hlen + it->slen, it->hlen + it->slen);
}

/* ---- navigation ---- */

unsigned char *lp_first(unsigned char *lp)
{
    unsigned char *p = lp + LP_HDR;
    return *p == LP_EOF ? NULL : p;
}

unsigned char *lp_next(unsigned char *lp, unsigned char *p)
{
    (void)lp;
    p += entry_size(p);
    return *p == LP_EOF ? NULL : p;
}

unsigned char *lp_prev(unsigned char *lp, unsigned char *p)
{
    if (p == lp + LP_HDR)
        return NULL;
    const unsigned char *b = p - 1;
    uint64_t l = decode_backlen(b);
    return p - backlen_size(l) - l;
}

unsigned char *lp_last(unsigned char *lp)
{
    unsigned char *end = lp + lp_bytes(lp) - 1;
    return lp_prev(lp, end);
}

unsigned long lp_length(const unsigned char *lp)
{
    unsigned c = hdr_count(lp);
    if (c != LP_COUNT_UNKNOWN)
        return c;
    unsigned long n = 0;
    for (const unsigned char *p = lp + LP_HDR; *p != LP_EOF; p += entry_size(p))
        n++;
    return n;
}

unsigned char *lp_seek(unsigned char *lp, long index)
{
    unsigned long n = lp_length(lp);
    if (index < 0)
        index += (long)n;
    if (index < 0 || (unsigned long)index >= n)
        return NULL;
    if ((unsigned long)index <= n / 2) {
        unsigned char *p = lp_first(lp);
        while (index--)
            p = lp_next(lp, p);
        return p;
    }
    unsigned char *p = lp_last(lp);
    for (unsigned long back = n - 1 - (unsigned long)index; back; back--)
        p = lp_prev(lp, p);
    return p;
}

/* ---- reading ---- */

static int64_t sign_extend(uint64_t u, unsigned bits)
{
    uint64_t m = 1ULL << (bits - 1);
    return (int64_t)((u ^ m) - m);
}

static uint64_t get_le(const unsigned char *p, unsigned n)
{
    uint64_t u = 0;
    for (unsigned i = 0; i < n; i++)
        u |= (uint64_t)p[i] << (8 * i);
    return u;
}

void lp_get(const unsigned char *p, struct lp_val *v)
{
    unsigned char c = p[0];
    v->sval = NULL;
    v->slen = 0;
    if (!(c & ENC_7BIT_UINT_MASK)) {
        v->ival = c;
    } else if ((c & 0xC0) == ENC_6BIT_STR) {
        v->slen = c & 0x3F;
        v->sval = p + 1;
    } else if ((c & 0xE0) == ENC_13BIT_INT) {
        v->ival = sign_extend((uint64_t)(c & 0x1F) << 8 | p[1], 13);
    } else if ((c & 0xF0) == ENC_12BIT_STR) {
        v->slen = (uint32_t)(c & 0x0F) << 8 | p[1];
        v->sval = p + 2;
    } else if (c == ENC_32BIT_STR) {
        v->slen = get_u32(p + 1);
        v->sval = p + 5;
    } else {
        unsigned width = c == ENC_16BIT_INT ? 2 : c == ENC_24BIT_INT ? 3 : c == ENC_32BIT_INT ? 4 : 8;
        v->ival = sign_extend(get_le(p + 1, width), width * 8);
    }
}

const char *lp_get_str(const unsigned char *p, char *tmp, size_t *len)
{
    struct lp_val v;
    lp_get(p, &v);
    if (v.sval) {
        *len = v.slen;
        return (const char *)v.sval;
    }
    *len = int64_to_string(tmp, v.ival);
    return tmp;
}

bool lp_get_int(const unsigned char *p, int64_t *out)
{
    struct lp_val v;
    lp_get(p, &v);
    if (!v.sval) {
        *out = v.ival;
        return true;
    }
    return string_to_int64((const char *)v.sval, v.slen, out);
}

bool lp_eq(const unsigned char *p, const char *s, size_t len)
{
    struct lp_val v;
    lp_get(p, &v);
    if (v.sval)
        return v.slen == len && (len == 0 || memcmp(v.sval, s, len) == 0);
    int64_t iv;
    return len <= 20 && string_to_int64(s, len, &iv) && iv == v.ival;
}

unsigned char *lp_find(unsigned char *lp, unsigned char *p, const char *s, size_t len, unsigned skip)
{
    int64_t iv = 0;
    bool s_is_int = len <= 20 && string_to_int64(s, len, &iv);
    unsigned skipped = 0;
    while (p) {
        if (skipped == 0) {
            struct lp_val v;
            lp_get(p, &v);
            if (v.sval ? (v.slen == len && (len == 0 || memcmp(v.sval, s, len) == 0)) : (s_is_int && v.ival == iv))
                return p;
            skipped = skip;
        } else {
            skipped--;
        }
        p = lp_next(lp, p);
    }
    return NULL;
}

/* ---- editing ---- */

/* Make room for `add` bytes at offset `at` (or remove -add bytes there) and
 * fix the header's byte count; returns the moved listpack. */
static unsigned char *resize_at(unsigned char *lp, size_t at, long add)
{
    size_t old = lp_bytes(lp);
    size_t now = (size_t)((long)old + add);
    if (add > 0) {
        lp = smem_realloc(lp, now);
        memmove(lp + at + (size_t)add, lp + at, old - at);
    } else if (add < 0) {
        memmove(lp + at, lp + at + (size_t)(-add), old - at - (size_t)(-add));
        lp = smem_realloc(lp, now);
    }
    set_u32(lp, (uint32_t)now);
    return lp;
}

static void count_add(unsigned char *lp, long delta)
{
    unsigned c = hdr_count(lp);
    if (c == LP_COUNT_UNKNOWN) {
        unsigned long n = lp_length(lp); /* the walk sees the list as it is now */
        set_hdr_count(lp, n);
        return;
    }
    set_hdr_count(lp, (unsigned long)((long)c + delta));
}

static unsigned char *insert_item(unsigned char *lp, const struct lp_item *it, unsigned char *p, enum lp_where where,
                                  unsigned char **newp)
{
    size_t at;
    size_t sz = item_size(it);
    if (where == LP_REPLACE) {
        /* shift or cut at the entry's start; the new bytes overwrite what is left */
        at = (size_t)(p - lp);
        long diff = (long)sz - (long)entry_size(p);
        lp = resize_at(lp, at, diff);
        item_write(lp + at, it);
    } else {
        at = where == LP_BEFORE ? (size_t)(p - lp) : (size_t)(p - lp) + entry_size(p);
        lp = resize_at(lp, at, (long)sz);
        item_write(lp + at, it);
        count_add(lp, 1);
    }
    if (newp)
        *newp = lp + at;
    return lp;
}

static unsigned char *end_of(unsigned char *lp) { return lp + lp_bytes(lp) - 1; }

unsigned char *lp_insert(unsigned char *lp, const char *s, size_t len, unsigned char *p, enum lp_where where,
                         unsigned char **newp)
{
    struct lp_item it;
    item_from_str(&it, s, len);
    return insert_item(lp, &it, p, where, newp);
}

unsigned char *lp_insert_int(unsigned char *lp, int64_t v, unsigned char *p, enum lp_where where,
                             unsigned char **newp)
{
    struct lp_item it;
    item_from_int(&it, v);
    return insert_item(lp, &it, p, where, newp);
}

unsigned char *lp_append(unsigned char *lp, const char *s, size_t len)
{
    return lp_insert(lp, s, len, end_of(lp), LP_BEFORE, NULL);
}

unsigned char *lp_prepend(unsigned char *lp, const char *s, size_t len)
{
    return lp_insert(lp, s, len, lp + LP_HDR, LP_BEFORE, NULL);
}

unsigned char *lp_append_int(unsigned char *lp, int64_t v)
{
    return lp_insert_int(lp, v, end_of(lp), LP_BEFORE, NULL);
}

unsigned char *lp_delete(unsigned char *lp, unsigned char *p, unsigned char **nextp)
{
    size_t at = (size_t)(p - lp);
    lp = resize_at(lp, at, -(long)entry_size(p));
    count_add(lp, -1);
    if (nextp)
        *nextp = lp[at] == LP_EOF ? NULL : lp + at;
    return lp;
}

unsigned char *lp_delete_range(unsigned char *lp, long index, unsigned long num)
{
    unsigned char *first = lp_seek(lp, index);
    if (!first || num == 0)
        return lp;
    unsigned char *p = first;
    unsigned long removed = 0;
    while (removed < num && *p != LP_EOF) {
        p += entry_size(p);
        removed++;
    }
    size_t at = (size_t)(first - lp);
    unsigned long before = lp_length(lp);
    lp = resize_at(lp, at, -(long)(p - first));
    set_hdr_count(lp, before - removed);
    return lp;
}

unsigned char *lp_merge(unsigned char *a, const unsigned char *b)
{
    size_t alen = lp_bytes(a), blen = lp_bytes(b);
    size_t body = blen - LP_HDR - 1;
    unsigned long n = lp_length(a) + lp_length(b);
    a = smem_realloc(a, alen + body);
    memcpy(a + alen - 1, b + LP_HDR, body);
    a[alen - 1 + body] = LP_EOF;
    set_u32(a, (uint32_t)(alen + body));
    set_hdr_count(a, n);
    return a;
}

/* ---- validation of untrusted bytes ---- */

/* The entry at p lies within [p, end) with a valid encoding and backlen;
 * returns its size or 0. */
static size_t valid_entry(const unsigned char *p, const unsigned char *end)
{
    size_t avail = (size_t)(end - p);
    unsigned char c = p[0];
    size_t need = 1;
    if ((c & 0xE0) == ENC_13BIT_INT || (c & 0xF0) == ENC_12BIT_STR)
        need = 2;
    else if (c == ENC_32BIT_STR)
        need = 5;
    if (avail < need)
        return 0;
    uint64_t l = enc_data_size(p);
    if (l == 0)
        return 0;
    uint64_t total = l + backlen_size(l);
    if (total > avail)
        return 0;
    if (decode_backlen(p + total - 1) != l)
        return 0;
    return (size_t)total;
}

bool lp_validate(const unsigned char *lp, size_t size, unsigned long *count_out)
{
    if (size < LP_HDR + 1 || get_u32(lp) != size || lp[size - 1] != LP_EOF)
        return false;
    const unsigned char *p = lp + LP_HDR, *end = lp + size - 1;
    unsigned long n = 0;
    while (p < end) {
        size_t sz = valid_entry(p, end);
        if (!sz)
            return false;
        p += sz;
        n++;
    }
    unsigned c = hdr_count(lp);
    if (c != LP_COUNT_UNKNOWN && c != n)
        return false;
    if (count_out)
        *count_out = n;
    return true;
}

/* ---- Redis's ziplist, for older RDB files ---- */

#define ZL_HDR 10
#define ZL_END 0xFF

/* One ziplist entry at p (bounded by end): its value appended to lp. Returns
 * the entry's size or 0 when malformed. */
static size_t zl_entry_to_lp(const unsigned char *p, const unsigned char *end, unsigned char **lp)
{
    size_t avail = (size_t)(end - p), prevlen = p[0] < 254 ? 1 : 5;
    if (avail < prevlen + 1)
        return 0;
    const unsigned char *e = p + prevlen;
    unsigned char c = e[0];
    size_t hlen, dlen = 0;
    int64_t iv = 0;
    bool is_int = true;
    switch (c >> 6) {
    case 0: hlen = 1; dlen = c & 0x3F; is_int = false; break;
    case 1:
        hlen = 2;
        if (avail < prevlen + 2)
            return 0;
        dlen = (size_t)(c & 0x3F) << 8 | e[1];
        is_int = false;
        break;
    case 2:
        if (c != 0x80)
            return 0;
        hlen = 5;
        if (avail < prevlen + 5)
            return 0;
        dlen = (size_t)e[1] << 24 | (size_t)e[2] << 16 | (size_t)e[3] << 8 | e[4];
        is_int = false;
        break;
    default:
        hlen = 1;
        if (c == 0xC0) dlen = 2;
        else if (c == 0xD0) dlen = 4;
        else if (c == 0xE0) dlen = 8;
        else if (c == 0xF0) dlen = 3;
        else if (c == 0xFE) dlen = 1;
        else if (c >= 0xF1 && c <= 0xFD) { dlen = 0; iv = (c & 0x0F) - 1; }
        else return 0;
        break;
    }
    size_t total = prevlen + hlen + dlen;
    if (total > avail)
        return 0;
    const unsigned char *d = e + hlen;
    if (!is_int) {
        *lp = lp_append(*lp, (const char *)d, dlen);
        return total;
    }
    if (dlen)
        iv = sign_extend(get_le(d, (unsigned)dlen), (unsigned)dlen * 8);
    *lp = lp_append_int(*lp, iv);
    return total;
}

unsigned char *lp_from_ziplist(const unsigned char *zl, size_t size)
{
    if (size < ZL_HDR + 1 || get_u32(zl) != size || zl[size - 1] != ZL_END)
        return NULL;
    unsigned declared = (unsigned)zl[8] | (unsigned)zl[9] << 8;
    unsigned char *lp = lp_new(size);
    const unsigned char *p = zl + ZL_HDR, *end = zl + size - 1;
    unsigned long n = 0;
    while (p < end) {
        size_t sz = zl_entry_to_lp(p, end, &lp);
        if (!sz) {
            lp_free(lp);
            return NULL;
        }
        p += sz;
        n++;
    }
    if (declared != 65535 && declared != n) {
        lp_free(lp);
        return NULL;
    }
    return lp;
}
