/* tests/unit/test_listpack.c — shard/listpack.h: Redis's exact bytes for each
 * encoding, editing checked against a plain array model (forward and
 * backward walks, seek, find, delete ranges, merge, counts beyond the u16
 * header), validation of corrupted bytes (never a crash), and ziplist
 * conversion. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard/listpack.h"
#include "shard/memory.h"

static void setup(void) { smem_thread_init(); }

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void expect_bytes(const unsigned char *lp, const unsigned char *want, size_t n)
{
    cr_assert_eq(lp_bytes(lp), n, "size %zu, want %zu", lp_bytes(lp), n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(lp[i], want[i], "byte %zu: %02x, want %02x", i, lp[i], want[i]);
}

static void expect_elem(unsigned char *p, const char *s)
{
    char tmp[24];
    size_t len;
    cr_assert_not_null(p);
    const char *v = lp_get_str(p, tmp, &len);
    cr_assert(len == strlen(s) && memcmp(v, s, len) == 0, "got '%.*s', want '%s'", (int)len, v, s);
}

Test(listpack, empty_layout, .init = setup)
{
    unsigned char *lp = lp_new(0);
    const unsigned char want[] = {7, 0, 0, 0, 0, 0, 0xFF};
    expect_bytes(lp, want, sizeof(want));
    cr_assert_null(lp_first(lp));
    cr_assert_null(lp_last(lp));
    cr_assert_eq(lp_length(lp), 0);
    cr_assert(lp_validate(lp, lp_bytes(lp), NULL));
    lp_free(lp);
}

Test(listpack, encodings_are_redis_bytes, .init = setup)
{
    unsigned char *lp = lp_new(0);
    lp = lp_append(lp, "a", 1);      /* 6-bit string */
    lp = lp_append(lp, "1", 1);      /* 7-bit uint */
    lp = lp_append(lp, "128", 3);    /* 13-bit int */
    lp = lp_append(lp, "-1", 2);     /* 13-bit int, negative */
    lp = lp_append(lp, "5000", 4);   /* 16-bit int */
    lp = lp_append(lp, "01", 2);     /* not canonical: a string */
    const unsigned char want[] = {
        26, 0, 0, 0, 6, 0,
        0x81, 'a', 2,
        0x01, 1,
        0xC0, 0x80, 2,
        0xDF, 0xFF, 2,
        0xF1, 0x88, 0x13, 3,
        0x82, '0', '1', 3,
        0xFF,
    };
    expect_bytes(lp, want, sizeof(want));
    lp_free(lp);
}

Test(listpack, wide_integers_and_strings, .init = setup)
{
    unsigned char *lp = lp_new(0);
    lp = lp_append_int(lp, 8388607);          /* 24-bit */
    lp = lp_append_int(lp, -8388609);         /* 32-bit */
    lp = lp_append_int(lp, INT64_MIN);        /* 64-bit */
    char big[200];
    memset(big, 'x', sizeof(big));
    lp = lp_append(lp, big, sizeof(big));     /* 12-bit string, 2-byte backlen */
    unsigned char *p = lp_first(lp);
    cr_assert_eq(p[0], 0xF2);
    int64_t v;
    cr_assert(lp_get_int(p, &v) && v == 8388607);
    p = lp_next(lp, p);
    cr_assert_eq(p[0], 0xF3);
    cr_assert(lp_get_int(p, &v) && v == -8388609);
    p = lp_next(lp, p);
    cr_assert_eq(p[0], 0xF4);
    cr_assert(lp_get_int(p, &v) && v == INT64_MIN);
    p = lp_next(lp, p);
    cr_assert_eq(p[0], 0xE0);
    cr_assert_eq(p[1], 200);
    cr_assert_eq(p[202], 1);           /* backlen of 202 bytes: 1, 0x80|74 */
    cr_assert_eq(p[203], 0x80 | 74);
    cr_assert_null(lp_next(lp, p));
    /* and back */
    p = lp_prev(lp, p);
    cr_assert(lp_get_int(p, &v) && v == INT64_MIN);
    lp_free(lp);
}

Test(listpack, huge_string_uses_32bit_length, .init = setup)
{
    size_t n = 70000;
    char *s = malloc(n);
    memset(s, 'q', n);
    unsigned char *lp = lp_new(0);
    lp = lp_append(lp, s, n);
    lp = lp_append(lp, "z", 1);
    unsigned char *p = lp_first(lp);
    cr_assert_eq(p[0], 0xF0);
    struct lp_val v;
    lp_get(p, &v);
    cr_assert_eq(v.slen, n);
    expect_elem(lp_last(lp), "z");
    cr_assert_eq(lp_prev(lp, lp_last(lp)), p);
    cr_assert(lp_validate(lp, lp_bytes(lp), NULL));
    lp_free(lp);
    free(s);
}

