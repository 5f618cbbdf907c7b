/* server/cmd_string.c — the string family: GET SET (EX PX EXAT PXAT NX XX
 * KEEPTTL GET) SETNX SETEX PSETEX GETSET GETDEL GETEX MGET MSET MSETNX
 * APPEND STRLEN INCR DECR INCRBY DECRBY INCRBYFLOAT GETRANGE SETRANGE SUBSTR
 * LCS. Replies and errors as Redis's t_string.c.
 * Owns: string command semantics. Storage is shard/ (entries, keyspace);
 * multi-key commands run through mso hops (transaction.c). */
#include "server/server.h"
#include "server/multi.h" /* multi: hooks */
#include "server/pubsub.h" /* pubsub: keyspace events */

#include <limits.h>
#include <math.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum set_flags {
    SET_NX = 1 << 0,
    SET_XX = 1 << 1,
    SET_GET = 1 << 2,
    SET_KEEPTTL = 1 << 3,
    SET_PERSIST = 1 << 4,
    SET_EX = 1 << 5,
    SET_PX = 1 << 6,
    SET_EXAT = 1 << 7,
    SET_PXAT = 1 << 8,
};
#define SET_ANY_EXPIRE (SET_EX | SET_PX | SET_EXAT | SET_PXAT)

static void reply_expire_error(struct cmd_ctx *c)
{
    reply_errorf(&c->r, ERR_EXPIRE, c->cmd->name);
}

/* Turn an EX/PX/EXAT/PXAT argument into an absolute ms time, as Redis does. */
static bool expire_arg_to_ms(struct cmd_ctx *c, const struct arg *a, int flags, int64_t *out)
{
    long long v;
    if (!arg_get_ll(c, a, &v))
        return false;
    bool seconds = flags & (SET_EX | SET_EXAT);
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) {
        reply_expire_error(c);
        return false;
    }
    if (seconds)
        v *= 1000;
    if (flags & (SET_EX | SET_PX)) {
        if (v > LLONG_MAX - c->now_ms) {
            reply_expire_error(c);
            return false;
        }
        v += c->now_ms;
    }
    *out = v;
    return true;
}

static bool opt_is(const struct arg *a, const char *s) { return arg_eq(a, s); }

