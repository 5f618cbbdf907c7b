/* tests/unit/test_table.c — the shard data structures: shard/table.h (insert,
 * find, unlink, growth and shrink, the reverse-binary scan across resizes,
 * random entries), shard/object.h (string encodings, expiry set/clear moving
 * the entry, reserve/raw/clone) and shard/keyspace.h (lazy expiry in ks_find,
 * the active expiry cycle, key and volatile counters, replace/take/delete,
 * flush and swap, memory accounting back to zero). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/slot.h"
#include "shard/keyspace.h"
#include "shard/memory.h"
#include "shard/object.h"
#include "shard/table.h"

static void setup(void) { smem_thread_init(); }

/* ---------- helpers ---------- */

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t keyf(char *buf, size_t cap, const char *prefix, int i)
{
    return (size_t)snprintf(buf, cap, "%s:%d", prefix, i);
}

static struct entry *tadd(struct table *t, const char *prefix, int i)
{
    char k[64];
    size_t n = keyf(k, sizeof(k), prefix, i);
    cr_assert_null(table_find(t, k, n, key_hash64(k, n)), "%s already present", k);
    struct entry *e = entry_new_string(k, n, "value", 5);
    table_insert(t, e, key_hash64(k, n));
    return e;
}

static struct entry *tfind(struct table *t, const char *prefix, int i)
{
    char k[64];
    size_t n = keyf(k, sizeof(k), prefix, i);
    struct entry **link = table_find(t, k, n, key_hash64(k, n));
    return link ? *link : NULL;
}

static void tdel(struct table *t, const char *prefix, int i)
{
    char k[64];
    size_t n = keyf(k, sizeof(k), prefix, i);
    struct entry **link = table_find(t, k, n, key_hash64(k, n));
    cr_assert_not_null(link, "%s missing", k);
    struct entry *e = table_unlink(t, link);
    cr_assert_eq(e->keylen, n);
    cr_assert_eq(memcmp(entry_key(e), k, n), 0);
    entry_free(e);
}

/* Structural invariants: power-of-two size, every entry in its bucket,
 * count and volatile_count match the chains. */
static void check_table(struct table *t)
{
    cr_assert_geq(t->size, 4);
    cr_assert_eq(t->size & (t->size - 1), 0, "size %u not a power of two", t->size);
    uint32_t n = 0, v = 0;
    for (uint32_t b = 0; b < t->size; b++) {
        for (struct entry *e = t->buckets[b]; e; e = e->next) {
            cr_assert_eq(e->hash & (t->size - 1), b, "entry in the wrong bucket");
            cr_assert_eq(e->hash, (uint32_t)key_hash64(entry_key(e), e->keylen));
            n++;
            if (e->flags & E_EXPIRE)
                v++;
        }
    }
    cr_assert_eq(n, t->count, "chains hold %u entries, count says %u", n, t->count);
    cr_assert_eq(v, t->volatile_count, "chains hold %u volatile, volatile_count says %u", v, t->volatile_count);
}

/* ---------- table ---------- */

TestSuite(table, .init = setup);

Test(table, hash_is_deterministic_and_uses_all_bytes)
{
    cr_assert_eq(key_hash64("abc", 3), key_hash64("abc", 3));
    cr_assert_neq(key_hash64("abc", 3), key_hash64("abd", 3));
    cr_assert_neq(key_hash64("abc", 3), key_hash64("abc", 2));
    cr_assert_neq(key_hash64("0123456789abcdefX", 17), key_hash64("0123456789abcdefY", 17));
    const char z1[] = {0, 0, 0}, z2[] = {0, 0};
    cr_assert_neq(key_hash64(z1, 3), key_hash64(z2, 2));
    (void)key_hash64("", 0);
}

Test(table, insert_find_unlink_many)
{
    struct table *t = table_new();
    cr_assert_eq(t->count, 0);
    cr_assert_eq(t->size, 4);
    const int n = 20000;
    uint32_t last_size = t->size;
    for (int i = 0; i < n; i++) {
        tadd(t, "key", i);
        cr_assert_geq(t->size, last_size, "table shrank on insert");
        last_size = t->size;
        cr_assert_leq(t->count, t->size, "load factor above 1 after insert");
    }
    cr_assert_eq(t->count, (uint32_t)n);
    check_table(t);
    for (int i = 0; i < n; i++) {
        struct entry *e = tfind(t, "key", i);
        cr_assert_not_null(e, "key:%d not found", i);
        char k[64];
        size_t kl = keyf(k, sizeof(k), "key", i);
        cr_assert_eq(e->keylen, kl);
        cr_assert_eq(memcmp(entry_key(e), k, kl), 0);
    }
    for (int i = 0; i < 1000; i++)
        cr_assert_null(tfind(t, "other", i));
    /* a key that is a prefix of another is a different key */
    cr_assert_null(tfind(t, "ke", 1));

    for (int i = 0; i < n; i += 2)
        tdel(t, "key", i);
    cr_assert_eq(t->count, (uint32_t)n / 2);
    check_table(t);
    for (int i = 0; i < n; i++) {
        if (i % 2)
            cr_assert_not_null(tfind(t, "key", i));
        else
            cr_assert_null(tfind(t, "key", i));
    }
    table_free(t);
}

