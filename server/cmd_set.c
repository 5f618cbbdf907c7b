/* server/cmd_set.c — the set command family: SADD SREM SCARD SISMEMBER
 * SMISMEMBER SMEMBERS SRANDMEMBER SPOP SSCAN on one key, and SMOVE SINTER
 * SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE, which run as
 * mso hops (transaction.c) so they stay atomic when their keys sit on
 * different threads: hop 0 has every shard copy its source sets' members as
 * bytes into its part buffer, the coordinator computes the result, and hop 1
 * has the destination's shard build and store it on its own heap. Replies,
 * errors and keyspace events as Redis 7.0's t_set.c.
 * Owns: set command semantics; the value's structure is shard/t_set.h. */
#include "server/server.h"
#include "server/glob.h"
#include "server/pubsub.h" /* pubsub: keyspace events */
#include "shard/t_set.h"
#include "shard/types.h"

#include <errno.h>
#include <limits.h>
#include <mimalloc.h>
#include <stdlib.h>
#include <string.h>

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

static const char ERR_POSITIVE[] = "ERR value is out of range, must be positive";

/* ---------- lookups ---------- */

/* lookupKeyRead + checkType: counts hits and misses, refreshes the access
 * time. NULL when missing or of another type (*wrong tells which). */
static struct entry *find_set_read(struct cmd_ctx *c, const struct arg *key, struct ks_ref *ref, bool *wrong)
{
    struct entry *e = db_find(c, key, ref);
    *wrong = false;
    if (!e) {
        c->ks->stats.keyspace_misses++;
        return NULL;
    }
    c->ks->stats.keyspace_hits++;
    db_touch(c, e);
    if (e->type != OBJ_SET) {
        *wrong = true;
        return NULL;
    }
    return e;
}

/* lookupKeyWrite + checkType: no statistics. */
static struct entry *find_set_write(struct cmd_ctx *c, const struct arg *key, struct ks_ref *ref, bool *wrong)
{
    struct entry *e = db_find(c, key, ref);
    *wrong = false;
    if (!e)
        return NULL;
    db_touch(c, e);
    if (e->type != OBJ_SET) {
        *wrong = true;
        return NULL;
    }
    return e;
}

/* Delete a set that became empty, with Redis's "del" event. */
static void delete_if_empty(struct cmd_ctx *c, const struct arg *key, struct entry *e, struct ks_ref *ref)
{
    if (set_size(e))
        return;
    ks_delete(c->ks, c->db, ref);
    notify_keyspace_event(c, NOTIFY_GENERIC, "del", key); /* pubsub: keyspace event */
}

/* getRangeLongFromObjectOrReply's checks, as an error text (NULL if fine):
 * `msg` for both failures when given, else Redis's two default texts. */
static const char *arg_range(const struct arg *a, long long min, long long max, const char *msg, long long *out)
{
    if (!arg_to_ll(a, out))
        return msg ? msg : ERR_NOT_INT;
    if (*out < min || *out > max)
        return msg ? msg : "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
    return NULL;
}

/* ---------- SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS ---------- */

static void cmd_sadd(struct cmd_ctx *c)
{
    const struct arg *key = &c->argv[1];
    struct ks_ref ref;
    bool wrong;
    struct entry *e = find_set_write(c, key, &ref, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return;
    }
    if (!e) {
        e = set_entry_new(key->p, key->len, c->argv[2].p, c->argv[2].len, (size_t)c->argc - 2);
        db_add(c, key, e);
    }
    int64_t added = 0;
    for (int j = 2; j < c->argc; j++)
        added += set_add(e, c->argv[j].p, c->argv[j].len);
    if (added) {
        db_signal_modified(c, key);
        notify_keyspace_event(c, NOTIFY_SET, "sadd", key); /* pubsub: keyspace event */
    }
    reply_int(&c->r, added);
}

static void cmd_srem(struct cmd_ctx *c)
{
    const struct arg *key = &c->argv[1];
    struct ks_ref ref;
    bool wrong;
    struct entry *e = find_set_write(c, key, &ref, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return;
    }
    int64_t removed = 0;
    for (int j = 2; e && j < c->argc; j++) {
        removed += set_remove(e, c->argv[j].p, c->argv[j].len);
        if (!set_size(e))
            break;
    }
    if (removed) {
        notify_keyspace_event(c, NOTIFY_SET, "srem", key); /* pubsub: keyspace event */
        delete_if_empty(c, key, e, &ref);
        db_signal_modified(c, key);
    }
    reply_int(&c->r, removed);
}

