/* server/info.c — INFO sections, gathered from every thread by a global
 * multi-shard op: each worker's hop snapshots its own counters (keyspace
 * sizes, memory, connections, stats, per-command counters) into its part,
 * and the coordinator sums them and formats Redis 7.0's text, field for
 * field. Also the per-thread statistics INFO reports that no other file
 * keeps: per-command calls/usec/failures and error replies by prefix
 * (stats_count_* hooks, called by the core on the worker's own thread).
 * Owns: INFO formatting, those counters (hung off w->cmdstats, touched only
 * by their thread), and a few process facts fixed at first use (run id,
 * replication id, uname, executable path).
 * Must not read another thread's data outside a hop on that thread. */
#include "server/info.h"
#include "server/blocking.h" /* blocking: blocked_clients */
#include "server/persist.h"
#include "server/pubsub.h" /* pubsub: INFO stats */
#include "server/tracking.h" /* tracking: INFO clients / stats */
#include "server/script.h" /* scripting: INFO memory */
#include "server/function.h"
#include "server/log.h"
#include "shard/memory.h"

#include <ctype.h>
#include <limits.h>
#include <mimalloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define ERRORSTATS_LIMIT 128 /* distinct error prefixes tracked, as Redis */
#define ERR_NAME_MAX 48

/* ---------- per-thread counters ---------- */

struct cmdstat {
    const struct command *cmd;
    uint64_t calls, nsec, rejected, failed; /* time in nanoseconds, reported in usec */
};

struct errstat {
    char name[ERR_NAME_MAX];
    uint64_t count;
};

struct thread_stats {
    struct cmdstat *tab; /* open addressing on the command pointer */
    uint32_t cap, used;
    struct errstat errs[ERRORSTATS_LIMIT];
    uint32_t nerrs;
    uint64_t total_error_replies;
};

static struct thread_stats *tstats(struct worker *w)
{
    if (!w->cmdstats)
        w->cmdstats = mi_zalloc(sizeof(struct thread_stats));
    return w->cmdstats;
}

static uint32_t ptr_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (uint32_t)x;
}

static struct cmdstat *cmdstat_slot(struct cmdstat *tab, uint32_t cap, const struct command *cmd)
{
    uint32_t i = ptr_hash(cmd) & (cap - 1);
    while (tab[i].cmd && tab[i].cmd != cmd)
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

static struct cmdstat *cmdstat_get(struct thread_stats *ts, const struct command *cmd)
{
    if ((ts->used + 1) * 2 > ts->cap) {
        uint32_t ncap = ts->cap ? ts->cap * 2 : 64;
        struct cmdstat *ntab = mi_zalloc(sizeof(struct cmdstat) * ncap);
        for (uint32_t i = 0; i < ts->cap; i++)
            if (ts->tab[i].cmd)
                *cmdstat_slot(ntab, ncap, ts->tab[i].cmd) = ts->tab[i];
        mi_free(ts->tab);
        ts->tab = ntab;
        ts->cap = ncap;
    }
    struct cmdstat *s = cmdstat_slot(ts->tab, ts->cap, cmd);
    if (!s->cmd) {
        s->cmd = cmd;
        ts->used++;
    }
    return s;
}

void stats_count_command(struct worker *w, const struct command *cmd, int64_t nsec, bool failed)
{
    struct cmdstat *s = cmdstat_get(tstats(w), cmd);
    s->calls++;
    s->nsec += nsec > 0 ? (uint64_t)nsec : 0;
    if (failed)
        s->failed++;
}

void stats_count_rerun(struct worker *w, const struct command *cmd, int64_t nsec, bool failed)
{
    struct cmdstat *s = cmdstat_get(tstats(w), cmd);
    s->nsec += nsec > 0 ? (uint64_t)nsec : 0;
    if (failed)
        s->failed++;
}

void stats_count_rejected(struct worker *w, const struct command *cmd)
{
    cmdstat_get(tstats(w), cmd)->rejected++;
}

void stats_count_error(struct worker *w, const char *msg, size_t len)
{
    struct thread_stats *ts = tstats(w);
    ts->total_error_replies++;
    size_t n = 0;
    while (n < len && msg[n] != ' ' && msg[n] != '\r' && msg[n] != '\n')
        n++;
    if (n >= ERR_NAME_MAX)
        n = ERR_NAME_MAX - 1;
    for (uint32_t i = 0; i < ts->nerrs; i++) {
        if (strlen(ts->errs[i].name) == n && !memcmp(ts->errs[i].name, msg, n)) {
            ts->errs[i].count++;
            return;
        }
    }
    if (ts->nerrs == ERRORSTATS_LIMIT)
        return;
    struct errstat *e = &ts->errs[ts->nerrs++];
    memcpy(e->name, msg, n);
    e->name[n] = 0;
    e->count = 1;
}

void stats_reset(struct worker *w)
{
    memset(&w->stats, 0, sizeof(w->stats));
    memset(&w->ks.stats, 0, sizeof(w->ks.stats));
    struct thread_stats *ts = w->cmdstats;
    if (!ts)
        return;
    mi_free(ts->tab);
    memset(ts, 0, sizeof(*ts));
}

/* ---------- process facts ---------- */

static pthread_once_t facts_once = PTHREAD_ONCE_INIT;
static char run_id[41], repl_id[41];
static char executable[PATH_MAX];
static struct utsname uname_info;

static void random_hex(char *out, size_t nhex)
{
    unsigned char bytes[32];
    size_t need = (nhex + 1) / 2;
    FILE *f = fopen("/dev/urandom", "r");
    if (!f || fread(bytes, 1, need, f) != need) {
        uint64_t x = (uint64_t)ustime() ^ ((uint64_t)getpid() << 32);
        for (size_t i = 0; i < need; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            bytes[i] = (unsigned char)x;
        }
    }
    if (f)
        fclose(f);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < nhex; i++)
        out[i] = hex[(bytes[i / 2] >> ((i & 1) ? 0 : 4)) & 15];
    out[nhex] = 0;
}