/* Redis's parseExtendedStringArgumentsOrReply. */
static bool parse_string_options(struct cmd_ctx *c, int from, bool is_set, int *flags, const struct arg **expire)
{
    for (int j = from; j < c->argc; j++) {
        const struct arg *o = &c->argv[j];
        bool next = j < c->argc - 1;
        int f = *flags;
        if (is_set && opt_is(o, "nx") && !(f & SET_XX)) {
            *flags |= SET_NX;
        } else if (is_set && opt_is(o, "xx") && !(f & SET_NX)) {
            *flags |= SET_XX;
        } else if (is_set && opt_is(o, "get")) {
            *flags |= SET_GET;
        } else if (is_set && opt_is(o, "keepttl") && !(f & (SET_PERSIST | SET_ANY_EXPIRE))) {
            *flags |= SET_KEEPTTL;
        } else if (!is_set && opt_is(o, "persist") && !(f & (SET_ANY_EXPIRE | SET_KEEPTTL))) {
            *flags |= SET_PERSIST;
        } else if (next && !(f & (SET_KEEPTTL | SET_PERSIST)) && !(f & SET_ANY_EXPIRE) &&
                   (opt_is(o, "ex") || opt_is(o, "px") || opt_is(o, "exat") || opt_is(o, "pxat"))) {
            *flags |= opt_is(o, "ex") ? SET_EX : opt_is(o, "px") ? SET_PX : opt_is(o, "exat") ? SET_EXAT : SET_PXAT;
            *expire = &c->argv[++j];
        } else {
            reply_error(&c->r, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

static void reply_entry_string(struct cmd_ctx *c, struct entry *e)
{
    if (e->enc == ENC_INT)
        reply_bulk_int(&c->r, e->val.ival);
    else
        reply_bulk(&c->r, entry_str(e), e->val.str.len);
}

/* Store `val` under `key` (found at ref or absent), keeping or setting expiry. */
static void store_string(struct cmd_ctx *c, const struct arg *key, struct ks_ref *ref, const struct arg *val,
                         int64_t expire_ms, bool keepttl)
{
    struct entry *e = entry_new_string(key->p, key->len, val->p, val->len);
    if (ref->link) {
        struct entry *old = *ref->link;
        int64_t when = keepttl ? entry_expire(old) : -1;
        if (expire_ms >= 0)
            when = expire_ms;
        if (when >= 0)
            e = entry_set_expire(e, when);
        e->lru = old->lru;
        ks_replace(c->ks, c->db, ref, e);
        db_touch(c, e);
        db_signal_modified(c, key); /* multi */
    } else {
        if (expire_ms >= 0)
            e = entry_set_expire(e, expire_ms);
        db_add(c, key, e);
    }
}

static void cmd_set(struct cmd_ctx *c)
{
    int flags = 0;
    const struct arg *expire = NULL;
    int64_t when = -1;
    if (!parse_string_options(c, 3, true, &flags, &expire))
        return;
    if (expire && !expire_arg_to_ms(c, expire, flags, &when))
        return;
    struct ks_ref ref;
    struct entry *e = db_find(c, &c->argv[1], &ref);
    if ((flags & SET_GET) && e && e->type != OBJ_STRING) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return;
    }
    bool skip = ((flags & SET_NX) && e) || ((flags & SET_XX) && !e);
    if (flags & SET_GET) {
        if (e)
            reply_entry_string(c, e);
        else
            reply_null(&c->r);
    }
    if (!skip) {
        store_string(c, &c->argv[1], &ref, &c->argv[2], when, flags & SET_KEEPTTL);
        db_signal_modified(c, &c->argv[1]);
        notify_keyspace_event(c, NOTIFY_STRING, "set", &c->argv[1]); if (expire) notify_keyspace_event(c, NOTIFY_GENERIC, "expire", &c->argv[1]); /* pubsub: keyspace event */
    }
    if (!(flags & SET_GET)) {
        if (skip)
            reply_null(&c->r);
        else
            reply_ok(&c->r);
    }
}

static void cmd_setnx(struct cmd_ctx *c)
{
    struct ks_ref ref;
    if (db_find(c, &c->argv[1], &ref)) {
        reply_int(&c->r, 0);
        return;
    }
    store_string(c, &c->argv[1], &ref, &c->argv[2], -1, false);
    notify_keyspace_event(c, NOTIFY_STRING, "set", &c->argv[1]); /* pubsub: keyspace event */
    reply_int(&c->r, 1);
}

static void setex_generic(struct cmd_ctx *c, int unit_flag)
{
    int64_t when;
    if (!expire_arg_to_ms(c, &c->argv[2], unit_flag, &when))
        return;
    struct ks_ref ref;
    db_find(c, &c->argv[1], &ref);
    store_string(c, &c->argv[1], &ref, &c->argv[3], when, false);
    notify_keyspace_event(c, NOTIFY_STRING, "set", &c->argv[1]); notify_keyspace_event(c, NOTIFY_GENERIC, "expire", &c->argv[1]); /* pubsub: keyspace event */
    reply_ok(&c->r);
}

static void cmd_setex(struct cmd_ctx *c) { setex_generic(c, SET_EX); }
static void cmd_psetex(struct cmd_ctx *c) { setex_generic(c, SET_PX); }

/* Look up a string for reading; replies WRONGTYPE and returns NULL for others. */
static struct entry *find_string(struct cmd_ctx *c, const struct arg *key, struct ks_ref *ref, bool *err)
{
    struct entry *e = db_find(c, key, ref);
    *err = false;
    if (e && e->type != OBJ_STRING) {
        reply_error(&c->r, ERR_WRONGTYPE);
        *err = true;
        return NULL;
    }
    return e;
}

static void cmd_get(struct cmd_ctx *c)
{
    bool err;
    struct entry *e = find_string(c, &c->argv[1], NULL, &err);
    if (err)
        return;
    if (!e) {
        c->ks->stats.keyspace_misses++;
        reply_null(&c->r);
        return;
    }
    c->ks->stats.keyspace_hits++;
    db_touch(c, e);
    reply_entry_string(c, e);
}

static void cmd_getset(struct cmd_ctx *c)
{
    bool err;
    struct ks_ref ref;
    struct entry *e = find_string(c, &c->argv[1], &ref, &err);
    if (err)
        return;
    if (e)
        reply_entry_string(c, e);
    else
        reply_null(&c->r);
    store_string(c, &c->argv[1], &ref, &c->argv[2], -1, false);
    notify_keyspace_event(c, NOTIFY_STRING, "set", &c->argv[1]); /* pubsub: keyspace event */
}

static void cmd_getdel(struct cmd_ctx *c)
{
    bool err;
    struct ks_ref ref;
    struct entry *e = find_string(c, &c->argv[1], &ref, &err);
    if (err)
        return;
    if (!e) {
        reply_null(&c->r);
        return;
    }
    reply_entry_string(c, e);
    ks_delete(c->ks, c->db, &ref);
    notify_keyspace_event(c, NOTIFY_GENERIC, "del", &c->argv[1]); /* pubsub: keyspace event */
    db_signal_modified(c, &c->argv[1]); /* multi */
}

static void cmd_getex(struct cmd_ctx *c)
{
    int flags = 0;
    const struct arg *expire = NULL;
    int64_t when = -1;
    if (!parse_string_options(c, 2, false, &flags, &expire))
        return;
    if (expire && !expire_arg_to_ms(c, expire, flags, &when))
        return;
    bool err;
    struct ks_ref ref;
    struct entry *e = find_string(c, &c->argv[1], &ref, &err);
    if (err)
        return;
    if (!e) {
        reply_null(&c->r);
        return;
    }
    reply_entry_string(c, e);
    if (expire && when <= c->now_ms) {
        ks_delete(c->ks, c->db, &ref);
        notify_keyspace_event(c, NOTIFY_GENERIC, "del", &c->argv[1]); /* pubsub: keyspace event */
    } else if (expire) {
        ks_set_expire(c->ks, c->db, &ref, when);
        notify_keyspace_event(c, NOTIFY_GENERIC, "expire", &c->argv[1]); /* pubsub: keyspace event */
    } else if (flags & SET_PERSIST) {
        if (entry_has_expire(e)) notify_keyspace_event(c, NOTIFY_GENERIC, "persist", &c->argv[1]); /* pubsub: keyspace event */
        ks_set_expire(c->ks, c->db, &ref, -1);
    }
    if (expire || (flags & SET_PERSIST))
        db_signal_modified(c, &c->argv[1]); /* multi */
}

static void cmd_strlen(struct cmd_ctx *c)
{
    bool err;
    struct entry *e = find_string(c, &c->argv[1], NULL, &err);
    if (err)
        return;
    reply_int(&c->r, e ? (int64_t)entry_string_len(e) : 0);
}

/* offset + len must fit in proto-max-bulk-len; checked without overflow */
static bool check_string_size(struct cmd_ctx *c, long long offset, size_t len)
{
    long long max = c->w->cfg.proto_max_bulk_len;
    if ((long long)len > max || offset > max - (long long)len) {
        reply_error(&c->r, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return false;
    }
    return true;
}

static void cmd_append(struct cmd_ctx *c)
{
    bool err;
    struct ks_ref ref;
    const struct arg *key = &c->argv[1], *val = &c->argv[2];
    struct entry *e = find_string(c, key, &ref, &err);
    if (err)
        return;
    if (!e) {
        e = entry_new_string_raw(key->p, key->len, val->p, val->len, val->len);
        db_add(c, key, e);
        notify_keyspace_event(c, NOTIFY_STRING, "append", key); /* pubsub: keyspace event */
    db_signal_modified(c, key); /* multi */
        reply_int(&c->r, (int64_t)val->len);
        return;
    }
    size_t cur = entry_string_len(e);
    if (!check_string_size(c, (long long)cur, val->len))
        return;
    struct entry *ne = entry_reserve_str(e, cur + val->len);
    memcpy(entry_str(ne) + ne->val.str.len, val->p, val->len);
    ne->val.str.len += (uint32_t)val->len;
    ks_relink(c->ks, c->db, &ref, ne);
    notify_keyspace_event(c, NOTIFY_STRING, "append", key); /* pubsub: keyspace event */
    db_signal_modified(c, key); /* multi */
    reply_int(&c->r, ne->val.str.len);
}

static void cmd_setrange(struct cmd_ctx *c)
{
    long long offset;
    if (!arg_get_ll(c, &c->argv[2], &offset))
        return;
    if (offset < 0) {
        reply_error(&c->r, "ERR offset is out of range");
        return;
    }
    const struct arg *key = &c->argv[1], *val = &c->argv[3];
    bool err;
    struct ks_ref ref;
    struct entry *e = find_string(c, key, &ref, &err);
    if (err)
        return;
    if (!e) {
        if (val->len == 0) {
            reply_int(&c->r, 0);
            return;
        }
        if (!check_string_size(c, offset, val->len))
            return;
        e = entry_new_string_raw(key->p, key->len, "", 0, (size_t)offset + val->len);
        memset(entry_str(e), 0, (size_t)offset);
        memcpy(entry_str(e) + offset, val->p, val->len);
        e->val.str.len = (uint32_t)(offset + (long long)val->len);
        e->enc = ENC_RAW;
        db_add(c, key, e);
        notify_keyspace_event(c, NOTIFY_STRING, "setrange", key); /* pubsub: keyspace event */
    db_signal_modified(c, key); /* multi */
        reply_int(&c->r, e->val.str.len);
        return;
    }
    size_t cur = entry_string_len(e);
    if (val->len == 0) {
        reply_int(&c->r, (int64_t)cur);
        return;
    }
    if (!check_string_size(c, offset, val->len))
        return;
    size_t need = (size_t)offset + val->len;
    struct entry *ne = entry_reserve_str(e, need > cur ? need : cur);
    char *s = entry_str(ne);
    if (need > ne->val.str.len) {
        memset(s + ne->val.str.len, 0, need - ne->val.str.len);
        ne->val.str.len = (uint32_t)need;
    }
    memcpy(s + offset, val->p, val->len);
    ks_relink(c->ks, c->db, &ref, ne);
    notify_keyspace_event(c, NOTIFY_STRING, "setrange", key); /* pubsub: keyspace event */
    db_signal_modified(c, key); /* multi */
    reply_int(&c->r, ne->val.str.len);
}

static void cmd_getrange(struct cmd_ctx *c)
{
    long long start, end;
    if (!arg_get_ll(c, &c->argv[2], &start) || !arg_get_ll(c, &c->argv[3], &end))
        return;
    bool err;
    struct entry *e = find_string(c, &c->argv[1], NULL, &err);
    if (err)
        return;
    if (!e) {
        reply_bulk(&c->r, "", 0);
        return;
    }
    char tmp[24];
    size_t len;
    const char *s = entry_string(e, tmp, &len);
    if (start < 0 && end < 0 && start > end) {
        reply_bulk(&c->r, "", 0);
        return;
    }
    long long slen = (long long)len;
    if (start < 0)
        start += slen;
    if (end < 0)
        end += slen;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= slen)
        end = slen - 1;
    if (start > end || slen == 0) {
        reply_bulk(&c->r, "", 0);
        return;
    }
    reply_bulk(&c->r, s + start, (size_t)(end - start + 1));
}

/* INCR family */
static void incr_by(struct cmd_ctx *c, long long delta)
{
    bool err;
    struct ks_ref ref;
    const struct arg *key = &c->argv[1];
    struct entry *e = find_string(c, key, &ref, &err);
    if (err)
        return;
    long long cur = 0;
    if (e) {
        if (e->enc == ENC_INT) {
            cur = e->val.ival;
        } else {
            struct arg a = {entry_str(e), e->val.str.len};
            if (!arg_to_ll(&a, &cur)) {
                reply_error(&c->r, ERR_NOT_INT);
                return;
            }
        }
    }
    if ((delta < 0 && cur < 0 && delta < LLONG_MIN - cur) || (delta > 0 && cur > 0 && delta > LLONG_MAX - cur)) {
        reply_error(&c->r, ERR_OVERFLOW);
        return;
    }
    long long nv = cur + delta;
    if (e && e->enc == ENC_INT) {
        e->val.ival = nv;
    } else {
        struct entry *ne = entry_new_int(key->p, key->len, nv);
        if (e) {
            if (entry_has_expire(e))
                ne = entry_set_expire(ne, entry_expire(e));
            ks_replace(c->ks, c->db, &ref, ne);
        } else {
            db_add(c, key, ne);
        }
    }
    notify_keyspace_event(c, NOTIFY_STRING, "incrby", key); /* pubsub: keyspace event */
    db_signal_modified(c, key); /* multi */
    reply_int(&c->r, nv);
}

static void cmd_incr(struct cmd_ctx *c) { incr_by(c, 1); }
static void cmd_decr(struct cmd_ctx *c) { incr_by(c, -1); }

static void cmd_incrby(struct cmd_ctx *c)
{
    long long d;
    if (arg_get_ll(c, &c->argv[2], &d))
        incr_by(c, d);
}

static void cmd_decrby(struct cmd_ctx *c)
{
    long long d;
    if (!arg_get_ll(c, &c->argv[2], &d))
        return;
    if (d == LLONG_MIN) {
        reply_error(&c->r, "ERR decrement would overflow");
        return;
    }
    incr_by(c, -d);
}

static void cmd_incrbyfloat(struct cmd_ctx *c)
{
    long double incr, cur = 0;
    const struct arg *key = &c->argv[1];
    bool err;
    struct ks_ref ref;
    struct entry *e = find_string(c, key, &ref, &err);
    if (err)
        return;
    if (e) {
        char tmp[24];
        size_t len;
        const char *s = entry_string(e, tmp, &len);
        struct arg a = {s, len};
        if (!arg_to_long_double(&a, &cur)) {
            reply_error(&c->r, ERR_NOT_FLOAT);
            return;
        }
    }
    if (!arg_to_long_double(&c->argv[2], &incr)) {
        reply_error(&c->r, ERR_NOT_FLOAT);
        return;
    }
    long double v = cur + incr;
    if (isnan(v) || isinf(v)) {
        reply_error(&c->r, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[5120];
    int n = format_long_double(buf, sizeof(buf), v);
    struct arg val = {buf, (size_t)n};
    int64_t when = e ? entry_expire(e) : -1;
    store_string(c, key, &ref, &val, when, false);
    notify_keyspace_event(c, NOTIFY_STRING, "incrbyfloat", key); /* pubsub: keyspace event */
    reply_bulk(&c->r, buf, (size_t)n);
}

/* ---------- multi-key: MGET MSET MSETNX ---------- */

/* MGET: each shard writes, per key it owns, a bulk or null into its part
 * buffer; the reply stitches them back in argument order. */
static void mget_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)t;
    (void)part;
    (void)hop;
    for (int i = 0; i < c->nkeys; i++) {
        struct entry *e = db_find(c, &c->argv[c->keyidx[i]], NULL);
        if (!e || e->type != OBJ_STRING) {
            c->ks->stats.keyspace_misses++;
            reply_null(&c->r);
        } else {
            c->ks->stats.keyspace_hits++;
            reply_entry_string(c, e);
        }
    }
}

/* Length of one RESP reply element starting at p (bulk, null or integer). */
static size_t resp_elem_len(const char *p)
{
    if (p[0] == '$' && p[1] != '-') {
        long long n = strtoll(p + 1, NULL, 10);
        const char *nl = strchr(p, '\n');
        return (size_t)(nl - p) + 1 + (size_t)n + 2;
    }
    const char *nl = strchr(p, '\n');
    return (size_t)(nl - p) + 1;
}

static void mget_reply(struct mso *t, struct reply *r)
{
    reply_array(r, t->argc - 1);
    size_t *pos = mi_zalloc(sizeof(size_t) * (size_t)t->nparts);
    int *partof = mi_malloc(sizeof(int) * (size_t)t->argc);
    for (int p = 0; p < t->nparts; p++)
        for (int i = 0; i < t->parts[p].nkeys; i++)
            partof[t->parts[p].keyidx[i]] = p;
    for (int k = 1; k < t->argc; k++) {
        struct mso_part *pt = &t->parts[partof[k]];
        /* a key may repeat: each occurrence has its own element, in order */
        const char *at = pt->out.data + pos[partof[k]];
        size_t n = resp_elem_len(at);
        reply_raw(r, at, n);
        pos[partof[k]] += n;
    }
    mi_free(pos);
    mi_free(partof);
}

static const struct mso_ops mget_ops = {.hop = mget_hop, .next = mso_one_hop, .reply = mget_reply};

static void mset_write(struct cmd_ctx *c)
{
    for (int i = 0; i < c->nkeys; i++) {
        const struct arg *key = &c->argv[c->keyidx[i]];
        struct ks_ref ref;
        db_find(c, key, &ref);
        store_string(c, key, &ref, key + 1, -1, false);
        notify_keyspace_event(c, NOTIFY_STRING, "set", key); /* pubsub: keyspace event */
    }
}

static void mset_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)t;
    (void)part;
    (void)hop;
    mset_write(c);
}

static void mset_reply(struct mso *t, struct reply *r)
{
    (void)t;
    reply_ok(r);
}

static const struct mso_ops mset_ops = {.hop = mset_hop, .next = mso_one_hop, .reply = mset_reply};

/* MSETNX: hop 0 counts existing keys on every shard; hop 1 writes if none. */
static void msetnx_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    if (hop == 0) {
        int64_t found = 0;
        for (int i = 0; i < c->nkeys; i++)
            if (db_find(c, &c->argv[c->keyidx[i]], NULL))
                found++;
        t->parts[part].count = found;
        return;
    }
    mset_write(c);
}

