/* server/config.c — the configuration table and everything that reads or
 * writes `struct config`: defaults, redis.conf-syntax parsing (quotes,
 * comments, include), CONFIG SET values, CONFIG GET formatting.
 * Owns: the two read-only directive tables below (directives darter
 * implements, stored in typed fields; and directives Redis 7.0 knows that
 * darter only accepts, stored as normalised strings in c->extra) and a
 * thread-local buffer for composed error messages.
 * Must not touch: sockets, workers, the log. The only side effect outside the
 * struct is `dir`, which chdir()s like Redis; loading also opens the logfile
 * once to check it, and reads included files. */
#include "server/config.h"
#include "shard/types.h"
#include "server/glob.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <mimalloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define REDIS_VERSION_STR "7.0.15"
#define BIND_MAX 16         /* Redis's CONFIG_BINDADDR_MAX */
#define THREADS_MAX 256     /* server.h's MAX_THREADS */
#define HZ_MIN 1
#define HZ_MAX 500
#define INCLUDE_MAX_DEPTH 16
#define INCLUDE_MAX_FILES 1024
#define ERRBUF_LEN 1024
#define VALUE_MAX 4096      /* formatted values: dir can be a long path */

/* ---------- directive descriptions ---------- */

enum kind { K_BOOL, K_INT, K_MEM, K_OCTAL, K_MEMPCT, K_ENUM, K_STR, K_SPECIAL };
enum store { S_BOOL, S_INT, S_LL, S_STR, S_EXTRA };
enum {
    F_IMMUTABLE = 1 << 0, /* only at startup */
    F_MULTI = 1 << 1,     /* takes several arguments (save, bind, ...) */
    F_HIDDEN = 1 << 2,    /* CONFIG GET only by exact name */
    F_PROTECTED = 1 << 3, /* CONFIG SET needs enable-protected-configs */
    F_CWD = 1 << 4,       /* formatted as the current directory */
    F_HZ = 1 << 5,        /* clamped to HZ_MIN..HZ_MAX once set, as Redis does */
};

struct enum_name {
    const char *name;
    int val;
};

/* A parsed value: numbers in n, strings and special values in s. */
struct val {
    long long n;
    char s[CFG_STR_MAX];
};

struct apply_ctx {
    bool at_startup;   /* immutable directives allowed; multi values split with quotes */
    bool reading_file; /* `save` lines after the first one append */
    bool save_loaded;
    bool defaults;     /* built-in defaults: no side effects */
};

struct directive;
typedef const char *(*parse_fn)(const struct config *c, const struct directive *d, int argc,
                                char **argv, struct apply_ctx *ax, struct val *v);
typedef const char *(*check_fn)(const struct val *v);

struct directive {
    const char *name;
    const char *alias;
    unsigned char kind, store, flags;
    size_t off; /* field in struct config, unless store == S_EXTRA */
    long long min, max;
    const struct enum_name *enums;
    const char *def; /* Redis's default, as a config-file value */
    parse_fn parse;  /* K_SPECIAL */
    check_fn check;  /* optional validation after parsing */
};

static const struct enum_name loglevel_enum[] = {
    {"debug", LL_DEBUG}, {"verbose", LL_VERBOSE}, {"notice", LL_NOTICE},
    {"warning", LL_WARNING}, {"nothing", LL_NOTHING}, {NULL, 0},
};
static const struct enum_name policy_enum[] = {
    {"volatile-lru", MAXMEMORY_VOLATILE_LRU},
    {"volatile-lfu", MAXMEMORY_VOLATILE_LFU},
    {"volatile-random", MAXMEMORY_VOLATILE_RANDOM},
    {"volatile-ttl", MAXMEMORY_VOLATILE_TTL},
    {"allkeys-lru", MAXMEMORY_ALLKEYS_LRU},
    {"allkeys-lfu", MAXMEMORY_ALLKEYS_LFU},
    {"allkeys-random", MAXMEMORY_ALLKEYS_RANDOM},
    {"noeviction", MAXMEMORY_NO_EVICTION},
    {NULL, 0},
};
static const struct enum_name supervised_enum[] = {
    {"upstart", 3}, {"systemd", 2}, {"auto", 1}, {"no", 0}, {NULL, 0},
};
static const struct enum_name syslog_facility_enum[] = {
    {"user", 0}, {"local0", 1}, {"local1", 2}, {"local2", 3}, {"local3", 4},
    {"local4", 5}, {"local5", 6}, {"local6", 7}, {"local7", 8}, {NULL, 0},
};
static const struct enum_name diskless_load_enum[] = {
    {"disabled", 0}, {"on-empty-db", 1}, {"swapdb", 2}, {NULL, 0},
};
static const struct enum_name fsync_enum[] = {
    {"everysec", 0}, {"always", 1}, {"no", 2}, {NULL, 0},
};
static const struct enum_name oom_adj_enum[] = {
    {"no", 0}, {"yes", 1}, {"relative", 1}, {"absolute", 2}, {NULL, 0},
};
static const struct enum_name pubsub_default_enum[] = {
    {"allchannels", 1}, {"resetchannels", 0}, {NULL, 0},
};
static const struct enum_name sanitize_enum[] = {
    {"no", 0}, {"yes", 1}, {"clients", 2}, {NULL, 0},
};
static const struct enum_name protected_enum[] = {
    {"no", 0}, {"yes", 1}, {"local", 2}, {NULL, 0},
};
static const struct enum_name endpoint_enum[] = {
    {"ip", 0}, {"hostname", 1}, {"unknown-endpoint", 2}, {NULL, 0},
};
static const struct enum_name propagation_enum[] = {
    {"ignore", 0}, {"panic", 1}, {"panic-on-replicas", 2}, {NULL, 0},
};
#define SHUTDOWN_SAVE 1
#define SHUTDOWN_NOSAVE 2
static const struct enum_name shutdown_enum[] = {
    {"default", 0}, {"save", SHUTDOWN_SAVE}, {"nosave", SHUTDOWN_NOSAVE},
    {"now", 4}, {"force", 8}, {NULL, 0},
};

static const char *parse_bind(const struct config *c, const struct directive *d, int argc,
                              char **argv, struct apply_ctx *ax, struct val *v);
static const char *parse_dir(const struct config *c, const struct directive *d, int argc,
                             char **argv, struct apply_ctx *ax, struct val *v);
static const char *parse_save(const struct config *c, const struct directive *d, int argc,
                              char **argv, struct apply_ctx *ax, struct val *v);
static const char *parse_notify(const struct config *c, const struct directive *d, int argc,
                                char **argv, struct apply_ctx *ax, struct val *v);
static const char *parse_obuf(const struct config *c, const struct directive *d, int argc,
                              char **argv, struct apply_ctx *ax, struct val *v);
static const char *parse_oom_values(const struct config *c, const struct directive *d, int argc,
                                    char **argv, struct apply_ctx *ax, struct val *v);
static const char *parse_replicaof(const struct config *c, const struct directive *d, int argc,
                                   char **argv, struct apply_ctx *ax, struct val *v);
static const char *parse_percentiles(const struct config *c, const struct directive *d, int argc,
                                     char **argv, struct apply_ctx *ax, struct val *v);
static const char *check_dbfilename(const struct val *v);
static const char *check_aof_filename(const struct val *v);
static const char *check_aof_dirname(const struct val *v);
static const char *check_hostname(const struct val *v);
static const char *check_activedefrag(const struct val *v);
static const char *check_shutdown(const struct val *v);
static const char *check_proc_title(const struct val *v);

#define FIELD(f) offsetof(struct config, f)
#define R_BOOL(n, fl, f, d) \
    {.name = n, .kind = K_BOOL, .store = S_BOOL, .flags = fl, .off = FIELD(f), .def = d}
#define R_INT(n, fl, f, lo, hi, d) \
    {.name = n, .kind = K_INT, .store = S_INT, .flags = fl, .off = FIELD(f), .min = lo, .max = hi, \
     .def = d}
#define R_LL(n, al, fl, f, lo, hi, d) \
    {.name = n, .alias = al, .kind = K_INT, .store = S_LL, .flags = fl, .off = FIELD(f), \
     .min = lo, .max = hi, .def = d}
#define R_MEM(n, al, f, lo, hi, d) \
    {.name = n, .alias = al, .kind = K_MEM, .store = S_LL, .off = FIELD(f), .min = lo, .max = hi, \
     .def = d}
#define R_ENUM(n, f, e, d) \
    {.name = n, .kind = K_ENUM, .store = S_INT, .off = FIELD(f), .enums = e, .def = d}
#define R_STR(n, fl, f, d, chk) \
    {.name = n, .kind = K_STR, .store = S_STR, .flags = fl, .off = FIELD(f), .def = d, .check = chk}
#define R_SPECIAL(n, fl, f, fn, d) \
    {.name = n, .kind = K_SPECIAL, .store = S_STR, .flags = fl, .off = FIELD(f), .def = d, \
     .parse = fn}