static void init_facts(void)
{
    random_hex(run_id, 40);
    random_hex(repl_id, 40);
    ssize_t n = readlink("/proc/self/exe", executable, sizeof(executable) - 1);
    executable[n > 0 ? n : 0] = 0;
    uname(&uname_info);
}

const char *server_run_id(void)
{
    pthread_once(&facts_once, init_facts);
    return run_id;
}

size_t process_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

void bytes_to_human(char *out, size_t outlen, unsigned long long n)
{
    static const char units[] = "KMGTP";
    if (n < 1024) {
        snprintf(out, outlen, "%lluB", n);
        return;
    }
    double d = (double)n;
    for (int i = 0; units[i]; i++) {
        d /= 1024;
        if (d < 1024 || !units[i + 1]) {
            if (d >= 1024) /* beyond petabytes: Redis prints bytes */
                snprintf(out, outlen, "%lluB", n);
            else
                snprintf(out, outlen, "%.2f%c", d, units[i]);
            return;
        }
    }
}

size_t worker_clients_memory(struct worker *w)
{
    size_t total = 0;
    for (struct conn *c = w->conns; c; c = c->next)
        total += sizeof(*c) + c->query.cap + c->out[0].cap + c->out[1].cap;
    return total;
}

/* ---------- the hop: one thread's snapshot ---------- */

struct snap {
    int ndb;
    uint64_t *keys, *expires; /* [ndb] */
    int64_t used, peak;
    size_t clients_mem, max_qbuf, max_obuf;
    uint32_t nconns;
    uint64_t nblocked; /* blocking */
    unsigned nslots;
    struct worker_stats st;
    struct ks_stats ks;
    uint64_t total_error_replies;
    uint32_t ncmds, nerrs;
    struct cmdstat *cmds;
    struct errstat *errs;
    struct tracking_info trk; /* tracking */
    size_t vm_eval, vm_functions; /* scripting */
    size_t nscripts;
    struct script_cached *scripts;
};

static bool wants_stats(const struct mso *t);
static bool wants_memory(const struct mso *t);

static void info_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)hop;
    struct worker *w = c->w;
    struct thread_stats *ts = tstats(w);
    int ndb = c->ks->ndb;
    size_t nscripts = wants_memory(t) ? script_cache_count() : 0; /* scripting */
    size_t bytes = sizeof(struct snap) + sizeof(uint64_t) * 2 * (size_t)ndb +
                   sizeof(struct cmdstat) * ts->used + sizeof(struct errstat) * ts->nerrs +
                   sizeof(struct script_cached) * nscripts;
    struct snap *s = mi_zalloc(bytes);
    s->ndb = ndb;
    s->keys = (uint64_t *)(s + 1);
    s->expires = s->keys + ndb;
    s->cmds = (struct cmdstat *)(s->expires + ndb);
    s->errs = (struct errstat *)(s->cmds + ts->used);
    s->scripts = (struct script_cached *)(s->errs + ts->nerrs);
    s->nscripts = script_cache_list(s->scripts, nscripts);
    s->vm_eval = script_vm_memory();
    s->vm_functions = fn_vm_memory();
    for (int db = 0; db < ndb; db++) {
        s->keys[db] = ks_db_size(c->ks, db);
        s->expires[db] = ks_db_volatile(c->ks, db);
    }
    s->used = smem_used();
    s->peak = smem_peak();
    for (struct conn *conn = w->conns; conn; conn = conn->next) {
        s->clients_mem += sizeof(*conn) + conn->query.cap + conn->out[0].cap + conn->out[1].cap;
        if (conn->query.cap > s->max_qbuf)
            s->max_qbuf = conn->query.cap;
        size_t ob = conn->out[0].cap + conn->out[1].cap;
        if (ob > s->max_obuf)
            s->max_obuf = ob;
    }
    s->nconns = w->nconns;
    s->nblocked = blocking_count(w); /* blocking */
    s->nslots = w->nowned;
    s->st = w->stats;
    s->ks = c->ks->stats;
    s->total_error_replies = ts->total_error_replies;
    for (uint32_t i = 0; i < ts->cap; i++)
        if (ts->tab[i].cmd)
            s->cmds[s->ncmds++] = ts->tab[i];
    memcpy(s->errs, ts->errs, sizeof(struct errstat) * ts->nerrs);
    s->nerrs = ts->nerrs;
    tracking_info_collect(w, &s->trk); /* tracking */
    if (wants_stats(t)) /* pubsub: channel / pattern names, deduplicated in info_reply */
        pubsub_info_collect(w, &t->parts[part].out);
    t->parts[part].data = s;
}

