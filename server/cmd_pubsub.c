/* server/cmd_pubsub.c — family: SUBSCRIBE PSUBSCRIBE SSUBSCRIBE (and their
 * UNSUBSCRIBEs) PUBLISH SPUBLISH PUBSUB, and keyspace notifications.
 *
 * Each thread indexes its own connections' subscriptions (w->pubsub:
 * channel / shard channel / pattern -> local subscribers); a connection's
 * own subscriptions live in c->pubsub. (UN)SUBSCRIBE only touch the
 * connection's thread. PUBLISH delivers to local subscribers at once and
 * sends one message per other thread that has any subscription; each
 * delivers to its own subscribers and answers its count; the reply (the
 * exact total) is written when every thread answered. PUBSUB introspection
 * asks every thread the same way and merges. Keyspace notifications are
 * fire-and-forget messages (to self too, so a push never lands inside the
 * reply of the command that caused it).
 * Subscribers whose pending output passes client-output-buffer-limit pubsub
 * (hard, or soft for longer than its seconds) are closed. */
#include "server/server.h"
#include "server/log.h"
#include "server/pubsub.h"

#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { NS_CHAN = 0, NS_SHARD = 1, NS_PAT = 2, NS_COUNT = 3 };

/* subscriptions per thread (all kinds), so publishers skip idle threads */
static _Atomic int64_t g_ps_subs[MAX_THREADS];

/* ---------- a string-keyed map: name -> connections ---------- */

struct psent {
    struct psent *next;
    uint64_t h;
    size_t len;
    struct conn **subs;
    int n, cap;
    char key[];
};

struct psmap {
    struct psent **b;
    size_t size, count;
};

static uint64_t ps_hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static struct psent *map_find(struct psmap *m, const char *k, size_t n)
{
    if (!m->count)
        return NULL;
    uint64_t h = ps_hash(k, n);
    for (struct psent *e = m->b[h & (m->size - 1)]; e; e = e->next)
        if (e->h == h && e->len == n && memcmp(e->key, k, n) == 0)
            return e;
    return NULL;
}

static void map_grow(struct psmap *m)
{
    size_t nsize = m->size ? m->size * 2 : 16;
    struct psent **nb = mi_zalloc(sizeof(*nb) * nsize);
    for (size_t i = 0; i < m->size; i++) {
        struct psent *e = m->b[i];
        while (e) {
            struct psent *nx = e->next;
            e->next = nb[e->h & (nsize - 1)];
            nb[e->h & (nsize - 1)] = e;
            e = nx;
        }
    }
    mi_free(m->b);
    m->b = nb;
    m->size = nsize;
}

/* Returns the entry; *created says whether it is new. */
static struct psent *map_get(struct psmap *m, const char *k, size_t n, bool *created)
{
    struct psent *e = map_find(m, k, n);
    if (e) {
        *created = false;
        return e;
    }
    if (m->count + 1 > m->size)
        map_grow(m);
    e = mi_zalloc(sizeof(*e) + n + 1);
    e->h = ps_hash(k, n);
    e->len = n;
    memcpy(e->key, k, n);
    e->next = m->b[e->h & (m->size - 1)];
    m->b[e->h & (m->size - 1)] = e;
    m->count++;
    *created = true;
    return e;
}

static void map_del(struct psmap *m, struct psent *e)
{
    struct psent **link = &m->b[e->h & (m->size - 1)];
    while (*link != e)
        link = &(*link)->next;
    *link = e->next;
    m->count--;
    mi_free(e->subs);
    mi_free(e);
}

static void map_free(struct psmap *m)
{
    for (size_t i = 0; i < m->size; i++) {
        struct psent *e = m->b[i];
        while (e) {
            struct psent *nx = e->next;
            mi_free(e->subs);
            mi_free(e);
            e = nx;
        }
    }
    mi_free(m->b);
    memset(m, 0, sizeof(*m));
}

static void ent_add_sub(struct psent *e, struct conn *c)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 4;
        e->subs = mi_realloc(e->subs, sizeof(*e->subs) * (size_t)e->cap);
    }
    e->subs[e->n++] = c;
}

static void ent_del_sub(struct psent *e, struct conn *c)
{
    for (int i = 0; i < e->n; i++)
        if (e->subs[i] == c) {
            /* keep the order: deliveries go in subscription order */
            memmove(&e->subs[i], &e->subs[i + 1], sizeof(*e->subs) * (size_t)(e->n - i - 1));
            e->n--;
            return;
        }
}

/* ---------- per-thread and per-connection state ---------- */

struct ps_worker {
    struct psmap idx[NS_COUNT];
};

struct ps_conn {
    struct psmap subs[NS_COUNT]; /* entries without subscribers: a set of names */
    int64_t soft_since_ms;
};

static struct ps_worker *psw(struct worker *w)
{
    if (!w->pubsub)
        w->pubsub = mi_zalloc(sizeof(struct ps_worker));
    return w->pubsub;
}

static struct ps_conn *psc(struct conn *c)
{
    if (!c->pubsub)
        c->pubsub = mi_zalloc(sizeof(struct ps_conn));
    return c->pubsub;
}

static int64_t conn_nsubs(struct conn *c) /* channels + patterns */
{
    struct ps_conn *p = c->pubsub;
    return p ? (int64_t)(p->subs[NS_CHAN].count + p->subs[NS_PAT].count) : 0;
}

