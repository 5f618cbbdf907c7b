/* server/cmd_server.c — server-wide commands: DBSIZE FLUSHDB FLUSHALL
 * SWAPDB TIME LASTSAVE SHUTDOWN INFO DEBUG MEMORY. Whole-keyspace ones
 * visit every shard as a global multi-shard op; DEBUG OBJECT and MEMORY
 * USAGE run on the key's owner thread; DEBUG SLEEP blocks only the
 * connection's thread. Replies and errors as Redis 7.0.
 * Owns: server-level command semantics (INFO's text is info.c's). */
#include "server/busy.h"
#include "server/info.h"
#include "server/blocking.h" /* blocking: hooks */
#include "server/log.h"
#include "server/persist.h"
#include "server/multi.h" /* multi: hooks */
#include "server/tracking.h" /* tracking: hooks */
#include "shard/memory.h"

#include <limits.h>
#include <math.h>
#include <mimalloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void reply_help(struct reply *r, const char *cmd, const char *const *lines, size_t n)
{
    char head[128];
    snprintf(head, sizeof(head), "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", cmd);
    reply_array(r, (int64_t)n + 3);
    reply_status(r, head);
    for (size_t i = 0; i < n; i++)
        reply_status(r, lines[i]);
    reply_status(r, "HELP");
    reply_status(r, "    Prints this help.");
}

/* ---------- DBSIZE FLUSHDB FLUSHALL SWAPDB ---------- */

static void dbsize_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)hop;
    t->parts[part].count = (int64_t)ks_db_size(c->ks, c->db);
}

static const char *flush_check(struct mso *t)
{
    if (t->argc > 2 || (t->argc == 2 && !arg_eq(&t->argv[1], "async") && !arg_eq(&t->argv[1], "sync")))
        return ERR_SYNTAX;
    return NULL;
}

static void flushall_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)part;
    (void)hop;
    if (flush_check(t))
        return;
    for (int db = 0; db < c->ks->ndb; db++) {
        multi_touch_flush(c->w, db); /* multi: touch watched keys */
        ks_flush_db(c->ks, db);
        blocking_signal_db(c->w, db); /* blocking: XREADGROUP waiters get "-UNBLOCKED" */
    }
    tracking_flush(c->w); /* tracking: forget keys, null invalidation */
}

static void flushdb_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)part;
    (void)hop;
    if (flush_check(t))
        return;
    multi_touch_flush(c->w, c->db); /* multi: touch watched keys */
    ks_flush_db(c->ks, c->db);
    blocking_signal_db(c->w, c->db); /* blocking: XREADGROUP waiters get "-UNBLOCKED" */
    tracking_flush(c->w); /* tracking: forget keys, null invalidation */
}

static void flush_reply(struct mso *t, struct reply *r)
{
    const char *err = flush_check(t);
    if (err)
        reply_error(r, err);
    else
        reply_ok(r);
}

/* Redis's getIntFromObjectOrReply with a custom message. */
static bool arg_to_int(const struct arg *a, int *out)
{
    long long v;
    if (!arg_to_ll(a, &v) || v < INT_MIN || v > INT_MAX)
        return false;
    *out = (int)v;
    return true;
}

static const char *swapdb_check(struct mso *t, int ndb, int *a, int *b)
{
    if (worker_self()->cfg.cluster_enabled)
        return "ERR SWAPDB is not allowed in cluster mode";
    if (!arg_to_int(&t->argv[1], a))
        return "ERR invalid first DB index";
    if (!arg_to_int(&t->argv[2], b))
        return "ERR invalid second DB index";
    if (*a < 0 || *a >= ndb || *b < 0 || *b >= ndb)
        return "ERR DB index is out of range";
    return NULL;
}

static void swapdb_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)part;
    (void)hop;
    int a, b;
    if (swapdb_check(t, c->ks->ndb, &a, &b) || a == b)
        return;
    multi_touch_swap(c->w, a, b); /* multi: touch watched keys */
    ks_swap_db(c->ks, a, b);
    blocking_signal_db(c->w, a); /* blocking: clients parked in either db may be served now */
    blocking_signal_db(c->w, b);
}

static void swapdb_reply(struct mso *t, struct reply *r)
{
    int a, b;
    const char *err = swapdb_check(t, worker_self()->cfg.databases, &a, &b);
    if (err)
        reply_error(r, err);
    else
        reply_ok(r);
}

