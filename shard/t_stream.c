/* shard/t_stream.c — the stream value type: its structures, encodings and RDB codec
 * (see shard/types.h and shard/t_stream.h). Commands live in server/cmd_stream.c.
 * Nodes are listpacks in Redis's stream layout:
 *   master entry: count, deleted, num-fields, field..., 0
 *   entries:      flags, ms-diff, seq-diff, [num-fields, field, value...
 *                 | value... (SAMEFIELDS)], lp-count
 * Must not know about sockets, RESP or other threads. */
#include "shard/t_stream.h"

#include "shard/listpack.h"
#include "shard/memory.h"
#include "shard/object.h"
#include "shard/rdb.h"
#include "shard/types.h"

#include <stdio.h>
#include <string.h>

/* ---------- IDs ---------- */

int sid_cmp(const struct sid *a, const struct sid *b)
{
    if (a->ms != b->ms)
        return a->ms > b->ms ? 1 : -1;
    if (a->seq != b->seq)
        return a->seq > b->seq ? 1 : -1;
    return 0;
}

bool sid_incr(struct sid *id)
{
    if (id->seq == UINT64_MAX) {
        if (id->ms == UINT64_MAX) {
            id->ms = id->seq = 0;
            return false;
        }
        id->ms++;
        id->seq = 0;
    } else {
        id->seq++;
    }
    return true;
}

bool sid_decr(struct sid *id)
{
    if (id->seq == 0) {
        if (id->ms == 0) {
            id->ms = id->seq = UINT64_MAX;
            return false;
        }
        id->ms--;
        id->seq = UINT64_MAX;
    } else {
        id->seq--;
    }
    return true;
}

void sid_encode(unsigned char out[16], const struct sid *id)
{
    for (int i = 0; i < 8; i++) {
        out[i] = (unsigned char)(id->ms >> (56 - 8 * i));
        out[8 + i] = (unsigned char)(id->seq >> (56 - 8 * i));
    }
}

void sid_decode(const unsigned char in[16], struct sid *id)
{
    id->ms = id->seq = 0;
    for (int i = 0; i < 8; i++) {
        id->ms = (id->ms << 8) | in[i];
        id->seq = (id->seq << 8) | in[8 + i];
    }
}

int sid_format(char *buf, const struct sid *id)
{
    return snprintf(buf, 42, "%llu-%llu", (unsigned long long)id->ms, (unsigned long long)id->seq);
}

/* ---------- sorted ID map ---------- */