static int64_t conn_nshard(struct conn *c)
{
    struct ps_conn *p = c->pubsub;
    return p ? (int64_t)p->subs[NS_SHARD].count : 0;
}

static bool conn_subscribed(struct conn *c) { return conn_nsubs(c) + conn_nshard(c) > 0; }

bool pubsub_conn_counts(const struct conn *c, int *sub, int *psub, int *ssub)
{
    const struct ps_conn *p = c->pubsub;
    int n[NS_COUNT] = {0, 0, 0};
    if (p)
        for (int ns = 0; ns < NS_COUNT; ns++)
            n[ns] = (int)p->subs[ns].count;
    if (sub)
        *sub = n[NS_CHAN];
    if (psub)
        *psub = n[NS_PAT];
    if (ssub)
        *ssub = n[NS_SHARD];
    return n[NS_CHAN] + n[NS_PAT] + n[NS_SHARD] > 0;
}

static bool subscribe_one(struct conn *c, int ns, const char *name, size_t n)
{
    bool created;
    map_get(&psc(c)->subs[ns], name, n, &created);
    if (!created)
        return false;
    struct psent *e = map_get(&psw(c->w)->idx[ns], name, n, &created);
    ent_add_sub(e, c);
    atomic_fetch_add(&g_ps_subs[c->w->id], 1);
    return true;
}

static bool unsubscribe_one(struct conn *c, int ns, const char *name, size_t n)
{
    struct ps_conn *p = c->pubsub;
    struct psent *ce = p ? map_find(&p->subs[ns], name, n) : NULL;
    if (!ce)
        return false;
    map_del(&p->subs[ns], ce);
    struct ps_worker *pw = psw(c->w);
    struct psent *e = map_find(&pw->idx[ns], name, n);
    if (e) {
        ent_del_sub(e, c);
        if (!e->n)
            map_del(&pw->idx[ns], e);
    }
    atomic_fetch_sub(&g_ps_subs[c->w->id], 1);
    return true;
}

/* ---------- writing to a subscriber ---------- */

struct obuf_lim {
    unsigned long long hard, soft;
    long long secs;
};

static void pubsub_limits(struct worker *w, struct obuf_lim *l)
{
    static _Thread_local char cached[CFG_STR_MAX];
    static _Thread_local struct obuf_lim lim = {33554432ull, 8388608ull, 60};
    for (int i = 0; i < w->cfg.nextra; i++) {
        if (strcmp(w->cfg.extra[i].name, "client-output-buffer-limit"))
            continue;
        const char *v = w->cfg.extra[i].value;
        if (strcmp(v, cached)) {
            const char *p = strstr(v, "pubsub ");
            struct obuf_lim n = {0, 0, 0};
            if (p && sscanf(p, "pubsub %llu %llu %lld", &n.hard, &n.soft, &n.secs) == 3)
                lim = n;
            snprintf(cached, sizeof(cached), "%s", v);
        }
        break;
    }
    *l = lim;
}

static size_t conn_out_size(struct conn *c)
{
    size_t n = c->out[0].len + c->out[1].len;
    int k = 0;
    for (struct pending *p = c->phead; p && k < 64; p = p->next, k++)
        n += p->out.len;
    return n;
}

/* After writing to c: is it over its limits? */
static bool over_limit(struct worker *w, struct conn *c, const struct obuf_lim *l)
{
    size_t used = conn_out_size(c);
    if (l->hard && used > l->hard)
        return true;
    struct ps_conn *p = c->pubsub;
    if (!p || !l->soft)
        return false;
    if (used > l->soft) {
        if (!p->soft_since_ms)
            p->soft_since_ms = w->now_ms ? w->now_ms : 1;
        else if (w->now_ms - p->soft_since_ms >= l->secs * 1000)
            return true;
    } else {
        p->soft_since_ms = 0;
    }
    return false;
}

static void put_bulk(struct reply *r, const char *p, size_t n) { reply_bulk(r, p, n); }

static void write_message(struct conn *c, int ns, const char *pat, size_t plen, const char *ch, size_t chlen,
                          const char *msg, size_t mlen)
{
    struct pending *pend;
    struct reply r = {conn_begin_reply(c, &pend), c->resp};
    if (pat) {
        reply_push(&r, 4);
        put_bulk(&r, "pmessage", 8);
        put_bulk(&r, pat, plen);
    } else {
        reply_push(&r, 3);
        if (ns == NS_SHARD)
            put_bulk(&r, "smessage", 8);
        else
            put_bulk(&r, "message", 7);
    }
    put_bulk(&r, ch, chlen);
    put_bulk(&r, msg, mlen);
    conn_end_reply(c, pend);
}

struct closelist {
    struct conn **v;
    int n, cap;
};

static void closelist_add(struct closelist *cl, struct conn *c)
{
    for (int i = 0; i < cl->n; i++)
        if (cl->v[i] == c)
            return;
    if (cl->n == cl->cap) {
        cl->cap = cl->cap ? cl->cap * 2 : 8;
        cl->v = mi_realloc(cl->v, sizeof(*cl->v) * (size_t)cl->cap);
    }
    cl->v[cl->n++] = c;
}

