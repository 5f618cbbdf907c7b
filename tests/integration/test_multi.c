/* tests/integration/test_multi.c — MULTI/EXEC/WATCH against --threads 4:
 * queueing replies and Redis's error texts, EXECABORT on queue-time errors,
 * command errors inside EXEC as array elements, atomicity of transactions
 * whose keys live on different threads (writers run MULTI; INCR a; INCR b;
 * EXEC while readers MGET a b and must always see a == b, and readers that
 * run the reads as a transaction too), WATCH seeing writes from another
 * connection to a key on another thread, SELECT inside MULTI, WATCH
 * state dropped by EXEC / DISCARD / UNWATCH / RESET, and transactions whose
 * keys all live on one thread (run as one execution there) mixed with
 * multi-thread ones on the same keys. */
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

/* ---------- transactions whose keys all live on one thread ---------- */

static char ka2[64]; /* on thread 1, like ka */

static void *mixed_writer(void *arg)
{
    bool cross = (long)arg != 0; /* also INCR kb (thread 2) between them */
    redisContext *c = tconnect();
    if (!c)
        return NULL;
    int steps = cross ? 3 : 2;
    for (int i = 0; i < ROUNDS; i++) {
        redisAppendCommand(c, "MULTI");
        redisAppendCommand(c, "INCR %s", ka);
        if (cross)
            redisAppendCommand(c, "INCR %s", kb);
        redisAppendCommand(c, "INCR %s", ka2);
        redisAppendCommand(c, "EXEC");
        for (int k = 0; k < steps + 2; k++) {
            redisReply *r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                tfail("mixed writer read failed", i, k);
                redisFree(c);
                return NULL;
            }
            if (k == steps + 1 &&
                (r->type != REDIS_REPLY_ARRAY || (int)r->elements != steps ||
                 r->element[0]->integer != r->element[steps - 1]->integer))
                tfail("EXEC reply: INCR a != INCR a2", (long)r->type, cross);
            freeReplyObject(r);
        }
    }
    redisFree(c);
    return NULL;
}

