/* tests/integration/test_function.c — Redis 7 functions against --threads 4:
 * FUNCTION LOAD / FCALL / FCALL_RO from connections on every thread, keys
 * on every thread, Redis's errors, LIST / DELETE / FLUSH / STATS, DUMP and
 * RESTORE payloads exchanged with a real redis-server both ways, RDB files
 * with libraries loaded by redis-server and back, and the cmsgpack / struct
 * libraries compared byte for byte with redis-server's results. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char lib_code[] =
    "#!lua name=mylib\n"
    "redis.register_function('setit', function(keys, args) return redis.call('set', keys[1], args[1]) end)\n"
    "redis.register_function{function_name='getit', callback=function(keys) return redis.call('get', keys[1]) end,"
    " flags={'no-writes'}, description='reads'}\n"
    "redis.register_function{function_name='badro', callback=function(keys) return redis.call('set', keys[1], 1) end,"
    " flags={'no-writes'}}\n";

static redisReply *load(redisContext *c, const char *code, bool replace)
{
    const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", code};
    if (replace)
        return hcmdv(c, 4, argv, NULL);
    const char *a2[] = {"FUNCTION", "LOAD", code};
    return hcmdv(c, 3, a2, NULL);
}

static void expect_error_match(redisReply *r, const char *part)
{
    cr_assert_not_null(r);
    cr_assert_eq(r->type, REDIS_REPLY_ERROR, "expected an error containing '%s', got type %d", part, r->type);
    cr_assert(strstr(r->str, part), "error '%s' lacks '%s'", r->str, part);
    freeReplyObject(r);
}

static struct server srv;

static void down(void) { server_stop(&srv); }

TestSuite(function, .fini = down, .timeout = 300);

Test(function, load_and_call_on_every_thread)
{
    server_start(&srv, 4, NULL);
    redisContext *c[8];
    for (int i = 0; i < 8; i++)
        c[i] = hconnect(&srv);
    expect_bulk(load(c[0], lib_code, false), "mylib");
    for (int i = 0; i < 8; i++) { /* connections land on different threads */
        for (int k = 0; k < 4; k++) {
            char key[32], val[32];
            key_on_thread(key, sizeof(key), "fk", k, 4, i);
            snprintf(val, sizeof(val), "v%d-%d", i, k);
            expect_status(hcmd(c[i], "FCALL setit 1 %s %s", key, val), "OK");
            expect_bulk(hcmd(c[(i + 1) % 8], "FCALL_RO getit 1 %s", key), val);
        }
    }
    expect_error(hcmd(c[1], "FCALL_RO setit 1 x y"),
                 "ERR Can not execute a script with write flag using *_ro command.");
    expect_error_match(hcmd(c[2], "FCALL badro 1 x"), "Write commands are not allowed from read-only scripts");
    expect_error(hcmd(c[3], "FCALL nosuch 0"), "ERR Function not found");
    expect_error(hcmd(c[3], "FCALL setit 5 x"), "ERR Number of keys can't be greater than number of args");
    expect_error(hcmd(c[3], "FCALL setit -1 x"), "ERR Number of keys can't be negative");
    expect_error(hcmd(c[3], "FCALL setit abc x"), "ERR Bad number of keys provided");
    /* the library's errors, as Redis words them */
    expect_error(load(c[4], lib_code, false), "ERR Library 'mylib' already exists");
    expect_error(load(c[4], "return 1", false), "ERR Missing library metadata");
    expect_error(load(c[4], "#!lua", false), "ERR Invalid library metadata");
    expect_error(load(c[4], "#!lua foo=bar\n", false), "ERR Invalid metadata value given: foo=bar");
    expect_error(load(c[4], "#!lua\nreturn 1", false), "ERR Library name was not given");
    expect_error(load(c[4], "#!js name=x\nreturn 1", false), "ERR Engine 'js' not found");
    expect_error(load(c[4], "#!lua name=x\nlocal a = 1", false), "ERR No functions registered");
    expect_error(load(c[4], "#!lua name=x\nredis.register_function('setit', function() end)", false),
                 "ERR Function setit already exists");
    expect_error_match(load(c[4], "#!lua name=x\nredis.register_function('f', function() end)\n"
                                  "redis.register_function('f', function() end)", false),
                       "Function already exists in the library");
    expect_error_match(load(c[4], "#!lua name=x\nredis.call('ping')", false), "Error registering functions");
    expect_error_match(load(c[4], "#!lua name=x\nreturn math.abs(1)", false),
                       "Script attempted to access nonexistent global variable 'math'");
    expect_error_match(load(c[4], "#!lua name=x\nredis.register_function{function_name='f', callback=function() end,"
                                  " flags={'bogus'}}", false), "unknown flag given");
    /* REPLACE swaps the library on every thread */
    expect_bulk(load(c[5], "#!lua name=mylib\nredis.register_function('setit', function() return 'new' end)", true),
                "mylib");
    for (int i = 0; i < 8; i++)
        expect_bulk(hcmd(c[i], "FCALL setit 0"), "new");
    expect_error(hcmd(c[6], "FCALL getit 1 x"), "ERR Function not found");
    redisReply *r = hcmd(c[7], "FUNCTION LIST WITHCODE");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 1);
    freeReplyObject(r);
    expect_error(hcmd(c[7], "FUNCTION DELETE nosuch"), "ERR Library not found");
    expect_status(hcmd(c[7], "FUNCTION DELETE mylib"), "OK");
    for (int i = 0; i < 8; i++)
        expect_error(hcmd(c[i], "FCALL setit 0"), "ERR Function not found");
    expect_error(hcmd(c[0], "FUNCTION FLUSH bogus"), "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
    expect_status(hcmd(c[0], "FUNCTION FLUSH SYNC"), "OK");
    for (int i = 0; i < 8; i++)
        redisFree(c[i]);
    server_stop_clean(&srv);
}

