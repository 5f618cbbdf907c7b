/* server/transaction.c — how commands run on shards.
 *
 * Single-shard: a command whose keys all live on one thread runs there at
 * once (inline when that is the connection's own thread, else by message),
 * unless a key carries an intent lock of a queued multi-shard operation; then
 * it queues behind it in the shard's txqueue.
 *
 * Multi-shard (mso): a command whose keys span threads, or that needs every
 * shard, takes a transaction id from the global counter and is scheduled on
 * every shard involved. A shard accepts it only at the tail of its queue
 * (its id must exceed every id it already took), taking intent locks on its
 * keys; if any shard refuses, the operation is withdrawn everywhere and
 * rescheduled with a new id. Once scheduled everywhere, the coordinator (the
 * connection's thread) runs hops: each shard runs a hop when the operation is
 * at the head of its queue. So every shard runs multi-shard operations in id
 * order and no reader sees half of one. The connection pauses until the
 * operation finishes, which keeps its own requests in order.
 *
 * Owns: execution messages, scheduling, hops. Must not parse requests or
 * know any command's semantics (those are the mso_ops of each family). */
#include "server/server.h"
#include "cluster/slot.h"
#include "server/persist.h"
#include "server/clock.h"
#include "server/tracking.h" /* tracking: remember keys read */
#include "server/blocking.h" /* blocking: parked clients */
#include "server/busy.h" /* busy: commands queued behind a busy script get -BUSY */

#include <mimalloc.h>
#include <stddef.h>
#include <string.h>

#define FPS_INLINE 4

/* ---------- copying a request so it can outlive the query buffer ---------- */

static size_t args_bytes(int argc, const struct arg *argv)
{
    size_t n = sizeof(struct arg) * (size_t)argc;
    for (int i = 0; i < argc; i++)
        n += argv[i].len + 1;
    return n;
}

/* Lay out argv (array, then bytes) in `mem`. */
static struct arg *args_copy(void *mem, int argc, const struct arg *argv)
{
    struct arg *out = mem;
    char *p = (char *)(out + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].p, argv[i].len);
        p[argv[i].len] = 0;
        out[i].p = p;
        out[i].len = argv[i].len;
        p += argv[i].len + 1;
    }
    return out;
}

static void key_fps(int db, const struct arg *argv, const int *keyidx, int nkeys, uint64_t *fps)
{
    for (int i = 0; i < nkeys; i++)
        fps[i] = txq_fingerprint(db, argv[keyidx[i]].p, argv[keyidx[i]].len);
}

/* ---------- running a whole mso on one shard ---------- */

static void run_mso_here(struct cmd_ctx *ctx, struct mso *t)
{
    const struct mso_ops *ops = ctx->cmd->mso;
    for (int hop = 0; hop >= 0; hop = ops->next(t, hop)) {
        ctx->keyidx = t->parts[0].keyidx;
        ctx->nkeys = t->parts[0].nkeys;
        struct reply saved = ctx->r;
        ctx->r.b = &t->parts[0].out;
        ops->hop(ctx, t, 0, hop);
        ctx->r = saved;
    }
    ops->reply(t, &ctx->r);
}

static void mso_free_state(struct mso *t)
{
    for (int i = 0; i < t->nparts; i++) {
        buf_free(&t->parts[i].out);
        mi_free(t->parts[i].data);
    }
    buf_free(&t->scratch);
    mi_free(t->state);
    if (t->block) { /* blocking */
        block_req_free(t->block);
        mi_free(t->block);
        t->block = NULL;
    }
}