/* Directives darter implements. */
static const struct directive real_table[] = {
    R_INT("port", F_IMMUTABLE, port, 0, 65535, "6379"),
    R_SPECIAL("bind", F_IMMUTABLE | F_MULTI, bind, parse_bind, "* -::*"),
    R_STR("unixsocket", F_IMMUTABLE, unixsocket, "", NULL),
    {.name = "unixsocketperm", .kind = K_OCTAL, .store = S_LL, .flags = F_IMMUTABLE,
     .off = FIELD(unixsocketperm), .min = 0, .max = 0777, .def = "0"},
    R_INT("threads", F_IMMUTABLE, threads, 0, THREADS_MAX, "0"),
    R_BOOL("force-epoll", F_IMMUTABLE, force_epoll, "no"),
    R_STR("requirepass", 0, requirepass, "", NULL),
    R_LL("maxclients", NULL, 0, maxclients, 1, UINT_MAX, "10000"),
    R_LL("timeout", NULL, 0, timeout, 0, INT_MAX, "0"),
    R_INT("databases", F_IMMUTABLE, databases, 1, INT_MAX, "16"),
    R_BOOL("protected-mode", 0, protected_mode, "yes"),
    R_ENUM("loglevel", loglevel, loglevel_enum, "notice"),
    R_STR("logfile", F_IMMUTABLE, logfile, "", NULL),
    R_SPECIAL("dir", F_PROTECTED | F_CWD, dir, parse_dir, "."),
    R_STR("pidfile", F_IMMUTABLE, pidfile, "", NULL),
    R_BOOL("daemonize", F_IMMUTABLE, daemonize, "no"),
    R_MEM("proto-max-bulk-len", NULL, proto_max_bulk_len, 1024 * 1024, LONG_MAX, "512mb"),
    R_MEM("client-query-buffer-limit", NULL, client_query_buffer_limit, 1024 * 1024, LONG_MAX,
          "1gb"),
    R_INT("hz", F_HZ, hz, 0, INT_MAX, "10"),
    R_LL("tcp-backlog", NULL, F_IMMUTABLE, tcp_backlog, 0, INT_MAX, "511"),
    R_LL("tcp-keepalive", NULL, 0, tcp_keepalive, 0, INT_MAX, "300"),
    R_SPECIAL("save", F_MULTI, save, parse_save, "3600 1 300 100 60 10000"),
    R_STR("dbfilename", F_PROTECTED, dbfilename, "dump.rdb", check_dbfilename),
    R_BOOL("appendonly", 0, appendonly, "no"),
    R_MEM("maxmemory", NULL, maxmemory, 0, LLONG_MAX, "0"),
    R_ENUM("maxmemory-policy", maxmemory_policy, policy_enum, "noeviction"),
    R_LL("maxmemory-samples", NULL, 0, maxmemory_samples, 1, INT_MAX, "5"),
    R_BOOL("lazyfree-lazy-user-del", 0, lazyfree_lazy_user_del, "no"),
    R_BOOL("lazyfree-lazy-user-flush", 0, lazyfree_lazy_user_flush, "no"),
    R_LL("active-expire-effort", NULL, 0, active_expire_effort, 1, 10, "1"),
    R_SPECIAL("notify-keyspace-events", 0, notify_keyspace_events, parse_notify, ""),
    R_LL("slowlog-log-slower-than", NULL, 0, slowlog_log_slower_than, -1, LLONG_MAX, "10000"),
    R_LL("slowlog-max-len", NULL, 0, slowlog_max_len, 0, LONG_MAX, "128"),
    R_LL("latency-monitor-threshold", NULL, 0, latency_monitor_threshold, 0, LLONG_MAX, "0"),
    R_MEM("hll-sparse-max-bytes", NULL, hll_sparse_max_bytes, 0, LONG_MAX, "3000"),
    R_LL("hash-max-listpack-entries", "hash-max-ziplist-entries", 0, hash_max_listpack_entries, 0,
         LONG_MAX, "512"),
    R_MEM("hash-max-listpack-value", "hash-max-ziplist-value", hash_max_listpack_value, 0,
          LONG_MAX, "64"),
    R_LL("set-max-intset-entries", NULL, 0, set_max_intset_entries, 0, LONG_MAX, "512"),
    R_LL("set-max-listpack-entries", NULL, 0, set_max_listpack_entries, 0, LONG_MAX, "128"),
    R_LL("zset-max-listpack-entries", "zset-max-ziplist-entries", 0, zset_max_listpack_entries, 0,
         LONG_MAX, "128"),
    R_MEM("zset-max-listpack-value", "zset-max-ziplist-value", zset_max_listpack_value, 0,
          LONG_MAX, "64"),
    R_LL("list-max-listpack-size", "list-max-ziplist-size", 0, list_max_listpack_size, INT_MIN,
         INT_MAX, "-2"),
    R_LL("list-compress-depth", NULL, 0, list_compress_depth, 0, INT_MAX, "0"),
    R_MEM("stream-node-max-bytes", NULL, stream_node_max_bytes, 0, LONG_MAX, "4096"),
    R_LL("stream-node-max-entries", NULL, 0, stream_node_max_entries, 0, LLONG_MAX, "100"),
    R_LL("busy-reply-threshold", "lua-time-limit", 0, lua_time_limit, 0, LONG_MAX, "5000"),
    R_BOOL("cluster-enabled", F_IMMUTABLE, cluster_enabled, "no"),
    R_STR("cluster-config-file", F_IMMUTABLE, cluster_config_file, "nodes.conf", NULL),
    R_LL("cluster-node-timeout", NULL, 0, cluster_node_timeout, 0, LLONG_MAX, "15000"),
};

#define X_BOOL(n, al, fl, d) \
    {.name = n, .alias = al, .kind = K_BOOL, .store = S_EXTRA, .flags = fl, .def = d}
#define X_BOOLC(n, chk, d) \
    {.name = n, .kind = K_BOOL, .store = S_EXTRA, .def = d, .check = chk}
#define X_INT(n, al, fl, lo, hi, d) \
    {.name = n, .alias = al, .kind = K_INT, .store = S_EXTRA, .flags = fl, .min = lo, .max = hi, \
     .def = d}
#define X_MEM(n, lo, hi, d) \
    {.name = n, .kind = K_MEM, .store = S_EXTRA, .min = lo, .max = hi, .def = d}
#define X_ENUM(n, fl, e, d) \
    {.name = n, .kind = K_ENUM, .store = S_EXTRA, .flags = fl, .enums = e, .def = d}
#define X_STR(n, al, fl, d, chk) \
    {.name = n, .alias = al, .kind = K_STR, .store = S_EXTRA, .flags = fl, .def = d, .check = chk}
#define X_SPECIAL(n, al, fl, fn, d) \
    {.name = n, .alias = al, .kind = K_SPECIAL, .store = S_EXTRA, .flags = fl, .def = d, \
     .parse = fn}

/* Directives Redis 7.0 knows that darter accepts but does not act on; their
 * values live in c->extra[i], i being the index in this table. */
