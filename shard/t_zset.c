/* shard/t_zset.c — the zset value type (see t_zset.h): a listpack of
 * member,score pairs for small sets, else a skiplist with spans plus an
 * open-addressing member -> node table; conversions between the two, range
 * iteration and deletion, and the type_ops (free, clone, memory, RDB codec).
 * Commands live in server/cmd_zset.c. Must not know about sockets, RESP or
 * other threads. */
#include "shard/t_zset.h"
#include "shard/listpack.h"
#include "shard/memory.h"
#include "shard/rdb.h"
#include "shard/table.h"
#include "shard/types.h"

#include <ctype.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZSL_MAXLEVEL 32

/* ---------- skiplist nodes ----------
 * One allocation per member: this header, then `height` forward pointers,
 * then `height` 32-bit spans, then the member bytes. */
struct zsl_node {
    double score;
    struct zsl_node *backward;
    uint32_t len;
    uint8_t height;
};

static inline struct zsl_node **node_fwd(const struct zsl_node *n) { return (struct zsl_node **)(n + 1); }
static inline uint32_t *node_span(const struct zsl_node *n)
{
    return (uint32_t *)((char *)(n + 1) + sizeof(struct zsl_node *) * n->height);
}
static inline const char *node_member(const struct zsl_node *n)
{
    return (const char *)(n + 1) + (sizeof(struct zsl_node *) + sizeof(uint32_t)) * n->height;
}

static struct zsl_node *node_new(int height, double score, const char *m, size_t len)
{
    size_t sz = sizeof(struct zsl_node) + (sizeof(struct zsl_node *) + sizeof(uint32_t)) * (size_t)height + len;
    struct zsl_node *n = smem_alloc(sz);
    n->score = score;
    n->backward = NULL;
    n->len = (uint32_t)len;
    n->height = (uint8_t)height;
    memset(node_fwd(n), 0, sizeof(struct zsl_node *) * (size_t)height);
    memset(node_span(n), 0, sizeof(uint32_t) * (size_t)height);
    if (len)
        memcpy((char *)node_member(n), m, len);
    return n;
}

/* The skiplist encoding: the list plus the member table. */
struct zsl {
    struct zsl_node *header, *tail;
    unsigned long length;
    int level;
    struct zsl_node **slots; /* open addressing, linear probing; NULL = free */
    uint32_t cap;            /* power of two (0 when no table yet) */
    uint32_t used;
};

/* Byte order then length, as Redis's sdscmp. */
static int member_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

static int random_level(void)
{
    static _Thread_local uint64_t s;
    if (!s)
        s = (uint64_t)(uintptr_t)&s ^ 0x9e3779b97f4a7c15ull;
    int level = 1;
    for (;;) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        uint64_t r = s * 0x2545f4914f6cdd1dull;
        /* each further level with probability 1/4: two bits at a time */
        for (int i = 0; i < 32 && level < ZSL_MAXLEVEL; i++, r >>= 2) {
            if (r & 3)
                return level;
            level++;
        }
        if (level >= ZSL_MAXLEVEL)
            return ZSL_MAXLEVEL;
    }
}

/* ---------- the member table ---------- */

static uint32_t tbl_mask(const struct zsl *z) { return z->cap - 1; }

static uint32_t tbl_home(const struct zsl *z, const char *m, size_t len)
{
    return (uint32_t)key_hash64(m, len) & tbl_mask(z);
}

static void tbl_place(struct zsl_node **slots, uint32_t mask, struct zsl_node *n)
{
    uint32_t i = (uint32_t)key_hash64(node_member(n), n->len) & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = n;
}

static void tbl_resize(struct zsl *z, uint32_t cap)
{
    struct zsl_node **slots = smem_calloc(sizeof(*slots) * cap);
    for (uint32_t i = 0; i < z->cap; i++)
        if (z->slots[i])
            tbl_place(slots, cap - 1, z->slots[i]);
    smem_free(z->slots);
    z->slots = slots;
    z->cap = cap;
}

/* The slot holding member m, or -1. */
static long tbl_find(const struct zsl *z, const char *m, size_t len)
{
    if (!z->cap)
        return -1;
    uint32_t mask = tbl_mask(z);
    for (uint32_t i = tbl_home(z, m, len);; i = (i + 1) & mask) {
        struct zsl_node *n = z->slots[i];
        if (!n)
            return -1;
        if (n->len == len && memcmp(node_member(n), m, len) == 0)
            return (long)i;
    }
}

static void tbl_add(struct zsl *z, struct zsl_node *n)
{
    if (!z->cap)
        tbl_resize(z, 8);
    else if ((uint64_t)(z->used + 1) * 4 > (uint64_t)z->cap * 3)
        tbl_resize(z, z->cap * 2);
    tbl_place(z->slots, tbl_mask(z), n);
    z->used++;
}

/* Remove the node at slot i, shifting later members of the cluster back. */
static void tbl_remove_at(struct zsl *z, uint32_t i)
{
    uint32_t mask = tbl_mask(z);
    z->slots[i] = NULL;
    z->used--;
    for (uint32_t j = (i + 1) & mask; z->slots[j]; j = (j + 1) & mask) {
        struct zsl_node *n = z->slots[j];
        uint32_t home = (uint32_t)key_hash64(node_member(n), n->len) & mask;
        /* n may move to i when i lies cyclically in [home, j) */
        bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            z->slots[i] = n;
            z->slots[j] = NULL;
            i = j;
        }
    }
    if (z->cap > 8 && (uint64_t)z->used * 8 < z->cap)
        tbl_resize(z, z->cap / 2);
}

static void tbl_replace(struct zsl *z, struct zsl_node *old, struct zsl_node *n)
{
    long i = tbl_find(z, node_member(old), old->len);
    if (i >= 0)
        z->slots[i] = n;
}

/* ---------- the skiplist ---------- */

static struct zsl *zsl_new(size_t size_hint)
{
    struct zsl *z = smem_calloc(sizeof(*z));
    z->header = node_new(ZSL_MAXLEVEL, 0, NULL, 0);
    z->level = 1;
    if (size_hint) {
        uint32_t cap = 8;
        while ((uint64_t)cap * 3 < (uint64_t)size_hint * 4 && cap < (1u << 31))
            cap *= 2;
        tbl_resize(z, cap);
    }
    return z;
}

