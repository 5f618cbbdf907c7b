/* server/cmd_hash.c — the hash command family: HSET HSETNX HGET HMGET HMSET
 * HDEL HLEN HSTRLEN HEXISTS HKEYS HVALS HGETALL HINCRBY HINCRBYFLOAT
 * HRANDFIELD HSCAN. Replies, errors and keyspace events as Redis 7.0's
 * t_hash.c. Owns: hash command semantics only; the value's encodings and
 * conversions live in shard/t_hash.c. Every key is on the executing shard. */
#include "server/server.h"
#include "server/pubsub.h" /* pubsub: keyspace events */
#include "shard/t_hash.h"
#include "shard/types.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reply_hstr(struct cmd_ctx *c, const struct hash_str *s) { reply_bulk(&c->r, s->p, s->len); }

/* A hash for reading: counts hits/misses like lookupKeyRead; replies
 * WRONGTYPE (and sets *stop) for another type. */
static struct entry *find_hash_read(struct cmd_ctx *c, bool *stop)
{
    bool wrong;
    struct entry *e = db_find_type(c, &c->argv[1], OBJ_HASH, NULL, &wrong);
    *stop = wrong;
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return NULL;
    }
    if (e) {
        c->ks->stats.keyspace_hits++;
        db_touch(c, e);
    } else {
        c->ks->stats.keyspace_misses++;
    }
    return e;
}

/* A hash for writing (hashTypeLookupWriteOrCreate): NULL after replying
 * WRONGTYPE; otherwise the existing or a newly added empty hash. */
static struct entry *find_hash_write(struct cmd_ctx *c, struct ks_ref *ref)
{
    bool wrong;
    struct entry *e = db_find_type(c, &c->argv[1], OBJ_HASH, ref, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return NULL;
    }
    if (e) {
        db_touch(c, e);
        return e;
    }
    e = hash_entry_new(c->argv[1].p, c->argv[1].len);
    db_add(c, &c->argv[1], e);
    return e;
}

/* hashTypeTryConversion over argv[from..to]. */
static void prepare_args(struct entry *e, const struct cmd_ctx *c, int from, int to)
{
    size_t maxlen = 0, sum = 0;
    for (int i = from; i <= to; i++) {
        if (c->argv[i].len > maxlen)
            maxlen = c->argv[i].len;
        sum += c->argv[i].len;
    }
    hash_prepare_write(e, maxlen, sum);
}

static void written(struct cmd_ctx *c, const char *event)
{
    db_signal_modified(c, &c->argv[1]); /* multi */
    notify_keyspace_event(c, NOTIFY_HASH, event, &c->argv[1]); /* pubsub: keyspace event */
}