Test(table, shrink_when_sparse)
{
    struct table *t = table_new();
    const int n = 10000;
    for (int i = 0; i < n; i++)
        tadd(t, "s", i);
    uint32_t big = t->size;
    cr_assert_geq(big, (uint32_t)n);
    /* not sparse enough: no shrink */
    table_maybe_shrink(t);
    cr_assert_eq(t->size, big);
    for (int i = 0; i < n - 100; i++)
        tdel(t, "s", i);
    table_maybe_shrink(t);
    cr_assert_lt(t->size, big);
    cr_assert(t->count >= t->size / 4 || t->size == 4, "shrunk to %u for %u keys", t->size, t->count);
    check_table(t);
    for (int i = n - 100; i < n; i++)
        cr_assert_not_null(tfind(t, "s", i));
    for (int i = n - 100; i < n; i++)
        tdel(t, "s", i);
    table_maybe_shrink(t);
    cr_assert_eq(t->size, 4);
    cr_assert_eq(t->count, 0);
    /* and it grows again */
    for (int i = 0; i < 100; i++)
        tadd(t, "again", i);
    check_table(t);
    for (int i = 0; i < 100; i++)
        cr_assert_not_null(tfind(t, "again", i));
    table_free(t);
}

Test(table, binary_keys)
{
    struct table *t = table_new();
    const char a[] = {'k', 0, 'x'}, b[] = {'k', 0, 'y'}, c[] = {'k'};
    struct entry *ea = entry_new_string(a, 3, "1", 1);
    struct entry *eb = entry_new_string(b, 3, "2", 1);
    struct entry *ec = entry_new_string(c, 1, "3", 1);
    table_insert(t, ea, key_hash64(a, 3));
    table_insert(t, eb, key_hash64(b, 3));
    table_insert(t, ec, key_hash64(c, 1));
    cr_assert_eq(*table_find(t, a, 3, key_hash64(a, 3)), ea);
    cr_assert_eq(*table_find(t, b, 3, key_hash64(b, 3)), eb);
    cr_assert_eq(*table_find(t, c, 1, key_hash64(c, 1)), ec);
    cr_assert_null(table_find(t, a, 2, key_hash64(a, 2)));
    table_free(t);
}

struct visits {
    int nstable;
    int *stable;   /* visits per stable key */
    int other;
};

static void count_visit(struct entry *e, void *arg)
{
    struct visits *v = arg;
    char k[64];
    size_t n = e->keylen < sizeof(k) - 1 ? e->keylen : sizeof(k) - 1;
    memcpy(k, entry_key(e), n);
    k[n] = 0;
    int i;
    if (sscanf(k, "stable:%d", &i) == 1) {
        cr_assert(i >= 0 && i < v->nstable);
        v->stable[i]++;
    } else {
        v->other++;
    }
}

Test(table, scan_stable_table_visits_each_once)
{
    struct table *t = table_new();
    struct visits v = {.nstable = 5000, .stable = calloc(5000, sizeof(int))};
    for (int i = 0; i < v.nstable; i++)
        tadd(t, "stable", i);
    uint64_t cursor = 0;
    int calls = 0;
    do {
        cursor = table_scan(t, cursor, count_visit, &v);
        calls++;
        cr_assert_leq(calls, (int)t->size, "scan does not end");
    } while (cursor);
    cr_assert_eq(calls, (int)t->size);
    for (int i = 0; i < v.nstable; i++)
        cr_assert_eq(v.stable[i], 1, "stable:%d visited %d times", i, v.stable[i]);
    free(v.stable);
    table_free(t);

    /* an empty table: one call, cursor back to 0 */
    t = table_new();
    uint64_t c = 0;
    int n = 0;
    do {
        c = table_scan(t, c, count_visit, &v);
        n++;
    } while (c && n < 100);
    cr_assert_eq(c, 0);
    cr_assert_eq(n, 4);
    table_free(t);
}

