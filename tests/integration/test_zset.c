/* tests/integration/test_zset.c — sorted sets end to end: replies compared
 * byte for byte with a real redis-server (RESP2 and RESP3: score formatting
 * of inf/-inf/huge/tiny doubles, errors, every deterministic command),
 * multi-key commands whose keys sit on different threads (ZUNIONSTORE,
 * ZINTERSTORE, ZDIFFSTORE, ZRANGESTORE, ZMPOP, ZINTERCARD), DUMP/RESTORE
 * payloads moved between darter and redis-server both ways in both
 * encodings, and the blocking pops. */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <ftw.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define THREADS 4

static struct server srv, ref;

static void fini(void)
{
    server_stop(&srv);
    server_stop(&ref);
}

/* ---------- the same commands to both servers ---------- */

static void send_cmd(struct raw *r, const char *line)
{
    /* words split on spaces; "\x01" inside a word stands for a space */
    char buf[4096], out[8192];
    snprintf(buf, sizeof(buf), "%s", line);
    const char *argv[64];
    int argc = 0;
    for (char *tok = strtok(buf, " "); tok && argc < 64; tok = strtok(NULL, " "))
        argv[argc++] = tok;
    int n = snprintf(out, sizeof(out), "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        char word[1024];
        size_t len = 0;
        for (const char *p = argv[i]; *p && len < sizeof(word) - 1; p++)
            word[len++] = *p == '\x01' ? ' ' : *p;
        n += snprintf(out + n, sizeof(out) - (size_t)n, "$%zu\r\n", len);
        memcpy(out + n, word, len);
        n += (int)len;
        n += snprintf(out + n, sizeof(out) - (size_t)n, "\r\n");
    }
    cr_assert(raw_send(r, out, (size_t)n));
}

static void compare(struct raw *d, struct raw *rr, const char *const *cmds)
{
    for (int i = 0; cmds[i]; i++) {
        send_cmd(d, cmds[i]);
        send_cmd(rr, cmds[i]);
        size_t dl, rl;
        char *a = raw_reply(d, &dl);
        char *b = raw_reply(rr, &rl);
        cr_assert_not_null(a, "darter: no reply to %s", cmds[i]);
        cr_assert_not_null(b, "redis: no reply to %s", cmds[i]);
        char da[2048];
        snprintf(da, sizeof(da), "%s", printable(a, dl));
        cr_assert(dl == rl && memcmp(a, b, dl) == 0, "%s\n darter: %s\n redis:  %s", cmds[i], da,
                  printable(b, rl));
        free(a);
        free(b);
    }
}

