/* tests/integration/test_persist.c — RDB persistence against real processes:
 * SAVE + restart round trip (strings, ints, expiries, several dbs, another
 * thread count), BGSAVE under a concurrent writer (the file holds exactly the
 * dataset at BGSAVE time, checked by a fresh darter and by redis-server),
 * FLUSHALL during BGSAVE, kill -9 after a finished BGSAVE, truncated and
 * corrupt files refused (exit != 0, the log names the offset), redis-server's
 * dump loading in darter --threads 4, the shutdown save and SHUTDOWN NOSAVE,
 * save points, BGSAVE errors, -LOADING while a slowed load runs (key-load-delay)
 * and DEBUG RELOAD. Each test uses its own temp dir, removed at the end. */
#include "harness.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REDIS_SERVER "/usr/bin/redis-server"
#define NKEYS 10000

static char dir[256];
static struct server srv, srv2;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/darter-persist-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    server_stop(&srv);
    server_stop(&srv2);
    if (dir[0])
        nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(persist, .init = setup, .fini = teardown, .timeout = 300);

static long long ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void start_darter(struct server *s, int threads, const char *save)
{
    server_start(s, threads, "--dir", dir, "--save", save, NULL);
}

/* An INFO field as an integer (-1 when missing). */
static long long info_field(redisContext *c, const char *name)
{
    redisReply *r = hcmd(c, "INFO persistence");
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    char pat[128];
    snprintf(pat, sizeof(pat), "\r\n%s:", name);
    const char *p = strstr(r->str, pat);
    long long v = p ? atoll(p + strlen(pat)) : -1;
    freeReplyObject(r);
    return v;
}

static void wait_bgsave_done(redisContext *c)
{
    long long deadline = ms_now() + 60000;
    while (info_field(c, "rdb_bgsave_in_progress") != 0) {
        cr_assert_lt(ms_now(), deadline, "BGSAVE did not finish");
        msleep(10);
    }
}

static void fill(redisContext *c, const char *prefix, const char *val, int n)
{
    for (int i = 0; i < n; i++)
        redisAppendCommand(c, "SET %s%d %s", prefix, i, val);
    for (int i = 0; i < n; i++) {
        redisReply *r;
        cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        cr_assert_eq(r->type, REDIS_REPLY_STATUS);
        freeReplyObject(r);
    }
}

/* Every key <prefix>0..n-1 holds `val`. */
static void check_all(redisContext *c, const char *prefix, const char *val, int n)
{
    const int chunk = 500;
    for (int base = 0; base < n; base += chunk) {
        int m = n - base < chunk ? n - base : chunk;
        const char *argv[chunk + 1];
        size_t lens[chunk + 1];
        char keys[chunk][32];
        argv[0] = "MGET";
        lens[0] = 4;
        for (int i = 0; i < m; i++) {
            snprintf(keys[i], sizeof(keys[i]), "%s%d", prefix, base + i);
            argv[i + 1] = keys[i];
            lens[i + 1] = strlen(keys[i]);
        }
        redisReply *r = hcmdv(c, m + 1, argv, lens);
        cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
        for (int i = 0; i < m; i++) {
            redisReply *e = r->element[i];
            cr_assert_eq(e->type, REDIS_REPLY_STRING, "key %s missing", keys[i]);
            cr_assert_str_eq(e->str, val, "key %s: '%s', want '%s'", keys[i], e->str, val);
        }
        freeReplyObject(r);
    }
}

static void expect_dbsize(redisContext *c, long long n) { expect_int(hcmd(c, "DBSIZE"), n); }

/* ---------- round trip ---------- */

