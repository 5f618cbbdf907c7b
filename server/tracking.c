/* server/tracking.c — client-side caching: CLIENT TRACKING / CACHING /
 * GETREDIR / TRACKINGINFO and invalidation messages (Redis 7.0 semantics).
 *
 * Connection side (conn->tracking, the connection's thread only): the
 * tracking flags, the redirection and the BCAST prefixes. Each thread keeps
 * a map id -> connection of its connections that track or are the target
 * of a redirection, to deliver invalidations.
 *
 * Shard side (worker->tracking, the owner thread only):
 *  - the table key -> (client id, client thread) of keys read by tracking
 *    clients in default mode. A readonly command remembers its keys on the
 *    shard that ran it (the read carries the client's thread as a token).
 *    Key names only, as Redis (the table is not per database).
 *  - a replica of every BCAST client's prefixes. CLIENT TRACKING ON BCAST
 *    sends the client's prefixes to every thread and replies only when all
 *    acknowledged, so a write that follows the reply is always matched.
 *  - per destination thread, a batch of invalidation records, sent once per
 *    loop iteration (before_sleep), so an invalidation always follows the
 *    reply of the command that caused it.
 * A modified key's entry is dropped and one record per remembering client
 * goes to that client's thread, which checks the client still tracks (not
 * BCAST, NOLOOP) and writes the push (RESP3) or, through REDIRECT, the
 * __redis__:invalidate message (forwarded to the target's thread; a missing
 * target comes back as tracking-redir-broken).
 *
 * Cleanup: as Redis, entries of clients that disconnected or turned
 * tracking off are dropped lazily (when the key changes, is evicted from the
 * table, or the table is flushed); memory stays bounded because the total
 * number of keys over all shards is kept under tracking-table-max-keys (a
 * shared atomic counter; a shard evicts one of its own keys, invalidating
 * it, only after winning a compare-and-swap on the total). BCAST prefixes
 * are removed from every shard at once when the client turns tracking off
 * or disconnects.
 *
 * Owns: the tracking state. Must not touch keyspace data. */
#include "server/tracking.h"
#include "server/pubsub.h"

#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Atomic int64_t g_trk_keys; /* keys remembered over all shards */

/* ---------- state ---------- */

struct prefix {
    char *s;
    size_t len;
};

struct trk_conn {
    bool on, bcast, optin, optout, noloop, caching, broken, in_multi;
    bool mapped;
    uint64_t redir;
    int redir_thread;
    struct prefix *pfx;
    int npfx;
    struct trk_conn *map_next;
    struct conn *conn;
};

struct item {
    uint64_t id;
    uint16_t thread;
};

struct tkey {
    struct tkey *next;
    uint64_t h;
    uint32_t len, n, cap;
    struct item *items;
    char key[];
};

struct pendkey {
    char *key;
    size_t len;
    uint64_t modifier;
};

struct bprefix {
    struct prefix p;
    struct pendkey *keys;
    int nkeys, cap;
};

struct bclient {
    uint64_t id;
    int thread;
    bool noloop;
    struct bprefix *pfx;
    int npfx;
};

struct trk_worker {
    /* shard: key table */
    struct tkey **b;
    size_t size, count;
    uint64_t items;
    /* shard: BCAST replica */
    struct bclient *bc;
    int nbc;
    bool bc_dirty;
    int bc_pending;
    /* shard: outgoing records per thread */
    struct buf *out;
    /* keyspace hook chained */
    void (*prev_expired)(void *arg, int db, unsigned slot, struct entry *e);
    void *prev_arg;
    /* connections: id -> state */
    struct trk_conn **cmap;
    size_t csize, ccount;
    uint64_t nclients;
    int limit_fails;
};

static struct trk_worker *tw(struct worker *w)
{
    if (!w->tracking) {
        struct trk_worker *t = mi_zalloc(sizeof(*t));
        t->out = mi_zalloc(sizeof(struct buf) * (size_t)g_nworkers);
        for (int i = 0; i < g_nworkers; i++)
            buf_init(&t->out[i]);
        w->tracking = t;
    }
    return w->tracking;
}

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 31);
}

/* ---------- connection map ---------- */

static void cmap_grow(struct trk_worker *t)
{
    size_t ns = t->csize ? t->csize * 2 : 16;
    struct trk_conn **nb = mi_zalloc(sizeof(*nb) * ns);
    for (size_t i = 0; i < t->csize; i++)
        for (struct trk_conn *e = t->cmap[i], *nx; e; e = nx) {
            nx = e->map_next;
            size_t k = e->conn->id & (ns - 1);
            e->map_next = nb[k];
            nb[k] = e;
        }
    mi_free(t->cmap);
    t->cmap = nb;
    t->csize = ns;
}

static struct conn *cmap_find(struct trk_worker *t, uint64_t id)
{
    if (!t->ccount)
        return NULL;
    for (struct trk_conn *e = t->cmap[id & (t->csize - 1)]; e; e = e->map_next)
        if (e->conn->id == id)
            return e->conn->closing ? NULL : e->conn;
    return NULL;
}

static struct trk_conn *tc(struct conn *c)
{
    if (!c->tracking) {
        struct trk_conn *s = mi_zalloc(sizeof(*s));
        s->conn = c;
        c->tracking = s;
        struct trk_worker *t = tw(c->w);
        if (t->ccount + 1 > t->csize)
            cmap_grow(t);
        size_t k = c->id & (t->csize - 1);
        s->map_next = t->cmap[k];
        t->cmap[k] = s;
        t->ccount++;
        s->mapped = true;
    }
    return c->tracking;
}