static void cmd_scard(struct cmd_ctx *c)
{
    bool wrong;
    struct entry *e = find_set_read(c, &c->argv[1], NULL, &wrong);
    if (wrong)
        reply_error(&c->r, ERR_WRONGTYPE);
    else
        reply_int(&c->r, e ? (int64_t)set_size(e) : 0);
}

static void cmd_sismember(struct cmd_ctx *c)
{
    bool wrong;
    struct entry *e = find_set_read(c, &c->argv[1], NULL, &wrong);
    if (wrong)
        reply_error(&c->r, ERR_WRONGTYPE);
    else
        reply_int(&c->r, e && set_has(e, c->argv[2].p, c->argv[2].len));
}

static void cmd_smismember(struct cmd_ctx *c)
{
    bool wrong;
    struct entry *e = find_set_read(c, &c->argv[1], NULL, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return;
    }
    reply_array(&c->r, c->argc - 2);
    for (int j = 2; j < c->argc; j++)
        reply_int(&c->r, e && set_has(e, c->argv[j].p, c->argv[j].len));
}

/* Every member, in storage order, as a set reply. */
static void reply_members(struct reply *r, const struct entry *e)
{
    struct set_iter it;
    const char *m;
    size_t n;
    reply_set(r, (int64_t)set_size(e));
    set_iter_init(&it, e);
    while (set_iter_next(&it, &m, &n))
        reply_bulk(r, m, n);
}

static void cmd_smembers(struct cmd_ctx *c)
{
    bool wrong;
    struct entry *e = find_set_read(c, &c->argv[1], NULL, &wrong);
    if (wrong)
        reply_error(&c->r, ERR_WRONGTYPE);
    else if (!e)
        reply_set(&c->r, 0);
    else
        reply_members(&c->r, e);
}

/* ---------- SRANDMEMBER ---------- */

#define SRANDMEMBER_SUB_STRATEGY_MUL 3

/* A scratch copy of the members as a strset (for sampling without repeats). */
static struct strset *copy_members(const struct entry *e)
{
    struct strset *s = strset_new(set_size(e));
    struct set_iter it;
    const char *m;
    size_t n;
    set_iter_init(&it, e);
    while (set_iter_next(&it, &m, &n))
        strset_add(&s, m, n);
    return s;
}

static void reply_strset(struct reply *r, const struct strset *s, bool as_set)
{
    if (as_set)
        reply_set(r, (int64_t)strset_count(s));
    else
        reply_array(r, (int64_t)strset_count(s));
    size_t pos = 0, n;
    const char *m;
    while (strset_next(s, &pos, &m, &n))
        reply_bulk(r, m, n);
}

static void srandmember_count(struct cmd_ctx *c)
{
    long long l;
    const char *err = arg_range(&c->argv[2], -LLONG_MAX, LLONG_MAX, NULL, &l);
    if (err) {
        reply_error(&c->r, err);
        return;
    }
    bool uniq = l >= 0;
    uint64_t count = uniq ? (uint64_t)l : (uint64_t)-l;
    bool wrong;
    struct entry *e = find_set_read(c, &c->argv[1], NULL, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return;
    }
    if (!e || count == 0) {
        reply_array(&c->r, 0);
        return;
    }
    uint64_t size = set_size(e);
    char tmp[SET_INT_BUF];
    const char *m;
    size_t n;
    if (!uniq || count == 1) { /* CASE 1: repeats allowed */
        reply_array(&c->r, (int64_t)count);
        while (count--) {
            set_random(e, rnd64, tmp, &m, &n);
            reply_bulk(&c->r, m, n);
        }
        return;
    }
    if (count >= size) { /* CASE 2: the whole set */
        struct set_iter it;
        reply_array(&c->r, (int64_t)size);
        set_iter_init(&it, e);
        while (set_iter_next(&it, &m, &n))
            reply_bulk(&c->r, m, n);
        return;
    }
    struct strset *s;
    if (count * SRANDMEMBER_SUB_STRATEGY_MUL > size) { /* CASE 3: drop random members from a copy */
        s = copy_members(e);
        while (strset_count(s) > count) {
            strset_random(s, rnd64, &m, &n);
            char *dup = mi_malloc(n ? n : 1);
            memcpy(dup, m, n);
            strset_remove(&s, dup, n);
            mi_free(dup);
        }
    } else { /* CASE 4: collect distinct random members */
        s = strset_new(count);
        while (strset_count(s) < count) {
            set_random(e, rnd64, tmp, &m, &n);
            strset_add(&s, m, n);
        }
    }
    reply_strset(&c->r, s, false);
    strset_free(s);
}

