/* shard/t_list.c — the list value type: a quicklist of listpack nodes
 * (shard/t_list.h), its type_ops (free, clone, memory) and RDB codec:
 * written as RDB_TYPE_LIST_QUICKLIST_2 like Redis 7.0 (per node a container
 * byte, PACKED=2 + the listpack, or PLAIN=1 + the bare element for elements
 * of 1 GB and more), read from types 18, 14 (ziplist nodes), 10 (one
 * ziplist) and 1 (a list of strings). Untrusted blobs are validated; bad data
 * fails the load (rdb_in_fail), never crashes. Commands live in
 * server/cmd_list.c. Must not know about sockets, RESP or other threads. */
#include "shard/t_list.h"
#include "shard/memory.h"
#include "shard/rdb.h"
#include "shard/types.h"

#include <string.h>

#define QL_SIZE_SAFETY_LIMIT 8192   /* bytes per node when the limit counts entries */
#define QL_SIZE_ESTIMATE_OVERHEAD 8 /* an entry's header and backlen, estimated */
#define QL_PLAIN_THRESHOLD (1ull << 30)
#define QL_CONTAINER_PLAIN 1
#define QL_CONTAINER_PACKED 2

/* ---------- node limits ---------- */

static const size_t node_size_levels[] = {4096, 8192, 16384, 32768, 65536};

static bool exceeds_limit(size_t bytes, unsigned long count)
{
    long long fill = type_limits()->list_max_listpack_size;
    if (fill >= 0) {
        if (fill == 0)
            fill = 1;
        return count > (unsigned long long)fill || bytes > QL_SIZE_SAFETY_LIMIT;
    }
    long long level = -fill - 1;
    if (level > 4)
        level = 4;
    return bytes > node_size_levels[level];
}

bool ql_node_allows(const unsigned char *lp, size_t len)
{
    return !exceeds_limit(lp_bytes(lp) + len + QL_SIZE_ESTIMATE_OVERHEAD, lp_length(lp) + 1);
}

/* ---------- nodes ---------- */

static struct ql_node *node_new(unsigned char *lp)
{
    struct ql_node *n = smem_alloc(sizeof(*n));
    n->prev = n->next = NULL;
    n->lp = lp;
    return n;
}

static void link_after(struct quicklist *ql, struct ql_node *at, struct ql_node *n)
{
    n->prev = at;
    n->next = at ? at->next : ql->head;
    if (n->next)
        n->next->prev = n;
    else
        ql->tail = n;
    if (at)
        at->next = n;
    else
        ql->head = n;
    ql->nnodes++;
}

static void unlink_node(struct quicklist *ql, struct ql_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        ql->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        ql->tail = n->prev;
    ql->nnodes--;
    lp_free(n->lp);
    smem_free(n);
}

/* ---------- the list ---------- */

struct quicklist *ql_new(void)
{
    struct quicklist *ql = smem_alloc(sizeof(*ql));
    memset(ql, 0, sizeof(*ql));
    return ql;
}

void ql_free(struct quicklist *ql)
{
    struct ql_node *n = ql->head;
    while (n) {
        struct ql_node *next = n->next;
        lp_free(n->lp);
        smem_free(n);
        n = next;
    }
    smem_free(ql);
}

struct quicklist *ql_clone(const struct quicklist *ql)
{
    struct quicklist *c = ql_new();
    for (struct ql_node *n = ql->head; n; n = n->next)
        link_after(c, c->tail, node_new(lp_dup(n->lp)));
    c->count = ql->count;
    return c;
}

size_t ql_memory(const struct quicklist *ql)
{
    size_t total = smem_usable(ql);
    for (struct ql_node *n = ql->head; n; n = n->next)
        total += smem_usable(n) + smem_usable(n->lp);
    return total;
}