static void cmap_remove(struct trk_worker *t, struct trk_conn *s)
{
    struct trk_conn **link = &t->cmap[s->conn->id & (t->csize - 1)];
    while (*link && *link != s)
        link = &(*link)->map_next;
    if (*link)
        *link = s->map_next;
    t->ccount--;
}

/* ---------- records between threads ---------- */

enum { REC_KEY = 1, REC_RAW = 2, REC_NULL_ALL = 3 };

struct rec_hdr {
    uint8_t kind;
    uint64_t target, modifier;
    uint32_t len;
};

static void rec_put(struct buf *b, int kind, uint64_t target, uint64_t modifier, const char *p, size_t len)
{
    struct rec_hdr h = {(uint8_t)kind, target, modifier, (uint32_t)len};
    buf_put(b, &h, sizeof(h));
    if (len)
        buf_put(b, p, len);
}

struct batch {
    struct msg m;
    struct buf data;
};

static void batch_arrive(struct worker *w, struct msg *m);

static void send_batches(struct worker *w, struct trk_worker *t)
{
    for (int i = 0; i < g_nworkers; i++) {
        if (!t->out[i].len)
            continue;
        struct batch *bm = mi_zalloc(sizeof(*bm));
        bm->data = t->out[i];
        buf_init(&t->out[i]);
        bm->m.fn = batch_arrive;
        worker_send(w, i, &bm->m);
    }
}

/* ---------- writing to a connection ---------- */

static void put_key_array(struct buf *b, const char *key, size_t len)
{
    char hdr[48];
    int n = snprintf(hdr, sizeof(hdr), "*1\r\n$%zu\r\n", len);
    buf_put(b, hdr, (size_t)n);
    buf_put(b, key, len);
    buf_put(b, "\r\n", 2);
}

/* Write the invalidation payload (a RESP array of keys or a null) to r. */
static void write_invalidation(struct conn *r, bool redirected, const char *raw, size_t len)
{
    int sub = 0, psub = 0, ssub = 0;
    bool subscribed = pubsub_conn_counts(r, &sub, &psub, &ssub);
    if (r->resp < 3 && !(redirected && subscribed))
        return; /* RESP2 without redirection: nowhere to send it */
    struct pending *pend;
    struct reply rep = {conn_begin_reply(r, &pend), r->resp};
    if (r->resp >= 3) {
        reply_push(&rep, 2);
        reply_bulk(&rep, "invalidate", 10);
    } else {
        reply_push(&rep, 3);
        reply_bulk(&rep, "message", 7);
        reply_bulk(&rep, "__redis__:invalidate", 20);
    }
    reply_raw(&rep, raw, len);
    conn_end_reply(r, pend);
}

static void write_broken(struct conn *c, uint64_t redir)
{
    struct trk_conn *s = c->tracking;
    if (!s || !s->on)
        return;
    s->broken = true;
    if (c->resp < 3)
        return;
    struct pending *pend;
    struct reply rep = {conn_begin_reply(c, &pend), c->resp};
    reply_push(&rep, 2);
    reply_bulk(&rep, "tracking-redir-broken", 21);
    reply_int(&rep, (int64_t)redir);
    conn_end_reply(c, pend);
}

static struct conn *find_local_conn(struct worker *w, uint64_t id)
{
    struct conn *c = cmap_find(tw(w), id);
    if (c)
        return c;
    for (c = w->conns; c; c = c->next)
        if (c->id == id && !c->closing)
            return c;
    return NULL;
}

/* forwarding to a redirection target on another thread */
struct fwd {
    struct msg m;
    uint64_t target, source;
    int source_thread;
    size_t len;
    bool broken;
    char raw[];
};

static void fwd_back(struct worker *w, struct msg *m)
{
    struct fwd *f = (struct fwd *)m;
    struct conn *c = cmap_find(tw(w), f->source);
    if (c)
        write_broken(c, f->target);
    mi_free(f);
}

static void fwd_arrive(struct worker *w, struct msg *m)
{
    struct fwd *f = (struct fwd *)m;
    struct conn *r = find_local_conn(w, f->target);
    if (r) {
        write_invalidation(r, true, f->raw, f->len);
        mi_free(f);
        return;
    }
    f->m.fn = fwd_back;
    worker_send(w, f->source_thread, &f->m);
}

/* Deliver an invalidation for tracking client c (Redis's sendTrackingMessage). */
static void deliver(struct worker *w, struct conn *c, const char *raw, size_t len)
{
    struct trk_conn *s = c->tracking;
    if (!s->redir) {
        write_invalidation(c, false, raw, len);
        return;
    }
    if (s->redir_thread == w->id) {
        struct conn *r = find_local_conn(w, s->redir);
        if (r)
            write_invalidation(r, true, raw, len);
        else
            write_broken(c, s->redir);
        return;
    }
    struct fwd *f = mi_malloc(sizeof(*f) + len);
    f->target = s->redir;
    f->source = c->id;
    f->source_thread = w->id;
    f->len = len;
    memcpy(f->raw, raw, len);
    f->m.fn = fwd_arrive;
    worker_send(w, s->redir_thread, &f->m);
}

/* ---------- connection side: records arriving ---------- */

static void deliver_null(struct worker *w, struct conn *c)
{
    const char *raw = c->resp >= 3 ? "_\r\n" : "$-1\r\n";
    deliver(w, c, raw, strlen(raw));
}