static void cmd_srandmember(struct cmd_ctx *c)
{
    if (c->argc == 3) {
        srandmember_count(c);
        return;
    }
    if (c->argc > 3) {
        reply_error(&c->r, ERR_SYNTAX);
        return;
    }
    bool wrong;
    struct entry *e = find_set_read(c, &c->argv[1], NULL, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return;
    }
    if (!e) {
        reply_null(&c->r);
        return;
    }
    char tmp[SET_INT_BUF];
    const char *m;
    size_t n;
    set_random(e, rnd64, tmp, &m, &n);
    reply_bulk(&c->r, m, n);
}

/* ---------- SPOP ---------- */

#define SPOP_MOVE_STRATEGY_MUL 5

/* Remove a random member and reply it. */
static void pop_one(struct cmd_ctx *c, struct entry *e)
{
    char tmp[SET_INT_BUF];
    const char *m;
    size_t n;
    set_random(e, rnd64, tmp, &m, &n);
    reply_bulk(&c->r, m, n);
    char *dup = m == tmp ? tmp : mi_malloc(n ? n : 1);
    if (dup != tmp)
        memcpy(dup, m, n);
    set_remove(e, dup, n);
    if (dup != tmp)
        mi_free(dup);
}

/* CASE 3: keep `remaining` random members in a new value, reply the rest. */
static void pop_keep_remaining(struct cmd_ctx *c, struct entry *e, uint64_t remaining)
{
    struct entry *keep = NULL;
    char tmp[SET_INT_BUF];
    const char *m;
    size_t n;
    while (remaining--) {
        set_random(e, rnd64, tmp, &m, &n);
        char *dup = mi_malloc(n ? n : 1);
        memcpy(dup, m, n);
        if (!keep)
            keep = set_entry_new("", 0, dup, n, 0);
        set_add(keep, dup, n);
        set_remove(e, dup, n);
        mi_free(dup);
    }
    struct set_iter it;
    set_iter_init(&it, e);
    while (set_iter_next(&it, &m, &n))
        reply_bulk(&c->r, m, n);
    /* the kept members become the key's value */
    void *old = e->val.ptr;
    int oldenc = e->enc;
    e->val.ptr = keep->val.ptr;
    e->enc = keep->enc;
    keep->val.ptr = old;
    keep->enc = (uint8_t)oldenc;
    entry_free(keep);
}

static void spop_count(struct cmd_ctx *c)
{
    long long l;
    const char *err = arg_range(&c->argv[2], 0, LLONG_MAX, ERR_POSITIVE, &l);
    if (err) {
        reply_error(&c->r, err);
        return;
    }
    const struct arg *key = &c->argv[1];
    struct ks_ref ref;
    bool wrong;
    struct entry *e = find_set_write(c, key, &ref, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return;
    }
    uint64_t count = (uint64_t)l;
    if (!e || count == 0) {
        reply_set(&c->r, 0);
        return;
    }
    uint64_t size = set_size(e);
    notify_keyspace_event(c, NOTIFY_SET, "spop", key); /* pubsub: keyspace event */
    db_signal_modified(c, key);
    if (count >= size) { /* CASE 1: the whole set */
        reply_members(&c->r, e);
        ks_delete(c->ks, c->db, &ref);
        notify_keyspace_event(c, NOTIFY_GENERIC, "del", key); /* pubsub: keyspace event */
        return;
    }
    reply_set(&c->r, (int64_t)count);
    uint64_t remaining = size - count;
    if (remaining * SPOP_MOVE_STRATEGY_MUL > count) { /* CASE 2 */
        while (count--)
            pop_one(c, e);
    } else { /* CASE 3 */
        pop_keep_remaining(c, e, remaining);
    }
}

static void cmd_spop(struct cmd_ctx *c)
{
    if (c->argc == 3) {
        spop_count(c);
        return;
    }
    if (c->argc > 3) {
        reply_error(&c->r, ERR_SYNTAX);
        return;
    }
    const struct arg *key = &c->argv[1];
    struct ks_ref ref;
    bool wrong;
    struct entry *e = find_set_write(c, key, &ref, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return;
    }
    if (!e) {
        reply_null(&c->r);
        return;
    }
    pop_one(c, e);
    notify_keyspace_event(c, NOTIFY_SET, "spop", key); /* pubsub: keyspace event */
    delete_if_empty(c, key, e, &ref);
    db_signal_modified(c, key);
}

/* ---------- SSCAN ---------- */


struct scan_acc {
    struct buf *out;
    int resp;
    const struct arg *pat;
    int64_t seen;  /* members visited (COUNT counts these) */
    int64_t kept;  /* members that matched */
};

