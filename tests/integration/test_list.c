/* tests/integration/test_list.c — lists over the wire (4 threads): commands
 * and Redis's errors, LMOVE across threads, and blocking: BLPOP woken from
 * another connection when the key lives on another thread, timeouts, FIFO
 * order of two blocked clients, a blocked client that disconnects loses
 * nothing, BLPOP inside MULTI answers at once, CLIENT UNBLOCK; RENAME, COPY,
 * RESTORE and MOVE onto a waited key (same thread or another) wake the waiter; a deleted
 * key (DEL, FLUSHDB, MULTI) keeps BLPOP waiting; a woken BLPOP counts one
 * call in INFO commandstats. SORT..STORE builds a list. dump.rdb files and
 * DUMP payloads moved between darter and redis-server both ways (small,
 * > 64-byte and several-node lists). SIGTERM with parked clients. */
#define _XOPEN_SOURCE 700
#include "harness.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct server srv;
static char k1[64], k2[64], k3[64]; /* on threads 1, 2, 3 */

static void up(void)
{
    key_on_thread(k1, sizeof(k1), "l", 1, 4, 0);
    key_on_thread(k2, sizeof(k2), "l", 2, 4, 0);
    key_on_thread(k3, sizeof(k3), "l", 3, 4, 0);
    server_start(&srv, 4, NULL);
}

static void down(void) { server_stop(&srv); }

TestSuite(list, .init = up, .fini = down, .timeout = 300);

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

Test(list, commands_and_errors)
{
    redisContext *c = hconnect(&srv);
    expect_int(hcmd(c, "RPUSH %s a b c 1 2 3", k1), 6);
    expect_bulk(hcmd(c, "OBJECT ENCODING %s", k1), "quicklist");
    expect_bulk(hcmd(c, "LINDEX %s -1", k1), "3");
    expect_int(hcmd(c, "LINSERT %s BEFORE 1 x", k1), 7);
    expect_int(hcmd(c, "LPOS %s x", k1), 3);
    expect_int(hcmd(c, "LREM %s 0 x", k1), 1);
    expect_status(hcmd(c, "LSET %s 0 A", k1), "OK");
    expect_error(hcmd(c, "LSET %s 99 A", k1), "ERR index out of range");
    expect_error(hcmd(c, "LSET nosuch 0 A"), "ERR no such key");
    expect_status(hcmd(c, "LTRIM %s 0 3", k1), "OK");
    expect_int(hcmd(c, "LLEN %s", k1), 4);
    expect_status(hcmd(c, "SET str v"), "OK");
    expect_error(hcmd(c, "LPUSH str a"), "WRONGTYPE Operation against a key holding the wrong kind of value");
    expect_error(hcmd(c, "LPOP %s -1", k1), "ERR value is out of range, must be positive");
    expect_error(hcmd(c, "BLPOP %s abc", k1), "ERR timeout is not a float or out of range");
    expect_error(hcmd(c, "BLPOP %s -1", k1), "ERR timeout is negative");
    expect_error(hcmd(c, "LMPOP 0 %s LEFT", k1), "ERR numkeys should be greater than 0");
    /* LMOVE between threads */
    expect_bulk(hcmd(c, "LMOVE %s %s LEFT RIGHT", k1, k2), "A");
    expect_int(hcmd(c, "LLEN %s", k2), 1);
    redisReply *r = hcmd(c, "LMPOP 2 %s %s RIGHT COUNT 10", k3, k1);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_str_eq(r->element[0]->str, k1);
    cr_assert_eq(r->element[1]->elements, 3);
    freeReplyObject(r);
    expect_int(hcmd(c, "EXISTS %s", k1), 0);
    expect_int(hcmd(c, "DEL %s %s str", k2, k3), 2);
    redisFree(c);
}

