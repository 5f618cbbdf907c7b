/* tests/integration/test_set.c — the set family against a real darter
 * (--threads 4): replies compared byte for byte with redis-server for the
 * deterministic cases (intset orders, counts, errors, RESP2 and RESP3,
 * SORT over sets with BY/GET patterns whose keys sit on other threads);
 * SMOVE and SINTERSTORE/SUNIONSTORE/SDIFFSTORE/SINTERCARD with keys on
 * different threads checked for atomicity under concurrent writers; RDB
 * files and DUMP payloads exchanged with redis-server both ways. Client
 * threads are bounded by iteration counts, never by time. */
#include "harness.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static struct server srv, ref;
static char dir[256];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/darter-set-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    server_stop(&srv);
    server_stop(&ref);
    if (dir[0])
        nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(set, .init = setup, .fini = teardown, .timeout = 300);

/* ---------- byte-for-byte replies ---------- */

/* A command line split on spaces; "\e" stands for the empty string. */
static void send_line(struct raw *r, const char *line)
{
    char copy[1024];
    snprintf(copy, sizeof(copy), "%s", line);
    char *argv[64];
    int argc = 0;
    for (char *tok = strtok(copy, " "); tok && argc < 64; tok = strtok(NULL, " "))
        argv[argc++] = strcmp(tok, "\\e") ? tok : "";
    char buf[4096];
    int n = snprintf(buf, sizeof(buf), "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    cr_assert(raw_send(r, buf, (size_t)n));
}

static void compare(struct raw *d, struct raw *rr, const char *line)
{
    send_line(d, line);
    send_line(rr, line);
    size_t dl, rl;
    char *dr = raw_reply(d, &dl), *rp = raw_reply(rr, &rl);
    cr_assert_not_null(dr, "no reply from darter to %s", line);
    cr_assert_not_null(rp, "no reply from redis to %s", line);
    char want[2048];
    snprintf(want, sizeof(want), "%s", printable(rp, rl));
    cr_assert(dl == rl && memcmp(dr, rp, dl) == 0, "%s\n darter: %s\n  redis: %s", line, printable(dr, dl), want);
    free(dr);
    free(rp);
}

static const char *const script[] = {
    "FLUSHALL",
    /* SORT first: Redis reads a stale errno after a failed strtoull (SSCAN's huge cursor below) */
    "SET str v",
    "SADD srt 3 1 2 10", "MSET w_1 30 w_2 20 w_3 10 w_10 5 o_1 one o_2 two", "SORT srt", "SORT srt DESC",
    "SORT srt LIMIT 1 2", "SORT srt ALPHA", "SORT srt BY w_*", "SORT srt BY w_* GET o_* GET #", "SORT srt BY nosort",
    "SORT srt BY w_* DESC ALPHA", "SORT srt LIMIT -5 2", "SORT srt LIMIT 10 2", "SORT srt LIMIT 0 -1",
    "SORT srt BY nosort DESC", "SORT nokey STORE dstx", "SORT_RO srt STORE x", "SORT str", "SORT srt LIMIT a b",
    "SORT srt LIMIT 1", "SORT srt GET", "SORT srt BY nosort GET o_*", "SADD srtbad a b 1", "SORT srtbad",
    "SORT srtbad ALPHA", "SORT srtbad ALPHA DESC LIMIT 0 2", "SORT srt BY w_*->f", "HSET h_1 f 30 g x", "HSET h_2 f 20", "HSET h_3 f 10 g y", "HSET h_10 f 5",
    "SORT srt BY h_*->f", "SORT srt BY h_*->f GET h_*->g GET #", "SORT srt BY h_*->nofield", "SORT srt GET h_*->",
    "SORT srt BY h_*->f DESC LIMIT 1 2 GET h_*->f", "SORT_RO srt BY w_* GET o_*",
    "SORT srt GET nostar", "SORT srt BY o_* ALPHA", "SET w_2 bad", "SORT srt BY w_*", "SORT nokey", "SORT_RO nokey",
    "HELLO 3", "SORT srt BY w_* GET o_*", "HELLO 2",
    "SADD s 3 1 2", "SADD s 2 4", "SMEMBERS s", "OBJECT ENCODING s", "SCARD s",
    "SISMEMBER s 2", "SISMEMBER s 9", "SISMEMBER nokey 1", "SMISMEMBER s 1 9 4", "SMISMEMBER nokey a",
    "SADD s 1000000 -5 70000", "SMEMBERS s", "SADD s 9223372036854775807 -9223372036854775808", "SMEMBERS s",
    "OBJECT ENCODING s", "SREM s 2 3 99", "SMEMBERS s", "SREM nokey a", "SCARD nokey", "SMEMBERS nokey",
    "SADD h a", "OBJECT ENCODING h", "SMEMBERS h", "SADD i 1 x", "OBJECT ENCODING i", "SADD e \\e", "SMEMBERS e",
    "SADD n 01", "OBJECT ENCODING n", "SADD b 18446744073709551616", "OBJECT ENCODING b",
    "SET str v", "SADD str a", "SREM str a", "SCARD str", "SISMEMBER str a", "SMISMEMBER str a", "SMEMBERS str",
    "SRANDMEMBER str", "SRANDMEMBER str 3", "SPOP str", "SPOP str 2", "SSCAN str 0",
    "SADD", "SADD s", "SREM s", "SCARD", "SISMEMBER s", "SMISMEMBER s", "SMOVE a b", "SINTER", "SINTERSTORE d",
    "SRANDMEMBER nokey", "SRANDMEMBER nokey 5", "SRANDMEMBER s 0", "SRANDMEMBER s 1 2", "SRANDMEMBER s x",
    "SRANDMEMBER s -9223372036854775808", "SRANDMEMBER s 100", "SRANDMEMBER h -3",
    "SPOP nokey", "SPOP nokey 3", "SPOP s 0", "SPOP s -1", "SPOP s x", "SPOP s 1 2", "SPOP h", "EXISTS h",
    "SADD p 1 2 3", "SPOP p 10", "EXISTS p",
    "DEL a b c d", "SADD a 1 2 3 4 5", "SADD b 4 5 6", "SADD c 5 6 7",
    "SINTER a b", "SINTER a b c", "SINTER a nokey", "SINTER a str", "SINTER nokey str",
    "SUNION a b c", "SUNION a nokey", "SUNION a str", "SDIFF a b c", "SDIFF a b", "SDIFF nokey a", "SDIFF a str",
    "SINTERCARD 2 a b", "SINTERCARD 3 a b c LIMIT 0", "SINTERCARD 2 a b LIMIT 1", "SINTERCARD 1 a limit 2",
    "SINTERCARD 0 a", "SINTERCARD -1 a", "SINTERCARD x a", "SINTERCARD 3 a b", "SINTERCARD 1 a LIMIT -1",
    "SINTERCARD 1 a LIMIT", "SINTERCARD 1 a foo bar", "SINTERCARD 2 a str", "SINTERCARD 2 a nokey",
    "SINTERSTORE d a b", "SMEMBERS d", "OBJECT ENCODING d", "SINTERSTORE d a nokey", "EXISTS d",
    "SUNIONSTORE d a b c", "SMEMBERS d", "SDIFFSTORE d a b", "SMEMBERS d", "SDIFFSTORE d b a c", "EXISTS d",
    "SET d x", "SUNIONSTORE d a", "TYPE d", "SINTERSTORE d str a", "TYPE d", "SUNIONSTORE a a b", "SMEMBERS a",
    "SMOVE a b 1", "SMEMBERS a", "SMEMBERS b", "SMOVE a b 99", "SMOVE nokey b 1", "SMOVE a str 2", "SMOVE str a 1",
    "SMOVE nokey str 1", "SMOVE a a 2", "SMOVE a a 99", "SMOVE a newset 2", "SMEMBERS newset",
    "SMOVE h newset2 x", "SADD one only", "SMOVE one other only", "EXISTS one", "SMEMBERS other",
    "SSCAN a 0", "SSCAN a 0 MATCH 1*", "SSCAN a 0 COUNT 0", "SSCAN a 0 COUNT x", "SSCAN a x", "SSCAN a 0 TYPE set",
    "SSCAN a 0 MATCH", "SSCAN nokey 0", "SSCAN other 0", "SSCAN a 18446744073709551616",
    "CONFIG SET set-max-intset-entries 3", "DEL big", "SADD big 1 2 3", "OBJECT ENCODING big", "SADD big 4",
    "OBJECT ENCODING big", "SREM big 4 3 2", "OBJECT ENCODING big", "SINTERSTORE d2 a a", "OBJECT ENCODING d2",
    "CONFIG SET set-max-intset-entries 512",
    "HELLO 3", "SMEMBERS a", "SMEMBERS nokey", "SINTER a b", "SUNION a b", "SDIFF a b", "SPOP nokey 2",
    "SRANDMEMBER nokey 2", "SRANDMEMBER a 100", "SRANDMEMBER nokey", "SPOP nokey", "SMISMEMBER a 1 2",
    "SSCAN a 0", "SPOP a 100", "HELLO 2",
};

Test(set, replies_match_redis)
{
    server_start(&srv, 4, NULL);
    redis_start(&ref, NULL);
    struct raw *d = raw_connect(srv.port), *r = raw_connect(ref.port);
    for (size_t i = 0; i < sizeof(script) / sizeof(script[0]); i++) {
        if (!strncmp(script[i], "HELLO", 5)) { /* the server maps differ: compare only the protocol switch */
            send_line(d, script[i]);
            send_line(r, script[i]);
            free(raw_reply(d, &(size_t){0}));
            free(raw_reply(r, &(size_t){0}));
            continue;
        }
        compare(d, r, script[i]);
    }
    raw_close(d);
    raw_close(r);
    server_stop_clean(&srv);
    server_stop(&ref);
}

/* Random replies: shapes and membership, since the draws differ. */
Test(set, random_members_are_members)
{
    server_start(&srv, 4, NULL);
    redisContext *c = hconnect(&srv);
    for (int i = 0; i < 200; i++)
        expect_int(hcmd(c, "SADD r m:%d", i), 1);
    redisReply *x = hcmd(c, "SRANDMEMBER r 50");
    cr_assert_eq(x->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(x->elements, 50);
    for (size_t i = 0; i < x->elements; i++) {
        expect_int(hcmd(c, "SISMEMBER r %s", x->element[i]->str), 1);
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(x->element[i]->str, x->element[j]->str);
    }
    freeReplyObject(x);
    x = hcmd(c, "SRANDMEMBER r -500");
    cr_assert_eq(x->elements, 500);
    freeReplyObject(x);
    x = hcmd(c, "SPOP r 190"); /* keeps 10: the path that rebuilds the set */
    cr_assert_eq(x->elements, 190);
    for (size_t i = 0; i < x->elements; i++)
        expect_int(hcmd(c, "SISMEMBER r %s", x->element[i]->str), 0);
    freeReplyObject(x);
    expect_int(hcmd(c, "SCARD r"), 10);
    /* SSCAN over a hashtable: every member once without changes */
    int seen = 0;
    char cur[32] = "0";
    do {
        x = hcmd(c, "SSCAN r %s COUNT 3", cur);
        snprintf(cur, sizeof(cur), "%s", x->element[0]->str);
        seen += (int)x->element[1]->elements;
        freeReplyObject(x);
    } while (strcmp(cur, "0"));
    cr_assert_eq(seen, 10);
    redisFree(c);
    server_stop_clean(&srv);
}

/* ---------- atomicity across threads ---------- */

#define MEMBERS 20
#define MOVES 3000
#define CHECKS 3000

static char ka[64], kb[64], kd[64];
static atomic_int failures;
static atomic_bool moving_done;
static char first_failure[256];

static void fail_once(const char *fmt, long long got)
{
    if (atomic_fetch_add(&failures, 1) == 0)
        snprintf(first_failure, sizeof(first_failure), fmt, got);
}

static void *mover(void *arg)
{
    int id = (int)(long)arg;
    redisContext *c = redisConnect("127.0.0.1", srv.port);
    for (int i = 0; i < MOVES; i++) {
        int m = (i * 7 + id) % MEMBERS;
        redisReply *r = redisCommand(c, (i + id) % 2 ? "SMOVE %s %s m%d" : "SMOVE %s %s m%d", (i + id) % 2 ? ka : kb,
                                     (i + id) % 2 ? kb : ka, m);
        if (!r || r->type != REDIS_REPLY_INTEGER)
            fail_once("SMOVE failed (%lld)", r ? r->type : -1);
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

static void *checker(void *arg)
{
    (void)arg;
    redisContext *c = redisConnect("127.0.0.1", srv.port);
    for (int i = 0; i < CHECKS && !atomic_load(&moving_done); i++) {
        redisReply *r = redisCommand(c, "SUNIONSTORE %s %s %s", kd, ka, kb);
        if (r->integer != MEMBERS)
            fail_once("SUNIONSTORE saw %lld members", r->integer);
        freeReplyObject(r);
        r = redisCommand(c, "SINTERSTORE %s %s %s", kd, ka, kb);
        if (r->integer != 0)
            fail_once("SINTERSTORE saw %lld members in both", r->integer);
        freeReplyObject(r);
        r = redisCommand(c, "SINTERCARD 2 %s %s", ka, kb);
        if (r->integer != 0)
            fail_once("SINTERCARD saw %lld", r->integer);
        freeReplyObject(r);
        /* |A - B| + |B - A| covers everything exactly once */
        r = redisCommand(c, "SDIFFSTORE %s %s %s", kd, ka, kb);
        long long d1 = r->integer;
        freeReplyObject(r);
        r = redisCommand(c, "MULTI");
        freeReplyObject(r);
        r = redisCommand(c, "SCARD %s", ka);
        freeReplyObject(r);
        r = redisCommand(c, "SCARD %s", kb);
        freeReplyObject(r);
        r = redisCommand(c, "EXEC");
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->integer + r->element[1]->integer != MEMBERS)
            fail_once("SCARD A + SCARD B = %lld", r->element[0]->integer + r->element[1]->integer);
        freeReplyObject(r);
        (void)d1;
    }
    redisFree(c);
    return NULL;
}

Test(set, store_and_move_atomic_across_threads)
{
    key_on_thread(ka, sizeof(ka), "seta:", 0, 4, 0);
    key_on_thread(kb, sizeof(kb), "setb:", 1, 4, 0);
    key_on_thread(kd, sizeof(kd), "setd:", 2, 4, 0);
    server_start(&srv, 4, NULL);
    redisContext *c = hconnect(&srv);
    for (int m = 0; m < MEMBERS; m++)
        expect_int(hcmd(c, "SADD %s m%d", m % 2 ? ka : kb, m), 1);
    atomic_store(&failures, 0);
    atomic_store(&moving_done, false);
    pthread_t mv[2], ck[2];
    for (long i = 0; i < 2; i++) {
        pthread_create(&mv[i], NULL, mover, (void *)i);
        pthread_create(&ck[i], NULL, checker, NULL);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(mv[i], NULL);
    atomic_store(&moving_done, true);
    for (int i = 0; i < 2; i++)
        pthread_join(ck[i], NULL);
    cr_assert_eq(atomic_load(&failures), 0, "%d failures; first: %s", atomic_load(&failures), first_failure);
    expect_int(hcmd(c, "SUNIONSTORE %s %s %s", kd, ka, kb), MEMBERS);
    expect_int(hcmd(c, "SINTERCARD 2 %s %s", ka, kb), 0);
    redisFree(c);
    server_stop_clean(&srv);
}

/* ---------- RDB and DUMP with redis-server ---------- */

static void fill_sets(redisContext *c)
{
    expect_int(hcmd(c, "SADD ints 5 -3 70000 9000000000"), 4);
    expect_int(hcmd(c, "SADD strs a b %s", ""), 3);
    for (int i = 0; i < 600; i++) /* over set-max-intset-entries: a hashtable of integers */
        expect_int(hcmd(c, "SADD manyints %d", i), 1);
    char big[5000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    expect_int(hcmd(c, "SADD bigmember %s 12", big), 2);
}

static void check_sets(redisContext *c)
{
    redisReply *r = hcmd(c, "SMEMBERS ints");
    cr_assert_eq(r->elements, 4);
    cr_assert_str_eq(r->element[0]->str, "-3");
    cr_assert_str_eq(r->element[3]->str, "9000000000");
    freeReplyObject(r);
    expect_bulk(hcmd(c, "OBJECT ENCODING ints"), "intset");
    expect_int(hcmd(c, "SCARD strs"), 3);
    expect_int(hcmd(c, "SISMEMBER strs %s", ""), 1);
    expect_bulk(hcmd(c, "OBJECT ENCODING strs"), "hashtable");
    expect_int(hcmd(c, "SCARD manyints"), 600);
    expect_int(hcmd(c, "SISMEMBER manyints 599"), 1);
    expect_bulk(hcmd(c, "OBJECT ENCODING manyints"), "hashtable");
    expect_int(hcmd(c, "SCARD bigmember"), 2);
    expect_int(hcmd(c, "SISMEMBER bigmember 12"), 1);
}

Test(set, rdb_round_trip_with_redis)
{
    server_start(&srv, 4, "--dir", dir, "--save", "", NULL);
    redisContext *c = hconnect(&srv);
    fill_sets(c);
    expect_status(hcmd(c, "SAVE"), "OK");
    redisFree(c);
    server_stop_clean(&srv);

    redis_start(&ref, "--dir", dir, "--dbfilename", "dump.rdb", NULL);
    c = hconnect(&ref);
    check_sets(c);
    expect_int(hcmd(c, "SADD fromredis 1 2 x"), 3);
    expect_int(hcmd(c, "SADD fromredis_is 1 2 3"), 3);
    expect_status(hcmd(c, "SAVE"), "OK");
    redisFree(c);
    server_stop(&ref);

    server_start(&srv, 4, "--dir", dir, "--save", "", NULL);
    c = hconnect(&srv);
    check_sets(c);
    expect_int(hcmd(c, "SCARD fromredis"), 3);
    expect_bulk(hcmd(c, "OBJECT ENCODING fromredis_is"), "intset");
    redisFree(c);
    server_stop_clean(&srv);
}

Test(set, dump_restore_with_redis)
{
    server_start(&srv, 4, NULL);
    redis_start(&ref, NULL);
    redisContext *d = hconnect(&srv), *r = hconnect(&ref);
    fill_sets(d);
    fill_sets(r);
    const char *keys[] = {"ints", "strs", "manyints", "bigmember"};
    for (int i = 0; i < 4; i++) {
        redisReply *dd = hcmd(d, "DUMP %s", keys[i]);
        redisReply *rd = hcmd(r, "DUMP %s", keys[i]);
        expect_status(hcmd(r, "RESTORE %s:d 0 %b", keys[i], dd->str, dd->len), "OK");
        expect_status(hcmd(d, "RESTORE %s:r 0 %b", keys[i], rd->str, rd->len), "OK");
        freeReplyObject(dd);
        freeReplyObject(rd);
        redisReply *a = hcmd(r, "SINTERCARD 2 %s %s:d", keys[i], keys[i]);
        redisReply *b = hcmd(r, "SCARD %s", keys[i]);
        cr_assert_eq(a->integer, b->integer);
        freeReplyObject(a);
        freeReplyObject(b);
        a = hcmd(d, "SDIFF %s %s:r", keys[i], keys[i]);
        cr_assert_eq(a->elements, 0);
        freeReplyObject(a);
        a = hcmd(d, "SCARD %s:r", keys[i]);
        b = hcmd(d, "SCARD %s", keys[i]);
        cr_assert_eq(a->integer, b->integer);
        freeReplyObject(a);
        freeReplyObject(b);
    }
    /* a corrupt intset payload is refused, never a crash */
    const char bad[] = "\x0b\x0c\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x01\x00\x0a\x00";
    redisReply *x = hcmd(d, "RESTORE bad 0 %b", bad, sizeof(bad) - 1);
    cr_assert_eq(x->type, REDIS_REPLY_ERROR);
    freeReplyObject(x);
    expect_status(hcmd(d, "PING"), "PONG");
    redisFree(d);
    redisFree(r);
    server_stop_clean(&srv);
    server_stop(&ref);
}