void ql_push(struct quicklist *ql, enum ql_end end, const char *s, size_t len)
{
    struct ql_node *n = end == QL_HEAD ? ql->head : ql->tail;
    if (!n || !ql_node_allows(n->lp, len)) {
        n = node_new(lp_new(0));
        link_after(ql, end == QL_HEAD ? NULL : ql->tail, n);
    }
    n->lp = end == QL_HEAD ? lp_prepend(n->lp, s, len) : lp_append(n->lp, s, len);
    ql->count++;
}

bool ql_index(const struct quicklist *ql, long long index, struct ql_pos *pos)
{
    bool forward = index >= 0;
    uint64_t want = forward ? (uint64_t)index : (uint64_t)(-(index + 1));
    if (want >= ql->count)
        return false;
    struct ql_node *n = forward ? ql->head : ql->tail;
    uint64_t seen = 0;
    for (; n; n = forward ? n->next : n->prev) {
        unsigned long c = ql_node_count(n);
        if (seen + c > want)
            break;
        seen += c;
    }
    if (!n)
        return false;
    long off = (long)(want - seen);
    pos->node = n;
    pos->p = lp_seek(n->lp, forward ? off : -off - 1);
    return pos->p != NULL;
}

bool ql_step(struct ql_pos *pos, bool forward)
{
    unsigned char *p = forward ? lp_next(pos->node->lp, pos->p) : lp_prev(pos->node->lp, pos->p);
    while (!p) {
        pos->node = forward ? pos->node->next : pos->node->prev;
        if (!pos->node) {
            pos->p = NULL;
            return false;
        }
        p = forward ? lp_first(pos->node->lp) : lp_last(pos->node->lp);
    }
    pos->p = p;
    return true;
}

void ql_replace(struct quicklist *ql, struct ql_pos *pos, const char *s, size_t len)
{
    (void)ql;
    pos->node->lp = lp_insert(pos->node->lp, s, len, pos->p, LP_REPLACE, &pos->p);
}

/* Merge node `a` with its next node when both fit in one. */
static void try_merge_next(struct quicklist *ql, struct ql_node *a)
{
    struct ql_node *b = a ? a->next : NULL;
    if (!b)
        return;
    size_t bytes = lp_bytes(a->lp) + lp_bytes(b->lp) - 7; /* one header and terminator */
    if (exceeds_limit(bytes, ql_node_count(a) + ql_node_count(b)))
        return;
    a->lp = lp_merge(a->lp, b->lp);
    unlink_node(ql, b);
}

/* Split node n before its element at offset `off`: the elements from off on
 * move to a new node after n. */
static struct ql_node *split_node(struct quicklist *ql, struct ql_node *n, long off)
{
    unsigned long count = ql_node_count(n);
    unsigned char *tail = lp_dup(n->lp);
    tail = lp_delete_range(tail, 0, (unsigned long)off);
    n->lp = lp_delete_range(n->lp, off, count - (unsigned long)off);
    struct ql_node *m = node_new(tail);
    link_after(ql, n, m);
    return m;
}

static long offset_of(struct ql_node *n, unsigned char *p)
{
    long off = 0;
    for (unsigned char *q = lp_first(n->lp); q && q != p; q = lp_next(n->lp, q))
        off++;
    return off;
}

void ql_insert(struct quicklist *ql, struct ql_pos *pos, bool after, const char *s, size_t len)
{
    struct ql_node *n = pos->node;
    ql->count++;
    if (ql_node_allows(n->lp, len)) {
        n->lp = lp_insert(n->lp, s, len, pos->p, after ? LP_AFTER : LP_BEFORE, NULL);
        return;
    }
    bool at_tail = after && lp_next(n->lp, pos->p) == NULL;
    bool at_head = !after && lp_prev(n->lp, pos->p) == NULL;
    if (at_tail && n->next && ql_node_allows(n->next->lp, len)) {
        n->next->lp = lp_prepend(n->next->lp, s, len);
        return;
    }
    if (at_head && n->prev && ql_node_allows(n->prev->lp, len)) {
        n->prev->lp = lp_append(n->prev->lp, s, len);
        return;
    }
    if (at_tail || at_head) {
        struct ql_node *m = node_new(lp_append(lp_new(0), s, len));
        link_after(ql, at_tail ? n : n->prev, m);
        return;
    }
    /* in the middle of a full node: split it, insert, merge what fits */
    long off = offset_of(n, pos->p) + (after ? 1 : 0);
    struct ql_node *m = split_node(ql, n, off);
    n->lp = lp_append(n->lp, s, len);
    try_merge_next(ql, n);
    if (m->prev)
        try_merge_next(ql, m->prev);
}

