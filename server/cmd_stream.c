/* server/cmd_stream.c — the stream command family: XADD XLEN XRANGE
 * XREVRANGE XDEL XTRIM XREAD XREADGROUP XGROUP XACK XPENDING XCLAIM
 * XAUTOCLAIM XINFO XSETID. Replies and errors as Redis 7.0's t_stream.c.
 * XREAD/XREADGROUP over keys on several threads run as mso hops (validate
 * every key, then serve), so they are atomic and report the first error in
 * argument order.
 * Owns: stream command semantics. The value lives in shard/t_stream.c. */
#include "server/server.h"
#include "server/pubsub.h" /* pubsub: keyspace events */
#include "shard/t_stream.h"
#include "shard/types.h"

#include "server/blocking.h" /* blocking: XREAD/XREADGROUP BLOCK */

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define XREAD_BLOCKED_DEFAULT_COUNT 1000

static const char ERR_INVALID_ID[] = "ERR Invalid stream ID specified as stream command argument";

/* ---------- small helpers ---------- */

static void reply_id(struct reply *r, const struct sid *id)
{
    char buf[48];
    int n = sid_format(buf, id);
    reply_bulk(r, buf, (size_t)n);
}

/* Redis's string2ull: a canonical long long >= 0, or what strtoull takes whole. */
static bool str_to_ull(const char *s, unsigned long long *out)
{
    int64_t v;
    size_t len = strlen(s);
    if (string_to_int64(s, len, &v)) {
        if (v < 0)
            return false;
        *out = (unsigned long long)v;
        return true;
    }
    if (!*s)
        return false;
    errno = 0;
    char *end = NULL;
    *out = strtoull(s, &end, 10);
    if (errno == EINVAL || errno == ERANGE || *end != '\0')
        return false;
    return true;
}

/* streamGenericParseIDOrReply. `c` NULL: no reply. */
static bool parse_id_generic(struct cmd_ctx *c, const char *p, size_t len, struct sid *id, uint64_t missing_seq,
                             bool strict, bool *seq_given)
{
    char buf[128];
    if (len > sizeof(buf) - 1)
        goto invalid;
    memcpy(buf, p, len);
    buf[len] = 0;
    if (strict && (buf[0] == '-' || buf[0] == '+') && buf[1] == '\0')
        goto invalid;
    if (seq_given)
        *seq_given = true;
    if (buf[0] == '-' && buf[1] == '\0') {
        id->ms = id->seq = 0;
        return true;
    }
    if (buf[0] == '+' && buf[1] == '\0') {
        id->ms = id->seq = UINT64_MAX;
        return true;
    }
    unsigned long long ms, seq;
    char *dot = strchr(buf, '-');
    if (dot)
        *dot = '\0';
    if (!str_to_ull(buf, &ms))
        goto invalid;
    if (dot) {
        if (seq_given && dot[1] == '*' && dot[2] == '\0') {
            seq = 0;
            *seq_given = false;
        } else if (!str_to_ull(dot + 1, &seq)) {
            goto invalid;
        }
    } else {
        seq = missing_seq;
    }
    id->ms = ms;
    id->seq = seq;
    return true;
invalid:
    if (c)
        reply_error(&c->r, ERR_INVALID_ID);
    return false;
}

static bool parse_id(struct cmd_ctx *c, const struct arg *a, struct sid *id, uint64_t missing_seq)
{
    return parse_id_generic(c, a->p, a->len, id, missing_seq, false, NULL);
}

static bool parse_strict_id(struct cmd_ctx *c, const struct arg *a, struct sid *id, uint64_t missing_seq,
                            bool *seq_given)
{
    return parse_id_generic(c, a->p, a->len, id, missing_seq, true, seq_given);
}

/* streamParseIntervalIDOrReply: "(id" excludes. */
static bool parse_interval_id(struct cmd_ctx *c, const struct arg *a, struct sid *id, bool *exclude,
                              uint64_t missing_seq)
{
    *exclude = a->len > 1 && a->p[0] == '(';
    if (*exclude)
        return parse_id_generic(c, a->p + 1, a->len - 1, id, missing_seq, true, NULL);
    return parse_id(c, a, id, missing_seq);
}

/* The start of an interval, incremented when exclusive. */
static bool parse_range_start(struct cmd_ctx *c, const struct arg *a, struct sid *id)
{
    bool ex;
    if (!parse_interval_id(c, a, id, &ex, 0))
        return false;
    if (ex && !sid_incr(id)) {
        reply_error(&c->r, "ERR invalid start ID for the interval");
        return false;
    }
    return true;
}

static bool parse_range_end(struct cmd_ctx *c, const struct arg *a, struct sid *id)
{
    bool ex;
    if (!parse_interval_id(c, a, id, &ex, UINT64_MAX))
        return false;
    if (ex && !sid_decr(id)) {
        reply_error(&c->r, "ERR invalid end ID for the interval");
        return false;
    }
    return true;
}

static bool ll_or_reply(struct cmd_ctx *c, const struct arg *a, long long *out, const char *msg)
{
    if (arg_to_ll(a, out))
        return true;
    reply_error(&c->r, msg ? msg : ERR_NOT_INT);
    return false;
}

static void reply_subcommand_syntax(struct cmd_ctx *c)
{
    char up[32];
    size_t i = 0;
    for (; c->argv[0].p[i] && i < c->argv[0].len && i < sizeof(up) - 1; i++)
        up[i] = (char)toupper((unsigned char)c->argv[0].p[i]);
    up[i] = 0;
    int n = (int)(c->argv[1].len > 128 ? 128 : c->argv[1].len);
    reply_errorf(&c->r, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try %s HELP.", n,
                 c->argv[1].p, up);
}

static void reply_help_lines(struct cmd_ctx *c, const char *cmd, const char *const *lines, size_t n)
{
    char head[128];
    snprintf(head, sizeof(head), "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", cmd);
    reply_array(&c->r, (int64_t)n + 3);
    reply_status(&c->r, head);
    for (size_t i = 0; i < n; i++)
        reply_status(&c->r, lines[i]);
    reply_status(&c->r, "HELP");
    reply_status(&c->r, "    Prints this help.");
}

/* A stream at key: NULL when missing; WRONGTYPE replied (and *err set). */
static struct stream *find_stream(struct cmd_ctx *c, const struct arg *key, struct ks_ref *ref, bool *err,
                                  bool read)
{
    bool wrong;
    struct entry *e = db_find_type(c, key, OBJ_STREAM, ref, &wrong);
    *err = wrong;
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return NULL;
    }
    if (read) {
        if (e)
            c->ks->stats.keyspace_hits++;
        else
            c->ks->stats.keyspace_misses++;
    }
    if (e)
        db_touch(c, e);
    return e ? e->val.ptr : NULL;
}

static void notify(struct cmd_ctx *c, const char *event, const struct arg *key)
{
    notify_keyspace_event(c, NOTIFY_STREAM, event, key);
}

/* ---------- replying entries ---------- */

enum { RWR_NOACK = 1, RWR_RAW = 2, RWR_HISTORY = 4 };

static void reply_entry(struct reply *r, struct stream_iter *it, const struct sid *id, int64_t nfields)
{
    reply_array(r, 2);
    reply_id(r, id);
    reply_array(r, nfields * 2);
    while (nfields--) {
        const char *f, *v;
        size_t fl, vl;
        stream_iter_field(it, &f, &fl, &v, &vl);
        reply_bulk(r, f, fl);
        reply_bulk(r, v, vl);
    }
}

/* The group PEL gets `id` for consumer `con` (or takes it over). */
static void pel_deliver(struct stream_cg *g, struct stream_consumer *con, const struct sid *id, int64_t now)
{
    struct idmap_item *it = idmap_find(&g->pel, id);
    if (!it) {
        struct stream_nack *n = stream_nack_new(con, now);
        idmap_insert(&g->pel, id, n);
        idmap_insert(&con->pel, id, n);
        return;
    }
    struct stream_nack *n = it->val;
    if (n->consumer && n->consumer != con)
        idmap_remove(&n->consumer->pel, id);
    n->consumer = con;
    n->delivery_time = now;
    n->delivery_count = 1;
    idmap_insert(&con->pel, id, n);
}

static size_t reply_range(struct cmd_ctx *c, struct reply *r, struct stream *s, const struct sid *start,
                          const struct sid *end, size_t count, bool rev, struct stream_cg *g,
                          struct stream_consumer *con, int flags);