static const struct directive extra_table[] = {
    X_BOOL("rdbchecksum", NULL, F_IMMUTABLE, "yes"),
    X_BOOL("io-threads-do-reads", NULL, F_IMMUTABLE, "no"),
    X_BOOL("always-show-logo", NULL, F_IMMUTABLE, "no"),
    X_BOOL("rdbcompression", NULL, 0, "yes"),
    X_BOOL("rdb-del-sync-files", NULL, 0, "no"),
    X_BOOL("activerehashing", NULL, 0, "yes"),
    X_BOOL("stop-writes-on-bgsave-error", NULL, 0, "yes"),
    X_BOOL("set-proc-title", NULL, F_IMMUTABLE, "yes"),
    X_BOOL("dynamic-hz", NULL, 0, "yes"),
    X_BOOL("lazyfree-lazy-eviction", NULL, 0, "no"),
    X_BOOL("lazyfree-lazy-expire", NULL, 0, "no"),
    X_BOOL("lazyfree-lazy-server-del", NULL, 0, "no"),
    X_BOOL("repl-disable-tcp-nodelay", NULL, 0, "no"),
    X_BOOL("repl-diskless-sync", NULL, 0, "yes"),
    X_BOOL("aof-rewrite-incremental-fsync", NULL, 0, "yes"),
    X_BOOL("no-appendfsync-on-rewrite", NULL, 0, "no"),
    X_BOOL("cluster-require-full-coverage", NULL, 0, "yes"),
    X_BOOL("rdb-save-incremental-fsync", NULL, 0, "yes"),
    X_BOOL("aof-load-truncated", NULL, 0, "yes"),
    X_BOOL("aof-use-rdb-preamble", NULL, 0, "yes"),
    X_BOOL("aof-timestamp-enabled", NULL, 0, "no"),
    X_BOOL("cluster-replica-no-failover", "cluster-slave-no-failover", 0, "no"),
    X_BOOL("replica-lazy-flush", "slave-lazy-flush", 0, "no"),
    X_BOOL("replica-serve-stale-data", "slave-serve-stale-data", 0, "yes"),
    X_BOOL("replica-read-only", "slave-read-only", 0, "yes"),
    X_BOOL("replica-ignore-maxmemory", "slave-ignore-maxmemory", 0, "yes"),
    X_BOOL("jemalloc-bg-thread", NULL, 0, "yes"),
    X_BOOLC("activedefrag", check_activedefrag, "no"),
    X_BOOL("syslog-enabled", NULL, F_IMMUTABLE, "no"),
    X_BOOL("cluster-allow-reads-when-down", NULL, 0, "no"),
    X_BOOL("cluster-allow-pubsubshard-when-down", NULL, 0, "yes"),
    X_BOOL("crash-log-enabled", NULL, 0, "yes"),
    X_BOOL("crash-memcheck-enabled", NULL, 0, "yes"),
    X_BOOL("use-exit-on-panic", NULL, F_HIDDEN, "no"),
    X_BOOL("disable-thp", NULL, F_IMMUTABLE, "yes"),
    X_BOOL("cluster-allow-replica-migration", NULL, 0, "yes"),
    X_BOOL("replica-announced", NULL, 0, "yes"),
    X_BOOL("latency-tracking", NULL, 0, "yes"),
    X_BOOL("aof-disable-auto-gc", NULL, 0, "no"),
    X_BOOL("replica-ignore-disk-write-errors", NULL, 0, "no"),
    X_BOOL("lua-enable-deprecated-api", NULL, F_IMMUTABLE | F_HIDDEN, "no"),

    X_STR("aclfile", NULL, F_IMMUTABLE, "", NULL),
    X_STR("replica-announce-ip", "slave-announce-ip", 0, "", NULL),
    X_STR("masteruser", NULL, 0, "", NULL),
    X_STR("cluster-announce-ip", NULL, 0, "", NULL),
    X_STR("cluster-announce-hostname", NULL, 0, "", check_hostname),
    X_STR("syslog-ident", NULL, F_IMMUTABLE, "redis", NULL),
    X_STR("appendfilename", NULL, F_IMMUTABLE, "appendonly.aof", check_aof_filename),
    X_STR("appenddirname", NULL, F_IMMUTABLE, "appendonlydir", check_aof_dirname),
    X_STR("server_cpulist", NULL, F_IMMUTABLE, "", NULL),
    X_STR("bio_cpulist", NULL, F_IMMUTABLE, "", NULL),
    X_STR("aof_rewrite_cpulist", NULL, F_IMMUTABLE, "", NULL),
    X_STR("bgsave_cpulist", NULL, F_IMMUTABLE, "", NULL),
    X_STR("ignore-warnings", NULL, 0, "", NULL),
    X_STR("proc-title-template", NULL, 0, "{title} {listen-addr} {server-mode}", check_proc_title),
    X_STR("bind-source-addr", NULL, 0, "", NULL),
    X_STR("masterauth", NULL, 0, "", NULL),

    X_ENUM("supervised", F_IMMUTABLE, supervised_enum, "no"),
    X_ENUM("syslog-facility", F_IMMUTABLE, syslog_facility_enum, "local0"),
    X_ENUM("repl-diskless-load", 0, diskless_load_enum, "disabled"),
    X_ENUM("appendfsync", 0, fsync_enum, "everysec"),
    X_ENUM("oom-score-adj", 0, oom_adj_enum, "no"),
    X_ENUM("acl-pubsub-default", 0, pubsub_default_enum, "resetchannels"),
    X_ENUM("sanitize-dump-payload", 0, sanitize_enum, "no"),
    X_ENUM("enable-protected-configs", F_IMMUTABLE, protected_enum, "no"),
    X_ENUM("enable-debug-command", F_IMMUTABLE, protected_enum, "no"),
    X_ENUM("enable-module-command", F_IMMUTABLE, protected_enum, "no"),
    X_ENUM("cluster-preferred-endpoint-type", 0, endpoint_enum, "ip"),
    X_ENUM("propagation-error-behavior", 0, propagation_enum, "ignore"),
    {.name = "shutdown-on-sigint", .kind = K_ENUM, .store = S_EXTRA, .flags = F_MULTI,
     .enums = shutdown_enum, .def = "default", .check = check_shutdown},
    {.name = "shutdown-on-sigterm", .kind = K_ENUM, .store = S_EXTRA, .flags = F_MULTI,
     .enums = shutdown_enum, .def = "default", .check = check_shutdown},

    X_INT("io-threads", NULL, F_IMMUTABLE, 1, 128, "1"),
    X_INT("auto-aof-rewrite-percentage", NULL, 0, 0, INT_MAX, "100"),
    X_INT("cluster-replica-validity-factor", "cluster-slave-validity-factor", 0, 0, INT_MAX, "10"),
    X_INT("cluster-migration-barrier", NULL, 0, 0, INT_MAX, "1"),
    X_INT("active-defrag-cycle-min", NULL, 0, 1, 99, "1"),
    X_INT("active-defrag-cycle-max", NULL, 0, 1, 99, "25"),
    X_INT("active-defrag-threshold-lower", NULL, 0, 0, 1000, "10"),
    X_INT("active-defrag-threshold-upper", NULL, 0, 0, 1000, "100"),
    X_INT("lfu-log-factor", NULL, 0, 0, INT_MAX, "10"),
    X_INT("lfu-decay-time", NULL, 0, 0, INT_MAX, "1"),
    X_INT("replica-priority", "slave-priority", 0, 0, INT_MAX, "100"),
    X_INT("repl-diskless-sync-delay", NULL, 0, 0, INT_MAX, "5"),
    X_INT("maxmemory-eviction-tenacity", NULL, 0, 0, 100, "10"),
    X_INT("replica-announce-port", "slave-announce-port", 0, 0, 65535, "0"),
    X_INT("cluster-port", NULL, F_IMMUTABLE, 0, 65535, "0"),
    X_INT("cluster-announce-bus-port", NULL, 0, 0, 65535, "0"),
    X_INT("cluster-announce-port", NULL, 0, 0, 65535, "0"),
    X_INT("cluster-announce-tls-port", NULL, 0, 0, 65535, "0"),
    X_INT("repl-timeout", NULL, 0, 1, INT_MAX, "60"),
    X_INT("repl-ping-replica-period", "repl-ping-slave-period", 0, 1, INT_MAX, "10"),
    X_INT("rdb-key-save-delay", NULL, F_HIDDEN, INT_MIN, INT_MAX, "0"),
    X_INT("key-load-delay", NULL, F_HIDDEN, INT_MIN, INT_MAX, "0"),
    X_INT("min-replicas-to-write", "min-slaves-to-write", 0, 0, INT_MAX, "0"),
    X_INT("min-replicas-max-lag", "min-slaves-max-lag", 0, 0, INT_MAX, "10"),
    X_INT("watchdog-period", NULL, F_HIDDEN, 0, INT_MAX, "0"),
    X_INT("shutdown-timeout", NULL, 0, 0, INT_MAX, "10"),
    X_INT("repl-diskless-sync-max-replicas", NULL, 0, 0, INT_MAX, "0"),
    X_INT("socket-mark-id", NULL, F_IMMUTABLE, 0, UINT_MAX, "0"),
    X_INT("active-defrag-max-scan-fields", NULL, 0, 1, LONG_MAX, "1000"),
    X_INT("acllog-max-len", NULL, 0, 0, LONG_MAX, "128"),
    X_INT("tracking-table-max-keys", NULL, 0, 0, LONG_MAX, "1000000"),
    X_INT("repl-backlog-ttl", NULL, 0, 0, LONG_MAX, "3600"),
    X_INT("loading-process-events-interval-bytes", NULL, F_HIDDEN, 1024, INT_MAX, "2097152"),
    X_MEM("repl-backlog-size", 1, LLONG_MAX, "1mb"),
    X_MEM("cluster-link-sendbuf-limit", 0, LLONG_MAX, "0"),
    X_MEM("active-defrag-ignore-bytes", 1, LLONG_MAX, "100mb"),
    X_MEM("auto-aof-rewrite-min-size", 0, LLONG_MAX, "64mb"),
    {.name = "maxmemory-clients", .kind = K_MEMPCT, .store = S_EXTRA, .min = -100,
     .max = LONG_MAX, .def = "0"},

    X_SPECIAL("client-output-buffer-limit", NULL, F_MULTI, parse_obuf,
              "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
    X_SPECIAL("oom-score-adj-values", NULL, F_MULTI, parse_oom_values, "0 200 800"),
    X_SPECIAL("replicaof", "slaveof", F_IMMUTABLE | F_MULTI, parse_replicaof, "no one"),
    X_SPECIAL("latency-tracking-info-percentiles", NULL, F_MULTI, parse_percentiles, "50 99 99.9"),
};

#define N_REAL (sizeof(real_table) / sizeof(real_table[0]))
#define N_EXTRA (sizeof(extra_table) / sizeof(extra_table[0]))
#define N_ALL (N_REAL + N_EXTRA)
_Static_assert(N_EXTRA <= CFG_EXTRA_MAX, "raise CFG_EXTRA_MAX in config.h");

/* Accepted in files and ignored, as Redis 7.0 does. */
static const char *const deprecated_names[] = {
    "list-max-ziplist-entries", "list-max-ziplist-value", "lua-replicate-commands", NULL,
};

/* Composed error messages (ranges, enum lists, strerror). */
static _Thread_local char errbuf[ERRBUF_LEN];

/* Returned by loader steps that already wrote their message into err. */
static const char reported[] = "(reported)";

/* ---------- small helpers ---------- */

static const struct directive *dir_at(size_t i)
{
    return i < N_REAL ? &real_table[i] : &extra_table[i - N_REAL];
}

static size_t extra_index(const struct directive *d)
{
    return (size_t)(d - extra_table);
}

static const struct directive *lookup(const char *name)
{
    for (size_t i = 0; i < N_ALL; i++) {
        const struct directive *d = dir_at(i);
        if (!strcasecmp(d->name, name) || (d->alias && !strcasecmp(d->alias, name)))
            return d;
    }
    return NULL;
}

static bool is_deprecated(const char *name)
{
    for (size_t i = 0; deprecated_names[i]; i++)
        if (!strcasecmp(deprecated_names[i], name))
            return true;
    return false;
}

static const char *errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
    va_end(ap);
    return errbuf;
}

static const char *errno_text(int err)
{
    return strerror_r(err, errbuf, sizeof(errbuf));
}

static const char *copy_value(char *dst, const char *src)
{
    size_t len = strlen(src);
    if (len >= CFG_STR_MAX)
        return errorf("argument is too long (at most %d bytes)", CFG_STR_MAX - 1);
    memcpy(dst, src, len + 1);
    return NULL;
}

