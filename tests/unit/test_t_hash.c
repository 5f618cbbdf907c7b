/* tests/unit/test_t_hash.c — the hash value type: shard/hdict.h (insert, find,
 * delete, growth and shrink, fair random sampling, the reverse-binary scan's
 * guarantee across resizes, clone, memory back to zero) and shard/t_hash.h
 * (listpack while small, conversion to hashtable at Redis's thresholds and
 * never back, iteration, random pairs), and the RDB codec: round trips of
 * both encodings, conversion on load under lower limits, ziplist and zipmap
 * input, and corrupt input refused without crashing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard/hdict.h"
#include "shard/listpack.h"
#include "shard/memory.h"
#include "shard/rdb.h"
#include "shard/t_hash.h"
#include "shard/types.h"

static void setup(void) { smem_thread_init(); }

static size_t fname(char *buf, size_t cap, int i) { return (size_t)snprintf(buf, cap, "field:%d", i); }

/* ---------- hdict ---------- */

static void put(struct hdict **d, int i, const char *v)
{
    char f[32];
    size_t n = fname(f, sizeof(f), i);
    hdict_set(d, f, n, v, strlen(v));
}

static bool has(const struct hdict *d, int i)
{
    char f[32];
    size_t n = fname(f, sizeof(f), i);
    return hdict_find(d, f, n) != NULL;
}

static bool del(struct hdict **d, int i)
{
    char f[32];
    size_t n = fname(f, sizeof(f), i);
    return hdict_delete(d, f, n);
}

Test(hdict, insert_find_update_delete, .init = setup)
{
    int64_t base = smem_used();
    struct hdict *d = hdict_new(0);
    for (int i = 0; i < 5000; i++)
        put(&d, i, "v");
    cr_assert_eq(hdict_count(d), 5000);
    cr_assert_geq((uint64_t)d->mask + 1, 5000 / 1);
    for (int i = 0; i < 5000; i++)
        cr_assert(has(d, i));
    cr_assert(!has(d, 5000));
    /* update in place and with a different length */
    cr_assert_not(hdict_set(&d, "field:7", 7, "longer value", 12));
    const struct hfield *x = hdict_find(d, "field:7", 7);
    cr_assert_eq(x->vlen, 12);
    cr_assert_eq(memcmp(hfield_value(x), "longer value", 12), 0);
    cr_assert_not(hdict_add(&d, "field:7", 7, "x", 1));
    for (int i = 0; i < 5000; i += 2)
        cr_assert(del(&d, i));
    cr_assert_not(del(&d, 0));
    cr_assert_eq(hdict_count(d), 2500);
    for (int i = 0; i < 5000; i++)
        cr_assert_eq(has(d, i), i % 2 == 1);
    for (int i = 1; i < 5000; i += 2)
        cr_assert(del(&d, i));
    cr_assert_eq(hdict_count(d), 0);
    cr_assert_leq(d->mask + 1, 8, "table shrinks when emptied");
    hdict_free(d);
    cr_assert_eq(smem_used(), base);
}

Test(hdict, clone_and_memory, .init = setup)
{
    int64_t base = smem_used();
    struct hdict *d = hdict_new(0);
    for (int i = 0; i < 300; i++)
        put(&d, i, "value");
    struct hdict *c = hdict_clone(d);
    cr_assert_eq(hdict_count(c), 300);
    for (int i = 0; i < 300; i++)
        cr_assert(has(c, i));
    cr_assert_eq(hdict_memory(c), hdict_memory(d));
    hdict_free(d);
    hdict_free(c);
    cr_assert_eq(smem_used(), base);
}

Test(hdict, random_is_uniform, .init = setup)
{
    struct hdict *d = hdict_new(0);
    enum { N = 10, DRAWS = 200000 };
    for (int i = 0; i < N; i++)
        put(&d, i, "v");
    int hits[N] = {0};
    uint64_t rnd = 42;
    for (int k = 0; k < DRAWS; k++) {
        const struct hfield *x = hdict_random(d, &rnd);
        int i = atoi(hfield_name(x) + 6);
        cr_assert(i >= 0 && i < N);
        hits[i]++;
    }
    for (int i = 0; i < N; i++)
        cr_assert(hits[i] > DRAWS / N * 9 / 10 && hits[i] < DRAWS / N * 11 / 10, "field %d drawn %d times", i,
                  hits[i]);
    hdict_free(d);
}