Test(list, blocking_across_threads_fifo_and_timeout)
{
    redisContext *c = hconnect(&srv), *b1 = hconnect(&srv), *b2 = hconnect(&srv);
    redisReply *r;
    /* keys on two threads: woken by a push from another connection */
    redisAppendCommand(b1, "BLPOP %s %s 0", k2, k3);
    redisBufferWrite(b1, &(int){0});
    wait_blocked(c, 1);
    expect_int(hcmd(c, "RPUSH %s woke", k3), 1);
    cr_assert_eq(redisGetReply(b1, (void **)&r), REDIS_OK);
    cr_assert_eq(r->elements, 2);
    cr_assert_str_eq(r->element[1]->str, "woke");
    freeReplyObject(r);
    /* two clients block on one key: first blocked, first served */
    redisAppendCommand(b1, "BLPOP %s 0", k3);
    redisBufferWrite(b1, &(int){0});
    wait_blocked(c, 1);
    redisAppendCommand(b2, "BLPOP %s 0", k3);
    redisBufferWrite(b2, &(int){0});
    wait_blocked(c, 2);
    expect_int(hcmd(c, "RPUSH %s first", k3), 1);
    cr_assert_eq(redisGetReply(b1, (void **)&r), REDIS_OK);
    cr_assert_str_eq(r->element[1]->str, "first");
    freeReplyObject(r);
    wait_blocked(c, 1);
    expect_int(hcmd(c, "RPUSH %s second", k3), 1);
    cr_assert_eq(redisGetReply(b2, (void **)&r), REDIS_OK);
    cr_assert_str_eq(r->element[1]->str, "second");
    freeReplyObject(r);
    /* BRPOPLPUSH with source and destination on different threads */
    redisAppendCommand(b2, "BRPOPLPUSH %s %s 0", k3, k1);
    redisBufferWrite(b2, &(int){0});
    wait_blocked(c, 1);
    expect_int(hcmd(c, "RPUSH %s moved", k3), 1);
    cr_assert_eq(redisGetReply(b2, (void **)&r), REDIS_OK);
    expect_bulk(r, "moved");
    expect_bulk(hcmd(c, "LPOP %s", k1), "moved");
    /* timeout */
    r = hcmd(b1, "BLPOP %s 0.05", k2);
    cr_assert_eq(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    /* MULTI: returns at once */
    expect_status(hcmd(c, "MULTI"), "OK");
    freeReplyObject(hcmd(c, "BLPOP %s 0", k2));
    r = hcmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->element[0]->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    redisFree(b1);
    redisFree(b2);
    redisFree(c);
}

Test(list, disconnect_and_unblock_lose_nothing)
{
    redisContext *c = hconnect(&srv), *b = hconnect(&srv);
    redisAppendCommand(b, "BLPOP %s 0", k3);
    redisBufferWrite(b, &(int){0});
    wait_blocked(c, 1);
    redisFree(b);
    wait_blocked(c, 0);
    expect_int(hcmd(c, "RPUSH %s kept", k3), 1);
    expect_int(hcmd(c, "LLEN %s", k3), 1);
    expect_int(hcmd(c, "DEL %s", k3), 1);
    /* CLIENT UNBLOCK ... ERROR */
    b = hconnect(&srv);
    redisReply *r = hcmd(b, "CLIENT ID");
    long long id = r->integer;
    freeReplyObject(r);
    redisAppendCommand(b, "BLPOP %s 0", k3);
    redisBufferWrite(b, &(int){0});
    wait_blocked(c, 1);
    expect_int(hcmd(c, "CLIENT UNBLOCK %lld ERROR", id), 1);
    cr_assert_eq(redisGetReply(b, (void **)&r), REDIS_OK);
    expect_error(r, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
    expect_int(hcmd(c, "CLIENT UNBLOCK %lld", id), 0);
    redisFree(b);
    redisFree(c);
}

static redisReply *get_reply(redisContext *b)
{
    redisReply *r = NULL;
    cr_assert_eq(redisGetReply(b, (void **)&r), REDIS_OK);
    return r;
}

static void send_blocking(redisContext *b, redisContext *c, long long nblocked, const char *cmd, const char *key)
{
    redisAppendCommand(b, cmd, key);
    redisBufferWrite(b, &(int){0});
    wait_blocked(c, nblocked);
}

static void expect_popped(redisReply *r, const char *key, const char *val)
{
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 2);
    cr_assert_str_eq(r->element[0]->str, key);
    cr_assert_str_eq(r->element[1]->str, val);
    freeReplyObject(r);
}

Test(list, keys_moved_onto_a_waited_key_wake_it)
{
    redisContext *c = hconnect(&srv), *b = hconnect(&srv);
    char same[64];
    key_on_thread(same, sizeof(same), "src", 3, 4, 0); /* on k3's thread */
    /* RENAME, both keys on one thread */
    send_blocking(b, c, 1, "BLPOP %s 0", k3);
    expect_int(hcmd(c, "RPUSH %s a", same), 1);
    expect_status(hcmd(c, "RENAME %s %s", same, k3), "OK");
    expect_popped(get_reply(b), k3, "a");
    /* RENAME from another thread */
    send_blocking(b, c, 1, "BLPOP %s 0", k3);
    expect_int(hcmd(c, "RPUSH %s b", k1), 1);
    expect_status(hcmd(c, "RENAME %s %s", k1, k3), "OK");
    expect_popped(get_reply(b), k3, "b");
    /* COPY from another thread */
    send_blocking(b, c, 1, "BLPOP %s 0", k3);
    expect_int(hcmd(c, "RPUSH %s c", k2), 1);
    expect_int(hcmd(c, "COPY %s %s", k2, k3), 1);
    expect_popped(get_reply(b), k3, "c");
    expect_int(hcmd(c, "LLEN %s", k2), 1);
    /* RESTORE of a list's DUMP payload */
    redisReply *d = hcmd(c, "DUMP %s", k2);
    cr_assert_eq(d->type, REDIS_REPLY_STRING);
    send_blocking(b, c, 1, "BLPOP %s 0", k3);
    expect_status(hcmd(c, "RESTORE %s 0 %b", k3, d->str, d->len), "OK");
    freeReplyObject(d);
    expect_popped(get_reply(b), k3, "c");
    /* MOVE from another db */
    send_blocking(b, c, 1, "BLPOP %s 0", k3);
    expect_status(hcmd(c, "SELECT 1"), "OK");
    expect_int(hcmd(c, "RPUSH %s m", k3), 1);
    expect_int(hcmd(c, "MOVE %s 0", k3), 1);
    expect_status(hcmd(c, "SELECT 0"), "OK");
    expect_popped(get_reply(b), k3, "m");
    /* a list emptied under a waiter and written again inside MULTI */
    send_blocking(b, c, 1, "BLPOP %s 0", k3);
    expect_status(hcmd(c, "MULTI"), "OK");
    freeReplyObject(hcmd(c, "RPUSH %s x", k3));
    freeReplyObject(hcmd(c, "DEL %s", k3));
    freeReplyObject(hcmd(c, "RPUSH %s y", k3));
    freeReplyObject(hcmd(c, "EXEC"));
    expect_popped(get_reply(b), k3, "y");
    redisFree(b);
    redisFree(c);
}

Test(list, deleted_key_keeps_waiters_and_woken_command_counts_once)
{
    redisContext *c = hconnect(&srv), *b = hconnect(&srv);
    expect_status(hcmd(c, "CONFIG RESETSTAT"), "OK");
    send_blocking(b, c, 1, "BLPOP %s 0", k2);
    /* a list that comes and goes does not wake BLPOP (as Redis) */
    expect_status(hcmd(c, "MULTI"), "OK");
    freeReplyObject(hcmd(c, "RPUSH %s gone", k2));
    freeReplyObject(hcmd(c, "DEL %s", k2));
    freeReplyObject(hcmd(c, "EXEC"));
    expect_status(hcmd(c, "FLUSHDB"), "OK");
    expect_status(hcmd(c, "SET %s str", k2), "OK");
    expect_int(hcmd(c, "DEL %s", k2), 1);
    wait_blocked(c, 1);
    expect_int(hcmd(c, "RPUSH %s here", k2), 1);
    expect_popped(get_reply(b), k2, "here");
    redisReply *r = hcmd(c, "INFO commandstats");
    cr_assert(strstr(r->str, "cmdstat_blpop:calls=1,") != NULL, "%s", r->str);
    freeReplyObject(r);
    redisFree(b);
    redisFree(c);
}

/* ---------- SORT..STORE ---------- */

Test(list, sort_store_builds_a_list)
{
    redisContext *c = hconnect(&srv);
    expect_int(hcmd(c, "RPUSH %s 3 1 2 10", k1), 4);
    expect_int(hcmd(c, "SORT %s STORE %s", k1, k2), 4);
    expect_status(hcmd(c, "TYPE %s", k2), "list");
    expect_bulk(hcmd(c, "OBJECT ENCODING %s", k2), "quicklist");
    expect_bulk(hcmd(c, "LINDEX %s 0", k2), "1");
    expect_bulk(hcmd(c, "LINDEX %s -1", k2), "10");
    expect_int(hcmd(c, "RPUSH %s 11", k2), 5);
    expect_int(hcmd(c, "SORT %s ALPHA DESC STORE %s", k1, k2), 4);
    expect_bulk(hcmd(c, "LINDEX %s 0", k2), "3");
    expect_int(hcmd(c, "DEL %s %s", k1, k2), 2);
    redisFree(c);
}

/* ---------- with redis-server: dump.rdb files and DUMP payloads ---------- */

#define BIG_ELEMS 300 /* 300 x 100 bytes: several 8 KB quicklist nodes */

static void element(char *buf, size_t cap, const char *key, int i)
{
    if (!strcmp(key, "f:small")) {
        static const char *const small[] = {"a", "", "-1", "12345678901", "9223372036854775807", "x y z"};
        snprintf(buf, cap, "%s", small[i % 6]);
    } else if (!strcmp(key, "f:large")) { /* > 64 bytes: no longer tiny listpack strings */
        snprintf(buf, cap, "%d-", i);
        size_t n = strlen(buf);
        memset(buf + n, 'a' + i % 26, 70 + (size_t)i);
        buf[n + 70 + (size_t)i] = 0;
    } else {
        snprintf(buf, cap, "%05d:", i);
        memset(buf + 6, 'A' + i % 26, 94);
        buf[100] = 0;
    }
}

static const char *const rdb_keys[] = {"f:small", "f:large", "f:big"};
static const int rdb_counts[] = {6, 10, BIG_ELEMS};

static void fill_lists(redisContext *c)
{
    char el[256];
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < rdb_counts[k]; i++) {
            element(el, sizeof(el), rdb_keys[k], i);
            freeReplyObject(hcmd(c, "RPUSH %s %s", rdb_keys[k], el));
        }
}

