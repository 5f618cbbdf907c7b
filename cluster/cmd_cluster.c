/* cluster/cmd_cluster.c — family: CLUSTER READONLY READWRITE ASKING DFLYCLUSTER,
 * and the data-plane redirection hook (MOVED, ASK, CROSSSLOT, CLUSTERDOWN),
 * also asked by MULTI when queueing and at EXEC (cluster_multi_refuse).
 * Read-only topology subcommands run on the connection's thread against that
 * thread's config (w->cluster). Every change (SETCONFIG, SETHEALTH, ADDSLOTS,
 * SETSLOT, ...) is a global op in two hops: hop 0 (shard 0) derives and
 * validates the new version and writes the file; hop 1 installs it on every
 * thread, so all threads switch together and nothing changes on error.
 * FLUSHSLOTS and RESET first count the keys on every thread (one more hop):
 * they are refused while the node holds keys, as in Redis.
 * Owns: the commands and the per-connection READONLY/ASKING flags (kept in
 * the bits of conn->cluster, no allocation). */
#include "cluster/cluster.h"
#include "cluster/config.h"
#include "server/server.h"

#include <limits.h>
#include <mimalloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ERR_DISABLED[] = "ERR This instance has cluster support disabled";

#define CF_READONLY ((uintptr_t)1)
#define CF_ASKING ((uintptr_t)2)

static inline uintptr_t conn_cflags(const struct conn *c) { return (uintptr_t)c->cluster; }
static inline void conn_set_cflags(struct conn *c, uintptr_t f) { c->cluster = (void *)f; }

static struct cl_config *cur_cfg(struct cmd_ctx *c)
{
    struct cl_config *cl = c->w->cluster;
    if (!cl)
        reply_error(&c->r, ERR_DISABLED);
    return cl;
}

/* ---------- a growing text buffer ---------- */

struct tb {
    char *p;
    size_t n, cap;
};

static void tb_add(struct tb *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_add(struct tb *s, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = s->cap ? vsnprintf(s->p + s->n, s->cap - s->n, fmt, ap) : -1;
        va_end(ap);
        if (k >= 0 && (size_t)k < s->cap - s->n) {
            s->n += (size_t)k;
            return;
        }
        s->cap = s->cap * 2 + (size_t)(k > 0 ? k : 0) + 256;
        s->p = mi_realloc(s->p, s->cap);
    }
}

/* ---------- derived facts ---------- */

static int cluster_size(const struct cl_config *cl)
{
    int n = 0;
    for (int i = 0; i < cl->nshards; i++)
        n += cl->shards[i].nranges > 0;
    return n;
}

static bool full_coverage(const struct worker *w)
{
    char v[16];
    if (config_format(&w->cfg, "cluster-require-full-coverage", v, sizeof(v)))
        return strcmp(v, "no") != 0;
    return true;
}

static bool state_ok(const struct worker *w, const struct cl_config *cl)
{
    int size = 0, reachable = 0;
    for (int i = 0; i < cl->nshards; i++) {
        if (!cl->shards[i].nranges)
            continue;
        size++;
        reachable += cl->nodes[cl->shards[i].master].health != CL_FAIL;
    }
    if (size == 0 || reachable < size / 2 + 1)
        return false;
    if (full_coverage(w) && (cl->slots_assigned != CLUSTER_SLOTS || cl->slots_fail))
        return false;
    return true;
}

static uint64_t current_epoch(const struct cl_config *cl)
{
    uint64_t e = 0;
    for (int i = 0; i < cl->nnodes; i++)
        if (cl->nodes[i].epoch > e)
            e = cl->nodes[i].epoch;
    return e;
}

/* ---------- CLUSTER NODES lines ---------- */

static void node_line(struct tb *s, const struct cl_config *cl, int idx)
{
    const struct cl_node *n = &cl->nodes[idx];
    const struct cl_shard *sh = &cl->shards[n->shard];
    bool me = idx == cl->myself;
    tb_add(s, "%s %s:%d@%d %s%s%s %s 0 0 %llu %s", n->id, n->ip, n->port, n->port + 10000, me ? "myself," : "",
           n->master ? "master" : "slave", n->health == CL_FAIL ? ",fail" : "",
           n->master ? "-" : cl->nodes[sh->master].id, (unsigned long long)n->epoch,
           n->health == CL_FAIL ? "disconnected" : "connected");
    if (n->master)
        for (int r = 0; r < sh->nranges; r++) {
            if (sh->ranges[r].start == sh->ranges[r].end)
                tb_add(s, " %d", sh->ranges[r].start);
            else
                tb_add(s, " %d-%d", sh->ranges[r].start, sh->ranges[r].end);
        }
    if (me) {
        for (int slot = 0; slot < CLUSTER_SLOTS; slot++) {
            if (cl->migrating_to[slot] >= 0)
                tb_add(s, " [%d->-%s]", slot, cl->nodes[cl->migrating_to[slot]].id);
            if (cl->importing_from[slot] >= 0)
                tb_add(s, " [%d-<-%s]", slot, cl->nodes[cl->importing_from[slot]].id);
        }
    }
}

static void cmd_nodes(struct cmd_ctx *c)
{
    struct cl_config *cl = cur_cfg(c);
    if (!cl)
        return;
    struct tb s = {0};
    tb_add(&s, "%s", "");
    /* myself first, as Redis does not promise an order; then shard order */
    for (int sh = 0; sh < cl->nshards; sh++) {
        const struct cl_shard *x = &cl->shards[sh];
        for (int k = -1; k < x->nreplicas; k++) {
            int idx = k < 0 ? x->master : x->replicas[k];
            if (!cl->nodes[idx].master && cl->nodes[idx].health == CL_HIDDEN)
                continue;
            node_line(&s, cl, idx);
            tb_add(&s, "\n");
        }
    }
    reply_verbatim(&c->r, s.p, s.n, "txt");
    mi_free(s.p);
}