static void zsl_free(struct zsl *z)
{
    struct zsl_node *n = node_fwd(z->header)[0];
    while (n) {
        struct zsl_node *next = node_fwd(n)[0];
        smem_free(n);
        n = next;
    }
    smem_free(z->header);
    smem_free(z->slots);
    smem_free(z);
}

/* Is (score, m) after node n in the order? */
static bool node_before(const struct zsl_node *n, double score, const char *m, size_t len)
{
    return n->score < score || (n->score == score && member_cmp(node_member(n), n->len, m, len) < 0);
}

/* Insert a member known to be absent (list only). */
static struct zsl_node *zsl_insert(struct zsl *z, double score, const char *m, size_t len)
{
    struct zsl_node *update[ZSL_MAXLEVEL], *x = z->header;
    unsigned long rank[ZSL_MAXLEVEL];
    for (int i = z->level - 1; i >= 0; i--) {
        rank[i] = i == z->level - 1 ? 0 : rank[i + 1];
        while (node_fwd(x)[i] && node_before(node_fwd(x)[i], score, m, len)) {
            rank[i] += node_span(x)[i];
            x = node_fwd(x)[i];
        }
        update[i] = x;
    }
    int level = random_level();
    if (level > z->level) {
        for (int i = z->level; i < level; i++) {
            rank[i] = 0;
            update[i] = z->header;
            node_span(z->header)[i] = (uint32_t)z->length;
        }
        z->level = level;
    }
    x = node_new(level, score, m, len);
    for (int i = 0; i < level; i++) {
        node_fwd(x)[i] = node_fwd(update[i])[i];
        node_fwd(update[i])[i] = x;
        node_span(x)[i] = (uint32_t)(node_span(update[i])[i] - (rank[0] - rank[i]));
        node_span(update[i])[i] = (uint32_t)(rank[0] - rank[i] + 1);
    }
    for (int i = level; i < z->level; i++)
        node_span(update[i])[i]++;
    x->backward = update[0] == z->header ? NULL : update[0];
    if (node_fwd(x)[0])
        node_fwd(x)[0]->backward = x;
    else
        z->tail = x;
    z->length++;
    return x;
}

static void zsl_unlink(struct zsl *z, struct zsl_node *x, struct zsl_node **update)
{
    for (int i = 0; i < z->level; i++) {
        if (node_fwd(update[i])[i] == x) {
            node_span(update[i])[i] += node_span(x)[i] - 1;
            node_fwd(update[i])[i] = node_fwd(x)[i];
        } else {
            node_span(update[i])[i] -= 1;
        }
    }
    if (node_fwd(x)[0])
        node_fwd(x)[0]->backward = x->backward;
    else
        z->tail = x->backward;
    while (z->level > 1 && !node_fwd(z->header)[z->level - 1])
        z->level--;
    z->length--;
}

/* Find the update vector for (score, m); returns the node if it is there. */
static struct zsl_node *zsl_locate(struct zsl *z, double score, const char *m, size_t len,
                                   struct zsl_node **update)
{
    struct zsl_node *x = z->header;
    for (int i = z->level - 1; i >= 0; i--) {
        while (node_fwd(x)[i] && node_before(node_fwd(x)[i], score, m, len))
            x = node_fwd(x)[i];
        update[i] = x;
    }
    x = node_fwd(x)[0];
    if (x && x->score == score && x->len == len && memcmp(node_member(x), m, len) == 0)
        return x;
    return NULL;
}

/* Unlink and free the node of (score, m): list and table. */
static void zsl_delete_node(struct zsl *z, struct zsl_node *x, struct zsl_node **update)
{
    zsl_unlink(z, x, update);
    long i = tbl_find(z, node_member(x), x->len);
    if (i >= 0)
        tbl_remove_at(z, (uint32_t)i);
    smem_free(x);
}

/* A changed score: move the node in place when its neighbours allow, else
 * reinsert. Returns the (possibly new) node. */
static struct zsl_node *zsl_update_score(struct zsl *z, struct zsl_node *n, double newscore)
{
    struct zsl_node *update[ZSL_MAXLEVEL];
    struct zsl_node *next = node_fwd(n)[0];
    if ((!n->backward || n->backward->score < newscore) && (!next || next->score > newscore)) {
        n->score = newscore;
        return n;
    }
    zsl_locate(z, n->score, node_member(n), n->len, update);
    zsl_unlink(z, n, update);
    struct zsl_node *nn = zsl_insert(z, newscore, node_member(n), n->len);
    tbl_replace(z, n, nn);
    smem_free(n);
    return nn;
}

/* 1-based rank of a present (score, m). */
static unsigned long zsl_rank(const struct zsl *z, double score, const char *m, size_t len)
{
    unsigned long rank = 0;
    const struct zsl_node *x = z->header;
    for (int i = z->level - 1; i >= 0; i--) {
        while (node_fwd(x)[i] &&
               (node_before(node_fwd(x)[i], score, m, len) ||
                (node_fwd(x)[i]->score == score && node_fwd(x)[i]->len == len &&
                 memcmp(node_member(node_fwd(x)[i]), m, len) == 0))) {
            rank += node_span(x)[i];
            x = node_fwd(x)[i];
        }
        if (x != z->header && x->score == score && x->len == len && memcmp(node_member(x), m, len) == 0)
            return rank;
    }
    return 0;
}

/* Node at 1-based rank, NULL if out of range. */
static struct zsl_node *zsl_by_rank(const struct zsl *z, unsigned long rank)
{
    unsigned long seen = 0;
    struct zsl_node *x = z->header;
    for (int i = z->level - 1; i >= 0; i--) {
        while (node_fwd(x)[i] && seen + node_span(x)[i] <= rank) {
            seen += node_span(x)[i];
            x = node_fwd(x)[i];
        }
        if (seen == rank)
            return x == z->header ? NULL : x;
    }
    return NULL;
}

/* ---------- ranges ---------- */

