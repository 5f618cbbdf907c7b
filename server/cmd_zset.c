/* server/cmd_zset.c — the sorted set command family: ZADD ZINCRBY ZREM
 * ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK ZCOUNT ZLEXCOUNT, the ZRANGE family
 * (ZRANGE ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX
 * ZREVRANGEBYLEX), ZREMRANGEBY{RANK,SCORE,LEX}, ZPOPMIN ZPOPMAX ZRANDMEMBER
 * ZSCAN on one key; ZRANGESTORE, ZUNION ZINTER ZDIFF ZINTERCARD
 * ZUNIONSTORE ZINTERSTORE ZDIFFSTORE and ZMPOP as mso hops (transaction.c),
 * atomic when their keys sit on different threads: members cross threads
 * only as bytes (member, score) and every value is built on its owner's
 * heap. Replies, errors and keyspace events as Redis 7.0's t_zset.c.
 * Owns: zset command semantics and the zset store helpers of cmd_zset.h;
 * the value's structure is shard/t_zset.h. */
#include "server/cmd_zset.h"
#include "server/blocking.h"
#include "server/glob.h"
#include "server/pubsub.h" /* pubsub: keyspace events */
#include "shard/t_zset.h"
#include "shard/t_set.h"
#include "shard/table.h"
#include "shard/types.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ERR_MINMAX_FLOAT[] = "ERR min or max is not a float";
static const char ERR_MINMAX_LEX[] = "ERR min or max not valid string range item";

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

/* ---------- lookups ---------- */

/* lookupKeyRead + checkType. NULL when missing or of another type. */
static struct entry *find_read(struct cmd_ctx *c, const struct arg *key, struct ks_ref *ref, bool *wrong)
{
    struct entry *e = db_find(c, key, ref);
    *wrong = false;
    if (!e) {
        c->ks->stats.keyspace_misses++;
        return NULL;
    }
    c->ks->stats.keyspace_hits++;
    db_touch(c, e);
    if (e->type != OBJ_ZSET) {
        *wrong = true;
        return NULL;
    }
    return e;
}

/* lookupKeyWrite + checkType: no statistics. */
static struct entry *find_write(struct cmd_ctx *c, const struct arg *key, struct ks_ref *ref, bool *wrong)
{
    struct entry *e = db_find(c, key, ref);
    *wrong = false;
    if (!e)
        return NULL;
    db_touch(c, e);
    if (e->type != OBJ_ZSET) {
        *wrong = true;
        return NULL;
    }
    return e;
}

/* The key's table slot may move when the zset is edited; look it up again
 * before deleting. */
static void delete_key(struct cmd_ctx *c, const struct arg *key)
{
    struct ks_ref ref;
    if (db_find(c, key, &ref))
        ks_delete(c->ks, c->db, &ref);
}

/* A NUL-terminated copy of an argument (for strtod). Free with arg_cstr_free. */
static char *arg_cstr(const struct arg *a, char *tmp, size_t cap)
{
    char *s = a->len < cap ? tmp : mi_malloc(a->len + 1);
    memcpy(s, a->p, a->len);
    s[a->len] = 0;
    return s;
}

static void arg_cstr_free(char *s, char *tmp)
{
    if (s != tmp)
        mi_free(s);
}

/* getDoubleFromObject: strtod over the whole argument, whatever its length;
 * no leading space, no NaN, no overflow. */
static bool arg_double(const struct arg *a, double *out)
{
    if (a->len < 200)
        return arg_to_double(a, out);
    char tmp[8];
    char *s = arg_cstr(a, tmp, sizeof(tmp));
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    bool ok = !isspace((unsigned char)s[0]) && *end == 0 && !isnan(v) &&
              !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO));
    arg_cstr_free(s, tmp);
    *out = v;
    return ok;
}

/* zslParseRange's one bound: "(" makes it exclusive; strtod must take the
 * whole rest and not give NaN. */
static bool parse_score_bound(const struct arg *a, double *v, bool *ex)
{
    char tmp[128];
    char *s = arg_cstr(a, tmp, sizeof(tmp));
    char *p = s, *end;
    *ex = false;
    if (*p == '(') {
        *ex = true;
        p++;
    }
    *v = strtod(p, &end);
    bool ok = *end == 0 && !isnan(*v);
    arg_cstr_free(s, tmp);
    return ok;
}

static bool parse_score_range(const struct arg *min, const struct arg *max, struct zrange_spec *r)
{
    return parse_score_bound(min, &r->min, &r->minex) && parse_score_bound(max, &r->max, &r->maxex);
}

/* zslParseLexRangeItem: "+", "-", or "(" / "[" followed by the bytes. */
static bool parse_lex_bound(const struct arg *a, const char **s, size_t *n, int *inf, bool *ex)
{
    *inf = 0;
    *ex = false;
    *s = NULL;
    *n = 0;
    if (a->len == 0)
        return false;
    switch (a->p[0]) {
    case '+':
    case '-':
        if (a->len != 1)
            return false;
        *inf = a->p[0] == '+' ? 1 : -1;
        return true;
    case '(':
    case '[':
        *ex = a->p[0] == '(';
        *s = a->p + 1;
        *n = a->len - 1;
        return true;
    default:
        return false;
    }
}

static bool parse_lex_range(const struct arg *min, const struct arg *max, struct zlex_spec *r)
{
    return parse_lex_bound(min, &r->min, &r->minlen, &r->mininf, &r->minex) &&
           parse_lex_bound(max, &r->max, &r->maxlen, &r->maxinf, &r->maxex);
}

/* A member and, when asked, its score, as the ZRANGE family replies them. */
static void reply_elem(struct reply *r, const char *m, size_t len, double score, bool withscores)
{
    if (withscores && r->resp > 2)
        reply_array(r, 2);
    reply_bulk(r, m, len);
    if (withscores)
        reply_double(r, score);
}

static void reply_elems_header(struct reply *r, int64_t n, bool withscores)
{
    reply_array(r, withscores && r->resp == 2 ? n * 2 : n);
}

/* ---------- ZADD ZINCRBY ---------- */