struct seen {
    unsigned char *marks;
};

static void mark(const struct hfield *x, void *arg)
{
    struct seen *s = arg;
    int i = atoi(hfield_name(x) + 6);
    s->marks[i] = 1;
}

/* Every field present for the whole scan is returned, while the table grows
 * and shrinks between calls. */
Test(hdict, scan_guarantee_across_resizes, .init = setup)
{
    enum { KEEP = 2000, CHURN = 30000 };
    struct hdict *d = hdict_new(0);
    for (int i = 0; i < KEEP; i++)
        put(&d, i, "v");
    struct seen s = {calloc(KEEP + CHURN, 1)};
    uint64_t cursor = 0;
    int step = 0, next_churn = KEEP;
    do {
        cursor = hdict_scan(d, cursor, mark, &s);
        step++;
        if (step % 7 == 0 && next_churn < KEEP + CHURN) {
            /* grow: add a burst of fields */
            for (int k = 0; k < 1000 && next_churn < KEEP + CHURN; k++)
                put(&d, next_churn++, "v");
        } else if (step % 11 == 0) {
            /* shrink: remove every churn field */
            for (int i = KEEP; i < next_churn; i++)
                del(&d, i);
        }
    } while (cursor);
    for (int i = 0; i < KEEP; i++)
        cr_assert(s.marks[i], "field %d never returned", i);
    free(s.marks);
    hdict_free(d);
}

/* ---------- the hash type ---------- */

static struct type_limits lim;

static void limits(long long entries, long long value)
{
    lim = *type_limits();
    lim.hash_max_listpack_entries = entries;
    lim.hash_max_listpack_value = value;
    type_limits_set(&lim);
}

static void hsetf(struct entry *e, int i, const char *v) 
{
    char f[32];
    size_t n = fname(f, sizeof(f), i);
    hash_set(e, f, n, v, strlen(v));
}

static void check_value(struct entry *e, int i, const char *v)
{
    char f[32];
    size_t n = fname(f, sizeof(f), i);
    struct hash_str out;
    cr_assert(hash_get(e, f, n, &out), "field %d missing", i);
    cr_assert_eq(out.len, strlen(v));
    cr_assert_eq(memcmp(out.p, v, out.len), 0);
}

Test(hash, listpack_until_entries_limit, .init = setup)
{
    limits(128, 64);
    int64_t base = smem_used();
    struct entry *e = hash_entry_new("h", 1);
    for (int i = 0; i < 128; i++)
        hsetf(e, i, "12345");
    cr_assert_eq(e->enc, OBJ_ENC_LISTPACK);
    cr_assert_eq(hash_len(e), 128);
    hsetf(e, 5, "updated"); /* an update does not add */
    cr_assert_eq(e->enc, OBJ_ENC_LISTPACK);
    hsetf(e, 128, "x");
    cr_assert_eq(e->enc, OBJ_ENC_HT);
    cr_assert_eq(hash_len(e), 129);
    check_value(e, 5, "updated");
    check_value(e, 0, "12345"); /* an integer in the listpack comes back as text */
    for (int i = 0; i < 120; i++)
        cr_assert(hash_delete(e, "field:0", 7) == (i == 0));
    for (int i = 1; i < 129; i++) {
        char f[32];
        size_t n = fname(f, sizeof(f), i);
        cr_assert(hash_delete(e, f, n));
    }
    cr_assert_eq(hash_len(e), 0);
    cr_assert_eq(e->enc, OBJ_ENC_HT, "never converted back");
    entry_free(e);
    cr_assert_eq(smem_used(), base);
}

Test(hash, long_value_or_field_converts, .init = setup)
{
    limits(128, 64);
    char big[66];
    memset(big, 'x', 65);
    big[65] = 0;
    struct entry *e = hash_entry_new("h", 1);
    hsetf(e, 1, "small");
    big[64] = 0;
    hsetf(e, 2, big); /* exactly 64: still a listpack */
    cr_assert_eq(e->enc, OBJ_ENC_LISTPACK);
    big[64] = 'x';
    hsetf(e, 3, big);
    cr_assert_eq(e->enc, OBJ_ENC_HT);
    check_value(e, 1, "small");
    check_value(e, 3, big);
    entry_free(e);

    e = hash_entry_new("h", 1);
    hash_set(e, big, 65, "v", 1); /* a long field converts too */
    cr_assert_eq(e->enc, OBJ_ENC_HT);
    entry_free(e);

    e = hash_entry_new("h", 1);
    hash_prepare_write(e, 64, 128);
    cr_assert_eq(e->enc, OBJ_ENC_LISTPACK);
    hash_prepare_write(e, 65, 65);
    cr_assert_eq(e->enc, OBJ_ENC_HT);
    entry_free(e);
}

