/* server/cmd_list.c — the list command family: pushes, pops, ranges,
 * editing, LPOS, and the commands that move elements between keys (LMOVE,
 * RPOPLPUSH, LMPOP) with their blocking forms (BLPOP BRPOP BLMOVE
 * BRPOPLPUSH BLMPOP). The multi-key ones are mso operations (atomic when
 * their keys live on different threads); blocking goes through
 * server/blocking.h. Must not touch the quicklist's internals beyond
 * shard/t_list.h. */
#include "server/server.h"
#include "server/blocking.h"
#include "server/pubsub.h" /* pubsub: keyspace events */
#include "shard/t_list.h"
#include "shard/types.h"

#include <limits.h>
#include <mimalloc.h>
#include <string.h>

#define ERR_SYNTAX "ERR syntax error"
#define ERR_NOT_INT "ERR value is not an integer or out of range"
#define ERR_POSITIVE "ERR value is out of range, must be positive"

/* ---------- helpers ---------- */

static struct quicklist *list_of(struct entry *e) { return e->val.ptr; }

/* The list at key, NULL when missing; replies WRONGTYPE and sets *err. */
static struct entry *find_list(struct cmd_ctx *c, const struct arg *key, struct ks_ref *ref, bool *err)
{
    struct entry *e = db_find_type(c, key, OBJ_LIST, ref, err);
    if (*err)
        reply_error(&c->r, ERR_WRONGTYPE);
    return e;
}

static void reply_elem(struct reply *r, const unsigned char *p)
{
    char tmp[32];
    size_t len;
    const char *s = lp_get_str(p, tmp, &len);
    reply_bulk(r, s, len);
}

/* A popped list became empty: delete it (with the "del" event). */
static void delete_if_empty(struct cmd_ctx *c, const struct arg *key, struct entry *e, struct ks_ref *ref)
{
    if (list_of(e)->count)
        return;
    ks_delete(c->ks, c->db, ref);
    notify_keyspace_event(c, NOTIFY_GENERIC, "del", key); /* pubsub: keyspace event */
}

static bool parse_where(const struct arg *a, enum ql_end *end)
{
    if (arg_eq(a, "left"))
        *end = QL_HEAD;
    else if (arg_eq(a, "right"))
        *end = QL_TAIL;
    else
        return false;
    return true;
}

/* Redis's getRangeLongFromObjectOrReply with msg: both a non-integer and a
 * value outside [min, max] reply msg. */
static bool get_range(struct reply *r, const struct arg *a, long long min, long long max, long long *out,
                      const char *msg)
{
    long long v;
    if (!arg_to_ll(a, &v) || v < min || v > max) {
        reply_error(r, msg);
        return false;
    }
    *out = v;
    return true;
}

/* ---------- pushes ---------- */

static void push_generic(struct cmd_ctx *c, enum ql_end end, bool only_existing)
{
    bool err;
    struct ks_ref ref;
    const struct arg *key = &c->argv[1];
    struct entry *e = find_list(c, key, &ref, &err);
    if (err)
        return;
    if (!e) {
        if (only_existing) {
            reply_int(&c->r, 0);
            return;
        }
        e = entry_new_object(key->p, key->len, OBJ_LIST, OBJ_ENC_QUICKLIST, ql_new());
        db_add(c, key, e);
    }
    struct quicklist *ql = list_of(e);
    for (int i = 2; i < c->argc; i++)
        ql_push(ql, end, c->argv[i].p, c->argv[i].len);
    reply_int(&c->r, (int64_t)ql->count);
    notify_keyspace_event(c, NOTIFY_LIST, end == QL_HEAD ? "lpush" : "rpush", key); /* pubsub: keyspace event */
    db_signal_modified(c, key); /* multi, blocking */
}

static void cmd_lpush(struct cmd_ctx *c) { push_generic(c, QL_HEAD, false); }
static void cmd_rpush(struct cmd_ctx *c) { push_generic(c, QL_TAIL, false); }
static void cmd_lpushx(struct cmd_ctx *c) { push_generic(c, QL_HEAD, true); }
static void cmd_rpushx(struct cmd_ctx *c) { push_generic(c, QL_TAIL, true); }

