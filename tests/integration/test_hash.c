/* tests/integration/test_hash.c — hashes against a darter-server with
 * --threads 4: a script of hash commands (errors, thresholds, RESP3 shapes)
 * whose raw replies must equal redis-server 7.0's byte for byte; large
 * hashtable-encoded hashes read back whole by HGETALL and by HSCAN; RDB
 * files written by darter loaded by redis-server and the other way round,
 * for both encodings and with expiry; DUMP payloads exchanged between the
 * two; RENAME and COPY between threads; DEBUG RELOAD and expiry. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct server srv;
static struct server peer;

static void down(void)
{
    server_stop(&srv);
    server_stop(&peer);
}

/* ---------- byte-for-byte comparison ---------- */

#define MAXARGS 24
typedef const char *cmdline[MAXARGS];

static size_t encode(char *out, size_t cap, const char *const *argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    size_t n = (size_t)snprintf(out, cap, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        size_t al = strlen(argv[i]);
        cr_assert_lt(n + al + 32, cap);
        n += (size_t)snprintf(out + n, cap - n, "$%zu\r\n", al);
        memcpy(out + n, argv[i], al);
        n += al;
        memcpy(out + n, "\r\n", 2);
        n += 2;
    }
    return n;
}

static void compare_script(const cmdline *script, size_t n)
{
    struct raw *d = raw_connect(srv.port);
    struct raw *r = raw_connect(peer.port);
    char buf[8192];
    for (size_t i = 0; i < n; i++) {
        size_t len = encode(buf, sizeof(buf), script[i]);
        cr_assert(raw_send(d, buf, len));
        cr_assert(raw_send(r, buf, len));
        size_t dl, rl;
        char *dr = raw_reply(d, &dl);
        char *rr = raw_reply(r, &rl);
        cr_assert_not_null(rr, "redis gave no reply to #%zu %s", i, script[i][0]);
        cr_assert_not_null(dr, "darter gave no reply to #%zu %s", i, script[i][0]);
        bool differs = dl != rl || memcmp(dr, rr, dl) != 0;
        if (differs && strcmp(script[i][0], "HELLO") != 0) { /* HELLO: client ids differ */
            char want[600];
            snprintf(want, sizeof(want), "%s", printable(rr, rl));
            cr_assert_fail("#%zu %s %s:\n  darter %s\n  redis  %s", i, script[i][0], script[i][1] ? script[i][1] : "",
                           printable(dr, dl), want);
        }
        free(dr);
        free(rr);
    }
    raw_close(d);
    raw_close(r);
}