/* Run a command on this shard now: the handler, or every hop of its mso. */
static void run_command(struct cmd_ctx *ctx, int *keyidx, int nkeys)
{
    size_t start = ctx->r.b->len;
    uint64_t t0 = clock_ticks();
    bool rerun = ctx->block && ctx->block->mode == BLOCK_SERVING; /* blocking: counted when it blocked */
    persist_before_command(ctx->w, ctx->cmd, ctx->argv, keyidx, nkeys, ctx->cmd->mso && ctx->cmd->mso->global);
    if (!ctx->cmd->mso) {
        ctx->keyidx = keyidx;
        ctx->nkeys = nkeys;
        ctx->cmd->handler(ctx);
        tracking_remember_keys(ctx, keyidx, nkeys); /* tracking: keys read by a tracking client */
        stats_after_run(ctx->w, ctx->cmd, ctx->r.b, start, ticks_to_nsec(clock_ticks() - t0), rerun);
        persist_after_command(ctx->w, ctx->cmd, ctx->r.b, start); /* persist: dirty counter */
        return;
    }
    struct mso_part part = {.shard = ctx->w->id, .nkeys = nkeys, .keyidx = keyidx};
    struct mso t = {
        .cmd = ctx->cmd,
        .ops = ctx->cmd->mso,
        .db = ctx->db,
        .resp = ctx->r.resp,
        .client_id = ctx->client_id,
        .argc = ctx->argc,
        .argv = ctx->argv,
        .nparts = 1,
        .parts = &part,
        .single = true,
        .track = ctx->track, /* tracking */
        .block = ctx->block, /* blocking: the caller's mode */
    };
    buf_init(&part.out);
    run_mso_here(ctx, &t);
    t.block = NULL; /* blocking: borrowed from the caller */
    tracking_remember_keys(ctx, keyidx, nkeys); /* tracking: keys read by a tracking client */
    mso_free_state(&t);
    stats_after_run(ctx->w, ctx->cmd, ctx->r.b, start, ticks_to_nsec(clock_ticks() - t0), rerun);
    persist_after_command(ctx->w, ctx->cmd, ctx->r.b, start); /* persist: dirty counter */
}

/* scripts: run a whole command on this thread now into `out`, without the
 * lock check (the caller's operation holds this shard). */
void exec_command_here(struct worker *w, const struct command *cmd, int db, int resp, uint64_t client_id,
                       int argc, struct arg *argv, int *keyidx, int nkeys, struct buf *out)
{
    struct cmd_ctx ctx = {
        .w = w, .ks = &w->ks, .cmd = cmd, .db = db, .argc = argc, .argv = argv,
        .now_ms = w->now_ms, .client_id = client_id, .in_script = true,
    };
    ctx.r.b = out;
    ctx.r.resp = resp;
    run_command(&ctx, keyidx, nkeys);
}

/* blocking.c: run a parked client's command again here with its request */
void exec_command_blocked(struct worker *w, const struct command *cmd, int db, int resp, uint64_t client_id,
                          int argc, struct arg *argv, int *keyidx, int nkeys, struct buf *out, struct block_req *req)
{
    struct cmd_ctx ctx = {
        .w = w, .ks = &w->ks, .cmd = cmd, .db = db, .argc = argc, .argv = argv,
        .now_ms = w->now_ms, .client_id = client_id, .block = req,
    };
    ctx.r.b = out;
    ctx.r.resp = resp;
    run_command(&ctx, keyidx, nkeys);
}

/* ---------- single-shard operations ---------- */

struct exec_op {
    struct msg m;
    struct txq_item qi;
    struct conn *conn;
    struct pending *pend;
    int origin;
    const struct command *cmd;
    int db;
    int resp;
    uint64_t client_id;
    uint16_t track; /* tracking: the client's read token */
    int argc;
    struct arg *argv;
    int nkeys;
    int *keyidx;
    uint64_t *fps;
    struct buf out;
    struct block_req block; /* blocking: CMD_BLOCKING commands */
    uint64_t wid;
    int shard;
};