static void scan_visit(void *arg, const char *m, size_t n)
{
    struct scan_acc *a = arg;
    a->seen++;
    if (a->pat && !glob_match(a->pat->p, a->pat->len, m, n, false))
        return;
    struct reply r = {a->out, a->resp};
    reply_bulk(&r, m, n);
    a->kept++;
}

static void cmd_sscan(struct cmd_ctx *c)
{
    uint64_t cursor;
    if (!scan_parse_cursor(&c->argv[2], &cursor)) {
        reply_error(&c->r, "ERR invalid cursor");
        return;
    }
    bool wrong;
    struct entry *e = find_set_read(c, &c->argv[1], NULL, &wrong);
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
    struct buf members;
    buf_init(&members);
    struct scan_acc acc = {.out = &members, .resp = c->r.resp, .pat = pat};
    long long maxiter = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
    do {
        cursor = set_scan(e, cursor, scan_visit, &acc);
    } while (cursor && maxiter-- && acc.seen < count);
    char digits[24];
    size_t dl = int64_to_string(digits, 0);
    reply_array(&c->r, 2);
    if (cursor) {
        /* an unsigned cursor may not fit int64: format it by hand */
        char tmp[24];
        size_t k = 0;
        for (uint64_t v = cursor; v; v /= 10)
            tmp[k++] = (char)('0' + v % 10);
        for (size_t i = 0; i < k; i++)
            digits[i] = tmp[k - 1 - i];
        dl = k;
    }
    reply_bulk(&c->r, digits, dl);
    reply_array(&c->r, acc.kept);
    reply_raw(&c->r, members.data, members.len);
    buf_free(&members);
}

/* ---------- members as bytes between threads ----------
 * A part buffer holds, per source key: u32 argv index, u8 state, u64 member
 * count, then each member as u64 length + bytes. */

enum src_state { SRC_MISSING = 0, SRC_SET = 1, SRC_WRONG = 2 };

static void put_u64(struct buf *b, uint64_t v) { buf_append(b, &v, sizeof(v)); }

static void put_member(struct buf *b, const char *m, size_t n)
{
    put_u64(b, n);
    buf_append(b, m, n);
}

static void put_source(struct buf *b, int argi, int state, const struct entry *e)
{
    uint32_t a = (uint32_t)argi;
    uint8_t st = (uint8_t)state;
    buf_append(b, &a, sizeof(a));
    buf_append(b, &st, 1);
    put_u64(b, e ? set_size(e) : 0);
    if (!e)
        return;
    struct set_iter it;
    const char *m;
    size_t n;
    set_iter_init(&it, e);
    while (set_iter_next(&it, &m, &n))
        put_member(b, m, n);
}

/* A source as the coordinator reads it. */
struct src {
    int state;
    uint64_t count;
    const char *p, *end;   /* its members */
    struct strset *lookup; /* built on demand for membership tests */
};

static const char *next_member(const char **cur, size_t *n)
{
    uint64_t len;
    memcpy(&len, *cur, sizeof(len));
    const char *m = *cur + sizeof(len);
    *cur = m + len;
    *n = (size_t)len;
    return m;
}

/* Parse a part buffer into srcs[argi - first]. */
static void read_sources(const struct buf *b, struct src *srcs, int first)
{
    const char *p = b->data, *end = b->data + b->len;
    while (p && p < end) {
        uint32_t argi;
        uint64_t count;
        memcpy(&argi, p, sizeof(argi));
        int state = (unsigned char)p[4];
        memcpy(&count, p + 5, sizeof(count));
        p += 13;
        struct src *s = &srcs[argi - (uint32_t)first];
        s->state = state;
        s->count = count;
        s->p = p;
        for (uint64_t i = 0; i < count; i++) {
            size_t n;
            next_member(&p, &n);
        }
        s->end = p;
    }
}

static bool src_has(struct src *s, const char *m, size_t n)
{
    if (!s->lookup) {
        s->lookup = strset_new(s->count);
        const char *cur = s->p;
        for (uint64_t i = 0; i < s->count; i++) {
            size_t len;
            const char *x = next_member(&cur, &len);
            strset_add(&s->lookup, x, len);
        }
    }
    return strset_contains(s->lookup, m, n);
}

/* ---------- SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE ---------- */

enum setop { OP_INTER, OP_UNION, OP_DIFF };

struct setop_spec {
    int op;
    bool store;      /* argv[1] is the destination */
    bool card;       /* SINTERCARD */
    const char *event;
};

