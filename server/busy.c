/* server/busy.c — scripts and functions running past busy-reply-threshold
 * (alias lua-time-limit), as Redis 7.0 handles them: other clients' commands
 * get -BUSY except the CMD_ALLOW_BUSY ones (SCRIPT KILL, FUNCTION KILL and
 * STATS, SHUTDOWN NOSAVE, AUTH, HELLO, MULTI/DISCARD/WATCH, ...).
 *
 * A script runs as a global operation that holds every shard, on its
 * connection's thread (the coordinator). The other threads keep running
 * their loops; the coordinator runs Lua. So:
 *  - The coordinator's Lua count hook (cmd_script.c) calls busy_script_tick:
 *    once the threshold is passed it sends every other thread a "busy since T"
 *    message (with a copy of the invoking command for FUNCTION STATS) and from
 *    then on serves its own sockets and mailboxes from the hook
 *    (worker_serve_while_busy), like Redis's processEventsWhileBlocked.
 *  - Each thread keeps the view it was sent in w->busy (NULL: not busy);
 *    dispatch refuses commands with -BUSY while it is set, and the queued
 *    single-shard commands waiting behind the script are answered -BUSY
 *    too (transaction.c: exec_reject_queued), as Redis would have read them
 *    only once busy.
 *  - When the script ends, a "not busy" message follows on the same rings.
 *
 * Killing: the coordinator cannot receive a kill message between two Lua
 * instructions in any structured way, and SCRIPT KILL must answer at once
 * whether the script already wrote (UNKILLABLE). So each worker publishes its
 * running script's state in one atomic word, worker.script_ctl (RUNNING,
 * EVAL, WROTE, KILLED): a named exception to "threads talk only by messages",
 * like g_total_clients. SCRIPT KILL on any thread compare-and-swaps KILLED
 * into it unless WROTE is set; the coordinator fetch-ors WROTE before each
 * write command and refuses the write when KILLED came first; the hook reads
 * KILLED and raises the kill error.
 *
 * Owns: the busy views and messages, script_ctl. Must not run Lua. */
#include "server/busy.h"
#include "server/multi.h"
#include "server/persist.h"

#include <mimalloc.h>
#include <stdio.h>
#include <string.h>

/* What a thread knows of the busy script. One allocation. */
struct busy_view {
    int coord;
    bool is_eval;
    int64_t since_ms;
    const char *name;
    int argc;
    struct arg *argv;
};

struct busy_msg {
    struct msg m;
    int coord;
    struct busy_view *view; /* NULL: not busy any more */
};

/* The coordinator's own script (this thread runs it; never shared). */
static _Thread_local struct {
    int64_t start_ms;
    bool announced;
    bool is_eval;
    const char *name;
    int argc;
    const struct arg *argv;
} tl_script;

static struct busy_view *view_new(int coord)
{
    size_t nlen = strlen(tl_script.name);
    size_t bytes = sizeof(struct busy_view) + sizeof(struct arg) * (size_t)tl_script.argc + nlen + 1;
    for (int i = 0; i < tl_script.argc; i++)
        bytes += tl_script.argv[i].len + 1;
    struct busy_view *v = mi_malloc(bytes);
    v->coord = coord;
    v->is_eval = tl_script.is_eval;
    v->since_ms = tl_script.start_ms;
    v->argc = tl_script.argc;
    v->argv = (struct arg *)(v + 1);
    char *p = (char *)(v->argv + v->argc);
    for (int i = 0; i < v->argc; i++) {
        memcpy(p, tl_script.argv[i].p, tl_script.argv[i].len);
        p[tl_script.argv[i].len] = 0;
        v->argv[i] = (struct arg){p, tl_script.argv[i].len};
        p += tl_script.argv[i].len + 1;
    }
    memcpy(p, tl_script.name, nlen + 1);
    v->name = p;
    return v;
}

static void view_set(struct worker *w, struct busy_view *v)
{
    mi_free(w->busy);
    w->busy = v;
    if (v)
        exec_reject_queued(w, v->is_eval ? BUSY_EVAL_ERR : BUSY_FCALL_ERR);
}

static void busy_msg_arrive(struct worker *w, struct msg *m)
{
    struct busy_msg *bm = (struct busy_msg *)m;
    struct busy_view *cur = w->busy;
    if (bm->view)
        view_set(w, bm->view);
    else if (cur && cur->coord == bm->coord)
        view_set(w, NULL);
    mi_free(bm);
}

static void broadcast(struct worker *w, bool busy)
{
    for (int i = 0; i < g_nworkers; i++) {
        if (i == w->id)
            continue;
        struct busy_msg *bm = mi_malloc(sizeof(*bm));
        bm->m.fn = busy_msg_arrive;
        bm->coord = w->id;
        bm->view = busy ? view_new(w->id) : NULL;
        worker_send_now(w, i, &bm->m);
    }
    view_set(w, busy ? view_new(w->id) : NULL);
}

