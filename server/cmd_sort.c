/* server/cmd_sort.c — SORT and SORT_RO (BY, LIMIT, GET, ASC/DESC, ALPHA,
 * STORE), with Redis 7.0's sort.c replies, errors and events.
 *
 * SORT runs as mso hops (transaction.c). Hop 0: the sort key's shard copies
 * the value's elements as bytes to the coordinator (one small reader per
 * type). Hop 1, only when BY/GET patterns name other keys: every shard
 * looks up the keys the coordinator asked it for (string values, or hash
 * fields for "->" patterns). The coordinator sorts and builds the reply or
 * the list to store; the last hop has the destination's shard store it.
 * Patterns that read other keys are refused in cluster mode as Redis does;
 * in standalone mode with several threads such a SORT is dispatched as a
 * global operation (every shard held), so it stays atomic wherever the
 * looked-up keys live. The stored list travels as an RDB_TYPE_LIST image
 * and is built by the list type's codec.
 * Owns: SORT semantics only; values belong to their types' shard/ code. */
#include "server/server.h"
#include "server/pubsub.h" /* pubsub: keyspace events */
#include "shard/rdb.h"
#include "shard/t_hash.h"
#include "shard/t_list.h"
#include "shard/t_set.h"
#include "shard/t_zset.h"
#include "shard/types.h"

#include <errno.h>
#include <math.h>
#include <mimalloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---------- options ---------- */

struct sort_opts {
    bool desc, alpha, dontsort, readonly;
    long long limit_start, limit_count;
    const struct arg *by;     /* a BY pattern with '*' */
    const struct arg *store;
    int ngets;
    const struct arg **getv;  /* GET patterns */
    const char *err;
};

static bool has_star(const struct arg *a) { return memchr(a->p, '*', strnlen(a->p, a->len)) != NULL; }

static const struct arg *get_at(const struct sort_opts *o, int i) { return o->getv[i]; }

static void sort_parse(const struct arg *argv, int argc, bool readonly, bool cluster, struct sort_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->readonly = readonly;
    o->limit_count = -1;
    o->getv = mi_malloc(sizeof(*o->getv) * (size_t)(argc > 0 ? argc : 1));
    for (int j = 2; j < argc; j++) {
        int left = argc - j - 1;
        const struct arg *a = &argv[j];
        if (arg_eq(a, "asc")) {
            o->desc = false;
        } else if (arg_eq(a, "desc")) {
            o->desc = true;
        } else if (arg_eq(a, "alpha")) {
            o->alpha = true;
        } else if (arg_eq(a, "limit") && left >= 2) {
            if (!arg_to_ll(&argv[j + 1], &o->limit_start) || !arg_to_ll(&argv[j + 2], &o->limit_count)) {
                o->err = ERR_NOT_INT;
                return;
            }
            j += 2;
        } else if (!readonly && arg_eq(a, "store") && left >= 1) {
            o->store = &argv[++j];
        } else if (arg_eq(a, "by") && left >= 1) {
            const struct arg *p = &argv[++j];
            o->by = NULL;
            o->dontsort = false;
            if (!has_star(p)) {
                o->dontsort = true;
            } else if (cluster) {
                o->err = "ERR BY option of SORT denied in Cluster mode.";
                return;
            } else {
                o->by = p;
            }
        } else if (arg_eq(a, "get") && left >= 1) {
            if (cluster) {
                o->err = "ERR GET option of SORT denied in Cluster mode.";
                return;
            }
            o->getv[o->ngets++] = &argv[++j];
        } else {
            o->err = ERR_SYNTAX;
            return;
        }
    }
}

static void sort_opts_free(struct sort_opts *o) { mi_free(o->getv); }

/* A pattern that reads other keys: BY with '*', GET other than "#". */
static bool needs_lookups(const struct sort_opts *o)
{
    if (o->by && !o->dontsort)
        return true;
    for (int i = 0; i < o->ngets; i++) {
        const struct arg *g = get_at(o, i);
        if (!(g->len == 1 && g->p[0] == '#') && has_star(g))
            return true;
    }
    return false;
}

static bool is_cluster(void) { return worker_self()->cfg.cluster_enabled; }

