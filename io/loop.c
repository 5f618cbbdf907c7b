/* io/loop.c — the per-thread event loop (see loop.h).
 * io_uring backend: SINGLE_ISSUER|DEFER_TASKRUN ring, multishot accept,
 * multishot recv with a provided buffer ring registered by hand (liburing 2.3
 * has no io_uring_setup_buf_ring), and an eventfd (read armed in the ring) to
 * be woken by another thread. epoll backend: the same contract with readiness
 * and read()/write().
 * Must not touch anything above io/: no keys, no RESP, no command state. */
#include "io/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <mimalloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RING_ENTRIES 1024
#define BUF_COUNT 256
#define BUF_SIZE (16 * 1024)
#define BUF_GROUP 0
#define EPOLL_READ_SIZE (64 * 1024)

enum op_tag { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_EVENTFD };
#define TAG_MASK 7ull

enum deferred_kind { DEFER_SENT = 1, DEFER_CLOSED };

struct listener {
    int fd;
    io_accept_fn fn;
    void *arg;
    struct listener *next;
};

struct io_loop {
    bool uring;
    bool stop;
    _Atomic int sleeping;
    int wake_fd; /* eventfd: wake-ups from threads without a ring */
    uint64_t wake_val;
    struct listener *listeners;
    struct io_sock *deferred; /* completions to report from the loop */
    /* io_uring */
    struct io_uring ring;
    struct io_uring_buf_ring *br;
    char *bufs;
    unsigned br_mask;
    bool wake_armed;
    int in_events;  /* completions are being reported: io_loop_poll_events must not nest */
    /* epoll */
    int epfd;
    char *rdbuf;
};

static inline uint64_t tag(void *p, enum op_tag t) { return (uint64_t)(uintptr_t)p | t; }
static inline void *untag(uint64_t v) { return (void *)(uintptr_t)(v & ~TAG_MASK); }
static inline enum op_tag tag_of(uint64_t v) { return (enum op_tag)(v & TAG_MASK); }

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---------- io_uring backend ---------- */

static int uring_setup(struct io_uring *ring)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    p.flags |= IORING_SETUP_CQSIZE;
    p.cq_entries = RING_ENTRIES * 8;
    return io_uring_queue_init_params(RING_ENTRIES, ring, &p);
}

bool io_uring_available(char *why, size_t whylen)
{
    struct io_uring ring;
    int rc = uring_setup(&ring);
    if (rc < 0) {
        snprintf(why, whylen, "io_uring_queue_init failed: %s", strerror(-rc));
        return false;
    }
    io_uring_queue_exit(&ring);
    return true;
}

static struct io_uring_sqe *get_sqe(struct io_loop *l)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
    while (!sqe) {
        io_uring_submit(&l->ring);
        sqe = io_uring_get_sqe(&l->ring);
    }
    return sqe;
}

static int uring_init_bufs(struct io_loop *l)
{
    size_t ring_bytes = BUF_COUNT * sizeof(struct io_uring_buf);
    void *mem = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED)
        return -errno;
    l->br = mem;
    io_uring_buf_ring_init(l->br);
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (uint64_t)(uintptr_t)mem;
    reg.ring_entries = BUF_COUNT;
    reg.bgid = BUF_GROUP;
    int rc = io_uring_register_buf_ring(&l->ring, &reg, 0);
    if (rc < 0)
        return rc;
    l->bufs = mi_malloc_aligned(BUF_COUNT * BUF_SIZE, 4096);
    if (!l->bufs)
        return -ENOMEM;
    l->br_mask = (unsigned)io_uring_buf_ring_mask(BUF_COUNT);
    for (unsigned i = 0; i < BUF_COUNT; i++)
        io_uring_buf_ring_add(l->br, l->bufs + (size_t)i * BUF_SIZE, BUF_SIZE, (unsigned short)i,
                              (int)l->br_mask, (int)i);
    io_uring_buf_ring_advance(l->br, BUF_COUNT);
    return 0;
}