/* Keys present for the whole scan are seen at least once, while other keys
 * are inserted and deleted between calls so the table grows and shrinks in
 * the middle of the scan. */
static void scan_with_churn(uint64_t seed, int nstable, int churn)
{
    rng_state = seed;
    struct table *t = table_new();
    struct visits v = {.nstable = nstable, .stable = calloc((size_t)nstable, sizeof(int))};
    for (int i = 0; i < nstable; i++)
        tadd(t, "stable", i);
    int next_tmp = 0;  /* transient keys tmp:lo .. tmp:next_tmp-1 are present */
    int lo = 0;
    for (int i = 0; i < churn; i++)
        tadd(t, "tmp", next_tmp++);
    uint32_t sizes_seen_min = t->size, sizes_seen_max = t->size;
    uint64_t cursor = 0;
    int calls = 0;
    do {
        cursor = table_scan(t, cursor, count_visit, &v);
        calls++;
        cr_assert_lt(calls, 1000000, "scan does not end");
        uint64_t r = rnd() % 8;
        if (r == 0) {
            /* delete every transient key and shrink */
            while (lo < next_tmp)
                tdel(t, "tmp", lo++);
            table_maybe_shrink(t);
        } else if (r == 1) {
            /* a burst of inserts: grows */
            int burst = (int)(rnd() % (uint64_t)(churn + 1));
            for (int i = 0; i < burst; i++)
                tadd(t, "tmp", next_tmp++);
        } else if (r == 2 && lo < next_tmp) {
            int k = (int)(rnd() % (uint64_t)(next_tmp - lo)) + 1;
            for (int i = 0; i < k; i++)
                tdel(t, "tmp", lo++);
            table_maybe_shrink(t);
        }
        if (t->size < sizes_seen_min)
            sizes_seen_min = t->size;
        if (t->size > sizes_seen_max)
            sizes_seen_max = t->size;
    } while (cursor);
    check_table(t);
    for (int i = 0; i < nstable; i++)
        cr_assert_geq(v.stable[i], 1, "seed %llu: stable:%d never visited (sizes %u..%u)",
                      (unsigned long long)seed, i, sizes_seen_min, sizes_seen_max);
    cr_assert_lt(sizes_seen_min, sizes_seen_max, "the table never resized during the scan");
    free(v.stable);
    table_free(t);
}

Test(table, scan_across_grow_and_shrink)
{
    for (uint64_t seed = 1; seed <= 40; seed++)
        scan_with_churn(seed * 0x9E3779B97F4A7C15ull, 200, 3000);
    for (uint64_t seed = 41; seed <= 60; seed++)
        scan_with_churn(seed * 0x9E3779B97F4A7C15ull, 3, 500);
}

Test(table, scan_explicit_grow_then_shrink)
{
    struct table *t = table_new();
    struct visits v = {.nstable = 300, .stable = calloc(300, sizeof(int))};
    for (int i = 0; i < 300; i++)
        tadd(t, "stable", i);
    for (int i = 0; i < 3000; i++)
        tadd(t, "tmp", i);
    uint64_t cursor = 0;
    int calls = 0;
    do {
        cursor = table_scan(t, cursor, count_visit, &v);
        calls++;
        if (calls == 5) {
            uint32_t before = t->size;
            for (int i = 0; i < 3000; i++)
                tdel(t, "tmp", i);
            table_maybe_shrink(t);
            cr_assert_lt(t->size, before);
        } else if (calls == 20) {
            uint32_t before = t->size;
            for (int i = 0; i < 8000; i++)
                tadd(t, "tmp2", i);
            cr_assert_gt(t->size, before);
        }
        cr_assert_lt(calls, 100000);
    } while (cursor);
    for (int i = 0; i < 300; i++)
        cr_assert_geq(v.stable[i], 1, "stable:%d never visited", i);
    free(v.stable);
    table_free(t);
}

