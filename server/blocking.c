/* server/blocking.c — clients blocked on keys (see server/blocking.h).
 * Owns: the per-connection blocked state (connection's thread) and the
 * per-shard parked clients and ready keys (shard's thread); the messages
 * between them. Must not know any command's semantics. */
#include "server/blocking.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <mimalloc.h>
#include <string.h>

/* ---------- for command handlers ---------- */

bool blocking_parse_timeout(struct reply *r, const struct arg *a, int64_t *ms)
{
    long double v;
    if (!arg_to_long_double(a, &v)) {
        reply_error(r, "ERR timeout is not a float or out of range");
        return false;
    }
    long double t = ceill(v * 1000.0L);
    if (t < 0) {
        reply_error(r, "ERR timeout is negative");
        return false;
    }
    if (t > (long double)(LLONG_MAX / 4)) {
        reply_error(r, "ERR timeout is out of range");
        return false;
    }
    *ms = (int64_t)t;
    return true;
}

bool blocking_parse_timeout_ms(struct reply *r, const struct arg *a, int64_t *ms)
{
    long long v;
    if (!arg_to_ll(a, &v)) {
        reply_error(r, "ERR timeout is not an integer or out of range");
        return false;
    }
    if (v < 0) {
        reply_error(r, "ERR timeout is negative");
        return false;
    }
    if (v > LLONG_MAX / 4) {
        reply_error(r, "ERR timeout is out of range");
        return false;
    }
    *ms = v;
    return true;
}

static bool req_may_block(const struct block_req *b) { return b && b->mode != BLOCK_NO; }
static bool req_serving(const struct block_req *b) { return b && b->mode == BLOCK_SERVING; }

static void req_block(struct block_req *b, int64_t timeout_ms)
{
    if (!b)
        return;
    b->would_block = true;
    b->timeout_ms = timeout_ms;
}

static void req_rewrite(struct block_req *b, int idx, const char *p, size_t len)
{
    if (!b)
        return;
    uint32_t l = (uint32_t)len;
    buf_put(&b->rewrites, (const char *)&idx, sizeof(idx));
    buf_put(&b->rewrites, (const char *)&l, sizeof(l));
    buf_put(&b->rewrites, p, len);
}

bool blocking_may_block(const struct cmd_ctx *c) { return req_may_block(c->block); }
bool blocking_serving(const struct cmd_ctx *c) { return req_serving(c->block); }
void blocking_block(struct cmd_ctx *c, int64_t timeout_ms) { req_block(c->block, timeout_ms); }
void blocking_block_skip_arg(struct cmd_ctx *c, int idx)
{
    if (c->block)
        c->block->skip_arg = idx;
}
void blocking_rewrite_arg(struct cmd_ctx *c, int idx, const char *p, size_t len)
{
    req_rewrite(c->block, idx, p, len);
}
void blocking_block_wake_on_delete(struct cmd_ctx *c)
{
    if (c->block)
        c->block->wake_on_delete = true;
}

bool blocking_mso_may_block(const struct mso *t) { return req_may_block(t->block); }
bool blocking_mso_serving(const struct mso *t) { return req_serving(t->block); }
void blocking_mso_block(struct mso *t, int64_t timeout_ms) { req_block(t->block, timeout_ms); }
bool blocking_mso_blocked(const struct mso *t) { return t->block && t->block->would_block; }
void blocking_mso_skip_arg(struct mso *t, int idx)
{
    if (t->block)
        t->block->skip_arg = idx;
}
void blocking_mso_rewrite_arg(struct mso *t, int idx, const char *p, size_t len)
{
    req_rewrite(t->block, idx, p, len);
}
void blocking_mso_wake_on_delete(struct mso *t)
{
    if (t->block)
        t->block->wake_on_delete = true;
}

void block_req_free(struct block_req *b)
{
    buf_free(&b->rewrites);
}

const char *blocking_timeout_check(const struct arg *a, bool in_ms, int64_t *ms)
{
    struct buf b;
    buf_init(&b);
    struct reply r = {&b, 2};
    bool ok = in_ms ? blocking_parse_timeout_ms(&r, a, ms) : blocking_parse_timeout(&r, a, ms);
    const char *err = NULL;
    if (!ok)
        err = strstr(b.data, "negative")       ? "ERR timeout is negative"
              : strstr(b.data, "not a float")  ? "ERR timeout is not a float or out of range"
              : strstr(b.data, "not an integer") ? "ERR timeout is not an integer or out of range"
                                                 : "ERR timeout is out of range";
    buf_free(&b);
    return err;
}

