/* server/persist.c — RDB snapshots without fork, loading, save points and
 * the shutdown save (see persist.h).
 *
 * Saving: one save at a time (g_saving). The coordinator (the worker that
 * starts it) runs a global hop with no client (exec_global_internal): every
 * shard runs it at the same point of the global order, marks its snapshot
 * active and clears its per-slot "done" bitmap. From then on each worker
 * serializes its own slots from its loop (persist_poll, a budget per
 * iteration) into a buffer flushed to its own segment file; a write that
 * would touch a slot not yet done serializes that slot (all dbs) first, and
 * a global write finishes the whole segment first, so every segment is the
 * point-in-time image. Finished segments are reported to the coordinator by
 * message; a short-lived thread then writes temp-<pid>.rdb (header, segments
 * in worker order, footer with the CRC64), fsyncs it, renames it to
 * dbfilename, fsyncs the dir and posts the result back.
 *
 * Loading: a loader thread parses the mmap'ed file and sends each key's image
 * (entry_dump) in batches to its owner thread, which entry_loads it into its
 * own heap; meanwhile workers answer -LOADING. Threads that are not workers
 * talk to workers through a mutex-protected queue per worker (persist_post).
 *
 * Owns: snapshot, save job and loading state. */
#include "server/persist.h"
#include "server/function.h"
#include "server/notify.h"
#include "cluster/slot.h"
#include "server/log.h"
#include "shard/memory.h"
#include "shard/rdb.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SEG_FLUSH_BYTES (1u << 20)   /* segment buffer flushed to its file beyond this */
#define POLL_BUDGET 256              /* slots + keys serialized per loop iteration: small, so clients keep most of the thread */
#define LOAD_BATCH_BYTES (256u << 10)
#define LOAD_MAX_OUTSTANDING (64ull << 20)
#define PATH_MAX_LEN 1024

_Atomic int g_shutdown_save_mode;

/* ---------- messages from threads that are not workers ---------- */

struct fqueue {
    pthread_mutex_t mu;
    struct msg *head, *tail;
    _Atomic int pending;
};

static struct fqueue g_fq[MAX_THREADS];

static void persist_post(int to, struct msg *m)
{
    struct fqueue *q = &g_fq[to];
    m->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    atomic_store(&q->pending, 1);
    pthread_mutex_unlock(&q->mu);
    io_loop_wake(NULL, g_workers[to]->loop);
}

static void fq_drain(struct worker *w)
{
    struct fqueue *q = &g_fq[w->id];
    if (!atomic_load_explicit(&q->pending, memory_order_acquire))
        return;
    pthread_mutex_lock(&q->mu);
    struct msg *m = q->head;
    q->head = q->tail = NULL;
    atomic_store(&q->pending, 0);
    pthread_mutex_unlock(&q->mu);
    while (m) {
        struct msg *n = m->next;
        m->fn(w, m);
        m = n;
    }
}

/* ---------- counters and status (read by INFO on any thread) ---------- */

struct padded_counter {
    _Alignas(64) _Atomic uint64_t v;
};

static struct padded_counter g_dirty[MAX_THREADS];      /* writes, per worker (monotonic) */
static struct padded_counter g_snap_dirty[MAX_THREADS]; /* g_dirty at the running snapshot's start */
static struct padded_counter g_dirty_base[MAX_THREADS]; /* g_dirty at the last good snapshot's start */

static _Atomic int g_saving;              /* a save runs */
static _Atomic int g_bgsave_scheduled;    /* BGSAVE SCHEDULE while one ran */
static _Atomic int64_t g_lastsave;        /* unix seconds of the last good save */
static _Atomic int64_t g_last_try;        /* unix seconds of the last attempt */
static _Atomic int g_last_ok = 1;
static _Atomic int64_t g_save_start_ms;
static _Atomic int64_t g_last_bgsave_time = -1;
static _Atomic uint64_t g_rdb_saves;

static _Atomic int g_loading;
static _Atomic int64_t g_loading_start;
static _Atomic uint64_t g_loading_total;
static _Atomic uint64_t g_loading_loaded;
static _Atomic uint64_t g_load_keys;
static _Atomic uint64_t g_load_outstanding;
static _Atomic int g_load_workers_left;
static char g_load_path[PATH_MAX_LEN];
static struct save_job *g_reload_job; /* DEBUG RELOAD waiting for its load */
static int g_key_load_delay;

/* shutdown: main thread <-> worker 0 */
static pthread_mutex_t g_sd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_sd_cond = PTHREAD_COND_INITIALIZER;
static int g_sd_state; /* 0 idle, 1 requested, 2 done */
static bool g_sd_ok;
static bool g_sd_pending; /* worker 0: wants a save once the running one ends */

static uint64_t sum_counters(struct padded_counter *c)
{
    uint64_t n = 0;
    for (int i = 0; i < g_nworkers; i++)
        n += atomic_load_explicit(&c[i].v, memory_order_relaxed);
    return n;
}