/* ---------- pops ---------- */

/* Pop up to n elements from `end` as an array (or one bulk when !as_array). */
static uint64_t pop_reply(struct reply *r, struct quicklist *ql, enum ql_end end, uint64_t n, bool as_array)
{
    if (n > ql->count)
        n = ql->count;
    if (as_array)
        reply_array(r, (int64_t)n);
    for (uint64_t i = 0; i < n; i++) {
        struct ql_pos pos;
        ql_index(ql, end == QL_HEAD ? 0 : -1, &pos);
        reply_elem(r, pos.p);
        ql_delete(ql, &pos, end == QL_HEAD);
    }
    return n;
}

static void pop_generic(struct cmd_ctx *c, enum ql_end end)
{
    bool hascount = c->argc == 3;
    long long count = 0;
    if (c->argc > 3) {
        reply_errorf(&c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
        return;
    }
    if (hascount && !get_range(&c->r, &c->argv[2], 0, LONG_MAX, &count, ERR_POSITIVE))
        return;
    bool err;
    struct ks_ref ref;
    const struct arg *key = &c->argv[1];
    struct entry *e = find_list(c, key, &ref, &err);
    if (err)
        return;
    if (!e) {
        if (hascount)
            reply_null_array(&c->r);
        else
            reply_null(&c->r);
        return;
    }
    if (hascount && !count) {
        reply_array(&c->r, 0);
        return;
    }
    pop_reply(&c->r, list_of(e), end, hascount ? (uint64_t)count : 1, hascount);
    notify_keyspace_event(c, NOTIFY_LIST, end == QL_HEAD ? "lpop" : "rpop", key); /* pubsub: keyspace event */
    delete_if_empty(c, key, e, &ref);
    db_signal_modified(c, key); /* multi, blocking */
}

static void cmd_lpop(struct cmd_ctx *c) { pop_generic(c, QL_HEAD); }
static void cmd_rpop(struct cmd_ctx *c) { pop_generic(c, QL_TAIL); }

/* ---------- reads ---------- */

static void cmd_llen(struct cmd_ctx *c)
{
    bool err;
    struct ks_ref ref;
    struct entry *e = find_list(c, &c->argv[1], &ref, &err);
    if (!err)
        reply_int(&c->r, e ? (int64_t)list_of(e)->count : 0);
}

static void cmd_lindex(struct cmd_ctx *c)
{
    long long index;
    bool err;
    struct ks_ref ref;
    struct entry *e = find_list(c, &c->argv[1], &ref, &err);
    if (err)
        return;
    if (!e) {
        reply_null(&c->r);
        return;
    }
    if (!arg_get_ll(c, &c->argv[2], &index))
        return;
    struct ql_pos pos;
    if (ql_index(list_of(e), index, &pos))
        reply_elem(&c->r, pos.p);
    else
        reply_null(&c->r);
}

/* Redis's start/end normalisation; false when the range is empty. */
static bool clamp_range(long long *start, long long *end, long long len)
{
    if (*start < 0)
        *start += len;
    if (*end < 0)
        *end += len;
    if (*start < 0)
        *start = 0;
    if (*start > *end || *start >= len)
        return false;
    if (*end >= len)
        *end = len - 1;
    return true;
}

static void cmd_lrange(struct cmd_ctx *c)
{
    long long start, end;
    if (!arg_get_ll(c, &c->argv[2], &start) || !arg_get_ll(c, &c->argv[3], &end))
        return;
    bool err;
    struct ks_ref ref;
    struct entry *e = find_list(c, &c->argv[1], &ref, &err);
    if (err)
        return;
    if (!e || !clamp_range(&start, &end, (long long)list_of(e)->count)) {
        reply_array(&c->r, 0);
        return;
    }
    struct ql_pos pos;
    ql_index(list_of(e), start, &pos);
    reply_array(&c->r, end - start + 1);
    for (long long i = start; i <= end; i++) {
        reply_elem(&c->r, pos.p);
        ql_step(&pos, true);
    }
}

/* ---------- editing ---------- */

static void cmd_lset(struct cmd_ctx *c)
{
    long long index;
    bool err;
    struct ks_ref ref;
    const struct arg *key = &c->argv[1];
    struct entry *e = find_list(c, key, &ref, &err);
    if (err)
        return;
    if (!e) {
        reply_error(&c->r, "ERR no such key");
        return;
    }
    if (!arg_get_ll(c, &c->argv[2], &index))
        return;
    struct ql_pos pos;
    if (!ql_index(list_of(e), index, &pos)) {
        reply_error(&c->r, "ERR index out of range");
        return;
    }
    ql_replace(list_of(e), &pos, c->argv[3].p, c->argv[3].len);
    reply_ok(&c->r);
    notify_keyspace_event(c, NOTIFY_LIST, "lset", key); /* pubsub: keyspace event */
    db_signal_modified(c, key); /* multi, blocking */
}

static void cmd_linsert(struct cmd_ctx *c)
{
    bool after;
    if (arg_eq(&c->argv[2], "after"))
        after = true;
    else if (arg_eq(&c->argv[2], "before"))
        after = false;
    else {
        reply_error(&c->r, ERR_SYNTAX);
        return;
    }
    bool err;
    struct ks_ref ref;
    const struct arg *key = &c->argv[1];
    struct entry *e = find_list(c, key, &ref, &err);
    if (err)
        return;
    if (!e) {
        reply_int(&c->r, 0);
        return;
    }
    struct quicklist *ql = list_of(e);
    struct ql_pos pos;
    bool found = false;
    if (ql_index(ql, 0, &pos)) {
        do {
            if (lp_eq(pos.p, c->argv[3].p, c->argv[3].len)) {
                found = true;
                break;
            }
        } while (ql_step(&pos, true));
    }
    if (!found) {
        reply_int(&c->r, -1);
        return;
    }
    ql_insert(ql, &pos, after, c->argv[4].p, c->argv[4].len);
    notify_keyspace_event(c, NOTIFY_LIST, "linsert", key); /* pubsub: keyspace event */
    db_signal_modified(c, key); /* multi, blocking */
    reply_int(&c->r, (int64_t)ql->count);
}

static void cmd_lrem(struct cmd_ctx *c)
{
    long long toremove;
    if (!arg_get_ll(c, &c->argv[2], &toremove))
        return;
    bool err;
    struct ks_ref ref;
    const struct arg *key = &c->argv[1];
    struct entry *e = find_list(c, key, &ref, &err);
    if (err)
        return;
    if (!e) {
        reply_int(&c->r, 0);
        return;
    }
    struct quicklist *ql = list_of(e);
    bool forward = toremove >= 0;
    unsigned long long limit = toremove < 0 ? (unsigned long long)(-(toremove + 1)) + 1 : (unsigned long long)toremove;
    long long removed = 0;
    struct ql_pos pos;
    bool more = ql_index(ql, forward ? 0 : -1, &pos);
    while (more && pos.node) {
        if (lp_eq(pos.p, c->argv[3].p, c->argv[3].len)) {
            ql_delete(ql, &pos, forward);
            removed++;
            if (limit && (unsigned long long)removed == limit)
                break;
            more = pos.node != NULL;
        } else {
            more = ql_step(&pos, forward);
        }
    }
    if (removed) {
        notify_keyspace_event(c, NOTIFY_LIST, "lrem", key); /* pubsub: keyspace event */
        delete_if_empty(c, key, e, &ref);
        db_signal_modified(c, key); /* multi, blocking */
    }
    reply_int(&c->r, removed);
}

static void cmd_ltrim(struct cmd_ctx *c)
{
    long long start, end;
    if (!arg_get_ll(c, &c->argv[2], &start) || !arg_get_ll(c, &c->argv[3], &end))
        return;
    bool err;
    struct ks_ref ref;
    const struct arg *key = &c->argv[1];
    struct entry *e = find_list(c, key, &ref, &err);
    if (err)
        return;
    if (!e) {
        reply_ok(&c->r);
        return;
    }
    struct quicklist *ql = list_of(e);
    long long len = (long long)ql->count;
    if (!clamp_range(&start, &end, len)) {
        ql_delete_range(ql, 0, (uint64_t)len);
    } else {
        ql_delete_range(ql, (uint64_t)end + 1, (uint64_t)(len - end - 1));
        ql_delete_range(ql, 0, (uint64_t)start);
    }
    notify_keyspace_event(c, NOTIFY_LIST, "ltrim", key); /* pubsub: keyspace event */
    delete_if_empty(c, key, e, &ref);
    db_signal_modified(c, key); /* multi, blocking */
    reply_ok(&c->r);
}

static void cmd_lpos(struct cmd_ctx *c)
{
    long long rank = 1, count = -1, maxlen = 0;
    for (int j = 3; j < c->argc; j++) {
        bool more = j + 1 < c->argc;
        if (arg_eq(&c->argv[j], "rank") && more) {
            if (!arg_get_ll(c, &c->argv[++j], &rank))
                return;
            if (rank == 0) {
                reply_error(&c->r, "ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
                                   "second ... or use negative to start from the end of the list");
                return;
            }
            if (rank == LLONG_MIN) {
                reply_error(&c->r, ERR_NOT_INT);
                return;
            }
        } else if (arg_eq(&c->argv[j], "count") && more) {
            if (!get_range(&c->r, &c->argv[++j], 0, LONG_MAX, &count, "ERR COUNT can't be negative"))
                return;
        } else if (arg_eq(&c->argv[j], "maxlen") && more) {
            if (!get_range(&c->r, &c->argv[++j], 0, LONG_MAX, &maxlen, "ERR MAXLEN can't be negative"))
                return;
        } else {
            reply_error(&c->r, ERR_SYNTAX);
            return;
        }
    }
    bool err;
    struct ks_ref ref;
    struct entry *e = find_list(c, &c->argv[1], &ref, &err);
    if (err)
        return;
    if (!e) {
        if (count != -1)
            reply_array(&c->r, 0);
        else
            reply_null(&c->r);
        return;
    }
    struct quicklist *ql = list_of(e);
    bool forward = rank > 0;
    long long skip = (forward ? rank : -rank) - 1;
    long long index = 0, matches = 0;
    struct buf found;
    buf_init(&found);
    struct ql_pos pos;
    bool more = ql_index(ql, forward ? 0 : -1, &pos);
    for (; more && (!maxlen || index < maxlen); index++, more = ql_step(&pos, forward)) {
        if (!lp_eq(pos.p, c->argv[2].p, c->argv[2].len))
            continue;
        if (skip) {
            skip--;
            continue;
        }
        int64_t at = forward ? index : (int64_t)ql->count - index - 1;
        buf_put(&found, &at, sizeof(at));
        matches++;
        if (count != -1 && count != 0 && matches == count)
            break;
        if (count == -1)
            break;
    }
    if (count == -1) {
        if (matches) {
            int64_t at;
            memcpy(&at, found.data, sizeof(at));
            reply_int(&c->r, at);
        } else {
            reply_null(&c->r);
        }
    } else {
        reply_array(&c->r, matches);
        for (long long i = 0; i < matches; i++) {
            int64_t at;
            memcpy(&at, found.data + i * (long long)sizeof(at), sizeof(at));
            reply_int(&c->r, at);
        }
    }
    buf_free(&found);
}

/* ---------- moving between keys: LMOVE RPOPLPUSH LMPOP and blocking forms ----------
 *
 * One mso for all of them. Hop 0: every part finds, in argv order, its first
 * source key that is a non-empty list or not a list, and checks the
 * destination's type. `next` picks the first such key over all parts. Hop 1:
 * the part owning it pops into t->scratch (elements as u32 length + bytes).
 * Hop 2 (moves): the destination's part pushes the element. */

enum mv_kind { MV_POP, MV_MPOP, MV_MOVE };

struct mv_args {
    enum mv_kind kind;
    bool blocking;
    enum ql_end from, to;
    int first_key, nkeys; /* source keys: argv[first_key .. first_key+nkeys) */
    int dst;              /* argv index of the destination (moves) */
    long long count;      /* MPOP */
    int64_t timeout_ms;
    const char *err;      /* parse error to reply */
};

/* Parse argv by command name; errors in Redis's order. */
static void mv_parse(const struct command *cmd, int argc, const struct arg *argv, struct mv_args *a)
{
    memset(a, 0, sizeof(*a));
    const char *n = cmd->name;
    a->blocking = n[0] == 'b';
    if (!strcmp(n, "blpop") || !strcmp(n, "brpop")) {
        a->kind = MV_POP;
        a->from = n[1] == 'l' ? QL_HEAD : QL_TAIL;
        a->first_key = 1;
        a->nkeys = argc - 2;
    } else if (!strcmp(n, "lmove") || !strcmp(n, "blmove")) {
        a->kind = MV_MOVE;
        a->first_key = 1;
        a->nkeys = 1;
        a->dst = 2;
        if (!parse_where(&argv[3], &a->from) || !parse_where(&argv[4], &a->to)) {
            a->err = ERR_SYNTAX;
            return;
        }
    } else if (!strcmp(n, "rpoplpush") || !strcmp(n, "brpoplpush")) {
        a->kind = MV_MOVE;
        a->first_key = 1;
        a->nkeys = 1;
        a->dst = 2;
        a->from = QL_TAIL;
        a->to = QL_HEAD;
    } else { /* lmpop / blmpop */
        a->kind = MV_MPOP;
        int ni = a->blocking ? 2 : 1;
        long long numkeys;
        if (!arg_to_ll(&argv[ni], &numkeys) || numkeys < 1 || numkeys > LONG_MAX) {
            a->err = "ERR numkeys should be greater than 0";
            return;
        }
        if (numkeys >= argc - ni) {
            a->err = ERR_SYNTAX;
            return;
        }
        a->first_key = ni + 1;
        a->nkeys = (int)numkeys;
        int wi = ni + 1 + (int)numkeys;
        if (!parse_where(&argv[wi], &a->from)) {
            a->err = ERR_SYNTAX;
            return;
        }
        a->count = -1;
        for (int j = wi + 1; j < argc; j++) {
            if (a->count == -1 && arg_eq(&argv[j], "count") && j + 1 < argc) {
                long long v;
                j++;
                if (!arg_to_ll(&argv[j], &v) || v < 1) {
                    a->err = "ERR count should be greater than 0";
                    return;
                }
                a->count = v;
            } else {
                a->err = ERR_SYNTAX;
                return;
            }
        }
        if (a->count == -1)
            a->count = 1;
    }
    if (a->blocking) {
        int ti = a->kind == MV_MPOP ? 1 : argc - 1;
        a->err = blocking_timeout_check(&argv[ti], false, &a->timeout_ms);
    }
}

static bool is_source(const struct mv_args *a, int idx) { return idx >= a->first_key && idx < a->first_key + a->nkeys; }

/* Per-part results of hop 0: count = first argv index that decides (0: none),
 * count2 = 1 non-empty list, 2 wrong type; data bit: destination wrong type. */
static void mv_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    struct mv_args a;
    mv_parse(t->cmd, t->argc, t->argv, &a);
    struct mso_part *pt = &t->parts[part];
    if (a.err)
        return;
    bool serving = blocking_mso_serving(t);
    if (hop == 0) {
        pt->count = 0;
        pt->count2 = 0;
        pt->data = NULL;
        for (int k = 0; k < c->nkeys; k++) {
            int idx = c->keyidx[k];
            struct ks_ref ref;
            struct entry *e = db_find(c, &t->argv[idx], &ref);
            if (a.kind == MV_MOVE && idx == a.dst) {
                if (e && e->type != OBJ_LIST)
                    t->i64b = 1; /* destination of the wrong type (only this part writes it) */
                continue;
            }
            if (!is_source(&a, idx) || !e)
                continue;
            int kind = e->type == OBJ_LIST ? 1 : 2;
            if (kind == 2 && serving)
                continue;
            if (!pt->count || idx < pt->count) {
                pt->count = idx;
                pt->count2 = kind;
            }
        }
        return;
    }
    if (hop == 1) { /* pop from the chosen key, if it is ours */
        int idx = (int)t->i64;
        bool mine = false;
        for (int k = 0; k < c->nkeys; k++)
            mine |= c->keyidx[k] == idx && !(a.kind == MV_MOVE && idx == a.dst && idx != a.first_key);
        if (!mine)
            return;
        const struct arg *key = &t->argv[idx];
        struct ks_ref ref;
        struct entry *e = db_find(c, key, &ref);
        if (!e || e->type != OBJ_LIST)
            return;
        struct quicklist *ql = list_of(e);
        uint64_t n = a.kind == MV_MPOP ? (uint64_t)a.count : 1;
        if (n > ql->count)
            n = ql->count;
        t->scratch.len = 0;
        for (uint64_t i = 0; i < n; i++) {
            struct ql_pos pos;
            ql_index(ql, a.from == QL_HEAD ? 0 : -1, &pos);
            char tmp[32];
            size_t len;
            const char *s = lp_get_str(pos.p, tmp, &len);
            uint32_t l = (uint32_t)len;
            buf_put(&t->scratch, &l, sizeof(l));
            buf_put(&t->scratch, s, len);
            ql_delete(ql, &pos, a.from == QL_HEAD);
        }
        t->i64b = (int64_t)n;
        notify_keyspace_event(c, NOTIFY_LIST, a.from == QL_HEAD ? "lpop" : "rpop", key); /* pubsub: keyspace event */
        delete_if_empty(c, key, e, &ref);
        db_signal_modified(c, key); /* multi, blocking */
        return;
    }
    /* hop 2: push the moved element onto the destination, if it is ours */
    bool mine = false;
    for (int k = 0; k < c->nkeys; k++)
        mine |= c->keyidx[k] == a.dst;
    if (!mine)
        return;
    const struct arg *key = &t->argv[a.dst];
    struct ks_ref ref;
    struct entry *e = db_find(c, key, &ref);
    if (!e) {
        e = entry_new_object(key->p, key->len, OBJ_LIST, OBJ_ENC_QUICKLIST, ql_new());
        db_add(c, key, e);
    }
    uint32_t l;
    memcpy(&l, t->scratch.data, sizeof(l));
    ql_push(list_of(e), a.to, t->scratch.data + sizeof(l), l);
    notify_keyspace_event(c, NOTIFY_LIST, a.to == QL_HEAD ? "lpush" : "rpush", key); /* pubsub: keyspace event */
    db_signal_modified(c, key); /* multi, blocking */
}

