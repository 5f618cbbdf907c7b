/* cluster/config.c — see config.h. */
#include "cluster/config.h"
#include "cluster/json.h"
#include "server/log.h"
#include "server/server.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_cluster_path[PATH_MAX + 64];

static const char *const health_names[] = {"online", "loading", "fail", "hidden"};

const char *cl_health_name(int h) { return h >= 0 && h < 4 ? health_names[h] : "online"; }

int cl_health_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(s, health_names[i]))
            return i;
    return -1;
}

void cl_random_id(char out[41])
{
    unsigned char raw[20];
    int fd = open("/dev/urandom", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, raw, sizeof(raw)) : -1;
    if (fd >= 0)
        close(fd);
    if (n != (ssize_t)sizeof(raw)) {
        uint64_t x = (uint64_t)mstime() ^ ((uint64_t)getpid() << 32);
        for (size_t i = 0; i < sizeof(raw); i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            raw[i] = (unsigned char)x;
        }
    }
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 20; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[40] = 0;
}

void cl_free(struct cl_config *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->nshards; i++) {
        mi_free(c->shards[i].replicas);
        mi_free(c->shards[i].ranges);
    }
    mi_free(c->shards);
    mi_free(c->nodes);
    mi_free(c->migs);
    mi_free(c);
}

void cl_release(struct cl_config *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1)
        cl_free(c);
}

void cl_install(struct worker *w, struct cl_config *next)
{
    struct cl_config *old = w->cluster;
    w->cluster = next;
    cl_release(old);
}

static void *dup_mem(const void *p, size_t n)
{
    if (!n)
        return NULL;
    void *q = mi_malloc(n);
    memcpy(q, p, n);
    return q;
}

struct cl_config *cl_copy(const struct cl_config *c)
{
    struct cl_config *n = mi_malloc(sizeof(*n));
    memcpy(n, c, sizeof(*n));
    atomic_store(&n->refs, 0);
    n->nodes = dup_mem(c->nodes, sizeof(struct cl_node) * (size_t)c->nnodes);
    n->shards = dup_mem(c->shards, sizeof(struct cl_shard) * (size_t)c->nshards);
    for (int i = 0; i < c->nshards; i++) {
        n->shards[i].replicas = dup_mem(c->shards[i].replicas, sizeof(int) * (size_t)c->shards[i].nreplicas);
        n->shards[i].ranges = dup_mem(c->shards[i].ranges, sizeof(struct cl_range) * (size_t)c->shards[i].nranges);
    }
    n->migs = dup_mem(c->migs, sizeof(struct cl_migration) * (size_t)c->nmig);
    return n;
}

int cl_find_node(const struct cl_config *c, const char *id, size_t len)
{
    for (int i = 0; i < c->nnodes; i++)
        if (strlen(c->nodes[i].id) == len && !memcmp(c->nodes[i].id, id, len))
            return i;
    return -1;
}

