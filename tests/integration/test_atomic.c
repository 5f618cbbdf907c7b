/* tests/integration/test_atomic.c — isolation of multi-key commands whose
 * keys live on different threads (--threads 4, 8 keys, 2 per thread):
 * concurrent MSET writers vs MGET readers (every MGET sees one MSET's values
 * on all keys), DEL+MSET writers vs EXISTS/MGET readers (0 or 8 keys, never
 * a mix), and competing MSETNX on overlapping keys (exactly one wins, and the
 * winner's values are the ones stored). Each client is a pthread with its own
 * hiredis connection; the runs are bounded by iteration counts, not time. */
#include "harness.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NK 8
#define WRITERS 2
#define READERS 2
#define READS_PER_READER 10000 /* 20k reads in all */
#define BATCH 16               /* reads pipelined per round trip */
#define NX_ROUNDS 2000

static struct server srv;
static char keys[NK][64];
static char tags[4][32];

/* A hash tag per thread: keys "{tag}..." land on that thread. */
static void find_tags(void)
{
    for (int t = 0; t < 4; t++) {
        char k[32];
        key_on_thread(k, sizeof(k), "t", t, 4, 0);
        snprintf(tags[t], sizeof(tags[t]), "%s", k);
    }
    for (int i = 0; i < NK; i++) {
        snprintf(keys[i], sizeof(keys[i]), "{%s}:atomic:%d", tags[i % 4], i);
        cr_assert_eq(key_thread(keys[i], 4), i % 4);
    }
}

static void up(void)
{
    find_tags();
    server_start(&srv, 4, NULL);
}

static void down(void) { server_stop(&srv); }

TestSuite(atomic, .init = up, .fini = down, .timeout = 300);

/* Failures found by client threads, reported by the test thread. */
struct shared {
    atomic_int failures;
    atomic_bool done;
    atomic_long writes;
    atomic_long reads;
    pthread_mutex_t lock;
    char first[1024];
};

static struct shared sh;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    if (atomic_fetch_add(&sh.failures, 1) == 0) {
        pthread_mutex_lock(&sh.lock);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(sh.first, sizeof(sh.first), fmt, ap);
        va_end(ap);
        pthread_mutex_unlock(&sh.lock);
    }
}

static void reset_shared(void)
{
    atomic_store(&sh.failures, 0);
    atomic_store(&sh.done, false);
    atomic_store(&sh.writes, 0);
    atomic_store(&sh.reads, 0);
    pthread_mutex_init(&sh.lock, NULL);
    sh.first[0] = 0;
}

static redisContext *tconnect(void)
{
    struct timeval tv = {30, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", srv.port, tv);
    if (!c || c->err) {
        fail("connect: %s", c ? c->errstr : "oom");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

/* ---------- MSET vs MGET ---------- */

static void *mset_writer(void *arg)
{
    int id = (int)(long)arg;
    redisContext *c = tconnect();
    if (!c)
        return NULL;
    const char *argv[1 + 2 * NK];
    size_t lens[1 + 2 * NK];
    char val[32];
    argv[0] = "MSET";
    lens[0] = 4;
    for (long i = 1; !atomic_load(&sh.done); i++) {
        snprintf(val, sizeof(val), "w%d-%ld", id, i);
        for (int k = 0; k < NK; k++) {
            argv[1 + 2 * k] = keys[k];
            lens[1 + 2 * k] = strlen(keys[k]);
            argv[2 + 2 * k] = val;
            lens[2 + 2 * k] = strlen(val);
        }
        redisReply *r = redisCommandArgv(c, 1 + 2 * NK, argv, lens);
        if (!r) {
            fail("writer %d: %s", id, c->errstr);
            break;
        }
        if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "OK"))
            fail("writer %d: MSET replied type %d '%s'", id, r->type, r->str ? r->str : "");
        freeReplyObject(r);
        atomic_fetch_add(&sh.writes, 1);
    }
    redisFree(c);
    return NULL;
}

/* Check an MGET reply: all strings, all equal. */
static void check_mget(redisReply *r, int reader)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != NK) {
        fail("reader %d: MGET reply type %d with %zu elements", reader, r->type, r->elements);
        return;
    }
    for (int k = 0; k < NK; k++) {
        redisReply *e = r->element[k];
        if (e->type != REDIS_REPLY_STRING) {
            fail("reader %d: key %d is type %d", reader, k, e->type);
            return;
        }
        if (k && (e->len != r->element[0]->len || memcmp(e->str, r->element[0]->str, e->len))) {
            fail("reader %d: torn MGET: %s[0]='%s' but %s[%d]='%s'", reader, keys[0], r->element[0]->str, keys[k], k,
                 e->str);
            return;
        }
    }
}