/* ====================== shard side ====================== */

struct bkey;
struct bwaiter;

struct blink {
    struct bkey *k;
    struct bwaiter *wt;
    struct blink *prev, *next;
};

struct bwaiter {
    struct bwaiter *prev, *next; /* the shard's waiters */
    uint64_t wid;
    int origin;
    struct conn *conn;           /* never dereferenced here */
    bool notify_only;
    bool wake_on_delete;         /* served also when the key is missing */
    const struct command *cmd;
    int db, resp;
    uint64_t client_id;
    int argc;
    struct arg *argv;
    int *keyidx;
    int nkeys;
    int nlinks;
    struct blink *links;
};

struct bkey {
    struct bkey *hnext;
    struct bkey *rnext;
    uint64_t hash;
    int db;
    bool ready;
    bool serving;  /* its waiters are being served: do not free it */
    struct blink *head, *tail;
    size_t len;
    char key[];
};

struct bshard {
    struct bkey **buckets;
    size_t nbuckets, nkeys;
    struct bwaiter *waiters;
    struct bkey *ready_head, *ready_tail;
};

static _Thread_local bool tl_ready;

static struct bshard *bshard_of(struct worker *w)
{
    if (!w->blocking) {
        struct bshard *s = mi_zalloc(sizeof(*s));
        s->nbuckets = 64;
        s->buckets = mi_zalloc(sizeof(*s->buckets) * s->nbuckets);
        w->blocking = s;
    }
    return w->blocking;
}

static uint64_t key_hash(int db, const char *p, size_t len)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)db;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static struct bkey *bkey_find(struct bshard *s, int db, const char *p, size_t len, uint64_t h)
{
    for (struct bkey *k = s->buckets[h & (s->nbuckets - 1)]; k; k = k->hnext)
        if (k->hash == h && k->db == db && k->len == len && !memcmp(k->key, p, len))
            return k;
    return NULL;
}

static void bshard_grow(struct bshard *s)
{
    size_t n = s->nbuckets * 2;
    struct bkey **b = mi_zalloc(sizeof(*b) * n);
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct bkey *k = s->buckets[i];
        while (k) {
            struct bkey *next = k->hnext;
            k->hnext = b[k->hash & (n - 1)];
            b[k->hash & (n - 1)] = k;
            k = next;
        }
    }
    mi_free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

static struct bkey *bkey_get(struct bshard *s, int db, const char *p, size_t len)
{
    uint64_t h = key_hash(db, p, len);
    struct bkey *k = bkey_find(s, db, p, len, h);
    if (k)
        return k;
    if (s->nkeys >= s->nbuckets)
        bshard_grow(s);
    k = mi_zalloc(sizeof(*k) + len);
    k->hash = h;
    k->db = db;
    k->len = len;
    memcpy(k->key, p, len);
    k->hnext = s->buckets[h & (s->nbuckets - 1)];
    s->buckets[h & (s->nbuckets - 1)] = k;
    s->nkeys++;
    return k;
}

/* A key nobody waits on any more (and not in the ready list) goes away. */
static void bkey_maybe_free(struct bshard *s, struct bkey *k)
{
    if (k->head || k->ready || k->serving)
        return;
    struct bkey **link = &s->buckets[k->hash & (s->nbuckets - 1)];
    while (*link != k)
        link = &(*link)->hnext;
    *link = k->hnext;
    s->nkeys--;
    mi_free(k);
}

static void waiter_free(struct bshard *s, struct bwaiter *wt)
{
    for (int i = 0; i < wt->nlinks; i++) {
        struct blink *l = &wt->links[i];
        if (l->prev)
            l->prev->next = l->next;
        else
            l->k->head = l->next;
        if (l->next)
            l->next->prev = l->prev;
        else
            l->k->tail = l->prev;
        bkey_maybe_free(s, l->k);
    }
    if (wt->prev)
        wt->prev->next = wt->next;
    else
        s->waiters = wt->next;
    if (wt->next)
        wt->next->prev = wt->prev;
    mi_free(wt->links);
    mi_free(wt->argv);
    mi_free(wt);
}

