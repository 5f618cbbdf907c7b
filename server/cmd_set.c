/* server/cmd_set.c — the set command family. */
#include "server/server.h"

const struct command set_commands[] = {
    {0},
};
