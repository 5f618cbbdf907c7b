/* shard/t_hash.c — the hash value type: its two encodings (listpack while
 * small, hashtable after), the one-way conversion between them, the
 * interface command code uses (t_hash.h) and the type's operations and RDB
 * codec (types.h). Commands live in server/cmd_hash.c. Must not know about
 * sockets, RESP or other threads. */
#include "shard/t_hash.h"
#include "shard/listpack.h"
#include "shard/memory.h"
#include "shard/rdb.h"
#include "shard/types.h"

#include <string.h>

/* Redis's LISTPACK_MAX_SAFETY_SIZE: a listpack never grows past 1 GB. */
#define LP_SAFE_BYTES (1ull << 30)

/* ---------------------------------------------------------------- listpack */

static unsigned char *lp_field(unsigned char *lp, const char *f, size_t flen)
{
    unsigned char *p = lp_first(lp);
    return p ? lp_find(lp, p, f, flen, 1) : NULL;
}

static void lp_str(unsigned char *p, struct hash_str *out)
{
    out->p = lp_get_str(p, out->tmp, &out->len);
}

static bool lp_safe_to_add(const unsigned char *lp, size_t add)
{
    return lp_bytes(lp) + add <= LP_SAFE_BYTES;
}

/* ------------------------------------------------- values as (ptr, encoding) */

static unsigned long value_len(const void *ptr, int enc)
{
    if (enc == OBJ_ENC_LISTPACK)
        return lp_length(ptr) / 2;
    return (unsigned long)hdict_count(ptr);
}

static struct hdict *listpack_to_table(unsigned char *lp)
{
    struct hdict *d = hdict_new(lp_length(lp) / 2);
    struct hash_str f, v;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p)) {
        unsigned char *vp = lp_next(lp, p);
        lp_str(p, &f);
        lp_str(vp, &v);
        hdict_add(&d, f.p, f.len, v.p, v.len); /* validated: no duplicates */
        p = vp;
    }
    lp_free(lp);
    return d;
}

static void convert(void **pp, uint8_t *enc)
{
    if (*enc != OBJ_ENC_LISTPACK)
        return;
    *pp = listpack_to_table(*pp);
    *enc = OBJ_ENC_HT;
}

static int value_set(void **pp, uint8_t *enc, const char *f, size_t flen, const char *v, size_t vlen)
{
    const struct type_limits *lim = type_limits();
    if (*enc == OBJ_ENC_LISTPACK &&
        ((long long)flen > lim->hash_max_listpack_value || (long long)vlen > lim->hash_max_listpack_value))
        convert(pp, enc);
    if (*enc != OBJ_ENC_LISTPACK)
        return hdict_set((struct hdict **)pp, f, flen, v, vlen);
    unsigned char *lp = *pp;
    unsigned char *fp = lp_field(lp, f, flen);
    if (fp) {
        *pp = lp_insert(lp, v, vlen, lp_next(lp, fp), LP_REPLACE, NULL);
        return 0;
    }
    lp = lp_append(lp, f, flen);
    *pp = lp_append(lp, v, vlen);
    if ((long long)value_len(*pp, *enc) > lim->hash_max_listpack_entries)
        convert(pp, enc);
    return 1;
}

/* ----------------------------------------------------------- entry interface */

struct entry *hash_entry_new(const char *key, size_t klen)
{
    return entry_new_object(key, klen, OBJ_HASH, OBJ_ENC_LISTPACK, lp_new(0));
}

unsigned long hash_len(const struct entry *e) { return value_len(e->val.ptr, e->enc); }

bool hash_get(struct entry *e, const char *f, size_t flen, struct hash_str *out)
{
    if (e->enc == OBJ_ENC_LISTPACK) {
        unsigned char *lp = e->val.ptr, *fp = lp_field(lp, f, flen);
        if (!fp)
            return false;
        lp_str(lp_next(lp, fp), out);
        return true;
    }
    const struct hfield *x = hdict_find(e->val.ptr, f, flen);
    if (!x)
        return false;
    out->p = hfield_value(x);
    out->len = x->vlen;
    return true;
}