static void *mget_reader(void *arg)
{
    int id = (int)(long)arg;
    redisContext *c = tconnect();
    if (!c)
        return NULL;
    const char *argv[1 + NK];
    size_t lens[1 + NK];
    argv[0] = "MGET";
    lens[0] = 4;
    for (int k = 0; k < NK; k++) {
        argv[1 + k] = keys[k];
        lens[1 + k] = strlen(keys[k]);
    }
    for (int done = 0; done < READS_PER_READER && !atomic_load(&sh.failures);) {
        for (int b = 0; b < BATCH; b++)
            redisAppendCommandArgv(c, 1 + NK, argv, lens);
        for (int b = 0; b < BATCH; b++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                fail("reader %d: %s", id, c->errstr);
                redisFree(c);
                return NULL;
            }
            check_mget(r, id);
            freeReplyObject(r);
        }
        done += BATCH;
        atomic_fetch_add(&sh.reads, BATCH);
    }
    redisFree(c);
    return NULL;
}

static void run(void *(*writer)(void *), void *(*reader)(void *))
{
    reset_shared();
    pthread_t w[WRITERS], r[READERS];
    for (long i = 0; i < WRITERS; i++)
        cr_assert_eq(pthread_create(&w[i], NULL, writer, (void *)i), 0);
    for (long i = 0; i < READERS; i++)
        cr_assert_eq(pthread_create(&r[i], NULL, reader, (void *)i), 0);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);
    atomic_store(&sh.done, true);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(w[i], NULL);
    cr_assert_eq(atomic_load(&sh.failures), 0, "%d failures; first: %s", atomic_load(&sh.failures), sh.first);
    cr_assert_geq(atomic_load(&sh.reads), READERS * READS_PER_READER);
    cr_assert_gt(atomic_load(&sh.writes), 0);
}

Test(atomic, mset_vs_mget_never_torn)
{
    redisContext *c = hconnect(&srv);
    /* start from a consistent state: every key holds "init" */
    const char *argv[1 + 2 * NK];
    argv[0] = "MSET";
    for (int k = 0; k < NK; k++) {
        argv[1 + 2 * k] = keys[k];
        argv[2 + 2 * k] = "init";
    }
    expect_status(hcmdv(c, 1 + 2 * NK, argv, NULL), "OK");
    run(mset_writer, mget_reader);
    /* the final state is one writer's last value everywhere */
    redisReply *r = hcmd(c, "MGET %s %s %s %s %s %s %s %s", keys[0], keys[1], keys[2], keys[3], keys[4], keys[5],
                         keys[6], keys[7]);
    check_mget(r, -1);
    freeReplyObject(r);
    cr_assert_eq(atomic_load(&sh.failures), 0, "%s", sh.first);
    redisFree(c);
    server_stop_clean(&srv);
}

/* ---------- DEL + MSET vs EXISTS / MGET ---------- */

static void *del_mset_writer(void *arg)
{
    int id = (int)(long)arg;
    redisContext *c = tconnect();
    if (!c)
        return NULL;
    const char *mset[1 + 2 * NK], *del[1 + NK];
    char val[32];
    mset[0] = "MSET";
    del[0] = "DEL";
    for (int k = 0; k < NK; k++)
        del[1 + k] = keys[k];
    for (long i = 1; !atomic_load(&sh.done); i++) {
        snprintf(val, sizeof(val), "d%d-%ld", id, i);
        for (int k = 0; k < NK; k++) {
            mset[1 + 2 * k] = keys[k];
            mset[2 + 2 * k] = val;
        }
        redisAppendCommandArgv(c, 1 + NK, del, NULL);
        redisAppendCommandArgv(c, 1 + 2 * NK, mset, NULL);
        for (int j = 0; j < 2; j++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                fail("writer %d: %s", id, c->errstr);
                redisFree(c);
                return NULL;
            }
            if (j == 0 && (r->type != REDIS_REPLY_INTEGER || (r->integer != 0 && r->integer != NK)))
                fail("writer %d: DEL of %d keys deleted %lld (type %d): a partial state was visible", id, NK,
                     r->integer, r->type);
            if (j == 1 && r->type != REDIS_REPLY_STATUS)
                fail("writer %d: MSET replied type %d", id, r->type);
            freeReplyObject(r);
        }
        atomic_fetch_add(&sh.writes, 1);
    }
    redisFree(c);
    return NULL;
}

static void *exists_reader(void *arg)
{
    int id = (int)(long)arg;
    redisContext *c = tconnect();
    if (!c)
        return NULL;
    const char *ex[1 + NK], *mget[1 + NK];
    ex[0] = "EXISTS";
    mget[0] = "MGET";
    for (int k = 0; k < NK; k++)
        ex[1 + k] = mget[1 + k] = keys[k];
    for (int done = 0; done < READS_PER_READER && !atomic_load(&sh.failures);) {
        for (int b = 0; b < BATCH; b++) {
            if (b % 4 == 3)
                redisAppendCommandArgv(c, 1 + NK, mget, NULL);
            else
                redisAppendCommandArgv(c, 1 + NK, ex, NULL);
        }
        for (int b = 0; b < BATCH; b++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                fail("reader %d: %s", id, c->errstr);
                redisFree(c);
                return NULL;
            }
            if (b % 4 == 3) {
                /* all nil or all one value */
                if (r->type != REDIS_REPLY_ARRAY || r->elements != NK) {
                    fail("reader %d: MGET type %d", id, r->type);
                } else {
                    int nils = 0;
                    for (int k = 0; k < NK; k++)
                        nils += r->element[k]->type == REDIS_REPLY_NIL;
                    if (nils == 0)
                        check_mget(r, id);
                    else if (nils != NK)
                        fail("reader %d: MGET saw %d of %d keys deleted", id, nils, NK);
                }
            } else if (r->type != REDIS_REPLY_INTEGER || (r->integer != 0 && r->integer != NK)) {
                fail("reader %d: EXISTS over %d keys = %lld (type %d)", id, NK, r->integer, r->type);
            }
            freeReplyObject(r);
        }
        done += BATCH;
        atomic_fetch_add(&sh.reads, BATCH);
    }
    redisFree(c);
    return NULL;
}