size_t idmap_lower(const struct idmap *m, const struct sid *id)
{
    size_t lo = 0, hi = m->n;
    /* fast path: appending at the end */
    if (hi && sid_cmp(&m->items[hi - 1].id, id) < 0)
        return hi;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sid_cmp(&m->items[mid].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct idmap_item *idmap_find(const struct idmap *m, const struct sid *id)
{
    size_t i = idmap_lower(m, id);
    if (i < m->n && sid_cmp(&m->items[i].id, id) == 0)
        return &m->items[i];
    return NULL;
}

bool idmap_insert(struct idmap *m, const struct sid *id, void *val)
{
    size_t i = idmap_lower(m, id);
    if (i < m->n && sid_cmp(&m->items[i].id, id) == 0)
        return false;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 4;
        m->items = smem_realloc(m->items, m->cap * sizeof(*m->items));
    }
    memmove(&m->items[i + 1], &m->items[i], (m->n - i) * sizeof(*m->items));
    m->items[i].id = *id;
    m->items[i].val = val;
    m->n++;
    return true;
}

static void idmap_remove_at(struct idmap *m, size_t i)
{
    memmove(&m->items[i], &m->items[i + 1], (m->n - i - 1) * sizeof(*m->items));
    m->n--;
    if (m->n == 0) {
        smem_free(m->items);
        m->items = NULL;
        m->cap = 0;
    } else if (m->cap > 16 && m->n < m->cap / 4) {
        m->cap /= 2;
        m->items = smem_realloc(m->items, m->cap * sizeof(*m->items));
    }
}

void *idmap_remove(struct idmap *m, const struct sid *id)
{
    size_t i = idmap_lower(m, id);
    if (i >= m->n || sid_cmp(&m->items[i].id, id) != 0)
        return NULL;
    void *v = m->items[i].val;
    idmap_remove_at(m, i);
    return v;
}

void idmap_free(struct idmap *m)
{
    smem_free(m->items);
    m->items = NULL;
    m->n = m->cap = 0;
}

static size_t idmap_memory(const struct idmap *m) { return m->items ? smem_usable(m->items) : 0; }

/* ---------- names (groups, consumers): rax order ---------- */

static int name_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int r = n ? memcmp(a, b, n) : 0;
    if (r)
        return r;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

static char *name_dup(const char *p, size_t n)
{
    char *s = smem_alloc(n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* Binary search over an array of structs whose first members are name/nlen. */
#define NAME_SEARCH(arr, count, nm, nl, found)                                                                  \
    ({                                                                                                          \
        size_t lo_ = 0, hi_ = (count);                                                                          \
        *(found) = false;                                                                                       \
        while (lo_ < hi_) {                                                                                     \
            size_t mid_ = lo_ + (hi_ - lo_) / 2;                                                                \
            int r_ = name_cmp((arr)[mid_]->name, (arr)[mid_]->nlen, nm, nl);                                    \
            if (r_ == 0) {                                                                                      \
                *(found) = true;                                                                                \
                lo_ = mid_;                                                                                     \
                break;                                                                                          \
            }                                                                                                   \
            if (r_ < 0)                                                                                         \
                lo_ = mid_ + 1;                                                                                 \
            else                                                                                                \
                hi_ = mid_;                                                                                     \
        }                                                                                                       \
        lo_;                                                                                                    \
    })

/* ---------- the stream ---------- */

struct stream *stream_new(void)
{
    struct stream *s = smem_calloc(sizeof(*s));
    return s;
}

struct stream_nack *stream_nack_new(struct stream_consumer *c, int64_t now_ms)
{
    struct stream_nack *n = smem_alloc(sizeof(*n));
    n->delivery_time = now_ms;
    n->delivery_count = 1;
    n->consumer = c;
    return n;
}

void stream_nack_free(struct stream_nack *n) { smem_free(n); }

static void consumer_free(struct stream_consumer *c)
{
    idmap_free(&c->pel);
    smem_free(c->name);
    smem_free(c);
}

static void cg_free(struct stream_cg *cg)
{
    for (size_t i = 0; i < cg->pel.n; i++)
        stream_nack_free(cg->pel.items[i].val);
    idmap_free(&cg->pel);
    for (size_t i = 0; i < cg->nconsumers; i++)
        consumer_free(cg->consumers[i]);
    smem_free(cg->consumers);
    smem_free(cg->name);
    smem_free(cg);
}

void stream_free(struct stream *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nodes.n; i++)
        lp_free(s->nodes.items[i].val);
    idmap_free(&s->nodes);
    for (size_t i = 0; i < s->ngroups; i++)
        cg_free(s->groups[i]);
    smem_free(s->groups);
    smem_free(s);
}

size_t stream_memory(const struct stream *s)
{
    size_t n = smem_usable(s) + idmap_memory(&s->nodes);
    for (size_t i = 0; i < s->nodes.n; i++)
        n += smem_usable(s->nodes.items[i].val);
    if (s->groups)
        n += smem_usable(s->groups);
    for (size_t g = 0; g < s->ngroups; g++) {
        const struct stream_cg *cg = s->groups[g];
        n += smem_usable(cg) + smem_usable(cg->name) + idmap_memory(&cg->pel);
        for (size_t i = 0; i < cg->pel.n; i++)
            n += smem_usable(cg->pel.items[i].val);
        if (cg->consumers)
            n += smem_usable(cg->consumers);
        for (size_t i = 0; i < cg->nconsumers; i++) {
            const struct stream_consumer *c = cg->consumers[i];
            n += smem_usable(c) + smem_usable(c->name) + idmap_memory(&c->pel);
        }
    }
    return n;
}

struct stream_cg *stream_cg_find(const struct stream *s, const char *name, size_t nlen)
{
    bool found;
    size_t i = NAME_SEARCH(s->groups, s->ngroups, name, nlen, &found);
    return found ? s->groups[i] : NULL;
}

struct stream_cg *stream_cg_create(struct stream *s, const char *name, size_t nlen, const struct sid *id,
                                   long long entries_read)
{
    bool found;
    size_t i = NAME_SEARCH(s->groups, s->ngroups, name, nlen, &found);
    if (found)
        return NULL;
    if (s->ngroups == s->capgroups) {
        s->capgroups = s->capgroups ? s->capgroups * 2 : 2;
        s->groups = smem_realloc(s->groups, s->capgroups * sizeof(*s->groups));
    }
    struct stream_cg *cg = smem_calloc(sizeof(*cg));
    cg->name = name_dup(name, nlen);
    cg->nlen = nlen;
    cg->last_id = *id;
    cg->entries_read = entries_read;
    memmove(&s->groups[i + 1], &s->groups[i], (s->ngroups - i) * sizeof(*s->groups));
    s->groups[i] = cg;
    s->ngroups++;
    return cg;
}

bool stream_cg_destroy(struct stream *s, const char *name, size_t nlen)
{
    bool found;
    size_t i = NAME_SEARCH(s->groups, s->ngroups, name, nlen, &found);
    if (!found)
        return false;
    cg_free(s->groups[i]);
    memmove(&s->groups[i], &s->groups[i + 1], (s->ngroups - i - 1) * sizeof(*s->groups));
    s->ngroups--;
    return true;
}

struct stream_consumer *stream_consumer_find(const struct stream_cg *cg, const char *name, size_t nlen)
{
    bool found;
    size_t i = NAME_SEARCH(cg->consumers, cg->nconsumers, name, nlen, &found);
    return found ? cg->consumers[i] : NULL;
}

struct stream_consumer *stream_consumer_create(struct stream_cg *cg, const char *name, size_t nlen,
                                               int64_t now_ms)
{
    bool found;
    size_t i = NAME_SEARCH(cg->consumers, cg->nconsumers, name, nlen, &found);
    if (found)
        return NULL;
    if (cg->nconsumers == cg->capconsumers) {
        cg->capconsumers = cg->capconsumers ? cg->capconsumers * 2 : 2;
        cg->consumers = smem_realloc(cg->consumers, cg->capconsumers * sizeof(*cg->consumers));
    }
    struct stream_consumer *c = smem_calloc(sizeof(*c));
    c->name = name_dup(name, nlen);
    c->nlen = nlen;
    c->seen_time = now_ms;
    memmove(&cg->consumers[i + 1], &cg->consumers[i], (cg->nconsumers - i) * sizeof(*cg->consumers));
    cg->consumers[i] = c;
    cg->nconsumers++;
    return c;
}

size_t stream_consumer_delete(struct stream_cg *cg, struct stream_consumer *c)
{
    bool found;
    size_t i = NAME_SEARCH(cg->consumers, cg->nconsumers, c->name, c->nlen, &found);
    if (!found)
        return 0;
    size_t pending = c->pel.n;
    for (size_t j = 0; j < c->pel.n; j++) {
        struct stream_nack *n = idmap_remove(&cg->pel, &c->pel.items[j].id);
        if (n)
            stream_nack_free(n);
    }
    consumer_free(c);
    memmove(&cg->consumers[i], &cg->consumers[i + 1], (cg->nconsumers - i - 1) * sizeof(*cg->consumers));
    cg->nconsumers--;
    return pending;
}

/* ---------- clone ---------- */

struct stream *stream_clone(const struct stream *s)
{
    struct stream *d = stream_new();
    d->length = s->length;
    d->last_id = s->last_id;
    d->first_id = s->first_id;
    d->max_deleted_id = s->max_deleted_id;
    d->entries_added = s->entries_added;
    if (s->nodes.n) {
        d->nodes.cap = d->nodes.n = s->nodes.n;
        d->nodes.items = smem_alloc(s->nodes.n * sizeof(*d->nodes.items));
        for (size_t i = 0; i < s->nodes.n; i++) {
            d->nodes.items[i].id = s->nodes.items[i].id;
            d->nodes.items[i].val = lp_dup(s->nodes.items[i].val);
        }
    }
    for (size_t g = 0; g < s->ngroups; g++) {
        const struct stream_cg *sc = s->groups[g];
        struct stream_cg *dc = stream_cg_create(d, sc->name, sc->nlen, &sc->last_id, sc->entries_read);
        for (size_t i = 0; i < sc->nconsumers; i++) {
            struct stream_consumer *c = stream_consumer_create(dc, sc->consumers[i]->name,
                                                               sc->consumers[i]->nlen, 0);
            c->seen_time = sc->consumers[i]->seen_time;
        }
        for (size_t i = 0; i < sc->pel.n; i++) {
            const struct stream_nack *sn = sc->pel.items[i].val;
            struct stream_consumer *c = NULL;
            if (sn->consumer) {
                c = stream_consumer_find(dc, sn->consumer->name, sn->consumer->nlen);
            }
            struct stream_nack *dn = stream_nack_new(c, sn->delivery_time);
            dn->delivery_count = sn->delivery_count;
            idmap_insert(&dc->pel, &sc->pel.items[i].id, dn);
            if (c)
                idmap_insert(&c->pel, &sc->pel.items[i].id, dn);
        }
    }
    return d;
}

/* ---------- listpack helpers ---------- */

static int64_t lp_int(unsigned char *p)
{
    int64_t v = 0;
    if (p)
        lp_get_int(p, &v);
    return v;
}

static unsigned char *lp_set_int(unsigned char *lp, unsigned char **p, int64_t v)
{
    unsigned char *np = NULL;
    lp = lp_insert_int(lp, v, *p, LP_REPLACE, &np);
    *p = np;
    return lp;
}

/* Master entry: count, deleted, num-fields, fields..., 0. */
struct master_info {
    int64_t count, deleted, nfields;
    unsigned char *fields; /* first field */
    unsigned char *end;    /* the zero terminator */
};

static void master_read(unsigned char *lp, struct master_info *m)
{
    unsigned char *p = lp_first(lp);
    m->count = lp_int(p);
    p = lp_next(lp, p);
    m->deleted = lp_int(p);
    p = lp_next(lp, p);
    m->nfields = lp_int(p);
    p = lp_next(lp, p);
    m->fields = p;
    for (int64_t i = 0; i < m->nfields; i++)
        p = lp_next(lp, p);
    m->end = p;
}

/* ---------- appending ---------- */

static bool node_is_full(unsigned char *lp, size_t totelelen)
{
    const struct type_limits *l = type_limits();
    size_t max_bytes = (size_t)l->stream_node_max_bytes;
    if (l->stream_node_max_bytes <= 0 || max_bytes > STREAM_LISTPACK_MAX_SIZE)
        max_bytes = STREAM_LISTPACK_MAX_SIZE;
    if (lp_bytes(lp) + totelelen >= max_bytes)
        return true;
    if (l->stream_node_max_entries > 0) {
        unsigned char *p = lp_first(lp);
        int64_t count = lp_int(p) + lp_int(lp_next(lp, p));
        if (count >= l->stream_node_max_entries)
            return true;
    }
    return false;
}

static unsigned char *node_new(const struct stream_str *fv, size_t nfields)
{
    const struct type_limits *l = type_limits();
    size_t prealloc = 4096;
    if (l->stream_node_max_bytes > 0 && (size_t)l->stream_node_max_bytes < prealloc)
        prealloc = (size_t)l->stream_node_max_bytes;
    unsigned char *lp = lp_new(prealloc);
    lp = lp_append_int(lp, 1);
    lp = lp_append_int(lp, 0);
    lp = lp_append_int(lp, (int64_t)nfields);
    for (size_t i = 0; i < nfields; i++)
        lp = lp_append(lp, fv[2 * i].p, fv[2 * i].len);
    lp = lp_append_int(lp, 0);
    return lp;
}

int stream_append(struct stream *s, const struct stream_str *fv, size_t nfields, const struct sid *use_id,
                  bool seq_given, int64_t now_ms, struct sid *added)
{
    struct sid id;
    if (use_id) {
        if (seq_given) {
            id = *use_id;
        } else if (s->last_id.ms == use_id->ms) {
            if (s->last_id.seq == UINT64_MAX)
                return -1;
            id = s->last_id;
            id.seq++;
        } else {
            id = *use_id;
        }
    } else {
        uint64_t ms = (uint64_t)now_ms;
        if (ms > s->last_id.ms) {
            id.ms = ms;
            id.seq = 0;
        } else {
            id = s->last_id;
            sid_incr(&id);
        }
    }
    if (sid_cmp(&id, &s->last_id) <= 0)
        return -1;

    size_t totelelen = 0;
    for (size_t i = 0; i < nfields * 2; i++)
        totelelen += fv[i].len;
    if (totelelen > STREAM_LISTPACK_MAX_SIZE)
        return -2;

    struct idmap_item *tail = s->nodes.n ? &s->nodes.items[s->nodes.n - 1] : NULL;
    if (tail && node_is_full(tail->val, totelelen))
        tail = NULL;

    int flags = STREAM_ITEM_FLAG_NONE;
    struct sid master;
    unsigned char *lp;
    if (!tail) {
        master = id;
        lp = node_new(fv, nfields);
        idmap_insert(&s->nodes, &id, lp);
        tail = &s->nodes.items[s->nodes.n - 1];
        flags |= STREAM_ITEM_FLAG_SAMEFIELDS;
    } else {
        master = tail->id;
        lp = tail->val;
        unsigned char *p = lp_first(lp);
        int64_t count = lp_int(p);
        lp = lp_set_int(lp, &p, count + 1);
        p = lp_next(lp, p);
        p = lp_next(lp, p);
        int64_t mfields = lp_int(p);
        p = lp_next(lp, p);
        if ((int64_t)nfields == mfields) {
            size_t i;
            for (i = 0; i < nfields; i++) {
                if (!lp_eq(p, fv[2 * i].p, fv[2 * i].len))
                    break;
                p = lp_next(lp, p);
            }
            if (i == nfields)
                flags |= STREAM_ITEM_FLAG_SAMEFIELDS;
        }
    }
    bool same = flags & STREAM_ITEM_FLAG_SAMEFIELDS;
    lp = lp_append_int(lp, flags);
    lp = lp_append_int(lp, (int64_t)(id.ms - master.ms));
    lp = lp_append_int(lp, (int64_t)(id.seq - master.seq));
    if (!same)
        lp = lp_append_int(lp, (int64_t)nfields);
    for (size_t i = 0; i < nfields; i++) {
        if (!same)
            lp = lp_append(lp, fv[2 * i].p, fv[2 * i].len);
        lp = lp_append(lp, fv[2 * i + 1].p, fv[2 * i + 1].len);
    }
    int64_t lp_count = (int64_t)nfields + 3;
    if (!same)
        lp_count += (int64_t)nfields + 1;
    lp = lp_append_int(lp, lp_count);
    tail->val = lp;
    s->length++;
    s->entries_added++;
    s->last_id = id;
    if (s->length == 1)
        s->first_id = id;
    if (added)
        *added = id;
    return 0;
}

/* ---------- iteration ---------- */

void stream_iter_start(struct stream_iter *it, struct stream *s, const struct sid *start, const struct sid *end,
                       bool rev)
{
    memset(it, 0, sizeof(*it));
    it->s = s;
    it->rev = rev;
    it->skip_tombstones = true;
    if (start)
        it->start = *start;
    if (end)
        it->end = *end;
    else
        it->end.ms = it->end.seq = UINT64_MAX;
    /* the node holding the seek point: the last one whose master <= it */
    const struct sid *seek = rev ? &it->end : &it->start;
    size_t i = idmap_lower(&s->nodes, seek);
    long node;
    if (i < s->nodes.n && sid_cmp(&s->nodes.items[i].id, seek) == 0)
        node = (long)i;
    else
        node = (long)i - 1;
    if (!rev && node < 0)
        node = 0;
    it->node = node;
    if (node < 0 || (size_t)node >= s->nodes.n)
        it->done = true;
}

static bool iter_load_node(struct stream_iter *it)
{
    if (it->node < 0 || (size_t)it->node >= it->s->nodes.n)
        return false;
    struct idmap_item *n = &it->s->nodes.items[it->node];
    if (!it->rev && sid_cmp(&n->id, &it->end) > 0)
        return false;
    it->lp = n->val;
    it->master = n->id;
    struct master_info m;
    master_read(it->lp, &m);
    it->master_fields = m.nfields;
    it->master_fields_p = m.fields;
    it->master_end = m.end;
    it->p = it->rev ? lp_last(it->lp) : lp_next(it->lp, m.end);
    return true;
}

/* Decode the entry whose flags are at it->flags_p; returns the pointer past it. */
static unsigned char *iter_decode(struct stream_iter *it, struct sid *id, int64_t *nfields)
{
    unsigned char *lp = it->lp, *p = it->flags_p;
    it->flags = lp_int(p);
    p = lp_next(lp, p);
    id->ms = it->master.ms + (uint64_t)lp_int(p);
    p = lp_next(lp, p);
    id->seq = it->master.seq + (uint64_t)lp_int(p);
    p = lp_next(lp, p);
    if (it->flags & STREAM_ITEM_FLAG_SAMEFIELDS) {
        *nfields = it->master_fields;
        it->field_p = NULL;
        it->mf_p = it->master_fields_p;
        it->value_p = p;
        for (int64_t i = 0; i < *nfields; i++)
            p = lp_next(lp, p);
    } else {
        *nfields = lp_int(p);
        p = lp_next(lp, p);
        it->field_p = p;
        for (int64_t i = 0; i < *nfields * 2; i++)
            p = lp_next(lp, p);
    }
    return p ? lp_next(lp, p) : NULL; /* skip lp-count */
}

bool stream_iter_next(struct stream_iter *it, struct sid *id, int64_t *nfields)
{
    while (!it->done) {
        if (!it->lp) {
            if (!iter_load_node(it)) {
                it->done = true;
                return false;
            }
        }
        if (!it->rev) {
            if (!it->p) {
                it->lp = NULL;
                it->node++;
                continue;
            }
            it->flags_p = it->p;
            it->p = iter_decode(it, id, nfields);
            if (sid_cmp(id, &it->start) >= 0 &&
                (!it->skip_tombstones || !(it->flags & STREAM_ITEM_FLAG_DELETED))) {
                if (sid_cmp(id, &it->end) > 0) {
                    it->done = true;
                    return false;
                }
                return true;
            }
        } else {
            if (!it->p || it->p == it->master_end) {
                it->lp = NULL;
                it->node--;
                continue;
            }
            int64_t lp_count = lp_int(it->p);
            unsigned char *q = it->p;
            for (int64_t i = 0; i < lp_count && q; i++)
                q = lp_prev(it->lp, q);
            if (!q) {
                it->done = true;
                return false;
            }
            it->flags_p = q;
            it->p = lp_prev(it->lp, q);
            iter_decode(it, id, nfields);
            if (sid_cmp(id, &it->end) <= 0 &&
                (!it->skip_tombstones || !(it->flags & STREAM_ITEM_FLAG_DELETED))) {
                if (sid_cmp(id, &it->start) < 0) {
                    it->done = true;
                    return false;
                }
                return true;
            }
        }
    }
    return false;
}

void stream_iter_field(struct stream_iter *it, const char **f, size_t *flen, const char **v, size_t *vlen)
{
    unsigned char *fp, *vp;
    if (it->field_p) {
        fp = it->field_p;
        vp = lp_next(it->lp, fp);
        it->field_p = lp_next(it->lp, vp);
    } else {
        fp = it->mf_p;
        vp = it->value_p;
        it->mf_p = lp_next(it->lp, fp);
        it->value_p = lp_next(it->lp, vp);
    }
    *f = lp_get_str(fp, it->ftmp, flen);
    *v = lp_get_str(vp, it->vtmp, vlen);
}

bool stream_entry_exists(struct stream *s, const struct sid *id)
{
    struct stream_iter it;
    struct sid got;
    int64_t nf;
    stream_iter_start(&it, s, id, id, false);
    return stream_iter_next(&it, &got, &nf);
}

bool stream_delete(struct stream *s, const struct sid *id)
{
    struct stream_iter it;
    struct sid got;
    int64_t nf;
    stream_iter_start(&it, s, id, id, false);
    if (!stream_iter_next(&it, &got, &nf))
        return false;
    struct idmap_item *node = &s->nodes.items[it.node];
    unsigned char *lp = node->val;
    unsigned char *p = it.flags_p;
    lp = lp_set_int(lp, &p, it.flags | STREAM_ITEM_FLAG_DELETED);
    p = lp_first(lp);
    int64_t count = lp_int(p);
    if (count == 1) {
        lp_free(lp);
        idmap_remove_at(&s->nodes, (size_t)it.node);
    } else {
        lp = lp_set_int(lp, &p, count - 1);
        p = lp_next(lp, p);
        lp = lp_set_int(lp, &p, lp_int(p) + 1);
        node->val = lp;
    }
    s->length--;
    return true;
}

bool stream_edge_id(struct stream *s, bool first, bool skip_tombstones, struct sid *out)
{
    struct stream_iter it;
    int64_t nf;
    stream_iter_start(&it, s, NULL, NULL, !first);
    it.skip_tombstones = skip_tombstones;
    if (stream_iter_next(&it, out, &nf))
        return true;
    if (first)
        out->ms = out->seq = UINT64_MAX;
    else
        out->ms = out->seq = 0;
    return false;
}

/* Last entry ID of a node, deleted or not. */
static void node_last_id(unsigned char *lp, const struct sid *master, struct sid *out)
{
    unsigned char *p = lp_last(lp);
    int64_t n = lp_int(p);
    *out = *master;
    if (n == 0)
        return;
    while (n-- && p)
        p = lp_prev(lp, p);
    p = lp_next(lp, p);
    out->ms = master->ms + (uint64_t)lp_int(p);
    p = lp_next(lp, p);
    out->seq = master->seq + (uint64_t)lp_int(p);
}

int64_t stream_trim(struct stream *s, const struct stream_trim *t)
{
    if (t->strategy == TRIM_NONE)
        return 0;
    int64_t deleted = 0;
    while (s->nodes.n) {
        if (t->strategy == TRIM_MAXLEN && s->length <= (uint64_t)t->maxlen)
            break;
        struct idmap_item *node = &s->nodes.items[0];
        unsigned char *lp = node->val;
        struct master_info m;
        master_read(lp, &m);
        int64_t entries = m.count;
        if (t->limit && deleted + entries > t->limit)
            break;
        bool remove_node;
        if (t->strategy == TRIM_MAXLEN) {
            remove_node = s->length - (uint64_t)entries >= (uint64_t)t->maxlen;
        } else {
            struct sid last;
            node_last_id(lp, &node->id, &last);
            remove_node = sid_cmp(&last, &t->minid) < 0;
        }
        if (remove_node) {
            lp_free(lp);
            idmap_remove_at(&s->nodes, 0);
            s->length -= (uint64_t)entries;
            deleted += entries;
            continue;
        }
        if (t->approx)
            break;

        /* mark entries deleted from the head of this node */
        struct sid master = node->id;
        int64_t deleted_here = 0;
        unsigned char *p = lp_next(lp, m.end);
        int64_t mfields = m.nfields;
        while (p) {
            unsigned char *flags_p = p;
            int64_t flags = lp_int(p);
            p = lp_next(lp, p);
            struct sid cur = master;
            cur.ms += (uint64_t)lp_int(p);
            p = lp_next(lp, p);
            cur.seq += (uint64_t)lp_int(p);
            p = lp_next(lp, p);
            bool stop = t->strategy == TRIM_MAXLEN ? s->length <= (uint64_t)t->maxlen
                                                   : sid_cmp(&cur, &t->minid) >= 0;
            if (stop)
                break;
            int64_t skip;
            if (flags & STREAM_ITEM_FLAG_SAMEFIELDS) {
                skip = mfields;
            } else {
                skip = lp_int(p) * 2;
                p = lp_next(lp, p);
            }
            while (skip-- > 0 && p)
                p = lp_next(lp, p);
            p = p ? lp_next(lp, p) : NULL;
            if (!(flags & STREAM_ITEM_FLAG_DELETED)) {
                size_t off = p ? (size_t)(p - lp) : 0;
                lp = lp_set_int(lp, &flags_p, flags | STREAM_ITEM_FLAG_DELETED);
                deleted_here++;
                s->length--;
                p = off ? lp + off : NULL;
            }
        }
        deleted += deleted_here;
        p = lp_first(lp);
        lp = lp_set_int(lp, &p, entries - deleted_here);
        p = lp_next(lp, p);
        lp = lp_set_int(lp, &p, lp_int(p) + deleted_here);
        node->val = lp;
        break;
    }
    if (s->length == 0)
        s->first_id.ms = s->first_id.seq = 0;
    else if (deleted)
        stream_edge_id(s, true, true, &s->first_id);
    return deleted;
}

/* ---------- lag (Redis 7.0's counters) ---------- */

bool stream_range_has_tombstones(const struct stream *s, const struct sid *start, const struct sid *end)
{
    if (!s->length || sid_is_zero(&s->max_deleted_id))
        return false;
    if (sid_cmp(&s->first_id, &s->max_deleted_id) > 0)
        return false;
    struct sid a = {0, 0}, b = {UINT64_MAX, UINT64_MAX};
    if (start)
        a = *start;
    if (end)
        b = *end;
    return sid_cmp(&a, &s->max_deleted_id) <= 0 && sid_cmp(&s->max_deleted_id, &b) <= 0;
}

long long stream_estimate_distance(const struct stream *s, const struct sid *id)
{
    if (!s->entries_added)
        return 0;
    if (!s->length && sid_cmp(id, &s->last_id) < 1)
        return (long long)s->entries_added;
    int cmp_last = sid_cmp(id, &s->last_id);
    if (cmp_last == 0)
        return (long long)s->entries_added;
    if (cmp_last > 0)
        return STREAM_ENTRIES_READ_INVALID;
    int cmp_first = sid_cmp(id, &s->first_id);
    if (sid_is_zero(&s->max_deleted_id) || sid_cmp(&s->max_deleted_id, &s->first_id) < 0) {
        if (cmp_first < 0)
            return (long long)(s->entries_added - s->length);
        if (cmp_first == 0)
            return (long long)(s->entries_added - s->length + 1);
    }
    return STREAM_ENTRIES_READ_INVALID;
}

bool stream_cg_lag(const struct stream *s, const struct stream_cg *cg, long long *lag)
{
    if (!s->entries_added) {
        *lag = 0;
        return true;
    }
    if (cg->entries_read != STREAM_ENTRIES_READ_INVALID && !stream_range_has_tombstones(s, &cg->last_id, NULL)) {
        *lag = (long long)s->entries_added - cg->entries_read;
        return true;
    }
    long long er = stream_estimate_distance(s, &cg->last_id);
    if (er != STREAM_ENTRIES_READ_INVALID) {
        *lag = (long long)s->entries_added - er;
        return true;
    }
    return false;
}

/* ---------- RDB ---------- */

static void write_ms_time(struct buf *b, int64_t t)
{
    unsigned char tmp[8];
    for (int i = 0; i < 8; i++)
        tmp[i] = (unsigned char)((uint64_t)t >> (8 * i));
    buf_put(b, tmp, 8);
}

static void write_raw_id(struct buf *b, const struct sid *id)
{
    unsigned char k[16];
    sid_encode(k, id);
    buf_put(b, k, 16);
}

static bool stream_rdb_encode(struct buf *b, const void *ptr, int enc, int flags)
{
    (void)enc;
    const struct stream *s = ptr;
    rdb_write_len(b, s->nodes.n);
    for (size_t i = 0; i < s->nodes.n; i++) {
        unsigned char k[16];
        sid_encode(k, &s->nodes.items[i].id);
        rdb_write_string_ex(b, (const char *)k, 16, flags);
        unsigned char *lp = s->nodes.items[i].val;
        rdb_write_string_ex(b, (const char *)lp, lp_bytes(lp), flags);
    }
    rdb_write_len(b, s->length);
    rdb_write_len(b, s->last_id.ms);
    rdb_write_len(b, s->last_id.seq);
    rdb_write_len(b, s->first_id.ms);
    rdb_write_len(b, s->first_id.seq);
    rdb_write_len(b, s->max_deleted_id.ms);
    rdb_write_len(b, s->max_deleted_id.seq);
    rdb_write_len(b, s->entries_added);
    rdb_write_len(b, s->ngroups);
    for (size_t g = 0; g < s->ngroups; g++) {
        const struct stream_cg *cg = s->groups[g];
        rdb_write_string_ex(b, cg->name, cg->nlen, flags);
        rdb_write_len(b, cg->last_id.ms);
        rdb_write_len(b, cg->last_id.seq);
        rdb_write_len(b, (uint64_t)cg->entries_read);
        rdb_write_len(b, cg->pel.n);
        for (size_t i = 0; i < cg->pel.n; i++) {
            const struct stream_nack *n = cg->pel.items[i].val;
            write_raw_id(b, &cg->pel.items[i].id);
            write_ms_time(b, n->delivery_time);
            rdb_write_len(b, n->delivery_count);
        }
        rdb_write_len(b, cg->nconsumers);
        for (size_t c = 0; c < cg->nconsumers; c++) {
            const struct stream_consumer *con = cg->consumers[c];
            rdb_write_string_ex(b, con->name, con->nlen, flags);
            write_ms_time(b, con->seen_time);
            rdb_write_len(b, con->pel.n);
            for (size_t i = 0; i < con->pel.n; i++)
                write_raw_id(b, &con->pel.items[i].id);
        }
    }
    return true;
}

/* Redis's streamValidateListpackIntegrity (deep), plus the counters: the
 * master's count/deleted must match the entries' flags. Returns the live
 * entry count or -1. */
static int64_t validate_node(unsigned char *lp, size_t size)
{
    if (!lp_validate(lp, size, NULL))
        return -1;
    unsigned char *p = lp_first(lp);
    int64_t v;
#define NEXT_INT(out)                                                                                            \
    do {                                                                                                         \
        if (!p || !lp_get_int(p, &(out)))                                                                       \
            return -1;                                                                                           \
        p = lp_next(lp, p);                                                                                      \
    } while (0)
#define SKIP()                                                                                                   \
    do {                                                                                                         \
        if (!p)                                                                                                  \
            return -1;                                                                                           \
        p = lp_next(lp, p);                                                                                      \
    } while (0)
    int64_t count, deleted, mfields, zero;
    NEXT_INT(count);
    NEXT_INT(deleted);
    NEXT_INT(mfields);
    if (count < 0 || deleted < 0 || mfields < 0 || count + deleted <= 0)
        return -1;
    for (int64_t j = 0; j < mfields; j++)
        SKIP();
    NEXT_INT(zero);
    if (zero != 0)
        return -1;
    int64_t live = 0, dead = 0;
    for (int64_t e = 0; e < count + deleted; e++) {
        int64_t flags, fields = mfields, extra = 3, lp_count;
        NEXT_INT(flags);
        NEXT_INT(v);
        NEXT_INT(v);
        if (!(flags & STREAM_ITEM_FLAG_SAMEFIELDS)) {
            NEXT_INT(fields);
            if (fields < 0)
                return -1;
            for (int64_t j = 0; j < fields; j++)
                SKIP();
            extra += fields + 1;
        }
        for (int64_t j = 0; j < fields; j++)
            SKIP();
        NEXT_INT(lp_count);
        if (lp_count != fields + extra)
            return -1;
        if (flags & STREAM_ITEM_FLAG_DELETED)
            dead++;
        else
            live++;
    }
    if (p)
        return -1;
    if (live != count || dead != deleted)
        return -1;
#undef NEXT_INT
#undef SKIP
    return count;
}

static bool read_ms_time(struct rdb_in *in, int64_t *out)
{
    const unsigned char *p;
    if (!rdb_read_raw(in, 8, &p))
        return false;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    *out = (int64_t)v;
    return true;
}

static bool read_id(struct rdb_in *in, struct sid *id)
{
    return rdb_read_len(in, &id->ms) && rdb_read_len(in, &id->seq);
}

static bool load_nodes(struct rdb_in *in, struct stream *s, struct buf *scratch)
{
    uint64_t nnodes;
    if (!rdb_read_len(in, &nnodes))
        return false;
    uint64_t live = 0;
    while (nnodes--) {
        size_t at = rdb_in_pos(in), len;
        buf_clear(scratch);
        const char *k = rdb_read_str(in, scratch, &len);
        if (!k)
            return false;
        if (len != 16)
            return rdb_in_fail(in, at, "Stream node key entry is not the size of a stream ID");
        struct sid master;
        sid_decode((const unsigned char *)k, &master);
        at = rdb_in_pos(in);
        buf_clear(scratch);
        const char *lpb = rdb_read_str(in, scratch, &len);
        if (!lpb)
            return false;
        if (len < 7)
            return rdb_in_fail(in, at, "Stream listpack integrity check failed");
        unsigned char *lp = smem_alloc(len);
        memcpy(lp, lpb, len);
        int64_t n = validate_node(lp, len);
        if (n < 0) {
            smem_free(lp);
            return rdb_in_fail(in, at, "Stream listpack integrity check failed");
        }
        if (!idmap_insert(&s->nodes, &master, lp)) {
            smem_free(lp);
            return rdb_in_fail(in, at, "Listpack re-added with existing key");
        }
        live += (uint64_t)n;
    }
    size_t at = rdb_in_pos(in);
    if (!rdb_read_len(in, &s->length))
        return false;
    if (s->length != live)
        return rdb_in_fail(in, at, "Stream length inconsistent with its listpacks");
    return true;
}

static bool load_groups(struct rdb_in *in, struct stream *s, unsigned rdb_type, struct buf *scratch)
{
    uint64_t ngroups;
    if (!rdb_read_len(in, &ngroups))
        return false;
    while (ngroups--) {
        size_t at = rdb_in_pos(in), nlen;
        buf_clear(scratch);
        const char *name = rdb_read_str(in, scratch, &nlen);
        if (!name)
            return false;
        char *nm = name_dup(name, nlen);
        struct sid last;
        uint64_t er;
        bool ok = read_id(in, &last);
        long long entries_read = 0;
        if (ok && rdb_type == RDB_TYPE_STREAM_LISTPACKS_2) {
            ok = rdb_read_len(in, &er);
            entries_read = (long long)er;
        } else if (ok) {
            entries_read = stream_estimate_distance(s, &last);
        }
        struct stream_cg *cg = ok ? stream_cg_create(s, nm, nlen, &last, entries_read) : NULL;
        smem_free(nm);
        if (!ok)
            return false;
        if (!cg)
            return rdb_in_fail(in, at, "Duplicated consumer group name");
        uint64_t pel;
        if (!rdb_read_len(in, &pel))
            return false;
        while (pel--) {
            const unsigned char *raw;
            at = rdb_in_pos(in);
            if (!rdb_read_raw(in, 16, &raw))
                return false;
            struct sid id;
            sid_decode(raw, &id);
            int64_t t;
            uint64_t cnt;
            if (!read_ms_time(in, &t) || !rdb_read_len(in, &cnt))
                return false;
            struct stream_nack *n = stream_nack_new(NULL, t);
            n->delivery_count = cnt;
            if (!idmap_insert(&cg->pel, &id, n)) {
                stream_nack_free(n);
                return rdb_in_fail(in, at, "Duplicated global PEL entry loading stream consumer group");
            }
        }
        uint64_t ncons;
        if (!rdb_read_len(in, &ncons))
            return false;
        while (ncons--) {
            at = rdb_in_pos(in);
            buf_clear(scratch);
            const char *cn = rdb_read_str(in, scratch, &nlen);
            if (!cn)
                return false;
            char *cname = name_dup(cn, nlen);
            struct stream_consumer *c = stream_consumer_create(cg, cname, nlen, 0);
            smem_free(cname);
            if (!c)
                return rdb_in_fail(in, at, "Duplicate stream consumer detected");
            if (!read_ms_time(in, &c->seen_time))
                return false;
            uint64_t cpel;
            if (!rdb_read_len(in, &cpel))
                return false;
            while (cpel--) {
                const unsigned char *raw;
                at = rdb_in_pos(in);
                if (!rdb_read_raw(in, 16, &raw))
                    return false;
                struct sid id;
                sid_decode(raw, &id);
                struct idmap_item *it = idmap_find(&cg->pel, &id);
                if (!it)
                    return rdb_in_fail(in, at, "Consumer entry not found in group global PEL");
                struct stream_nack *n = it->val;
                if (n->consumer)
                    return rdb_in_fail(in, at, "Stream consumer PEL entry already has a consumer assigned");
                n->consumer = c;
                idmap_insert(&c->pel, &id, n);
            }
        }
        for (size_t i = 0; i < cg->pel.n; i++)
            if (!((struct stream_nack *)cg->pel.items[i].val)->consumer)
                return rdb_in_fail(in, rdb_in_pos(in), "Stream CG PEL entry without consumer");
    }
    return true;
}

static void *stream_rdb_decode(struct rdb_in *in, unsigned rdb_type, int *enc)
{
    struct stream *s = stream_new();
    struct buf scratch;
    buf_init(&scratch);
    *enc = OBJ_ENC_STREAM;
    bool ok = load_nodes(in, s, &scratch) && read_id(in, &s->last_id);
    if (ok && rdb_type == RDB_TYPE_STREAM_LISTPACKS_2) {
        ok = read_id(in, &s->first_id) && read_id(in, &s->max_deleted_id) && rdb_read_len(in, &s->entries_added);
    } else if (ok) {
        s->entries_added = s->length;
        stream_edge_id(s, true, true, &s->first_id);
    }
    ok = ok && load_groups(in, s, rdb_type, &scratch);
    buf_free(&scratch);
    if (!ok) {
        if (!in->failed)
            rdb_in_fail(in, rdb_in_pos(in), "Bad stream data");
        stream_free(s);
        return NULL;
    }
    return s;
}

/* ---------- type_ops ---------- */

static void stream_ops_free(void *ptr, int enc)
{
    (void)enc;
    stream_free(ptr);
}

static void *stream_ops_clone(const void *ptr, int enc)
{
    (void)enc;
    return stream_clone(ptr);
}

static size_t stream_ops_memory(const void *ptr, int enc)
{
    (void)enc;
    return stream_memory(ptr);
}

static int stream_ops_rdb_type(const void *ptr, int enc)
{
    (void)ptr;
    (void)enc;
    return RDB_TYPE_STREAM_LISTPACKS_2;
}

const struct type_ops stream_type_ops = {
    .name = "stream",
    .free = stream_ops_free,
    .clone = stream_ops_clone,
    .memory = stream_ops_memory,
    .rdb_type = stream_ops_rdb_type,
    .rdb_encode = stream_rdb_encode,
    .rdb_decode = stream_rdb_decode,
};