Test(table, random_entry)
{
    struct table *t = table_new();
    cr_assert_null(table_random(t, 12345));
    struct entry *only = tadd(t, "one", 0);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(table_random(t, rnd()), only);
    tdel(t, "one", 0);
    cr_assert_null(table_random(t, rnd()));

    const int n = 100;
    for (int i = 0; i < n; i++)
        tadd(t, "r", i);
    int seen[100] = {0};
    for (int i = 0; i < 100000; i++) {
        struct entry *e = table_random(t, rnd());
        cr_assert_not_null(e);
        int k;
        char key[32];
        memcpy(key, entry_key(e), e->keylen);
        key[e->keylen] = 0;
        cr_assert_eq(sscanf(key, "r:%d", &k), 1);
        cr_assert_eq(tfind(t, "r", k), e);
        seen[k]++;
    }
    for (int i = 0; i < n; i++)
        cr_assert_gt(seen[i], 0, "r:%d never returned", i);

    /* a sparse table (large, three entries, not shrunk) still finds them */
    for (int i = 0; i < 5000; i++)
        tadd(t, "sparse", i);
    for (int i = 0; i < n; i++)
        tdel(t, "r", i);
    for (int i = 3; i < 5000; i++)
        tdel(t, "sparse", i);
    cr_assert_gt(t->size, 1000);
    for (int i = 0; i < 1000; i++) {
        struct entry *e = table_random(t, rnd());
        cr_assert(e == tfind(t, "sparse", 0) || e == tfind(t, "sparse", 1) || e == tfind(t, "sparse", 2));
    }
    table_free(t);
}

/* ---------- objects ---------- */

TestSuite(object, .init = setup);

Test(object, string_encodings)
{
    struct entry *e = entry_new_string("k", 1, "12345", 5);
    cr_assert_eq(e->type, OBJ_STRING);
    cr_assert_eq(e->enc, ENC_INT);
    cr_assert_eq(e->val.ival, 12345);
    char tmp[32];
    size_t len;
    const char *s = entry_string(e, tmp, &len);
    cr_assert_eq(len, 5);
    cr_assert_eq(memcmp(s, "12345", 5), 0);
    cr_assert_eq(entry_string_len(e), 5);
    entry_free(e);

    /* not canonical integers stay strings */
    const char *notint[] = {"0123", "-0", "+1", " 1", "1 ", "", "99999999999999999999", "1a"};
    for (size_t i = 0; i < sizeof(notint) / sizeof(notint[0]); i++) {
        e = entry_new_string("k", 1, notint[i], strlen(notint[i]));
        cr_assert_neq(e->enc, ENC_INT, "'%s' stored as int", notint[i]);
        s = entry_string(e, tmp, &len);
        cr_assert_eq(len, strlen(notint[i]));
        cr_assert_eq(memcmp(s, notint[i], len), 0);
        entry_free(e);
    }
    e = entry_new_string("k", 1, "-9223372036854775808", 20);
    cr_assert_eq(e->enc, ENC_INT);
    cr_assert_eq(e->val.ival, INT64_MIN);
    s = entry_string(e, tmp, &len);
    cr_assert_eq(len, 20);
    cr_assert_eq(memcmp(s, "-9223372036854775808", 20), 0);
    entry_free(e);

    char v44[45], v45[46];
    memset(v44, 'a', 44);
    memset(v45, 'b', 45);
    e = entry_new_string("k", 1, v44, 44);
    cr_assert_eq(e->enc, ENC_EMBSTR);
    entry_free(e);
    e = entry_new_string("k", 1, v45, 45);
    cr_assert_eq(e->enc, ENC_RAW);
    cr_assert_eq(memcmp(entry_str(e), v45, 45), 0);
    entry_free(e);
}