static void batch_arrive(struct worker *w, struct msg *m)
{
    struct batch *bm = (struct batch *)m;
    struct trk_worker *t = tw(w);
    struct buf key;
    buf_init(&key);
    for (size_t off = 0; off + sizeof(struct rec_hdr) <= bm->data.len;) {
        struct rec_hdr h;
        memcpy(&h, bm->data.data + off, sizeof(h));
        off += sizeof(h);
        const char *p = bm->data.data + off;
        off += h.len;
        if (h.kind == REC_NULL_ALL) {
            for (size_t i = 0; i < t->csize; i++)
                for (struct trk_conn *e = t->cmap[i]; e; e = e->map_next)
                    if (e->on && !e->conn->closing)
                        deliver_null(w, e->conn);
            continue;
        }
        struct conn *c = cmap_find(t, h.target);
        struct trk_conn *s = c ? c->tracking : NULL;
        if (!s || !s->on)
            continue;
        if (h.kind == REC_KEY) {
            if (s->bcast || (s->noloop && h.modifier == c->id))
                continue;
            key.len = 0;
            put_key_array(&key, p, h.len);
            deliver(w, c, key.data, key.len);
        } else if (s->bcast) {
            deliver(w, c, p, h.len);
        }
    }
    buf_free(&key);
    buf_free(&bm->data);
    mi_free(bm);
}

/* ---------- shard side: the key table ---------- */

static struct tkey *tkey_find(struct trk_worker *t, const char *k, size_t n, uint64_t h, struct tkey ***linkp)
{
    if (!t->count)
        return NULL;
    struct tkey **link = &t->b[h & (t->size - 1)];
    for (; *link; link = &(*link)->next)
        if ((*link)->h == h && (*link)->len == n && memcmp((*link)->key, k, n) == 0) {
            if (linkp)
                *linkp = link;
            return *link;
        }
    return NULL;
}

static void tkey_grow(struct trk_worker *t)
{
    size_t ns = t->size ? t->size * 2 : 64;
    struct tkey **nb = mi_zalloc(sizeof(*nb) * ns);
    for (size_t i = 0; i < t->size; i++)
        for (struct tkey *e = t->b[i], *nx; e; e = nx) {
            nx = e->next;
            e->next = nb[e->h & (ns - 1)];
            nb[e->h & (ns - 1)] = e;
        }
    mi_free(t->b);
    t->b = nb;
    t->size = ns;
}

static void tkey_free(struct trk_worker *t, struct tkey *e)
{
    t->items -= e->n;
    t->count--;
    atomic_fetch_sub(&g_trk_keys, 1);
    mi_free(e->items);
    mi_free(e);
}

void tracking_remember_key(struct worker *w, uint16_t token, uint64_t client_id, const char *key, size_t len)
{
    struct trk_worker *t = tw(w);
    uint64_t h = hash_bytes(key, len);
    struct tkey *e = tkey_find(t, key, len, h, NULL);
    if (!e) {
        if (t->count + 1 > t->size)
            tkey_grow(t);
        e = mi_zalloc(sizeof(*e) + len);
        e->h = h;
        e->len = (uint32_t)len;
        memcpy(e->key, key, len);
        e->next = t->b[h & (t->size - 1)];
        t->b[h & (t->size - 1)] = e;
        t->count++;
        atomic_fetch_add(&g_trk_keys, 1);
    }
    for (uint32_t i = 0; i < e->n; i++)
        if (e->items[i].id == client_id)
            return;
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 2;
        e->items = mi_realloc(e->items, sizeof(*e->items) * e->cap);
    }
    e->items[e->n++] = (struct item){client_id, (uint16_t)(token - 1)};
    t->items++;
}

static bool is_script_ro(const struct command *cmd)
{
    return !strcmp(cmd->name, "eval_ro") || !strcmp(cmd->name, "evalsha_ro") || !strcmp(cmd->name, "fcall_ro");
}

void tracking_remember_keys(struct cmd_ctx *c, const int *keyidx, int nkeys)
{
    if (!c->track || !(c->cmd->flags & CMD_READONLY) || (c->cmd->flags & CMD_PUBSUB) || is_script_ro(c->cmd))
        return;
    for (int i = 0; i < nkeys; i++)
        tracking_remember_key(c->w, c->track, c->client_id, c->argv[keyidx[i]].p, c->argv[keyidx[i]].len);
}

/* Drop the key's entry and tell each client that read it. */
static void invalidate_entry(struct trk_worker *t, struct tkey **link, uint64_t modifier)
{
    struct tkey *e = *link;
    *link = e->next;
    for (uint32_t i = 0; i < e->n; i++)
        rec_put(&t->out[e->items[i].thread], REC_KEY, e->items[i].id, modifier, e->key, e->len);
    tkey_free(t, e);
}

static bool prefix_matches(const struct prefix *p, const char *key, size_t len)
{
    return p->len <= len && memcmp(p->s, key, p->len) == 0;
}

static void bcast_note(struct trk_worker *t, uint64_t modifier, const char *key, size_t len)
{
    for (int i = 0; i < t->nbc; i++)
        for (int j = 0; j < t->bc[i].npfx; j++) {
            struct bprefix *bp = &t->bc[i].pfx[j];
            if (!prefix_matches(&bp->p, key, len))
                continue;
            if (bp->nkeys == bp->cap) {
                bp->cap = bp->cap ? bp->cap * 2 : 8;
                bp->keys = mi_realloc(bp->keys, sizeof(*bp->keys) * (size_t)bp->cap);
            }
            char *k = mi_malloc(len ? len : 1);
            memcpy(k, key, len);
            bp->keys[bp->nkeys++] = (struct pendkey){k, len, modifier};
            t->bc_dirty = true;
            t->bc_pending++;
        }
}