static bool cmd_readonly(const struct command *cmd) { return !strcmp(cmd->name, "sort_ro"); }

/* ---------- reading the value to sort: one small function per type ---------- */

enum { SV_MISSING = 0, SV_OK = 1, SV_WRONGTYPE = 2, SV_UNSUPPORTED = 3 };

static void put_u64(struct buf *b, uint64_t v) { buf_append(b, &v, sizeof(v)); }

static void put_bytes(struct buf *b, const char *p, size_t n)
{
    put_u64(b, n);
    buf_append(b, p, n);
}

static uint64_t get_u64(const char **p)
{
    uint64_t v;
    memcpy(&v, *p, sizeof(v));
    *p += sizeof(v);
    return v;
}

static const char *get_bytes(const char **p, size_t *n)
{
    *n = (size_t)get_u64(p);
    const char *s = *p;
    *p += *n;
    return s;
}

/* A set's members in storage order. */
static bool read_set(struct entry *e, struct buf *out, uint64_t *count)
{
    struct set_iter it;
    const char *m;
    size_t n;
    set_iter_init(&it, e);
    while (set_iter_next(&it, &m, &n)) {
        put_bytes(out, m, n);
        (*count)++;
    }
    return true;
}

/* A list's elements head to tail (BY nosort keeps this order, DESC
 * reversed, LIMIT applied afterwards by the shared code). */
static bool read_list(struct entry *e, struct buf *out, uint64_t *count)
{
    const struct quicklist *ql = e->val.ptr;
    struct ql_pos pos;
    bool more = ql_index(ql, 0, &pos);
    while (more) {
        char tmp[32];
        size_t n;
        const char *m = lp_get_str(pos.p, tmp, &n);
        put_bytes(out, m, n);
        (*count)++;
        more = ql_step(&pos, true);
    }
    return true;
}

/* A sorted set's members in score order (BY nosort keeps this order, DESC
 * reversed, LIMIT applied afterwards, as sortCommand's zset branch does).
 * Redis converts the value to a skiplist for SORT, for good: so do we. */
static bool read_zset(struct entry *e, struct buf *out, uint64_t *count)
{
    if (e->enc != OBJ_ENC_SKIPLIST)
        zset_convert(e, OBJ_ENC_SKIPLIST);
    struct zset_iter it;
    struct zset_elem el;
    zset_iter_rank(&it, e, 0, zset_card(e), false);
    while (zset_iter_next(&it, &el)) {
        put_bytes(out, el.m, el.len);
        (*count)++;
    }
    return true;
}

/* A hash field's value (for "key->field" patterns). */
static bool read_hash_field(struct entry *e, const char *f, size_t fl, struct buf *out)
{
    struct hash_str v;
    if (!hash_get(e, f, fl, &v))
        return false;
    put_bytes(out, v.p, v.len);
    return true;
}

/* Hop 0 on the sort key's shard: [state u8][type u8][in script u8][count u64][elements]. */
static void load_sort_value(struct cmd_ctx *c, struct buf *out, bool write)
{
    const struct arg *key = &c->argv[1];
    struct entry *e = db_find(c, key, NULL);
    if (e) {
        if (!write)
            c->ks->stats.keyspace_hits++;
        db_touch(c, e);
    } else if (!write) {
        c->ks->stats.keyspace_misses++;
    }
    uint8_t head[3] = {SV_MISSING, OBJ_LIST, c->in_script};
    size_t at = out->len;
    buf_append(out, head, 3);
    put_u64(out, 0);
    if (!e)
        return;
    uint64_t count = 0;
    bool ok;
    if (e->type == OBJ_SET)
        ok = read_set(e, out, &count);
    else if (e->type == OBJ_LIST)
        ok = read_list(e, out, &count);
    else if (e->type == OBJ_ZSET)
        ok = read_zset(e, out, &count);
    else {
        out->data[at] = SV_WRONGTYPE;
        return;
    }
    out->data[at] = ok ? SV_OK : SV_UNSUPPORTED;
    out->data[at + 1] = (char)e->type;
    memcpy(out->data + at + 3, &count, sizeof(count));
}

