/* server/cmd_multi.c — family: MULTI EXEC DISCARD WATCH UNWATCH. */
#include "server/server.h"

const struct command multi_commands[] = {
    {NULL},
};
