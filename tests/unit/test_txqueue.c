/* tests/unit/test_txqueue.c — shard/txqueue.h: items kept in txid order
 * (a lower id goes before higher ones that have not started, never before
 * a started one, a single-shard item, or after the higher ids are gone),
 * intent locks taken and released with the items, global locks. */
#include <criterion/criterion.h>
#include <string.h>

#include "shard/txqueue.h"

static struct txq q;

static void setup(void) { txq_init(&q); }
static void teardown(void) { txq_destroy(&q); }

TestSuite(txqueue, .init = setup, .fini = teardown);

static void item(struct txq_item *it, uint64_t txid, uint64_t *fps, int n)
{
    memset(it, 0, sizeof(*it));
    it->txid = txid;
    it->fps = fps;
    it->nfps = n;
}

static void expect_order(const uint64_t *ids, int n)
{
    struct txq_item *it = txq_head(&q);
    for (int i = 0; i < n; i++, it = it->next) {
        cr_assert_not_null(it, "queue shorter than %d", n);
        cr_assert_eq(it->txid, ids[i], "position %d: %llu, want %llu", i, (unsigned long long)it->txid,
                     (unsigned long long)ids[i]);
    }
    cr_assert_null(it);
    cr_assert_eq(q.len, (size_t)n);
}

Test(txqueue, lower_id_goes_before_unstarted_higher_ones)
{
    uint64_t fa = txq_fingerprint(0, "a", 1), fb = txq_fingerprint(0, "b", 1);
    struct txq_item i5, i9, i7;
    item(&i5, 5, &fa, 1);
    item(&i9, 9, &fb, 1);
    item(&i7, 7, &fb, 1);
    cr_assert(txq_append(&q, &i5));
    cr_assert(txq_append(&q, &i9));
    cr_assert(txq_append(&q, &i7));
    expect_order((uint64_t[]){5, 7, 9}, 3);
    cr_assert(txq_conflicts(&q, &fb, 1, false));
    txq_remove(&q, &i9);
    cr_assert(txq_conflicts(&q, &fb, 1, false)); /* i7 still holds b */
    txq_remove(&q, &i7);
    cr_assert_not(txq_conflicts(&q, &fb, 1, false));
    cr_assert(txq_conflicts(&q, &fa, 1, false));
    /* a tail item appended after the removals */
    struct txq_item i11;
    item(&i11, 11, &fb, 1);
    cr_assert(txq_append(&q, &i11));
    expect_order((uint64_t[]){5, 11}, 2);
    cr_assert_eq(q.tail, &i11);
    txq_remove(&q, &i5);
    txq_remove(&q, &i11);
    cr_assert_eq(q.len, 0);
    cr_assert_not(txq_conflicts(&q, &fa, 1, false));
}

Test(txqueue, refused_before_started_or_single_shard_items)
{
    struct txq_item i5, i9, i7, s0, i3, i2;
    item(&i5, 5, NULL, 0);
    item(&i9, 9, NULL, 0);
    cr_assert(txq_append(&q, &i5));
    cr_assert(txq_append(&q, &i9));
    i5.started = true;
    /* 3 would pass the started 5 */
    item(&i3, 3, NULL, 0);
    cr_assert_not(txq_append(&q, &i3));
    /* 7 passes only 9 */
    item(&i7, 7, NULL, 0);
    cr_assert(txq_append(&q, &i7));
    expect_order((uint64_t[]){5, 7, 9}, 3);
    /* a single-shard item queued behind them keeps its place */
    item(&s0, 0, NULL, 0);
    cr_assert(txq_append(&q, &s0));
    item(&i2, 8, NULL, 0);
    cr_assert_not(txq_append(&q, &i2));
    expect_order((uint64_t[]){5, 7, 9, 0}, 4);
    txq_remove(&q, &s0);
    txq_remove(&q, &i9);
    txq_remove(&q, &i7);
    /* the higher ids are gone (they ran): a lower one is refused */
    item(&i2, 8, NULL, 0);
    cr_assert_not(txq_append(&q, &i2));
    txq_remove(&q, &i5);
}

Test(txqueue, global_items_lock_everything)
{
    uint64_t fa = txq_fingerprint(0, "a", 1);
    struct txq_item g, g2;
    item(&g, 4, NULL, 0);
    g.global = true;
    item(&g2, 2, NULL, 0);
    g2.global = true;
    cr_assert(txq_append(&q, &g));
    cr_assert(txq_conflicts(&q, &fa, 1, false));
    cr_assert(txq_append(&q, &g2));
    expect_order((uint64_t[]){2, 4}, 2);
    cr_assert_eq(q.global_locks, 2);
    txq_remove(&q, &g2);
    txq_remove(&q, &g);
    cr_assert_eq(q.global_locks, 0);
    cr_assert_not(txq_conflicts(&q, &fa, 1, false));
}