#define LONG70 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static const cmdline hash_script[] = {
    {"FLUSHALL"},
    {"HSET", "h", "a", "1", "b", "2", "c", "3"},
    {"HSET", "h", "a", "10", "d", "4"},
    {"HSET", "h", "a"},
    {"HMSET", "h", "a"},
    {"HSET", "h"},
    {"HGET", "h", "a"},
    {"HGET", "h", "zz"},
    {"HGET", "nokey", "a"},
    {"HMGET", "h", "a", "zz", "b"},
    {"HMGET", "nokey", "a", "b"},
    {"HMSET", "h", "e", "5", "f", "-17"},
    {"HLEN", "h"},
    {"HLEN", "nokey"},
    {"HSTRLEN", "h", "f"},
    {"HSTRLEN", "h", "zz"},
    {"HEXISTS", "h", "a"},
    {"HEXISTS", "h", "zz"},
    {"HKEYS", "h"},
    {"HVALS", "h"},
    {"HGETALL", "h"},
    {"HKEYS", "nokey"},
    {"HGETALL", "nokey"},
    {"OBJECT", "ENCODING", "h"},
    {"TYPE", "h"},
    {"HSETNX", "h", "a", "x"},
    {"HSETNX", "h", "new", "x"},
    {"HSETNX", "h2", "f", "v"},
    {"HDEL", "h", "new", "zz", "e"},
    {"HDEL", "nokey", "a"},
    {"HINCRBY", "h", "a", "5"},
    {"HINCRBY", "h", "fresh", "-3"},
    {"HINCRBY", "h", "a", "x"},
    {"HINCRBY", "h", "new", "1"},
    {"HSET", "h", "big", "9223372036854775800"},
    {"HINCRBY", "h", "big", "100"},
    {"HSET", "h", "sp", " 1"},
    {"HINCRBY", "h", "sp", "1"},
    {"HINCRBYFLOAT", "h", "sp", "1"},
    {"HINCRBYFLOAT", "h", "a", "1.5"},
    {"HINCRBYFLOAT", "h", "fl", "0.1"},
    {"HINCRBYFLOAT", "h", "fl", "abc"},
    {"HINCRBYFLOAT", "h", "fl", "+inf"},
    {"HINCRBYFLOAT", "hf", "fl", "1e4931"},
    {"HINCRBYFLOAT", "hf", "fl", "1e4931"},
    {"OBJECT", "ENCODING", "hf"},
    {"HINCRBYFLOAT", "h", "fl", "5.0e3"},
    {"HINCRBYFLOAT", "nokey2", "f", "nan"},
    {"EXISTS", "nokey2"},
    {"HRANDFIELD", "h2"},
    {"HRANDFIELD", "h2", "1"},
    {"HRANDFIELD", "h2", "1", "WITHVALUES"},
    {"HRANDFIELD", "h2", "-3", "WITHVALUES"},
    {"HRANDFIELD", "h2", "5", "WITHVALUES"},
    {"HRANDFIELD", "h2", "0"},
    {"HRANDFIELD", "nokey"},
    {"HRANDFIELD", "nokey", "5"},
    {"HRANDFIELD", "h2", "x"},
    {"HRANDFIELD", "h2", "1", "WITHVALUE"},
    {"HRANDFIELD", "h2", "1", "WITHVALUES", "x"},
    {"HRANDFIELD", "h2", "-9223372036854775808"},
    {"HRANDFIELD", "h2", "-9223372036854770000", "WITHVALUES"},
    {"HSCAN", "h", "0"},
    {"HSCAN", "h", "0", "MATCH", "[ab]*"},
    {"HSCAN", "h", "0", "COUNT", "1"},
    {"HSCAN", "h", "0", "COUNT", "0"},
    {"HSCAN", "h", "0", "TYPE", "hash"},
    {"HSCAN", "h", "0", "NOPE"},
    {"HSCAN", "h", "abc"},
    {"HSCAN", "nokey", "0", "BAD", "opt"},
    {"SET", "s", "v"},
    {"HSET", "s", "a", "1"},
    {"HGET", "s", "a"},
    {"HMGET", "s", "a"},
    {"HGETALL", "s"},
    {"HDEL", "s", "a"},
    {"HINCRBY", "s", "a", "1"},
    {"HINCRBYFLOAT", "s", "a", "1"},
    {"HRANDFIELD", "s"},
    {"HRANDFIELD", "s", "2"},
    {"HSCAN", "s", "0"},
    {"HSCAN", "s", "x"},
    {"HSETNX", "s", "a", "1"},
    {"HLEN", "s"},
    /* thresholds */
    {"CONFIG", "SET", "hash-max-listpack-entries", "3"},
    {"HSET", "t", "a", "1", "b", "2", "c", "3"},
    {"OBJECT", "ENCODING", "t"},
    {"HSET", "t", "d", "4"},
    {"OBJECT", "ENCODING", "t"},
    {"HDEL", "t", "a", "b", "c"},
    {"OBJECT", "ENCODING", "t"},
    {"CONFIG", "SET", "hash-max-listpack-entries", "128"},
    {"HSET", "u", "a", LONG70},
    {"OBJECT", "ENCODING", "u"},
    {"HSET", "w", LONG70, "1"},
    {"OBJECT", "ENCODING", "w"},
    {"HGETALL", "w"},
    {"HDEL", "w", LONG70},
    {"EXISTS", "w"},
    {"CONFIG", "SET", "hash-max-listpack-value", "8"},
    {"HSET", "v", "tmp", "0"},
    {"HINCRBYFLOAT", "v", "tmp", "0.000005"},
    {"OBJECT", "ENCODING", "v"},
    {"HINCRBYFLOAT", "v", "tmp", "0.0000005"},
    {"OBJECT", "ENCODING", "v"},
    {"CONFIG", "SET", "hash-max-listpack-value", "64"},
    /* RESP3 shapes */
    {"HELLO", "3"},
    {"HGETALL", "h2"},
    {"HGETALL", "nokey"},
    {"HKEYS", "nokey"},
    {"HRANDFIELD", "h2", "2", "WITHVALUES"},
    {"HRANDFIELD", "h2", "-2", "WITHVALUES"},
    {"HRANDFIELD", "h2", "-2"},
    {"HRANDFIELD", "nokey"},
    {"HRANDFIELD", "nokey", "3"},
    {"HGET", "nokey", "a"},
    {"HMGET", "h2", "f", "x"},
    {"HSCAN", "h2", "0"},
    {"HSCAN", "nokey", "0"},
    {"HINCRBYFLOAT", "h2", "n", "1.5"},
};

