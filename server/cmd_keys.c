/* server/cmd_keys.c — the generic keyspace family: DEL UNLINK EXISTS TOUCH
 * TYPE, the expire family (EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL
 * EXPIRETIME PEXPIRETIME PERSIST), RENAME RENAMENX COPY MOVE, KEYS SCAN
 * RANDOMKEY and OBJECT. Replies and errors as Redis 7.0's db.c, expire.c and
 * object.c. Multi-key ones run as mso hops (transaction.c) and are atomic
 * across threads; a value crossing threads travels as bytes (entry_dump /
 * entry_load), never as a pointer into another thread's heap.
 * Owns: generic key command semantics; storage is shard/. */
#include "server/server.h"
#include "server/blocking.h" /* blocking: hooks */
#include "shard/types.h"
#include "server/pubsub.h" /* pubsub: keyspace events */
#include "server/glob.h"
#include "server/multi.h" /* multi: hooks */
#include "server/tracking.h" /* tracking: hooks */

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SLOT_MASK 0x3fffu
#define SLOT_BITS 14
#define NSLOTS 16384u

/* This thread's random numbers (xorshift64*). */
static uint64_t rnd64(void)
{
    static _Thread_local uint64_t s;
    if (!s)
        s = ((uint64_t)ustime() ^ (uint64_t)(uintptr_t)&s) | 1;
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dull;
}

/* ---------- lookups, with Redis's side effects ---------- */

/* lookupKeyRead: counts hits and misses; `touch` refreshes the access time. */
static struct entry *find_read(struct cmd_ctx *c, const struct arg *key, struct ks_ref *ref, bool touch)
{
    struct entry *e = db_find(c, key, ref);
    if (e) {
        c->ks->stats.keyspace_hits++;
        if (touch)
            db_touch(c, e);
    } else {
        c->ks->stats.keyspace_misses++;
    }
    return e;
}

/* lookupKeyWrite: no stats, refreshes the access time. */
static struct entry *find_write(struct cmd_ctx *c, const struct arg *key, struct ks_ref *ref)
{
    struct entry *e = db_find(c, key, ref);
    if (e)
        db_touch(c, e);
    return e;
}

static struct entry *find_in_db(struct cmd_ctx *c, int db, const struct arg *key, struct ks_ref *ref)
{
    return ks_find(c->ks, db, arg_slot(key), key->p, key->len, c->now_ms, ref);
}

static bool args_same(const struct arg *a, const struct arg *b)
{
    return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

/* getIntFromObjectOrReply's checks, as an error text (NULL when fine). */
static const char *arg_int(const struct arg *a, int *out)
{
    long long v;
    if (!arg_to_ll(a, &v))
        return ERR_NOT_INT;
    if (v < INT_MIN || v > INT_MAX)
        return "ERR value is out of range, value must between -2147483648 and 2147483647";
    *out = (int)v;
    return NULL;
}

static const char *type_name(const struct entry *e)
{
    if (!e)
        return "none";
    if (e->type == OBJ_STRING)
        return "string";
    const struct type_ops *ops = type_ops_of(e->type);
    return ops ? ops->name : "unknown";
}

static const char *encoding_name(int enc) { return type_encoding_name(enc); }

static bool policy_is_lfu(int policy)
{
    return policy == MAXMEMORY_VOLATILE_LFU || policy == MAXMEMORY_ALLKEYS_LFU;
}

static bool policy_is_lru(int policy)
{
    return policy == MAXMEMORY_VOLATILE_LRU || policy == MAXMEMORY_ALLKEYS_LRU;
}

/* ---------- DEL UNLINK EXISTS TOUCH ---------- */

static void del_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)hop;
    int64_t n = 0;
    for (int i = 0; i < c->nkeys; i++) {
        struct ks_ref ref;
        const struct arg *key = &c->argv[c->keyidx[i]];
        if (db_find(c, key, &ref)) {
            ks_delete(c->ks, c->db, &ref);
            db_signal_modified(c, key);
            notify_keyspace_event(c, NOTIFY_GENERIC, "del", key); /* pubsub: keyspace event */
            n++;
        }
    }
    t->parts[part].count = n;
}

static void exists_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)hop;
    int64_t n = 0;
    for (int i = 0; i < c->nkeys; i++)
        if (find_read(c, &c->argv[c->keyidx[i]], NULL, false))
            n++;
    t->parts[part].count = n;
}

static void touch_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)hop;
    int64_t n = 0;
    for (int i = 0; i < c->nkeys; i++)
        if (find_read(c, &c->argv[c->keyidx[i]], NULL, true))
            n++;
    t->parts[part].count = n;
}

static const struct mso_ops del_ops = {.hop = del_hop, .next = mso_one_hop, .reply = mso_reply_sum};
static const struct mso_ops exists_ops = {.hop = exists_hop, .next = mso_one_hop, .reply = mso_reply_sum};
static const struct mso_ops touch_ops = {.hop = touch_hop, .next = mso_one_hop, .reply = mso_reply_sum};

