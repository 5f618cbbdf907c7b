/* tests/unit/test_hll_repr.c — shard/hll.c: the hash and register pattern, dense
 * register access, sparse updates (byte-for-byte as redis-server builds
 * them), promotion, sparse/dense agreement of the estimate, merging,
 * validation and corrupt-input detection. */
#include "shard/hll.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growable sparse-then-dense HLL, as a command would keep one. */
struct hll {
    uint8_t *p;
    size_t len, cap;
};

static void hll_new(struct hll *h)
{
    h->cap = 64;
    h->p = malloc(h->cap);
    hll_init_sparse(h->p);
    h->len = HLL_SPARSE_EMPTY_SIZE;
}

static int hll_add(struct hll *h, const void *ele, size_t n, long long max_bytes)
{
    long reg;
    uint8_t count = (uint8_t)hll_pattern(ele, n, &reg);
    if (hll_encoding(h->p) == HLL_DENSE)
        return hll_dense_set(h->p + HLL_HDR_SIZE, reg, count);
    if (h->cap < h->len + HLL_SPARSE_SLACK) {
        h->cap = h->len * 2 + HLL_SPARSE_SLACK;
        h->p = realloc(h->p, h->cap);
    }
    int r = hll_sparse_set(h->p, &h->len, reg, count, max_bytes);
    if (r != HLL_SET_PROMOTE)
        return r;
    uint8_t *d = malloc(HLL_DENSE_SIZE);
    cr_assert(hll_sparse_to_dense(h->p, h->len, d));
    free(h->p);
    h->p = d;
    h->len = h->cap = HLL_DENSE_SIZE;
    return hll_dense_set(h->p + HLL_HDR_SIZE, reg, count);
}

static void add_str(struct hll *h, const char *s) { hll_add(h, s, strlen(s), 3000); }

Test(hll, empty_sparse_layout)
{
    struct hll h;
    hll_new(&h);
    static const uint8_t want[] = {'H', 'Y', 'L', 'L', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xff};
    cr_assert_eq(h.len, sizeof(want));
    cr_assert_arr_eq(h.p, want, sizeof(want));
    cr_assert(hll_valid(h.p, h.len));
    cr_assert_eq(hll_count(h.p, h.len, NULL), 0);
    free(h.p);
}

/* redis-server 7.0: PFADD h a b c d e f g, then GET h */
Test(hll, sparse_bytes_match_redis)
{
    static const uint8_t want[] = {
        0x48, 0x59, 0x4c, 0x4c, 0x01, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x46, 0x6d, 0x80, 0x56, 0x0c, 0x80, 0x44, 0x3c, 0x84, 0x38,
        0x80, 0x50, 0xb1, 0x84, 0x49, 0x8c, 0x80, 0x42, 0x6d, 0x80, 0x42, 0x5a};
    struct hll h;
    hll_new(&h);
    for (const char *s = "abcdefg"; *s; s++) {
        char e[2] = {*s, 0};
        cr_assert_eq(hll_add(&h, e, 1, 3000), 1);
    }
    uint64_t card = hll_count(h.p, h.len, NULL);
    cr_assert_eq(card, 7);
    hll_cache_set(h.p, card);
    cr_assert_eq(h.len, sizeof(want));
    cr_assert_arr_eq(h.p, want, sizeof(want));
    struct buf out;
    buf_init(&out);
    hll_sparse_describe(h.p, h.len, &out);
    buf_appendc(&out, 0);
    cr_assert_str_eq(out.data, "Z:1646 v:1,1 Z:5645 v:1,1 Z:1085 v:2,1 z:57 v:1,1 Z:4274 v:2,1 "
                               "Z:2445 v:1,1 Z:622 v:1,1 Z:603");
    buf_free(&out);
    free(h.p);
}