/* ---------- editing against a model ---------- */

#define MAXN 400
struct model {
    char s[MAXN][24];
    int n;
};

static void gen_value(char *out)
{
    switch (rnd() % 4) {
    case 0: snprintf(out, 24, "%lld", (long long)(rnd() % 200) - 100); break;
    case 1: snprintf(out, 24, "%lld", (long long)(int64_t)rnd()); break;
    case 2: snprintf(out, 24, "v%llu", (unsigned long long)(rnd() % 1000)); break;
    default: out[0] = '\0'; break;
    }
}

static void check_model(unsigned char *lp, const struct model *m)
{
    cr_assert_eq(lp_length(lp), (unsigned long)m->n);
    cr_assert(lp_validate(lp, lp_bytes(lp), NULL));
    unsigned char *p = lp_first(lp);
    for (int i = 0; i < m->n; i++, p = lp_next(lp, p))
        expect_elem(p, m->s[i]);
    cr_assert_null(p);
    p = lp_last(lp);
    for (int i = m->n - 1; i >= 0; i--, p = lp_prev(lp, p))
        expect_elem(p, m->s[i]);
    cr_assert_null(p);
    if (m->n) {
        int i = (int)(rnd() % (unsigned)m->n);
        expect_elem(lp_seek(lp, i), m->s[i]);
        expect_elem(lp_seek(lp, i - m->n), m->s[i]);
        unsigned char *f = lp_find(lp, lp_first(lp), m->s[i], strlen(m->s[i]), 0);
        int first = 0;
        while (strcmp(m->s[first], m->s[i]) != 0)
            first++;
        cr_assert_eq(f, lp_seek(lp, first));
    }
    cr_assert_null(lp_seek(lp, m->n));
}

Test(listpack, random_edits_match_model, .init = setup)
{
    unsigned char *lp = lp_new(0);
    struct model *m = calloc(1, sizeof(*m));
    for (int round = 0; round < 3000; round++) {
        char v[24];
        gen_value(v);
        unsigned op = (unsigned)(rnd() % 6);
        if (m->n == 0 || (op <= 1 && m->n < MAXN)) {
            int at = m->n ? (int)(rnd() % (unsigned)(m->n + 1)) : 0;
            if (at == m->n)
                lp = lp_append(lp, v, strlen(v));
            else
                lp = lp_insert(lp, v, strlen(v), lp_seek(lp, at), LP_BEFORE, NULL);
            memmove(m->s[at + 1], m->s[at], sizeof(m->s[0]) * (size_t)(m->n - at));
            strcpy(m->s[at], v);
            m->n++;
        } else if (op == 2) {
            int at = (int)(rnd() % (unsigned)m->n);
            unsigned char *np;
            lp = lp_insert(lp, v, strlen(v), lp_seek(lp, at), LP_REPLACE, &np);
            expect_elem(np, v);
            strcpy(m->s[at], v);
        } else if (op == 3) {
            int at = (int)(rnd() % (unsigned)m->n);
            unsigned char *next;
            lp = lp_delete(lp, lp_seek(lp, at), &next);
            memmove(m->s[at], m->s[at + 1], sizeof(m->s[0]) * (size_t)(m->n - at - 1));
            m->n--;
            if (at < m->n)
                expect_elem(next, m->s[at]);
            else
                cr_assert_null(next);
        } else if (op == 4) {
            int at = (int)(rnd() % (unsigned)m->n);
            int num = (int)(rnd() % 4);
            lp = lp_delete_range(lp, at, (unsigned long)num);
            if (num > m->n - at)
                num = m->n - at;
            memmove(m->s[at], m->s[at + num], sizeof(m->s[0]) * (size_t)(m->n - at - num));
            m->n -= num;
        } else if (m->n < MAXN) {
            lp = lp_prepend(lp, v, strlen(v));
            memmove(m->s[1], m->s[0], sizeof(m->s[0]) * (size_t)m->n);
            strcpy(m->s[0], v);
            m->n++;
        }
        if (round % 50 == 0)
            check_model(lp, m);
    }
    check_model(lp, m);
    unsigned char *copy = lp_dup(lp);
    lp = lp_merge(lp, copy);
    cr_assert_eq(lp_length(lp), (unsigned long)m->n * 2);
    if (m->n)
        expect_elem(lp_seek(lp, m->n), m->s[0]);
    cr_assert(lp_validate(lp, lp_bytes(lp), NULL));
    lp_free(copy);
    lp_free(lp);
    free(m);
}

