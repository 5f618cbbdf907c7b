/* server/main.c — process start and stop: configuration (file + --flags),
 * the slot -> thread map, listeners, worker threads, signals, pidfile,
 * daemonize. Owns nothing after the workers start but the wait for them.
 * Must not touch keyspace data. */
#include "server/server.h"
#include "cluster/cluster.h" /* cluster: node id and config at startup */
#include "server/clock.h"
#include "server/log.h"
#include "server/notify.h"
#include "server/persist.h"
#include "shard/memory.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <mimalloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define DARTER_VERSION "7.0.15"

static struct config g_boot_config;

static void usage(void)
{
    fprintf(stderr,
            "Usage: ./darter-server [/path/to/redis.conf] [options] [-]\n"
            "       ./darter-server -v or --version\n"
            "       ./darter-server -h or --help\n\n"
            "Examples:\n"
            "       ./darter-server (run the server with default config)\n"
            "       ./darter-server /etc/redis/6379.conf\n"
            "       ./darter-server --port 7777\n"
            "       ./darter-server --threads 4 --force-epoll yes\n");
    exit(1);
}

/* Build a config text as Redis does: file contents, then each --name value
 * as one more line, so both go through one parser. */
static char *collect_config(int argc, char **argv, const char **file)
{
    size_t cap = 4096, len = 0;
    char *text = mi_malloc(cap);
    text[0] = 0;
    int i = 1;
    *file = NULL;
    if (argc >= 2 && argv[1][0] != '-') {
        *file = argv[1];
        i = 2;
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        size_t need = strlen(a) * 4 + 8;
        if (len + need >= cap) {
            while (len + need >= cap)
                cap *= 2;
            text = mi_realloc(text, cap);
        }
        if (a[0] == '-' && a[1] == '-') {
            if (len)
                text[len++] = '\n';
            len += (size_t)snprintf(text + len, cap - len, "%s", a + 2);
        } else {
            /* quote values so empty strings and spaces survive */
            text[len++] = ' ';
            text[len++] = '"';
            for (const char *p = a; *p; p++) {
                if (*p == '"' || *p == '\\')
                    text[len++] = '\\';
                text[len++] = *p;
            }
            text[len++] = '"';
        }
        text[len] = 0;
    }
    return text;
}