/* Deliver to this thread's subscribers; returns how many received it. */
static int64_t deliver_local(struct worker *w, int ns, const char *ch, size_t chlen, const char *msg, size_t mlen,
                             struct conn *running)
{
    struct ps_worker *pw = w->pubsub;
    if (!pw || !atomic_load_explicit(&g_ps_subs[w->id], memory_order_relaxed))
        return 0;
    struct obuf_lim lim;
    pubsub_limits(w, &lim);
    struct closelist cl = {0};
    int64_t n = 0;
    struct psent *e = map_find(&pw->idx[ns], ch, chlen);
    if (e)
        for (int i = 0; i < e->n; i++) {
            struct conn *c = e->subs[i];
            if (c->closing)
                continue;
            write_message(c, ns, NULL, 0, ch, chlen, msg, mlen);
            n++;
            if (over_limit(w, c, &lim))
                closelist_add(&cl, c);
        }
    if (ns == NS_CHAN && pw->idx[NS_PAT].count) {
        struct psmap *m = &pw->idx[NS_PAT];
        for (size_t b = 0; b < m->size; b++)
            for (struct psent *p = m->b[b]; p; p = p->next) {
                if (!glob_match(p->key, p->len, ch, chlen, false))
                    continue;
                for (int i = 0; i < p->n; i++) {
                    struct conn *c = p->subs[i];
                    if (c->closing)
                        continue;
                    write_message(c, ns, p->key, p->len, ch, chlen, msg, mlen);
                    n++;
                    if (over_limit(w, c, &lim))
                        closelist_add(&cl, c);
                }
            }
    }
    for (int i = 0; i < cl.n; i++) {
        struct conn *c = cl.v[i];
        if (c == running) /* the publisher itself, mid-command: close once its reply is out */
            c->flags |= CONN_CLOSE_AFTER_REPLY;
        if (c == running)
            continue;
        serverlog(LL_WARNING,
                  "Client id=%llu addr=%s closed for overcoming of output buffer limits (pubsub, %zu bytes).",
                  (unsigned long long)c->id, c->addr, conn_out_size(c));
        conn_close(c);
    }
    mi_free(cl.v);
    return n;
}

/* ---------- fan-out to every thread ---------- */

enum fan_op { FAN_PUBLISH, FAN_NOTIFY, FAN_CHANNELS, FAN_NUMSUB, FAN_NUMPAT };

struct payload {
    _Atomic int refs;
    int ns;
    size_t chlen, mlen;
    char *ch, *msg;
    char data[];
};

static struct payload *payload_new(int ns, const char *ch, size_t chlen, const char *msg, size_t mlen)
{
    struct payload *p = mi_malloc(sizeof(*p) + chlen + mlen + 2);
    atomic_init(&p->refs, 1);
    p->ns = ns;
    p->chlen = chlen;
    p->mlen = mlen;
    p->ch = p->data;
    p->msg = p->data + chlen + 1;
    memcpy(p->ch, ch, chlen);
    p->ch[chlen] = 0;
    memcpy(p->msg, msg, mlen);
    p->msg[mlen] = 0;
    return p;
}

static void payload_put(struct payload *p)
{
    if (atomic_fetch_sub(&p->refs, 1) == 1)
        mi_free(p);
}

struct fan {
    enum fan_op op;
    int ns;
    struct conn *c;
    struct pending *pend;
    int origin;
    int waiting;
    int resp;
    int64_t total;
    struct payload *pl;
    /* introspection: a copy of the arguments */
    int argc;
    struct arg *argv;
    char *argmem;
    int64_t *counts;     /* NUMSUB: per channel */
    struct psmap names;  /* CHANNELS / NUMPAT: merged, deduplicated */
};

struct fanmsg {
    struct msg m;
    struct fan *f;
    struct payload *pl; /* FAN_NOTIFY */
    int64_t count;
    int64_t *counts;
    struct buf out;     /* names: (size_t len, bytes)... */
};

static void put_name(struct buf *b, const char *p, size_t n)
{
    buf_put(b, &n, sizeof(n));
    buf_put(b, p, n);
}

static void fan_write_reply(struct fan *f, struct reply *r)
{
    switch (f->op) {
    case FAN_PUBLISH:
        reply_int(r, f->total);
        break;
    case FAN_CHANNELS:
        reply_array(r, (int64_t)f->names.count);
        for (size_t b = 0; b < f->names.size; b++)
            for (struct psent *e = f->names.b[b]; e; e = e->next)
                reply_bulk(r, e->key, e->len);
        break;
    case FAN_NUMPAT:
        reply_int(r, (int64_t)f->names.count);
        break;
    case FAN_NUMSUB:
        reply_array(r, (int64_t)(f->argc - 2) * 2);
        for (int i = 2; i < f->argc; i++) {
            reply_bulk(r, f->argv[i].p, f->argv[i].len);
            reply_int(r, f->counts[i - 2]);
        }
        break;
    default:
        break;
    }
}

static void fan_free(struct fan *f)
{
    if (f->pl)
        payload_put(f->pl);
    map_free(&f->names);
    mi_free(f->counts);
    mi_free(f->argmem);
    mi_free(f);
}

