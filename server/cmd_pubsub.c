/* server/cmd_pubsub.c — family: SUBSCRIBE PSUBSCRIBE SSUBSCRIBE PUBLISH SPUBLISH PUBSUB. */
#include "server/server.h"

const struct command pubsub_commands[] = {
    {NULL},
};
