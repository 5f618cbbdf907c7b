/* server/cmd_stream.c — the stream command family. */
#include "server/server.h"

const struct command stream_commands[] = {
    {0},
};