static void fan_finish(struct worker *w, struct fan *f)
{
    (void)w;
    struct conn *c = f->c;
    if (!c->closing) {
        struct reply r = {&f->pend->out, f->resp};
        fan_write_reply(f, &r);
        conn_pending_done(c, f->pend);
    }
    fan_free(f);
    conn_release(c);
}

/* origin: add one thread's answer */
static void fan_merge(struct fan *f, struct fanmsg *fm)
{
    f->total += fm->count;
    if (fm->counts)
        for (int i = 2; i < f->argc; i++)
            f->counts[i - 2] += fm->counts[i - 2];
    for (size_t off = 0; off + sizeof(size_t) <= fm->out.len;) {
        size_t n;
        memcpy(&n, fm->out.data + off, sizeof(n));
        off += sizeof(n);
        bool created;
        map_get(&f->names, fm->out.data + off, n, &created);
        off += n;
    }
    buf_free(&fm->out);
    mi_free(fm->counts);
    fm->counts = NULL;
}

/* origin: one thread answered */
static void fan_back(struct worker *w, struct msg *m)
{
    struct fanmsg *fm = (struct fanmsg *)m;
    struct fan *f = fm->f;
    fan_merge(f, fm);
    mi_free(fm);
    if (--f->waiting == 0)
        fan_finish(w, f);
}

static void collect_names(struct worker *w, int ns, const struct arg *pat, struct buf *out)
{
    struct ps_worker *pw = w->pubsub;
    if (!pw)
        return;
    struct psmap *m = &pw->idx[ns];
    for (size_t b = 0; b < m->size; b++)
        for (struct psent *e = m->b[b]; e; e = e->next)
            if (!pat || glob_match(pat->p, pat->len, e->key, e->len, false))
                put_name(out, e->key, e->len);
}

/* target thread: do this thread's part */
static void fan_collect(struct worker *w, struct fan *f, struct fanmsg *fm)
{
    struct ps_worker *pw = w->pubsub;
    switch (f->op) {
    case FAN_PUBLISH:
        fm->count = deliver_local(w, f->ns, f->pl->ch, f->pl->chlen, f->pl->msg, f->pl->mlen, NULL);
        break;
    case FAN_CHANNELS:
        collect_names(w, f->ns, f->argc > 2 ? &f->argv[2] : NULL, &fm->out);
        break;
    case FAN_NUMPAT:
        collect_names(w, NS_PAT, NULL, &fm->out);
        break;
    case FAN_NUMSUB:
        fm->counts = mi_zalloc(sizeof(int64_t) * (size_t)(f->argc > 2 ? f->argc - 2 : 1));
        for (int i = 2; i < f->argc && pw; i++) {
            struct psent *e = map_find(&pw->idx[f->ns], f->argv[i].p, f->argv[i].len);
            fm->counts[i - 2] = e ? e->n : 0;
        }
        break;
    default:
        break;
    }
}

/* target thread: do this thread's part */
static void fan_run(struct worker *w, struct msg *m)
{
    struct fanmsg *fm = (struct fanmsg *)m;
    if (!fm->f) { /* keyspace notification, or PUBLISH that cannot wait: nobody waits */
        struct payload *pl = fm->pl;
        deliver_local(w, pl->ns, pl->ch, pl->chlen, pl->msg, pl->mlen, NULL);
        payload_put(pl);
        mi_free(fm);
        return;
    }
    fan_collect(w, fm->f, fm);
    fm->m.fn = fan_back;
    worker_send(w, fm->f->origin, &fm->m);
}

/* Can the handler's reply be deferred to a slot of its own? Only when it
 * runs as a plain command on its connection (not inside EXEC, whose reply
 * is one array built elsewhere). */
static bool can_defer(struct cmd_ctx *c)
{
    struct conn *conn = c->conn;
    return conn && (c->r.b == &conn->out[conn->out_active] || (conn->ptail && c->r.b == &conn->ptail->out));
}

/* Start a fan-out from a handler running inline on c's thread: the reply
 * goes in a slot of its own after whatever the handler's slot holds. */
static struct fan *fan_new(struct cmd_ctx *ctx, enum fan_op op, int ns)
{
    struct fan *f = mi_zalloc(sizeof(*f));
    f->op = op;
    f->ns = ns;
    f->c = ctx->conn;
    f->origin = ctx->w->id;
    f->resp = ctx->r.resp;
    return f;
}

static void fan_copy_args(struct fan *f, int argc, const struct arg *argv)
{
    size_t bytes = sizeof(struct arg) * (size_t)argc;
    for (int i = 0; i < argc; i++)
        bytes += argv[i].len + 1;
    f->argmem = mi_malloc(bytes);
    f->argv = (struct arg *)f->argmem;
    char *p = f->argmem + sizeof(struct arg) * (size_t)argc;
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].p, argv[i].len);
        p[argv[i].len] = 0;
        f->argv[i].p = p;
        f->argv[i].len = argv[i].len;
        p += argv[i].len + 1;
    }
    f->argc = argc;
}

