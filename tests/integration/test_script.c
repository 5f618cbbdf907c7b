/* tests/integration/test_script.c — Lua scripting against --threads 4:
 * EVAL / EVALSHA / SCRIPT LOAD / EXISTS / FLUSH (caches kept per thread:
 * EVALSHA from connections on other threads), Redis <-> Lua reply
 * conversions, Redis 7's error texts, the sandbox, redis.call on keys of
 * several threads (declared or not), and atomicity: scripts that INCR two
 * UNDECLARED keys on different threads, run concurrently from several
 * clients, while readers MGET both keys and must always see them equal. */
#include "harness.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WRITERS 4
#define ROUNDS 1500
#define READERS 2

static struct server srv;
static char ka[64], kb[64], kc[64]; /* on threads 1, 2, 3 */

static void up(void)
{
    char t[32];
    key_on_thread(t, sizeof(t), "a", 1, 4, 0);
    snprintf(ka, sizeof(ka), "{%s}:a", t);
    key_on_thread(t, sizeof(t), "b", 2, 4, 0);
    snprintf(kb, sizeof(kb), "{%s}:b", t);
    key_on_thread(t, sizeof(t), "c", 3, 4, 0);
    snprintf(kc, sizeof(kc), "{%s}:c", t);
    server_start(&srv, 4, NULL);
}

static void down(void) { server_stop(&srv); }

TestSuite(script, .init = up, .fini = down, .timeout = 300);

static redisReply *eval0(redisContext *c, const char *script)
{
    const char *argv[] = {"EVAL", script, "0"};
    return hcmdv(c, 3, argv, NULL);
}

static void expect_error_prefix(redisReply *r, const char *prefix)
{
    cr_assert_not_null(r);
    cr_assert_eq(r->type, REDIS_REPLY_ERROR, "expected error, got type %d", r->type);
    cr_assert(strncmp(r->str, prefix, strlen(prefix)) == 0, "error '%s' does not start with '%s'", r->str, prefix);
    freeReplyObject(r);
}

