/* server/config.h — server configuration: redis.conf-syntax files,
 * `--name value` overrides, CONFIG GET/SET. One table describes every
 * directive (name, type, default, limits, whether CONFIG SET may change it).
 * Owns: parsing and formatting of values. Each worker keeps its own copy of
 * `struct config`; CONFIG SET changes every copy by message. */
#ifndef DARTER_SERVER_CONFIG_H
#define DARTER_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_STR_MAX 256
#define CFG_EXTRA_MAX 128 /* room for every accepted-but-unimplemented directive */

/* A directive Redis 7.0 knows that darter accepts without acting on it: its
 * value is kept (normalised as Redis would print it) so CONFIG GET returns
 * it. config_defaults fills the names and Redis's default values. */
struct config_extra {
    char name[64];
    char value[CFG_STR_MAX];
};

struct config {
    int port;
    char bind[CFG_STR_MAX];
    char unixsocket[CFG_STR_MAX];
    long long unixsocketperm;
    int threads;
    bool force_epoll;
    char requirepass[CFG_STR_MAX];
    long long maxclients;
    long long timeout;
    int databases;
    bool protected_mode;
    int loglevel;
    char logfile[CFG_STR_MAX];
    char dir[CFG_STR_MAX];
    char pidfile[CFG_STR_MAX];
    bool daemonize;
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    int hz;
    long long tcp_backlog;
    long long tcp_keepalive;
    char save[CFG_STR_MAX];
    char dbfilename[CFG_STR_MAX];
    bool appendonly;
    long long maxmemory;
    int maxmemory_policy;
    long long maxmemory_samples;
    bool lazyfree_lazy_user_del;
    bool lazyfree_lazy_user_flush;
    long long active_expire_effort;
    char notify_keyspace_events[CFG_STR_MAX];
    long long slowlog_log_slower_than;
    long long slowlog_max_len;
    long long latency_monitor_threshold;
    long long hll_sparse_max_bytes;
    long long hash_max_listpack_entries;
    long long hash_max_listpack_value;
    long long set_max_intset_entries;
    long long set_max_listpack_entries;
    long long zset_max_listpack_entries;
    long long zset_max_listpack_value;
    long long list_max_listpack_size;
    long long list_compress_depth;
    long long stream_node_max_bytes;
    long long stream_node_max_entries;
    long long lua_time_limit;
    bool cluster_enabled;
    char cluster_config_file[CFG_STR_MAX];
    long long cluster_node_timeout;
    char config_file[CFG_STR_MAX]; /* absolute path of the file read at start, if any */
    struct config_extra extra[CFG_EXTRA_MAX]; /* in config.c's table order */
    int nextra;
};

enum { LL_DEBUG = 0, LL_VERBOSE, LL_NOTICE, LL_WARNING, LL_NOTHING };

/* maxmemory-policy values, in Redis's listing order. */
enum {
    MAXMEMORY_VOLATILE_LRU = 0,
    MAXMEMORY_VOLATILE_LFU,
    MAXMEMORY_VOLATILE_RANDOM,
    MAXMEMORY_VOLATILE_TTL,
    MAXMEMORY_ALLKEYS_LRU,
    MAXMEMORY_ALLKEYS_LFU,
    MAXMEMORY_ALLKEYS_RANDOM,
    MAXMEMORY_NO_EVICTION,
};

void config_defaults(struct config *c);
/* Make c's encoding limits (hash-max-listpack-entries, ...) the calling
 * thread's (shard/types.h). */
void config_apply_type_limits(const struct config *c);
/* Apply one directive from a file line or a --flag. Returns NULL or the error.
 * For CONFIG SET pass at_startup=false and the value as argc=1 (multi-value
 * directives such as save are split on spaces, as Redis does). Setting `dir`
 * chdir()s to it and stores the absolute path, so to update other copies of
 * the config send them config_format's result, not the raw argument. */
const char *config_apply(struct config *c, const char *name, int argc, char **argv,
                         bool at_startup);
/* Load a redis.conf-syntax file. On error returns false with a message in err. */
bool config_load_file(struct config *c, const char *path, char *err, size_t errlen);
/* Parse a whole config text (file contents and --overrides joined), as Redis does. */
bool config_load_string(struct config *c, const char *text, char *err, size_t errlen);

/* CONFIG GET: calls fn for each directive whose name matches the glob
 * (case-insensitive; aliases such as slave-read-only match too, hidden test
 * directives only by exact name). A pattern without any of `*?[` is an exact
 * lookup reported under the name as given, as Redis does. With several
 * patterns the caller drops repeated names. */
typedef void (*config_visit_fn)(const char *name, const char *value, void *arg);
void config_get(const struct config *c, const char *pattern, config_visit_fn fn, void *arg);
/* Is this a known directive that CONFIG SET may change? Returns its canonical name. */
const char *config_settable(const char *name, bool *known);
/* Format one directive's current value. Returns false if unknown. */
bool config_format(const struct config *c, const char *name, char *out, size_t outlen);
/* "noeviction", "allkeys-lru", ... for INFO. */
const char *config_maxmemory_policy_name(int policy);

/* The canonical name of a directive (aliases resolved), NULL if unknown. */
const char *config_canonical_name(const char *name);
/* CONFIG SET's first pass over its arguments: the canonical name (NULL if
 * unknown); *err says why CONFIG SET may not change it (immutable,
 * protected), else NULL. Changes nothing. */
const char *config_set_lookup(const struct config *c, const char *name, const char **err);
/* CONFIG REWRITE: calls fn for every directive (canonical names, table
 * order) with each line Redis would write for it ("maxmemory 1gb"; save and
 * client-output-buffer-limit give several) and whether it differs from the
 * default (force). line == NULL: write nothing, but drop the directive's old
 * lines. Returns false when out of memory. */
typedef void (*config_rewrite_fn)(const char *name, const char *line, bool force, void *arg);
bool config_rewrite(const struct config *c, config_rewrite_fn fn, void *arg);

#endif