static void cmd_replicas(struct cmd_ctx *c)
{
    struct cl_config *cl = cur_cfg(c);
    if (!cl)
        return;
    int idx = cl_find_node(cl, c->argv[2].p, c->argv[2].len);
    if (idx < 0) {
        reply_errorf(&c->r, "ERR Unknown node %.*s", (int)(c->argv[2].len > 64 ? 64 : c->argv[2].len),
                     c->argv[2].p);
        return;
    }
    if (!cl->nodes[idx].master) {
        reply_error(&c->r, "ERR The specified node is not a master");
        return;
    }
    const struct cl_shard *sh = &cl->shards[cl->nodes[idx].shard];
    int n = 0;
    for (int k = 0; k < sh->nreplicas; k++)
        n += cl->nodes[sh->replicas[k]].health != CL_HIDDEN;
    reply_array(&c->r, n);
    for (int k = 0; k < sh->nreplicas; k++) {
        if (cl->nodes[sh->replicas[k]].health == CL_HIDDEN)
            continue;
        struct tb s = {0};
        node_line(&s, cl, sh->replicas[k]);
        reply_bulk(&c->r, s.p, s.n);
        mi_free(s.p);
    }
}

/* ---------- CLUSTER SLOTS ---------- */

struct slot_entry {
    int start, end, shard;
};

static int cmp_entry(const void *a, const void *b)
{
    return ((const struct slot_entry *)a)->start - ((const struct slot_entry *)b)->start;
}

static void slots_node(struct reply *r, const struct cl_node *n)
{
    reply_array(r, 4);
    reply_bulkz(r, n->ip);
    reply_int(r, n->port);
    reply_bulkz(r, n->id);
    reply_map(r, 0);
}

static void cmd_slots(struct cmd_ctx *c)
{
    struct cl_config *cl = cur_cfg(c);
    if (!cl)
        return;
    int total = 0;
    for (int i = 0; i < cl->nshards; i++)
        total += cl->shards[i].nranges;
    struct slot_entry *e = mi_malloc(sizeof(*e) * (size_t)(total + 1));
    int n = 0;
    for (int i = 0; i < cl->nshards; i++)
        for (int r = 0; r < cl->shards[i].nranges; r++)
            e[n++] = (struct slot_entry){cl->shards[i].ranges[r].start, cl->shards[i].ranges[r].end, i};
    qsort(e, (size_t)n, sizeof(*e), cmp_entry);
    reply_array(&c->r, n);
    for (int i = 0; i < n; i++) {
        const struct cl_shard *sh = &cl->shards[e[i].shard];
        int online = 0;
        for (int k = 0; k < sh->nreplicas; k++)
            online += cl->nodes[sh->replicas[k]].health == CL_ONLINE;
        reply_array(&c->r, 3 + online);
        reply_int(&c->r, e[i].start);
        reply_int(&c->r, e[i].end);
        slots_node(&c->r, &cl->nodes[sh->master]);
        for (int k = 0; k < sh->nreplicas; k++)
            if (cl->nodes[sh->replicas[k]].health == CL_ONLINE)
                slots_node(&c->r, &cl->nodes[sh->replicas[k]]);
    }
    mi_free(e);
}

/* ---------- CLUSTER SHARDS ---------- */

static void shards_node(struct reply *r, const struct cl_node *n)
{
    reply_map(r, 7);
    reply_bulkz(r, "id");
    reply_bulkz(r, n->id);
    reply_bulkz(r, "port");
    reply_int(r, n->port);
    reply_bulkz(r, "ip");
    reply_bulkz(r, n->ip);
    reply_bulkz(r, "endpoint");
    reply_bulkz(r, n->ip);
    reply_bulkz(r, "role");
    reply_bulkz(r, n->master ? "master" : "replica");
    reply_bulkz(r, "replication-offset");
    reply_int(r, 0);
    reply_bulkz(r, "health");
    reply_bulkz(r, cl_health_name(n->health));
}

static void cmd_shards(struct cmd_ctx *c)
{
    struct cl_config *cl = cur_cfg(c);
    if (!cl)
        return;
    reply_array(&c->r, cl->nshards);
    for (int i = 0; i < cl->nshards; i++) {
        const struct cl_shard *sh = &cl->shards[i];
        reply_map(&c->r, 2);
        reply_bulkz(&c->r, "slots");
        reply_array(&c->r, 2 * sh->nranges);
        for (int r = 0; r < sh->nranges; r++) {
            reply_int(&c->r, sh->ranges[r].start);
            reply_int(&c->r, sh->ranges[r].end);
        }
        reply_bulkz(&c->r, "nodes");
        int n = 1;
        for (int k = 0; k < sh->nreplicas; k++)
            n += cl->nodes[sh->replicas[k]].health != CL_HIDDEN;
        reply_array(&c->r, n);
        shards_node(&c->r, &cl->nodes[sh->master]);
        for (int k = 0; k < sh->nreplicas; k++)
            if (cl->nodes[sh->replicas[k]].health != CL_HIDDEN)
                shards_node(&c->r, &cl->nodes[sh->replicas[k]]);
    }
}

/* ---------- CLUSTER INFO, MYID, MYSHARDID, KEYSLOT, LINKS, HELP ---------- */

static void cmd_info(struct cmd_ctx *c)
{
    struct cl_config *cl = cur_cfg(c);
    if (!cl)
        return;
    struct tb s = {0};
    tb_add(&s,
           "cluster_state:%s\r\ncluster_slots_assigned:%d\r\ncluster_slots_ok:%d\r\ncluster_slots_pfail:0\r\n"
           "cluster_slots_fail:%d\r\ncluster_known_nodes:%d\r\ncluster_size:%d\r\ncluster_current_epoch:%llu\r\n"
           "cluster_my_epoch:%llu\r\ncluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\n"
           "total_cluster_links_buffer_limit_exceeded:0\r\n",
           state_ok(c->w, cl) ? "ok" : "fail", cl->slots_assigned, cl->slots_assigned - cl->slots_fail,
           cl->slots_fail, cl->nnodes, cluster_size(cl), (unsigned long long)current_epoch(cl),
           (unsigned long long)(cl->myself >= 0 ? cl->nodes[cl->myself].epoch : 0));
    reply_verbatim(&c->r, s.p, s.n, "txt");
    mi_free(s.p);
}