static redisReply *dump(redisContext *c)
{
    redisReply *r = hcmd(c, "FUNCTION DUMP");
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    return r;
}

static void restore(redisContext *c, redisReply *payload, const char *policy, const char *want_status)
{
    const char *argv[] = {"FUNCTION", "RESTORE", payload->str, policy};
    size_t lens[] = {8, 7, payload->len, policy ? strlen(policy) : 0};
    redisReply *r = hcmdv(c, policy ? 4 : 3, argv, lens);
    if (want_status)
        expect_status(r, want_status);
    else
        freeReplyObject(r);
}

Test(function, dump_restore_with_redis_both_ways)
{
    struct server peer;
    redis_start(&peer, NULL);
    server_start(&srv, 4, NULL);
    redisContext *d = hconnect(&srv), *p = hconnect(&peer);
    expect_bulk(load(p, "#!lua name=rlib\nredis.register_function{function_name='rf', callback=function() "
                        "return 'from redis' end, flags={'no-writes','allow-oom'}, description='hi'}", false),
                "rlib");
    redisReply *pay = dump(p);
    restore(d, pay, NULL, "OK");
    expect_bulk(hcmd(d, "FCALL_RO rf 0"), "from redis");
    /* APPEND collides, REPLACE and FLUSH do not */
    redisReply *r;
    const char *argv[] = {"FUNCTION", "RESTORE", pay->str};
    size_t lens[] = {8, 7, pay->len};
    r = hcmdv(d, 3, argv, lens);
    cr_assert_eq(r->type, REDIS_REPLY_ERROR);
    cr_assert_str_eq(r->str, "ERR Library rlib already exists");
    freeReplyObject(r);
    restore(d, pay, "REPLACE", "OK");
    restore(d, pay, "FLUSH", "OK");
    freeReplyObject(pay);
    expect_bulk(load(d, "#!lua name=dlib\nredis.register_function('df', function(k, a) return a[1] end)", false),
                "dlib");
    pay = dump(d);
    restore(p, pay, "FLUSH", "OK");
    expect_bulk(hcmd(p, "FCALL df 0 hello"), "hello");
    expect_bulk(hcmd(p, "FCALL_RO rf 0"), "from redis");
    /* the same bytes for the same library (with several, the order of
     * Redis's dict may differ) */
    expect_status(hcmd(p, "FUNCTION DELETE rlib"), "OK");
    expect_status(hcmd(d, "FUNCTION DELETE rlib"), "OK");
    redisReply *a = dump(d), *b = dump(p);
    cr_assert_eq(a->len, b->len);
    cr_assert(memcmp(a->str, b->str, a->len) == 0, "FUNCTION DUMP differs from redis-server's");
    freeReplyObject(a);
    freeReplyObject(b);
    /* a corrupt payload */
    freeReplyObject(pay);
    pay = dump(d);
    pay->str[1] ^= 1;
    const char *bad[] = {"FUNCTION", "RESTORE", pay->str};
    size_t blens[] = {8, 7, pay->len};
    expect_error(hcmdv(d, 3, bad, blens), "ERR DUMP payload version or checksum are wrong");
    freeReplyObject(pay);
    redisFree(d);
    redisFree(p);
    server_stop_clean(&srv);
    server_stop(&peer);
}