void busy_script_begin(struct worker *w, bool is_eval, const char *name, int argc, const struct arg *argv)
{
    tl_script.start_ms = mstime();
    tl_script.announced = false;
    tl_script.is_eval = is_eval;
    tl_script.name = name;
    tl_script.argc = argc;
    tl_script.argv = argv;
    atomic_store(&w->script_ctl, SCRIPT_CTL_RUNNING | (is_eval ? SCRIPT_CTL_EVAL : 0u));
}

static bool must_stop(struct worker *w)
{
    /* SHUTDOWN NOSAVE: stop here so the thread can take part in the shutdown */
    return (atomic_load(&w->script_ctl) & SCRIPT_CTL_KILLED) || atomic_load(&g_workers_stop) ||
           (atomic_load(&g_shutdown_requested) && atomic_load(&g_shutdown_save_mode) == PERSIST_SHUTDOWN_NOSAVE);
}

bool busy_script_tick(struct worker *w)
{
    if (!tl_script.announced) {
        if (mstime() - tl_script.start_ms < w->cfg.lua_time_limit)
            return must_stop(w);
        tl_script.announced = true;
        broadcast(w, true);
    }
    worker_serve_while_busy(w);
    return must_stop(w);
}

bool busy_script_write(struct worker *w)
{
    uint32_t old = atomic_fetch_or(&w->script_ctl, SCRIPT_CTL_WROTE);
    return !(old & SCRIPT_CTL_KILLED);
}

void busy_script_end(struct worker *w)
{
    atomic_store(&w->script_ctl, 0u);
    if (tl_script.announced)
        broadcast(w, false);
    tl_script.announced = false;
    tl_script.name = NULL;
    tl_script.argv = NULL;
}

const char *busy_error(const struct worker *w)
{
    const struct busy_view *v = w->busy;
    if (!v)
        return NULL;
    return v->is_eval ? BUSY_EVAL_ERR : BUSY_FCALL_ERR;
}

bool busy_refuse(struct conn *c, int argc, struct arg *argv)
{
    const char *busy = busy_error(c->w);
    const char *err = NULL;
    const struct command *cmd = command_lookup(argv, argc, &err);
    if (!cmd || (cmd->flags & CMD_ALLOW_BUSY))
        return false; /* unknown commands and arity errors are answered as usual */
    if (!c->authenticated && !(cmd->flags & CMD_NOAUTH))
        return false; /* NOAUTH comes first */
    c->w->stats.total_commands++;
    stats_count_rejected(c->w, cmd);
    c->last_cmd = cmd->name;
    if (multi_refuse(c, cmd, busy))
        return true;
    struct pending *pend;
    struct reply r = {conn_begin_reply(c, &pend), c->resp};
    stats_count_error(c->w, busy, strlen(busy));
    reply_error(&r, busy);
    conn_end_reply(c, pend);
    return true;
}

void busy_kill(struct cmd_ctx *c, bool is_eval)
{
    const struct busy_view *v = c->w->busy;
    if (!v) {
        reply_error(&c->r, "NOTBUSY No scripts in execution right now.");
        return;
    }
    _Atomic uint32_t *ctl = &g_workers[v->coord]->script_ctl;
    uint32_t old = atomic_load(ctl);
    for (;;) {
        if (!(old & SCRIPT_CTL_RUNNING)) {
            reply_error(&c->r, "NOTBUSY No scripts in execution right now.");
            return;
        }
        if (old & SCRIPT_CTL_WROTE) {
            reply_error(&c->r, "UNKILLABLE Sorry the script already executed write commands against the dataset. "
                               "You can either wait the script termination or kill the server in a hard way "
                               "using the SHUTDOWN NOSAVE command.");
            return;
        }
        bool running_eval = (old & SCRIPT_CTL_EVAL) != 0;
        if (is_eval != running_eval) {
            /* SCRIPT KILL on a function / FUNCTION KILL on an eval */
            reply_error(&c->r, running_eval ? BUSY_EVAL_ERR : BUSY_FCALL_ERR);
            return;
        }
        if (atomic_compare_exchange_weak(ctl, &old, old | SCRIPT_CTL_KILLED))
            break;
    }
    reply_ok(&c->r);
}

void busy_reply_running_script(struct cmd_ctx *c)
{
    const struct busy_view *v = c->w->busy;
    if (!v) {
        reply_null(&c->r);
        return;
    }
    reply_map(&c->r, 3);
    reply_bulkz(&c->r, "name");
    reply_bulkz(&c->r, v->name);
    reply_bulkz(&c->r, "command");
    reply_array(&c->r, v->argc);
    for (int i = 0; i < v->argc; i++)
        reply_bulk(&c->r, v->argv[i].p, v->argv[i].len);
    reply_bulkz(&c->r, "duration_ms");
    reply_int(&c->r, mstime() - v->since_ms);
}
