/* io/loop.h — one event loop per thread: io_uring (multishot accept, multishot
 * recv into a provided buffer ring, eventfd wake-ups) or, when io_uring cannot
 * be set up or --force-epoll is given, epoll with the same interface.
 * Owns: sockets' kernel-side operations, the per-thread buffer ring, the tick.
 * Must not know anything about Redis, keys or commands. */
#ifndef DARTER_IO_LOOP_H
#define DARTER_IO_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct io_loop;
struct io_sock;

struct io_sock_ops {
    /* Bytes arrived. The pointer is valid only during the call. */
    void (*on_data)(struct io_sock *s, const char *data, size_t len);
    /* The peer closed (err == 0) or the socket failed (err < 0). No more data follows. */
    void (*on_eof)(struct io_sock *s, int err);
    /* The send started with io_sock_send finished: err 0 when all bytes went out. */
    void (*on_sent)(struct io_sock *s, int err);
    /* Every operation on the socket is over and the fd is closed: the owner may free it. */
    void (*on_closed)(struct io_sock *s);
};

struct io_sock {
    int fd;
    const struct io_sock_ops *ops;
    struct io_loop *loop;
    const char *send_ptr;
    size_t send_left;
    unsigned inflight;
    bool recv_armed;
    bool sending;
    bool closing;
    bool closed_reported;
    bool epoll_out;
    struct io_sock *next_deferred;
    int deferred_kind;
};

typedef void (*io_accept_fn)(struct io_loop *loop, int fd, void *arg);

struct io_loop_hooks {
    void *arg;
    /* Process queued work (mailboxes). Return true if more is already waiting. */
    bool (*poll_work)(void *arg);
    /* Called before the loop may sleep: flush output. */
    void (*before_sleep)(void *arg);
    /* Is there work that must not wait for a kernel event? Checked after
     * announcing sleep, to close the race with wake-ups. */
    bool (*has_work)(void *arg);
    /* Periodic tick every tick_ms. */
    void (*on_tick)(void *arg);
    unsigned tick_ms;
};

/* Create a loop. force_epoll selects the fallback; *used_uring tells which. */
struct io_loop *io_loop_new(bool force_epoll, bool *used_uring, char *err, size_t errlen);
void io_loop_free(struct io_loop *loop);
bool io_loop_uses_uring(const struct io_loop *loop);
/* Can this process set up an io_uring with the flags darter wants? */
bool io_uring_available(char *why, size_t whylen);

int io_loop_listen(struct io_loop *loop, int listen_fd, io_accept_fn fn, void *arg);
void io_sock_start(struct io_loop *loop, struct io_sock *s, int fd, const struct io_sock_ops *ops);
/* One send at a time per socket; data stays valid until on_sent. */
void io_sock_send(struct io_sock *s, const void *data, size_t len);
/* Start closing; on_closed follows once nothing is in flight. */
void io_sock_close(struct io_sock *s);

/* Wake `to` if it sleeps. `from` is the caller's own loop, or NULL from a
 * thread without a loop. Safe from any thread. */
void io_loop_wake(struct io_loop *from, struct io_loop *to);
/* Run until io_loop_stop is called from the loop's own thread. */
void io_loop_run(struct io_loop *loop, const struct io_loop_hooks *hooks);
void io_loop_stop(struct io_loop *loop);
/* Report the completions already there, without waiting, from inside the
 * loop's own hooks (a long-running task serving its sockets meanwhile). Does
 * nothing when called while completions are being reported. */
void io_loop_poll_events(struct io_loop *loop);
/* Submit whatever is queued without waiting (used when work keeps arriving). */
void io_loop_flush(struct io_loop *loop);

/* Open a listening TCP socket with SO_REUSEPORT; returns fd or -errno. */
int io_listen_tcp(const char *host, int port, int backlog);
/* Fails with -EADDRINUSE if anything (another darter with SO_REUSEPORT
 * included) listens there already. */
int io_probe_tcp(const char *host, int port);
int io_listen_unix(const char *path, int perm, int backlog);

#endif
