/* tests/unit/test_t_stream.c — the stream value (shard/t_stream.h): ID
 * arithmetic and encoding, appending with Redis's node limits, the listpack
 * layout of nodes (master entry, SAMEFIELDS, lp-count), deletion flags and
 * node removal, trimming (MAXLEN/MINID, exact/approximate, LIMIT), groups
 * and PELs, and the RDB codec: round trip and corrupt input never crashing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "io/buf.h"
#include "shard/listpack.h"
#include "shard/memory.h"
#include "shard/rdb.h"
#include "shard/t_stream.h"
#include "shard/types.h"

static void setup(void) { smem_thread_init(); }

static void set_limits(long long max_bytes, long long max_entries)
{
    struct type_limits l = *type_limits();
    l.stream_node_max_bytes = max_bytes;
    l.stream_node_max_entries = max_entries;
    type_limits_set(&l);
}

static struct sid S(uint64_t ms, uint64_t seq) { return (struct sid){ms, seq}; }

static int add(struct stream *s, uint64_t ms, uint64_t seq, const char *f1, const char *v1)
{
    struct stream_str fv[2] = {{f1, strlen(f1)}, {v1, strlen(v1)}};
    struct sid id = S(ms, seq), got;
    return stream_append(s, fv, 1, &id, true, 0, &got);
}

static size_t count_range(struct stream *s, struct sid a, struct sid b, bool rev)
{
    struct stream_iter it;
    struct sid id;
    int64_t nf;
    size_t n = 0;
    stream_iter_start(&it, s, &a, &b, rev);
    while (stream_iter_next(&it, &id, &nf)) {
        for (int64_t i = 0; i < nf; i++) {
            const char *f, *v;
            size_t fl, vl;
            stream_iter_field(&it, &f, &fl, &v, &vl);
        }
        n++;
    }
    return n;
}

TestSuite(stream_id, .init = setup);

Test(stream_id, incr_decr_edges)
{
    struct sid id = S(5, UINT64_MAX);
    cr_assert(sid_incr(&id));
    cr_assert(id.ms == 6 && id.seq == 0);
    cr_assert(sid_decr(&id));
    cr_assert(id.ms == 5 && id.seq == UINT64_MAX);
    id = S(UINT64_MAX, UINT64_MAX);
    cr_assert_not(sid_incr(&id));
    cr_assert(id.ms == 0 && id.seq == 0);
    cr_assert_not(sid_decr(&id));
    cr_assert(id.ms == UINT64_MAX && id.seq == UINT64_MAX);
}

Test(stream_id, encode_is_big_endian_and_ordered)
{
    unsigned char a[16], b[16];
    struct sid x = S(0x0102030405060708ull, 9), y = S(0x0102030405060708ull, 256), z;
    sid_encode(a, &x);
    sid_encode(b, &y);
    cr_assert(a[0] == 1 && a[7] == 8 && a[15] == 9);
    cr_assert(memcmp(a, b, 16) < 0);
    sid_decode(b, &z);
    cr_assert(sid_cmp(&z, &y) == 0);
    char buf[48];
    sid_format(buf, &x);
    cr_assert_str_eq(buf, "72623859790382856-9");
}

TestSuite(stream_value, .init = setup);

Test(stream_value, append_rejects_smaller_ids_and_fills_seq)
{
    struct stream *s = stream_new();
    cr_assert_eq(add(s, 5, 1, "a", "1"), 0);
    cr_assert_eq(add(s, 5, 1, "a", "1"), -1);
    cr_assert_eq(add(s, 4, 9, "a", "1"), -1);
    struct stream_str fv[2] = {{"a", 1}, {"2", 1}};
    struct sid use = S(5, 0), got;
    cr_assert_eq(stream_append(s, fv, 1, &use, false, 0, &got), 0);
    cr_assert(got.ms == 5 && got.seq == 2);
    cr_assert_eq(stream_append(s, fv, 1, NULL, false, 3, &got), 0); /* clock behind: seq+1 */
    cr_assert(got.ms == 5 && got.seq == 3);
    cr_assert_eq(stream_append(s, fv, 1, NULL, false, 100, &got), 0);
    cr_assert(got.ms == 100 && got.seq == 0);
    cr_assert_eq(s->length, 4);
    cr_assert_eq(s->entries_added, 4);
    cr_assert(s->first_id.ms == 5 && s->first_id.seq == 1);
    stream_free(s);
}