/* ---------- pattern lookups ---------- */

/* lookupKeyByPattern's key and field for one element; false when the
 * pattern has no '*' (nothing to look up). */
static bool pattern_key(const struct arg *pat, const char *el, size_t elen, struct buf *key, const char **field,
                        size_t *flen)
{
    size_t plen = strnlen(pat->p, pat->len);
    const char *star = memchr(pat->p, '*', plen);
    if (!star)
        return false;
    const char *arrow = NULL;
    for (const char *q = star + 1; q + 1 < pat->p + plen; q++)
        if (q[0] == '-' && q[1] == '>') {
            arrow = q;
            break;
        }
    size_t fieldlen = 0;
    if (arrow && arrow + 2 < pat->p + plen)
        fieldlen = (size_t)(pat->p + plen - (arrow + 2));
    size_t prefix = (size_t)(star - pat->p);
    size_t postfix = plen - prefix - 1 - (fieldlen ? fieldlen + 2 : 0);
    buf_clear(key);
    buf_append(key, pat->p, prefix);
    buf_append(key, el, elen);
    buf_append(key, star + 1, postfix);
    *field = fieldlen ? arrow + 2 : NULL;
    *flen = fieldlen;
    return true;
}

/* One lookup's answer, on the coordinator. */
struct found {
    bool ok;
    const char *p;
    size_t n;
};

/* The operation's state on the coordinator. */
struct sort_state {
    struct sort_opts o;
    int vstate, vtype;
    uint64_t n;               /* elements */
    const char **el;          /* element bytes (into the hop-0 buffer) */
    size_t *elen;
    int nlook;                /* lookups per element: BY (if any) then each GET */
    struct buf *req;          /* [nparts] keys asked of each part */
    struct buf *ans;          /* [nparts] each part's answers (its own slot only) */
    int *req_part;            /* [n * nlook] part asked, -1 none */
    struct found *res;        /* [n * nlook] */
    int64_t outlen;
    bool conv_error;
    int64_t stored;           /* STORE: -1 when the list could not be built */
};

static int part_of_shard(const struct mso *t, int shard)
{
    for (int p = 0; p < t->nparts; p++)
        if (t->parts[p].shard == shard)
            return p;
    return -1;
}

/* The pattern of lookup slot k: BY first when there is one, then GETs. */
static const struct arg *lookup_pattern(const struct sort_state *s, int k)
{
    if (s->o.by && !s->o.dontsort) {
        if (k == 0)
            return s->o.by;
        k--;
    }
    return get_at(&s->o, k);
}

/* Write each part's list of keys to look up: [key][field or none]. */
static void plan_lookups(struct mso *t, struct sort_state *s)
{
    s->nlook = (s->o.by && !s->o.dontsort ? 1 : 0) + s->o.ngets;
    size_t total = (size_t)s->n * (size_t)s->nlook;
    s->req = mi_zalloc(sizeof(struct buf) * (size_t)t->nparts);
    s->ans = mi_zalloc(sizeof(struct buf) * (size_t)t->nparts);
    s->req_part = mi_malloc(sizeof(int) * (total ? total : 1));
    s->res = mi_zalloc(sizeof(struct found) * (total ? total : 1));
    struct buf key;
    buf_init(&key);
    for (uint64_t i = 0; i < s->n; i++) {
        for (int k = 0; k < s->nlook; k++) {
            size_t slot = (size_t)i * (size_t)s->nlook + (size_t)k;
            const struct arg *pat = lookup_pattern(s, k);
            const char *field;
            size_t flen;
            s->req_part[slot] = -1;
            if ((pat->len == 1 && pat->p[0] == '#') || !pattern_key(pat, s->el[i], s->elen[i], &key, &field, &flen))
                continue;
            struct arg ka = {.p = key.data ? key.data : "", .len = key.len};
            int p = part_of_shard(t, g_slot_owner[arg_slot(&ka)]);
            if (p < 0)
                continue; /* a shard this operation does not hold: not found */
            s->req_part[slot] = p;
            put_bytes(&s->req[p], ka.p, ka.len);
            put_u64(&s->req[p], field ? flen : UINT64_MAX);
            if (field)
                buf_append(&s->req[p], field, flen);
        }
    }
    buf_free(&key);
}