static int info_next(struct mso *t, int hop)
{
    (void)t;
    (void)hop;
    return -1;
}

/* ---------- section selection ---------- */

enum {
    S_SERVER = 1 << 0,
    S_CLIENTS = 1 << 1,
    S_MEMORY = 1 << 2,
    S_PERSISTENCE = 1 << 3,
    S_STATS = 1 << 4,
    S_REPLICATION = 1 << 5,
    S_CPU = 1 << 6,
    S_MODULES = 1 << 7,
    S_COMMANDSTATS = 1 << 8,
    S_ERRORSTATS = 1 << 9,
    S_LATENCYSTATS = 1 << 10,
    S_CLUSTER = 1 << 11,
    S_KEYSPACE = 1 << 12,
    S_THREADS = 1 << 13,
    S_DEFAULT = S_SERVER | S_CLIENTS | S_MEMORY | S_PERSISTENCE | S_STATS | S_REPLICATION | S_CPU |
                S_MODULES | S_ERRORSTATS | S_CLUSTER | S_KEYSPACE | S_THREADS,
    S_ALL = S_DEFAULT | S_COMMANDSTATS | S_LATENCYSTATS,
};

static unsigned section_bit(const struct arg *a)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {
        {"server", S_SERVER}, {"clients", S_CLIENTS}, {"memory", S_MEMORY},
        {"persistence", S_PERSISTENCE}, {"stats", S_STATS}, {"replication", S_REPLICATION},
        {"cpu", S_CPU}, {"modules", S_MODULES}, {"module_list", S_MODULES},
        {"commandstats", S_COMMANDSTATS}, {"errorstats", S_ERRORSTATS},
        {"latencystats", S_LATENCYSTATS}, {"cluster", S_CLUSTER}, {"keyspace", S_KEYSPACE},
        {"threads", S_THREADS}, {"default", S_DEFAULT}, {"all", S_ALL}, {"everything", S_ALL},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (arg_eq(a, names[i].name))
            return names[i].bit;
    return 0; /* unknown sections (sentinel, module sections) give nothing */
}

static unsigned selected_sections(const struct mso *t)
{
    if (t->argc < 2)
        return S_DEFAULT;
    unsigned mask = 0;
    for (int i = 1; i < t->argc; i++)
        mask |= section_bit(&t->argv[i]);
    return mask;
}

static bool wants_stats(const struct mso *t) { return selected_sections(t) & S_STATS; }
static bool wants_memory(const struct mso *t) { return selected_sections(t) & S_MEMORY; }

/* ---------- formatting ---------- */

struct totals {
    uint64_t *keys, *expires;
    int ndb;
    int64_t used, peak;
    size_t clients_mem, max_qbuf, max_obuf;
    uint64_t nconns;
    uint64_t nblocked; /* blocking */
    struct worker_stats st;
    struct ks_stats ks;
    uint64_t total_error_replies;
    uint64_t pubsub_channels, pubsub_patterns, pubsubshard_channels;
    struct tracking_info trk; /* tracking: summed; prefixes: every shard holds them all */
    size_t vm_eval, vm_functions;  /* scripting: the Lua states, summed */
    size_t nscripts, scripts_mem;  /* distinct cached scripts over the threads */
    size_t functions_mem;          /* the libraries (the same set on every thread) */
    int nfunctions, nlibs;
};

static int cached_cmp(const void *a, const void *b) { return memcmp(a, b, 40); }

/* Scripting: each thread caches the scripts it ran, so the same script may
 * sit on several threads; count it once. The libraries are the same on
 * every thread: the coordinator's set. */
static void sum_scripts(struct mso *t, struct totals *tot)
{
    size_t n = 0;
    for (int p = 0; p < t->nparts; p++)
        n += ((struct snap *)t->parts[p].data)->nscripts;
    if (n) {
        struct script_cached *all = mi_malloc(sizeof(*all) * n);
        size_t k = 0;
        for (int p = 0; p < t->nparts; p++) {
            struct snap *s = t->parts[p].data;
            memcpy(all + k, s->scripts, sizeof(*all) * s->nscripts);
            k += s->nscripts;
        }
        qsort(all, n, sizeof(*all), cached_cmp);
        for (size_t i = 0; i < n; i++) {
            if (i && memcmp(all[i].sha, all[i - 1].sha, 40) == 0)
                continue;
            tot->nscripts++;
            tot->scripts_mem += all[i].bytes;
        }
        mi_free(all);
    }
    const struct fn_set *fs = fn_current();
    tot->nlibs = fs->nlibs;
    tot->nfunctions = fn_set_count_functions(fs);
    for (int i = 0; i < fs->nlibs; i++) {
        tot->functions_mem += sizeof(struct fn_lib) + fs->libs[i].len + strlen(fs->libs[i].name);
        for (int f = 0; f < fs->libs[i].nfuncs; f++)
            tot->functions_mem += sizeof(struct fn_func) + strlen(fs->libs[i].funcs[f].name) +
                                  (fs->libs[i].funcs[f].desc ? strlen(fs->libs[i].funcs[f].desc) : 0);
    }
}