static bool id_ok(const char *s, size_t n)
{
    if (n == 0 || n > CL_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~' || s[i] == '"' || s[i] == '\\' || s[i] == ':' || s[i] == '@' || s[i] == ',')
            return false;
    return true;
}

static int cmp_range(const void *a, const void *b)
{
    const struct cl_range *x = a, *y = b;
    return x->start - y->start;
}

const char *cl_finalize(struct cl_config *c, bool full, char *err, size_t errlen)
{
    for (int i = 0; i < c->nnodes; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(c->nodes[i].id, c->nodes[j].id)) {
                snprintf(err, errlen, "duplicate node id %s", c->nodes[i].id);
                return err;
            }
    c->myself = cl_find_node(c, c->myid, strlen(c->myid));
    for (int s = 0; s < CLUSTER_SLOTS; s++) {
        c->slot_shard[s] = -1;
        c->migrating_to[s] = -1;
        c->importing_from[s] = -1;
    }
    c->slots_assigned = c->slots_fail = 0;
    for (int i = 0; i < c->nshards; i++) {
        struct cl_shard *sh = &c->shards[i];
        c->nodes[sh->master].master = true;
        c->nodes[sh->master].shard = i;
        for (int r = 0; r < sh->nreplicas; r++) {
            c->nodes[sh->replicas[r]].master = false;
            c->nodes[sh->replicas[r]].shard = i;
        }
        if (sh->nranges > 1)
            qsort(sh->ranges, (size_t)sh->nranges, sizeof(struct cl_range), cmp_range);
        /* merge adjacent ranges */
        int k = 0;
        for (int r = 0; r < sh->nranges; r++) {
            if (k && sh->ranges[k - 1].end + 1 >= sh->ranges[r].start && sh->ranges[k - 1].end < sh->ranges[r].start) {
                sh->ranges[k - 1].end = sh->ranges[r].end;
                continue;
            }
            sh->ranges[k++] = sh->ranges[r];
        }
        for (int r = 0; r < k; r++) {
            const struct cl_range *rg = &sh->ranges[r];
            if (rg->start < 0 || rg->end >= CLUSTER_SLOTS || rg->start > rg->end) {
                snprintf(err, errlen, "invalid slot range %d-%d", rg->start, rg->end);
                return err;
            }
            for (int s = rg->start; s <= rg->end; s++) {
                if (c->slot_shard[s] >= 0) {
                    snprintf(err, errlen, "slot %d is owned twice", s);
                    return err;
                }
                c->slot_shard[s] = (int16_t)i;
                c->slots_assigned++;
                if (c->nodes[sh->master].health == CL_FAIL)
                    c->slots_fail++;
            }
        }
        sh->nranges = k;
    }
    if (full && c->slots_assigned != CLUSTER_SLOTS) {
        for (int s = 0; s < CLUSTER_SLOTS; s++)
            if (c->slot_shard[s] < 0) {
                snprintf(err, errlen, "slot %d is not owned by any shard", s);
                return err;
            }
    }
    for (int m = 0; m < c->nmig; m++) {
        const struct cl_migration *mg = &c->migs[m];
        if (mg->start < 0 || mg->end >= CLUSTER_SLOTS || mg->start > mg->end) {
            snprintf(err, errlen, "invalid migration slot range %d-%d", mg->start, mg->end);
            return err;
        }
        if (mg->from == mg->to) {
            snprintf(err, errlen, "migration of slots %d-%d to its own node", mg->start, mg->end);
            return err;
        }
        for (int s = mg->start; s <= mg->end; s++) {
            if (mg->from == c->myself && c->myself >= 0)
                c->migrating_to[s] = (int16_t)mg->to;
            if (mg->to == c->myself && c->myself >= 0)
                c->importing_from[s] = (int16_t)mg->from;
        }
    }
    return NULL;
}

/* ---------- JSON -> config ---------- */

struct builder {
    struct cl_config *c;
    int ncap;
    char *err;
    size_t errlen;
};

static bool berr(struct builder *b, const char *fmt, const char *a)
{
    snprintf(b->err, b->errlen, fmt, a);
    return false;
}

static bool get_int(const struct json *v, long long lo, long long hi, long long *out)
{
    if (!v || v->type != J_NUM || !v->is_int || v->i < lo || v->i > hi)
        return false;
    *out = v->i;
    return true;
}

static int add_node(struct builder *b, const struct json *o, bool master, int shard)
{
    if (!o || o->type != J_OBJ)
        return berr(b, "a %s must be an object", master ? "master" : "replica"), -1;
    const struct json *id = json_get(o, "id"), *ip = json_get(o, "ip"), *port = json_get(o, "port"),
                      *health = json_get(o, "health"), *epoch = json_get(o, "epoch");
    if (!id || id->type != J_STR || !id_ok(id->s, id->slen) || strlen(id->s) != id->slen)
        return berr(b, "a node has a missing or invalid id%s", ""), -1;
    if (!ip || ip->type != J_STR || ip->slen == 0 || ip->slen >= 64 || !id_ok(ip->s, ip->slen) ||
        strlen(ip->s) != ip->slen) {
        /* ip:port style separators are excluded by id_ok, but IPv6 needs ':' */
        bool ok = ip && ip->type == J_STR && ip->slen > 0 && ip->slen < 64 && strlen(ip->s) == ip->slen;
        for (size_t i = 0; ok && i < ip->slen; i++)
            ok = ip->s[i] > ' ' && ip->s[i] <= '~' && ip->s[i] != '"' && ip->s[i] != '\\';
        if (!ok)
            return berr(b, "node %s has a missing or invalid ip", id->s), -1;
    }
    long long p;
    if (!get_int(port, 1, 65535, &p))
        return berr(b, "node %s has a missing or invalid port", id->s), -1;
    int h = CL_ONLINE;
    if (health) {
        if (health->type != J_STR || (h = cl_health_parse(health->s)) < 0)
            return berr(b, "node %s has an unknown health (online, loading, fail or hidden)", id->s), -1;
    }
    long long ep = -1;
    if (epoch && !get_int(epoch, 0, LLONG_MAX, &ep))
        return berr(b, "node %s has an invalid epoch", id->s), -1;
    struct cl_config *c = b->c;
    if (c->nnodes == b->ncap) {
        b->ncap = b->ncap ? b->ncap * 2 : 8;
        c->nodes = mi_realloc(c->nodes, sizeof(struct cl_node) * (size_t)b->ncap);
    }
    struct cl_node *n = &c->nodes[c->nnodes];
    memset(n, 0, sizeof(*n));
    memcpy(n->id, id->s, id->slen + 1);
    memcpy(n->ip, ip->s, ip->slen + 1);
    n->port = (int)p;
    n->health = h;
    n->master = master;
    n->shard = shard;
    n->epoch = ep >= 0 ? (uint64_t)ep : (master ? (uint64_t)shard + 1 : c->nodes[c->shards[shard].master].epoch);
    return c->nnodes++;
}

static bool parse_ranges(struct builder *b, const struct json *arr, struct cl_range **out, int *nout)
{
    if (!arr || arr->type != J_ARR)
        return berr(b, "slot_ranges must be an array%s", "");
    *out = arr->n ? mi_malloc(sizeof(struct cl_range) * (size_t)arr->n) : NULL;
    *nout = 0;
    for (int i = 0; i < arr->n; i++) {
        const struct json *r = &arr->items[i];
        long long s, e;
        if (r->type != J_OBJ || !get_int(json_get(r, "start"), 0, CLUSTER_SLOTS - 1, &s) ||
            !get_int(json_get(r, "end"), 0, CLUSTER_SLOTS - 1, &e) || s > e)
            return berr(b, "invalid slot range (start and end between 0 and 16383, start <= end)%s", "");
        (*out)[(*nout)++] = (struct cl_range){(int)s, (int)e};
    }
    return true;
}

struct pending_mig {
    const struct json *j;
    int shard;
};

static bool build_shards(struct builder *b, const struct json *arr)
{
    struct cl_config *c = b->c;
    if (!arr || arr->type != J_ARR)
        return berr(b, "expected an array of shards%s", "");
    c->shards = arr->n ? mi_zalloc(sizeof(struct cl_shard) * (size_t)arr->n) : NULL;
    for (int i = 0; i < arr->n; i++) {
        const struct json *sj = &arr->items[i];
        if (sj->type != J_OBJ)
            return berr(b, "a shard must be an object%s", "");
        struct cl_shard *sh = &c->shards[c->nshards++];
        if (!parse_ranges(b, json_get(sj, "slot_ranges"), &sh->ranges, &sh->nranges))
            return false;
        const struct json *m = json_get(sj, "master");
        if (!m)
            return berr(b, "a shard has no master%s", "");
        if ((sh->master = add_node(b, m, true, i)) < 0)
            return false;
        const struct json *reps = json_get(sj, "replicas");
        if (reps && reps->type != J_ARR)
            return berr(b, "replicas must be an array%s", "");
        if (reps && reps->n) {
            sh->replicas = mi_malloc(sizeof(int) * (size_t)reps->n);
            for (int r = 0; r < reps->n; r++) {
                int idx = add_node(b, &reps->items[r], false, i);
                if (idx < 0)
                    return false;
                sh->replicas[sh->nreplicas++] = idx;
            }
        }
    }
    /* migrations, once every node is known */
    for (int i = 0; i < arr->n; i++) {
        const struct json *migs = json_get(&arr->items[i], "migrations");
        if (!migs || migs->type == J_NULL)
            continue;
        if (migs->type != J_ARR)
            return berr(b, "migrations must be an array%s", "");
        for (int k = 0; k < migs->n; k++) {
            const struct json *mj = &migs->items[k];
            if (mj->type != J_OBJ)
                return berr(b, "a migration must be an object%s", "");
            const struct json *to = json_get(mj, "node_id"), *from = json_get(mj, "from");
            if (!to)
                to = json_get(mj, "to");
            if (!to || to->type != J_STR)
                return berr(b, "a migration needs a target node_id%s", "");
            int ti = cl_find_node(c, to->s, to->slen);
            if (ti < 0)
                return berr(b, "migration target %s is not in the config", to->s);
            int fi = c->shards[i].master;
            if (from) {
                if (from->type != J_STR || (fi = cl_find_node(c, from->s, from->slen)) < 0)
                    return berr(b, "migration source is not in the config%s", "");
            }
            struct cl_range *rgs = NULL;
            int nr = 0;
            long long one;
            if (json_get(mj, "slot")) {
                if (!get_int(json_get(mj, "slot"), 0, CLUSTER_SLOTS - 1, &one))
                    return berr(b, "invalid migration slot%s", "");
                rgs = mi_malloc(sizeof(*rgs));
                rgs[0] = (struct cl_range){(int)one, (int)one};
                nr = 1;
            } else if (!parse_ranges(b, json_get(mj, "slot_ranges"), &rgs, &nr)) {
                mi_free(rgs);
                return false;
            }
            c->migs = mi_realloc(c->migs, sizeof(struct cl_migration) * (size_t)(c->nmig + nr));
            for (int r = 0; r < nr; r++)
                c->migs[c->nmig++] = (struct cl_migration){rgs[r].start, rgs[r].end, fi, ti};
            mi_free(rgs);
        }
    }
    return true;
}

struct cl_config *cl_from_json(const char *p, size_t len, const char *myid, char *err, size_t errlen)
{
    char jerr[160];
    struct json *root = json_parse(p, len, jerr, sizeof(jerr));
    if (!root) {
        snprintf(err, errlen, "malformed JSON: %s", jerr);
        return NULL;
    }
    struct cl_config *c = mi_zalloc(sizeof(*c));
    struct builder b = {c, 0, err, errlen};
    const struct json *shards = root;
    bool full = true;
    if (root->type == J_OBJ) { /* the file form */
        const struct json *id = json_get(root, "myid"), *ver = json_get(root, "version");
        if (!id || id->type != J_STR || !id_ok(id->s, id->slen)) {
            snprintf(err, errlen, "missing myid");
            goto fail;
        }
        memcpy(c->myid, id->s, id->slen + 1);
        long long v = 0;
        if (ver)
            get_int(ver, 0, LLONG_MAX, &v);
        c->version = (uint64_t)v;
        shards = json_get(root, "shards");
        full = false;
    } else if (myid) {
        snprintf(c->myid, sizeof(c->myid), "%s", myid);
    }
    if (!build_shards(&b, shards))
        goto fail;
    if (cl_finalize(c, full, err, errlen))
        goto fail;
    json_free(root);
    return c;
fail:
    json_free(root);
    cl_free(c);
    return NULL;
}

/* ---------- config -> JSON ---------- */

struct sb {
    char *p;
    size_t n, cap;
};

static void sb_add(struct sb *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sb *s, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(s->p + s->n, s->cap - s->n, fmt, ap);
        va_end(ap);
        if (k >= 0 && (size_t)k < s->cap - s->n) {
            s->n += (size_t)k;
            return;
        }
        s->cap = s->cap * 2 + (size_t)(k > 0 ? k : 64) + 64;
        s->p = mi_realloc(s->p, s->cap);
    }
}

