/* server/notify.c — sd_notify wrapper; see notify.h. Safe from any thread:
 * no state of its own, and sd_notify sends each message on a fresh socket
 * (systemd's NotifyAccess=main accepts any thread of the main process).
 * NOTIFY_SOCKET stays in the environment (unset_environment = 0) because
 * STOPPING=1 is sent long after READY=1. */
#include "server/notify.h"
#include "server/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

static int notify_enabled(void)
{
    const char *s = getenv("NOTIFY_SOCKET");
    return s && s[0];
}

static void notify_send(const char *msg)
{
    int r = sd_notify(0, msg);
    if (r < 0)
        serverlog(LL_WARNING, "sd_notify failed: %s", strerror(-r));
}

void notify_ready(void)
{
    if (!notify_enabled())
        return;
    notify_send("READY=1\nSTATUS=Ready to accept connections");
    serverlog(LL_NOTICE, "Notified the service manager that the server is ready");
}

void notify_status(const char *fmt, ...)
{
    if (!notify_enabled())
        return;
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "STATUS=");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    va_end(ap);
    /* one STATUS line: a newline would start another (bogus) assignment */
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            *p = ' ';
    notify_send(buf);
}

void notify_stopping(void)
{
    if (!notify_enabled())
        return;
    notify_send("STOPPING=1\nSTATUS=Shutting down");
}