/* Hop 1 on every shard asked: answer its lookups in order. */
static void answer_lookups(struct cmd_ctx *c, const struct buf *req, struct buf *out)
{
    const char *p = req->data, *end = req->data + req->len;
    char tmp[32];
    while (p && p < end) {
        size_t kl;
        const char *k = get_bytes(&p, &kl);
        uint64_t fl = get_u64(&p);
        const char *f = NULL;
        if (fl != UINT64_MAX) {
            f = p;
            p += fl;
        }
        struct arg ka = {.p = k, .len = kl};
        struct entry *e = db_find(c, &ka, NULL);
        if (e) {
            c->ks->stats.keyspace_hits++;
            db_touch(c, e);
        } else {
            c->ks->stats.keyspace_misses++;
        }
        size_t at = out->len;
        buf_appendc(out, 0);
        if (!e)
            continue;
        if (f) {
            if (e->type == OBJ_HASH && read_hash_field(e, f, (size_t)fl, out))
                out->data[at] = 1;
            continue;
        }
        if (e->type != OBJ_STRING)
            continue;
        size_t n;
        const char *v = entry_string(e, tmp, &n);
        out->data[at] = 1;
        put_bytes(out, v, n);
    }
}

static void read_answers(struct mso *t, struct sort_state *s)
{
    const char **cur = mi_zalloc(sizeof(char *) * (size_t)t->nparts);
    for (int p = 0; p < t->nparts; p++)
        cur[p] = s->ans[p].data;
    size_t total = (size_t)s->n * (size_t)s->nlook;
    for (size_t slot = 0; slot < total; slot++) {
        int p = s->req_part[slot];
        if (p < 0)
            continue;
        bool ok = *cur[p]++ != 0;
        if (ok) {
            s->res[slot].ok = true;
            s->res[slot].p = get_bytes(&cur[p], &s->res[slot].n);
        }
    }
    mi_free(cur);
}

/* ---------- sorting ---------- */

struct sort_item {
    uint64_t idx;       /* element index */
    double score;
    const char *cmp;    /* ALPHA BY: the looked-up value (NULL: none) */
    size_t cmplen;
};

static _Thread_local const struct sort_state *cmp_state;

static int binary_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int r = memcmp(a, b, al < bl ? al : bl);
    if (r)
        return r;
    return al < bl ? -1 : al > bl;
}

/* strcoll in the C locale: up to the first NUL byte. */
static int c_string_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    return binary_cmp(a, strnlen(a, al), b, strnlen(b, bl));
}

static int item_cmp(const void *x, const void *y)
{
    const struct sort_state *s = cmp_state;
    const struct sort_item *a = x, *b = y;
    const char *ae = s->el[a->idx], *be = s->el[b->idx];
    size_t al = s->elen[a->idx], bl = s->elen[b->idx];
    bool store = s->o.store != NULL;
    int cmp;
    if (!s->o.alpha) {
        if (a->score > b->score)
            cmp = 1;
        else if (a->score < b->score)
            cmp = -1;
        else
            cmp = binary_cmp(ae, al, be, bl);
    } else if (s->o.by) {
        if (!a->cmp || !b->cmp)
            cmp = a->cmp == b->cmp ? 0 : !a->cmp ? -1 : 1;
        else
            cmp = store ? binary_cmp(a->cmp, a->cmplen, b->cmp, b->cmplen)
                        : c_string_cmp(a->cmp, a->cmplen, b->cmp, b->cmplen);
    } else {
        cmp = store ? binary_cmp(ae, al, be, bl) : c_string_cmp(ae, al, be, bl);
    }
    return s->o.desc ? -cmp : cmp;
}

/* strtod over the whole string, as sortCommand checks it. */
static bool to_score(const char *p, size_t n, double *out)
{
    char tmp[128];
    char *buf = n < sizeof(tmp) ? tmp : mi_malloc(n + 1);
    memcpy(buf, p, n);
    buf[n] = 0;
    char *end;
    errno = 0;
    *out = strtod(buf, &end);
    bool ok = end[0] == 0 && errno != ERANGE && !isnan(*out);
    if (buf != tmp)
        mi_free(buf);
    return ok;
}

