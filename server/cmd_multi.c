/* server/cmd_multi.c — family: MULTI EXEC DISCARD WATCH UNWATCH.
 *
 * Per connection (conn->multi, touched only on the connection's thread): the
 * MULTI flag, the "failed while queueing" flag and the queued commands (each
 * a private copy of its arguments), and the WATCHed keys (db, key, owner
 * shard).
 *
 * Per shard (worker->watch, touched only on that shard's thread): a hash of
 * watched (db,key) -> registrations {connection id, dirty, expired at WATCH
 * time, expiry time at WATCH}. WATCH sends the keys to their owners (the
 * reply waits for every owner to acknowledge, so a write that follows the
 * reply is seen); db_signal_modified / FLUSHDB / FLUSHALL / SWAPDB mark
 * registrations dirty (Redis 7.0's touchWatchedKey /
 * touchAllWatchedKeysInDb rules); a key that was live at WATCH and has since
 * expired counts as modified (isWatchedKeyExpired, and the expiry's own
 * delete in Redis signals the key).
 *
 * EXEC is one multi-shard operation over the shards of every key of every
 * queued command plus every watched key (global when a queued command is
 * global or routed, or the transaction changes / spans databases). Hop 0
 * checks and drops this connection's registrations on each shard; then
 * `next` (on the connection's thread) steps through the queue in order:
 * connection commands run right there, a command whose keys live on one
 * shard runs in one hop on that shard, a command whose keys span shards runs
 * its own hops, one EXEC hop each. Every command writes its reply into its
 * own buffer; the EXEC reply is the array of them (or a null array when a
 * watched key changed). The operation holds its intent locks from schedule
 * to finish, so nothing interleaves with the transaction.
 *
 * In cluster mode a command is checked against the slot map when queued
 * (MOVED / CROSSSLOT / CLUSTERDOWN flag the transaction) and EXEC checks
 * the keys of all queued commands together (one slot, served here, else the
 * redirection and the transaction is discarded), as Redis does.
 *
 * The EXEC state reaches the shards through the operation's argv[1] (the
 * pointer's bytes); the operation never outlives it. */
#include "server/server.h"
#include "cluster/cluster.h"
#include "cluster/slot.h"
#include "server/clock.h"
#include "server/multi.h"
#include "server/persist.h"
#include "server/monitor.h" /* monitor: EXEC's commands, as Redis's call() */
#include "server/tracking.h" /* tracking: reads inside EXEC */

#include <mimalloc.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* ---------- per-connection state ---------- */

struct qcmd {
    const struct command *cmd;
    int argc;
    struct arg *argv; /* one block with the bytes */
    int nkeys;
    int *keyidx;
};

struct wkey {
    int db;
    int shard;
    size_t len;
    char *key;
};

struct mstate {
    bool in_multi;
    bool failed; /* an error while queueing: EXECABORT */
    bool exec_running, exec_deferred; /* monitor: EXEC still running after cmd_exec returned */
    char exec_word[4];                /* monitor: "exec" as the client spelled it */
    struct qcmd *q;
    int nq, capq;
    struct wkey *wk;
    int nw, capw;
};

static struct mstate *state_get(struct conn *c)
{
    if (!c->multi)
        c->multi = mi_zalloc(sizeof(struct mstate));
    return c->multi;
}

static void qcmd_free(struct qcmd *q)
{
    mi_free(q->argv);
    mi_free(q->keyidx);
}

static void queue_clear(struct mstate *st)
{
    for (int i = 0; i < st->nq; i++)
        qcmd_free(&st->q[i]);
    mi_free(st->q);
    st->q = NULL;
    st->nq = st->capq = 0;
    st->in_multi = false;
    st->failed = false;
}

static void queue_add(struct mstate *st, const struct command *cmd, int argc, const struct arg *argv)
{
    if (st->nq == st->capq) {
        st->capq = st->capq ? st->capq * 2 : 8;
        st->q = mi_realloc(st->q, sizeof(struct qcmd) * (size_t)st->capq);
    }
    struct qcmd *q = &st->q[st->nq++];
    size_t bytes = sizeof(struct arg) * (size_t)argc;
    for (int i = 0; i < argc; i++)
        bytes += argv[i].len + 1;
    q->cmd = cmd;
    q->argc = argc;
    q->argv = mi_malloc(bytes);
    char *p = (char *)(q->argv + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].p, argv[i].len);
        p[argv[i].len] = 0;
        q->argv[i].p = p;
        q->argv[i].len = argv[i].len;
        p += argv[i].len + 1;
    }
    q->keyidx = mi_malloc(sizeof(int) * (size_t)(argc > 0 ? argc : 1));
    int n = command_keys(cmd, q->argv, argc, q->keyidx, argc);
    q->nkeys = n > 0 ? n : 0;
}

/* ---------- per-shard registry of watched keys ---------- */

