/* server/persist.h — RDB snapshots without fork: a global hop starts the
 * snapshot on every shard at one point of the global order; each worker then
 * serializes its own slots incrementally (copy-on-write at slot granularity:
 * a write to a slot not yet saved saves that slot first), and a short-lived
 * thread assembles the segments into dbfilename. Also loading at startup
 * (a loader thread feeding key images to their owner threads while workers
 * answer -LOADING), save points, the shutdown save, SAVE / BGSAVE /
 * LASTSAVE / DEBUG RELOAD, and the INFO persistence fields.
 * Owns: snapshot and loading state. Hooks elsewhere are one-line calls. */
#ifndef DARTER_SERVER_PERSIST_H
#define DARTER_SERVER_PERSIST_H

#include "server/server.h"

/* SHUTDOWN's SAVE / NOSAVE choice (0: default: save when save points exist). */
enum { PERSIST_SHUTDOWN_DEFAULT = 0, PERSIST_SHUTDOWN_SAVE = 1, PERSIST_SHUTDOWN_NOSAVE = 2 };
extern _Atomic int g_shutdown_save_mode;

/* main.c: before the workers start (marks them loading if a file exists),
 * after they started (starts the loader thread). */
void persist_init(void);
void persist_start_loading(void);
/* Is the dataset still being loaded from disk? */
bool persist_loading(void);
/* main.c, on a shutdown request: the final save, run by worker 0 while every
 * worker still serves. Returns false when the save failed (do not exit). */
bool persist_shutdown(void);

/* worker.c: after ks_init; each loop iteration (returns true while a
 * snapshot is being written); whether work is waiting; the tick. */
void persist_worker_init(struct worker *w);
bool persist_poll(struct worker *w);
bool persist_has_work(struct worker *w);
void persist_tick(struct worker *w);

/* transaction.c: before a write command runs on this shard, for each key's slot. */
void persist_before_write(struct worker *w, unsigned slot);
/* before a global write (FLUSHALL, SWAPDB, ...): finishes this shard's segment. */
void persist_before_global_write(struct worker *w);
/* A command that writes (CMD_WRITE, or one of the keyless writers such as DEBUG POPULATE). */
bool persist_cmd_writes(const struct command *cmd);
/* After a command ran on this thread, its reply from b[start]: counts
 * successful CMD_WRITE commands (the dirty counter). */
void persist_after_command(struct worker *w, const struct command *cmd, const struct buf *b, size_t start);
/* The snapshot hooks around a command on this shard (keys from keyidx). */
void persist_before_command(struct worker *w, const struct command *cmd, const struct arg *argv,
                            const int *keyidx, int nkeys, bool global);

/* info.c: the rdb/loading lines of INFO persistence. */
void persist_info(struct buf *b);

/* Handlers (CMD_CONN) for cmd_server.c's table: SAVE BGSAVE LASTSAVE DEBUG RELOAD. */
void persist_cmd_save(struct cmd_ctx *c);
void persist_cmd_bgsave(struct cmd_ctx *c);
void persist_cmd_lastsave(struct cmd_ctx *c);
void persist_cmd_debug_reload(struct cmd_ctx *c);

/* transaction.c: a global operation with no client (the snapshot start). */
void exec_global_internal(struct worker *w, const struct command *cmd);

#endif