static const char *const script[] = {
    "FLUSHALL",
    "ZADD z 1 a 2 b 3 c",
    "ZADD z inf pinf -inf ninf 1e308 huge 1e-308 tiny 0.1 tenth -0 negzero 123456789012345678 big",
    "ZRANGE z 0 -1 WITHSCORES",
    "ZREVRANGE z 0 -1 WITHSCORES",
    "ZSCORE z pinf", "ZSCORE z ninf", "ZSCORE z tiny", "ZSCORE z tenth", "ZSCORE z big", "ZSCORE z nope",
    "ZMSCORE z a nope huge",
    "ZINCRBY z 1.5 a", "ZINCRBY z -inf pinf", "ZINCRBY z abc a",
    "ZADD z NX XX 1 a", "ZADD z GT LT 1 a", "ZADD z NX GT 1 a", "ZADD z INCR 1 a 2 b", "ZADD z 1", "ZADD z nan a",
    "ZADD z XX CH 10 a 20 zz", "ZADD z GT CH 0 b 30 c", "ZADD z INCR GT -1 c", "ZADD z INCR LT -1 c",
    "ZADD z XX INCR 1 missing",
    "ZCARD z", "ZCARD nokey",
    "ZRANK z c", "ZREVRANK z c", "ZRANK z nope",
    "ZCOUNT z -inf +inf", "ZCOUNT z (1 3", "ZCOUNT z a b", "ZCOUNT z ( 3",
    "ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 1 3",
    "ZRANGEBYSCORE z -inf +inf LIMIT -1 3",
    "ZREVRANGEBYSCORE z +inf (1 WITHSCORES",
    "ZRANGE z (1 +inf BYSCORE REV", "ZRANGE z +inf (1 BYSCORE REV LIMIT 0 2 WITHSCORES",
    "ZRANGE z 0 -1 LIMIT 0 1", "ZRANGE z - + BYLEX WITHSCORES", "ZRANGE z 0 1 foo",
    "ZADD lex 0 alpha 0 bar 0 cool 0 down 0 elephant 0 foo",
    "ZRANGEBYLEX lex - +", "ZRANGEBYLEX lex [bar (foo", "ZREVRANGEBYLEX lex + [c LIMIT 1 2",
    "ZLEXCOUNT lex [b +", "ZLEXCOUNT lex bar foo", "ZRANGEBYLEX lex [a", 
    "ZREMRANGEBYLEX lex [alpha [bar", "ZRANGE lex 0 -1",
    "ZREMRANGEBYSCORE z (2 5", "ZREMRANGEBYRANK z 0 1", "ZREMRANGEBYRANK z a 1", "ZREMRANGEBYSCORE z x 1",
    "ZRANGE z 0 -1 WITHSCORES",
    "ZPOPMIN z", "ZPOPMAX z 2", "ZPOPMIN z 0", "ZPOPMIN z -1", "ZPOPMIN nokey", "ZPOPMIN z 1 2",
    "ZREM z pinf ninf nope", "ZREM nokey a",
    "SET str x", "ZADD str 1 a", "ZRANGE str 0 -1", "ZSCORE str a", "ZUNIONSTORE out 2 z str",
    "DEL z",
    "ZADD z1 1 a 2 b 3 c", "ZADD z2 10 b 20 c 30 d",
    "ZUNIONSTORE out 2 z1 z2", "ZRANGE out 0 -1 WITHSCORES",
    "ZUNIONSTORE out 2 z1 z2 WEIGHTS 2 inf AGGREGATE MAX", "ZRANGE out 0 -1 WITHSCORES",
    "ZINTERSTORE out 2 z1 z2 AGGREGATE MIN", "ZRANGE out 0 -1 WITHSCORES",
    "ZDIFFSTORE out 2 z1 z2", "ZRANGE out 0 -1 WITHSCORES",
    "ZUNION 2 z1 z2 WITHSCORES", "ZINTER 2 z1 z2", "ZDIFF 2 z2 z1 WITHSCORES", "ZINTERCARD 2 z1 z2 LIMIT 1",
    "ZUNIONSTORE out 0 z1", "ZUNION 0 z1", "ZINTERCARD 0 z1", "ZUNIONSTORE out 3 z1 z2", "ZUNIONSTORE out x z1",
    "ZUNION 2 z1 z2 WEIGHTS 1 x", "ZUNION 2 z1 z2 AGGREGATE avg", "ZDIFF 2 z1 z2 WEIGHTS 1 2",
    "ZINTERCARD 2 z1 z2 LIMIT -1", "ZUNIONSTORE out 2 z1 z2 WITHSCORES",
    "ZINTERSTORE out 2 z1 nokey", "EXISTS out",
    "ZRANGESTORE dst z1 0 -1", "ZRANGE dst 0 -1 WITHSCORES", "ZRANGESTORE dst z1 (1 +inf BYSCORE LIMIT 0 1",
    "ZRANGESTORE dst nokey 0 -1", "EXISTS dst", "ZRANGESTORE dst z1 0 -1 WITHSCORES",
    "ZMPOP 2 nokey z1 MIN COUNT 2", "ZMPOP 1 z1 MAX", "ZMPOP 1 nokey MIN", "ZMPOP 0 z1 MIN", "ZMPOP 1 z1 FOO",
    "ZMPOP 1 z1 MIN COUNT 0", "ZMPOP 1 str MIN",
    "BZPOPMIN z2 0", "BZPOPMAX nokey z2 0", "BZMPOP 0 1 z2 MAX COUNT 10", "BZPOPMIN z2 -1", "BZPOPMIN z2 x",
    "BZMPOP 0 0 z2 MIN",
    "ZADD r 1 a 2 b", "ZRANDMEMBER r 0", "ZRANDMEMBER nokey", "ZRANDMEMBER nokey 5", "ZRANDMEMBER r 5 WITHSCORES",
    "ZRANDMEMBER r -9223372036854775808", "ZRANDMEMBER r 5 foo",
    "ZSCAN r 0", "ZSCAN r x", "ZSCAN nokey 0",
    "OBJECT ENCODING r",
    NULL,
};

Test(zset, replies_match_redis_resp2_and_resp3, .fini = fini)
{
    server_start(&srv, THREADS, NULL);
    redis_start(&ref, NULL);
    for (int resp = 2; resp <= 3; resp++) {
        struct raw *d = raw_connect(srv.port), *r = raw_connect(ref.port);
        if (resp == 3) {
            const char *hello[] = {"HELLO 3", NULL};
            send_cmd(d, hello[0]);
            send_cmd(r, hello[0]);
            size_t l;
            free(raw_reply(d, &l));
            free(raw_reply(r, &l));
        }
        compare(d, r, script);
        raw_close(d);
        raw_close(r);
    }
    server_stop_clean(&srv);
}