static void uring_arm_eventfd(struct io_loop *l)
{
    struct io_uring_sqe *sqe = get_sqe(l);
    io_uring_prep_read(sqe, l->wake_fd, &l->wake_val, sizeof(l->wake_val), 0);
    io_uring_sqe_set_data64(sqe, tag(NULL, OP_EVENTFD));
    l->wake_armed = true;
}

static void uring_arm_accept(struct io_loop *l, struct listener *ln)
{
    struct io_uring_sqe *sqe = get_sqe(l);
    io_uring_prep_multishot_accept(sqe, ln->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, tag(ln, OP_ACCEPT));
}

static void uring_arm_recv(struct io_loop *l, struct io_sock *s)
{
    struct io_uring_sqe *sqe = get_sqe(l);
    io_uring_prep_recv_multishot(sqe, s->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP;
    io_uring_sqe_set_data64(sqe, tag(s, OP_RECV));
    s->recv_armed = true;
    s->inflight++;
}

static void uring_send_some(struct io_loop *l, struct io_sock *s)
{
    struct io_uring_sqe *sqe = get_sqe(l);
    io_uring_prep_send(sqe, s->fd, s->send_ptr, s->send_left, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, tag(s, OP_SEND));
    s->inflight++;
}

/* ---------- shared socket bookkeeping ---------- */

static void defer(struct io_loop *l, struct io_sock *s, int kind)
{
    s->deferred_kind = kind;
    s->next_deferred = l->deferred;
    l->deferred = s;
}

static void finish_close_if_idle(struct io_loop *l, struct io_sock *s)
{
    if (!s->closing || s->inflight || s->closed_reported)
        return;
    s->closed_reported = true;
    if (!l->uring && s->fd >= 0)
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, NULL);
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    defer(l, s, DEFER_CLOSED);
}

static void run_deferred(struct io_loop *l)
{
    while (l->deferred) {
        struct io_sock *list = l->deferred;
        l->deferred = NULL;
        /* reverse to report in order of occurrence */
        struct io_sock *rev = NULL;
        while (list) {
            struct io_sock *n = list->next_deferred;
            list->next_deferred = rev;
            rev = list;
            list = n;
        }
        while (rev) {
            struct io_sock *n = rev->next_deferred;
            int kind = rev->deferred_kind;
            rev->next_deferred = NULL;
            if (kind == DEFER_SENT)
                rev->ops->on_sent(rev, 0);
            else if (kind == DEFER_CLOSED)
                rev->ops->on_closed(rev);
            rev = n;
        }
    }
}

/* ---------- io_uring completions ---------- */

static void uring_on_recv(struct io_loop *l, struct io_sock *s, struct io_uring_cqe *cqe)
{
    bool more = cqe->flags & IORING_CQE_F_MORE;
    if (cqe->res > 0) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        char *data = l->bufs + (size_t)bid * BUF_SIZE;
        if (!s->closing)
            s->ops->on_data(s, data, (size_t)cqe->res);
        io_uring_buf_ring_add(l->br, data, BUF_SIZE, (unsigned short)bid, (int)l->br_mask, 0);
        io_uring_buf_ring_advance(l->br, 1);
    }
    if (more)
        return;
    s->inflight--;
    s->recv_armed = false;
    if (s->closing) {
        finish_close_if_idle(l, s);
        return;
    }
    if (cqe->res > 0 || cqe->res == -ENOBUFS) {
        uring_arm_recv(l, s);
        return;
    }
    s->ops->on_eof(s, cqe->res);
}

static void uring_on_send(struct io_loop *l, struct io_sock *s, int res)
{
    s->inflight--;
    if (s->closing) {
        s->sending = false;
        finish_close_if_idle(l, s);
        return;
    }
    if (res < 0) {
        s->sending = false;
        s->ops->on_sent(s, res);
        return;
    }
    s->send_ptr += res;
    s->send_left -= (size_t)res;
    if (s->send_left) {
        uring_send_some(l, s);
        return;
    }
    s->sending = false;
    s->ops->on_sent(s, 0);
}