/* Items in output order; *start and *end bound the range to output. */
static struct sort_item *sort_items(struct sort_state *s, long long *start, long long *end)
{
    long long len = (long long)s->n;
    /* clamped to the value's size first, as Redis 7.0.15 does */
    long long count = s->o.limit_count < -1 ? -1 : s->o.limit_count > len ? len : s->o.limit_count;
    *start = s->o.limit_start < 0 ? 0 : s->o.limit_start > len ? len : s->o.limit_start;
    *end = count < 0 ? len - 1 : *start + count - 1;
    if (*start >= len) {
        *start = len - 1;
        *end = len - 2;
    }
    if (*end >= len)
        *end = len - 1;
    struct sort_item *items = mi_zalloc(sizeof(*items) * (size_t)(len ? len : 1));
    for (long long i = 0; i < len; i++)
        items[i].idx = (uint64_t)i;
    bool native = s->vtype == OBJ_LIST || s->vtype == OBJ_ZSET;
    if (s->o.dontsort) {
        if (native && s->o.desc) /* lists and sorted sets keep their order, reversed by DESC */
            for (long long i = 0; i < len; i++)
                items[i].idx = (uint64_t)(len - 1 - i);
        return items;
    }
    bool by = s->o.by != NULL;
    for (long long i = 0; i < len; i++) {
        const char *v = s->el[i];
        size_t vl = s->elen[i];
        if (by) {
            const struct found *f = &s->res[(size_t)i * (size_t)s->nlook];
            if (!f->ok)
                continue;
            v = f->p;
            vl = f->n;
        }
        if (s->o.alpha) {
            if (by) {
                items[i].cmp = v;
                items[i].cmplen = vl;
            }
        } else if (!to_score(v, vl, &items[i].score)) {
            s->conv_error = true;
        }
    }
    cmp_state = s;
    qsort(items, (size_t)len, sizeof(*items), item_cmp);
    return items;
}

/* The reply, or the RDB list image to store, into t->scratch. */
static void build_output(struct mso *t, struct sort_state *s)
{
    long long start, end;
    struct sort_item *items = sort_items(s, &start, &end);
    int gets = s->o.ngets, first_get = s->nlook - gets;
    long long range = end - start + 1;
    s->outlen = gets ? (int64_t)gets * range : range;
    buf_clear(&t->scratch);
    if (s->conv_error) {
        mi_free(items);
        return;
    }
    struct reply r = {&t->scratch, t->resp};
    if (s->o.store) {
        buf_appendc(&t->scratch, RDB_TYPE_LIST);
        rdb_write_len(&t->scratch, (uint64_t)s->outlen);
    } else {
        reply_array(&r, s->outlen);
    }
    for (long long j = start; j <= end; j++) {
        uint64_t i = items[j].idx;
        if (!gets) {
            if (s->o.store)
                rdb_write_string_ex(&t->scratch, s->el[i], s->elen[i], RDB_SAVE_NO_COMPRESS);
            else
                reply_bulk(&r, s->el[i], s->elen[i]);
        }
        for (int g = 0; g < gets; g++) {
            const struct arg *pat = get_at(&s->o, g);
            const char *v = NULL;
            size_t vl = 0;
            if (pat->len == 1 && pat->p[0] == '#') {
                v = s->el[i];
                vl = s->elen[i];
            } else {
                const struct found *f = &s->res[(size_t)i * (size_t)s->nlook + (size_t)(first_get + g)];
                if (f->ok) {
                    v = f->p;
                    vl = f->n;
                }
            }
            if (s->o.store)
                rdb_write_string_ex(&t->scratch, v ? v : "", vl, RDB_SAVE_NO_COMPRESS);
            else if (v)
                reply_bulk(&r, v, vl);
            else
                reply_null(&r);
        }
    }
    mi_free(items);
}

/* ---------- the operation ---------- */

enum { HOP_LOAD = 0, HOP_LOOKUP = 1, HOP_STORE = 2 };

static int shard_of(const struct arg *key) { return g_slot_owner[arg_slot(key)]; }

