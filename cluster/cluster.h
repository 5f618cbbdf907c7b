/* cluster/cluster.h — the hooks the server calls in cluster mode. */
#ifndef DARTER_CLUSTER_CLUSTER_H
#define DARTER_CLUSTER_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

struct conn;
struct command;
struct arg;
struct config;

/* dispatch.c, after key extraction: true when the request was answered
 * (MOVED, ASK, CROSSSLOT, CLUSTERDOWN) or handed to the owner thread by the
 * cluster code itself; false: dispatch goes on as usual. */
bool cluster_redirect(struct conn *c, const struct command *cmd, int argc, struct arg *argv, const int *keys,
                      int nkeys);
/* cmd_multi.c, in cluster mode inside MULTI (Redis's getNodeByQuery): the
 * `nkeys` keys of a command being queued or, for EXEC (exec), of every
 * queued command together; the first hashes to `slot`, cross when another
 * does not; write: a write command is among them. True when they must not
 * run here, with the redirection (MOVED, CROSSSLOT, CLUSTERDOWN) in msg.
 * ASKING holds until EXEC. A MIGRATING slot is served here without the key
 * check (it needs the slot's thread). */
bool cluster_multi_refuse(struct conn *c, bool exec, bool write, int nkeys, unsigned slot, bool cross, char *msg,
                          size_t msglen);
/* main.c: load or create the node id and config (cluster-enabled only). */
void cluster_init(const struct config *cfg);

#endif
