/* tests/unit/test_t_set.c — the set encodings: Redis's intset byte layout,
 * upgrades and integrity checks (shard/intset.h); the lean string set's
 * add/remove/lookup, uniform sampling and SSCAN guarantees across resizes
 * (shard/strset.h); conversions between them and the RDB codec, including
 * corrupt payloads refused without a crash (shard/t_set.h, set_type_ops). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "io/buf.h"
#include "shard/intset.h"
#include "shard/memory.h"
#include "shard/object.h"
#include "shard/rdb.h"
#include "shard/strset.h"
#include "shard/t_set.h"
#include "shard/types.h"

static void setup(void) { smem_thread_init(); }

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* ---------- intset ---------- */

Test(intset, layout_is_redis_bytes, .init = setup)
{
    bool added;
    uint8_t *is = intset_new();
    is = intset_add(is, 2, &added);
    cr_assert(added);
    is = intset_add(is, 1, &added);
    is = intset_add(is, 2, &added);
    cr_assert(!added);
    const uint8_t want[] = {2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0};
    cr_assert_eq(intset_blob_len(is), sizeof(want));
    cr_assert_arr_eq(is, want, sizeof(want));
    intset_free(is);
}

Test(intset, upgrades_keep_order, .init = setup)
{
    bool added;
    uint8_t *is = intset_new();
    is = intset_add(is, 5, &added);
    is = intset_add(is, -3, &added);
    is = intset_add(is, 70000, &added); /* int32 */
    cr_assert_eq(intset_encoding(is), INTSET_ENC_INT32);
    is = intset_add(is, -5000000000ll, &added); /* int64, goes first */
    cr_assert_eq(intset_encoding(is), INTSET_ENC_INT64);
    is = intset_add(is, INT64_MAX, &added);
    int64_t want[] = {-5000000000ll, -3, 5, 70000, INT64_MAX};
    cr_assert_eq(intset_len(is), 5);
    for (uint32_t i = 0; i < 5; i++)
        cr_assert_eq(intset_get(is, i), want[i]);
    cr_assert(intset_find(is, 70000));
    cr_assert(!intset_find(is, 4));
    cr_assert(intset_validate(is, intset_blob_len(is)));
    bool removed;
    is = intset_remove(is, 5, &removed);
    cr_assert(removed);
    is = intset_remove(is, 5, &removed);
    cr_assert(!removed);
    cr_assert_eq(intset_len(is), 4);
    cr_assert_eq(intset_get(is, 2), 70000);
    /* an upgrade is for good, as in Redis */
    cr_assert_eq(intset_encoding(is), INTSET_ENC_INT64);
    intset_free(is);
}

Test(intset, random_model, .init = setup)
{
    static bool in[2001];
    uint8_t *is = intset_new();
    for (int i = 0; i < 20000; i++) {
        int64_t v = (int64_t)(rnd() % 2001) - 1000;
        bool changed;
        if (rnd() & 1) {
            is = intset_add(is, v, &changed);
            cr_assert_eq(changed, !in[v + 1000]);
            in[v + 1000] = true;
        } else {
            is = intset_remove(is, v, &changed);
            cr_assert_eq(changed, in[v + 1000]);
            in[v + 1000] = false;
        }
    }
    uint32_t k = 0;
    for (int v = -1000; v <= 1000; v++)
        if (in[v + 1000])
            cr_assert_eq(intset_get(is, k++), v);
    cr_assert_eq(k, intset_len(is));
    intset_free(is);
}

