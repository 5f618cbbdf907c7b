/* tests/unit/test_t_list.c — shard/t_list.h: the quicklist against an array
 * model (pushes at both ends, inserts that split full nodes, deletes,
 * ranges) under entry and byte node limits, and the RDB codec: round trip
 * through RDB_TYPE_LIST_QUICKLIST_2, and corrupted blobs rejected without a
 * crash. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "shard/memory.h"
#include "shard/rdb.h"
#include "shard/t_list.h"
#include "shard/types.h"

static void setup(void) { smem_thread_init(); }

static void set_fill(long long fill)
{
    struct type_limits l = *type_limits();
    l.list_max_listpack_size = fill;
    type_limits_set(&l);
}

static void check(const struct quicklist *ql, char model[][16], int n)
{
    cr_assert_eq(ql->count, (uint64_t)n);
    struct ql_pos pos;
    int i = 0;
    bool more = ql_index(ql, 0, &pos);
    for (; more; more = ql_step(&pos, true), i++) {
        char tmp[32];
        size_t len;
        const char *s = lp_get_str(pos.p, tmp, &len);
        cr_assert(i < n);
        cr_assert(len == strlen(model[i]) && !memcmp(s, model[i], len), "elem %d", i);
    }
    cr_assert_eq(i, n);
    uint64_t total = 0;
    for (struct ql_node *nd = ql->head; nd; nd = nd->next) {
        cr_assert(ql_node_count(nd) > 0);
        total += ql_node_count(nd);
    }
    cr_assert_eq(total, (uint64_t)n);
}

Test(quicklist, model_with_splits, .init = setup)
{
    long long fills[] = {1, 3, 128, -1, -2};
    for (size_t f = 0; f < sizeof(fills) / sizeof(fills[0]); f++) {
        set_fill(fills[f]);
        static char model[2000][16];
        int n = 0;
        struct quicklist *ql = ql_new();
        for (int i = 0; i < 300; i++) {
            char v[16];
            snprintf(v, sizeof(v), "v%d", i);
            if (i % 2) {
                ql_push(ql, QL_TAIL, v, strlen(v));
                strcpy(model[n++], v);
            } else {
                ql_push(ql, QL_HEAD, v, strlen(v));
                memmove(model[1], model[0], sizeof(model[0]) * (size_t)n);
                strcpy(model[0], v);
                n++;
            }
        }
        check(ql, model, n);
        /* inserts in the middle (splits full nodes) */
        for (int i = 0; i < 200; i++) {
            int at = (i * 37) % n;
            struct ql_pos pos;
            cr_assert(ql_index(ql, at, &pos));
            char v[16];
            snprintf(v, sizeof(v), "i%d", i);
            bool after = i % 2;
            ql_insert(ql, &pos, after, v, strlen(v));
            int where = at + (after ? 1 : 0);
            memmove(model[where + 1], model[where], sizeof(model[0]) * (size_t)(n - where));
            strcpy(model[where], v);
            n++;
        }
        check(ql, model, n);
        /* delete ranges and single elements */
        ql_delete_range(ql, 10, 50);
        memmove(model[10], model[60], sizeof(model[0]) * (size_t)(n - 60));
        n -= 50;
        struct ql_pos pos;
        cr_assert(ql_index(ql, -5, &pos));
        ql_delete(ql, &pos, true);
        memmove(model[n - 5], model[n - 4], sizeof(model[0]) * 4);
        n--;
        check(ql, model, n);
        struct quicklist *cl = ql_clone(ql);
        check(cl, model, n);
        ql_free(cl);
        ql_free(ql);
    }
    set_fill(-2);
}

static struct quicklist *decode(const char *p, size_t n, unsigned type, bool *failed)
{
    char err[256] = "";
    struct rdb_in in = {.p = (const unsigned char *)p, .len = n, .err = err, .errlen = sizeof(err)};
    int enc = 0;
    struct quicklist *ql = list_type_ops.rdb_decode(&in, type, &enc);
    *failed = in.failed;
    return ql;
}

Test(quicklist, rdb_round_trip_and_bad_blobs, .init = setup)
{
    set_fill(-2);
    struct quicklist *ql = ql_new();
    static char model[3000][16];
    int n = 0;
    for (int i = 0; i < 3000; i++) {
        snprintf(model[n], sizeof(model[0]), "%d", i * 7 - 100);
        ql_push(ql, QL_TAIL, model[n], strlen(model[n]));
        n++;
    }
    cr_assert(ql->nnodes > 1);
    cr_assert_eq(list_type_ops.rdb_type(ql, OBJ_ENC_QUICKLIST), RDB_TYPE_LIST_QUICKLIST_2);
    struct buf b;
    buf_init(&b);
    cr_assert(list_type_ops.rdb_encode(&b, ql, OBJ_ENC_QUICKLIST, RDB_SAVE_NO_COMPRESS));
    bool failed;
    struct quicklist *back = decode(b.data, b.len, RDB_TYPE_LIST_QUICKLIST_2, &failed);
    cr_assert(back && !failed);
    check(back, model, n);
    ql_free(back);
    /* flip bytes all over the image: a clean failure or a valid list, never a crash */
    for (size_t i = 0; i < b.len; i += 7) {
        char saved = b.data[i];
        b.data[i] ^= 0x5a;
        struct quicklist *q = decode(b.data, b.len, RDB_TYPE_LIST_QUICKLIST_2, &failed);
        if (q)
            ql_free(q);
        b.data[i] = saved;
    }
    /* truncated */
    struct quicklist *q = decode(b.data, b.len / 2, RDB_TYPE_LIST_QUICKLIST_2, &failed);
    cr_assert(!q && failed);
    buf_free(&b);
    ql_free(ql);
}