bool hash_exists(struct entry *e, const char *f, size_t flen)
{
    if (e->enc == OBJ_ENC_LISTPACK)
        return lp_field(e->val.ptr, f, flen) != NULL;
    return hdict_find(e->val.ptr, f, flen) != NULL;
}

void hash_prepare_write(struct entry *e, size_t maxlen, size_t sumlen)
{
    if (e->enc != OBJ_ENC_LISTPACK)
        return;
    if ((long long)maxlen > type_limits()->hash_max_listpack_value || !lp_safe_to_add(e->val.ptr, sumlen))
        convert(&e->val.ptr, &e->enc);
}

int hash_set(struct entry *e, const char *f, size_t flen, const char *v, size_t vlen)
{
    return value_set(&e->val.ptr, &e->enc, f, flen, v, vlen);
}

bool hash_delete(struct entry *e, const char *f, size_t flen)
{
    if (e->enc != OBJ_ENC_LISTPACK)
        return hdict_delete((struct hdict **)&e->val.ptr, f, flen);
    unsigned char *lp = e->val.ptr, *fp = lp_field(lp, f, flen), *vp;
    if (!fp)
        return false;
    lp = lp_delete(lp, fp, &vp);
    e->val.ptr = lp_delete(lp, vp, NULL);
    return true;
}

void hash_convert_to_table(struct entry *e) { convert(&e->val.ptr, &e->enc); }

void hash_iter_init(struct hash_iter *it, struct entry *e)
{
    it->e = e;
    it->p = NULL;
    if (e->enc == OBJ_ENC_LISTPACK)
        it->p = lp_first(e->val.ptr);
    else
        hdict_iter_init(&it->di, e->val.ptr);
}

bool hash_iter_next(struct hash_iter *it, struct hash_str *f, struct hash_str *v)
{
    if (it->e->enc == OBJ_ENC_LISTPACK) {
        if (!it->p)
            return false;
        unsigned char *lp = it->e->val.ptr, *vp = lp_next(lp, it->p);
        lp_str(it->p, f);
        lp_str(vp, v);
        it->p = lp_next(lp, vp);
        return true;
    }
    const struct hfield *x = hdict_iter_next(&it->di);
    if (!x)
        return false;
    f->p = hfield_name(x);
    f->len = x->flen;
    v->p = hfield_value(x);
    v->len = x->vlen;
    return true;
}

static inline uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void hash_random_pair(struct entry *e, uint64_t *rnd, struct hash_str *f, struct hash_str *v)
{
    if (e->enc == OBJ_ENC_LISTPACK) {
        unsigned char *lp = e->val.ptr;
        unsigned long n = lp_length(lp) / 2;
        unsigned char *fp = lp_seek(lp, (long)(2 * (next_rand(rnd) % n)));
        lp_str(fp, f);
        lp_str(lp_next(lp, fp), v);
        return;
    }
    const struct hfield *x = hdict_random(e->val.ptr, rnd);
    f->p = hfield_name(x);
    f->len = x->flen;
    v->p = hfield_value(x);
    v->len = x->vlen;
}

/* Pointers to every pair's field (listpack elements or hfields). */
static const void **all_pairs(struct entry *e, unsigned long n)
{
    const void **all = smem_alloc(sizeof(*all) * (n ? n : 1));
    unsigned long i = 0;
    if (e->enc == OBJ_ENC_LISTPACK) {
        unsigned char *lp = e->val.ptr;
        for (unsigned char *p = lp_first(lp); p && i < n; p = lp_next(lp, lp_next(lp, p)))
            all[i++] = p;
    } else {
        struct hdict_iter it;
        hdict_iter_init(&it, e->val.ptr);
        const struct hfield *x;
        while ((x = hdict_iter_next(&it)) && i < n)
            all[i++] = x;
    }
    return all;
}

static void emit_pair(struct entry *e, const void *pair, hash_pair_fn fn, void *arg)
{
    if (e->enc == OBJ_ENC_LISTPACK) {
        unsigned char *lp = e->val.ptr, *fp = (unsigned char *)pair;
        struct hash_str f, v;
        lp_str(fp, &f);
        lp_str(lp_next(lp, fp), &v);
        fn(arg, f.p, f.len, v.p, v.len);
    } else {
        const struct hfield *x = pair;
        fn(arg, hfield_name(x), x->flen, hfield_value(x), x->vlen);
    }
}