Test(intset, validation_refuses_bad_blobs, .init = setup)
{
    const uint8_t ok[] = {2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0};
    cr_assert(intset_validate(ok, sizeof(ok)));
    const uint8_t badenc[] = {3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0};
    cr_assert(!intset_validate(badenc, sizeof(badenc)));
    const uint8_t badlen[] = {2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 2, 0};
    cr_assert(!intset_validate(badlen, sizeof(badlen)));
    const uint8_t unsorted[] = {2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0};
    cr_assert(!intset_validate(unsorted, sizeof(unsorted)));
    const uint8_t dup[] = {2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 1, 0};
    cr_assert(!intset_validate(dup, sizeof(dup)));
    const uint8_t empty[] = {2, 0, 0, 0, 0, 0, 0, 0};
    cr_assert(!intset_validate(empty, sizeof(empty)));
    cr_assert(!intset_validate(ok, 5));
    const uint8_t huge[] = {8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0};
    cr_assert(!intset_validate(huge, sizeof(huge)));
}

/* ---------- strset ---------- */

static size_t fmt(char *b, int i) { return (size_t)sprintf(b, "member:%d", i); }

Test(strset, add_remove_contains, .init = setup)
{
    struct strset *s = strset_new(0);
    char b[32];
    for (int i = 0; i < 5000; i++)
        cr_assert(strset_add(&s, b, fmt(b, i)));
    cr_assert(!strset_add(&s, b, fmt(b, 10)));
    cr_assert(strset_add(&s, "", 0)); /* the empty string is a member like any other */
    cr_assert(strset_contains(s, "", 0));
    cr_assert_eq(strset_count(s), 5001);
    for (int i = 0; i < 5000; i += 2)
        cr_assert(strset_remove(&s, b, fmt(b, i)));
    for (int i = 0; i < 5000; i++)
        cr_assert_eq(strset_contains(s, b, fmt(b, i)), i % 2 == 1);
    for (int i = 1; i < 5000; i += 2)
        cr_assert(strset_remove(&s, b, fmt(b, i)));
    cr_assert(strset_remove(&s, "", 0));
    cr_assert_eq(strset_count(s), 0);
    cr_assert_eq(strset_slots(s), 4); /* shrank back */
    strset_free(s);
}

Test(strset, random_sampling_reaches_everything, .init = setup)
{
    struct strset *s = strset_new(0);
    char b[32];
    int hits[30] = {0};
    for (int i = 0; i < 30; i++)
        strset_add(&s, b, fmt(b, i));
    for (int k = 0; k < 30000; k++) {
        const char *m;
        size_t n;
        strset_random(s, rnd, &m, &n);
        int i;
        cr_assert_eq(sscanf(m, "member:%d", &i), 1);
        hits[i]++;
    }
    for (int i = 0; i < 30; i++) /* expected 1000 each */
        cr_assert(hits[i] > 700 && hits[i] < 1300, "member %d drawn %d times", i, hits[i]);
    strset_free(s);
}

struct seen {
    int *count;
};

static void note(void *arg, const char *m, size_t n)
{
    struct seen *sn = arg;
    char b[32];
    memcpy(b, m, n);
    b[n] = 0;
    int i;
    if (sscanf(b, "member:%d", &i) == 1)
        sn->count[i]++;
}

/* Elements present from the start to the end of a scan are returned at
 * least once, however the table grows or shrinks between calls. */
static void scan_with_resizes(int start, int grow_to, int shrink_to)
{
    struct strset *s = strset_new(0);
    char b[32];
    static int count[20000];
    memset(count, 0, sizeof(count));
    for (int i = 0; i < start; i++)
        strset_add(&s, b, fmt(b, i));
    struct seen sn = {count};
    uint64_t cur = 0;
    int step = 0;
    do {
        cur = strset_scan(s, cur, note, &sn);
        step++;
        if (step == 3)
            for (int i = start; i < grow_to; i++) /* grow mid-scan */
                strset_add(&s, b, fmt(b, i));
        if (step == 40)
            for (int i = shrink_to; i < grow_to; i++) /* then shrink, sparing the first members */
                strset_remove(&s, b, fmt(b, i));
    } while (cur);
    for (int i = 0; i < (start < shrink_to ? start : shrink_to); i++)
        cr_assert(count[i] >= 1, "member %d missed", i);
    strset_free(s);
}