/* ---------- keys on different threads ---------- */

static void expect_array_strs(redisReply *r, int n, ...)
{
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq((int)r->elements, n);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *s = va_arg(ap, const char *);
        cr_assert_str_eq(r->element[i]->str, s, "element %d", i);
    }
    va_end(ap);
    freeReplyObject(r);
}

Test(zset, multi_key_across_threads, .fini = fini)
{
    server_start(&srv, THREADS, NULL);
    redisContext *c = hconnect(&srv);
    char a[32], b[32], d[32], e[32];
    key_on_thread(a, sizeof(a), "za", 0, THREADS, 0);
    key_on_thread(b, sizeof(b), "zb", 1, THREADS, 0);
    key_on_thread(d, sizeof(d), "zd", 2, THREADS, 0);
    key_on_thread(e, sizeof(e), "ze", 3, THREADS, 0);
    expect_int(hcmd(c, "ZADD %s 1 x 2 y 3 z", a), 3);
    expect_int(hcmd(c, "ZADD %s 10 y 20 z 30 w", b), 3);
    expect_int(hcmd(c, "ZUNIONSTORE %s 2 %s %s", d, a, b), 4);
    expect_array_strs(hcmd(c, "ZRANGE %s 0 -1 WITHSCORES", d), 8, "x", "1", "y", "12", "z", "23", "w", "30");
    expect_int(hcmd(c, "ZINTERSTORE %s 2 %s %s WEIGHTS 1 0", d, a, b), 2);
    expect_array_strs(hcmd(c, "ZRANGE %s 0 -1 WITHSCORES", d), 4, "y", "2", "z", "3");
    expect_int(hcmd(c, "ZDIFFSTORE %s 2 %s %s", e, a, b), 1);
    expect_array_strs(hcmd(c, "ZRANGE %s 0 -1", e), 1, "x");
    expect_int(hcmd(c, "ZINTERCARD 3 %s %s %s", a, b, d), 2);
    expect_int(hcmd(c, "ZRANGESTORE %s %s 1 -1", e, b), 2);
    expect_array_strs(hcmd(c, "ZRANGE %s 0 -1", e), 2, "z", "w");
    /* an empty result deletes the destination */
    expect_int(hcmd(c, "ZINTERSTORE %s 2 %s nokey", e, a), 0);
    expect_int(hcmd(c, "EXISTS %s", e), 0);
    /* wrong type anywhere */
    expect_status(hcmd(c, "SET %s v", e), "OK");
    expect_error(hcmd(c, "ZUNION 2 %s %s", a, e), "WRONGTYPE Operation against a key holding the wrong kind of value");
    /* ZMPOP picks the first non-empty key in argument order */
    redisReply *r = hcmd(c, "ZMPOP 3 nokey %s %s MAX COUNT 2", b, a);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_str_eq(r->element[0]->str, b);
    cr_assert_eq(r->element[1]->elements, 2);
    cr_assert_str_eq(r->element[1]->element[0]->element[0]->str, "w");
    freeReplyObject(r);
    expect_int(hcmd(c, "ZCARD %s", b), 1);
    r = hcmd(c, "BZPOPMIN nokey %s 0", b);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_str_eq(r->element[1]->str, "y");
    freeReplyObject(r);
    expect_int(hcmd(c, "EXISTS %s", b), 0);
    /* a skiplist result stored across threads */
    for (int i = 0; i < 300; i++)
        freeReplyObject(hcmd(c, "ZADD %s %d m%d", a, i, i));
    expect_int(hcmd(c, "ZUNIONSTORE %s 1 %s", d, a), 303);
    r = hcmd(c, "OBJECT ENCODING %s", d);
    cr_assert_str_eq(r->str, "skiplist");
    freeReplyObject(r);
    redisFree(c);
    server_stop_clean(&srv);
}

/* ---------- DUMP / RESTORE with redis-server ---------- */

static redisReply *dump_of(redisContext *c, const char *key)
{
    redisReply *r = hcmd(c, "DUMP %s", key);
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    return r;
}