/* Copy argv with the request's rewrites applied: one allocation. */
static struct arg *args_copy_rewritten(int argc, const struct arg *argv, const struct buf *rw)
{
    const struct arg *src[argc ? argc : 1];
    struct arg tmp[argc ? argc : 1];
    for (int i = 0; i < argc; i++) {
        tmp[i] = argv[i];
        src[i] = &tmp[i];
    }
    for (size_t off = 0; rw && off < rw->len;) {
        int idx;
        uint32_t len;
        memcpy(&idx, rw->data + off, sizeof(idx));
        memcpy(&len, rw->data + off + sizeof(idx), sizeof(len));
        if (idx >= 0 && idx < argc)
            tmp[idx] = (struct arg){rw->data + off + sizeof(idx) + sizeof(len), len};
        off += sizeof(idx) + sizeof(len) + len;
    }
    size_t bytes = sizeof(struct arg) * (size_t)argc;
    for (int i = 0; i < argc; i++)
        bytes += src[i]->len + 1;
    struct arg *out = mi_malloc(bytes ? bytes : 1);
    char *p = (char *)(out + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(p, src[i]->p, src[i]->len);
        p[src[i]->len] = 0;
        out[i] = (struct arg){p, src[i]->len};
        p += src[i]->len + 1;
    }
    return out;
}

/* Park a waiter on its keys (each distinct key once, skip_arg excluded). */
static struct bwaiter *waiter_new(struct worker *w, uint64_t wid, int origin, struct conn *conn, bool notify_only,
                                  const struct command *cmd, int db, int resp, uint64_t client_id, int argc,
                                  const struct arg *argv, const int *keyidx, int nkeys, const struct block_req *req)
{
    struct bshard *s = bshard_of(w);
    struct bwaiter *wt = mi_zalloc(sizeof(*wt));
    wt->wid = wid;
    wt->origin = origin;
    wt->conn = conn;
    wt->notify_only = notify_only;
    wt->wake_on_delete = req && req->wake_on_delete;
    wt->cmd = cmd;
    wt->db = db;
    wt->resp = resp;
    wt->client_id = client_id;
    wt->argc = argc;
    wt->argv = args_copy_rewritten(argc, argv, req ? &req->rewrites : NULL);
    wt->keyidx = mi_malloc(sizeof(int) * (size_t)(nkeys ? nkeys : 1));
    wt->links = mi_zalloc(sizeof(struct blink) * (size_t)(nkeys ? nkeys : 1));
    /* keyidx lives in the links allocation's shadow: keep a copy */
    memcpy(wt->keyidx, keyidx, sizeof(int) * (size_t)nkeys);
    wt->nkeys = nkeys;
    for (int i = 0; i < nkeys; i++) {
        int idx = keyidx[i];
        if (req && req->skip_arg && idx == req->skip_arg)
            continue;
        struct bkey *k = bkey_get(s, db, wt->argv[idx].p, wt->argv[idx].len);
        bool dup = false;
        for (int j = 0; j < wt->nlinks; j++)
            dup |= wt->links[j].k == k;
        if (dup)
            continue;
        struct blink *l = &wt->links[wt->nlinks++];
        l->k = k;
        l->wt = wt;
        l->prev = k->tail;
        if (k->tail)
            k->tail->next = l;
        else
            k->head = l;
        k->tail = l;
    }
    wt->next = s->waiters;
    if (s->waiters)
        s->waiters->prev = wt;
    s->waiters = wt;
    return wt;
}

static void waiter_destroy(struct bshard *s, struct bwaiter *wt)
{
    mi_free(wt->keyidx);
    waiter_free(s, wt);
}

void blocking_signal_key(struct worker *w, int db, const char *key, size_t len)
{
    struct bshard *s = w->blocking;
    if (!s || !s->nkeys)
        return;
    struct bkey *k = bkey_find(s, db, key, len, key_hash(db, key, len));
    if (!k || k->ready)
        return;
    k->ready = true;
    k->rnext = NULL;
    if (s->ready_tail)
        s->ready_tail->rnext = k;
    else
        s->ready_head = k;
    s->ready_tail = k;
    tl_ready = true;
}