void ql_delete(struct quicklist *ql, struct ql_pos *pos, bool forward)
{
    struct ql_node *n = pos->node;
    unsigned char *next = NULL;
    unsigned char *prev = forward ? NULL : lp_prev(n->lp, pos->p);
    long prev_off = prev ? offset_of(n, prev) : -1;
    n->lp = lp_delete(n->lp, pos->p, &next);
    ql->count--;
    if (forward) {
        pos->p = next;
    } else {
        pos->p = prev_off >= 0 ? lp_seek(n->lp, prev_off) : NULL;
    }
    if (!pos->p) {
        struct ql_node *to = forward ? n->next : n->prev;
        pos->node = to;
        pos->p = to ? (forward ? lp_first(to->lp) : lp_last(to->lp)) : NULL;
    }
    if (lp_length(n->lp) == 0)
        unlink_node(ql, n);
}

void ql_delete_range(struct quicklist *ql, uint64_t start, uint64_t n)
{
    struct ql_node *node = ql->head;
    uint64_t seen = 0;
    while (node && n) {
        unsigned long c = ql_node_count(node);
        struct ql_node *next = node->next;
        if (seen + c <= start) {
            seen += c;
            node = next;
            continue;
        }
        uint64_t off = start > seen ? start - seen : 0;
        uint64_t take = c - off < n ? c - off : n;
        if (off == 0 && take == c) {
            unlink_node(ql, node);
        } else {
            node->lp = lp_delete_range(node->lp, (long)off, (unsigned long)take);
            seen += c - take;
        }
        ql->count -= take;
        n -= take;
        start = seen;
        node = next;
    }
}

/* ---------- type_ops ---------- */

static void list_free(void *ptr, int enc)
{
    (void)enc;
    ql_free(ptr);
}

static void *list_clone(const void *ptr, int enc)
{
    (void)enc;
    return ql_clone(ptr);
}

static size_t list_memory(const void *ptr, int enc)
{
    (void)enc;
    return ql_memory(ptr);
}

static int list_rdb_type(const void *ptr, int enc)
{
    (void)ptr;
    (void)enc;
    return RDB_TYPE_LIST_QUICKLIST_2;
}

static bool list_rdb_encode(struct buf *b, const void *ptr, int enc, int flags)
{
    (void)enc;
    const struct quicklist *ql = ptr;
    rdb_write_len(b, ql->nnodes);
    for (struct ql_node *n = ql->head; n; n = n->next) {
        unsigned char *p = lp_first(n->lp);
        struct lp_val v;
        if (p && lp_length(n->lp) == 1 && (lp_get(p, &v), v.sval && v.slen >= QL_PLAIN_THRESHOLD)) {
            rdb_write_len(b, QL_CONTAINER_PLAIN);
            rdb_write_string_ex(b, (const char *)v.sval, v.slen, flags);
            continue;
        }
        rdb_write_len(b, QL_CONTAINER_PACKED);
        rdb_write_string_ex(b, (const char *)n->lp, lp_bytes(n->lp), flags);
    }
    return true;
}

/* A node's listpack from the file: validated, then appended as is (empty
 * ones are skipped, as Redis does). */
static bool append_listpack(struct rdb_in *in, struct quicklist *ql, const char *blob, size_t len, size_t at)
{
    unsigned long count = 0;
    if (!lp_validate((const unsigned char *)blob, len, &count))
        return rdb_in_fail(in, at, "Listpack integrity check failed.");
    if (!count)
        return true;
    unsigned char *lp = smem_alloc(len);
    memcpy(lp, blob, len);
    link_after(ql, ql->tail, node_new(lp));
    ql->count += count;
    return true;
}