static void load_config(int argc, char **argv, struct config *cfg)
{
    config_defaults(cfg);
    if (argc == 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version"))) {
        printf("Redis server v=%s sha=00000000:0 malloc=mimalloc bits=64 build=darter\n", DARTER_VERSION);
        exit(0);
    }
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
        usage();
    const char *file;
    char *overrides = collect_config(argc, argv, &file);
    char err[1024];
    if (file && !config_load_file(cfg, file, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    if (!config_load_string(cfg, overrides, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    mi_free(overrides);
}

/* Standalone: contiguous ranges, so consecutive slots share a thread (SCAN
 * walks a thread's range in one call). Cluster mode: blocks of 64 slots dealt
 * round-robin, so a node that owns only part of the 16384 slots still spreads
 * them over all its threads. */
#define CLUSTER_SLOT_BLOCK 64

static void assign_slots(int n, bool cluster)
{
    for (int s = 0; s < 16384; s++)
        g_slot_owner[s] = cluster ? (uint16_t)((s / CLUSTER_SLOT_BLOCK) % n) : (uint16_t)((long)s * n / 16384);
}

static int listen_all(struct worker *w, const struct config *cfg)
{
    w->listen_fd = -1;
    w->unix_fd = -1;
    if (cfg->port == 0)
        return 0;
    /* bind may list several addresses; darter listens on the first one
     * (with SO_REUSEPORT per thread) and on the others as extra listeners */
    char binds[CFG_STR_MAX];
    snprintf(binds, sizeof(binds), "%s", cfg->bind[0] ? cfg->bind : "*");
    char *save = NULL;
    int opened = 0;
    for (char *tok = strtok_r(binds, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        bool optional = tok[0] == '-';
        const char *host = optional ? tok + 1 : tok;
        if (!strcmp(host, "::*"))
            host = "::";
        int fd = w->id == 0 ? io_probe_tcp(host, cfg->port) : 0;
        if (fd == 0)
            fd = io_listen_tcp(host, cfg->port, (int)cfg->tcp_backlog);
        if (fd < 0) {
            if (optional || fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL)
                continue;
            serverlog(LL_WARNING, "Warning: Could not create server TCP listening socket %s:%d: %s", host,
                      cfg->port, strerror(-fd));
            return -1;
        }
        w->listen_fd = fd;
        opened++;
        break; /* one TCP listener per thread: the first address that binds */
    }
    if (!opened) {
        serverlog(LL_WARNING, "Failed listening on port %d (tcp), aborting.", cfg->port);
        return -1;
    }
    return 0;
}

static void create_workers(const struct config *cfg, bool force_epoll)
{
    int n = g_nworkers;
    g_workers = mi_zalloc(sizeof(struct worker *) * (size_t)n);
    int unix_fd = -1;
    if (cfg->unixsocket[0]) {
        unix_fd = io_listen_unix(cfg->unixsocket, (int)cfg->unixsocketperm, (int)cfg->tcp_backlog);
        if (unix_fd < 0) {
            serverlog(LL_WARNING, "Failed opening Unix socket: %s", strerror(-unix_fd));
            exit(1);
        }
    }
    for (int i = 0; i < n; i++) {
        struct worker *w = mi_zalloc(sizeof(*w));
        w->id = i;
        w->cfg = *cfg;
        w->force_epoll = force_epoll;
        w->inbox = mi_zalloc(sizeof(struct spsc) * (size_t)n);
        for (int j = 0; j < n; j++)
            spsc_init(&w->inbox[j], 4096);
        w->outbox = mi_zalloc(sizeof(struct outq) * (size_t)n);
        w->wake_needed = mi_zalloc(sizeof(bool) * (size_t)n);
        txq_init(&w->txq);
        w->rnd = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
        g_workers[i] = w;
        if (listen_all(w, cfg) < 0)
            exit(1);
        w->unix_fd = unix_fd;
    }
    for (int s = 0; s < 16384; s++) {
        struct worker *w = g_workers[g_slot_owner[s]];
        if (!w->owned_slots)
            w->owned_slots = mi_malloc(sizeof(unsigned) * 16384);
        w->owned_slots[w->nowned++] = (unsigned)s;
    }
}

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&g_shutdown_requested, 1);
}

static void write_pidfile(const char *path)
{
    if (!path[0])
        return;
    FILE *f = fopen(path, "w");
    if (!f) {
        serverlog(LL_WARNING, "Failed to write PID file: %s", strerror(errno));
        return;
    }
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
}

static void daemonize(void)
{
    if (fork() != 0)
        exit(0);
    setsid();
    int fd = open("/dev/null", O_RDWR, 0);
    if (fd != -1) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void wake_all(void)
{
    for (int i = 0; i < g_nworkers; i++)
        io_loop_wake(NULL, g_workers[i]->loop);
}

int main(int argc, char **argv)
{
    struct config *cfg = &g_boot_config;
    load_config(argc, argv, cfg);
    log_init(cfg->loglevel, cfg->logfile, 'M');
    if (cfg->daemonize)
        daemonize();
    if (cfg->dir[0] && chdir(cfg->dir) != 0) {
        serverlog(LL_WARNING, "Can't chdir to '%s': %s", cfg->dir, strerror(errno));
        exit(1);
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    g_nworkers = cfg->threads > 0 ? cfg->threads : online_cpus();
    if (g_nworkers > MAX_THREADS)
        g_nworkers = MAX_THREADS;
    g_start_time_ms = mstime();
    commands_init();
    clock_calibrate();
    assign_slots(g_nworkers, cfg->cluster_enabled);
    serverlog(LL_NOTICE, "oO0OoO0OoO0Oo darter is starting oO0OoO0OoO0Oo");
    serverlog(LL_NOTICE, "darter version=%s, bits=64, pid=%d, threads=%d, just started", DARTER_VERSION,
              (int)getpid(), g_nworkers);
    create_workers(cfg, cfg->force_epoll);
    cluster_init(cfg); /* cluster: load or create the node id and config */
    write_pidfile(cfg->pidfile);
    persist_init(); /* persist: workers start loading if dir/dbfilename exists */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    worker_start_all();
    persist_start_loading(); /* persist: the loader thread (signals blocked, as workers) */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!io_loop_uses_uring(g_workers[0]->loop) && !cfg->force_epoll) {
        char why[256];
        io_uring_available(why, sizeof(why));
        serverlog(LL_WARNING, "io_uring unavailable (%s): falling back to epoll", why);
    }
    serverlog(LL_NOTICE, "Server initialized (%s, %d threads)",
              io_loop_uses_uring(g_workers[0]->loop) ? "io_uring" : "epoll", g_nworkers);
    serverlog(LL_NOTICE, "Ready to accept connections tcp");
    /* systemd hears READY=1 once the dataset is loaded (persist.c says it
     * when loading ends); a duplicate READY=1 is harmless */
    if (persist_loading())
        notify_status("Loading the dataset");
    else
        notify_ready();
    /* The main thread waits for a shutdown request and relays it. */
    for (;;) {
        while (!atomic_load(&g_shutdown_requested))
            pause();
        serverlog(LL_WARNING, "Received shutdown request, scheduling shutdown...");
        if (persist_shutdown()) /* persist: the final save while workers still serve */
            break;
        atomic_store(&g_shutdown_requested, 0);
        atomic_store(&g_shutdown_save_mode, PERSIST_SHUTDOWN_DEFAULT);
    }
    atomic_store(&g_workers_stop, 1);
    notify_stopping();
    wake_all();
    worker_join_all();
    if (cfg->pidfile[0])
        unlink(cfg->pidfile);
    if (cfg->unixsocket[0])
        unlink(cfg->unixsocket);
    serverlog(LL_WARNING, "darter is now ready to exit, bye bye...");
    return 0;
}
