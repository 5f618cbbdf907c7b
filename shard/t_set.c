/* shard/t_set.c — the set value type: its encodings (intset, hashtable),
 * their conversions and the RDB codec (see shard/types.h, shard/t_set.h).
 * Commands live in server/cmd_set.c. Must not know about sockets, RESP or
 * other threads. */
#include "shard/t_set.h"
#include "shard/intset.h"
#include "shard/memory.h"
#include "shard/rdb.h"
#include "shard/types.h"

#include <string.h>

/* ---------- the common interface ---------- */

static bool as_int(const char *m, size_t n, int64_t *v) { return string_to_int64(m, n, v); }

struct entry *set_entry_new_intset(const char *key, size_t klen)
{
    return entry_new_object(key, klen, OBJ_SET, OBJ_ENC_INTSET, intset_new());
}

struct entry *set_entry_new(const char *key, size_t klen, const char *m, size_t n, size_t hint)
{
    int64_t v;
    if (as_int(m, n, &v))
        return set_entry_new_intset(key, klen);
    return entry_new_object(key, klen, OBJ_SET, OBJ_ENC_HT, strset_new(hint));
}

size_t set_size(const struct entry *e)
{
    if (e->enc == OBJ_ENC_INTSET)
        return intset_len(e->val.ptr);
    return strset_count(e->val.ptr);
}

void set_convert_to_ht(struct entry *e, size_t hint)
{
    if (e->enc != OBJ_ENC_INTSET)
        return;
    uint8_t *is = e->val.ptr;
    uint32_t len = intset_len(is);
    struct strset *s = strset_new(hint > len ? hint : len);
    char tmp[SET_INT_BUF];
    for (uint32_t i = 0; i < len; i++)
        strset_add(&s, tmp, int64_to_string(tmp, intset_get(is, i)));
    intset_free(is);
    e->val.ptr = s;
    e->enc = OBJ_ENC_HT;
}

bool set_add(struct entry *e, const char *m, size_t n)
{
    if (e->enc == OBJ_ENC_INTSET) {
        int64_t v;
        if (as_int(m, n, &v)) {
            bool added;
            e->val.ptr = intset_add(e->val.ptr, v, &added);
            if (added && (long long)intset_len(e->val.ptr) > type_limits()->set_max_intset_entries)
                set_convert_to_ht(e, 0);
            return added;
        }
        set_convert_to_ht(e, 0);
    }
    struct strset *s = e->val.ptr;
    bool added = strset_add(&s, m, n);
    e->val.ptr = s;
    return added;
}

bool set_remove(struct entry *e, const char *m, size_t n)
{
    if (e->enc == OBJ_ENC_INTSET) {
        int64_t v;
        bool removed = false;
        if (as_int(m, n, &v))
            e->val.ptr = intset_remove(e->val.ptr, v, &removed);
        return removed;
    }
    struct strset *s = e->val.ptr;
    bool removed = strset_remove(&s, m, n);
    e->val.ptr = s;
    return removed;
}

bool set_has(const struct entry *e, const char *m, size_t n)
{
    if (e->enc == OBJ_ENC_INTSET) {
        int64_t v;
        return as_int(m, n, &v) && intset_find(e->val.ptr, v);
    }
    return strset_contains(e->val.ptr, m, n);
}

void set_iter_init(struct set_iter *it, const struct entry *e)
{
    it->e = e;
    it->pos = 0;
}

bool set_iter_next(struct set_iter *it, const char **m, size_t *n)
{
    const struct entry *e = it->e;
    if (e->enc == OBJ_ENC_INTSET) {
        if (it->pos >= intset_len(e->val.ptr))
            return false;
        *n = int64_to_string(it->tmp, intset_get(e->val.ptr, (uint32_t)it->pos++));
        *m = it->tmp;
        return true;
    }
    return strset_next(e->val.ptr, &it->pos, m, n);
}

void set_random(const struct entry *e, uint64_t (*rnd)(void), char tmp[SET_INT_BUF], const char **m, size_t *n)
{
    if (e->enc == OBJ_ENC_INTSET) {
        const uint8_t *is = e->val.ptr;
        *n = int64_to_string(tmp, intset_get(is, (uint32_t)(rnd() % intset_len(is))));
        *m = tmp;
        return;
    }
    strset_random(e->val.ptr, rnd, m, n);
}

uint64_t set_scan(const struct entry *e, uint64_t cursor, strset_visit_fn fn, void *arg)
{
    if (e->enc == OBJ_ENC_INTSET) {
        struct set_iter it;
        const char *m;
        size_t n;
        set_iter_init(&it, e);
        while (set_iter_next(&it, &m, &n))
            fn(arg, m, n);
        return 0;
    }
    return strset_scan(e->val.ptr, cursor, fn, arg);
}