static void sum_parts(struct mso *t, struct totals *tot)
{
    memset(tot, 0, sizeof(*tot));
    struct snap *first = t->parts[0].data;
    tot->ndb = first->ndb;
    tot->keys = mi_zalloc(sizeof(uint64_t) * 2 * (size_t)tot->ndb);
    tot->expires = tot->keys + tot->ndb;
    for (int p = 0; p < t->nparts; p++) {
        struct snap *s = t->parts[p].data;
        for (int db = 0; db < tot->ndb && db < s->ndb; db++) {
            tot->keys[db] += s->keys[db];
            tot->expires[db] += s->expires[db];
        }
        tot->used += s->used;
        tot->peak += s->peak;
        tot->clients_mem += s->clients_mem;
        if (s->max_qbuf > tot->max_qbuf)
            tot->max_qbuf = s->max_qbuf;
        if (s->max_obuf > tot->max_obuf)
            tot->max_obuf = s->max_obuf;
        tot->nconns += s->nconns;
        tot->nblocked += s->nblocked; /* blocking */
        tot->st.total_commands += s->st.total_commands;
        tot->st.total_connections += s->st.total_connections;
        tot->st.rejected_connections += s->st.rejected_connections;
        tot->st.net_input_bytes += s->st.net_input_bytes;
        tot->st.net_output_bytes += s->st.net_output_bytes;
        tot->st.tx_retries += s->st.tx_retries;
        tot->st.msgs_in += s->st.msgs_in;
        tot->ks.expired_keys += s->ks.expired_keys;
        tot->ks.keyspace_hits += s->ks.keyspace_hits;
        tot->ks.keyspace_misses += s->ks.keyspace_misses;
        tot->ks.evicted_keys += s->ks.evicted_keys;
        tot->total_error_replies += s->total_error_replies;
        tot->trk.clients += s->trk.clients; /* tracking */
        tot->trk.keys += s->trk.keys;
        tot->trk.items += s->trk.items;
        if (s->trk.prefixes > tot->trk.prefixes)
            tot->trk.prefixes = s->trk.prefixes;
        tot->vm_eval += s->vm_eval; /* scripting */
        tot->vm_functions += s->vm_functions;
    }
    sum_scripts(t, tot);
}

static void addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(struct buf *b, const char *fmt, ...)
{
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        buf_put(b, tmp, (size_t)n);
        return;
    }
    buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void section_header(struct buf *b, int *sections, const char *title)
{
    if ((*sections)++)
        buf_put(b, "\r\n", 2);
    addf(b, "# %s\r\n", title);
}

/* INFO's field values must not break the line format. */
static void safe_name(const char *in, char *out, size_t outlen)
{
    size_t i = 0;
    for (; in[i] && i + 1 < outlen; i++)
        out[i] = strchr("#:\n\r", in[i]) ? '_' : in[i];
    out[i] = 0;
}

static void add_server(struct buf *b, const struct config *cfg, struct worker *w)
{
    int64_t now_us = ustime();
    int64_t uptime = (now_us / 1000 - g_start_time_ms) / 1000;
    const char *api = w->loop && io_loop_uses_uring(w->loop) ? "io_uring" : "epoll";
    addf(b,
         "redis_version:7.0.15\r\n"
         "redis_git_sha1:00000000\r\n"
         "redis_git_dirty:0\r\n"
         "redis_build_id:0\r\n"
         "redis_mode:%s\r\n"
         "os:%s %s %s\r\n"
         "arch_bits:%d\r\n"
         "monotonic_clock:POSIX clock_gettime\r\n"
         "multiplexing_api:%s\r\n"
         "atomicvar_api:c11-builtin\r\n"
         "gcc_version:%d.%d.%d\r\n"
         "process_id:%ld\r\n"
         "process_supervised:no\r\n"
         "run_id:%s\r\n"
         "tcp_port:%d\r\n"
         "server_time_usec:%lld\r\n"
         "uptime_in_seconds:%lld\r\n"
         "uptime_in_days:%lld\r\n"
         "hz:%d\r\n"
         "configured_hz:%d\r\n"
         "lru_clock:%u\r\n"
         "executable:%s\r\n"
         "config_file:%s\r\n"
         "io_threads_active:0\r\n",
         cfg->cluster_enabled ? "cluster" : "standalone", uname_info.sysname, uname_info.release,
         uname_info.machine, (int)(sizeof(long) * 8), api,
#ifdef __GNUC__
         __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
         0, 0, 0,
#endif
         (long)getpid(), run_id, cfg->port, (long long)now_us, (long long)uptime,
         (long long)(uptime / (3600 * 24)), cfg->hz, cfg->hz, lru_clock(), executable, cfg->config_file);
}

