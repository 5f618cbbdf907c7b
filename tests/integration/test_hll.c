/* tests/integration/test_hll.c — HyperLogLog against a real redis-server:
 * the same random PFADDs give the same PFCOUNT after every batch and the
 * same value bytes, sparse and dense; PFCOUNT over several keys and PFMERGE
 * with keys on different threads (--threads 4) agree with redis; values move
 * by DUMP/RESTORE both ways and count the same; Redis's errors for
 * non-HLL strings and corrupt HLLs; the cached cardinality written back by
 * PFCOUNT. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4

static struct server darter, redis;
static redisContext *dc, *rc;

static void up(void)
{
    server_start(&darter, THREADS, NULL);
    dc = hconnect(&darter);
}

static void down(void)
{
    if (dc)
        redisFree(dc);
    if (rc)
        redisFree(rc);
    dc = rc = NULL;
    server_stop(&darter);
    server_stop(&redis);
}

TestSuite(hll, .init = up, .fini = down, .timeout = 300);

static void need_redis(void)
{
    redis_start(&redis, NULL);
    rc = hconnect(&redis);
}

/* A small deterministic generator: both servers get the same elements. */
static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Run the same command on both servers and require equal replies. */
static void both_same(int argc, const char **argv, const size_t *lens)
{
    redisReply *a = hcmdv(dc, argc, argv, lens);
    redisReply *b = hcmdv(rc, argc, argv, lens);
    cr_assert_eq(a->type, b->type, "%s %s: reply types differ (%d vs %d, '%s')", argv[0], argc > 1 ? argv[1] : "",
                 a->type, b->type, a->str ? a->str : "");
    cr_assert_eq(a->integer, b->integer, "%s %s: %lld vs %lld", argv[0], argc > 1 ? argv[1] : "", a->integer,
                 b->integer);
    cr_assert_eq(a->len, b->len, "%s %s: lengths differ", argv[0], argc > 1 ? argv[1] : "");
    if (a->len)
        cr_assert(memcmp(a->str, b->str, a->len) == 0, "%s %s: bytes differ", argv[0], argc > 1 ? argv[1] : "");
    freeReplyObject(a);
    freeReplyObject(b);
}

static void both1(const char *cmd, const char *key)
{
    const char *argv[] = {cmd, key};
    both_same(2, argv, NULL);
}

#define BATCH 64

/* PFADD `n` random elements to key on both servers in batches, comparing
 * PFADD's and PFCOUNT's replies after each batch, then the value bytes. */
static void fill_both(const char *key, int n)
{
    char els[BATCH][32];
    const char *argv[BATCH + 2] = {"PFADD", key};
    for (int done = 0; done < n;) {
        int k = 0;
        for (; k < BATCH && done < n; k++, done++) {
            snprintf(els[k], sizeof(els[k]), "%llx", (unsigned long long)(next_rand() % 1000000007ULL));
            argv[k + 2] = els[k];
        }
        both_same(k + 2, argv, NULL);
        both1("PFCOUNT", key);
    }
    both1("GET", key);
}

Test(hll, counts_and_bytes_match_redis)
{
    need_redis();
    static const int sizes[] = {0, 1, 5, 40, 200, 700, 1500, 3000, 8000, 30000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char key[32];
        snprintf(key, sizeof(key), "hll:%zu", i);
        fill_both(key, sizes[i]);
        both_same(3, (const char *[]){"PFDEBUG", "ENCODING", key}, NULL);
    }
    /* sparse limit lowered: promotion happens at the same element */
    expect_status(hcmd(dc, "CONFIG SET hll-sparse-max-bytes 200"), "OK");
    expect_status(hcmd(rc, "CONFIG SET hll-sparse-max-bytes 200"), "OK");
    fill_both("hll:small-limit", 300);
    both_same(3, (const char *[]){"PFDEBUG", "ENCODING", "hll:small-limit"}, NULL);
    both_same(3, (const char *[]){"PFDEBUG", "DECODE", "hll:0"}, NULL);
    both_same(3, (const char *[]){"PFDEBUG", "TODENSE", "hll:3"}, NULL);
    both1("GET", "hll:3");
}

