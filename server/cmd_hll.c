/* server/cmd_hll.c — the hll command family. */
#include "server/server.h"

const struct command hll_commands[] = {
    {0},
};