Test(script, eval_evalsha_and_cache)
{
    redisContext *c = hconnect(&srv);
    expect_int(eval0(c, "return 1"), 1);
    expect_status(hcmd(c, "EVAL %s 1 %s %s", "return redis.call('set',KEYS[1],ARGV[1])", ka, "v1"), "OK");
    expect_bulk(hcmd(c, "GET %s", ka), "v1");
    /* SHA1 of the body, as Redis */
    expect_bulk(hcmd(c, "SCRIPT LOAD %s", "return 'hi'"), "2f31ba2bb6d6a0f42cc159d2e2dad55440778de3");
    expect_bulk(eval0(c, "return redis.sha1hex('')"), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    /* EVALSHA from many connections (spread over the threads) */
    for (int i = 0; i < 8; i++) {
        redisContext *o = hconnect(&srv);
        expect_bulk(hcmd(o, "EVALSHA 2f31ba2bb6d6a0f42cc159d2e2dad55440778de3 0"), "hi");
        expect_bulk(hcmd(o, "EVALSHA 2F31BA2BB6D6A0F42CC159D2E2DAD55440778DE3 0"), "hi");
        redisFree(o);
    }
    /* EVAL caches its body: EVALSHA works afterwards, from any thread */
    expect_int(eval0(c, "return 42"), 42);
    char sha[41];
    {
        redisReply *r = hcmd(c, "SCRIPT LOAD %s", "return 42");
        cr_assert_eq(r->type, REDIS_REPLY_STRING);
        snprintf(sha, sizeof(sha), "%s", r->str);
        freeReplyObject(r);
    }
    redisReply *r = hcmd(c, "SCRIPT EXISTS %s ffffffffffffffffffffffffffffffffffffffff 2f31ba2bb6d6a0f42cc159d2e2dad55440778de3", sha);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 3);
    cr_assert_eq(r->element[0]->integer, 1);
    cr_assert_eq(r->element[1]->integer, 0);
    cr_assert_eq(r->element[2]->integer, 1);
    freeReplyObject(r);
    expect_status(hcmd(c, "SCRIPT FLUSH"), "OK");
    expect_error(hcmd(c, "EVALSHA %s 0", sha), "NOSCRIPT No matching script. Please use EVAL.");
    expect_error(hcmd(c, "EVALSHA nosuch 0"), "NOSCRIPT No matching script. Please use EVAL.");
    r = hcmd(c, "SCRIPT EXISTS %s", sha);
    cr_assert_eq(r->element[0]->integer, 0);
    freeReplyObject(r);
    expect_error(hcmd(c, "SCRIPT FLUSH bad"), "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    expect_error(hcmd(c, "SCRIPT KILL"), "NOTBUSY No scripts in execution right now.");
    redisFree(c);
}

Test(script, conversions)
{
    redisContext *c = hconnect(&srv);
    redisReply *r = eval0(c, "return {1,'two',{3,'x'},nil,4}");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 3); /* arrays stop at the first nil */
    cr_assert_eq(r->element[0]->integer, 1);
    cr_assert_str_eq(r->element[1]->str, "two");
    cr_assert_eq(r->element[2]->type, REDIS_REPLY_ARRAY);
    cr_assert_str_eq(r->element[2]->element[1]->str, "x");
    freeReplyObject(r);
    expect_int(eval0(c, "return 3.99"), 3);
    expect_int(eval0(c, "return -3.99"), -3);
    expect_int(eval0(c, "return true"), 1);
    expect_nil(eval0(c, "return false"));
    expect_nil(eval0(c, "return nil"));
    expect_status(eval0(c, "return {ok='fine'}"), "fine");
    expect_status(eval0(c, "return redis.status_reply('STATUS')"), "STATUS");
    expect_error(eval0(c, "return {err='My Error'}"), "My Error");
    expect_error(eval0(c, "return redis.error_reply('My Error')"), "My Error");
    expect_error(eval0(c, "return redis.error_reply('-CODE x')"), "CODE x");
    /* Redis -> Lua */
    freeReplyObject(hcmd(c, "DEL %s", kb));
    expect_bulk(eval0(c, "return type(redis.call('get','nokey-x'))"), "boolean");
    expect_bulk(eval0(c, "local t = redis.call('set','{x}s','1'); return t.ok"), "OK");
    expect_bulk(eval0(c, "return type(redis.call('incr','{x}s'))"), "number");
    expect_bulk(eval0(c, "local e = redis.pcall('incr','{x}s','extra'); return e.err"),
                "ERR Wrong number of args calling Redis command from script");
    expect_bulk(eval0(c, "redis.call('set','{x}str','abc'); local e = redis.pcall('incr','{x}str'); return e.err"),
                "ERR value is not an integer or out of range");
    r = eval0(c, "return redis.call('mget','{x}s','nokey-y')");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 2);
    cr_assert_str_eq(r->element[0]->str, "2");
    cr_assert_eq(r->element[1]->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    expect_bulk(eval0(c, "return cjson.encode({1,2,3})"), "[1,2,3]");
    expect_int(eval0(c, "return cjson.decode('[5]')[1]"), 5);
    expect_int(eval0(c, "return bit.band(7,3)"), 3);
    expect_int(eval0(c, "return #KEYS + #ARGV"), 0);
    r = hcmd(c, "EVAL %s 2 k1 k2 a1", "return {KEYS[1],KEYS[2],ARGV[1]}");
    cr_assert_eq(r->elements, 3);
    cr_assert_str_eq(r->element[2]->str, "a1");
    freeReplyObject(r);
    /* numbers passed to redis.call */
    expect_bulk(eval0(c, "redis.call('set','{x}n',10); return redis.call('get','{x}n')"), "10");
    expect_bulk(eval0(c, "redis.call('set','{x}n',1.5); return redis.call('get','{x}n')"), "1.5");
    /* RESP3 via redis.setresp */
    expect_bulk(eval0(c, "redis.setresp(3); local t = redis.call('get','nokey-z'); return type(t)"), "nil");
    redisFree(c);
}

