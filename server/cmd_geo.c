/* server/cmd_geo.c — the geo command family. */
#include "server/server.h"

const struct command geo_commands[] = {
    {0},
};
