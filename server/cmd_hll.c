/* server/cmd_hll.c — the HyperLogLog family: PFADD PFCOUNT PFMERGE PFDEBUG
 * (GETREG DECODE ENCODING TODENSE) PFSELFTEST. Replies, errors and events
 * as Redis 7.0's hyperloglog.c.
 * Owns: HLL command semantics on string keys (sparse growth inside the
 * entry, promotion to dense at hll-sparse-max-bytes, the cached cardinality
 * PFCOUNT writes back). The representation is shard/hll.c; storage is
 * shard/ (string entries). PFCOUNT and PFMERGE run as msos: hop 0 merges the
 * registers of each shard's keys into a per-part array, the coordinator
 * takes the maximum, and PFMERGE's hop 1 writes the destination on its
 * owner, so keys on several threads are read and written atomically. */
#include "server/server.h"
#include "server/pubsub.h" /* pubsub: keyspace events */
#include "shard/hll.h"

#include <math.h>
#include <mimalloc.h>
#include <string.h>
#include <strings.h>

static const char ERR_HLL_INVALID[] = "INVALIDOBJ Corrupted HLL object detected";
static const char ERR_HLL_WRONGTYPE[] = "WRONGTYPE Key is not a valid HyperLogLog string value.";

/* Why a key cannot be used as an HLL, in reply order of precedence. */
enum hll_err { HE_NONE = 0, HE_WRONGTYPE, HE_NOTHLL, HE_INVALID };

static const char *hll_err_text(int err)
{
    switch (err) {
    case HE_WRONGTYPE:
        return ERR_WRONGTYPE;
    case HE_NOTHLL:
        return ERR_HLL_WRONGTYPE;
    default:
        return ERR_HLL_INVALID;
    }
}

static inline uint8_t *hll_bytes(struct entry *e) { return (uint8_t *)entry_str(e); }

/* isHLLObjectOrReply without the reply: a string of HLL shape (not an
 * integer-encoded one). */
static int hll_check(struct entry *e)
{
    if (e->type != OBJ_STRING)
        return HE_WRONGTYPE;
    if (e->enc == ENC_INT || !hll_valid(hll_bytes(e), e->val.str.len))
        return HE_NOTHLL;
    return HE_NONE;
}

/* The HLL under key; NULL when missing or unusable (*err tells). Reads
 * count keyspace hits and misses as lookupKeyRead does. */
static struct entry *hll_lookup(struct cmd_ctx *c, const struct arg *key, bool read, struct ks_ref *ref,
                                int *err)
{
    struct entry *e = db_find(c, key, ref);
    *err = HE_NONE;
    if (read && e)
        c->ks->stats.keyspace_hits++;
    else if (read)
        c->ks->stats.keyspace_misses++;
    if (!e)
        return NULL;
    db_touch(c, e);
    if ((*err = hll_check(e)))
        return NULL;
    return e;
}

/* A new empty sparse HLL under key. */
static struct entry *hll_create(struct cmd_ctx *c, const struct arg *key, struct ks_ref *ref)
{
    struct entry *e = entry_new_string_raw(key->p, key->len, "", 0, HLL_SPARSE_EMPTY_SIZE + HLL_SPARSE_SLACK);
    hll_init_sparse(hll_bytes(e));
    e->val.str.len = HLL_SPARSE_EMPTY_SIZE;
    e->enc = ENC_RAW;
    db_add(c, key, e);
    return db_find(c, key, ref);
}

/* dbUnshareStringValue: the value is modified in place from now on. */
static void hll_unshare(struct entry *e)
{
    if (e->enc == ENC_EMBSTR)
        e->enc = ENC_RAW;
}

/* Replace the sparse HLL at ref with its dense form (an exactly sized new
 * entry keeping expiry and access time). NULL when the sparse is corrupt. */
static struct entry *hll_promote(struct cmd_ctx *c, struct ks_ref *ref, struct entry *e)
{
    struct entry *n = entry_new_string_raw(entry_key(e), e->keylen, "", 0, HLL_DENSE_SIZE);
    if (!hll_sparse_to_dense(hll_bytes(e), e->val.str.len, hll_bytes(n))) {
        entry_free(n);
        return NULL;
    }
    n->val.str.len = HLL_DENSE_SIZE;
    n->enc = ENC_RAW;
    n->lru = e->lru;
    if (entry_has_expire(e))
        n = entry_set_expire(n, entry_expire(e));
    ks_replace(c->ks, c->db, ref, n);
    return n;
}

