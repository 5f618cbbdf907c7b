/* server/cmd_geo.c — the geo family: GEOADD (NX XX CH) GEODIST GEOHASH
 * GEOPOS GEOSEARCH GEOSEARCHSTORE (STOREDIST) GEORADIUS GEORADIUSBYMEMBER
 * (STORE STOREDIST) GEORADIUS_RO GEORADIUSBYMEMBER_RO. Replies, errors,
 * events and the order of results (ties included) as Redis 7.0's geo.c.
 * Owns: geo command semantics on sorted-set values. The math is
 * shard/geohash.c; the sorted set is shard/t_zset.h; searches that store
 * (and GEORADIUS, which may) run as the zset family's store operation
 * (server/cmd_zset.h), so a source and destination on different threads
 * are read and written atomically. Must not touch other types' values.
 */
#include "server/server.h"

#include "server/cmd_zset.h"
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

static int by_dist(const struct geo_point *a, const struct geo_point *b, bool desc)
{
    int cmp = a->dist > b->dist ? 1 : a->dist == b->dist ? 0 : -1;
    return desc ? -cmp : cmp;
}

/* Every result sorted (Redis: glibc's qsort, a stable merge sort for
 * arrays this size, so equal distances keep the scan order). */
static void sort_points(struct geo_point *p, size_t n, bool desc)
{
    if (n < 2)
        return;
    struct geo_point *tmp = mi_malloc(sizeof(*p) * n);
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = by_dist(&p[i], &p[j], desc) <= 0 ? p[i++] : p[j++];
            while (i < mid)
                tmp[k++] = p[i++];
            while (j < hi)
                tmp[k++] = p[j++];
        }
        memcpy(p, tmp, sizeof(*p) * n);
    }
    mi_free(tmp);
}

/* ---- COUNT: only the first `count` need sorting ----
 * Redis then uses its pqsort (the BSD quicksort: median-of-three pivots,
 * Bentley-McIlroy three-way partitioning, insertion sort below 7, and no
 * descent into parts that lie wholly outside the wanted ranks). Equal
 * distances come out in whatever order that leaves them, so the same
 * steps are taken here, on indices, to return the same members. */

struct psort {
    struct geo_point *p;
    bool desc;
    size_t want_lo, want_hi; /* ranks that must end sorted */
};

static void pswap(struct geo_point *p, size_t a, size_t b)
{
    struct geo_point t = p[a];
    p[a] = p[b];
    p[b] = t;
}

/* Swap the k points from a with the k points from b, pairwise. */
static void pswap_run(struct geo_point *p, size_t a, size_t b, size_t k)
{
    for (size_t i = 0; i < k; i++)
        pswap(p, a + i, b + i);
}

static int pcmp(const struct psort *s, size_t a, size_t b) { return by_dist(&s->p[a], &s->p[b], s->desc); }

static size_t median3(const struct psort *s, size_t a, size_t b, size_t c)
{
    if (pcmp(s, a, b) < 0)
        return pcmp(s, b, c) < 0 ? b : pcmp(s, a, c) < 0 ? c : a;
    return pcmp(s, b, c) > 0 ? b : pcmp(s, a, c) < 0 ? a : c;
}

static bool pwanted(const struct psort *s, size_t first, size_t n)
{
    size_t last = first + n - 1;
    return !((s->want_lo < first && s->want_hi < first) || (s->want_lo > last && s->want_hi > last));
}

static size_t smaller(size_t a, size_t b) { return a < b ? a : b; }