static const struct mso_ops dbsize_ops = {.hop = dbsize_hop, .next = mso_one_hop, .reply = mso_reply_sum, .global = true};
static const struct mso_ops flushall_ops = {.hop = flushall_hop, .next = mso_one_hop, .reply = flush_reply, .global = true};
static const struct mso_ops flushdb_ops = {.hop = flushdb_hop, .next = mso_one_hop, .reply = flush_reply, .global = true};
static const struct mso_ops swapdb_ops = {.hop = swapdb_hop, .next = mso_one_hop, .reply = swapdb_reply, .global = true};

/* ---------- TIME LASTSAVE SHUTDOWN ---------- */

static void cmd_time(struct cmd_ctx *c)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    reply_array(&c->r, 2);
    reply_bulk_int(&c->r, (int64_t)tv.tv_sec);
    reply_bulk_int(&c->r, (int64_t)tv.tv_usec);
}

static void cmd_shutdown(struct cmd_ctx *c)
{
    bool nosave = false, save = false, flags = false, abort_it = false;
    for (int i = 1; i < c->argc; i++) {
        const struct arg *a = &c->argv[i];
        if (arg_eq(a, "nosave"))
            nosave = flags = true;
        else if (arg_eq(a, "save"))
            save = flags = true;
        else if (arg_eq(a, "now") || arg_eq(a, "force"))
            flags = true;
        else if (arg_eq(a, "abort"))
            abort_it = true;
        else {
            reply_error(&c->r, ERR_SYNTAX);
            return;
        }
    }
    if ((abort_it && flags) || (nosave && save)) {
        reply_error(&c->r, ERR_SYNTAX);
        return;
    }
    if (abort_it) {
        /* shutdowns are immediate: there is never one to abort */
        reply_error(&c->r, "ERR No shutdown in progress.");
        return;
    }
    const char *busy = busy_error(c->w);
    if (busy && !nosave) {
        /* a script past busy-reply-threshold: only SHUTDOWN NOSAVE (as Redis) */
        reply_error(&c->r, busy);
        return;
    }
    serverlog(LL_WARNING, "User requested shutdown...");
    /* persist: SAVE / NOSAVE override the save points for the final save */
    atomic_store(&g_shutdown_save_mode, nosave ? PERSIST_SHUTDOWN_NOSAVE : save ? PERSIST_SHUTDOWN_SAVE : PERSIST_SHUTDOWN_DEFAULT);
    /* no reply: the connection closes with the server, as in Redis */
    atomic_store(&g_shutdown_requested, 1);
    kill(getpid(), SIGTERM);
}

/* ---------- DEBUG ---------- */

static const char *const debug_help_lines[] = {
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. Each key is created on the thread",
    "    that owns its slot.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "RELOAD",
    "    Save the RDB on disk and reload it back to memory.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed. darter stops only the",
    "    thread of the calling connection.",
};

static void cmd_debug_help(struct cmd_ctx *c)
{
    reply_help(&c->r, "DEBUG", debug_help_lines, sizeof(debug_help_lines) / sizeof(debug_help_lines[0]));
}

static const char *encoding_name(const struct entry *e)
{
    static const char *const names[] = {"raw", "int", "hashtable", "zipmap", "linkedlist", "ziplist",
                                        "intset", "skiplist", "embstr", "quicklist", "stream", "listpack"};
    return e->enc < sizeof(names) / sizeof(names[0]) ? names[e->enc] : "unknown";
}

/* Bytes of Redis's RDB length prefix for n. */
static size_t rdb_len_bytes(uint64_t n)
{
    if (n < (1 << 6))
        return 1;
    if (n < (1 << 14))
        return 2;
    if (n <= UINT32_MAX)
        return 5;
    return 9;
}

/* rdbSavedObjectLen for strings (without LZF compression). */
static size_t string_serialized_len(struct entry *e)
{
    char tmp[24];
    size_t len;
    const char *s = entry_string(e, tmp, &len);
    int64_t v;
    if (len <= 11 && string_to_int64(s, len, &v)) {
        if (v >= -(1 << 7) && v <= (1 << 7) - 1)
            return 2;
        if (v >= -(1 << 15) && v <= (1 << 15) - 1)
            return 3;
        if (v >= -((int64_t)1 << 31) && v <= ((int64_t)1 << 31) - 1)
            return 5;
    }
    return rdb_len_bytes(len) + len;
}