Test(hll, adding_again_changes_nothing)
{
    struct hll h;
    hll_new(&h);
    add_str(&h, "x");
    size_t len = h.len;
    cr_assert_eq(hll_add(&h, "x", 1, 3000), 0);
    cr_assert_eq(h.len, len);
    free(h.p);
}

Test(hll, pattern_bounds)
{
    for (int i = 0; i < 100000; i++) {
        char s[16];
        long reg;
        int n = snprintf(s, sizeof(s), "%d", i);
        int count = hll_pattern(s, (size_t)n, &reg);
        cr_assert(reg >= 0 && reg < HLL_REGISTERS);
        cr_assert(count >= 1 && count <= HLL_Q + 1);
    }
}

Test(hll, murmur_tail_lengths_differ)
{
    /* every tail length 0..7 takes a different path; equal prefixes must not collide */
    const char *s = "0123456789abcdef";
    uint64_t seen[17];
    for (size_t n = 0; n <= 16; n++) {
        seen[n] = hll_murmur64a(s, n, 0xadc83b19u);
        for (size_t m = 0; m < n; m++)
            cr_assert_neq(seen[m], seen[n]);
    }
}

Test(hll, dense_registers_keep_neighbours)
{
    uint8_t *regs = calloc(1, HLL_DENSE_SIZE - HLL_HDR_SIZE);
    uint8_t want[HLL_REGISTERS];
    srand(7);
    for (int round = 0; round < 20; round++) {
        for (long i = 0; i < HLL_REGISTERS; i++) {
            want[i] = (uint8_t)(rand() & 63);
            hll_dense_put(regs, i, want[i]);
        }
        for (long i = 0; i < HLL_REGISTERS; i++)
            cr_assert_eq(hll_dense_get(regs, i), want[i], "register %ld", i);
    }
    free(regs);
}

Test(hll, sparse_and_dense_agree)
{
    for (int n = 1; n < 4000; n += 97) {
        struct hll s;
        hll_new(&s);
        uint8_t *d = calloc(1, HLL_DENSE_SIZE);
        memcpy(d, "HYLL", 4);
        for (int i = 0; i < n; i++) {
            char e[32];
            int len = snprintf(e, sizeof(e), "el-%d-%d", n, i);
            long reg;
            uint8_t count = (uint8_t)hll_pattern(e, (size_t)len, &reg);
            hll_dense_set(d + HLL_HDR_SIZE, reg, count);
            hll_add(&s, e, (size_t)len, 1 << 30); /* never promote for size */
        }
        bool invalid = false;
        cr_assert_eq(hll_count(s.p, s.len, &invalid), hll_count(d, HLL_DENSE_SIZE, NULL), "n=%d", n);
        cr_assert_not(invalid);
        uint8_t *conv = malloc(HLL_DENSE_SIZE);
        if (hll_encoding(s.p) == HLL_SPARSE) {
            cr_assert(hll_sparse_to_dense(s.p, s.len, conv));
            cr_assert_arr_eq(conv + HLL_HDR_SIZE, d + HLL_HDR_SIZE, HLL_DENSE_SIZE - HLL_HDR_SIZE);
        }
        free(conv);
        free(d);
        free(s.p);
    }
}

Test(hll, promotes_at_max_bytes)
{
    struct hll h;
    hll_new(&h);
    int i = 0;
    while (hll_encoding(h.p) == HLL_SPARSE) {
        char e[16];
        int n = snprintf(e, sizeof(e), "%d", i++);
        cr_assert_leq(h.len, 300);
        hll_add(&h, e, (size_t)n, 300);
    }
    cr_assert_eq(h.len, HLL_DENSE_SIZE);
    cr_assert(hll_valid(h.p, h.len));
    free(h.p);
}

Test(hll, estimate_error_is_small)
{
    struct hll h;
    hll_new(&h);
    for (uint64_t i = 1; i <= 100000; i++)
        hll_add(&h, &i, sizeof(i), 3000);
    uint64_t c = hll_count(h.p, h.len, NULL);
    cr_assert(c > 97000 && c < 103000, "count %lu", (unsigned long)c);
    free(h.p);
}