Test(script, errors_and_sandbox)
{
    redisContext *c = hconnect(&srv);
    expect_error(hcmd(c, "EVAL %s 3 a", "return 1"), "ERR Number of keys can't be greater than number of args");
    expect_error(hcmd(c, "EVAL %s -1", "return 1"), "ERR Number of keys can't be negative");
    expect_error(hcmd(c, "EVAL %s x", "return 1"), "ERR value is not an integer or out of range");
    expect_error_prefix(eval0(c, "return 'x' .."), "ERR Error compiling script (new function): user_script:1:");
    expect_error(eval0(c, "return b"),
                 "ERR user_script:1: Script attempted to access nonexistent global variable 'b' script: "
                 "816510dfadab6b5fbade21d62972b3b4ab4b5cca, on @user_script:1.");
    expect_error_prefix(eval0(c, "a = 1"), "ERR user_script:1: Attempt to modify a readonly table script: ");
    expect_error_prefix(eval0(c, "return os.time()"), "ERR user_script:1: Script attempted to access nonexistent global variable 'os'");
    expect_error_prefix(eval0(c, "return io"), "ERR user_script:1: Script attempted to access nonexistent global variable 'io'");
    expect_error_prefix(eval0(c, "return loadfile"), "ERR user_script:1: Script attempted to access nonexistent global variable 'loadfile'");
    expect_error_prefix(eval0(c, "return dofile"), "ERR user_script:1: Script attempted to access nonexistent global variable 'dofile'");
    expect_error_prefix(eval0(c, "return redis.call('nosuchcmd')"), "ERR Unknown Redis command called from script script: ");
    expect_error_prefix(eval0(c, "return redis.call('incr')"), "ERR Wrong number of args calling Redis command from script script: ");
    expect_error_prefix(eval0(c, "return redis.call('eval','return 1','0')"), "ERR This Redis command is not allowed from script script: ");
    expect_error_prefix(eval0(c, "return redis.call({})"), "ERR Lua redis lib command arguments must be strings or integers script: ");
    expect_error_prefix(eval0(c, "return redis.call()"), "ERR Please specify at least one argument for this redis lib call script: ");
    expect_error_prefix(eval0(c, "redis.call('set','{x}w','abc'); return redis.call('incr','{x}w')"),
                        "ERR value is not an integer or out of range script: ");
    expect_error_prefix(eval0(c, "error('boom')"), "ERR user_script:1: boom script: ");
    expect_error_prefix(eval0(c, "error({err='MYCODE custom'})"), "MYCODE custom");
    expect_bulk(eval0(c, "local ok, e = pcall(function() redis.call('nosuchcmd') end); return e"),
                "ERR Unknown Redis command called from script");
    /* EVAL_RO rejects writes */
    const char *argv[] = {"EVAL_RO", "return redis.call('set','{x}ro','1')", "0"};
    expect_error_prefix(hcmdv(c, 3, argv, NULL), "ERR Write commands are not allowed from read-only scripts. script: ");
    const char *argv2[] = {"EVAL_RO", "return redis.call('get','{x}ro')", "0"};
    expect_nil(hcmdv(c, 3, argv2, NULL));
    /* the server is still fine */
    expect_status(hcmd(c, "PING"), "PONG");
    redisFree(c);
}

static long long info_memory_field(redisContext *c, const char *field)
{
    redisReply *r = hcmd(c, "INFO memory");
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    char pat[64];
    snprintf(pat, sizeof(pat), "\r\n%s:", field);
    const char *p = strstr(r->str, pat);
    cr_assert_not_null(p, "%s missing", field);
    long long v = atoll(p + strlen(pat));
    freeReplyObject(r);
    return v;
}