Test(listpack, count_beyond_u16_header, .init = setup)
{
    unsigned char *lp = lp_new(0);
    for (int i = 0; i < 70000; i++)
        lp = lp_append_int(lp, i % 100);
    cr_assert_eq(lp[4], 0xFF);
    cr_assert_eq(lp[5], 0xFF);
    cr_assert_eq(lp_length(lp), 70000);
    lp = lp_delete_range(lp, 0, 10000);
    cr_assert_eq(lp_length(lp), 60000);
    cr_assert_eq(lp[4] | lp[5] << 8, 60000);
    unsigned long n;
    cr_assert(lp_validate(lp, lp_bytes(lp), &n));
    cr_assert_eq(n, 60000);
    lp_free(lp);
}

Test(listpack, find_with_skip_walks_keys, .init = setup)
{
    unsigned char *lp = lp_new(0);
    const char *kv[] = {"f1", "v", "v", "f2", "f2", "12"};
    for (int i = 0; i < 6; i++)
        lp = lp_append(lp, kv[i], strlen(kv[i]));
    unsigned char *p = lp_find(lp, lp_first(lp), "v", 1, 1);
    expect_elem(p, "v");
    cr_assert_eq(p, lp_seek(lp, 2));
    cr_assert_null(lp_find(lp, lp_first(lp), "12", 2, 1)); /* only values match */
    expect_elem(lp_find(lp, lp_first(lp), "12", 2, 0), "12");
    cr_assert(lp_eq(lp_seek(lp, 5), "12", 2));
    cr_assert(!lp_eq(lp_seek(lp, 5), "012", 3));
    lp_free(lp);
}

Test(listpack, validate_rejects_corruption_without_crashing, .init = setup)
{
    unsigned char *lp = lp_new(0);
    for (int i = 0; i < 40; i++) {
        char v[24];
        gen_value(v);
        lp = lp_append(lp, v, strlen(v));
    }
    size_t n = lp_bytes(lp);
    cr_assert(lp_validate(lp, n, NULL));
    cr_assert(!lp_validate(lp, n - 1, NULL));
    cr_assert(!lp_validate(lp, 3, NULL));
    unsigned char *bad = malloc(n);
    int rejected = 0;
    for (int t = 0; t < 5000; t++) {
        memcpy(bad, lp, n);
        size_t at = 6 + rnd() % (n - 6);
        bad[at] ^= (unsigned char)(1u << (rnd() % 8));
        if (!lp_validate(bad, n, NULL)) {
            rejected++;
            continue;
        }
        /* accepted: every element must be readable in both directions */
        unsigned long cnt = 0;
        for (unsigned char *p = lp_first(bad); p; p = lp_next(bad, p))
            cnt++;
        for (unsigned char *p = lp_last(bad); p; p = lp_prev(bad, p))
            cnt--;
        cr_assert_eq(cnt, 0);
    }
    cr_assert_gt(rejected, 500); /* flips inside string bytes are undetectable */
    free(bad);
    lp_free(lp);
}

Test(listpack, ziplist_conversion, .init = setup)
{
    /* ["a", 5, 300, "hello"] in Redis's ziplist layout */
    const unsigned char zl[] = {
        27, 0, 0, 0, 19, 0, 0, 0, 4, 0,
        0x00, 0x01, 'a',
        0x03, 0xF6,
        0x02, 0xC0, 0x2C, 0x01,
        0x04, 0x05, 'h', 'e', 'l', 'l', 'o',
        0xFF,
    };
    unsigned char *lp = lp_from_ziplist(zl, sizeof(zl));
    cr_assert_not_null(lp);
    cr_assert_eq(lp_length(lp), 4);
    expect_elem(lp_seek(lp, 0), "a");
    expect_elem(lp_seek(lp, 1), "5");
    expect_elem(lp_seek(lp, 2), "300");
    expect_elem(lp_seek(lp, 3), "hello");
    lp_free(lp);
    unsigned char broken[sizeof(zl)];
    memcpy(broken, zl, sizeof(zl));
    broken[20] = 0x40; /* string length overruns the end */
    cr_assert_null(lp_from_ziplist(broken, sizeof(broken)));
    cr_assert_null(lp_from_ziplist(zl, sizeof(zl) - 1));
}
