/* tests/integration/test_multi.c — MULTI/EXEC/WATCH against --threads 4:
 * queueing replies and Redis's error texts, EXECABORT on queue-time errors,
 * command errors inside EXEC as array elements, atomicity of transactions
 * whose keys live on different threads (writers run MULTI; INCR a; INCR b;
 * EXEC while readers MGET a b and must always see a == b, and readers that
 * run the reads as a transaction too), WATCH seeing writes from another
 * connection to a key on another thread, SELECT inside MULTI, and WATCH
 * state dropped by EXEC / DISCARD / UNWATCH / RESET. */
#include "harness.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 3000
#define READS 6000

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

TestSuite(multi, .init = up, .fini = down, .timeout = 300);

Test(multi, basics_and_errors)
{
    cr_assert_neq(key_thread(ka, 4), key_thread(kb, 4));
    redisContext *c = hconnect(&srv);
    expect_error(hcmd(c, "EXEC"), "ERR EXEC without MULTI");
    expect_error(hcmd(c, "DISCARD"), "ERR DISCARD without MULTI");
    expect_status(hcmd(c, "MULTI"), "OK");
    expect_error(hcmd(c, "MULTI"), "ERR MULTI calls can not be nested");
    expect_error(hcmd(c, "WATCH %s", ka), "ERR WATCH inside MULTI is not allowed");
    expect_status(hcmd(c, "SET %s 1", ka), "QUEUED");
    expect_status(hcmd(c, "SET %s 2", kb), "QUEUED");
    expect_status(hcmd(c, "MGET %s %s %s", ka, kb, kc), "QUEUED");
    expect_status(hcmd(c, "PING"), "QUEUED");
    redisReply *r = hcmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 4);
    cr_assert_str_eq(r->element[0]->str, "OK");
    cr_assert_str_eq(r->element[1]->str, "OK");
    cr_assert_eq(r->element[2]->type, REDIS_REPLY_ARRAY);
    cr_assert_str_eq(r->element[2]->element[0]->str, "1");
    cr_assert_str_eq(r->element[2]->element[1]->str, "2");
    cr_assert_eq(r->element[2]->element[2]->type, REDIS_REPLY_NIL);
    cr_assert_str_eq(r->element[3]->str, "PONG");
    freeReplyObject(r);

    /* DISCARD drops the queue */
    expect_status(hcmd(c, "MULTI"), "OK");
    expect_status(hcmd(c, "DEL %s", ka), "QUEUED");
    expect_status(hcmd(c, "DISCARD"), "OK");
    expect_bulk(hcmd(c, "GET %s", ka), "1");

    /* queue-time errors: EXECABORT, nothing runs */
    expect_status(hcmd(c, "MULTI"), "OK");
    expect_status(hcmd(c, "SET %s x", ka), "QUEUED");
    expect_error(hcmd(c, "NOSUCHCOMMAND"), "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: ");
    expect_error(hcmd(c, "GET"), "ERR wrong number of arguments for 'get' command");
    expect_status(hcmd(c, "SET %s y", kb), "QUEUED");
    expect_error(hcmd(c, "EXEC"), "EXECABORT Transaction discarded because of previous errors.");
    expect_bulk(hcmd(c, "GET %s", ka), "1");
    expect_bulk(hcmd(c, "GET %s", kb), "2");
    expect_status(hcmd(c, "PING"), "PONG");

    /* run-time errors are elements; the rest of the transaction runs */
    expect_status(hcmd(c, "MULTI"), "OK");
    expect_status(hcmd(c, "SET %s notanumber", ka), "QUEUED");
    expect_status(hcmd(c, "INCR %s", ka), "QUEUED");
    expect_status(hcmd(c, "INCR %s", kb), "QUEUED");
    r = hcmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 3);
    cr_assert_str_eq(r->element[0]->str, "OK");
    cr_assert_eq(r->element[1]->type, REDIS_REPLY_ERROR);
    cr_assert_str_eq(r->element[1]->str, "ERR value is not an integer or out of range");
    cr_assert_eq(r->element[2]->integer, 3);
    freeReplyObject(r);

    /* empty transaction */
    expect_status(hcmd(c, "MULTI"), "OK");
    r = hcmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    redisFree(c);
    server_stop_clean(&srv);
}

