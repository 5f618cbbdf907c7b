/* server/multi.h — hooks of cmd_multi.c (MULTI/EXEC/WATCH) called from
 * dispatch, connections and the write paths. */
#ifndef DARTER_SERVER_MULTI_H
#define DARTER_SERVER_MULTI_H

#include "server/server.h"

/* dispatch.c: inside MULTI, check and queue the command (replies +QUEUED or
 * the queue-time error). Returns true when the command was handled. */
bool multi_dispatch(struct conn *c, int argc, struct arg *argv);
/* On a shard: (db,key) changed; marks WATCH registrations dirty. */
void multi_touch(struct worker *w, int db, const char *key, size_t len);
/* On a shard, before a database is emptied / two are swapped. */
void multi_touch_flush(struct worker *w, int db);
void multi_touch_swap(struct worker *w, int a, int b);
/* busy.c: a command refused with `err` (-BUSY) inside MULTI fails the
 * transaction; EXEC is answered -EXECABORT and discards it. True when it replied. */
bool multi_refuse(struct conn *c, const struct command *cmd, const char *err);
/* RESET: discard the transaction and unwatch. */
void multi_conn_reset(struct conn *c);
/* dispatch.c, right after EXEC: true when EXEC went on as an operation;
 * its MONITOR line then follows its commands' when it finishes. */
bool multi_exec_monitor_deferred(struct conn *c);
/* The connection is being freed: unwatch and free the state. */
void multi_conn_free(struct conn *c);

#endif
