/* server/cmd_geo.c — the geo family: GEOADD (NX XX CH) GEODIST GEOHASH
 * GEOPOS GEOSEARCH GEOSEARCHSTORE (STOREDIST) GEORADIUS GEORADIUSBYMEMBER
 * (STORE STOREDIST) GEORADIUS_RO GEORADIUSBYMEMBER_RO. Replies, errors and
 * events as Redis 7.0's geo.c.
 * Owns: geo command semantics on sorted-set values. The math is
 * shard/geohash.c; the sorted set is shard/t_zset.h. Searches that store
 * run as msos: hop 0 searches the source on its shard and writes the
 * (member, score) results into the part buffer, hop 1 builds the
 * destination on its owner, so source and destination on different
 * threads are read and written atomically.
 */
#include "server/server.h"

#include "server/pubsub.h" /* pubsub: keyspace events */
#include "shard/geohash.h"
#include "shard/t_zset.h"

#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char ERR_UNIT[] = "ERR unsupported unit provided. please use M, KM, FT, MI";
static const char ERR_MEMBER[] = "ERR could not decode requested zset member";

/* ---------- arguments ---------- */

/* A float argument (getDoubleFromObjectOrReply): err is the text to use
 * instead of "value is not a valid float". */
static bool geo_double(struct cmd_ctx *c, const struct arg *a, double *out, const char *err)
{
    if (arg_to_double(a, out))
        return true;
    reply_error(&c->r, err ? err : ERR_NOT_FLOAT);
    return false;
}

/* extractLongLatOrReply */
static bool geo_lonlat(struct cmd_ctx *c, const struct arg *a, double xy[2])
{
    if (!geo_double(c, &a[0], &xy[0], NULL) || !geo_double(c, &a[1], &xy[1], NULL))
        return false;
    if (xy[0] < GEO_LONG_MIN || xy[0] > GEO_LONG_MAX || xy[1] < GEO_LAT_MIN || xy[1] > GEO_LAT_MAX) {
        reply_errorf(&c->r, "ERR invalid longitude,latitude pair %f,%f", xy[0], xy[1]);
        return false;
    }
    return true;
}

/* extractUnitOrReply: meters per unit, or -1 after replying. */
static double geo_unit(struct cmd_ctx *c, const struct arg *a)
{
    if (arg_eq(a, "m"))
        return 1;
    if (arg_eq(a, "km"))
        return 1000;
    if (arg_eq(a, "ft"))
        return 0.3048;
    if (arg_eq(a, "mi"))
        return 1609.34;
    reply_error(&c->r, ERR_UNIT);
    return -1;
}

/* extractDistanceOrReply */
static bool geo_radius(struct cmd_ctx *c, const struct arg *a, struct geo_shape *s)
{
    double d;
    if (!geo_double(c, &a[0], &d, "ERR need numeric radius"))
        return false;
    if (d < 0) {
        reply_error(&c->r, "ERR radius cannot be negative");
        return false;
    }
    s->radius = d;
    return (s->conversion = geo_unit(c, &a[1])) >= 0;
}

/* extractBoxOrReply */
static bool geo_box(struct cmd_ctx *c, const struct arg *a, struct geo_shape *s)
{
    double w, h;
    if (!geo_double(c, &a[0], &w, "ERR need numeric width") || !geo_double(c, &a[1], &h, "ERR need numeric height"))
        return false;
    if (h < 0 || w < 0) {
        reply_error(&c->r, "ERR height or width cannot be negative");
        return false;
    }
    s->width = w;
    s->height = h;
    return (s->conversion = geo_unit(c, &a[2])) >= 0;
}

static bool member_lonlat(const struct entry *z, const struct arg *m, double xy[2])
{
    double score;
    return z && zset_score(z, m->p, m->len, &score) && geo_score_decode(score, xy);
}

static void reply_coord(struct reply *r, double v)
{
    char tmp[128];
    int n = format_long_double(tmp, sizeof(tmp), (long double)v);
    if (r->resp >= 3) {
        reply_raw(r, ",", 1);
        reply_raw(r, tmp, (size_t)n);
        reply_raw(r, "\r\n", 2);
    } else {
        reply_bulk(r, tmp, (size_t)n);
    }
}

