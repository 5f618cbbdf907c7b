/* cluster/cmd_cluster.c — family: CLUSTER READONLY READWRITE ASKING DFLYCLUSTER. */
#include "server/server.h"

const struct command cluster_commands[] = {
    {NULL},
};
