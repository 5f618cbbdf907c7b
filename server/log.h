/* server/log.h — the server log: Redis-format lines
 * (`PID:M 22 Nov 2026 01:02:03.456 * message`) to the logfile or stderr.
 * Owns: the log level and log file name. Must not touch configuration
 * parsing (the level constants LL_* live in config.h). */
#ifndef DARTER_SERVER_LOG_H
#define DARTER_SERVER_LOG_H

#include "server/config.h"

/* OR into the level to write the message as-is, without the line prefix. */
#define LL_RAW (1 << 10)

/* Call once at startup, before other threads run. logfile "" means stderr.
 * The third argument is unused (the role character is always 'M'). */
void log_init(int level, const char *logfile, int role_char_unused);
/* CONFIG SET loglevel: safe to call while other threads log. */
void log_set_level(int level);
int log_get_level(void);
/* printf-style; one line per call, written with a single write(2). */
void serverlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