static void cmd_myid(struct cmd_ctx *c)
{
    struct cl_config *cl = cur_cfg(c);
    if (cl)
        reply_bulkz(&c->r, cl->myid);
}

static void cmd_myshardid(struct cmd_ctx *c)
{
    struct cl_config *cl = cur_cfg(c);
    if (!cl)
        return;
    const char *base = cl->myself >= 0 ? cl->nodes[cl->shards[cl->nodes[cl->myself].shard].master].id : cl->myid;
    char out[41];
    static const char hex[] = "0123456789abcdef";
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 40; i++) {
        for (const char *p = base; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ull;
        h = (h ^ (uint64_t)i) * 1099511628211ull;
        out[i] = hex[(h >> 29) & 15];
    }
    out[40] = 0;
    reply_bulkz(&c->r, out);
}

static void cmd_keyslot(struct cmd_ctx *c)
{
    if (!cur_cfg(c))
        return;
    reply_int(&c->r, key_hash_slot(c->argv[2].p, c->argv[2].len));
}

static void cmd_links(struct cmd_ctx *c)
{
    if (cur_cfg(c))
        reply_array(&c->r, 0);
}

static void cmd_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ADDSLOTS <slot> [<slot> ...]", "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
        "COUNTKEYSINSLOT <slot>", "DELSLOTS <slot> [<slot> ...]",
        "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]", "FLUSHSLOTS",
        "GETKEYSINSLOT <slot> <count>", "INFO", "KEYSLOT <key>", "LINKS", "MYID", "MYSHARDID", "NODES",
        "REPLICAS <node-id>", "RESET [HARD|SOFT]", "SET-CONFIG-EPOCH <epoch>",
        "SETCONFIG <json>", "    Replace the whole cluster configuration (Dragonfly's schema).",
        "SETHEALTH <node-id> online|loading|fail|hidden",
        "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)", "SHARDS", "SLAVES <node-id>",
        "SLOTS", "HELP", "    Prints this help.",
    };
    reply_array(&c->r, sizeof(lines) / sizeof(lines[0]));
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        reply_status(&c->r, lines[i]);
}

/* ---------- COUNTKEYSINSLOT / GETKEYSINSLOT: on the slot's thread ---------- */

static int slot_route(const struct arg *argv, int argc)
{
    long long s;
    if (argc >= 3 && arg_to_ll(&argv[2], &s) && s >= 0 && s < CLUSTER_SLOTS)
        return g_slot_owner[s];
    return worker_self() ? worker_self()->id : 0;
}

static void cmd_countkeysinslot(struct cmd_ctx *c)
{
    if (!cur_cfg(c))
        return;
    long long s;
    if (!arg_get_ll(c, &c->argv[2], &s))
        return;
    if (s < 0 || s >= CLUSTER_SLOTS) {
        reply_error(&c->r, "ERR Invalid slot");
        return;
    }
    reply_int(&c->r, (int64_t)ks_slot_count(c->ks, c->db, (unsigned)s));
}

struct gk {
    struct reply *r;
    long long left;
    long long n;
    struct tb keys;
};

static void gk_visit(struct entry *e, void *arg)
{
    struct gk *g = arg;
    if (g->left <= 0)
        return;
    g->left--;
    g->n++;
    struct reply r = {NULL, 2};
    (void)r;
    uint32_t len = e->keylen;
    tb_add(&g->keys, "$%u\r\n", len);
    if (g->keys.cap - g->keys.n < (size_t)len + 3) {
        g->keys.cap = g->keys.cap * 2 + len + 3;
        g->keys.p = mi_realloc(g->keys.p, g->keys.cap);
    }
    memcpy(g->keys.p + g->keys.n, entry_ckey(e), len);
    g->keys.n += len;
    memcpy(g->keys.p + g->keys.n, "\r\n", 2);
    g->keys.n += 2;
}

static void cmd_getkeysinslot(struct cmd_ctx *c)
{
    if (!cur_cfg(c))
        return;
    long long s, max;
    if (!arg_get_ll(c, &c->argv[2], &s) || !arg_get_ll(c, &c->argv[3], &max))
        return;
    if (max < 0 || s < 0 || s >= CLUSTER_SLOTS) {
        reply_error(&c->r, "ERR Invalid slot or number of keys");
        return;
    }
    struct gk g = {&c->r, max, 0, {0}};
    struct table *t = ks_slot_table(c->ks, c->db, (unsigned)s);
    if (t) {
        uint64_t cursor = 0;
        do
            cursor = table_scan(t, cursor, gk_visit, &g);
        while (cursor && g.left > 0);
    }
    reply_array(&c->r, g.n);
    if (g.keys.n)
        reply_raw(&c->r, g.keys.p, g.keys.n);
    mi_free(g.keys.p);
}

/* ---------- READONLY / READWRITE / ASKING ---------- */

static void cmd_readonly(struct cmd_ctx *c)
{
    if (!cur_cfg(c))
        return;
    conn_set_cflags(c->conn, conn_cflags(c->conn) | CF_READONLY);
    reply_ok(&c->r);
}

static void cmd_readwrite(struct cmd_ctx *c)
{
    if (!cur_cfg(c))
        return;
    conn_set_cflags(c->conn, conn_cflags(c->conn) & ~CF_READONLY);
    reply_ok(&c->r);
}

static void cmd_asking(struct cmd_ctx *c)
{
    if (!cur_cfg(c))
        return;
    conn_set_cflags(c->conn, conn_cflags(c->conn) | CF_ASKING);
    reply_ok(&c->r);
}

/* ---------- changes: a new version on every thread ---------- */