static void move_and_compare(redisContext *from, redisContext *to, const char *key, const char *enc)
{
    redisReply *d = dump_of(from, key);
    freeReplyObject(hcmd(to, "DEL %s", key));
    expect_status(hcmd(to, "RESTORE %s 0 %b", key, d->str, d->len), "OK");
    freeReplyObject(d);
    redisReply *a = hcmd(from, "ZRANGE %s 0 -1 WITHSCORES", key), *b = hcmd(to, "ZRANGE %s 0 -1 WITHSCORES", key);
    cr_assert_eq(a->elements, b->elements);
    for (size_t i = 0; i < a->elements; i++)
        cr_assert_str_eq(a->element[i]->str, b->element[i]->str);
    freeReplyObject(a);
    freeReplyObject(b);
    redisReply *e = hcmd(to, "OBJECT ENCODING %s", key);
    cr_assert_str_eq(e->str, enc);
    freeReplyObject(e);
}

Test(zset, dump_restore_with_redis_both_ways, .fini = fini)
{
    server_start(&srv, THREADS, NULL);
    redis_start(&ref, NULL);
    redisContext *d = hconnect(&srv), *r = hconnect(&ref);
    for (int i = 0; i < 20; i++)
        freeReplyObject(hcmd(d, "ZADD small %d.5 member%d", i, i));
    freeReplyObject(hcmd(d, "ZADD small inf top -inf bottom 1e-300 tiny"));
    for (int i = 0; i < 500; i++)
        freeReplyObject(hcmd(d, "ZADD big %d m%d", i * 3, i));
    move_and_compare(d, r, "small", "listpack");
    move_and_compare(d, r, "big", "skiplist");
    freeReplyObject(hcmd(r, "ZADD small 42 fromredis"));
    freeReplyObject(hcmd(r, "ZADD big 42 fromredis"));
    move_and_compare(r, d, "small", "listpack");
    move_and_compare(r, d, "big", "skiplist");
    expect_error(hcmd(d, "RESTORE bad 0 %b", "\x11\x05garbage\x0a\x00", (size_t)10),
                 "ERR DUMP payload version or checksum are wrong");
    redisFree(d);
    redisFree(r);
    server_stop_clean(&srv);
}

/* ---------- dump.rdb files with redis-server ---------- */

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* Both encodings, odd scores, a member that is an integer. */
static void fill_rdb_keys(redisContext *c)
{
    for (int i = 0; i < 10; i++)
        freeReplyObject(hcmd(c, "ZADD f:small %d.25 s%d", i, i));
    freeReplyObject(hcmd(c, "ZADD f:small inf top -inf bottom 12345 67890"));
    for (int i = 0; i < 400; i++)
        freeReplyObject(hcmd(c, "ZADD f:big %d b%d", i % 17, i));
}

static void check_rdb_keys(redisContext *c, redisContext *want)
{
    const char *keys[] = {"f:small", "f:big"};
    const char *encs[] = {"listpack", "skiplist"};
    for (int k = 0; k < 2; k++) {
        redisReply *a = hcmd(c, "ZRANGE %s 0 -1 WITHSCORES", keys[k]);
        redisReply *b = hcmd(want, "ZRANGE %s 0 -1 WITHSCORES", keys[k]);
        cr_assert_eq(a->elements, b->elements, "%s", keys[k]);
        for (size_t i = 0; i < a->elements; i++)
            cr_assert_str_eq(a->element[i]->str, b->element[i]->str);
        freeReplyObject(a);
        freeReplyObject(b);
        redisReply *e = hcmd(c, "OBJECT ENCODING %s", keys[k]);
        cr_assert_str_eq(e->str, encs[k]);
        freeReplyObject(e);
    }
}

Test(zset, rdb_files_with_redis_both_ways, .fini = fini)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/darter-zset-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    struct server other = {0};
    /* darter writes, redis-server reads */
    server_start(&srv, THREADS, "--dir", dir, "--save", "", NULL);
    redisContext *d = hconnect(&srv);
    fill_rdb_keys(d);
    expect_status(hcmd(d, "SAVE"), "OK");
    redis_start(&ref, "--dir", dir, "--dbfilename", "dump.rdb", NULL);
    redisContext *r = hconnect(&ref);
    check_rdb_keys(r, d);
    /* redis-server writes, darter reads */
    freeReplyObject(hcmd(r, "ZADD f:small 0.5 fromredis"));
    freeReplyObject(hcmd(r, "ZADD f:big 0.5 fromredis"));
    expect_status(hcmd(r, "SAVE"), "OK");
    server_start(&other, THREADS, "--dir", dir, "--save", "", NULL);
    redisContext *d2 = hconnect(&other);
    check_rdb_keys(d2, r);
    redisFree(d);
    redisFree(r);
    redisFree(d2);
    server_stop_clean(&other);
    server_stop_clean(&srv);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---------- blocking ---------- */