static void hset_generic(struct cmd_ctx *c, bool is_hmset)
{
    if (c->argc % 2 == 1) {
        reply_errorf(&c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
        return;
    }
    struct entry *e = find_hash_write(c, NULL);
    if (!e)
        return;
    prepare_args(e, c, 2, c->argc - 1);
    int64_t created = 0;
    for (int i = 2; i < c->argc; i += 2)
        created += hash_set(e, c->argv[i].p, c->argv[i].len, c->argv[i + 1].p, c->argv[i + 1].len);
    if (is_hmset)
        reply_ok(&c->r);
    else
        reply_int(&c->r, created);
    written(c, "hset");
}

static void cmd_hset(struct cmd_ctx *c) { hset_generic(c, false); }
static void cmd_hmset(struct cmd_ctx *c) { hset_generic(c, true); }

static void cmd_hsetnx(struct cmd_ctx *c)
{
    bool wrong;
    struct entry *e = db_find_type(c, &c->argv[1], OBJ_HASH, NULL, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return;
    }
    if (e && hash_exists(e, c->argv[2].p, c->argv[2].len)) {
        reply_int(&c->r, 0);
        return;
    }
    if (!e)
        e = find_hash_write(c, NULL);
    prepare_args(e, c, 2, 3);
    hash_set(e, c->argv[2].p, c->argv[2].len, c->argv[3].p, c->argv[3].len);
    reply_int(&c->r, 1);
    written(c, "hset");
}

static void cmd_hget(struct cmd_ctx *c)
{
    bool stop;
    struct entry *e = find_hash_read(c, &stop);
    if (stop)
        return;
    struct hash_str v;
    if (e && hash_get(e, c->argv[2].p, c->argv[2].len, &v))
        reply_hstr(c, &v);
    else
        reply_null(&c->r);
}

static void cmd_hmget(struct cmd_ctx *c)
{
    bool stop;
    struct entry *e = find_hash_read(c, &stop);
    if (stop)
        return;
    reply_array(&c->r, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        struct hash_str v;
        if (e && hash_get(e, c->argv[i].p, c->argv[i].len, &v))
            reply_hstr(c, &v);
        else
            reply_null(&c->r);
    }
}

static void cmd_hdel(struct cmd_ctx *c)
{
    struct ks_ref ref;
    bool wrong;
    struct entry *e = db_find_type(c, &c->argv[1], OBJ_HASH, &ref, &wrong);
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
    for (int i = 2; i < c->argc; i++) {
        if (!hash_delete(e, c->argv[i].p, c->argv[i].len))
            continue;
        deleted++;
        if (hash_len(e) == 0) {
            ks_delete(c->ks, c->db, &ref);
            removed = true;
            break;
        }
    }
    if (deleted) {
        written(c, "hdel");
        if (removed)
            notify_keyspace_event(c, NOTIFY_GENERIC, "del", &c->argv[1]); /* pubsub: keyspace event */
    }
    reply_int(&c->r, deleted);
}

static void cmd_hlen(struct cmd_ctx *c)
{
    bool stop;
    struct entry *e = find_hash_read(c, &stop);
    if (!stop)
        reply_int(&c->r, e ? (int64_t)hash_len(e) : 0);
}

static void cmd_hstrlen(struct cmd_ctx *c)
{
    bool stop;
    struct entry *e = find_hash_read(c, &stop);
    if (stop)
        return;
    struct hash_str v;
    reply_int(&c->r, e && hash_get(e, c->argv[2].p, c->argv[2].len, &v) ? (int64_t)v.len : 0);
}

static void cmd_hexists(struct cmd_ctx *c)
{
    bool stop;
    struct entry *e = find_hash_read(c, &stop);
    if (!stop)
        reply_int(&c->r, e && hash_exists(e, c->argv[2].p, c->argv[2].len));
}

enum { WANT_FIELDS = 1, WANT_VALUES = 2 };

static void getall_generic(struct cmd_ctx *c, int want)
{
    bool stop;
    struct entry *e = find_hash_read(c, &stop);
    if (stop)
        return;
    int64_t n = e ? (int64_t)hash_len(e) : 0;
    if (want == (WANT_FIELDS | WANT_VALUES))
        reply_map(&c->r, n);
    else
        reply_array(&c->r, n);
    if (!e)
        return;
    struct hash_iter it;
    struct hash_str f, v;
    hash_iter_init(&it, e);
    while (hash_iter_next(&it, &f, &v)) {
        if (want & WANT_FIELDS)
            reply_hstr(c, &f);
        if (want & WANT_VALUES)
            reply_hstr(c, &v);
    }
}

static void cmd_hkeys(struct cmd_ctx *c) { getall_generic(c, WANT_FIELDS); }
static void cmd_hvals(struct cmd_ctx *c) { getall_generic(c, WANT_VALUES); }
static void cmd_hgetall(struct cmd_ctx *c) { getall_generic(c, WANT_FIELDS | WANT_VALUES); }

static void cmd_hincrby(struct cmd_ctx *c)
{
    long long incr;
    if (!arg_get_ll(c, &c->argv[3], &incr))
        return;
    struct entry *e = find_hash_write(c, NULL);
    if (!e)
        return;
    int64_t value = 0;
    struct hash_str cur;
    if (hash_get(e, c->argv[2].p, c->argv[2].len, &cur) && !string_to_int64(cur.p, cur.len, &value)) {
        reply_error(&c->r, "ERR hash value is not an integer");
        return;
    }
    if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) || (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
        reply_error(&c->r, "ERR increment or decrement would overflow");
        return;
    }
    value += incr;
    char digits[24];
    size_t n = int64_to_string(digits, value);
    hash_set(e, c->argv[2].p, c->argv[2].len, digits, n);
    reply_int(&c->r, value);
    written(c, "hincrby");
}

/* Redis's string2ld: the whole text is one long double, no leading space,
 * not NaN, no overflow. */
static bool parse_long_double(const char *s, size_t len, long double *out)
{
    char buf[5 * 1024];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = 0;
    errno = 0;
    char *end;
    long double v = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || *end || (size_t)(end - buf) != len ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) || errno == EINVAL ||
        isnan(v))
        return false;
    *out = v;
    return true;
}