bool zset_value_gte_min(double v, const struct zrange_spec *r) { return r->minex ? v > r->min : v >= r->min; }
bool zset_value_lte_max(double v, const struct zrange_spec *r) { return r->maxex ? v < r->max : v <= r->max; }

bool zset_lex_gte_min(const char *s, size_t n, const struct zlex_spec *r)
{
    if (r->mininf)
        return r->mininf < 0;
    int c = member_cmp(s, n, r->min, r->minlen);
    return r->minex ? c > 0 : c >= 0;
}

bool zset_lex_lte_max(const char *s, size_t n, const struct zlex_spec *r)
{
    if (r->maxinf)
        return r->maxinf > 0;
    int c = member_cmp(s, n, r->max, r->maxlen);
    return r->maxex ? c < 0 : c <= 0;
}

static bool score_range_empty(const struct zrange_spec *r)
{
    return r->min > r->max || (r->min == r->max && (r->minex || r->maxex));
}

static bool lex_range_empty(const struct zlex_spec *r)
{
    if (r->mininf > 0 || r->maxinf < 0)
        return true;
    if (r->mininf || r->maxinf)
        return false;
    int c = member_cmp(r->min, r->minlen, r->max, r->maxlen);
    return c > 0 || (c == 0 && (r->minex || r->maxex));
}

/* First node with score in range (skiplist). */
static struct zsl_node *zsl_first_in_score(const struct zsl *z, const struct zrange_spec *r)
{
    if (score_range_empty(r))
        return NULL;
    struct zsl_node *x = z->header;
    for (int i = z->level - 1; i >= 0; i--)
        while (node_fwd(x)[i] && !zset_value_gte_min(node_fwd(x)[i]->score, r))
            x = node_fwd(x)[i];
    x = node_fwd(x)[0];
    return x && zset_value_lte_max(x->score, r) ? x : NULL;
}

static struct zsl_node *zsl_last_in_score(const struct zsl *z, const struct zrange_spec *r)
{
    if (score_range_empty(r))
        return NULL;
    struct zsl_node *x = z->header;
    for (int i = z->level - 1; i >= 0; i--)
        while (node_fwd(x)[i] && zset_value_lte_max(node_fwd(x)[i]->score, r))
            x = node_fwd(x)[i];
    return x != z->header && zset_value_gte_min(x->score, r) ? x : NULL;
}

static struct zsl_node *zsl_first_in_lex(const struct zsl *z, const struct zlex_spec *r)
{
    if (lex_range_empty(r))
        return NULL;
    struct zsl_node *x = z->header;
    for (int i = z->level - 1; i >= 0; i--)
        while (node_fwd(x)[i] && !zset_lex_gte_min(node_member(node_fwd(x)[i]), node_fwd(x)[i]->len, r))
            x = node_fwd(x)[i];
    x = node_fwd(x)[0];
    return x && zset_lex_lte_max(node_member(x), x->len, r) ? x : NULL;
}

static struct zsl_node *zsl_last_in_lex(const struct zsl *z, const struct zlex_spec *r)
{
    if (lex_range_empty(r))
        return NULL;
    struct zsl_node *x = z->header;
    for (int i = z->level - 1; i >= 0; i--)
        while (node_fwd(x)[i] && zset_lex_lte_max(node_member(node_fwd(x)[i]), node_fwd(x)[i]->len, r))
            x = node_fwd(x)[i];
    return x != z->header && zset_lex_gte_min(node_member(x), x->len, r) ? x : NULL;
}

/* ---------- listpack helpers ---------- */

int zset_score_to_string(char *buf, size_t len, double d)
{
    if (isnan(d))
        return snprintf(buf, len, "nan");
    if (isinf(d))
        return snprintf(buf, len, d < 0 ? "-inf" : "inf");
    if (d == 0)
        return snprintf(buf, len, 1.0 / d < 0 ? "-0" : "0");
    if (d >= (double)(-LLONG_MAX / 2) && d <= (double)(LLONG_MAX / 2) && (double)(long long)d == d)
        return snprintf(buf, len, "%lld", (long long)d);
    return snprintf(buf, len, "%.17g", d);
}

static bool score_as_int(double d, int64_t *out)
{
    if (d < (double)(-LLONG_MAX / 2) || d > (double)(LLONG_MAX / 2))
        return false;
    long long ll = (long long)d;
    if ((double)ll != d)
        return false;
    *out = ll;
    return true;
}

/* A listpack score: integers as is, strings through strtod (as zzlStrtod,
 * at most 127 bytes). `ok` (optional) tells whether the text was a number. */
static double lp_score(const unsigned char *sptr, bool *ok)
{
    struct lp_val v;
    lp_get(sptr, &v);
    if (ok)
        *ok = true;
    if (!v.sval)
        return (double)v.ival;
    char buf[128];
    size_t n = v.slen < sizeof(buf) - 1 ? v.slen : sizeof(buf) - 1;
    memcpy(buf, v.sval, n);
    buf[n] = 0;
    char *end;
    double d = strtod(buf, &end);
    if (ok)
        *ok = n > 0 && end == buf + n && !isspace((unsigned char)buf[0]) && v.slen < sizeof(buf);
    return d;
}

static const char *lp_member(const unsigned char *eptr, char *tmp, size_t *len)
{
    return lp_get_str(eptr, tmp, len);
}

static int lp_member_cmp(const unsigned char *eptr, const char *m, size_t len)
{
    char tmp[32];
    size_t n;
    const char *s = lp_member(eptr, tmp, &n);
    return member_cmp(s, n, m, len);
}

static unsigned char *lp_put_score(unsigned char *lp, double score, unsigned char *p, enum lp_where where)
{
    int64_t iv;
    if (score_as_int(score, &iv))
        return lp_insert_int(lp, iv, p, where, NULL);
    char buf[64];
    int n = zset_score_to_string(buf, sizeof(buf), score);
    return lp_insert(lp, buf, (size_t)n, p, where, NULL);
}