static void reply_distance(struct reply *r, double d)
{
    char tmp[64];
    int n = geo_format_distance(tmp, d);
    reply_bulk(r, tmp, (size_t)n);
}

/* The zset under argv[i] for reading; sets *err after replying WRONGTYPE. */
static struct entry *zset_read(struct cmd_ctx *c, const struct arg *key, bool *err)
{
    bool wrong;
    struct entry *e = db_find_type(c, key, OBJ_ZSET, NULL, &wrong);
    *err = wrong;
    if (wrong) {
        c->ks->stats.keyspace_hits++;
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

/* ---------- GEOADD ---------- */

static void cmd_geoadd(struct cmd_ctx *c)
{
    int in = 0, at = 2;
    bool ch = false;
    for (; at < c->argc; at++) {
        if (arg_eq(&c->argv[at], "nx"))
            in |= ZADD_IN_NX;
        else if (arg_eq(&c->argv[at], "xx"))
            in |= ZADD_IN_XX;
        else if (arg_eq(&c->argv[at], "ch"))
            ch = true;
        else
            break;
    }
    if ((c->argc - at) % 3 || ((in & ZADD_IN_NX) && (in & ZADD_IN_XX))) {
        reply_error(&c->r, ERR_SYNTAX);
        return;
    }
    int n = (c->argc - at) / 3;
    uint64_t *scores = mi_malloc(sizeof(uint64_t) * (size_t)(n ? n : 1));
    size_t maxlen = 0;
    for (int i = 0; i < n; i++) {
        double xy[2];
        if (!geo_lonlat(c, &c->argv[at + i * 3], xy)) {
            mi_free(scores);
            return;
        }
        scores[i] = geo_score_encode(xy[0], xy[1]);
        if (c->argv[at + i * 3 + 2].len > maxlen)
            maxlen = c->argv[at + i * 3 + 2].len;
    }
    const struct arg *key = &c->argv[1];
    struct ks_ref ref;
    bool wrong;
    struct entry *e = db_find_type(c, key, OBJ_ZSET, &ref, &wrong);
    if (wrong) {
        reply_error(&c->r, ERR_WRONGTYPE);
        mi_free(scores);
        return;
    }
    if (!e) {
        if (in & ZADD_IN_XX) {
            reply_int(&c->r, 0);
            mi_free(scores);
            return;
        }
        e = zset_new_entry(key->p, key->len, (size_t)n, maxlen);
        db_add(c, key, e);
    } else {
        db_touch(c, e);
    }
    int64_t added = 0, updated = 0;
    for (int i = 0; i < n; i++) {
        const struct arg *m = &c->argv[at + i * 3 + 2];
        int out = 0;
        zset_add(e, (double)scores[i], m->p, m->len, in, &out, NULL);
        added += (out & ZADD_OUT_ADDED) != 0;
        updated += (out & ZADD_OUT_UPDATED) != 0;
    }
    mi_free(scores);
    if (added || updated) {
        db_signal_modified(c, key);
        notify_keyspace_event(c, NOTIFY_ZSET, "zadd", key); /* pubsub: keyspace event */
    }
    reply_int(&c->r, ch ? added + updated : added);
}

/* ---------- GEOHASH GEOPOS GEODIST ---------- */

static void cmd_geohash(struct cmd_ctx *c)
{
    bool err;
    struct entry *z = zset_read(c, &c->argv[1], &err);
    if (err)
        return;
    reply_array(&c->r, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double score, xy[2];
        if (!z || !zset_score(z, c->argv[j].p, c->argv[j].len, &score) || !geo_score_decode(score, xy)) {
            reply_null(&c->r);
            continue;
        }
        char text[12];
        geo_score_to_geohash(score, text);
        reply_bulk(&c->r, text, 11);
    }
}

static void cmd_geopos(struct cmd_ctx *c)
{
    bool err;
    struct entry *z = zset_read(c, &c->argv[1], &err);
    if (err)
        return;
    reply_array(&c->r, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double xy[2];
        if (!member_lonlat(z, &c->argv[j], xy)) {
            reply_null_array(&c->r);
            continue;
        }
        reply_array(&c->r, 2);
        reply_coord(&c->r, xy[0]);
        reply_coord(&c->r, xy[1]);
    }
}

static void cmd_geodist(struct cmd_ctx *c)
{
    double to_meter = 1;
    if (c->argc == 5) {
        if ((to_meter = geo_unit(c, &c->argv[4])) < 0)
            return;
    } else if (c->argc > 5) {
        reply_error(&c->r, ERR_SYNTAX);
        return;
    }
    bool err;
    struct entry *z = zset_read(c, &c->argv[1], &err);
    if (err)
        return;
    double a[2], b[2];
    if (!z || !member_lonlat(z, &c->argv[2], a) || !member_lonlat(z, &c->argv[3], b)) {
        reply_null(&c->r);
        return;
    }
    reply_distance(&c->r, geo_distance(a[0], a[1], b[0], b[1]) / to_meter);
}

/* ---------- searches ---------- */

enum geo_flags {
    GF_COORDS = 1,    /* GEORADIUS: around coordinates */
    GF_MEMBER = 2,    /* GEORADIUSBYMEMBER: around a member */
    GF_NOSTORE = 4,   /* the _RO variants */
    GF_SEARCH = 8,    /* GEOSEARCH arguments */
    GF_SEARCHSTORE = 16,
};

enum { SORT_NONE, SORT_ASC, SORT_DESC };

struct geo_query {
    struct geo_shape shape;
    int src;             /* argv index of the source key */
    int store;           /* argv index of the destination, 0 for none */
    bool storedist;
    bool withdist, withhash, withcoord, any;
    int sort;
    long long count;
};

struct geo_point {
    double xy[2];
    double dist;
    double score;
    char *member;
    size_t len;
};

struct geo_result {
    struct geo_point *p;
    size_t n, cap;
};

static void result_free(struct geo_result *res)
{
    for (size_t i = 0; i < res->n; i++)
        mi_free(res->p[i].member);
    mi_free(res->p);
}

static int geo_command_flags(const struct command *cmd)
{
    const char *n = cmd->name;
    if (!strcmp(n, "georadius"))
        return GF_COORDS;
    if (!strcmp(n, "georadius_ro"))
        return GF_COORDS | GF_NOSTORE;
    if (!strcmp(n, "georadiusbymember"))
        return GF_MEMBER;
    if (!strcmp(n, "georadiusbymember_ro"))
        return GF_MEMBER | GF_NOSTORE;
    if (!strcmp(n, "geosearch"))
        return GF_SEARCH;
    return GF_SEARCH | GF_SEARCHSTORE;
}

/* georadiusGeneric's parsing, in its order (errors included); z is the
 * source (NULL when missing). False after replying an error. */
static bool geo_parse(struct cmd_ctx *c, const struct entry *z, int flags, struct geo_query *q)
{
    memset(q, 0, sizeof(*q));
    q->src = 1;
    int base;
    if (flags & GF_COORDS) {
        base = 6;
        q->shape.type = GEO_SHAPE_CIRCLE;
        if (!geo_lonlat(c, &c->argv[2], q->shape.xy) || !geo_radius(c, &c->argv[base - 2], &q->shape))
            return false;
    } else if (flags & GF_MEMBER) {
        base = 5;
        if (z) {
            q->shape.type = GEO_SHAPE_CIRCLE;
            if (!member_lonlat(z, &c->argv[2], q->shape.xy)) {
                reply_error(&c->r, ERR_MEMBER);
                return false;
            }
            if (!geo_radius(c, &c->argv[base - 2], &q->shape))
                return false;
        }
    } else {
        base = 2;
        if (flags & GF_SEARCHSTORE) {
            base = 3;
            q->store = 1;
            q->src = 2;
        }
    }
    bool frommember = false, fromloc = false, byradius = false, bybox = false;
    int remaining = c->argc - base;
    for (int i = 0; i < remaining; i++) {
        const struct arg *a = &c->argv[base + i];
        bool search = flags & GF_SEARCH, can_store = !(flags & GF_NOSTORE) && !search;
        if (arg_eq(a, "withdist")) {
            q->withdist = true;
        } else if (arg_eq(a, "withhash")) {
            q->withhash = true;
        } else if (arg_eq(a, "withcoord")) {
            q->withcoord = true;
        } else if (arg_eq(a, "any")) {
            q->any = true;
        } else if (arg_eq(a, "asc")) {
            q->sort = SORT_ASC;
        } else if (arg_eq(a, "desc")) {
            q->sort = SORT_DESC;
        } else if (arg_eq(a, "count") && i + 1 < remaining) {
            if (!arg_get_ll(c, &c->argv[base + i + 1], &q->count))
                return false;
            if (q->count <= 0) {
                reply_error(&c->r, "ERR COUNT must be > 0");
                return false;
            }
            i++;
        } else if ((arg_eq(a, "store") || arg_eq(a, "storedist")) && i + 1 < remaining && can_store) {
            q->store = base + i + 1;
            q->storedist = arg_eq(a, "storedist");
            i++;
        } else if (arg_eq(a, "storedist") && search && (flags & GF_SEARCHSTORE)) {
            q->storedist = true;
        } else if (arg_eq(a, "frommember") && i + 1 < remaining && search && !fromloc) {
            if (z && !member_lonlat(z, &c->argv[base + i + 1], q->shape.xy)) {
                reply_error(&c->r, ERR_MEMBER);
                return false;
            }
            frommember = true;
            i++;
        } else if (arg_eq(a, "fromlonlat") && i + 2 < remaining && search && !frommember) {
            if (!geo_lonlat(c, &c->argv[base + i + 1], q->shape.xy))
                return false;
            fromloc = true;
            i += 2;
        } else if (arg_eq(a, "byradius") && i + 2 < remaining && search && !bybox) {
            if (!geo_radius(c, &c->argv[base + i + 1], &q->shape))
                return false;
            q->shape.type = GEO_SHAPE_CIRCLE;
            byradius = true;
            i += 2;
        } else if (arg_eq(a, "bybox") && i + 3 < remaining && search && !byradius) {
            if (!geo_box(c, &c->argv[base + i + 1], &q->shape))
                return false;
            q->shape.type = GEO_SHAPE_BOX;
            bybox = true;
            i += 3;
        } else {
            reply_error(&c->r, ERR_SYNTAX);
            return false;
        }
    }
    if (q->store && (q->withdist || q->withhash || q->withcoord)) {
        reply_errorf(&c->r, "ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
                     (flags & GF_SEARCHSTORE) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS");
        return false;
    }
    if ((flags & GF_SEARCH) && !(frommember || fromloc)) {
        reply_errorf(&c->r, "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %.*s",
                     (int)c->argv[0].len, c->argv[0].p);
        return false;
    }
    if ((flags & GF_SEARCH) && !(byradius || bybox)) {
        reply_errorf(&c->r, "ERR exactly one of BYRADIUS and BYBOX can be specified for %.*s",
                     (int)c->argv[0].len, c->argv[0].p);
        return false;
    }
    if (q->any && !q->count) {
        reply_error(&c->r, "ERR the ANY argument requires COUNT argument");
        return false;
    }
    if (q->count && q->sort == SORT_NONE && !q->any)
        q->sort = SORT_ASC; /* the closest N need an order */
    return true;
}

static void result_add(struct geo_result *res, const struct zset_elem *el, const double xy[2], double dist)
{
    if (res->n == res->cap) {
        res->cap = res->cap ? res->cap * 2 : 8;
        res->p = mi_realloc(res->p, sizeof(*res->p) * res->cap);
    }
    struct geo_point *p = &res->p[res->n++];
    p->xy[0] = xy[0];
    p->xy[1] = xy[1];
    p->dist = dist;
    p->score = el->score;
    p->member = mi_malloc(el->len ? el->len : 1);
    memcpy(p->member, el->m, el->len);
    p->len = el->len;
}

/* Members of z inside the shape, scanning the cells in Redis's order and
 * stopping early at `limit` (ANY). */
static void geo_collect(const struct entry *z, struct geo_query *q, struct geo_result *res)
{
    struct geohash cells[9];
    int ncells = geo_shape_cells(&q->shape, cells);
    size_t limit = q->any ? (size_t)q->count : 0;
    for (int i = 0; i < ncells; i++) {
        if (limit && res->n >= limit)
            break;
        uint64_t min, max;
        geo_cell_scores(cells[i], &min, &max);
        struct zrange_spec range = {(double)min, (double)max, false, true};
        struct zset_iter it;
        struct zset_elem el;
        zset_iter_score(&it, z, &range, false);
        while (zset_iter_next(&it, &el)) {
            double xy[2], dist = 0;
            if (geo_shape_contains(&q->shape, el.score, xy, &dist))
                result_add(res, &el, xy, dist);
            if (limit && res->n >= limit)
                break;
        }
    }
}

static int by_dist_asc(const void *a, const void *b)
{
    double x = ((const struct geo_point *)a)->dist, y = ((const struct geo_point *)b)->dist;
    return x > y ? 1 : x == y ? 0 : -1;
}

/* Stable merge sort (glibc's qsort is one for arrays this size). */
static void sort_points(struct geo_point *p, size_t n, bool desc)
{
    if (n < 2)
        return;
    struct geo_point *tmp = mi_malloc(sizeof(*p) * n);
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                int cmp = by_dist_asc(&p[i], &p[j]);
                if (desc)
                    cmp = -cmp;
                tmp[k++] = cmp <= 0 ? p[i++] : p[j++];
            }
            while (i < mid)
                tmp[k++] = p[i++];
            while (j < hi)
                tmp[k++] = p[j++];
        }
        memcpy(p, tmp, sizeof(*p) * n);
    }
    mi_free(tmp);
}