Test(strset, scan_guarantee_across_resizes, .init = setup)
{
    scan_with_resizes(100, 5000, 50);
    scan_with_resizes(1000, 1000, 10);
    scan_with_resizes(8, 3000, 8);
}

Test(strset, scan_without_changes_returns_each_once, .init = setup)
{
    struct strset *s = strset_new(0);
    char b[32];
    static int count[3000];
    memset(count, 0, sizeof(count));
    for (int i = 0; i < 3000; i++)
        strset_add(&s, b, fmt(b, i));
    struct seen sn = {count};
    uint64_t cur = 0;
    do
        cur = strset_scan(s, cur, note, &sn);
    while (cur);
    for (int i = 0; i < 3000; i++)
        cr_assert_eq(count[i], 1);
    strset_free(s);
}

/* ---------- conversions and the RDB codec ---------- */

static struct type_limits lim(long long max_intset)
{
    struct type_limits l = *type_limits();
    l.set_max_intset_entries = max_intset;
    return l;
}

Test(set, intset_until_non_integer_or_limit, .init = setup)
{
    struct type_limits l = lim(4);
    type_limits_set(&l);
    struct entry *e = set_entry_new("k", 1, "1", 1, 0);
    cr_assert_eq(e->enc, OBJ_ENC_INTSET);
    for (int i = 0; i < 4; i++) {
        char b[8];
        set_add(e, b, (size_t)sprintf(b, "%d", i));
    }
    cr_assert_eq(e->enc, OBJ_ENC_INTSET);
    set_add(e, "4", 1);
    cr_assert_eq(e->enc, OBJ_ENC_HT);
    cr_assert(set_has(e, "0", 1) && set_has(e, "4", 1));
    entry_free(e);

    e = set_entry_new("k", 1, "7", 1, 0);
    set_add(e, "7", 1);
    set_add(e, "x", 1);
    cr_assert_eq(e->enc, OBJ_ENC_HT);
    cr_assert_eq(set_size(e), 2);
    entry_free(e);

    /* not canonical integers stay strings */
    e = set_entry_new("k", 1, "07", 2, 0);
    cr_assert_eq(e->enc, OBJ_ENC_HT);
    entry_free(e);
    l = lim(512);
    type_limits_set(&l);
}

static struct entry *round_trip(struct entry *e)
{
    struct buf b;
    buf_init(&b);
    cr_assert(rdb_value_image(e, &b));
    struct entry *n = rdb_entry_from_image("k", 1, b.data, b.len);
    buf_free(&b);
    return n;
}

Test(set, rdb_round_trip_both_encodings, .init = setup)
{
    struct entry *e = set_entry_new_intset("k", 1);
    for (int i = -300; i < 200; i += 3) {
        char b[8];
        set_add(e, b, (size_t)sprintf(b, "%d", i * 1000));
    }
    struct entry *n = round_trip(e);
    cr_assert_not_null(n);
    cr_assert_eq(n->enc, OBJ_ENC_INTSET);
    cr_assert_eq(intset_blob_len(n->val.ptr), intset_blob_len(e->val.ptr));
    cr_assert_arr_eq(n->val.ptr, e->val.ptr, intset_blob_len(e->val.ptr));
    entry_free(n);
    set_add(e, "str", 3);
    n = round_trip(e);
    cr_assert_eq(n->enc, OBJ_ENC_HT);
    cr_assert_eq(set_size(n), set_size(e));
    cr_assert(set_has(n, "str", 3) && set_has(n, "-300000", 7));
    entry_free(n);
    entry_free(e);
}