void tracking_key_modified(struct worker *w, uint64_t client_id, const char *key, size_t len)
{
    struct trk_worker *t = w->tracking;
    if (!t)
        return;
    if (t->nbc)
        bcast_note(t, client_id, key, len);
    struct tkey **link;
    if (tkey_find(t, key, len, hash_bytes(key, len), &link))
        invalidate_entry(t, link, client_id);
}

void tracking_flush(struct worker *w)
{
    struct trk_worker *t = tw(w);
    for (size_t i = 0; i < t->size; i++) {
        struct tkey *e = t->b[i];
        t->b[i] = NULL;
        while (e) {
            struct tkey *nx = e->next;
            tkey_free(t, e);
            e = nx;
        }
    }
    /* after the reply of the command being run: through this thread's own batch */
    rec_put(&t->out[w->id], REC_NULL_ALL, 0, 0, NULL, 0);
}

/* ---------- shard side: BCAST ---------- */

static int pendkey_cmp(const void *a, const void *b)
{
    const struct pendkey *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->key, y->key, n);
    if (r)
        return r;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* One array of the prefix's keys (sorted, each once; with NOLOOP without the
 * keys this client changed last) to the client's thread. */
static void bcast_flush_prefix(struct trk_worker *t, struct bclient *bc, struct bprefix *bp)
{
    /* sort stably by key, keep the last modifier of each key */
    struct { struct pendkey k; int idx; } *v = mi_malloc(sizeof(*v) * (size_t)bp->nkeys);
    for (int i = 0; i < bp->nkeys; i++) {
        v[i].k = bp->keys[i];
        v[i].idx = i;
    }
    qsort(v, (size_t)bp->nkeys, sizeof(*v), pendkey_cmp); /* pendkey first: compares keys */
    struct buf arr;
    buf_init(&arr);
    int count = 0;
    for (int i = 0; i < bp->nkeys; i++) {
        /* last of a run of equal keys: the one with the largest idx */
        int j = i, last = i;
        while (j + 1 < bp->nkeys && !pendkey_cmp(&v[j + 1], &v[i])) {
            j++;
            if (v[j].idx > v[last].idx)
                last = j;
        }
        if (!(bc->noloop && v[last].k.modifier == bc->id)) {
            char hdr[32];
            int n = snprintf(hdr, sizeof(hdr), "$%zu\r\n", v[i].k.len);
            buf_put(&arr, hdr, (size_t)n);
            buf_put(&arr, v[i].k.key, v[i].k.len);
            buf_put(&arr, "\r\n", 2);
            count++;
        }
        i = j;
    }
    if (count) {
        char hdr[32];
        int n = snprintf(hdr, sizeof(hdr), "*%d\r\n", count);
        struct buf *o = &t->out[bc->thread];
        struct rec_hdr h = {REC_RAW, bc->id, 0, (uint32_t)((size_t)n + arr.len)};
        buf_put(o, &h, sizeof(h));
        buf_put(o, hdr, (size_t)n);
        buf_put(o, arr.data, arr.len);
    }
    buf_free(&arr);
    mi_free(v);
    for (int i = 0; i < bp->nkeys; i++)
        mi_free(bp->keys[i].key);
    bp->nkeys = 0;
}

static void bcast_flush(struct trk_worker *t)
{
    if (!t->bc_dirty)
        return;
    t->bc_dirty = false;
    t->bc_pending = 0;
    for (int i = 0; i < t->nbc; i++)
        for (int j = 0; j < t->bc[i].npfx; j++)
            if (t->bc[i].pfx[j].nkeys)
                bcast_flush_prefix(t, &t->bc[i], &t->bc[i].pfx[j]);
}

static void bclient_free(struct bclient *bc)
{
    for (int j = 0; j < bc->npfx; j++) {
        for (int k = 0; k < bc->pfx[j].nkeys; k++)
            mi_free(bc->pfx[j].keys[k].key);
        mi_free(bc->pfx[j].keys);
        mi_free(bc->pfx[j].p.s);
    }
    mi_free(bc->pfx);
}

static void bcast_remove(struct trk_worker *t, uint64_t id)
{
    for (int i = 0; i < t->nbc; i++)
        if (t->bc[i].id == id) {
            bclient_free(&t->bc[i]);
            t->bc[i] = t->bc[--t->nbc];
            return;
        }
}

/* blob: (size_t len, bytes)... */
static void bcast_set(struct trk_worker *t, uint64_t id, int thread, bool noloop, const struct buf *blob)
{
    bcast_remove(t, id);
    t->bc = mi_realloc(t->bc, sizeof(*t->bc) * (size_t)(t->nbc + 1));
    struct bclient *bc = &t->bc[t->nbc++];
    memset(bc, 0, sizeof(*bc));
    bc->id = id;
    bc->thread = thread;
    bc->noloop = noloop;
    for (size_t off = 0; off + sizeof(size_t) <= blob->len;) {
        size_t n;
        memcpy(&n, blob->data + off, sizeof(n));
        off += sizeof(n);
        bc->pfx = mi_realloc(bc->pfx, sizeof(*bc->pfx) * (size_t)(bc->npfx + 1));
        struct bprefix *bp = &bc->pfx[bc->npfx++];
        memset(bp, 0, sizeof(*bp));
        bp->p.s = mi_malloc(n ? n : 1);
        memcpy(bp->p.s, blob->data + off, n);
        bp->p.len = n;
        off += n;
    }
}