/* Search the source (on this shard): false after replying an error.
 * *missing tells that the source does not exist. */
static bool geo_search(struct cmd_ctx *c, int flags, struct geo_query *q, struct geo_result *res, bool *missing)
{
    bool err;
    int src = (flags & GF_SEARCHSTORE) ? 2 : 1;
    struct entry *z = zset_read(c, &c->argv[src], &err);
    if (err || !geo_parse(c, z, flags, q))
        return false;
    *missing = !z;
    memset(res, 0, sizeof(*res));
    if (!z)
        return true;
    geo_collect(z, q, res);
    if (q->sort != SORT_NONE)
        sort_points(res->p, res->n, q->sort == SORT_DESC);
    if (q->count && res->n > (size_t)q->count) {
        for (size_t i = (size_t)q->count; i < res->n; i++)
            mi_free(res->p[i].member);
        res->n = (size_t)q->count;
    }
    for (size_t i = 0; i < res->n; i++)
        res->p[i].dist /= q->shape.conversion;
    return true;
}

static void geo_reply_points(struct reply *r, const struct geo_query *q, const struct geo_result *res)
{
    int extra = q->withdist + q->withcoord + q->withhash;
    reply_array(r, (int64_t)res->n);
    for (size_t i = 0; i < res->n; i++) {
        const struct geo_point *p = &res->p[i];
        if (extra)
            reply_array(r, extra + 1);
        reply_bulk(r, p->member, p->len);
        if (q->withdist)
            reply_distance(r, p->dist);
        if (q->withhash)
            reply_int(r, (int64_t)p->score);
        if (q->withcoord) {
            reply_array(r, 2);
            reply_coord(r, p->xy[0]);
            reply_coord(r, p->xy[1]);
        }
    }
}