static void add_clients(struct buf *b, const struct config *cfg, const struct totals *tot)
{
    addf(b,
         "connected_clients:%llu\r\n"
         "cluster_connections:0\r\n"
         "maxclients:%lld\r\n"
         "client_recent_max_input_buffer:%zu\r\n"
         "client_recent_max_output_buffer:%zu\r\n"
         "blocked_clients:%llu\r\n"
         "tracking_clients:%llu\r\n"
         "clients_in_timeout_table:0\r\n",
         (unsigned long long)tot->nconns, cfg->maxclients, tot->max_qbuf, tot->max_obuf,
         (unsigned long long)tot->nblocked, (unsigned long long)tot->trk.clients);
}

static void add_memory(struct buf *b, const struct config *cfg, const struct totals *tot)
{
    size_t used = (size_t)(tot->used > 0 ? tot->used : 0) + tot->clients_mem;
    size_t peak = (size_t)(tot->peak > 0 ? tot->peak : 0) + tot->clients_mem;
    if (peak < used)
        peak = used;
    size_t dataset = (size_t)(tot->used > 0 ? tot->used : 0);
    size_t overhead = tot->clients_mem;
    size_t rss = process_rss();
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    unsigned long total_mem = pages > 0 && psize > 0 ? (unsigned long)pages * (unsigned long)psize : 0;
    size_t elapsed, user, sys, cur_rss, peak_rss, cur_commit, peak_commit, faults;
    mi_process_info(&elapsed, &user, &sys, &cur_rss, &peak_rss, &cur_commit, &peak_commit, &faults);
    char h_used[64], h_peak[64], h_total[64], h_rss[64], h_max[64];
    bytes_to_human(h_used, sizeof(h_used), used);
    bytes_to_human(h_peak, sizeof(h_peak), peak);
    bytes_to_human(h_total, sizeof(h_total), total_mem);
    bytes_to_human(h_rss, sizeof(h_rss), rss);
    bytes_to_human(h_max, sizeof(h_max), (unsigned long long)cfg->maxmemory);
    char h_lua[64], h_vm[64], h_scripts[64]; /* scripting */
    bytes_to_human(h_lua, sizeof(h_lua), tot->vm_eval);
    bytes_to_human(h_vm, sizeof(h_vm), tot->vm_eval + tot->vm_functions);
    bytes_to_human(h_scripts, sizeof(h_scripts), tot->scripts_mem + tot->functions_mem);
    double peak_perc = peak ? (double)used * 100 / (double)peak : 0;
    double dataset_perc = used ? (double)dataset * 100 / (double)used : 0;
    size_t allocated = cur_commit > used ? cur_commit : used;
    double frag = used ? (double)rss / (double)used : 0;
    double alloc_frag = used ? (double)allocated / (double)used : 0;
    double alloc_rss = allocated ? (double)rss / (double)allocated : 0;
    addf(b,
         "used_memory:%zu\r\n"
         "used_memory_human:%s\r\n"
         "used_memory_rss:%zu\r\n"
         "used_memory_rss_human:%s\r\n"
         "used_memory_peak:%zu\r\n"
         "used_memory_peak_human:%s\r\n"
         "used_memory_peak_perc:%.2f%%\r\n"
         "used_memory_overhead:%zu\r\n"
         "used_memory_startup:0\r\n"
         "used_memory_dataset:%zu\r\n"
         "used_memory_dataset_perc:%.2f%%\r\n"
         "allocator_allocated:%zu\r\n"
         "allocator_active:%zu\r\n"
         "allocator_resident:%zu\r\n"
         "total_system_memory:%lu\r\n"
         "total_system_memory_human:%s\r\n"
         "used_memory_lua:%zu\r\n"
         "used_memory_vm_eval:%zu\r\n"
         "used_memory_lua_human:%s\r\n"
         "used_memory_scripts_eval:%zu\r\n"
         "number_of_cached_scripts:%zu\r\n"
         "number_of_functions:%d\r\n"
         "number_of_libraries:%d\r\n"
         "used_memory_vm_functions:%zu\r\n"
         "used_memory_vm_total:%zu\r\n"
         "used_memory_vm_total_human:%s\r\n"
         "used_memory_functions:%zu\r\n"
         "used_memory_scripts:%zu\r\n"
         "used_memory_scripts_human:%s\r\n"
         "maxmemory:%lld\r\n"
         "maxmemory_human:%s\r\n"
         "maxmemory_policy:%s\r\n"
         "allocator_frag_ratio:%.2f\r\n"
         "allocator_frag_bytes:%zu\r\n"
         "allocator_rss_ratio:%.2f\r\n"
         "allocator_rss_bytes:%zd\r\n"
         "rss_overhead_ratio:1.00\r\n"
         "rss_overhead_bytes:0\r\n"
         "mem_fragmentation_ratio:%.2f\r\n"
         "mem_fragmentation_bytes:%zd\r\n"
         "mem_not_counted_for_evict:0\r\n"
         "mem_replication_backlog:0\r\n"
         "mem_total_replication_buffers:0\r\n"
         "mem_clients_slaves:0\r\n"
         "mem_clients_normal:%zu\r\n"
         "mem_cluster_links:0\r\n"
         "mem_aof_buffer:0\r\n"
         "mem_allocator:mimalloc\r\n"
         "active_defrag_running:0\r\n"
         "lazyfree_pending_objects:0\r\n"
         "lazyfreed_objects:0\r\n",
         used, h_used, rss, h_rss, peak, h_peak, peak_perc, overhead, dataset, dataset_perc, used, allocated,
         rss > allocated ? rss : allocated, total_mem, h_total, tot->vm_eval, tot->vm_eval, h_lua,
         tot->scripts_mem, tot->nscripts, tot->nfunctions, tot->nlibs, tot->vm_functions,
         tot->vm_eval + tot->vm_functions, h_vm, tot->functions_mem, tot->scripts_mem + tot->functions_mem, h_scripts,
         cfg->maxmemory, h_max, config_maxmemory_policy_name(cfg->maxmemory_policy), alloc_frag,
         allocated - used, alloc_rss, (ssize_t)rss - (ssize_t)allocated, frag, (ssize_t)rss - (ssize_t)used,
         tot->clients_mem);
}

