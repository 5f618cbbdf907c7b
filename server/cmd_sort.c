/* server/cmd_sort.c — SORT and SORT_RO. */
#include "server/server.h"

const struct command sort_commands[] = {
    {0},
};