static int msetnx_next(struct mso *t, int hop)
{
    if (hop > 0)
        return -1;
    for (int p = 0; p < t->nparts; p++)
        if (t->parts[p].count)
            return -1;
    t->i64 = 1;
    return 1;
}

static void msetnx_reply(struct mso *t, struct reply *r) { reply_int(r, t->i64); }

static const struct mso_ops msetnx_ops = {.hop = msetnx_hop, .next = msetnx_next, .reply = msetnx_reply};

static int mset_getkeys(struct arg *argv, int argc, int *keys, int max)
{
    (void)argv;
    if (argc % 2 == 0)
        return 0; /* arity error handled by the handler */
    int n = 0;
    for (int i = 1; i < argc && n < max; i += 2)
        keys[n++] = i;
    return n;
}

static void cmd_mset_arity(struct cmd_ctx *c)
{
    reply_errorf(&c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
}

/* ---------- LCS ---------- */

static void lcs_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)hop;
    /* store each key's value as: type byte ('s' string, 'n' none, 'w' wrong) then bytes */
    struct mso_part *p = &t->parts[part];
    for (int i = 0; i < c->nkeys; i++) {
        struct entry *e = db_find(c, &c->argv[c->keyidx[i]], NULL);
        char tmp[24];
        size_t len = 0;
        const char *s = NULL;
        char kind = 'n';
        if (e && e->type != OBJ_STRING)
            kind = 'w';
        else if (e) {
            kind = 's';
            s = entry_string(e, tmp, &len);
        }
        int idx = c->keyidx[i];
        buf_put(&p->out, &idx, sizeof(idx));
        buf_put(&p->out, &kind, 1);
        buf_put(&p->out, &len, sizeof(len));
        if (len)
            buf_put(&p->out, s, len);
    }
}