static unsigned char *lp_append_score(unsigned char *lp, double score)
{
    int64_t iv;
    if (score_as_int(score, &iv))
        return lp_append_int(lp, iv);
    char buf[64];
    int n = zset_score_to_string(buf, sizeof(buf), score);
    return lp_append(lp, buf, (size_t)n);
}

/* Insert a pair before eptr (NULL: at the end). */
static unsigned char *zzl_insert_at(unsigned char *lp, unsigned char *eptr, const char *m, size_t len, double score)
{
    if (!eptr) {
        lp = lp_append(lp, m, len);
        return lp_append_score(lp, score);
    }
    unsigned char *mp;
    lp = lp_insert(lp, m, len, eptr, LP_BEFORE, &mp);
    return lp_put_score(lp, score, mp, LP_AFTER);
}

/* Insert an absent member in order. */
static unsigned char *zzl_insert(unsigned char *lp, const char *m, size_t len, double score)
{
    unsigned char *eptr = lp_first(lp);
    while (eptr) {
        unsigned char *sptr = lp_next(lp, eptr);
        double s = lp_score(sptr, NULL);
        if (s > score || (s == score && lp_member_cmp(eptr, m, len) > 0))
            break;
        eptr = lp_next(lp, sptr);
    }
    return zzl_insert_at(lp, eptr, m, len, score);
}

/* The member's element, NULL when absent; *score receives its score. */
static unsigned char *zzl_find(unsigned char *lp, const char *m, size_t len, double *score)
{
    unsigned char *eptr = lp_first(lp);
    while (eptr) {
        unsigned char *sptr = lp_next(lp, eptr);
        if (lp_eq(eptr, m, len)) {
            if (score)
                *score = lp_score(sptr, NULL);
            return eptr;
        }
        eptr = lp_next(lp, sptr);
    }
    return NULL;
}

static unsigned char *zzl_delete(unsigned char *lp, unsigned char *eptr)
{
    unsigned char *next;
    lp = lp_delete(lp, eptr, &next);
    return lp_delete(lp, next, NULL);
}

/* ---------- encodings ---------- */

static bool fits_listpack(size_t count, size_t maxelelen)
{
    const struct type_limits *l = type_limits();
    return (long long)count <= l->zset_max_listpack_entries && (long long)maxelelen <= l->zset_max_listpack_value &&
           l->zset_max_listpack_entries > 0;
}

void *zset_create(size_t size_hint, size_t maxelelen, int *enc)
{
    if (fits_listpack(size_hint, maxelelen)) {
        *enc = OBJ_ENC_LISTPACK;
        return lp_new(0);
    }
    *enc = OBJ_ENC_SKIPLIST;
    return zsl_new(size_hint);
}

struct entry *zset_new_entry(const char *key, size_t klen, size_t size_hint, size_t maxelelen)
{
    int enc;
    void *v = zset_create(size_hint, maxelelen, &enc);
    return entry_new_object(key, klen, OBJ_ZSET, enc, v);
}

static void zsl_add_new(struct zsl *z, double score, const char *m, size_t len)
{
    tbl_add(z, zsl_insert(z, score, m, len));
}

void zset_convert(struct entry *e, int enc)
{
    if (e->enc == enc)
        return;
    if (enc == OBJ_ENC_SKIPLIST) {
        unsigned char *lp = e->val.ptr;
        struct zsl *z = zsl_new(lp_length(lp) / 2);
        for (unsigned char *eptr = lp_first(lp); eptr;) {
            unsigned char *sptr = lp_next(lp, eptr);
            char tmp[32];
            size_t n;
            const char *m = lp_member(eptr, tmp, &n);
            zsl_add_new(z, lp_score(sptr, NULL), m, n);
            eptr = lp_next(lp, sptr);
        }
        lp_free(lp);
        e->val.ptr = z;
    } else {
        struct zsl *z = e->val.ptr;
        unsigned char *lp = lp_new(0);
        for (struct zsl_node *n = node_fwd(z->header)[0]; n; n = node_fwd(n)[0]) {
            lp = lp_append(lp, node_member(n), n->len);
            lp = lp_append_score(lp, n->score);
        }
        zsl_free(z);
        e->val.ptr = lp;
    }
    e->enc = (uint8_t)enc;
}

void zset_shrink_if_fits(struct entry *e, size_t maxelelen, size_t totlen)
{
    (void)totlen;
    if (e->enc == OBJ_ENC_SKIPLIST && fits_listpack(zset_card(e), maxelelen))
        zset_convert(e, OBJ_ENC_LISTPACK);
}

/* ---------- reading ---------- */

unsigned long zset_card(const struct entry *e)
{
    if (e->enc == OBJ_ENC_LISTPACK)
        return lp_length(e->val.ptr) / 2;
    return ((const struct zsl *)e->val.ptr)->length;
}

bool zset_score(const struct entry *e, const char *m, size_t len, double *score)
{
    if (e->enc == OBJ_ENC_LISTPACK)
        return zzl_find(e->val.ptr, m, len, score) != NULL;
    const struct zsl *z = e->val.ptr;
    long i = tbl_find(z, m, len);
    if (i < 0)
        return false;
    if (score)
        *score = z->slots[i]->score;
    return true;
}

long zset_rank(const struct entry *e, const char *m, size_t len, bool rev, double *score)
{
    unsigned long card = zset_card(e);
    if (e->enc == OBJ_ENC_LISTPACK) {
        unsigned char *lp = e->val.ptr;
        long rank = 0;
        for (unsigned char *eptr = lp_first(lp); eptr; rank++) {
            unsigned char *sptr = lp_next(lp, eptr);
            if (lp_eq(eptr, m, len)) {
                if (score)
                    *score = lp_score(sptr, NULL);
                return rev ? (long)card - 1 - rank : rank;
            }
            eptr = lp_next(lp, sptr);
        }
        return -1;
    }
    const struct zsl *z = e->val.ptr;
    long i = tbl_find(z, m, len);
    if (i < 0)
        return -1;
    const struct zsl_node *n = z->slots[i];
    if (score)
        *score = n->score;
    unsigned long r = zsl_rank(z, n->score, m, len);
    return rev ? (long)(card - r) : (long)(r - 1);
}