Test(atomic, del_mset_vs_exists_all_or_nothing)
{
    run(del_mset_writer, exists_reader);
    server_stop_clean(&srv);
}

/* ---------- MSETNX vs MSETNX ---------- */

struct nx_arg {
    int id;
    pthread_barrier_t *bar;
    int *won;  /* [NX_ROUNDS] */
};

/* Round r: client 0 sets a,b,c,d (threads 0..3), client 1 sets c,d,e,f
 * (threads 2,3,0,1): c and d overlap, on two different threads. */
static void nx_key(char *buf, size_t cap, int round, char name)
{
    static const int thread_of[6] = {0, 1, 2, 3, 0, 1};
    snprintf(buf, cap, "{%s}:nx:%d:%c", tags[thread_of[name - 'a']], round, name);
}

static void *msetnx_client(void *arg)
{
    struct nx_arg *a = arg;
    redisContext *c = tconnect();
    const char *names = a->id == 0 ? "abcd" : "cdef";
    char k[4][64];
    const char *argv[9];
    char val[16];
    snprintf(val, sizeof(val), "client%d", a->id);
    for (int round = 0; round < NX_ROUNDS; round++) {
        argv[0] = "MSETNX";
        for (int i = 0; i < 4; i++) {
            nx_key(k[i], sizeof(k[i]), round, names[i]);
            argv[1 + 2 * i] = k[i];
            argv[2 + 2 * i] = val;
        }
        pthread_barrier_wait(a->bar);
        if (!c)
            continue;
        redisReply *r = redisCommandArgv(c, 9, argv, NULL);
        if (!r) {
            fail("client %d: %s", a->id, c->errstr);
            redisFree(c);
            c = NULL;
            continue;
        }
        if (r->type != REDIS_REPLY_INTEGER)
            fail("client %d: MSETNX type %d", a->id, r->type);
        else if (r->integer)
            a->won[round]++;
        freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return NULL;
}

Test(atomic, competing_msetnx_one_winner)
{
    reset_shared();
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    int won0[NX_ROUNDS] = {0}, won1[NX_ROUNDS] = {0};
    struct nx_arg a0 = {0, &bar, won0}, a1 = {1, &bar, won1};
    pthread_t t0, t1;
    cr_assert_eq(pthread_create(&t0, NULL, msetnx_client, &a0), 0);
    cr_assert_eq(pthread_create(&t1, NULL, msetnx_client, &a1), 0);
    pthread_join(t0, NULL);
    pthread_join(t1, NULL);
    pthread_barrier_destroy(&bar);
    cr_assert_eq(atomic_load(&sh.failures), 0, "%s", sh.first);

    redisContext *c = hconnect(&srv);
    int wins[2] = {0, 0};
    for (int round = 0; round < NX_ROUNDS; round++) {
        cr_assert_eq(won0[round] + won1[round], 1, "round %d: client0 won %d, client1 won %d", round, won0[round],
                     won1[round]);
        int w = won0[round] ? 0 : 1;
        wins[w]++;
        /* the stored values are the winner's, the loser wrote nothing */
        char k[6][64];
        for (int i = 0; i < 6; i++)
            nx_key(k[i], sizeof(k[i]), round, (char)('a' + i));
        redisReply *r = hcmd(c, "MGET %s %s %s %s %s %s", k[0], k[1], k[2], k[3], k[4], k[5]);
        cr_assert_eq(r->elements, 6);
        for (int i = 0; i < 6; i++) {
            bool mine = w == 0 ? i < 4 : i >= 2;
            redisReply *e = r->element[i];
            if (mine) {
                char want[16];
                snprintf(want, sizeof(want), "client%d", w);
                cr_assert_eq(e->type, REDIS_REPLY_STRING, "round %d key %c missing", round, 'a' + i);
                cr_assert_str_eq(e->str, want, "round %d key %c", round, 'a' + i);
            } else {
                cr_assert_eq(e->type, REDIS_REPLY_NIL, "round %d: loser's key %c was written (%s)", round, 'a' + i,
                             e->str ? e->str : "");
            }
        }
        freeReplyObject(r);
    }
    redisFree(c);
    cr_log_info("msetnx wins: client0 %d, client1 %d", wins[0], wins[1]);
    server_stop_clean(&srv);
}
