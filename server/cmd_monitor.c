/* server/cmd_monitor.c — family: MONITOR, and feeding monitors.
 *
 * Monitors are connections on some threads; commands run on every thread.
 * Each worker keeps (in w->monitor) its own monitor connections and how many
 * monitors every thread has, kept up to date by a count message that a
 * thread broadcasts when one of its connections starts or stops monitoring.
 * A thread with no monitor anywhere pays one load and a branch per command.
 * Otherwise each fed command is formatted once, as Redis's
 * replicationFeedMonitors does ("+<sec>.<usec> [<db> <peer>] "arg" ..."),
 * into the thread's batch; once per loop iteration (before it sleeps) the
 * batch goes by message to every thread that has monitors, which appends it
 * to each of its monitors' output.
 *
 * Owns: the monitor lists, counts and batches. Must not touch keyspace data. */
#include "server/server.h"
#include "server/monitor.h"

#include <ctype.h>
#include <mimalloc.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

struct mon_worker {
    int total;               /* first: monitor.h's monitor_active reads it */
    struct conn **mons;      /* this thread's monitors */
    int n, cap;
    int on[MAX_THREADS];     /* monitors per thread, as last told */
    struct buf batch;        /* lines fed during this loop iteration */
};

struct mon_count_msg {
    struct msg m;
    int from;
    int delta;
};

struct mon_batch_msg {
    struct msg m;
    size_t len;
    char data[];
};

static struct mon_worker *mon_get(struct worker *w)
{
    if (!w->monitor) {
        struct mon_worker *mw = mi_zalloc(sizeof(*mw));
        buf_init(&mw->batch);
        w->monitor = mw;
    }
    return w->monitor;
}

static void count_apply(struct worker *w, int from, int delta)
{
    struct mon_worker *mw = mon_get(w);
    mw->on[from] += delta;
    mw->total += delta;
}

static void count_arrive(struct worker *w, struct msg *m)
{
    struct mon_count_msg *cm = (struct mon_count_msg *)m;
    count_apply(w, cm->from, cm->delta);
    mi_free(cm);
}

static void count_broadcast(struct worker *w, int delta)
{
    for (int i = 0; i < g_nworkers; i++) {
        if (i == w->id)
            continue;
        struct mon_count_msg *cm = mi_malloc(sizeof(*cm));
        cm->m.fn = count_arrive;
        cm->from = w->id;
        cm->delta = delta;
        worker_send(w, i, &cm->m);
    }
    count_apply(w, w->id, delta);
}

static void deliver(struct worker *w, const char *data, size_t len)
{
    struct mon_worker *mw = w->monitor;
    if (!mw)
        return;
    for (int i = 0; i < mw->n; i++) {
        struct conn *c = mw->mons[i];
        if (c->closing)
            continue;
        struct pending *pend;
        struct buf *b = conn_begin_reply(c, &pend);
        buf_put(b, data, len);
        conn_end_reply(c, pend);
    }
}

static void batch_arrive(struct worker *w, struct msg *m)
{
    struct mon_batch_msg *bm = (struct mon_batch_msg *)m;
    deliver(w, bm->data, bm->len);
    mi_free(bm);
}

void monitor_flush(struct worker *w)
{
    struct mon_worker *mw = w->monitor;
    if (!mw || !mw->batch.len)
        return;
    for (int i = 0; i < g_nworkers; i++) {
        if (!mw->on[i])
            continue;
        if (i == w->id) {
            deliver(w, mw->batch.data, mw->batch.len);
            continue;
        }
        struct mon_batch_msg *bm = mi_malloc(sizeof(*bm) + mw->batch.len);
        bm->m.fn = batch_arrive;
        bm->len = mw->batch.len;
        memcpy(bm->data, mw->batch.data, mw->batch.len);
        worker_send(w, i, &bm->m);
    }
    mw->batch.len = 0;
    buf_shrink(&mw->batch);
}

/* Redis's sdscatrepr: a quoted, escaped string. */
static void put_repr(struct buf *b, const char *p, size_t len)
{
    buf_put(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        char tmp[8];
        switch (ch) {
        case '\\': buf_put(b, "\\\\", 2); break;
        case '"': buf_put(b, "\\\"", 2); break;
        case '\n': buf_put(b, "\\n", 2); break;
        case '\r': buf_put(b, "\\r", 2); break;
        case '\t': buf_put(b, "\\t", 2); break;
        case '\a': buf_put(b, "\\a", 2); break;
        case '\b': buf_put(b, "\\b", 2); break;
        default:
            if (isprint(ch)) {
                buf_put(b, (const char *)&ch, 1);
            } else {
                int n = snprintf(tmp, sizeof(tmp), "\\x%02x", ch);
                buf_put(b, tmp, (size_t)n);
            }
        }
    }
    buf_put(b, "\"", 1);
}