static uint64_t changes_since_save(void)
{
    uint64_t d = sum_counters(g_dirty), b = sum_counters(g_dirty_base);
    return d > b ? d - b : 0;
}

static int config_int(const struct config *cfg, const char *name)
{
    char v[64];
    if (!config_format(cfg, name, v, sizeof(v)))
        return 0;
    return atoi(v);
}

/* ---------- the save job (coordinator's thread) ---------- */

enum save_kind { SAVE_BG, SAVE_SYNC, SAVE_SHUTDOWN, SAVE_RELOAD };

struct save_job {
    int kind;
    int coordinator;
    struct conn *conn;        /* SAVE / DEBUG RELOAD: who waits */
    struct pending *pend;
    int segments_in;
    bool seg_failed;
    int seg_errno;
    char dir[CFG_STR_MAX];
    char dbfilename[CFG_STR_MAX];
    int key_save_delay;
    int64_t start_ms;
    bool ok;
    char err[256];
    struct fn_set *functions; /* the coordinator's libraries at the snapshot hop */
};

/* Written by the coordinator before the hop; read by the shards after it
 * (the hop's message orders it) and by the file thread. */
static struct save_job *g_job;

static void seg_path(char *out, size_t n, const char *dir, int wid)
{
    snprintf(out, n, "%s/temp-%d-w%d.seg", dir, (int)getpid(), wid);
}

/* ---------- per-worker snapshot ---------- */

struct snap {
    bool active;
    uint64_t done[KS_SLOTS / 64];
    unsigned next;            /* index into owned_slots */
    int cur_db;
    struct buf buf;
    int fd;
    int err;
    int64_t now_ms;
    int key_delay;
    int rdb_flags;            /* RDB_SAVE_NO_COMPRESS when rdbcompression is no */
    uint64_t unencodable;     /* keys whose type has no RDB encoding yet */
};

static struct snap *g_snap[MAX_THREADS];

struct seg_done {
    struct msg m;
    int err;
};

static void seg_write(struct snap *s)
{
    size_t off = 0;
    while (off < s->buf.len && !s->err) {
        if (s->fd < 0) {
            s->err = EBADF;
            break;
        }
        ssize_t n = write(s->fd, s->buf.data + off, s->buf.len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            s->err = errno;
            break;
        }
        off += (size_t)n;
    }
    buf_clear(&s->buf);
}

/* Serialize one slot (every db) into the segment. Returns the keys written. */
static unsigned snap_slot(struct worker *w, struct snap *s, unsigned slot, bool delay)
{
    s->done[slot >> 6] |= 1ull << (slot & 63);
    unsigned keys = 0;
    for (int db = 0; db < w->ks.ndb; db++) {
        struct table *t = ks_slot_table(&w->ks, db, slot);
        if (!t || !t->count)
            continue;
        if (s->cur_db != db) {
            rdb_write_select_db(&s->buf, db);
            s->cur_db = db;
        }
        for (uint32_t b = 0; b < t->size; b++) {
            for (struct entry *e = t->buckets[b]; e; e = e->next) {
                if (ks_is_expired(e, s->now_ms))
                    continue;
                if (!rdb_write_entry_ex(&s->buf, e, s->rdb_flags, s->now_ms))
                    s->unencodable++;
                keys++;
                if (delay && s->key_delay > 0)
                    usleep((useconds_t)s->key_delay);
            }
        }
    }
    if (s->buf.len >= SEG_FLUSH_BYTES)
        seg_write(s);
    return keys;
}

static bool slot_done(const struct snap *s, unsigned slot) { return s->done[slot >> 6] >> (slot & 63) & 1; }

static void seg_done_msg(struct worker *w, struct msg *m);

static void snap_complete(struct worker *w, struct snap *s)
{
    seg_write(s);
    if (s->fd >= 0) {
        if (close(s->fd) != 0 && !s->err)
            s->err = errno;
        s->fd = -1;
    }
    buf_free(&s->buf);
    s->active = false;
    if (!s->err && s->unencodable) {
        /* never write a file that silently lacks keys */
        serverlog(LL_WARNING, "Cannot save %llu keys of a type without an RDB encoding yet",
                  (unsigned long long)s->unencodable);
        s->err = ENOTSUP;
    }
    struct seg_done *d = mi_zalloc(sizeof(*d));
    d->err = s->err;
    d->m.fn = seg_done_msg;
    worker_send(w, g_job->coordinator, &d->m);
}

static void snap_finish_all(struct worker *w, struct snap *s)
{
    while (s->next < w->nowned) {
        unsigned slot = w->owned_slots[s->next++];
        if (!slot_done(s, slot))
            snap_slot(w, s, slot, false);
    }
    snap_complete(w, s);
}