static const struct setop_spec *setop_spec_of(const struct command *cmd)
{
    static const struct setop_spec specs[] = {
        {OP_INTER, false, false, NULL},          {OP_INTER, false, true, NULL},
        {OP_INTER, true, false, "sinterstore"}, {OP_UNION, false, false, NULL},
        {OP_UNION, true, false, "sunionstore"}, {OP_DIFF, false, false, NULL},
        {OP_DIFF, true, false, "sdiffstore"},
    };
    static const char *const names[] = {"sinter", "sintercard", "sinterstore", "sunion",
                                        "sunionstore", "sdiff", "sdiffstore"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(cmd->name, names[i]))
            return &specs[i];
    return &specs[0];
}

/* SINTERCARD's numkeys and LIMIT; an error text or NULL. */
static const char *sintercard_parse(const struct arg *argv, int argc, long long *numkeys, long long *limit)
{
    *limit = 0;
    const char *err = arg_range(&argv[1], 1, LLONG_MAX, "ERR numkeys should be greater than 0", numkeys);
    if (err)
        return err;
    if (*numkeys > argc - 2)
        return "ERR Number of keys can't be greater than number of args";
    for (long long j = 2 + *numkeys; j < argc; j++) {
        if (arg_eq(&argv[j], "limit") && j + 1 < argc) {
            j++;
            if ((err = arg_range(&argv[j], 0, LLONG_MAX, "ERR LIMIT can't be negative", limit)))
                return err;
        } else {
            return ERR_SYNTAX;
        }
    }
    return NULL;
}

static int sintercard_getkeys(struct arg *argv, int argc, int *keys, int max)
{
    long long numkeys, limit;
    if (argc < 3 || !arg_to_ll(&argv[1], &numkeys) || numkeys < 1 || numkeys > argc - 2)
        return 0;
    (void)limit;
    int k = 0;
    for (int i = 2; i < 2 + numkeys && k < max; i++)
        keys[k++] = i;
    return k;
}

/* SINTERCARD without valid keys: only the argument errors are left. */
static void cmd_sintercard_nokeys(struct cmd_ctx *c)
{
    long long numkeys, limit;
    const char *err = sintercard_parse(c->argv, c->argc, &numkeys, &limit);
    reply_error(&c->r, err ? err : ERR_SYNTAX);
}

static int first_source(const struct setop_spec *sp) { return sp->store || sp->card ? 2 : 1; }

static int source_count(const struct mso *t, const struct setop_spec *sp)
{
    if (sp->card) {
        long long numkeys;
        arg_to_ll(&t->argv[1], &numkeys);
        return (int)numkeys;
    }
    return t->argc - first_source(sp);
}

enum { SETOP_WRONGTYPE = -1, SETOP_ERR = -2 };

/* Build a set entry under `key` from a list of members (createIntsetObject
 * then setTypeAdd each, so the encoding is the one Redis ends up with). */
static struct entry *entry_from_members(const char *key, size_t klen, const char *p, const char *end)
{
    struct entry *e = set_entry_new_intset(key, klen);
    while (p < end) {
        size_t n;
        const char *m = next_member(&p, &n);
        set_add(e, m, n);
    }
    return e;
}

/* setKey / dbDelete on the destination's shard, with Redis's events. */
static void store_result(struct cmd_ctx *c, const struct arg *dst, const char *p, const char *end,
                         const char *event)
{
    struct ks_ref ref;
    struct entry *old = db_find(c, dst, &ref);
    if (p == end) {
        if (old) {
            ks_delete(c->ks, c->db, &ref);
            db_signal_modified(c, dst);
            notify_keyspace_event(c, NOTIFY_GENERIC, "del", dst); /* pubsub: keyspace event */
        }
        return;
    }
    struct entry *n = entry_from_members(dst->p, dst->len, p, end);
    if (old) {
        n->lru = old->lru;
        db_touch(c, n);
        ks_replace(c->ks, c->db, &ref, n);
        db_signal_modified(c, dst);
    } else {
        db_add(c, dst, n);
    }
    notify_keyspace_event(c, NOTIFY_SET, event, dst); /* pubsub: keyspace event */
}