/* ---------- TYPE ---------- */

static void cmd_type(struct cmd_ctx *c)
{
    reply_status(&c->r, type_name(find_read(c, &c->argv[1], NULL, false)));
}

/* ---------- EXPIRE PEXPIRE EXPIREAT PEXPIREAT ---------- */

enum { EXP_NX = 1, EXP_XX = 2, EXP_GT = 4, EXP_LT = 8 };

static bool parse_expire_flags(struct cmd_ctx *c, int *flags)
{
    for (int j = 3; j < c->argc; j++) {
        const struct arg *o = &c->argv[j];
        if (arg_eq(o, "nx"))
            *flags |= EXP_NX;
        else if (arg_eq(o, "xx"))
            *flags |= EXP_XX;
        else if (arg_eq(o, "gt"))
            *flags |= EXP_GT;
        else if (arg_eq(o, "lt"))
            *flags |= EXP_LT;
        else {
            /* %s stops at a NUL byte, as Redis's formatting does */
            reply_errorf(&c->r, "ERR Unsupported option %.*s", (int)strnlen(o->p, o->len), o->p);
            return false;
        }
    }
    if ((*flags & EXP_NX) && (*flags & (EXP_XX | EXP_GT | EXP_LT))) {
        reply_error(&c->r, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return false;
    }
    if ((*flags & EXP_GT) && (*flags & EXP_LT)) {
        reply_error(&c->r, "ERR GT and LT options at the same time are not compatible");
        return false;
    }
    return true;
}

static void expire_generic(struct cmd_ctx *c, bool relative, bool seconds)
{
    int flags = 0;
    long long when;
    if (!parse_expire_flags(c, &flags))
        return;
    if (!arg_get_ll(c, &c->argv[2], &when))
        return;
    long long basetime = relative ? c->now_ms : 0;
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) {
            reply_errorf(&c->r, ERR_EXPIRE, c->cmd->name);
            return;
        }
        when *= 1000;
    }
    if (when > LLONG_MAX - basetime) {
        reply_errorf(&c->r, ERR_EXPIRE, c->cmd->name);
        return;
    }
    when += basetime;

    struct ks_ref ref;
    struct entry *e = find_write(c, &c->argv[1], &ref);
    if (!e) {
        reply_int(&c->r, 0);
        return;
    }
    if (flags) {
        int64_t cur = entry_expire(e);
        if (((flags & EXP_NX) && cur != -1) || ((flags & EXP_XX) && cur == -1) ||
            ((flags & EXP_GT) && (when <= cur || cur == -1)) || ((flags & EXP_LT) && cur != -1 && when >= cur)) {
            reply_int(&c->r, 0);
            return;
        }
    }
    if (when <= c->now_ms)
        ks_delete(c->ks, c->db, &ref); /* a time in the past deletes the key */
    else {
        ks_set_expire(c->ks, c->db, &ref, when);
    }
    db_signal_modified(c, &c->argv[1]);
    notify_keyspace_event(c, NOTIFY_GENERIC, when <= c->now_ms ? "del" : "expire", &c->argv[1]); /* pubsub: keyspace event */
    reply_int(&c->r, 1);
}

static void cmd_expire(struct cmd_ctx *c) { expire_generic(c, true, true); }
static void cmd_pexpire(struct cmd_ctx *c) { expire_generic(c, true, false); }
static void cmd_expireat(struct cmd_ctx *c) { expire_generic(c, false, true); }
static void cmd_pexpireat(struct cmd_ctx *c) { expire_generic(c, false, false); }

/* ---------- TTL PTTL EXPIRETIME PEXPIRETIME PERSIST ---------- */

static void ttl_generic(struct cmd_ctx *c, bool ms, bool absolute)
{
    struct entry *e = find_read(c, &c->argv[1], NULL, false);
    if (!e) {
        reply_int(&c->r, -2);
        return;
    }
    int64_t expire = entry_expire(e);
    if (expire == -1) {
        reply_int(&c->r, -1);
        return;
    }
    int64_t ttl = absolute ? expire : expire - c->now_ms;
    if (ttl < 0)
        ttl = 0;
    reply_int(&c->r, ms ? ttl : (ttl + 500) / 1000);
}

static void cmd_ttl(struct cmd_ctx *c) { ttl_generic(c, false, false); }
static void cmd_pttl(struct cmd_ctx *c) { ttl_generic(c, true, false); }
static void cmd_expiretime(struct cmd_ctx *c) { ttl_generic(c, false, true); }
static void cmd_pexpiretime(struct cmd_ctx *c) { ttl_generic(c, true, true); }

static void cmd_persist(struct cmd_ctx *c)
{
    struct ks_ref ref;
    struct entry *e = find_write(c, &c->argv[1], &ref);
    if (!e || !entry_has_expire(e)) {
        reply_int(&c->r, 0);
        return;
    }
    ks_set_expire(c->ks, c->db, &ref, -1);
    db_signal_modified(c, &c->argv[1]);
    notify_keyspace_event(c, NOTIFY_GENERIC, "persist", &c->argv[1]); /* pubsub: keyspace event */
    reply_int(&c->r, 1);
}