/* INFO memory: scripts cached on several threads are counted once. */
Test(script, info_memory_counts_distinct_scripts)
{
    redisContext *c = hconnect(&srv);
    expect_status(hcmd(c, "SCRIPT FLUSH"), "OK");
    cr_assert_eq(info_memory_field(c, "number_of_cached_scripts"), 0);
    for (int i = 0; i < 8; i++) { /* the same two scripts from connections on every thread */
        redisContext *o = hconnect(&srv);
        freeReplyObject(hcmd(o, "SCRIPT LOAD %s", "return 'one'"));
        freeReplyObject(eval0(o, "return 'two'"));
        redisFree(o);
    }
    freeReplyObject(hcmd(c, "SCRIPT LOAD %s", "return 'three'"));
    cr_assert_eq(info_memory_field(c, "number_of_cached_scripts"), 3);
    cr_assert_gt(info_memory_field(c, "used_memory_vm_eval"), 0);
    cr_assert_gt(info_memory_field(c, "used_memory_scripts_eval"), 0);
    cr_assert_eq(info_memory_field(c, "used_memory_lua"), info_memory_field(c, "used_memory_vm_eval"));
    expect_status(hcmd(c, "SCRIPT FLUSH ASYNC"), "OK");
    cr_assert_eq(info_memory_field(c, "number_of_cached_scripts"), 0);
    cr_assert_eq(info_memory_field(c, "used_memory_scripts_eval"), 0);
    redisFree(c);
}

/* EVAL's "#!lua" shebang, as Redis 7.0's evalExtractShebangFlags parses it. */
Test(script, eval_shebang_flags)
{
    redisContext *c = hconnect(&srv);
    expect_int(eval0(c, "#!lua\nreturn 1"), 1);
    expect_int(eval0(c, "#!lua flags=\nreturn 2"), 2);
    expect_int(eval0(c, "#!lua   flags=no-writes,allow-oom  \nreturn 3"), 3);
    expect_int(eval0(c, "#!lua \"flags=no-writes\"\nreturn 4"), 4);
    expect_error(eval0(c, "#!not-lua\nreturn 1"), "ERR Unexpected engine in script shebang: #!not-lua");
    expect_error(eval0(c, "#!lua badger=data\nreturn 1"), "ERR Unknown lua shebang option: badger=data");
    expect_error(eval0(c, "#!lua flags=allow-oom,what?\nreturn 1"), "ERR Unexpected flag in script shebang: what?");
    expect_error(eval0(c, "#!lua flags=NO-WRITES\nreturn 1"), "ERR Unexpected flag in script shebang: NO-WRITES");
    expect_error(eval0(c, "#!lua flags=no-writes,,allow-oom\nreturn 1"), "ERR Unexpected flag in script shebang: ");
    expect_error(eval0(c, "#!lua return 1"), "ERR Invalid script shebang");
    expect_error(eval0(c, "#!lua \"flags=no-writes\nreturn 1"), "ERR Invalid engine in script shebang");
    expect_error(hcmd(c, "SCRIPT LOAD %s", "#!lua what\nreturn 1"), "ERR Unknown lua shebang option: what");
    /* the newline stays: line numbers are the user's */
    redisReply *r = eval0(c, "#!lua\nerror('x')");
    cr_assert_eq(r->type, REDIS_REPLY_ERROR);
    cr_assert(strstr(r->str, "user_script:2:") != NULL, "%s", r->str);
    freeReplyObject(r);
    /* no-writes: writes refused, reads fine (keys on another thread too) */
    expect_status(hcmd(c, "SET %s v", kb), "OK");
    const char *nw[] = {"EVAL", "#!lua flags=no-writes\nredis.call('set',KEYS[1],1)\nreturn 1", "1", ka};
    expect_error(hcmdv(c, 4, nw, NULL), "ERR Write commands are not allowed from read-only scripts. script: "
                                          "0be178324fdf53b7f5adcfe1a5a2aa4766a34d4c, on @user_script:2.");
    const char *rd[] = {"EVAL", "#!lua flags=no-writes\nreturn redis.call('get',KEYS[1])", "1", kb};
    expect_bulk(hcmdv(c, 4, rd, NULL), "v");
    /* *_ro: a script declaring flags without no-writes is refused up front;
     * a legacy script (no shebang) runs read-only */
    const char *ro1[] = {"EVAL_RO", "#!lua\nreturn 1", "0"};
    expect_error(hcmdv(c, 3, ro1, NULL), "ERR Can not execute a script with write flag using *_ro command.");
    const char *ro2[] = {"EVAL_RO", "#!lua flags=no-writes\nreturn redis.call('get',KEYS[1])", "1", kb};
    expect_bulk(hcmdv(c, 4, ro2, NULL), "v");
    const char *ro3[] = {"EVAL_RO", "return 5", "0"};
    expect_int(hcmdv(c, 3, ro3, NULL), 5);
    /* EVALSHA keeps the flags, from a connection on any thread */
    r = hcmd(c, "SCRIPT LOAD %s", "#!lua flags=no-writes\nreturn redis.call('set',KEYS[1],1)");
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    char sha[41];
    snprintf(sha, sizeof(sha), "%s", r->str);
    freeReplyObject(r);
    for (int i = 0; i < 6; i++) {
        redisContext *o = hconnect(&srv);
        r = hcmd(o, "EVALSHA %s 1 %s", sha, kc);
        cr_assert_eq(r->type, REDIS_REPLY_ERROR);
        cr_assert(strstr(r->str, "Write commands are not allowed from read-only scripts") != NULL, "%s", r->str);
        freeReplyObject(r);
        redisFree(o);
    }
    redisFree(c);
}