/* The global hop: this shard's snapshot starts here. */
static void snap_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)t;
    (void)part;
    (void)hop;
    struct worker *w = c->w;
    struct snap *s = g_snap[w->id];
    memset(s->done, 0, sizeof(s->done));
    s->active = true;
    s->next = 0;
    s->cur_db = -1;
    s->err = 0;
    s->now_ms = mstime();
    s->key_delay = g_job->key_save_delay;
    char compress[8] = "yes";
    config_format(&w->cfg, "rdbcompression", compress, sizeof(compress));
    s->rdb_flags = strcmp(compress, "no") == 0 ? RDB_SAVE_NO_COMPRESS : 0;
    s->unencodable = 0;
    buf_init(&s->buf);
    if (w->id == g_job->coordinator) /* libraries: the same on every shard at this hop */
        g_job->functions = fn_set_ref((struct fn_set *)fn_current());
    atomic_store_explicit(&g_snap_dirty[w->id].v, atomic_load_explicit(&g_dirty[w->id].v, memory_order_relaxed),
                          memory_order_relaxed);
    char path[PATH_MAX_LEN + 64];
    seg_path(path, sizeof(path), g_job->dir, w->id);
    s->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s->fd < 0)
        s->err = errno;
    if (s->err || w->nowned == 0)
        snap_complete(w, s);
}

static int snap_next(struct mso *t, int hop)
{
    (void)t;
    (void)hop;
    return -1;
}

static void snap_reply(struct mso *t, struct reply *r)
{
    (void)t;
    (void)r;
}

static const struct mso_ops snap_ops = {.hop = snap_hop, .next = snap_next, .reply = snap_reply, .global = true};
static const struct command snap_cmd = {"bgsave|snapshot", 1, CMD_GLOBAL, 0, 0, 0, NULL, .mso = &snap_ops};

/* ---------- the file (a plain thread) ---------- */

static bool write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        c += k;
        n -= (size_t)k;
    }
    return true;
}

static void file_done_msg(struct worker *w, struct msg *m);

static void *file_thread(void *arg)
{
    struct save_job *job = arg;
    char tmp[PATH_MAX_LEN + 64], final[2 * PATH_MAX_LEN + 2], seg[PATH_MAX_LEN + 64];
    snprintf(tmp, sizeof(tmp), "%s/temp-%d.rdb", job->dir, (int)getpid());
    snprintf(final, sizeof(final), "%s/%s", job->dir, job->dbfilename);
    job->ok = false;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(job->err, sizeof(job->err),
                 "Failed opening the temp RDB file temp-%d.rdb (in server root dir %.100s) for saving: %s",
                 (int)getpid(), job->dir, strerror(errno));
        goto out;
    }
    struct buf b;
    buf_init(&b);
    rdb_write_header(&b);
    fn_write_rdb(job->functions, &b);
    uint64_t crc = crc64_redis(0, b.data, b.len);
    bool ok = write_all(fd, b.data, b.len);
    char *chunk = mi_malloc(SEG_FLUSH_BYTES);
    for (int i = 0; i < g_nworkers && ok; i++) {
        seg_path(seg, sizeof(seg), job->dir, i);
        int sfd = open(seg, O_RDONLY | O_CLOEXEC);
        if (sfd < 0) {
            ok = false;
            break;
        }
        for (;;) {
            ssize_t n = read(sfd, chunk, SEG_FLUSH_BYTES);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                ok = false;
            if (n <= 0)
                break;
            crc = crc64_redis(crc, chunk, (size_t)n);
            if (!write_all(fd, chunk, (size_t)n)) {
                ok = false;
                break;
            }
        }
        close(sfd);
    }
    mi_free(chunk);
    buf_clear(&b);
    rdb_write_footer(&b, crc);
    ok = ok && write_all(fd, b.data, b.len);
    buf_free(&b);
    ok = ok && fsync(fd) == 0;
    int saved = errno;
    close(fd);
    if (ok && rename(tmp, final) != 0) {
        saved = errno;
        ok = false;
    }
    if (!ok) {
        snprintf(job->err, sizeof(job->err), "Write error saving DB on disk: %s", strerror(saved));
        unlink(tmp);
        goto out;
    }
    int dfd = open(job->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    job->ok = true;
out:
    fn_set_unref(job->functions);
    job->functions = NULL;
    for (int i = 0; i < g_nworkers; i++) {
        seg_path(seg, sizeof(seg), job->dir, i);
        unlink(seg);
    }
    struct msg *m = mi_zalloc(sizeof(*m));
    m->fn = file_done_msg;
    persist_post(job->coordinator, m);
    return NULL;
}

/* ---------- starting and finishing a save (coordinator) ---------- */

static void start_reload_load(struct worker *w, struct save_job *job);

static bool save_start(struct worker *w, int kind, struct conn *conn, struct pending *pend)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&g_saving, &expected, 1))
        return false;
    struct save_job *job = mi_zalloc(sizeof(*job));
    job->kind = kind;
    job->coordinator = w->id;
    job->conn = conn;
    job->pend = pend;
    job->start_ms = mstime();
    job->key_save_delay = config_int(&w->cfg, "rdb-key-save-delay");
    snprintf(job->dir, sizeof(job->dir), "%s", w->cfg.dir[0] ? w->cfg.dir : ".");
    snprintf(job->dbfilename, sizeof(job->dbfilename), "%s", w->cfg.dbfilename);
    g_job = job;
    atomic_store(&g_save_start_ms, job->start_ms);
    atomic_store(&g_last_try, job->start_ms / 1000);
    if (kind == SAVE_BG)
        serverlog(LL_NOTICE, "Background saving started by pid %d", (int)getpid());
    exec_global_internal(w, &snap_cmd);
    return true;
}

