/* server/cmd_zset.c — the zset command family. */
#include "server/server.h"

const struct command zset_commands[] = {
    {0},
};