static struct exec_op *exec_op_new(struct conn *c, const struct command *cmd, int argc, const struct arg *argv,
                                   const int *keyidx, int nkeys)
{
    size_t abytes = args_bytes(argc, argv);
    /* keep the argv array 8-byte aligned after the key indices */
    size_t kbytes = (sizeof(int) * (size_t)nkeys + 7) & ~(size_t)7;
    size_t fbytes = sizeof(uint64_t) * (size_t)nkeys;
    struct exec_op *op = mi_malloc(sizeof(*op) + fbytes + kbytes + abytes);
    memset(op, 0, sizeof(*op));
    op->fps = (uint64_t *)(op + 1);
    op->keyidx = (int *)((char *)op->fps + fbytes);
    op->argv = args_copy((char *)op->keyidx + kbytes, argc, argv);
    if (nkeys)
        memcpy(op->keyidx, keyidx, sizeof(int) * (size_t)nkeys);
    op->conn = c;
    op->origin = c->w->id;
    op->cmd = cmd;
    op->db = c->db;
    op->resp = c->resp;
    op->client_id = c->id;
    op->track = tracking_token(c); /* tracking: the client's read token */
    op->argc = argc;
    op->nkeys = nkeys;
    buf_init(&op->out);
    return op;
}

static void exec_op_returned(struct worker *w, struct msg *m)
{
    (void)w;
    struct exec_op *op = (struct exec_op *)m;
    struct conn *c = op->conn;
    bool blocking = op->cmd->flags & CMD_BLOCKING;
    if (blocking && op->block.would_block) { /* blocking: parked on op->shard */
        blocking_conn_parked(c, op->pend, op->wid, op->shard, &op->block);
    } else {
        struct buf tmp = op->pend->out;
        op->pend->out = op->out;
        op->out = tmp;
        conn_pending_done(c, op->pend);
    }
    bool resume = blocking && !op->block.would_block && !c->closing;
    block_req_free(&op->block);
    buf_free(&op->out);
    mi_free(op);
    if (resume)
        conn_resume(c);
    conn_release(c);
}

static void exec_op_run(struct worker *w, struct exec_op *op)
{
    struct cmd_ctx ctx = {
        .w = w,
        .ks = &w->ks,
        .cmd = op->cmd,
        .db = op->db,
        .argc = op->argc,
        .argv = op->argv,
        .now_ms = w->now_ms,
        .client_id = op->client_id,
        .track = op->track, /* tracking */
    };
    ctx.r.b = &op->out;
    ctx.r.resp = op->resp;
    if (op->cmd->flags & CMD_BLOCKING) { /* blocking: may park */
        op->block.mode = BLOCK_MAY;
        ctx.block = &op->block;
    }
    run_command(&ctx, op->keyidx, op->nkeys);
    op->shard = w->id;
    if (op->block.would_block)
        op->wid = blocking_park_here(w, op->conn, op->origin, op->cmd, op->db, op->resp, op->client_id, op->argc,
                                     op->argv, op->keyidx, op->nkeys, &op->block);
    op->m.fn = exec_op_returned;
    worker_send(w, op->origin, &op->m);
    blocking_serve_ready(w); /* blocking: serve keys this command made ready */
}

/* busy.c: a script past busy-reply-threshold holds this shard; a command
 * that would wait behind it is answered `err` (-BUSY) instead, as Redis
 * answers the commands it reads while a script is busy. */
static void exec_op_refuse(struct worker *w, struct exec_op *op, const char *err)
{
    struct reply r = {&op->out, op->resp};
    reply_error(&r, err);
    op->m.fn = exec_op_returned;
    worker_send(w, op->origin, &op->m);
}

void exec_reject_queued(struct worker *w, const char *err)
{
    struct txq_item *it = txq_head(&w->txq);
    while (it) {
        struct txq_item *next = it->next;
        if (it->txid == 0) {
            struct exec_op *op = (struct exec_op *)((char *)it - offsetof(struct exec_op, qi));
            if (!(op->cmd->flags & CMD_ALLOW_BUSY)) {
                txq_remove(&w->txq, it);
                exec_op_refuse(w, op, err);
            }
        }
        it = next;
    }
}

/* On the owner shard: run now, or queue behind an intent lock. */
static void exec_op_arrive(struct worker *w, struct msg *m)
{
    struct exec_op *op = (struct exec_op *)m;
    bool global = op->cmd->mso && op->cmd->mso->global;
    if (w->txq.len) {
        key_fps(op->db, op->argv, op->keyidx, op->nkeys, op->fps);
        if (txq_conflicts(&w->txq, op->fps, op->nkeys, global)) {
            const char *busy = busy_error(w);
            if (busy && !(op->cmd->flags & CMD_ALLOW_BUSY)) {
                exec_op_refuse(w, op, busy);
                return;
            }
            op->qi.txid = 0;
            op->qi.fps = op->fps;
            op->qi.nfps = op->nkeys;
            op->qi.global = global;
            op->qi.ready = true;
            txq_append(&w->txq, &op->qi);
            return;
        }
    }
    exec_op_run(w, op);
}