static void zadd_generic(struct cmd_ctx *c, int flags)
{
    const struct arg *key = &c->argv[1];
    bool ch = false;
    int idx = 2;
    for (; idx < c->argc; idx++) {
        const struct arg *o = &c->argv[idx];
        if (arg_eq(o, "nx"))
            flags |= ZADD_IN_NX;
        else if (arg_eq(o, "xx"))
            flags |= ZADD_IN_XX;
        else if (arg_eq(o, "ch"))
            ch = true;
        else if (arg_eq(o, "incr"))
            flags |= ZADD_IN_INCR;
        else if (arg_eq(o, "gt"))
            flags |= ZADD_IN_GT;
        else if (arg_eq(o, "lt"))
            flags |= ZADD_IN_LT;
        else
            break;
    }
    bool incr = flags & ZADD_IN_INCR, nx = flags & ZADD_IN_NX, xx = flags & ZADD_IN_XX;
    bool gt = flags & ZADD_IN_GT, lt = flags & ZADD_IN_LT;
    int elements = c->argc - idx;
    if (elements % 2 || !elements) {
        reply_error(&c->r, ERR_SYNTAX);
        return;
    }
    elements /= 2;
    if (nx && xx) {
        reply_error(&c->r, "ERR XX and NX options at the same time are not compatible");
        return;
    }
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
        reply_error(&c->r, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if (incr && elements > 1) {
        reply_error(&c->r, "ERR INCR option supports a single increment-element pair");
        return;
    }
    double *scores = mi_malloc(sizeof(double) * (size_t)elements);
    for (int j = 0; j < elements; j++) {
        if (!arg_double(&c->argv[idx + 2 * j], &scores[j])) {
            reply_error(&c->r, ERR_NOT_FLOAT);
            mi_free(scores);
            return;
        }
    }
    bool wrong;
    struct ks_ref ref;
    struct entry *e = find_write(c, key, &ref, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        mi_free(scores);
        return;
    }
    int added = 0, updated = 0, processed = 0;
    double score = 0;
    if (!e && !xx) {
        e = zset_new_entry(key->p, key->len, 0, c->argv[idx + 1].len);
        db_add(c, key, e);
    }
    for (int j = 0; e && j < elements; j++) {
        const struct arg *m = &c->argv[idx + 1 + 2 * j];
        int out;
        double newscore = 0;
        if (!zset_add(e, scores[j], m->p, m->len, flags, &out, &newscore)) {
            reply_error(&c->r, "ERR resulting score is not a number (NaN)");
            goto done;
        }
        added += (out & ZADD_OUT_ADDED) != 0;
        updated += (out & ZADD_OUT_UPDATED) != 0;
        processed += !(out & ZADD_OUT_NOP);
        score = newscore;
    }
    if (incr) {
        if (processed)
            reply_double(&c->r, score);
        else
            reply_null(&c->r);
    } else {
        reply_int(&c->r, ch ? added + updated : added);
    }
done:
    mi_free(scores);
    if (added || updated) {
        db_signal_modified(c, key);
        notify_keyspace_event(c, NOTIFY_ZSET, incr ? "zincr" : "zadd", key); /* pubsub: keyspace event */
    }
}

static void cmd_zadd(struct cmd_ctx *c) { zadd_generic(c, 0); }
static void cmd_zincrby(struct cmd_ctx *c) { zadd_generic(c, ZADD_IN_INCR); }

/* ---------- ZREM ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK ZCOUNT ZLEXCOUNT ---------- */

static void cmd_zrem(struct cmd_ctx *c)
{
    const struct arg *key = &c->argv[1];
    bool wrong;
    struct entry *e = find_write(c, key, NULL, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return;
    }
    if (!e) {
        reply_int(&c->r, 0);
        return;
    }
    int64_t deleted = 0;
    bool removed = false;
    for (int j = 2; j < c->argc; j++) {
        deleted += zset_del(e, c->argv[j].p, c->argv[j].len);
        if (zset_card(e) == 0) {
            delete_key(c, key);
            removed = true;
            break;
        }
    }
    if (deleted) {
        notify_keyspace_event(c, NOTIFY_ZSET, "zrem", key); /* pubsub: keyspace event */
        if (removed)
            notify_keyspace_event(c, NOTIFY_GENERIC, "del", key); /* pubsub: keyspace event */
        db_signal_modified(c, key);
    }
    reply_int(&c->r, deleted);
}

static void cmd_zcard(struct cmd_ctx *c)
{
    bool wrong;
    struct entry *e = find_read(c, &c->argv[1], NULL, &wrong);
    if (wrong)
        reply_error(&c->r, ERR_WRONGTYPE);
    else
        reply_int(&c->r, e ? (int64_t)zset_card(e) : 0);
}

static void cmd_zscore(struct cmd_ctx *c)
{
    bool wrong;
    struct entry *e = find_read(c, &c->argv[1], NULL, &wrong);
    double s;
    if (wrong)
        reply_error(&c->r, ERR_WRONGTYPE);
    else if (e && zset_score(e, c->argv[2].p, c->argv[2].len, &s))
        reply_double(&c->r, s);
    else
        reply_null(&c->r);
}

static void cmd_zmscore(struct cmd_ctx *c)
{
    bool wrong;
    struct entry *e = find_read(c, &c->argv[1], NULL, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return;
    }
    reply_array(&c->r, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double s;
        if (e && zset_score(e, c->argv[j].p, c->argv[j].len, &s))
            reply_double(&c->r, s);
        else
            reply_null(&c->r);
    }
}

static void zrank_generic(struct cmd_ctx *c, bool rev)
{
    bool wrong;
    struct entry *e = find_read(c, &c->argv[1], NULL, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return;
    }
    long rank = e ? zset_rank(e, c->argv[2].p, c->argv[2].len, rev, NULL) : -1;
    if (rank < 0)
        reply_null(&c->r);
    else
        reply_int(&c->r, rank);
}

static void cmd_zrank(struct cmd_ctx *c) { zrank_generic(c, false); }
static void cmd_zrevrank(struct cmd_ctx *c) { zrank_generic(c, true); }

static void cmd_zcount(struct cmd_ctx *c)
{
    struct zrange_spec r;
    if (!parse_score_range(&c->argv[2], &c->argv[3], &r)) {
        reply_error(&c->r, ERR_MINMAX_FLOAT);
        return;
    }
    bool wrong;
    struct entry *e = find_read(c, &c->argv[1], NULL, &wrong);
    if (wrong)
        reply_error(&c->r, ERR_WRONGTYPE);
    else
        reply_int(&c->r, e ? (int64_t)zset_count_score(e, &r) : 0);
}

static void cmd_zlexcount(struct cmd_ctx *c)
{
    struct zlex_spec r;
    if (!parse_lex_range(&c->argv[2], &c->argv[3], &r)) {
        reply_error(&c->r, ERR_MINMAX_LEX);
        return;
    }
    bool wrong;
    struct entry *e = find_read(c, &c->argv[1], NULL, &wrong);
    if (wrong)
        reply_error(&c->r, ERR_WRONGTYPE);
    else
        reply_int(&c->r, e ? (int64_t)zset_count_lex(e, &r) : 0);
}

/* ---------- the ZRANGE family ---------- */

enum zr_type { ZR_AUTO, ZR_RANK, ZR_SCORE, ZR_LEX };
enum zr_dir { ZD_AUTO, ZD_FWD, ZD_REV };

struct zrange_req {
    int type;
    bool rev;
    bool withscores;
    long long start, end;     /* ZR_RANK */
    long long offset, limit;  /* ZR_SCORE / ZR_LEX; limit -1: all */
    struct zrange_spec score;
    struct zlex_spec lex;
};

/* zrangeGenericCommand's argument checks: NULL, or the error to reply. */
static const char *zrange_parse(const struct arg *argv, int argc, int argc_start, bool store, int type, int dir,
                                struct zrange_req *q)
{
    memset(q, 0, sizeof(*q));
    q->limit = -1;
    for (int j = argc_start + 3; j < argc; j++) {
        int left = argc - j - 1;
        if (!store && arg_eq(&argv[j], "withscores")) {
            q->withscores = true;
        } else if (arg_eq(&argv[j], "limit") && left >= 2) {
            if (!arg_to_ll(&argv[j + 1], &q->offset) || !arg_to_ll(&argv[j + 2], &q->limit))
                return ERR_NOT_INT;
            j += 2;
        } else if (dir == ZD_AUTO && arg_eq(&argv[j], "rev")) {
            dir = ZD_REV;
        } else if (type == ZR_AUTO && arg_eq(&argv[j], "bylex")) {
            type = ZR_LEX;
        } else if (type == ZR_AUTO && arg_eq(&argv[j], "byscore")) {
            type = ZR_SCORE;
        } else {
            return ERR_SYNTAX;
        }
    }
    if (dir == ZD_AUTO)
        dir = ZD_FWD;
    if (type == ZR_AUTO)
        type = ZR_RANK;
    q->type = type;
    q->rev = dir == ZD_REV;
    if (q->limit != -1 && type == ZR_RANK)
        return "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
    if (q->withscores && type == ZR_LEX)
        return "ERR syntax error, WITHSCORES not supported in combination with BYLEX";
    int minidx = argc_start + 1, maxidx = argc_start + 2;
    if (q->rev && type != ZR_RANK) {
        minidx = argc_start + 2;
        maxidx = argc_start + 1;
    }
    switch (type) {
    case ZR_RANK:
        if (!arg_to_ll(&argv[minidx], &q->start) || !arg_to_ll(&argv[maxidx], &q->end))
            return ERR_NOT_INT;
        break;
    case ZR_SCORE:
        if (!parse_score_range(&argv[minidx], &argv[maxidx], &q->score))
            return ERR_MINMAX_FLOAT;
        break;
    default:
        if (!parse_lex_range(&argv[minidx], &argv[maxidx], &q->lex))
            return ERR_MINMAX_LEX;
        break;
    }
    return NULL;
}

typedef void (*zrange_emit_fn)(void *arg, const char *m, size_t len, double score);

/* Run the range over e, calling emit for each member in reply order. */
static void zrange_run(const struct entry *e, const struct zrange_req *q, zrange_emit_fn emit, void *arg)
{
    struct zset_iter it;
    struct zset_elem el;
    long long card = (long long)zset_card(e);
    if (q->type == ZR_RANK) {
        long long start = q->start, end = q->end;
        if (start < 0)
            start += card;
        if (end < 0)
            end += card;
        if (start < 0)
            start = 0;
        if (start > end || start >= card)
            return;
        if (end >= card)
            end = card - 1;
        zset_iter_rank(&it, e, (unsigned long)start, (unsigned long)(end - start + 1), q->rev);
    } else {
        if (q->offset > 0 && q->offset >= card)
            return;
        if (q->offset < 0)
            return;
        if (q->type == ZR_SCORE)
            zset_iter_score(&it, e, &q->score, q->rev);
        else
            zset_iter_lex(&it, e, &q->lex, q->rev);
        for (long long skip = q->offset; skip > 0; skip--)
            if (!zset_iter_next(&it, &el))
                return;
    }
    long long limit = q->type == ZR_RANK ? -1 : q->limit;
    while (limit-- != 0 && zset_iter_next(&it, &el))
        emit(arg, el.m, el.len, el.score);
}

struct zrange_reply_acc {
    struct reply r;
    bool withscores;
    int64_t n;
};

static void zrange_emit_reply(void *arg, const char *m, size_t len, double score)
{
    struct zrange_reply_acc *a = arg;
    reply_elem(&a->r, m, len, score, a->withscores);
    a->n++;
}

static void zrange_reply(struct cmd_ctx *c, int type, int dir)
{
    struct zrange_req q;
    const char *err = zrange_parse(c->argv, c->argc, 1, false, type, dir, &q);
    if (err) {
        reply_error(&c->r, err);
        return;
    }
    bool wrong;
    struct entry *e = find_read(c, &c->argv[1], NULL, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return;
    }
    if (!e) {
        reply_array(&c->r, 0);
        return;
    }
    struct buf body;
    buf_init(&body);
    struct zrange_reply_acc a = {.r = {&body, c->r.resp}, .withscores = q.withscores};
    zrange_run(e, &q, zrange_emit_reply, &a);
    reply_elems_header(&c->r, a.n, q.withscores);
    reply_raw(&c->r, body.data, body.len);
    buf_free(&body);
}

static void cmd_zrange(struct cmd_ctx *c) { zrange_reply(c, ZR_AUTO, ZD_AUTO); }
static void cmd_zrevrange(struct cmd_ctx *c) { zrange_reply(c, ZR_RANK, ZD_REV); }
static void cmd_zrangebyscore(struct cmd_ctx *c) { zrange_reply(c, ZR_SCORE, ZD_FWD); }
static void cmd_zrevrangebyscore(struct cmd_ctx *c) { zrange_reply(c, ZR_SCORE, ZD_REV); }
static void cmd_zrangebylex(struct cmd_ctx *c) { zrange_reply(c, ZR_LEX, ZD_FWD); }
static void cmd_zrevrangebylex(struct cmd_ctx *c) { zrange_reply(c, ZR_LEX, ZD_REV); }

/* ---------- ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX ---------- */

static void zremrange_generic(struct cmd_ctx *c, int type)
{
    const struct arg *key = &c->argv[1];
    long long start = 0, end = 0;
    struct zrange_spec sr;
    struct zlex_spec lr;
    const char *event;
    if (type == ZR_RANK) {
        event = "zremrangebyrank";
        if (!arg_get_ll(c, &c->argv[2], &start) || !arg_get_ll(c, &c->argv[3], &end))
            return;
    } else if (type == ZR_SCORE) {
        event = "zremrangebyscore";
        if (!parse_score_range(&c->argv[2], &c->argv[3], &sr)) {
            reply_error(&c->r, ERR_MINMAX_FLOAT);
            return;
        }
    } else {
        event = "zremrangebylex";
        if (!parse_lex_range(&c->argv[2], &c->argv[3], &lr)) {
            reply_error(&c->r, ERR_MINMAX_LEX);
            return;
        }
    }
    bool wrong;
    struct entry *e = find_write(c, key, NULL, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return;
    }
    if (!e) {
        reply_int(&c->r, 0);
        return;
    }
    unsigned long deleted;
    if (type == ZR_RANK) {
        long long len = (long long)zset_card(e);
        if (start < 0)
            start += len;
        if (end < 0)
            end += len;
        if (start < 0)
            start = 0;
        if (start > end || start >= len) {
            reply_int(&c->r, 0);
            return;
        }
        if (end >= len)
            end = len - 1;
        deleted = zset_del_range_rank(e, (unsigned long)start, (unsigned long)end);
    } else if (type == ZR_SCORE) {
        deleted = zset_del_range_score(e, &sr);
    } else {
        deleted = zset_del_range_lex(e, &lr);
    }
    bool removed = zset_card(e) == 0;
    if (removed)
        delete_key(c, key);
    if (deleted) {
        db_signal_modified(c, key);
        notify_keyspace_event(c, NOTIFY_ZSET, event, key); /* pubsub: keyspace event */
        if (removed)
            notify_keyspace_event(c, NOTIFY_GENERIC, "del", key); /* pubsub: keyspace event */
    }
    reply_int(&c->r, (int64_t)deleted);
}

static void cmd_zremrangebyrank(struct cmd_ctx *c) { zremrange_generic(c, ZR_RANK); }
static void cmd_zremrangebyscore(struct cmd_ctx *c) { zremrange_generic(c, ZR_SCORE); }
static void cmd_zremrangebylex(struct cmd_ctx *c) { zremrange_generic(c, ZR_LEX); }

/* ---------- popping ---------- */

/* Pop up to `count` members from the min (or max) end of the zset `e` under
 * `key` and reply in genericZpopCommand's shapes: emitkey adds the key,
 * nested makes [member, score] pairs (ZMPOP also wraps them). Deletes the
 * key when it empties. */
static void zpop_reply(struct cmd_ctx *c, struct reply *r, const struct arg *key, struct entry *e, bool max,
                       long long count, bool emitkey, bool nested)
{
    long long card = (long long)zset_card(e);
    long long n = count > card ? card : count;
    if (!nested && !emitkey) {
        reply_array(r, n * 2);
    } else if (nested && !emitkey) {
        reply_array(r, n);
    } else if (!nested && emitkey) {
        reply_array(r, n * 2 + 1);
        reply_bulk(r, key->p, key->len);
    } else {
        reply_array(r, 2);
        reply_bulk(r, key->p, key->len);
        reply_array(r, n);
    }
    struct zset_iter it;
    struct zset_elem el;
    zset_iter_rank(&it, e, 0, (unsigned long)n, max);
    while (zset_iter_next(&it, &el)) {
        if (nested)
            reply_array(r, 2);
        reply_bulk(r, el.m, el.len);
        reply_double(r, el.score);
    }
    if (max)
        zset_del_range_rank(e, (unsigned long)(card - n), (unsigned long)(card - 1));
    else
        zset_del_range_rank(e, 0, (unsigned long)(n - 1));
    notify_keyspace_event(c, NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", key); /* pubsub: keyspace event */
    db_signal_modified(c, key);
    if (zset_card(e) == 0) {
        delete_key(c, key);
        notify_keyspace_event(c, NOTIFY_GENERIC, "del", key); /* pubsub: keyspace event */
    }
}

static void zpop_minmax(struct cmd_ctx *c, bool max)
{
    if (c->argc > 3) {
        reply_error(&c->r, ERR_SYNTAX);
        return;
    }
    long long count = -1;
    if (c->argc == 3) {
        if (!arg_get_ll(c, &c->argv[2], &count))
            return;
        if (count < 0) {
            reply_error(&c->r, "ERR value is out of range, must be positive");
            return;
        }
    }
    bool nested = c->r.resp > 2 && count != -1;
    bool wrong;
    struct entry *e = find_write(c, &c->argv[1], NULL, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return;
    }
    if (!e || count == 0) {
        reply_array(&c->r, 0);
        return;
    }
    zpop_reply(c, &c->r, &c->argv[1], e, max, count == -1 ? 1 : count, false, nested);
}

static void cmd_zpopmin(struct cmd_ctx *c) { zpop_minmax(c, false); }
static void cmd_zpopmax(struct cmd_ctx *c) { zpop_minmax(c, true); }

/* ---------- ZRANDMEMBER ---------- */

/* The member at 0-based rank `rank`; el->m may point into it->tmp. */
static void elem_at(struct zset_iter *it, const struct entry *e, unsigned long rank, struct zset_elem *el)
{
    zset_iter_rank(it, e, rank, 1, false);
    zset_iter_next(it, el);
}

static void zrandmember_count(struct cmd_ctx *c, long long l, bool withscores)
{
    bool wrong;
    struct entry *e = find_read(c, &c->argv[1], NULL, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return;
    }
    if (!e || l == 0) {
        reply_array(&c->r, 0);
        return;
    }
    unsigned long size = zset_card(e);
    bool uniq = l > 0;
    unsigned long long count = l > 0 ? (unsigned long long)l : (unsigned long long)(-l);
    struct zset_iter it;
    struct zset_elem el;
    if (!uniq || count == 1) {
        reply_elems_header(&c->r, (int64_t)count, withscores);
        while (count--) {
            elem_at(&it, e, (unsigned long)(rnd64() % size), &el);
            reply_elem(&c->r, el.m, el.len, el.score, withscores);
        }
        return;
    }
    if (count >= size) {
        /* the whole zset, from the highest score down (as zuiNext walks it) */
        reply_elems_header(&c->r, (int64_t)size, withscores);
        zset_iter_rank(&it, e, 0, size, true);
        while (zset_iter_next(&it, &el))
            reply_elem(&c->r, el.m, el.len, el.score, withscores);
        return;
    }
    /* distinct ranks: a partial Fisher-Yates shuffle of 0..size-1 */
    unsigned long *ranks = mi_malloc(sizeof(*ranks) * size);
    for (unsigned long i = 0; i < size; i++)
        ranks[i] = i;
    reply_elems_header(&c->r, (int64_t)count, withscores);
    for (unsigned long i = 0; i < count; i++) {
        unsigned long j = i + (unsigned long)(rnd64() % (size - i));
        unsigned long t = ranks[i];
        ranks[i] = ranks[j];
        ranks[j] = t;
        elem_at(&it, e, ranks[i], &el);
        reply_elem(&c->r, el.m, el.len, el.score, withscores);
    }
    mi_free(ranks);
}

static void cmd_zrandmember(struct cmd_ctx *c)
{
    if (c->argc >= 3) {
        long long l;
        if (!arg_get_ll(c, &c->argv[2], &l))
            return;
        if (l < -LONG_MAX) {
            reply_errorf(&c->r, "ERR value is out of range, value must between %ld and %ld", -LONG_MAX, LONG_MAX);
            return;
        }
        if (c->argc > 4 || (c->argc == 4 && !arg_eq(&c->argv[3], "withscores"))) {
            reply_error(&c->r, ERR_SYNTAX);
            return;
        }
        if (c->argc == 4 && (l < -LONG_MAX / 2 || l > LONG_MAX / 2)) {
            reply_error(&c->r, "ERR value is out of range");
            return;
        }
        zrandmember_count(c, l, c->argc == 4);
        return;
    }
    bool wrong;
    struct entry *e = find_read(c, &c->argv[1], NULL, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return;
    }
    if (!e) {
        reply_null(&c->r);
        return;
    }
    struct zset_iter it;
    struct zset_elem el;
    elem_at(&it, e, (unsigned long)(rnd64() % zset_card(e)), &el);
    reply_bulk(&c->r, el.m, el.len);
}

/* ---------- ZSCAN ---------- */


struct scan_acc {
    struct buf *out;
    int resp;
    const struct arg *pat;
    bool listpack;
    int64_t seen;
    int64_t kept;
};

static void scan_visit(void *arg, const char *m, size_t n, double score)
{
    struct scan_acc *a = arg;
    a->seen++;
    if (a->pat && !glob_match(a->pat->p, a->pat->len, m, n, false))
        return;
    struct reply r = {a->out, a->resp};
    char buf[64];
    int len = a->listpack ? zset_score_to_string(buf, sizeof(buf), score) : format_double(buf, sizeof(buf), score);
    reply_bulk(&r, m, n);
    reply_bulk(&r, buf, (size_t)len);
    a->kept += 2;
}

static void cmd_zscan(struct cmd_ctx *c)
{
    uint64_t cursor;
    if (!scan_parse_cursor(&c->argv[2], &cursor)) {
        reply_error(&c->r, "ERR invalid cursor");
        return;
    }
    bool wrong;
    struct entry *e = find_read(c, &c->argv[1], NULL, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return;
    }
    if (!e) {
        reply_scan_empty(&c->r);
        return;
    }
    long long count = 10;
    const struct arg *pat = NULL;
    if (!scan_parse_options(c, 3, &count, &pat))
        return;
    struct buf items;
    buf_init(&items);
    struct scan_acc acc = {.out = &items, .resp = c->r.resp, .pat = pat, .listpack = e->enc == OBJ_ENC_LISTPACK};
    long long maxiter = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
    do {
        cursor = zset_scan(e, cursor, scan_visit, &acc);
    } while (cursor && maxiter-- && acc.seen < count);
    char digits[24];
    int dl = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)cursor);
    reply_array(&c->r, 2);
    reply_bulk(&c->r, digits, (size_t)dl);
    reply_array(&c->r, acc.kept);
    reply_raw(&c->r, items.data, items.len);
    buf_free(&items);
}

