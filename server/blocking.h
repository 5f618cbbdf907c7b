/* server/blocking.h — clients blocked on keys (BLPOP BRPOP BLMOVE BRPOPLPUSH
 * BLMPOP, BZPOPMIN BZPOPMAX BZMPOP, XREAD/XREADGROUP BLOCK).
 *
 * How a blocking command works, for the family that writes one:
 *
 *   1. It is an ordinary command with CMD_BLOCKING in its table flags: a plain
 *      handler (one key) or mso ops (keys may span threads; when they all
 *      live on one thread the ops run there as one piece). It runs like any
 *      other command and serves at once when it can.
 *   2. When there is nothing to serve, it asks blocking_may_block(c) (plain
 *      handler) or blocking_mso_may_block(t) (mso `next`, on the coordinator):
 *        - false (inside MULTI/EXEC, a Lua script, ...): reply the "nothing"
 *          reply now (null array for BLPOP, null bulk for BLMOVE, ... exactly
 *          as Redis does for a client with CLIENT_DENY_BLOCKING);
 *        - true: call blocking_block(c, timeout_ms) / blocking_mso_block(t,
 *          timeout_ms) and write NO reply (an mso's `next` returns -1 and its
 *          `reply` must then write nothing: check blocking_mso_blocked(t)).
 *   3. The framework parks the client on the command's keys (all of them
 *      unless blocking_*_skip_arg() excluded one, e.g. BLMOVE's destination)
 *      on the keys' owner shards and pauses the connection (its later
 *      pipelined commands wait, as in Redis).
 *   4. Any write to a watched key (everything that calls db_signal_modified:
 *      pushes, ZADD, XADD, RENAME/RESTORE/COPY/MOVE onto the key, MULTI and
 *      Lua writes, ...) marks it ready: type code needs nothing more. After
 *      the command that wrote it (after the whole operation for MULTI/EXEC,
 *      scripts and other multi-shard operations) the owner shard serves the
 *      key's parked clients in FIFO order by running the blocked command
 *      again on their behalf (handler or every hop of its mso, on that shard)
 *      with blocking_serving(c) / blocking_mso_serving(t) true (while the key
 *      exists; a deleted key (DEL, FLUSHDB, SWAPDB, ...) runs only the
 *      commands that asked blocking_*_wake_on_delete):
 *        - it serves: its reply goes to the client, which is unblocked;
 *        - it finds nothing and blocks again: the client stays parked in its
 *          place (the first deadline stays).
 *      In serving mode a key of the wrong type counts as "nothing" (Redis
 *      serves only keys of the waited type) except where Redis replies an
 *      error to the served client (BLMOVE's wrong-typed destination).
 *      Clients whose keys span shards are only notified: their own thread
 *      withdraws them from every shard and runs the command again as a normal
 *      atomic operation (in serving mode), which may block again (at the
 *      tail: FIFO order is exact only among clients whose keys all live on
 *      one shard; notified clients race for the element).
 *      INFO commandstats counts the command's call once, when it first runs;
 *      its reruns add only a failure (as Redis's updateStatsOnUnblock).
 *   5. Timeout (0 = forever; checked every server tick), CLIENT UNBLOCK
 *      (TIMEOUT: the timeout reply, ERROR: "-UNBLOCKED client unblocked via
 *      CLIENT UNBLOCK") and disconnect withdraw the client from its shards;
 *      it counts as unblocked only when every shard has acknowledged, so a
 *      serve that crossed the withdrawal is delivered and nothing is lost or
 *      served twice. The timeout reply is the null array (*-1 / RESP3 null),
 *      as Redis's replyToBlockedClientTimedOut.
 *
 * Arguments that must not be re-evaluated when the command runs again
 * (XREAD's "$": "the last id when I blocked") are replaced in the parked copy
 * with blocking_rewrite_arg / blocking_mso_rewrite_arg before blocking.
 *
 * Owns: per connection, its blocked state (on the connection's thread); per
 * shard, (db, key) -> FIFO of parked clients and the ready keys (on the
 * shard's thread). Threads exchange only messages. Must not know any
 * command's semantics. */
#ifndef DARTER_SERVER_BLOCKING_H
#define DARTER_SERVER_BLOCKING_H

#include "server/server.h"

/* ---------- for command handlers ---------- */

/* Redis's timeout argument in seconds (BLPOP & co): a float, kept in ms.
 * Replies "timeout is not a float or out of range" / "timeout is negative"
 * into r and returns false on bad input. *ms: 0 = forever. */
bool blocking_parse_timeout(struct reply *r, const struct arg *a, int64_t *ms);
/* An integer timeout in milliseconds (XREAD BLOCK): "timeout is not an
 * integer or out of range" / "timeout is negative". */