/* Read-only searches (GEOSEARCH, the _RO variants, GEORADIUS without
 * STORE when it has no second key). */
static void cmd_geosearch_read(struct cmd_ctx *c)
{
    struct geo_query q;
    struct geo_result res;
    bool missing;
    if (!geo_search(c, geo_command_flags(c->cmd), &q, &res, &missing))
        return;
    geo_reply_points(&c->r, &q, &res);
    result_free(&res);
}

/* ---------- storing searches (mso) ----------
 * Hop 0 on the source's shard: the search, its reply (no STORE) or the
 * results as [u32 len][member][double score] records in the part buffer,
 * with count = results, count2 = 1 when it replied (error or points).
 * Hop 1 on the destination's shard: replace it with the results. */

static int part_of(struct mso *t, int argi)
{
    for (int p = 0; p < t->nparts; p++)
        for (int i = 0; i < t->parts[p].nkeys; i++)
            if (t->parts[p].keyidx[i] == argi)
                return p;
    return -1;
}

static bool has_key(const struct cmd_ctx *c, int argi)
{
    for (int i = 0; i < c->nkeys; i++)
        if (c->keyidx[i] == argi)
            return true;
    return false;
}

struct geo_store {
    int dst;           /* argv index of the destination */
    int64_t n;
    bool storedist;
    bool search;       /* GEOSEARCHSTORE: its event name */
    struct buf recs;   /* the results */
};