static void conn_reply_later(struct conn *c, struct pending *p, const char *status, const char *err)
{
    struct reply r = {&p->out, c->resp};
    if (err)
        reply_error(&r, err);
    else
        reply_status(&r, status);
    conn_pending_done(c, p);
    conn_release(c);
    if (!c->closing)
        conn_resume(c);
}

static void save_finish(struct worker *w, struct save_job *job)
{
    int64_t now = mstime();
    if (job->ok) {
        atomic_store(&g_lastsave, now / 1000);
        atomic_fetch_add(&g_rdb_saves, 1);
        atomic_store(&g_last_ok, 1);
        for (int i = 0; i < g_nworkers; i++)
            atomic_store_explicit(&g_dirty_base[i].v, atomic_load_explicit(&g_snap_dirty[i].v, memory_order_relaxed),
                                  memory_order_relaxed);
        if (job->kind == SAVE_BG)
            serverlog(LL_NOTICE, "Background saving terminated with success");
        else
            serverlog(LL_NOTICE, "DB saved on disk");
    } else {
        atomic_store(&g_last_ok, 0);
        serverlog(LL_WARNING, "%s", job->err[0] ? job->err : "Error saving DB on disk");
        if (job->kind == SAVE_BG)
            serverlog(LL_WARNING, "Background saving error");
    }
    if (job->kind == SAVE_BG)
        atomic_store(&g_last_bgsave_time, (now - job->start_ms) / 1000);
    g_job = NULL;
    atomic_store(&g_saving, 0);
    switch (job->kind) {
    case SAVE_SYNC:
        conn_reply_later(job->conn, job->pend, "OK", job->ok ? NULL : "ERR");
        break;
    case SAVE_RELOAD:
        if (!job->ok) {
            conn_reply_later(job->conn, job->pend, NULL, "ERR Error trying to save the DB");
            break;
        }
        start_reload_load(w, job);
        return; /* the loader owns the job now */
    case SAVE_SHUTDOWN:
        pthread_mutex_lock(&g_sd_mu);
        g_sd_ok = job->ok;
        g_sd_state = 2;
        pthread_cond_broadcast(&g_sd_cond);
        pthread_mutex_unlock(&g_sd_mu);
        break;
    default:
        break;
    }
    mi_free(job);
}

static void seg_done_msg(struct worker *w, struct msg *m)
{
    struct seg_done *d = (struct seg_done *)m;
    struct save_job *job = g_job;
    if (d->err && !job->seg_failed) {
        job->seg_failed = true;
        job->seg_errno = d->err;
    }
    mi_free(d);
    if (++job->segments_in < g_nworkers)
        return;
    if (job->seg_failed) {
        snprintf(job->err, sizeof(job->err), "Write error saving DB on disk: %s", strerror(job->seg_errno));
        char seg[PATH_MAX_LEN + 64];
        for (int i = 0; i < g_nworkers; i++) {
            seg_path(seg, sizeof(seg), job->dir, i);
            unlink(seg);
        }
        job->ok = false;
        save_finish(w, job);
        return;
    }
    pthread_t th;
    if (pthread_create(&th, NULL, file_thread, job) != 0) {
        snprintf(job->err, sizeof(job->err), "Can't save in background: %s", strerror(errno));
        job->ok = false;
        save_finish(w, job);
        return;
    }
    pthread_detach(th);
}

static void file_done_msg(struct worker *w, struct msg *m)
{
    mi_free(m);
    save_finish(w, g_job);
}

/* ---------- worker hooks ---------- */

static void ks_before_write_cb(void *arg, unsigned slot) { persist_before_write(arg, slot); }

void persist_worker_init(struct worker *w)
{
    g_snap[w->id] = mi_zalloc(sizeof(struct snap));
    g_snap[w->id]->fd = -1;
    w->ks.before_write = ks_before_write_cb;
    w->ks.before_write_arg = w;
}

void persist_before_write(struct worker *w, unsigned slot)
{
    struct snap *s = g_snap[w->id];
    if (s && s->active && !slot_done(s, slot))
        snap_slot(w, s, slot, false);
}

void persist_before_global_write(struct worker *w)
{
    struct snap *s = g_snap[w->id];
    if (s && s->active)
        snap_finish_all(w, s);
}

bool persist_cmd_writes(const struct command *cmd)
{
    return (cmd->flags & CMD_WRITE) || !strcmp(cmd->name, "debug|populate");
}