void blocking_signal_db(struct worker *w, int db)
{
    struct bshard *s = w->blocking;
    if (!s || !s->nkeys)
        return;
    for (size_t i = 0; i < s->nbuckets; i++)
        for (struct bkey *k = s->buckets[i]; k; k = k->hnext)
            if (k->db == db)
                blocking_signal_key(w, db, k->key, k->len);
}

/* ---------- messages ---------- */

struct bmsg {
    struct msg m;
    struct conn *conn;
    uint64_t wid;
    int shard;
    struct buf out;
};

static void conn_on_served(struct worker *w, struct msg *m);
static void conn_on_notified(struct worker *w, struct msg *m);
static void conn_on_ack(struct worker *w, struct msg *m);

static void send_to_conn(struct worker *w, struct bwaiter *wt, void (*fn)(struct worker *, struct msg *),
                         struct buf *out)
{
    struct bmsg *bm = mi_zalloc(sizeof(*bm));
    bm->m.fn = fn;
    bm->conn = wt->conn;
    bm->wid = wt->wid;
    bm->shard = w->id;
    if (out)
        bm->out = *out;
    else
        buf_init(&bm->out);
    worker_send(w, wt->origin, &bm->m);
}

/* Serve one waiter by running its command again here. True when served. */
static bool serve_waiter(struct worker *w, struct bshard *s, struct bwaiter *wt)
{
    if (wt->notify_only) {
        send_to_conn(w, wt, conn_on_notified, NULL);
        waiter_destroy(s, wt);
        return true;
    }
    struct block_req req = {.mode = BLOCK_SERVING};
    buf_init(&req.rewrites);
    struct buf out;
    buf_init(&out);
    exec_command_blocked(w, wt->cmd, wt->db, wt->resp, wt->client_id, wt->argc, wt->argv, wt->keyidx, wt->nkeys,
                         &out, &req);
    bool served = !req.would_block;
    block_req_free(&req);
    if (!served) {
        buf_free(&out);
        return false;
    }
    send_to_conn(w, wt, conn_on_served, &out);
    waiter_destroy(s, wt);
    return true;
}

static bool waiter_conflicts(struct worker *w, const struct bwaiter *wt)
{
    if (!w->txq.len)
        return false;
    for (int i = 0; i < wt->nkeys; i++) {
        uint64_t fp = txq_fingerprint(wt->db, wt->argv[wt->keyidx[i]].p, wt->argv[wt->keyidx[i]].len);
        if (txq_conflicts(&w->txq, &fp, 1, false))
            return true;
    }
    return false;
}

static bool bkey_exists(struct worker *w, const struct bkey *k)
{
    struct ks_ref ref;
    const struct arg ka = {k->key, k->len};
    return ks_find(&w->ks, k->db, arg_slot(&ka), k->key, k->len, w->now_ms, &ref) != NULL;
}

/* Serve a key's waiters in FIFO order; once the key is missing, only those
 * woken by its deletion. False when a queued operation holds it (try again
 * later). */
static bool serve_key(struct worker *w, struct bshard *s, struct bkey *k)
{
    struct blink *l = k->head;
    while (l) {
        struct blink *next = l->next;
        struct bwaiter *wt = l->wt;
        if (!wt->wake_on_delete && !bkey_exists(w, k)) {
            l = next;
            continue;
        }
        if (waiter_conflicts(w, wt))
            return false;
        /* `next` may be freed if it belongs to the served waiter: it cannot,
         * each waiter has one link per key */
        serve_waiter(w, s, wt);
        l = next;
    }
    return true;
}

void blocking_serve_ready(struct worker *w)
{
    if (!tl_ready)
        return;
    struct bshard *s = w->blocking;
    tl_ready = false;
    if (!s)
        return;
    struct bkey *held = NULL, *held_tail = NULL;
    int rounds = 0;
    while (s->ready_head && rounds++ < 1000000) {
        struct bkey *k = s->ready_head;
        s->ready_head = k->rnext;
        if (!s->ready_head)
            s->ready_tail = NULL;
        k->ready = false;
        k->serving = true;
        bool done = k->head ? serve_key(w, s, k) : true;
        k->serving = false;
        if (!done) {
            if (k->ready) /* signalled again while served: already queued */
                continue;
            k->ready = true;
            k->rnext = NULL;
            if (held_tail)
                held_tail->rnext = k;
            else
                held = k;
            held_tail = k;
            continue;
        }
        bkey_maybe_free(s, k);
    }
    if (held) {
        held_tail->rnext = s->ready_head;
        s->ready_head = held;
        if (!s->ready_tail)
            s->ready_tail = held_tail;
        /* retried when the queue moves (shard_process_queue) */
    }
}