Test(object, expire_set_update_clear_keeps_bytes)
{
    char val[1000];
    for (int i = 0; i < 1000; i++)
        val[i] = (char)('A' + i % 26);
    struct entry *e = entry_new_string("somekey", 7, val, sizeof(val));
    cr_assert_not(entry_has_expire(e));
    cr_assert_eq(entry_expire(e), -1);
    e = entry_set_expire(e, 1700000000123ll);
    cr_assert(entry_has_expire(e));
    cr_assert_eq(entry_expire(e), 1700000000123ll);
    cr_assert_eq(e->keylen, 7);
    cr_assert_eq(memcmp(entry_key(e), "somekey", 7), 0);
    cr_assert_eq(e->val.str.len, sizeof(val));
    cr_assert_eq(memcmp(entry_str(e), val, sizeof(val)), 0);
    e = entry_set_expire(e, 5);
    cr_assert_eq(entry_expire(e), 5);
    cr_assert_eq(memcmp(entry_key(e), "somekey", 7), 0);
    cr_assert_eq(memcmp(entry_str(e), val, sizeof(val)), 0);
    e = entry_set_expire(e, -1);
    cr_assert_not(entry_has_expire(e));
    cr_assert_eq(memcmp(entry_key(e), "somekey", 7), 0);
    cr_assert_eq(memcmp(entry_str(e), val, sizeof(val)), 0);
    /* clearing twice is harmless */
    e = entry_set_expire(e, -1);
    cr_assert_not(entry_has_expire(e));
    /* expire 0 is a time, not "clear" */
    e = entry_set_expire(e, 0);
    cr_assert(entry_has_expire(e));
    cr_assert_eq(entry_expire(e), 0);
    entry_free(e);

    e = entry_new_int("n", 1, -42);
    e = entry_set_expire(e, 77);
    cr_assert_eq(e->enc, ENC_INT);
    cr_assert_eq(e->val.ival, -42);
    cr_assert_eq(memcmp(entry_key(e), "n", 1), 0);
    e = entry_set_expire(e, -1);
    cr_assert_eq(e->val.ival, -42);
    entry_free(e);

    static int payload;
    e = entry_new_object("list", 4, 5 /* a type without operations */, 0, &payload);
    e = entry_set_expire(e, 9);
    cr_assert_eq(e->val.ptr, &payload);
    cr_assert_eq(memcmp(entry_key(e), "list", 4), 0);
    e = entry_set_expire(e, -1);
    cr_assert_eq(e->val.ptr, &payload);
    entry_free(e);
}

Test(object, reserve_make_raw_clone)
{
    struct entry *e = entry_new_string("k", 1, "100", 3);
    cr_assert_eq(e->enc, ENC_INT);
    e = entry_set_expire(e, 1234);
    e = entry_make_raw(e);
    cr_assert_eq(e->enc, ENC_RAW);
    cr_assert_eq(e->val.str.len, 3);
    cr_assert_eq(memcmp(entry_str(e), "100", 3), 0);
    cr_assert_eq(entry_expire(e), 1234);
    e = entry_reserve_str(e, 5000);
    cr_assert_geq(e->val.str.cap, 5000);
    cr_assert_eq(memcmp(entry_str(e), "100", 3), 0);
    memset(entry_str(e) + 3, 'z', 4997);
    e->val.str.len = 5000;
    cr_assert_eq(memcmp(entry_key(e), "k", 1), 0);
    cr_assert_eq(entry_expire(e), 1234);

    struct entry *c = entry_clone(e, "copy", 4);
    cr_assert_eq(c->keylen, 4);
    cr_assert_eq(memcmp(entry_key(c), "copy", 4), 0);
    cr_assert_eq(c->val.str.len, 5000);
    cr_assert_eq(memcmp(entry_str(c), entry_str(e), 5000), 0);
    entry_free(c);
    entry_free(e);

    e = entry_new_int("i", 1, 7);
    c = entry_clone(e, "j", 1);
    cr_assert_eq(c->enc, ENC_INT);
    cr_assert_eq(c->val.ival, 7);
    entry_free(c);
    entry_free(e);
}

/* ---------- keyspace ---------- */

static struct keyspace ks;
static unsigned all_slots[KS_SLOTS];

static void ks_setup(void)
{
    smem_thread_init();
    ks_init(&ks, 16);
    for (unsigned i = 0; i < KS_SLOTS; i++)
        all_slots[i] = i;
}

static void ks_teardown(void) { ks_destroy(&ks); }

TestSuite(keyspace, .init = ks_setup, .fini = ks_teardown);

static unsigned kslot(const char *k, size_t n) { return key_hash_slot(k, n); }

static struct entry *kadd(int db, const char *prefix, int i, int64_t expire_ms)
{
    char k[64];
    size_t n = keyf(k, sizeof(k), prefix, i);
    struct ks_ref ref;
    cr_assert_null(ks_find(&ks, db, kslot(k, n), k, n, 0, &ref));
    struct entry *e = entry_new_string(k, n, "v", 1);
    if (expire_ms >= 0)
        e = entry_set_expire(e, expire_ms);
    ks_add(&ks, db, kslot(k, n), e);
    return e;
}

static struct entry *kfind(int db, const char *prefix, int i, int64_t now, struct ks_ref *ref)
{
    char k[64];
    size_t n = keyf(k, sizeof(k), prefix, i);
    return ks_find(&ks, db, kslot(k, n), k, n, now, ref);
}