struct wreg {
    struct wreg *next;
    uint64_t conn_id;
    bool dirty;
    bool expired;      /* the key was logically expired at WATCH */
    int64_t expire_at; /* its expiry at WATCH, -1 if none */
};

struct went {
    struct went *next;
    uint64_t h;
    int db;
    size_t len;
    struct wreg *regs;
    char key[];
};

struct wtable {
    struct went **b;
    size_t size; /* power of two */
    size_t count;
};

static uint64_t whash(int db, const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)(unsigned)db * 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static struct went **wt_link(struct wtable *t, int db, const char *k, size_t n, uint64_t h)
{
    struct went **l = &t->b[h & (t->size - 1)];
    for (; *l; l = &(*l)->next)
        if ((*l)->h == h && (*l)->db == db && (*l)->len == n && memcmp((*l)->key, k, n) == 0)
            return l;
    return l;
}

static struct went *wt_find(struct worker *w, int db, const char *k, size_t n)
{
    struct wtable *t = w->watch;
    if (!t || !t->count)
        return NULL;
    return *wt_link(t, db, k, n, whash(db, k, n));
}

static void wt_grow(struct wtable *t)
{
    size_t nsize = t->size ? t->size * 2 : 64;
    struct went **nb = mi_zalloc(sizeof(struct went *) * nsize);
    for (size_t i = 0; i < t->size; i++) {
        struct went *e = t->b[i];
        while (e) {
            struct went *n = e->next;
            e->next = nb[e->h & (nsize - 1)];
            nb[e->h & (nsize - 1)] = e;
            e = n;
        }
    }
    mi_free(t->b);
    t->b = nb;
    t->size = nsize;
}

/* The key as stored, expired or not (no lazy deletion). */
static struct entry *raw_find(struct worker *w, int db, const char *k, size_t n)
{
    if (db < 0 || db >= w->ks.ndb)
        return NULL;
    return ks_find(&w->ks, db, key_hash_slot(k, n), k, n, INT64_MIN, NULL);
}

static void wt_register(struct worker *w, uint64_t id, int db, const char *k, size_t n)
{
    struct wtable *t = w->watch;
    if (!t)
        t = w->watch = mi_zalloc(sizeof(struct wtable));
    if ((t->count + 1) * 2 > t->size)
        wt_grow(t);
    uint64_t h = whash(db, k, n);
    struct went **l = wt_link(t, db, k, n, h);
    struct went *e = *l;
    if (!e) {
        e = mi_zalloc(sizeof(*e) + n + 1);
        e->h = h;
        e->db = db;
        e->len = n;
        memcpy(e->key, k, n);
        *l = e;
        t->count++;
    }
    for (struct wreg *r = e->regs; r; r = r->next)
        if (r->conn_id == id)
            return;
    struct wreg *r = mi_zalloc(sizeof(*r));
    r->conn_id = id;
    struct entry *en = raw_find(w, db, k, n);
    r->expired = en && ks_is_expired(en, w->now_ms);
    r->expire_at = en && !r->expired && entry_has_expire(en) ? entry_expire(en) : -1;
    r->next = e->regs;
    e->regs = r;
}

/* Drop a registration; true when the key counts as modified since WATCH. */
static bool wt_take(struct worker *w, uint64_t id, int db, const char *k, size_t n)
{
    struct wtable *t = w->watch;
    if (!t || !t->count)
        return false;
    struct went **l = wt_link(t, db, k, n, whash(db, k, n));
    struct went *e = *l;
    if (!e)
        return false;
    bool dirty = false;
    for (struct wreg **rl = &e->regs; *rl; rl = &(*rl)->next) {
        struct wreg *r = *rl;
        if (r->conn_id != id)
            continue;
        dirty = r->dirty || (!r->expired && r->expire_at >= 0 && r->expire_at <= w->now_ms);
        *rl = r->next;
        mi_free(r);
        break;
    }
    if (!e->regs) {
        *l = e->next;
        mi_free(e);
        t->count--;
    }
    return dirty;
}

void multi_touch(struct worker *w, int db, const char *key, size_t len)
{
    struct went *e = wt_find(w, db, key, len);
    if (!e)
        return;
    int present = -1;
    for (struct wreg *r = e->regs; r; r = r->next) {
        if (r->dirty)
            continue;
        if (r->expired) {
            if (present < 0)
                present = raw_find(w, db, key, len) != NULL;
            if (!present) { /* the stale key is gone: logically no change */
                r->expired = false;
                continue;
            }
        }
        r->dirty = true;
    }
}