/* ---------- shard side: the limit ---------- */

static long long max_keys(struct worker *w)
{
    static _Thread_local int idx = -1;
    if (idx < 0 || idx >= w->cfg.nextra || strcmp(w->cfg.extra[idx].name, "tracking-table-max-keys")) {
        idx = -1;
        for (int i = 0; i < w->cfg.nextra; i++)
            if (!strcmp(w->cfg.extra[i].name, "tracking-table-max-keys"))
                idx = i;
        if (idx < 0)
            return 1000000;
    }
    return atoll(w->cfg.extra[idx].value);
}

/* Evict keys of this shard (invalidating them) while the total is over the
 * limit; each eviction first wins a compare-and-swap on the total, so the
 * shards together evict exactly the excess. */
static void enforce_limit(struct worker *w, struct trk_worker *t)
{
    long long max = max_keys(w);
    if (max <= 0 || !t->count)
        return;
    int budget = 1000;
    while (t->count && budget-- > 0) {
        int64_t total = atomic_load(&g_trk_keys);
        if (total <= max)
            return;
        size_t start = (size_t)(w->rnd = w->rnd * 6364136223846793005ull + 1442695040888963407ull) >> 7;
        struct tkey **link = NULL;
        for (size_t i = 0; i < t->size && !link; i++) {
            size_t k = (start + i) & (t->size - 1);
            if (t->b[k])
                link = &t->b[k];
        }
        if (!link)
            return;
        /* claim one of the excess: the entry's own decrement is undone */
        if (!atomic_compare_exchange_strong(&g_trk_keys, &total, total - 1))
            continue;
        atomic_fetch_add(&g_trk_keys, 1);
        invalidate_entry(t, link, 0);
    }
}

void tracking_before_sleep(struct worker *w)
{
    struct trk_worker *t = w->tracking;
    if (!t)
        return;
    if (t->count)
        enforce_limit(w, t);
    /* a multi-shard operation holding this shard (EXEC, a script) runs over
     * several loop iterations: its BCAST keys go out together once it ends,
     * as Redis sends them once per event loop */
    if (!w->txq.len || t->bc_pending > 10000)
        bcast_flush(t);
    send_batches(w, t);
}

/* ---------- expiry ---------- */

static void trk_on_expired(void *arg, int db, unsigned slot, struct entry *e)
{
    struct worker *w = arg;
    struct trk_worker *t = w->tracking;
    tracking_key_modified(w, 0, entry_key(e), e->keylen);
    if (t->prev_expired)
        t->prev_expired(t->prev_arg, db, slot, e);
}

void tracking_worker_init(struct worker *w)
{
    struct trk_worker *t = tw(w);
    t->prev_expired = w->ks.on_expired;
    t->prev_arg = w->ks.on_expired_arg;
    w->ks.on_expired = trk_on_expired;
    w->ks.on_expired_arg = w;
}

/* ---------- INFO ---------- */

void tracking_info_collect(struct worker *w, struct tracking_info *out)
{
    memset(out, 0, sizeof(*out));
    struct trk_worker *t = w->tracking;
    if (!t)
        return;
    out->clients = t->nclients;
    out->keys = t->count;
    out->items = t->items;
    /* distinct prefixes over the BCAST clients (every shard holds them all) */
    for (int i = 0; i < t->nbc; i++)
        for (int j = 0; j < t->bc[i].npfx; j++) {
            const struct prefix *p = &t->bc[i].pfx[j].p;
            bool seen = false;
            for (int a = 0; a <= i && !seen; a++)
                for (int b = 0; b < (a == i ? j : t->bc[a].npfx) && !seen; b++) {
                    const struct prefix *q = &t->bc[a].pfx[b].p;
                    seen = q->len == p->len && !memcmp(q->s, p->s, p->len);
                }
            if (!seen)
                out->prefixes++;
        }
}

/* ---------- connection side: hooks ---------- */

uint16_t tracking_token(struct conn *c)
{
    struct trk_conn *s = c->tracking;
    if (!s || !s->on || s->bcast || (s->optin && !s->caching) || (s->optout && s->caching))
        return 0;
    return (uint16_t)(c->w->id + 1);
}

void tracking_after_dispatch(struct conn *c, const struct arg *argv0)
{
    struct trk_conn *s = c->tracking;
    if (!s)
        return;
    if (arg_eq(argv0, "multi"))
        s->in_multi = true;
    else if (arg_eq(argv0, "exec") || arg_eq(argv0, "discard"))
        s->in_multi = false;
    if (!s->in_multi && !arg_eq(argv0, "client"))
        s->caching = false;
}

int64_t tracking_conn_flags(const struct conn *c, char **fp)
{
    const struct trk_conn *s = c->tracking;
    if (!s || !s->on)
        return -1;
    *(*fp)++ = 't';
    if (s->broken)
        *(*fp)++ = 'R';
    if (s->bcast)
        *(*fp)++ = 'B';
    return (int64_t)s->redir;
}

/* ---------- rounds: one message to every thread, the reply when all answered ---------- */

enum { OP_LOOKUP, OP_BCAST_SET, OP_BCAST_DEL };

struct round;

struct rmsg {
    struct msg m;
    struct round *rd;
    int op;
    int origin;
    uint64_t id;
    bool noloop;
    bool found;
    int thread;
    struct buf blob;
};

struct round {
    struct conn *c;
    struct pending *pend;
    int waiting;
    int found_thread; /* -1: not found */
    uint64_t lookup_id;
    bool lookup_done;
    int argc;
    struct arg *argv;
    char *argmem;
};