unsigned long zset_count_score(const struct entry *e, const struct zrange_spec *r)
{
    if (e->enc == OBJ_ENC_SKIPLIST) {
        const struct zsl *z = e->val.ptr;
        struct zsl_node *first = zsl_first_in_score(z, r);
        if (!first)
            return 0;
        struct zsl_node *last = zsl_last_in_score(z, r);
        return zsl_rank(z, last->score, node_member(last), last->len) -
               zsl_rank(z, first->score, node_member(first), first->len) + 1;
    }
    struct zset_iter it;
    struct zset_elem el;
    unsigned long n = 0;
    zset_iter_score(&it, e, r, false);
    while (zset_iter_next(&it, &el))
        n++;
    return n;
}

unsigned long zset_count_lex(const struct entry *e, const struct zlex_spec *r)
{
    if (e->enc == OBJ_ENC_SKIPLIST) {
        const struct zsl *z = e->val.ptr;
        struct zsl_node *first = zsl_first_in_lex(z, r);
        if (!first)
            return 0;
        struct zsl_node *last = zsl_last_in_lex(z, r);
        return zsl_rank(z, last->score, node_member(last), last->len) -
               zsl_rank(z, first->score, node_member(first), first->len) + 1;
    }
    struct zset_iter it;
    struct zset_elem el;
    unsigned long n = 0;
    zset_iter_lex(&it, e, r, false);
    while (zset_iter_next(&it, &el))
        n++;
    return n;
}

/* ---------- editing ---------- */

/* NX/XX/GT/LT/INCR on an existing member's score: false for a no-op. */
static bool apply_update_rules(double cur, double *score, int in, int *out)
{
    if (in & ZADD_IN_NX) {
        *out |= ZADD_OUT_NOP;
        return false;
    }
    if (in & ZADD_IN_INCR) {
        *score += cur;
        if (isnan(*score)) {
            *out |= ZADD_OUT_NAN;
            return false;
        }
    }
    if (((in & ZADD_IN_LT) && *score >= cur) || ((in & ZADD_IN_GT) && *score <= cur)) {
        *out |= ZADD_OUT_NOP;
        return false;
    }
    return true;
}

bool zset_add(struct entry *e, double score, const char *m, size_t len, int in, int *out, double *newscore)
{
    *out = 0;
    if (isnan(score)) {
        *out = ZADD_OUT_NAN;
        return false;
    }
    double cur;
    bool exists = zset_score(e, m, len, &cur);
    if (exists) {
        bool go = apply_update_rules(cur, &score, in, out);
        if (*out & ZADD_OUT_NAN)
            return false;
        if (newscore)
            *newscore = go ? score : cur;
        if (!go || score == cur)
            return true;
        if (e->enc == OBJ_ENC_LISTPACK) {
            unsigned char *lp = e->val.ptr;
            lp = zzl_delete(lp, zzl_find(lp, m, len, NULL));
            e->val.ptr = zzl_insert(lp, m, len, score);
        } else {
            struct zsl *z = e->val.ptr;
            zsl_update_score(z, z->slots[tbl_find(z, m, len)], score);
        }
        *out |= ZADD_OUT_UPDATED;
        return true;
    }
    if (in & ZADD_IN_XX) {
        *out |= ZADD_OUT_NOP;
        return true;
    }
    if (e->enc == OBJ_ENC_LISTPACK) {
        if (!fits_listpack(zset_card(e) + 1, len))
            zset_convert(e, OBJ_ENC_SKIPLIST);
        else
            e->val.ptr = zzl_insert(e->val.ptr, m, len, score);
    }
    if (e->enc == OBJ_ENC_SKIPLIST)
        zsl_add_new(e->val.ptr, score, m, len);
    if (newscore)
        *newscore = score;
    *out |= ZADD_OUT_ADDED;
    return true;
}

bool zset_del(struct entry *e, const char *m, size_t len)
{
    if (e->enc == OBJ_ENC_LISTPACK) {
        unsigned char *eptr = zzl_find(e->val.ptr, m, len, NULL);
        if (!eptr)
            return false;
        e->val.ptr = zzl_delete(e->val.ptr, eptr);
        return true;
    }
    struct zsl *z = e->val.ptr;
    long i = tbl_find(z, m, len);
    if (i < 0)
        return false;
    struct zsl_node *n = z->slots[i], *update[ZSL_MAXLEVEL];
    zsl_locate(z, n->score, m, len, update);
    zsl_delete_node(z, n, update);
    return true;
}

unsigned long zset_del_range_rank(struct entry *e, unsigned long start, unsigned long end)
{
    unsigned long card = zset_card(e);
    if (start >= card || start > end)
        return 0;
    if (end >= card)
        end = card - 1;
    unsigned long n = end - start + 1;
    if (e->enc == OBJ_ENC_LISTPACK) {
        e->val.ptr = lp_delete_range(e->val.ptr, (long)(2 * start), 2 * n);
        return n;
    }
    struct zsl *z = e->val.ptr;
    struct zsl_node *update[ZSL_MAXLEVEL], *x = z->header;
    unsigned long seen = 0;
    for (int i = z->level - 1; i >= 0; i--) {
        while (node_fwd(x)[i] && seen + node_span(x)[i] < start + 1) {
            seen += node_span(x)[i];
            x = node_fwd(x)[i];
        }
        update[i] = x;
    }
    x = node_fwd(x)[0];
    for (unsigned long k = 0; k < n && x; k++) {
        struct zsl_node *next = node_fwd(x)[0];
        zsl_delete_node(z, x, update);
        x = next;
    }
    return n;
}

/* Delete the members an iterator kind selects (score or lex), in order. */
static unsigned long zsl_del_while(struct zsl *z, const struct zrange_spec *sr, const struct zlex_spec *lr)
{
    struct zsl_node *update[ZSL_MAXLEVEL], *x = z->header;
    for (int i = z->level - 1; i >= 0; i--) {
        while (node_fwd(x)[i] &&
               (sr ? !zset_value_gte_min(node_fwd(x)[i]->score, sr)
                   : !zset_lex_gte_min(node_member(node_fwd(x)[i]), node_fwd(x)[i]->len, lr)))
            x = node_fwd(x)[i];
        update[i] = x;
    }
    x = node_fwd(x)[0];
    unsigned long removed = 0;
    while (x && (sr ? zset_value_lte_max(x->score, sr) : zset_lex_lte_max(node_member(x), x->len, lr))) {
        struct zsl_node *next = node_fwd(x)[0];
        zsl_delete_node(z, x, update);
        removed++;
        x = next;
    }
    return removed;
}