Test(hll, multi_key_across_threads_match_redis)
{
    need_redis();
    char keys[THREADS][32];
    static const int sizes[THREADS] = {50, 400, 5000, 20000};
    for (int t = 0; t < THREADS; t++) {
        key_on_thread(keys[t], sizeof(keys[t]), "src", t, THREADS, 0);
        fill_both(keys[t], sizes[t]);
    }
    const char *all[] = {"PFCOUNT", keys[0], keys[1], keys[2], keys[3], "missing"};
    both_same(6, all, NULL);
    both_same(3, (const char *[]){"PFCOUNT", keys[0], keys[1]}, NULL);
    /* destination on each thread, sparse and dense sources */
    for (int t = 0; t < THREADS; t++) {
        char dst[32];
        key_on_thread(dst, sizeof(dst), "dst", t, THREADS, 0);
        both_same(4, (const char *[]){"PFMERGE", dst, keys[(t + 1) % THREADS], keys[0]}, NULL);
        both1("GET", dst);
        both1("PFCOUNT", dst);
        both_same(3, (const char *[]){"PFMERGE", dst, keys[(t + 2) % THREADS]}, NULL);
        both1("GET", dst);
    }
    /* destination among the sources, and a destination with nothing to merge */
    both_same(4, (const char *[]){"PFMERGE", keys[1], keys[2], keys[3]}, NULL);
    both1("GET", keys[1]);
    both_same(2, (const char *[]){"PFMERGE", "empty-dst"}, NULL);
    both1("GET", "empty-dst");
}

static void dump_restore(redisContext *from, redisContext *to, const char *key)
{
    redisReply *d = hcmd(from, "DUMP %s", key);
    cr_assert_eq(d->type, REDIS_REPLY_STRING);
    redisReply *r = hcmd(to, "RESTORE %s 0 %b REPLACE", key, d->str, d->len);
    cr_assert_eq(r->type, REDIS_REPLY_STATUS, "RESTORE: %s", r->str);
    freeReplyObject(r);
    freeReplyObject(d);
}

Test(hll, dump_restore_both_ways)
{
    need_redis();
    static const int sizes[] = {3, 300, 20000};
    for (int i = 0; i < 3; i++) {
        char a[32], b[32];
        snprintf(a, sizeof(a), "from-redis:%d", i);
        snprintf(b, sizeof(b), "from-darter:%d", i);
        fill_both(a, sizes[i]);
        fill_both(b, sizes[i]);
        /* spoil the copy on the receiving side first */
        expect_status(hcmd(dc, "SET %s x", a), "OK");
        expect_status(hcmd(rc, "SET %s x", b), "OK");
        dump_restore(rc, dc, a);
        dump_restore(dc, rc, b);
        both1("PFCOUNT", a);
        both1("PFCOUNT", b);
        both1("GET", a);
        both1("GET", b);
        /* still usable after the move */
        both_same(4, (const char *[]){"PFADD", a, "one-more", "and-another"}, NULL);
        both1("PFCOUNT", a);
        both1("GET", a);
    }
}