/* Sort p[first, first+n) as far as the wanted ranks need. */
static void psort_range(const struct psort *s, size_t first, size_t n)
{
    for (;;) {
        if (n < 7) {
            for (size_t m = first + 1; m < first + n; m++)
                for (size_t l = m; l > first && pcmp(s, l - 1, l) > 0; l--)
                    pswap(s->p, l, l - 1);
            return;
        }
        size_t mid = first + n / 2;
        if (n > 7) {
            size_t lo = first, hi = first + n - 1;
            if (n > 40) {
                size_t d = n / 8;
                lo = median3(s, lo, lo + d, lo + 2 * d);
                mid = median3(s, mid - d, mid, mid + d);
                hi = median3(s, hi - 2 * d, hi - d, hi);
            }
            mid = median3(s, lo, mid, hi);
        }
        pswap(s->p, first, mid); /* the pivot sits at `first` */
        /* [first+1, a): equal; [a, b): less; (c, d]: greater; (d, end): equal */
        size_t a = first + 1, b = first + 1, c = first + n - 1, d = first + n - 1;
        for (;;) {
            int r;
            while (b <= c && (r = pcmp(s, b, first)) <= 0) {
                if (r == 0)
                    pswap(s->p, a++, b);
                b++;
            }
            while (b <= c && (r = pcmp(s, c, first)) >= 0) {
                if (r == 0)
                    pswap(s->p, c, d--);
                c--;
            }
            if (b > c)
                break;
            pswap(s->p, b++, c--);
        }
        size_t end = first + n;
        size_t k = smaller(a - first, b - a);
        pswap_run(s->p, first, b - k, k);
        k = smaller(d - c, end - d - 1);
        pswap_run(s->p, b, end - k, k);
        size_t less = b - a, greater = d - c;
        if (less > 1 && pwanted(s, first, less))
            psort_range(s, first, less);
        if (greater <= 1)
            return;
        first = end - greater;
        n = greater;
        if (!pwanted(s, first, n))
            return;
    }
}

/* The first `count` of n points in order (Redis's pqsort(..., 0, count-1)). */
static void sort_points_first(struct geo_point *p, size_t n, size_t count, bool desc)
{
    struct psort s = {p, desc, 0, count - 1};
    psort_range(&s, 0, n);
}

/* Search the source (on this shard): false after replying an error.
 * A missing source gives no results. */
static bool geo_search(struct cmd_ctx *c, int flags, struct geo_query *q, struct geo_result *res)
{
    bool err;
    int src = (flags & GF_SEARCHSTORE) ? 2 : 1;
    struct entry *z = zset_read(c, &c->argv[src], &err);
    if (err || !geo_parse(c, z, flags, q))
        return false;
    memset(res, 0, sizeof(*res));
    if (!z)
        return true;
    geo_collect(z, q, res);
    if (q->sort != SORT_NONE) {
        if (q->count && (size_t)q->count < res->n)
            sort_points_first(res->p, res->n, (size_t)q->count, q->sort == SORT_DESC);
        else
            sort_points(res->p, res->n, q->sort == SORT_DESC);
    }
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
    if (!geo_search(c, geo_command_flags(c->cmd), &q, &res))
        return;
    geo_reply_points(&c->r, &q, &res);
    result_free(&res);
}

/* ---------- storing searches (mso) ----------
 * GEOSEARCHSTORE and GEORADIUS(BYMEMBER) run as the zset family's store
 * operation (server/cmd_zset.h): the search runs on the source's shard and
 * its results are stored on the destination's. A GEORADIUS without STORE
 * has no destination: its points reply travels back the way an error does
 * (compute "fails" with the reply already written). */

static int georadius_getkeys(struct arg *argv, int argc, int *keys, int max, int first_opt);

static int store_src(int flags) { return (flags & GF_SEARCHSTORE) ? 2 : 1; }

/* argv index of the destination, -1 for none. */
static int store_dst(struct cmd_ctx *c, int flags)
{
    if (flags & GF_SEARCHSTORE)
        return 1;
    int keys[2];
    int n = georadius_getkeys(c->argv, c->argc, keys, 2, (flags & GF_COORDS) ? 6 : 5);
    return n == 2 ? keys[1] : -1;
}

static bool geo_store_compute(struct cmd_ctx *c, struct buf *img, struct reply *out)
{
    struct reply saved = c->r;
    c->r = *out; /* errors and a plain GEORADIUS's points go to `out` */
    struct geo_query q;
    struct geo_result res;
    bool stored = false;
    if (geo_search(c, geo_command_flags(c->cmd), &q, &res)) {
        if (q.store) {
            for (size_t i = 0; i < res.n; i++)
                zres_put(img, res.p[i].member, res.p[i].len, q.storedist ? res.p[i].dist : res.p[i].score);
            stored = true;
        } else {
            geo_reply_points(&c->r, &q, &res);
        }
        result_free(&res);
    }
    c->r = saved;
    return stored;
}

static void geo_store_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    int flags = geo_command_flags(t->cmd);
    zstore_hop(c, t, part, hop, store_src(flags), store_dst(c, flags), geo_store_compute,
               (flags & GF_SEARCH) ? "geosearchstore" : "georadiusstore");
}

static const struct mso_ops geo_store_ops = {.hop = geo_store_hop, .next = zstore_next, .reply = zstore_reply};

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