/* Send to `targets` (bitmap by thread id, or all when NULL). */
static void fan_start(struct cmd_ctx *ctx, struct fan *f, const bool *targets)
{
    struct worker *w = ctx->w;
    f->pend = conn_defer_reply(f->c);
    f->c->inflight++;
    int n = 0;
    for (int t = 0; t < g_nworkers; t++)
        if (!targets || targets[t])
            n++;
    f->waiting = n + 1; /* +1: released below, after every send */
    for (int t = 0; t < g_nworkers; t++) {
        if (targets && !targets[t])
            continue;
        struct fanmsg *fm = mi_zalloc(sizeof(*fm));
        fm->f = f;
        buf_init(&fm->out);
        fm->m.fn = fan_run;
        worker_send(w, t, &fm->m);
    }
    if (--f->waiting == 0)
        fan_finish(w, f);
}

/* ---------- SUBSCRIBE family ---------- */

static const char *const sub_names[NS_COUNT] = {"subscribe", "ssubscribe", "psubscribe"};
static const char *const unsub_names[NS_COUNT] = {"unsubscribe", "sunsubscribe", "punsubscribe"};

static void reply_sub(struct reply *r, const char *kind, const char *name, size_t n, bool null_name,
                      int64_t count)
{
    reply_push(r, 3);
    reply_bulkz(r, kind);
    if (null_name)
        reply_null(r);
    else
        reply_bulk(r, name, n);
    reply_int(r, count);
}

static int64_t ns_count(struct conn *c, int ns) { return ns == NS_SHARD ? conn_nshard(c) : conn_nsubs(c); }

static void do_subscribe(struct cmd_ctx *c, int ns)
{
    struct conn *conn = c->conn;
    for (int i = 1; i < c->argc; i++) {
        subscribe_one(conn, ns, c->argv[i].p, c->argv[i].len);
        reply_sub(&c->r, sub_names[ns], c->argv[i].p, c->argv[i].len, false, ns_count(conn, ns));
    }
}

static void unsubscribe_all(struct conn *conn, int ns, struct reply *r)
{
    struct ps_conn *p = conn->pubsub;
    if (!p)
        return;
    struct psmap *m = &p->subs[ns];
    for (size_t b = 0; b < m->size && m->count; b++) while (m->b[b]) {
        struct psent *e = m->b[b];
        size_t n = e->len;
        char stackname[256];
        char *name = n < sizeof(stackname) ? stackname : mi_malloc(n + 1);
        memcpy(name, e->key, n);
        unsubscribe_one(conn, ns, name, n);
        if (r)
            reply_sub(r, unsub_names[ns], name, n, false, ns_count(conn, ns));
        if (name != stackname)
            mi_free(name);
    }
}

static void do_unsubscribe(struct cmd_ctx *c, int ns)
{
    struct conn *conn = c->conn;
    if (c->argc == 1) {
        if (!conn->pubsub || !((struct ps_conn *)conn->pubsub)->subs[ns].count) {
            reply_sub(&c->r, unsub_names[ns], NULL, 0, true, ns_count(conn, ns));
            return;
        }
        unsubscribe_all(conn, ns, &c->r);
        return;
    }
    for (int i = 1; i < c->argc; i++) {
        unsubscribe_one(conn, ns, c->argv[i].p, c->argv[i].len);
        reply_sub(&c->r, unsub_names[ns], c->argv[i].p, c->argv[i].len, false, ns_count(conn, ns));
    }
}

static void cmd_subscribe(struct cmd_ctx *c) { do_subscribe(c, NS_CHAN); }
static void cmd_ssubscribe(struct cmd_ctx *c) { do_subscribe(c, NS_SHARD); }
static void cmd_psubscribe(struct cmd_ctx *c) { do_subscribe(c, NS_PAT); }
static void cmd_unsubscribe(struct cmd_ctx *c) { do_unsubscribe(c, NS_CHAN); }
static void cmd_sunsubscribe(struct cmd_ctx *c) { do_unsubscribe(c, NS_SHARD); }
static void cmd_punsubscribe(struct cmd_ctx *c) { do_unsubscribe(c, NS_PAT); }

/* ---------- PUBLISH ---------- */

static void do_publish(struct cmd_ctx *c, int ns)
{
    const struct arg *ch = &c->argv[1], *msg = &c->argv[2];
    struct worker *w = c->w;
    bool targets[MAX_THREADS];
    int remote = 0;
    for (int t = 0; t < g_nworkers; t++) {
        targets[t] = t != w->id && atomic_load(&g_ps_subs[t]) > 0;
        remote += targets[t];
    }
    /* local subscribers first: nothing is written in this reply slot yet */
    int64_t local = deliver_local(w, ns, ch->p, ch->len, msg->p, msg->len, c->conn);
    if (!remote) {
        reply_int(&c->r, local);
        return;
    }
    if (!can_defer(c)) {
        /* inside EXEC: deliver everywhere, but only local receivers are counted */
        struct payload *pl = payload_new(ns, ch->p, ch->len, msg->p, msg->len);
        for (int t = 0; t < g_nworkers; t++) {
            if (!targets[t])
                continue;
            atomic_fetch_add(&pl->refs, 1);
            struct fanmsg *fm = mi_zalloc(sizeof(*fm));
            fm->pl = pl;
            fm->m.fn = fan_run;
            worker_send(w, t, &fm->m);
        }
        payload_put(pl);
        reply_int(&c->r, local);
        return;
    }
    struct fan *f = fan_new(c, FAN_PUBLISH, ns);
    f->total = local;
    f->pl = payload_new(ns, ch->p, ch->len, msg->p, msg->len);
    fan_start(c, f, targets);
}