/* Hop 2 on the destination's shard: setKey / dbDelete with Redis's events. */
static void store_list(struct cmd_ctx *c, struct mso *t, struct sort_state *s)
{
    const struct arg *dst = s->o.store;
    struct ks_ref ref;
    struct entry *old = db_find(c, dst, &ref);
    if (s->outlen == 0) {
        if (old) {
            ks_delete(c->ks, c->db, &ref);
            db_signal_modified(c, dst);
            notify_keyspace_event(c, NOTIFY_GENERIC, "del", dst); /* pubsub: keyspace event */
        }
        return;
    }
    struct entry *n = rdb_entry_from_image(dst->p, dst->len, t->scratch.data, t->scratch.len);
    if (!n) {
        s->stored = -1; /* no list type to hold the result */
        return;
    }
    if (old) {
        db_touch(c, n);
        ks_replace(c->ks, c->db, &ref, n);
        db_signal_modified(c, dst);
    } else {
        db_add(c, dst, n);
    }
    notify_keyspace_event(c, NOTIFY_LIST, "sortstore", dst); /* pubsub: keyspace event */
}

static void sort_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    struct mso_part *pt = &t->parts[part];
    if (hop == HOP_LOAD) {
        buf_clear(&pt->out);
        struct sort_opts o;
        sort_parse(c->argv, c->argc, cmd_readonly(t->cmd), c->w->cfg.cluster_enabled, &o);
        if (!o.err && c->w->id == shard_of(&c->argv[1]))
            load_sort_value(c, &pt->out, o.store != NULL);
        sort_opts_free(&o);
        return;
    }
    struct sort_state *s = t->state;
    if (hop == HOP_LOOKUP) {
        answer_lookups(c, &s->req[part], &s->ans[part]);
        return;
    }
    if (c->w->id == shard_of(s->o.store))
        store_list(c, t, s);
}

static void sort_state_free(struct mso *t, struct sort_state *s)
{
    sort_opts_free(&s->o);
    mi_free(s->el);
    mi_free(s->elen);
    mi_free(s->req_part);
    mi_free(s->res);
    for (int p = 0; s->req && p < t->nparts; p++) {
        buf_free(&s->req[p]);
        buf_free(&s->ans[p]);
    }
    mi_free(s->req);
    mi_free(s->ans);
}

/* Read hop 0's answer: the elements of the value to sort. */
static void read_value(struct mso *t, struct sort_state *s)
{
    int p = part_of_shard(t, shard_of(&t->argv[1]));
    const struct buf *b = p >= 0 ? &t->parts[p].out : NULL;
    s->vstate = SV_MISSING;
    s->vtype = OBJ_LIST;
    if (!b || b->len < 11)
        return;
    const char *cur = b->data;
    s->vstate = (unsigned char)cur[0];
    s->vtype = (unsigned char)cur[1];
    bool in_script = cur[2] != 0;
    cur += 3;
    s->n = get_u64(&cur);
    s->el = mi_malloc(sizeof(char *) * (size_t)(s->n ? s->n : 1));
    s->elen = mi_malloc(sizeof(size_t) * (size_t)(s->n ? s->n : 1));
    for (uint64_t i = 0; i < s->n; i++)
        s->el[i] = get_bytes(&cur, &s->elen[i]);
    /* a set with nothing to sort by is sorted anyway when stored or read by
     * a script, so the result does not depend on the set's internal order */
    if (s->o.dontsort && s->vtype == OBJ_SET && (s->o.store || in_script)) {
        s->o.dontsort = false;
        s->o.alpha = true;
        s->o.by = NULL;
    }
}

static int sort_next(struct mso *t, int hop)
{
    struct sort_state *s = t->state;
    if (hop == HOP_LOAD) {
        s = t->state = mi_zalloc(sizeof(*s));
        sort_parse(t->argv, t->argc, cmd_readonly(t->cmd), is_cluster(), &s->o);
        if (s->o.err)
            return -1;
        read_value(t, s);
        if (s->vstate != SV_OK && s->vstate != SV_MISSING)
            return -1;
        plan_lookups(t, s);
        if (needs_lookups(&s->o) && s->n)
            return HOP_LOOKUP;
    } else if (hop == HOP_LOOKUP) {
        read_answers(t, s);
    } else {
        return -1;
    }
    build_output(t, s);
    if (s->o.store && !s->conv_error)
        return HOP_STORE;
    return -1;
}