static void count_pair(void *arg, const char *f, size_t flen, const char *v, size_t vlen)
{
    (void)f, (void)flen, (void)v, (void)vlen;
    (*(int *)arg)++;
}

static void iterate_and_random(struct entry *e, int n)
{
    struct hash_iter it;
    struct hash_str f, v;
    int count = 0;
    hash_iter_init(&it, e);
    while (hash_iter_next(&it, &f, &v)) {
        cr_assert_eq(memcmp(f.p, "field:", 6), 0);
        count++;
    }
    cr_assert_eq(count, n);
    uint64_t rnd = 7;
    int *hits = calloc((size_t)n, sizeof(int));
    for (int k = 0; k < n * 400; k++) {
        hash_random_pair(e, &rnd, &f, &v);
        char tmp[32];
        memcpy(tmp, f.p + 6, f.len - 6);
        tmp[f.len - 6] = 0;
        hits[atoi(tmp)]++;
    }
    for (int i = 0; i < n; i++)
        cr_assert(hits[i] > 250 && hits[i] < 550, "field %d drawn %d times of 400", i, hits[i]);
    free(hits);
    for (int want = 1; want < n; want++) {
        int got = 0;
        hash_random_distinct(e, &rnd, (unsigned long)want, count_pair, &got);
        cr_assert_eq(got, want);
    }
    int all = 0;
    uint64_t cur = 0;
    do
        cur = hash_scan(e, cur, count_pair, &all);
    while (cur);
    cr_assert_eq(all, n);
}

Test(hash, iterate_random_scan_both_encodings, .init = setup)
{
    limits(128, 64);
    struct entry *e = hash_entry_new("h", 1);
    for (int i = 0; i < 20; i++)
        hsetf(e, i, "v");
    cr_assert_eq(e->enc, OBJ_ENC_LISTPACK);
    iterate_and_random(e, 20);
    hash_convert_to_table(e);
    cr_assert_eq(e->enc, OBJ_ENC_HT);
    iterate_and_random(e, 20);
    for (int i = 20; i < 300; i++)
        hsetf(e, i, "v");
    iterate_and_random(e, 300);
    entry_free(e);
}

/* ---------- RDB ---------- */

static struct entry *roundtrip(struct entry *e, int *type)
{
    struct buf b;
    buf_init(&b);
    cr_assert(rdb_dump_payload(e, &b));
    *type = (unsigned char)b.data[0];
    char err[256];
    struct entry *r = rdb_restore_payload("k", 1, b.data, b.len, err, sizeof(err));
    cr_assert_not_null(r, "%s", err);
    buf_free(&b);
    return r;
}

static void same_contents(struct entry *a, struct entry *b)
{
    cr_assert_eq(hash_len(a), hash_len(b));
    struct hash_iter it;
    struct hash_str f, v, w;
    hash_iter_init(&it, a);
    while (hash_iter_next(&it, &f, &v)) {
        cr_assert(hash_get(b, f.p, f.len, &w));
        cr_assert_eq(v.len, w.len);
        cr_assert_eq(memcmp(v.p, w.p, v.len), 0);
    }
}

Test(hash_rdb, roundtrip_both_encodings, .init = setup)
{
    limits(128, 64);
    struct entry *e = hash_entry_new("h", 1);
    hsetf(e, 1, "one");
    hsetf(e, 2, "12345");
    hsetf(e, 3, "-9223372036854775808");
    hsetf(e, 4, "");
    int type;
    struct entry *r = roundtrip(e, &type);
    cr_assert_eq(type, RDB_TYPE_HASH_LISTPACK);
    cr_assert_eq(r->enc, OBJ_ENC_LISTPACK);
    same_contents(e, r);
    entry_free(r);

    for (int i = 5; i < 1000; i++)
        hsetf(e, i, i % 3 ? "text value" : "777");
    cr_assert_eq(e->enc, OBJ_ENC_HT);
    r = roundtrip(e, &type);
    cr_assert_eq(type, RDB_TYPE_HASH);
    cr_assert_eq(r->enc, OBJ_ENC_HT);
    same_contents(e, r);
    entry_free(r);
    entry_free(e);
}