void blocking_retry_held(struct worker *w)
{
    struct bshard *s = w->blocking;
    if (s && s->ready_head) {
        tl_ready = true;
        blocking_serve_ready(w);
    }
}

/* ---------- parking ---------- */

static _Thread_local uint64_t tl_wid_seq;

static uint64_t new_wid(struct worker *w) { return ((uint64_t)(unsigned)w->id << 48) | ++tl_wid_seq; }

/* ====================== connection side ====================== */

enum bresult { BR_NONE = 0, BR_SERVED, BR_TIMEOUT, BR_ERROR, BR_RERUN, BR_CLOSED };
enum bshard_state { BS_DONE = 0, BS_HOLD, BS_CANCEL_SENT };

struct bconn {
    struct bconn *prev, *next; /* this thread's blocked connections */
    struct conn *c;
    uint64_t wid;
    struct pending *pend;
    int64_t deadline;
    int result;
    struct buf served;
    uint8_t state[MAX_THREADS];
    int nheld;                 /* shards not BS_DONE */
    /* for a rerun (notify-only waiters) */
    const struct command *cmd;
    int argc;
    struct arg *argv;
    int *keyidx;
    int nkeys;
};

static _Thread_local struct bconn *tl_blocked;
static _Thread_local uint64_t tl_nblocked;
static _Thread_local int64_t tl_rerun_deadline;
static _Thread_local bool tl_rerun; /* exec_mso runs a woken client's command again */

static struct bconn *bconn_new(struct conn *c, uint64_t wid, struct pending *pend, const struct block_req *req)
{
    struct bconn *b = mi_zalloc(sizeof(*b));
    b->c = c;
    b->wid = wid;
    b->pend = pend;
    if (req->deadline)
        b->deadline = req->deadline;
    else if (req->timeout_ms)
        b->deadline = c->w->now_ms + req->timeout_ms;
    buf_init(&b->served);
    b->next = tl_blocked;
    if (tl_blocked)
        tl_blocked->prev = b;
    tl_blocked = b;
    tl_nblocked++;
    c->blocked = b;
    c->inflight++;
    c->paused = true;
    return b;
}

static void bconn_unlink(struct bconn *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        tl_blocked = b->next;
    if (b->next)
        b->next->prev = b->prev;
    tl_nblocked--;
}

static void cancel_msg(struct worker *w, struct msg *m);

static void send_cancels(struct worker *w, struct bconn *b)
{
    for (int i = 0; i < g_nworkers; i++) {
        if (b->state[i] != BS_HOLD)
            continue;
        b->state[i] = BS_CANCEL_SENT;
        struct bmsg *bm = mi_zalloc(sizeof(*bm));
        bm->m.fn = cancel_msg;
        bm->conn = b->c;
        bm->wid = b->wid;
        bm->shard = w->id;
        buf_init(&bm->out);
        worker_send(w, i, &bm->m);
    }
}