/* The db counters agree with the tables. */
static void check_counters(int db)
{
    uint64_t keys = 0, vol = 0;
    for (unsigned s = 0; s < KS_SLOTS; s++) {
        struct table *t = ks_slot_table(&ks, db, s);
        if (!t)
            continue;
        check_table(t);
        cr_assert_eq(ks_slot_count(&ks, db, s), t->count);
        keys += t->count;
        vol += t->volatile_count;
    }
    cr_assert_eq(ks_db_size(&ks, db), keys, "db %d: keys %llu, tables hold %llu", db,
                 (unsigned long long)ks_db_size(&ks, db), (unsigned long long)keys);
    cr_assert_eq(ks_db_volatile(&ks, db), vol, "db %d: volatile %llu, tables hold %llu", db,
                 (unsigned long long)ks_db_volatile(&ks, db), (unsigned long long)vol);
}

Test(keyspace, add_find_counts)
{
    for (int i = 0; i < 3000; i++)
        kadd(0, "a", i, -1);
    for (int i = 0; i < 100; i++)
        kadd(3, "b", i, -1);
    cr_assert_eq(ks_db_size(&ks, 0), 3000);
    cr_assert_eq(ks_db_size(&ks, 3), 100);
    cr_assert_eq(ks_db_size(&ks, 1), 0);
    for (int i = 0; i < 3000; i++)
        cr_assert_not_null(kfind(0, "a", i, 0, NULL));
    cr_assert_null(kfind(3, "a", 0, 0, NULL), "db 3 sees a key of db 0");
    cr_assert_null(kfind(1, "a", 0, 0, NULL));
    cr_assert_not_null(kfind(3, "b", 5, 0, NULL));
    check_counters(0);
    check_counters(3);
}

Test(keyspace, lazy_expiry_in_find)
{
    for (int i = 0; i < 100; i++)
        kadd(0, "x", i, i < 50 ? 1000 : -1);
    cr_assert_eq(ks_db_volatile(&ks, 0), 50);
    struct ks_ref ref;
    struct entry *e = kfind(0, "x", 1, 999, &ref);
    cr_assert_not_null(e);
    cr_assert_eq(*ref.link, e);
    cr_assert_eq(entry_expire(e), 1000);
    uint64_t expired0 = ks.stats.expired_keys;
    /* expired when expire <= now */
    cr_assert_null(kfind(0, "x", 1, 1000, &ref));
    cr_assert_null(ref.link);
    cr_assert_eq(ks.stats.expired_keys, expired0 + 1);
    cr_assert_eq(ks_db_size(&ks, 0), 99);
    cr_assert_eq(ks_db_volatile(&ks, 0), 49);
    /* gone for good, even looking back in time */
    cr_assert_null(kfind(0, "x", 1, 0, NULL));
    /* keys without expiry never expire */
    cr_assert_not_null(kfind(0, "x", 70, INT64_MAX, NULL));
    for (int i = 0; i < 50; i++)
        kfind(0, "x", i, 5000, NULL);
    cr_assert_eq(ks_db_size(&ks, 0), 50);
    cr_assert_eq(ks_db_volatile(&ks, 0), 0);
    cr_assert_eq(ks.stats.expired_keys, expired0 + 50);
    check_counters(0);
}

Test(keyspace, set_expire_moves_entry_and_counts)
{
    /* 200 keys in one slot: long chains, entries in the middle of them move */
    const char *tag = "{same}";
    char k[64];
    for (int i = 0; i < 200; i++) {
        size_t n = (size_t)snprintf(k, sizeof(k), "%s%d", tag, i);
        struct entry *e = entry_new_string(k, n, "payload-value", 13);
        ks_add(&ks, 0, kslot(k, n), e);
    }
    unsigned slot = kslot(tag, strlen(tag));
    cr_assert_eq(ks_slot_count(&ks, 0, slot), 200);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 200; i++) {
            size_t n = (size_t)snprintf(k, sizeof(k), "%s%d", tag, i);
            struct ks_ref ref;
            struct entry *e = ks_find(&ks, 0, slot, k, n, 0, &ref);
            cr_assert_not_null(e);
            int64_t when = round == 1 ? -1 : 100000 + i;
            struct entry *ne = ks_set_expire(&ks, 0, &ref, when);
            cr_assert_eq(*ref.link, ne);
            cr_assert_eq(entry_expire(ne), when < 0 ? -1 : when);
        }
        check_counters(0);
        cr_assert_eq(ks_db_volatile(&ks, 0), round == 1 ? 0 : 200);
        for (int i = 0; i < 200; i++) {
            size_t n = (size_t)snprintf(k, sizeof(k), "%s%d", tag, i);
            struct entry *e = ks_find(&ks, 0, slot, k, n, 0, NULL);
            cr_assert_not_null(e, "%s lost after expire change", k);
            cr_assert_eq(e->val.str.len, 13);
            cr_assert_eq(memcmp(entry_str(e), "payload-value", 13), 0);
        }
    }
    /* re-setting an expiry on a volatile key does not count it twice */
    struct ks_ref ref;
    size_t n = (size_t)snprintf(k, sizeof(k), "%s%d", tag, 7);
    cr_assert_not_null(ks_find(&ks, 0, slot, k, n, 0, &ref));
    ks_set_expire(&ks, 0, &ref, 5);
    cr_assert_eq(ks_db_volatile(&ks, 0), 200);
    check_counters(0);
}

