/* tests/unit/test_config.c — unit tests for server/config.c: defaults, file
 * parsing (quotes, comments, include), error texts, CONFIG SET values and
 * CONFIG GET globbing and aliases. Owns: these tests and the temporary files
 * they create under /tmp; touches nothing else. Criterion runs each test in
 * its own process, so chdir() in a test does not leak. */
#include "server/config.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct config *cfg;
static char tmpdir[64];

static void setup(void)
{
    cfg = malloc(sizeof(*cfg));
    cr_assert(cfg);
    config_defaults(cfg);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/darter-cfg-XXXXXX");
    cr_assert(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[128];
    free(cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(config, .init = setup, .fini = teardown);

/* Writes tmpdir/name and returns its path in a static buffer. */
static const char *write_file(const char *name, const char *text)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f, "can't write %s", path);
    fputs(text, f);
    fclose(f);
    return path;
}

static const char *get(const char *name)
{
    static char out[4096];
    cr_assert(config_format(cfg, name, out, sizeof(out)), "unknown directive %s", name);
    return out;
}

static const char *set(const char *name, const char *value)
{
    char buf[1024];
    char *argv[1] = {buf};
    snprintf(buf, sizeof(buf), "%s", value);
    return config_apply(cfg, name, 1, argv, false);
}

static void assert_set_error(const char *name, const char *value, const char *want)
{
    const char *err = set(name, value);
    cr_assert(err, "%s %s: expected an error", name, value);
    cr_assert_str_eq(err, want, "%s %s", name, value);
}

static bool load(const char *text, char *err, size_t errlen)
{
    return config_load_string(cfg, text, err, errlen);
}

static void assert_load_ok(const char *text)
{
    char err[2048] = "";
    cr_assert(load(text, err, sizeof(err)), "load failed: %s", err);
}

/* CONFIG GET output collected as "name=value\n" lines. */
struct seen {
    char buf[16384];
    int n;
};

static void collect(const char *name, const char *value, void *arg)
{
    struct seen *s = arg;
    size_t len = strlen(s->buf);
    snprintf(s->buf + len, sizeof(s->buf) - len, "%s=%s\n", name, value);
    s->n++;
}

static bool seen_has(const struct seen *s, const char *line)
{
    char want[512];
    snprintf(want, sizeof(want), "\n%s\n", line);
    return strncmp(s->buf, want + 1, strlen(want + 1)) == 0 || strstr(s->buf, want) != NULL;
}

/* ---------- defaults ---------- */

Test(config, defaults_typed_fields)
{
    cr_assert_eq(cfg->port, 6379);
    cr_assert_str_eq(cfg->bind, "* -::*");
    cr_assert_eq(cfg->timeout, 0);
    cr_assert_eq(cfg->databases, 16);
    cr_assert_eq(cfg->maxclients, 10000);
    cr_assert(cfg->protected_mode);
    cr_assert_eq(cfg->loglevel, LL_NOTICE);
    cr_assert_eq(cfg->proto_max_bulk_len, 512LL * 1024 * 1024);
    cr_assert_eq(cfg->client_query_buffer_limit, 1024LL * 1024 * 1024);
    cr_assert_eq(cfg->hz, 10);
    cr_assert_eq(cfg->tcp_backlog, 511);
    cr_assert_eq(cfg->tcp_keepalive, 300);
    cr_assert_str_eq(cfg->save, "3600 1 300 100 60 10000");
    cr_assert_str_eq(cfg->dbfilename, "dump.rdb");
    cr_assert_not(cfg->appendonly);
    cr_assert_eq(cfg->maxmemory, 0);
    cr_assert_eq(cfg->maxmemory_policy, MAXMEMORY_NO_EVICTION);
    cr_assert_eq(cfg->maxmemory_samples, 5);
    cr_assert_eq(cfg->active_expire_effort, 1);
    cr_assert_str_eq(cfg->notify_keyspace_events, "");
    cr_assert_eq(cfg->slowlog_log_slower_than, 10000);
    cr_assert_eq(cfg->slowlog_max_len, 128);
    cr_assert_eq(cfg->hash_max_listpack_entries, 512);
    cr_assert_eq(cfg->hash_max_listpack_value, 64);
    cr_assert_eq(cfg->set_max_intset_entries, 512);
    cr_assert_eq(cfg->set_max_listpack_entries, 128);
    cr_assert_eq(cfg->zset_max_listpack_entries, 128);
    cr_assert_eq(cfg->zset_max_listpack_value, 64);
    cr_assert_eq(cfg->list_max_listpack_size, -2);
    cr_assert_eq(cfg->stream_node_max_bytes, 4096);
    cr_assert_eq(cfg->stream_node_max_entries, 100);
    cr_assert_eq(cfg->lua_time_limit, 5000);
    cr_assert_not(cfg->cluster_enabled);
    cr_assert_str_eq(cfg->cluster_config_file, "nodes.conf");
    cr_assert_eq(cfg->cluster_node_timeout, 15000);
    cr_assert_eq(cfg->threads, 0);
    cr_assert_not(cfg->force_epoll);
    cr_assert_eq(cfg->unixsocketperm, 0);
    cr_assert_str_eq(cfg->config_file, "");
}

Test(config, defaults_formatted_like_redis)
{
    char cwd[PATH_MAX];
    cr_assert(getcwd(cwd, sizeof(cwd)));
    cr_assert_str_eq(get("proto-max-bulk-len"), "536870912");
    cr_assert_str_eq(get("client-query-buffer-limit"), "1073741824");
    cr_assert_str_eq(get("unixsocketperm"), "0");
    cr_assert_str_eq(get("protected-mode"), "yes");
    cr_assert_str_eq(get("loglevel"), "notice");
    cr_assert_str_eq(get("maxmemory-policy"), "noeviction");
    cr_assert_str_eq(get("bind"), "* -::*");
    cr_assert_str_eq(get("dir"), cwd);
    cr_assert_str_eq(get("requirepass"), "");
    cr_assert_str_eq(get("list-max-listpack-size"), "-2");
}

Test(config, defaults_of_accepted_only_directives)
{
    cr_assert_gt(cfg->nextra, 90);
    cr_assert_leq(cfg->nextra, CFG_EXTRA_MAX);
    cr_assert_str_eq(cfg->extra[0].name, "rdbchecksum");
    cr_assert_str_eq(get("appendfsync"), "everysec");
    cr_assert_str_eq(get("activerehashing"), "yes");
    cr_assert_str_eq(get("client-output-buffer-limit"),
                     "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
    cr_assert_str_eq(get("lfu-log-factor"), "10");
    cr_assert_str_eq(get("lfu-decay-time"), "1");
    cr_assert_str_eq(get("stop-writes-on-bgsave-error"), "yes");
    cr_assert_str_eq(get("rdbcompression"), "yes");
    cr_assert_str_eq(get("rdbchecksum"), "yes");
    cr_assert_str_eq(get("replica-read-only"), "yes");
    cr_assert_str_eq(get("slave-read-only"), "yes");
    cr_assert_str_eq(get("io-threads"), "1");
    cr_assert_str_eq(get("busy-reply-threshold"), "5000");
    cr_assert_str_eq(get("hll-sparse-max-bytes"), "3000");
    cr_assert_str_eq(get("tracking-table-max-keys"), "1000000");
    cr_assert_str_eq(get("latency-tracking"), "yes");
    cr_assert_str_eq(get("latency-tracking-info-percentiles"), "50 99 99.9");
    cr_assert_str_eq(get("oom-score-adj"), "no");
    cr_assert_str_eq(get("oom-score-adj-values"), "0 200 800");
    cr_assert_str_eq(get("maxmemory-eviction-tenacity"), "10");
    cr_assert_str_eq(get("enable-debug-command"), "no");
    cr_assert_str_eq(get("lazyfree-lazy-eviction"), "no");
    cr_assert_str_eq(get("auto-aof-rewrite-min-size"), "67108864");
    cr_assert_str_eq(get("repl-backlog-size"), "1048576");
    cr_assert_str_eq(get("replicaof"), "");
    cr_assert_str_eq(get("shutdown-on-sigterm"), "default");
    cr_assert_str_eq(get("proc-title-template"), "{title} {listen-addr} {server-mode}");
}

/* ---------- file syntax ---------- */

Test(config, quotes_comments_and_case)
{
    assert_load_ok("# a comment\n"
                   "\n"
                   "   PORT 7000   \r\n"
                   "  # indented comment\n"
                   "requirepass \"a b\\tc\\x41\\n\"\n"
                   "dbfilename 'it\\'s.rdb'\n"
                   "MaxMemory-Policy ALLKEYS-LRU\n"
                   "logfile \"\"\n");
    cr_assert_eq(cfg->port, 7000);
    cr_assert_str_eq(cfg->requirepass, "a b\tcA\n");
    cr_assert_str_eq(cfg->dbfilename, "it's.rdb");
    cr_assert_eq(cfg->maxmemory_policy, MAXMEMORY_ALLKEYS_LRU);
    cr_assert_str_eq(cfg->logfile, "");
}

Test(config, multi_value_lines)
{
    assert_load_ok("bind 127.0.0.1 ::1\n"
                   "client-output-buffer-limit \"pubsub 1mb 2mb 30\"\n"
                   "shutdown-on-sigterm nosave now\n");
    cr_assert_str_eq(cfg->bind, "127.0.0.1 ::1");
    cr_assert_str_eq(get("client-output-buffer-limit"),
                     "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 2097152 30");
    cr_assert_str_eq(get("shutdown-on-sigterm"), "nosave now");
}

Test(config, save_lines_in_a_file_accumulate)
{
    assert_load_ok("save 900 1\nsave 300 10\n");
    cr_assert_str_eq(cfg->save, "900 1 300 10");
    config_defaults(cfg);
    assert_load_ok("save 900 1\nsave \"\"\n");
    cr_assert_str_eq(cfg->save, "");
    config_defaults(cfg);
    assert_load_ok("save \"\"\nsave 60 5\n");
    cr_assert_str_eq(cfg->save, "60 5");
}

Test(config, deprecated_directives_are_ignored)
{
    assert_load_ok("list-max-ziplist-entries 512\nlist-max-ziplist-value 64\n"
                   "lua-replicate-commands yes\n");
}

Test(config, load_file_with_include)
{
    char inc[PATH_MAX], text[PATH_MAX + 64], err[2048] = "";
    snprintf(inc, sizeof(inc), "%s", write_file("inc.conf", "maxmemory 100mb\nport 7001\n"));
    snprintf(text, sizeof(text), "port 7000\ninclude %s\ntimeout 30\n", inc);
    const char *main_path = write_file("main.conf", text);

    cr_assert(config_load_file(cfg, main_path, err, sizeof(err)), "%s", err);
    cr_assert_eq(cfg->port, 7001, "the included file's later value wins");
    cr_assert_eq(cfg->maxmemory, 100LL * 1024 * 1024);
    cr_assert_eq(cfg->timeout, 30);
    cr_assert_str_eq(cfg->config_file, main_path);
}

Test(config, include_is_relative_to_cwd)
{
    write_file("rel.conf", "databases 4\n");
    cr_assert_eq(chdir(tmpdir), 0);
    assert_load_ok("include rel.conf\n");
    cr_assert_eq(cfg->databases, 4);
}

Test(config, include_with_wildcards)
{
    char dir[PATH_MAX], text[2 * PATH_MAX + 64];
    snprintf(dir, sizeof(dir), "%s/conf.d", tmpdir);
    cr_assert_eq(mkdir(dir, 0755), 0);
    write_file("conf.d/20-b.conf", "hz 20\n");
    write_file("conf.d/10-a.conf", "hz 15\ntimeout 7\n");
    write_file("conf.d/notes.txt", "bogus directive\n");
    snprintf(text, sizeof(text), "include %s/*.conf\ninclude %s/*.none\n", dir, dir);
    assert_load_ok(text);
    cr_assert_eq(cfg->hz, 20, "files are read in name order");
    cr_assert_eq(cfg->timeout, 7);
}

Test(config, config_file_path_is_absolute)
{
    char err[2048] = "";
    write_file("x.conf", "port 7002\n");
    cr_assert_eq(chdir(tmpdir), 0);
    cr_assert(config_load_file(cfg, "x.conf", err, sizeof(err)), "%s", err);
    cr_assert_eq(cfg->config_file[0], '/');
    cr_assert_not_null(strstr(cfg->config_file, "/x.conf"));
}

/* ---------- file errors ---------- */

Test(config, bad_directive_error_text)
{
    char err[2048];
    cr_assert_not(load("port 7000\n# comment\n  bogus yes\n", err, sizeof(err)));
    cr_assert_str_eq(err, "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
                          "Reading the configuration file, at line 3\n"
                          ">>> 'bogus yes'\n"
                          "Bad directive or wrong number of arguments");
}

Test(config, wrong_number_of_arguments)
{
    char err[2048];
    cr_assert_not(load("port\n", err, sizeof(err)));
    cr_assert_str_eq(err, "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
                          "Reading the configuration file, at line 1\n"
                          ">>> 'port'\n"
                          "wrong number of arguments");
    cr_assert_not(load("timeout 1 2\n", err, sizeof(err)));
    cr_assert_not_null(strstr(err, "wrong number of arguments"));
}

Test(config, value_errors_in_a_file)
{
    char err[2048];
    cr_assert_not(load("port 7000\nmaxmemory 1x\n", err, sizeof(err)));
    cr_assert_str_eq(err, "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
                          "Reading the configuration file, at line 2\n"
                          ">>> 'maxmemory 1x'\n"
                          "argument must be a memory value");
    cr_assert_not(load("appendonly maybe\n", err, sizeof(err)));
    cr_assert_not_null(strstr(err, "\nargument must be 'yes' or 'no'"));
}

Test(config, unbalanced_quotes)
{
    char err[2048];
    cr_assert_not(load("requirepass \"abc\n", err, sizeof(err)));
    cr_assert_not_null(strstr(err, "at line 1\n>>> 'requirepass \"abc'\n"
                                   "Unbalanced quotes in configuration line"));
    cr_assert_not(load("bind \"127.0.0.1\"x\n", err, sizeof(err)));
    cr_assert_not_null(strstr(err, "Unbalanced quotes in configuration line"));
}

Test(config, missing_include)
{
    char err[2048];
    cr_assert_not(load("include /nonexistent/darter.conf\n", err, sizeof(err)));
    cr_assert_str_eq(err, "Fatal error, can't open config file '/nonexistent/darter.conf': "
                          "No such file or directory");
}

Test(config, error_in_included_file_names_its_line)
{
    char text[PATH_MAX + 64], err[2048];
    const char *inc = write_file("bad.conf", "port 1\n\nhz x\n");
    snprintf(text, sizeof(text), "port 2\ninclude %s\n", inc);
    cr_assert_not(load(text, err, sizeof(err)));
    cr_assert_not_null(strstr(err, "at line 3\n>>> 'hz x'\n"
                                   "argument couldn't be parsed into an integer"), "%s", err);
}

Test(config, unopenable_logfile)
{
    char err[2048];
    cr_assert_not(load("logfile /nonexistent/dir/darter.log\n", err, sizeof(err)));
    cr_assert_str_eq(err, "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
                          "Can't open the log file: No such file or directory");
}

/* ---------- CONFIG SET values and errors ---------- */

Test(config, bool_values)
{
    cr_assert_null(set("protected-mode", "NO"));
    cr_assert_not(cfg->protected_mode);
    cr_assert_str_eq(get("protected-mode"), "no");
    assert_set_error("protected-mode", "maybe", "argument must be 'yes' or 'no'");
    assert_set_error("activedefrag", "yes",
                     "Active defragmentation cannot be enabled: it requires a Redis server "
                     "compiled with a modified Jemalloc like the one shipped by default with "
                     "the Redis source distribution");
}

Test(config, integer_values)
{
    cr_assert_null(set("timeout", "30"));
    cr_assert_eq(cfg->timeout, 30);
    assert_set_error("timeout", "abc", "argument couldn't be parsed into an integer");
    assert_set_error("timeout", "007", "argument couldn't be parsed into an integer");
    assert_set_error("timeout", "+5", "argument couldn't be parsed into an integer");
    assert_set_error("timeout", "-1", "argument must be between 0 and 2147483647 inclusive");
    assert_set_error("maxclients", "0", "argument must be between 1 and 4294967295 inclusive");
    assert_set_error("active-expire-effort", "11", "argument must be between 1 and 10 inclusive");
    assert_set_error("slowlog-log-slower-than", "-2",
                     "argument must be between -1 and 9223372036854775807 inclusive");
    cr_assert_null(set("slowlog-log-slower-than", "-1"));
    cr_assert_eq(cfg->slowlog_log_slower_than, -1);
    assert_set_error("stream-node-max-entries", "9223372036854775808",
                     "argument couldn't be parsed into an integer");
    cr_assert_eq(cfg->timeout, 30, "failed sets leave the value alone");
}

Test(config, memory_values)
{
    cr_assert_null(set("maxmemory", "100mb"));
    cr_assert_eq(cfg->maxmemory, 100LL * 1024 * 1024);
    cr_assert_null(set("maxmemory", "1GB"));
    cr_assert_eq(cfg->maxmemory, 1024LL * 1024 * 1024);
    cr_assert_str_eq(get("maxmemory"), "1073741824");
    cr_assert_null(set("maxmemory", "1k"));
    cr_assert_eq(cfg->maxmemory, 1000);
    cr_assert_null(set("maxmemory", "1kb"));
    cr_assert_eq(cfg->maxmemory, 1024);
    cr_assert_null(set("maxmemory", "2g"));
    cr_assert_eq(cfg->maxmemory, 2000000000LL);
    cr_assert_null(set("maxmemory", "10b"));
    cr_assert_eq(cfg->maxmemory, 10);
    assert_set_error("maxmemory", "-1", "argument must be a memory value");
    assert_set_error("maxmemory", "1x", "argument must be a memory value");
    assert_set_error("proto-max-bulk-len", "1000",
                     "argument must be between 1048576 and 9223372036854775807 inclusive");
    cr_assert_null(set("maxmemory-clients", "10%"));
    cr_assert_str_eq(get("maxmemory-clients"), "10%");
    assert_set_error("maxmemory-clients", "200%",
                     "percentage argument must be less or equal to 100");
    assert_set_error("maxmemory-clients", "x%", "argument must be a memory or percent value");
}

Test(config, enum_values)
{
    cr_assert_null(set("loglevel", "WARNING"));
    cr_assert_eq(cfg->loglevel, LL_WARNING);
    cr_assert_str_eq(get("loglevel"), "warning");
    assert_set_error("loglevel", "loud",
                     "argument(s) must be one of the following: debug, verbose, notice, warning, "
                     "nothing");
    cr_assert_null(set("maxmemory-policy", "volatile-ttl"));
    cr_assert_eq(cfg->maxmemory_policy, MAXMEMORY_VOLATILE_TTL);
    assert_set_error("maxmemory-policy", "lru",
                     "argument(s) must be one of the following: volatile-lru, volatile-lfu, "
                     "volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, "
                     "noeviction");
    assert_set_error("appendfsync", "x",
                     "argument(s) must be one of the following: everysec, always, no");
    cr_assert_null(set("oom-score-adj", "relative"));
    cr_assert_str_eq(get("oom-score-adj"), "yes", "Redis prints the first name of a value");
    cr_assert_null(set("shutdown-on-sigint", "now nosave"));
    cr_assert_str_eq(get("shutdown-on-sigint"), "nosave now");
    assert_set_error("shutdown-on-sigint", "save nosave",
                     "shutdown options SAVE and NOSAVE can't be used simultaneously");
    cr_assert_str_eq(config_maxmemory_policy_name(MAXMEMORY_ALLKEYS_LFU), "allkeys-lfu");
}

Test(config, octal_values)
{
    char *argv[1] = {"700"};
    cr_assert_null(config_apply(cfg, "unixsocketperm", 1, argv, true));
    cr_assert_eq(cfg->unixsocketperm, 0700);
    cr_assert_str_eq(get("unixsocketperm"), "700");
    argv[0] = "800";
    cr_assert_str_eq(config_apply(cfg, "unixsocketperm", 1, argv, true),
                     "argument couldn't be parsed as an octal number");
    argv[0] = "1000";
    cr_assert_str_eq(config_apply(cfg, "unixsocketperm", 1, argv, true),
                     "argument must be between 0 and 777 inclusive");
}

Test(config, save_values)
{
    cr_assert_null(set("save", "900 1 300 10"));
    cr_assert_str_eq(cfg->save, "900 1 300 10");
    cr_assert_null(set("save", "60 5"));
    cr_assert_str_eq(cfg->save, "60 5", "CONFIG SET replaces");
    cr_assert_null(set("save", ""));
    cr_assert_str_eq(cfg->save, "");
    assert_set_error("save", "900", "Invalid save parameters");
    assert_set_error("save", "0 1", "Invalid save parameters");
    assert_set_error("save", "10 -1", "Invalid save parameters");
    assert_set_error("save", "abc 1", "Invalid save parameters");
}

Test(config, bind_values)
{
    char *argv[3] = {"127.0.0.1", "::1", "10.0.0.1"};
    cr_assert_null(config_apply(cfg, "bind", 3, argv, true));
    cr_assert_str_eq(cfg->bind, "127.0.0.1 ::1 10.0.0.1");
    argv[0] = "";
    cr_assert_null(config_apply(cfg, "bind", 1, argv, true));
    cr_assert_str_eq(cfg->bind, "");
    cr_assert_not(load("bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n", (char[512]){0}, 512));
}

Test(config, strings)
{
    cr_assert_null(set("requirepass", "secret"));
    cr_assert_str_eq(cfg->requirepass, "secret");
    cr_assert_null(set("requirepass", ""));
    cr_assert_str_eq(cfg->requirepass, "");
    char *on[1] = {"yes"};
    cr_assert_null(config_apply(cfg, "enable-protected-configs", 1, on, true));
    assert_set_error("dbfilename", "a/b.rdb", "dbfilename can't be a path, just a filename");
    cr_assert_null(set("dbfilename", "x.rdb"));
    cr_assert_str_eq(cfg->dbfilename, "x.rdb");
    assert_set_error("proc-title-template", "{title}",
                     "template format is invalid or contains unknown variables");
}

Test(config, notify_keyspace_events_normalised)
{
    cr_assert_null(set("notify-keyspace-events", "KEA"));
    cr_assert_str_eq(cfg->notify_keyspace_events, "AKE");
    cr_assert_null(set("notify-keyspace-events", "Ex$"));
    cr_assert_str_eq(cfg->notify_keyspace_events, "$xE");
    assert_set_error("notify-keyspace-events", "q",
                     "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
}

Test(config, client_output_buffer_limit_merges)
{
    cr_assert_null(set("client-output-buffer-limit", "pubsub 1mb 2mb 30"));
    cr_assert_str_eq(get("client-output-buffer-limit"),
                     "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 2097152 30");
    cr_assert_null(set("client-output-buffer-limit", "replica 1 2 3 normal 4 5 6"));
    cr_assert_str_eq(get("client-output-buffer-limit"),
                     "normal 4 5 6 slave 1 2 3 pubsub 1048576 2097152 30");
    assert_set_error("client-output-buffer-limit", "master 1 2 3",
                     "Invalid client class specified in buffer limit configuration.");
    assert_set_error("client-output-buffer-limit", "normal 1 2",
                     "Wrong number of arguments in buffer limit configuration.");
}

Test(config, hz_is_clamped)
{
    cr_assert_null(set("hz", "0"));
    cr_assert_eq(cfg->hz, 1);
    cr_assert_null(set("hz", "1000"));
    cr_assert_eq(cfg->hz, 500);
    assert_load_ok("hz 0\n");
    cr_assert_eq(cfg->hz, 1);
}

Test(config, immutable_and_protected)
{
    assert_set_error("port", "7000", "can't set immutable config");
    assert_set_error("daemonize", "yes", "can't set immutable config");
    assert_set_error("threads", "4", "can't set immutable config");
    assert_set_error("replicaof", "127.0.0.1 6380", "can't set immutable config");
    assert_set_error("dir", "/tmp", "can't set protected config");
    char *argv[1] = {"7000"};
    cr_assert_null(config_apply(cfg, "port", 1, argv, true), "allowed at startup");
    cr_assert_eq(cfg->port, 7000);
}

Test(config, dir_changes_the_working_directory)
{
    char *on[1] = {"yes"};
    char real[PATH_MAX];
    cr_assert_null(config_apply(cfg, "enable-protected-configs", 1, on, true));
    cr_assert(realpath(tmpdir, real));
    cr_assert_null(set("dir", tmpdir));
    cr_assert_str_eq(get("dir"), real);
    cr_assert_str_eq(cfg->dir, real);
    assert_set_error("dir", "/nonexistent/dir", "No such file or directory");
}

/* ---------- names: settable, aliases, CONFIG GET ---------- */

Test(config, settable_and_known)
{
    bool known = false;
    cr_assert_str_eq(config_settable("maxmemory", &known), "maxmemory");
    cr_assert(known);
    cr_assert_null(config_settable("port", &known));
    cr_assert(known, "immutable but known");
    cr_assert_null(config_settable("nosuch", &known));
    cr_assert_not(known);
    cr_assert_str_eq(config_settable("SLAVE-READ-ONLY", &known), "replica-read-only");
    cr_assert_null(config_settable("lua-replicate-commands", &known));
    cr_assert_not(known, "deprecated names only load from files");
    cr_assert_str_eq(config_apply(cfg, "nosuch", 1, (char *[]){"1"}, true),
                     "Bad directive or wrong number of arguments");
}

Test(config, aliases)
{
    assert_load_ok("hash-max-ziplist-entries 100\nzset-max-ziplist-value 32\n"
                   "list-max-ziplist-size 5\nlua-time-limit 300\nslave-read-only no\n");
    cr_assert_eq(cfg->hash_max_listpack_entries, 100);
    cr_assert_eq(cfg->zset_max_listpack_value, 32);
    cr_assert_eq(cfg->list_max_listpack_size, 5);
    cr_assert_eq(cfg->lua_time_limit, 300);
    cr_assert_str_eq(get("busy-reply-threshold"), "300");
    cr_assert_str_eq(get("replica-read-only"), "no");
    cr_assert_null(set("hash-max-ziplist-value", "1kb"));
    cr_assert_eq(cfg->hash_max_listpack_value, 1024);
}

Test(config, get_exact_names)
{
    struct seen s = {0};
    config_get(cfg, "MaxMemory", collect, &s);
    cr_assert_str_eq(s.buf, "MaxMemory=0\n", "exact lookups echo the name as given");
    memset(&s, 0, sizeof(s));
    config_get(cfg, "hash-max-ziplist-entries", collect, &s);
    cr_assert_str_eq(s.buf, "hash-max-ziplist-entries=512\n");
    memset(&s, 0, sizeof(s));
    config_get(cfg, "key-load-delay", collect, &s);
    cr_assert_str_eq(s.buf, "key-load-delay=0\n", "hidden directives by exact name");
    memset(&s, 0, sizeof(s));
    config_get(cfg, "nosuch", collect, &s);
    cr_assert_eq(s.n, 0);
}

Test(config, get_glob)
{
    struct seen s = {0};
    config_get(cfg, "maxmemory*", collect, &s);
    cr_assert_eq(s.n, 5, "%s", s.buf);
    cr_assert(seen_has(&s, "maxmemory=0"));
    cr_assert(seen_has(&s, "maxmemory-policy=noeviction"));
    cr_assert(seen_has(&s, "maxmemory-samples=5"));
    cr_assert(seen_has(&s, "maxmemory-eviction-tenacity=10"));
    cr_assert(seen_has(&s, "maxmemory-clients=0"));

    memset(&s, 0, sizeof(s));
    config_get(cfg, "*OF", collect, &s);
    cr_assert_eq(s.n, 2, "%s", s.buf);
    cr_assert(seen_has(&s, "replicaof="));
    cr_assert(seen_has(&s, "slaveof="));

    memset(&s, 0, sizeof(s));
    config_get(cfg, "*ziplist*", collect, &s);
    cr_assert_eq(s.n, 5, "%s", s.buf);

    memset(&s, 0, sizeof(s));
    config_get(cfg, "*", collect, &s);
    cr_assert_gt(s.n, 150);
    cr_assert_null(strstr(s.buf, "key-load-delay="), "hidden directives stay out of globs");
    cr_assert(seen_has(&s, "appendfsync=everysec"));
    cr_assert(seen_has(&s, "port=6379"));

    memset(&s, 0, sizeof(s));
    config_get(cfg, "*-?-*", collect, &s);
    cr_assert_eq(s.n, 0);
}

Test(config, multi_value_set_splits_on_spaces)
{
    cr_assert_null(set("latency-tracking-info-percentiles", "50 99.99 100"));
    cr_assert_str_eq(get("latency-tracking-info-percentiles"), "50 99.99 100");
    cr_assert_null(set("latency-tracking-info-percentiles", ""));
    cr_assert_str_eq(get("latency-tracking-info-percentiles"), "");
    assert_set_error("latency-tracking-info-percentiles", "101",
                     "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]");
    assert_set_error("oom-score-adj-values", "1 2", "wrong number of arguments");
    cr_assert_null(set("oom-score-adj-values", "1 2 3"));
    cr_assert_str_eq(get("oom-score-adj-values"), "1 2 3");
}
