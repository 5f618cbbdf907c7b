/* server/tracking.h — client-side caching (Redis 7.0 CLIENT TRACKING): the
 * hooks other files call. The behaviour lives in server/tracking.c.
 * Owns: nothing but these declarations. */
#ifndef DARTER_SERVER_TRACKING_H
#define DARTER_SERVER_TRACKING_H

#include "server/server.h"

/* ---- connection side (the connection's thread) ---- */

/* dispatch / transaction.c: the token a command of `c` carries to the shard
 * that runs it: 0 = reads are not remembered, else the connection's thread
 * + 1 (tracking on, not BCAST, OPTIN/OPTOUT and CLIENT CACHING agree). */
uint16_t tracking_token(struct conn *c);
/* dispatch.c: after each request (Redis's resetClient): CLIENT CACHING only
 * lasts for the next command, or the whole MULTI ... EXEC. */
void tracking_after_dispatch(struct conn *c, const struct arg *argv0);
/* conn.c: the connection closes (BCAST prefixes are dropped on every shard). */
void tracking_conn_closed(struct conn *c);
/* cmd_conn.c RESET: tracking off. */
void tracking_conn_reset(struct conn *c);
/* conn.c CLIENT LIST: appends the t/R/B flags; returns the redir= value. */
int64_t tracking_conn_flags(const struct conn *c, char **fp);

/* ---- shard side (the key's owner thread) ---- */

/* worker.c, after pubsub_worker_init: chains the keyspace's on_expired hook. */
void tracking_worker_init(struct worker *w);
/* worker.c: before the loop sleeps: send the batched invalidations, keep
 * the table under tracking-table-max-keys. */
void tracking_before_sleep(struct worker *w);
/* A key changed (util.c db_signal_modified and other write paths): notify
 * the clients that read it and the BCAST clients whose prefix matches.
 * `client_id` is the writer (NOLOOP), 0 when no client did it. */
void tracking_key_modified(struct worker *w, uint64_t client_id, const char *key, size_t len);
/* transaction.c: after a command ran here with ctx->track set, remember its
 * keys (readonly commands only, as Redis's call()). */
void tracking_remember_keys(struct cmd_ctx *c, const int *keyidx, int nkeys);
/* Remember one key for (client_id, token) on this shard. */
void tracking_remember_key(struct worker *w, uint16_t token, uint64_t client_id, const char *key, size_t len);
/* Scripts (on the coordinator, every shard held): remember keys wherever
 * they live (by message to other owners, ahead of the operation's end). */
void tracking_remember_remote(struct worker *w, uint16_t token, uint64_t client_id, const struct arg *keys, int n);
/* FLUSHDB / FLUSHALL hop on every thread: forget this shard's table and send
 * the null invalidation to this thread's tracking connections. */
void tracking_flush(struct worker *w);

/* info.c: this thread's numbers (INFO clients / stats). */
struct tracking_info {
    uint64_t clients, keys, items, prefixes;
};
void tracking_info_collect(struct worker *w, struct tracking_info *out);

/* cmd_conn.c: CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO */
void cmd_client_tracking(struct cmd_ctx *c);
void cmd_client_caching(struct cmd_ctx *c);
void cmd_client_getredir(struct cmd_ctx *c);
void cmd_client_trackinginfo(struct cmd_ctx *c);

#endif