/* ---------- storing a result (cmd_zset.h) ---------- */

void zres_put(struct buf *img, const char *m, size_t len, double score)
{
    uint64_t n = len;
    buf_append(img, &n, sizeof(n));
    buf_append(img, m, len);
    buf_append(img, &score, sizeof(score));
}

static const char *zres_next(const char **cur, size_t *len, double *score)
{
    uint64_t n;
    memcpy(&n, *cur, sizeof(n));
    const char *m = *cur + sizeof(n);
    memcpy(score, m + n, sizeof(*score));
    *cur = m + n + sizeof(*score);
    *len = (size_t)n;
    return m;
}

long long zset_store_image(struct cmd_ctx *c, const struct arg *dst, const char *img, size_t n, const char *event)
{
    struct ks_ref ref;
    struct entry *old = db_find(c, dst, &ref);
    if (n == 0) {
        if (old) {
            ks_delete(c->ks, c->db, &ref);
            db_signal_modified(c, dst);
            notify_keyspace_event(c, NOTIFY_GENERIC, "del", dst); /* pubsub: keyspace event */
        }
        return 0;
    }
    size_t count = 0, maxlen = 0;
    for (const char *p = img, *end = img + n; p < end; count++) {
        size_t len;
        double s;
        zres_next(&p, &len, &s);
        if (len > maxlen)
            maxlen = len;
    }
    struct entry *e = zset_new_entry(dst->p, dst->len, count, maxlen);
    for (const char *p = img, *end = img + n; p < end;) {
        size_t len;
        double s;
        const char *m = zres_next(&p, &len, &s);
        int out;
        zset_add(e, s, m, len, 0, &out, NULL);
    }
    if (old) {
        e->lru = old->lru;
        db_touch(c, e);
        ks_replace(c->ks, c->db, &ref, e);
        db_signal_modified(c, dst);
    } else {
        db_add(c, dst, e);
    }
    notify_keyspace_event(c, NOTIFY_ZSET, event, dst); /* pubsub: keyspace event */
    return (long long)zset_card(e);
}