/* Raise register `reg` of the HLL at ref to `count` (hllSparseSet /
 * hllDenseSet): 1 updated, 0 unchanged, -1 corrupt. *ep follows the entry
 * when it moves. */
static int hll_set(struct cmd_ctx *c, struct ks_ref *ref, struct entry **ep, long reg, uint8_t count)
{
    struct entry *e = *ep;
    if (hll_encoding(hll_bytes(e)) == HLL_DENSE)
        return hll_dense_set(hll_bytes(e) + HLL_HDR_SIZE, reg, count);
    size_t len = e->val.str.len;
    if (e->val.str.cap < len + HLL_SPARSE_SLACK || e->enc != ENC_RAW) {
        e = entry_reserve_str(e, len + HLL_SPARSE_SLACK);
        ks_relink(c->ks, c->db, ref, e);
        *ep = e;
    }
    int r = hll_sparse_set(hll_bytes(e), &len, reg, count, c->w->cfg.hll_sparse_max_bytes);
    e->val.str.len = (uint32_t)len;
    if (r != HLL_SET_PROMOTE)
        return r;
    if (!(e = hll_promote(c, ref, e)))
        return -1;
    *ep = e;
    return hll_dense_set(hll_bytes(e) + HLL_HDR_SIZE, reg, count);
}

/* ---------- PFADD ---------- */

static void cmd_pfadd(struct cmd_ctx *c)
{
    const struct arg *key = &c->argv[1];
    struct ks_ref ref;
    int err, updated = 0;
    struct entry *e = hll_lookup(c, key, false, &ref, &err);
    if (err) {
        reply_error(&c->r, hll_err_text(err));
        return;
    }
    if (!e) {
        e = hll_create(c, key, &ref);
        updated++;
    } else {
        hll_unshare(e);
    }
    for (int j = 2; j < c->argc; j++) {
        long reg;
        int count = hll_pattern(c->argv[j].p, c->argv[j].len, &reg);
        int r = hll_set(c, &ref, &e, reg, (uint8_t)count);
        if (r < 0) {
            reply_error(&c->r, ERR_HLL_INVALID);
            return;
        }
        updated += r;
    }
    if (updated) {
        db_signal_modified(c, key);
        notify_keyspace_event(c, NOTIFY_STRING, "pfadd", key); /* pubsub: keyspace event */
        hll_cache_invalidate(hll_bytes(e));
    }
    reply_int(&c->r, updated ? 1 : 0);
}

/* ---------- PFCOUNT / PFMERGE: gathering registers ---------- */

/* Per part (parts[i].data): the maximum of each register over the part's
 * source keys, whether one of them was dense, and the first unusable key. */
struct hll_gather {
    uint8_t max[HLL_REGISTERS];
    bool dense;
    int err;
    int err_at; /* argv index of the key that failed */
};

/* Merge every key of this part from argv index `from` on into a new
 * gather; stops at the first unusable key (the reply names the earliest). */
static void hll_gather_part(struct cmd_ctx *c, struct mso_part *p, int from)
{
    struct hll_gather *g = mi_zalloc(sizeof(*g));
    p->data = g;
    for (int i = 0; i < c->nkeys; i++) {
        int idx = c->keyidx[i];
        if (idx < from)
            continue;
        int err;
        struct entry *e = hll_lookup(c, &c->argv[idx], true, NULL, &err);
        if (!err && e) {
            if (hll_encoding(hll_bytes(e)) == HLL_DENSE)
                g->dense = true;
            if (!hll_merge_max(g->max, hll_bytes(e), e->val.str.len))
                err = HE_INVALID;
        }
        if (err) {
            g->err = err;
            g->err_at = idx;
            return;
        }
    }
}

/* Coordinator: fold every part into parts[0]'s gather (the earliest error
 * wins). */
static struct hll_gather *hll_gather_fold(struct mso *t)
{
    struct hll_gather *all = t->parts[0].data;
    for (int p = 1; p < t->nparts; p++) {
        const struct hll_gather *g = t->parts[p].data;
        if (g->err && (!all->err || g->err_at < all->err_at)) {
            all->err = g->err;
            all->err_at = g->err_at;
        }
        all->dense |= g->dense;
        for (int i = 0; i < HLL_REGISTERS; i++)
            if (g->max[i] > all->max[i])
                all->max[i] = g->max[i];
    }
    return all;
}

