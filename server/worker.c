/* server/worker.c — one worker per thread: its io loop, its shard, its
 * mailboxes. Messages to another worker go through that pair's SPSC ring
 * (overflowing into a local list when full) and wake the target (io_loop_wake)
 * only when it announced sleep. Messages to self go to a local list.
 * Owns: thread start/stop, message delivery, the periodic tick.
 * Must not execute commands itself: it hands messages to their fn. */
#include "server/server.h"
#include "server/blocking.h" /* blocking: hooks */
#include "server/log.h"
#include "server/script.h"
#include "server/persist.h"
#include "server/pubsub.h" /* pubsub: pubsub_worker_init */
#include "server/tracking.h" /* tracking: hooks */
#include "server/monitor.h" /* monitor: batched lines */
#include "shard/memory.h"

#include <errno.h>
#include <mimalloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define INBOX_CAP 4096

struct worker **g_workers;
int g_nworkers;
uint16_t g_slot_owner[16384];
int64_t g_start_time_ms;
_Atomic uint64_t g_next_txid = 1;
_Atomic uint64_t g_next_client_id = 1;
_Atomic int g_shutdown_requested;
_Atomic int g_workers_stop;
_Atomic uint32_t g_total_clients;

static _Thread_local struct worker *tl_self;

struct worker *worker_self(void) { return tl_self; }

int64_t mstime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ustime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void outq_push(struct outq *q, struct msg *m)
{
    m->next = NULL;
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
}

void worker_send(struct worker *from, int to, struct msg *m)
{
    if (from->id == to) {
        m->next = NULL;
        if (from->local_tail)
            from->local_tail->next = m;
        else
            from->local_head = m;
        from->local_tail = m;
        return;
    }
    struct worker *dst = g_workers[to];
    struct outq *oq = &from->outbox[to];
    /* Keep order: once something overflowed, everything queues behind it. */
    if (oq->head || !spsc_push(&dst->inbox[from->id], m))
        outq_push(oq, m);
    from->wake_needed[to] = true;
}

void worker_send_now(struct worker *from, int to, struct msg *m)
{
    worker_send(from, to, m);
    if (from->id == to)
        return;
    struct outq *oq = &from->outbox[to];
    while (oq->head) {
        if (!spsc_push(&g_workers[to]->inbox[from->id], oq->head)) {
            io_loop_wake(NULL, g_workers[to]->loop); /* NULL: an eventfd write now; a ring message would wait for our next submit */
            continue;
        }
        oq->head = oq->head->next;
        if (!oq->head)
            oq->tail = NULL;
    }
    from->wake_needed[to] = false;
    io_loop_wake(NULL, g_workers[to]->loop);
}

/* Push overflowed messages into the rings and wake the targets. */
static void flush_outboxes(struct worker *w)
{
    for (int t = 0; t < g_nworkers; t++) {
        struct outq *oq = &w->outbox[t];
        while (oq->head) {
            if (!spsc_push(&g_workers[t]->inbox[w->id], oq->head))
                break;
            oq->head = oq->head->next;
            if (!oq->head)
                oq->tail = NULL;
        }
        if (w->wake_needed[t]) {
            w->wake_needed[t] = false;
            io_loop_wake(w->loop, g_workers[t]->loop);
        }
    }
}

static bool outboxes_pending(struct worker *w)
{
    for (int t = 0; t < g_nworkers; t++)
        if (w->outbox[t].head)
            return true;
    return false;
}

/* Drain mailboxes. Returns true when more work is already waiting. */
void worker_active_expire(struct worker *w);
void worker_on_shutdown(struct worker *w);

static bool poll_messages(struct worker *w);

static bool worker_poll(void *arg)
{
    struct worker *w = arg;
    w->now_ms = mstime();
    if (g_workers_stop && !w->stopping) {
        worker_on_shutdown(w);
        return false;
    }
    bool more = persist_poll(w); /* persist: messages from other threads, snapshot progress */
    return poll_messages(w) || more;
}

/* Run the messages waiting in the inboxes and the local queue. */
static bool poll_messages(struct worker *w)
{
    bool more = false;
    unsigned budget = 4096;
    for (int from = 0; from < g_nworkers; from++) {
        if (from == w->id)
            continue;
        struct spsc *q = &w->inbox[from];
        struct msg *m;
        unsigned n = 0;
        while (n < budget && (m = spsc_pop(q))) {
            m->fn(w, m);
            n++;
        }
        w->stats.msgs_in += n;
        if (n == budget)
            more = true;
    }
    /* local messages may enqueue more local messages: bounded passes */
    for (int pass = 0; pass < 8 && w->local_head; pass++) {
        struct msg *m = w->local_head;
        w->local_head = w->local_tail = NULL;
        while (m) {
            struct msg *n = m->next;
            m->fn(w, m);
            m = n;
        }
    }
    if (w->local_head)
        more = true;
    return more;
}