/* Partial Fisher-Yates over every pair: uniform, O(size). */
static void distinct_by_shuffle(struct entry *e, uint64_t *rnd, unsigned long count, hash_pair_fn fn, void *arg)
{
    unsigned long n = hash_len(e);
    const void **all = all_pairs(e, n);
    for (unsigned long i = 0; i < count && i < n; i++) {
        unsigned long j = i + (unsigned long)(next_rand(rnd) % (n - i));
        const void *t = all[i];
        all[i] = all[j];
        all[j] = t;
        emit_pair(e, all[i], fn, arg);
    }
    smem_free(all);
}

/* Few out of many: draw until `count` distinct fields were seen. */
static void distinct_by_sampling(struct entry *e, uint64_t *rnd, unsigned long count, hash_pair_fn fn, void *arg)
{
    struct hdict *seen = hdict_new(count);
    while (hdict_count(seen) < count) {
        const struct hfield *x = hdict_random(e->val.ptr, rnd);
        if (hdict_add(&seen, hfield_name(x), x->flen, "", 0))
            fn(arg, hfield_name(x), x->flen, hfield_value(x), x->vlen);
    }
    hdict_free(seen);
}

void hash_random_distinct(struct entry *e, uint64_t *rnd, unsigned long count, hash_pair_fn fn, void *arg)
{
    if (e->enc == OBJ_ENC_HT && count * 3 <= hash_len(e))
        distinct_by_sampling(e, rnd, count, fn, arg);
    else
        distinct_by_shuffle(e, rnd, count, fn, arg);
}

struct scan_adapter {
    hash_pair_fn fn;
    void *arg;
};

static void scan_one(const struct hfield *x, void *arg)
{
    struct scan_adapter *a = arg;
    a->fn(a->arg, hfield_name(x), x->flen, hfield_value(x), x->vlen);
}

uint64_t hash_scan(struct entry *e, uint64_t cursor, hash_pair_fn fn, void *arg)
{
    if (e->enc == OBJ_ENC_LISTPACK) {
        struct hash_iter it;
        struct hash_str f, v;
        hash_iter_init(&it, e);
        while (hash_iter_next(&it, &f, &v))
            fn(arg, f.p, f.len, v.p, v.len);
        return 0;
    }
    struct scan_adapter a = {fn, arg};
    return hdict_scan(e->val.ptr, cursor, scan_one, &a);
}

/* ----------------------------------------------------------- type operations */

static void hash_free(void *ptr, int enc)
{
    if (enc == OBJ_ENC_LISTPACK)
        lp_free(ptr);
    else
        hdict_free(ptr);
}

static void *hash_clone(const void *ptr, int enc)
{
    if (enc == OBJ_ENC_LISTPACK)
        return lp_dup(ptr);
    return hdict_clone(ptr);
}

static size_t hash_memory(const void *ptr, int enc)
{
    if (enc == OBJ_ENC_LISTPACK)
        return smem_usable(ptr);
    return hdict_memory(ptr);
}

static int hash_rdb_type(const void *ptr, int enc)
{
    (void)ptr;
    return enc == OBJ_ENC_LISTPACK ? RDB_TYPE_HASH_LISTPACK : RDB_TYPE_HASH;
}

static bool hash_rdb_encode(struct buf *b, const void *ptr, int enc, int flags)
{
    if (enc == OBJ_ENC_LISTPACK) {
        rdb_write_string_ex(b, ptr, lp_bytes(ptr), flags);
        return true;
    }
    const struct hdict *d = ptr;
    rdb_write_len(b, hdict_count(d));
    struct hdict_iter it;
    hdict_iter_init(&it, d);
    const struct hfield *x;
    while ((x = hdict_iter_next(&it))) {
        rdb_write_string_ex(b, hfield_name(x), x->flen, flags);
        rdb_write_string_ex(b, hfield_value(x), x->vlen, flags);
    }
    return true;
}

/* ------------------------------------------------------------------ RDB load */

/* RDB_TYPE_HASH: pairs of strings, into a listpack while they fit (as
 * Redis's rdbLoadObject), else a hashtable. Duplicate fields are errors. */