/* c holds exactly what `want` holds under `key` (a list). */
static void same_list(redisContext *c, redisContext *want, const char *key)
{
    redisReply *a = hcmd(c, "LRANGE %s 0 -1", key), *b = hcmd(want, "LRANGE %s 0 -1", key);
    cr_assert_eq(a->type, REDIS_REPLY_ARRAY, "%s", key);
    cr_assert_eq(a->elements, b->elements, "%s", key);
    cr_assert_gt(a->elements, 0);
    for (size_t i = 0; i < a->elements; i++) {
        cr_assert_eq(a->element[i]->len, b->element[i]->len, "%s[%zu]", key, i);
        cr_assert_eq(memcmp(a->element[i]->str, b->element[i]->str, a->element[i]->len), 0, "%s[%zu]", key, i);
    }
    freeReplyObject(a);
    freeReplyObject(b);
    expect_bulk(hcmd(c, "OBJECT ENCODING %s", key), "quicklist");
}

static void check_lists(redisContext *c, redisContext *want)
{
    for (int k = 0; k < 3; k++)
        same_list(c, want, rdb_keys[k]);
    same_list(c, want, "f:sorted");
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

Test(list, rdb_files_with_redis_both_ways)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/darter-list-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    struct server d1 = {0}, d2 = {0}, ref = {0};
    /* darter writes (one of the lists made by SORT..STORE), redis-server reads */
    server_start(&d1, 4, "--dir", dir, "--save", "", NULL);
    redisContext *d = hconnect(&d1);
    fill_lists(d);
    expect_int(hcmd(d, "SORT f:big ALPHA DESC STORE f:sorted"), BIG_ELEMS);
    expect_status(hcmd(d, "SAVE"), "OK");
    redis_start(&ref, "--dir", dir, "--dbfilename", "dump.rdb", NULL);
    redisContext *r = hconnect(&ref);
    check_lists(r, d);
    /* redis-server writes, darter reads */
    for (int k = 0; k < 3; k++)
        freeReplyObject(hcmd(r, "LPUSH %s fromredis", rdb_keys[k]));
    freeReplyObject(hcmd(r, "RPUSH f:sorted fromredis"));
    expect_status(hcmd(r, "SAVE"), "OK");
    server_start(&d2, 4, "--dir", dir, "--save", "", NULL);
    redisContext *d2c = hconnect(&d2);
    check_lists(d2c, r);
    redisFree(d);
    redisFree(r);
    redisFree(d2c);
    server_stop_clean(&d2);
    server_stop_clean(&d1);
    server_stop(&ref);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* DUMP on `from`, RESTORE on `to`, same contents. */
static void move_payload(redisContext *from, redisContext *to, const char *key)
{
    redisReply *p = hcmd(from, "DUMP %s", key);
    cr_assert_eq(p->type, REDIS_REPLY_STRING, "%s", key);
    freeReplyObject(hcmd(to, "DEL %s", key));
    expect_status(hcmd(to, "RESTORE %s 0 %b", key, p->str, p->len), "OK");
    freeReplyObject(p);
    same_list(to, from, key);
}

Test(list, dump_restore_with_redis_both_ways)
{
    struct server ref = {0};
    redis_start(&ref, NULL);
    redisContext *d = hconnect(&srv), *r = hconnect(&ref);
    fill_lists(d);
    for (int k = 0; k < 3; k++)
        move_payload(d, r, rdb_keys[k]);
    for (int k = 0; k < 3; k++) {
        freeReplyObject(hcmd(r, "RPUSH %s fromredis", rdb_keys[k]));
        move_payload(r, d, rdb_keys[k]);
    }
    /* a payload of another type's RDB byte is refused, not misread */
    expect_error(hcmd(d, "RESTORE bad 0 %b", "\x12\x05garbage\x0a\x00", (size_t)10),
                 "ERR DUMP payload version or checksum are wrong");
    expect_int(hcmd(d, "DEL f:small f:large f:big"), 3);
    redisFree(d);
    redisFree(r);
    server_stop(&ref);
}

/* ---------- shutdown with parked clients ---------- */

Test(list, sigterm_with_blocked_clients_exits_cleanly)
{
    struct server s = {0};
    server_start(&s, 4, "--save", "", NULL);
    redisContext *c = hconnect(&s), *b[4];
    for (int i = 0; i < 4; i++) {
        b[i] = hconnect(&s);
        if (i % 2) /* keys on three threads */
            redisAppendCommand(b[i], "BLPOP %s %s %s 0", k1, k2, k3);
        else /* one key, of another thread than most connections */
            redisAppendCommand(b[i], "BLMOVE %s %s LEFT LEFT 0", k3, k1);
        redisBufferWrite(b[i], &(int){0});
    }
    wait_blocked(c, 4);
    server_stop_clean(&s);
    for (int i = 0; i < 4; i++)
        redisFree(b[i]);
    redisFree(c);
}