static void round_continue(struct worker *w, struct round *rd);

static void rmsg_back(struct worker *w, struct msg *m)
{
    struct rmsg *rm = (struct rmsg *)m;
    struct round *rd = rm->rd;
    if (rm->found)
        rd->found_thread = rm->thread;
    buf_free(&rm->blob);
    mi_free(rm);
    if (--rd->waiting == 0)
        round_continue(w, rd);
}

static void rmsg_arrive(struct worker *w, struct msg *m)
{
    struct rmsg *rm = (struct rmsg *)m;
    struct trk_worker *t = tw(w);
    if (rm->op == OP_LOOKUP) {
        rm->found = find_local_conn(w, rm->id) != NULL;
        rm->thread = w->id;
    } else if (rm->op == OP_BCAST_SET) {
        bcast_set(t, rm->id, rm->origin, rm->noloop, &rm->blob);
    } else {
        bcast_remove(t, rm->id);
    }
    if (!rm->rd) {
        buf_free(&rm->blob);
        mi_free(rm);
        return;
    }
    rm->m.fn = rmsg_back;
    worker_send(w, rm->origin, &rm->m);
}

/* Send op to every thread (but `skip`); returns how many were sent. */
static int broadcast(struct worker *w, struct round *rd, int op, struct conn *c, int skip)
{
    struct trk_conn *s = c->tracking;
    int n = 0;
    for (int i = 0; i < g_nworkers; i++) {
        if (i == skip)
            continue;
        struct rmsg *rm = mi_zalloc(sizeof(*rm));
        rm->rd = rd;
        rm->op = op;
        rm->origin = w->id;
        rm->id = op == OP_LOOKUP ? rd->lookup_id : c->id;
        buf_init(&rm->blob);
        if (op == OP_BCAST_SET) {
            rm->noloop = s->noloop;
            for (int j = 0; j < s->npfx; j++) {
                buf_put(&rm->blob, &s->pfx[j].len, sizeof(size_t));
                buf_put(&rm->blob, s->pfx[j].s, s->pfx[j].len);
            }
        }
        rm->m.fn = rmsg_arrive;
        worker_send(w, i, &rm->m);
        n++;
    }
    return n;
}

/* ---------- CLIENT TRACKING ---------- */

enum { AP_DONE, AP_LOOKUP, AP_BCAST_SET, AP_BCAST_DEL };

static bool has_prefix(const struct trk_conn *s, const struct arg *a)
{
    for (int i = 0; i < s->npfx; i++)
        if (s->pfx[i].len == a->len && !memcmp(s->pfx[i].s, a->p, a->len))
            return true;
    return false;
}

static void add_prefix(struct trk_conn *s, const char *p, size_t n)
{
    /* kept in byte order, as Redis's radix tree lists them */
    s->pfx = mi_realloc(s->pfx, sizeof(*s->pfx) * (size_t)(s->npfx + 1));
    int at = 0;
    while (at < s->npfx) {
        size_t m = s->pfx[at].len < n ? s->pfx[at].len : n;
        int c = memcmp(s->pfx[at].s, p, m);
        if (c > 0 || (c == 0 && s->pfx[at].len > n))
            break;
        at++;
    }
    memmove(&s->pfx[at + 1], &s->pfx[at], sizeof(*s->pfx) * (size_t)(s->npfx - at));
    s->pfx[at].s = mi_malloc(n ? n : 1);
    memcpy(s->pfx[at].s, p, n);
    s->pfx[at].len = n;
    s->npfx++;
}

static void free_prefixes(struct trk_conn *s)
{
    for (int i = 0; i < s->npfx; i++)
        mi_free(s->pfx[i].s);
    mi_free(s->pfx);
    s->pfx = NULL;
    s->npfx = 0;
}

static bool overlap(const char *a, size_t alen, const char *b, size_t blen)
{
    return memcmp(a, b, alen < blen ? alen : blen) == 0;
}

/* Redis's checkPrefixCollisionsOrReply. */
static bool prefixes_ok(struct trk_conn *s, const struct arg *argv, const int *pidx, int np, struct reply *r)
{
    for (int i = 0; i < np; i++) {
        const struct arg *a = &argv[pidx[i]];
        for (int k = 0; s && s->bcast && k < s->npfx; k++)
            if (overlap(s->pfx[k].s, s->pfx[k].len, a->p, a->len)) {
                reply_errorf(r, "ERR Prefix '%.*s' overlaps with an existing prefix '%.*s'. "
                                "Prefixes for a single client must not overlap.",
                             (int)a->len, a->p, (int)s->pfx[k].len, s->pfx[k].s);
                return false;
            }
        for (int j = i + 1; j < np; j++) {
            const struct arg *b = &argv[pidx[j]];
            if (overlap(a->p, a->len, b->p, b->len)) {
                reply_errorf(r, "ERR Prefix '%.*s' overlaps with another provided prefix '%.*s'. "
                                "Prefixes for a single client must not overlap.",
                             (int)a->len, a->p, (int)b->len, b->p);
                return false;
            }
        }
    }
    return true;
}

static int disable_tracking(struct conn *c)
{
    struct trk_conn *s = c->tracking;
    if (!s || !s->on)
        return AP_DONE;
    bool was_bcast = s->bcast;
    free_prefixes(s);
    tw(c->w)->nclients--;
    s->on = s->broken = s->bcast = s->optin = s->optout = s->caching = s->noloop = false;
    return was_bcast ? AP_BCAST_DEL : AP_DONE;
}