/* Which arguments Redis 7.0 shows as "(redacted)": AUTH's, HELLO's AUTH
 * pair, MIGRATE's AUTH / AUTH2 credentials. */
static bool redacted(int argc, const struct arg *argv, int j)
{
    if (arg_eq(&argv[0], "auth"))
        return j >= 1;
    if (arg_eq(&argv[0], "hello")) {
        for (int k = 2; k < argc; k++) {
            int more = argc - 1 - k;
            if (arg_eq(&argv[k], "auth") && more >= 2) {
                if (j == k + 1 || j == k + 2)
                    return true;
                k += 2;
            } else if (arg_eq(&argv[k], "setname") && more >= 1) {
                k++;
            } else {
                break;
            }
        }
        return false;
    }
    if (arg_eq(&argv[0], "migrate")) {
        for (int k = 6; k < argc; k++) {
            if (arg_eq(&argv[k], "auth") && k + 1 < argc) {
                if (j == k + 1)
                    return true;
                k++;
            } else if (arg_eq(&argv[k], "auth2") && k + 2 < argc) {
                if (j == k + 1 || j == k + 2)
                    return true;
                k += 2;
            } else if (arg_eq(&argv[k], "keys")) {
                break;
            }
        }
    }
    return false;
}

void monitor_feed_slow(struct worker *w, const struct conn *c, int db, int argc, const struct arg *argv)
{
    struct mon_worker *mw = w->monitor;
    struct buf *b = &mw->batch;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char head[160];
    int n;
    if (!c)
        n = snprintf(head, sizeof(head), "+%ld.%06ld [%d lua] ", (long)tv.tv_sec, (long)tv.tv_usec, db);
    else if (c->flags & CONN_UNIX)
        n = snprintf(head, sizeof(head), "+%ld.%06ld [%d unix:%s] ", (long)tv.tv_sec, (long)tv.tv_usec, db,
                     w->cfg.unixsocket);
    else
        n = snprintf(head, sizeof(head), "+%ld.%06ld [%d %s] ", (long)tv.tv_sec, (long)tv.tv_usec, db, c->addr);
    buf_put(b, head, (size_t)n);
    for (int j = 0; j < argc; j++) {
        if (j)
            buf_put(b, " ", 1);
        if (redacted(argc, argv, j))
            put_repr(b, "(redacted)", 10);
        else
            put_repr(b, argv[j].p, argv[j].len);
    }
    buf_put(b, "\r\n", 2);
}

static void mon_remove(struct worker *w, struct conn *c)
{
    struct mon_worker *mw = w->monitor;
    for (int i = 0; mw && i < mw->n; i++) {
        if (mw->mons[i] == c) {
            mw->mons[i] = mw->mons[--mw->n];
            c->flags &= ~CONN_MONITOR;
            count_broadcast(w, -1);
            return;
        }
    }
}

void monitor_conn_gone(struct conn *c)
{
    if (c->flags & CONN_MONITOR)
        mon_remove(c->w, c);
}

static void cmd_monitor(struct cmd_ctx *c)
{
    struct conn *conn = c->conn;
    if (!conn || c->in_exec || c->in_script) {
        /* run by EXEC (the connection waits for it): a client in a
         * transaction expects one reply per command */
        reply_error(&c->r, "ERR MONITOR isn't allowed for DENY BLOCKING client");
        return;
    }
    if (conn->flags & CONN_MONITOR)
        return; /* already monitoring: ignored, no reply (as Redis) */
    struct mon_worker *mw = mon_get(c->w);
    if (mw->n == mw->cap) {
        mw->cap = mw->cap ? mw->cap * 2 : 4;
        mw->mons = mi_realloc(mw->mons, sizeof(struct conn *) * (size_t)mw->cap);
    }
    mw->mons[mw->n++] = conn;
    conn->flags |= CONN_MONITOR;
    count_broadcast(c->w, 1);
    reply_ok(&c->r);
}

const struct command monitor_commands[] = {
    {"monitor", 1, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_CONN, 0, 0, 0, cmd_monitor, .group = "server", .summary = "Listen for all requests received by the server in real time", .since = "1.0.0", .acl = "admin slow dangerous"},
    {NULL},
};