static void sort_reply(struct mso *t, struct reply *r)
{
    struct sort_state *s = t->state;
    if (s->o.err)
        reply_error(r, s->o.err);
    else if (s->vstate == SV_WRONGTYPE)
        reply_error(r, ERR_WRONGTYPE);
    else if (s->vstate == SV_UNSUPPORTED)
        reply_error(r, "ERR SORT cannot read this type yet");
    else if (s->conv_error)
        reply_error(r, "ERR One or more scores can't be converted into double");
    else if (s->o.store && s->stored < 0)
        reply_error(r, "ERR SORT STORE needs the list type, which is not available yet");
    else if (s->o.store)
        reply_int(r, s->outlen);
    else
        reply_raw(r, t->scratch.data, t->scratch.len);
    sort_state_free(t, s);
}

static const struct mso_ops sort_ops = {.hop = sort_hop, .next = sort_next, .reply = sort_reply};
static const struct mso_ops sort_global_ops = {.hop = sort_hop, .next = sort_next, .reply = sort_reply, .global = true};

/* sortGetKeys: the sort key and the last STORE key. */
static int sort_getkeys(struct arg *argv, int argc, int *keys, int max)
{
    if (argc < 2 || max < 1)
        return 0;
    int n = 0, store = -1;
    keys[n++] = 1;
    for (int i = 2; i < argc; i++) {
        if (arg_eq(&argv[i], "limit"))
            i += 2;
        else if (arg_eq(&argv[i], "get") || arg_eq(&argv[i], "by"))
            i += 1;
        else if (arg_eq(&argv[i], "store") && i + 1 < argc)
            store = i + 1;
    }
    if (store > 0 && n < max)
        keys[n++] = store;
    return n;
}

/* SORT with patterns reading other keys, in standalone mode with several
 * threads, runs as a global operation: a copy of the table entry with the
 * global ops (made once; its id and statistics are the original's). */
static struct command sort_global_cmd, sort_ro_global_cmd;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void make_global_variants(void)
{
    const struct command *s = command_find("sort", 4), *ro = command_find("sort_ro", 7);
    sort_global_cmd = *s;
    sort_ro_global_cmd = *ro;
    sort_global_cmd.flags |= CMD_GLOBAL;
    sort_ro_global_cmd.flags |= CMD_GLOBAL;
    sort_global_cmd.mso = sort_ro_global_cmd.mso = &sort_global_ops;
    sort_global_cmd.variant = sort_ro_global_cmd.variant = NULL;
}

static const struct command *sort_variant(const struct command *cmd, const struct arg *argv, int argc)
{
    if (g_nworkers == 1 || is_cluster())
        return cmd;
    struct sort_opts o;
    sort_parse(argv, argc, cmd_readonly(cmd), false, &o);
    bool global = !o.err && needs_lookups(&o);
    sort_opts_free(&o);
    if (!global)
        return cmd;
    pthread_once(&global_once, make_global_variants);
    return cmd_readonly(cmd) ? &sort_ro_global_cmd : &sort_global_cmd;
}

const struct command sort_commands[] = {
    {"sort", -2, CMD_WRITE | CMD_DENYOOM | CMD_MULTIKEY | CMD_MOVABLE_KEYS, 1, 1, 1, NULL, .mso = &sort_ops, .getkeys = sort_getkeys, .variant = sort_variant, .group = "generic", .summary = "Sort the elements in a list, set or sorted set", .since = "1.0.0", .complexity = "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).", .acl = "write set sortedset list slow dangerous"},
    {"sort_ro", -2, CMD_READONLY | CMD_MULTIKEY, 1, 1, 1, NULL, .mso = &sort_ops, .variant = sort_variant, .group = "generic", .summary = "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", .since = "7.0.0", .complexity = "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).", .acl = "read set sortedset list slow dangerous"},
    {NULL},
};