static void geo_store_hop0(struct cmd_ctx *c, struct mso *t, struct mso_part *p)
{
    int flags = geo_command_flags(t->cmd);
    struct geo_query q;
    struct geo_result res;
    bool missing;
    if (!geo_search(c, flags, &q, &res, &missing)) {
        p->count2 = 1; /* the error is in p->out */
        return;
    }
    if (!q.store) {
        geo_reply_points(&c->r, &q, &res);
        result_free(&res);
        p->count2 = 1;
        return;
    }
    struct geo_store *st = mi_zalloc(sizeof(*st));
    st->dst = q.store;
    st->n = (int64_t)res.n;
    st->storedist = q.storedist;
    st->search = flags & GF_SEARCH;
    buf_init(&st->recs);
    for (size_t i = 0; i < res.n; i++) {
        uint32_t len = (uint32_t)res.p[i].len;
        double score = q.storedist ? res.p[i].dist : res.p[i].score;
        buf_put(&st->recs, &len, sizeof(len));
        buf_put(&st->recs, res.p[i].member, len);
        buf_put(&st->recs, &score, sizeof(score));
    }
    result_free(&res);
    p->data = st;
}

static void geo_store_write(struct cmd_ctx *c, const struct geo_store *st)
{
    const struct arg *key = &c->argv[st->dst];
    struct ks_ref ref;
    struct entry *old = db_find(c, key, &ref);
    if (!st->n) {
        if (old) {
            ks_delete(c->ks, c->db, &ref);
            db_signal_modified(c, key);
            notify_keyspace_event(c, NOTIFY_GENERIC, "del", key); /* pubsub: keyspace event */
        }
        return;
    }
    size_t maxlen = 0;
    for (const char *at = st->recs.data, *end = at + st->recs.len; at < end;) {
        uint32_t len;
        memcpy(&len, at, sizeof(len));
        if (len > maxlen)
            maxlen = len;
        at += sizeof(len) + len + sizeof(double);
    }
    struct entry *e = zset_new_entry(key->p, key->len, (size_t)st->n, maxlen);
    for (const char *at = st->recs.data, *end = at + st->recs.len; at < end;) {
        uint32_t len;
        double score;
        memcpy(&len, at, sizeof(len));
        memcpy(&score, at + sizeof(len) + len, sizeof(score));
        int out;
        zset_add(e, score, at + sizeof(len), len, 0, &out, NULL);
        at += sizeof(len) + len + sizeof(double);
    }
    if (old) {
        ks_replace(c->ks, c->db, &ref, e);
        db_touch(c, e);
        db_signal_modified(c, key);
    } else {
        db_add(c, key, e);
    }
    notify_keyspace_event(c, NOTIFY_ZSET, st->search ? "geosearchstore" : "georadiusstore", key); /* pubsub: keyspace event */
}