Test(multi, select_inside_multi)
{
    redisContext *c = hconnect(&srv);
    expect_status(hcmd(c, "FLUSHALL"), "OK");
    expect_status(hcmd(c, "MULTI"), "OK");
    expect_status(hcmd(c, "SET %s db0", ka), "QUEUED");
    expect_status(hcmd(c, "SELECT 3"), "QUEUED");
    expect_status(hcmd(c, "SET %s db3", ka), "QUEUED");
    expect_status(hcmd(c, "MSET %s x %s y", kb, kc), "QUEUED");
    expect_status(hcmd(c, "DBSIZE"), "QUEUED");
    redisReply *r = hcmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 5);
    cr_assert_eq(r->element[4]->integer, 3);
    freeReplyObject(r);
    expect_bulk(hcmd(c, "GET %s", ka), "db3"); /* the SELECT stays */
    expect_status(hcmd(c, "SELECT 0"), "OK");
    expect_bulk(hcmd(c, "GET %s", ka), "db0");
    expect_nil(hcmd(c, "GET %s", kb));
    redisFree(c);
    server_stop_clean(&srv);
}

Test(multi, watch_across_threads)
{
    redisContext *c = hconnect(&srv);
    redisContext *o = hconnect(&srv);
    expect_status(hcmd(c, "SET %s 1", ka), "OK");
    /* untouched: EXEC runs */
    expect_status(hcmd(c, "WATCH %s %s", ka, kb), "OK");
    expect_status(hcmd(c, "MULTI"), "OK");
    expect_status(hcmd(c, "INCR %s", kc), "QUEUED");
    redisReply *r = hcmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 1);
    freeReplyObject(r);
    /* another connection writes a watched key (other thread): null reply */
    for (int i = 0; i < 50; i++) {
        expect_status(hcmd(c, "WATCH %s %s", ka, kb), "OK");
        if (i % 2)
            expect_status(hcmd(o, "SET %s v%d", kb, i), "OK");
        else
            expect_int(hcmd(o, "DEL %s", ka), 1);
        expect_status(hcmd(c, "MULTI"), "OK");
        expect_status(hcmd(c, "SET %s 1", ka), "QUEUED");
        expect_status(hcmd(c, "INCR %s", kc), "QUEUED");
        r = hcmd(c, "EXEC");
        cr_assert_eq(r->type, REDIS_REPLY_NIL, "round %d: type %d", i, r->type);
        freeReplyObject(r);
        if (i % 2 == 0)
            expect_status(hcmd(o, "SET %s 1", ka), "OK");
    }
    expect_bulk(hcmd(c, "GET %s", kc), "1"); /* no aborted INCR ran */
    /* after EXEC (failed or not) nothing is watched any more */
    expect_status(hcmd(c, "MULTI"), "OK");
    expect_status(hcmd(o, "SET %s z", ka), "OK");
    expect_status(hcmd(c, "PING"), "QUEUED");
    r = hcmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    /* UNWATCH, DISCARD and RESET forget the keys */
    expect_status(hcmd(c, "WATCH %s", ka), "OK");
    expect_status(hcmd(o, "SET %s z2", ka), "OK");
    expect_status(hcmd(c, "UNWATCH"), "OK");
    expect_status(hcmd(c, "MULTI"), "OK");
    expect_status(hcmd(c, "PING"), "QUEUED");
    r = hcmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    expect_status(hcmd(c, "WATCH %s", kb), "OK");
    expect_status(hcmd(o, "SET %s z3", kb), "OK");
    expect_status(hcmd(c, "RESET"), "RESET");
    expect_status(hcmd(c, "MULTI"), "OK");
    expect_status(hcmd(c, "PING"), "QUEUED");
    r = hcmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    /* FLUSHALL touches watched keys that exist */
    expect_status(hcmd(c, "WATCH %s", kb), "OK");
    expect_status(hcmd(o, "FLUSHALL"), "OK");
    expect_status(hcmd(c, "MULTI"), "OK");
    expect_status(hcmd(c, "PING"), "QUEUED");
    expect_nil(hcmd(c, "EXEC"));
    redisFree(o);
    redisFree(c);
    server_stop_clean(&srv);
}

/* ---------- atomicity under concurrency ---------- */

static atomic_int failures;
static atomic_bool done;
static char first_failure[512];

static void tfail(const char *msg, long x, long y)
{
    if (atomic_fetch_add(&failures, 1) == 0)
        snprintf(first_failure, sizeof(first_failure), "%s (%ld, %ld)", msg, x, y);
}