static void setop_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    const struct setop_spec *sp = setop_spec_of(t->cmd);
    struct mso_part *pt = &t->parts[part];
    if (hop == 0) {
        buf_clear(&pt->out);
        for (int i = 0; i < c->nkeys; i++) {
            int argi = c->keyidx[i];
            if (sp->store && argi == 1)
                continue;
            bool wrong;
            const struct arg *key = &c->argv[argi];
            struct entry *e = sp->store && sp->op == OP_INTER ? find_set_write(c, key, NULL, &wrong)
                                                              : find_set_read(c, key, NULL, &wrong);
            put_source(&pt->out, argi, wrong ? SRC_WRONG : e ? SRC_SET : SRC_MISSING, e);
        }
        return;
    }
    for (int i = 0; i < c->nkeys; i++)
        if (c->keyidx[i] == 1 && t->i64 >= 0)
            store_result(c, &c->argv[1], t->scratch.data, t->scratch.data + t->scratch.len, sp->event);
}

static int by_count(const void *a, const void *b)
{
    const struct src *x = *(struct src *const *)a, *y = *(struct src *const *)b;
    if (x->count != y->count)
        return x->count < y->count ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Intersection into t->scratch (members in the smallest set's order);
 * returns the cardinality (stopping at `limit` when non-zero). */
static int64_t compute_inter(struct src *srcs, int n, struct buf *out, long long limit, bool card_only)
{
    for (int i = 0; i < n; i++)
        if (srcs[i].state == SRC_MISSING)
            return 0;
    struct src **order = mi_malloc(sizeof(*order) * (size_t)n);
    for (int i = 0; i < n; i++)
        order[i] = &srcs[i];
    qsort(order, (size_t)n, sizeof(*order), by_count);
    int64_t card = 0;
    const char *cur = order[0]->p;
    for (uint64_t k = 0; k < order[0]->count; k++) {
        size_t len;
        const char *m = next_member(&cur, &len);
        int j = 1;
        while (j < n && src_has(order[j], m, len))
            j++;
        if (j < n)
            continue;
        card++;
        if (!card_only)
            put_member(out, m, len);
        if (limit && card >= limit)
            break;
    }
    mi_free(order);
    return card;
}

/* Union or difference, built as Redis builds its result set; its members
 * go to `out` in the result's storage order. */
static int64_t compute_union_diff(struct src *srcs, int n, int op, struct buf *out)
{
    if (op == OP_DIFF && srcs[0].state != SRC_SET)
        return 0;
    struct entry *res = set_entry_new_intset("", 0);
    for (int i = 0; i < n; i++) {
        const char *cur = srcs[i].p;
        for (uint64_t k = 0; srcs[i].state == SRC_SET && k < srcs[i].count; k++) {
            size_t len;
            const char *m = next_member(&cur, &len);
            if (op == OP_UNION || i == 0)
                set_add(res, m, len);
            else
                set_remove(res, m, len);
        }
        if (op == OP_DIFF && !set_size(res))
            break;
    }
    struct set_iter it;
    const char *m;
    size_t len;
    set_iter_init(&it, res);
    while (set_iter_next(&it, &m, &len))
        put_member(out, m, len);
    int64_t card = (int64_t)set_size(res);
    entry_free(res);
    return card;
}

static int setop_next(struct mso *t, int hop)
{
    if (hop > 0)
        return -1;
    const struct setop_spec *sp = setop_spec_of(t->cmd);
    long long numkeys, limit = 0;
    if (sp->card && sintercard_parse(t->argv, t->argc, &numkeys, &limit)) {
        t->i64 = SETOP_ERR;
        return -1;
    }
    int first = first_source(sp), n = source_count(t, sp);
    struct src *srcs = mi_zalloc(sizeof(*srcs) * (size_t)n);
    for (int p = 0; p < t->nparts; p++)
        read_sources(&t->parts[p].out, srcs, first);
    bool wrong = false;
    for (int i = 0; i < n; i++)
        wrong |= srcs[i].state == SRC_WRONG;
    buf_clear(&t->scratch);
    if (wrong)
        t->i64 = SETOP_WRONGTYPE;
    else if (sp->op == OP_INTER)
        t->i64 = compute_inter(srcs, n, &t->scratch, limit, sp->card);
    else
        t->i64 = compute_union_diff(srcs, n, sp->op, &t->scratch);
    for (int i = 0; i < n; i++)
        strset_free(srcs[i].lookup);
    mi_free(srcs);
    return sp->store && t->i64 >= 0 ? 1 : -1;
}

static void setop_reply(struct mso *t, struct reply *r)
{
    const struct setop_spec *sp = setop_spec_of(t->cmd);
    if (t->i64 == SETOP_ERR) {
        long long numkeys, limit;
        reply_error(r, sintercard_parse(t->argv, t->argc, &numkeys, &limit));
        return;
    }
    if (t->i64 == SETOP_WRONGTYPE) {
        reply_error(r, ERR_WRONGTYPE);
        return;
    }
    if (sp->store || sp->card) {
        reply_int(r, t->i64);
        return;
    }
    reply_set(r, t->i64);
    const char *p = t->scratch.data, *end = p + t->scratch.len;
    while (p && p < end) {
        size_t n;
        const char *m = next_member(&p, &n);
        reply_bulk(r, m, n);
    }
}

static const struct mso_ops setop_ops = {.hop = setop_hop, .next = setop_next, .reply = setop_reply};

/* ---------- SMOVE ----------
 * Both keys on one thread: hop 0 does everything. Otherwise hop 0 reports
 * the source's state and whether it holds the member, and the destination's
 * type; hop 1 removes on the source's thread and adds on the destination's. */

enum { SM_WRONGTYPE = -1 };

static int64_t smove_local(struct cmd_ctx *c)
{
    const struct arg *src = &c->argv[1], *dst = &c->argv[2], *m = &c->argv[3];
    struct ks_ref sref, dref;
    bool swrong, dwrong;
    struct entry *s = find_set_write(c, src, &sref, &swrong);
    struct entry *d = find_set_write(c, dst, &dref, &dwrong);
    if (!s && !swrong)
        return 0;
    if (swrong || dwrong)
        return SM_WRONGTYPE;
    if (s == d)
        return set_has(s, m->p, m->len);
    if (!set_remove(s, m->p, m->len))
        return 0;
    notify_keyspace_event(c, NOTIFY_SET, "srem", src); /* pubsub: keyspace event */
    delete_if_empty(c, src, s, &sref);
    if (!d) {
        d = set_entry_new(dst->p, dst->len, m->p, m->len, 1);
        db_add(c, dst, d);
    }
    db_signal_modified(c, src);
    if (set_add(d, m->p, m->len)) {
        db_signal_modified(c, dst);
        notify_keyspace_event(c, NOTIFY_SET, "sadd", dst); /* pubsub: keyspace event */
    }
    return 1;
}

static void smove_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    struct mso_part *p = &t->parts[part];
    bool has_src = false, has_dst = false;
    for (int i = 0; i < c->nkeys; i++) {
        has_src |= c->keyidx[i] == 1;
        has_dst |= c->keyidx[i] == 2;
    }
    const struct arg *src = &c->argv[1], *dst = &c->argv[2], *m = &c->argv[3];
    if (has_src && has_dst) {
        if (hop == 0)
            p->count = smove_local(c);
        return;
    }
    struct ks_ref ref;
    bool wrong;
    if (hop == 0) {
        struct entry *e = find_set_write(c, has_src ? src : dst, &ref, &wrong);
        p->count2 = wrong ? SRC_WRONG : e ? SRC_SET : SRC_MISSING;
        p->count = has_src && e && set_has(e, m->p, m->len);
        return;
    }
    if (has_src) {
        struct entry *e = find_set_write(c, src, &ref, &wrong);
        if (e && set_remove(e, m->p, m->len)) {
            notify_keyspace_event(c, NOTIFY_SET, "srem", src); /* pubsub: keyspace event */
            delete_if_empty(c, src, e, &ref);
            db_signal_modified(c, src);
        }
        return;
    }
    struct entry *d = find_set_write(c, dst, &ref, &wrong);
    if (wrong)
        return;
    if (!d) {
        d = set_entry_new(dst->p, dst->len, m->p, m->len, 1);
        db_add(c, dst, d);
    }
    if (set_add(d, m->p, m->len)) {
        db_signal_modified(c, dst);
        notify_keyspace_event(c, NOTIFY_SET, "sadd", dst); /* pubsub: keyspace event */
    }
}

static int part_of(const struct mso *t, int argi)
{
    for (int p = 0; p < t->nparts; p++)
        for (int i = 0; i < t->parts[p].nkeys; i++)
            if (t->parts[p].keyidx[i] == argi)
                return p;
    return 0;
}

static int smove_next(struct mso *t, int hop)
{
    if (hop > 0)
        return -1;
    if (t->nparts == 1) {
        t->i64 = t->parts[0].count;
        return -1;
    }
    const struct mso_part *s = &t->parts[part_of(t, 1)], *d = &t->parts[part_of(t, 2)];
    if (s->count2 == SRC_MISSING)
        t->i64 = 0;
    else if (s->count2 == SRC_WRONG || d->count2 == SRC_WRONG)
        t->i64 = SM_WRONGTYPE;
    else if (!s->count)
        t->i64 = 0;
    else {
        t->i64 = 1;
        return 1;
    }
    return -1;
}

static void smove_reply(struct mso *t, struct reply *r)
{
    if (t->i64 == SM_WRONGTYPE)
        reply_error(r, ERR_WRONGTYPE);
    else
        reply_int(r, t->i64);
}

static const struct mso_ops smove_ops = {.hop = smove_hop, .next = smove_next, .reply = smove_reply};

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM
#define MK CMD_MULTIKEY

const struct command set_commands[] = {
    {"sadd", -3, W | D | F, 1, 1, 1, cmd_sadd, .group = "set", .summary = "Add one or more members to a set", .since = "1.0.0", .complexity = "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", .acl = "write set fast"},
    {"srem", -3, W | F, 1, 1, 1, cmd_srem, .group = "set", .summary = "Remove one or more members from a set", .since = "1.0.0", .complexity = "O(N) where N is the number of members to be removed.", .acl = "write set fast"},
    {"scard", 2, R | F, 1, 1, 1, cmd_scard, .group = "set", .summary = "Get the number of members in a set", .since = "1.0.0", .complexity = "O(1)", .acl = "read set fast"},
    {"sismember", 3, R | F, 1, 1, 1, cmd_sismember, .group = "set", .summary = "Determine if a given value is a member of a set", .since = "1.0.0", .complexity = "O(1)", .acl = "read set fast"},
    {"smismember", -3, R | F, 1, 1, 1, cmd_smismember, .group = "set", .summary = "Returns the membership associated with the given elements for a set", .since = "6.2.0", .complexity = "O(N) where N is the number of elements being checked for membership", .acl = "read set fast"},
    {"smembers", 2, R, 1, 1, 1, cmd_smembers, .group = "set", .summary = "Get all the members in a set", .since = "1.0.0", .complexity = "O(N) where N is the set cardinality.", .acl = "read set slow"},
    {"srandmember", -2, R, 1, 1, 1, cmd_srandmember, .group = "set", .summary = "Get one or multiple random members from a set", .since = "1.0.0", .complexity = "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.", .acl = "read set slow"},
    {"spop", -2, W | F, 1, 1, 1, cmd_spop, .group = "set", .summary = "Remove and return one or multiple random members from a set", .since = "1.0.0", .complexity = "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.", .acl = "write set fast"},
    {"smove", 4, W | F | MK, 1, 2, 1, NULL, .mso = &smove_ops, .group = "set", .summary = "Move a member from one set to another", .since = "1.0.0", .complexity = "O(1)", .acl = "write set fast"},
    {"sinter", -2, R | MK, 1, -1, 1, NULL, .mso = &setop_ops, .group = "set", .summary = "Intersect multiple sets", .since = "1.0.0", .complexity = "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", .acl = "read set slow"},
    {"sintercard", -3, R | MK | CMD_MOVABLE_KEYS, 0, 0, 0, cmd_sintercard_nokeys, .mso = &setop_ops, .getkeys = sintercard_getkeys, .group = "set", .summary = "Intersect multiple sets and return the cardinality of the result", .since = "7.0.0", .complexity = "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", .acl = "read set slow"},
    {"sinterstore", -3, W | D | MK, 1, -1, 1, NULL, .mso = &setop_ops, .group = "set", .summary = "Intersect multiple sets and store the resulting set in a key", .since = "1.0.0", .complexity = "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", .acl = "write set slow"},
    {"sunion", -2, R | MK, 1, -1, 1, NULL, .mso = &setop_ops, .group = "set", .summary = "Add multiple sets", .since = "1.0.0", .complexity = "O(N) where N is the total number of elements in all given sets.", .acl = "read set slow"},
    {"sunionstore", -3, W | D | MK, 1, -1, 1, NULL, .mso = &setop_ops, .group = "set", .summary = "Add multiple sets and store the resulting set in a key", .since = "1.0.0", .complexity = "O(N) where N is the total number of elements in all given sets.", .acl = "write set slow"},
    {"sdiff", -2, R | MK, 1, -1, 1, NULL, .mso = &setop_ops, .group = "set", .summary = "Subtract multiple sets", .since = "1.0.0", .complexity = "O(N) where N is the total number of elements in all given sets.", .acl = "read set slow"},
    {"sdiffstore", -3, W | D | MK, 1, -1, 1, NULL, .mso = &setop_ops, .group = "set", .summary = "Subtract multiple sets and store the resulting set in a key", .since = "1.0.0", .complexity = "O(N) where N is the total number of elements in all given sets.", .acl = "write set slow"},
    {"sscan", -3, R, 1, 1, 1, cmd_sscan, .group = "set", .summary = "Incrementally iterate Set elements", .since = "2.8.0", .complexity = "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..", .acl = "read set slow"},
    {NULL},
};
