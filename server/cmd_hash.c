/* server/cmd_hash.c — the hash command family. */
#include "server/server.h"

const struct command hash_commands[] = {
    {0},
};
