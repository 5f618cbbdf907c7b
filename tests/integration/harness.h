/* tests/integration/harness.h — what every integration test needs: start a
 * real darter-server ($DARTER_SERVER) or a redis-server peer on a free port,
 * wait for PING, stop it (SIGTERM, SIGKILL after 5 s) and check it exited 0;
 * hiredis connections; raw sockets that send bytes and read whole RESP
 * replies byte for byte; keys that land on a chosen worker thread. */
#ifndef DARTER_TESTS_HARNESS_H
#define DARTER_TESTS_HARNESS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HARNESS_START_TIMEOUT_MS 10000
#define HARNESS_STOP_TIMEOUT_MS 5000
/* A safety net for reads, never a timing assertion. */
#define HARNESS_IO_TIMEOUT_MS 10000

struct server {
    pid_t pid;        /* 0: not running */
    int port;
    int threads;
    bool is_redis;    /* a redis-server peer */
    char log[128];    /* the server's stdout/stderr; removed on stop */
};

/* Start $DARTER_SERVER --port P --bind 127.0.0.1 --threads N [extra...]
 * (NULL-terminated) and wait until it answers PING. Fails the test if it
 * does not come up in 10 s (a port taken meanwhile is retried). */
void server_start(struct server *s, int threads, ...) __attribute__((sentinel));
void server_startv(struct server *s, int threads, const char *const *extra);
/* Start /usr/bin/redis-server (no persistence) the same way; skips the test
 * if it is not installed. */
void redis_start(struct server *s, ...) __attribute__((sentinel));
/* SIGTERM, wait up to 5 s, then SIGKILL. Returns the wait status (or -1 if
 * nothing ran). Removes the log file; prints its tail if the exit was not 0. */
int server_stop(struct server *s);
/* server_stop, then assert a clean exit 0 on SIGTERM. Call it at the end of
 * a test body: Criterion 2.4 ignores assertions made in .fini, so .fini only
 * cleans up (server_stop) after a failed test. */
void server_stop_clean(struct server *s);
/* The process is still running. */
bool server_alive(struct server *s);
/* The server's log contains `text` (waits up to `ms` for it to appear:
 * a server may answer PING before it logs its start-up lines). */
bool server_log_contains(const struct server *s, const char *text, int ms);

/* ---------- hiredis ---------- */

redisContext *hconnect(const struct server *s);
/* redisCommand that fails the test on a connection error. */
redisReply *hcmd(redisContext *c, const char *fmt, ...);
redisReply *hcmdv(redisContext *c, int argc, const char **argv, const size_t *lens);
/* Assertions on a reply (the reply is freed). */
void expect_status(redisReply *r, const char *s);
void expect_error(redisReply *r, const char *s);
void expect_bulk(redisReply *r, const char *s);
void expect_int(redisReply *r, long long v);
void expect_nil(redisReply *r);

/* ---------- raw sockets ---------- */

struct raw {
    int fd;
    char *buf;       /* buf[off .. len) was read and not yet returned */
    size_t off, len, cap;
    bool eof;
};

/* Bytes received and not yet returned as replies. */
static inline const char *raw_pending(const struct raw *r) { return r->buf ? r->buf + r->off : ""; }
static inline size_t raw_pending_len(const struct raw *r) { return r->len - r->off; }

struct raw *raw_connect(int port);
/* Connect, but report failure instead of failing the test. */
struct raw *raw_try_connect(int port);
void raw_close(struct raw *r);
/* Send all bytes; replies arriving meanwhile are buffered (no deadlock on
 * huge pipelines). Returns false if the peer closed the connection. */
bool raw_send(struct raw *r, const void *p, size_t n);
bool raw_sends(struct raw *r, const char *s);
/* The next complete reply, NUL-terminated (malloc'd; *len without the NUL),
 * or NULL on EOF or after HARNESS_IO_TIMEOUT_MS. */
char *raw_reply(struct raw *r, size_t *len);
/* Read replies and compare with `want` exactly (several replies may be given
 * concatenated). */
void raw_expect(struct raw *r, const char *want);
/* Close our sending side (shutdown SHUT_WR): the server sees EOF. */
void raw_shutdown_write(struct raw *r);
/* True when the server closed the connection (whatever it sent first is
 * kept in the buffer), false if it stayed open for `ms`. */
bool raw_wait_closed(struct raw *r, int ms);
/* Byte length of the first complete RESP2/RESP3 reply in buf, 0 when more
 * bytes are needed, -1 when malformed. */
ssize_t resp_reply_len(const char *buf, size_t len);
/* A printable rendering (escapes CR/LF and binary) for messages; static buffer. */
const char *printable(const char *p, size_t n);

/* ---------- keys and threads ---------- */

/* Slots are split in contiguous ranges: thread = slot * N / 16384. */
int slot_thread(unsigned slot, int nthreads);
int key_thread(const char *key, int nthreads);
/* The idx-th key "<prefix><n>" (n = 0, 1, ...) whose slot belongs to
 * `thread` of `nthreads`. Returns buf. */
char *key_on_thread(char *buf, size_t cap, const char *prefix, int thread, int nthreads, int idx);

int harness_free_port(void);

#endif