Test(zset, bzpopmin_served_at_once_and_nil_in_multi, .fini = fini)
{
    server_start(&srv, THREADS, NULL);
    redisContext *c = hconnect(&srv);
    expect_int(hcmd(c, "ZADD bz 1 a", NULL), 1);
    redisReply *r = hcmd(c, "BZPOPMIN nokey bz 0");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 3);
    freeReplyObject(r);
    expect_status(hcmd(c, "MULTI"), "OK");
    expect_status(hcmd(c, "BZPOPMIN bz 0"), "QUEUED");
    r = hcmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->element[0]->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    redisFree(c);
    server_stop_clean(&srv);
}

static long long blocked_clients(redisContext *c)
{
    redisReply *r = hcmd(c, "INFO clients");
    const char *p = strstr(r->str, "blocked_clients:");
    long long n = p ? atoll(p + 16) : -1;
    freeReplyObject(r);
    return n;
}

static void wait_blocked(redisContext *c, long long n)
{
    for (int i = 0; i < 500 && blocked_clients(c) != n; i++)
        usleep(10000);
    cr_assert_eq(blocked_clients(c), n);
}

static void send_only(redisContext *c, const char *fmt, const char *k)
{
    cr_assert_eq(redisAppendCommand(c, fmt, k), REDIS_OK);
    int done = 0;
    while (!done)
        cr_assert_eq(redisBufferWrite(c, &done), REDIS_OK);
}

static void expect_popped(redisContext *c, const char *key, const char *member, const char *score)
{
    void *rep;
    cr_assert_eq(redisGetReply(c, &rep), REDIS_OK);
    redisReply *r = rep;
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 3);
    cr_assert_str_eq(r->element[0]->str, key);
    cr_assert_str_eq(r->element[1]->str, member);
    cr_assert_str_eq(r->element[2]->str, score);
    freeReplyObject(r);
}

Test(zset, bzpopmin_woken_from_another_thread_fifo_and_timeout, .fini = fini)
{
    server_start(&srv, THREADS, NULL);
    redisContext *c1 = hconnect(&srv), *c2 = hconnect(&srv), *c3 = hconnect(&srv);
    char k[32], other[32];
    key_on_thread(k, sizeof(k), "bk", 3, THREADS, 0);
    key_on_thread(other, sizeof(other), "bo", 1, THREADS, 0);
    /* timing out: the null array */
    redisReply *r = hcmd(c1, "BZPOPMIN nokey 0.05");
    cr_assert_eq(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    wait_blocked(c2, 0);
    /* parked, woken by a ZADD from another connection */
    send_only(c1, "BZPOPMIN %s 0", k);
    wait_blocked(c2, 1);
    expect_int(hcmd(c2, "ZADD %s 5 m", k), 1);
    expect_popped(c1, k, "m", "5");
    expect_int(hcmd(c2, "EXISTS %s", k), 0);
    /* keys on two threads: woken by the second one */
    send_only(c1, "BZPOPMAX %s nokey2 0", other);
    wait_blocked(c2, 1);
    expect_int(hcmd(c2, "ZADD nokey2 1 a 2 b"), 2);
    expect_popped(c1, "nokey2", "b", "2");
    expect_int(hcmd(c2, "DEL nokey2"), 1);
    /* FIFO between two waiters */
    send_only(c1, "BZPOPMIN %s 0", k);
    wait_blocked(c3, 1);
    send_only(c2, "BZPOPMIN %s 0", k);
    wait_blocked(c3, 2);
    expect_int(hcmd(c3, "ZADD %s 1 first", k), 1);
    expect_popped(c1, k, "first", "1");
    wait_blocked(c3, 1);
    expect_int(hcmd(c3, "ZADD %s 2 second", k), 1);
    expect_popped(c2, k, "second", "2");
    /* BZMPOP parks too, and a wrong-typed key does not wake it */
    send_only(c1, "BZMPOP 0 1 %s MAX COUNT 5", k);
    wait_blocked(c3, 1);
    expect_status(hcmd(c3, "MULTI"), "OK");
    expect_status(hcmd(c3, "SET %s x", k), "QUEUED");
    expect_status(hcmd(c3, "DEL %s", k), "QUEUED");
    expect_status(hcmd(c3, "ZADD %s 1 a 2 b", k), "QUEUED");
    r = hcmd(c3, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    void *rep;
    cr_assert_eq(redisGetReply(c1, &rep), REDIS_OK);
    r = rep;
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_str_eq(r->element[0]->str, k);
    cr_assert_eq(r->element[1]->elements, 2);
    freeReplyObject(r);
    wait_blocked(c3, 0);
    redisFree(c1);
    redisFree(c2);
    redisFree(c3);
    server_stop_clean(&srv);
}
