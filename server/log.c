/* server/log.c — the server log (see log.h).
 * Owns: the log level and log file name, which are file-scope statics. The
 * file name is set once by log_init() at startup before any other thread
 * starts and is read-only afterwards; the level is atomic because CONFIG SET
 * loglevel may change it while workers log.
 * Must not touch: configuration parsing, stdio buffers (each line is
 * formatted on the stack and written with one write(2), O_APPEND, so lines
 * from different threads never interleave). */
#include "server/log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_MAX_LEN 1024 /* longest message kept, as in Redis */

static _Atomic int log_level = LL_NOTICE;
static char log_path[CFG_STR_MAX]; /* "" = stderr; written only by log_init */

void log_init(int level, const char *logfile, int role_char_unused)
{
    (void)role_char_unused;
    atomic_store(&log_level, level);
    snprintf(log_path, sizeof(log_path), "%s", logfile ? logfile : "");
}

void log_set_level(int level)
{
    atomic_store(&log_level, level);
}

int log_get_level(void)
{
    return atomic_load(&log_level);
}

/* "22 Nov 2026 01:02:03.456" */
static void format_time(char *out, size_t outlen)
{
    struct timeval tv;
    struct tm tm;

    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    size_t off = strftime(out, outlen, "%d %b %Y %H:%M:%S.", &tm);
    snprintf(out + off, outlen - off, "%03d", (int)(tv.tv_usec / 1000));
}

static void write_line(const char *buf, size_t len)
{
    int fd = STDERR_FILENO;

    if (log_path[0] != '\0') {
        fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return;
    }
    ssize_t n = write(fd, buf, len);
    (void)n; /* nowhere to report a failed log write */
    if (fd != STDERR_FILENO)
        close(fd);
}

void serverlog(int level, const char *fmt, ...)
{
    static const char marks[] = ".-*#";
    bool raw = (level & LL_RAW) != 0;
    char msg[LOG_MAX_LEN];
    char line[LOG_MAX_LEN + 128];
    char when[64];
    va_list ap;

    level &= 0xff;
    if (level < atomic_load(&log_level) || level < LL_DEBUG || level > LL_WARNING)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (raw) {
        write_line(msg, strlen(msg));
        return;
    }
    format_time(when, sizeof(when));
    int n = snprintf(line, sizeof(line), "%d:M %s %c %s\n", (int)getpid(), when, marks[level], msg);
    if (n < 0)
        return;
    write_line(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}