static bool part_has(const struct cmd_ctx *c, int argi)
{
    for (int i = 0; i < c->nkeys; i++)
        if (c->keyidx[i] == argi)
            return true;
    return false;
}

/* A part's count in a store operation: */
enum { ZS_NONE = 0, ZS_IMAGE = 1, ZS_DONE = 2, ZS_ERROR = -1 };

void zstore_hop(struct cmd_ctx *c, struct mso *t, int part, int hop, int src_argi, int dst_argi,
                zstore_compute_fn compute, const char *event)
{
    struct mso_part *p = &t->parts[part];
    const struct arg *dst = &c->argv[dst_argi];
    if (hop == 0) {
        p->count = ZS_NONE;
        if (!part_has(c, src_argi))
            return;
        struct buf img, err;
        buf_init(&img);
        buf_init(&err);
        struct reply er = {&err, t->resp};
        if (!compute(c, &img, &er)) {
            buf_clear(&p->out);
            buf_append(&p->out, err.data, err.len);
            p->count = ZS_ERROR;
        } else if (part_has(c, dst_argi)) {
            p->count2 = zset_store_image(c, dst, img.data, img.len, event);
            p->count = ZS_DONE;
        } else {
            buf_clear(&p->out);
            buf_append(&p->out, img.data, img.len);
            p->count = ZS_IMAGE;
        }
        buf_free(&img);
        buf_free(&err);
        return;
    }
    if (!part_has(c, dst_argi))
        return;
    for (int i = 0; i < t->nparts; i++)
        if (t->parts[i].count == ZS_IMAGE)
            p->count2 = zset_store_image(c, dst, t->parts[i].out.data, t->parts[i].out.len, event);
    p->count = ZS_DONE;
}

int zstore_next(struct mso *t, int hop)
{
    for (int i = 0; i < t->nparts; i++) {
        const struct mso_part *p = &t->parts[i];
        if (p->count == ZS_ERROR) {
            t->i64 = -1 - i;
            return -1;
        }
        if (p->count == ZS_IMAGE && hop == 0)
            return 1;
    }
    for (int i = 0; i < t->nparts; i++)
        if (t->parts[i].count == ZS_DONE)
            t->i64 = t->parts[i].count2;
    return -1;
}

void zstore_reply(struct mso *t, struct reply *r)
{
    if (t->i64 < 0) {
        const struct buf *e = &t->parts[-1 - t->i64].out;
        reply_raw(r, e->data, e->len);
        return;
    }
    reply_int(r, t->i64);
}

/* ---------- ZRANGESTORE ---------- */

static void zrange_emit_image(void *arg, const char *m, size_t len, double score) { zres_put(arg, m, len, score); }

static bool zrangestore_compute(struct cmd_ctx *c, struct buf *img, struct reply *err)
{
    struct zrange_req q;
    const char *msg = zrange_parse(c->argv, c->argc, 2, true, ZR_AUTO, ZD_AUTO, &q);
    if (msg) {
        reply_error(err, msg);
        return false;
    }
    bool wrong;
    struct entry *e = find_read(c, &c->argv[2], NULL, &wrong);
    if (wrong) {
        reply_error(err, ERR_WRONGTYPE);
        return false;
    }
    if (e)
        zrange_run(e, &q, zrange_emit_image, img);
    return true;
}

static void zrangestore_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    zstore_hop(c, t, part, hop, 2, 1, zrangestore_compute, "zrangestore");
}

static const struct mso_ops zrangestore_ops = {.hop = zrangestore_hop, .next = zstore_next, .reply = zstore_reply};

/* ---------- ZUNION ZINTER ZDIFF ZINTERCARD and their STORE forms ----------
 * Hop 0: every shard writes its source keys into its part buffer: u32 argv
 * index, u8 state, u64 count, then count × (u64 len, bytes, double score).
 * The coordinator computes the result (sorted by score, then member) into
 * t->scratch as a zres image; hop 1 stores it on the destination's shard. */

enum src_state { SRC_MISSING = 0, SRC_ZSET = 1, SRC_WRONG = 2, SRC_SET = 3 };
enum zop { OP_UNION, OP_INTER, OP_DIFF };
enum zaggr { AGGR_SUM, AGGR_MIN, AGGR_MAX };

struct zop_spec {
    const char *name;
    int op;
    bool store;
    bool card;
    const char *event;
};