void persist_before_command(struct worker *w, const struct command *cmd, const struct arg *argv,
                            const int *keyidx, int nkeys, bool global)
{
    struct snap *s = g_snap[w->id];
    if (!s || !s->active || !persist_cmd_writes(cmd))
        return;
    if (global || nkeys == 0) {
        /* keyless writers touch anything: finish the segment first */
        snap_finish_all(w, s);
        return;
    }
    for (int i = 0; i < nkeys; i++)
        persist_before_write(w, arg_slot(&argv[keyidx[i]]));
}

void persist_after_command(struct worker *w, const struct command *cmd, const struct buf *b, size_t start)
{
    if (!(cmd->flags & CMD_WRITE))
        return;
    if (b->len > start && b->data[start] == '-')
        return;
    struct padded_counter *c = &g_dirty[w->id];
    atomic_store_explicit(&c->v, atomic_load_explicit(&c->v, memory_order_relaxed) + 1, memory_order_relaxed);
}

bool persist_poll(struct worker *w)
{
    fq_drain(w);
    struct snap *s = g_snap[w->id];
    if (!s || !s->active)
        return false;
    unsigned budget = s->key_delay > 0 ? 1 : POLL_BUDGET;
    size_t flushed_at = s->buf.len;
    while (s->next < w->nowned && budget) {
        unsigned slot = w->owned_slots[s->next++];
        unsigned cost = 1;
        if (!slot_done(s, slot))
            cost += snap_slot(w, s, slot, true);
        budget = budget > cost ? budget - cost : 0;
        if (s->buf.len < flushed_at || s->buf.len - flushed_at >= SEG_FLUSH_BYTES)
            break;
    }
    if (s->next >= w->nowned)
        snap_complete(w, s);
    return s->active;
}

bool persist_has_work(struct worker *w)
{
    struct snap *s = g_snap[w->id];
    return atomic_load_explicit(&g_fq[w->id].pending, memory_order_acquire) || (s && s->active);
}

static void shutdown_save_now(struct worker *w)
{
    if (atomic_load(&g_loading) || !save_start(w, SAVE_SHUTDOWN, NULL, NULL)) {
        if (atomic_load(&g_loading)) {
            pthread_mutex_lock(&g_sd_mu);
            g_sd_ok = true;
            g_sd_state = 2;
            pthread_cond_broadcast(&g_sd_cond);
            pthread_mutex_unlock(&g_sd_mu);
            return;
        }
        g_sd_pending = true; /* a save runs: start ours when it ends */
        return;
    }
    g_sd_pending = false;
}

static bool save_params_met(struct worker *w)
{
    const char *p = w->cfg.save;
    int64_t now = mstime() / 1000;
    uint64_t changes = changes_since_save();
    if (!changes)
        return false;
    /* after a failed save, retry only every 5 seconds (as Redis) */
    if (!atomic_load(&g_last_ok) && now - atomic_load(&g_last_try) <= 5)
        return false;
    while (*p) {
        char *end;
        long long secs = strtoll(p, &end, 10);
        if (end == p)
            break;
        p = end;
        long long ch = strtoll(p, &end, 10);
        if (end == p)
            break;
        p = end;
        if ((long long)changes >= ch && now - atomic_load(&g_lastsave) > secs) {
            serverlog(LL_NOTICE, "%lld changes in %lld seconds. Saving...", (long long)changes, secs);
            return true;
        }
    }
    return false;
}

void persist_tick(struct worker *w)
{
    static _Thread_local int64_t last_check;
    if (w->id != 0)
        return;
    if (g_sd_pending && !atomic_load(&g_saving)) {
        shutdown_save_now(w);
        return;
    }
    if (atomic_load(&g_saving) || atomic_load(&g_loading))
        return;
    if (atomic_exchange(&g_bgsave_scheduled, 0)) {
        save_start(w, SAVE_BG, NULL, NULL);
        return;
    }
    if (w->now_ms - last_check < 1000)
        return;
    last_check = w->now_ms;
    if (w->cfg.save[0] && save_params_met(w))
        save_start(w, SAVE_BG, NULL, NULL);
}

/* ---------- shutdown (main thread) ---------- */

static void shutdown_msg(struct worker *w, struct msg *m)
{
    mi_free(m);
    int mode = atomic_load(&g_shutdown_save_mode);
    bool want = mode == PERSIST_SHUTDOWN_SAVE || (mode == PERSIST_SHUTDOWN_DEFAULT && w->cfg.save[0]);
    if (!want) {
        pthread_mutex_lock(&g_sd_mu);
        g_sd_ok = true;
        g_sd_state = 2;
        pthread_cond_broadcast(&g_sd_cond);
        pthread_mutex_unlock(&g_sd_mu);
        return;
    }
    serverlog(LL_NOTICE, "Saving the final RDB snapshot before exiting.");
    shutdown_save_now(w);
}