static void cmd_hincrbyfloat(struct cmd_ctx *c)
{
    long double incr, value = 0;
    if (!parse_long_double(c->argv[3].p, c->argv[3].len, &incr)) {
        reply_error(&c->r, "ERR value is not a valid float");
        return;
    }
    if (isnan(incr) || isinf(incr)) {
        reply_error(&c->r, "ERR value is NaN or Infinity");
        return;
    }
    struct entry *e = find_hash_write(c, NULL);
    if (!e)
        return;
    struct hash_str cur;
    if (hash_get(e, c->argv[2].p, c->argv[2].len, &cur) && !parse_long_double(cur.p, cur.len, &value)) {
        reply_error(&c->r, "ERR hash value is not a float");
        return;
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        reply_error(&c->r, "ERR increment would produce NaN or Infinity");
        return;
    }
    char text[5 * 1024];
    int n = format_long_double(text, sizeof(text), value);
    hash_set(e, c->argv[2].p, c->argv[2].len, text, (size_t)n);
    reply_bulk(&c->r, text, (size_t)n);
    written(c, "hincrbyfloat");
}

/* ---------- HRANDFIELD ---------- */

struct rand_reply {
    struct cmd_ctx *c;
    bool withvalues;
};

static void reply_pair(void *arg, const char *f, size_t flen, const char *v, size_t vlen)
{
    struct rand_reply *rr = arg;
    struct reply *r = &rr->c->r;
    if (rr->withvalues && r->resp > 2)
        reply_array(r, 2);
    reply_bulk(r, f, flen);
    if (rr->withvalues)
        reply_bulk(r, v, vlen);
}

static void hrandfield_count(struct cmd_ctx *c, long long l, bool withvalues)
{
    bool stop;
    struct entry *e = find_hash_read(c, &stop);
    if (stop)
        return;
    if (!e || l == 0) {
        reply_array(&c->r, 0);
        return;
    }
    struct rand_reply rr = {c, withvalues};
    uint64_t *rnd = &c->w->rnd;
    unsigned long size = hash_len(e);
    bool uniq = l > 0;
    unsigned long count = uniq ? (unsigned long)l : (unsigned long)-l;
    if (!uniq || count == 1) {
        reply_array(&c->r, (int64_t)(withvalues && c->r.resp == 2 ? count * 2 : count));
        while (count--) {
            struct hash_str f, v;
            hash_random_pair(e, rnd, &f, &v);
            reply_pair(&rr, f.p, f.len, v.p, v.len);
        }
        return;
    }
    unsigned long n = count < size ? count : size;
    reply_array(&c->r, (int64_t)(withvalues && c->r.resp == 2 ? n * 2 : n));
    if (count >= size) {
        struct hash_iter it;
        struct hash_str f, v;
        hash_iter_init(&it, e);
        while (hash_iter_next(&it, &f, &v))
            reply_pair(&rr, f.p, f.len, v.p, v.len);
        return;
    }
    hash_random_distinct(e, rnd, count, reply_pair, &rr);
}

static void cmd_hrandfield(struct cmd_ctx *c)
{
    if (c->argc >= 3) {
        long long l;
        if (!arg_get_ll(c, &c->argv[2], &l))
            return;
        if (l < -LONG_MAX) {
            reply_errorf(&c->r, "ERR value is out of range, value must between %ld and %ld", -LONG_MAX, LONG_MAX);
            return;
        }
        if (c->argc > 4 || (c->argc == 4 && !arg_eq(&c->argv[3], "withvalues"))) {
            reply_error(&c->r, ERR_SYNTAX);
            return;
        }
        bool withvalues = c->argc == 4;
        if (withvalues && (l < -LONG_MAX / 2 || l > LONG_MAX / 2)) {
            reply_error(&c->r, "ERR value is out of range");
            return;
        }
        hrandfield_count(c, l, withvalues);
        return;
    }
    bool stop;
    struct entry *e = find_hash_read(c, &stop);
    if (stop)
        return;
    if (!e) {
        reply_null(&c->r);
        return;
    }
    struct hash_str f, v;
    hash_random_pair(e, &c->w->rnd, &f, &v);
    reply_hstr(c, &f);
}

/* ---------- HSCAN ---------- */


struct scan_out {
    struct reply r;
    const struct arg *pat;
    uint64_t visited; /* pairs the table handed over, before MATCH */
    int64_t items;    /* pairs kept (each a field and its value) */
};

static void scan_pair(void *arg, const char *f, size_t flen, const char *v, size_t vlen)
{
    struct scan_out *so = arg;
    so->visited++;
    if (so->pat && !glob_match(so->pat->p, so->pat->len, f, flen, false))
        return;
    so->items++;
    reply_bulk(&so->r, f, flen);
    reply_bulk(&so->r, v, vlen);
}