static bool lcs_value(struct mso *t, int argi, const char **s, size_t *len, char *kind)
{
    for (int p = 0; p < t->nparts; p++) {
        const char *at = t->parts[p].out.data, *end = at + t->parts[p].out.len;
        while (at && at < end) {
            int idx;
            memcpy(&idx, at, sizeof(idx));
            *kind = at[sizeof(idx)];
            memcpy(len, at + sizeof(idx) + 1, sizeof(*len));
            *s = at + sizeof(idx) + 1 + sizeof(*len);
            if (idx == argi)
                return true;
            at = *s + *len;
        }
    }
    return false;
}

struct lcs_opts {
    bool getlen, getidx, withmatchlen;
    long long minmatchlen;
};

static const char *lcs_parse(struct mso *t, struct lcs_opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int j = 3; j < t->argc; j++) {
        const struct arg *a = &t->argv[j];
        bool more = j < t->argc - 1;
        if (arg_eq(a, "idx"))
            o->getidx = true;
        else if (arg_eq(a, "len"))
            o->getlen = true;
        else if (arg_eq(a, "withmatchlen"))
            o->withmatchlen = true;
        else if (arg_eq(a, "minmatchlen") && more) {
            if (!arg_to_ll(&t->argv[j + 1], &o->minmatchlen))
                return ERR_NOT_INT;
            if (o->minmatchlen < 0)
                o->minmatchlen = 0;
            j++;
        } else
            return ERR_SYNTAX;
    }
    if (o->getlen && o->getidx)
        return "ERR If you want both the length and indexes, please just use IDX.";
    return NULL;
}