void exec_single(struct conn *c, const struct command *cmd, int argc, struct arg *argv, int owner,
                 const int *keyidx, int nkeys, int slot0)
{
    struct worker *w = c->w;
    bool global = cmd->mso && cmd->mso->global;
    bool blocking = cmd->flags & CMD_BLOCKING; /* blocking: always deferred, pauses the connection */
    if (owner == w->id && !blocking) {
        bool conflict = false;
        if (w->txq.len) {
            uint64_t fstack[16] = {0};
            uint64_t *fps = nkeys <= 16 ? fstack : mi_malloc(sizeof(uint64_t) * (size_t)nkeys);
            key_fps(c->db, argv, keyidx, nkeys, fps);
            conflict = txq_conflicts(&w->txq, fps, nkeys, global);
            if (fps != fstack)
                mi_free(fps);
        }
        if (!conflict) {
            struct pending *pend;
            struct cmd_ctx ctx = {
                .w = w,
                .ks = &w->ks,
                .conn = c,
                .cmd = cmd,
                .db = c->db,
                .argc = argc,
                .argv = argv,
                .now_ms = w->now_ms,
                .client_id = c->id,
                .track = tracking_token(c), /* tracking: the client's read token */
            };
            ctx.r.b = conn_begin_reply(c, &pend);
            ctx.r.resp = c->resp;
            if (nkeys && slot0 >= 0) {
                ctx.slot_arg = &argv[keyidx[0]];
                ctx.slot_val = (unsigned)slot0;
            }
            run_command(&ctx, (int *)keyidx, nkeys);
            conn_end_reply(c, pend);
            blocking_serve_ready(w); /* blocking: serve keys this command made ready */
            return;
        }
    }
    struct exec_op *op = exec_op_new(c, cmd, argc, argv, keyidx, nkeys);
    op->pend = conn_defer_reply(c);
    c->inflight++;
    if (blocking)
        c->paused = true;
    if (owner == w->id) {
        exec_op_arrive(w, &op->m);
        return;
    }
    op->m.fn = exec_op_arrive;
    worker_send(w, owner, &op->m);
}

/* ---------- multi-shard operations ---------- */

enum mso_shard_state { MS_SCHEDULING, MS_SCHEDULED, MS_FAILED };

/* The part of an mso a shard holds; one message ping-pongs between the
 * coordinator and the shard. */
struct mso_shard {
    struct msg m;
    struct txq_item qi;
    struct mso *t;
    int part;
    int hop;
    bool hop_pending;   /* shard: run `hop` when at the head */
    bool finish;        /* shard: release when at the head after the hop */
    bool accepted;      /* schedule result */
    uint64_t fps_inline[FPS_INLINE];
};

static void mso_schedule(struct worker *w, struct mso *t);
static void mso_finish(struct worker *w, struct mso *t);
static void mso_hop_msg(struct worker *w, struct msg *m);
static void mso_unschedule_msg(struct worker *w, struct msg *m);

static void mso_shard_free(struct mso_shard *ms)
{
    if (ms->qi.fps && ms->qi.fps != ms->fps_inline)
        mi_free(ms->qi.fps);
    mi_free(ms);
}

static void mso_run_hop(struct worker *w, struct mso_shard *ms);

void shard_process_queue(struct worker *w)
{
    struct txq_item *it;
    while ((it = txq_head(&w->txq))) {
        if (it->txid == 0) {
            struct exec_op *op = (struct exec_op *)((char *)it - offsetof(struct exec_op, qi));
            txq_remove(&w->txq, it);
            exec_op_run(w, op);
            continue;
        }
        struct mso_shard *ms = (struct mso_shard *)((char *)it - offsetof(struct mso_shard, qi));
        if (ms->hop_pending) {
            ms->hop_pending = false;
            mso_run_hop(w, ms);
            continue;
        }
        if (ms->finish) {
            txq_remove(&w->txq, it);
            mso_shard_free(ms);
            continue;
        }
        break;
    }
    blocking_retry_held(w); /* blocking: keys held back by queued operations */
    blocking_serve_ready(w);
}