/* ---------- PFCOUNT ---------- */

/* One key: the cached cardinality, or a fresh one written back to the
 * cache. parts[part].count = cardinality, count2 = error. */
static void pfcount_one(struct cmd_ctx *c, struct mso_part *p)
{
    const struct arg *key = &c->argv[1];
    int err;
    struct entry *e = hll_lookup(c, key, true, NULL, &err);
    p->count2 = err;
    if (!e)
        return;
    hll_unshare(e);
    uint64_t card;
    uint8_t *h = hll_bytes(e);
    if (!hll_cache_get(h, &card)) {
        bool invalid = false;
        card = hll_count(h, e->val.str.len, &invalid);
        if (invalid) {
            p->count2 = HE_INVALID;
            return;
        }
        hll_cache_set(h, card);
        db_signal_modified(c, key);
    }
    p->count = (int64_t)card;
}

static void pfcount_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)hop;
    if (t->argc == 2)
        pfcount_one(c, &t->parts[part]);
    else
        hll_gather_part(c, &t->parts[part], 1);
}

static void pfcount_reply(struct mso *t, struct reply *r)
{
    if (t->argc == 2) {
        if (t->parts[0].count2)
            reply_error(r, hll_err_text((int)t->parts[0].count2));
        else
            reply_int(r, t->parts[0].count);
        return;
    }
    struct hll_gather *g = hll_gather_fold(t);
    if (g->err) {
        reply_error(r, hll_err_text(g->err));
        return;
    }
    int histo[HLL_HISTO] = {0};
    hll_raw_histogram(g->max, histo);
    reply_int(r, (int64_t)hll_estimate(histo));
}

static const struct mso_ops pfcount_ops = {.hop = pfcount_hop, .next = mso_one_hop, .reply = pfcount_reply};

/* ---------- PFMERGE ---------- */

/* Hop 1 on the destination's owner: raise its registers to the merged
 * maximum (creating it, and making it dense when a source was). */
static int pfmerge_store(struct cmd_ctx *c, const struct hll_gather *g)
{
    const struct arg *key = &c->argv[1];
    struct ks_ref ref;
    int err;
    struct entry *e = hll_lookup(c, key, false, &ref, &err);
    if (err)
        return err;
    if (!e)
        e = hll_create(c, key, &ref);
    hll_unshare(e);
    if (g->dense && hll_encoding(hll_bytes(e)) == HLL_SPARSE && !(e = hll_promote(c, &ref, e)))
        return HE_INVALID;
    for (long j = 0; j < HLL_REGISTERS; j++)
        if (g->max[j] && hll_set(c, &ref, &e, j, g->max[j]) < 0)
            break; /* Redis ignores a failed sparse update here too */
    hll_cache_invalidate(hll_bytes(e));
    db_signal_modified(c, key);
    /* Redis signals PFMERGE as a mass PFADD */
    notify_keyspace_event(c, NOTIFY_STRING, "pfadd", key); /* pubsub: keyspace event */
    return HE_NONE;
}

static void pfmerge_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    if (hop == 0) {
        hll_gather_part(c, &t->parts[part], 1);
        return;
    }
    for (int i = 0; i < c->nkeys; i++)
        if (c->keyidx[i] == 1) {
            t->parts[part].count2 = pfmerge_store(c, t->state);
            return;
        }
}

static int pfmerge_next(struct mso *t, int hop)
{
    if (hop > 0)
        return -1;
    struct hll_gather *g = hll_gather_fold(t);
    if (g->err) {
        t->i64 = g->err;
        return -1;
    }
    /* hop 1 reads the gather through t->state, which now owns it */
    t->state = g;
    t->parts[0].data = NULL;
    return 1;
}

static void pfmerge_reply(struct mso *t, struct reply *r)
{
    int err = (int)t->i64;
    for (int p = 0; p < t->nparts && !err; p++)
        err = (int)t->parts[p].count2;
    if (err)
        reply_error(r, hll_err_text(err));
    else
        reply_ok(r);
}

static const struct mso_ops pfmerge_ops = {.hop = pfmerge_hop, .next = pfmerge_next, .reply = pfmerge_reply};

/* ---------- PFDEBUG ---------- */