/* Appends formatted text to a CFG_STR_MAX buffer; false if it didn't fit. */
static bool appendf(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool appendf(char *out, const char *fmt, ...)
{
    size_t len = strlen(out);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + len, CFG_STR_MAX - len, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < CFG_STR_MAX - len;
}

static void copy_out(char *out, size_t outlen, const char *s)
{
    if (outlen > 0)
        snprintf(out, outlen, "%s", s);
}

/* ---------- numbers ---------- */

/* Redis's string2ll: optional '-', no leading zeros, no spaces or '+'. */
static bool parse_ll_n(const char *s, size_t len, long long *out)
{
    unsigned long long v = 0;
    size_t i = 0;

    if (len == 0 || len >= 21)
        return false;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    bool neg = s[0] == '-';
    i += neg;
    if (i == len || s[i] < '1' || s[i] > '9')
        return false;
    for (; i < len; i++) {
        unsigned digit = (unsigned)(s[i] - '0');
        if (s[i] < '0' || s[i] > '9' || v > (ULLONG_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    if (v > (unsigned long long)LLONG_MAX + neg)
        return false;
    *out = neg ? (long long)(0 - v) : (long long)v;
    return true;
}

static bool parse_ll(const char *s, long long *out)
{
    return parse_ll_n(s, strlen(s), out);
}

static unsigned long long unit_multiplier(const char *u)
{
    static const struct {
        const char *unit;
        unsigned long long mul;
    } units[] = {
        {"", 1}, {"b", 1}, {"k", 1000}, {"kb", 1024}, {"m", 1000 * 1000}, {"mb", 1024 * 1024},
        {"g", 1000ULL * 1000 * 1000}, {"gb", 1024ULL * 1024 * 1024},
    };
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (!strcasecmp(u, units[i].unit))
            return units[i].mul;
    return 0;
}

/* Redis's memtoull: digits then an optional unit (b, k, kb, m, mb, g, gb);
 * an empty number counts as 0, as in Redis. Overflow is an error here. */
static bool parse_mem(const char *s, unsigned long long *out)
{
    const char *u = s;
    unsigned long long v = 0;

    if (s[0] == '-')
        return false;
    while (*u && isdigit((unsigned char)*u))
        u++;
    unsigned long long mul = unit_multiplier(u);
    if (mul == 0 || u - s >= 128)
        return false;
    for (const char *p = s; p < u; p++) {
        unsigned digit = (unsigned)(*p - '0');
        if (v > (ULLONG_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    if (v > ULLONG_MAX / mul)
        return false;
    *out = v * mul;
    return true;
}

static bool parse_mem_ll(const char *s, long long *out)
{
    unsigned long long v;
    if (!parse_mem(s, &v) || v > (unsigned long long)LLONG_MAX)
        return false;
    *out = (long long)v;
    return true;
}

/* "50%" is stored as -50, as Redis does. */
static bool parse_percent(const char *s, long long *out)
{
    size_t len = strlen(s);
    if (len < 2 || s[len - 1] != '%' || !parse_ll_n(s, len - 1, out) || *out < 0)
        return false;
    *out = -*out;
    return true;
}

static bool parse_octal(const char *s, long long *out)
{
    char *end;
    errno = 0;
    *out = strtoll(s, &end, 8);
    return errno == 0 && *end == '\0';
}

/* Redis's string2d: the whole string, no leading space, finite, not NaN. */
static bool parse_double(const char *s, double *out)
{
    char *end;
    size_t len = strlen(s);

    if (len == 0 || isspace((unsigned char)s[0]))
        return false;
    errno = 0;
    *out = strtod(s, &end);
    if ((size_t)(end - s) != len || isnan(*out))
        return false;
    return !(errno == ERANGE &&
             (*out == HUGE_VAL || *out == -HUGE_VAL || fpclassify(*out) == FP_ZERO));
}

static const char *parse_number(const struct directive *d, const char *s, long long *out)
{
    switch (d->kind) {
    case K_INT:
        return parse_ll(s, out) ? NULL : "argument couldn't be parsed into an integer";
    case K_OCTAL:
        return parse_octal(s, out) ? NULL : "argument couldn't be parsed as an octal number";
    case K_MEM:
        return parse_mem_ll(s, out) ? NULL : "argument must be a memory value";
    default:
        if (parse_mem_ll(s, out) || parse_percent(s, out))
            return NULL;
        return "argument must be a memory or percent value";
    }
}

static const char *check_bounds(const struct directive *d, long long n)
{
    if (d->kind == K_MEMPCT && n < 0) {
        if (n >= d->min)
            return NULL;
        return errorf("percentage argument must be less or equal to %lld", -d->min);
    }
    if (n >= d->min && n <= d->max)
        return NULL;
    if (d->kind == K_OCTAL)
        return errorf("argument must be between %llo and %llo inclusive",
                      (unsigned long long)d->min, (unsigned long long)d->max);
    return errorf("argument must be between %lld and %lld inclusive", d->min, d->max);
}

/* ---------- enums and bools ---------- */

static bool enum_value(const struct enum_name *e, const char *s, int *out)
{
    bool found = false;
    for (; e->name; e++) {
        if (!strcasecmp(e->name, s)) {
            *out |= e->val;
            found = true;
        }
    }
    return found;
}

static const char *enum_error(const struct directive *d)
{
    errorf("argument(s) must be one of the following: ");
    for (const struct enum_name *e = d->enums; e->name; e++) {
        size_t len = strlen(errbuf);
        snprintf(errbuf + len, sizeof(errbuf) - len, "%s%s", e->name, e[1].name ? ", " : "");
    }
    return errbuf;
}

/* Several names are allowed (and OR-ed) only for F_MULTI enums. */
static const char *parse_enum(const struct directive *d, int argc, char **argv, struct val *v)
{
    int acc = 0;

    if (argc == 0 || (!(d->flags & F_MULTI) && argc != 1))
        return enum_error(d);
    for (int i = 0; i < argc; i++)
        if (!enum_value(d->enums, argv[i], &acc))
            return enum_error(d);
    v->n = acc;
    return NULL;
}

static void enum_format(const struct directive *d, long long n, char *out, size_t outlen)
{
    long long left = n;
    char names[CFG_STR_MAX] = "";

    for (const struct enum_name *e = d->enums; e->name; e++)
        if (e->val == n) {
            copy_out(out, outlen, e->name);
            return;
        }
    for (const struct enum_name *e = d->enums; e->name && (d->flags & F_MULTI); e++) {
        if (e->val != 0 && (left & e->val) == e->val) {
            appendf(names, "%s%s", names[0] ? " " : "", e->name);
            left &= ~(long long)e->val;
        }
    }
    copy_out(out, outlen, names[0] && left == 0 ? names : "unknown");
}

static const char *parse_bool(const char *s, struct val *v)
{
    if (!strcasecmp(s, "yes"))
        v->n = 1;
    else if (!strcasecmp(s, "no"))
        v->n = 0;
    else
        return "argument must be 'yes' or 'no'";
    return NULL;
}

/* ---------- validators ---------- */

static bool is_base_name(const char *s)
{
    return !strchr(s, '/') && !strchr(s, '\\');
}

static const char *check_dbfilename(const struct val *v)
{
    return is_base_name(v->s) ? NULL : "dbfilename can't be a path, just a filename";
}

static const char *check_aof_filename(const struct val *v)
{
    if (v->s[0] == '\0')
        return "appendfilename can't be empty";
    return is_base_name(v->s) ? NULL : "appendfilename can't be a path, just a filename";
}

static const char *check_aof_dirname(const struct val *v)
{
    if (v->s[0] == '\0')
        return "appenddirname can't be empty";
    return is_base_name(v->s) ? NULL : "appenddirname can't be a path, just a dirname";
}

static const char *check_hostname(const struct val *v)
{
    if (strlen(v->s) >= 256)
        return "Hostnames must be less than 256 characters";
    for (const char *p = v->s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
            return "Hostnames may only contain alphanumeric characters, hyphens or dots";
    return NULL;
}

static const char *check_activedefrag(const struct val *v)
{
    if (!v->n)
        return NULL;
    return "Active defragmentation cannot be enabled: it requires a Redis server compiled "
           "with a modified Jemalloc like the one shipped by default with the Redis source "
           "distribution";
}

static const char *check_shutdown(const struct val *v)
{
    if ((v->n & SHUTDOWN_SAVE) && (v->n & SHUTDOWN_NOSAVE))
        return "shutdown options SAVE and NOSAVE can't be used simultaneously";
    return NULL;
}

/* Does {name} expand to something (title, server-mode and unixsocket may
 * be empty)? -1 if Redis does not know the variable. */
static int title_var_visible(const char *name, size_t len)
{
    static const char *const vars[] = {
        "listen-addr", "config-file", "port", "tls-port", "title", "server-mode", "unixsocket",
    };
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        if (strlen(vars[i]) == len && !strncmp(vars[i], name, len))
            return i < 4;
    return -1;
}

/* Redis's validateProcTitleTemplate: known {variables}, "{{" for a brace,
 * and something other than spaces once expanded with an empty title. */
static const char *check_proc_title(const struct val *v)
{
    static const char bad[] = "template format is invalid or contains unknown variables";
    bool visible = false;

    for (const char *p = v->s; *p;) {
        if (*p != '{') {
            visible |= *p++ != ' ';
            continue;
        }
        if (p[1] == '{') {
            visible = true;
            p += 2;
            continue;
        }
        const char *end = strchr(p + 1, '}');
        int shown = end ? title_var_visible(p + 1, (size_t)(end - p - 1)) : -1;
        if (shown < 0)
            return bad;
        visible |= shown;
        p = end + 1;
    }
    return visible ? NULL : bad;
}

/* ---------- special directives ---------- */

static const char *parse_bind(const struct config *c, const struct directive *d, int argc,
                              char **argv, struct apply_ctx *ax, struct val *v)
{
    (void)c, (void)d, (void)ax;
    if (argc > BIND_MAX)
        return "Too many bind addresses specified.";
    if (argc == 1 && argv[0][0] == '\0')
        argc = 0;
    v->s[0] = '\0';
    for (int i = 0; i < argc; i++)
        if (!appendf(v->s, "%s%s", i ? " " : "", argv[i]))
            return "argument is too long";
    return NULL;
}

/* Like Redis: chdir() at once; the value kept is the absolute path. */
static const char *parse_dir(const struct config *c, const struct directive *d, int argc,
                             char **argv, struct apply_ctx *ax, struct val *v)
{
    char cwd[VALUE_MAX];

    (void)c, (void)d;
    if (argc != 1)
        return "wrong number of arguments";
    if (ax->defaults)
        return copy_value(v->s, argv[0]);
    if (chdir(argv[0]) != 0)
        return errno_text(errno);
    if (!getcwd(cwd, sizeof(cwd)) || strlen(cwd) >= CFG_STR_MAX)
        snprintf(cwd, sizeof(cwd), "."); /* config_format asks getcwd() anyway */
    return copy_value(v->s, cwd);
}

static bool save_number_ok(const char *s, bool is_changes)
{
    char *end;
    long long n = strtoll(s, &end, 10);
    return *end == '\0' && n >= (is_changes ? 0 : 1);
}

/* "seconds changes" pairs. While reading a file, the first save line
 * replaces the default and later ones append, as in Redis 7.0. */
static const char *parse_save(const struct config *c, const struct directive *d, int argc,
                              char **argv, struct apply_ctx *ax, struct val *v)
{
    bool reset = argc == 1 && argv[0][0] == '\0';

    (void)d;
    argc = reset ? 0 : argc;
    if (argc & 1)
        return "Invalid save parameters";
    for (int i = 0; i < argc; i++)
        if (!save_number_ok(argv[i], i & 1))
            return "Invalid save parameters";
    bool append = ax->reading_file && ax->save_loaded && !reset;
    if (ax->reading_file)
        ax->save_loaded = true;
    snprintf(v->s, sizeof(v->s), "%s", append ? c->save : "");
    for (int i = 0; i < argc; i += 2) {
        long long secs = strtoll(argv[i], NULL, 10);
        int changes = (int)strtoll(argv[i + 1], NULL, 10);
        if (!appendf(v->s, "%s%lld %d", v->s[0] ? " " : "", secs, changes))
            return "argument is too long";
    }
    return NULL;
}

enum {
    NK_K = 1 << 0, NK_E = 1 << 1, NK_g = 1 << 2, NK_str = 1 << 3, NK_l = 1 << 4, NK_s = 1 << 5,
    NK_h = 1 << 6, NK_z = 1 << 7, NK_x = 1 << 8, NK_e = 1 << 9, NK_t = 1 << 10, NK_m = 1 << 11,
    NK_d = 1 << 13, NK_n = 1 << 14,
    NK_ALL = NK_g | NK_str | NK_l | NK_s | NK_h | NK_z | NK_x | NK_e | NK_t | NK_d,
};

static int notify_bit(char ch)
{
    static const char chars[] = "KEg$lshzxetm";
    const char *p = ch ? strchr(chars, ch) : NULL;

    if (p)
        return 1 << (p - chars);
    if (ch == 'd')
        return NK_d;
    if (ch == 'n')
        return NK_n;
    return ch == 'A' ? NK_ALL : -1;
}

/* Redis's order: A or the type classes, then K, E, m. */
static void notify_format(int flags, char *out)
{
    static const char types[] = "g$lshzxetdn";
    size_t n = 0;

    if ((flags & NK_ALL) == NK_ALL)
        out[n++] = 'A';
    else
        for (const char *t = types; *t; t++)
            if (flags & notify_bit(*t))
                out[n++] = *t;
    if (flags & NK_K)
        out[n++] = 'K';
    if (flags & NK_E)
        out[n++] = 'E';
    if (flags & NK_m)
        out[n++] = 'm';
    out[n] = '\0';
}

/* Normalised like Redis: "KEA" reads back as "AKE". */
static const char *parse_notify(const struct config *c, const struct directive *d, int argc,
                                char **argv, struct apply_ctx *ax, struct val *v)
{
    int flags = 0;

    (void)c, (void)d, (void)ax;
    if (argc != 1)
        return "wrong number of arguments";
    for (const char *p = argv[0]; *p; p++) {
        int bit = notify_bit(*p);
        if (bit < 0)
            return "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";
        flags |= bit;
    }
    notify_format(flags, v->s);
    return NULL;
}

struct obuf_limit {
    unsigned long long hard, soft;
    long long secs;
};
enum { OBUF_NORMAL, OBUF_REPLICA, OBUF_PUBSUB, OBUF_CLASSES };

static int obuf_class(const char *name)
{
    if (!strcasecmp(name, "normal"))
        return OBUF_NORMAL;
    if (!strcasecmp(name, "slave") || !strcasecmp(name, "replica"))
        return OBUF_REPLICA;
    if (!strcasecmp(name, "pubsub"))
        return OBUF_PUBSUB;
    return -1;
}

static void obuf_read(const char *s, struct obuf_limit *l)
{
    memset(l, 0, sizeof(*l) * OBUF_CLASSES);
    sscanf(s, "normal %llu %llu %lld slave %llu %llu %lld pubsub %llu %llu %lld", &l[0].hard,
           &l[0].soft, &l[0].secs, &l[1].hard, &l[1].soft, &l[1].secs, &l[2].hard, &l[2].soft,
           &l[2].secs);
}

static bool obuf_parse_one(char **argv, struct obuf_limit *out)
{
    char *end;
    out->secs = (int)strtoll(argv[2], &end, 10); /* Redis keeps it in an int */
    return parse_mem(argv[0], &out->hard) && parse_mem(argv[1], &out->soft) && *end == '\0' &&
           out->secs >= 0;
}

/* "<class> <hard> <soft> <seconds>" groups; classes not named keep their
 * current limits. */
static const char *parse_obuf(const struct config *c, const struct directive *d, int argc,
                              char **argv, struct apply_ctx *ax, struct val *v)
{
    struct obuf_limit l[OBUF_CLASSES];

    (void)ax;
    if (argc % 4)
        return "Wrong number of arguments in buffer limit configuration.";
    obuf_read(c->extra[extra_index(d)].value, l);
    for (int j = 0; j < argc; j += 4) {
        int cls = obuf_class(argv[j]);
        if (cls < 0)
            return "Invalid client class specified in buffer limit configuration.";
        if (!obuf_parse_one(argv + j + 1, &l[cls]))
            return "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
    }
    snprintf(v->s, sizeof(v->s), "normal %llu %llu %lld slave %llu %llu %lld pubsub %llu %llu %lld",
             l[0].hard, l[0].soft, l[0].secs, l[1].hard, l[1].soft, l[1].secs, l[2].hard,
             l[2].soft, l[2].secs);
    return NULL;
}

static const char *parse_oom_values(const struct config *c, const struct directive *d, int argc,
                                    char **argv, struct apply_ctx *ax, struct val *v)
{
    (void)c, (void)d, (void)ax;
    if (argc != 3)
        return "wrong number of arguments";
    v->s[0] = '\0';
    for (int i = 0; i < argc; i++) {
        char *end;
        long long n = strtoll(argv[i], &end, 10);
        if (*end != '\0' || n < -2000 || n > 2000)
            return "Invalid oom-score-adj-values, elements must be between -2000 and 2000.";
        appendf(v->s, "%s%lld", i ? " " : "", n);
    }
    return NULL;
}

/* Kept as "host port", "" for "no one"; darter does not replicate. */
static const char *parse_replicaof(const struct config *c, const struct directive *d, int argc,
                                   char **argv, struct apply_ctx *ax, struct val *v)
{
    char *end;

    (void)c, (void)d, (void)ax;
    if (argc != 2)
        return "wrong number of arguments";
    v->s[0] = '\0';
    if (!strcasecmp(argv[0], "no") && !strcasecmp(argv[1], "one"))
        return NULL;
    long port = strtol(argv[1], &end, 10);
    if (port < 0 || port > 65535 || *end != '\0')
        return "Invalid master port";
    return appendf(v->s, "%s %ld", argv[0], port) ? NULL : "argument is too long";
}

/* "%f" without trailing zeros, as Redis prints percentiles. */
static void format_percentile(double p, char *out, size_t outlen)
{
    int len = snprintf(out, outlen, "%f", p);
    if (len <= 0 || (size_t)len >= outlen || !strchr(out, '.'))
        return;
    while (out[len - 1] == '0')
        out[--len] = '\0';
    if (out[len - 1] == '.')
        out[len - 1] = '\0';
}

static const char *parse_percentiles(const struct config *c, const struct directive *d, int argc,
                                     char **argv, struct apply_ctx *ax, struct val *v)
{
    (void)c, (void)d, (void)ax;
    if (argc == 1 && argv[0][0] == '\0')
        argc = 0;
    v->s[0] = '\0';
    for (int i = 0; i < argc; i++) {
        double p;
        char num[64];
        if (!parse_double(argv[i], &p))
            return "Invalid latency-tracking-info-percentiles parameters";
        if (p > 100.0 || p < 0.0)
            return "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]";
        format_percentile(p, num, sizeof(num));
        if (!appendf(v->s, "%s%s", i ? " " : "", num))
            return "argument is too long";
    }
    return NULL;
}

/* ---------- parse, store, format ---------- */

static const char *parse_single(const struct directive *d, const char *s, struct val *v)
{
    if (d->kind == K_BOOL)
        return parse_bool(s, v);
    if (d->kind == K_STR)
        return copy_value(v->s, s);
    const char *err = parse_number(d, s, &v->n);
    return err ? err : check_bounds(d, v->n);
}

static const char *parse_value(const struct config *c, const struct directive *d, int argc,
                               char **argv, struct apply_ctx *ax, struct val *v)
{
    const char *err;

    if (d->kind == K_SPECIAL)
        err = d->parse(c, d, argc, argv, ax, v);
    else if (d->kind == K_ENUM)
        err = parse_enum(d, argc, argv, v);
    else if (argc != 1)
        err = "wrong number of arguments";
    else
        err = parse_single(d, argv[0], v);
    if (!err && d->check)
        err = d->check(v);
    return err;
}

/* A value as Redis's CONFIG GET prints it. */
static void format_val(const struct directive *d, const struct val *v, char *out, size_t outlen)
{
    switch (d->kind) {
    case K_BOOL:
        copy_out(out, outlen, v->n ? "yes" : "no");
        break;
    case K_INT:
        snprintf(out, outlen, "%lld", v->n);
        break;
    case K_OCTAL:
        snprintf(out, outlen, "%llo", (unsigned long long)v->n);
        break;
    case K_MEM:
    case K_MEMPCT:
        snprintf(out, outlen, v->n < 0 ? "%lld%%" : "%lld", v->n < 0 ? -v->n : v->n);
        break;
    case K_ENUM:
        enum_format(d, v->n, out, outlen);
        break;
    default:
        copy_out(out, outlen, v->s);
        break;
    }
}

static void store_val(struct config *c, const struct directive *d, const struct val *v)
{
    char *field = (char *)c + d->off;

    switch (d->store) {
    case S_BOOL:
        *(bool *)field = v->n != 0;
        break;
    case S_INT:
        *(int *)field = (int)v->n;
        break;
    case S_LL:
        *(long long *)field = v->n;
        break;
    case S_STR:
        memcpy(field, v->s, CFG_STR_MAX);
        break;
    default:
        format_val(d, v, c->extra[extra_index(d)].value, CFG_STR_MAX);
        break;
    }
}

static void load_val(const struct config *c, const struct directive *d, struct val *v)
{
    const char *field = (const char *)c + d->off;

    switch (d->store) {
    case S_BOOL:
        v->n = *(const bool *)field;
        break;
    case S_INT:
        v->n = *(const int *)field;
        break;
    case S_LL:
        v->n = *(const long long *)field;
        break;
    default:
        memcpy(v->s, field, CFG_STR_MAX);
        break;
    }
}

static void format_directive(const struct config *c, const struct directive *d, char *out,
                             size_t outlen)
{
    struct val v = {0};

    if ((d->flags & F_CWD) && getcwd(out, outlen))
        return;
    if (d->store == S_EXTRA) {
        copy_out(out, outlen, c->extra[extra_index(d)].value);
        return;
    }
    load_val(c, d, &v);
    format_val(d, &v, out, outlen);
}

/* ---------- argument splitting ---------- */

struct argv_buf {
    char *mem;
    char **argv;
    int argc;
};

enum { SPLIT_OK, SPLIT_UNBALANCED, SPLIT_NOMEM };

static void argv_free(struct argv_buf *b)
{
    mi_free(b->mem);
    mi_free(b->argv);
    b->mem = NULL;
    b->argv = NULL;
    b->argc = 0;
}

/* Room for the arguments of a len-byte string (they never need more). */
static bool argv_alloc(struct argv_buf *b, size_t len)
{
    b->argc = 0;
    b->mem = mi_malloc(len + 1);
    b->argv = mi_malloc((len + 2) * sizeof(char *));
    if (b->mem && b->argv)
        return true;
    argv_free(b);
    return false;
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = (char)tolower((unsigned char)ch);
    return (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : -1;
}

static char escape_char(char ch)
{
    switch (ch) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return ch;
    }
}

/* Inside "double quotes": \xHH and \n-style escapes. p is after the quote.
 * Returns the position after the closing quote or NULL if unbalanced. */
static const char *read_double_quoted(const char *p, char **w)
{
    for (;; p++) {
        if (*p == '\0')
            return NULL;
        if (p[0] == '\\' && p[1] == 'x' && hex_value(p[2]) >= 0 && hex_value(p[3]) >= 0) {
            *(*w)++ = (char)(hex_value(p[2]) * 16 + hex_value(p[3]));
            p += 3;
        } else if (p[0] == '\\' && p[1]) {
            *(*w)++ = escape_char(*++p);
        } else if (*p == '"') {
            return p + 1;
        } else {
            *(*w)++ = *p;
        }
    }
}

/* Inside 'single quotes': only \' is an escape. */
static const char *read_single_quoted(const char *p, char **w)
{
    for (;; p++) {
        if (*p == '\0')
            return NULL;
        if (p[0] == '\\' && p[1] == '\'') {
            *(*w)++ = *++p;
        } else if (*p == '\'') {
            return p + 1;
        } else {
            *(*w)++ = *p;
        }
    }
}

/* One argument; a closing quote must be followed by a blank or the end. */
static const char *read_token(const char *p, char **w)
{
    for (;;) {
        if (*p == '"' || *p == '\'') {
            p = *p == '"' ? read_double_quoted(p + 1, w) : read_single_quoted(p + 1, w);
            if (!p || (*p && !isspace((unsigned char)*p)))
                return NULL;
            return p;
        }
        if (*p == '\0' || *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
            return p;
        *(*w)++ = *p++;
    }
}

/* Redis's config-line splitting (sdssplitargs). */
static int split_quoted(const char *line, struct argv_buf *b)
{
    if (!argv_alloc(b, strlen(line)))
        return SPLIT_NOMEM;
    char *w = b->mem;
    const char *p = line;
    for (;;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            return SPLIT_OK;
        b->argv[b->argc++] = w;
        p = read_token(p, &w);
        if (!p) {
            argv_free(b);
            return SPLIT_UNBALANCED;
        }
        *w++ = '\0';
    }
}

/* CONFIG SET's splitting of multi-argument values: on single spaces, so ""
 * gives no arguments and "a  b" gives "a", "", "b". */
static int split_spaces(const char *s, struct argv_buf *b)
{
    size_t len = strlen(s);
    if (!argv_alloc(b, len))
        return SPLIT_NOMEM;
    if (len == 0)
        return SPLIT_OK;
    memcpy(b->mem, s, len + 1);
    b->argv[b->argc++] = b->mem;
    for (char *p = b->mem; *p; p++) {
        if (*p == ' ') {
            *p = '\0';
            b->argv[b->argc++] = p + 1;
        }
    }
    return SPLIT_OK;
}

/* ---------- applying ---------- */

static bool protected_allowed(const struct config *c)
{
    const struct directive *d = lookup("enable-protected-configs");
    return d && strcmp(c->extra[extra_index(d)].value, "no") != 0;
}

static const char *mutability_error(const struct config *c, const struct directive *d,
                                    const struct apply_ctx *ax)
{
    if (ax->at_startup)
        return NULL;
    if (d->flags & F_IMMUTABLE)
        return "can't set immutable config";
    if ((d->flags & F_PROTECTED) && !protected_allowed(c))
        return "can't set protected config";
    return NULL;
}

static const char *apply_parsed(struct config *c, const struct directive *d, int argc,
                                char **argv, struct apply_ctx *ax)
{
    struct val v;
    memset(&v, 0, sizeof(v));
    const char *err = parse_value(c, d, argc, argv, ax, &v);
    if (err)
        return err;
    if (d->flags & F_HZ)
        v.n = v.n < HZ_MIN ? HZ_MIN : v.n > HZ_MAX ? HZ_MAX : v.n;
    store_val(c, d, &v);
    return NULL;
}

/* One value for a multi-argument directive: split it (with quotes at
 * startup, on spaces for CONFIG SET); a value that won't split counts as no
 * arguments, as in Redis. */
static const char *apply_split(struct config *c, const struct directive *d, const char *value,
                               struct apply_ctx *ax)
{
    struct argv_buf b;
    int rc = ax->at_startup ? split_quoted(value, &b) : split_spaces(value, &b);
    if (rc == SPLIT_NOMEM)
        return "out of memory";
    const char *err = apply_parsed(c, d, b.argc, b.argv, ax); /* unbalanced: argc 0 */
    argv_free(&b);
    return err;
}

static const char *apply_directive(struct config *c, const struct directive *d, int argc,
                                   char **argv, struct apply_ctx *ax)
{
    const char *err = mutability_error(c, d, ax);
    if (err)
        return err;
    if (!(d->flags & F_MULTI))
        return argc == 1 ? apply_parsed(c, d, argc, argv, ax) : "wrong number of arguments";
    if (argc != 1 || (ax->at_startup && argv[0][0] == '\0'))
        return apply_parsed(c, d, argc, argv, ax);
    return apply_split(c, d, argv[0], ax);
}

static void apply_default(struct config *c, const struct directive *d, struct apply_ctx *ax)
{
    char value[CFG_STR_MAX];
    char *argv[1] = {value};

    snprintf(value, sizeof(value), "%s", d->def ? d->def : "");
    const char *err = apply_directive(c, d, 1, argv, ax);
    if (err) {
        fprintf(stderr, "darter: built-in default of '%s' rejected: %s\n", d->name, err);
        abort();
    }
}

/* ---------- loading files ---------- */

struct load_ctx {
    struct apply_ctx ax;
    int depth;
    char *err;
    size_t errlen;
};

static bool load_text(struct config *c, const char *text, struct load_ctx *lc);

static void set_err(struct load_ctx *lc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_err(struct load_ctx *lc, const char *fmt, ...)
{
    va_list ap;
    if (!lc->err || lc->errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(lc->err, lc->errlen, fmt, ap);
    va_end(ap);
}

static bool grow(char **buf, size_t *cap)
{
    char *bigger = mi_realloc(*buf, *cap * 2);
    if (!bigger)
        return false;
    *buf = bigger;
    *cap *= 2;
    return true;
}

/* NUL-terminated contents, or NULL with errno set. */
static char *read_whole_file(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t cap = 4096, len = 0, n;
    char *buf = f ? mi_malloc(cap) : NULL;
    bool ok = buf != NULL;

    while (ok && (len + 1 < cap || (ok = grow(&buf, &cap)))) {
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) {
            ok = !ferror(f);
            break;
        }
    }
    int saved = ok ? 0 : (errno ? errno : ENOMEM);
    if (f)
        fclose(f);
    if (!ok) {
        mi_free(buf);
        errno = saved;
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

static const char *include_file(struct config *c, const char *path, struct load_ctx *lc)
{
    char *text = read_whole_file(path);
    if (!text) {
        set_err(lc, "Fatal error, can't open config file '%s': %s", path, errno_text(errno));
        return reported;
    }
    lc->depth++;
    bool ok = load_text(c, text, lc);
    lc->depth--;
    mi_free(text);
    return ok ? NULL : reported;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct name_list {
    char **names;
    size_t n;
};

static void name_list_free(struct name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        mi_free(l->names[i]);
    mi_free(l->names);
}

/* Regular files in dir whose names match pat, sorted, as "dir/name". */
static void list_matches(const char *dir, const char *pat, struct name_list *l)
{
    DIR *dp = opendir(dir);
    struct dirent *de;
    struct stat st;

    l->names = mi_malloc(INCLUDE_MAX_FILES * sizeof(char *));
    l->n = 0;
    while (dp && l->names && l->n < INCLUDE_MAX_FILES && (de = readdir(dp))) {
        if (de->d_name[0] == '.' && pat[0] != '.')
            continue;
        if (!glob_match(pat, strlen(pat), de->d_name, strlen(de->d_name), false))
            continue;
        char *full = mi_malloc(strlen(dir) + strlen(de->d_name) + 2);
        if (!full)
            break;
        sprintf(full, "%s/%s", dir, de->d_name);
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
            l->names[l->n++] = full;
        else
            mi_free(full);
    }
    if (dp)
        closedir(dp);
    if (l->n)
        qsort(l->names, l->n, sizeof(char *), compare_names);
}

/* include with wildcards in the file name: every match, in name order; no
 * match is not an error (Redis lets empty conf.d directories be included). */
static const char *include_glob(struct config *c, const char *path, struct load_ctx *lc)
{
    const char *slash = strrchr(path, '/');
    char dir[VALUE_MAX];
    struct name_list l;
    const char *err = NULL;

    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
    if (strpbrk(dir, "*?["))
        return "include: wildcards are only supported in the file name";
    list_matches(dir, slash ? slash + 1 : path, &l);
    for (size_t i = 0; i < l.n && !err; i++)
        err = include_file(c, l.names[i], lc);
    name_list_free(&l);
    return err;
}

static const char *include_path(struct config *c, const char *path, struct load_ctx *lc)
{
    if (lc->depth >= INCLUDE_MAX_DEPTH)
        return "include nesting is too deep";
    if (strpbrk(path, "*?["))
        return include_glob(c, path, lc);
    return include_file(c, path, lc);
}

static const char *run_args(struct config *c, int argc, char **argv, struct load_ctx *lc)
{
    for (char *p = argv[0]; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    const struct directive *d = lookup(argv[0]);
    if (d) {
        if (!(d->flags & F_MULTI) && argc != 2)
            return "wrong number of arguments";
        return apply_directive(c, d, argc - 1, argv + 1, &lc->ax);
    }
    if (is_deprecated(argv[0]) && argc == 2)
        return NULL;
    if (!strcmp(argv[0], "include") && argc == 2)
        return include_path(c, argv[1], lc);
    return "Bad directive or wrong number of arguments";
}

static const char *run_line(struct config *c, const char *line, struct load_ctx *lc)
{
    struct argv_buf b;

    if (line[0] == '#' || line[0] == '\0')
        return NULL;
    int rc = split_quoted(line, &b);
    if (rc != SPLIT_OK)
        return rc == SPLIT_NOMEM ? "out of memory" : "Unbalanced quotes in configuration line";
    const char *err = b.argc ? run_args(c, b.argc, b.argv, lc) : NULL;
    argv_free(&b);
    return err;
}

static char *trim(char *s)
{
    static const char blanks[] = " \t\r\n";
    size_t len = strlen(s);
    while (len > 0 && strchr(blanks, s[len - 1]))
        s[--len] = '\0';
    return s + strspn(s, blanks);
}

static bool load_line(struct config *c, const char *start, size_t len, int linenum,
                      struct load_ctx *lc)
{
    char *copy = mi_malloc(len + 1);
    if (!copy) {
        set_err(lc, "out of memory reading the configuration");
        return false;
    }
    memcpy(copy, start, len);
    copy[len] = '\0';
    char *line = trim(copy);
    const char *err = run_line(c, line, lc);
    if (err && err != reported)
        set_err(lc,
                "*** FATAL CONFIG FILE ERROR (Redis " REDIS_VERSION_STR ") ***\n"
                "Reading the configuration file, at line %d\n>>> '%s'\n%s",
                linenum, line, err);
    mi_free(copy);
    return err == NULL;
}

static bool load_text(struct config *c, const char *text, struct load_ctx *lc)
{
    int linenum = 0;

    for (const char *p = text;;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (!load_line(c, p, len, ++linenum, lc))
            return false;
        if (!nl)
            return true;
        p = nl + 1;
    }
}

/* Checks Redis makes once the whole configuration is read. */
static bool finish_load(struct config *c, struct load_ctx *lc)
{
    if (c->logfile[0] != '\0') {
        int fd = open(c->logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            set_err(lc, "*** FATAL CONFIG FILE ERROR (Redis " REDIS_VERSION_STR ") ***\n"
                        "Can't open the log file: %s", errno_text(errno));
            return false;
        }
        close(fd);
    }
    return true;
}

/* ---------- public API ---------- */

void config_defaults(struct config *c)
{
    struct apply_ctx ax = {.at_startup = true, .defaults = true};

    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < N_EXTRA; i++)
        snprintf(c->extra[i].name, sizeof(c->extra[i].name), "%s", extra_table[i].name);
    c->nextra = (int)N_EXTRA;
    for (size_t i = 0; i < N_ALL; i++)
        apply_default(c, dir_at(i), &ax);
}

const char *config_apply(struct config *c, const char *name, int argc, char **argv,
                         bool at_startup)
{
    struct apply_ctx ax = {.at_startup = at_startup};
    const struct directive *d = lookup(name);

    if (!d)
        return at_startup && argc == 1 && is_deprecated(name)
                   ? NULL
                   : "Bad directive or wrong number of arguments";
    return apply_directive(c, d, argc, argv, &ax);
}

bool config_load_string(struct config *c, const char *text, char *err, size_t errlen)
{
    struct load_ctx lc = {
        .ax = {.at_startup = true, .reading_file = true},
        .err = err,
        .errlen = errlen,
    };
    if (err && errlen)
        err[0] = '\0';
    return load_text(c, text, &lc) && finish_load(c, &lc);
}

bool config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
    char abs[PATH_MAX];
    char *text = realpath(path, abs) ? read_whole_file(path) : NULL;

    if (!text) {
        if (err && errlen)
            snprintf(err, errlen, "Fatal error, can't open config file '%s': %s", path,
                     errno_text(errno));
        return false;
    }
    if (strlen(abs) < sizeof(c->config_file))
        memcpy(c->config_file, abs, strlen(abs) + 1);
    bool ok = config_load_string(c, text, err, errlen);
    mi_free(text);
    return ok;
}

static void visit_if_match(const struct config *c, const struct directive *d, const char *name,
                           const char *pattern, config_visit_fn fn, void *arg)
{
    char value[VALUE_MAX];
    if (!glob_match(pattern, strlen(pattern), name, strlen(name), true))
        return;
    format_directive(c, d, value, sizeof(value));
    fn(name, value, arg);
}

void config_get(const struct config *c, const char *pattern, config_visit_fn fn, void *arg)
{
    if (!strpbrk(pattern, "[*?")) {
        char value[VALUE_MAX];
        const struct directive *d = lookup(pattern);
        if (d) {
            format_directive(c, d, value, sizeof(value));
            fn(pattern, value, arg);
        }
        return;
    }
    for (size_t i = 0; i < N_ALL; i++) {
        const struct directive *d = dir_at(i);
        if (d->flags & F_HIDDEN)
            continue;
        visit_if_match(c, d, d->name, pattern, fn, arg);
        if (d->alias)
            visit_if_match(c, d, d->alias, pattern, fn, arg);
    }
}

const char *config_settable(const char *name, bool *known)
{
    const struct directive *d = lookup(name);
    if (known)
        *known = d != NULL;
    return d && !(d->flags & F_IMMUTABLE) ? d->name : NULL;
}

bool config_format(const struct config *c, const char *name, char *out, size_t outlen)
{
    const struct directive *d = lookup(name);
    if (!d)
        return false;
    format_directive(c, d, out, outlen);
    return true;
}

const char *config_maxmemory_policy_name(int policy)
{
    for (const struct enum_name *e = policy_enum; e->name; e++)
        if (e->val == policy)
            return e->name;
    return "unknown";
}

/* ---------- CONFIG SET checks and CONFIG REWRITE (used by cmd_config.c) ---------- */

const char *config_canonical_name(const char *name)
{
    const struct directive *d = lookup(name);
    return d ? d->name : NULL;
}

const char *config_set_lookup(const struct config *c, const char *name, const char **err)
{
    struct apply_ctx ax = {.at_startup = false};
    const struct directive *d = lookup(name);

    *err = d ? mutability_error(c, d, &ax) : NULL;
    return d ? d->name : NULL;
}

/* Redis's string options that are NULL when empty: not written at all. */
static bool null_when_empty(const struct directive *d)
{
    static const char *const names[] = {
        "unixsocket", "pidfile", "replica-announce-ip", "masteruser", "cluster-announce-ip",
        "cluster-announce-hostname", "server_cpulist", "bio_cpulist", "aof_rewrite_cpulist",
        "bgsave_cpulist", "bind-source-addr", "masterauth", "requirepass", NULL,
    };
    for (size_t i = 0; names[i]; i++)
        if (!strcmp(names[i], d->name))
            return true;
    return false;
}

/* Redis's rewriteConfigFormatMemory. */
static void rewrite_mem(long long bytes, char *out, size_t outlen)
{
    const long long gb = 1024LL * 1024 * 1024, mb = 1024 * 1024, kb = 1024;
    if (bytes && bytes % gb == 0)
        snprintf(out, outlen, "%lldgb", bytes / gb);
    else if (bytes && bytes % mb == 0)
        snprintf(out, outlen, "%lldmb", bytes / mb);
    else if (bytes && bytes % kb == 0)
        snprintf(out, outlen, "%lldkb", bytes / kb);
    else
        snprintf(out, outlen, "%lld", bytes);
}

/* Redis's sdscatrepr: the value in double quotes with C escapes. */
static void rewrite_repr(const char *s, char *out, size_t outlen)
{
    size_t n = 0;
    for (; *s && n + 8 < outlen; s++) {
        unsigned char ch = (unsigned char)*s;
        if (n == 0)
            out[n++] = '"';
        if (ch == '\\' || ch == '"') {
            out[n++] = '\\';
            out[n++] = (char)ch;
        } else if (ch == '\n' || ch == '\r' || ch == '\t' || ch == '\a' || ch == '\b') {
            out[n++] = '\\';
            out[n++] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : ch == '\t' ? 't' : ch == '\a' ? 'a' : 'b';
        } else if (isprint(ch)) {
            out[n++] = (char)ch;
        } else {
            n += (size_t)snprintf(out + n, outlen - n, "\\x%02x", ch);
        }
    }
    if (n == 0)
        out[n++] = '"';
    out[n++] = '"';
    out[n] = '\0';
}

/* The numeric value of a directive (typed field or normalised extra string). */
static long long numeric_value(const struct config *c, const struct directive *d)
{
    struct val v = {0};
    if (d->store != S_EXTRA) {
        load_val(c, d, &v);
        return v.n;
    }
    const char *s = c->extra[extra_index(d)].value;
    long long n = strtoll(s, NULL, d->kind == K_OCTAL ? 8 : 10);
    return (d->kind == K_MEMPCT && strchr(s, '%')) ? -n : n;
}

static void emit(config_rewrite_fn fn, void *arg, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void emit(config_rewrite_fn fn, void *arg, const char *name, const char *fmt, ...)
{
    char line[VALUE_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fn(name, line, true, arg);
}

static void rewrite_save(const struct config *c, const struct directive *d, config_rewrite_fn fn, void *arg)
{
    char buf[CFG_STR_MAX];
    char *save = NULL;
    snprintf(buf, sizeof(buf), "%s", c->save);
    char *secs = strtok_r(buf, " ", &save);
    if (!secs)
        emit(fn, arg, d->name, "save \"\"");
    while (secs) {
        char *changes = strtok_r(NULL, " ", &save);
        emit(fn, arg, d->name, "save %s %s", secs, changes ? changes : "0");
        secs = strtok_r(NULL, " ", &save);
    }
    fn(d->name, NULL, false, arg);
}

static void rewrite_obuf(const struct config *c, const struct config *def, const struct directive *d,
                         config_rewrite_fn fn, void *arg)
{
    static const char *const classes[OBUF_CLASSES] = {"normal", "replica", "pubsub"};
    struct obuf_limit cur[OBUF_CLASSES], dl[OBUF_CLASSES];
    obuf_read(c->extra[extra_index(d)].value, cur);
    obuf_read(def->extra[extra_index(d)].value, dl);
    for (int j = 0; j < OBUF_CLASSES; j++) {
        char hard[64], soft[64], line[256];
        bool force = cur[j].hard != dl[j].hard || cur[j].soft != dl[j].soft || cur[j].secs != dl[j].secs;
        rewrite_mem((long long)cur[j].hard, hard, sizeof(hard));
        rewrite_mem((long long)cur[j].soft, soft, sizeof(soft));
        snprintf(line, sizeof(line), "%s %s %s %s %lld", d->name, classes[j], hard, soft, cur[j].secs);
        fn(d->name, line, force, arg);
    }
}

/* One directive as Redis's CONFIG REWRITE writes it. */
static void rewrite_directive(const struct config *c, const struct config *def, const struct directive *d,
                              config_rewrite_fn fn, void *arg)
{
    char cur[VALUE_MAX], dv[VALUE_MAX], q[2 * VALUE_MAX + 16], line[2 * VALUE_MAX + 128];
    format_directive(c, d, cur, sizeof(cur));
    format_directive(def, d, dv, sizeof(dv));
    bool force = strcmp(cur, dv) != 0;
    const char *name = d->name;

    if (!strcmp(name, "save")) {
        rewrite_save(c, d, fn, arg);
        return;
    }
    if (!strcmp(name, "client-output-buffer-limit")) {
        rewrite_obuf(c, def, d, fn, arg);
        return;
    }
    if (!strcmp(name, "dir")) {
        rewrite_repr(cur, q, sizeof(q));
        snprintf(line, sizeof(line), "%s %s", name, q);
        fn(name, line, true, arg);
        return;
    }
    if (!strcmp(name, "bind") || !strcmp(name, "replicaof")) {
        if (!force || cur[0] == '\0') {
            fn(name, NULL, false, arg); /* default bind / no master: not written */
            return;
        }
        snprintf(line, sizeof(line), "%s %s", name, cur);
        fn(name, line, true, arg);
        return;
    }
    if (!strcmp(name, "latency-tracking-info-percentiles")) {
        snprintf(line, sizeof(line), "%s %s", name, cur[0] ? cur : "\"\"");
        fn(name, line, true, arg);
        return;
    }
    if (!strcmp(name, "notify-keyspace-events")) {
        rewrite_repr(cur, q, sizeof(q));
        snprintf(line, sizeof(line), "%s %s", name, q);
        fn(name, line, cur[0] != '\0', arg);
        return;
    }
    switch (d->kind) {
    case K_MEM:
    case K_MEMPCT: {
        long long n = numeric_value(c, d);
        if (n < 0) {
            snprintf(line, sizeof(line), "%s %lld%%", name, -n);
        } else {
            rewrite_mem(n, q, sizeof(q));
            snprintf(line, sizeof(line), "%s %s", name, q);
        }
        fn(name, line, n != numeric_value(def, d), arg);
        return;
    }
    case K_STR:
        if (cur[0] == '\0' && null_when_empty(d)) {
            fn(name, NULL, false, arg);
            return;
        }
        rewrite_repr(cur, q, sizeof(q));
        snprintf(line, sizeof(line), "%s %s", name, q);
        fn(name, line, force, arg);
        return;
    default: /* bool, int, octal, enum, oom-score-adj-values */
        snprintf(line, sizeof(line), "%s %s", name, cur);
        fn(name, line, force, arg);
        return;
    }
}

bool config_rewrite(const struct config *c, config_rewrite_fn fn, void *arg)
{
    struct config *def = mi_malloc(sizeof(*def));
    if (!def)
        return false;
    config_defaults(def);
    for (size_t i = 0; i < N_ALL; i++)
        rewrite_directive(c, def, dir_at(i), fn, arg);
    mi_free(def);
    return true;
}

void config_apply_type_limits(const struct config *c)
{
    struct type_limits l = {
        .hash_max_listpack_entries = c->hash_max_listpack_entries,
        .hash_max_listpack_value = c->hash_max_listpack_value,
        .set_max_intset_entries = c->set_max_intset_entries,
        .zset_max_listpack_entries = c->zset_max_listpack_entries,
        .zset_max_listpack_value = c->zset_max_listpack_value,
        .list_max_listpack_size = c->list_max_listpack_size,
        .list_compress_depth = c->list_compress_depth,
        .stream_node_max_bytes = c->stream_node_max_bytes,
        .stream_node_max_entries = c->stream_node_max_entries,
    };
    type_limits_set(&l);
}
