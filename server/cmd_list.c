/* server/cmd_list.c — the list command family. */
#include "server/server.h"

const struct command list_commands[] = {
    {0},
};