static void cmd_debug_object(struct cmd_ctx *c)
{
    struct entry *e = db_find(c, &c->argv[2], NULL);
    if (!e) {
        reply_error(&c->r, ERR_NO_KEY);
        return;
    }
    uint32_t now = lru_clock(), lru = e->lru & 0xffffff;
    unsigned long long idle = now >= lru ? now - lru : (0xffffffu - lru) + now;
    int refcount = (e->type == OBJ_STRING && e->enc == ENC_INT && e->val.ival >= 0 && e->val.ival < 10000)
                       ? INT_MAX /* Redis's shared integers */
                       : 1;
    size_t serialized = e->type == OBJ_STRING ? string_serialized_len(e) : entry_memory(e);
    char line[256];
    snprintf(line, sizeof(line),
             "Value at:%p refcount:%d encoding:%s serializedlength:%zu lru:%u lru_seconds_idle:%llu",
             (void *)e, refcount, encoding_name(e), serialized, lru, idle);
    reply_status(&c->r, line);
}

static void cmd_debug_sleep(struct cmd_ctx *c)
{
    char tmp[64];
    size_t n = c->argv[2].len < sizeof(tmp) - 1 ? c->argv[2].len : sizeof(tmp) - 1;
    memcpy(tmp, c->argv[2].p, n);
    tmp[n] = 0;
    double secs = strtod(tmp, NULL);
    long long us = (long long)(secs * 1000000);
    if (us > 0) {
        struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
        nanosleep(&ts, NULL);
    }
    reply_ok(&c->r);
}

static void cmd_debug_log(struct cmd_ctx *c)
{
    serverlog(LL_WARNING, "DEBUG LOG: %.*s", (int)c->argv[2].len, c->argv[2].p);
    reply_ok(&c->r);
}

static void cmd_debug_error(struct cmd_ctx *c)
{
    char msg[512];
    size_t n = c->argv[2].len < sizeof(msg) - 1 ? c->argv[2].len : sizeof(msg) - 1;
    memcpy(msg, c->argv[2].p, n);
    msg[n] = 0;
    reply_error(&c->r, msg);
}

static void cmd_debug_ok(struct cmd_ctx *c) { reply_ok(&c->r); }

static void cmd_debug_protocol(struct cmd_ctx *c)
{
    const struct arg *t = &c->argv[2];
    struct reply *r = &c->r;
    if (arg_eq(t, "string")) {
        reply_bulkz(r, "Hello World");
    } else if (arg_eq(t, "integer")) {
        reply_int(r, 12345);
    } else if (arg_eq(t, "double")) {
        reply_double(r, 3.141);
    } else if (arg_eq(t, "bignum")) {
        reply_bignum(r, "1234567999999999999999999999999999999", 37);
    } else if (arg_eq(t, "null")) {
        reply_null(r);
    } else if (arg_eq(t, "array") || arg_eq(t, "set")) {
        if (arg_eq(t, "array"))
            reply_array(r, 3);
        else
            reply_set(r, 3);
        for (int j = 0; j < 3; j++)
            reply_int(r, j);
    } else if (arg_eq(t, "map")) {
        reply_map(r, 3);
        for (int j = 0; j < 3; j++) {
            reply_int(r, j);
            reply_bool(r, j == 1);
        }
    } else if (arg_eq(t, "attrib")) {
        if (r->resp >= 3) {
            reply_raw(r, "|1\r\n", 4);
            reply_bulkz(r, "key-popularity");
            reply_array(r, 2);
            reply_bulkz(r, "key:123");
            reply_int(r, 90);
        }
        reply_bulkz(r, "Some real reply following the attribute");
    } else if (arg_eq(t, "push")) {
        if (r->resp < 3) {
            reply_error(r, "ERR RESP2 is not supported by this command");
            return;
        }
        reply_push(r, 2);
        reply_bulkz(r, "server-cpu-usage");
        reply_int(r, 42);
        reply_bulkz(r, "Some real reply following the push reply");
    } else if (arg_eq(t, "true")) {
        reply_bool(r, true);
    } else if (arg_eq(t, "false")) {
        reply_bool(r, false);
    } else if (arg_eq(t, "verbatim")) {
        reply_verbatim(r, "This is a verbatim\nstring", 25, "txt");
    } else {
        reply_error(r, "ERR Wrong protocol type name. Please use one of the following: "
                       "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false");
    }
}