Test(hash_rdb, load_converts_under_lower_limits, .init = setup)
{
    limits(128, 64);
    struct entry *e = hash_entry_new("h", 1);
    for (int i = 0; i < 10; i++)
        hsetf(e, i, "v");
    struct entry *big = hash_entry_new("b", 1);
    for (int i = 0; i < 200; i++)
        hsetf(big, i, "v");
    limits(5, 64);
    int type;
    struct entry *r = roundtrip(e, &type);
    cr_assert_eq(r->enc, OBJ_ENC_HT, "a listpack of more pairs than the limit becomes a table");
    same_contents(e, r);
    entry_free(r);
    limits(1000, 64);
    r = roundtrip(big, &type); /* RDB_TYPE_HASH small enough: a listpack */
    cr_assert_eq(type, RDB_TYPE_HASH);
    cr_assert_eq(r->enc, OBJ_ENC_LISTPACK);
    same_contents(big, r);
    entry_free(r);
    limits(1000, 0);
    r = roundtrip(big, &type); /* values longer than the limit: a table */
    cr_assert_eq(r->enc, OBJ_ENC_HT);
    entry_free(r);
    entry_free(e);
    entry_free(big);
    limits(128, 64);
}

/* A DUMP payload around `body` (type byte first), with a valid trailer. */
static void wrap(struct buf *out, const void *body, size_t n)
{
    buf_init(out);
    buf_put(out, body, n);
    unsigned char tail[10] = {RDB_VERSION, 0};
    buf_put(out, tail, 2);
    uint64_t crc = crc64_redis(0, out->data, out->len);
    for (int i = 0; i < 8; i++)
        tail[i] = (unsigned char)(crc >> (8 * i));
    buf_put(out, tail, 8);
}

static struct entry *restore_body(const void *body, size_t n, char *err, size_t errlen)
{
    struct buf p;
    wrap(&p, body, n);
    struct entry *e = rdb_restore_payload("k", 1, p.data, p.len, err, errlen);
    buf_free(&p);
    return e;
}

/* type byte + RDB string of a listpack holding `items` */
static void listpack_body(struct buf *b, const char *const *items, int n)
{
    unsigned char *lp = lp_new(0);
    for (int i = 0; i < n; i++)
        lp = lp_append(lp, items[i], strlen(items[i]));
    buf_init(b);
    buf_appendc(b, RDB_TYPE_HASH_LISTPACK);
    rdb_write_string_ex(b, (const char *)lp, lp_bytes(lp), RDB_SAVE_NO_COMPRESS);
    lp_free(lp);
}

Test(hash_rdb, corrupt_listpacks_refused, .init = setup)
{
    limits(128, 64);
    char err[256];
    struct buf b;
    const char *dup[] = {"a", "1", "b", "2", "a", "3"};
    listpack_body(&b, dup, 6);
    cr_assert_null(restore_body(b.data, b.len, err, sizeof(err)));
    buf_free(&b);
    const char *odd[] = {"a", "1", "b"};
    listpack_body(&b, odd, 3);
    cr_assert_null(restore_body(b.data, b.len, err, sizeof(err)));
    buf_free(&b);
    const char *same_values[] = {"a", "1", "b", "1"};
    listpack_body(&b, same_values, 4);
    struct entry *e = restore_body(b.data, b.len, err, sizeof(err));
    cr_assert_not_null(e, "%s", err);
    entry_free(e);
    /* every truncation and every single-byte change: refused or valid, never a crash */
    for (size_t cut = 1; cut < b.len; cut++) {
        e = restore_body(b.data, cut, err, sizeof(err));
        cr_assert_null(e, "truncated at %zu accepted", cut);
    }
    for (size_t at = 1; at < b.len; at++) {
        for (int bit = 0; bit < 8; bit++) {
            b.data[at] ^= (char)(1 << bit);
            e = restore_body(b.data, b.len, err, sizeof(err));
            if (e) {
                cr_assert_eq(e->type, OBJ_HASH);
                entry_free(e);
            }
            b.data[at] ^= (char)(1 << bit);
        }
    }
    buf_free(&b);
}