static void add_persistence(struct buf *b)
{
    persist_info(b); /* persist: loading and rdb fields */
    addf(b,
         "aof_enabled:0\r\n"
         "aof_rewrite_in_progress:0\r\n"
         "aof_rewrite_scheduled:0\r\n"
         "aof_last_rewrite_time_sec:-1\r\n"
         "aof_current_rewrite_time_sec:-1\r\n"
         "aof_last_bgrewrite_status:ok\r\n"
         "aof_rewrites:0\r\n"
         "aof_rewrites_consecutive_failures:0\r\n"
         "aof_last_write_status:ok\r\n"
         "aof_last_cow_size:0\r\n"
         "module_fork_in_progress:0\r\n"
         "module_fork_last_cow_size:0\r\n");
}

static void add_stats(struct buf *b, const struct totals *tot)
{
    const struct worker_stats *st = &tot->st;
    addf(b,
         "total_connections_received:%llu\r\n"
         "total_commands_processed:%llu\r\n"
         "instantaneous_ops_per_sec:0\r\n"
         "total_net_input_bytes:%llu\r\n"
         "total_net_output_bytes:%llu\r\n"
         "total_net_repl_input_bytes:0\r\n"
         "total_net_repl_output_bytes:0\r\n"
         "instantaneous_input_kbps:0.00\r\n"
         "instantaneous_output_kbps:0.00\r\n"
         "instantaneous_input_repl_kbps:0.00\r\n"
         "instantaneous_output_repl_kbps:0.00\r\n"
         "rejected_connections:%llu\r\n"
         "sync_full:0\r\n"
         "sync_partial_ok:0\r\n"
         "sync_partial_err:0\r\n"
         "expired_keys:%llu\r\n"
         "expired_stale_perc:0.00\r\n"
         "expired_time_cap_reached_count:0\r\n"
         "expire_cycle_cpu_milliseconds:0\r\n"
         "evicted_keys:%llu\r\n"
         "evicted_clients:0\r\n"
         "total_eviction_exceeded_time:0\r\n"
         "current_eviction_exceeded_time:0\r\n"
         "keyspace_hits:%llu\r\n"
         "keyspace_misses:%llu\r\n"
         "pubsub_channels:%llu\r\n"
         "pubsub_patterns:%llu\r\n"
         "pubsubshard_channels:%llu\r\n"
         "latest_fork_usec:0\r\n"
         "total_forks:0\r\n"
         "migrate_cached_sockets:0\r\n"
         "slave_expires_tracked_keys:0\r\n"
         "active_defrag_hits:0\r\n"
         "active_defrag_misses:0\r\n"
         "active_defrag_key_hits:0\r\n"
         "active_defrag_key_misses:0\r\n"
         "total_active_defrag_time:0\r\n"
         "current_active_defrag_time:0\r\n"
         "tracking_total_keys:%llu\r\n"
         "tracking_total_items:%llu\r\n"
         "tracking_total_prefixes:%llu\r\n"
         "unexpected_error_replies:0\r\n"
         "total_error_replies:%llu\r\n"
         "dump_payload_sanitizations:0\r\n"
         "total_reads_processed:0\r\n"
         "total_writes_processed:0\r\n"
         "io_threaded_reads_processed:0\r\n"
         "io_threaded_writes_processed:0\r\n"
         "reply_buffer_shrinks:0\r\n"
         "reply_buffer_expands:0\r\n"
         "darter_tx_retries:%llu\r\n",
         (unsigned long long)st->total_connections, (unsigned long long)st->total_commands,
         (unsigned long long)st->net_input_bytes, (unsigned long long)st->net_output_bytes,
         (unsigned long long)st->rejected_connections, (unsigned long long)tot->ks.expired_keys,
         (unsigned long long)tot->ks.evicted_keys, (unsigned long long)tot->ks.keyspace_hits,
         (unsigned long long)tot->ks.keyspace_misses, (unsigned long long)tot->pubsub_channels,
         (unsigned long long)tot->pubsub_patterns, (unsigned long long)tot->pubsubshard_channels,
         (unsigned long long)tot->trk.keys, (unsigned long long)tot->trk.items,
         (unsigned long long)tot->trk.prefixes, /* tracking */
         (unsigned long long)tot->total_error_replies,
         (unsigned long long)st->tx_retries);
}