typedef struct cl_config *(*mutate_fn)(const struct cl_config *cur, const struct mso *t, struct worker *w,
                                        char *err, size_t errlen);

struct mut_result {
    char err[512];
    struct cl_config *next;
};

static void mut_hop(struct cmd_ctx *c, struct mso *t, int part, int hop, mutate_fn fn)
{
    if (hop == 0) {
        if (part != 0)
            return;
        struct mut_result *res = mi_zalloc(sizeof(*res));
        t->parts[0].data = res;
        struct cl_config *cur = c->w->cluster;
        if (!cur) {
            snprintf(res->err, sizeof(res->err), "%s", ERR_DISABLED);
            return;
        }
        struct cl_config *next = fn(cur, t, c->w, res->err, sizeof(res->err));
        if (!next)
            return;
        next->version = cur->version + 1;
        char perr[400];
        if (!cl_persist(next, perr, sizeof(perr))) {
            snprintf(res->err, sizeof(res->err), "ERR %s", perr);
            cl_free(next);
            return;
        }
        atomic_store(&next->refs, g_nworkers);
        res->next = next;
        return;
    }
    struct mut_result *res = t->parts[0].data;
    cl_install(c->w, res->next);
}

static int mut_next(struct mso *t, int hop)
{
    const struct mut_result *res = t->parts[0].data;
    return hop == 0 && res && res->next ? 1 : -1;
}

static void mut_reply(struct mso *t, struct reply *r)
{
    const struct mut_result *res = t->parts[0].data;
    if (!r)
        return;
    if (!res)
        reply_error(r, "ERR internal error");
    else if (res->err[0])
        reply_error(r, res->err);
    else
        reply_ok(r);
}

#define MUTATION(name)                                                                                       \
    static void name##_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)                             \
    {                                                                                                        \
        mut_hop(c, t, part, hop, name);                                                                      \
    }                                                                                                        \
    static const struct mso_ops name##_ops = {                                                               \
        .hop = name##_hop, .next = mut_next, .reply = mut_reply, .global = true};

/* A change that depends on the keys this node holds: hop 0 counts the keys
 * of the connection's database on every thread (parts[i].count, read by the
 * mutation through keys_held), then the two hops above. */
static int mut_next_counted(struct mso *t, int hop)
{
    return hop == 0 ? 1 : mut_next(t, hop - 1) < 0 ? -1 : hop + 1;
}

static int64_t keys_held(const struct mso *t)
{
    int64_t n = 0;
    for (int i = 0; i < t->nparts; i++)
        n += t->parts[i].count;
    return n;
}

#define MUTATION_COUNTED(name)                                                                               \
    static void name##_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)                             \
    {                                                                                                        \
        if (hop == 0)                                                                                        \
            t->parts[part].count = (int64_t)ks_db_size(c->ks, c->db);                                        \
        else                                                                                                 \
            mut_hop(c, t, part, hop - 1, name);                                                              \
    }                                                                                                        \
    static const struct mso_ops name##_ops = {                                                               \
        .hop = name##_hop, .next = mut_next_counted, .reply = mut_reply, .global = true};