/* A long script runs on this thread (busy.c): serve what the loop would,
 * from inside it. Messages that would run commands find the script's
 * operation at the head of this shard's queue and wait behind it. */
void worker_serve_while_busy(struct worker *w)
{
    w->now_ms = mstime();
    poll_messages(w);
    io_loop_poll_events(w->loop);
    tracking_before_sleep(w);
    monitor_flush(w);
    conn_flush_all(w);
    flush_outboxes(w);
    io_loop_flush(w->loop);
}

static void worker_before_sleep(void *arg)
{
    struct worker *w = arg;
    tracking_before_sleep(w); /* tracking: batched invalidations */
    blocking_serve_ready(w); /* blocking: keys made ready by inline work */
    monitor_flush(w); /* monitor: this iteration's lines to the monitors' threads */
    conn_flush_all(w);
    flush_outboxes(w);
}

static bool worker_has_work(void *arg)
{
    struct worker *w = arg;
    if (w->local_head || outboxes_pending(w) || w->flush_list)
        return true;
    /* sent after before_sleep (e.g. by a deferred on_sent that resumed a
     * connection): the target was never woken; flush before sleeping */
    for (int to = 0; to < g_nworkers; to++)
        if (w->wake_needed[to])
            return true;
    for (int from = 0; from < g_nworkers; from++)
        if (from != w->id && !spsc_empty(&w->inbox[from]))
            return true;
    if (persist_has_work(w))
        return true;
    return g_workers_stop && !w->stopping;
}

static void worker_tick(void *arg)
{
    struct worker *w = arg;
    w->now_ms = mstime();
    worker_active_expire(w);
    conn_check_timeouts(w);
    blocking_check_timeouts(w); /* blocking: BLPOP & co timeouts */
    persist_tick(w); /* persist: save points, scheduled saves */
    if (g_workers_stop && !w->stopping)
        worker_on_shutdown(w);
}

void worker_active_expire(struct worker *w)
{
    if (w->no_active_expire)
        return;
    unsigned effort = (unsigned)w->cfg.active_expire_effort;
    unsigned budget = 2000 + 1000 * (effort ? effort - 1 : 0);
    ks_active_expire(&w->ks, w->now_ms, budget, w->owned_slots, w->nowned);
}

void worker_on_shutdown(struct worker *w)
{
    w->stopping = true;
    /* Close connections; the loop stops once they are gone. */
    struct conn *c = w->conns;
    while (c) {
        struct conn *n = c->next;
        conn_close(c);
        c = n;
    }
    io_loop_stop(w->loop);
}

static void on_accept_tcp(struct io_loop *loop, int fd, void *arg)
{
    (void)loop;
    conn_accept(arg, fd, false);
}

static void on_accept_unix(struct io_loop *loop, int fd, void *arg)
{
    (void)loop;
    conn_accept(arg, fd, true);
}

static pthread_barrier_t start_barrier;

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    tl_self = w;
    /* A ring with SINGLE_ISSUER must be created by the thread that submits. */
    char err[256] = "";
    w->loop = io_loop_new(w->force_epoll, NULL, err, sizeof(err));
    if (!w->loop) {
        serverlog(LL_WARNING, "Cannot create event loop: %s", err);
        exit(1);
    }
    pthread_barrier_wait(&start_barrier);
    smem_thread_init();
    ks_init(&w->ks, w->cfg.databases);
    config_apply_type_limits(&w->cfg);
    persist_worker_init(w);
    pubsub_worker_init(w); /* pubsub: "expired" keyspace events */
    tracking_worker_init(w); /* tracking: invalidate expired keys */
    char name[16];
    snprintf(name, sizeof(name), "darter-w%d", w->id);
    pthread_setname_np(pthread_self(), name);
    w->now_ms = mstime();
    if (w->listen_fd >= 0)
        io_loop_listen(w->loop, w->listen_fd, on_accept_tcp, w);
    if (w->unix_fd >= 0)
        io_loop_listen(w->loop, w->unix_fd, on_accept_unix, w);
    struct io_loop_hooks hooks = {
        .arg = w,
        .poll_work = worker_poll,
        .before_sleep = worker_before_sleep,
        .has_work = worker_has_work,
        .on_tick = worker_tick,
        .tick_ms = (unsigned)(1000 / (w->cfg.hz > 0 ? w->cfg.hz : 10)),
    };
    io_loop_run(w->loop, &hooks);
    script_thread_done();
    return NULL;
}

void worker_start_all(void)
{
    pthread_barrier_init(&start_barrier, NULL, (unsigned)g_nworkers + 1);
    for (int i = 0; i < g_nworkers; i++)
        pthread_create(&g_workers[i]->thread, NULL, worker_main, g_workers[i]);
    pthread_barrier_wait(&start_barrier);
}

void worker_join_all(void)
{
    for (int i = 0; i < g_nworkers; i++)
        pthread_join(g_workers[i]->thread, NULL);
}
