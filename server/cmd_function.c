/* server/cmd_function.c — FUNCTION, for now only the parts that hold without
 * a function engine: FLUSH (there is nothing to flush) and LIST (empty).
 * Loading and calling functions arrive with Lua scripting. Owns: the
 * FUNCTION command. Must not touch keyspace data. */
#include "server/server.h"

static void cmd_function_flush(struct cmd_ctx *c)
{
    if (c->argc == 3 && !arg_eq(&c->argv[2], "async") && !arg_eq(&c->argv[2], "sync")) {
        reply_error(&c->r, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    reply_ok(&c->r);
}

static void cmd_function_list(struct cmd_ctx *c) { reply_array(&c->r, 0); }

static void cmd_function_arity(struct cmd_ctx *c)
{
    reply_errorf(&c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
}

static const struct command function_subcommands[] = {
    {"function|flush", -2, CMD_CONN | CMD_WRITE | CMD_NOSCRIPT, 0, 0, 0, cmd_function_flush, .group = "scripting", .summary = "Deleting all functions", .since = "7.0.0", .acl = "write slow scripting"},
    {"function|list", -2, CMD_CONN | CMD_NOSCRIPT, 0, 0, 0, cmd_function_list, .group = "scripting", .summary = "List information about all the functions", .since = "7.0.0", .acl = "slow scripting"},
    {NULL},
};

const struct command function_commands[] = {
    {"function", -2, CMD_CONN, 0, 0, 0, cmd_function_arity, .subcmds = function_subcommands, .group = "scripting", .summary = "A container for function commands", .since = "7.0.0", .acl = "slow"},
    {NULL},
};