/* lookup: -2 not asked yet, -1 not found, else the target's thread */
static int tracking_apply(struct conn *c, int argc, const struct arg *argv, struct reply *r, int lookup,
                          uint64_t *lookup_id)
{
    struct worker *w = c->w;
    long long redir = 0;
    int redir_thread = -1;
    bool bcast = false, optin = false, optout = false, noloop = false;
    int *pidx = mi_malloc(sizeof(int) * (size_t)argc);
    int np = 0, res = AP_DONE;
    for (int j = 3; j < argc; j++) {
        int more = argc - 1 - j;
        if (arg_eq(&argv[j], "redirect") && more) {
            j++;
            if (redir != 0) {
                reply_error(r, "ERR A client can only redirect to a single other client");
                goto out;
            }
            if (!arg_to_ll(&argv[j], &redir)) {
                reply_error(r, ERR_NOT_INT);
                goto out;
            }
            if (find_local_conn(w, (uint64_t)redir)) {
                redir_thread = w->id;
            } else if (lookup == -2 && redir > 0 && g_nworkers > 1) {
                *lookup_id = (uint64_t)redir;
                res = AP_LOOKUP;
                goto out;
            } else if (lookup < 0) {
                reply_error(r, "ERR The client ID you want redirect to does not exist");
                goto out;
            } else {
                redir_thread = lookup;
            }
        } else if (arg_eq(&argv[j], "bcast")) {
            bcast = true;
        } else if (arg_eq(&argv[j], "optin")) {
            optin = true;
        } else if (arg_eq(&argv[j], "optout")) {
            optout = true;
        } else if (arg_eq(&argv[j], "noloop")) {
            noloop = true;
        } else if (arg_eq(&argv[j], "prefix") && more) {
            pidx[np++] = ++j;
        } else {
            reply_error(r, ERR_SYNTAX);
            goto out;
        }
    }
    struct trk_conn *s = c->tracking;
    if (arg_eq(&argv[2], "off")) {
        res = disable_tracking(c);
        if (res == AP_DONE)
            reply_ok(r);
        goto out;
    }
    if (!arg_eq(&argv[2], "on")) {
        reply_error(r, ERR_SYNTAX);
        goto out;
    }
    if (!bcast && np) {
        reply_error(r, "ERR PREFIX option requires BCAST mode to be enabled");
        goto out;
    }
    if (s && s->on && s->bcast != bcast) {
        reply_error(r, "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and "
                       "then re-enabling it with a different mode.");
        goto out;
    }
    if (bcast && (optin || optout)) {
        reply_error(r, "ERR OPTIN and OPTOUT are not compatible with BCAST");
        goto out;
    }
    if (optin && optout) {
        reply_error(r, "ERR You can't specify both OPTIN mode and OPTOUT mode");
        goto out;
    }
    if (s && s->on && ((optin && s->optout) || (optout && s->optin))) {
        reply_error(r, "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and "
                       "then re-enabling it with a different mode.");
        goto out;
    }
    if (bcast && !prefixes_ok(s, argv, pidx, np, r))
        goto out;
    /* Redis's enableTracking */
    s = tc(c);
    if (!s->on)
        tw(w)->nclients++;
    s->on = true;
    s->broken = s->optin = s->optout = s->noloop = false;
    s->bcast = bcast;
    s->redir = (uint64_t)redir;
    s->redir_thread = redir_thread;
    if (bcast) {
        if (!np) {
            struct arg empty = {"", 0};
            if (!has_prefix(s, &empty))
                add_prefix(s, "", 0);
        }
        for (int i = 0; i < np; i++)
            if (!has_prefix(s, &argv[pidx[i]]))
                add_prefix(s, argv[pidx[i]].p, argv[pidx[i]].len);
    }
    s->optin = optin;
    s->optout = optout;
    s->noloop = noloop;
    if (bcast)
        res = AP_BCAST_SET;
    else
        reply_ok(r);
out:
    mi_free(pidx);
    return res;
}

static void round_finish(struct worker *w, struct round *rd)
{
    (void)w;
    struct conn *c = rd->c;
    if (!c->closing)
        conn_pending_done(c, rd->pend);
    mi_free(rd->argmem);
    mi_free(rd);
    conn_release(c);
    if (!c->closing)
        conn_resume(c);
}

/* The lookup answered, or the BCAST registration is everywhere. */
static void round_continue(struct worker *w, struct round *rd)
{
    struct conn *c = rd->c;
    struct reply r = {&rd->pend->out, c->resp};
    if (c->closing) {
        round_finish(w, rd);
        return;
    }
    if (!rd->lookup_done && rd->lookup_id) {
        rd->lookup_done = true;
        uint64_t id;
        int res = tracking_apply(c, rd->argc, rd->argv, &r, rd->found_thread, &id);
        if (res == AP_BCAST_SET || res == AP_BCAST_DEL) {
            rd->waiting = broadcast(w, rd, res == AP_BCAST_SET ? OP_BCAST_SET : OP_BCAST_DEL, c, -1);
            return;
        }
        round_finish(w, rd);
        return;
    }
    reply_ok(&r);
    round_finish(w, rd);
}