static void cmd_pfdebug(struct cmd_ctx *c)
{
    const struct arg *sub = &c->argv[1], *key = &c->argv[2];
    struct ks_ref ref;
    int err;
    struct entry *e = hll_lookup(c, key, false, &ref, &err);
    if (!e && !err) {
        reply_error(&c->r, "ERR The specified key does not exist");
        return;
    }
    if (err) {
        reply_error(&c->r, hll_err_text(err));
        return;
    }
    hll_unshare(e);
    bool sparse = hll_encoding(hll_bytes(e)) == HLL_SPARSE;
    if (arg_eq(sub, "getreg")) {
        if (sparse && !(e = hll_promote(c, &ref, e))) {
            reply_error(&c->r, ERR_HLL_INVALID);
            return;
        }
        const uint8_t *regs = hll_bytes(e) + HLL_HDR_SIZE;
        reply_array(&c->r, HLL_REGISTERS);
        for (long j = 0; j < HLL_REGISTERS; j++)
            reply_int(&c->r, hll_dense_get(regs, j));
    } else if (arg_eq(sub, "decode")) {
        if (!sparse) {
            reply_error(&c->r, "ERR HLL encoding is not sparse");
            return;
        }
        struct buf out;
        buf_init(&out);
        hll_sparse_describe(hll_bytes(e), e->val.str.len, &out);
        reply_bulk(&c->r, out.data ? out.data : "", out.len);
        buf_free(&out);
    } else if (arg_eq(sub, "encoding")) {
        reply_status(&c->r, sparse ? "sparse" : "dense");
    } else if (arg_eq(sub, "todense")) {
        if (sparse && !hll_promote(c, &ref, e)) {
            reply_error(&c->r, ERR_HLL_INVALID);
            return;
        }
        reply_int(&c->r, sparse ? 1 : 0);
    } else {
        reply_errorf(&c->r, "ERR Unknown PFDEBUG subcommand '%.*s'", (int)sub->len, sub->p);
    }
}

/* ---------- PFSELFTEST ---------- */

/* A sparse-then-dense HLL in a heap buffer, for the self test. */
struct hll_heap {
    uint8_t *p;
    size_t len, cap;
};

static bool heap_add(struct hll_heap *h, const void *ele, size_t n, long long max_bytes)
{
    long reg;
    uint8_t count = (uint8_t)hll_pattern(ele, n, &reg);
    if (h->p[4] == HLL_DENSE)
        return hll_dense_set(h->p + HLL_HDR_SIZE, reg, count) >= 0;
    if (h->cap < h->len + HLL_SPARSE_SLACK) {
        h->cap = (h->len + HLL_SPARSE_SLACK) * 2;
        h->p = mi_realloc(h->p, h->cap);
    }
    int r = hll_sparse_set(h->p, &h->len, reg, count, max_bytes);
    if (r != HLL_SET_PROMOTE)
        return r >= 0;
    uint8_t *dense = mi_malloc(HLL_DENSE_SIZE);
    bool ok = hll_sparse_to_dense(h->p, h->len, dense);
    mi_free(h->p);
    h->p = dense;
    h->len = h->cap = HLL_DENSE_SIZE;
    return ok && hll_dense_set(h->p + HLL_HDR_SIZE, reg, count) >= 0;
}

static uint64_t selftest_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(0x2545f4914f6cdd1d);
}

#define HLL_TEST_CYCLES 1000

/* Test 1: registers keep their values and leave their neighbours alone. */
static bool selftest_registers(struct cmd_ctx *c, uint8_t *regs, uint64_t *rnd)
{
    uint8_t *want = mi_malloc(HLL_REGISTERS);
    bool ok = true;
    for (int j = 0; j < HLL_TEST_CYCLES && ok; j++) {
        for (long i = 0; i < HLL_REGISTERS; i++) {
            want[i] = (uint8_t)(selftest_rand(rnd) & HLL_REGISTER_MAX);
            hll_dense_put(regs, i, want[i]);
        }
        for (long i = 0; i < HLL_REGISTERS && ok; i++) {
            unsigned v = hll_dense_get(regs, i);
            if (v != want[i]) {
                reply_errorf(&c->r, "TESTFAILED Register %ld should be %d but is %u", i, want[i], v);
                ok = false;
            }
        }
    }
    mi_free(want);
    return ok;
}

/* Test 2: dense and sparse agree, sparse stays sparse while small, and the
 * error stays within six standard errors at powers of ten. */