/* Redis's touchAllWatchedKeysInDb(emptied, replaced_with); repl < 0: none. */
static void touch_all(struct worker *w, int emptied, int repl)
{
    struct wtable *t = w->watch;
    if (!t || !t->count)
        return;
    for (size_t i = 0; i < t->size; i++) {
        for (struct went *e = t->b[i]; e; e = e->next) {
            if (e->db != emptied)
                continue;
            struct entry *ee = raw_find(w, emptied, e->key, e->len);
            struct entry *re = repl >= 0 ? raw_find(w, repl, e->key, e->len) : NULL;
            if (!ee && !re)
                continue;
            bool re_expired = re && ks_is_expired(re, w->now_ms);
            for (struct wreg *r = e->regs; r; r = r->next) {
                if (r->expired) {
                    if (!re) {
                        r->expired = false;
                        continue;
                    }
                    if (re_expired)
                        continue;
                } else if (!ee && re_expired) {
                    r->expired = true;
                    continue;
                }
                r->dirty = true;
            }
        }
    }
}

void multi_touch_flush(struct worker *w, int db) { touch_all(w, db, -1); }

void multi_touch_swap(struct worker *w, int a, int b)
{
    if (a == b)
        return;
    touch_all(w, a, b);
    touch_all(w, b, a);
}

/* ---------- WATCH / UNWATCH messages ---------- */

struct watch_op {
    struct conn *conn;
    struct pending *pend;
    int waiting;
};

struct wmsg {
    struct msg m;
    struct watch_op *op; /* NULL: unwatch, nothing comes back */
    int origin;
    uint64_t conn_id;
    int n;
    struct wkey keys[];
};

static struct wmsg *wmsg_new(const struct wkey *src, int nsrc, int shard, uint64_t id, int origin)
{
    int n = 0;
    size_t bytes = 0;
    for (int i = 0; i < nsrc; i++)
        if (src[i].shard == shard) {
            n++;
            bytes += src[i].len + 1;
        }
    if (!n)
        return NULL;
    struct wmsg *m = mi_zalloc(sizeof(*m) + sizeof(struct wkey) * (size_t)n + bytes);
    char *p = (char *)(m->keys + n);
    m->conn_id = id;
    m->origin = origin;
    for (int i = 0; i < nsrc; i++) {
        if (src[i].shard != shard)
            continue;
        struct wkey *k = &m->keys[m->n++];
        *k = src[i];
        k->key = p;
        memcpy(p, src[i].key, src[i].len);
        p[src[i].len] = 0;
        p += src[i].len + 1;
    }
    return m;
}

static void watch_ack(struct worker *w, struct msg *msg)
{
    (void)w;
    struct wmsg *m = (struct wmsg *)msg;
    struct watch_op *op = m->op;
    mi_free(m);
    if (--op->waiting)
        return;
    struct conn *c = op->conn;
    if (!c->sock_closed) { /* else conn_free drops the pending reply */
        struct reply r = {&op->pend->out, c->resp};
        reply_ok(&r);
        conn_pending_done(c, op->pend);
    }
    mi_free(op);
    conn_release(c);
}

static void watch_arrive(struct worker *w, struct msg *msg)
{
    struct wmsg *m = (struct wmsg *)msg;
    for (int i = 0; i < m->n; i++)
        wt_register(w, m->conn_id, m->keys[i].db, m->keys[i].key, m->keys[i].len);
    m->m.fn = watch_ack;
    worker_send(w, m->origin, &m->m);
}

static void unwatch_arrive(struct worker *w, struct msg *msg)
{
    struct wmsg *m = (struct wmsg *)msg;
    for (int i = 0; i < m->n; i++)
        wt_take(w, m->conn_id, m->keys[i].db, m->keys[i].key, m->keys[i].len);
    mi_free(m);
}

static void wkeys_free(struct wkey *wk, int n)
{
    for (int i = 0; i < n; i++)
        mi_free(wk[i].key);
    mi_free(wk);
}

static void unwatch_all(struct conn *c, struct mstate *st)
{
    if (!st->nw) {
        mi_free(st->wk);
        st->wk = NULL;
        st->capw = 0;
        return;
    }
    struct worker *w = c->w;
    for (int s = 0; s < g_nworkers; s++) {
        if (s == w->id) {
            for (int i = 0; i < st->nw; i++)
                if (st->wk[i].shard == s)
                    wt_take(w, c->id, st->wk[i].db, st->wk[i].key, st->wk[i].len);
            continue;
        }
        struct wmsg *m = wmsg_new(st->wk, st->nw, s, c->id, w->id);
        if (!m)
            continue;
        m->m.fn = unwatch_arrive;
        worker_send(w, s, &m->m);
    }
    wkeys_free(st->wk, st->nw);
    st->wk = NULL;
    st->nw = st->capw = 0;
}

