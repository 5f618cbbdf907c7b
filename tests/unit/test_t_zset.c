/* tests/unit/test_t_zset.c — shard/t_zset.h: both encodings checked against a
 * sorted array model (order by score then member, ranks and spans after
 * random adds, updates and deletes, score and lex ranges both ways, range
 * deletions), the listpack <-> skiplist conversions at the configured
 * limits, and the RDB codec: round trips of both encodings, and corrupt
 * input (unsorted, duplicate, NaN, truncated bytes) rejected without a
 * crash. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard/listpack.h"
#include "shard/memory.h"
#include "shard/object.h"
#include "shard/rdb.h"
#include "shard/t_zset.h"
#include "shard/types.h"

static void setup(void) { smem_thread_init(); }

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void set_limits(long long entries, long long value)
{
    struct type_limits l = *type_limits();
    l.zset_max_listpack_entries = entries;
    l.zset_max_listpack_value = value;
    type_limits_set(&l);
}

/* ---------- the model ---------- */

struct mel {
    char m[40];
    size_t len;
    double score;
};

struct model {
    struct mel *a;
    size_t n, cap;
};

static int mel_cmp(const void *x, const void *y)
{
    const struct mel *a = x, *b = y;
    if (a->score != b->score)
        return a->score < b->score ? -1 : 1;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->m, b->m, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static long model_find(const struct model *md, const char *m, size_t len)
{
    for (size_t i = 0; i < md->n; i++)
        if (md->a[i].len == len && !memcmp(md->a[i].m, m, len))
            return (long)i;
    return -1;
}

static void model_set(struct model *md, const char *m, size_t len, double score)
{
    long i = model_find(md, m, len);
    if (i < 0) {
        if (md->n == md->cap) {
            md->cap = md->cap ? md->cap * 2 : 64;
            md->a = realloc(md->a, sizeof(*md->a) * md->cap);
        }
        i = (long)md->n++;
        memcpy(md->a[i].m, m, len);
        md->a[i].len = len;
    }
    md->a[i].score = score;
    qsort(md->a, md->n, sizeof(*md->a), mel_cmp);
}

static void model_del(struct model *md, const char *m, size_t len)
{
    long i = model_find(md, m, len);
    if (i < 0)
        return;
    memmove(&md->a[i], &md->a[i + 1], sizeof(*md->a) * (md->n - (size_t)i - 1));
    md->n--;
}

static void check_against(const struct entry *e, const struct model *md)
{
    cr_assert_eq(zset_card(e), md->n);
    struct zset_iter it;
    struct zset_elem el;
    zset_iter_rank(&it, e, 0, md->n, false);
    for (size_t i = 0; i < md->n; i++) {
        cr_assert(zset_iter_next(&it, &el), "iteration ended at %zu", i);
        cr_assert(el.len == md->a[i].len && !memcmp(el.m, md->a[i].m, el.len), "member at rank %zu", i);
        cr_assert_eq(el.score, md->a[i].score);
    }
    cr_assert(!zset_iter_next(&it, &el));
    for (size_t i = 0; i < md->n; i++) {
        double s;
        cr_assert_eq(zset_rank(e, md->a[i].m, md->a[i].len, false, &s), (long)i);
        cr_assert_eq(zset_rank(e, md->a[i].m, md->a[i].len, true, NULL), (long)(md->n - 1 - i));
        cr_assert_eq(s, md->a[i].score);
    }
    /* by rank from the end */
    if (md->n) {
        size_t r = rnd() % md->n;
        zset_iter_rank(&it, e, r, 1, true);
        cr_assert(zset_iter_next(&it, &el));
        cr_assert_eq(el.score, md->a[md->n - 1 - r].score);
    }
}

static struct entry *new_zset(void) { return zset_new_entry("k", 1, 0, 0); }

static void add(struct entry *e, double score, const char *m)
{
    int out;
    cr_assert(zset_add(e, score, m, strlen(m), 0, &out, NULL));
}

/* ---------- basics ---------- */

TestSuite(zset, .init = setup);

Test(zset, listpack_order_and_scores)
{
    set_limits(128, 64);
    struct entry *e = new_zset();
    cr_assert_eq(e->enc, OBJ_ENC_LISTPACK);
    add(e, 2, "b");
    add(e, 1, "z");
    add(e, 2, "a");
    add(e, 1.5, "12345");
    const char *want[] = {"z", "12345", "a", "b"};
    struct zset_iter it;
    struct zset_elem el;
    zset_iter_rank(&it, e, 0, 10, false);
    for (int i = 0; i < 4; i++) {
        cr_assert(zset_iter_next(&it, &el));
        cr_assert(el.len == strlen(want[i]) && !memcmp(el.m, want[i], el.len));
    }
    double s;
    cr_assert(zset_score(e, "12345", 5, &s));
    cr_assert_eq(s, 1.5);
    int out;
    double ns;
    cr_assert(zset_add(e, 10, "z", 1, ZADD_IN_INCR, &out, &ns));
    cr_assert_eq(ns, 11);
    cr_assert(out & ZADD_OUT_UPDATED);
    cr_assert(zset_add(e, 1, "z", 1, ZADD_IN_NX, &out, NULL));
    cr_assert(out & ZADD_OUT_NOP);
    cr_assert(zset_add(e, 100, "new", 3, ZADD_IN_XX, &out, NULL));
    cr_assert(out & ZADD_OUT_NOP);
    cr_assert(zset_add(e, 5, "z", 1, ZADD_IN_GT, &out, NULL));
    cr_assert(out & ZADD_OUT_NOP);
    cr_assert(zset_add(e, 5, "z", 1, ZADD_IN_LT, &out, NULL));
    cr_assert(out & ZADD_OUT_UPDATED);
    cr_assert(zset_add(e, INFINITY, "inf", 3, 0, &out, NULL));
    cr_assert(!zset_add(e, -INFINITY, "inf", 3, ZADD_IN_INCR, &out, NULL));
    cr_assert(out & ZADD_OUT_NAN);
    cr_assert(zset_del(e, "a", 1));
    cr_assert(!zset_del(e, "a", 1));
    entry_free(e);
}

static void random_ops(long long entries, int nops, int keyspace)
{
    set_limits(entries, 64);
    struct entry *e = new_zset();
    struct model md = {0};
    for (int op = 0; op < nops; op++) {
        char m[16];
        int len = snprintf(m, sizeof(m), "m%d", (int)(rnd() % (uint64_t)keyspace));
        int kind = (int)(rnd() % 10);
        double score = (double)(rnd() % 50) / 2;
        if (kind < 6) {
            int out;
            zset_add(e, score, m, (size_t)len, 0, &out, NULL);
            model_set(&md, m, (size_t)len, score);
        } else if (kind < 8) {
            zset_del(e, m, (size_t)len);
            model_del(&md, m, (size_t)len);
        } else {
            int out;
            double ns;
            long i = model_find(&md, m, (size_t)len);
            zset_add(e, score, m, (size_t)len, ZADD_IN_INCR, &out, &ns);
            model_set(&md, m, (size_t)len, i < 0 ? score : md.a[i].score + score);
        }
        if (op % 97 == 0)
            check_against(e, &md);
    }
    check_against(e, &md);
    /* score ranges both ways, counts */
    for (int k = 0; k < 50; k++) {
        struct zrange_spec r = {.min = (double)(rnd() % 30) - 2, .max = (double)(rnd() % 30),
                                .minex = rnd() & 1, .maxex = rnd() & 1};
        size_t want = 0;
        for (size_t i = 0; i < md.n; i++)
            want += zset_value_gte_min(md.a[i].score, &r) && zset_value_lte_max(md.a[i].score, &r);
        cr_assert_eq(zset_count_score(e, &r), want);
        for (int rev = 0; rev < 2; rev++) {
            struct zset_iter it;
            struct zset_elem el;
            zset_iter_score(&it, e, &r, rev);
            size_t got = 0;
            double prev = rev ? INFINITY : -INFINITY;
            while (zset_iter_next(&it, &el)) {
                cr_assert(rev ? el.score <= prev : el.score >= prev);
                prev = el.score;
                got++;
            }
            cr_assert_eq(got, want);
        }
    }
    free(md.a);
    entry_free(e);
}

Test(zset, skiplist_ranks_match_model) { random_ops(0, 4000, 300); }
Test(zset, listpack_matches_model) { random_ops(1000, 2000, 60); }

Test(zset, conversions_at_limits)
{
    set_limits(4, 8);
    struct entry *e = new_zset();
    for (int i = 0; i < 4; i++) {
        char m[8];
        snprintf(m, sizeof(m), "m%d", i);
        add(e, i, m);
    }
    cr_assert_eq(e->enc, OBJ_ENC_LISTPACK);
    add(e, 9, "m9");
    cr_assert_eq(e->enc, OBJ_ENC_SKIPLIST);
    struct entry *f = new_zset();
    add(f, 1, "short");
    add(f, 1, "a-long-member");
    cr_assert_eq(f->enc, OBJ_ENC_SKIPLIST);
    zset_del(e, "m9", 2);
    zset_shrink_if_fits(e, 2, 8);
    cr_assert_eq(e->enc, OBJ_ENC_LISTPACK);
    cr_assert_eq(zset_card(e), 4);
    zset_convert(e, OBJ_ENC_SKIPLIST);
    zset_convert(e, OBJ_ENC_LISTPACK);
    cr_assert_eq(zset_rank(e, "m3", 2, false, NULL), 3);
    entry_free(e);
    entry_free(f);
}

static void lex_case(long long entries)
{
    set_limits(entries, 64);
    struct entry *e = new_zset();
    const char *ms[] = {"alpha", "bar", "cool", "down", "elephant", "foo", "great", "hill", "omega"};
    for (int i = 0; i < 9; i++)
        add(e, 0, ms[i]);
    struct zlex_spec r = {.min = "bar", .minlen = 3, .max = "foo", .maxlen = 3, .maxex = true};
    cr_assert_eq(zset_count_lex(e, &r), 4);
    struct zset_iter it;
    struct zset_elem el;
    zset_iter_lex(&it, e, &r, true);
    cr_assert(zset_iter_next(&it, &el));
    cr_assert(el.len == 8 && !memcmp(el.m, "elephant", 8));
    struct zlex_spec all = {.mininf = -1, .maxinf = 1};
    cr_assert_eq(zset_count_lex(e, &all), 9);
    struct zlex_spec none = {.mininf = 1, .maxinf = 1};
    cr_assert_eq(zset_count_lex(e, &none), 0);
    struct zlex_spec tail = {.min = "g", .minlen = 1, .maxinf = 1};
    cr_assert_eq(zset_del_range_lex(e, &tail), 3);
    cr_assert_eq(zset_card(e), 6);
    struct zrange_spec sr = {.min = 0, .max = 0};
    cr_assert_eq(zset_del_range_score(e, &sr), 6);
    cr_assert_eq(zset_card(e), 0);
    entry_free(e);
}

Test(zset, lex_ranges_listpack) { lex_case(128); }
Test(zset, lex_ranges_skiplist) { lex_case(0); }

Test(zset, delete_range_by_rank)
{
    for (int enc = 0; enc < 2; enc++) {
        set_limits(enc ? 0 : 128, 64);
        struct entry *e = new_zset();
        struct model md = {0};
        for (int i = 0; i < 100; i++) {
            char m[8];
            int n = snprintf(m, sizeof(m), "%d", i);
            add(e, i % 7, m);
            model_set(&md, m, (size_t)n, i % 7);
        }
        cr_assert_eq(zset_del_range_rank(e, 10, 19), 10);
        memmove(&md.a[10], &md.a[20], sizeof(*md.a) * 80);
        md.n -= 10;
        check_against(e, &md);
        free(md.a);
        entry_free(e);
    }
}

/* ---------- RDB ---------- */

static struct entry *roundtrip(struct entry *e)
{
    struct buf img = {0};
    cr_assert(rdb_value_image(e, &img));
    struct entry *back = rdb_entry_from_image("k", 1, img.data, img.len);
    buf_free(&img);
    return back;
}

Test(zset, rdb_roundtrip_both_encodings)
{
    for (int enc = 0; enc < 2; enc++) {
        set_limits(enc ? 0 : 128, 64);
        struct entry *e = new_zset();
        struct model md = {0};
        for (int i = 0; i < 200; i++) {
            char m[16];
            int n = snprintf(m, sizeof(m), "e%d", (int)(rnd() % 1000));
            double s = i == 0 ? INFINITY : i == 1 ? -INFINITY : (double)(rnd() % 1000) / 7;
            add(e, s, m);
            model_set(&md, m, (size_t)n, s);
        }
        struct entry *back = roundtrip(e);
        cr_assert_not_null(back);
        cr_assert_eq(back->enc, e->enc);
        check_against(back, &md);
        free(md.a);
        entry_free(e);
        entry_free(back);
    }
}

Test(zset, rdb_skiplist_loads_as_listpack_when_it_fits)
{
    set_limits(0, 64);
    struct entry *e = new_zset();
    add(e, 1, "a");
    add(e, 2, "b");
    set_limits(128, 64);
    struct entry *back = roundtrip(e);
    cr_assert_eq(back->enc, OBJ_ENC_LISTPACK);
    cr_assert_eq(zset_card(back), 2);
    entry_free(e);
    entry_free(back);
}

/* An image of a listpack-encoded zset from raw pairs. */
static struct entry *load_listpack(const char **m, const char **s, int n)
{
    unsigned char *lp = lp_new(0);
    for (int i = 0; i < n; i++) {
        lp = lp_append(lp, m[i], strlen(m[i]));
        lp = lp_append(lp, s[i], strlen(s[i]));
    }
    struct buf img = {0};
    unsigned char t = RDB_TYPE_ZSET_LISTPACK;
    buf_append(&img, &t, 1);
    rdb_write_string(&img, (const char *)lp, lp_bytes(lp));
    lp_free(lp);
    struct entry *e = rdb_entry_from_image("k", 1, img.data, img.len);
    buf_free(&img);
    return e;
}

Test(zset, rdb_listpack_validation)
{
    set_limits(128, 64);
    const char *m_ok[] = {"a", "b"}, *s_ok[] = {"1", "2.5"};
    struct entry *e = load_listpack(m_ok, s_ok, 2);
    cr_assert_not_null(e);
    entry_free(e);
    const char *m_uns[] = {"a", "b"}, *s_uns[] = {"3", "2"};
    cr_assert_null(load_listpack(m_uns, s_uns, 2));
    const char *m_dup[] = {"a", "a"}, *s_dup[] = {"1", "1"};
    cr_assert_null(load_listpack(m_dup, s_dup, 2));
    const char *m_dup2[] = {"a", "b", "a"}, *s_dup2[] = {"1", "2", "3"};
    cr_assert_null(load_listpack(m_dup2, s_dup2, 3));
    const char *m_nan[] = {"a"}, *s_nan[] = {"nan"};
    cr_assert_null(load_listpack(m_nan, s_nan, 1));
    const char *m_txt[] = {"a"}, *s_txt[] = {"abc"};
    cr_assert_null(load_listpack(m_txt, s_txt, 1));
}

Test(zset, rdb_zset2_validation)
{
    struct buf img = {0};
    unsigned char t = RDB_TYPE_ZSET_2;
    buf_append(&img, &t, 1);
    rdb_write_len(&img, 2);
    rdb_write_string(&img, "a", 1);
    rdb_write_binary_double(&img, 1);
    rdb_write_string(&img, "a", 1);
    rdb_write_binary_double(&img, 2);
    cr_assert_null(rdb_entry_from_image("k", 1, img.data, img.len));
    buf_clear(&img);
    buf_append(&img, &t, 1);
    rdb_write_len(&img, 1);
    rdb_write_string(&img, "a", 1);
    rdb_write_binary_double(&img, NAN);
    cr_assert_null(rdb_entry_from_image("k", 1, img.data, img.len));
    buf_free(&img);
}

Test(zset, rdb_truncated_and_garbled_never_crash)
{
    for (int enc = 0; enc < 2; enc++) {
        set_limits(enc ? 0 : 128, 64);
        struct entry *e = new_zset();
        for (int i = 0; i < 30; i++) {
            char m[16];
            snprintf(m, sizeof(m), "member%d", i);
            add(e, i * 1.25, m);
        }
        struct buf img = {0};
        cr_assert(rdb_value_image(e, &img));
        for (size_t cut = 0; cut < img.len; cut++) {
            struct entry *x = rdb_entry_from_image("k", 1, img.data, cut);
            if (x)
                entry_free(x);
        }
        for (int k = 0; k < 2000; k++) {
            char *copy = malloc(img.len);
            memcpy(copy, img.data, img.len);
            for (int f = 0; f < 3; f++)
                copy[1 + rnd() % (img.len - 1)] ^= (char)(1 + rnd() % 255);
            struct entry *x = rdb_entry_from_image("k", 1, copy, img.len);
            if (x) {
                /* whatever loaded must be a consistent zset */
                struct zset_iter it;
                struct zset_elem el;
                unsigned long n = 0;
                zset_iter_rank(&it, x, 0, zset_card(x), false);
                while (zset_iter_next(&it, &el))
                    n++;
                cr_assert_eq(n, zset_card(x));
                entry_free(x);
            }
            free(copy);
        }
        buf_free(&img);
        entry_free(e);
    }
}

/* ---------- ZSCAN ---------- */

struct seen {
    unsigned char hit[2000];
};

static void mark(void *arg, const char *m, size_t len, double score)
{
    (void)score;
    struct seen *s = arg;
    char tmp[16];
    memcpy(tmp, m, len);
    tmp[len] = 0;
    s->hit[atoi(tmp + 1)] = 1;
}

Test(zset, scan_returns_every_stable_member_under_writes)
{
    set_limits(0, 64);
    struct entry *e = new_zset();
    for (int i = 0; i < 1000; i++) {
        char m[16];
        snprintf(m, sizeof(m), "m%d", i);
        add(e, i, m);
    }
    struct seen s = {0};
    uint64_t cursor = 0;
    int step = 0;
    do {
        cursor = zset_scan(e, cursor, mark, &s);
        /* members 500.. come and go (the table shrinks and grows) */
        char m[16];
        int k = 500 + (step * 37) % 500;
        snprintf(m, sizeof(m), "m%d", k);
        if (step < 400)
            zset_del(e, m, strlen(m));
        else
            add(e, k, m);
        if (step % 50 == 0)
            for (int j = 1000; j < 1000 + step % 700; j++) {
                snprintf(m, sizeof(m), "m%d", j);
                add(e, j, m);
            }
        step++;
    } while (cursor);
    for (int i = 0; i < 500; i++)
        cr_assert(s.hit[i], "member m%d never returned", i);
    entry_free(e);
}