bool blocking_parse_timeout_ms(struct reply *r, const struct arg *a, int64_t *ms);

/* May this run park its client? False inside MULTI/EXEC and scripts. */
bool blocking_may_block(const struct cmd_ctx *c);
/* True when the command runs again for a parked client. */
bool blocking_serving(const struct cmd_ctx *c);
/* Nothing to serve: park the client (write no reply). timeout_ms 0 = forever. */
void blocking_block(struct cmd_ctx *c, int64_t timeout_ms);
/* Do not wait on argv[idx] (BLMOVE's destination). */
void blocking_block_skip_arg(struct cmd_ctx *c, int idx);
/* Replace argv[idx] in the parked copy of the command. */
void blocking_rewrite_arg(struct cmd_ctx *c, int idx, const char *p, size_t len);
/* Run the command again also when a key it waits on is deleted (XREADGROUP:
 * Redis unblocks it with an error); others wait until the key comes back. */
void blocking_block_wake_on_delete(struct cmd_ctx *c);

/* The same for mso ops (call from `next`, on the coordinator). */
bool blocking_mso_may_block(const struct mso *t);
bool blocking_mso_serving(const struct mso *t);
void blocking_mso_block(struct mso *t, int64_t timeout_ms);
/* True after blocking_mso_block: `reply` writes nothing. */
bool blocking_mso_blocked(const struct mso *t);
void blocking_mso_skip_arg(struct mso *t, int idx);
void blocking_mso_rewrite_arg(struct mso *t, int idx, const char *p, size_t len);
void blocking_mso_wake_on_delete(struct mso *t);

/* ---------- for type code and the keyspace ---------- */

/* A key was written: if clients wait on it here, serve them after the
 * current command. db_signal_modified calls this; call it directly only for
 * writes that do not go through db_signal_modified. */
void blocking_signal_key(struct worker *w, int db, const char *key, size_t len);
/* Every key of db changed at once (SWAPDB). */
void blocking_signal_db(struct worker *w, int db);

/* ---------- framework hooks (transaction.c, conn.c, worker.c, ...) ---------- */

enum block_mode { BLOCK_NO = 0, BLOCK_MAY = 1, BLOCK_SERVING = 2 };

/* What a blocking command asked for (cmd_ctx.block / mso.block). */
struct block_req {
    uint8_t mode;          /* enum block_mode */
    bool would_block;
    int64_t timeout_ms;    /* relative, as the command gave it */
    int64_t deadline;      /* absolute, when already known (a rerun keeps its first deadline) */
    int skip_arg;          /* 0: none */
    bool wake_on_delete;   /* served also when the key is missing */
    struct buf rewrites;   /* records: int idx, uint32 len, bytes */
};

void block_req_free(struct block_req *b);
/* Timeout argument check without a reply: NULL or Redis's error text. */
const char *blocking_timeout_check(const struct arg *a, bool in_ms, int64_t *ms);

/* Shard side: the command ran here in BLOCK_MAY mode and asked to block:
 * park the client on its keys here (served exactly by this shard). Returns
 * the waiter id the connection's thread is told about. */
uint64_t blocking_park_here(struct worker *w, struct conn *conn, int origin, const struct command *cmd, int db,
                            int resp, uint64_t client_id, int argc, const struct arg *argv, const int *keyidx,
                            int nkeys, const struct block_req *req);
/* Connection side: the command parked on `shard` as waiter `wid`; its reply
 * goes into `pend` (not done) when served. */
void blocking_conn_parked(struct conn *c, struct pending *pend, uint64_t wid, int shard,
                          const struct block_req *req);
/* Coordinator side, an mso that asked to block (before its parts' locks are
 * released): park notify-only waiters on every part's shard and take over
 * t->pend (set to NULL). */
void blocking_mso_park(struct worker *w, struct mso *t);
/* exec_mso: set up a CMD_BLOCKING mso's request: BLOCK_MAY, or for the rerun
 * of a woken client BLOCK_SERVING with its first deadline. */
void blocking_mso_req_init(struct block_req *b);
/* Serve the ready keys no queued operation holds. Cheap when none. */
void blocking_serve_ready(struct worker *w);
/* Ready keys held back by queued operations: retry (shard_process_queue). */
void blocking_retry_held(struct worker *w);
/* The connection closes: withdraw it. */
void blocking_conn_closed(struct conn *c);
/* CLIENT UNBLOCK on c's own thread: true when c was blocked (now unblocking). */
bool blocking_conn_unblock(struct conn *c, bool with_error);
bool blocking_conn_is_blocked(const struct conn *c);
/* Tick: time out parked clients of this thread. */
void blocking_check_timeouts(struct worker *w);
/* INFO blocked_clients: this thread's blocked connections (call on w's thread). */
uint64_t blocking_count(struct worker *w);

#endif