static void uring_on_accept(struct io_loop *l, struct listener *ln, struct io_uring_cqe *cqe)
{
    if (cqe->res >= 0)
        ln->fn(l, cqe->res, ln->arg);
    if (!(cqe->flags & IORING_CQE_F_MORE) && !l->stop)
        uring_arm_accept(l, ln);
}

static void uring_process(struct io_loop *l)
{
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    io_uring_for_each_cqe(&l->ring, head, cqe) {
        n++;
        uint64_t ud = cqe->user_data;
        switch (tag_of(ud)) {
        case OP_RECV: uring_on_recv(l, untag(ud), cqe); break;
        case OP_SEND: uring_on_send(l, untag(ud), cqe->res); break;
        case OP_ACCEPT: uring_on_accept(l, untag(ud), cqe); break;
        case OP_EVENTFD: l->wake_armed = false; break;
        default: break;
        }
    }
    io_uring_cq_advance(&l->ring, n);
}

/* ---------- epoll backend ---------- */

static int epoll_add(struct io_loop *l, int fd, uint32_t events, uint64_t data)
{
    struct epoll_event ev = {.events = events, .data.u64 = data};
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void epoll_set_out(struct io_loop *l, struct io_sock *s, bool on)
{
    if (s->epoll_out == on)
        return;
    struct epoll_event ev = {.events = (s->recv_armed ? EPOLLIN : 0) | (on ? EPOLLOUT : 0),
                             .data.u64 = tag(s, OP_RECV)};
    epoll_ctl(l->epfd, EPOLL_CTL_MOD, s->fd, &ev);
    s->epoll_out = on;
}

static void epoll_try_send(struct io_loop *l, struct io_sock *s)
{
    while (s->send_left) {
        ssize_t n = send(s->fd, s->send_ptr, s->send_left, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            epoll_set_out(l, s, true);
            return;
        }
        if (n < 0) {
            s->sending = false;
            s->send_left = 0;
            epoll_set_out(l, s, false);
            s->ops->on_sent(s, -errno);
            return;
        }
        s->send_ptr += n;
        s->send_left -= (size_t)n;
    }
    epoll_set_out(l, s, false);
    s->sending = false;
    defer(l, s, DEFER_SENT);
}

static void epoll_on_readable(struct io_loop *l, struct io_sock *s)
{
    for (int rounds = 0; rounds < 16 && !s->closing; rounds++) {
        ssize_t n = recv(s->fd, l->rdbuf, EPOLL_READ_SIZE, 0);
        if (n > 0) {
            s->ops->on_data(s, l->rdbuf, (size_t)n);
            if ((size_t)n < EPOLL_READ_SIZE)
                return;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        int err = n == 0 ? 0 : -errno;
        s->recv_armed = false;
        /* keep the fd registered (sends may still need EPOLLOUT), stop reading */
        struct epoll_event ev = {.events = s->epoll_out ? EPOLLOUT : 0, .data.u64 = tag(s, OP_RECV)};
        epoll_ctl(l->epfd, EPOLL_CTL_MOD, s->fd, &ev);
        s->ops->on_eof(s, err);
        return;
    }
}

static void epoll_on_accept(struct io_loop *l, struct listener *ln)
{
    for (;;) {
        int fd = accept4(ln->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        ln->fn(l, fd, ln->arg);
    }
}

static void epoll_process(struct io_loop *l, int timeout_ms)
{
    struct epoll_event evs[256];
    int n = epoll_wait(l->epfd, evs, 256, timeout_ms);
    for (int i = 0; i < n; i++) {
        uint64_t ud = evs[i].data.u64;
        switch (tag_of(ud)) {
        case OP_ACCEPT: epoll_on_accept(l, untag(ud)); break;
        case OP_EVENTFD: {
            uint64_t v;
            ssize_t r = read(l->wake_fd, &v, sizeof(v));
            (void)r;
            break;
        }
        case OP_RECV: {
            struct io_sock *s = untag(ud);
            if (s->closing)
                break;
            if ((evs[i].events & EPOLLOUT) && s->sending)
                epoll_try_send(l, s);
            if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && s->recv_armed)
                epoll_on_readable(l, s);
            break;
        }
        default: break;
        }
    }
}

/* ---------- public interface ---------- */

struct io_loop *io_loop_new(bool force_epoll, bool *used_uring, char *err, size_t errlen)
{
    struct io_loop *l = mi_zalloc(sizeof(*l));
    l->epfd = -1;
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wake_fd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        mi_free(l);
        return NULL;
    }
    if (!force_epoll) {
        int rc = uring_setup(&l->ring);
        if (rc == 0) {
            rc = uring_init_bufs(l);
            if (rc == 0) {
                l->uring = true;
                uring_arm_eventfd(l);
            } else {
                io_uring_queue_exit(&l->ring);
            }
        }
    }
    if (!l->uring) {
        l->epfd = epoll_create1(EPOLL_CLOEXEC);
        l->rdbuf = mi_malloc(EPOLL_READ_SIZE);
        epoll_add(l, l->wake_fd, EPOLLIN, tag(NULL, OP_EVENTFD));
    }
    if (used_uring)
        *used_uring = l->uring;
    return l;
}

void io_loop_free(struct io_loop *l)
{
    if (!l)
        return;
    if (l->uring) {
        io_uring_queue_exit(&l->ring);
        munmap(l->br, BUF_COUNT * sizeof(struct io_uring_buf));
        mi_free(l->bufs);
    } else {
        close(l->epfd);
        mi_free(l->rdbuf);
    }
    struct listener *ln = l->listeners;
    while (ln) {
        struct listener *n = ln->next;
        mi_free(ln);
        ln = n;
    }
    close(l->wake_fd);
    mi_free(l);
}

bool io_loop_uses_uring(const struct io_loop *l) { return l->uring; }

int io_loop_listen(struct io_loop *l, int listen_fd, io_accept_fn fn, void *arg)
{
    struct listener *ln = mi_zalloc(sizeof(*ln));
    ln->fd = listen_fd;
    ln->fn = fn;
    ln->arg = arg;
    ln->next = l->listeners;
    l->listeners = ln;
    if (l->uring) {
        uring_arm_accept(l, ln);
        return 0;
    }
    return epoll_add(l, listen_fd, EPOLLIN, tag(ln, OP_ACCEPT));
}

void io_sock_start(struct io_loop *l, struct io_sock *s, int fd, const struct io_sock_ops *ops)
{
    memset(s, 0, sizeof(*s));
    s->fd = fd;
    s->ops = ops;
    s->loop = l;
    if (l->uring) {
        uring_arm_recv(l, s);
    } else {
        s->recv_armed = true;
        epoll_add(l, fd, EPOLLIN, tag(s, OP_RECV));
    }
}

void io_sock_send(struct io_sock *s, const void *data, size_t len)
{
    struct io_loop *l = s->loop;
    s->send_ptr = data;
    s->send_left = len;
    s->sending = true;
    if (l->uring)
        uring_send_some(l, s);
    else
        epoll_try_send(l, s);
}

void io_sock_close(struct io_sock *s)
{
    struct io_loop *l = s->loop;
    if (s->closing)
        return;
    s->closing = true;
    if (s->fd >= 0)
        shutdown(s->fd, SHUT_RDWR);
    if (!l->uring) {
        s->inflight = 0;
        s->sending = false;
    }
    finish_close_if_idle(l, s);
}

/* Wake-ups always go through the target's eventfd, never IORING_OP_MSG_RING.
 * A msg_ring data message to a DEFER_TASKRUN ring is delivered as remote task
 * work with a lazy wake; with threads waking each other ~10^5 times a second
 * (every multi-shard hop) that pattern made the kernel (6.18, 2 CPUs) hand
 * both CPUs to one server's ping-ponging threads for 30-130 s while every
 * other runnable task (its own clients, other servers, even a nice -15 shell)
 * waited on the run queue: the test_atomic "stalls". The eventfd write is an
 * ordinary wake-up (as in the epoll backend, which never showed it) and costs
 * one syscall per wake of a sleeping thread. The same flood of msg_ring
 * requests (each freed through RCU) also piled up gigabytes of unreclaimable
 * kernel memory on that starved machine within a minute; eventfd writes
 * allocate nothing. */
void io_loop_wake(struct io_loop *from, struct io_loop *to)
{
    (void)from;
    /* Dekker with io_loop_run: the caller published work (a ring push) before
     * this load, the target announces sleep before checking for work. Without
     * a full fence the load may pass the push (store->load reordering) and
     * both sides miss each other until the next tick. */
    atomic_thread_fence(memory_order_seq_cst);
    if (!atomic_load_explicit(&to->sleeping, memory_order_acquire))
        return;
    if (!atomic_exchange_explicit(&to->sleeping, 0, memory_order_acq_rel))
        return;
    uint64_t one = 1;
    ssize_t r = write(to->wake_fd, &one, sizeof(one));
    (void)r;
}

void io_loop_stop(struct io_loop *l) { l->stop = true; }

void io_loop_flush(struct io_loop *l)
{
    if (l->uring)
        io_uring_submit(&l->ring);
}

static void loop_wait(struct io_loop *l, unsigned timeout_ms)
{
    if (l->uring) {
        if (!l->wake_armed)
            uring_arm_eventfd(l);
        struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000,
                                       .tv_nsec = (long long)(timeout_ms % 1000) * 1000000};
        struct io_uring_cqe *cqe = NULL;
        int rc = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
        (void)rc;
        l->in_events++;
        uring_process(l);
        l->in_events--;
    } else {
        l->in_events++;
        epoll_process(l, (int)timeout_ms);
        l->in_events--;
    }
}