static struct round *round_new(struct cmd_ctx *ctx)
{
    struct conn *c = ctx->conn;
    struct round *rd = mi_zalloc(sizeof(*rd));
    rd->c = c;
    rd->found_thread = -1;
    rd->pend = conn_defer_reply(c);
    c->inflight++;
    c->paused = true;
    size_t bytes = sizeof(struct arg) * (size_t)ctx->argc;
    for (int i = 0; i < ctx->argc; i++)
        bytes += ctx->argv[i].len + 1;
    rd->argmem = mi_malloc(bytes);
    rd->argv = (struct arg *)rd->argmem;
    char *p = (char *)(rd->argv + ctx->argc);
    for (int i = 0; i < ctx->argc; i++) {
        memcpy(p, ctx->argv[i].p, ctx->argv[i].len);
        p[ctx->argv[i].len] = 0;
        rd->argv[i].p = p;
        rd->argv[i].len = ctx->argv[i].len;
        p += ctx->argv[i].len + 1;
    }
    rd->argc = ctx->argc;
    return rd;
}

void cmd_client_tracking(struct cmd_ctx *ctx)
{
    struct conn *c = ctx->conn;
    uint64_t id = 0;
    int res = tracking_apply(c, ctx->argc, ctx->argv, &ctx->r, -2, &id);
    if (res == AP_DONE)
        return;
    struct round *rd = round_new(ctx);
    if (res == AP_LOOKUP) {
        rd->lookup_id = id;
        rd->waiting = broadcast(c->w, rd, OP_LOOKUP, c, c->w->id);
        return;
    }
    rd->lookup_done = true;
    rd->waiting = broadcast(c->w, rd, res == AP_BCAST_SET ? OP_BCAST_SET : OP_BCAST_DEL, c, -1);
}

void tracking_conn_reset(struct conn *c)
{
    if (disable_tracking(c) == AP_BCAST_DEL)
        broadcast(c->w, NULL, OP_BCAST_DEL, c, -1);
}

void tracking_conn_closed(struct conn *c)
{
    struct trk_conn *s = c->tracking;
    if (!s)
        return;
    tracking_conn_reset(c);
    cmap_remove(tw(c->w), s);
    c->tracking = NULL;
    mi_free(s);
}

/* ---------- CLIENT CACHING / GETREDIR / TRACKINGINFO ---------- */

void cmd_client_caching(struct cmd_ctx *ctx)
{
    struct trk_conn *s = ctx->conn->tracking;
    if (!s || !s->on) {
        reply_error(&ctx->r, "ERR CLIENT CACHING can be called only when the client is in tracking mode with "
                             "OPTIN or OPTOUT mode enabled");
        return;
    }
    if (arg_eq(&ctx->argv[2], "yes")) {
        if (!s->optin) {
            reply_error(&ctx->r, "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
            return;
        }
    } else if (arg_eq(&ctx->argv[2], "no")) {
        if (!s->optout) {
            reply_error(&ctx->r, "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
            return;
        }
    } else {
        reply_error(&ctx->r, ERR_SYNTAX);
        return;
    }
    s->caching = true;
    reply_ok(&ctx->r);
}

void cmd_client_getredir(struct cmd_ctx *ctx)
{
    struct trk_conn *s = ctx->conn->tracking;
    reply_int(&ctx->r, s && s->on ? (int64_t)s->redir : -1);
}

void cmd_client_trackinginfo(struct cmd_ctx *ctx)
{
    struct trk_conn *s = ctx->conn->tracking;
    bool on = s && s->on;
    const char *flags[8];
    int n = 0;
    flags[n++] = on ? "on" : "off";
    if (on) {
        if (s->bcast)
            flags[n++] = "bcast";
        if (s->optin) {
            flags[n++] = "optin";
            if (s->caching)
                flags[n++] = "caching-yes";
        }
        if (s->optout) {
            flags[n++] = "optout";
            if (s->caching)
                flags[n++] = "caching-no";
        }
        if (s->noloop)
            flags[n++] = "noloop";
        if (s->broken)
            flags[n++] = "broken_redirect";
    }
    reply_map(&ctx->r, 3);
    reply_bulkz(&ctx->r, "flags");
    reply_set(&ctx->r, n);
    for (int i = 0; i < n; i++)
        reply_bulkz(&ctx->r, flags[i]);
    reply_bulkz(&ctx->r, "redirect");
    reply_int(&ctx->r, on ? (int64_t)s->redir : -1);
    reply_bulkz(&ctx->r, "prefixes");
    reply_array(&ctx->r, on ? s->npfx : 0);
    for (int i = 0; on && i < s->npfx; i++)
        reply_bulk(&ctx->r, s->pfx[i].s, s->pfx[i].len);
}

/* ---------- scripts: remembering keys owned by other threads ---------- */

struct remember_msg {
    struct msg m;
    uint16_t token;
    uint64_t client_id;
    size_t len;
    char key[];
};

static void remember_arrive(struct worker *w, struct msg *m)
{
    struct remember_msg *rm = (struct remember_msg *)m;
    tracking_remember_key(w, rm->token, rm->client_id, rm->key, rm->len);
    mi_free(rm);
}

void tracking_remember_remote(struct worker *w, uint16_t token, uint64_t client_id, const struct arg *keys, int n)
{
    for (int i = 0; i < n; i++) {
        int owner = g_slot_owner[arg_slot(&keys[i])];
        if (owner == w->id) {
            tracking_remember_key(w, token, client_id, keys[i].p, keys[i].len);
            continue;
        }
        struct remember_msg *rm = mi_malloc(sizeof(*rm) + keys[i].len);
        rm->token = token;
        rm->client_id = client_id;
        rm->len = keys[i].len;
        memcpy(rm->key, keys[i].p, keys[i].len);
        rm->m.fn = remember_arrive;
        worker_send(w, owner, &rm->m);
    }
}