bool persist_shutdown(void)
{
    pthread_mutex_lock(&g_sd_mu);
    g_sd_state = 1;
    pthread_mutex_unlock(&g_sd_mu);
    struct msg *m = mi_zalloc(sizeof(*m));
    m->fn = shutdown_msg;
    persist_post(0, m);
    pthread_mutex_lock(&g_sd_mu);
    while (g_sd_state != 2)
        pthread_cond_wait(&g_sd_cond, &g_sd_mu);
    bool ok = g_sd_ok;
    g_sd_state = 0;
    pthread_mutex_unlock(&g_sd_mu);
    if (!ok)
        serverlog(LL_WARNING, "Error trying to save the DB, can't exit.");
    return ok;
}

/* ---------- loading ---------- */

struct load_batch {
    struct msg m;
    struct buf data; /* records: db u32, klen u32, ilen u32, key, image */
};

struct loader {
    struct load_batch *batch[MAX_THREADS];
    struct fn_set *functions; /* FUNCTION2 libraries read so far */
    int ndb;
    bool reload;
    bool failed;
    char err[512];
};

static void load_batch_msg(struct worker *w, struct msg *m)
{
    struct load_batch *b = (struct load_batch *)m;
    const char *p = b->data.data, *end = p + b->data.len;
    while (p + 12 <= end) {
        uint32_t db, klen, ilen;
        memcpy(&db, p, 4);
        memcpy(&klen, p + 4, 4);
        memcpy(&ilen, p + 8, 4);
        p += 12;
        const char *key = p, *img = p + klen;
        p += klen + ilen;
        struct entry *e = entry_load(key, klen, img, ilen);
        if (!e)
            continue;
        unsigned slot = key_hash_slot(key, klen);
        struct ks_ref ref;
        if (ks_find(&w->ks, (int)db, slot, key, klen, 0, &ref))
            ks_replace(&w->ks, (int)db, &ref, e);
        else
            ks_add(&w->ks, (int)db, slot, e);
    }
    atomic_fetch_sub(&g_load_outstanding, b->data.len);
    buf_free(&b->data);
    mi_free(b);
}

struct load_done {
    struct msg m;
    struct fn_set *functions; /* a reference for this worker to install (NULL: keep) */
    struct save_job *job;
    bool failed;
    char err[512];
};

static void reload_reply_msg(struct worker *w, struct msg *m)
{
    (void)w;
    struct load_done *d = (struct load_done *)m;
    conn_reply_later(d->job->conn, d->job->pend, "OK", d->failed ? "ERR Error trying to load the RDB dump" : NULL);
    mi_free(d->job);
    mi_free(d);
}

static void load_done_msg(struct worker *w, struct msg *m)
{
    struct load_done *d = (struct load_done *)m;
    if (d->functions)
        fn_install(d->functions);
    d->functions = NULL;
    w->loading = false;
    if (atomic_fetch_sub(&g_load_workers_left, 1) != 1) {
        mi_free(d);
        return;
    }
    atomic_store(&g_loading, 0);
    double secs = (double)(mstime() - atomic_load(&g_loading_start)) / 1000.0;
    if (!d->failed)
        serverlog(LL_NOTICE, "DB loaded from disk: %.3f seconds", secs);
    if (!d->failed && !g_reload_job)
        notify_ready();
    if (g_reload_job) {
        /* DEBUG RELOAD: the last worker to finish tells the waiting client */
        d->job = g_reload_job;
        g_reload_job = NULL;
        d->m.fn = reload_reply_msg;
        worker_send(w, d->job->coordinator, &d->m);
        return;
    }
    mi_free(d);
}

static void reload_flush_msg(struct worker *w, struct msg *m)
{
    mi_free(m);
    w->loading = true;
    for (int db = 0; db < w->ks.ndb; db++)
        ks_flush_db(&w->ks, db);
}

static void put_buf(void *ctx, const void *p, size_t n) { buf_put(ctx, p, n); }

static void post_batch(struct loader *l, int owner)
{
    struct load_batch *b = l->batch[owner];
    if (!b)
        return;
    l->batch[owner] = NULL;
    atomic_fetch_add(&g_load_outstanding, b->data.len);
    b->m.fn = load_batch_msg;
    persist_post(owner, &b->m);
    while (atomic_load(&g_load_outstanding) > LOAD_MAX_OUTSTANDING)
        usleep(200);
}

static bool on_key(void *arg, int db, struct entry *e)
{
    struct loader *l = arg;
    if (db < 0 || db >= l->ndb) {
        snprintf(l->err, sizeof(l->err),
                 "FATAL: Data file was created with a Redis server configured to handle more than %d databases",
                 l->ndb);
        l->failed = true;
        entry_free(e);
        return false;
    }
    const char *key = entry_key(e);
    int owner = g_slot_owner[key_hash_slot(key, e->keylen)];
    struct load_batch *b = l->batch[owner];
    if (!b) {
        b = l->batch[owner] = mi_zalloc(sizeof(*b));
        buf_init(&b->data);
    }
    size_t at = b->data.len;
    uint32_t head[3] = {(uint32_t)db, e->keylen, 0};
    buf_put(&b->data, head, sizeof(head));
    buf_put(&b->data, key, e->keylen);
    size_t img_at = b->data.len;
    if (!entry_dump(e, put_buf, &b->data)) {
        b->data.len = at;
    } else {
        uint32_t ilen = (uint32_t)(b->data.len - img_at);
        memcpy(b->data.data + at + 8, &ilen, 4);
        atomic_fetch_add(&g_load_keys, 1);
    }
    atomic_fetch_add_explicit(&g_loading_loaded, b->data.len - at, memory_order_relaxed);
    entry_free(e);
    if (b->data.len >= LOAD_BATCH_BYTES)
        post_batch(l, owner);
    if (g_key_load_delay > 0)
        usleep((useconds_t)g_key_load_delay);
    return true;
}