/* t->i64: the chosen source (argv index); state after hop 0 in t->i64b:
 * 1 = destination wrong type. t->state: reply kind (see mv_reply). */
enum mv_outcome { MVO_NONE = 0, MVO_ERR, MVO_WRONGTYPE, MVO_EMPTY, MVO_DONE };

static int mv_next(struct mso *t, int hop)
{
    struct mv_args a;
    mv_parse(t->cmd, t->argc, t->argv, &a);
    if (a.err) {
        t->failed = MVO_ERR;
        return -1;
    }
    if (hop == 0) {
        int best = 0, kind = 0;
        for (int p = 0; p < t->nparts; p++) {
            int idx = (int)t->parts[p].count;
            if (idx && (!best || idx < best)) {
                best = idx;
                kind = (int)t->parts[p].count2;
            }
        }
        if (kind == 2 || (best && a.kind == MV_MOVE && t->i64b == 1)) {
            t->failed = MVO_WRONGTYPE;
            return -1;
        }
        if (!best) {
            if (a.blocking && blocking_mso_may_block(t)) {
                if (a.kind == MV_MOVE)
                    blocking_mso_skip_arg(t, a.dst);
                blocking_mso_block(t, a.timeout_ms);
            }
            t->failed = MVO_EMPTY;
            return -1;
        }
        t->i64 = best;
        t->i64b = 0;
        return 1;
    }
    if (hop == 1 && a.kind == MV_MOVE && t->i64b > 0)
        return 2;
    t->failed = t->i64b > 0 ? MVO_DONE : MVO_EMPTY;
    return -1;
}