static void lcs_reply_range(struct reply *r, uint32_t a, uint32_t b)
{
    reply_array(r, 2);
    reply_int(r, a);
    reply_int(r, b);
}

static void lcs_compute(struct reply *r, const char *a, uint32_t alen, const char *b, uint32_t blen,
                        const struct lcs_opts *o)
{
    size_t cells = ((size_t)alen + 1) * ((size_t)blen + 1);
    uint32_t *L = mi_malloc(sizeof(uint32_t) * cells);
#define LCS(i, j) L[(size_t)(j) + ((size_t)blen + 1) * (size_t)(i)]
    for (uint32_t i = 0; i <= alen; i++) {
        for (uint32_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0)
                LCS(i, j) = 0;
            else if (a[i - 1] == b[j - 1])
                LCS(i, j) = LCS(i - 1, j - 1) + 1;
            else
                LCS(i, j) = LCS(i - 1, j) > LCS(i, j - 1) ? LCS(i - 1, j) : LCS(i, j - 1);
        }
    }
    uint32_t idx = LCS(alen, blen);
    if (o->getlen && !o->getidx) {
        reply_int(r, idx);
        mi_free(L);
        return;
    }
    char *result = mi_malloc(idx + 1);
    result[idx] = 0;
    /* walk back; collect match ranges for IDX */
    struct range { uint32_t a0, a1, b0, b1; } *ranges = NULL;
    size_t nranges = 0, capranges = 0;
    uint32_t i = alen, j = blen, pos = idx;
    uint32_t arange_start = alen, arange_end = 0, brange_start = 0, brange_end = 0;
    while (i > 0 && j > 0) {
        bool emit = false;
        if (a[i - 1] == b[j - 1]) {
            result[--pos] = a[i - 1];
            if (arange_start == alen) {
                arange_start = i - 1;
                arange_end = i - 1;
                brange_start = j - 1;
                brange_end = j - 1;
            } else if (arange_start == i && brange_start == j) {
                arange_start--;
                brange_start--;
            } else {
                emit = true;
            }
            if (arange_start == 0 || brange_start == 0)
                emit = true;
            i--;
            j--;
        } else {
            if (LCS(i - 1, j) > LCS(i, j - 1))
                i--;
            else
                j--;
            if (arange_start != alen)
                emit = true;
        }
        if (emit) {
            uint32_t mlen = arange_end - arange_start + 1;
            if (o->minmatchlen == 0 || mlen >= o->minmatchlen) {
                if (nranges == capranges) {
                    capranges = capranges ? capranges * 2 : 16;
                    ranges = mi_realloc(ranges, sizeof(*ranges) * capranges);
                }
                ranges[nranges++] = (struct range){arange_start, arange_end, brange_start, brange_end};
            }
            arange_start = alen;
        }
    }
    if (o->getidx) {
        reply_map(r, 2);
        reply_bulkz(r, "matches");
        reply_array(r, (int64_t)nranges);
        for (size_t k = 0; k < nranges; k++) {
            reply_array(r, o->withmatchlen ? 3 : 2);
            lcs_reply_range(r, ranges[k].a0, ranges[k].a1);
            lcs_reply_range(r, ranges[k].b0, ranges[k].b1);
            if (o->withmatchlen)
                reply_int(r, ranges[k].a1 - ranges[k].a0 + 1);
        }
        reply_bulkz(r, "len");
        reply_int(r, idx);
    } else {
        reply_bulk(r, result, idx);
    }
