/* server/notify.h — readiness and status reports to a service manager
 * (systemd's sd_notify protocol). Every call is a no-op unless the process
 * was started with NOTIFY_SOCKET set (Type=notify units), so darter run by
 * hand or under other supervisors behaves exactly as before. */
#ifndef DARTER_NOTIFY_H
#define DARTER_NOTIFY_H

/* READY=1 with STATUS=Ready to accept connections. Call once the server
 * accepts and serves clients (after any data is loaded). */
void notify_ready(void);

/* STATUS=<printf-formatted text>: free-form line shown by systemctl status. */
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* STOPPING=1 with STATUS=Shutting down: call when a shutdown begins. */
void notify_stopping(void);

#endif