/* ---------- RENAME RENAMENX COPY ----------
 *
 * One mso for the three. Both keys on one thread: hop 0 does everything
 * there. Keys on two threads: hop 0 has the source's thread write an image
 * of the value (entry_dump) into its part buffer and the destination's
 * thread report whether the destination exists; `next` decides; hop 1 has
 * the destination's thread rebuild the value on its own heap (entry_load)
 * while the source's thread deletes the source (RENAME). */

enum xfer_kind { XK_RENAME, XK_RENAMENX, XK_COPY };
enum xfer_code { XF_ERR = -1, XF_NOKEY = 0, XF_DONE = 1, XF_EXISTS = 2, XF_SAME = 3, XF_NOMOVE = 4 };

struct xfer_opts {
    int kind;
    int dstdb;
    bool replace;
    const char *err;
};

static int xfer_kind(const struct command *cmd)
{
    if (!strcmp(cmd->name, "copy"))
        return XK_COPY;
    return !strcmp(cmd->name, "renamenx") ? XK_RENAMENX : XK_RENAME;
}

static void xfer_parse(const struct command *cmd, const struct arg *argv, int argc, int db, int ndb, bool cluster,
                       struct xfer_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->kind = xfer_kind(cmd);
    o->dstdb = db;
    if (o->kind != XK_COPY)
        return;
    for (int j = 3; j < argc; j++) {
        int more = argc - j - 1;
        if (arg_eq(&argv[j], "replace")) {
            o->replace = true;
        } else if (arg_eq(&argv[j], "db") && more >= 1) {
            int id;
            if ((o->err = arg_int(&argv[j + 1], &id)))
                return;
            if (id < 0 || id >= ndb) {
                o->err = "ERR DB index is out of range";
                return;
            }
            o->dstdb = id;
            j++;
        } else {
            o->err = ERR_SYNTAX;
            return;
        }
    }
    if (cluster && (db != 0 || o->dstdb != 0))
        o->err = "ERR Copying to another database is not allowed in cluster mode";
    else if (o->dstdb == db && args_same(&argv[1], &argv[2]))
        o->err = "ERR source and destination objects are the same";
}

static void xfer_parse_here(struct mso *t, struct xfer_opts *o)
{
    struct worker *w = worker_self();
    xfer_parse(t->cmd, t->argv, t->argc, t->db, w->cfg.databases, w->cfg.cluster_enabled, o);
}

static bool overwrite_blocked(const struct xfer_opts *o)
{
    return o->kind == XK_RENAMENX || (o->kind == XK_COPY && !o->replace);
}

/* Both keys on this thread. */
static int xfer_local(struct cmd_ctx *c, const struct xfer_opts *o)
{
    const struct arg *src = &c->argv[1], *dst = &c->argv[2];
    bool copy = o->kind == XK_COPY;
    struct ks_ref sref, dref;
    struct entry *e = copy ? find_read(c, src, &sref, true) : find_write(c, src, &sref);
    if (!e)
        return XF_NOKEY;
    if (!copy && args_same(src, dst))
        return XF_SAME;
    if (find_in_db(c, o->dstdb, dst, &dref)) {
        if (overwrite_blocked(o))
            return XF_EXISTS;
        ks_delete(c->ks, o->dstdb, &dref);
        e = find_in_db(c, c->db, src, &sref); /* the table may have been resized */
    }
    struct entry *n;
    if (copy) {
        n = entry_clone(e, dst->p, dst->len);
        if (entry_has_expire(e))
            n = entry_set_expire(n, entry_expire(e));
        n->lru = lru_clock();
    } else {
        e = ks_take(c->ks, c->db, &sref);
        n = entry_rekey(e, dst->p, dst->len);
        db_signal_modified(c, src);
    }
    ks_add(c->ks, o->dstdb, arg_slot(dst), n);
    multi_touch(c->w, o->dstdb, dst->p, dst->len); /* multi: the destination's db */
    tracking_key_modified(c->w, c->client_id, dst->p, dst->len); /* tracking: invalidate */
    blocking_signal_key(c->w, o->dstdb, dst->p, dst->len); /* blocking: a list moved into place */
    notify_keyspace_event_db(c->w, o->dstdb, NOTIFY_NEW, "new", dst->p, dst->len); /* pubsub: dbAdd's "new" */
    if (copy) notify_keyspace_event_db(c->w, o->dstdb, NOTIFY_GENERIC, "copy_to", dst->p, dst->len); else { notify_keyspace_event(c, NOTIFY_GENERIC, "rename_from", src); notify_keyspace_event(c, NOTIFY_GENERIC, "rename_to", dst); } /* pubsub: keyspace event */
    return XF_DONE;
}