Test(keyspace, active_expire_removes_without_access)
{
    for (int i = 0; i < 2000; i++)
        kadd(0, "e", i, i % 4 == 0 ? 100 : (i % 4 == 1 ? 1000000 : -1));
    for (int i = 0; i < 300; i++)
        kadd(5, "f", i, i % 2 ? 50 : -1);
    cr_assert_eq(ks_db_volatile(&ks, 0), 1000);
    cr_assert_eq(ks_db_volatile(&ks, 5), 150);
    uint64_t expired0 = ks.stats.expired_keys;
    uint64_t got = ks_active_expire(&ks, 200, 1000000, all_slots, KS_SLOTS);
    cr_assert_eq(got, 500 + 150, "active expire removed %llu", (unsigned long long)got);
    cr_assert_eq(ks.stats.expired_keys, expired0 + 650);
    cr_assert_eq(ks_db_size(&ks, 0), 1500);
    cr_assert_eq(ks_db_volatile(&ks, 0), 500);
    cr_assert_eq(ks_db_size(&ks, 5), 150);
    cr_assert_eq(ks_db_volatile(&ks, 5), 0);
    check_counters(0);
    check_counters(5);
    for (int i = 0; i < 2000; i++) {
        struct entry *e = kfind(0, "e", i, 200, NULL);
        if (i % 4 == 0)
            cr_assert_null(e);
        else
            cr_assert_not_null(e, "e:%d removed", i);
    }
    /* nothing more is due */
    cr_assert_eq(ks_active_expire(&ks, 200, 1000000, all_slots, KS_SLOTS), 0);
}

Test(keyspace, active_expire_small_budget_converges)
{
    for (int i = 0; i < 1000; i++)
        kadd(0, "s", i, i % 2 ? 10 : -1);
    for (int i = 0; i < 100; i++)
        kadd(9, "t", i, 10);
    uint64_t total = 0;
    int calls = 0;
    while ((ks_db_volatile(&ks, 0) || ks_db_volatile(&ks, 9)) && calls < 2000000) {
        total += ks_active_expire(&ks, 20, 1, all_slots, KS_SLOTS);
        calls++;
    }
    cr_assert_eq(ks_db_volatile(&ks, 0), 0, "still %llu volatile after %d calls",
                 (unsigned long long)ks_db_volatile(&ks, 0), calls);
    cr_assert_eq(ks_db_volatile(&ks, 9), 0);
    cr_assert_eq(total, 600);
    cr_assert_eq(ks_db_size(&ks, 0), 500);
    cr_assert_eq(ks_db_size(&ks, 9), 0);
    check_counters(0);
    check_counters(9);
}

Test(keyspace, active_expire_only_owned_slots)
{
    /* keys in two slots; the cycle is given only one of them */
    char k[64];
    unsigned sa = kslot("{A}", 3), sb = kslot("{B}", 3);
    cr_assert_neq(sa, sb);
    for (int i = 0; i < 50; i++) {
        size_t n = (size_t)snprintf(k, sizeof(k), "{A}%d", i);
        ks_add(&ks, 0, sa, entry_set_expire(entry_new_string(k, n, "v", 1), 1));
        n = (size_t)snprintf(k, sizeof(k), "{B}%d", i);
        ks_add(&ks, 0, sb, entry_set_expire(entry_new_string(k, n, "v", 1), 1));
    }
    unsigned mine[1] = {sa};
    cr_assert_eq(ks_active_expire(&ks, 100, 100000, mine, 1), 50);
    cr_assert_eq(ks_slot_count(&ks, 0, sa), 0);
    cr_assert_eq(ks_slot_count(&ks, 0, sb), 50);
    cr_assert_eq(ks_db_volatile(&ks, 0), 50);
    cr_assert_eq(ks_active_expire(&ks, 100, 100000, NULL, 0), 0);
    check_counters(0);
}