Test(persist, save_restart_round_trip)
{
    start_darter(&srv, 4, "");
    redisContext *c = hconnect(&srv);
    fill(c, "k", "v0", 1000);
    expect_status(hcmd(c, "SET int 12345"), "OK");
    expect_status(hcmd(c, "SET neg -7"), "OK");
    expect_status(hcmd(c, "SET big %s", "123456789012345678901234567890"), "OK");
    expect_status(hcmd(c, "SET empty %s", ""), "OK");
    expect_status(hcmd(c, "SET ttl v PX 100000"), "OK");
    expect_status(hcmd(c, "SET gone v PX 300"), "OK");
    expect_status(hcmd(c, "SELECT 5"), "OK");
    expect_status(hcmd(c, "SET in5 five"), "OK");
    expect_status(hcmd(c, "SELECT 15"), "OK");
    expect_status(hcmd(c, "SET in15 fifteen"), "OK");
    long long before = 0;
    {
        redisReply *r = hcmd(c, "LASTSAVE");
        before = r->integer;
        freeReplyObject(r);
    }
    cr_assert_gt(info_field(c, "rdb_changes_since_last_save"), 1000);
    expect_status(hcmd(c, "SAVE"), "OK");
    cr_assert_eq(info_field(c, "rdb_changes_since_last_save"), 0);
    redisReply *r = hcmd(c, "LASTSAVE");
    cr_assert_geq(r->integer, before);
    freeReplyObject(r);
    redisFree(c);
    server_stop_clean(&srv);
    msleep(400); /* "gone" expires on disk */

    start_darter(&srv, 2, "");
    c = hconnect(&srv);
    check_all(c, "k", "v0", 1000);
    expect_bulk(hcmd(c, "GET int"), "12345");
    expect_bulk(hcmd(c, "GET neg"), "-7");
    expect_bulk(hcmd(c, "GET big"), "123456789012345678901234567890");
    expect_bulk(hcmd(c, "GET empty"), "");
    r = hcmd(c, "PTTL ttl");
    cr_assert(r->integer > 90000 && r->integer <= 100000, "PTTL %lld", r->integer);
    freeReplyObject(r);
    expect_nil(hcmd(c, "GET gone"));
    expect_dbsize(c, 1005);
    expect_status(hcmd(c, "SELECT 5"), "OK");
    expect_bulk(hcmd(c, "GET in5"), "five");
    expect_dbsize(c, 1);
    expect_status(hcmd(c, "SELECT 15"), "OK");
    expect_bulk(hcmd(c, "GET in15"), "fifteen");
    cr_assert(server_log_contains(&srv, "DB loaded from disk", 2000));
    redisFree(c);
    server_stop_clean(&srv);
}

/* ---------- BGSAVE under write load ---------- */

struct writer {
    int port;
    atomic_bool stop;
    atomic_long writes;
};

static void *writer_main(void *arg)
{
    struct writer *wr = arg;
    redisContext *c = redisConnect("127.0.0.1", wr->port);
    if (!c || c->err)
        return NULL;
    unsigned seed = 12345;
    int round = 0;
    while (!atomic_load(&wr->stop)) {
        for (int j = 0; j < 100; j++) {
            int k = (int)(rand_r(&seed) % NKEYS);
            switch (j % 4) {
            case 0:
                redisAppendCommand(c, "SET k%d v1", k);
                break;
            case 1:
                redisAppendCommand(c, "DEL k%d", k);
                break;
            case 2:
                redisAppendCommand(c, "SET new%d x", round * 100 + j);
                break;
            default:
                redisAppendCommand(c, "MSET k%d v1 k%d v1", k, (k + 4099) % NKEYS);
                break;
            }
        }
        for (int j = 0; j < 100; j++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                redisFree(c);
                return NULL;
            }
            freeReplyObject(r);
        }
        atomic_fetch_add(&wr->writes, 100);
        round++;
    }
    redisFree(c);
    return NULL;
}

static void check_v0_file(void)
{
    /* a fresh darter */
    start_darter(&srv2, 4, "");
    redisContext *c = hconnect(&srv2);
    expect_dbsize(c, NKEYS);
    check_all(c, "k", "v0", NKEYS);
    redisFree(c);
    server_stop_clean(&srv2);
    /* and redis-server */
    if (access(REDIS_SERVER, X_OK) != 0)
        return;
    redis_start(&srv2, "--dir", dir, "--dbfilename", "dump.rdb", NULL);
    c = hconnect(&srv2);
    expect_dbsize(c, NKEYS);
    check_all(c, "k", "v0", NKEYS);
    redisFree(c);
    server_stop(&srv2);
}

