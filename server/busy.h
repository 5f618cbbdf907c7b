/* server/busy.h — a script or function running past busy-reply-threshold
 * (lua-time-limit): the BUSY state every thread answers with, SCRIPT KILL /
 * FUNCTION KILL, FUNCTION STATS' running_script. See busy.c. */
#ifndef DARTER_SERVER_BUSY_H
#define DARTER_SERVER_BUSY_H

#include "server/server.h"

/* worker.script_ctl bits: the running thread's script, readable by all */
enum {
    SCRIPT_CTL_RUNNING = 1u << 0,
    SCRIPT_CTL_EVAL = 1u << 1,    /* EVAL family (else FCALL) */
    SCRIPT_CTL_WROTE = 1u << 2,   /* ran a write command: UNKILLABLE */
    SCRIPT_CTL_KILLED = 1u << 3,  /* SCRIPT KILL / FUNCTION KILL asked */
};

#define BUSY_EVAL_ERR "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
#define BUSY_FCALL_ERR "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."

/* ---- on the thread running the script ---- */
/* The script starts: name is the sha or function name, argv the invoking command. */
void busy_script_begin(struct worker *w, bool is_eval, const char *name, int argc, const struct arg *argv);
/* From the Lua count hook: announce BUSY once past the threshold, serve this
 * thread's clients meanwhile. True when the script must stop (killed, or the
 * server is shutting down). */
bool busy_script_tick(struct worker *w);
/* Before a write command: false when a kill request came first (the write
 * must not run); else the script is unkillable from now on. */
bool busy_script_write(struct worker *w);
void busy_script_end(struct worker *w);

/* ---- on any thread ---- */
/* The -BUSY text (without '-') while a script is past the threshold, else NULL. */
const char *busy_error(const struct worker *w);
/* dispatch.c: refuse a command while busy (unless CMD_ALLOW_BUSY). True when
 * it replied. */
bool busy_refuse(struct conn *c, int argc, struct arg *argv);
/* SCRIPT KILL (is_eval) / FUNCTION KILL: replies OK, NOTBUSY, UNKILLABLE or BUSY. */
void busy_kill(struct cmd_ctx *c, bool is_eval);
/* FUNCTION STATS: the running_script value (a map, or null). */
void busy_reply_running_script(struct cmd_ctx *c);

#endif