/* coordinator side: a reply from a shard */
static void mso_scheduled_reply(struct worker *w, struct msg *m)
{
    struct mso_shard *ms = (struct mso_shard *)m;
    struct mso *t = ms->t;
    if (!ms->accepted)
        t->failed++;
    if (--t->waiting)
        return;
    if (!t->failed) {
        t->scheduled = true;
        t->hop = 0;
        t->waiting = t->nparts;
        struct mso_shard **shards = t->shards;
        for (int i = 0; i < t->nparts; i++) {
            struct mso_shard *s = shards[i];
            s->hop = 0;
            s->m.fn = mso_hop_msg;
            worker_send(w, t->parts[i].shard, &s->m);
        }
        return;
    }
    /* withdraw everywhere and try again with a new id */
    w->stats.tx_retries++;
    struct mso_shard **shards = t->shards;
    for (int i = 0; i < t->nparts; i++) {
        struct mso_shard *s = shards[i];
        if (s->accepted) {
            s->m.fn = mso_unschedule_msg;
            worker_send(w, t->parts[i].shard, &s->m);
        } else {
            mso_shard_free(s);
        }
        shards[i] = NULL;
    }
    mso_schedule(w, t);
}

/* shard side */
static void mso_unschedule_msg(struct worker *w, struct msg *m)
{
    struct mso_shard *ms = (struct mso_shard *)m;
    txq_remove(&w->txq, &ms->qi);
    mso_shard_free(ms);
    shard_process_queue(w);
}

static void mso_schedule_msg(struct worker *w, struct msg *m)
{
    struct mso_shard *ms = (struct mso_shard *)m;
    ms->accepted = txq_append(&w->txq, &ms->qi);
    ms->m.fn = mso_scheduled_reply;
    worker_send(w, ms->t->coordinator, &ms->m);
}

static void mso_hop_done(struct worker *w, struct msg *m);

void mso_run_part(struct worker *w, struct mso *t, int part, int hop)
{
    struct mso_part *pt = &t->parts[part];
    struct cmd_ctx ctx = {
        .w = w,
        .ks = &w->ks,
        .cmd = t->cmd,
        .db = t->db,
        .argc = t->argc,
        .argv = t->argv,
        .now_ms = w->now_ms,
        .client_id = t->client_id,
        .keyidx = pt->keyidx,
        .nkeys = pt->nkeys,
        .track = t->track, /* tracking */
    };
    ctx.r.b = &pt->out;
    ctx.r.resp = t->resp;
    persist_before_command(w, t->cmd, t->argv, pt->keyidx, pt->nkeys, t->ops->global); /* snapshot COW */
    t->ops->hop(&ctx, t, part, hop);
    if (hop == 0)
        tracking_remember_keys(&ctx, pt->keyidx, pt->nkeys); /* tracking: keys read by a tracking client */
}

static void mso_run_hop(struct worker *w, struct mso_shard *ms)
{
    struct mso *t = ms->t;
    mso_run_part(w, t, ms->part, ms->hop);
    ms->m.fn = mso_hop_done;
    worker_send(w, t->coordinator, &ms->m);
}

/* shard side: a hop request */
static void mso_hop_msg(struct worker *w, struct msg *m)
{
    struct mso_shard *ms = (struct mso_shard *)m;
    if (txq_head(&w->txq) == &ms->qi) {
        mso_run_hop(w, ms);
        return;
    }
    ms->hop_pending = true;
}

/* shard side: the operation is over */
static void mso_finish_msg(struct worker *w, struct msg *m)
{
    struct mso_shard *ms = (struct mso_shard *)m;
    txq_remove(&w->txq, &ms->qi);
    mso_shard_free(ms);
    shard_process_queue(w);
}