/* ---------- type_ops ---------- */

static void set_free(void *ptr, int enc)
{
    if (enc == OBJ_ENC_INTSET)
        intset_free(ptr);
    else
        strset_free(ptr);
}

static void *set_clone(const void *ptr, int enc)
{
    if (enc == OBJ_ENC_INTSET)
        return intset_from_blob(ptr, intset_blob_len(ptr));
    const struct strset *s = ptr;
    struct strset *c = strset_new(strset_count(s));
    size_t pos = 0, n;
    const char *m;
    while (strset_next(s, &pos, &m, &n))
        strset_add(&c, m, n);
    return c;
}

static size_t set_memory(const void *ptr, int enc)
{
    return enc == OBJ_ENC_INTSET ? intset_memory(ptr) : strset_memory(ptr);
}

static int set_rdb_type(const void *ptr, int enc)
{
    (void)ptr;
    return enc == OBJ_ENC_INTSET ? RDB_TYPE_SET_INTSET : RDB_TYPE_SET;
}

static bool set_rdb_encode(struct buf *b, const void *ptr, int enc, int flags)
{
    if (enc == OBJ_ENC_INTSET) {
        rdb_write_string_ex(b, ptr, intset_blob_len(ptr), flags);
        return true;
    }
    const struct strset *s = ptr;
    rdb_write_len(b, strset_count(s));
    size_t pos = 0, n;
    const char *m;
    while (strset_next(s, &pos, &m, &n))
        rdb_write_string_ex(b, m, n, flags);
    return true;
}

/* The value of a temporary entry header; the header is freed. */
static void *detach(struct entry *e, int *enc)
{
    void *v = e->val.ptr;
    *enc = e->enc;
    smem_free(e);
    return v;
}

/* RDB_TYPE_SET: a length and that many strings; the encoding is chosen as
 * Redis's loader does (intset while the members are integers and the
 * length is within set-max-intset-entries). */
static void *decode_plain_set(struct rdb_in *in, int *enc)
{
    uint64_t len;
    if (!rdb_read_len(in, &len))
        return NULL;
    if (len == 0)
        return NULL;
    bool big = (long long)len > type_limits()->set_max_intset_entries;
    /* a temporary entry header lets set_add do the conversions */
    struct entry *e = big ? entry_new_object("", 0, OBJ_SET, OBJ_ENC_HT, strset_new(len < (1u << 20) ? len : (1u << 20)))
                          : set_entry_new_intset("", 0);
    struct buf scratch;
    buf_init(&scratch);
    for (uint64_t i = 0; i < len; i++) {
        buf_clear(&scratch);
        size_t at = rdb_in_pos(in), n;
        const char *m = rdb_read_str(in, &scratch, &n);
        if (!m)
            break;
        if (e->enc == OBJ_ENC_INTSET) {
            int64_t v;
            if (!as_int(m, n, &v))
                set_convert_to_ht(e, len < (1u << 20) ? len : (1u << 20));
        }
        if (!set_add(e, m, n)) {
            rdb_in_fail(in, at, "Duplicate set members detected");
            break;
        }
    }
    buf_free(&scratch);
    if (in->failed) {
        entry_free(e);
        return NULL;
    }
    return detach(e, enc);
}

static void *decode_intset(struct rdb_in *in, int *enc)
{
    struct buf scratch;
    buf_init(&scratch);
    size_t at = rdb_in_pos(in), n;
    const char *p = rdb_read_str(in, &scratch, &n);
    void *v = NULL;
    if (p && !intset_validate(p, n))
        rdb_in_fail(in, at, "Intset integrity check failed.");
    else if (p) {
        struct entry *e = entry_new_object("", 0, OBJ_SET, OBJ_ENC_INTSET, intset_from_blob(p, n));
        if ((long long)intset_len(e->val.ptr) > type_limits()->set_max_intset_entries)
            set_convert_to_ht(e, 0);
        v = detach(e, enc);
    }
    buf_free(&scratch);
    return v;
}

static void *set_rdb_decode(struct rdb_in *in, unsigned rdb_type, int *enc)
{
    if (rdb_type == RDB_TYPE_SET_INTSET)
        return decode_intset(in, enc);
    return decode_plain_set(in, enc);
}

const struct type_ops set_type_ops = {
    .name = "set",
    .free = set_free,
    .clone = set_clone,
    .memory = set_memory,
    .rdb_type = set_rdb_type,
    .rdb_encode = set_rdb_encode,
    .rdb_decode = set_rdb_decode,
};