static int part_with(struct mso *t, int argi)
{
    for (int p = 0; p < t->nparts; p++)
        for (int i = 0; i < t->parts[p].nkeys; i++)
            if (t->parts[p].keyidx[i] == argi)
                return p;
    return 0;
}

static void put_buf(void *ctx, const void *p, size_t n) { buf_put(ctx, p, n); }

static void xfer_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    struct xfer_opts o;
    xfer_parse(t->cmd, c->argv, c->argc, c->db, c->ks->ndb, c->w->cfg.cluster_enabled, &o);
    if (o.err)
        return;
    struct mso_part *p = &t->parts[part];
    bool has_src = false, has_dst = false;
    for (int i = 0; i < c->nkeys; i++) {
        has_src |= c->keyidx[i] == 1;
        has_dst |= c->keyidx[i] == 2;
    }
    const struct arg *src = &c->argv[1], *dst = &c->argv[2];
    if (has_src && has_dst) {
        if (hop == 0)
            p->count = xfer_local(c, &o);
        return;
    }
    if (hop == 0) {
        if (has_src) {
            struct entry *e = o.kind == XK_COPY ? find_read(c, src, NULL, true) : find_write(c, src, NULL);
            p->count = e ? 1 : 0;
            if (e && !entry_dump(e, put_buf, &p->out))
                p->count = -1;
        } else {
            p->count2 = find_in_db(c, o.dstdb, dst, NULL) ? 1 : 0;
        }
        return;
    }
    if (has_src) {
        struct ks_ref ref;
        if (o.kind != XK_COPY && find_in_db(c, c->db, src, &ref)) {
            ks_delete(c->ks, c->db, &ref);
            db_signal_modified(c, src);
            notify_keyspace_event(c, NOTIFY_GENERIC, "rename_from", src); /* pubsub: keyspace event */
        }
        return;
    }
    const struct mso_part *sp = &t->parts[part_with(t, 1)];
    struct entry *n = entry_load(dst->p, dst->len, sp->out.data, sp->out.len);
    if (!n)
        return;
    struct ks_ref ref;
    if (find_in_db(c, o.dstdb, dst, &ref))
        ks_delete(c->ks, o.dstdb, &ref);
    if (o.kind == XK_COPY)
        n->lru = lru_clock();
    ks_add(c->ks, o.dstdb, arg_slot(dst), n);
    multi_touch(c->w, o.dstdb, dst->p, dst->len); /* multi: the destination's db */
    tracking_key_modified(c->w, c->client_id, dst->p, dst->len); /* tracking: invalidate */
    blocking_signal_key(c->w, o.dstdb, dst->p, dst->len); /* blocking: a list moved into place */
    notify_keyspace_event_db(c->w, o.dstdb, NOTIFY_NEW, "new", dst->p, dst->len); /* pubsub: dbAdd's "new" */
    notify_keyspace_event_db(c->w, o.dstdb, NOTIFY_GENERIC, o.kind == XK_COPY ? "copy_to" : "rename_to", dst->p, dst->len); /* pubsub: keyspace event */
}

static int xfer_next(struct mso *t, int hop)
{
    if (hop > 0)
        return -1;
    struct xfer_opts o;
    xfer_parse_here(t, &o);
    if (o.err) {
        t->i64 = XF_ERR;
        return -1;
    }
    if (t->nparts == 1) {
        t->i64 = t->parts[0].count;
        return -1;
    }
    int64_t s = t->parts[part_with(t, 1)].count;
    bool dst_exists = t->parts[part_with(t, 2)].count2 != 0;
    if (s == 0)
        t->i64 = XF_NOKEY;
    else if (s < 0)
        t->i64 = XF_NOMOVE;
    else if (dst_exists && overwrite_blocked(&o))
        t->i64 = XF_EXISTS;
    else {
        t->i64 = XF_DONE;
        return 1;
    }
    return -1;
}

static void xfer_reply(struct mso *t, struct reply *r)
{
    struct xfer_opts o;
    xfer_parse_here(t, &o);
    switch (t->i64) {
    case XF_ERR:
        reply_error(r, o.err);
        break;
    case XF_NOKEY:
        if (o.kind == XK_COPY)
            reply_int(r, 0);
        else
            reply_error(r, ERR_NO_KEY);
        break;
    case XF_NOMOVE:
        reply_error(r, "ERR this value type cannot move between threads yet");
        break;
    case XF_EXISTS:
        reply_int(r, 0);
        break;
    case XF_SAME:
    case XF_DONE:
        if (o.kind == XK_RENAME)
            reply_ok(r);
        else
            reply_int(r, t->i64 == XF_DONE ? 1 : 0);
        break;
    }
}

static const struct mso_ops xfer_ops = {.hop = xfer_hop, .next = xfer_next, .reply = xfer_reply};

/* ---------- MOVE ---------- */