/* coordinator side: a hop finished on one shard */
static void mso_hop_done(struct worker *w, struct msg *m)
{
    struct mso_shard *ms = (struct mso_shard *)m;
    struct mso *t = ms->t;
    if (--t->waiting)
        return;
    int next = t->ops->next(t, t->hop);
    struct mso_shard **shards = t->shards;
    if (next < 0 && t->block && t->block->would_block && t->conn)
        blocking_mso_park(w, t); /* blocking: parks reach the shards before the finish */
    if (next < 0) {
        for (int i = 0; i < t->nparts; i++) {
            shards[i]->m.fn = mso_finish_msg;
            worker_send(w, t->parts[i].shard, &shards[i]->m);
            shards[i] = NULL;
        }
        mso_finish(w, t);
        return;
    }
    t->hop = next;
    t->waiting = t->nparts;
    for (int i = 0; i < t->nparts; i++) {
        shards[i]->hop = next;
        shards[i]->m.fn = mso_hop_msg;
        worker_send(w, t->parts[i].shard, &shards[i]->m);
    }
}

static void mso_schedule(struct worker *w, struct mso *t)
{
    t->txid = atomic_fetch_add(&g_next_txid, 1);
    t->failed = 0;
    t->waiting = t->nparts;
    struct mso_shard **shards = t->shards;
    bool global = t->ops->global;
    for (int i = 0; i < t->nparts; i++) {
        struct mso_part *p = &t->parts[i];
        struct mso_shard *ms = mi_zalloc(sizeof(*ms));
        ms->t = t;
        ms->part = i;
        ms->qi.txid = t->txid;
        ms->qi.global = global;
        ms->qi.nfps = p->nkeys;
        ms->qi.fps = p->nkeys <= FPS_INLINE ? ms->fps_inline : mi_malloc(sizeof(uint64_t) * (size_t)p->nkeys);
        key_fps(t->db, t->argv, p->keyidx, p->nkeys, ms->qi.fps);
        ms->m.fn = mso_schedule_msg;
        shards[i] = ms;
        worker_send(w, p->shard, &ms->m);
    }
}

static void mso_free(struct mso *t)
{
    mso_free_state(t);
    mi_free(t->shards);
    mi_free(t->parts);
    mi_free(t->argmem);
    mi_free(t);
}

static void mso_finish(struct worker *w, struct mso *t)
{
    struct conn *c = t->conn;
    if (!c) { /* persist: an internal global op (exec_global_internal) */
        t->ops->reply(t, NULL);
        mso_free(t);
        return;
    }
    bool rerun = t->block && t->block->mode == BLOCK_SERVING; /* blocking: counted when it first blocked */
    if (!t->pend) { /* blocking: parked, blocking.c owns the reply slot */
        if (!rerun)
            stats_count_command(w, t->cmd, 0, false);
        mso_free(t);
        conn_release(c);
        return;
    }
    struct reply r = {&t->pend->out, t->resp};
    size_t start = r.b->len;
    t->ops->reply(t, &r);
    stats_after_run(w, t->cmd, r.b, start, 0, rerun);
    persist_after_command(w, t->cmd, r.b, start); /* persist: dirty counter */
    conn_pending_done(c, t->pend);
    mso_free_state(t);
    mi_free(t->shards);
    mi_free(t->parts);
    mi_free(t->argmem);
    mi_free(t);
    conn_release(c);
    if (!c->closing)
        conn_resume(c);
}