static const struct zop_spec zop_specs[] = {
    {"zunion", OP_UNION, false, false, NULL},
    {"zinter", OP_INTER, false, false, NULL},
    {"zdiff", OP_DIFF, false, false, NULL},
    {"zintercard", OP_INTER, false, true, NULL},
    {"zunionstore", OP_UNION, true, false, "zunionstore"},
    {"zinterstore", OP_INTER, true, false, "zinterstore"},
    {"zdiffstore", OP_DIFF, true, false, "zdiffstore"},
};

static const struct zop_spec *zop_spec_of(const struct command *cmd)
{
    for (size_t i = 0; i < sizeof(zop_specs) / sizeof(zop_specs[0]); i++)
        if (!strcmp(cmd->name, zop_specs[i].name))
            return &zop_specs[i];
    return &zop_specs[0];
}

static int numkeys_index(const struct zop_spec *sp) { return sp->store ? 2 : 1; }

/* The numkeys checks: NULL, or the error. */
static const char *zop_numkeys(const struct zop_spec *sp, const struct arg *argv, int argc, long long *setnum,
                               char *errbuf, size_t errlen)
{
    int ni = numkeys_index(sp);
    if (!arg_to_ll(&argv[ni], setnum))
        return ERR_NOT_INT;
    if (*setnum < 1) {
        snprintf(errbuf, errlen, "ERR at least 1 input key is needed for '%s' command", sp->name);
        return errbuf;
    }
    if (*setnum > argc - (ni + 1))
        return ERR_SYNTAX;
    return NULL;
}

struct zop_opts {
    double *weights;
    int aggr;
    bool withscores;
    long long limit;
};

/* The options after the keys: NULL, or the error. */
static const char *zop_options(const struct zop_spec *sp, const struct arg *argv, int argc, long long setnum,
                               struct zop_opts *o)
{
    int j = numkeys_index(sp) + 1 + (int)setnum;
    o->aggr = AGGR_SUM;
    o->withscores = false;
    o->limit = 0;
    for (long long i = 0; i < setnum; i++)
        o->weights[i] = 1.0;
    while (j < argc) {
        int remaining = argc - j;
        if (sp->op != OP_DIFF && !sp->card && remaining >= setnum + 1 && arg_eq(&argv[j], "weights")) {
            j++;
            for (long long i = 0; i < setnum; i++, j++)
                if (!arg_double(&argv[j], &o->weights[i]))
                    return "ERR weight value is not a float";
        } else if (sp->op != OP_DIFF && !sp->card && remaining >= 2 && arg_eq(&argv[j], "aggregate")) {
            j++;
            if (arg_eq(&argv[j], "sum"))
                o->aggr = AGGR_SUM;
            else if (arg_eq(&argv[j], "min"))
                o->aggr = AGGR_MIN;
            else if (arg_eq(&argv[j], "max"))
                o->aggr = AGGR_MAX;
            else
                return ERR_SYNTAX;
            j++;
        } else if (!sp->store && !sp->card && arg_eq(&argv[j], "withscores")) {
            j++;
            o->withscores = true;
        } else if (sp->card && remaining >= 2 && arg_eq(&argv[j], "limit")) {
            j++;
            if (!arg_to_ll(&argv[j], &o->limit) || o->limit < 0)
                return "ERR LIMIT can't be negative";
            j++;
        } else {
            return ERR_SYNTAX;
        }
    }
    return NULL;
}

static int zop_getkeys(struct arg *argv, int argc, int *keys, int max, const struct zop_spec *sp)
{
    long long setnum;
    char eb[96];
    if (zop_numkeys(sp, argv, argc, &setnum, eb, sizeof(eb)))
        return 0;
    int k = 0;
    if (sp->store && k < max)
        keys[k++] = 1;
    for (int i = 0; i < setnum && k < max; i++)
        keys[k++] = numkeys_index(sp) + 1 + i;
    return k;
}

static int zunion_getkeys(struct arg *argv, int argc, int *keys, int max)
{
    return zop_getkeys(argv, argc, keys, max, &zop_specs[0]);
}
static int zstore_getkeys(struct arg *argv, int argc, int *keys, int max)
{
    return zop_getkeys(argv, argc, keys, max, &zop_specs[4]);
}

/* Without keys only the numkeys errors are left. */
static void cmd_zop_nokeys(struct cmd_ctx *c)
{
    const struct zop_spec *sp = zop_spec_of(c->cmd);
    long long setnum;
    char eb[96];
    const char *err = zop_numkeys(sp, c->argv, c->argc, &setnum, eb, sizeof(eb));
    reply_error(&c->r, err ? err : ERR_SYNTAX);
}

/* A set input (ZUNION and friends accept sets): state, count and every
 * member with score 1, as zuiNext gives a set's members. */
static bool put_set_source(struct buf *b, const struct entry *e)
{
    uint8_t st = 3; /* SRC_SET */
    uint64_t count = set_size(e);
    buf_append(b, &st, 1);
    buf_append(b, &count, sizeof(count));
    struct set_iter it;
    const char *m;
    size_t n;
    set_iter_init(&it, e);
    while (set_iter_next(&it, &m, &n))
        zres_put(b, m, n, 1.0);
    return true;
}

static void put_source(struct buf *b, int argi, const struct entry *e, bool wrong)
{
    uint32_t a = (uint32_t)argi;
    buf_append(b, &a, sizeof(a));
    size_t state_at = b->len;
    uint8_t st = wrong ? SRC_WRONG : e ? SRC_ZSET : SRC_MISSING;
    buf_append(b, &st, 1);
    uint64_t count = e && !wrong ? zset_card(e) : 0;
    buf_append(b, &count, sizeof(count));
    if (!e || wrong)
        return;
    struct zset_iter it;
    struct zset_elem el;
    zset_iter_rank(&it, e, 0, zset_card(e), false);
    while (zset_iter_next(&it, &el))
        zres_put(b, el.m, el.len, el.score);
    (void)state_at;
}

static void zop_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    const struct zop_spec *sp = zop_spec_of(t->cmd);
    struct mso_part *pt = &t->parts[part];
    if (hop == 0) {
        buf_clear(&pt->out);
        for (int i = 0; i < c->nkeys; i++) {
            int argi = c->keyidx[i];
            if (sp->store && argi == 1)
                continue;
            struct entry *e = db_find(c, &c->argv[argi], NULL);
            if (e) {
                c->ks->stats.keyspace_hits++;
                db_touch(c, e);
            } else {
                c->ks->stats.keyspace_misses++;
            }
            if (e && e->type == OBJ_SET) {
                uint32_t a = (uint32_t)argi;
                size_t at = pt->out.len;
                buf_append(&pt->out, &a, sizeof(a));
                if (!put_set_source(&pt->out, e)) {
                    pt->out.len = at;
                    put_source(&pt->out, argi, e, true);
                }
                continue;
            }
            put_source(&pt->out, argi, e, e && e->type != OBJ_ZSET);
        }
        return;
    }
    if (part_has(c, 1) && t->i64 >= 0)
        zset_store_image(c, &c->argv[1], t->scratch.data, t->scratch.len, sp->event);
}

/* A source as the coordinator reads it. */
struct zel {
    const char *m;
    size_t len;
    double score;
};

struct zsrc {
    int state;
    int order; /* position among the keys */
    double weight;
    uint64_t count;
    struct zel *els;
    uint32_t *tbl; /* index + 1 into els; built on demand */
    uint32_t cap;
};

static void read_sources(const struct buf *b, struct zsrc *srcs, int first)
{
    const char *p = b->data, *end = b->data + b->len;
    while (p && p < end) {
        uint32_t argi;
        uint64_t count;
        memcpy(&argi, p, sizeof(argi));
        int state = (unsigned char)p[4];
        memcpy(&count, p + 5, sizeof(count));
        p += 13;
        struct zsrc *s = &srcs[argi - (uint32_t)first];
        s->state = state;
        s->count = count;
        s->els = mi_malloc(sizeof(struct zel) * (count ? count : 1));
        for (uint64_t i = 0; i < count; i++)
            s->els[i].m = zres_next(&p, &s->els[i].len, &s->els[i].score);
    }
}

static uint32_t table_cap_for(uint64_t n)
{
    uint32_t cap = 8;
    while ((uint64_t)cap < n * 2)
        cap *= 2;
    return cap;
}

static const struct zel *zsrc_find(struct zsrc *s, const char *m, size_t len)
{
    if (!s->count)
        return NULL;
    if (!s->tbl) {
        s->cap = table_cap_for(s->count);
        s->tbl = mi_zalloc(sizeof(uint32_t) * s->cap);
        for (uint64_t i = 0; i < s->count; i++) {
            uint32_t h = (uint32_t)key_hash64(s->els[i].m, s->els[i].len) & (s->cap - 1);
            while (s->tbl[h])
                h = (h + 1) & (s->cap - 1);
            s->tbl[h] = (uint32_t)i + 1;
        }
    }
    uint32_t h = (uint32_t)key_hash64(m, len) & (s->cap - 1);
    for (; s->tbl[h]; h = (h + 1) & (s->cap - 1)) {
        const struct zel *x = &s->els[s->tbl[h] - 1];
        if (x->len == len && memcmp(x->m, m, len) == 0)
            return x;
    }
    return NULL;
}