Test(script, keys_on_several_threads)
{
    cr_assert_neq(key_thread(ka, 4), key_thread(kb, 4));
    cr_assert_neq(key_thread(kb, 4), key_thread(kc, 4));
    redisContext *c = hconnect(&srv);
    /* undeclared keys on three threads, single-key and multi-key commands */
    char s[1024];
    snprintf(s, sizeof(s),
             "redis.call('set','%s','1'); redis.call('set','%s','2'); redis.call('mset','%s','3','%s','4');"
             "return redis.call('mget','%s','%s','%s')", ka, kb, kc, ka, ka, kb, kc);
    redisReply *r = eval0(c, s);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 3);
    cr_assert_str_eq(r->element[0]->str, "4");
    cr_assert_str_eq(r->element[1]->str, "2");
    cr_assert_str_eq(r->element[2]->str, "3");
    freeReplyObject(r);
    snprintf(s, sizeof(s), "return redis.call('del','%s','%s','%s')", ka, kb, kc);
    expect_int(eval0(c, s), 3);
    expect_int(eval0(c, "redis.call('flushall'); return redis.call('dbsize')"), 0);
    /* inside MULTI */
    expect_status(hcmd(c, "MULTI"), "OK");
    snprintf(s, sizeof(s), "redis.call('incr','%s'); return redis.call('incr','%s')", ka, kb);
    expect_status(eval0(c, s), "QUEUED");
    expect_status(hcmd(c, "GET %s", ka), "QUEUED");
    r = hcmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 2);
    cr_assert_eq(r->element[0]->integer, 1);
    cr_assert_str_eq(r->element[1]->str, "1");
    freeReplyObject(r);
    redisFree(c);
}

static atomic_int stop_readers;
static atomic_int bad_reads;