static void cmd_move(struct cmd_ctx *c)
{
    if (c->w->cfg.cluster_enabled) {
        reply_error(&c->r, "ERR MOVE is not allowed in cluster mode");
        return;
    }
    int dbid;
    const char *err = arg_int(&c->argv[2], &dbid);
    if (!err && (dbid < 0 || dbid >= c->ks->ndb))
        err = "ERR DB index is out of range";
    if (!err && dbid == c->db)
        err = "ERR source and destination objects are the same";
    if (err) {
        reply_error(&c->r, err);
        return;
    }
    const struct arg *key = &c->argv[1];
    struct ks_ref ref;
    if (!find_write(c, key, &ref) || find_in_db(c, dbid, key, NULL)) {
        reply_int(&c->r, 0);
        return;
    }
    struct entry *e = ks_take(c->ks, c->db, &ref);
    table_maybe_shrink(ref.table);
    ks_add(c->ks, dbid, arg_slot(key), e);
    db_signal_modified(c, key);
    multi_touch(c->w, (int)dbid, key->p, key->len); /* multi: MOVE touches the target db too */
    blocking_signal_key(c->w, (int)dbid, key->p, key->len); /* blocking: the target db's waiters */
    notify_keyspace_event_db(c->w, (int)dbid, NOTIFY_NEW, "new", key->p, key->len); /* pubsub: dbAdd's "new" */
    notify_keyspace_event(c, NOTIFY_GENERIC, "move_from", key); notify_keyspace_event_db(c->w, (int)dbid, NOTIFY_GENERIC, "move_to", key->p, key->len); /* pubsub: keyspace event */
    reply_int(&c->r, 1);
}

/* ---------- KEYS ---------- */

static void keys_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)hop;
    const struct arg *pat = &c->argv[1];
    bool all = pat->len == 1 && pat->p[0] == '*';
    int64_t n = 0;
    struct worker *w = c->w;
    if (ks_db_size(c->ks, c->db)) {
        for (unsigned i = 0; i < w->nowned; i++) {
            struct table *tb = ks_slot_table(c->ks, c->db, w->owned_slots[i]);
            if (!tb || !tb->count)
                continue;
            for (uint32_t b = 0; b < tb->size; b++) {
                for (struct entry *e = tb->buckets[b]; e; e = e->next) {
                    if (!all && !glob_match(pat->p, pat->len, entry_key(e), e->keylen, false))
                        continue;
                    if (ks_is_expired(e, c->now_ms))
                        continue;
                    reply_bulk(&c->r, entry_key(e), e->keylen);
                    n++;
                }
            }
        }
    }
    t->parts[part].count = n;
}

static void keys_reply(struct mso *t, struct reply *r)
{
    int64_t n = 0;
    for (int p = 0; p < t->nparts; p++)
        n += t->parts[p].count;
    reply_array(r, n);
    for (int p = 0; p < t->nparts; p++)
        if (t->parts[p].out.len)
            reply_raw(r, t->parts[p].out.data, t->parts[p].out.len);
}

static const struct mso_ops keys_ops = {.hop = keys_hop, .next = mso_one_hop, .reply = keys_reply, .global = true};

/* ---------- RANDOMKEY ----------
 * Each shard offers one random live key and its key count; the coordinator
 * picks a shard weighted by count. */

static struct entry *random_entry(struct cmd_ctx *c, unsigned *slotp)
{
    uint64_t total = ks_db_size(c->ks, c->db);
    if (!total)
        return NULL;
    uint64_t r = rnd64() % total;
    struct worker *w = c->w;
    for (unsigned i = 0; i < w->nowned; i++) {
        struct table *tb = ks_slot_table(c->ks, c->db, w->owned_slots[i]);
        if (!tb || !tb->count)
            continue;
        if (r < tb->count) {
            *slotp = w->owned_slots[i];
            return table_random(tb, rnd64());
        }
        r -= tb->count;
    }
    return NULL;
}

/* The first live key in slot order: when random tries keep hitting expired keys. */
static struct entry *first_live_entry(struct cmd_ctx *c)
{
    struct worker *w = c->w;
    for (unsigned i = 0; i < w->nowned; i++) {
        struct table *tb = ks_slot_table(c->ks, c->db, w->owned_slots[i]);
        if (!tb || !tb->count)
            continue;
        for (uint32_t b = 0; b < tb->size; b++)
            for (struct entry *e = tb->buckets[b]; e; e = e->next)
                if (!ks_is_expired(e, c->now_ms))
                    return e;
    }
    return NULL;
}

static void randomkey_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)hop;
    struct mso_part *p = &t->parts[part];
    struct entry *found = NULL;
    for (int tries = 0; tries < 100 && !found; tries++) {
        unsigned slot;
        struct entry *e = random_entry(c, &slot);
        if (!e)
            break;
        if (ks_is_expired(e, c->now_ms)) /* lazy expiry deletes it */
            ks_find(c->ks, c->db, slot, entry_key(e), e->keylen, c->now_ms, NULL);
        else
            found = e;
    }
    if (!found)
        found = first_live_entry(c);
    p->count = (int64_t)ks_db_size(c->ks, c->db);
    p->count2 = found != NULL;
    if (found)
        buf_put(&p->out, entry_key(found), found->keylen);
}