Test(hash_rdb, corrupt_pairs_refused, .init = setup)
{
    limits(2, 64);
    char err[256];
    struct buf b;
    buf_init(&b);
    buf_appendc(&b, RDB_TYPE_HASH);
    rdb_write_len(&b, 3);
    const char *kv[] = {"a", "1", "b", "2", "a", "3"};
    for (int i = 0; i < 6; i++)
        rdb_write_string(&b, kv[i], 1);
    cr_assert_null(restore_body(b.data, b.len, err, sizeof(err)));
    struct rdb_in in = {.p = (const unsigned char *)b.data + 1, .len = b.len - 1, .err = err, .errlen = sizeof(err)};
    int enc;
    cr_assert_null(hash_type_ops.rdb_decode(&in, RDB_TYPE_HASH, &enc));
    cr_assert(in.failed);
    cr_assert(strstr(err, "Duplicate hash fields") != NULL, "%s", err);
    limits(128, 64);
    cr_assert_null(restore_body(b.data, b.len, err, sizeof(err)));
    for (size_t cut = 1; cut < b.len; cut++)
        cr_assert_null(restore_body(b.data, cut, err, sizeof(err)));
    buf_free(&b);
    /* a count far beyond the payload */
    buf_init(&b);
    buf_appendc(&b, RDB_TYPE_HASH);
    rdb_write_len(&b, 1ull << 40);
    cr_assert_null(restore_body(b.data, b.len, err, sizeof(err)));
    buf_free(&b);
}

static const unsigned char ziplist_ab[] = {
    22, 0, 0, 0, 18, 0, 0, 0, 4, 0,  /* zlbytes, zltail, zllen */
    0, 0x01, 'a',                    /* "a" */
    3, 0xF2,                         /* 1 (immediate) */
    2, 0x01, 'b',                    /* "b" */
    3, 0x01, 'x',                    /* "x" */
    0xFF,
};

static void ziplist_body(struct buf *b, const unsigned char *zl, size_t n)
{
    buf_init(b);
    buf_appendc(b, RDB_TYPE_HASH_ZIPLIST);
    rdb_write_string_ex(b, (const char *)zl, n, RDB_SAVE_NO_COMPRESS);
}

Test(hash_rdb, ziplist_and_zipmap, .init = setup)
{
    limits(128, 64);
    char err[256];
    struct buf b;
    ziplist_body(&b, ziplist_ab, sizeof(ziplist_ab));
    struct entry *e = restore_body(b.data, b.len, err, sizeof(err));
    cr_assert_not_null(e, "%s", err);
    cr_assert_eq(e->enc, OBJ_ENC_LISTPACK);
    struct hash_str v;
    cr_assert(hash_get(e, "a", 1, &v) && v.len == 1 && v.p[0] == '1');
    cr_assert(hash_get(e, "b", 1, &v) && v.len == 1 && v.p[0] == 'x');
    entry_free(e);
    buf_free(&b);

    unsigned char dup[sizeof(ziplist_ab)];
    memcpy(dup, ziplist_ab, sizeof(dup));
    dup[17] = 'a';
    ziplist_body(&b, dup, sizeof(dup));
    cr_assert_null(restore_body(b.data, b.len, err, sizeof(err)));
    buf_free(&b);

    static const unsigned char zipmap[] = {2, 1, 'a', 1, 0, '1', 1, 'b', 2, 1, 'x', 'y', 0, 0xFF};
    buf_init(&b);
    buf_appendc(&b, RDB_TYPE_HASH_ZIPMAP);
    rdb_write_string_ex(&b, (const char *)zipmap, sizeof(zipmap), RDB_SAVE_NO_COMPRESS);
    e = restore_body(b.data, b.len, err, sizeof(err));
    cr_assert_not_null(e, "%s", err);
    cr_assert_eq(hash_len(e), 2);
    cr_assert(hash_get(e, "b", 1, &v) && v.len == 2 && memcmp(v.p, "xy", 2) == 0);
    entry_free(e);
    for (size_t cut = 1; cut < b.len; cut++)
        cr_assert_null(restore_body(b.data, cut, err, sizeof(err)));
    buf_free(&b);

    static const unsigned char zipmap_dup[] = {2, 1, 'a', 1, 0, '1', 1, 'a', 1, 0, '2', 0xFF};
    buf_init(&b);
    buf_appendc(&b, RDB_TYPE_HASH_ZIPMAP);
    rdb_write_string_ex(&b, (const char *)zipmap_dup, sizeof(zipmap_dup), RDB_SAVE_NO_COMPRESS);
    cr_assert_null(restore_body(b.data, b.len, err, sizeof(err)));
    buf_free(&b);
}