Test(keyspace, replace_take_delete)
{
    kadd(0, "r", 1, 500);
    kadd(0, "r", 2, -1);
    kadd(0, "r", 3, -1);
    cr_assert_eq(ks_db_volatile(&ks, 0), 1);
    struct ks_ref ref;
    /* replace a volatile entry by a persistent one */
    cr_assert_not_null(kfind(0, "r", 1, 0, &ref));
    ks_replace(&ks, 0, &ref, entry_new_string("r:1", 3, "new", 3));
    cr_assert_eq(ks_db_volatile(&ks, 0), 0);
    cr_assert_eq(ks_db_size(&ks, 0), 3);
    struct entry *e = kfind(0, "r", 1, 1000, NULL);
    cr_assert_not_null(e);
    cr_assert_eq(memcmp(entry_str(e), "new", 3), 0);
    /* and a persistent one by a volatile one */
    cr_assert_not_null(kfind(0, "r", 2, 0, &ref));
    ks_replace(&ks, 0, &ref, entry_set_expire(entry_new_string("r:2", 3, "x", 1), 900));
    cr_assert_eq(ks_db_volatile(&ks, 0), 1);
    check_counters(0);
    /* take: the caller owns the entry */
    cr_assert_not_null(kfind(0, "r", 2, 0, &ref));
    struct entry *taken = ks_take(&ks, 0, &ref);
    cr_assert_eq(ks_db_size(&ks, 0), 2);
    cr_assert_eq(ks_db_volatile(&ks, 0), 0);
    cr_assert_null(kfind(0, "r", 2, 0, NULL));
    entry_free(taken);
    cr_assert_not_null(kfind(0, "r", 3, 0, &ref));
    ks_delete(&ks, 0, &ref);
    cr_assert_eq(ks_db_size(&ks, 0), 1);
    cr_assert_null(kfind(0, "r", 3, 0, NULL));
    check_counters(0);
}

Test(keyspace, flush_and_swap)
{
    for (int i = 0; i < 100; i++)
        kadd(1, "one", i, i % 2 ? 10000 : -1);
    for (int i = 0; i < 10; i++)
        kadd(2, "two", i, -1);
    ks_swap_db(&ks, 1, 2);
    cr_assert_eq(ks_db_size(&ks, 1), 10);
    cr_assert_eq(ks_db_size(&ks, 2), 100);
    cr_assert_eq(ks_db_volatile(&ks, 2), 50);
    cr_assert_not_null(kfind(2, "one", 3, 0, NULL));
    cr_assert_not_null(kfind(1, "two", 3, 0, NULL));
    ks_flush_db(&ks, 2);
    cr_assert_eq(ks_db_size(&ks, 2), 0);
    cr_assert_eq(ks_db_volatile(&ks, 2), 0);
    cr_assert_null(kfind(2, "one", 3, 0, NULL));
    cr_assert_eq(ks_db_size(&ks, 1), 10);
    /* a flushed db is usable again */
    kadd(2, "again", 1, -1);
    cr_assert_eq(ks_db_size(&ks, 2), 1);
    check_counters(1);
    check_counters(2);
}

Test(memory, keyspace_returns_all_memory)
{
    smem_thread_init();
    for (unsigned i = 0; i < KS_SLOTS; i++)
        all_slots[i] = i;
    int64_t before = smem_used();
    struct keyspace k2;
    ks_init(&k2, 4);
    char k[64];
    for (int i = 0; i < 5000; i++) {
        size_t n = (size_t)snprintf(k, sizeof(k), "m:%d", i);
        struct entry *e = entry_new_string(k, n, "some value bytes", 16);
        if (i % 3 == 0)
            e = entry_set_expire(e, 10);
        ks_add(&k2, i % 4, key_hash_slot(k, n), e);
    }
    cr_assert_gt(smem_used(), before);
    /* expire a third, delete some more */
    ks_active_expire(&k2, 100, 1000000, all_slots, KS_SLOTS);
    for (int i = 1; i < 5000; i += 3) {
        size_t n = (size_t)snprintf(k, sizeof(k), "m:%d", i);
        struct ks_ref ref;
        if (ks_find(&k2, i % 4, key_hash_slot(k, n), k, n, 100, &ref))
            ks_delete(&k2, i % 4, &ref);
    }
    ks_destroy(&k2);
    cr_assert_eq(smem_used(), before, "%lld bytes still counted after ks_destroy",
                 (long long)(smem_used() - before));
}