static void cmd_watch(struct cmd_ctx *c)
{
    struct conn *conn = c->conn;
    struct mstate *st = state_get(conn);
    if (st->in_multi) {
        reply_error(&c->r, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    int first = st->nw;
    for (int i = 1; i < c->argc; i++) {
        const struct arg *a = &c->argv[i];
        bool dup = false;
        for (int j = 0; j < st->nw && !dup; j++)
            dup = st->wk[j].db == conn->db && st->wk[j].len == a->len && memcmp(st->wk[j].key, a->p, a->len) == 0;
        if (dup)
            continue;
        if (st->nw == st->capw) {
            st->capw = st->capw ? st->capw * 2 : 8;
            st->wk = mi_realloc(st->wk, sizeof(struct wkey) * (size_t)st->capw);
        }
        struct wkey *k = &st->wk[st->nw++];
        k->db = conn->db;
        k->shard = g_slot_owner[arg_slot(a)];
        k->len = a->len;
        k->key = mi_malloc(a->len + 1);
        memcpy(k->key, a->p, a->len);
        k->key[a->len] = 0;
    }
    struct worker *w = c->w;
    struct watch_op *op = NULL;
    for (int s = 0; s < g_nworkers; s++) {
        if (s == w->id) {
            for (int i = first; i < st->nw; i++)
                if (st->wk[i].shard == s)
                    wt_register(w, conn->id, st->wk[i].db, st->wk[i].key, st->wk[i].len);
            continue;
        }
        struct wmsg *m = wmsg_new(st->wk + first, st->nw - first, s, conn->id, w->id);
        if (!m)
            continue;
        if (!op) {
            op = mi_zalloc(sizeof(*op));
            op->conn = conn;
            op->pend = conn_defer_reply(conn);
            conn->inflight++;
        }
        op->waiting++;
        m->op = op;
        m->m.fn = watch_arrive;
        worker_send(w, s, &m->m);
    }
    if (!op)
        reply_ok(&c->r);
}

static void cmd_unwatch(struct cmd_ctx *c)
{
    unwatch_all(c->conn, state_get(c->conn));
    reply_ok(&c->r);
}

/* ---------- MULTI / DISCARD / queueing ---------- */

static void cmd_multi(struct cmd_ctx *c)
{
    struct mstate *st = state_get(c->conn);
    if (st->in_multi) {
        reply_error(&c->r, "ERR MULTI calls can not be nested");
        return;
    }
    st->in_multi = true;
    st->failed = false;
    reply_ok(&c->r);
}

static void cmd_discard(struct cmd_ctx *c)
{
    struct mstate *st = state_get(c->conn);
    if (!st->in_multi) {
        reply_error(&c->r, "ERR DISCARD without MULTI");
        return;
    }
    queue_clear(st);
    unwatch_all(c->conn, st);
    reply_ok(&c->r);
}

static bool exempt(const struct command *cmd)
{
    static const char *const names[] = {"exec", "discard", "multi", "watch", "quit", "reset"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(cmd->name, names[i]) == 0)
            return true;
    return false;
}

/* Cluster mode: a command is checked against the slot map when queued, as
 * Redis's processCommand does before queueing (a refusal flags the
 * transaction). */
static bool queue_refused(struct conn *c, const struct command *cmd, int argc, struct arg *argv, char *msg,
                          size_t msglen)
{
    if (!c->w->cluster)
        return false;
    int stack[16];
    int *keys = argc <= 16 ? stack : mi_malloc(sizeof(int) * (size_t)argc);
    int nkeys = command_keys(cmd, argv, argc, keys, argc);
    unsigned slot = nkeys > 0 ? arg_slot(&argv[keys[0]]) : 0;
    bool cross = false;
    for (int i = 1; i < nkeys && !cross; i++)
        cross = arg_slot(&argv[keys[i]]) != slot;
    if (keys != stack)
        mi_free(keys);
    return cluster_multi_refuse(c, false, cmd->flags & CMD_WRITE, nkeys, slot, cross, msg, msglen);
}

/* Cluster mode, EXEC: the keys of every queued command together must hash
 * to one slot served here (Redis's getNodeByQuery over the MULTI state); a
 * refusal answers EXEC with the redirection and discards the transaction. */
static bool exec_refused(struct conn *c, struct mstate *st, const struct command *cmd)
{
    int nkeys = 0;
    unsigned slot = 0;
    bool cross = false, write = false;
    for (int i = 0; i < st->nq; i++) {
        const struct qcmd *q = &st->q[i];
        write |= (q->cmd->flags & CMD_WRITE) != 0;
        for (int k = 0; k < q->nkeys; k++) {
            unsigned s = arg_slot(&q->argv[q->keyidx[k]]);
            if (nkeys++ == 0)
                slot = s;
            else if (s != slot)
                cross = true;
        }
    }
    char msg[128];
    if (!cluster_multi_refuse(c, true, write, nkeys, slot, cross, msg, sizeof(msg)))
        return false;
    c->last_cmd = cmd->name;
    queue_clear(st);
    unwatch_all(c, st);
    struct pending *pend;
    struct reply r = {conn_begin_reply(c, &pend), c->resp};
    stats_count_rejected(c->w, cmd);
    stats_count_error(c->w, msg, strlen(msg));
    reply_error(&r, msg);
    conn_end_reply(c, pend);
    return true;
}

bool multi_dispatch(struct conn *c, int argc, struct arg *argv)
{
    struct mstate *st = c->multi;
    if (!st || !st->in_multi)
        return false;
    const char *err = NULL;
    const struct command *cmd = command_lookup(argv, argc, &err);
    if (cmd && cmd->variant) /* SORT with BY/GET patterns: a global operation */
        cmd = cmd->variant(cmd, argv, argc);
    /* errors dispatch replies itself (unknown command, arity, NOAUTH,
     * LOADING) fail the transaction */
    if (!cmd) {
        st->failed = true;
        return false;
    }
    if (exempt(cmd))
        return c->w->cluster && strcmp(cmd->name, "exec") == 0 && (c->authenticated || (cmd->flags & CMD_NOAUTH)) &&
               exec_refused(c, st, cmd);
    if ((!c->authenticated && !(cmd->flags & CMD_NOAUTH)) || (c->w->loading && !(cmd->flags & CMD_LOADING))) {
        st->failed = true;
        return false;
    }
    c->last_cmd = cmd->name;
    char msg[128];
    struct pending *pend;
    struct reply r = {conn_begin_reply(c, &pend), c->resp};
    if (cmd->flags & CMD_NO_MULTI) {
        static const char nomulti[] = "ERR Command not allowed inside a transaction";
        st->failed = true;
        stats_count_rejected(c->w, cmd);
        stats_count_error(c->w, nomulti, sizeof(nomulti) - 1);
        reply_error(&r, nomulti);
    } else if (queue_refused(c, cmd, argc, argv, msg, sizeof(msg))) {
        st->failed = true;
        stats_count_rejected(c->w, cmd);
        stats_count_error(c->w, msg, strlen(msg));
        reply_error(&r, msg);
    } else {
        if (!st->failed)
            queue_add(st, cmd, argc, argv);
        reply_status(&r, "QUEUED");
    }
    conn_end_reply(c, pend);
    return true;
}

bool multi_refuse(struct conn *c, const struct command *cmd, const char *err)
{
    struct mstate *st = c->multi;
    if (!st || !st->in_multi)
        return false;
    if (strcmp(cmd->name, "exec") != 0) {
        st->failed = true;
        return false;
    }
    queue_clear(st);
    unwatch_all(c, st);
    struct pending *pend;
    struct reply r = {conn_begin_reply(c, &pend), c->resp};
    reply_errorf(&r, "EXECABORT Transaction discarded because of: %s", err);
    conn_end_reply(c, pend);
    return true;
}

bool multi_exec_monitor_deferred(struct conn *c)
{
    struct mstate *st = c->multi;
    return st && st->exec_deferred;
}

void multi_conn_reset(struct conn *c)
{
    struct mstate *st = c->multi;
    if (!st)
        return;
    queue_clear(st);
    unwatch_all(c, st);
}

void multi_conn_free(struct conn *c)
{
    struct mstate *st = c->multi;
    if (!st)
        return;
    queue_clear(st);
    unwatch_all(c, st);
    mi_free(st);
    c->multi = NULL;
}

/* ---------- EXEC ---------- */

enum { K_INLINE, K_SHARD, K_MSO };

struct xstep {
    struct qcmd q;
    int kind;
    int owner;       /* K_SHARD */
    int db, resp;    /* fixed when the step starts (SELECT / HELLO before it apply) */
    uint16_t track;  /* tracking: the client's read token */
    struct mso *sub; /* K_MSO: the command's own operation */
    int *subidx;
    bool locked;     /* its keys are part of EXEC's operation */
    struct buf out;  /* the command's reply */
};

struct xstate {
    struct conn *conn; /* coordinator thread only */
    uint64_t conn_id;
    const struct command *exec_cmd;
    struct xstep *steps;
    int nsteps;
    int cur;
    int subhop;
    int hopno;
    bool aborted;
    struct wkey *wk;
    int nw;
};

static struct xstate *xs_of(struct mso *t)
{
    struct xstate *x;
    memcpy(&x, t->argv[1].p, sizeof(x));
    return x;
}

static void sub_free(struct xstep *s)
{
    struct mso *t = s->sub;
    if (!t)
        return;
    for (int i = 0; i < t->nparts; i++) {
        buf_free(&t->parts[i].out);
        mi_free(t->parts[i].data);
    }
    buf_free(&t->scratch);
    mi_free(t->state);
    mi_free(t->parts);
    mi_free(t);
    mi_free(s->subidx);
    s->sub = NULL;
    s->subidx = NULL;
}

static void xstate_free(struct xstate *x)
{
    for (int i = 0; i < x->nsteps; i++) {
        qcmd_free(&x->steps[i].q);
        sub_free(&x->steps[i]);
        buf_free(&x->steps[i].out);
    }
    mi_free(x->steps);
    wkeys_free(x->wk, x->nw);
    mi_free(x);
}

/* A whole command on this shard (the handler, or every hop of its mso). */
static void run_step_here(struct worker *w, struct xstep *s, uint64_t client_id, struct conn *conn)
{
    const struct command *cmd = s->q.cmd;
    struct cmd_ctx ctx = {
        .w = w,
        .ks = &w->ks,
        .conn = conn,
        .in_exec = true,
        .cmd = cmd,
        .db = s->db,
        .argc = s->q.argc,
        .argv = s->q.argv,
        .now_ms = w->now_ms,
        .client_id = client_id,
        .keyidx = s->q.keyidx,
        .nkeys = s->q.nkeys,
        .track = s->track, /* tracking */
    };
    ctx.r.b = &s->out;
    ctx.r.resp = s->resp;
    uint64_t t0 = clock_ticks();
    bool global = cmd->mso && cmd->mso->global;
    if (!conn)
        persist_before_command(w, cmd, s->q.argv, s->q.keyidx, s->q.nkeys, global);
    if (!cmd->mso) {
        cmd->handler(&ctx);
    } else {
        struct mso_part part = {.shard = w->id, .nkeys = s->q.nkeys, .keyidx = s->q.keyidx};
        struct mso lt = {
            .cmd = cmd,
            .ops = cmd->mso,
            .db = s->db,
            .resp = s->resp,
            .client_id = client_id,
            .argc = s->q.argc,
            .argv = s->q.argv,
            .coordinator = w->id,
            .nparts = 1,
            .parts = &part,
            .single = true,
            .track = s->track, /* tracking */
        };
        buf_init(&part.out);
        for (int hop = 0; hop >= 0; hop = cmd->mso->next(&lt, hop)) {
            struct reply saved = ctx.r;
            ctx.r.b = &part.out;
            cmd->mso->hop(&ctx, &lt, 0, hop);
            ctx.r = saved;
        }
        cmd->mso->reply(&lt, &ctx.r);
        buf_free(&part.out);
        mi_free(part.data);
        buf_free(&lt.scratch);
        mi_free(lt.state);
    }
    tracking_remember_keys(&ctx, s->q.keyidx, s->q.nkeys); /* tracking: keys read by a tracking client */
    stats_after_command(w, cmd, &s->out, 0, ticks_to_nsec(clock_ticks() - t0));
    persist_after_command(w, cmd, &s->out, 0);
}

static void build_sub(struct xstate *x, struct xstep *s)
{
    const struct command *cmd = s->q.cmd;
    struct mso *t = mi_zalloc(sizeof(*t));
    t->cmd = cmd;
    t->ops = cmd->mso;
    t->db = s->db;
    t->resp = s->resp;
    t->client_id = x->conn_id;
    t->track = s->track; /* tracking */
    t->argc = s->q.argc;
    t->argv = s->q.argv;
    t->coordinator = x->conn->w->id;
    t->parts = mi_zalloc(sizeof(struct mso_part) * (size_t)g_nworkers);
    if (cmd->mso->global || (cmd->flags & CMD_GLOBAL)) {
        t->nparts = g_nworkers;
        for (int i = 0; i < g_nworkers; i++)
            t->parts[i].shard = i;
    } else {
        int n = s->q.nkeys;
        int *own = mi_malloc(sizeof(int) * (size_t)n);
        s->subidx = mi_malloc(sizeof(int) * (size_t)n);
        int order[MAX_THREADS], norder = 0;
        bool seen[MAX_THREADS] = {false};
        for (int i = 0; i < n; i++) {
            own[i] = g_slot_owner[arg_slot(&s->q.argv[s->q.keyidx[i]])];
            if (!seen[own[i]]) {
                seen[own[i]] = true;
                order[norder++] = own[i];
            }
        }
        int pos = 0;
        for (int p = 0; p < norder; p++) {
            struct mso_part *pt = &t->parts[p];
            pt->shard = order[p];
            pt->keyidx = s->subidx + pos;
            for (int i = 0; i < n; i++)
                if (own[i] == order[p])
                    pt->keyidx[pt->nkeys++] = s->q.keyidx[i];
            pos += pt->nkeys;
        }
        t->nparts = norder;
        mi_free(own);
    }
    for (int i = 0; i < t->nparts; i++)
        buf_init(&t->parts[i].out);
    s->sub = t;
}

static void finish_sub(struct xstate *x, struct xstep *s)
{
    struct worker *w = x->conn->w;
    struct reply r = {&s->out, s->resp};
    s->sub->ops->reply(s->sub, &r);
    stats_after_command(w, s->q.cmd, &s->out, 0, 0);
    persist_after_command(w, s->q.cmd, &s->out, 0);
    sub_free(s);
}

/* monitor: as Redis's call(), each command of the transaction is shown
 * (after connection commands ran: SELECT shows its new db). */
static void monitor_step(struct conn *c, const struct xstep *s)
{
    if (monitor_shows(s->q.cmd))
        monitor_feed(c->w, c, s->q.cmd->flags & CMD_CONN ? c->db : s->db, s->q.argc, s->q.argv);
}

/* On the coordinator: run connection-thread steps, stop at the next step
 * that needs the shards (returns its hop number) or the end (-1). */
static int advance(struct xstate *x)
{
    while (x->cur < x->nsteps) {
        struct xstep *s = &x->steps[x->cur];
        s->db = x->conn->db;
        s->resp = x->conn->resp;
        if (s->kind == K_INLINE) {
            run_step_here(x->conn->w, s, x->conn_id, x->conn);
            monitor_step(x->conn, s);
            x->cur++;
            continue;
        }
        monitor_step(x->conn, s);
        if (s->kind == K_MSO) {
            build_sub(x, s);
            x->subhop = 0;
        }
        return ++x->hopno;
    }
    return -1;
}

static void exec_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    struct xstate *x = xs_of(t);
    struct worker *w = c->w;
    if (hop == 0) {
        bool dirty = false;
        for (int i = 0; i < x->nw; i++)
            if (x->wk[i].shard == w->id && wt_take(w, x->conn_id, x->wk[i].db, x->wk[i].key, x->wk[i].len))
                dirty = true;
        t->parts[part].count = dirty;
        return;
    }
    struct xstep *s = &x->steps[x->cur];
    if (s->kind == K_SHARD) {
        if (s->owner == w->id)
            run_step_here(w, s, x->conn_id, NULL);
        return;
    }
    struct mso *sub = s->sub;
    for (int j = 0; j < sub->nparts; j++) {
        struct mso_part *pt = &sub->parts[j];
        if (pt->shard != w->id)
            continue;
        mso_run_part(w, sub, j, x->subhop);
    }
}

static int exec_next(struct mso *t, int hop)
{
    struct xstate *x = xs_of(t);
    t->cmd = x->exec_cmd; /* statistics under EXEC itself */
    if (hop == 0) {
        for (int p = 0; p < t->nparts; p++)
            if (t->parts[p].count) {
                x->aborted = true;
                return -1;
            }
        x->cur = 0;
        return advance(x);
    }
    struct xstep *s = &x->steps[x->cur];
    if (s->kind == K_MSO) {
        int nh = s->sub->ops->next(s->sub, x->subhop);
        if (nh >= 0) {
            x->subhop = nh;
            return ++x->hopno;
        }
        finish_sub(x, s);
    }
    x->cur++;
    return advance(x);
}

static void exec_write_reply(struct xstate *x, struct reply *r)
{
    if (x->aborted) {
        reply_null_array(r);
        return;
    }
    reply_array(r, x->nsteps);
    for (int i = 0; i < x->nsteps; i++)
        reply_raw(r, x->steps[i].out.data, x->steps[i].out.len);
}

static void exec_reply(struct mso *t, struct reply *r)
{
    struct xstate *x = xs_of(t);
    if (r)
        exec_write_reply(x, r);
    struct mstate *st = x->conn->multi; /* monitor: EXEC's own line follows its commands' */
    if (st->exec_deferred && !x->conn->closing)
        monitor_feed(x->conn->w, x->conn, x->conn->db, 1, &(struct arg){st->exec_word, 4});
    st->exec_running = st->exec_deferred = false;
    xstate_free(x);
}

static const struct mso_ops exec_ops = {.hop = exec_hop, .next = exec_next, .reply = exec_reply};
static const struct mso_ops exec_global_ops = {.hop = exec_hop, .next = exec_next, .reply = exec_reply, .global = true};

static struct command exec_global_cmd;
static const struct command *exec_main_cmd;
static pthread_once_t exec_once = PTHREAD_ONCE_INIT;

static void exec_init(void)
{
    exec_main_cmd = command_find("exec", 4);
    exec_global_cmd = *exec_main_cmd;
    exec_global_cmd.mso = &exec_global_ops;
}

static void cmd_exec(struct cmd_ctx *c)
{
    struct conn *conn = c->conn;
    struct mstate *st = state_get(conn);
    if (!st->in_multi) {
        reply_error(&c->r, "ERR EXEC without MULTI");
        return;
    }
    if (st->failed) {
        reply_error(&c->r, "EXECABORT Transaction discarded because of previous errors.");
        queue_clear(st);
        unwatch_all(conn, st);
        return;
    }
    pthread_once(&exec_once, exec_init);
    struct xstate *x = mi_zalloc(sizeof(*x));
    x->conn = conn;
    x->conn_id = conn->id;
    x->exec_cmd = exec_main_cmd;
    x->nsteps = st->nq;
    x->steps = mi_zalloc(sizeof(struct xstep) * (size_t)(st->nq ? st->nq : 1));
    x->wk = st->wk;
    x->nw = st->nw;
    st->wk = NULL;
    st->nw = st->capw = 0;
    bool global = false;
    int nkeys = x->nw;
    for (int i = 0; i < st->nq; i++) {
        struct xstep *s = &x->steps[i];
        s->q = st->q[i];
        buf_init(&s->out);
        s->track = tracking_token(conn); /* tracking */
        const struct command *cmd = s->q.cmd;
        if ((cmd->flags & CMD_CONN) && cmd->handler) {
            s->kind = K_INLINE;
            if (strcmp(cmd->name, "select") == 0 || strcmp(cmd->name, "hello") == 0)
                global = true; /* later keys live in another database */
        } else if (cmd->route) {
            s->kind = K_SHARD;
            s->owner = cmd->route(s->q.argv, s->q.argc);
            global = true;
        } else if ((cmd->flags & CMD_GLOBAL) && cmd->mso) {
            s->kind = K_MSO;
            global = true;
        } else if (s->q.nkeys <= 0) {
            s->kind = K_INLINE;
        } else {
            int owner = g_slot_owner[arg_slot(&s->q.argv[s->q.keyidx[0]])];
            bool same = true;
            for (int k = 1; k < s->q.nkeys && same; k++)
                same = g_slot_owner[arg_slot(&s->q.argv[s->q.keyidx[k]])] == owner;
            s->kind = same || !cmd->mso ? K_SHARD : K_MSO;
            s->owner = owner;
            s->locked = true;
            nkeys += s->q.nkeys;
        }
    }
    for (int i = 0; i < x->nw; i++)
        if (x->wk[i].db != conn->db)
            global = true;
    mi_free(st->q);
    st->q = NULL;
    st->nq = st->capq = 0;
    st->in_multi = false;
    st->failed = false;

    if (!global && nkeys == 0) {
        /* connection commands only, nothing watched: run them here */
        for (x->cur = 0; x->cur < x->nsteps; x->cur++) {
            struct xstep *s = &x->steps[x->cur];
            s->db = conn->db;
            s->resp = conn->resp;
            run_step_here(c->w, s, conn->id, conn);
            monitor_step(conn, s);
        }
        c->r.resp = conn->resp;
        exec_write_reply(x, &c->r);
        xstate_free(x);
        return;
    }
    /* the operation's argv: "exec", the state pointer, then every key */
    int argc = 2 + nkeys;
    struct arg *argv = mi_malloc(sizeof(struct arg) * (size_t)argc);
    int *keyidx = mi_malloc(sizeof(int) * (size_t)(nkeys ? nkeys : 1));
    argv[0] = (struct arg){"exec", 4};
    argv[1] = (struct arg){(const char *)&x, sizeof(x)};
    int n = 2;
    for (int i = 0; i < x->nw; i++)
        argv[n++] = (struct arg){x->wk[i].key, x->wk[i].len};
    for (int i = 0; i < x->nsteps; i++) {
        struct xstep *s = &x->steps[i];
        if (!s->locked)
            continue;
        for (int k = 0; k < s->q.nkeys; k++)
            argv[n++] = s->q.argv[s->q.keyidx[k]];
    }
    for (int i = 0; i < nkeys; i++)
        keyidx[i] = 2 + i;
    st->exec_running = true;
    memcpy(st->exec_word, c->argv[0].p, 4);
    exec_mso(conn, global ? &exec_global_cmd : c->cmd, argc, argv, keyidx, nkeys);
    st->exec_deferred = st->exec_running; /* monitor: not finished yet */
    mi_free(argv);
    mi_free(keyidx);
}

#define TX (CMD_CONN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)

const struct command multi_commands[] = {
    {"multi", 1, TX | CMD_FAST | CMD_ALLOW_BUSY, 0, 0, 0, cmd_multi, .group = "transactions", .summary = "Mark the start of a transaction block", .since = "1.2.0", .complexity = "O(1)", .acl = "fast transaction"},
    {"exec", 1, TX, 0, 0, 0, cmd_exec, .mso = &exec_ops, .group = "transactions", .summary = "Execute all commands issued after MULTI", .since = "1.2.0", .complexity = "Depends on commands in the transaction", .acl = "slow transaction"},
    {"discard", 1, TX | CMD_FAST | CMD_ALLOW_BUSY, 0, 0, 0, cmd_discard, .group = "transactions", .summary = "Discard all commands issued after MULTI", .since = "2.0.0", .complexity = "O(N), when N is the number of queued commands", .acl = "fast transaction"},
    {"watch", -2, TX | CMD_FAST | CMD_ALLOW_BUSY, 1, -1, 1, cmd_watch, .group = "transactions", .summary = "Monitor changes to keys to determine execution of a MULTI/EXEC block", .since = "2.2.0", .complexity = "O(1) for every key.", .acl = "fast transaction"},
    {"unwatch", 1, TX | CMD_FAST | CMD_ALLOW_BUSY, 0, 0, 0, cmd_unwatch, .group = "transactions", .summary = "Forget about all watched keys", .since = "2.2.0", .complexity = "O(1)", .acl = "fast transaction"},
    {NULL},
};