Test(set, rdb_load_chooses_encoding_by_limit, .init = setup)
{
    struct entry *e = set_entry_new_intset("k", 1);
    for (int i = 0; i < 10; i++) {
        char b[8];
        set_add(e, b, (size_t)sprintf(b, "%d", i));
    }
    struct type_limits l = lim(5);
    type_limits_set(&l);
    struct entry *n = round_trip(e); /* SET_INTSET of 10 > 5: a hashtable */
    cr_assert_eq(n->enc, OBJ_ENC_HT);
    cr_assert_eq(set_size(n), 10);
    struct entry *back = round_trip(n); /* SET of 10 integers > 5: hashtable */
    cr_assert_eq(back->enc, OBJ_ENC_HT);
    entry_free(back);
    l = lim(512);
    type_limits_set(&l);
    back = round_trip(n); /* SET of integers within the limit: intset */
    cr_assert_eq(back->enc, OBJ_ENC_INTSET);
    entry_free(back);
    entry_free(n);
    entry_free(e);
}

/* type byte + value bytes, as rdb_entry_from_image takes them */
static struct entry *load(unsigned type, const void *blob, size_t n)
{
    struct buf b;
    buf_init(&b);
    buf_appendc(&b, (char)type);
    buf_append(&b, blob, n);
    struct entry *e = rdb_entry_from_image("k", 1, b.data, b.len);
    buf_free(&b);
    return e;
}

Test(set, corrupt_payloads_are_refused, .init = setup)
{
    /* intset blob as a string: length byte then the bytes */
    const uint8_t unsorted[] = {12, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0};
    cr_assert_null(load(RDB_TYPE_SET_INTSET, unsorted, sizeof(unsorted)));
    const uint8_t badenc[] = {12, 5, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0};
    cr_assert_null(load(RDB_TYPE_SET_INTSET, badenc, sizeof(badenc)));
    const uint8_t short_len[] = {12, 2, 0, 0, 0, 9, 0, 0, 0, 1, 0, 2, 0};
    cr_assert_null(load(RDB_TYPE_SET_INTSET, short_len, sizeof(short_len)));
    const uint8_t truncated[] = {12, 2, 0, 0, 0, 2, 0};
    cr_assert_null(load(RDB_TYPE_SET_INTSET, truncated, sizeof(truncated)));
    const uint8_t good[] = {12, 2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0};
    struct entry *e = load(RDB_TYPE_SET_INTSET, good, sizeof(good));
    cr_assert_not_null(e);
    cr_assert_eq(set_size(e), 2);
    entry_free(e);
    /* plain set with a duplicate member, and one cut short */
    const uint8_t dup[] = {2, 1, 'a', 1, 'a'};
    cr_assert_null(load(RDB_TYPE_SET, dup, sizeof(dup)));
    const uint8_t dupint[] = {2, 0xc0, 5, 0xc0, 5};
    cr_assert_null(load(RDB_TYPE_SET, dupint, sizeof(dupint)));
    const uint8_t cut[] = {3, 1, 'a', 1, 'b'};
    cr_assert_null(load(RDB_TYPE_SET, cut, sizeof(cut)));
    const uint8_t mixed[] = {3, 0xc0, 5, 1, 'b', 0xc0, 7};
    e = load(RDB_TYPE_SET, mixed, sizeof(mixed));
    cr_assert_not_null(e);
    cr_assert_eq(e->enc, OBJ_ENC_HT);
    cr_assert(set_has(e, "5", 1) && set_has(e, "b", 1) && set_has(e, "7", 1));
    entry_free(e);
}

Test(set, memory_counts_every_allocation, .init = setup)
{
    int64_t before = smem_used();
    struct entry *e = set_entry_new("k", 1, "a", 1, 10);
    char b[32];
    for (int i = 0; i < 10; i++)
        set_add(e, b, fmt(b, i));
    size_t mem = set_type_ops.memory(e->val.ptr, e->enc);
    cr_assert(mem > 10 * 8 && mem < 400, "%zu bytes", mem);
    entry_free(e);
    cr_assert_eq(smem_used(), before);
}