/* The union's accumulator: elements plus an index table. */
struct zacc {
    struct zel *els;
    uint64_t n, alloc;
    uint32_t *tbl;
    uint32_t cap;
};

static void zacc_rehash(struct zacc *a, uint32_t cap)
{
    mi_free(a->tbl);
    a->cap = cap;
    a->tbl = mi_zalloc(sizeof(uint32_t) * cap);
    for (uint64_t i = 0; i < a->n; i++) {
        uint32_t h = (uint32_t)key_hash64(a->els[i].m, a->els[i].len) & (cap - 1);
        while (a->tbl[h])
            h = (h + 1) & (cap - 1);
        a->tbl[h] = (uint32_t)i + 1;
    }
}

static void aggregate(double *target, double v, int aggr)
{
    if (aggr == AGGR_SUM) {
        *target += v;
        if (isnan(*target))
            *target = 0.0;
    } else if (aggr == AGGR_MIN) {
        *target = v < *target ? v : *target;
    } else {
        *target = v > *target ? v : *target;
    }
}

static void zacc_add(struct zacc *a, const char *m, size_t len, double score, int aggr)
{
    if (!a->cap || (a->n + 1) * 2 > a->cap)
        zacc_rehash(a, a->cap ? a->cap * 2 : 16);
    uint32_t h = (uint32_t)key_hash64(m, len) & (a->cap - 1);
    for (; a->tbl[h]; h = (h + 1) & (a->cap - 1)) {
        struct zel *x = &a->els[a->tbl[h] - 1];
        if (x->len == len && memcmp(x->m, m, len) == 0) {
            aggregate(&x->score, score, aggr);
            return;
        }
    }
    if (a->n == a->alloc) {
        a->alloc = a->alloc ? a->alloc * 2 : 16;
        a->els = mi_realloc(a->els, sizeof(struct zel) * a->alloc);
    }
    a->els[a->n] = (struct zel){m, len, score};
    a->tbl[h] = (uint32_t)++a->n;
}

static void zacc_push(struct zacc *a, const char *m, size_t len, double score)
{
    if (a->n == a->alloc) {
        a->alloc = a->alloc ? a->alloc * 2 : 16;
        a->els = mi_realloc(a->els, sizeof(struct zel) * a->alloc);
    }
    a->els[a->n++] = (struct zel){m, len, score};
}

static int member_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : al < bl ? -1 : al > bl ? 1 : 0;
}

static int zel_cmp(const void *x, const void *y)
{
    const struct zel *a = x, *b = y;
    if (a->score != b->score)
        return a->score < b->score ? -1 : 1;
    return member_cmp(a->m, a->len, b->m, b->len);
}

static int by_card(const void *x, const void *y)
{
    const struct zsrc *a = *(struct zsrc *const *)x, *b = *(struct zsrc *const *)y;
    if (a->count != b->count)
        return a->count < b->count ? -1 : 1;
    return a->order - b->order;
}

static double weighted(double s, double w)
{
    double v = s * w;
    return isnan(v) ? 0.0 : v;
}

/* The result, sorted; returns the cardinality (ZINTERCARD: stops at limit). */
static int64_t zop_compute(const struct zop_spec *sp, struct zsrc *srcs, int n, const struct zop_opts *o,
                           struct zacc *res)
{
    struct zsrc **ord = mi_malloc(sizeof(*ord) * (size_t)n);
    for (int i = 0; i < n; i++)
        ord[i] = &srcs[i];
    if (sp->op != OP_DIFF)
        qsort(ord, (size_t)n, sizeof(*ord), by_card);
    int64_t card = 0;
    if (sp->op == OP_INTER) {
        struct zsrc *s0 = ord[0];
        for (uint64_t k = 0; k < s0->count; k++) {
            const struct zel *x = &s0->els[k];
            double score = weighted(x->score, s0->weight);
            int j = 1;
            for (; j < n; j++) {
                const struct zel *y = zsrc_find(ord[j], x->m, x->len);
                if (!y)
                    break;
                aggregate(&score, y->score * ord[j]->weight, o->aggr);
            }
            if (j < n)
                continue;
            card++;
            if (!sp->card)
                zacc_push(res, x->m, x->len, score);
            else if (o->limit && card >= o->limit)
                break;
        }
    } else if (sp->op == OP_UNION) {
        for (int i = 0; i < n; i++)
            for (uint64_t k = 0; k < ord[i]->count; k++)
                zacc_add(res, ord[i]->els[k].m, ord[i]->els[k].len, weighted(ord[i]->els[k].score, ord[i]->weight),
                         o->aggr);
    } else {
        struct zsrc *s0 = ord[0];
        for (uint64_t k = 0; k < s0->count; k++) {
            const struct zel *x = &s0->els[k];
            int j = 1;
            while (j < n && !zsrc_find(ord[j], x->m, x->len))
                j++;
            if (j == n)
                zacc_push(res, x->m, x->len, x->score);
        }
    }
    mi_free(ord);
    if (sp->card)
        return card;
    if (res->n > 1)
        qsort(res->els, res->n, sizeof(struct zel), zel_cmp);
    return (int64_t)res->n;
}

enum { ZOP_WRONGTYPE = -1, ZOP_ERR = -2 };

static int zop_next(struct mso *t, int hop)
{
    if (hop > 0)
        return -1;
    const struct zop_spec *sp = zop_spec_of(t->cmd);
    long long setnum;
    char eb[96];
    if (zop_numkeys(sp, t->argv, t->argc, &setnum, eb, sizeof(eb))) {
        t->i64 = ZOP_ERR;
        return -1;
    }
    int n = (int)setnum, first = numkeys_index(sp) + 1;
    struct zsrc *srcs = mi_zalloc(sizeof(*srcs) * (size_t)n);
    for (int p = 0; p < t->nparts; p++)
        read_sources(&t->parts[p].out, srcs, first);
    bool wrong = false;
    for (int i = 0; i < n; i++) {
        wrong |= srcs[i].state == SRC_WRONG;
        srcs[i].order = i;
    }
    struct zop_opts o;
    o.weights = mi_malloc(sizeof(double) * (size_t)n);
    buf_clear(&t->scratch);
    if (wrong) {
        t->i64 = ZOP_WRONGTYPE;
    } else if (zop_options(sp, t->argv, t->argc, setnum, &o)) {
        t->i64 = ZOP_ERR;
    } else {
        for (int i = 0; i < n; i++)
            srcs[i].weight = o.weights[i];
        struct zacc res = {0};
        t->i64 = zop_compute(sp, srcs, n, &o, &res);
        for (uint64_t k = 0; k < res.n; k++)
            zres_put(&t->scratch, res.els[k].m, res.els[k].len, res.els[k].score);
        mi_free(res.els);
        mi_free(res.tbl);
    }
    for (int i = 0; i < n; i++) {
        mi_free(srcs[i].els);
        mi_free(srcs[i].tbl);
    }
    mi_free(srcs);
    mi_free(o.weights);
    /* the result image points into the part buffers: it was copied above */
    return sp->store && t->i64 >= 0 ? 1 : -1;
}

static void zop_reply(struct mso *t, struct reply *r)
{
    const struct zop_spec *sp = zop_spec_of(t->cmd);
    long long setnum;
    char eb[96];
    if (t->i64 == ZOP_ERR) {
        const char *err = zop_numkeys(sp, t->argv, t->argc, &setnum, eb, sizeof(eb));
        if (!err) {
            struct zop_opts o;
            o.weights = mi_malloc(sizeof(double) * (size_t)setnum);
            err = zop_options(sp, t->argv, t->argc, setnum, &o);
            mi_free(o.weights);
        }
        reply_error(r, err ? err : ERR_SYNTAX);
        return;
    }
    if (t->i64 == ZOP_WRONGTYPE) {
        reply_error(r, ERR_WRONGTYPE);
        return;
    }
    if (sp->store || sp->card) {
        reply_int(r, t->i64);
        return;
    }
    zop_numkeys(sp, t->argv, t->argc, &setnum, eb, sizeof(eb));
    struct zop_opts o;
    o.weights = mi_malloc(sizeof(double) * (size_t)setnum);
    zop_options(sp, t->argv, t->argc, setnum, &o);
    mi_free(o.weights);
    reply_elems_header(r, t->i64, o.withscores);
    for (const char *p = t->scratch.data, *end = p + t->scratch.len; p && p < end;) {
        size_t len;
        double s;
        const char *m = zres_next(&p, &len, &s);
        reply_elem(r, m, len, s, o.withscores);
    }
}

static const struct mso_ops zop_ops = {.hop = zop_hop, .next = zop_next, .reply = zop_reply};

/* ---------- ZMPOP BZMPOP BZPOPMIN BZPOPMAX ----------
 * Hop 0: every shard reports each of its keys' state (u32 argv index, u8
 * state). The coordinator picks the first key, in argument order, that
 * exists; hop 1 pops it on its shard, which writes the reply. With nothing
 * to pop the blocking forms park the client (server/blocking.h). */