static unsigned long zzl_del_while(struct entry *e, const struct zrange_spec *sr, const struct zlex_spec *lr)
{
    unsigned char *lp = e->val.ptr;
    unsigned long removed = 0;
    unsigned char *eptr = lp_first(lp);
    while (eptr) {
        unsigned char *sptr = lp_next(lp, eptr);
        bool in;
        if (sr) {
            double s = lp_score(sptr, NULL);
            if (!zset_value_lte_max(s, sr))
                break;
            in = zset_value_gte_min(s, sr);
        } else {
            char tmp[32];
            size_t n;
            const char *m = lp_member(eptr, tmp, &n);
            if (!zset_lex_lte_max(m, n, lr))
                break;
            in = zset_lex_gte_min(m, n, lr);
        }
        if (in) {
            unsigned char *next;
            lp = lp_delete(lp, eptr, &next);
            lp = lp_delete(lp, next, &eptr);
            removed++;
        } else {
            eptr = lp_next(lp, sptr);
        }
    }
    e->val.ptr = lp;
    return removed;
}

unsigned long zset_del_range_score(struct entry *e, const struct zrange_spec *r)
{
    if (score_range_empty(r))
        return 0;
    return e->enc == OBJ_ENC_LISTPACK ? zzl_del_while(e, r, NULL) : zsl_del_while(e->val.ptr, r, NULL);
}

unsigned long zset_del_range_lex(struct entry *e, const struct zlex_spec *r)
{
    if (lex_range_empty(r))
        return 0;
    return e->enc == OBJ_ENC_LISTPACK ? zzl_del_while(e, NULL, r) : zsl_del_while(e->val.ptr, NULL, r);
}

/* ---------- iterators ---------- */

static void iter_base(struct zset_iter *it, const struct entry *e, int kind, bool rev)
{
    memset(it, 0, sizeof(*it));
    it->e = e;
    it->kind = kind;
    it->rev = rev;
}

/* Position a listpack iterator at the pair with 0-based rank `rank` from
 * the front. */
static void lp_seek_pair(struct zset_iter *it, unsigned long rank)
{
    unsigned char *lp = it->e->val.ptr;
    it->eptr = lp_seek(lp, (long)(2 * rank));
    it->sptr = it->eptr ? lp_next(lp, it->eptr) : NULL;
}

void zset_iter_rank(struct zset_iter *it, const struct entry *e, unsigned long start, unsigned long count, bool rev)
{
    iter_base(it, e, ZIT_RANK, rev);
    unsigned long card = zset_card(e);
    if (start >= card || !count)
        return;
    it->left = count;
    unsigned long fwd_rank = rev ? card - 1 - start : start;
    if (e->enc == OBJ_ENC_LISTPACK)
        lp_seek_pair(it, fwd_rank);
    else
        it->node = zsl_by_rank(e->val.ptr, fwd_rank + 1);
}

void zset_iter_score(struct zset_iter *it, const struct entry *e, const struct zrange_spec *r, bool rev)
{
    iter_base(it, e, ZIT_SCORE, rev);
    it->score = *r;
    if (score_range_empty(r))
        return;
    if (e->enc == OBJ_ENC_SKIPLIST) {
        it->node = rev ? zsl_last_in_score(e->val.ptr, r) : zsl_first_in_score(e->val.ptr, r);
        return;
    }
    unsigned char *lp = e->val.ptr;
    if (!rev) {
        for (unsigned char *eptr = lp_first(lp); eptr;) {
            unsigned char *sptr = lp_next(lp, eptr);
            double s = lp_score(sptr, NULL);
            if (zset_value_gte_min(s, r)) {
                if (zset_value_lte_max(s, r)) {
                    it->eptr = eptr;
                    it->sptr = sptr;
                }
                return;
            }
            eptr = lp_next(lp, sptr);
        }
        return;
    }
    for (unsigned char *sptr = lp_last(lp); sptr;) {
        unsigned char *eptr = lp_prev(lp, sptr);
        double s = lp_score(sptr, NULL);
        if (zset_value_lte_max(s, r)) {
            if (zset_value_gte_min(s, r)) {
                it->eptr = eptr;
                it->sptr = sptr;
            }
            return;
        }
        sptr = lp_prev(lp, eptr);
    }
}

void zset_iter_lex(struct zset_iter *it, const struct entry *e, const struct zlex_spec *r, bool rev)
{
    iter_base(it, e, ZIT_LEX, rev);
    it->lex = *r;
    if (lex_range_empty(r))
        return;
    if (e->enc == OBJ_ENC_SKIPLIST) {
        it->node = rev ? zsl_last_in_lex(e->val.ptr, r) : zsl_first_in_lex(e->val.ptr, r);
        return;
    }
    unsigned char *lp = e->val.ptr;
    char tmp[32];
    size_t n;
    if (!rev) {
        for (unsigned char *eptr = lp_first(lp); eptr;) {
            unsigned char *sptr = lp_next(lp, eptr);
            const char *m = lp_member(eptr, tmp, &n);
            if (zset_lex_gte_min(m, n, r)) {
                if (zset_lex_lte_max(m, n, r)) {
                    it->eptr = eptr;
                    it->sptr = sptr;
                }
                return;
            }
            eptr = lp_next(lp, sptr);
        }
        return;
    }
    for (unsigned char *sptr = lp_last(lp); sptr;) {
        unsigned char *eptr = lp_prev(lp, sptr);
        const char *m = lp_member(eptr, tmp, &n);
        if (zset_lex_lte_max(m, n, r)) {
            if (zset_lex_gte_min(m, n, r)) {
                it->eptr = eptr;
                it->sptr = sptr;
            }
            return;
        }
        sptr = lp_prev(lp, eptr);
    }
}

