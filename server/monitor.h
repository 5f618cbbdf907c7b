/* server/monitor.h — MONITOR's hooks (cmd_monitor.c): feeding commands to
 * monitors on any thread, flushing the per-iteration batch, connections
 * leaving monitor mode. */
#ifndef DARTER_SERVER_MONITOR_H
#define DARTER_SERVER_MONITOR_H

#include "server/server.h"

/* Is there a monitor on any thread? (this thread's count, kept by message) */
static inline bool monitor_active(const struct worker *w)
{
    return w->monitor && *(const int *)w->monitor > 0;
}
void monitor_feed_slow(struct worker *w, const struct conn *c, int db, int argc, const struct arg *argv);
/* A command ran on this thread: c its client, NULL for a script's call ([db lua]). */
static inline void monitor_feed(struct worker *w, const struct conn *c, int db, int argc, const struct arg *argv)
{
    if (monitor_active(w))
        monitor_feed_slow(w, c, db, argc, argv);
}
/* Does MONITOR show this command? As Redis, admin commands never; scripts
 * (SKIP_MONITOR, but yielding) are, before their calls. */
static inline bool monitor_shows(const struct command *cmd)
{
    return !(cmd->flags & CMD_ADMIN) && (!(cmd->flags & CMD_SKIP_MONITOR) || (cmd->mso && cmd->mso->yields));
}
/* Once per loop iteration: send the fed lines to the threads with monitors. */
void monitor_flush(struct worker *w);
/* QUIT / RESET / close: the connection stops monitoring. */
void monitor_conn_gone(struct conn *c);

#endif