/* streamReplyWithRangeFromConsumerPEL: the consumer's history. */
static size_t reply_history(struct cmd_ctx *c, struct reply *r, struct stream *s, const struct sid *start,
                            size_t count, struct stream_consumer *con)
{
    struct buf tmp;
    buf_init(&tmp);
    struct reply tr = {&tmp, r->resp};
    size_t n = 0;
    for (size_t i = idmap_lower(&con->pel, start); i < con->pel.n && (!count || n < count); i++) {
        struct sid id = con->pel.items[i].id;
        if (reply_range(c, &tr, s, &id, &id, 1, false, NULL, NULL, RWR_RAW) == 0) {
            reply_array(&tr, 2);
            reply_id(&tr, &id);
            reply_null_array(&tr);
        } else {
            struct stream_nack *nk = con->pel.items[i].val;
            nk->delivery_time = c->now_ms;
            nk->delivery_count++;
        }
        n++;
    }
    reply_array(r, (int64_t)n);
    reply_raw(r, tmp.data, tmp.len);
    buf_free(&tmp);
    return n;
}

/* streamReplyWithRange. count 0 = no limit. */
static size_t reply_range(struct cmd_ctx *c, struct reply *r, struct stream *s, const struct sid *start,
                          const struct sid *end, size_t count, bool rev, struct stream_cg *g,
                          struct stream_consumer *con, int flags)
{
    if (g && (flags & RWR_HISTORY))
        return reply_history(c, r, s, start, count, con);
    struct buf tmp;
    struct reply tr = {&tmp, r->resp};
    struct reply *out = r;
    if (!(flags & RWR_RAW)) {
        buf_init(&tmp);
        out = &tr;
    }
    struct stream_iter it;
    struct sid id;
    int64_t nf;
    size_t n = 0;
    stream_iter_start(&it, s, start, end, rev);
    while (stream_iter_next(&it, &id, &nf)) {
        if (g && sid_cmp(&id, &g->last_id) > 0) {
            if (g->entries_read != STREAM_ENTRIES_READ_INVALID && !stream_range_has_tombstones(s, &id, NULL))
                g->entries_read++;
            else if (s->entries_added)
                g->entries_read = stream_estimate_distance(s, &id);
            g->last_id = id;
        }
        reply_entry(out, &it, &id, nf);
        if (g && !(flags & RWR_NOACK))
            pel_deliver(g, con, &id, c->now_ms);
        n++;
        if (count && count == n)
            break;
    }
    if (!(flags & RWR_RAW)) {
        reply_array(r, (int64_t)n);
        reply_raw(r, tmp.data, tmp.len);
        buf_free(&tmp);
    }
    return n;
}

/* ---------- XADD XTRIM argument parsing ---------- */

struct add_trim_args {
    struct sid id;
    bool id_given;
    bool seq_given;
    bool no_mkstream;
    struct stream_trim trim;
};