static bool append_ziplist(struct rdb_in *in, struct quicklist *ql, const char *blob, size_t len, size_t at,
                           bool repack)
{
    unsigned char *lp = lp_from_ziplist((const unsigned char *)blob, len);
    if (!lp)
        return rdb_in_fail(in, at, "Ziplist integrity check failed.");
    unsigned long count = lp_length(lp);
    if (!count) {
        lp_free(lp);
        return true;
    }
    if (!repack && !exceeds_limit(lp_bytes(lp), count)) {
        link_after(ql, ql->tail, node_new(lp));
        ql->count += count;
        return true;
    }
    /* too big for one node under the current limit: push element by element */
    char tmp[32];
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p)) {
        size_t l;
        const char *s = lp_get_str(p, tmp, &l);
        ql_push(ql, QL_TAIL, s, l);
    }
    lp_free(lp);
    return true;
}

static bool decode_nodes(struct rdb_in *in, struct quicklist *ql, bool v2, struct buf *scratch)
{
    uint64_t nodes;
    if (!rdb_read_len(in, &nodes))
        return false;
    for (uint64_t i = 0; i < nodes; i++) {
        uint64_t container = QL_CONTAINER_PACKED;
        if (v2) {
            size_t at = rdb_in_pos(in);
            if (!rdb_read_len(in, &container))
                return false;
            if (container != QL_CONTAINER_PACKED && container != QL_CONTAINER_PLAIN)
                return rdb_in_fail(in, at, "Quicklist integrity check failed.");
        }
        size_t at = rdb_in_pos(in);
        size_t len;
        scratch->len = 0;
        const char *blob = rdb_read_str(in, scratch, &len);
        if (!blob)
            return false;
        bool ok;
        if (container == QL_CONTAINER_PLAIN) {
            link_after(ql, ql->tail, node_new(lp_append(lp_new(0), blob, len)));
            ql->count++;
            ok = true;
        } else {
            ok = v2 ? append_listpack(in, ql, blob, len, at) : append_ziplist(in, ql, blob, len, at, false);
        }
        if (!ok)
            return false;
    }
    return true;
}

static void *list_rdb_decode(struct rdb_in *in, unsigned rdb_type, int *enc)
{
    struct quicklist *ql = ql_new();
    struct buf scratch;
    buf_init(&scratch);
    bool ok = true;
    if (rdb_type == RDB_TYPE_LIST_QUICKLIST_2 || rdb_type == RDB_TYPE_LIST_QUICKLIST) {
        ok = decode_nodes(in, ql, rdb_type == RDB_TYPE_LIST_QUICKLIST_2, &scratch);
    } else if (rdb_type == RDB_TYPE_LIST_ZIPLIST) {
        size_t len, at = rdb_in_pos(in);
        const char *blob = rdb_read_str(in, &scratch, &len);
        ok = blob && append_ziplist(in, ql, blob, len, at, true);
    } else if (rdb_type == RDB_TYPE_LIST) {
        uint64_t n;
        ok = rdb_read_len(in, &n);
        for (uint64_t i = 0; ok && i < n; i++) {
            size_t len;
            scratch.len = 0;
            const char *s = rdb_read_str(in, &scratch, &len);
            if (!s)
                ok = false;
            else
                ql_push(ql, QL_TAIL, s, len);
        }
    } else {
        ok = rdb_in_fail(in, rdb_in_pos(in), "Unknown list RDB type %u", rdb_type);
    }
    buf_free(&scratch);
    if (!ok || !ql->count) {
        ql_free(ql);
        return NULL;
    }
    *enc = OBJ_ENC_QUICKLIST;
    return ql;
}

const struct type_ops list_type_ops = {
    .name = "list",
    .free = list_free,
    .clone = list_clone,
    .memory = list_memory,
    .rdb_type = list_rdb_type,
    .rdb_encode = list_rdb_encode,
    .rdb_decode = list_rdb_decode,
};