static void geo_store_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    int src = (geo_command_flags(t->cmd) & GF_SEARCHSTORE) ? 2 : 1;
    if (hop == 0) {
        if (has_key(c, src))
            geo_store_hop0(c, t, &t->parts[part]);
        if (t->single && t->parts[part].data)
            geo_store_write(c, t->parts[part].data);
        return;
    }
    const struct geo_store *st = t->state;
    if (st && has_key(c, st->dst))
        geo_store_write(c, st);
}

static int geo_store_next(struct mso *t, int hop)
{
    if (hop > 0 || t->single)
        return -1;
    int src = (geo_command_flags(t->cmd) & GF_SEARCHSTORE) ? 2 : 1;
    int sp = part_of(t, src);
    if (sp < 0 || !t->parts[sp].data)
        return -1;
    t->state = t->parts[sp].data; /* t->state owns it from now on */
    t->parts[sp].data = NULL;
    return 1;
}

static const struct geo_store *store_of(struct mso *t)
{
    if (t->state)
        return t->state;
    for (int p = 0; p < t->nparts; p++)
        if (t->parts[p].data)
            return t->parts[p].data;
    return NULL;
}

static void geo_store_reply(struct mso *t, struct reply *r)
{
    int src = (geo_command_flags(t->cmd) & GF_SEARCHSTORE) ? 2 : 1;
    int sp = part_of(t, src);
    const struct geo_store *st = store_of(t);
    if (sp >= 0 && t->parts[sp].count2) {
        reply_raw(r, t->parts[sp].out.data, t->parts[sp].out.len);
    } else {
        reply_int(r, st ? st->n : 0);
    }
    /* the records buffer is freed here; the struct by mso_free_state */
    if (st)
        buf_free((struct buf *)&st->recs);
}