Test(persist, bgsave_point_in_time_under_writes)
{
    start_darter(&srv, 4, "");
    redisContext *c = hconnect(&srv);
    fill(c, "k", "v0", NKEYS);
    /* slow the background part so the writer overlaps it (copy-on-write is not slowed) */
    expect_status(hcmd(c, "CONFIG SET rdb-key-save-delay 50"), "OK");
    struct writer wr = {.port = srv.port};
    expect_status(hcmd(c, "BGSAVE"), "Background saving started");
    pthread_t th;
    pthread_create(&th, NULL, writer_main, &wr);
    expect_error(hcmd(c, "BGSAVE"), "ERR Background save already in progress");
    expect_error(hcmd(c, "SAVE"), "ERR Background save already in progress");
    cr_assert_eq(info_field(c, "rdb_bgsave_in_progress"), 1);
    wait_bgsave_done(c);
    long writes = atomic_load(&wr.writes);
    atomic_store(&wr.stop, true);
    pthread_join(th, NULL);
    cr_assert_gt(writes, 0, "the writer did not overlap the BGSAVE");
    redisReply *r = hcmd(c, "INFO persistence");
    cr_assert_not_null(strstr(r->str, "rdb_last_bgsave_status:ok"));
    freeReplyObject(r);
    redisFree(c);
    server_stop(&srv);
    check_v0_file();
}

Test(persist, flushall_during_bgsave)
{
    start_darter(&srv, 4, "");
    redisContext *c = hconnect(&srv);
    fill(c, "k", "v0", NKEYS);
    expect_status(hcmd(c, "CONFIG SET rdb-key-save-delay 50"), "OK");
    expect_status(hcmd(c, "BGSAVE"), "Background saving started");
    expect_status(hcmd(c, "FLUSHALL"), "OK");
    expect_status(hcmd(c, "SET k1 v1"), "OK");
    expect_status(hcmd(c, "SWAPDB 0 1"), "OK");
    wait_bgsave_done(c);
    redisFree(c);
    server_stop(&srv);
    check_v0_file();
}

Test(persist, bgsave_schedule)
{
    start_darter(&srv, 4, "");
    redisContext *c = hconnect(&srv);
    fill(c, "k", "v0", 2000);
    expect_status(hcmd(c, "CONFIG SET rdb-key-save-delay 200"), "OK");
    expect_status(hcmd(c, "BGSAVE"), "Background saving started");
    expect_status(hcmd(c, "BGSAVE SCHEDULE"), "Background saving scheduled");
    expect_error(hcmd(c, "BGSAVE foo"), "ERR syntax error");
    long long deadline = ms_now() + 60000;
    while (info_field(c, "rdb_saves") < 2) {
        cr_assert_lt(ms_now(), deadline, "the scheduled BGSAVE did not run");
        msleep(20);
    }
    redisFree(c);
    server_stop_clean(&srv);
}

/* ---------- crash after BGSAVE ---------- */

Test(persist, kill9_after_bgsave_keeps_it)
{
    start_darter(&srv, 4, "");
    redisContext *c = hconnect(&srv);
    fill(c, "k", "v0", NKEYS);
    expect_status(hcmd(c, "BGSAVE"), "Background saving started");
    wait_bgsave_done(c);
    fill(c, "after", "x", 10); /* not in the file */
    redisFree(c);
    kill(srv.pid, SIGKILL);
    waitpid(srv.pid, NULL, 0);
    unlink(srv.log);
    srv.pid = 0;
    start_darter(&srv, 3, "");
    c = hconnect(&srv);
    expect_dbsize(c, NKEYS);
    check_all(c, "k", "v0", NKEYS);
    redisFree(c);
    server_stop_clean(&srv);
}

/* ---------- bad files ---------- */