static bool selftest_estimates(struct cmd_ctx *c, uint8_t *dense, uint64_t *rnd)
{
    long long max_bytes = c->w->cfg.hll_sparse_max_bytes;
    struct hll_heap h = {mi_malloc(64), HLL_SPARSE_EMPTY_SIZE, 64};
    hll_init_sparse(h.p);
    memset(dense + HLL_HDR_SIZE, 0, HLL_DENSE_SIZE - HLL_HDR_SIZE);
    double relerr = 1.04 / sqrt(HLL_REGISTERS);
    int64_t checkpoint = 1;
    uint64_t seed = selftest_rand(rnd);
    bool ok = true;
    for (int64_t j = 1; j <= 10000000 && ok; j++) {
        uint64_t ele = (uint64_t)j ^ seed;
        long reg;
        uint8_t count = (uint8_t)hll_pattern(&ele, sizeof(ele), &reg);
        hll_dense_set(dense + HLL_HDR_SIZE, reg, count);
        if (!heap_add(&h, &ele, sizeof(ele), max_bytes)) {
            reply_error(&c->r, "TESTFAILED sparse HLL corrupted");
            ok = false;
            break;
        }
        if (j != checkpoint)
            continue;
        if (j < max_bytes / 2 && h.p[4] != HLL_SPARSE) {
            reply_error(&c->r, "TESTFAILED sparse encoding not used");
            ok = false;
            break;
        }
        uint64_t dcount = hll_count(dense, HLL_DENSE_SIZE, NULL);
        if (dcount != hll_count(h.p, h.len, NULL)) {
            reply_error(&c->r, "TESTFAILED dense/sparse disagree");
            ok = false;
            break;
        }
        int64_t abserr = checkpoint - (int64_t)dcount;
        uint64_t maxerr = (uint64_t)ceil(relerr * 6 * (double)checkpoint);
        if (j == 10)
            maxerr = 1;
        if (abserr < 0)
            abserr = -abserr;
        if (abserr > (int64_t)maxerr) {
            reply_errorf(&c->r, "TESTFAILED Too big error. card:%llu abserr:%llu",
                         (unsigned long long)checkpoint, (unsigned long long)abserr);
            ok = false;
        }
        checkpoint *= 10;
    }
    mi_free(h.p);
    return ok;
}

static void cmd_pfselftest(struct cmd_ctx *c)
{
    uint8_t *dense = mi_zalloc(HLL_DENSE_SIZE);
    memcpy(dense, "HYLL", 4);
    uint64_t rnd = (uint64_t)ustime() | 1;
    if (selftest_registers(c, dense + HLL_HDR_SIZE, &rnd) && selftest_estimates(c, dense, &rnd))
        reply_ok(&c->r);
    mi_free(dense);
}

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM
#define A CMD_ADMIN
#define MK CMD_MULTIKEY

const struct command hll_commands[] = {
    {"pfadd", -2, W | D | F, 1, 1, 1, cmd_pfadd, .group = "hyperloglog", .summary = "Adds the specified elements to the specified HyperLogLog.", .since = "2.8.9", .complexity = "O(1) to add every element.", .acl = "write hyperloglog fast"},
    {"pfcount", -2, R | CMD_MAY_REPLICATE | MK, 1, -1, 1, NULL, .mso = &pfcount_ops, .group = "hyperloglog", .summary = "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).", .since = "2.8.9", .complexity = "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.", .acl = "read hyperloglog slow"},
    {"pfmerge", -2, W | D | MK, 1, -1, 1, NULL, .mso = &pfmerge_ops, .group = "hyperloglog", .summary = "Merge N different HyperLogLogs into a single one.", .since = "2.8.9", .complexity = "O(N) to merge N HyperLogLogs, but with high constant times.", .acl = "write hyperloglog slow"},
    {"pfdebug", 3, W | D | A, 2, 2, 1, cmd_pfdebug, .group = "hyperloglog", .summary = "Internal commands for debugging HyperLogLog values", .since = "2.8.9", .complexity = "N/A", .acl = "write hyperloglog admin slow dangerous"},
    {"pfselftest", 1, A, 0, 0, 0, cmd_pfselftest, .group = "hyperloglog", .summary = "An internal command for testing HyperLogLog values", .since = "2.8.9", .complexity = "N/A", .acl = "hyperloglog admin slow dangerous"},
    {NULL},
};