struct zpop_args {
    int first;          /* argv index of the first key */
    long long numkeys;
    bool max;
    long long count;
    bool emitkey, nested;
    bool blocking;
    int64_t timeout_ms;
};

enum zpop_kind { ZP_ZMPOP, ZP_BZMPOP, ZP_BZPOPMIN, ZP_BZPOPMAX };

static int zpop_kind(const struct command *cmd)
{
    if (!strcmp(cmd->name, "bzmpop"))
        return ZP_BZMPOP;
    if (!strcmp(cmd->name, "bzpopmin"))
        return ZP_BZPOPMIN;
    if (!strcmp(cmd->name, "bzpopmax"))
        return ZP_BZPOPMAX;
    return ZP_ZMPOP;
}

/* zmpopGenericCommand's checks (numkeys at argv[ni]): NULL or the error. */
static const char *zmpop_parse(const struct arg *argv, int argc, int ni, struct zpop_args *a)
{
    a->first = ni + 1;
    a->emitkey = a->nested = true;
    if (!arg_to_ll(&argv[ni], &a->numkeys) || a->numkeys < 1)
        return "ERR numkeys should be greater than 0";
    long long where = ni + a->numkeys + 1;
    if (where >= argc)
        return ERR_SYNTAX;
    if (arg_eq(&argv[where], "min"))
        a->max = false;
    else if (arg_eq(&argv[where], "max"))
        a->max = true;
    else
        return ERR_SYNTAX;
    a->count = -1;
    for (long long j = where + 1; j < argc; j++) {
        if (a->count == -1 && arg_eq(&argv[j], "count") && argc - 1 - j > 0) {
            j++;
            if (!arg_to_ll(&argv[j], &a->count) || a->count < 1)
                return "ERR count should be greater than 0";
        } else {
            return ERR_SYNTAX;
        }
    }
    if (a->count == -1)
        a->count = 1;
    return NULL;
}

/* Every pop command's arguments; on error writes the error reply into
 * `err` (when given) and returns false. */
static bool zpop_parse(const struct command *cmd, const struct arg *argv, int argc, struct zpop_args *a,
                       struct buf *err)
{
    struct buf sink;
    buf_init(&sink);
    struct reply r = {err ? err : &sink, 2};
    memset(a, 0, sizeof(*a));
    int kind = zpop_kind(cmd);
    const char *msg = NULL;
    bool ok = true;
    if (kind == ZP_ZMPOP) {
        msg = zmpop_parse(argv, argc, 1, a);
    } else if (kind == ZP_BZMPOP) {
        a->blocking = true;
        ok = blocking_parse_timeout(&r, &argv[1], &a->timeout_ms);
        if (ok)
            msg = zmpop_parse(argv, argc, 2, a);
    } else {
        a->blocking = true;
        a->first = 1;
        a->numkeys = argc - 2;
        a->max = kind == ZP_BZPOPMAX;
        a->count = 1;
        a->emitkey = true;
        ok = blocking_parse_timeout(&r, &argv[argc - 1], &a->timeout_ms);
    }
    if (msg) {
        reply_error(&r, msg);
        ok = false;
    }
    buf_free(&sink);
    return ok;
}

static int zmpop_keys_at(struct arg *argv, int argc, int ni, int *keys, int max)
{
    long long numkeys;
    if (argc <= ni || !arg_to_ll(&argv[ni], &numkeys) || numkeys < 1 || numkeys > argc - ni - 1)
        return 0;
    int k = 0;
    for (int i = ni + 1; i < ni + 1 + numkeys && k < max; i++)
        keys[k++] = i;
    return k;
}

static int zmpop_getkeys(struct arg *argv, int argc, int *keys, int max)
{
    return zmpop_keys_at(argv, argc, 1, keys, max);
}

static int bzmpop_getkeys(struct arg *argv, int argc, int *keys, int max)
{
    return zmpop_keys_at(argv, argc, 2, keys, max);
}

static void cmd_zpop_nokeys(struct cmd_ctx *c)
{
    struct zpop_args a;
    struct buf err;
    buf_init(&err);
    if (zpop_parse(c->cmd, c->argv, c->argc, &a, &err))
        reply_error(&c->r, ERR_SYNTAX);
    else
        reply_raw(&c->r, err.data, err.len);
    buf_free(&err);
}

enum { ZM_ERR = -1, ZM_WRONG = -2, ZM_EMPTY = -3, ZM_BLOCKED = -4 };

static void zmpop_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    struct mso_part *p = &t->parts[part];
    if (hop == 0) {
        buf_clear(&p->out);
        for (int i = 0; i < c->nkeys; i++) {
            uint32_t argi = (uint32_t)c->keyidx[i];
            struct entry *e = db_find(c, &c->argv[argi], NULL);
            uint8_t st = !e ? SRC_MISSING : e->type == OBJ_ZSET ? SRC_ZSET : SRC_WRONG;
            buf_append(&p->out, &argi, sizeof(argi));
            buf_append(&p->out, &st, 1);
        }
        return;
    }
    if (!part_has(c, (int)t->i64))
        return;
    struct zpop_args a;
    zpop_parse(t->cmd, c->argv, c->argc, &a, NULL);
    const struct arg *key = &c->argv[t->i64];
    bool wrong;
    struct entry *e = find_write(c, key, NULL, &wrong);
    buf_clear(&p->out);
    struct reply r = {&p->out, t->resp};
    zpop_reply(c, &r, key, e, a.max, a.count, a.emitkey, a.nested);
    p->count = 1;
}

static int zmpop_next(struct mso *t, int hop)
{
    if (hop > 0)
        return -1;
    struct zpop_args a;
    buf_clear(&t->scratch);
    if (!zpop_parse(t->cmd, t->argv, t->argc, &a, &t->scratch)) {
        t->i64 = ZM_ERR;
        return -1;
    }
    int n = (int)a.numkeys;
    uint8_t *states = mi_zalloc((size_t)n);
    for (int p = 0; p < t->nparts; p++) {
        const struct buf *b = &t->parts[p].out;
        for (size_t off = 0; off + 5 <= b->len; off += 5) {
            uint32_t argi;
            memcpy(&argi, b->data + off, sizeof(argi));
            /* a key named twice keeps one state */
            states[argi - (uint32_t)a.first] = (uint8_t)b->data[off + 4];
        }
        t->parts[p].count = 0;
    }
    bool serving = blocking_mso_serving(t);
    t->i64 = ZM_EMPTY;
    for (int i = 0; i < n; i++) {
        if (states[i] == SRC_MISSING || (states[i] == SRC_WRONG && serving))
            continue;
        t->i64 = states[i] == SRC_WRONG ? ZM_WRONG : a.first + i;
        break;
    }
    mi_free(states);
    if (t->i64 == ZM_EMPTY && a.blocking && blocking_mso_may_block(t)) {
        blocking_mso_block(t, a.timeout_ms);
        t->i64 = ZM_BLOCKED;
    }
    return t->i64 > 0 ? 1 : -1;
}

static void zmpop_reply(struct mso *t, struct reply *r)
{
    if (t->i64 == ZM_BLOCKED || blocking_mso_blocked(t))
        return;
    if (t->i64 == ZM_ERR) {
        reply_raw(r, t->scratch.data, t->scratch.len);
    } else if (t->i64 == ZM_WRONG) {
        reply_error(r, ERR_WRONGTYPE);
    } else if (t->i64 == ZM_EMPTY) {
        reply_null_array(r);
    } else {
        for (int p = 0; p < t->nparts; p++)
            if (t->parts[p].count == 1)
                reply_raw(r, t->parts[p].out.data, t->parts[p].out.len);
    }
}

static const struct mso_ops zmpop_ops = {.hop = zmpop_hop, .next = zmpop_next, .reply = zmpop_reply};

/* ---------- the table ---------- */

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM
#define MK CMD_MULTIKEY
#define MV CMD_MOVABLE_KEYS