#undef LCS
    mi_free(ranges);
    mi_free(result);
    mi_free(L);
}

static void lcs_reply(struct mso *t, struct reply *r)
{
    struct lcs_opts o;
    const char *a = "", *b = "";
    size_t alen = 0, blen = 0;
    char ka = 'n', kb = 'n';
    lcs_value(t, 1, &a, &alen, &ka);
    lcs_value(t, 2, &b, &blen, &kb);
    if (ka == 'w' || kb == 'w') {
        reply_error(r, "ERR The specified keys must contain string values");
        return;
    }
    const char *err = lcs_parse(t, &o);
    if (err) {
        reply_error(r, err);
        return;
    }
    if (alen >= UINT32_MAX - 1 || blen >= UINT32_MAX - 1) {
        reply_error(r, "ERR String too long for LCS");
        return;
    }
    lcs_compute(r, a, (uint32_t)alen, b, (uint32_t)blen, &o);
}

static const struct mso_ops lcs_ops = {.hop = lcs_hop, .next = mso_one_hop, .reply = lcs_reply};

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM
#define MK CMD_MULTIKEY

const struct command string_commands[] = {
    {"get", 2, R | F, 1, 1, 1, cmd_get, .group = "string", .summary = "Get the value of a key", .since = "1.0.0", .acl = "read string fast"},
    {"set", -3, W | D, 1, 1, 1, cmd_set, .group = "string", .summary = "Set the string value of a key", .since = "1.0.0", .acl = "write string slow"},
    {"setnx", 3, W | D | F, 1, 1, 1, cmd_setnx, .group = "string", .summary = "Set the value of a key, only if the key does not exist", .since = "1.0.0", .acl = "write string fast"},
    {"setex", 4, W | D, 1, 1, 1, cmd_setex, .group = "string", .summary = "Set the value and expiration of a key", .since = "2.0.0", .acl = "write string slow"},
    {"psetex", 4, W | D, 1, 1, 1, cmd_psetex, .group = "string", .summary = "Set the value and expiration in milliseconds of a key", .since = "2.6.0", .acl = "write string slow"},
    {"getset", 3, W | D | F, 1, 1, 1, cmd_getset, .group = "string", .summary = "Set the string value of a key and return its old value", .since = "1.0.0", .acl = "write string fast"},
    {"getdel", 2, W | F, 1, 1, 1, cmd_getdel, .group = "string", .summary = "Get the value of a key and delete the key", .since = "6.2.0", .acl = "write string fast"},
    {"getex", -2, W | F, 1, 1, 1, cmd_getex, .group = "string", .summary = "Get the value of a key and optionally set its expiration", .since = "6.2.0", .acl = "write string fast"},
    {"strlen", 2, R | F, 1, 1, 1, cmd_strlen, .group = "string", .summary = "Get the length of the value stored in a key", .since = "2.2.0", .acl = "read string fast"},
    {"append", 3, W | D | F, 1, 1, 1, cmd_append, .group = "string", .summary = "Append a value to a key", .since = "2.0.0", .acl = "write string fast"},
    {"setrange", 4, W | D, 1, 1, 1, cmd_setrange, .group = "string", .summary = "Overwrite part of a string at key starting at the specified offset", .since = "2.2.0", .acl = "write string slow"},
    {"getrange", 4, R, 1, 1, 1, cmd_getrange, .group = "string", .summary = "Get a substring of the string stored at a key", .since = "2.4.0", .acl = "read string slow"},
    {"substr", 4, R, 1, 1, 1, cmd_getrange, .group = "string", .summary = "Get a substring of the string stored at a key", .since = "1.0.0", .acl = "read string slow"},
    {"incr", 2, W | D | F, 1, 1, 1, cmd_incr, .group = "string", .summary = "Increment the integer value of a key by one", .since = "1.0.0", .acl = "write string fast"},
    {"decr", 2, W | D | F, 1, 1, 1, cmd_decr, .group = "string", .summary = "Decrement the integer value of a key by one", .since = "1.0.0", .acl = "write string fast"},
    {"incrby", 3, W | D | F, 1, 1, 1, cmd_incrby, .group = "string", .summary = "Increment the integer value of a key by the given amount", .since = "1.0.0", .acl = "write string fast"},
    {"decrby", 3, W | D | F, 1, 1, 1, cmd_decrby, .group = "string", .summary = "Decrement the integer value of a key by the given number", .since = "1.0.0", .acl = "write string fast"},
    {"incrbyfloat", 3, W | D | F, 1, 1, 1, cmd_incrbyfloat, .group = "string", .summary = "Increment the float value of a key by the given amount", .since = "2.6.0", .acl = "write string fast"},
    {"mget", -2, R | F | MK, 1, -1, 1, NULL, .mso = &mget_ops, .group = "string", .summary = "Get the values of all the given keys", .since = "1.0.0", .acl = "read string fast"},
    {"mset", -3, W | D | MK, 1, -1, 2, cmd_mset_arity, .mso = &mset_ops, .getkeys = mset_getkeys, .group = "string", .summary = "Set multiple keys to multiple values", .since = "1.0.1", .acl = "write string slow"},
    {"msetnx", -3, W | D | MK, 1, -1, 2, cmd_mset_arity, .mso = &msetnx_ops, .getkeys = mset_getkeys, .group = "string", .summary = "Set multiple keys to multiple values, only if none of the keys exist", .since = "1.0.1", .acl = "write string slow"},
    {"lcs", -3, R | MK, 1, 2, 1, NULL, .mso = &lcs_ops, .group = "string", .summary = "Find longest common substring", .since = "7.0.0", .acl = "read string slow"},
    {NULL},
};