static void *writer(void *arg)
{
    (void)arg;
    redisContext *c = hconnect(&srv);
    char s[512];
    snprintf(s, sizeof(s), "redis.call('incr','%s'); redis.call('incr','%s'); redis.call('incr','%s'); return 1", ka,
             kb, kc);
    for (int i = 0; i < ROUNDS; i++) {
        redisReply *r = eval0(c, s);
        if (!r || r->type != REDIS_REPLY_INTEGER)
            atomic_fetch_add(&bad_reads, 1000000);
        if (r)
            freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    redisContext *c = hconnect(&srv);
    while (!atomic_load(&stop_readers)) {
        redisReply *r = hcmd(c, "MGET %s %s %s", ka, kb, kc);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
            atomic_fetch_add(&bad_reads, 1);
        } else {
            long long a = r->element[0]->str ? atoll(r->element[0]->str) : 0;
            long long b = r->element[1]->str ? atoll(r->element[1]->str) : 0;
            long long cc = r->element[2]->str ? atoll(r->element[2]->str) : 0;
            if (a != b || b != cc)
                atomic_fetch_add(&bad_reads, 1);
        }
        if (r)
            freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

Test(script, atomic_undeclared_keys_across_threads)
{
    redisContext *c = hconnect(&srv);
    freeReplyObject(hcmd(c, "DEL %s %s %s", ka, kb, kc));
    atomic_store(&stop_readers, 0);
    atomic_store(&bad_reads, 0);
    pthread_t w[WRITERS], rd[READERS];
    for (int i = 0; i < READERS; i++)
        pthread_create(&rd[i], NULL, reader, NULL);
    for (int i = 0; i < WRITERS; i++)
        pthread_create(&w[i], NULL, writer, NULL);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(w[i], NULL);
    atomic_store(&stop_readers, 1);
    for (int i = 0; i < READERS; i++)
        pthread_join(rd[i], NULL);
    cr_assert_eq(atomic_load(&bad_reads), 0, "readers saw a half-applied script %d times", atomic_load(&bad_reads));
    char want[32];
    snprintf(want, sizeof(want), "%d", WRITERS * ROUNDS);
    expect_bulk(hcmd(c, "GET %s", ka), want);
    expect_bulk(hcmd(c, "GET %s", kb), want);
    expect_bulk(hcmd(c, "GET %s", kc), want);
    redisFree(c);
}

/* ---------- scripts past busy-reply-threshold (own server per test) ---------- */

static struct server bsrv;

static void busy_up(void) { server_start(&bsrv, 4, NULL); }
static void busy_down(void) { server_stop(&bsrv); }

TestSuite(script_busy, .init = busy_up, .fini = busy_down, .timeout = 300);

/* Send a command without waiting for its reply (the script will not answer yet). */
static void send_only(redisContext *c, const char *script)
{
    redisAppendCommand(c, "EVAL %s 0", script);
    int done = 0;
    while (!done)
        cr_assert_eq(redisBufferWrite(c, &done), REDIS_OK);
}

/* Wait until a fresh connection's PING answers BUSY. */
static void wait_busy(void)
{
    for (int i = 0; i < 100; i++) {
        redisContext *c = hconnect(&bsrv);
        redisReply *r = hcmd(c, "PING");
        bool busy = r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSY ", 5) == 0;
        freeReplyObject(r);
        redisFree(c);
        if (busy)
            return;
        usleep(20000);
    }
    cr_assert_fail("the script never became busy");
}

Test(script_busy, other_threads_get_busy_and_script_kill_works)
{
    redisContext *admin = hconnect(&bsrv);
    expect_status(hcmd(admin, "CONFIG SET lua-time-limit 10"), "OK");
    redisContext *runner = hconnect(&bsrv);
    send_only(runner, "while true do end");
    wait_busy();
    /* keys on every thread, from connections spread over the threads */
    for (int t = 0; t < 4; t++) {
        char key[64];
        key_on_thread(key, sizeof(key), "busy", t, 4, 0);
        for (int k = 0; k < 3; k++) {
            redisContext *c = hconnect(&bsrv);
            expect_error(hcmd(c, "GET %s", key),
                         "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.");
            redisFree(c);
        }
    }
    expect_error(hcmd(admin, "FUNCTION KILL"),
                 "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.");
    redisReply *st = hcmd(admin, "FUNCTION STATS");
    cr_assert_eq(st->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(st->element[1]->type, REDIS_REPLY_ARRAY); /* running_script is a map */
    freeReplyObject(st);
    expect_status(hcmd(admin, "SCRIPT KILL"), "OK");
    redisReply *r = NULL;
    cr_assert_eq(redisGetReply(runner, (void **)&r), REDIS_OK);
    cr_assert_eq(r->type, REDIS_REPLY_ERROR);
    cr_assert(strstr(r->str, "ERR Script killed by user with SCRIPT KILL...") == r->str, "%s", r->str);
    freeReplyObject(r);
    expect_status(hcmd(runner, "PING"), "PONG");
    expect_status(hcmd(admin, "PING"), "PONG");
    expect_error(hcmd(admin, "SCRIPT KILL"), "NOTBUSY No scripts in execution right now.");
    redisFree(runner);
    redisFree(admin);
}

Test(script_busy, unkillable_after_write_then_shutdown_nosave)
{
    redisContext *admin = hconnect(&bsrv);
    expect_status(hcmd(admin, "CONFIG SET lua-time-limit 10"), "OK");
    redisContext *runner = hconnect(&bsrv);
    send_only(runner, "redis.call('set','x','y') while true do end");
    wait_busy();
    expect_error(hcmd(admin, "SCRIPT KILL"),
                 "UNKILLABLE Sorry the script already executed write commands against the dataset. You can "
                 "either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE "
                 "command.");
    expect_error(hcmd(admin, "SHUTDOWN"),
                 "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.");
    redisAppendCommand(admin, "SHUTDOWN NOSAVE");
    int done = 0;
    while (!done)
        cr_assert_eq(redisBufferWrite(admin, &done), REDIS_OK);
    for (int i = 0; i < 250 && server_alive(&bsrv); i++)
        usleep(20000);
    cr_assert(!server_alive(&bsrv), "SHUTDOWN NOSAVE did not stop the server");
    redisFree(runner);
    redisFree(admin);
}

/* Cluster mode: a script that declares flags must keep to one slot unless
 * allow-cross-slot-keys (legacy scripts may cross slots); no-cluster
 * refuses to run, as Redis 7.0's scriptPrepareForRun / scriptVerifyClusterState. */
TestSuite(script_cluster, .timeout = 300);

Test(script_cluster, shebang_flags_in_cluster_mode)
{
    struct server s;
    char dir[] = "/tmp/darter-script-cluster-XXXXXX"; /* its own nodes.conf */
    cr_assert_not_null(mkdtemp(dir));
    server_start(&s, 4, "--cluster-enabled", "yes", "--dir", dir, NULL);
    redisContext *c = hconnect(&s);
    expect_status(hcmd(c, "CLUSTER ADDSLOTSRANGE 0 16383"), "OK");
    const char *two = "redis.call('set','a',1) return redis.call('set','b',1)";
    char body[256];
    expect_status(hcmd(c, "EVAL %s 0", two), "OK");
    snprintf(body, sizeof(body), "#!lua\n%s", two);
    expect_error(hcmd(c, "EVAL %s 0", body), "ERR Script attempted to access keys that do not hash to the same slot "
                                              "script: a225f514c1ad9d479f45b2714d192b6e1e8f8826, on @user_script:2.");
    snprintf(body, sizeof(body), "#!lua flags=allow-cross-slot-keys\n%s", two);
    expect_status(hcmd(c, "EVAL %s 0", body), "OK");
    /* the declared key's slot counts */
    redisReply *r = hcmd(c, "EVAL %s 1 a", "#!lua\nreturn redis.call('get','b')");
    cr_assert_eq(r->type, REDIS_REPLY_ERROR);
    cr_assert(strstr(r->str, "do not hash to the same slot") != NULL, "%s", r->str);
    freeReplyObject(r);
    expect_bulk(hcmd(c, "EVAL %s 1 {a}x", "#!lua\nreturn redis.call('get','a')"), "1");
    expect_error(hcmd(c, "EVAL %s 0", "#!lua flags=no-cluster\nreturn 1"),
                 "ERR Can not run script on cluster, 'no-cluster' flag is set.");
    redisFree(c);
    server_stop_clean(&s);
    char path[128];
    snprintf(path, sizeof(path), "%s/nodes.conf", dir);
    unlink(path);
    rmdir(dir);
}