Test(function, rdb_with_redis_both_ways)
{
    char dir[] = "/tmp/darter-fn-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    /* darter saves, redis-server loads */
    server_start(&srv, 4, "--dir", dir, "--dbfilename", "d.rdb", NULL);
    redisContext *d = hconnect(&srv);
    expect_bulk(load(d, "#!lua name=dlib\nredis.register_function('df', function(k, a) return 'darter' end)", false),
                "dlib");
    expect_status(hcmd(d, "SET k v"), "OK");
    expect_status(hcmd(d, "SAVE"), "OK");
    redisFree(d);
    server_stop_clean(&srv);
    struct server peer;
    redis_start(&peer, "--dir", dir, "--dbfilename", "d.rdb", NULL);
    redisContext *p = hconnect(&peer);
    expect_bulk(hcmd(p, "FCALL df 0"), "darter");
    expect_bulk(hcmd(p, "GET k"), "v");
    /* redis-server saves, darter loads */
    expect_bulk(load(p, "#!lua name=rlib\nredis.register_function('rf', function() return 'redis' end)", false),
                "rlib");
    expect_status(hcmd(p, "SAVE"), "OK");
    redisFree(p);
    server_stop(&peer);
    server_start(&srv, 4, "--dir", dir, "--dbfilename", "d.rdb", NULL);
    d = hconnect(&srv);
    expect_bulk(hcmd(d, "FCALL rf 0"), "redis");
    expect_bulk(hcmd(d, "FCALL df 0"), "darter");
    /* DEBUG RELOAD keeps them */
    expect_status(hcmd(d, "DEBUG RELOAD"), "OK");
    expect_bulk(hcmd(d, "FCALL rf 0"), "redis");
    redisFree(d);
    server_stop_clean(&srv);
    char path[128];
    snprintf(path, sizeof(path), "%s/d.rdb", dir);
    unlink(path);
    rmdir(dir);
}

/* The same scripts give the same bytes on darter and redis-server. */
static const char *const same_scripts[] = {
    "return cmsgpack.pack({1,2,3,{a=1}}, 'abc', 1.5, 0.1, -1, -33, -200, -40000, -3000000000, 200, 70000, 5000000000, true, false)",
    "return {cmsgpack.unpack(cmsgpack.pack({1,2,3,{1.5,'x'}}, 'abc', 1.5, 0.1, -1, -33, 5000000000, true))}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 2)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1,2,3,4), 2, 1)}",
    "return cmsgpack.pack(string.rep('x', 40), string.rep('y', 300), string.rep('z', 70000))",
    "return cmsgpack.unpack('\\193')",
    "return cmsgpack.unpack('\\165ab')",
    "local t = {} local c = t for i=1,20 do c[1] = {} c = c[1] end return cmsgpack.pack(t)",
    "return struct.pack('>I2<i4!4bhlLTfdc3s', 1, -2, 3, 4, 5, 6, 7, 1.5, 2.5, 'abc', 'str')",
    "return {struct.unpack('>I2<i4bhlLTc3s', struct.pack('>I2<i4bhlLTc3s', 1, -2, 3, 4, 5, 6, 7, 'abc', 'str'))}",
    "return {struct.unpack('!4 b i', struct.pack('!4 b i', 1, 2))}",
    "return struct.size('>I2<i4!4bhlLTfd')",
    "return struct.size('s')",
    "return struct.pack('q', 1)",
    "return {struct.unpack('bc0', struct.pack('bc0', 3, 'xyz'))}",
    "return {struct.unpack('HH', 'abcd', 3)}",
    "cmsgpack.pack = 1",
    "struct.x = 1",
    "redis.call = 1",
    "return redis.REDIS_VERSION_NUM",
};

static bool same_reply(const redisReply *a, const redisReply *b)
{
    if (a->type != b->type || a->integer != b->integer || a->len != b->len || a->elements != b->elements)
        return false;
    if (a->str && memcmp(a->str, b->str, a->len) != 0)
        return false;
    for (size_t i = 0; i < a->elements; i++)
        if (!same_reply(a->element[i], b->element[i]))
            return false;
    return true;
}

Test(function, lua_libraries_match_redis)
{
    struct server peer;
    redis_start(&peer, NULL);
    server_start(&srv, 2, NULL);
    redisContext *d = hconnect(&srv), *p = hconnect(&peer);
    for (size_t i = 0; i < sizeof(same_scripts) / sizeof(same_scripts[0]); i++) {
        const char *argv[] = {"EVAL", same_scripts[i], "0"};
        redisReply *a = hcmdv(d, 3, argv, NULL), *b = hcmdv(p, 3, argv, NULL);
        cr_assert(same_reply(a, b), "script %s: darter and redis-server differ (%s / %s)", same_scripts[i],
                  a->str ? a->str : "-", b->str ? b->str : "-");
        freeReplyObject(a);
        freeReplyObject(b);
    }
    redisFree(d);
    redisFree(p);
    server_stop_clean(&srv);
    server_stop(&peer);
}