static void cmd_publish(struct cmd_ctx *c) { do_publish(c, NS_CHAN); }
static void cmd_spublish(struct cmd_ctx *c) { do_publish(c, NS_SHARD); }

/* ---------- PUBSUB ---------- */

static void pubsub_fan(struct cmd_ctx *c, enum fan_op op, int ns)
{
    struct fan *f = fan_new(c, op, ns);
    fan_copy_args(f, c->argc, c->argv);
    if (op == FAN_NUMSUB)
        f->counts = mi_zalloc(sizeof(int64_t) * (size_t)(c->argc > 2 ? c->argc - 2 : 1));
    if (!can_defer(c)) { /* inside EXEC: this thread's subscriptions only */
        struct fanmsg fm = {.f = f};
        buf_init(&fm.out);
        fan_collect(c->w, f, &fm);
        fan_merge(f, &fm);
        fan_write_reply(f, &c->r);
        fan_free(f);
        return;
    }
    fan_start(c, f, NULL);
}

static void cmd_pubsub_channels(struct cmd_ctx *c)
{
    if (c->argc > 3) {
        reply_errorf(&c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
        return;
    }
    pubsub_fan(c, FAN_CHANNELS, NS_CHAN);
}

static void cmd_pubsub_shardchannels(struct cmd_ctx *c)
{
    if (c->argc > 3) {
        reply_errorf(&c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
        return;
    }
    pubsub_fan(c, FAN_CHANNELS, NS_SHARD);
}

static void cmd_pubsub_numsub(struct cmd_ctx *c) { pubsub_fan(c, FAN_NUMSUB, NS_CHAN); }
static void cmd_pubsub_shardnumsub(struct cmd_ctx *c) { pubsub_fan(c, FAN_NUMSUB, NS_SHARD); }
static void cmd_pubsub_numpat(struct cmd_ctx *c) { pubsub_fan(c, FAN_NUMPAT, NS_PAT); }

static void cmd_pubsub_help(struct cmd_ctx *c)
{
    static const char *lines[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    };
    int n = (int)(sizeof(lines) / sizeof(lines[0]));
    reply_array(&c->r, n);
    for (int i = 0; i < n; i++)
        reply_status(&c->r, lines[i]);
}

static void cmd_pubsub_container(struct cmd_ctx *c)
{
    reply_errorf(&c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
}

/* ---------- hooks ---------- */

void pubsub_conn_closed(struct conn *c)
{
    struct ps_conn *p = c->pubsub;
    if (!p)
        return;
    for (int ns = 0; ns < NS_COUNT; ns++)
        unsubscribe_all(c, ns, NULL);
    for (int ns = 0; ns < NS_COUNT; ns++)
        map_free(&p->subs[ns]);
    mi_free(p);
    c->pubsub = NULL;
}

void pubsub_reset(struct conn *c) { pubsub_conn_closed(c); }

bool pubsub_deny(struct conn *c, const struct command *cmd)
{
    if (c->resp != 2 || !c->pubsub || !conn_subscribed(c))
        return false;
    const char *n = cmd->parent ? cmd->parent->name : cmd->name;
    static const char *const ok[] = {"subscribe", "ssubscribe", "psubscribe", "unsubscribe", "sunsubscribe",
                                     "punsubscribe", "ping", "quit", "reset", NULL};
    for (int i = 0; ok[i]; i++)
        if (!strcmp(n, ok[i]))
            return false;
    char err[256];
    snprintf(err, sizeof(err),
             "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed "
             "in this context",
             cmd->name);
    stats_count_rejected(c->w, cmd);
    stats_count_error(c->w, err, strlen(err));
    struct pending *pend;
    struct reply r = {conn_begin_reply(c, &pend), c->resp};
    reply_error(&r, err);
    conn_end_reply(c, pend);
    return true;
}

bool pubsub_ping(struct cmd_ctx *c)
{
    if (!c->conn || c->conn->resp != 2 || !conn_subscribed(c->conn))
        return false;
    reply_array(&c->r, 2);
    reply_bulk(&c->r, "pong", 4);
    if (c->argc == 2)
        reply_bulk(&c->r, c->argv[1].p, c->argv[1].len);
    else
        reply_bulk(&c->r, "", 0);
    return true;
}

/* ---------- keyspace notifications ---------- */

static int notify_flags(struct worker *w)
{
    static _Thread_local char cached[CFG_STR_MAX];
    static _Thread_local int flags;
    const char *s = w->cfg.notify_keyspace_events;
    if (!s[0])
        return 0;
    if (strcmp(s, cached)) {
        int f = 0;
        for (const char *p = s; *p; p++) {
            switch (*p) {
            case 'A':
                f |= NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH | NOTIFY_ZSET |
                     NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE;
                break;
            case 'g': f |= NOTIFY_GENERIC; break;
            case '$': f |= NOTIFY_STRING; break;
            case 'l': f |= NOTIFY_LIST; break;
            case 's': f |= NOTIFY_SET; break;
            case 'h': f |= NOTIFY_HASH; break;
            case 'z': f |= NOTIFY_ZSET; break;
            case 'x': f |= NOTIFY_EXPIRED; break;
            case 'e': f |= NOTIFY_EVICTED; break;
            case 'K': f |= NOTIFY_KEYSPACE; break;
            case 'E': f |= NOTIFY_KEYEVENT; break;
            case 't': f |= NOTIFY_STREAM; break;
            case 'm': f |= NOTIFY_KEY_MISS; break;
            case 'd': f |= NOTIFY_MODULE; break;
            case 'n': f |= NOTIFY_NEW; break;
            default: break;
            }
        }
        flags = f;
        snprintf(cached, sizeof(cached), "%s", s);
    }
    return flags;
}

/* Publish on every thread that has subscribers, by message (to self too). */
static void publish_async(struct worker *w, const char *ch, size_t chlen, const char *msg, size_t mlen)
{
    struct payload *pl = NULL;
    for (int t = 0; t < g_nworkers; t++) {
        if (atomic_load(&g_ps_subs[t]) <= 0)
            continue;
        if (!pl)
            pl = payload_new(NS_CHAN, ch, chlen, msg, mlen);
        atomic_fetch_add(&pl->refs, 1);
        struct fanmsg *fm = mi_zalloc(sizeof(*fm));
        fm->pl = pl;
        fm->m.fn = fan_run;
        worker_send(w, t, &fm->m);
    }
    if (pl)
        payload_put(pl);
}

void notify_keyspace_event_db(struct worker *w, int db, int type, const char *event, const char *key,
                              size_t keylen)
{
    if (!w)
        return;
    int flags = notify_flags(w);
    if (!(flags & type) || !(flags & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT)))
        return;
    bool any = false;
    for (int t = 0; t < g_nworkers && !any; t++)
        any = atomic_load_explicit(&g_ps_subs[t], memory_order_relaxed) > 0;
    if (!any)
        return;
    size_t elen = strlen(event);
    char stackbuf[512];
    size_t need = 32 + keylen + elen;
    char *chan = need <= sizeof(stackbuf) ? stackbuf : mi_malloc(need);
    if (flags & NOTIFY_KEYSPACE) {
        int n = snprintf(chan, need, "__keyspace@%d__:", db);
        memcpy(chan + n, key, keylen);
        publish_async(w, chan, (size_t)n + keylen, event, elen);
    }
    if (flags & NOTIFY_KEYEVENT) {
        int n = snprintf(chan, need, "__keyevent@%d__:%s", db, event);
        publish_async(w, chan, (size_t)n, key, keylen);
    }
    if (chan != stackbuf)
        mi_free(chan);
}

void notify_keyspace_event(struct cmd_ctx *c, int type, const char *event, const struct arg *key)
{
    notify_keyspace_event_db(c->w, c->db, type, event, key->p, key->len);
}

/* ---------- INFO stats ----------
 * A thread's part: uint64_t counts[NS_COUNT], then its names, each as
 * (uint8_t ns, size_t len, bytes). A channel subscribed on several threads is
 * counted once: when more than one thread has names of a kind, they are
 * merged (as PUBSUB CHANNELS does). */

void pubsub_info_collect(struct worker *w, struct buf *out)
{
    struct ps_worker *pw = w->pubsub;
    uint64_t counts[NS_COUNT] = {0, 0, 0};
    for (int ns = 0; pw && ns < NS_COUNT; ns++)
        counts[ns] = pw->idx[ns].count;
    buf_put(out, counts, sizeof(counts));
    for (int ns = 0; pw && ns < NS_COUNT; ns++) {
        struct psmap *m = &pw->idx[ns];
        for (size_t b = 0; b < m->size && m->count; b++)
            for (struct psent *e = m->b[b]; e; e = e->next) {
                uint8_t k = (uint8_t)ns;
                buf_put(out, &k, 1);
                put_name(out, e->key, e->len);
            }
    }
}

void pubsub_info_count(const struct buf *const *bufs, int n, uint64_t *channels, uint64_t *patterns,
                       uint64_t *shard_channels)
{
    uint64_t total[NS_COUNT] = {0, 0, 0};
    int threads[NS_COUNT] = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        uint64_t counts[NS_COUNT];
        if (bufs[i]->len < sizeof(counts))
            continue;
        memcpy(counts, bufs[i]->data, sizeof(counts));
        for (int ns = 0; ns < NS_COUNT; ns++) {
            total[ns] += counts[ns];
            threads[ns] += counts[ns] > 0;
        }
    }
    bool merge = threads[NS_CHAN] > 1 || threads[NS_PAT] > 1 || threads[NS_SHARD] > 1;
    if (merge) {
        struct psmap names[NS_COUNT];
        memset(names, 0, sizeof(names));
        for (int i = 0; i < n; i++) {
            const struct buf *b = bufs[i];
            size_t off = sizeof(uint64_t) * NS_COUNT;
            while (off + 1 + sizeof(size_t) <= b->len) {
                uint8_t k = (uint8_t)b->data[off];
                size_t len;
                memcpy(&len, b->data + off + 1, sizeof(len));
                off += 1 + sizeof(len);
                if (k < NS_COUNT && threads[k] > 1) {
                    bool created;
                    map_get(&names[k], b->data + off, len, &created);
                }
                off += len;
            }
        }
        for (int ns = 0; ns < NS_COUNT; ns++) {
            if (threads[ns] > 1)
                total[ns] = names[ns].count;
            map_free(&names[ns]);
        }
    }
    *channels = total[NS_CHAN];
    *patterns = total[NS_PAT];
    *shard_channels = total[NS_SHARD];
}

/* ---------- "expired" events ----------
 * shard/keyspace.c calls ks->on_expired just before it deletes an expired
 * entry, from active expiry and from lazy expiry on lookup (ks_find). */

static void ps_on_expired(void *arg, int db, unsigned slot, struct entry *e)
{
    (void)slot;
    struct worker *w = arg;
    notify_keyspace_event_db(w, db, NOTIFY_EXPIRED, "expired", entry_key(e), e->keylen);
}

void pubsub_worker_init(struct worker *w)
{
    w->ks.on_expired = ps_on_expired;
    w->ks.on_expired_arg = w;
}

/* ---------- the table ---------- */

#define PS (CMD_PUBSUB | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_CONN)

static const struct command pubsub_subcommands[] = {
    {"pubsub|channels", -2, CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_CONN, 0, 0, 0, cmd_pubsub_channels, .group = "pubsub", .summary = "List active channels", .since = "2.8.0", .complexity = "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)", .acl = "pubsub slow"},
    {"pubsub|numpat", 2, CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_CONN, 0, 0, 0, cmd_pubsub_numpat, .group = "pubsub", .summary = "Get the count of unique patterns pattern subscriptions", .since = "2.8.0", .complexity = "O(1)", .acl = "pubsub slow"},
    {"pubsub|numsub", -2, CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_CONN, 0, 0, 0, cmd_pubsub_numsub, .group = "pubsub", .summary = "Get the count of subscribers for channels", .since = "2.8.0", .complexity = "O(N) for the NUMSUB subcommand, where N is the number of requested channels", .acl = "pubsub slow"},
    {"pubsub|shardchannels", -2, CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_CONN, 0, 0, 0, cmd_pubsub_shardchannels, .group = "pubsub", .summary = "List active shard channels", .since = "7.0.0", .complexity = "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).", .acl = "pubsub slow"},
    {"pubsub|shardnumsub", -2, CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_CONN, 0, 0, 0, cmd_pubsub_shardnumsub, .group = "pubsub", .summary = "Get the count of subscribers for shard channels", .since = "7.0.0", .complexity = "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels", .acl = "pubsub slow"},
    {"pubsub|help", 2, CMD_LOADING | CMD_STALE | CMD_CONN, 0, 0, 0, cmd_pubsub_help, .group = "pubsub", .summary = "Show helpful text about the different subcommands", .since = "6.2.0", .complexity = "O(1)", .acl = "slow"},
    {NULL},
};

const struct command pubsub_commands[] = {
    {"subscribe", -2, PS, 0, 0, 0, cmd_subscribe, .group = "pubsub", .summary = "Listen for messages published to the given channels", .since = "2.0.0", .complexity = "O(N) where N is the number of channels to subscribe to.", .acl = "pubsub slow"},
    {"ssubscribe", -2, PS, 0, 0, 0, cmd_ssubscribe, .group = "pubsub", .summary = "Listen for messages published to the given shard channels", .since = "7.0.0", .complexity = "O(N) where N is the number of shard channels to subscribe to.", .acl = "pubsub slow"},
    {"psubscribe", -2, PS, 0, 0, 0, cmd_psubscribe, .group = "pubsub", .summary = "Listen for messages published to channels matching the given patterns", .since = "2.0.0", .complexity = "O(N) where N is the number of patterns the client is already subscribed to.", .acl = "pubsub slow"},
    {"unsubscribe", -1, PS, 0, 0, 0, cmd_unsubscribe, .group = "pubsub", .summary = "Stop listening for messages posted to the given channels", .since = "2.0.0", .complexity = "O(N) where N is the number of clients already subscribed to a channel.", .acl = "pubsub slow"},
    {"sunsubscribe", -1, PS, 0, 0, 0, cmd_sunsubscribe, .group = "pubsub", .summary = "Stop listening for messages posted to the given shard channels", .since = "7.0.0", .complexity = "O(N) where N is the number of clients already subscribed to a shard channel.", .acl = "pubsub slow"},
    {"punsubscribe", -1, PS, 0, 0, 0, cmd_punsubscribe, .group = "pubsub", .summary = "Stop listening for messages posted to channels matching the given patterns", .since = "2.0.0", .complexity = "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).", .acl = "pubsub slow"},
    {"publish", 3, CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_MAY_REPLICATE | CMD_CONN, 0, 0, 0, cmd_publish, .group = "pubsub", .summary = "Post a message to a channel", .since = "2.0.0", .complexity = "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).", .acl = "pubsub fast"},
    {"spublish", 3, CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_MAY_REPLICATE | CMD_CONN, 0, 0, 0, cmd_spublish, .group = "pubsub", .summary = "Post a message to a shard channel", .since = "7.0.0", .complexity = "O(N) where N is the number of clients subscribed to the receiving shard channel.", .acl = "pubsub fast"},
    {"pubsub", -2, 0, 0, 0, 0, cmd_pubsub_container, .subcmds = pubsub_subcommands, .group = "pubsub", .summary = "A container for Pub/Sub commands", .since = "2.8.0", .complexity = "Depends on subcommand.", .acl = "slow"},
    {NULL},
};