Test(hll, errors)
{
    expect_status(hcmd(dc, "SET plain bar"), "OK");
    expect_error(hcmd(dc, "PFADD plain x"), "WRONGTYPE Key is not a valid HyperLogLog string value.");
    expect_error(hcmd(dc, "PFCOUNT plain"), "WRONGTYPE Key is not a valid HyperLogLog string value.");
    expect_status(hcmd(dc, "SET num 12345"), "OK");
    expect_error(hcmd(dc, "PFCOUNT num"), "WRONGTYPE Key is not a valid HyperLogLog string value.");
    expect_int(hcmd(dc, "PFADD h a b c"), 1);
    expect_int(hcmd(dc, "APPEND h hello"), 32);
    expect_error(hcmd(dc, "PFCOUNT h"), "INVALIDOBJ Corrupted HLL object detected");
    expect_int(hcmd(dc, "PFADD h zz"), 1); /* as Redis: the register is found before the junk */
    expect_error(hcmd(dc, "PFDEBUG GETREG h"), "INVALIDOBJ Corrupted HLL object detected");
    expect_error(hcmd(dc, "PFDEBUG ENCODING nokey"), "ERR The specified key does not exist");
    expect_error(hcmd(dc, "PFDEBUG FOO h"), "ERR Unknown PFDEBUG subcommand 'FOO'");
    expect_error(hcmd(dc, "PFADD"), "ERR wrong number of arguments for 'pfadd' command");
    /* the first unusable key decides the error, whatever thread it is on */
    char k[THREADS][32];
    for (int t = 0; t < THREADS; t++)
        key_on_thread(k[t], sizeof(k[t]), "e", t, THREADS, 0);
    expect_int(hcmd(dc, "PFADD %s a", k[0]), 1);
    expect_status(hcmd(dc, "SET %s %b", k[1], "HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x3f", (size_t)17), "OK");
    expect_status(hcmd(dc, "SET %s nothll", k[2]), "OK");
    expect_error(hcmd(dc, "PFCOUNT %s %s %s", k[0], k[2], k[1]), "WRONGTYPE Key is not a valid HyperLogLog string value.");
    expect_error(hcmd(dc, "PFCOUNT %s %s %s", k[0], k[1], k[2]), "INVALIDOBJ Corrupted HLL object detected");
    expect_error(hcmd(dc, "PFADD %s a", k[1]), "INVALIDOBJ Corrupted HLL object detected");
    expect_error(hcmd(dc, "PFMERGE %s %s %s", k[3], k[1], k[0]), "INVALIDOBJ Corrupted HLL object detected");
    expect_int(hcmd(dc, "EXISTS %s", k[3]), 0);
    expect_error(hcmd(dc, "PFMERGE %s %s", k[2], k[0]), "WRONGTYPE Key is not a valid HyperLogLog string value.");
    expect_status(hcmd(dc, "PFMERGE %s %s", k[3], k[0]), "OK");
    expect_int(hcmd(dc, "PFCOUNT %s", k[3]), 1);
}

Test(hll, pfcount_writes_cache_and_pfadd_invalidates)
{
    expect_int(hcmd(dc, "PFADD c a b c"), 1);
    expect_bulk(hcmd(dc, "GETRANGE c 15 15"), "\x80");
    expect_int(hcmd(dc, "PFCOUNT c"), 3);
    redisReply *r = hcmd(dc, "GETRANGE c 8 15");
    cr_assert_eq(r->len, 8);
    cr_assert(memcmp(r->str, "\x03\0\0\0\0\0\0\0", 8) == 0);
    freeReplyObject(r);
    expect_int(hcmd(dc, "PFADD c a b c"), 0);
    r = hcmd(dc, "GETRANGE c 15 15");
    cr_assert_eq(r->len, 1);
    cr_assert_eq(r->str[0], 0);
    freeReplyObject(r);
    expect_int(hcmd(dc, "PFADD c d"), 1);
    expect_bulk(hcmd(dc, "GETRANGE c 15 15"), "\x80");
    expect_int(hcmd(dc, "PFADD emptyhll"), 1);
    expect_int(hcmd(dc, "PFCOUNT emptyhll"), 0);
    expect_int(hcmd(dc, "PFADD emptyhll"), 0);
    expect_bulk(hcmd(dc, "OBJECT ENCODING c"), "raw");
    /* expiry survives promotion to dense */
    expect_int(hcmd(dc, "EXPIRE c 1000"), 1);
    expect_int(hcmd(dc, "PFDEBUG TODENSE c"), 1);
    expect_status(hcmd(dc, "PFDEBUG ENCODING c"), "dense");
    r = hcmd(dc, "TTL c");
    cr_assert(r->integer > 900);
    freeReplyObject(r);
    expect_int(hcmd(dc, "PFCOUNT c"), 4);
}