static void randomkey_reply(struct mso *t, struct reply *r)
{
    uint64_t total = 0;
    for (int p = 0; p < t->nparts; p++)
        if (t->parts[p].count2)
            total += (uint64_t)(t->parts[p].count > 0 ? t->parts[p].count : 1);
    if (!total) {
        reply_null(r);
        return;
    }
    uint64_t pick = rnd64() % total;
    for (int p = 0; p < t->nparts; p++) {
        if (!t->parts[p].count2)
            continue;
        uint64_t w = (uint64_t)(t->parts[p].count > 0 ? t->parts[p].count : 1);
        if (pick < w) {
            reply_bulk(r, t->parts[p].out.data, t->parts[p].out.len);
            return;
        }
        pick -= w;
    }
    reply_null(r);
}

static const struct mso_ops randomkey_ops = {
    .hop = randomkey_hop, .next = mso_one_hop, .reply = randomkey_reply, .global = true};

/* ---------- SCAN ----------
 * Cursor: slot in the low 14 bits, the slot table's reverse-binary cursor
 * above. The owner of the cursor's slot walks its own slots from there; when
 * it reaches a slot owned by another thread the cursor names that slot (and
 * the next call goes there), 0 after the last slot. */


static int scan_route(const struct arg *argv, int argc)
{
    uint64_t cur;
    if (argc < 2 || !scan_parse_cursor(&argv[1], &cur))
        return 0;
    return g_slot_owner[cur & SLOT_MASK];
}

struct scan_vec {
    struct entry **v;
    size_t n, cap;
};

static void scan_collect(struct entry *e, void *arg)
{
    struct scan_vec *sv = arg;
    if (sv->n == sv->cap) {
        sv->cap = sv->cap ? sv->cap * 2 : 32;
        sv->v = mi_realloc(sv->v, sizeof(*sv->v) * sv->cap);
    }
    sv->v[sv->n++] = e;
}

static void cmd_scan(struct cmd_ctx *c)
{
    uint64_t cursor;
    if (!scan_parse_cursor(&c->argv[1], &cursor)) {
        reply_error(&c->r, "ERR invalid cursor");
        return;
    }
    long long count = 10;
    const struct arg *pat = NULL, *type = NULL;
    for (int i = 2; i < c->argc;) {
        int left = c->argc - i;
        if (arg_eq(&c->argv[i], "count") && left >= 2) {
            if (!arg_get_ll(c, &c->argv[i + 1], &count))
                return;
            if (count < 1) {
                reply_error(&c->r, ERR_SYNTAX);
                return;
            }
            i += 2;
        } else if (arg_eq(&c->argv[i], "match") && left >= 2) {
            pat = &c->argv[i + 1];
            if (pat->len == 1 && pat->p[0] == '*')
                pat = NULL;
            i += 2;
        } else if (arg_eq(&c->argv[i], "type") && left >= 2) {
            type = &c->argv[i + 1];
            i += 2;
        } else {
            reply_error(&c->r, ERR_SYNTAX);
            return;
        }
    }

    struct buf keys;
    buf_init(&keys);
    struct reply kr = {&keys, c->r.resp};
    int64_t nkeys = 0;
    struct scan_vec sv = {0};
    unsigned slot = (unsigned)(cursor & SLOT_MASK);
    uint64_t tc = cursor >> SLOT_BITS;
    long long maxiter = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
    int me = c->w->id;
    bool dbempty = ks_db_size(c->ks, c->db) == 0;
    uint64_t next = 0;
    for (;;) {
        if (slot >= NSLOTS) {
            next = 0;
            break;
        }
        if (g_slot_owner[slot] != me) {
            next = slot;
            break;
        }
        struct table *tb = dbempty ? NULL : ks_slot_table(c->ks, c->db, slot);
        if (!tb || !tb->count) {
            slot++;
            tc = 0;
            continue;
        }
        sv.n = 0;
        tc = table_scan(tb, tc, scan_collect, &sv);
        for (size_t i = 0; i < sv.n; i++) {
            struct entry *e = sv.v[i];
            if (pat && !glob_match(pat->p, pat->len, entry_key(e), e->keylen, false))
                continue;
            if (ks_is_expired(e, c->now_ms)) {
                ks_find(c->ks, c->db, slot, entry_key(e), e->keylen, c->now_ms, NULL);
                continue;
            }
            if (type) {
                const char *tn = type_name(e);
                if (strlen(tn) != type->len || strncasecmp(tn, type->p, type->len))
                    continue;
            }
            reply_bulk(&kr, entry_key(e), e->keylen);
            nkeys++;
        }
        if (tc == 0) {
            slot++;
            if (slot >= NSLOTS) {
                next = 0;
                break;
            }
        }
        if (nkeys >= count || --maxiter <= 0) {
            next = slot | (tc << SLOT_BITS);
            break;
        }
    }
    mi_free(sv.v);
    char num[24];
    int len = snprintf(num, sizeof(num), "%llu", (unsigned long long)next);
    reply_array(&c->r, 2);
    reply_bulk(&c->r, num, (size_t)len);
    reply_array(&c->r, nkeys);
    if (keys.len)
        reply_raw(&c->r, keys.data, keys.len);
    buf_free(&keys);
}