/* DEBUG POPULATE count [prefix] [size]: every thread walks the whole key
 * range and creates the keys whose slot it owns. */
static const char *populate_args(struct mso *t, long long *count, long long *size)
{
    static _Thread_local char err[256];
    *size = 0;
    if (t->argc > 5) {
        snprintf(err, sizeof(err), "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try DEBUG HELP.",
                 (int)(t->argv[1].len > 128 ? 128 : t->argv[1].len), t->argv[1].p);
        return err;
    }
    if (!arg_to_ll(&t->argv[2], count) || *count < 0)
        return "ERR value is out of range, must be positive";
    if (t->argc == 5) {
        if (!arg_to_ll(&t->argv[4], size) || *size < 0)
            return "ERR value is out of range, must be positive";
        if (*size > worker_self()->cfg.proto_max_bulk_len)
            return "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    }
    return NULL;
}

static void populate_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)part;
    (void)hop;
    long long count, size;
    if (populate_args(t, &count, &size))
        return;
    const struct arg *prefix = t->argc >= 4 ? &t->argv[3] : NULL;
    size_t plen = prefix ? prefix->len : 3;
    size_t cap = plen + 32;
    char *key = mi_malloc(cap);
    memcpy(key, prefix ? prefix->p : "key", plen);
    key[plen] = ':';
    char *vbuf = size > 0 ? mi_zalloc((size_t)size) : NULL;
    for (long long j = 0; j < count; j++) {
        struct arg k = {key, plen + 1 + (size_t)snprintf(key + plen + 1, cap - plen - 1, "%llu",
                                                         (unsigned long long)j)};
        if (g_slot_owner[arg_slot(&k)] != c->w->id)
            continue;
        struct ks_ref ref;
        if (db_find(c, &k, &ref))
            continue;
        char val[40];
        int vlen = snprintf(val, sizeof(val), "value:%llu", (unsigned long long)j);
        struct entry *e;
        if (size == 0) {
            e = entry_new_string_raw(k.p, k.len, val, (size_t)vlen, (size_t)vlen);
        } else {
            memcpy(vbuf, val, (size_t)vlen < (size_t)size ? (size_t)vlen : (size_t)size);
            e = entry_new_string_raw(k.p, k.len, vbuf, (size_t)size, (size_t)size);
        }
        db_add(c, &k, e);
    }
    mi_free(vbuf);
    mi_free(key);
}

static void populate_reply(struct mso *t, struct reply *r)
{
    long long count, size;
    const char *err = populate_args(t, &count, &size);
    if (err)
        reply_error(r, err);
    else
        reply_ok(r);
}

static void active_expire_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)part;
    (void)hop;
    char tmp[32];
    size_t n = t->argv[2].len < sizeof(tmp) - 1 ? t->argv[2].len : sizeof(tmp) - 1;
    memcpy(tmp, t->argv[2].p, n);
    tmp[n] = 0;
    c->w->no_active_expire = atoi(tmp) == 0;
}

static void ok_reply(struct mso *t, struct reply *r)
{
    (void)t;
    reply_ok(r);
}

static const struct mso_ops populate_ops = {.hop = populate_hop, .next = mso_one_hop, .reply = populate_reply, .global = true};
static const struct mso_ops active_expire_ops = {
    .hop = active_expire_hop, .next = mso_one_hop, .reply = ok_reply, .global = true};

/* ---------- MEMORY ---------- */

static void cmd_memory_usage(struct cmd_ctx *c)
{
    for (int j = 3; j < c->argc; j++) {
        long long samples;
        if (arg_eq(&c->argv[j], "samples") && j + 1 < c->argc) {
            if (!arg_get_ll(c, &c->argv[j + 1], &samples))
                return;
            if (samples < 0) {
                reply_error(&c->r, ERR_SYNTAX);
                return;
            }
            j++;
        } else {
            reply_error(&c->r, ERR_SYNTAX);
            return;
        }
    }
    struct entry *e = db_find(c, &c->argv[2], NULL);
    if (!e) {
        reply_null(&c->r);
        return;
    }
    reply_int(&c->r, (int64_t)entry_memory(e));
}