Test(hash, replies_match_redis, .fini = down)
{
    server_start(&srv, 4, NULL);
    redis_start(&peer, NULL);
    compare_script(hash_script, sizeof(hash_script) / sizeof(hash_script[0]));
    server_stop_clean(&srv);
}

/* ---------- whole-hash reads ---------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* HGETALL as sorted "field=value" lines. */
static char **sorted_pairs(redisContext *c, const char *key, size_t *n)
{
    redisReply *r = hcmd(c, "HGETALL %s", key);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    *n = r->elements / 2;
    char **out = calloc(*n + 1, sizeof(char *));
    for (size_t i = 0; i < *n; i++) {
        size_t len = r->element[2 * i]->len + r->element[2 * i + 1]->len + 2;
        out[i] = malloc(len);
        snprintf(out[i], len, "%s=%s", r->element[2 * i]->str, r->element[2 * i + 1]->str);
    }
    freeReplyObject(r);
    qsort(out, *n, sizeof(char *), cmp_str);
    return out;
}

static void free_pairs(char **p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(p[i]);
    free(p);
}

static void expect_same_hash(redisContext *a, redisContext *b, const char *key)
{
    size_t na, nb;
    char **pa = sorted_pairs(a, key, &na), **pb = sorted_pairs(b, key, &nb);
    cr_assert_eq(na, nb, "%s: %zu vs %zu fields", key, na, nb);
    for (size_t i = 0; i < na; i++)
        cr_assert_str_eq(pa[i], pb[i], "%s", key);
    free_pairs(pa, na);
    free_pairs(pb, nb);
}

static void expect_encoding(redisContext *c, const char *key, const char *enc)
{
    redisReply *r = hcmd(c, "OBJECT ENCODING %s", key);
    cr_assert_eq(r->type, REDIS_REPLY_STRING, "%s has no encoding", key);
    cr_assert_str_eq(r->str, enc, "%s", key);
    freeReplyObject(r);
}

static void fill(redisContext *c, const char *key, int n, const char *vprefix)
{
    for (int i = 0; i < n; i += 50) {
        const char *argv[102];
        size_t lens[102];
        char text[100][32];
        int argc = 0;
        argv[argc++] = "HSET";
        argv[argc++] = key;
        for (int j = i; j < i + 50 && j < n; j++) {
            snprintf(text[argc - 2], sizeof(text[0]), "field:%d", j);
            argv[argc] = text[argc - 2];
            argc++;
            snprintf(text[argc - 2], sizeof(text[0]), "%s%d", vprefix, j);
            argv[argc] = text[argc - 2];
            argc++;
        }
        for (int k = 0; k < argc; k++)
            lens[k] = strlen(argv[k]);
        redisReply *r = hcmdv(c, argc, argv, lens);
        cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "%s", r->str ? r->str : "");
        freeReplyObject(r);
    }
}

/* HSCAN to the end with COUNT 7: every field at least once. */
static void expect_scan_complete(redisContext *c, const char *key, int n)
{
    unsigned char *seen = calloc((size_t)n, 1);
    char cursor[32] = "0";
    do {
        redisReply *r = hcmd(c, "HSCAN %s %s COUNT 7", key, cursor);
        cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        redisReply *items = r->element[1];
        cr_assert_eq(items->elements % 2, 0);
        for (size_t i = 0; i < items->elements; i += 2)
            seen[atoi(items->element[i]->str + 6)] = 1;
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    for (int i = 0; i < n; i++)
        cr_assert(seen[i], "field:%d never scanned", i);
    free(seen);
}

Test(hash, large_hashtable_matches_redis, .fini = down)
{
    server_start(&srv, 4, NULL);
    redis_start(&peer, NULL);
    redisContext *d = hconnect(&srv), *r = hconnect(&peer);
    fill(d, "big", 5000, "value-");
    fill(r, "big", 5000, "value-");
    expect_encoding(d, "big", "hashtable");
    expect_same_hash(d, r, "big");
    expect_scan_complete(d, "big", 5000);
    for (int i = 0; i < 5000; i += 3) {
        freeReplyObject(hcmd(d, "HDEL big field:%d", i));
        freeReplyObject(hcmd(r, "HDEL big field:%d", i));
    }
    expect_same_hash(d, r, "big");
    expect_encoding(d, "big", "hashtable");
    redisFree(d);
    redisFree(r);
    server_stop_clean(&srv);
}

/* ---------- RDB files both ways ---------- */

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/darter-hash-%d", (int)getpid());
    mkdir(dir, 0700);
    char path[128];
    snprintf(path, sizeof(path), "%s/dump.rdb", dir);
    unlink(path);
}