static void add_replication(struct buf *b, const struct config *cfg)
{
    long long backlog = 1024 * 1024;
    char v[64];
    if (config_format(cfg, "repl-backlog-size", v, sizeof(v)))
        backlog = strtoll(v, NULL, 10);
    addf(b,
         "role:master\r\n"
         "connected_slaves:0\r\n"
         "master_failover_state:no-failover\r\n"
         "master_replid:%s\r\n"
         "master_replid2:0000000000000000000000000000000000000000\r\n"
         "master_repl_offset:0\r\n"
         "second_repl_offset:-1\r\n"
         "repl_backlog_active:0\r\n"
         "repl_backlog_size:%lld\r\n"
         "repl_backlog_first_byte_offset:0\r\n"
         "repl_backlog_histlen:0\r\n",
         repl_id, backlog);
}

static void add_cpu(struct buf *b)
{
    struct rusage self, children, thread;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    getrusage(RUSAGE_THREAD, &thread);
    addf(b,
         "used_cpu_sys:%ld.%06ld\r\n"
         "used_cpu_user:%ld.%06ld\r\n"
         "used_cpu_sys_children:%ld.%06ld\r\n"
         "used_cpu_user_children:%ld.%06ld\r\n"
         "used_cpu_sys_main_thread:%ld.%06ld\r\n"
         "used_cpu_user_main_thread:%ld.%06ld\r\n",
         (long)self.ru_stime.tv_sec, (long)self.ru_stime.tv_usec, (long)self.ru_utime.tv_sec,
         (long)self.ru_utime.tv_usec, (long)children.ru_stime.tv_sec, (long)children.ru_stime.tv_usec,
         (long)children.ru_utime.tv_sec, (long)children.ru_utime.tv_usec, (long)thread.ru_stime.tv_sec,
         (long)thread.ru_stime.tv_usec, (long)thread.ru_utime.tv_sec, (long)thread.ru_utime.tv_usec);
}

/* Per-command counters of every thread, merged by command. */
struct merged {
    struct cmdstat *tab;
    uint32_t cap;
};

static void merge_cmdstats(struct mso *t, struct merged *m)
{
    uint32_t n = 0;
    for (int p = 0; p < t->nparts; p++)
        n += ((struct snap *)t->parts[p].data)->ncmds;
    m->cap = 16;
    while (m->cap < n * 2 + 2)
        m->cap *= 2;
    m->tab = mi_zalloc(sizeof(struct cmdstat) * m->cap);
    for (int p = 0; p < t->nparts; p++) {
        struct snap *s = t->parts[p].data;
        for (uint32_t i = 0; i < s->ncmds; i++) {
            struct cmdstat *d = cmdstat_slot(m->tab, m->cap, s->cmds[i].cmd);
            d->cmd = s->cmds[i].cmd;
            d->calls += s->cmds[i].calls;
            d->nsec += s->cmds[i].nsec;
            d->rejected += s->cmds[i].rejected;
            d->failed += s->cmds[i].failed;
        }
    }
}

struct cmdstat_visit {
    struct buf *b;
    struct merged *m;
};

static void add_one_cmdstat(const struct command *cmd, struct cmdstat_visit *v)
{
    struct cmdstat *s = cmdstat_slot(v->m->tab, v->m->cap, cmd);
    if (!s->cmd || !(s->calls || s->failed || s->rejected))
        return;
    char name[128];
    safe_name(cmd->name, name, sizeof(name));
    addf(v->b, "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,failed_calls=%llu\r\n",
         name, (unsigned long long)s->calls, (unsigned long long)(s->nsec / 1000),
         s->calls ? (double)s->nsec / 1000.0 / (double)s->calls : 0.0, (unsigned long long)s->rejected,
         (unsigned long long)s->failed);
}

static void visit_cmdstat(const struct command *cmd, void *arg)
{
    add_one_cmdstat(cmd, arg);
    for (const struct command *sub = cmd->subcmds; sub && sub->name; sub++)
        add_one_cmdstat(sub, arg);
}

static void add_commandstats(struct buf *b, struct mso *t)
{
    struct merged m;
    merge_cmdstats(t, &m);
    struct cmdstat_visit v = {b, &m};
    command_foreach(visit_cmdstat, &v);
    mi_free(m.tab);
}