/* Is the element still inside the iterator's far bound? */
static bool iter_in_bound(const struct zset_iter *it, const struct zset_elem *el)
{
    switch (it->kind) {
    case ZIT_SCORE:
        return it->rev ? zset_value_gte_min(el->score, &it->score) : zset_value_lte_max(el->score, &it->score);
    case ZIT_LEX:
        return it->rev ? zset_lex_gte_min(el->m, el->len, &it->lex) : zset_lex_lte_max(el->m, el->len, &it->lex);
    default:
        return it->left > 0;
    }
}

bool zset_iter_next(struct zset_iter *it, struct zset_elem *out)
{
    if (it->e->enc == OBJ_ENC_LISTPACK) {
        if (!it->eptr)
            return false;
        unsigned char *lp = it->e->val.ptr;
        out->m = lp_member(it->eptr, it->tmp, &out->len);
        out->score = lp_score(it->sptr, NULL);
        if (!iter_in_bound(it, out)) {
            it->eptr = NULL;
            return false;
        }
        if (it->rev) {
            it->sptr = lp_prev(lp, it->eptr);
            it->eptr = it->sptr ? lp_prev(lp, it->sptr) : NULL;
        } else {
            it->eptr = lp_next(lp, it->sptr);
            it->sptr = it->eptr ? lp_next(lp, it->eptr) : NULL;
        }
    } else {
        struct zsl_node *n = it->node;
        if (!n)
            return false;
        out->m = node_member(n);
        out->len = n->len;
        out->score = n->score;
        if (!iter_in_bound(it, out)) {
            it->node = NULL;
            return false;
        }
        it->node = it->rev ? n->backward : node_fwd(n)[0];
    }
    if (it->kind == ZIT_RANK)
        it->left--;
    return true;
}

/* ---------- type_ops ---------- */

static void zset_free_value(void *ptr, int enc)
{
    if (!ptr)
        return;
    if (enc == OBJ_ENC_LISTPACK)
        lp_free(ptr);
    else
        zsl_free(ptr);
}

static void *zset_clone_value(const void *ptr, int enc)
{
    if (enc == OBJ_ENC_LISTPACK)
        return lp_dup(ptr);
    const struct zsl *z = ptr;
    struct zsl *c = zsl_new(z->length);
    for (struct zsl_node *n = z->tail; n; n = n->backward)
        zsl_add_new(c, n->score, node_member(n), n->len);
    return c;
}

static size_t zset_memory_value(const void *ptr, int enc)
{
    if (enc == OBJ_ENC_LISTPACK)
        return smem_usable(ptr);
    const struct zsl *z = ptr;
    size_t n = smem_usable(z) + smem_usable(z->header) + (z->slots ? smem_usable(z->slots) : 0);
    for (struct zsl_node *x = node_fwd(z->header)[0]; x; x = node_fwd(x)[0])
        n += smem_usable(x);
    return n;
}

static int zset_rdb_type(const void *ptr, int enc)
{
    (void)ptr;
    return enc == OBJ_ENC_LISTPACK ? RDB_TYPE_ZSET_LISTPACK : RDB_TYPE_ZSET_2;
}

static bool zset_rdb_encode(struct buf *b, const void *ptr, int enc, int flags)
{
    if (enc == OBJ_ENC_LISTPACK) {
        rdb_write_string_ex(b, ptr, lp_bytes(ptr), flags);
        return true;
    }
    const struct zsl *z = ptr;
    rdb_write_len(b, z->length);
    /* from the tail, as Redis writes it (so a loader inserts at the head) */
    for (const struct zsl_node *n = z->tail; n; n = n->backward) {
        rdb_write_string_ex(b, node_member(n), n->len, flags);
        rdb_write_binary_double(b, n->score);
    }
    return true;
}

/* RDB_TYPE_ZSET / ZSET_2: pairs in any order; built as a skiplist, then a
 * listpack when it fits (as Redis converts after loading). */
static void *decode_pairs(struct rdb_in *in, unsigned type, int *enc)
{
    uint64_t count;
    size_t at = rdb_in_pos(in);
    if (!rdb_read_len(in, &count))
        return NULL;
    if (count == 0)
        return NULL; /* an empty key: skipped, as Redis does */
    struct entry tmp = {.type = OBJ_ZSET, .enc = OBJ_ENC_SKIPLIST};
    struct zsl *z = zsl_new(count < (1u << 20) ? count : (1u << 20));
    tmp.val.ptr = z;
    struct buf scratch;
    buf_init(&scratch);
    size_t maxlen = 0;
    for (uint64_t i = 0; i < count; i++) {
        size_t len;
        buf_clear(&scratch);
        at = rdb_in_pos(in);
        const char *m = rdb_read_str(in, &scratch, &len);
        double score;
        if (!m || !(type == RDB_TYPE_ZSET_2 ? rdb_read_binary_double(in, &score) : rdb_read_old_double(in, &score)))
            goto fail;
        if (isnan(score)) {
            rdb_in_fail(in, at, "Zset with NAN score detected");
            goto fail;
        }
        if (tbl_find(z, m, len) >= 0) {
            rdb_in_fail(in, at, "Duplicate zset fields detected");
            goto fail;
        }
        if (len > maxlen)
            maxlen = len;
        zsl_add_new(z, score, m, len);
    }
    buf_free(&scratch);
    zset_shrink_if_fits(&tmp, maxlen, 0);
    *enc = tmp.enc;
    return tmp.val.ptr;
fail:
    buf_free(&scratch);
    zsl_free(z);
    return NULL;
}

struct mref {
    const char *m;
    size_t len;
};

static int mref_cmp(const void *x, const void *y)
{
    const struct mref *a = x, *b = y;
    return member_cmp(a->m, a->len, b->m, b->len);
}