/* A FUNCTION2 library: compiled (to check it) into the loader's set, which
 * every worker installs when loading ends. */
static bool on_function(void *arg, const char *code, size_t len, char *err, size_t errlen)
{
    struct loader *l = arg;
    if (!l->functions)
        l->functions = fn_set_copy(NULL);
    return fn_add_from_rdb(l->functions, code, len, false, err, errlen);
}

static void *loader_thread(void *arg)
{
    struct loader *l = arg;
    smem_thread_init();
    pthread_setname_np(pthread_self(), "darter-load");
    int fd = open(g_load_path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    const char *data = NULL;
    size_t len = 0;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(l->err, sizeof(l->err), "Can't open %.300s: %s", g_load_path, strerror(errno));
        l->failed = true;
    } else {
        len = (size_t)st.st_size;
        atomic_store(&g_loading_total, len);
        if (len) {
            void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) {
                snprintf(l->err, sizeof(l->err), "Can't mmap %.300s: %s", g_load_path, strerror(errno));
                l->failed = true;
            } else {
                data = p;
            }
        }
    }
    if (fd >= 0)
        close(fd);
    if (!l->failed) {
        struct rdb_loader_cb cb = {.arg = l, .on_key = on_key, .on_aux = NULL,
                                   .on_function = on_function};
        char err[400] = "";
        if (!rdb_load_buffer(data ? data : "", len, mstime(), &cb, err, sizeof(err))) {
            if (!l->failed)
                snprintf(l->err, sizeof(l->err), "%s", err);
            l->failed = true;
        }
    }
    if (data)
        munmap((void *)data, len);
    if (l->failed && !l->reload) {
        serverlog(LL_WARNING, "Fatal error loading the DB (%s): %s. Exiting.", g_load_path, l->err);
        exit(1);
    }
    if (l->failed)
        serverlog(LL_WARNING, "Error loading the DB (%s): %s", g_load_path, l->err);
    atomic_store(&g_loading_loaded, atomic_load(&g_loading_total));
    for (int i = 0; i < g_nworkers; i++)
        post_batch(l, i);
    if (!l->functions)
        l->functions = fn_set_copy(NULL);
    for (int i = 0; i < g_nworkers; i++) {
        struct load_done *d = mi_zalloc(sizeof(*d));
        d->m.fn = load_done_msg;
        d->failed = l->failed;
        /* the file's libraries replace the old ones (DEBUG RELOAD) */
        if (!l->failed)
            d->functions = fn_set_ref(l->functions);
        persist_post(i, &d->m);
    }
    fn_set_unref(l->functions);
    mi_free(l);
    return NULL;
}

static void start_loader(struct loader *l)
{
    atomic_store(&g_load_workers_left, g_nworkers);
    atomic_store(&g_loading_start, mstime());
    atomic_store(&g_loading_loaded, 0);
    /* known before the loader thread opens the file: INFO may ask at once */
    struct stat st;
    atomic_store(&g_loading_total, stat(g_load_path, &st) == 0 ? (uint64_t)st.st_size : 0);
    atomic_store(&g_load_keys, 0);
    pthread_t th;
    if (pthread_create(&th, NULL, loader_thread, l) != 0) {
        serverlog(LL_WARNING, "Can't start the loader thread: %s", strerror(errno));
        exit(1);
    }
    pthread_detach(th);
}