static redisContext *tconnect(void)
{
    struct timeval tv = {30, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", srv.port, tv);
    if (!c || c->err) {
        tfail("connect failed", 0, 0);
        return NULL;
    }
    return c;
}

static void *incr_writer(void *arg)
{
    (void)arg;
    redisContext *c = tconnect();
    if (!c)
        return NULL;
    for (int i = 0; i < ROUNDS; i++) {
        redisAppendCommand(c, "MULTI");
        redisAppendCommand(c, "INCR %s", ka);
        redisAppendCommand(c, "INCR %s", kb);
        redisAppendCommand(c, "EXEC");
        redisReply *r = NULL;
        for (int k = 0; k < 4; k++) {
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                tfail("writer read failed", i, k);
                redisFree(c);
                return NULL;
            }
            if (k == 3) {
                if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                    r->element[0]->type != REDIS_REPLY_INTEGER ||
                    r->element[0]->integer != r->element[1]->integer)
                    tfail("EXEC reply: INCR a != INCR b", r->type == REDIS_REPLY_ARRAY ? (long)r->elements : -1,
                          (long)r->type);
            }
            freeReplyObject(r);
        }
    }
    redisFree(c);
    return NULL;
}

static void *mget_reader(void *arg)
{
    bool as_tx = (long)arg != 0;
    redisContext *c = tconnect();
    if (!c)
        return NULL;
    for (int i = 0; i < READS && !atomic_load(&done); i++) {
        redisReply *r;
        long x, y;
        if (as_tx) {
            redisAppendCommand(c, "MULTI");
            redisAppendCommand(c, "GET %s", ka);
            redisAppendCommand(c, "GET %s", kb);
            redisAppendCommand(c, "EXEC");
            for (int k = 0; k < 3; k++) {
                if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                    tfail("reader read failed", i, k);
                    redisFree(c);
                    return NULL;
                }
                freeReplyObject(r);
            }
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                tfail("reader read failed", i, 3);
                break;
            }
        } else {
            r = redisCommand(c, "MGET %s %s", ka, kb);
            if (!r) {
                tfail("reader read failed", i, 0);
                break;
            }
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            tfail("reader: bad reply", (long)r->type, as_tx);
        } else {
            x = r->element[0]->type == REDIS_REPLY_STRING ? atol(r->element[0]->str) : 0;
            y = r->element[1]->type == REDIS_REPLY_STRING ? atol(r->element[1]->str) : 0;
            if (x != y)
                tfail(as_tx ? "EXEC GET a/b differ" : "MGET a/b differ", x, y);
        }
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

Test(multi, atomic_across_threads)
{
    redisContext *c = hconnect(&srv);
    expect_int(hcmd(c, "DEL %s %s", ka, kb), 0);
    atomic_store(&failures, 0);
    atomic_store(&done, false);
    pthread_t w[2], rd[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&w[i], NULL, incr_writer, NULL);
    for (int i = 0; i < 2; i++)
        pthread_create(&rd[i], NULL, mget_reader, (void *)(long)i);
    for (int i = 0; i < 2; i++)
        pthread_join(w[i], NULL);
    atomic_store(&done, true);
    for (int i = 0; i < 2; i++)
        pthread_join(rd[i], NULL);
    cr_assert_eq(atomic_load(&failures), 0, "%d failures, first: %s", atomic_load(&failures), first_failure);
    char n[32];
    snprintf(n, sizeof(n), "%d", 2 * ROUNDS);
    expect_bulk(hcmd(c, "GET %s", ka), n);
    expect_bulk(hcmd(c, "GET %s", kb), n);
    redisFree(c);
    server_stop_clean(&srv);
}

/* WATCH-based optimistic increments from several clients: no lost update. */
static void *cas_incr(void *arg)
{
    int n = (int)(long)arg;
    redisContext *c = tconnect();
    if (!c)
        return NULL;
    for (int done_n = 0; done_n < n;) {
        redisReply *r = redisCommand(c, "WATCH %s %s", ka, kb);
        freeReplyObject(r);
        r = redisCommand(c, "GET %s", ka);
        long v = r && r->type == REDIS_REPLY_STRING ? atol(r->str) : 0;
        freeReplyObject(r);
        redisAppendCommand(c, "MULTI");
        redisAppendCommand(c, "SET %s %ld", ka, v + 1);
        redisAppendCommand(c, "SET %s %ld", kb, v + 1);
        redisAppendCommand(c, "EXEC");
        for (int k = 0; k < 4; k++) {
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                tfail("cas read failed", done_n, k);
                redisFree(c);
                return NULL;
            }
            if (k == 3 && r->type == REDIS_REPLY_ARRAY)
                done_n++;
            freeReplyObject(r);
        }
    }
    redisFree(c);
    return NULL;
}

Test(multi, watch_cas_no_lost_updates)
{
    redisContext *c = hconnect(&srv);
    expect_status(hcmd(c, "SET %s 0", ka), "OK");
    atomic_store(&failures, 0);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, cas_incr, (void *)(long)300);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&failures), 0, "%s", first_failure);
    expect_bulk(hcmd(c, "GET %s", ka), "900");
    expect_bulk(hcmd(c, "GET %s", kb), "900");
    redisFree(c);
    server_stop_clean(&srv);
}