Test(stream_value, master_entry_layout_and_samefields)
{
    set_limits(4096, 100);
    struct stream *s = stream_new();
    add(s, 1, 0, "f", "v1");
    add(s, 2, 0, "f", "v2");
    add(s, 3, 5, "g", "v3");
    cr_assert_eq(stream_nodes(s), 1);
    unsigned char *lp = s->nodes.items[0].val;
    /* count deleted nfields "f" 0 | flags ms seq v1 lpcount | ... */
    int64_t v;
    unsigned char *p = lp_first(lp);
    cr_assert(lp_get_int(p, &v) && v == 3);
    p = lp_next(lp, p);
    cr_assert(lp_get_int(p, &v) && v == 0);
    p = lp_next(lp, p);
    cr_assert(lp_get_int(p, &v) && v == 1);
    p = lp_next(lp, p);
    cr_assert(lp_eq(p, "f", 1));
    p = lp_next(lp, p);
    cr_assert(lp_get_int(p, &v) && v == 0);
    p = lp_next(lp, p); /* first entry */
    cr_assert(lp_get_int(p, &v) && v == STREAM_ITEM_FLAG_SAMEFIELDS);
    for (int i = 0; i < 4; i++)
        p = lp_next(lp, p);
    cr_assert(lp_get_int(p, &v) && v == 4); /* lp-count: 3 + 1 value */
    /* the third entry has other fields: flags 0, ms-diff 2, seq-diff 5, lp-count 6 */
    p = lp_last(lp);
    cr_assert(lp_get_int(p, &v) && v == 6);
    unsigned char *q = p;
    for (int i = 0; i < 6; i++)
        q = lp_prev(lp, q);
    cr_assert(lp_get_int(q, &v) && v == 0);
    q = lp_next(lp, q);
    cr_assert(lp_get_int(q, &v) && v == 2);
    q = lp_next(lp, q);
    cr_assert(lp_get_int(q, &v) && v == 5);
    cr_assert_eq(count_range(s, S(0, 0), S(UINT64_MAX, UINT64_MAX), false), 3);
    cr_assert_eq(count_range(s, S(0, 0), S(UINT64_MAX, UINT64_MAX), true), 3);
    cr_assert_eq(count_range(s, S(2, 0), S(3, 4), false), 1);
    cr_assert_eq(count_range(s, S(2, 0), S(3, 5), true), 2);
    stream_free(s);
}

Test(stream_value, nodes_split_at_entry_and_byte_limits)
{
    set_limits(4096, 3);
    struct stream *s = stream_new();
    for (int i = 1; i <= 10; i++)
        add(s, (uint64_t)i, 0, "f", "v");
    cr_assert_eq(stream_nodes(s), 4);
    cr_assert(s->nodes.items[1].id.ms == 4);
    cr_assert_eq(count_range(s, S(2, 0), S(8, 0), false), 7);
    cr_assert_eq(count_range(s, S(2, 0), S(8, 0), true), 7);
    stream_free(s);

    set_limits(64, 0);
    s = stream_new();
    char big[40];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    for (int i = 1; i <= 5; i++)
        add(s, (uint64_t)i, 0, "f", big);
    cr_assert_gt(stream_nodes(s), 1);
    for (size_t i = 0; i < stream_nodes(s); i++)
        cr_assert_leq(lp_bytes(s->nodes.items[i].val), 64 + sizeof(big) + 16);
    cr_assert_eq(count_range(s, S(0, 0), S(UINT64_MAX, UINT64_MAX), false), 5);
    stream_free(s);
    set_limits(4096, 100);
}