static void *pair_reader(void *arg)
{
    bool as_tx = (long)arg != 0;
    redisContext *c = tconnect();
    if (!c)
        return NULL;
    for (int i = 0; i < READS && !atomic_load(&done); i++) {
        redisReply *r = NULL;
        if (as_tx) {
            redisAppendCommand(c, "MULTI");
            redisAppendCommand(c, "GET %s", ka);
            redisAppendCommand(c, "GET %s", ka2);
            redisAppendCommand(c, "EXEC");
            for (int k = 0; k < 4; k++) {
                if (k)
                    freeReplyObject(r);
                if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                    tfail("pair reader read failed", i, k);
                    redisFree(c);
                    return NULL;
                }
            }
        } else {
            r = redisCommand(c, "MGET %s %s", ka, ka2);
            if (!r) {
                tfail("pair reader read failed", i, 0);
                break;
            }
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            tfail("pair reader: bad reply", (long)r->type, as_tx);
        } else {
            long x = r->element[0]->type == REDIS_REPLY_STRING ? atol(r->element[0]->str) : 0;
            long y = r->element[1]->type == REDIS_REPLY_STRING ? atol(r->element[1]->str) : 0;
            if (x != y)
                tfail(as_tx ? "EXEC GET a/a2 differ" : "MGET a/a2 differ", x, y);
        }
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

/* Single-thread transactions (one execution on their thread) interleaved
 * with transactions over the same keys plus a key on another thread (the
 * multi-shard path, whose intent locks the single-thread ones respect):
 * no reader ever sees half of either. */
Test(multi, single_thread_and_cross_thread_transactions)
{
    char t[32];
    key_on_thread(t, sizeof(t), "a", 1, 4, 0);
    snprintf(ka2, sizeof(ka2), "{%s}:a2", t);
    cr_assert_eq(key_thread(ka2, 4), key_thread(ka, 4));
    redisContext *c = hconnect(&srv);
    expect_int(hcmd(c, "DEL %s %s %s", ka, ka2, kb), 0);
    atomic_store(&failures, 0);
    atomic_store(&done, false);
    pthread_t w[3], rd[2];
    for (int i = 0; i < 3; i++)
        pthread_create(&w[i], NULL, mixed_writer, (void *)(long)(i == 2));
    for (int i = 0; i < 2; i++)
        pthread_create(&rd[i], NULL, pair_reader, (void *)(long)i);
    for (int i = 0; i < 3; i++)
        pthread_join(w[i], NULL);
    atomic_store(&done, true);
    for (int i = 0; i < 2; i++)
        pthread_join(rd[i], NULL);
    cr_assert_eq(atomic_load(&failures), 0, "%d failures, first: %s", atomic_load(&failures), first_failure);
    char n[32];
    snprintf(n, sizeof(n), "%d", 3 * ROUNDS);
    expect_bulk(hcmd(c, "GET %s", ka), n);
    expect_bulk(hcmd(c, "GET %s", ka2), n);
    snprintf(n, sizeof(n), "%d", ROUNDS);
    expect_bulk(hcmd(c, "GET %s", kb), n);
    redisFree(c);
    server_stop_clean(&srv);
}

/* A single-thread transaction with connection steps, WATCH on its thread,
 * and a pipeline that follows EXEC and must see its writes. */
Test(multi, single_thread_transaction_steps_and_watch)
{
    char t[32];
    key_on_thread(t, sizeof(t), "a", 1, 4, 0);
    snprintf(ka2, sizeof(ka2), "{%s}:a2", t);
    redisContext *c = hconnect(&srv);
    redisContext *o = hconnect(&srv);
    expect_int(hcmd(c, "DEL %s %s", ka, ka2), 0);
    expect_status(hcmd(c, "MULTI"), "OK");
    expect_status(hcmd(c, "SET %s x", ka), "QUEUED");
    expect_status(hcmd(c, "PING"), "QUEUED");
    expect_status(hcmd(c, "ECHO hi"), "QUEUED");
    expect_status(hcmd(c, "GET %s", ka), "QUEUED");
    redisReply *r = hcmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 4);
    cr_assert_str_eq(r->element[0]->str, "OK");
    cr_assert_str_eq(r->element[1]->str, "PONG");
    cr_assert_str_eq(r->element[2]->str, "hi");
    cr_assert_str_eq(r->element[3]->str, "x");
    freeReplyObject(r);

    /* WATCH on the transaction's thread: a write from another connection
     * aborts it, an untouched watch lets it run */
    expect_status(hcmd(c, "WATCH %s", ka2), "OK");
    expect_status(hcmd(o, "SET %s other", ka2), "OK");
    expect_status(hcmd(c, "MULTI"), "OK");
    expect_status(hcmd(c, "SET %s mine", ka), "QUEUED");
    r = hcmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    expect_bulk(hcmd(c, "GET %s", ka), "x");
    expect_status(hcmd(c, "WATCH %s", ka2), "OK");
    expect_status(hcmd(c, "MULTI"), "OK");
    expect_status(hcmd(c, "SET %s mine", ka), "QUEUED");
    r = hcmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    expect_bulk(hcmd(c, "GET %s", ka), "mine");

    /* pipelined: each EXEC's writes are seen by what follows it */
    expect_status(hcmd(c, "SET %s 0", ka2), "OK");
    for (int i = 0; i < 200; i++) {
        redisAppendCommand(c, "MULTI");
        redisAppendCommand(c, "SET %s %d", ka, i);
        redisAppendCommand(c, "INCR %s", ka2);
        redisAppendCommand(c, "EXEC");
        redisAppendCommand(c, "GET %s", ka);
    }
    for (int i = 0; i < 200; i++) {
        for (int k = 0; k < 5; k++) {
            cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
            if (k == 4) {
                char want[16];
                snprintf(want, sizeof(want), "%d", i);
                cr_assert_eq(r->type, REDIS_REPLY_STRING);
                cr_assert_str_eq(r->str, want);
            }
            freeReplyObject(r);
        }
    }
    redisFree(o);
    redisFree(c);
    server_stop_clean(&srv);
}