static void mv_reply(struct mso *t, struct reply *r)
{
    if (blocking_mso_blocked(t))
        return;
    struct mv_args a;
    mv_parse(t->cmd, t->argc, t->argv, &a);
    switch (t->failed) {
    case MVO_ERR:
        reply_error(r, a.err);
        return;
    case MVO_WRONGTYPE:
        reply_error(r, ERR_WRONGTYPE);
        return;
    case MVO_EMPTY:
        if (a.kind == MV_MOVE)
            reply_null(r);
        else
            reply_null_array(r);
        return;
    default:
        break;
    }
    const char *p = t->scratch.data;
    uint32_t l;
    if (a.kind == MV_MOVE) {
        memcpy(&l, p, sizeof(l));
        reply_bulk(r, p + sizeof(l), l);
        return;
    }
    const struct arg *key = &t->argv[t->i64];
    reply_array(r, 2);
    reply_bulk(r, key->p, key->len);
    if (a.kind == MV_MPOP)
        reply_array(r, t->i64b);
    for (int64_t i = 0; i < t->i64b; i++) {
        memcpy(&l, p, sizeof(l));
        reply_bulk(r, p + sizeof(l), l);
        p += sizeof(l) + l;
    }
}

static const struct mso_ops mv_ops = {.hop = mv_hop, .next = mv_next, .reply = mv_reply};