/* MEMORY STATS: each thread reports; the coordinator sums. */
struct memstats_part {
    int64_t used, peak;
    uint64_t keys;
    size_t clients;
    int ndb;
    uint64_t dbkeys[];
};

static void memstats_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)hop;
    struct memstats_part *p = mi_zalloc(sizeof(*p) + sizeof(uint64_t) * (size_t)c->ks->ndb);
    p->used = smem_used();
    p->peak = smem_peak();
    p->clients = worker_clients_memory(c->w);
    p->ndb = c->ks->ndb;
    for (int db = 0; db < p->ndb; db++) {
        p->dbkeys[db] = ks_db_size(c->ks, db);
        p->keys += p->dbkeys[db];
    }
    t->parts[part].data = p;
}

static void memstats_reply(struct mso *t, struct reply *r)
{
    int64_t dataset = 0, peak = 0;
    uint64_t keys = 0;
    size_t clients = 0;
    int ndb = ((struct memstats_part *)t->parts[0].data)->ndb;
    uint64_t *dbkeys = mi_zalloc(sizeof(uint64_t) * (size_t)ndb);
    for (int i = 0; i < t->nparts; i++) {
        struct memstats_part *p = t->parts[i].data;
        dataset += p->used;
        peak += p->peak;
        keys += p->keys;
        clients += p->clients;
        for (int db = 0; db < ndb && db < p->ndb; db++)
            dbkeys[db] += p->dbkeys[db];
    }
    int64_t total = dataset + (int64_t)clients;
    if (peak + (int64_t)clients > total)
        peak += (int64_t)clients;
    else
        peak = total;
    size_t rss = process_rss();
    int nonempty = 0;
    for (int db = 0; db < ndb; db++)
        nonempty += dbkeys[db] != 0;
    reply_map(r, 27 + nonempty);
    struct {
        const char *name;
        int64_t v;
    } head[] = {
        {"peak.allocated", peak}, {"total.allocated", total}, {"startup.allocated", 0},
        {"replication.backlog", 0}, {"clients.slaves", 0}, {"clients.normal", (int64_t)clients},
        {"cluster.links", 0}, {"aof.buffer", 0}, {"lua.caches", 0}, {"functions.caches", 0},
    };
    for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++) {
        reply_bulkz(r, head[i].name);
        reply_int(r, head[i].v);
    }
    for (int db = 0; db < ndb; db++) {
        if (!dbkeys[db])
            continue;
        char name[32];
        snprintf(name, sizeof(name), "db.%d", db);
        reply_bulkz(r, name);
        reply_map(r, 3);
        reply_bulkz(r, "overhead.hashtable.main");
        reply_int(r, 0);
        reply_bulkz(r, "overhead.hashtable.expires");
        reply_int(r, 0);
        reply_bulkz(r, "overhead.hashtable.slot-to-keys");
        reply_int(r, 0);
    }
    reply_bulkz(r, "overhead.total");
    reply_int(r, (int64_t)clients);
    reply_bulkz(r, "keys.count");
    reply_int(r, (int64_t)keys);
    reply_bulkz(r, "keys.bytes-per-key");
    reply_int(r, keys ? total / (int64_t)keys : 0);
    reply_bulkz(r, "dataset.bytes");
    reply_int(r, dataset);
    reply_bulkz(r, "dataset.percentage");
    reply_double(r, total ? (double)dataset * 100 / (double)total : 0);
    reply_bulkz(r, "peak.percentage");
    reply_double(r, peak ? (double)total * 100 / (double)peak : 0);
    reply_bulkz(r, "allocator.allocated");
    reply_int(r, total);
    reply_bulkz(r, "allocator.active");
    reply_int(r, total);
    reply_bulkz(r, "allocator.resident");
    reply_int(r, (int64_t)rss);
    reply_bulkz(r, "allocator-fragmentation.ratio");
    reply_double(r, 1.0);
    reply_bulkz(r, "allocator-fragmentation.bytes");
    reply_int(r, 0);
    reply_bulkz(r, "allocator-rss.ratio");
    reply_double(r, total ? (double)rss / (double)total : 0);
    reply_bulkz(r, "allocator-rss.bytes");
    reply_int(r, (int64_t)rss - total);
    reply_bulkz(r, "rss-overhead.ratio");
    reply_double(r, 1.0);
    reply_bulkz(r, "rss-overhead.bytes");
    reply_int(r, 0);
    reply_bulkz(r, "fragmentation");
    reply_double(r, total ? (double)rss / (double)total : 0);
    reply_bulkz(r, "fragmentation.bytes");
    reply_int(r, (int64_t)rss - total);
    mi_free(dbkeys);
}