/* ---------- OBJECT ---------- */

static struct entry *object_lookup(struct cmd_ctx *c)
{
    struct entry *e = find_read(c, &c->argv[2], NULL, false);
    if (!e)
        reply_null(&c->r);
    return e;
}

static void cmd_object_encoding(struct cmd_ctx *c)
{
    struct entry *e = object_lookup(c);
    if (e)
        reply_bulkz(&c->r, encoding_name(e->enc));
}

static void cmd_object_refcount(struct cmd_ctx *c)
{
    struct entry *e = object_lookup(c);
    if (!e)
        return;
    /* Redis shares the integers 0..9999 (refcount INT_MAX) unless an LRU/LFU
     * policy with a memory limit needs per-object access data. */
    const struct config *cfg = &c->w->cfg;
    bool shareable = cfg->maxmemory == 0 || !(policy_is_lru(cfg->maxmemory_policy) ||
                                             policy_is_lfu(cfg->maxmemory_policy));
    bool shared = e->type == OBJ_STRING && e->enc == ENC_INT && e->val.ival >= 0 && e->val.ival < 10000 &&
                  shareable;
    reply_int(&c->r, shared ? INT_MAX : 1);
}

static void cmd_object_idletime(struct cmd_ctx *c)
{
    struct entry *e = object_lookup(c);
    if (!e)
        return;
    if (policy_is_lfu(c->w->cfg.maxmemory_policy)) {
        reply_error(&c->r, "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
                           "switching between policies at runtime LRU and LFU data will take some time to adjust.");
        return;
    }
    uint32_t now = lru_clock(), lru = e->lru & ((1u << 24) - 1);
    uint32_t idle = now >= lru ? now - lru : ((1u << 24) - lru) + now;
    reply_int(&c->r, idle);
}

/* Redis's LFU layout in the 24 bits: minutes of the last decrement (16) and
 * a logarithmic counter (8); the counter decays one step per minute. */
static void cmd_object_freq(struct cmd_ctx *c)
{
    struct entry *e = object_lookup(c);
    if (!e)
        return;
    if (!policy_is_lfu(c->w->cfg.maxmemory_policy)) {
        reply_error(&c->r, "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
                           "that when switching between policies at runtime LRU and LFU data will take some time "
                           "to adjust.");
        return;
    }
    uint32_t ldt = (e->lru >> 8) & 0xffff, counter = e->lru & 0xff;
    uint32_t now = (uint32_t)((mstime() / 1000 / 60) & 0xffff);
    uint32_t elapsed = now >= ldt ? now - ldt : 65535 - ldt + now;
    reply_int(&c->r, elapsed > counter ? 0 : counter - elapsed);
}