static struct cl_config *fail_with(struct cl_config *n, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static struct cl_config *fail_with(struct cl_config *n, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    cl_free(n);
    return NULL;
}

/* Finalize a derived copy; a validation failure becomes the error. */
static struct cl_config *finish(struct cl_config *n, char *err, size_t errlen)
{
    char why[256];
    if (cl_finalize(n, false, why, sizeof(why)))
        return fail_with(n, err, errlen, "ERR %s", why);
    return n;
}

static struct cl_config *m_setconfig(const struct cl_config *cur, const struct mso *t, struct worker *w, char *err,
                                     size_t errlen)
{
    (void)w;
    int ai = t->argc - 1;
    char why[400];
    struct cl_config *n = cl_from_json(t->argv[ai].p, t->argv[ai].len, cur->myid, why, sizeof(why));
    if (!n) {
        snprintf(err, errlen, "ERR Invalid cluster configuration: %s", why);
        return NULL;
    }
    return n;
}
MUTATION(m_setconfig)

static struct cl_config *m_sethealth(const struct cl_config *cur, const struct mso *t, struct worker *w, char *err,
                                     size_t errlen)
{
    (void)w;
    int idx = cl_find_node(cur, t->argv[2].p, t->argv[2].len);
    if (idx < 0)
        return fail_with(NULL, err, errlen, "ERR Unknown node %.*s", (int)(t->argv[2].len > 64 ? 64 : t->argv[2].len),
                         t->argv[2].p);
    char h[16];
    snprintf(h, sizeof(h), "%.*s", (int)(t->argv[3].len > 15 ? 15 : t->argv[3].len), t->argv[3].p);
    int health = t->argv[3].len < 16 ? cl_health_parse(h) : -1;
    if (health < 0)
        return fail_with(NULL, err, errlen, "ERR Invalid health, must be one of online, loading, fail, hidden");
    struct cl_config *n = cl_copy(cur);
    n->nodes[idx].health = health;
    return finish(n, err, errlen);
}
MUTATION(m_sethealth)

/* Per-slot ownership edits: the shard of every slot, then ranges rebuilt. */
static void set_owners(struct cl_config *n, const int16_t *owner)
{
    for (int i = 0; i < n->nshards; i++) {
        struct cl_shard *sh = &n->shards[i];
        int cnt = 0;
        for (int s = 0; s < CLUSTER_SLOTS; s++)
            if (owner[s] == i && (s == 0 || owner[s - 1] != i))
                cnt++;
        mi_free(sh->ranges);
        sh->ranges = cnt ? mi_malloc(sizeof(struct cl_range) * (size_t)cnt) : NULL;
        sh->nranges = 0;
        for (int s = 0; s < CLUSTER_SLOTS; s++) {
            if (owner[s] != i)
                continue;
            if (s == 0 || owner[s - 1] != i)
                sh->ranges[sh->nranges++] = (struct cl_range){s, s};
            else
                sh->ranges[sh->nranges - 1].end = s;
        }
    }
}

static bool parse_slot(const struct arg *a, int *out)
{
    long long v;
    if (!arg_to_ll(a, &v) || v < 0 || v >= CLUSTER_SLOTS)
        return false;
    *out = (int)v;
    return true;
}

/* ADDSLOTS, DELSLOTS and their RANGE forms. */
static struct cl_config *slots_edit(const struct cl_config *cur, const struct mso *t, char *err, size_t errlen,
                                    bool add, bool range)
{
    if (cur->myself < 0 && add)
        return fail_with(NULL, err, errlen, "ERR This node is not part of the cluster configuration");
    if (range && (t->argc - 2) % 2)
        return fail_with(NULL, err, errlen, "ERR wrong number of arguments for '%s' command", t->cmd->name);
    int16_t *owner = mi_malloc(sizeof(int16_t) * CLUSTER_SLOTS);
    memcpy(owner, cur->slot_shard, sizeof(int16_t) * CLUSTER_SLOTS);
    uint8_t *seen = mi_zalloc(CLUSTER_SLOTS);
    int myshard = cur->myself >= 0 ? cur->nodes[cur->myself].shard : -1;
    struct cl_config *res = NULL;
    for (int i = 2; i < t->argc; i += range ? 2 : 1) {
        int a, b;
        if (!parse_slot(&t->argv[i], &a) || (range && !parse_slot(&t->argv[i + 1], &b))) {
            fail_with(NULL, err, errlen, "ERR Invalid or out of range slot");
            goto out;
        }
        if (!range)
            b = a;
        if (a > b) {
            fail_with(NULL, err, errlen, "ERR start slot number %d is greater than end slot number %d", a, b);
            goto out;
        }
        for (int s = a; s <= b; s++) {
            if (seen[s]) {
                fail_with(NULL, err, errlen, "ERR Slot %d specified multiple times", s);
                goto out;
            }
            seen[s] = 1;
            if (add && cur->slot_shard[s] >= 0) {
                fail_with(NULL, err, errlen, "ERR Slot %d is already busy", s);
                goto out;
            }
            if (!add && cur->slot_shard[s] < 0) {
                fail_with(NULL, err, errlen, "ERR Slot %d is already unassigned", s);
                goto out;
            }
            owner[s] = add ? (int16_t)myshard : -1;
        }
    }
    res = cl_copy(cur);
    set_owners(res, owner);
    res = finish(res, err, errlen);
out:
    mi_free(owner);
    mi_free(seen);
    return res;
}

static struct cl_config *m_addslots(const struct cl_config *cur, const struct mso *t, struct worker *w, char *err,
                                    size_t errlen)
{
    (void)w;
    return slots_edit(cur, t, err, errlen, true, false);
}
MUTATION(m_addslots)

static struct cl_config *m_addslotsrange(const struct cl_config *cur, const struct mso *t, struct worker *w,
                                         char *err, size_t errlen)
{
    (void)w;
    return slots_edit(cur, t, err, errlen, true, true);
}
MUTATION(m_addslotsrange)

static struct cl_config *m_delslots(const struct cl_config *cur, const struct mso *t, struct worker *w, char *err,
                                    size_t errlen)
{
    (void)w;
    return slots_edit(cur, t, err, errlen, false, false);
}
MUTATION(m_delslots)

static struct cl_config *m_delslotsrange(const struct cl_config *cur, const struct mso *t, struct worker *w,
                                         char *err, size_t errlen)
{
    (void)w;
    return slots_edit(cur, t, err, errlen, false, true);
}
MUTATION(m_delslotsrange)

static struct cl_config *m_flushslots(const struct cl_config *cur, const struct mso *t, struct worker *w, char *err,
                                      size_t errlen)
{
    (void)w;
    if (keys_held(t))
        return fail_with(NULL, err, errlen, "ERR DB must be empty to perform CLUSTER FLUSHSLOTS.");
    struct cl_config *n = cl_copy(cur);
    if (cur->myself >= 0 && cur->nodes[cur->myself].master) {
        struct cl_shard *sh = &n->shards[cur->nodes[cur->myself].shard];
        mi_free(sh->ranges);
        sh->ranges = NULL;
        sh->nranges = 0;
    }
    return finish(n, err, errlen);
}
MUTATION_COUNTED(m_flushslots)

/* Drop `slot` from every migration (splitting ranges). */
static void mig_drop_slot(struct cl_config *n, int slot)
{
    struct cl_migration *out = mi_malloc(sizeof(*out) * (size_t)(n->nmig * 2 + 1));
    int k = 0;
    for (int i = 0; i < n->nmig; i++) {
        struct cl_migration m = n->migs[i];
        if (slot < m.start || slot > m.end) {
            out[k++] = m;
            continue;
        }
        if (m.start < slot)
            out[k++] = (struct cl_migration){m.start, slot - 1, m.from, m.to};
        if (slot < m.end)
            out[k++] = (struct cl_migration){slot + 1, m.end, m.from, m.to};
    }
    mi_free(n->migs);
    n->migs = out;
    n->nmig = k;
}

static void mig_add(struct cl_config *n, int slot, int from, int to)
{
    n->migs = mi_realloc(n->migs, sizeof(struct cl_migration) * (size_t)(n->nmig + 1));
    n->migs[n->nmig++] = (struct cl_migration){slot, slot, from, to};
}

static struct cl_config *m_setslot(const struct cl_config *cur, const struct mso *t, struct worker *w, char *err,
                                   size_t errlen)
{
    (void)w;
    int slot;
    if (!parse_slot(&t->argv[2], &slot))
        return fail_with(NULL, err, errlen, "ERR Invalid or out of range slot");
    const struct arg *how = &t->argv[3];
    int me = cur->myself;
    if (me < 0)
        return fail_with(NULL, err, errlen, "ERR This node is not part of the cluster configuration");
    if (!cur->nodes[me].master)
        return fail_with(NULL, err, errlen, "ERR Please use SETSLOT only with masters.");
    int node = -1;
    bool stable = arg_eq(how, "stable");
    if (!stable) {
        if (!arg_eq(how, "importing") && !arg_eq(how, "migrating") && !arg_eq(how, "node"))
            return fail_with(NULL, err, errlen, "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP");
        if (t->argc != 5)
            return fail_with(NULL, err, errlen, "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP");
        node = cl_find_node(cur, t->argv[4].p, t->argv[4].len);
        if (node < 0)
            return fail_with(NULL, err, errlen, "ERR I don't know about node %.*s",
                             (int)(t->argv[4].len > 64 ? 64 : t->argv[4].len), t->argv[4].p);
    } else if (t->argc != 4) {
        return fail_with(NULL, err, errlen, "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP");
    }
    int myshard = cur->nodes[me].shard;
    struct cl_config *n = cl_copy(cur);
    if (arg_eq(how, "migrating")) {
        if (cur->slot_shard[slot] != myshard)
            return fail_with(n, err, errlen, "ERR I'm not the owner of hash slot %d", slot);
        if (node == me)
            return fail_with(n, err, errlen, "ERR Target node is myself");
        mig_drop_slot(n, slot);
        mig_add(n, slot, me, node);
    } else if (arg_eq(how, "importing")) {
        if (cur->slot_shard[slot] == myshard)
            return fail_with(n, err, errlen, "ERR I'm already the owner of hash slot %d", slot);
        if (node == me)
            return fail_with(n, err, errlen, "ERR Source node is myself");
        mig_drop_slot(n, slot);
        mig_add(n, slot, node, me);
    } else if (stable) {
        mig_drop_slot(n, slot);
    } else { /* NODE */
        if (!cur->nodes[node].master)
            return fail_with(n, err, errlen, "ERR Please use SETSLOT only with masters.");
        int16_t *owner = mi_malloc(sizeof(int16_t) * CLUSTER_SLOTS);
        memcpy(owner, cur->slot_shard, sizeof(int16_t) * CLUSTER_SLOTS);
        owner[slot] = (int16_t)cur->nodes[node].shard;
        set_owners(n, owner);
        mi_free(owner);
        mig_drop_slot(n, slot);
        if (node == me) /* Redis bumps the epoch of a node taking a slot */
            n->nodes[me].epoch = current_epoch(cur) + 1;
    }
    return finish(n, err, errlen);
}
MUTATION(m_setslot)

static struct cl_config *m_reset(const struct cl_config *cur, const struct mso *t, struct worker *w, char *err,
                                 size_t errlen)
{
    (void)err;
    (void)errlen;
    bool hard = false;
    if (t->argc == 3) {
        if (arg_eq(&t->argv[2], "hard"))
            hard = true;
        else if (!arg_eq(&t->argv[2], "soft"))
            return fail_with(NULL, err, errlen, "%s", ERR_SYNTAX);
    } else if (t->argc > 3) {
        return fail_with(NULL, err, errlen, "%s", ERR_SYNTAX);
    }
    /* replicas may be reset holding data, masters (or a node outside any
     * configuration, a master of no slots in Redis) not */
    if ((cur->myself < 0 || cur->nodes[cur->myself].master) && keys_held(t))
        return fail_with(NULL, err, errlen, "ERR CLUSTER RESET can't be called with master nodes containing keys");
    char id[41];
    const char *myid = cur->myid;
    if (hard) {
        cl_random_id(id);
        myid = id;
    }
    const char *ip = cur->myself >= 0 ? cur->nodes[cur->myself].ip : "127.0.0.1";
    int port = cur->myself >= 0 ? cur->nodes[cur->myself].port : w->cfg.port;
    struct cl_config *n = cl_new_self(myid, ip, port);
    if (!hard && cur->myself >= 0)
        n->nodes[0].epoch = cur->nodes[cur->myself].epoch;
    return n;
}
MUTATION_COUNTED(m_reset)

static struct cl_config *m_setepoch(const struct cl_config *cur, const struct mso *t, struct worker *w, char *err,
                                    size_t errlen)
{
    (void)w;
    long long e;
    if (!arg_to_ll(&t->argv[2], &e))
        return fail_with(NULL, err, errlen, "%s", ERR_NOT_INT);
    if (e < 0)
        return fail_with(NULL, err, errlen, "ERR Invalid config epoch specified: %lld", e);
    if (cur->nnodes > 1)
        return fail_with(NULL, err, errlen,
                         "ERR The user can assign a config epoch only when the node does not know any other node.");
    if (cur->myself < 0 || cur->nodes[cur->myself].epoch != 0)
        return fail_with(NULL, err, errlen, "ERR Node config epoch is already non-zero");
    struct cl_config *n = cl_copy(cur);
    n->nodes[n->myself].epoch = (uint64_t)e;
    return finish(n, err, errlen);
}
MUTATION(m_setepoch)

/* ---------- the data plane ---------- */

/* A copy of a command whose handler first checks, on the slot's thread,
 * that the keys of a MIGRATING slot are still here (else -ASK). */
struct wrap {
    struct command cmd; /* first: ctx->cmd points here */
    const struct command *orig;
};

static pthread_mutex_t g_wrap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wrap *g_wraps[1024];
static int g_nwraps;

static void redirect_error(struct buf *b, int resp, struct worker *w, const char *msg)
{
    struct reply r = {b, resp};
    stats_count_error(w, msg, strlen(msg));
    reply_error(&r, msg);
}

static void migrating_trampoline(struct cmd_ctx *ctx)
{
    const struct wrap *wp = (const struct wrap *)ctx->cmd;
    struct cl_config *cl = ctx->w->cluster;
    unsigned slot = arg_slot(&ctx->argv[ctx->keyidx[0]]);
    if (cl && cl->migrating_to[slot] >= 0) {
        int missing = 0;
        for (int i = 0; i < ctx->nkeys; i++) {
            const struct arg *k = &ctx->argv[ctx->keyidx[i]];
            missing += ks_find(ctx->ks, ctx->db, slot, k->p, k->len, ctx->now_ms, NULL) == NULL;
        }
        if (missing) {
            char msg[128];
            const struct cl_node *to = &cl->nodes[cl->migrating_to[slot]];
            if (missing == ctx->nkeys)
                snprintf(msg, sizeof(msg), "ASK %u %s:%d", slot, to->ip, to->port);
            else
                snprintf(msg, sizeof(msg), "TRYAGAIN Multiple keys request during rehashing of slot");
            redirect_error(ctx->r.b, ctx->r.resp, ctx->w, msg);
            return;
        }
    }
    ctx->cmd = wp->orig;
    if (!wp->orig->mso) {
        wp->orig->handler(ctx);
        return;
    }
    /* a multi-key command with all keys here: its hops, as transaction.c
     * runs a single-part operation */
    const struct mso_ops *ops = wp->orig->mso;
    struct mso_part part = {.shard = ctx->w->id, .nkeys = ctx->nkeys, .keyidx = ctx->keyidx};
    struct mso t = {.cmd = wp->orig, .ops = ops, .db = ctx->db, .resp = ctx->r.resp, .client_id = ctx->client_id,
                    .argc = ctx->argc, .argv = ctx->argv, .nparts = 1, .parts = &part, .single = true};
    buf_init(&part.out);
    for (int hop = 0; hop >= 0; hop = ops->next(&t, hop)) {
        struct reply saved = ctx->r;
        ctx->r.b = &part.out;
        ops->hop(ctx, &t, 0, hop);
        ctx->r = saved;
    }
    ops->reply(&t, &ctx->r);
    buf_free(&part.out);
    mi_free(part.data);
    buf_free(&t.scratch);
    mi_free(t.state);
}

static const struct command *wrapped(const struct command *cmd)
{
    const struct command *res = NULL;
    pthread_mutex_lock(&g_wrap_lock);
    for (int i = 0; i < g_nwraps && !res; i++)
        if (g_wraps[i]->orig == cmd)
            res = &g_wraps[i]->cmd;
    if (!res && g_nwraps < (int)(sizeof(g_wraps) / sizeof(g_wraps[0]))) {
        struct wrap *wp = mi_zalloc(sizeof(*wp));
        wp->cmd = *cmd;
        wp->cmd.handler = migrating_trampoline;
        wp->cmd.mso = NULL;
        wp->orig = cmd;
        g_wraps[g_nwraps++] = wp;
        res = &wp->cmd;
    }
    pthread_mutex_unlock(&g_wrap_lock);
    return res;
}

static void reply_now(struct conn *c, const char *msg)
{
    struct pending *pend;
    struct buf *b = conn_begin_reply(c, &pend);
    redirect_error(b, c->resp, c->w, msg);
    conn_end_reply(c, pend);
}

enum { ROUTE_HERE, ROUTE_MIGRATING, ROUTE_REFUSED };

/* Redis's getNodeByQuery for keys whose first hashes to `slot` (cross: some
 * other key hashes elsewhere), in its order: an unbound first slot, then
 * CROSSSLOT, the cluster state, an IMPORTING slot with ASKING, the owner,
 * a READONLY read on a replica of the owner, else MOVED. A slot this node
 * is MIGRATING is served here once the keys are checked on its thread. */
static int route(struct worker *w, const struct cl_config *cl, uintptr_t fl, bool asking, bool write, unsigned slot,
                 bool cross, char *msg, size_t msglen)
{
    int sh = cl->slot_shard[slot];
    if (sh < 0) {
        snprintf(msg, msglen, "CLUSTERDOWN Hash slot not served");
        return ROUTE_REFUSED;
    }
    if (cross) {
        snprintf(msg, msglen, "CROSSSLOT Keys in request don't hash to the same slot");
        return ROUTE_REFUSED;
    }
    if (!state_ok(w, cl)) {
        snprintf(msg, msglen, "CLUSTERDOWN The cluster is down");
        return ROUTE_REFUSED;
    }
    int me = cl->myself;
    const struct cl_shard *shard = &cl->shards[sh];
    if (me >= 0 && shard->master == me)
        return cl->migrating_to[slot] >= 0 ? ROUTE_MIGRATING : ROUTE_HERE;
    if (me >= 0 && asking && cl->importing_from[slot] >= 0)
        return ROUTE_HERE;
    if (me >= 0 && cl->nodes[me].shard == sh && !cl->nodes[me].master && (fl & CF_READONLY) && !write)
        return ROUTE_HERE;
    const struct cl_node *m = &cl->nodes[shard->master];
    snprintf(msg, msglen, "MOVED %u %s:%d", slot, m->ip, m->port);
    return ROUTE_REFUSED;
}

bool cluster_redirect(struct conn *c, const struct command *cmd, int argc, struct arg *argv, const int *keys,
                      int nkeys)
{
    struct worker *w = c->w;
    struct cl_config *cl = w->cluster;
    if (!cl)
        return false;
    uintptr_t fl = conn_cflags(c);
    bool asking = fl & CF_ASKING;
    if (asking)
        conn_set_cflags(c, fl & ~CF_ASKING);
    if (nkeys <= 0)
        return false;
    unsigned slot = arg_slot(&argv[keys[0]]);
    bool cross = false;
    for (int i = 1; i < nkeys && !cross; i++)
        cross = arg_slot(&argv[keys[i]]) != slot;
    char msg[128];
    switch (route(w, cl, fl, asking, cmd->flags & CMD_WRITE, slot, cross, msg, sizeof(msg))) {
    case ROUTE_HERE:
        return false;
    case ROUTE_MIGRATING: {
        const struct command *wc = wrapped(cmd);
        if (!wc)
            return false;
        exec_single(c, wc, argc, argv, g_slot_owner[slot], keys, nkeys, (int)slot);
        return true;
    }
    default:
        stats_count_rejected(w, cmd);
        reply_now(c, msg);
        return true;
    }
}

bool cluster_multi_refuse(struct conn *c, bool exec, bool write, int nkeys, unsigned slot, bool cross, char *msg,
                          size_t msglen)
{
    struct worker *w = c->w;
    struct cl_config *cl = w->cluster;
    if (!cl)
        return false;
    uintptr_t fl = conn_cflags(c);
    bool asking = fl & CF_ASKING;
    if (exec && asking) /* ASKING lasts through MULTI up to EXEC */
        conn_set_cflags(c, fl & ~CF_ASKING);
    if (nkeys <= 0)
        return false;
    return route(w, cl, fl, asking, write, slot, cross, msg, msglen) == ROUTE_REFUSED;
}

/* ---------- tables ---------- */

static void cmd_container_arity(struct cmd_ctx *c)
{
    reply_errorf(&c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
}

#define C CMD_CONN
#define A CMD_ADMIN
#define NS CMD_NOSCRIPT
#define LO CMD_LOADING
#define ST CMD_STALE
#define G CMD_GLOBAL
#define F CMD_FAST
#define RO CMD_READONLY

#define MUT(nm, ar, fn, sm)                                                                                  \
    {nm, ar, A | NS | LO | ST | G, 0, 0, 0, NULL, .mso = &fn##_ops, .group = "cluster", .summary = sm,     \
     .since = "3.0.0", .acl = "admin slow dangerous"}
#define INL(nm, ar, h, sm)                                                                                   \
    {nm, ar, C | LO | ST, 0, 0, 0, h, .group = "cluster", .summary = sm, .since = "3.0.0", .acl = "slow"}

static const struct command cluster_subcommands[] = {
    MUT("cluster|addslots", -3, m_addslots, "Assign new hash slots to receiving node"),
    MUT("cluster|addslotsrange", -4, m_addslotsrange, "Assign new hash slots to receiving node"),
    {"cluster|countkeysinslot", 3, RO | LO | ST, 0, 0, 0, cmd_countkeysinslot, .route = slot_route,
     .group = "cluster", .summary = "Return the number of local keys in the specified hash slot", .since = "3.0.0",
     .acl = "slow"},
    MUT("cluster|delslots", -3, m_delslots, "Set hash slots as unbound in receiving node"),
    MUT("cluster|delslotsrange", -4, m_delslotsrange, "Set hash slots as unbound in receiving node"),
    MUT("cluster|flushslots", 2, m_flushslots, "Delete a node's own slots information"),
    {"cluster|getkeysinslot", 4, RO | LO | ST, 0, 0, 0, cmd_getkeysinslot, .route = slot_route,
     .group = "cluster", .summary = "Return local key names in the specified hash slot", .since = "3.0.0",
     .acl = "slow"},
    INL("cluster|help", 2, cmd_help, "Show helpful text about the different subcommands"),
    INL("cluster|info", 2, cmd_info, "Provides info about Redis Cluster node state"),
    INL("cluster|keyslot", 3, cmd_keyslot, "Returns the hash slot of the specified key"),
    INL("cluster|links", 2, cmd_links, "Returns a list of all TCP links to and from peer nodes in cluster"),
    INL("cluster|myid", 2, cmd_myid, "Return the node id"),
    INL("cluster|myshardid", 2, cmd_myshardid, "Return the node shard id"),
    INL("cluster|nodes", 2, cmd_nodes, "Get Cluster config for the node"),
    INL("cluster|replicas", 3, cmd_replicas, "List replica nodes of the specified master node"),
    MUT("cluster|reset", -2, m_reset, "Reset a Redis Cluster node"),
    MUT("cluster|set-config-epoch", 3, m_setepoch, "Set the configuration epoch in a new node"),
    MUT("cluster|setconfig", 3, m_setconfig, "Replace the whole cluster configuration (JSON)"),
    MUT("cluster|sethealth", 4, m_sethealth, "Set the health of a node"),
    MUT("cluster|setslot", -4, m_setslot, "Bind a hash slot to a specific node"),
    INL("cluster|shards", 2, cmd_shards, "Get array of cluster slots to node mappings"),
    INL("cluster|slaves", 3, cmd_replicas, "List replica nodes of the specified master node"),
    INL("cluster|slots", 2, cmd_slots, "Get array of Cluster slot to node mappings"),
    {NULL},
};

static const struct command dfly_subcommands[] = {
    MUT("dflycluster|config", 3, m_setconfig, "Replace the whole cluster configuration (JSON)"),
    INL("dflycluster|myid", 2, cmd_myid, "Return the node id"),
    {NULL},
};

const struct command cluster_commands[] = {
    {"cluster", -2, C, 0, 0, 0, cmd_container_arity, .subcmds = cluster_subcommands, .group = "cluster",
     .summary = "A container for cluster commands", .since = "3.0.0", .acl = "slow"},
    {"dflycluster", -2, C, 0, 0, 0, cmd_container_arity, .subcmds = dfly_subcommands, .group = "cluster",
     .summary = "Dragonfly-compatible cluster configuration", .since = "7.0.0", .acl = "slow"},
    {"readonly", 1, C | F | LO | ST, 0, 0, 0, cmd_readonly, .group = "cluster",
     .summary = "Enables read queries for a connection to a cluster replica node", .since = "3.0.0",
     .acl = "keyspace fast"},
    {"readwrite", 1, C | F | LO | ST, 0, 0, 0, cmd_readwrite, .group = "cluster",
     .summary = "Disables read queries for a connection to a cluster replica node", .since = "3.0.0",
     .acl = "keyspace fast"},
    {"asking", 1, C | F, 0, 0, 0, cmd_asking, .group = "cluster",
     .summary = "Sent by cluster clients after an -ASK redirect", .since = "3.0.0", .acl = "keyspace fast"},
    {NULL},
};
