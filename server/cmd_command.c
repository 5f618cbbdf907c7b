/* server/cmd_command.c — COMMAND and its subcommands (COUNT INFO DOCS LIST
 * GETKEYS), answered from the command table. Owns: table introspection. */
#include "server/server.h"

static void cmd_command_count(struct cmd_ctx *c) { reply_int(&c->r, command_count()); }

const struct command command_commands[] = {
    {"command", -1, CMD_CONN | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_command_count, .group = "server", .summary = "Get array of Redis command details", .since = "2.8.13", .acl = "slow connection"},
    {NULL},
};