/* The client's blocking is over everywhere: reply and resume. */
static void bconn_finish(struct bconn *b)
{
    struct conn *c = b->c;
    bconn_unlink(b);
    c->blocked = NULL;
    struct pending *pend = b->pend;
    struct reply r = {&pend->out, c->resp};
    bool rerun = false;
    switch (b->result) {
    case BR_SERVED: {
        struct buf tmp = pend->out;
        pend->out = b->served;
        b->served = tmp;
        break;
    }
    case BR_TIMEOUT:
        reply_null_array(&r);
        break;
    case BR_ERROR:
        reply_error(&r, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
        break;
    case BR_RERUN:
        rerun = !c->closing;
        break;
    default:
        break;
    }
    if (b->result != BR_CLOSED)
        conn_pending_done(c, pend);
    if (rerun) {
        tl_rerun_deadline = b->deadline ? b->deadline : 0;
        tl_rerun = true;
        exec_mso(c, b->cmd, b->argc, b->argv, b->keyidx, b->nkeys);
        tl_rerun = false;
        tl_rerun_deadline = 0;
    }
    buf_free(&b->served);
    mi_free(b->argv);
    mi_free(b->keyidx);
    mi_free(b);
    if (!rerun && !c->closing)
        conn_resume(c);
    conn_release(c);
}

static void bconn_maybe_finish(struct bconn *b)
{
    if (b->nheld == 0)
        bconn_finish(b);
}

/* Stop waiting for `why` (timeout, unblock, notify, close). */
static void bconn_stop(struct worker *w, struct bconn *b, int why)
{
    if (why == BR_CLOSED)
        b->result = BR_CLOSED;
    else if (b->result == BR_NONE)
        b->result = why;
    else
        return;
    send_cancels(w, b);
    bconn_maybe_finish(b);
}

static struct bconn *bconn_for(struct conn *c, uint64_t wid)
{
    struct bconn *b = c->blocked;
    return b && b->wid == wid ? b : NULL;
}

static void shard_done(struct bconn *b, int shard)
{
    if (b->state[shard] != BS_DONE) {
        b->state[shard] = BS_DONE;
        b->nheld--;
    }
}

static void conn_on_served(struct worker *w, struct msg *m)
{
    struct bmsg *bm = (struct bmsg *)m;
    struct bconn *b = bconn_for(bm->conn, bm->wid);
    if (b) {
        if (b->result == BR_NONE || b->result == BR_TIMEOUT || b->result == BR_ERROR) {
            /* a serve that crossed a withdrawal wins: the element was popped */
            b->result = BR_SERVED;
            buf_free(&b->served);
            b->served = bm->out;
            buf_init(&bm->out);
        }
        if (b->state[bm->shard] == BS_HOLD)
            shard_done(b, bm->shard);
        send_cancels(w, b);
        bconn_maybe_finish(b);
    }
    buf_free(&bm->out);
    mi_free(bm);
}

static void conn_on_notified(struct worker *w, struct msg *m)
{
    struct bmsg *bm = (struct bmsg *)m;
    struct bconn *b = bconn_for(bm->conn, bm->wid);
    if (b) {
        if (b->state[bm->shard] == BS_HOLD)
            shard_done(b, bm->shard);
        if (b->result == BR_NONE)
            b->result = BR_RERUN;
        send_cancels(w, b);
        bconn_maybe_finish(b);
    }
    mi_free(bm);
}

static void conn_on_ack(struct worker *w, struct msg *m)
{
    (void)w;
    struct bmsg *bm = (struct bmsg *)m;
    struct bconn *b = bconn_for(bm->conn, bm->wid);
    if (b) {
        shard_done(b, bm->shard);
        bconn_maybe_finish(b);
    }
    mi_free(bm);
}

/* shard side: withdraw a waiter and acknowledge */
static void cancel_msg(struct worker *w, struct msg *m)
{
    struct bmsg *bm = (struct bmsg *)m;
    struct bshard *s = w->blocking;
    for (struct bwaiter *wt = s ? s->waiters : NULL; wt; wt = wt->next) {
        if (wt->wid == bm->wid && wt->conn == bm->conn) {
            waiter_destroy(s, wt);
            break;
        }
    }
    int origin = bm->shard;
    bm->shard = w->id;
    bm->m.fn = conn_on_ack;
    worker_send(w, origin, &bm->m);
}

/* ---------- parking: exact (one shard) ---------- */

uint64_t blocking_park_here(struct worker *w, struct conn *conn, int origin, const struct command *cmd, int db,
                            int resp, uint64_t client_id, int argc, const struct arg *argv, const int *keyidx,
                            int nkeys, const struct block_req *req)
{
    uint64_t wid = new_wid(w);
    waiter_new(w, wid, origin, conn, false, cmd, db, resp, client_id, argc, argv, keyidx, nkeys, req);
    return wid;
}

void blocking_conn_parked(struct conn *c, struct pending *pend, uint64_t wid, int shard, const struct block_req *req)
{
    struct bconn *b = bconn_new(c, wid, pend, req);
    b->state[shard] = BS_HOLD;
    b->nheld = 1;
    if (c->closing)
        bconn_stop(c->w, b, BR_CLOSED);
}

/* ---------- parking: notify-only (keys on several shards) ---------- */

struct park_msg {
    struct msg m;
    struct conn *conn;
    uint64_t wid;
    int origin;
    int db;
    int argc;
    struct arg *argv;
    int nkeys;
    int *keyidx;
    struct block_req req;
};

static void park_msg_arrive(struct worker *w, struct msg *m)
{
    struct park_msg *pm = (struct park_msg *)m;
    waiter_new(w, pm->wid, pm->origin, pm->conn, true, NULL, pm->db, 2, 0, pm->argc, pm->argv, pm->keyidx,
               pm->nkeys, &pm->req);
    mi_free(pm->argv);
    mi_free(pm->keyidx);
    block_req_free(&pm->req);
    mi_free(pm);
}

void blocking_mso_park(struct worker *w, struct mso *t)
{
    struct conn *c = t->conn;
    uint64_t wid = new_wid(w);
    struct bconn *b = bconn_new(c, wid, t->pend, t->block);
    b->cmd = t->cmd;
    b->argc = t->argc;
    b->argv = args_copy_rewritten(t->argc, t->argv, &t->block->rewrites);
    int total = 0;
    for (int p = 0; p < t->nparts; p++)
        total += t->parts[p].nkeys;
    b->keyidx = mi_malloc(sizeof(int) * (size_t)(total ? total : 1));
    for (int p = 0; p < t->nparts; p++) {
        struct mso_part *pt = &t->parts[p];
        memcpy(b->keyidx + b->nkeys, pt->keyidx, sizeof(int) * (size_t)pt->nkeys);
        b->nkeys += pt->nkeys;
        int n = 0;
        for (int k = 0; k < pt->nkeys; k++)
            n += !(t->block->skip_arg && pt->keyidx[k] == t->block->skip_arg);
        if (!n)
            continue;
        struct park_msg *pm = mi_zalloc(sizeof(*pm));
        pm->m.fn = park_msg_arrive;
        pm->conn = c;
        pm->wid = wid;
        pm->origin = w->id;
        pm->db = t->db;
        pm->argc = t->argc;
        pm->argv = args_copy_rewritten(t->argc, t->argv, &t->block->rewrites);
        pm->nkeys = pt->nkeys;
        pm->keyidx = mi_malloc(sizeof(int) * (size_t)pt->nkeys);
        memcpy(pm->keyidx, pt->keyidx, sizeof(int) * (size_t)pt->nkeys);
        pm->req.skip_arg = t->block->skip_arg;
        pm->req.wake_on_delete = t->block->wake_on_delete;
        buf_init(&pm->req.rewrites);
        b->state[pt->shard] = BS_HOLD;
        b->nheld++;
        worker_send(w, pt->shard, &pm->m);
    }
    t->pend = NULL;
    if (!b->nheld)
        bconn_stop(w, b, BR_TIMEOUT);
}

void blocking_mso_req_init(struct block_req *b)
{
    b->mode = tl_rerun ? BLOCK_SERVING : BLOCK_MAY;
    b->deadline = tl_rerun_deadline;
}

/* ---------- connection events ---------- */

void blocking_conn_closed(struct conn *c)
{
    struct bconn *b = c->blocked;
    if (!b)
        return;
    if (c->w->stopping) {
        /* shutting down: other threads may no longer answer; the parked
         * entries go away with their keyspaces */
        for (int i = 0; i < g_nworkers; i++)
            shard_done(b, i);
    }
    bconn_stop(c->w, b, BR_CLOSED);
}

bool blocking_conn_unblock(struct conn *c, bool with_error)
{
    struct bconn *b = c->blocked;
    if (!b || b->result != BR_NONE)
        return false;
    bconn_stop(c->w, b, with_error ? BR_ERROR : BR_TIMEOUT);
    return true;
}

bool blocking_conn_is_blocked(const struct conn *c) { return c->blocked != NULL; }

void blocking_check_timeouts(struct worker *w)
{
    struct bconn *b = tl_blocked;
    while (b) {
        struct bconn *next = b->next;
        if (b->deadline && b->result == BR_NONE && w->now_ms >= b->deadline)
            bconn_stop(w, b, BR_TIMEOUT);
        b = next;
    }
}

uint64_t blocking_count(struct worker *w)
{
    (void)w;
    return tl_nblocked;
}
