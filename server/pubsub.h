/* server/pubsub.h — hooks into the Pub/Sub family (server/cmd_pubsub.c) for
 * the connection, dispatch and write paths, and keyspace notifications.
 * Owns: nothing but these declarations. */
#ifndef DARTER_SERVER_PUBSUB_H
#define DARTER_SERVER_PUBSUB_H

#include "server/server.h"

/* notify-keyspace-events classes (Redis's NOTIFY_* values) */
enum {
    NOTIFY_KEYSPACE = 1 << 0, /* K */
    NOTIFY_KEYEVENT = 1 << 1, /* E */
    NOTIFY_GENERIC = 1 << 2,  /* g */
    NOTIFY_STRING = 1 << 3,   /* $ */
    NOTIFY_LIST = 1 << 4,     /* l */
    NOTIFY_SET = 1 << 5,      /* s */
    NOTIFY_HASH = 1 << 6,     /* h */
    NOTIFY_ZSET = 1 << 7,     /* z */
    NOTIFY_EXPIRED = 1 << 8,  /* x */
    NOTIFY_EVICTED = 1 << 9,  /* e */
    NOTIFY_STREAM = 1 << 10,  /* t */
    NOTIFY_KEY_MISS = 1 << 11,/* m */
    NOTIFY_MODULE = 1 << 12,  /* d */
    NOTIFY_NEW = 1 << 13,     /* n */
};

/* worker.c: after ks_init; installs the keyspace's on_expired callback ("expired" events). */
void pubsub_worker_init(struct worker *w);
/* conn.c: the connection closes; drop its subscriptions. */
void pubsub_conn_closed(struct conn *c);
/* dispatch.c: a subscribed RESP2 connection may only run (P|S)(UN)SUBSCRIBE,
 * PING, QUIT, RESET. Replies the error and returns true when refused. */
bool pubsub_deny(struct conn *c, const struct command *cmd);
/* conn.c CLIENT LIST / INFO, cmd_conn.c TYPE pubsub: the connection's channel,
 * pattern and shard channel subscription counts (any may be NULL); returns
 * whether it has any subscription (Redis's CLIENT_PUBSUB flag). Called on the
 * connection's thread. */
bool pubsub_conn_counts(const struct conn *c, int *sub, int *psub, int *ssub);
/* info.c INFO stats (pubsub_channels, pubsub_patterns, pubsubshard_channels):
 * each thread's hop appends its counts and names to `out`; the coordinator
 * counts distinct names over every thread's buffer (as PUBSUB CHANNELS). */
void pubsub_info_collect(struct worker *w, struct buf *out);
void pubsub_info_count(const struct buf *const *bufs, int n, uint64_t *channels, uint64_t *patterns,
                       uint64_t *shard_channels);
/* cmd_conn.c PING: in subscribed RESP2 context reply ["pong", arg]; true when it replied. */
bool pubsub_ping(struct cmd_ctx *c);
/* cmd_conn.c RESET: unsubscribe from everything, silently. */
void pubsub_reset(struct conn *c);

/* Keyspace notifications, from a handler running on the key's shard. */
void notify_keyspace_event(struct cmd_ctx *c, int type, const char *event, const struct arg *key);
/* The same without a command context (expiry). */
void notify_keyspace_event_db(struct worker *w, int db, int type, const char *event, const char *key,
                              size_t keylen);

#endif