static void node_json(struct sb *s, const struct cl_node *n)
{
    sb_add(s, "{\"id\":\"%s\",\"ip\":\"%s\",\"port\":%d,\"health\":\"%s\",\"epoch\":%llu}", n->id, n->ip, n->port,
           cl_health_name(n->health), (unsigned long long)n->epoch);
}

char *cl_to_json(const struct cl_config *c, size_t *len)
{
    struct sb s = {mi_malloc(1024), 0, 1024};
    sb_add(&s, "{\"myid\":\"%s\",\"version\":%llu,\"shards\":[", c->myid, (unsigned long long)c->version);
    for (int i = 0; i < c->nshards; i++) {
        const struct cl_shard *sh = &c->shards[i];
        sb_add(&s, "%s\n{\"slot_ranges\":[", i ? "," : "");
        for (int r = 0; r < sh->nranges; r++)
            sb_add(&s, "%s{\"start\":%d,\"end\":%d}", r ? "," : "", sh->ranges[r].start, sh->ranges[r].end);
        sb_add(&s, "],\"master\":");
        node_json(&s, &c->nodes[sh->master]);
        sb_add(&s, ",\"replicas\":[");
        for (int r = 0; r < sh->nreplicas; r++) {
            if (r)
                sb_add(&s, ",");
            node_json(&s, &c->nodes[sh->replicas[r]]);
        }
        sb_add(&s, "],\"migrations\":[");
        bool first = true;
        for (int m = 0; m < c->nmig; m++) {
            const struct cl_migration *mg = &c->migs[m];
            if (c->nodes[mg->from].shard != i)
                continue;
            sb_add(&s, "%s{\"slot_ranges\":[{\"start\":%d,\"end\":%d}],\"from\":\"%s\",\"node_id\":\"%s\"}",
                   first ? "" : ",", mg->start, mg->end, c->nodes[mg->from].id, c->nodes[mg->to].id);
            first = false;
        }
        sb_add(&s, "]}");
    }
    sb_add(&s, "]}\n");
    *len = s.n;
    return s.p;
}