static const struct mso_ops memstats_ops = {.hop = memstats_hop, .next = mso_one_hop, .reply = memstats_reply, .global = true};

static void cmd_memory_doctor(struct cmd_ctx *c)
{
    static const char report[] = "Hi Sam, I can't find any memory issue in your instance. "
                                 "I can only account for what occurs on this base.";
    reply_verbatim(&c->r, report, sizeof(report) - 1, "txt");
}

static void cmd_memory_malloc_stats(struct cmd_ctx *c)
{
    reply_bulkz(&c->r, "Stats not supported for the current allocator");
}

static void cmd_memory_purge(struct cmd_ctx *c)
{
    mi_collect(false);
    reply_ok(&c->r);
}

static void cmd_memory_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
    };
    reply_help(&c->r, "MEMORY", lines, sizeof(lines) / sizeof(lines[0]));
}

static void cmd_container_arity(struct cmd_ctx *c)
{
    reply_errorf(&c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
}

/* ---------- the table ---------- */

#define G CMD_GLOBAL
#define C CMD_CONN
#define A CMD_ADMIN
#define NS CMD_NOSCRIPT
#define LO CMD_LOADING
#define ST CMD_STALE

static const struct command debug_subcommands[] = {
    {"debug|help", 2, C | A | NS | LO | ST, 0, 0, 0, cmd_debug_help, .group = "server", .summary = "Show helpful text about the different subcommands", .since = "1.0.0", .acl = "admin slow dangerous"},
    {"debug|object", 3, A | NS | LO | ST, 2, 2, 1, cmd_debug_object, .group = "server", .summary = "Show low level info about a key and its value", .since = "1.0.0", .acl = "admin slow dangerous"},
    {"debug|populate", -3, A | NS | LO | ST | G, 0, 0, 0, NULL, .mso = &populate_ops, .group = "server", .summary = "Create count string keys named key:<num> on their owner threads", .since = "1.0.0", .acl = "admin slow dangerous"},
    {"debug|sleep", 3, C | A | NS | LO | ST, 0, 0, 0, cmd_debug_sleep, .group = "server", .summary = "Stop the calling connection's thread for the given seconds", .since = "1.0.0", .acl = "admin slow dangerous"},
    {"debug|set-active-expire", 3, A | NS | LO | ST | G, 0, 0, 0, NULL, .mso = &active_expire_ops, .group = "server", .summary = "Enable or disable the active expiry cycle on every thread", .since = "1.0.0", .acl = "admin slow dangerous"},
    {"debug|protocol", 3, C | A | NS | LO | ST, 0, 0, 0, cmd_debug_protocol, .group = "server", .summary = "Reply with a test value of the given RESP type", .since = "6.0.0", .acl = "admin slow dangerous"},
    {"debug|log", 3, C | A | NS | LO | ST, 0, 0, 0, cmd_debug_log, .group = "server", .summary = "Write a message to the server log", .since = "1.0.0", .acl = "admin slow dangerous"},
    {"debug|error", 3, C | A | NS | LO | ST, 0, 0, 0, cmd_debug_error, .group = "server", .summary = "Reply with the given string as an error", .since = "1.0.0", .acl = "admin slow dangerous"},
    {"debug|reload", 2, C | A | NS | ST, 0, 0, 0, persist_cmd_debug_reload, .group = "server", .summary = "Save the RDB on disk, flush and reload it", .since = "1.0.0", .acl = "admin slow dangerous"},
    {"debug|change-repl-id", 2, C | A | NS | LO | ST, 0, 0, 0, cmd_debug_ok, .group = "server", .summary = "Change the replication IDs (no effect: darter does not replicate)", .since = "1.0.0", .acl = "admin slow dangerous"},
    {NULL},
};

static const struct command memory_subcommands[] = {
    {"memory|doctor", 2, C, 0, 0, 0, cmd_memory_doctor, .group = "server", .summary = "Outputs memory problems report", .since = "4.0.0", .acl = "slow"},
    {"memory|help", 2, C | LO | ST, 0, 0, 0, cmd_memory_help, .group = "server", .summary = "Show helpful text about the different subcommands", .since = "4.0.0", .acl = "slow"},
    {"memory|malloc-stats", 2, C, 0, 0, 0, cmd_memory_malloc_stats, .group = "server", .summary = "Show allocator internal stats", .since = "4.0.0", .acl = "slow"},
    {"memory|purge", 2, C, 0, 0, 0, cmd_memory_purge, .group = "server", .summary = "Ask the allocator to release memory", .since = "4.0.0", .acl = "slow"},
    {"memory|stats", 2, G, 0, 0, 0, NULL, .mso = &memstats_ops, .group = "server", .summary = "Show memory usage details", .since = "4.0.0", .acl = "slow"},
    {"memory|usage", -3, CMD_READONLY, 2, 2, 1, cmd_memory_usage, .group = "server", .summary = "Estimate the memory usage of a key", .since = "4.0.0", .acl = "read slow"},
    {NULL},
};

const struct command server_commands[] = {
    {"dbsize", 1, CMD_READONLY | CMD_FAST | G, 0, 0, 0, NULL, .mso = &dbsize_ops, .group = "server", .summary = "Return the number of keys in the selected database", .since = "1.0.0", .acl = "keyspace read fast"},
    {"flushall", -1, CMD_WRITE | G, 0, 0, 0, NULL, .mso = &flushall_ops, .group = "server", .summary = "Remove all keys from all databases", .since = "1.0.0", .acl = "keyspace write slow dangerous"},
    {"flushdb", -1, CMD_WRITE | G, 0, 0, 0, NULL, .mso = &flushdb_ops, .group = "server", .summary = "Remove all keys from the current database", .since = "1.0.0", .acl = "keyspace write slow dangerous"},
    {"swapdb", 3, CMD_WRITE | CMD_FAST | G, 0, 0, 0, NULL, .mso = &swapdb_ops, .group = "server", .summary = "Swaps two Redis databases", .since = "4.0.0", .acl = "keyspace write fast dangerous"},
    {"time", 1, LO | ST | CMD_FAST | C, 0, 0, 0, cmd_time, .group = "server", .summary = "Return the current server time", .since = "2.6.0", .acl = "fast"},
    {"lastsave", 1, LO | ST | CMD_FAST | C, 0, 0, 0, persist_cmd_lastsave, .group = "server", .summary = "Get the UNIX time stamp of the last successful save to disk", .since = "1.0.0", .acl = "admin fast dangerous"},
    {"save", 1, A | NS | CMD_NO_MULTI | C, 0, 0, 0, persist_cmd_save, .group = "server", .summary = "Synchronously save the dataset to disk", .since = "1.0.0", .acl = "admin slow dangerous"},
    {"bgsave", -1, A | NS | C, 0, 0, 0, persist_cmd_bgsave, .group = "server", .summary = "Asynchronously save the dataset to disk", .since = "1.0.0", .acl = "admin slow dangerous"},
    {"shutdown", -1, A | NS | LO | ST | CMD_NO_MULTI | CMD_SENTINEL | CMD_ALLOW_BUSY | C, 0, 0, 0, cmd_shutdown, .group = "server", .summary = "Synchronously save the dataset to disk and then shut down the server", .since = "1.0.0", .acl = "admin slow dangerous"},
    {"info", -1, LO | ST | CMD_SENTINEL | G, 0, 0, 0, NULL, .mso = &info_ops, .group = "server", .summary = "Get information and statistics about the server", .since = "1.0.0", .acl = "slow dangerous"},
    {"debug", -2, A | NS | LO | ST | C, 0, 0, 0, cmd_container_arity, .subcmds = debug_subcommands, .group = "server", .summary = "A container for debugging commands", .since = "1.0.0", .acl = "admin slow dangerous"},
    {"memory", -2, C, 0, 0, 0, cmd_container_arity, .subcmds = memory_subcommands, .group = "server", .summary = "A container for memory diagnostics commands", .since = "4.0.0", .acl = "slow"},
    {NULL},
};