static void *decode_pairs(struct rdb_in *in, int *enc)
{
    size_t at = rdb_in_pos(in);
    uint64_t len;
    if (!rdb_read_len(in, &len))
        return NULL;
    if (len == 0)
        return NULL;
    const struct type_limits *lim = type_limits();
    uint8_t e = OBJ_ENC_LISTPACK;
    void *v;
    if ((long long)len > lim->hash_max_listpack_entries) {
        if (len > (in->len - in->pos) / 2) {
            rdb_in_fail(in, at, "Hash of %llu fields is longer than its payload", (unsigned long long)len);
            return NULL;
        }
        v = hdict_new(len);
        e = OBJ_ENC_HT;
    } else {
        v = lp_new(0);
    }
    struct buf fs, vs;
    buf_init(&fs);
    buf_init(&vs);
    for (uint64_t i = 0; i < len; i++) {
        size_t fat = rdb_in_pos(in), flen, vlen;
        buf_clear(&fs);
        buf_clear(&vs);
        const char *f = rdb_read_str(in, &fs, &flen);
        const char *val = f ? rdb_read_str(in, &vs, &vlen) : NULL;
        if (!val)
            break;
        if (e == OBJ_ENC_LISTPACK &&
            ((long long)flen > lim->hash_max_listpack_value || (long long)vlen > lim->hash_max_listpack_value ||
             !lp_safe_to_add(v, flen + vlen)))
            convert(&v, &e);
        bool dup = e == OBJ_ENC_LISTPACK ? lp_field(v, f, flen) != NULL : hdict_find(v, f, flen) != NULL;
        if (dup) {
            rdb_in_fail(in, fat, "Duplicate hash fields detected");
            break;
        }
        value_set(&v, &e, f, flen, val, vlen);
    }
    buf_free(&fs);
    buf_free(&vs);
    if (in->failed) {
        hash_free(v, e);
        return NULL;
    }
    *enc = e;
    return v;
}

/* Every field of a pairs listpack distinct (fields only; values may repeat). */
static bool listpack_fields_unique(unsigned char *lp)
{
    struct hdict *seen = hdict_new(lp_length(lp) / 2);
    bool ok = true;
    struct hash_str f;
    for (unsigned char *p = lp_first(lp); p && ok; p = lp_next(lp, lp_next(lp, p))) {
        lp_str(p, &f);
        ok = hdict_add(&seen, f.p, f.len, "", 0);
    }
    hdict_free(seen);
    return ok;
}

/* A listpack from an RDB blob or a converted ziplist: pairs, distinct
 * fields; empty → skipped; too many pairs → hashtable (Redis's rules). */
static void *adopt_listpack(struct rdb_in *in, size_t at, unsigned char *lp, const char *what, int *enc)
{
    unsigned long n = lp_length(lp);
    if (n % 2 || !listpack_fields_unique(lp)) {
        lp_free(lp);
        rdb_in_fail(in, at, "Hash %s integrity check failed.", what);
        return NULL;
    }
    if (n == 0) {
        lp_free(lp);
        return NULL;
    }
    void *v = lp;
    uint8_t e = OBJ_ENC_LISTPACK;
    if ((long long)(n / 2) > type_limits()->hash_max_listpack_entries)
        convert(&v, &e);
    *enc = e;
    return v;
}

static void *decode_listpack(struct rdb_in *in, int *enc)
{
    size_t at = rdb_in_pos(in), len;
    struct buf s;
    buf_init(&s);
    const char *blob = rdb_read_str(in, &s, &len);
    void *v = NULL;
    if (blob) {
        if (!lp_validate((const unsigned char *)blob, len, NULL)) {
            rdb_in_fail(in, at, "Hash listpack integrity check failed.");
        } else {
            unsigned char *lp = smem_alloc(len);
            memcpy(lp, blob, len);
            v = adopt_listpack(in, at, lp, "listpack", enc);
        }
    }
    buf_free(&s);
    return v;
}

static void *decode_ziplist(struct rdb_in *in, int *enc)
{
    size_t at = rdb_in_pos(in), len;
    struct buf s;
    buf_init(&s);
    const char *blob = rdb_read_str(in, &s, &len);
    void *v = NULL;
    if (blob) {
        unsigned char *lp = lp_from_ziplist((const unsigned char *)blob, len);
        if (!lp)
            rdb_in_fail(in, at, "Hash ziplist integrity check failed.");
        else
            v = adopt_listpack(in, at, lp, "ziplist", enc);
    }
    buf_free(&s);
    return v;
}

