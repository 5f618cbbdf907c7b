/* server/cmd_config.c — CONFIG GET SET RESETSTAT REWRITE HELP. GET reads the
 * calling thread's copy; SET changes every thread's copy as a global op.
 * Owns: the CONFIG command; value parsing lives in config.c. */
#include "server/server.h"

const struct command config_commands[] = {
    {NULL},
};