static void cmd_object_help(struct cmd_ctx *c)
{
    static const char *lines[] = {
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
    };
    size_t n = sizeof(lines) / sizeof(lines[0]);
    char head[128];
    size_t cl = c->argv[0].len < 64 ? c->argv[0].len : 64;
    for (size_t i = 0; i < cl; i++)
        head[i] = (char)toupper((unsigned char)c->argv[0].p[i]);
    snprintf(head + cl, sizeof(head) - cl, " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    reply_array(&c->r, (int64_t)n + 3);
    reply_status(&c->r, head);
    for (size_t i = 0; i < n; i++)
        reply_status(&c->r, lines[i]);
    reply_status(&c->r, "HELP");
    reply_status(&c->r, "    Prints this help.");
}

static void cmd_container_arity(struct cmd_ctx *c)
{
    reply_errorf(&c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
}

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM
#define MK CMD_MULTIKEY
#define G CMD_GLOBAL

static const struct command object_subcommands[] = {
    {"object|encoding", 3, R, 2, 2, 1, cmd_object_encoding, .group = "generic", .summary = "Inspect the internal encoding of a Redis object", .since = "2.2.3", .acl = "keyspace read slow"},
    {"object|freq", 3, R, 2, 2, 1, cmd_object_freq, .group = "generic", .summary = "Get the logarithmic access frequency counter of a Redis object", .since = "4.0.0", .acl = "keyspace read slow"},
    {"object|help", 2, CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_object_help, .group = "generic", .summary = "Show helpful text about the different subcommands", .since = "6.2.0", .acl = "keyspace slow"},
    {"object|idletime", 3, R, 2, 2, 1, cmd_object_idletime, .group = "generic", .summary = "Get the time since a Redis object was last accessed", .since = "2.2.3", .acl = "keyspace read slow"},
    {"object|refcount", 3, R, 2, 2, 1, cmd_object_refcount, .group = "generic", .summary = "Get the number of references to the value of the key", .since = "2.2.3", .acl = "keyspace read slow"},
    {NULL},
};

const struct command keys_commands[] = {
    {"del", -2, W | MK, 1, -1, 1, NULL, .mso = &del_ops, .group = "generic", .summary = "Delete a key", .since = "1.0.0", .acl = "keyspace write slow"},
    {"unlink", -2, W | F | MK, 1, -1, 1, NULL, .mso = &del_ops, .group = "generic", .summary = "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", .since = "4.0.0", .acl = "keyspace write fast"},
    {"exists", -2, R | F | MK, 1, -1, 1, NULL, .mso = &exists_ops, .group = "generic", .summary = "Determine if a key exists", .since = "1.0.0", .acl = "keyspace read fast"},
    {"touch", -2, R | F | MK, 1, -1, 1, NULL, .mso = &touch_ops, .group = "generic", .summary = "Alters the last access time of a key(s). Returns the number of existing keys specified.", .since = "3.2.1", .acl = "keyspace read fast"},
    {"type", 2, R | F, 1, 1, 1, cmd_type, .group = "generic", .summary = "Determine the type stored at key", .since = "1.0.0", .acl = "keyspace read fast"},
    {"expire", -3, W | F, 1, 1, 1, cmd_expire, .group = "generic", .summary = "Set a key's time to live in seconds", .since = "1.0.0", .acl = "keyspace write fast"},
    {"pexpire", -3, W | F, 1, 1, 1, cmd_pexpire, .group = "generic", .summary = "Set a key's time to live in milliseconds", .since = "2.6.0", .acl = "keyspace write fast"},
    {"expireat", -3, W | F, 1, 1, 1, cmd_expireat, .group = "generic", .summary = "Set the expiration for a key as a UNIX timestamp", .since = "1.2.0", .acl = "keyspace write fast"},
    {"pexpireat", -3, W | F, 1, 1, 1, cmd_pexpireat, .group = "generic", .summary = "Set the expiration for a key as a UNIX timestamp specified in milliseconds", .since = "2.6.0", .acl = "keyspace write fast"},
    {"ttl", 2, R | F, 1, 1, 1, cmd_ttl, .group = "generic", .summary = "Get the time to live for a key in seconds", .since = "1.0.0", .acl = "keyspace read fast"},
    {"pttl", 2, R | F, 1, 1, 1, cmd_pttl, .group = "generic", .summary = "Get the time to live for a key in milliseconds", .since = "2.6.0", .acl = "keyspace read fast"},
    {"expiretime", 2, R | F, 1, 1, 1, cmd_expiretime, .group = "generic", .summary = "Get the expiration Unix timestamp for a key", .since = "7.0.0", .acl = "keyspace read fast"},
    {"pexpiretime", 2, R | F, 1, 1, 1, cmd_pexpiretime, .group = "generic", .summary = "Get the expiration Unix timestamp for a key in milliseconds", .since = "7.0.0", .acl = "keyspace read fast"},
    {"persist", 2, W | F, 1, 1, 1, cmd_persist, .group = "generic", .summary = "Remove the expiration from a key", .since = "2.2.0", .acl = "keyspace write fast"},
    {"rename", 3, W | MK, 1, 2, 1, NULL, .mso = &xfer_ops, .group = "generic", .summary = "Rename a key", .since = "1.0.0", .acl = "keyspace write slow"},
    {"renamenx", 3, W | F | MK, 1, 2, 1, NULL, .mso = &xfer_ops, .group = "generic", .summary = "Rename a key, only if the new key does not exist", .since = "1.0.0", .acl = "keyspace write fast"},
    {"copy", -3, W | D | MK, 1, 2, 1, NULL, .mso = &xfer_ops, .group = "generic", .summary = "Copy a key", .since = "6.2.0", .acl = "keyspace write slow"},
    {"move", 3, W | F, 1, 1, 1, cmd_move, .group = "generic", .summary = "Move a key to another database", .since = "1.0.0", .acl = "keyspace write fast"},
    {"keys", 2, R | G, 0, 0, 0, NULL, .mso = &keys_ops, .group = "generic", .summary = "Find all keys matching the given pattern", .since = "1.0.0", .acl = "keyspace read slow dangerous"},
    {"scan", -2, R, 0, 0, 0, cmd_scan, .route = scan_route, .group = "generic", .summary = "Incrementally iterate the keys space", .since = "2.8.0", .acl = "keyspace read slow"},
    {"randomkey", 1, R | G, 0, 0, 0, NULL, .mso = &randomkey_ops, .group = "generic", .summary = "Return a random key from the keyspace", .since = "1.0.0", .acl = "keyspace read slow"},
    {"object", -2, 0, 0, 0, 0, cmd_container_arity, .subcmds = object_subcommands, .group = "generic", .summary = "A container for object introspection commands", .since = "2.2.3", .acl = "slow"},
    {NULL},
};