Test(hll, cache_bits)
{
    uint8_t p[HLL_SPARSE_EMPTY_SIZE];
    hll_init_sparse(p);
    uint64_t v;
    cr_assert(hll_cache_get(p, &v));
    cr_assert_eq(v, 0);
    hll_cache_set(p, 0x123456789aULL);
    cr_assert(hll_cache_get(p, &v));
    cr_assert_eq(v, 0x123456789aULL);
    hll_cache_invalidate(p);
    cr_assert_not(hll_cache_get(p, &v));
    cr_assert_eq(p[15], 0x80);
}

Test(hll, validation)
{
    uint8_t p[HLL_SPARSE_EMPTY_SIZE];
    hll_init_sparse(p);
    cr_assert(hll_valid(p, sizeof(p)));
    cr_assert_not(hll_valid(p, HLL_HDR_SIZE - 1));
    p[4] = 2;
    cr_assert_not(hll_valid(p, sizeof(p)));
    p[4] = HLL_DENSE; /* dense must be exactly HLL_DENSE_SIZE */
    cr_assert_not(hll_valid(p, sizeof(p)));
    p[4] = HLL_SPARSE;
    p[0] = 'h';
    cr_assert_not(hll_valid(p, sizeof(p)));
}

Test(hll, corrupt_sparse_detected)
{
    struct hll h;
    hll_new(&h);
    add_str(&h, "a");
    /* extra opcodes past 16384 registers */
    h.p = realloc(h.p, h.len + 8);
    memcpy(h.p + h.len, "hello", 5);
    size_t len = h.len + 5;
    bool invalid = false;
    hll_count(h.p, len, &invalid);
    cr_assert(invalid);
    uint8_t max[HLL_REGISTERS] = {0};
    cr_assert_not(hll_merge_max(max, h.p, len));
    uint8_t *d = malloc(HLL_DENSE_SIZE);
    cr_assert_not(hll_sparse_to_dense(h.p, len, d));
    /* too few registers */
    invalid = false;
    hll_count(h.p, h.len - 1, &invalid);
    cr_assert(invalid);
    free(d);
    free(h.p);
}

Test(hll, truncated_sparse_set_is_safe)
{
    /* a lone XZERO byte at the end: set must not write past len + slack */
    uint8_t p[HLL_HDR_SIZE + 1 + HLL_SPARSE_SLACK];
    hll_init_sparse(p);
    size_t len = HLL_HDR_SIZE + 1;
    int r = hll_sparse_set(p, &len, 5, 3, 3000);
    cr_assert(r == HLL_SET_UPDATED || r == HLL_SET_INVALID);
    cr_assert_leq(len, sizeof(p));
    /* no opcodes at all */
    len = HLL_HDR_SIZE;
    cr_assert_eq(hll_sparse_set(p, &len, 0, 1, 3000), HLL_SET_INVALID);
}

Test(hll, merge_takes_maximum)
{
    struct hll a, b;
    hll_new(&a);
    hll_new(&b);
    for (int i = 0; i < 12000; i++) {
        char e[16];
        int n = snprintf(e, sizeof(e), "%d", i);
        hll_add(i % 2 ? &a : &b, e, (size_t)n, 3000);
    }
    cr_assert_eq(hll_encoding(b.p), HLL_DENSE);
    uint8_t *max = calloc(1, HLL_REGISTERS);
    cr_assert(hll_merge_max(max, a.p, a.len));
    cr_assert(hll_merge_max(max, b.p, b.len));
    int histo[HLL_HISTO] = {0};
    hll_raw_histogram(max, histo);
    uint64_t merged = hll_estimate(histo);
    cr_assert(merged > 11400 && merged < 12600, "merged %lu", (unsigned long)merged);
    free(max);
    free(a.p);
    free(b.p);
}