/* Reached only when key extraction found no keys (a bad numkeys): reply
 * the parse error. */
static void cmd_mv_nokeys(struct cmd_ctx *c)
{
    struct mv_args a;
    mv_parse(c->cmd, c->argc, c->argv, &a);
    reply_error(&c->r, a.err ? a.err : ERR_SYNTAX);
}

static int mpop_getkeys_at(struct arg *argv, int argc, int *keys, int max, int ni)
{
    long long n;
    if (argc <= ni || !arg_to_ll(&argv[ni], &n) || n < 1 || n >= argc - ni)
        return 0;
    int k = 0;
    for (int i = ni + 1; i <= ni + n && k < max; i++)
        keys[k++] = i;
    return k;
}

static int lmpop_getkeys(struct arg *argv, int argc, int *keys, int max)
{
    return mpop_getkeys_at(argv, argc, keys, max, 1);
}

static int blmpop_getkeys(struct arg *argv, int argc, int *keys, int max)
{
    return mpop_getkeys_at(argv, argc, keys, max, 2);
}

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM
#define NS CMD_NOSCRIPT
#define B CMD_BLOCKING
#define MK CMD_MULTIKEY
#define PUSH_CX "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."
#define MV_SUM "Pop an element from a list, push it to another list and return it; or block until one is available"
#define MPOP_CX "O(N+M) where N is the number of provided keys and M is the number of elements returned."