struct cl_config *cl_new_self(const char *myid, const char *ip, int port)
{
    struct cl_config *c = mi_zalloc(sizeof(*c));
    snprintf(c->myid, sizeof(c->myid), "%s", myid);
    c->nnodes = 1;
    c->nodes = mi_zalloc(sizeof(struct cl_node));
    snprintf(c->nodes[0].id, sizeof(c->nodes[0].id), "%s", myid);
    snprintf(c->nodes[0].ip, sizeof(c->nodes[0].ip), "%s", ip);
    c->nodes[0].port = port;
    c->nodes[0].master = true;
    c->nshards = 1;
    c->shards = mi_zalloc(sizeof(struct cl_shard));
    char err[64];
    cl_finalize(c, false, err, sizeof(err));
    return c;
}

/* ---------- the file ---------- */

bool cl_persist(const struct cl_config *c, char *err, size_t errlen)
{
    if (!g_cluster_path[0])
        return true;
    size_t len;
    char *text = cl_to_json(c, &len);
    char tmp[sizeof(g_cluster_path) + 32];
    snprintf(tmp, sizeof(tmp), "%s.tmp-%d", g_cluster_path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0;
    size_t off = 0;
    while (ok && off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        off += ok ? (size_t)n : 0;
    }
    if (ok)
        ok = fsync(fd) == 0;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    if (ok)
        ok = rename(tmp, g_cluster_path) == 0, saved = errno;
    if (!ok) {
        unlink(tmp);
        snprintf(err, errlen, "can't write the cluster config file %s: %s", g_cluster_path, strerror(saved));
        mi_free(text);
        return false;
    }
    char dir[sizeof(g_cluster_path)];
    snprintf(dir, sizeof(dir), "%s", g_cluster_path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *(slash == dir ? slash + 1 : slash) = 0;
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    mi_free(text);
    return true;
}

static void self_address(const struct config *cfg, char *ip, size_t iplen, int *port)
{
    char v[CFG_STR_MAX];
    ip[0] = 0;
    if (config_format(cfg, "cluster-announce-ip", v, sizeof(v)) && v[0])
        snprintf(ip, iplen, "%.63s", v);
    if (!ip[0] && cfg->bind[0]) {
        char first[CFG_STR_MAX];
        snprintf(first, sizeof(first), "%s", cfg->bind);
        char *sp = strchr(first, ' ');
        if (sp)
            *sp = 0;
        if (first[0] == '-')
            memmove(first, first + 1, strlen(first));
        if (strcmp(first, "*") && strcmp(first, "0.0.0.0") && strcmp(first, "::") && strcmp(first, "::*"))
            snprintf(ip, iplen, "%.63s", first);
    }
    if (!ip[0])
        snprintf(ip, iplen, "127.0.0.1");
    *port = cfg->port;
    if (config_format(cfg, "cluster-announce-port", v, sizeof(v)) && atoi(v) > 0)
        *port = atoi(v);
}

void cluster_init(const struct config *cfg)
{
    if (!cfg->cluster_enabled)
        return;
    const char *file = cfg->cluster_config_file[0] ? cfg->cluster_config_file : "nodes.conf";
    if (file[0] == '/') {
        snprintf(g_cluster_path, sizeof(g_cluster_path), "%s", file);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)))
            snprintf(cwd, sizeof(cwd), ".");
        snprintf(g_cluster_path, sizeof(g_cluster_path), "%.*s/%.255s", (int)(sizeof(g_cluster_path) - 300), cwd, file);
    }
    struct cl_config *c = NULL;
    char err[512];
    FILE *f = fopen(g_cluster_path, "r");
    if (f) {
        struct sb s = {mi_malloc(4096), 0, 4096};
        size_t n;
        char chunk[4096];
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
            if (s.n + n > s.cap) {
                s.cap = (s.n + n) * 2;
                s.p = mi_realloc(s.p, s.cap);
            }
            memcpy(s.p + s.n, chunk, n);
            s.n += n;
        }
        fclose(f);
        c = cl_from_json(s.p, s.n, NULL, err, sizeof(err));
        mi_free(s.p);
        if (!c) {
            serverlog(LL_WARNING, "Unrecoverable error: corrupted cluster config file \"%s\": %s", g_cluster_path,
                      err);
            exit(1);
        }
        serverlog(LL_NOTICE, "Node configuration loaded, I'm %.40s", c->myid);
    } else {
        char id[41], ip[64];
        int port;
        cl_random_id(id);
        self_address(cfg, ip, sizeof(ip), &port);
        c = cl_new_self(id, ip, port);
        if (!cl_persist(c, err, sizeof(err))) {
            serverlog(LL_WARNING, "%s", err);
            exit(1);
        }
        serverlog(LL_NOTICE, "No cluster configuration found, I'm %.40s", c->myid);
    }
    atomic_store(&c->refs, g_nworkers);
    for (int i = 0; i < g_nworkers; i++)
        g_workers[i]->cluster = c;
}