/* Group the keys by owner shard. */
static int mso_build_parts(struct mso *t, const int *keyidx, int nkeys, bool global)
{
    if (global) {
        t->parts = mi_zalloc(sizeof(struct mso_part) * (size_t)g_nworkers);
        for (int i = 0; i < g_nworkers; i++)
            t->parts[i].shard = i;
        return g_nworkers;
    }
    int owners[MAX_THREADS];
    int count[MAX_THREADS] = {0};
    int nparts = 0;
    int *ownerof = mi_malloc(sizeof(int) * (size_t)nkeys);
    for (int i = 0; i < nkeys; i++) {
        int o = g_slot_owner[arg_slot(&t->argv[keyidx[i]])];
        ownerof[i] = o;
        if (!count[o]++)
            owners[nparts++] = o;
    }
    t->parts = mi_zalloc(sizeof(struct mso_part) * (size_t)nparts + sizeof(int) * (size_t)nkeys);
    int *idx = (int *)(t->parts + nparts);
    int partof[MAX_THREADS];
    for (int p = 0; p < nparts; p++) {
        t->parts[p].shard = owners[p];
        t->parts[p].keyidx = idx;
        idx += count[owners[p]];
        partof[owners[p]] = p;
    }
    for (int i = 0; i < nkeys; i++) {
        struct mso_part *p = &t->parts[partof[ownerof[i]]];
        p->keyidx[p->nkeys++] = keyidx[i];
    }
    mi_free(ownerof);
    return nparts;
}

void exec_mso(struct conn *c, const struct command *cmd, int argc, struct arg *argv, const int *keyidx,
              int nkeys)
{
    struct worker *w = c->w;
    bool global = cmd->mso->global;
    if (global && g_nworkers == 1 && !cmd->mso->yields) {
        exec_single(c, cmd, argc, argv, 0, keyidx, nkeys, -1);
        return;
    }
    struct mso *t = mi_zalloc(sizeof(*t));
    t->conn = c;
    t->cmd = cmd;
    t->ops = cmd->mso;
    t->db = c->db;
    t->resp = c->resp;
    t->client_id = c->id;
    t->track = tracking_token(c); /* tracking: the client's read token */
    t->coordinator = w->id;
    t->argc = argc;
    t->argmem = mi_malloc(args_bytes(argc, argv));
    t->argv = args_copy(t->argmem, argc, argv);
    t->nparts = mso_build_parts(t, keyidx, nkeys, global);
    for (int i = 0; i < t->nparts; i++)
        buf_init(&t->parts[i].out);
    t->shards = mi_zalloc(sizeof(struct mso_shard *) * (size_t)t->nparts);
    if (cmd->flags & CMD_BLOCKING) { /* blocking: may park */
        t->block = mi_zalloc(sizeof(*t->block));
        blocking_mso_req_init(t->block); /* a woken client's rerun serves */
        buf_init(&t->block->rewrites);
    }
    t->pend = conn_defer_reply(c);
    c->inflight++;
    c->paused = true;
    mso_schedule(w, t);
}

/* persist.c hook: a global operation with no client (a snapshot's start):
 * scheduled like any global mso, so it runs at one point of the global order;
 * the ops' reply is called with r == NULL. */
void exec_global_internal(struct worker *w, const struct command *cmd)
{
    struct mso *t = mi_zalloc(sizeof(*t));
    t->cmd = cmd;
    t->ops = cmd->mso;
    t->resp = 2;
    t->coordinator = w->id;
    t->nparts = mso_build_parts(t, NULL, 0, true);
    for (int i = 0; i < t->nparts; i++)
        buf_init(&t->parts[i].out);
    if (g_nworkers == 1) {
        /* one shard: nothing can interleave; run it here */
        struct cmd_ctx ctx = {.w = w, .ks = &w->ks, .cmd = cmd, .now_ms = w->now_ms};
        ctx.r.b = &t->parts[0].out;
        ctx.r.resp = 2;
        t->single = true;
        for (int hop = 0; hop >= 0; hop = t->ops->next(t, hop))
            t->ops->hop(&ctx, t, 0, hop);
        t->ops->reply(t, NULL);
        mso_free(t);
        return;
    }
    t->shards = mi_zalloc(sizeof(struct mso_shard *) * (size_t)t->nparts);
    mso_schedule(w, t);
}

/* ---------- helpers for families' mso ops ---------- */

int mso_one_hop(struct mso *t, int hop)
{
    (void)t;
    (void)hop;
    return -1;
}

void mso_reply_sum(struct mso *t, struct reply *r)
{
    int64_t n = 0;
    for (int p = 0; p < t->nparts; p++)
        n += t->parts[p].count;
    reply_int(r, n);
}