static void loop_poll_nowait(struct io_loop *l)
{
    l->in_events++;
    if (l->uring) {
        io_uring_submit_and_get_events(&l->ring);
        uring_process(l);
    } else {
        epoll_process(l, 0);
    }
    l->in_events--;
}

void io_loop_poll_events(struct io_loop *l)
{
    if (l->in_events)
        return;
    loop_poll_nowait(l);
    run_deferred(l);
}

void io_loop_run(struct io_loop *l, const struct io_loop_hooks *h)
{
    uint64_t next_tick = now_ms() + h->tick_ms;
    while (!l->stop) {
        bool more = h->poll_work(h->arg);
        run_deferred(l);
        h->before_sleep(h->arg);
        run_deferred(l);
        if (l->stop)
            break;
        uint64_t now = now_ms();
        if (now >= next_tick) {
            h->on_tick(h->arg);
            next_tick = now + h->tick_ms;
            continue;
        }
        if (more || l->deferred) {
            loop_poll_nowait(l);
            continue;
        }
        atomic_store_explicit(&l->sleeping, 1, memory_order_seq_cst);
        if (h->has_work(h->arg)) {
            atomic_store_explicit(&l->sleeping, 0, memory_order_relaxed);
            loop_poll_nowait(l);
            continue;
        }
        loop_wait(l, (unsigned)(next_tick - now));
        atomic_store_explicit(&l->sleeping, 0, memory_order_relaxed);
    }
    /* Let closes settle so owners can free their sockets. */
    if (l->uring)
        io_uring_submit(&l->ring);
    run_deferred(l);
}

/* ---------- listening sockets ---------- */

static int listen_tcp(const char *host, int port, int backlog, bool reuseport);

int io_listen_tcp(const char *host, int port, int backlog)
{
    return listen_tcp(host, port, backlog, true);
}

int io_probe_tcp(const char *host, int port)
{
    int fd = listen_tcp(host, port, 1, false);
    if (fd >= 0)
        close(fd);
    return fd < 0 ? fd : 0;
}

static int listen_tcp(const char *host, int port, int backlog, bool reuseport)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    if (strcmp(host, "*") == 0)
        host = NULL;
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0)
        return -EADDRNOTAVAIL;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return -errno;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (res->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
        int e = errno;
        close(fd);
        freeaddrinfo(res);
        return -e;
    }
    freeaddrinfo(res);
    return fd;
}

int io_listen_unix(const char *path, int perm, int backlog)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (perm)
        chmod(path, (mode_t)perm);
    return fd;
}