Test(stream_value, delete_sets_flag_and_drops_empty_nodes)
{
    set_limits(4096, 2);
    struct stream *s = stream_new();
    for (int i = 1; i <= 4; i++)
        add(s, (uint64_t)i, 0, "f", "v");
    cr_assert_eq(stream_nodes(s), 2);
    cr_assert(stream_delete(s, &(struct sid){1, 0}));
    cr_assert_not(stream_delete(s, &(struct sid){1, 0}));
    cr_assert_not(stream_entry_exists(s, &(struct sid){1, 0}));
    cr_assert(stream_entry_exists(s, &(struct sid){2, 0}));
    unsigned char *lp = s->nodes.items[0].val;
    int64_t v;
    unsigned char *p = lp_first(lp);
    cr_assert(lp_get_int(p, &v) && v == 1);
    p = lp_next(lp, p);
    cr_assert(lp_get_int(p, &v) && v == 1);
    cr_assert(stream_delete(s, &(struct sid){2, 0}));
    cr_assert_eq(stream_nodes(s), 1);
    cr_assert_eq(s->length, 2);
    struct sid first;
    cr_assert(stream_edge_id(s, true, true, &first));
    cr_assert(first.ms == 3);
    stream_free(s);
    set_limits(4096, 100);
}

Test(stream_value, trim_maxlen_minid_approx_and_limit)
{
    set_limits(4096, 10);
    struct stream *s = stream_new();
    for (int i = 1; i <= 35; i++)
        add(s, (uint64_t)i, 0, "f", "v");
    struct stream_trim t = {.strategy = TRIM_MAXLEN, .approx = true, .maxlen = 24};
    cr_assert_eq(stream_trim(s, &t), 10); /* only whole nodes */
    cr_assert_eq(s->length, 25);
    t.approx = false;
    cr_assert_eq(stream_trim(s, &t), 1);
    cr_assert_eq(s->length, 24);
    cr_assert(s->first_id.ms == 12);
    struct stream_trim m = {.strategy = TRIM_MINID, .minid = {20, 0}};
    cr_assert_eq(stream_trim(s, &m), 8);
    cr_assert(s->first_id.ms == 20);
    struct stream_trim l = {.strategy = TRIM_MAXLEN, .approx = true, .maxlen = 0, .limit = 5};
    cr_assert_eq(stream_trim(s, &l), 1); /* the head node holds 1 live entry; the next 10 > limit */
    cr_assert_eq(s->length, 15);
    l.limit = 100;
    cr_assert_eq(stream_trim(s, &l), 15);
    cr_assert_eq(s->length, 0);
    cr_assert(s->first_id.ms == 0 && s->first_id.seq == 0);
    stream_free(s);
    set_limits(4096, 100);
}

Test(stream_value, groups_consumers_and_pel)
{
    struct stream *s = stream_new();
    struct sid z = {0, 0};
    struct stream_cg *g = stream_cg_create(s, "g2", 2, &z, -1);
    cr_assert_not_null(g);
    cr_assert_null(stream_cg_create(s, "g2", 2, &z, -1));
    cr_assert_not_null(stream_cg_create(s, "g1", 2, &z, 0));
    cr_assert_str_eq(s->groups[0]->name, "g1");
    struct stream_consumer *a = stream_consumer_create(g, "alice", 5, 10);
    struct stream_consumer *b = stream_consumer_create(g, "al", 2, 10);
    cr_assert_eq(g->consumers[0], b); /* shorter prefix first, as rax */
    for (uint64_t i = 1; i <= 3; i++) {
        struct stream_nack *n = stream_nack_new(a, 5);
        struct sid id = {i, 0};
        idmap_insert(&g->pel, &id, n);
        idmap_insert(&a->pel, &id, n);
    }
    struct stream *c = stream_clone(s);
    cr_assert_eq(stream_consumer_delete(g, a), 3);
    cr_assert_eq(g->pel.n, 0);
    struct stream_cg *cg = stream_cg_find(c, "g2", 2);
    cr_assert_eq(cg->pel.n, 3);
    struct stream_nack *n = cg->pel.items[0].val;
    cr_assert_str_eq(n->consumer->name, "alice");
    cr_assert(stream_cg_destroy(c, "g2", 2));
    cr_assert_not(stream_cg_destroy(c, "g2", 2));
    stream_free(c);
    stream_free(s);
}