const struct command zset_commands[] = {
    {"zadd", -4, W | D | F, 1, 1, 1, cmd_zadd, .group = "sorted_set", .summary = "Add one or more members to a sorted set, or update its score if it already exists", .since = "1.2.0", .complexity = "O(log(N)) for each item added, where N is the number of elements in the sorted set.", .acl = "write sortedset fast"},
    {"zincrby", 4, W | D | F, 1, 1, 1, cmd_zincrby, .group = "sorted_set", .summary = "Increment the score of a member in a sorted set", .since = "1.2.0", .complexity = "O(log(N)) where N is the number of elements in the sorted set.", .acl = "write sortedset fast"},
    {"zrem", -3, W | F, 1, 1, 1, cmd_zrem, .group = "sorted_set", .summary = "Remove one or more members from a sorted set", .since = "1.2.0", .complexity = "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.", .acl = "write sortedset fast"},
    {"zcard", 2, R | F, 1, 1, 1, cmd_zcard, .group = "sorted_set", .summary = "Get the number of members in a sorted set", .since = "1.2.0", .complexity = "O(1)", .acl = "read sortedset fast"},
    {"zscore", 3, R | F, 1, 1, 1, cmd_zscore, .group = "sorted_set", .summary = "Get the score associated with the given member in a sorted set", .since = "1.2.0", .complexity = "O(1)", .acl = "read sortedset fast"},
    {"zmscore", -3, R | F, 1, 1, 1, cmd_zmscore, .group = "sorted_set", .summary = "Get the score associated with the given members in a sorted set", .since = "6.2.0", .complexity = "O(N) where N is the number of members being requested.", .acl = "read sortedset fast"},
    {"zrank", 3, R | F, 1, 1, 1, cmd_zrank, .group = "sorted_set", .summary = "Determine the index of a member in a sorted set", .since = "2.0.0", .complexity = "O(log(N))", .acl = "read sortedset fast"},
    {"zrevrank", 3, R | F, 1, 1, 1, cmd_zrevrank, .group = "sorted_set", .summary = "Determine the index of a member in a sorted set, with scores ordered from high to low", .since = "2.0.0", .complexity = "O(log(N))", .acl = "read sortedset fast"},
    {"zcount", 4, R | F, 1, 1, 1, cmd_zcount, .group = "sorted_set", .summary = "Count the members in a sorted set with scores within the given values", .since = "2.0.0", .complexity = "O(log(N)) with N being the number of elements in the sorted set.", .acl = "read sortedset fast"},
    {"zlexcount", 4, R | F, 1, 1, 1, cmd_zlexcount, .group = "sorted_set", .summary = "Count the number of members in a sorted set between a given lexicographical range", .since = "2.8.9", .complexity = "O(log(N)) with N being the number of elements in the sorted set.", .acl = "read sortedset fast"},
    {"zrange", -4, R, 1, 1, 1, cmd_zrange, .group = "sorted_set", .summary = "Return a range of members in a sorted set", .since = "1.2.0", .complexity = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", .acl = "read sortedset slow"},
    {"zrangestore", -5, W | D | MK, 1, 2, 1, NULL, .mso = &zrangestore_ops, .group = "sorted_set", .summary = "Store a range of members from sorted set into another key", .since = "6.2.0", .complexity = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.", .acl = "write sortedset slow"},
    {"zrevrange", -4, R, 1, 1, 1, cmd_zrevrange, .group = "sorted_set", .summary = "Return a range of members in a sorted set, by index, with scores ordered from high to low", .since = "1.2.0", .complexity = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", .acl = "read sortedset slow"},
    {"zrangebyscore", -4, R, 1, 1, 1, cmd_zrangebyscore, .group = "sorted_set", .summary = "Return a range of members in a sorted set, by score", .since = "1.0.5", .complexity = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", .acl = "read sortedset slow"},
    {"zrevrangebyscore", -4, R, 1, 1, 1, cmd_zrevrangebyscore, .group = "sorted_set", .summary = "Return a range of members in a sorted set, by score, with scores ordered from high to low", .since = "2.2.0", .complexity = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", .acl = "read sortedset slow"},
    {"zrangebylex", -4, R, 1, 1, 1, cmd_zrangebylex, .group = "sorted_set", .summary = "Return a range of members in a sorted set, by lexicographical range", .since = "2.8.9", .complexity = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", .acl = "read sortedset slow"},
    {"zrevrangebylex", -4, R, 1, 1, 1, cmd_zrevrangebylex, .group = "sorted_set", .summary = "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", .since = "2.8.9", .complexity = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", .acl = "read sortedset slow"},
    {"zremrangebyrank", 4, W, 1, 1, 1, cmd_zremrangebyrank, .group = "sorted_set", .summary = "Remove all members in a sorted set within the given indexes", .since = "2.0.0", .complexity = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", .acl = "write sortedset slow"},
    {"zremrangebyscore", 4, W, 1, 1, 1, cmd_zremrangebyscore, .group = "sorted_set", .summary = "Remove all members in a sorted set within the given scores", .since = "1.2.0", .complexity = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", .acl = "write sortedset slow"},
    {"zremrangebylex", 4, W, 1, 1, 1, cmd_zremrangebylex, .group = "sorted_set", .summary = "Remove all members in a sorted set between the given lexicographical range", .since = "2.8.9", .complexity = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", .acl = "write sortedset slow"},
    {"zpopmin", -2, W | F, 1, 1, 1, cmd_zpopmin, .group = "sorted_set", .summary = "Remove and return members with the lowest scores in a sorted set", .since = "5.0.0", .complexity = "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", .acl = "write sortedset fast"},
    {"zpopmax", -2, W | F, 1, 1, 1, cmd_zpopmax, .group = "sorted_set", .summary = "Remove and return members with the highest scores in a sorted set", .since = "5.0.0", .complexity = "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", .acl = "write sortedset fast"},
    {"zmpop", -4, W | MK | MV, 0, 0, 0, cmd_zpop_nokeys, .mso = &zmpop_ops, .getkeys = zmpop_getkeys, .group = "sorted_set", .summary = "Remove and return members with scores in a sorted set", .since = "7.0.0", .complexity = "O(K) + O(N*log(M)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", .acl = "write sortedset slow"},
    {"bzpopmin", -3, W | CMD_NOSCRIPT | F | MK | CMD_BLOCKING, 1, -2, 1, cmd_zpop_nokeys, .mso = &zmpop_ops, .group = "sorted_set", .summary = "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", .since = "5.0.0", .complexity = "O(log(N)) with N being the number of elements in the sorted set.", .acl = "write sortedset fast blocking"},
    {"bzpopmax", -3, W | CMD_NOSCRIPT | F | MK | CMD_BLOCKING, 1, -2, 1, cmd_zpop_nokeys, .mso = &zmpop_ops, .group = "sorted_set", .summary = "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", .since = "5.0.0", .complexity = "O(log(N)) with N being the number of elements in the sorted set.", .acl = "write sortedset fast blocking"},
    {"bzmpop", -5, W | MK | MV | CMD_BLOCKING, 0, 0, 0, cmd_zpop_nokeys, .mso = &zmpop_ops, .getkeys = bzmpop_getkeys, .group = "sorted_set", .summary = "Remove and return members with scores in a sorted set or block until one is available", .since = "7.0.0", .complexity = "O(K) + O(N*log(M)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", .acl = "write sortedset slow blocking"},
    {"zrandmember", -2, R, 1, 1, 1, cmd_zrandmember, .group = "sorted_set", .summary = "Get one or multiple random elements from a sorted set", .since = "6.2.0", .complexity = "O(N) where N is the number of elements returned", .acl = "read sortedset slow"},
    {"zunion", -3, R | MK | MV, 0, 0, 0, cmd_zop_nokeys, .mso = &zop_ops, .getkeys = zunion_getkeys, .group = "sorted_set", .summary = "Add multiple sorted sets", .since = "6.2.0", .complexity = "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", .acl = "read sortedset slow"},
    {"zinter", -3, R | MK | MV, 0, 0, 0, cmd_zop_nokeys, .mso = &zop_ops, .getkeys = zunion_getkeys, .group = "sorted_set", .summary = "Intersect multiple sorted sets", .since = "6.2.0", .complexity = "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", .acl = "read sortedset slow"},
    {"zintercard", -3, R | MK | MV, 0, 0, 0, cmd_zop_nokeys, .mso = &zop_ops, .getkeys = zunion_getkeys, .group = "sorted_set", .summary = "Intersect multiple sorted sets and return the cardinality of the result", .since = "7.0.0", .complexity = "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.", .acl = "read sortedset slow"},
    {"zdiff", -3, R | MK | MV, 0, 0, 0, cmd_zop_nokeys, .mso = &zop_ops, .getkeys = zunion_getkeys, .group = "sorted_set", .summary = "Subtract multiple sorted sets", .since = "6.2.0", .complexity = "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", .acl = "read sortedset slow"},
    {"zunionstore", -4, W | D | MK | MV, 1, 1, 1, cmd_zop_nokeys, .mso = &zop_ops, .getkeys = zstore_getkeys, .group = "sorted_set", .summary = "Add multiple sorted sets and store the resulting sorted set in a new key", .since = "2.0.0", .complexity = "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", .acl = "write sortedset slow"},
    {"zinterstore", -4, W | D | MK | MV, 1, 1, 1, cmd_zop_nokeys, .mso = &zop_ops, .getkeys = zstore_getkeys, .group = "sorted_set", .summary = "Intersect multiple sorted sets and store the resulting sorted set in a new key", .since = "2.0.0", .complexity = "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", .acl = "write sortedset slow"},
    {"zdiffstore", -4, W | D | MK | MV, 1, 1, 1, cmd_zop_nokeys, .mso = &zop_ops, .getkeys = zstore_getkeys, .group = "sorted_set", .summary = "Subtract multiple sorted sets and store the resulting sorted set in a new key", .since = "6.2.0", .complexity = "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", .acl = "write sortedset slow"},
    {"zscan", -3, R, 1, 1, 1, cmd_zscan, .group = "sorted_set", .summary = "Incrementally iterate sorted sets elements and associated scores", .since = "2.8.0", .complexity = "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0.", .acl = "read sortedset slow"},
    {0},
};