void persist_init(void)
{
    for (int i = 0; i < MAX_THREADS; i++)
        pthread_mutex_init(&g_fq[i].mu, NULL);
    atomic_store(&g_lastsave, g_start_time_ms / 1000);
    const struct config *cfg = &g_workers[0]->cfg;
    g_key_load_delay = config_int(cfg, "key-load-delay");
    snprintf(g_load_path, sizeof(g_load_path), "%s/%s", cfg->dir[0] ? cfg->dir : ".", cfg->dbfilename);
    struct stat st;
    if (stat(g_load_path, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    atomic_store(&g_loading_total, (uint64_t)st.st_size);
    atomic_store(&g_loading_start, mstime());
    atomic_store(&g_loading, 1);
    for (int i = 0; i < g_nworkers; i++)
        g_workers[i]->loading = true;
}

void persist_start_loading(void)
{
    if (!atomic_load(&g_loading))
        return;
    struct loader *l = mi_zalloc(sizeof(*l));
    l->ndb = g_workers[0]->cfg.databases;
    start_loader(l);
}

/* DEBUG RELOAD, after its save: flush every shard and load the file again. */
static void start_reload_load(struct worker *w, struct save_job *job)
{
    snprintf(g_load_path, sizeof(g_load_path), "%s/%s", job->dir, job->dbfilename);
    atomic_store(&g_loading, 1);
    g_key_load_delay = config_int(&w->cfg, "key-load-delay");
    for (int i = 0; i < g_nworkers; i++) {
        struct msg *m = mi_zalloc(sizeof(*m));
        m->fn = reload_flush_msg;
        persist_post(i, m);
    }
    struct loader *l = mi_zalloc(sizeof(*l));
    l->ndb = w->cfg.databases;
    l->reload = true;
    g_reload_job = job;
    start_loader(l);
}

/* ---------- commands ---------- */

void persist_cmd_bgsave(struct cmd_ctx *c)
{
    bool schedule = false;
    if (c->argc > 1) {
        if (c->argc == 2 && arg_eq(&c->argv[1], "schedule")) {
            schedule = true;
        } else {
            reply_error(&c->r, ERR_SYNTAX);
            return;
        }
    }
    if (atomic_load(&g_saving) || !save_start(c->w, SAVE_BG, NULL, NULL)) {
        if (schedule) {
            atomic_store(&g_bgsave_scheduled, 1);
            reply_status(&c->r, "Background saving scheduled");
        } else {
            reply_error(&c->r, "ERR Background save already in progress");
        }
        return;
    }
    reply_status(&c->r, "Background saving started");
}

static void wait_for_save(struct cmd_ctx *c, int kind)
{
    struct conn *conn = c->conn;
    struct pending *p = conn_defer_reply(conn);
    conn->inflight++;
    conn->paused = true;
    if (!save_start(c->w, kind, conn, p)) {
        struct reply r = {&p->out, conn->resp};
        reply_error(&r, "ERR Background save already in progress");
        conn_pending_done(conn, p);
        conn->inflight--;
        conn->paused = false;
    }
}

void persist_cmd_save(struct cmd_ctx *c) { wait_for_save(c, SAVE_SYNC); }

void persist_cmd_debug_reload(struct cmd_ctx *c) { wait_for_save(c, SAVE_RELOAD); }

void persist_cmd_lastsave(struct cmd_ctx *c) { reply_int(&c->r, atomic_load(&g_lastsave)); }

/* ---------- INFO ---------- */

static void addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(struct buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        buf_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void persist_info(struct buf *b)
{
    int loading = atomic_load(&g_loading);
    addf(b, "loading:%d\r\nasync_loading:0\r\n", loading);
    if (loading) {
        uint64_t total = atomic_load(&g_loading_total), done = atomic_load(&g_loading_loaded);
        if (done > total)
            done = total;
        int64_t start = atomic_load(&g_loading_start);
        double elapsed = (double)(mstime() - start) / 1000.0;
        double perc = total ? (double)done * 100 / (double)total : 0;
        long long eta = done && total ? (long long)(elapsed * (double)(total - done) / (double)done) : 1;
        addf(b,
             "loading_start_time:%lld\r\nloading_total_bytes:%llu\r\nloading_rdb_used_mem:0\r\n"
             "loading_loaded_bytes:%llu\r\nloading_loaded_perc:%.2f\r\nloading_eta_seconds:%lld\r\n",
             (long long)(start / 1000), (unsigned long long)total, (unsigned long long)done, perc, eta);
    }
    int saving = atomic_load(&g_saving);
    int64_t now = mstime();
    addf(b,
         "current_cow_peak:0\r\n"
         "current_cow_size:0\r\n"
         "current_cow_size_age:0\r\n"
         "current_fork_perc:0.00\r\n"
         "current_save_keys_processed:0\r\n"
         "current_save_keys_total:0\r\n"
         "rdb_changes_since_last_save:%llu\r\n"
         "rdb_bgsave_in_progress:%d\r\n"
         "rdb_last_save_time:%lld\r\n"
         "rdb_last_bgsave_status:%s\r\n"
         "rdb_last_bgsave_time_sec:%lld\r\n"
         "rdb_current_bgsave_time_sec:%lld\r\n"
         "rdb_saves:%llu\r\n"
         "rdb_last_cow_size:0\r\n"
         "rdb_last_load_keys_expired:0\r\n"
         "rdb_last_load_keys_loaded:%llu\r\n",
         (unsigned long long)changes_since_save(), saving, (long long)atomic_load(&g_lastsave),
         atomic_load(&g_last_ok) ? "ok" : "err", (long long)atomic_load(&g_last_bgsave_time),
         saving ? (long long)((now - atomic_load(&g_save_start_ms)) / 1000) : -1LL,
         (unsigned long long)atomic_load(&g_rdb_saves), (unsigned long long)atomic_load(&g_load_keys));
}

bool persist_loading(void) { return atomic_load(&g_loading) != 0; }