/* Redis 2.4's zipmap: <count u8> then per pair <len>field<len><free u8>
 * value<free bytes>, ending with 0xFF; <len> is one byte below 254, else 254
 * and a 4-byte little-endian length. */
static bool zipmap_len(const unsigned char *z, size_t size, size_t *pos, uint32_t *out)
{
    if (*pos >= size)
        return false;
    unsigned b = z[(*pos)++];
    if (b < 254) {
        *out = b;
        return true;
    }
    if (b != 254 || size - *pos < 4)
        return false;
    *out = (uint32_t)z[*pos] | (uint32_t)z[*pos + 1] << 8 | (uint32_t)z[*pos + 2] << 16 | (uint32_t)z[*pos + 3] << 24;
    *pos += 4;
    return true;
}

/* Zipmap pairs appended to lp; false when malformed or duplicated. */
static bool zipmap_to_listpack(const unsigned char *z, size_t size, unsigned char **lpp, size_t *maxlen)
{
    size_t pos = 1;
    if (size < 2)
        return false;
    for (;;) {
        if (pos >= size)
            return false;
        if (z[pos] == 255)
            return pos + 1 == size;
        uint32_t flen, vlen;
        if (!zipmap_len(z, size, &pos, &flen) || size - pos < flen)
            return false;
        const char *f = (const char *)z + pos;
        pos += flen;
        if (!zipmap_len(z, size, &pos, &vlen) || pos >= size)
            return false;
        unsigned free_bytes = z[pos++];
        if (size - pos < (size_t)vlen + free_bytes)
            return false;
        const char *v = (const char *)z + pos;
        pos += vlen + free_bytes;
        if (lp_field(*lpp, f, flen) || !lp_safe_to_add(*lpp, (size_t)flen + vlen))
            return false;
        *lpp = lp_append(*lpp, f, flen);
        *lpp = lp_append(*lpp, v, vlen);
        if (flen > *maxlen)
            *maxlen = flen;
        if (vlen > *maxlen)
            *maxlen = vlen;
    }
}

static void *decode_zipmap(struct rdb_in *in, int *enc)
{
    size_t at = rdb_in_pos(in), len, maxlen = 0;
    struct buf s;
    buf_init(&s);
    const char *blob = rdb_read_str(in, &s, &len);
    void *v = NULL;
    if (blob) {
        unsigned char *lp = lp_new(0);
        if (!zipmap_to_listpack((const unsigned char *)blob, len, &lp, &maxlen)) {
            lp_free(lp);
            rdb_in_fail(in, at, "Zipmap integrity check failed.");
        } else if (lp_length(lp) == 0) {
            lp_free(lp);
        } else {
            uint8_t e = OBJ_ENC_LISTPACK;
            v = lp;
            const struct type_limits *lim = type_limits();
            if ((long long)(lp_length(lp) / 2) > lim->hash_max_listpack_entries ||
                (long long)maxlen > lim->hash_max_listpack_value)
                convert(&v, &e);
            *enc = e;
        }
    }
    buf_free(&s);
    return v;
}

static void *hash_rdb_decode(struct rdb_in *in, unsigned rdb_type, int *enc)
{
    switch (rdb_type) {
    case RDB_TYPE_HASH: return decode_pairs(in, enc);
    case RDB_TYPE_HASH_LISTPACK: return decode_listpack(in, enc);
    case RDB_TYPE_HASH_ZIPLIST: return decode_ziplist(in, enc);
    case RDB_TYPE_HASH_ZIPMAP: return decode_zipmap(in, enc);
    default: rdb_in_fail(in, rdb_in_pos(in), "Unknown hash encoding %u", rdb_type); return NULL;
    }
}

const struct type_ops hash_type_ops = {
    .name = "hash",
    .free = hash_free,
    .clone = hash_clone,
    .memory = hash_memory,
    .rdb_type = hash_rdb_type,
    .rdb_encode = hash_rdb_encode,
    .rdb_decode = hash_rdb_decode,
};