const struct command list_commands[] = {
    {"lpush", -3, W | D | F, 1, 1, 1, cmd_lpush, .group = "list", .summary = "Prepend one or multiple elements to a list", .since = "1.0.0", .complexity = PUSH_CX, .acl = "write list fast"},
    {"rpush", -3, W | D | F, 1, 1, 1, cmd_rpush, .group = "list", .summary = "Append one or multiple elements to a list", .since = "1.0.0", .complexity = PUSH_CX, .acl = "write list fast"},
    {"lpushx", -3, W | D | F, 1, 1, 1, cmd_lpushx, .group = "list", .summary = "Prepend an element to a list, only if the list exists", .since = "2.2.0", .complexity = PUSH_CX, .acl = "write list fast"},
    {"rpushx", -3, W | D | F, 1, 1, 1, cmd_rpushx, .group = "list", .summary = "Append an element to a list, only if the list exists", .since = "2.2.0", .complexity = PUSH_CX, .acl = "write list fast"},
    {"lpop", -2, W | F, 1, 1, 1, cmd_lpop, .group = "list", .summary = "Remove and get the first elements in a list", .since = "1.0.0", .complexity = "O(N) where N is the number of elements returned", .acl = "write list fast"},
    {"rpop", -2, W | F, 1, 1, 1, cmd_rpop, .group = "list", .summary = "Remove and get the last elements in a list", .since = "1.0.0", .complexity = "O(N) where N is the number of elements returned", .acl = "write list fast"},
    {"llen", 2, R | F, 1, 1, 1, cmd_llen, .group = "list", .summary = "Get the length of a list", .since = "1.0.0", .complexity = "O(1)", .acl = "read list fast"},
    {"lrange", 4, R, 1, 1, 1, cmd_lrange, .group = "list", .summary = "Get a range of elements from a list", .since = "1.0.0", .complexity = "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.", .acl = "read list slow"},
    {"lindex", 3, R, 1, 1, 1, cmd_lindex, .group = "list", .summary = "Get an element from a list by its index", .since = "1.0.0", .complexity = "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).", .acl = "read list slow"},
    {"lset", 4, W | D, 1, 1, 1, cmd_lset, .group = "list", .summary = "Set the value of an element in a list by its index", .since = "1.0.0", .complexity = "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).", .acl = "write list slow"},
    {"linsert", 5, W | D, 1, 1, 1, cmd_linsert, .group = "list", .summary = "Insert an element before or after another element in a list", .since = "2.2.0", .complexity = "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).", .acl = "write list slow"},
    {"lrem", 4, W, 1, 1, 1, cmd_lrem, .group = "list", .summary = "Remove elements from a list", .since = "1.0.0", .complexity = "O(N+M) where N is the length of the list and M is the number of elements removed.", .acl = "write list slow"},
    {"ltrim", 4, W, 1, 1, 1, cmd_ltrim, .group = "list", .summary = "Trim a list to the specified range", .since = "1.0.0", .complexity = "O(N) where N is the number of elements to be removed by the operation.", .acl = "write list slow"},
    {"lpos", -3, R, 1, 1, 1, cmd_lpos, .group = "list", .summary = "Return the index of matching elements on a list", .since = "6.0.6", .complexity = "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.", .acl = "read list slow"},
    {"lmove", 5, W | D | MK, 1, 2, 1, cmd_mv_nokeys, .mso = &mv_ops, .group = "list", .summary = "Pop an element from a list, push it to another list and return it", .since = "6.2.0", .complexity = "O(1)", .acl = "write list slow"},
    {"rpoplpush", 3, W | D | MK, 1, 2, 1, cmd_mv_nokeys, .mso = &mv_ops, .group = "list", .summary = "Remove the last element in a list, prepend it to another list and return it", .since = "1.2.0", .complexity = "O(1)", .acl = "write list slow"},
    {"lmpop", -4, W | MK | CMD_MOVABLE_KEYS, 0, 0, 0, cmd_mv_nokeys, .mso = &mv_ops, .getkeys = lmpop_getkeys, .group = "list", .summary = "Pop elements from a list", .since = "7.0.0", .complexity = MPOP_CX, .acl = "write list slow"},
    {"blpop", -3, W | NS | B | MK, 1, -2, 1, cmd_mv_nokeys, .mso = &mv_ops, .group = "list", .summary = "Remove and get the first element in a list, or block until one is available", .since = "2.0.0", .complexity = "O(N) where N is the number of provided keys.", .acl = "write list slow blocking"},
    {"brpop", -3, W | NS | B | MK, 1, -2, 1, cmd_mv_nokeys, .mso = &mv_ops, .group = "list", .summary = "Remove and get the last element in a list, or block until one is available", .since = "2.0.0", .complexity = "O(N) where N is the number of provided keys.", .acl = "write list slow blocking"},
    {"blmove", 6, W | D | NS | B | MK, 1, 2, 1, cmd_mv_nokeys, .mso = &mv_ops, .group = "list", .summary = MV_SUM, .since = "6.2.0", .complexity = "O(1)", .acl = "write list slow blocking"},
    {"brpoplpush", 4, W | D | NS | B | MK, 1, 2, 1, cmd_mv_nokeys, .mso = &mv_ops, .group = "list", .summary = MV_SUM, .since = "2.2.0", .complexity = "O(1)", .acl = "write list slow blocking"},
    {"blmpop", -5, W | B | MK | CMD_MOVABLE_KEYS, 0, 0, 0, cmd_mv_nokeys, .mso = &mv_ops, .getkeys = blmpop_getkeys, .group = "list", .summary = "Pop elements from a list, or block until one is available", .since = "7.0.0", .complexity = MPOP_CX, .acl = "write list slow blocking"},
    {0},
};