Test(stream_value, lag_counters)
{
    struct stream *s = stream_new();
    struct sid z = {0, 0};
    struct stream_cg *g = stream_cg_create(s, "g", 1, &z, -1);
    long long lag;
    cr_assert(stream_cg_lag(s, g, &lag) && lag == 0);
    for (int i = 1; i <= 5; i++)
        add(s, (uint64_t)i, 0, "f", "v");
    cr_assert(stream_cg_lag(s, g, &lag) && lag == 5);
    struct sid three = {3, 0};
    stream_delete(s, &three);
    s->max_deleted_id = three;
    cr_assert_not(stream_cg_lag(s, g, &lag));
    cr_assert_eq(stream_estimate_distance(s, &s->last_id), 5);
    stream_free(s);
}

/* ---------- RDB ---------- */

static struct stream *sample_stream(void)
{
    set_limits(4096, 4);
    struct stream *s = stream_new();
    for (int i = 1; i <= 10; i++)
        add(s, (uint64_t)i, (uint64_t)i, i % 3 ? "field" : "other", "value");
    stream_delete(s, &(struct sid){4, 4});
    s->max_deleted_id = (struct sid){4, 4};
    struct sid last = {5, 5};
    struct stream_cg *g = stream_cg_create(s, "grp", 3, &last, 5);
    struct stream_consumer *c = stream_consumer_create(g, "bob", 3, 1234);
    for (uint64_t i = 1; i <= 5; i++) {
        struct sid id = {i, i};
        struct stream_nack *n = stream_nack_new(c, 1000 + (int64_t)i);
        n->delivery_count = i;
        idmap_insert(&g->pel, &id, n);
        idmap_insert(&c->pel, &id, n);
    }
    stream_consumer_create(g, "idle", 4, 99);
    set_limits(4096, 100);
    return s;
}

static struct stream *decode(const struct buf *b, unsigned type, char *err, size_t errlen)
{
    struct rdb_in in = {.p = (const unsigned char *)b->data, .len = b->len, .err = err, .errlen = errlen};
    int enc;
    return stream_type_ops.rdb_decode(&in, type, &enc);
}

Test(stream_rdb, round_trip)
{
    struct stream *s = sample_stream();
    struct buf b;
    buf_init(&b);
    cr_assert(stream_type_ops.rdb_encode(&b, s, OBJ_ENC_STREAM, RDB_SAVE_NO_COMPRESS));
    cr_assert_eq(stream_type_ops.rdb_type(s, OBJ_ENC_STREAM), RDB_TYPE_STREAM_LISTPACKS_2);
    char err[256] = "";
    struct stream *d = decode(&b, RDB_TYPE_STREAM_LISTPACKS_2, err, sizeof(err));
    cr_assert_not_null(d, "%s", err);
    cr_assert_eq(d->length, 9);
    cr_assert_eq(d->entries_added, 10);
    cr_assert(d->max_deleted_id.ms == 4);
    cr_assert(d->last_id.ms == 10 && d->last_id.seq == 10);
    cr_assert_eq(d->nodes.n, s->nodes.n);
    for (size_t i = 0; i < d->nodes.n; i++)
        cr_assert_eq(memcmp(d->nodes.items[i].val, s->nodes.items[i].val, lp_bytes(s->nodes.items[i].val)), 0);
    struct stream_cg *g = stream_cg_find(d, "grp", 3);
    cr_assert_not_null(g);
    cr_assert_eq(g->entries_read, 5);
    cr_assert_eq(g->pel.n, 5);
    cr_assert_eq(g->nconsumers, 2);
    struct stream_nack *n = g->pel.items[2].val;
    cr_assert_eq(n->delivery_count, 3);
    cr_assert_eq(n->delivery_time, 1003);
    cr_assert_str_eq(n->consumer->name, "bob");
    cr_assert_eq(stream_consumer_find(g, "bob", 3)->seen_time, 1234);
    /* re-encoding gives the same bytes */
    struct buf b2;
    buf_init(&b2);
    stream_type_ops.rdb_encode(&b2, d, OBJ_ENC_STREAM, RDB_SAVE_NO_COMPRESS);
    cr_assert_eq(b.len, b2.len);
    cr_assert_eq(memcmp(b.data, b2.data, b.len), 0);
    buf_free(&b2);
    stream_free(d);
    stream_free(s);
    buf_free(&b);
}