static void populate(redisContext *c)
{
    fill(c, "small", 10, "v");
    fill(c, "ints", 20, "");
    fill(c, "big", 1000, "value-");
    freeReplyObject(hcmd(c, "HSET long f %s", LONG70));
    fill(c, "vol", 5, "v");
    freeReplyObject(hcmd(c, "EXPIRE vol 100000"));
}

static void check_loaded(redisContext *c, redisContext *ref)
{
    const char *keys[] = {"small", "ints", "big", "long", "vol"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        expect_same_hash(c, ref, keys[i]);
    expect_encoding(c, "small", "listpack");
    expect_encoding(c, "ints", "listpack");
    expect_encoding(c, "big", "hashtable");
    expect_encoding(c, "long", "hashtable");
    redisReply *r = hcmd(c, "TTL vol");
    cr_assert(r->integer > 90000 && r->integer <= 100000);
    freeReplyObject(r);
}

Test(hash, rdb_files_both_ways, .fini = down)
{
    make_dir();
    struct server ref;
    redis_start(&ref, NULL);
    redisContext *rc = hconnect(&ref);
    populate(rc);

    /* darter writes, redis-server reads */
    server_start(&srv, 4, "--dir", dir, "--dbfilename", "dump.rdb", NULL);
    redisContext *c = hconnect(&srv);
    populate(c);
    expect_status(hcmd(c, "SAVE"), "OK");
    redisFree(c);
    server_stop_clean(&srv);
    redis_start(&peer, "--dir", dir, "--dbfilename", "dump.rdb", NULL);
    c = hconnect(&peer);
    check_loaded(c, rc);
    /* redis-server writes (after a change), darter reads */
    freeReplyObject(hcmd(c, "HSET small extra 1"));
    freeReplyObject(hcmd(rc, "HSET small extra 1"));
    expect_status(hcmd(c, "SAVE"), "OK");
    redisFree(c);
    server_stop(&peer);
    server_start(&srv, 4, "--dir", dir, "--dbfilename", "dump.rdb", NULL);
    c = hconnect(&srv);
    check_loaded(c, rc);
    /* DEBUG RELOAD keeps them */
    expect_status(hcmd(c, "DEBUG RELOAD"), "OK");
    check_loaded(c, rc);
    redisFree(c);
    redisFree(rc);
    server_stop_clean(&srv);
    server_stop(&ref);
}

/* ---------- DUMP / RESTORE between the two ---------- */

static redisReply *dump(redisContext *c, const char *key)
{
    redisReply *r = hcmd(c, "DUMP %s", key);
    cr_assert_eq(r->type, REDIS_REPLY_STRING, "DUMP %s", key);
    return r;
}

static void restore(redisContext *c, const char *key, redisReply *payload)
{
    redisReply *r = hcmd(c, "RESTORE %s 0 %b REPLACE", key, payload->str, payload->len);
    cr_assert_eq(r->type, REDIS_REPLY_STATUS, "RESTORE %s: %s", key, r->str);
    freeReplyObject(r);
}

Test(hash, dump_restore_between_darter_and_redis, .fini = down)
{
    server_start(&srv, 4, NULL);
    redis_start(&peer, NULL);
    redisContext *d = hconnect(&srv), *r = hconnect(&peer);
    populate(d);
    populate(r);
    /* a listpack hash built the same way dumps to the same bytes */
    redisReply *pd = dump(d, "small"), *pr = dump(r, "small");
    cr_assert_eq(pd->len, pr->len);
    cr_assert_eq(memcmp(pd->str, pr->str, pd->len), 0, "listpack DUMP differs from redis-server's");
    freeReplyObject(pd);
    freeReplyObject(pr);
    const char *keys[] = {"small", "ints", "big", "long"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        pd = dump(d, keys[i]);
        pr = dump(r, keys[i]);
        restore(r, "from-darter", pd);
        restore(d, "from-redis", pr);
        char want[64];
        snprintf(want, sizeof(want), "%s", keys[i]);
        size_t n1, n2;
        char **a = sorted_pairs(r, "from-darter", &n1), **b = sorted_pairs(d, want, &n2);
        cr_assert_eq(n1, n2);
        for (size_t j = 0; j < n1; j++)
            cr_assert_str_eq(a[j], b[j]);
        free_pairs(a, n1);
        free_pairs(b, n2);
        a = sorted_pairs(d, "from-redis", &n1);
        b = sorted_pairs(r, want, &n2);
        cr_assert_eq(n1, n2);
        for (size_t j = 0; j < n1; j++)
            cr_assert_str_eq(a[j], b[j]);
        free_pairs(a, n1);
        free_pairs(b, n2);
        freeReplyObject(pd);
        freeReplyObject(pr);
    }
    redisFree(d);
    redisFree(r);
    server_stop_clean(&srv);
}

/* ---------- keys moving between threads, expiry ---------- */

Test(hash, rename_copy_across_threads_and_expiry, .fini = down)
{
    server_start(&srv, 4, NULL);
    redisContext *c = hconnect(&srv);
    expect_status(hcmd(c, "FLUSHALL"), "OK"); /* whatever a stray dump.rdb held */
    char k0[32], k0b[32], k1[32], k2[32], k3[32];
    key_on_thread(k0, sizeof(k0), "h:", 0, 4, 0);
    key_on_thread(k0b, sizeof(k0b), "h:", 0, 4, 1);
    key_on_thread(k1, sizeof(k1), "h:", 1, 4, 0);
    key_on_thread(k2, sizeof(k2), "h:", 2, 4, 0);
    key_on_thread(k3, sizeof(k3), "h:", 3, 4, 0);
    fill(c, k0, 10, "v");
    fill(c, k1, 1000, "v");
    /* same thread */
    expect_status(hcmd(c, "RENAME %s %s", k0, k0b), "OK");
    expect_encoding(c, k0b, "listpack");
    /* other threads, both encodings */
    expect_status(hcmd(c, "RENAME %s %s", k0b, k2), "OK");
    expect_encoding(c, k2, "listpack");
    expect_int(hcmd(c, "HLEN %s", k2), 10);
    expect_bulk(hcmd(c, "HGET %s field:3", k2), "v3");
    expect_int(hcmd(c, "COPY %s %s", k1, k3), 1);
    expect_encoding(c, k3, "hashtable");
    size_t n1, n2;
    char **a = sorted_pairs(c, k1, &n1), **b = sorted_pairs(c, k3, &n2);
    cr_assert_eq(n1, 1000);
    cr_assert_eq(n2, 1000);
    for (size_t i = 0; i < n1; i++)
        cr_assert_str_eq(a[i], b[i]);
    free_pairs(a, n1);
    free_pairs(b, n2);
    expect_int(hcmd(c, "COPY %s %s", k1, k0), 1);
    expect_int(hcmd(c, "HLEN %s", k0), 1000);
    /* the copies are independent */
    expect_int(hcmd(c, "HDEL %s field:1", k3), 1);
    expect_int(hcmd(c, "HLEN %s", k1), 1000);
    /* SCAN TYPE hash over every thread: k0 k1 k2 k3 */
    freeReplyObject(hcmd(c, "SET plain v"));
    size_t found = 0;
    char cursor[32] = "0";
    do {
        redisReply *r = hcmd(c, "SCAN %s TYPE hash COUNT 100", cursor);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        found += r->element[1]->elements;
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    cr_assert_eq(found, 4, "SCAN TYPE hash found %zu", found);
    redisReply *t = hcmd(c, "TYPE %s", k1);
    cr_assert_str_eq(t->str, "hash");
    freeReplyObject(t);
    /* expiry */
    expect_int(hcmd(c, "PEXPIRE %s 1", k3), 1);
    usleep(20000);
    expect_int(hcmd(c, "EXISTS %s", k3), 0);
    redisFree(c);
    server_stop_clean(&srv);
}