/* No member twice (members may sit anywhere when scores differ). */
static bool zzl_members_unique(unsigned char *lp, unsigned long pairs)
{
    if (pairs < 2)
        return true;
    struct mref *refs = malloc(sizeof(*refs) * pairs);
    char *digits = malloc(32 * pairs);
    if (!refs || !digits) {
        free(refs);
        free(digits);
        return false;
    }
    unsigned long i = 0;
    for (unsigned char *eptr = lp_first(lp); eptr && i < pairs; i++) {
        refs[i].m = lp_member(eptr, digits + 32 * i, &refs[i].len);
        eptr = lp_next(lp, lp_next(lp, eptr));
    }
    qsort(refs, i, sizeof(*refs), mref_cmp);
    bool ok = true;
    for (unsigned long k = 1; k < i && ok; k++)
        ok = mref_cmp(&refs[k - 1], &refs[k]) != 0;
    free(refs);
    free(digits);
    return ok;
}

/* A listpack from an untrusted source: well formed, pairs, numeric scores
 * that are not NaN, members strictly ordered by (score, member), no member
 * twice. */
static bool zzl_valid(unsigned char *lp, size_t size)
{
    unsigned long count;
    if (!lp_validate(lp, size, &count) || count % 2)
        return false;
    if (!zzl_members_unique(lp, count / 2))
        return false;
    bool have_prev = false;
    double prev_score = 0;
    char prev_tmp[32];
    const char *prev_m = NULL;
    size_t prev_len = 0;
    for (unsigned char *eptr = lp_first(lp); eptr;) {
        unsigned char *sptr = lp_next(lp, eptr);
        if (!sptr)
            return false;
        bool ok;
        double s = lp_score(sptr, &ok);
        if (!ok || isnan(s))
            return false;
        char tmp[32];
        size_t n;
        const char *m = lp_member(eptr, tmp, &n);
        if (have_prev) {
            int c = s < prev_score ? -1 : s > prev_score ? 1 : member_cmp(m, n, prev_m, prev_len);
            if (c <= 0)
                return false;
        }
        memcpy(prev_tmp, tmp, sizeof(tmp));
        prev_m = m == tmp ? prev_tmp : m;
        prev_len = n;
        prev_score = s;
        have_prev = true;
        eptr = lp_next(lp, sptr);
    }
    return true;
}

static void *decode_listpack(struct rdb_in *in, unsigned type, int *enc)
{
    struct buf scratch;
    buf_init(&scratch);
    size_t len;
    size_t at = rdb_in_pos(in);
    const char *blob = rdb_read_str(in, &scratch, &len);
    if (!blob) {
        buf_free(&scratch);
        return NULL;
    }
    unsigned char *lp;
    size_t size = len;
    if (type == RDB_TYPE_ZSET_ZIPLIST) {
        lp = lp_from_ziplist((const unsigned char *)blob, len);
        size = lp ? lp_bytes(lp) : 0;
    } else {
        lp = len >= 7 ? smem_alloc(len) : NULL;
        if (lp)
            memcpy(lp, blob, len);
    }
    buf_free(&scratch);
    if (!lp || !zzl_valid(lp, size)) {
        if (lp)
            lp_free(lp);
        rdb_in_fail(in, at, "Zset listpack integrity check failed");
        return NULL;
    }
    if (lp_length(lp) == 0) {
        lp_free(lp);
        return NULL; /* an empty key: skipped, as Redis does */
    }
    struct entry tmp = {.type = OBJ_ZSET, .enc = OBJ_ENC_LISTPACK};
    tmp.val.ptr = lp;
    size_t maxlen = 0;
    for (unsigned char *eptr = lp_first(lp); eptr; eptr = lp_next(lp, lp_next(lp, eptr))) {
        char t[32];
        size_t n;
        lp_member(eptr, t, &n);
        if (n > maxlen)
            maxlen = n;
    }
    if (!fits_listpack(zset_card(&tmp), maxlen))
        zset_convert(&tmp, OBJ_ENC_SKIPLIST);
    *enc = tmp.enc;
    return tmp.val.ptr;
}

static void *zset_rdb_decode(struct rdb_in *in, unsigned type, int *enc)
{
    switch (type) {
    case RDB_TYPE_ZSET:
    case RDB_TYPE_ZSET_2:
        return decode_pairs(in, type, enc);
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_ZSET_LISTPACK:
        return decode_listpack(in, type, enc);
    default:
        rdb_in_fail(in, rdb_in_pos(in), "Unknown zset encoding %u", type);
        return NULL;
    }
}

const struct type_ops zset_type_ops = {
    .name = "zset",
    .free = zset_free_value,
    .clone = zset_clone_value,
    .memory = zset_memory_value,
    .rdb_type = zset_rdb_type,
    .rdb_encode = zset_rdb_encode,
    .rdb_decode = zset_rdb_decode,
};

/* ---------- scanning ---------- */

static uint64_t rev_bits(uint64_t v)
{
    uint64_t r = 0;
    for (int i = 0; i < 64; i++, v >>= 1)
        r = (r << 1) | (v & 1);
    return r;
}

uint64_t zset_scan(const struct entry *e, uint64_t cursor, zset_visit_fn fn, void *arg)
{
    if (e->enc == OBJ_ENC_LISTPACK) {
        struct zset_iter it;
        struct zset_elem el;
        zset_iter_rank(&it, e, 0, zset_card(e), false);
        while (zset_iter_next(&it, &el))
            fn(arg, el.m, el.len, el.score);
        return 0;
    }
    const struct zsl *z = e->val.ptr;
    if (!z->cap)
        return 0;
    /* One step visits the members whose home slot is the cursor's (they
     * sit in the probe run from there to the next free slot): a member's
     * home is its hash bits, as a chained table's bucket, so Redis's
     * reverse-binary cursor keeps its guarantee across resizes and the
     * backward shifts of deletions. */
    uint64_t mask = z->cap - 1;
    uint32_t home = (uint32_t)(cursor & mask);
    for (uint32_t i = home; z->slots[i]; i = (i + 1) & (uint32_t)mask) {
        const struct zsl_node *n = z->slots[i];
        if (((uint32_t)key_hash64(node_member(n), n->len) & (uint32_t)mask) == home)
            fn(arg, node_member(n), n->len, n->score);
    }
    cursor |= ~mask;
    cursor = rev_bits(cursor);
    cursor++;
    return rev_bits(cursor);
}