static const struct mso_ops geo_store_ops = {.hop = geo_store_hop, .next = geo_store_next, .reply = geo_store_reply};

/* GEORADIUS / GEORADIUSBYMEMBER keys: the source and the last STORE /
 * STOREDIST argument. */
static int georadius_getkeys(struct arg *argv, int argc, int *keys, int max, int first_opt)
{
    int stored = -1;
    for (int i = first_opt; i < argc; i++)
        if ((arg_eq(&argv[i], "store") || arg_eq(&argv[i], "storedist")) && i + 1 < argc) {
            stored = i + 1;
            i++;
        }
    int n = 0;
    if (n < max)
        keys[n++] = 1;
    if (stored > 0 && n < max)
        keys[n++] = stored;
    return n;
}

static int georadius_keys(struct arg *argv, int argc, int *keys, int max)
{
    return georadius_getkeys(argv, argc, keys, max, 6);
}

static int georadiusbymember_keys(struct arg *argv, int argc, int *keys, int max)
{
    return georadius_getkeys(argv, argc, keys, max, 5);
}

#define W CMD_WRITE
#define R CMD_READONLY
#define D CMD_DENYOOM
#define MK CMD_MULTIKEY
#define MV CMD_MOVABLE_KEYS

const struct command geo_commands[] = {
    {"geoadd", -5, W | D, 1, 1, 1, cmd_geoadd, .group = "geo", .summary = "Add one or more geospatial items in the geospatial index represented using a sorted set", .since = "3.2.0", .complexity = "O(log(N)) for each item added, where N is the number of elements in the sorted set.", .acl = "write geo slow"},
    {"geodist", -4, R, 1, 1, 1, cmd_geodist, .group = "geo", .summary = "Returns the distance between two members of a geospatial index", .since = "3.2.0", .complexity = "O(log(N))", .acl = "read geo slow"},
    {"geohash", -2, R, 1, 1, 1, cmd_geohash, .group = "geo", .summary = "Returns members of a geospatial index as standard geohash strings", .since = "3.2.0", .complexity = "O(log(N)) for each member requested, where N is the number of elements in the sorted set.", .acl = "read geo slow"},
    {"geopos", -2, R, 1, 1, 1, cmd_geopos, .group = "geo", .summary = "Returns longitude and latitude of members of a geospatial index", .since = "3.2.0", .complexity = "O(N) where N is the number of members requested.", .acl = "read geo slow"},
    {"geosearch", -7, R, 1, 1, 1, cmd_geosearch_read, .group = "geo", .summary = "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.", .since = "6.2.0", .complexity = "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape", .acl = "read geo slow"},
    {"geosearchstore", -8, W | D | MK, 1, 2, 1, NULL, .mso = &geo_store_ops, .group = "geo", .summary = "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.", .since = "6.2.0", .complexity = "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape", .acl = "write geo slow"},
    {"georadius", -6, W | D | MK | MV, 1, 1, 1, NULL, .mso = &geo_store_ops, .getkeys = georadius_keys, .group = "geo", .summary = "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point", .since = "3.2.0", .complexity = "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", .acl = "write geo slow"},
    {"georadiusbymember", -5, W | D | MK | MV, 1, 1, 1, NULL, .mso = &geo_store_ops, .getkeys = georadiusbymember_keys, .group = "geo", .summary = "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member", .since = "3.2.0", .complexity = "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", .acl = "write geo slow"},
    {"georadius_ro", -6, R, 1, 1, 1, cmd_geosearch_read, .group = "geo", .summary = "A read-only variant for GEORADIUS", .since = "3.2.10", .complexity = "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", .acl = "read geo slow"},
    {"georadiusbymember_ro", -5, R, 1, 1, 1, cmd_geosearch_read, .group = "geo", .summary = "A read-only variant for GEORADIUSBYMEMBER", .since = "3.2.10", .complexity = "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", .acl = "read geo slow"},
    {NULL},
};