Test(stream_rdb, empty_stream_round_trips)
{
    struct stream *s = stream_new();
    struct buf b;
    buf_init(&b);
    stream_type_ops.rdb_encode(&b, s, OBJ_ENC_STREAM, 0);
    char err[256];
    struct stream *d = decode(&b, RDB_TYPE_STREAM_LISTPACKS_2, err, sizeof(err));
    cr_assert_not_null(d);
    cr_assert_eq(d->length, 0);
    stream_free(d);
    stream_free(s);
    buf_free(&b);
}

Test(stream_rdb, corrupt_input_is_refused_without_crashing)
{
    struct stream *s = sample_stream();
    struct buf b;
    buf_init(&b);
    stream_type_ops.rdb_encode(&b, s, OBJ_ENC_STREAM, RDB_SAVE_NO_COMPRESS);
    char err[256];
    /* every truncation fails */
    for (size_t cut = 0; cut < b.len; cut++) {
        struct buf t = {.data = b.data, .len = cut};
        struct stream *d = decode(&t, RDB_TYPE_STREAM_LISTPACKS_2, err, sizeof(err));
        cr_assert_null(d, "truncated at %zu decoded", cut);
    }
    /* every single-byte change either fails or yields a usable stream */
    struct buf m;
    buf_init(&m);
    for (size_t at = 0; at < b.len; at++) {
        for (int delta = 1; delta < 256; delta += 37) {
            buf_clear(&m);
            buf_append(&m, b.data, b.len);
            m.data[at] = (char)(m.data[at] + delta);
            struct stream *d = decode(&m, RDB_TYPE_STREAM_LISTPACKS_2, err, sizeof(err));
            if (d) {
                count_range(d, S(0, 0), S(UINT64_MAX, UINT64_MAX), false);
                count_range(d, S(0, 0), S(UINT64_MAX, UINT64_MAX), true);
                struct stream_trim t = {.strategy = TRIM_MAXLEN, .maxlen = 2};
                stream_trim(d, &t);
                add(d, UINT64_MAX - 1, 0, "f", "v");
                stream_free(d);
            }
        }
    }
    buf_free(&m);
    /* a node key that is not 16 bytes */
    struct buf k;
    buf_init(&k);
    rdb_write_len(&k, 1);
    rdb_write_string(&k, "short", 5);
    struct stream *d = decode(&k, RDB_TYPE_STREAM_LISTPACKS_2, err, sizeof(err));
    cr_assert_null(d);
    cr_assert(strstr(err, "not the size of a stream ID"), "%s", err);
    buf_free(&k);
    stream_free(s);
    buf_free(&b);
}

Test(stream_rdb, legacy_type_15_estimates_counters)
{
    struct stream *s = sample_stream();
    struct buf b;
    buf_init(&b);
    /* type 15: nodes, length, last id, groups (name, last id, PEL, consumers) */
    rdb_write_len(&b, s->nodes.n);
    for (size_t i = 0; i < s->nodes.n; i++) {
        unsigned char key[16];
        sid_encode(key, &s->nodes.items[i].id);
        rdb_write_string(&b, (const char *)key, 16);
        rdb_write_string(&b, (const char *)s->nodes.items[i].val, lp_bytes(s->nodes.items[i].val));
    }
    rdb_write_len(&b, s->length);
    rdb_write_len(&b, s->last_id.ms);
    rdb_write_len(&b, s->last_id.seq);
    rdb_write_len(&b, 1);
    rdb_write_string(&b, "g", 1);
    rdb_write_len(&b, s->last_id.ms);
    rdb_write_len(&b, s->last_id.seq);
    rdb_write_len(&b, 0);
    rdb_write_len(&b, 0);
    char err[256] = "";
    struct stream *d = decode(&b, RDB_TYPE_STREAM_LISTPACKS, err, sizeof(err));
    cr_assert_not_null(d, "%s", err);
    cr_assert_eq(d->entries_added, 9);
    cr_assert(d->first_id.ms == 1);
    cr_assert_eq(stream_cg_find(d, "g", 1)->entries_read, 9);
    stream_free(d);
    stream_free(s);
    buf_free(&b);
}