static void cmd_hscan(struct cmd_ctx *c)
{
    uint64_t cursor;
    if (!scan_parse_cursor(&c->argv[2], &cursor)) {
        reply_error(&c->r, "ERR invalid cursor");
        return;
    }
    bool stop;
    struct entry *e = find_hash_read(c, &stop);
    if (stop)
        return;
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
    struct scan_out so = {.r = {&items, c->r.resp}, .pat = pat};
    /* Redis's loop: stop at `count` collected strings (a field and a value
     * count two, before MATCH) or after count*10 buckets. */
    long long maxiter = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
    uint64_t next = cursor;
    do
        next = hash_scan(e, next, scan_pair, &so);
    while (next && maxiter-- && so.visited * 2 < (uint64_t)count);
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)next);
    reply_array(&c->r, 2);
    reply_bulk(&c->r, digits, (size_t)n);
    reply_array(&c->r, so.items * 2);
    reply_raw(&c->r, items.data, items.len);
    buf_free(&items);
}

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM

const struct command hash_commands[] = {
    {"hset", -4, W | D | F, 1, 1, 1, cmd_hset, .group = "hash", .summary = "Set the string value of a hash field", .since = "2.0.0", .acl = "write hash fast"},
    {"hsetnx", 4, W | D | F, 1, 1, 1, cmd_hsetnx, .group = "hash", .summary = "Set the value of a hash field, only if the field does not exist", .since = "2.0.0", .acl = "write hash fast"},
    {"hget", 3, R | F, 1, 1, 1, cmd_hget, .group = "hash", .summary = "Get the value of a hash field", .since = "2.0.0", .acl = "read hash fast"},
    {"hmget", -3, R | F, 1, 1, 1, cmd_hmget, .group = "hash", .summary = "Get the values of all the given hash fields", .since = "2.0.0", .acl = "read hash fast"},
    {"hmset", -4, W | D | F, 1, 1, 1, cmd_hmset, .group = "hash", .summary = "Set multiple hash fields to multiple values", .since = "2.0.0", .acl = "write hash fast"},
    {"hdel", -3, W | F, 1, 1, 1, cmd_hdel, .group = "hash", .summary = "Delete one or more hash fields", .since = "2.0.0", .acl = "write hash fast"},
    {"hlen", 2, R | F, 1, 1, 1, cmd_hlen, .group = "hash", .summary = "Get the number of fields in a hash", .since = "2.0.0", .acl = "read hash fast"},
    {"hstrlen", 3, R | F, 1, 1, 1, cmd_hstrlen, .group = "hash", .summary = "Get the length of the value of a hash field", .since = "3.2.0", .acl = "read hash fast"},
    {"hexists", 3, R | F, 1, 1, 1, cmd_hexists, .group = "hash", .summary = "Determine if a hash field exists", .since = "2.0.0", .acl = "read hash fast"},
    {"hkeys", 2, R, 1, 1, 1, cmd_hkeys, .group = "hash", .summary = "Get all the fields in a hash", .since = "2.0.0", .acl = "read hash slow"},
    {"hvals", 2, R, 1, 1, 1, cmd_hvals, .group = "hash", .summary = "Get all the values in a hash", .since = "2.0.0", .acl = "read hash slow"},
    {"hgetall", 2, R, 1, 1, 1, cmd_hgetall, .group = "hash", .summary = "Get all the fields and values in a hash", .since = "2.0.0", .acl = "read hash slow"},
    {"hincrby", 4, W | D | F, 1, 1, 1, cmd_hincrby, .group = "hash", .summary = "Increment the integer value of a hash field by the given number", .since = "2.0.0", .acl = "write hash fast"},
    {"hincrbyfloat", 4, W | D | F, 1, 1, 1, cmd_hincrbyfloat, .group = "hash", .summary = "Increment the float value of a hash field by the given amount", .since = "2.6.0", .acl = "write hash fast"},
    {"hrandfield", -2, R, 1, 1, 1, cmd_hrandfield, .group = "hash", .summary = "Get one or multiple random fields from a hash", .since = "6.2.0", .acl = "read hash slow"},
    {"hscan", -3, R, 1, 1, 1, cmd_hscan, .group = "hash", .summary = "Incrementally iterate hash fields and associated values", .since = "2.8.0", .acl = "read hash slow"},
    {NULL},
};