/* streamParseAddOrTrimArgsOrReply: returns the ID's position (XADD) or -1. */
static int parse_add_trim(struct cmd_ctx *c, struct add_trim_args *a, bool xadd)
{
    memset(a, 0, sizeof(*a));
    int i = 2;
    bool limit_given = false;
    for (; i < c->argc; i++) {
        int more = c->argc - 1 - i;
        const struct arg *o = &c->argv[i];
        if (xadd && o->len == 1 && o->p[0] == '*') {
            break;
        } else if ((arg_eq(o, "maxlen") || arg_eq(o, "minid")) && more) {
            bool maxlen = arg_eq(o, "maxlen");
            if (a->trim.strategy != TRIM_NONE) {
                reply_error(&c->r, "ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
                return -1;
            }
            a->trim.approx = false;
            const struct arg *next = &c->argv[i + 1];
            if (more >= 2 && next->len == 1 && next->p[0] == '~') {
                a->trim.approx = true;
                i++;
            } else if (more >= 2 && next->len == 1 && next->p[0] == '=') {
                i++;
            }
            if (maxlen) {
                if (!ll_or_reply(c, &c->argv[i + 1], &a->trim.maxlen, NULL))
                    return -1;
                if (a->trim.maxlen < 0) {
                    reply_error(&c->r, "ERR The MAXLEN argument must be >= 0.");
                    return -1;
                }
                a->trim.strategy = TRIM_MAXLEN;
            } else {
                if (!parse_strict_id(c, &c->argv[i + 1], &a->trim.minid, 0, NULL))
                    return -1;
                a->trim.strategy = TRIM_MINID;
            }
            i++;
        } else if (arg_eq(o, "limit") && more) {
            if (!ll_or_reply(c, &c->argv[i + 1], &a->trim.limit, NULL))
                return -1;
            if (a->trim.limit < 0) {
                reply_error(&c->r, "ERR The LIMIT argument must be >= 0.");
                return -1;
            }
            limit_given = true;
            i++;
        } else if (xadd && arg_eq(o, "nomkstream")) {
            a->no_mkstream = true;
        } else if (xadd) {
            if (!parse_strict_id(c, o, &a->id, 0, &a->seq_given))
                return -1;
            a->id_given = true;
            break;
        } else {
            reply_error(&c->r, ERR_SYNTAX);
            return -1;
        }
    }
    if (a->trim.limit && a->trim.strategy == TRIM_NONE) {
        reply_error(&c->r, "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return -1;
    }
    if (!xadd && a->trim.strategy == TRIM_NONE) {
        reply_error(&c->r, "ERR syntax error, XTRIM must be called with a trimming strategy");
        return -1;
    }
    if (limit_given) {
        if (!a->trim.approx) {
            reply_error(&c->r, "ERR syntax error, LIMIT cannot be used without the special ~ option");
            return -1;
        }
    } else if (a->trim.approx) {
        a->trim.limit = 100 * type_limits()->stream_node_max_entries;
        if (a->trim.limit <= 0)
            a->trim.limit = 10000;
        if (a->trim.limit > 1000000)
            a->trim.limit = 1000000;
    } else {
        a->trim.limit = 0;
    }
    return i;
}

/* ---------- XADD ---------- */

static void cmd_xadd(struct cmd_ctx *c)
{
    struct add_trim_args a;
    int idpos = parse_add_trim(c, &a, true);
    if (idpos < 0)
        return;
    int fpos = idpos + 1;
    if (c->argc - fpos < 2 || (c->argc - fpos) % 2 == 1) {
        reply_errorf(&c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
        return;
    }
    if (a.id_given && a.seq_given && a.id.ms == 0 && a.id.seq == 0) {
        reply_error(&c->r, "ERR The ID specified in XADD must be greater than 0-0");
        return;
    }
    const struct arg *key = &c->argv[1];
    bool err;
    struct stream *s = find_stream(c, key, NULL, &err, false);
    if (err)
        return;
    if (!s) {
        if (a.no_mkstream) {
            reply_null(&c->r);
            return;
        }
        s = stream_new();
        db_add(c, key, entry_new_object(key->p, key->len, OBJ_STREAM, OBJ_ENC_STREAM, s));
    }
    if (s->last_id.ms == UINT64_MAX && s->last_id.seq == UINT64_MAX) {
        reply_error(&c->r, "ERR The stream has exhausted the last possible ID, unable to add more items");
        return;
    }
    size_t nfields = (size_t)(c->argc - fpos) / 2;
    struct stream_str *fv = mi_malloc(sizeof(*fv) * nfields * 2);
    for (size_t i = 0; i < nfields * 2; i++) {
        fv[i].p = c->argv[fpos + (int)i].p;
        fv[i].len = c->argv[fpos + (int)i].len;
    }
    struct sid id;
    int rc = stream_append(s, fv, nfields, a.id_given ? &a.id : NULL, a.seq_given, c->now_ms, &id);
    mi_free(fv);
    if (rc == -1) {
        reply_error(&c->r, "ERR The ID specified in XADD is equal or smaller than the target stream top item");
        return;
    }
    if (rc == -2) {
        reply_error(&c->r, "ERR Elements are too large to be stored");
        return;
    }
    reply_id(&c->r, &id);
    db_signal_modified(c, key);
    notify(c, "xadd", key);
    if (a.trim.strategy != TRIM_NONE && stream_trim(s, &a.trim))
        notify(c, "xtrim", key);
    /* blocking: XREAD/XREADGROUP waiters are woken by the key's modification */
}

/* ---------- XLEN XRANGE XREVRANGE ---------- */

static void cmd_xlen(struct cmd_ctx *c)
{
    bool err;
    struct stream *s = find_stream(c, &c->argv[1], NULL, &err, true);
    if (err)
        return;
    reply_int(&c->r, s ? (int64_t)s->length : 0);
}

static void xrange_generic(struct cmd_ctx *c, bool rev)
{
    const struct arg *sa = rev ? &c->argv[3] : &c->argv[2];
    const struct arg *ea = rev ? &c->argv[2] : &c->argv[3];
    struct sid start, end;
    long long count = -1;
    if (!parse_range_start(c, sa, &start) || !parse_range_end(c, ea, &end))
        return;
    for (int j = 4; j < c->argc; j++) {
        if (arg_eq(&c->argv[j], "count") && c->argc - j - 1 >= 1) {
            if (!ll_or_reply(c, &c->argv[j + 1], &count, NULL))
                return;
            if (count < 0)
                count = 0;
            j++;
        } else {
            reply_error(&c->r, ERR_SYNTAX);
            return;
        }
    }
    bool err;
    struct stream *s = find_stream(c, &c->argv[1], NULL, &err, true);
    if (err)
        return;
    if (!s) {
        reply_array(&c->r, 0);
        return;
    }
    if (count == 0) {
        reply_null_array(&c->r);
        return;
    }
    reply_range(c, &c->r, s, &start, &end, count == -1 ? 0 : (size_t)count, rev, NULL, NULL, 0);
}

static void cmd_xrange(struct cmd_ctx *c) { xrange_generic(c, false); }
static void cmd_xrevrange(struct cmd_ctx *c) { xrange_generic(c, true); }

/* ---------- XDEL XTRIM ---------- */

/* Every ID from argv[first] on (XDEL, XACK): all are checked before any is
 * used, as Redis does. NULL after replying the error; mi_free the result. */
static struct sid *parse_id_list(struct cmd_ctx *c, int first)
{
    int nids = c->argc - first;
    struct sid *ids = mi_malloc(sizeof(*ids) * (size_t)nids);
    for (int j = 0; j < nids; j++) {
        if (!parse_strict_id(c, &c->argv[first + j], &ids[j], 0, NULL)) {
            mi_free(ids);
            return NULL;
        }
    }
    return ids;
}

static void cmd_xdel(struct cmd_ctx *c)
{
    bool err;
    struct stream *s = find_stream(c, &c->argv[1], NULL, &err, false);
    if (err)
        return;
    if (!s) {
        reply_int(&c->r, 0);
        return;
    }
    int nids = c->argc - 2;
    struct sid *ids = parse_id_list(c, 2);
    if (!ids)
        return;
    int64_t deleted = 0;
    bool first_entry = false;
    for (int j = 0; j < nids; j++) {
        if (stream_delete(s, &ids[j])) {
            if (sid_cmp(&ids[j], &s->first_id) == 0)
                first_entry = true;
            if (sid_cmp(&ids[j], &s->max_deleted_id) > 0)
                s->max_deleted_id = ids[j];
            deleted++;
        }
    }
    mi_free(ids);
    if (deleted) {
        if (s->length == 0)
            s->first_id.ms = s->first_id.seq = 0;
        else if (first_entry)
            stream_edge_id(s, true, true, &s->first_id);
        db_signal_modified(c, &c->argv[1]);
        notify(c, "xdel", &c->argv[1]);
    }
    reply_int(&c->r, deleted);
}

static void cmd_xtrim(struct cmd_ctx *c)
{
    struct add_trim_args a;
    if (parse_add_trim(c, &a, false) < 0)
        return;
    bool err;
    struct stream *s = find_stream(c, &c->argv[1], NULL, &err, false);
    if (err)
        return;
    if (!s) {
        reply_int(&c->r, 0);
        return;
    }
    int64_t deleted = stream_trim(s, &a.trim);
    if (deleted) {
        notify(c, "xtrim", &c->argv[1]);
        db_signal_modified(c, &c->argv[1]);
    }
    reply_int(&c->r, deleted);
}

/* ---------- XREAD XREADGROUP ---------- */

struct xread_args {
    bool group_cmd;
    long long timeout; /* -1: no BLOCK */
    long long count;
    int streams_arg;
    int nstreams;
    bool noack;
    const struct arg *group, *consumer;
};

/* Options (no key access). False after replying an error. */
static bool xread_parse(struct cmd_ctx *c, struct xread_args *a)
{
    memset(a, 0, sizeof(*a));
    a->timeout = -1;
    a->group_cmd = c->argv[0].len == 10;
    for (int i = 1; i < c->argc; i++) {
        int more = c->argc - i - 1;
        const struct arg *o = &c->argv[i];
        if (arg_eq(o, "block") && more) {
            if (c->in_script) {
                reply_errorf(&c->r, "ERR %.*s command is not allowed with BLOCK option from scripts",
                             (int)c->argv[0].len, c->argv[0].p);
                return false;
            }
            i++;
            long long t;
            if (!ll_or_reply(c, &c->argv[i], &t, "ERR timeout is not an integer or out of range"))
                return false;
            if (t < 0) {
                reply_error(&c->r, "ERR timeout is negative");
                return false;
            }
            if (t > 0 && t > LLONG_MAX - c->now_ms) {
                reply_error(&c->r, "ERR timeout is out of range");
                return false;
            }
            a->timeout = t;
        } else if (arg_eq(o, "count") && more) {
            i++;
            if (!ll_or_reply(c, &c->argv[i], &a->count, NULL))
                return false;
            if (a->count < 0)
                a->count = 0;
        } else if (arg_eq(o, "streams") && more) {
            a->streams_arg = i + 1;
            a->nstreams = c->argc - a->streams_arg;
            if (a->nstreams % 2 != 0) {
                reply_error(&c->r, "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be "
                                   "specified.");
                return false;
            }
            a->nstreams /= 2;
            break;
        } else if (arg_eq(o, "group") && more >= 2) {
            if (!a->group_cmd) {
                reply_error(&c->r, "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
                return false;
            }
            a->group = &c->argv[i + 1];
            a->consumer = &c->argv[i + 2];
            i += 2;
        } else if (arg_eq(o, "noack")) {
            if (!a->group_cmd) {
                reply_error(&c->r, "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
                return false;
            }
            a->noack = true;
        } else {
            reply_error(&c->r, ERR_SYNTAX);
            return false;
        }
    }
    if (a->streams_arg == 0) {
        reply_error(&c->r, ERR_SYNTAX);
        return false;
    }
    if (a->group_cmd && !a->group) {
        reply_error(&c->r, "ERR Missing GROUP option for XREADGROUP");
        return false;
    }
    return true;
}

static int xread_getkeys(struct arg *argv, int argc, int *keys, int max)
{
    int streams = 0;
    for (int i = 1; i < argc; i++) {
        const struct arg *a = &argv[i];
        if (arg_eq(a, "block") || arg_eq(a, "count")) {
            i++;
        } else if (arg_eq(a, "group")) {
            i += 2;
        } else if (arg_eq(a, "noack")) {
        } else if (arg_eq(a, "streams")) {
            streams = i;
            break;
        } else {
            break;
        }
    }
    if (!streams)
        return 0;
    int n = argc - streams - 1;
    if (n <= 0 || n % 2)
        return 0;
    n /= 2;
    int got = 0;
    for (int i = 0; i < n && got < max; i++)
        keys[got++] = streams + 1 + i;
    return got;
}

/* The first error for key at argv index `ki` (type, group, then its ID), or
 * NULL; `gt` receives the ID entries must be greater than. */
static const char *xread_check_key(struct cmd_ctx *c, const struct xread_args *a, int ki, struct sid *gt,
                                   char *err, size_t errlen)
{
    const struct arg *key = &c->argv[ki];
    const struct arg *ida = &c->argv[ki + a->nstreams];
    bool wrong;
    struct entry *e = db_find_type(c, key, OBJ_STREAM, NULL, &wrong);
    if (wrong)
        return ERR_WRONGTYPE;
    struct stream *s = e ? e->val.ptr : NULL;
    if (a->group) {
        if (!s || !stream_cg_find(s, a->group->p, a->group->len)) {
            snprintf(err, errlen,
                     "NOGROUP No such key '%.*s' or consumer group '%.*s' in XREADGROUP with GROUP option",
                     (int)strnlen(key->p, key->len), key->p, (int)strnlen(a->group->p, a->group->len),
                     a->group->p);
            return err;
        }
    }
    if (ida->len == 1 && ida->p[0] == '$') {
        if (a->group_cmd)
            return "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this "
                   "consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just "
                   "return an empty result set.";
        if (s)
            *gt = s->last_id;
        else
            gt->ms = gt->seq = 0;
        return NULL;
    }
    if (ida->len == 1 && ida->p[0] == '>') {
        if (!a->group_cmd)
            return "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> "
                   "option.";
        gt->ms = gt->seq = UINT64_MAX;
        return NULL;
    }
    if (!parse_id_generic(NULL, ida->p, ida->len, gt, 0, true, NULL))
        return ERR_INVALID_ID;
    return NULL;
}

/* Serve one key into r (key name + entries); false when it has nothing. */
static bool xread_serve_key(struct cmd_ctx *c, const struct xread_args *a, int ki, const struct sid *gt_in,
                            struct reply *r)
{
    const struct arg *key = &c->argv[ki];
    struct entry *e = db_find(c, key, NULL);
    if (!e || e->type != OBJ_STREAM)
        return false;
    struct stream *s = e->val.ptr;
    struct stream_cg *g = a->group ? stream_cg_find(s, a->group->p, a->group->len) : NULL;
    if (a->group && !g)
        return false;
    struct sid gt = *gt_in;
    bool serve = false, history = false;
    if (g) {
        if (gt.ms != UINT64_MAX || gt.seq != UINT64_MAX) {
            serve = history = true;
        } else if (s->length) {
            struct sid maxid;
            stream_edge_id(s, false, true, &maxid);
            serve = sid_cmp(&maxid, &g->last_id) > 0;
            if (serve)
                gt = g->last_id;
        }
    } else if (s->length) {
        struct sid maxid;
        stream_edge_id(s, false, true, &maxid);
        serve = sid_cmp(&maxid, &gt) > 0;
    }
    if (!serve)
        return false;
    struct sid start = gt;
    sid_incr(&start);
    reply_bulk(r, key->p, key->len);
    struct stream_consumer *con = NULL;
    if (g) {
        con = stream_consumer_find(g, a->consumer->p, a->consumer->len);
        if (con) {
            con->seen_time = c->now_ms;
        } else {
            con = stream_consumer_create(g, a->consumer->p, a->consumer->len, c->now_ms);
            notify(c, "xgroup-createconsumer", key);
        }
    }
    int flags = (a->noack ? RWR_NOACK : 0) | (history ? RWR_HISTORY : 0);
    reply_range(c, r, s, &start, NULL, (size_t)a->count, false, g, con, flags);
    if (g)
        db_signal_modified(c, key);
    return true;
}

/* Per part (mso_part.data): the served keys' replies as [argv index,
 * offset, length] into the part's output, and what "$" resolved to. */
struct xread_chunk {
    int argi;
    size_t off, len;
};
struct xread_res {
    int argi;
    struct sid id;
};
struct xread_part {
    int nchunks, nres;
    struct xread_chunk *chunks;
    struct xread_res *res;
};

static struct xread_part *xread_part_new(int nkeys)
{
    size_t n = (size_t)(nkeys ? nkeys : 1);
    struct xread_part *xp = mi_zalloc(sizeof(*xp) + n * (sizeof(struct xread_chunk) + sizeof(struct xread_res)));
    xp->chunks = (struct xread_chunk *)(xp + 1);
    xp->res = (struct xread_res *)(xp->chunks + n);
    return xp;
}

static bool xread_serving(const struct mso *t) { return blocking_mso_serving(t); }

/* A parked XREAD/XREADGROUP runs again: a key that vanished or changed type
 * is "nothing" for XREAD and an error for XREADGROUP, as Redis's
 * serveClientsBlockedOnStreamKey / unblockDeletedStreamReadgroupClients. */
static const char *xread_serving_error(struct cmd_ctx *c, const struct xread_args *a, int ki, bool *skip)
{
    *skip = false;
    struct entry *e = db_find(c, &c->argv[ki], NULL);
    if (!e || e->type != OBJ_STREAM) {
        if (a->group)
            return "UNBLOCKED the stream key no longer exists";
        *skip = true;
        return NULL;
    }
    if (a->group && !stream_cg_find(e->val.ptr, a->group->p, a->group->len))
        return "NOGROUP the consumer group this client was blocked on no longer exists";
    return NULL;
}

static void xread_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    struct mso_part *p = &t->parts[part];
    struct xread_args a;
    buf_clear(&p->out);
    if (!xread_parse(c, &a)) {
        /* an argument error: reported as if at argv[1], before any key's */
        struct buf *b = &p->out;
        size_t n = b->len >= 3 ? b->len - 3 : 0;
        memmove(b->data, b->data + 1, n);
        b->len = n;
        p->count = 1;
        return;
    }
    bool serving = xread_serving(t);
    if (serving && a.count == 0)
        a.count = XREAD_BLOCKED_DEFAULT_COUNT;
    if (hop == 0) {
        struct xread_part *xp = xread_part_new(c->nkeys);
        mi_free(p->data);
        p->data = xp;
        p->count = 0;
        for (int i = 0; i < c->nkeys; i++) {
            char err[512];
            struct sid gt;
            int ki = c->keyidx[i];
            bool skip = false;
            const char *msg = serving ? xread_serving_error(c, &a, ki, &skip) : NULL;
            if (!msg && !skip)
                msg = xread_check_key(c, &a, ki, &gt, err, sizeof(err));
            if (msg) {
                p->count = ki;
                buf_clear(&p->out);
                buf_append(&p->out, msg, strlen(msg));
                return;
            }
            const struct arg *ida = &c->argv[ki + a.nstreams];
            if (!skip && ida->len == 1 && ida->p[0] == '$') {
                xp->res[xp->nres].argi = ki + a.nstreams;
                xp->res[xp->nres].id = gt;
                xp->nres++;
            }
        }
        return;
    }
    struct xread_part *xp = p->data;
    xp->nchunks = 0;
    for (int i = 0; i < c->nkeys; i++) {
        char err[512];
        struct sid gt;
        int ki = c->keyidx[i];
        if (xread_check_key(c, &a, ki, &gt, err, sizeof(err)))
            continue; /* serving: a key of another type waits */
        size_t off = p->out.len;
        if (xread_serve_key(c, &a, ki, &gt, &c->r)) {
            xp->chunks[xp->nchunks].argi = ki;
            xp->chunks[xp->nchunks].off = off;
            xp->chunks[xp->nchunks].len = p->out.len - off;
            xp->nchunks++;
            if (serving)
                break; /* a woken reader gets the one key that has data, as in Redis */
        }
    }
    p->count = xp->nchunks;
    p->count2 = a.timeout;
}

/* Nothing was served and BLOCK was given: park the client when allowed,
 * with "$" replaced by what it meant now. */
static void xread_maybe_block(struct mso *t)
{
    int64_t timeout = t->parts[0].count2;
    if (timeout < 0 || !blocking_mso_may_block(t))
        return;
    for (int i = 0; i < t->nparts; i++) {
        struct xread_part *xp = t->parts[i].data;
        for (int j = 0; xp && j < xp->nres; j++) {
            char buf[48];
            int n = sid_format(buf, &xp->res[j].id);
            blocking_mso_rewrite_arg(t, xp->res[j].argi, buf, (size_t)n);
        }
    }
    if (t->argv[0].len == 10) /* XREADGROUP: a deleted key unblocks it with an error */
        blocking_mso_wake_on_delete(t);
    blocking_mso_block(t, timeout);
}

static bool xread_blocked(const struct mso *t) { return blocking_mso_blocked(t); }

static int xread_next(struct mso *t, int hop)
{
    if (hop == 0) {
        for (int i = 0; i < t->nparts; i++)
            if (t->parts[i].count)
                return -1;
        t->i64 = 1; /* validated */
        return 1;
    }
    int64_t total = 0;
    for (int i = 0; i < t->nparts; i++)
        total += t->parts[i].count;
    if (total == 0)
        xread_maybe_block(t);
    return -1;
}

static void xread_reply(struct mso *t, struct reply *r)
{
    if (!r || xread_blocked(t))
        return;
    if (!t->i64) {
        int best = -1;
        for (int i = 0; i < t->nparts; i++)
            if (t->parts[i].count && (best < 0 || t->parts[i].count < t->parts[best].count))
                best = i;
        if (best >= 0) {
            struct buf *b = &t->parts[best].out;
            char *msg = mi_malloc(b->len + 1);
            memcpy(msg, b->data, b->len);
            msg[b->len] = 0;
            reply_error(r, msg);
            mi_free(msg);
        } else {
            reply_null_array(r);
        }
        return;
    }
    int64_t total = 0;
    for (int i = 0; i < t->nparts; i++)
        total += t->parts[i].count;
    if (total == 0) {
        reply_null_array(r);
        return;
    }
    if (r->resp == 2)
        reply_array(r, total);
    else
        reply_map(r, total);
    /* stitch in argument order */
    int last = -1;
    for (int64_t k = 0; k < total; k++) {
        struct xread_chunk *best = NULL;
        struct buf *bb = NULL;
        for (int i = 0; i < t->nparts; i++) {
            struct xread_part *xp = t->parts[i].data;
            for (int j = 0; xp && j < xp->nchunks; j++) {
                if (xp->chunks[j].argi > last && (!best || xp->chunks[j].argi < best->argi)) {
                    best = &xp->chunks[j];
                    bb = &t->parts[i].out;
                }
            }
        }
        if (!best)
            break;
        if (r->resp == 2)
            reply_array(r, 2);
        reply_raw(r, bb->data + best->off, best->len);
        last = best->argi;
    }
}

/* Reached only when no key could be found (argument errors). */
static void cmd_xread_nokeys(struct cmd_ctx *c)
{
    struct xread_args a;
    if (!xread_parse(c, &a))
        return;
    reply_error(&c->r, ERR_SYNTAX);
}

static const struct mso_ops xread_ops = {.hop = xread_hop, .next = xread_next, .reply = xread_reply};

/* ---------- XGROUP ---------- */

static void xgroup_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
    };
    reply_help_lines(c, "XGROUP", lines, sizeof(lines) / sizeof(lines[0]));
}

static void cmd_xgroup(struct cmd_ctx *c)
{
    const struct arg *opt = &c->argv[1];
    bool mkstream = false;
    long long entries_read = STREAM_ENTRIES_READ_INVALID;
    struct stream *s = NULL;
    struct stream_cg *cg = NULL;
    const struct arg *key = c->argc >= 3 ? &c->argv[2] : NULL;
    const struct arg *gname = c->argc >= 4 ? &c->argv[3] : NULL;
    if (c->argc >= 4) {
        bool create = arg_eq(opt, "create"), setid = arg_eq(opt, "setid");
        for (int i = 5; i < c->argc;) {
            if (create && arg_eq(&c->argv[i], "mkstream")) {
                mkstream = true;
                i++;
            } else if ((create || setid) && arg_eq(&c->argv[i], "entriesread") && i + 1 < c->argc) {
                if (!ll_or_reply(c, &c->argv[i + 1], &entries_read, NULL))
                    return;
                if (entries_read < 0 && entries_read != STREAM_ENTRIES_READ_INVALID) {
                    reply_error(&c->r, "ERR value for ENTRIESREAD must be positive or -1");
                    return;
                }
                i += 2;
            } else {
                reply_subcommand_syntax(c);
                return;
            }
        }
        bool err;
        s = find_stream(c, key, NULL, &err, false);
        if (err)
            return;
    }
    if (c->argc >= 4 && !mkstream) {
        if (!s) {
            reply_error(&c->r, "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may "
                               "want to use the MKSTREAM option to create an empty stream automatically.");
            return;
        }
        cg = stream_cg_find(s, gname->p, gname->len);
        if (!cg && (arg_eq(opt, "setid") || arg_eq(opt, "createconsumer") || arg_eq(opt, "delconsumer"))) {
            reply_errorf(&c->r, "NOGROUP No such consumer group '%.*s' for key name '%.*s'",
                         (int)strnlen(gname->p, gname->len), gname->p, (int)strnlen(key->p, key->len), key->p);
            return;
        }
    }
    if (c->argc == 2 && arg_eq(opt, "help")) {
        xgroup_help(c);
    } else if (arg_eq(opt, "create") && c->argc >= 5 && c->argc <= 8) {
        struct sid id;
        const struct arg *ida = &c->argv[4];
        if (ida->len == 1 && ida->p[0] == '$') {
            if (s)
                id = s->last_id;
            else
                id.ms = id.seq = 0;
        } else if (!parse_strict_id(c, ida, &id, 0, NULL)) {
            return;
        }
        if (!s) {
            s = stream_new();
            db_add(c, key, entry_new_object(key->p, key->len, OBJ_STREAM, OBJ_ENC_STREAM, s));
        }
        if (stream_cg_create(s, gname->p, gname->len, &id, entries_read)) {
            reply_ok(&c->r);
            db_signal_modified(c, key);
            notify(c, "xgroup-create", key);
        } else {
            reply_error(&c->r, "BUSYGROUP Consumer Group name already exists");
        }
    } else if (arg_eq(opt, "setid") && (c->argc == 5 || c->argc == 7)) {
        struct sid id;
        const struct arg *ida = &c->argv[4];
        if (ida->len == 1 && ida->p[0] == '$')
            id = s->last_id;
        else if (!parse_id(c, ida, &id, 0))
            return;
        cg->last_id = id;
        cg->entries_read = entries_read;
        reply_ok(&c->r);
        db_signal_modified(c, key);
        notify(c, "xgroup-setid", key);
    } else if (arg_eq(opt, "destroy") && c->argc == 4) {
        if (cg) {
            stream_cg_destroy(s, gname->p, gname->len);
            reply_int(&c->r, 1);
            db_signal_modified(c, key);
            notify(c, "xgroup-destroy", key);
        } else {
            reply_int(&c->r, 0);
        }
    } else if (arg_eq(opt, "createconsumer") && c->argc == 5) {
        const struct arg *cn = &c->argv[4];
        bool created = stream_consumer_create(cg, cn->p, cn->len, c->now_ms) != NULL;
        if (created) {
            db_signal_modified(c, key);
            notify(c, "xgroup-createconsumer", key);
        }
        reply_int(&c->r, created);
    } else if (arg_eq(opt, "delconsumer") && c->argc == 5) {
        const struct arg *cn = &c->argv[4];
        struct stream_consumer *con = stream_consumer_find(cg, cn->p, cn->len);
        int64_t pending = 0;
        if (con) {
            pending = (int64_t)stream_consumer_delete(cg, con);
            db_signal_modified(c, key);
            notify(c, "xgroup-delconsumer", key);
        }
        reply_int(&c->r, pending);
    } else {
        reply_subcommand_syntax(c);
    }
}

/* ---------- XSETID ---------- */

static void cmd_xsetid(struct cmd_ctx *c)
{
    struct sid id, max_xdel = {0, 0};
    long long entries_added = -1;
    if (!parse_strict_id(c, &c->argv[2], &id, 0, NULL))
        return;
    for (int i = 3; i < c->argc; i += 2) {
        int more = c->argc - 1 - i;
        const struct arg *o = &c->argv[i];
        if (arg_eq(o, "entriesadded") && more) {
            if (!ll_or_reply(c, &c->argv[i + 1], &entries_added, NULL))
                return;
            if (entries_added < 0) {
                reply_error(&c->r, "ERR entries_added must be positive");
                return;
            }
        } else if (arg_eq(o, "maxdeletedid") && more) {
            if (!parse_strict_id(c, &c->argv[i + 1], &max_xdel, 0, NULL))
                return;
            if (sid_cmp(&id, &max_xdel) < 0) {
                reply_error(&c->r, "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
                return;
            }
        } else {
            reply_error(&c->r, ERR_SYNTAX);
            return;
        }
    }
    bool err;
    struct stream *s = find_stream(c, &c->argv[1], NULL, &err, false);
    if (err)
        return;
    if (!s) {
        reply_error(&c->r, ERR_NO_KEY);
        return;
    }
    if (s->length > 0) {
        struct sid maxid;
        stream_edge_id(s, false, true, &maxid);
        if (sid_cmp(&id, &maxid) < 0) {
            reply_error(&c->r, "ERR The ID specified in XSETID is smaller than the target stream top item");
            return;
        }
        if (entries_added != -1 && s->length > (uint64_t)entries_added) {
            reply_error(&c->r, "ERR The entries_added specified in XSETID is smaller than the target stream length");
            return;
        }
    }
    s->last_id = id;
    if (entries_added != -1)
        s->entries_added = (uint64_t)entries_added;
    if (!sid_is_zero(&max_xdel))
        s->max_deleted_id = max_xdel;
    reply_ok(&c->r);
    db_signal_modified(c, &c->argv[1]);
    notify(c, "xsetid", &c->argv[1]);
}

/* ---------- XACK ---------- */

static void cmd_xack(struct cmd_ctx *c)
{
    bool err;
    struct stream *s = find_stream(c, &c->argv[1], NULL, &err, true);
    if (err)
        return;
    struct stream_cg *g = s ? stream_cg_find(s, c->argv[2].p, c->argv[2].len) : NULL;
    if (!g) {
        reply_int(&c->r, 0);
        return;
    }
    int nids = c->argc - 3;
    struct sid *ids = parse_id_list(c, 3);
    if (!ids)
        return;
    int64_t acked = 0;
    for (int j = 0; j < nids; j++) {
        struct stream_nack *n = idmap_remove(&g->pel, &ids[j]);
        if (n) {
            if (n->consumer)
                idmap_remove(&n->consumer->pel, &ids[j]);
            stream_nack_free(n);
            acked++;
        }
    }
    mi_free(ids);
    if (acked)
        db_signal_modified(c, &c->argv[1]);
    reply_int(&c->r, acked);
}

/* ---------- XPENDING ---------- */

static void reply_nogroup(struct cmd_ctx *c, const struct arg *key, const struct arg *g)
{
    reply_errorf(&c->r, "NOGROUP No such key '%.*s' or consumer group '%.*s'", (int)strnlen(key->p, key->len),
                 key->p, (int)strnlen(g->p, g->len), g->p);
}

static void xpending_summary(struct cmd_ctx *c, struct stream_cg *g)
{
    reply_array(&c->r, 4);
    reply_int(&c->r, (int64_t)g->pel.n);
    if (g->pel.n == 0) {
        reply_null(&c->r);
        reply_null(&c->r);
        reply_null_array(&c->r);
        return;
    }
    reply_id(&c->r, &g->pel.items[0].id);
    reply_id(&c->r, &g->pel.items[g->pel.n - 1].id);
    size_t n = 0;
    for (size_t i = 0; i < g->nconsumers; i++)
        n += g->consumers[i]->pel.n > 0;
    reply_array(&c->r, (int64_t)n);
    for (size_t i = 0; i < g->nconsumers; i++) {
        struct stream_consumer *con = g->consumers[i];
        if (!con->pel.n)
            continue;
        reply_array(&c->r, 2);
        reply_bulk(&c->r, con->name, con->nlen);
        reply_bulk_int(&c->r, (int64_t)con->pel.n);
    }
}

static void cmd_xpending(struct cmd_ctx *c)
{
    bool justinfo = c->argc == 3;
    const struct arg *key = &c->argv[1], *gname = &c->argv[2], *cname = NULL;
    struct sid start, end;
    long long count = 0, minidle = 0;
    if (c->argc != 3 && (c->argc < 6 || c->argc > 9)) {
        reply_error(&c->r, ERR_SYNTAX);
        return;
    }
    if (c->argc >= 6) {
        int si = 3;
        if (arg_eq(&c->argv[3], "idle")) {
            if (!ll_or_reply(c, &c->argv[4], &minidle, NULL))
                return;
            if (c->argc < 8) {
                reply_error(&c->r, ERR_SYNTAX);
                return;
            }
            si += 2;
        }
        if (!ll_or_reply(c, &c->argv[si + 2], &count, NULL))
            return;
        if (count < 0)
            count = 0;
        if (!parse_range_start(c, &c->argv[si], &start) || !parse_range_end(c, &c->argv[si + 1], &end))
            return;
        if (si + 3 < c->argc)
            cname = &c->argv[si + 3];
    }
    bool err;
    struct stream *s = find_stream(c, key, NULL, &err, true);
    if (err)
        return;
    struct stream_cg *g = s ? stream_cg_find(s, gname->p, gname->len) : NULL;
    if (!g) {
        reply_nogroup(c, key, gname);
        return;
    }
    if (justinfo) {
        xpending_summary(c, g);
        return;
    }
    struct idmap *pel = &g->pel;
    if (cname) {
        struct stream_consumer *con = stream_consumer_find(g, cname->p, cname->len);
        if (!con) {
            reply_array(&c->r, 0);
            return;
        }
        pel = &con->pel;
    }
    struct buf tmp;
    buf_init(&tmp);
    struct reply tr = {&tmp, c->r.resp};
    int64_t n = 0;
    for (size_t i = idmap_lower(pel, &start); count && i < pel->n && sid_cmp(&pel->items[i].id, &end) <= 0; i++) {
        struct stream_nack *nk = pel->items[i].val;
        int64_t idle = c->now_ms - nk->delivery_time;
        if (minidle && idle < minidle)
            continue;
        n++;
        count--;
        reply_array(&tr, 4);
        reply_id(&tr, &pel->items[i].id);
        if (nk->consumer)
            reply_bulk(&tr, nk->consumer->name, nk->consumer->nlen);
        else
            reply_null(&tr);
        reply_int(&tr, idle < 0 ? 0 : idle);
        reply_int(&tr, (int64_t)nk->delivery_count);
    }
    reply_array(&c->r, n);
    reply_raw(&c->r, tmp.data, tmp.len);
    buf_free(&tmp);
}

/* ---------- XCLAIM XAUTOCLAIM ---------- */

static struct stream_consumer *claim_consumer(struct cmd_ctx *c, struct stream_cg *g, const struct arg *name)
{
    struct stream_consumer *con = stream_consumer_find(g, name->p, name->len);
    if (con) {
        con->seen_time = c->now_ms;
        return con;
    }
    con = stream_consumer_create(g, name->p, name->len, c->now_ms);
    notify(c, "xgroup-createconsumer", &c->argv[1]);
    return con;
}

static void pel_drop(struct stream_cg *g, const struct sid *id)
{
    struct stream_nack *n = idmap_remove(&g->pel, id);
    if (!n)
        return;
    if (n->consumer)
        idmap_remove(&n->consumer->pel, id);
    stream_nack_free(n);
}

static void cmd_xclaim(struct cmd_ctx *c)
{
    bool err;
    struct stream *s = find_stream(c, &c->argv[1], NULL, &err, true);
    if (err)
        return;
    struct stream_cg *g = s ? stream_cg_find(s, c->argv[2].p, c->argv[2].len) : NULL;
    if (!g) {
        reply_nogroup(c, &c->argv[1], &c->argv[2]);
        return;
    }
    long long minidle, retrycount = -1, deliverytime = -1;
    bool force = false, justid = false;
    if (!ll_or_reply(c, &c->argv[4], &minidle, "ERR Invalid min-idle-time argument for XCLAIM"))
        return;
    if (minidle < 0)
        minidle = 0;
    int nids = c->argc - 5, j;
    struct sid *ids = mi_malloc(sizeof(*ids) * (size_t)(nids ? nids : 1));
    for (j = 5; j < c->argc; j++)
        if (!parse_strict_id(NULL, &c->argv[j], &ids[j - 5], 0, NULL))
            break;
    int last_id_arg = j - 1;
    int64_t now = c->now_ms;
    struct sid last_id = {0, 0};
    for (; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        const struct arg *o = &c->argv[j];
        if (arg_eq(o, "force")) {
            force = true;
        } else if (arg_eq(o, "justid")) {
            justid = true;
        } else if (arg_eq(o, "idle") && more) {
            j++;
            if (!ll_or_reply(c, &c->argv[j], &deliverytime, "ERR Invalid IDLE option argument for XCLAIM"))
                goto out;
            deliverytime = now - deliverytime;
        } else if (arg_eq(o, "time") && more) {
            j++;
            if (!ll_or_reply(c, &c->argv[j], &deliverytime, "ERR Invalid TIME option argument for XCLAIM"))
                goto out;
        } else if (arg_eq(o, "retrycount") && more) {
            j++;
            if (!ll_or_reply(c, &c->argv[j], &retrycount, "ERR Invalid RETRYCOUNT option argument for XCLAIM"))
                goto out;
        } else if (arg_eq(o, "lastid") && more) {
            j++;
            if (!parse_strict_id(c, &c->argv[j], &last_id, 0, NULL))
                goto out;
        } else {
            reply_errorf(&c->r, "ERR Unrecognized XCLAIM option '%.*s'", (int)strnlen(o->p, o->len), o->p);
            goto out;
        }
    }
    bool dirty = false;
    if (sid_cmp(&last_id, &g->last_id) > 0) {
        g->last_id = last_id;
        dirty = true;
    }
    if (deliverytime != -1) {
        if (deliverytime < 0 || deliverytime > now)
            deliverytime = now;
    } else {
        deliverytime = now;
    }
    struct stream_consumer *con = NULL;
    struct buf tmp;
    buf_init(&tmp);
    struct reply tr = {&tmp, c->r.resp};
    int64_t n = 0;
    for (int k = 5; k <= last_id_arg; k++) {
        struct sid id = ids[k - 5];
        struct idmap_item *item = idmap_find(&g->pel, &id);
        struct stream_nack *nk = item ? item->val : NULL;
        if (!stream_entry_exists(s, &id)) {
            if (nk) {
                pel_drop(g, &id);
                dirty = true;
            }
            continue;
        }
        if (force && !nk) {
            nk = stream_nack_new(NULL, now);
            idmap_insert(&g->pel, &id, nk);
        }
        if (!nk)
            continue;
        if (nk->consumer && minidle && now - nk->delivery_time < minidle)
            continue;
        if (!con)
            con = claim_consumer(c, g, &c->argv[3]);
        if (nk->consumer != con && nk->consumer)
            idmap_remove(&nk->consumer->pel, &id);
        nk->delivery_time = deliverytime;
        if (retrycount >= 0)
            nk->delivery_count = (uint64_t)retrycount;
        else if (!justid)
            nk->delivery_count++;
        if (nk->consumer != con) {
            idmap_insert(&con->pel, &id, nk);
            nk->consumer = con;
        }
        if (justid)
            reply_id(&tr, &id);
        else
            reply_range(c, &tr, s, &id, &id, 1, false, NULL, NULL, RWR_RAW);
        n++;
        dirty = true;
    }
    reply_array(&c->r, n);
    reply_raw(&c->r, tmp.data, tmp.len);
    buf_free(&tmp);
    if (dirty || con)
        db_signal_modified(c, &c->argv[1]);
out:
    mi_free(ids);
}

static void cmd_xautoclaim(struct cmd_ctx *c)
{
    long long minidle, count = 100;
    struct sid start;
    bool justid = false;
    if (!ll_or_reply(c, &c->argv[4], &minidle, "ERR Invalid min-idle-time argument for XAUTOCLAIM"))
        return;
    if (minidle < 0)
        minidle = 0;
    if (!parse_range_start(c, &c->argv[5], &start))
        return;
    for (int j = 6; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        const struct arg *o = &c->argv[j];
        if (arg_eq(o, "count") && more) {
            long long max_count = LONG_MAX / 16;
            if (!arg_to_ll(&c->argv[j + 1], &count) || count < 1 || count > max_count) {
                reply_error(&c->r, "ERR COUNT must be > 0");
                return;
            }
            j++;
        } else if (arg_eq(o, "justid")) {
            justid = true;
        } else {
            reply_error(&c->r, ERR_SYNTAX);
            return;
        }
    }
    bool err;
    struct stream *s = find_stream(c, &c->argv[1], NULL, &err, true);
    if (err)
        return;
    struct stream_cg *g = s ? stream_cg_find(s, c->argv[2].p, c->argv[2].len) : NULL;
    if (!g) {
        reply_nogroup(c, &c->argv[1], &c->argv[2]);
        return;
    }
    if ((unsigned long long)count > (1ull << 32)) {
        reply_error(&c->r, "ERR Insufficient memory, failed allocating transient memory, COUNT too high.");
        return;
    }
    long long attempts = count * 10;
    int64_t now = c->now_ms;
    struct stream_consumer *con = NULL;
    struct buf tmp, deleted;
    buf_init(&tmp);
    buf_init(&deleted);
    struct reply tr = {&tmp, c->r.resp}, dr = {&deleted, c->r.resp};
    int64_t n = 0, ndeleted = 0;
    size_t i = idmap_lower(&g->pel, &start);
    bool dirty = false;
    while (attempts-- && count && i < g->pel.n) {
        struct sid id = g->pel.items[i].id;
        struct stream_nack *nk = g->pel.items[i].val;
        if (!stream_entry_exists(s, &id)) {
            pel_drop(g, &id);
            reply_id(&dr, &id);
            ndeleted++;
            count--;
            dirty = true;
            continue;
        }
        i++;
        if (minidle && now - nk->delivery_time < minidle)
            continue;
        if (!con)
            con = claim_consumer(c, g, &c->argv[3]);
        if (nk->consumer != con && nk->consumer)
            idmap_remove(&nk->consumer->pel, &id);
        nk->delivery_time = now;
        if (!justid)
            nk->delivery_count++;
        if (nk->consumer != con) {
            idmap_insert(&con->pel, &id, nk);
            nk->consumer = con;
        }
        if (justid)
            reply_id(&tr, &id);
        else
            reply_range(c, &tr, s, &id, &id, 1, false, NULL, NULL, RWR_RAW);
        n++;
        count--;
        dirty = true;
    }
    struct sid endid = {0, 0};
    if (i < g->pel.n)
        endid = g->pel.items[i].id;
    reply_array(&c->r, 3);
    reply_id(&c->r, &endid);
    reply_array(&c->r, n);
    reply_raw(&c->r, tmp.data, tmp.len);
    reply_array(&c->r, ndeleted);
    reply_raw(&c->r, deleted.data, deleted.len);
    buf_free(&tmp);
    buf_free(&deleted);
    if (dirty || con)
        db_signal_modified(c, &c->argv[1]);
}

/* ---------- XINFO ---------- */

static void reply_lag(struct reply *r, const struct stream *s, const struct stream_cg *g)
{
    long long lag;
    if (stream_cg_lag(s, g, &lag))
        reply_int(r, lag);
    else
        reply_null(r);
}

static void reply_entries_read(struct reply *r, const struct stream_cg *g)
{
    if (g->entries_read != STREAM_ENTRIES_READ_INVALID)
        reply_int(r, g->entries_read);
    else
        reply_null(r);
}

static void xinfo_full_group(struct cmd_ctx *c, struct stream *s, struct stream_cg *g, long long count)
{
    struct reply *r = &c->r;
    reply_map(r, 7);
    reply_bulkz(r, "name");
    reply_bulk(r, g->name, g->nlen);
    reply_bulkz(r, "last-delivered-id");
    reply_id(r, &g->last_id);
    reply_bulkz(r, "entries-read");
    reply_entries_read(r, g);
    reply_bulkz(r, "lag");
    reply_lag(r, s, g);
    reply_bulkz(r, "pel-count");
    reply_int(r, (int64_t)g->pel.n);
    reply_bulkz(r, "pending");
    size_t np = count ? ((size_t)count < g->pel.n ? (size_t)count : g->pel.n) : g->pel.n;
    reply_array(r, (int64_t)np);
    for (size_t i = 0; i < np; i++) {
        struct stream_nack *nk = g->pel.items[i].val;
        reply_array(r, 4);
        reply_id(r, &g->pel.items[i].id);
        if (nk->consumer)
            reply_bulk(r, nk->consumer->name, nk->consumer->nlen);
        else
            reply_null(r);
        reply_int(r, nk->delivery_time);
        reply_int(r, (int64_t)nk->delivery_count);
    }
    reply_bulkz(r, "consumers");
    reply_array(r, (int64_t)g->nconsumers);
    for (size_t k = 0; k < g->nconsumers; k++) {
        struct stream_consumer *con = g->consumers[k];
        reply_map(r, 4);
        reply_bulkz(r, "name");
        reply_bulk(r, con->name, con->nlen);
        reply_bulkz(r, "seen-time");
        reply_int(r, con->seen_time);
        reply_bulkz(r, "pel-count");
        reply_int(r, (int64_t)con->pel.n);
        reply_bulkz(r, "pending");
        size_t cp = count ? ((size_t)count < con->pel.n ? (size_t)count : con->pel.n) : con->pel.n;
        reply_array(r, (int64_t)cp);
        for (size_t i = 0; i < cp; i++) {
            struct stream_nack *nk = con->pel.items[i].val;
            reply_array(r, 3);
            reply_id(r, &con->pel.items[i].id);
            reply_int(r, nk->delivery_time);
            reply_int(r, (int64_t)nk->delivery_count);
        }
    }
}

static void xinfo_stream(struct cmd_ctx *c, struct stream *s)
{
    bool full = false;
    long long count = 10;
    int optc = c->argc - 3;
    if (optc) {
        if ((optc != 1 && optc != 3) || !arg_eq(&c->argv[3], "full")) {
            reply_subcommand_syntax(c);
            return;
        }
        if (optc == 3) {
            if (!arg_eq(&c->argv[4], "count")) {
                reply_subcommand_syntax(c);
                return;
            }
            if (!ll_or_reply(c, &c->argv[5], &count, NULL))
                return;
            if (count < 0)
                count = 10;
        }
        full = true;
    }
    struct reply *r = &c->r;
    reply_map(r, full ? 9 : 10);
    reply_bulkz(r, "length");
    reply_int(r, (int64_t)s->length);
    reply_bulkz(r, "radix-tree-keys");
    reply_int(r, (int64_t)stream_nodes(s));
    reply_bulkz(r, "radix-tree-nodes");
    reply_int(r, (int64_t)(stream_nodes(s) ? stream_nodes(s) * 2 : 1));
    reply_bulkz(r, "last-generated-id");
    reply_id(r, &s->last_id);
    reply_bulkz(r, "max-deleted-entry-id");
    reply_id(r, &s->max_deleted_id);
    reply_bulkz(r, "entries-added");
    reply_int(r, (int64_t)s->entries_added);
    reply_bulkz(r, "recorded-first-entry-id");
    reply_id(r, &s->first_id);
    if (!full) {
        reply_bulkz(r, "groups");
        reply_int(r, (int64_t)s->ngroups);
        reply_bulkz(r, "first-entry");
        if (!reply_range(c, r, s, NULL, NULL, 1, false, NULL, NULL, RWR_RAW))
            reply_null(r);
        reply_bulkz(r, "last-entry");
        if (!reply_range(c, r, s, NULL, NULL, 1, true, NULL, NULL, RWR_RAW))
            reply_null(r);
        return;
    }
    reply_bulkz(r, "entries");
    reply_range(c, r, s, NULL, NULL, (size_t)count, false, NULL, NULL, 0);
    reply_bulkz(r, "groups");
    reply_array(r, (int64_t)s->ngroups);
    for (size_t g = 0; g < s->ngroups; g++)
        xinfo_full_group(c, s, s->groups[g], count);
}

static void xinfo_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
    };
    reply_help_lines(c, "XINFO", lines, sizeof(lines) / sizeof(lines[0]));
}

static void cmd_xinfo(struct cmd_ctx *c)
{
    const struct arg *opt = &c->argv[1];
    if (arg_eq(opt, "help")) {
        if (c->argc != 2) {
            reply_subcommand_syntax(c);
            return;
        }
        xinfo_help(c);
        return;
    }
    if (c->argc < 3) {
        reply_subcommand_syntax(c);
        return;
    }
    const struct arg *key = &c->argv[2];
    bool err;
    struct stream *s = find_stream(c, key, NULL, &err, true);
    if (err)
        return;
    if (!s) {
        reply_error(&c->r, ERR_NO_KEY);
        return;
    }
    if (arg_eq(opt, "consumers") && c->argc == 4) {
        struct stream_cg *g = stream_cg_find(s, c->argv[3].p, c->argv[3].len);
        if (!g) {
            reply_errorf(&c->r, "NOGROUP No such consumer group '%.*s' for key name '%.*s'",
                         (int)strnlen(c->argv[3].p, c->argv[3].len), c->argv[3].p,
                         (int)strnlen(key->p, key->len), key->p);
            return;
        }
        reply_array(&c->r, (int64_t)g->nconsumers);
        for (size_t i = 0; i < g->nconsumers; i++) {
            struct stream_consumer *con = g->consumers[i];
            int64_t idle = c->now_ms - con->seen_time;
            reply_map(&c->r, 3);
            reply_bulkz(&c->r, "name");
            reply_bulk(&c->r, con->name, con->nlen);
            reply_bulkz(&c->r, "pending");
            reply_int(&c->r, (int64_t)con->pel.n);
            reply_bulkz(&c->r, "idle");
            reply_int(&c->r, idle < 0 ? 0 : idle);
        }
    } else if (arg_eq(opt, "groups") && c->argc == 3) {
        reply_array(&c->r, (int64_t)s->ngroups);
        for (size_t i = 0; i < s->ngroups; i++) {
            struct stream_cg *g = s->groups[i];
            reply_map(&c->r, 6);
            reply_bulkz(&c->r, "name");
            reply_bulk(&c->r, g->name, g->nlen);
            reply_bulkz(&c->r, "consumers");
            reply_int(&c->r, (int64_t)g->nconsumers);
            reply_bulkz(&c->r, "pending");
            reply_int(&c->r, (int64_t)g->pel.n);
            reply_bulkz(&c->r, "last-delivered-id");
            reply_id(&c->r, &g->last_id);
            reply_bulkz(&c->r, "entries-read");
            reply_entries_read(&c->r, g);
            reply_bulkz(&c->r, "lag");
            reply_lag(&c->r, s, g);
        }
    } else if (arg_eq(opt, "stream")) {
        xinfo_stream(c, s);
    } else {
        reply_subcommand_syntax(c);
    }
}

static void cmd_container_arity(struct cmd_ctx *c)
{
    reply_errorf(&c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
}

/* ---------- table ---------- */

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM
#define B CMD_BLOCKING
#define MK CMD_MULTIKEY
#define LO CMD_LOADING
#define ST CMD_STALE

static const struct command xgroup_subcommands[] = {
    {"xgroup|create", -5, W | D, 2, 2, 1, cmd_xgroup, .group = "stream", .summary = "Create a consumer group.", .since = "5.0.0", .complexity = "O(1)", .acl = "write stream slow"},
    {"xgroup|delconsumer", 5, W, 2, 2, 1, cmd_xgroup, .group = "stream", .summary = "Delete a consumer from a consumer group.", .since = "5.0.0", .complexity = "O(1)", .acl = "write stream slow"},
    {"xgroup|createconsumer", 5, W | D, 2, 2, 1, cmd_xgroup, .group = "stream", .summary = "Create a consumer in a consumer group.", .since = "6.2.0", .complexity = "O(1)", .acl = "write stream slow"},
    {"xgroup|destroy", 4, W, 2, 2, 1, cmd_xgroup, .group = "stream", .summary = "Destroy a consumer group.", .since = "5.0.0", .complexity = "O(N) where N is the number of entries in the group's pending entries list (PEL).", .acl = "write stream slow"},
    {"xgroup|setid", -5, W, 2, 2, 1, cmd_xgroup, .group = "stream", .summary = "Set a consumer group to an arbitrary last delivered ID value.", .since = "5.0.0", .complexity = "O(1)", .acl = "write stream slow"},
    {"xgroup|help", 2, LO | ST, 0, 0, 0, cmd_xgroup, .group = "stream", .summary = "Show helpful text about the different subcommands", .since = "5.0.0", .complexity = "O(1)", .acl = "stream slow"},
    {NULL},
};

static const struct command xinfo_subcommands[] = {
    {"xinfo|groups", 3, R, 2, 2, 1, cmd_xinfo, .group = "stream", .summary = "List the consumer groups of a stream", .since = "5.0.0", .complexity = "O(1)", .acl = "read stream slow"},
    {"xinfo|stream", -3, R, 2, 2, 1, cmd_xinfo, .group = "stream", .summary = "Get information about a stream", .since = "5.0.0", .complexity = "O(1)", .acl = "read stream slow"},
    {"xinfo|help", 2, LO | ST, 0, 0, 0, cmd_xinfo, .group = "stream", .summary = "Show helpful text about the different subcommands", .since = "5.0.0", .complexity = "O(1)", .acl = "stream slow"},
    {"xinfo|consumers", 4, R, 2, 2, 1, cmd_xinfo, .group = "stream", .summary = "List the consumers in a consumer group", .since = "5.0.0", .complexity = "O(1)", .acl = "read stream slow"},
    {NULL},
};

const struct command stream_commands[] = {
    {"xadd", -5, W | D | F, 1, 1, 1, cmd_xadd, .group = "stream", .summary = "Appends a new entry to a stream", .since = "5.0.0", .complexity = "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.", .acl = "write stream fast"},
    {"xlen", 2, R | F, 1, 1, 1, cmd_xlen, .group = "stream", .summary = "Return the number of entries in a stream", .since = "5.0.0", .complexity = "O(1)", .acl = "read stream fast"},
    {"xrange", -4, R, 1, 1, 1, cmd_xrange, .group = "stream", .summary = "Return a range of elements in a stream, with IDs matching the specified IDs interval", .since = "5.0.0", .complexity = "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).", .acl = "read stream slow"},
    {"xrevrange", -4, R, 1, 1, 1, cmd_xrevrange, .group = "stream", .summary = "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE", .since = "5.0.0", .complexity = "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).", .acl = "read stream slow"},
    {"xdel", -3, W | F, 1, 1, 1, cmd_xdel, .group = "stream", .summary = "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.", .since = "5.0.0", .complexity = "O(1) for each single item to delete in the stream, regardless of the stream size.", .acl = "write stream fast"},
    {"xtrim", -4, W, 1, 1, 1, cmd_xtrim, .group = "stream", .summary = "Trims the stream to (approximately if '~' is passed) a certain size", .since = "5.0.0", .complexity = "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.", .acl = "write stream slow"},
    {"xread", -4, R | B | MK | CMD_MOVABLE_KEYS, 0, 0, 0, cmd_xread_nokeys, .mso = &xread_ops, .getkeys = xread_getkeys, .group = "stream", .summary = "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.", .since = "5.0.0", .complexity = "For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new data.", .acl = "read stream slow blocking"},
    {"xreadgroup", -7, W | B | MK | CMD_MOVABLE_KEYS, 0, 0, 0, cmd_xread_nokeys, .mso = &xread_ops, .getkeys = xread_getkeys, .group = "stream", .summary = "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.", .since = "5.0.0", .complexity = "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.", .acl = "write stream slow blocking"},
    {"xgroup", -2, 0, 0, 0, 0, cmd_container_arity, .subcmds = xgroup_subcommands, .group = "stream", .summary = "A container for consumer groups commands", .since = "5.0.0", .complexity = "Depends on subcommand.", .acl = "slow"},
    {"xack", -4, W | F, 1, 1, 1, cmd_xack, .group = "stream", .summary = "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.", .since = "5.0.0", .complexity = "O(1) for each message ID processed.", .acl = "write stream fast"},
    {"xpending", -3, R, 1, 1, 1, cmd_xpending, .group = "stream", .summary = "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.", .since = "5.0.0", .complexity = "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.", .acl = "read stream slow"},
    {"xclaim", -6, W | F, 1, 1, 1, cmd_xclaim, .group = "stream", .summary = "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.", .since = "5.0.0", .complexity = "O(log N) with N being the number of messages in the PEL of the consumer group.", .acl = "write stream fast"},
    {"xautoclaim", -6, W | F, 1, 1, 1, cmd_xautoclaim, .group = "stream", .summary = "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.", .since = "6.2.0", .complexity = "O(1) if COUNT is small.", .acl = "write stream fast"},
    {"xinfo", -2, 0, 0, 0, 0, cmd_container_arity, .subcmds = xinfo_subcommands, .group = "stream", .summary = "A container for stream introspection commands", .since = "5.0.0", .complexity = "Depends on subcommand.", .acl = "slow"},
    {"xsetid", -3, W | D | F, 1, 1, 1, cmd_xsetid, .group = "stream", .summary = "An internal command for replicating stream values", .since = "5.0.0", .complexity = "O(1)", .acl = "write stream fast"},
    {NULL},
};
