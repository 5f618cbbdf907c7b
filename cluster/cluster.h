/* cluster/cluster.h — the hooks the server calls in cluster mode. */
#ifndef DARTER_CLUSTER_CLUSTER_H
#define DARTER_CLUSTER_CLUSTER_H

#include <stdbool.h>

struct conn;
struct command;
struct arg;
struct config;

/* dispatch.c, after key extraction: true when the request was answered
 * (MOVED, ASK, CROSSSLOT, CLUSTERDOWN) or handed to the owner thread by the
 * cluster code itself; false: dispatch goes on as usual. */
bool cluster_redirect(struct conn *c, const struct command *cmd, int argc, struct arg *argv, const int *keys,
                      int nkeys);
/* main.c: load or create the node id and config (cluster-enabled only). */
void cluster_init(const struct config *cfg);

#endif