static int errstat_cmp(const void *a, const void *b)
{
    return strcmp(((const struct errstat *)a)->name, ((const struct errstat *)b)->name);
}

static void add_errorstats(struct buf *b, struct mso *t)
{
    struct errstat all[ERRORSTATS_LIMIT];
    int n = 0;
    for (int p = 0; p < t->nparts; p++) {
        struct snap *s = t->parts[p].data;
        for (uint32_t i = 0; i < s->nerrs; i++) {
            int j = 0;
            while (j < n && strcmp(all[j].name, s->errs[i].name))
                j++;
            if (j == n) {
                if (n == ERRORSTATS_LIMIT)
                    continue;
                all[n++] = s->errs[i];
            } else {
                all[j].count += s->errs[i].count;
            }
        }
    }
    qsort(all, (size_t)n, sizeof(all[0]), errstat_cmp); /* Redis walks a radix tree: sorted */
    for (int i = 0; i < n; i++) {
        char name[ERR_NAME_MAX];
        safe_name(all[i].name, name, sizeof(name));
        addf(b, "errorstat_%s:count=%llu\r\n", name, (unsigned long long)all[i].count);
    }
}

static void add_keyspace(struct buf *b, const struct totals *tot)
{
    for (int db = 0; db < tot->ndb; db++)
        if (tot->keys[db] || tot->expires[db])
            addf(b, "db%d:keys=%llu,expires=%llu,avg_ttl=0\r\n", db, (unsigned long long)tot->keys[db],
                 (unsigned long long)tot->expires[db]);
}

static void add_threads(struct buf *b, struct mso *t)
{
    addf(b, "threads:%d\r\n", t->nparts);
    for (int p = 0; p < t->nparts; p++) {
        struct snap *s = t->parts[p].data;
        uint64_t keys = 0, expires = 0;
        for (int db = 0; db < s->ndb; db++) {
            keys += s->keys[db];
            expires += s->expires[db];
        }
        addf(b, "thread%d:keys=%llu,expires=%llu,used_memory=%lld,connections=%u,commands=%llu,slots=%u\r\n",
             t->parts[p].shard, (unsigned long long)keys, (unsigned long long)expires, (long long)s->used,
             s->nconns, (unsigned long long)s->st.total_commands, s->nslots);
    }
}

static void info_reply(struct mso *t, struct reply *r)
{
    pthread_once(&facts_once, init_facts);
    struct worker *w = worker_self();
    const struct config *cfg = &w->cfg;
    unsigned mask = selected_sections(t);
    struct totals tot;
    sum_parts(t, &tot);
    struct buf b;
    buf_init(&b);
    int sections = 0;
    if (mask & S_SERVER) {
        section_header(&b, &sections, "Server");
        add_server(&b, cfg, w);
    }
    if (mask & S_CLIENTS) {
        section_header(&b, &sections, "Clients");
        add_clients(&b, cfg, &tot);
    }
    if (mask & S_MEMORY) {
        section_header(&b, &sections, "Memory");
        add_memory(&b, cfg, &tot);
    }
    if (mask & S_PERSISTENCE) {
        section_header(&b, &sections, "Persistence");
        add_persistence(&b);
    }
    if (mask & S_STATS) {
        const struct buf *ps[MAX_THREADS]; /* pubsub: distinct channels / patterns over threads */
        int nps = 0;
        for (int p = 0; p < t->nparts && nps < MAX_THREADS; p++)
            ps[nps++] = &t->parts[p].out;
        pubsub_info_count(ps, nps, &tot.pubsub_channels, &tot.pubsub_patterns, &tot.pubsubshard_channels);
        section_header(&b, &sections, "Stats");
        add_stats(&b, &tot);
    }
    if (mask & S_REPLICATION) {
        section_header(&b, &sections, "Replication");
        add_replication(&b, cfg);
    }
    if (mask & S_CPU) {
        section_header(&b, &sections, "CPU");
        add_cpu(&b);
    }
    if (mask & S_MODULES)
        section_header(&b, &sections, "Modules");
    if (mask & S_COMMANDSTATS) {
        section_header(&b, &sections, "Commandstats");
        add_commandstats(&b, t);
    }
    if (mask & S_ERRORSTATS) {
        section_header(&b, &sections, "Errorstats");
        add_errorstats(&b, t);
    }
    if (mask & S_LATENCYSTATS)
        section_header(&b, &sections, "Latencystats");
    if (mask & S_CLUSTER) {
        section_header(&b, &sections, "Cluster");
        addf(&b, "cluster_enabled:%d\r\n", cfg->cluster_enabled ? 1 : 0);
    }
    if (mask & S_THREADS) {
        section_header(&b, &sections, "Threads");
        add_threads(&b, t);
    }
    if (mask & S_KEYSPACE) {
        section_header(&b, &sections, "Keyspace");
        add_keyspace(&b, &tot);
    }
    reply_verbatim(r, b.data ? b.data : "", b.len, "txt");
    buf_free(&b);
    mi_free(tot.keys);
}

const struct mso_ops info_ops = {.hop = info_hop, .next = info_next, .reply = info_reply, .global = true};