/* Run darter on dir until it exits (or 10 s); returns the wait status and the log text. */
static int run_until_exit(char *logtext, size_t cap)
{
    char logpath[300];
    snprintf(logpath, sizeof(logpath), "%s/log.txt", dir);
    int port = harness_free_port();
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(getenv("DARTER_SERVER"), "darter-server", "--port", portstr, "--bind", "127.0.0.1", "--threads", "4",
              "--dir", dir, "--save", "", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    long long deadline = ms_now() + 10000;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (ms_now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            break;
        }
        msleep(10);
    }
    FILE *f = fopen(logpath, "r");
    size_t n = f ? fread(logtext, 1, cap - 1, f) : 0;
    logtext[n] = 0;
    if (f)
        fclose(f);
    unlink(logpath);
    return st;
}

static long make_dump(void)
{
    start_darter(&srv, 4, "");
    redisContext *c = hconnect(&srv);
    fill(c, "k", "v0", 2000);
    expect_status(hcmd(c, "SAVE"), "OK");
    redisFree(c);
    server_stop_clean(&srv);
    char path[300];
    snprintf(path, sizeof(path), "%s/dump.rdb", dir);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    return (long)st.st_size;
}

Test(persist, truncated_file_refused)
{
    long size = make_dump();
    char path[300];
    snprintf(path, sizeof(path), "%s/dump.rdb", dir);
    cr_assert_eq(truncate(path, size / 2), 0);
    char log[16384];
    int st = run_until_exit(log, sizeof(log));
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0, "darter did not refuse a truncated file (status %d)", st);
    cr_assert_not_null(strstr(log, "offset"), "the log does not name the offset:\n%s", log);
}

Test(persist, corrupt_file_refused)
{
    long size = make_dump();
    char path[300];
    snprintf(path, sizeof(path), "%s/dump.rdb", dir);
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    unsigned char b;
    cr_assert_eq(pread(fd, &b, 1, size / 2), 1);
    b ^= 0x55;
    cr_assert_eq(pwrite(fd, &b, 1, size / 2), 1);
    close(fd);
    char log[16384];
    int st = run_until_exit(log, sizeof(log));
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0, "darter did not refuse a corrupt file (status %d)", st);
    cr_assert_not_null(strstr(log, "offset"), "the log does not name the offset:\n%s", log);
}

/* ---------- compatibility with redis-server ---------- */

Test(persist, redis_dump_loads_in_darter)
{
    if (access(REDIS_SERVER, X_OK) != 0)
        cr_skip_test("no redis-server");
    redis_start(&srv2, "--dir", dir, "--dbfilename", "dump.rdb", NULL);
    redisContext *c = hconnect(&srv2);
    fill(c, "k", "v0", NKEYS);
    expect_status(hcmd(c, "SET int 42"), "OK");
    expect_status(hcmd(c, "SET ttl v EX 1000"), "OK");
    expect_status(hcmd(c, "SELECT 7"), "OK");
    expect_status(hcmd(c, "SET seven 7x"), "OK");
    expect_status(hcmd(c, "SAVE"), "OK");
    redisFree(c);
    server_stop(&srv2);
    start_darter(&srv, 4, "");
    c = hconnect(&srv);
    expect_dbsize(c, NKEYS + 2);
    check_all(c, "k", "v0", NKEYS);
    expect_bulk(hcmd(c, "GET int"), "42");
    redisReply *r = hcmd(c, "TTL ttl");
    cr_assert(r->integer > 900 && r->integer <= 1000);
    freeReplyObject(r);
    expect_status(hcmd(c, "SELECT 7"), "OK");
    expect_bulk(hcmd(c, "GET seven"), "7x");
    redisFree(c);
    server_stop_clean(&srv);
}

/* ---------- shutdown and save points ---------- */

Test(persist, shutdown_saves_with_save_points)
{
    start_darter(&srv, 4, "3600 1");
    redisContext *c = hconnect(&srv);
    fill(c, "k", "v0", 100);
    redisFree(c);
    server_stop_clean(&srv); /* SIGTERM */
    start_darter(&srv, 4, "");
    c = hconnect(&srv);
    expect_dbsize(c, 100);
    /* SHUTDOWN NOSAVE does not save; SHUTDOWN SAVE does without save points */
    expect_status(hcmd(c, "SET extra 1"), "OK");
    redisReply *r = redisCommand(c, "SHUTDOWN NOSAVE");
    if (r)
        freeReplyObject(r);
    redisFree(c);
    int st;
    waitpid(srv.pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    unlink(srv.log);
    srv.pid = 0;
    start_darter(&srv, 4, "");
    c = hconnect(&srv);
    expect_dbsize(c, 100);
    expect_status(hcmd(c, "SET extra 1"), "OK");
    r = redisCommand(c, "SHUTDOWN SAVE");
    if (r)
        freeReplyObject(r);
    redisFree(c);
    waitpid(srv.pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    unlink(srv.log);
    srv.pid = 0;
    start_darter(&srv, 4, "");
    c = hconnect(&srv);
    expect_dbsize(c, 101);
    redisFree(c);
    server_stop_clean(&srv);
}

Test(persist, save_point_triggers_bgsave)
{
    start_darter(&srv, 4, "1 5");
    redisContext *c = hconnect(&srv);
    fill(c, "k", "v0", 10);
    long long deadline = ms_now() + 10000;
    while (info_field(c, "rdb_saves") < 1) {
        cr_assert_lt(ms_now(), deadline, "no save after the save point was met");
        msleep(50);
    }
    cr_assert_eq(info_field(c, "rdb_changes_since_last_save"), 0);
    redisFree(c);
    server_stop(&srv);
}

/* ---------- loading ---------- */

Test(persist, loading_error_while_slow_load)
{
    start_darter(&srv, 4, "");
    redisContext *c = hconnect(&srv);
    fill(c, "k", "v0", 3000);
    expect_status(hcmd(c, "SAVE"), "OK");
    redisFree(c);
    server_stop_clean(&srv);
    /* 1 ms per key: the load takes about 3 s */
    int port = harness_free_port();
    char portstr[16], logpath[300];
    snprintf(portstr, sizeof(portstr), "%d", port);
    snprintf(logpath, sizeof(logpath), "%s/log.txt", dir);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(getenv("DARTER_SERVER"), "darter-server", "--port", portstr, "--bind", "127.0.0.1", "--threads", "4",
              "--dir", dir, "--save", "", "--key-load-delay", "1000", (char *)NULL);
        _exit(127);
    }
    srv.pid = pid;
    srv.port = port;
    c = NULL;
    long long deadline = ms_now() + 10000;
    while (!c) {
        cr_assert_lt(ms_now(), deadline);
        redisContext *t = redisConnect("127.0.0.1", port);
        if (t && !t->err)
            c = t;
        else {
            if (t)
                redisFree(t);
            msleep(5);
        }
    }
    expect_error(hcmd(c, "GET k1"), "LOADING Redis is loading the dataset in memory");
    cr_assert_eq(info_field(c, "loading"), 1);
    cr_assert_geq(info_field(c, "loading_total_bytes"), 1);
    /* then it finishes */
    deadline = ms_now() + 60000;
    while (info_field(c, "loading") != 0) {
        cr_assert_lt(ms_now(), deadline);
        msleep(50);
    }
    expect_dbsize(c, 3000);
    check_all(c, "k", "v0", 3000);
    redisFree(c);
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    srv.pid = 0;
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

Test(persist, debug_reload)
{
    start_darter(&srv, 4, "");
    redisContext *c = hconnect(&srv);
    fill(c, "k", "v0", 2000);
    expect_status(hcmd(c, "SET ttl v PX 100000"), "OK");
    expect_status(hcmd(c, "DEBUG RELOAD"), "OK");
    expect_dbsize(c, 2001);
    check_all(c, "k", "v0", 2000);
    redisReply *r = hcmd(c, "PTTL ttl");
    cr_assert_gt(r->integer, 90000);
    freeReplyObject(r);
    redisFree(c);
    server_stop_clean(&srv);
}
