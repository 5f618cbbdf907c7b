/* tests/integration/harness.c — process control, hiredis and raw-socket
 * helpers for the integration tests (see harness.h). Servers die with the
 * test process (PR_SET_PDEATHSIG) even if a test crashes before .fini. */
#include "harness.h"

#include "cluster/slot.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REDIS_SERVER "/usr/bin/redis-server"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int harness_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind: %s", strerror(errno));
    socklen_t sl = sizeof(a);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---------- processes ---------- */

static void print_log_tail(const struct server *s)
{
    FILE *f = fopen(s->log, "r");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > 8192 ? size - 8192 : 0;
    fseek(f, from, SEEK_SET);
    char chunk[8193];
    size_t n = fread(chunk, 1, sizeof(chunk) - 1, f);
    chunk[n] = 0;
    fclose(f);
    fprintf(stderr, "---- %s log (port %d) ----\n%s\n---- end of log ----\n",
            s->is_redis ? "redis-server" : "darter-server", s->port, chunk);
}

static bool ping_ok(int port)
{
    struct raw *r = raw_try_connect(port);
    if (!r)
        return false;
    bool ok = false;
    if (raw_sends(r, "*1\r\n$4\r\nPING\r\n")) {
        struct pollfd pfd = {r->fd, POLLIN, 0};
        if (poll(&pfd, 1, 1000) == 1) {
            char b[64];
            ssize_t n = recv(r->fd, b, sizeof(b) - 1, 0);
            if (n > 0) {
                b[n] = 0;
                /* PONG, or NOAUTH when a password is required: it is up */
                ok = strncmp(b, "+PONG", 5) == 0 || strncmp(b, "-NOAUTH", 7) == 0;
            }
        }
    }
    raw_close(r);
    return ok;
}

static pid_t spawn(struct server *s, const char *const *argv)
{
    snprintf(s->log, sizeof(s->log), "/tmp/darter-test-%d-XXXXXX", (int)getpid());
    int logfd = mkstemp(s->log);
    cr_assert_geq(logfd, 0, "mkstemp: %s", strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(logfd, STDOUT_FILENO);
        dup2(logfd, STDERR_FILENO);
        close(logfd);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            close(devnull);
        }
        signal(SIGPIPE, SIG_DFL);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(logfd);
    return pid;
}

/* argv without the port: the port goes into argv[port_index]. */
static void start_with(struct server *s, const char **argv, int port_index)
{
    signal(SIGPIPE, SIG_IGN);
    char portstr[16];
    for (int attempt = 0; attempt < 5; attempt++) {
        s->port = harness_free_port();
        snprintf(portstr, sizeof(portstr), "%d", s->port);
        argv[port_index] = portstr;
        s->pid = spawn(s, argv);
        long long deadline = now_ms() + HARNESS_START_TIMEOUT_MS;
        bool exited = false;
        while (now_ms() < deadline) {
            int st;
            if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
                exited = true;
                break;
            }
            if (ping_ok(s->port)) {
                /* make sure it is our process that answered */
                if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
                    exited = true;
                    break;
                }
                return;
            }
            sleep_ms(10);
        }
        if (!exited) {
            print_log_tail(s);
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
            unlink(s->log);
            s->pid = 0;
            cr_assert_fail("%s did not answer PING within %d ms", argv[0], HARNESS_START_TIMEOUT_MS);
        }
        /* exited at start: maybe the port was taken meanwhile; retry */
        print_log_tail(s);
        unlink(s->log);
        s->pid = 0;
    }
    cr_assert_fail("%s failed to start 5 times", argv[0]);
}

#define MAX_ARGS 64

void server_startv(struct server *s, int threads, const char *const *extra)
{
    memset(s, 0, sizeof(*s));
    const char *bin = getenv("DARTER_SERVER");
    cr_assert_not_null(bin, "DARTER_SERVER is not set (run through meson test)");
    cr_assert_eq(access(bin, X_OK), 0, "%s: %s", bin, strerror(errno));
    s->threads = threads;
    char tstr[16];
    snprintf(tstr, sizeof(tstr), "%d", threads);
    const char *argv[MAX_ARGS];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "--port";
    int port_index = n++;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--threads";
    argv[n++] = tstr;
    /* persist: no save points by default (a stop would write ./dump.rdb and
     * the next start would load it); tests that persist pass --save/--dir */
    argv[n++] = "--save";
    argv[n++] = "";
    for (int i = 0; extra && extra[i]; i++) {
        cr_assert_lt(n, MAX_ARGS - 1);
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    start_with(s, argv, port_index);
}

void server_start(struct server *s, int threads, ...)
{
    const char *extra[MAX_ARGS];
    int n = 0;
    va_list ap;
    va_start(ap, threads);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) {
        cr_assert_lt(n, MAX_ARGS - 1);
        extra[n++] = a;
    }
    va_end(ap);
    extra[n] = NULL;
    server_startv(s, threads, extra);
}

void redis_start(struct server *s, ...)
{
    memset(s, 0, sizeof(*s));
    if (access(REDIS_SERVER, X_OK) != 0)
        cr_skip_test("%s is not installed", REDIS_SERVER);
    s->is_redis = true;
    s->threads = 1;
    const char *argv[MAX_ARGS];
    int n = 0;
    argv[n++] = REDIS_SERVER;
    argv[n++] = "--port";
    int port_index = n++;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--save";
    argv[n++] = "";
    argv[n++] = "--appendonly";
    argv[n++] = "no";
    argv[n++] = "--dir";
    argv[n++] = "/tmp";
    /* a file of our own: a stray /tmp/dump.rdb must not be loaded into the peer */
    static char dbfile[64];
    snprintf(dbfile, sizeof(dbfile), "darter-peer-%d.rdb", (int)getpid());
    argv[n++] = "--dbfilename";
    argv[n++] = dbfile;
    argv[n++] = "--daemonize";
    argv[n++] = "no";
    va_list ap;
    va_start(ap, s);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) {
        cr_assert_lt(n, MAX_ARGS - 1);
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;
    start_with(s, argv, port_index);
}

bool server_alive(struct server *s)
{
    if (!s->pid)
        return false;
    int st;
    return waitpid(s->pid, &st, WNOHANG) == 0;
}

bool server_log_contains(const struct server *s, const char *text, int ms)
{
    long long deadline = now_ms() + ms;
    for (;;) {
        FILE *f = fopen(s->log, "r");
        if (!f)
            return false;
        char line[4096];
        bool found = false;
        while (!found && fgets(line, sizeof(line), f))
            found = strstr(line, text) != NULL;
        fclose(f);
        if (found)
            return true;
        if (now_ms() >= deadline)
            return false;
        sleep_ms(10);
    }
}

int server_stop(struct server *s)
{
    if (!s->pid)
        return -1;
    int st = 0;
    pid_t got = waitpid(s->pid, &st, WNOHANG);
    if (got == 0) {
        kill(s->pid, SIGTERM);
        long long deadline = now_ms() + HARNESS_STOP_TIMEOUT_MS;
        while ((got = waitpid(s->pid, &st, WNOHANG)) == 0 && now_ms() < deadline)
            sleep_ms(5);
        if (got == 0) {
            fprintf(stderr, "server on port %d ignored SIGTERM for %d ms: SIGKILL\n", s->port,
                    HARNESS_STOP_TIMEOUT_MS);
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
        }
    }
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        print_log_tail(s);
    unlink(s->log);
    s->pid = 0;
    return st;
}

void server_stop_clean(struct server *s)
{
    cr_assert_neq(s->pid, 0, "no server to stop");
    int port = s->port;
    int st = server_stop(s);
    cr_assert(WIFEXITED(st), "server on port %d did not exit by itself on SIGTERM (%s %d)", port,
              WIFSIGNALED(st) ? "signal" : "status", WIFSIGNALED(st) ? WTERMSIG(st) : st);
    cr_assert_eq(WEXITSTATUS(st), 0, "server on port %d exited %d on SIGTERM", port, WEXITSTATUS(st));
}

/* ---------- hiredis ---------- */

redisContext *hconnect(const struct server *s)
{
    struct timeval tv = {HARNESS_IO_TIMEOUT_MS / 1000, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
    cr_assert_not_null(c);
    cr_assert_eq(c->err, 0, "connect to %d: %s", s->port, c->errstr);
    redisSetTimeout(c, tv);
    return c;
}

redisReply *hcmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    cr_assert_not_null(r, "'%s': connection error: %s", fmt, c->errstr);
    return r;
}

redisReply *hcmdv(redisContext *c, int argc, const char **argv, const size_t *lens)
{
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    cr_assert_not_null(r, "'%s': connection error: %s", argv[0], c->errstr);
    return r;
}

static const char *type_name(int t)
{
    switch (t) {
    case REDIS_REPLY_STRING: return "string";
    case REDIS_REPLY_ARRAY: return "array";
    case REDIS_REPLY_INTEGER: return "integer";
    case REDIS_REPLY_NIL: return "nil";
    case REDIS_REPLY_STATUS: return "status";
    case REDIS_REPLY_ERROR: return "error";
    default: return "?";
    }
}

static void expect_text(redisReply *r, int type, const char *s)
{
    cr_assert_not_null(r);
    int rt = r->type;
    char got[256];
    snprintf(got, sizeof(got), "%s", (rt == REDIS_REPLY_STRING || rt == REDIS_REPLY_STATUS ||
                                      rt == REDIS_REPLY_ERROR) && r->str ? r->str : "");
    long long iv = r->integer;
    bool ok = rt == type && (rt == REDIS_REPLY_STRING ? r->len == strlen(s) && memcmp(r->str, s, r->len) == 0
                                                      : strcmp(r->str, s) == 0);
    freeReplyObject(r);
    cr_assert(ok, "expected %s '%s', got %s '%s' (int %lld)", type_name(type), s, type_name(rt), got, iv);
}

void expect_status(redisReply *r, const char *s) { expect_text(r, REDIS_REPLY_STATUS, s); }
void expect_error(redisReply *r, const char *s) { expect_text(r, REDIS_REPLY_ERROR, s); }
void expect_bulk(redisReply *r, const char *s) { expect_text(r, REDIS_REPLY_STRING, s); }

void expect_int(redisReply *r, long long v)
{
    cr_assert_not_null(r);
    int rt = r->type;
    long long got = r->integer;
    char str[128];
    snprintf(str, sizeof(str), "%s", r->str ? r->str : "");
    freeReplyObject(r);
    cr_assert(rt == REDIS_REPLY_INTEGER && got == v, "expected integer %lld, got %s %lld '%s'", v, type_name(rt),
              got, str);
}

void expect_nil(redisReply *r)
{
    cr_assert_not_null(r);
    int rt = r->type;
    char str[128];
    snprintf(str, sizeof(str), "%s", r->str ? r->str : "");
    freeReplyObject(r);
    cr_assert_eq(rt, REDIS_REPLY_NIL, "expected nil, got %s '%s'", type_name(rt), str);
}

/* ---------- raw sockets ---------- */

struct raw *raw_try_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    struct raw *r = calloc(1, sizeof(*r));
    r->fd = fd;
    return r;
}

struct raw *raw_connect(int port)
{
    struct raw *r = raw_try_connect(port);
    cr_assert_not_null(r, "connect to %d: %s", port, strerror(errno));
    return r;
}

void raw_close(struct raw *r)
{
    if (!r)
        return;
    close(r->fd);
    free(r->buf);
    free(r);
}

/* Read what is available into the buffer. Returns false on EOF/error. */
static bool raw_fill(struct raw *r)
{
    for (;;) {
        if (r->off && r->off >= r->len / 2) {
            memmove(r->buf, r->buf + r->off, r->len - r->off);
            r->len -= r->off;
            r->off = 0;
        }
        if (r->cap - r->len < 65536) {
            r->cap = r->cap ? r->cap * 2 : 131072;
            r->buf = realloc(r->buf, r->cap + 1);
            cr_assert_not_null(r->buf);
        }
        ssize_t n = recv(r->fd, r->buf + r->len, r->cap - r->len, 0);
        if (n > 0) {
            r->len += (size_t)n;
            continue;
        }
        if (n == 0) {
            r->eof = true;
            return false;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return true;
        r->eof = true; /* ECONNRESET and friends */
        return false;
    }
}

bool raw_send(struct raw *r, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        struct pollfd pfd = {r->fd, POLLIN | POLLOUT, 0};
        int pr = poll(&pfd, 1, HARNESS_IO_TIMEOUT_MS);
        cr_assert_gt(pr, 0, "send stalled for %d ms", HARNESS_IO_TIMEOUT_MS);
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            if (!raw_fill(r) && (pfd.revents & POLLERR || r->eof))
                return false;
        }
        if (pfd.revents & POLLOUT) {
            ssize_t w = send(r->fd, c, n, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    continue;
                return false;
            }
            c += w;
            n -= (size_t)w;
        }
    }
    return true;
}

bool raw_sends(struct raw *r, const char *s) { return raw_send(r, s, strlen(s)); }

static ssize_t reply_at(const char *b, size_t len, size_t pos);

static ssize_t line_end(const char *b, size_t len, size_t pos)
{
    for (size_t i = pos; i + 1 < len; i++)
        if (b[i] == '\r' && b[i + 1] == '\n')
            return (ssize_t)i;
    return 0;
}

static ssize_t reply_at(const char *b, size_t len, size_t pos)
{
    if (pos >= len)
        return 0;
    ssize_t e = line_end(b, len, pos);
    if (e == 0)
        return 0;
    size_t next = (size_t)e + 2;
    char t = b[pos];
    long long n = 0;
    switch (t) {
    case '+': case '-': case ':': case ',': case '_': case '#': case '(':
        return (ssize_t)next;
    case '$': case '=': case '!': {
        n = strtoll(b + pos + 1, NULL, 10);
        if (n < 0)
            return (ssize_t)next;
        if (len < next + (size_t)n + 2)
            return 0;
        return (ssize_t)(next + (size_t)n + 2);
    }
    case '*': case '~': case '>': case '%': case '|': {
        n = strtoll(b + pos + 1, NULL, 10);
        if (n < 0)
            return (ssize_t)next;
        if (t == '%' || t == '|')
            n *= 2;
        size_t p = next;
        for (long long i = 0; i < n; i++) {
            ssize_t q = reply_at(b, len, p);
            if (q <= 0)
                return q;
            p = (size_t)q;
        }
        if (t == '|') /* an attribute precedes the reply it describes */
            return reply_at(b, len, p);
        return (ssize_t)p;
    }
    default:
        return -1;
    }
}

ssize_t resp_reply_len(const char *buf, size_t len) { return reply_at(buf, len, 0); }

char *raw_reply(struct raw *r, size_t *lenp)
{
    long long deadline = now_ms() + HARNESS_IO_TIMEOUT_MS;
    for (;;) {
        ssize_t n = resp_reply_len(raw_pending(r), raw_pending_len(r));
        cr_assert_geq(n, 0, "malformed reply: %s", printable(raw_pending(r), raw_pending_len(r)));
        if (n > 0) {
            char *out = malloc((size_t)n + 1);
            memcpy(out, raw_pending(r), (size_t)n);
            out[n] = 0;
            r->off += (size_t)n;
            if (lenp)
                *lenp = (size_t)n;
            return out;
        }
        if (r->eof)
            return NULL;
        long long left = deadline - now_ms();
        if (left <= 0)
            return NULL;
        struct pollfd pfd = {r->fd, POLLIN, 0};
        if (poll(&pfd, 1, (int)left) > 0)
            raw_fill(r);
    }
}

void raw_expect(struct raw *r, const char *want)
{
    size_t wlen = strlen(want), got = 0;
    while (got < wlen) {
        size_t n;
        char *rep = raw_reply(r, &n);
        cr_assert_not_null(rep, "expected %s, the connection gave nothing more (eof=%d)", printable(want, wlen),
                           r->eof);
        bool same = got + n <= wlen && memcmp(want + got, rep, n) == 0;
        if (!same) {
            char shown[600];
            snprintf(shown, sizeof(shown), "%s", printable(rep, n));
            free(rep);
            cr_assert_fail("expected %s, got %s", printable(want + got, wlen - got), shown);
        }
        got += n;
        free(rep);
    }
}

void raw_shutdown_write(struct raw *r) { cr_assert_eq(shutdown(r->fd, SHUT_WR), 0, "shutdown: %s", strerror(errno)); }

bool raw_wait_closed(struct raw *r, int ms)
{
    long long deadline = now_ms() + ms;
    while (!r->eof) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return false;
        struct pollfd pfd = {r->fd, POLLIN, 0};
        if (poll(&pfd, 1, (int)left) > 0)
            raw_fill(r);
    }
    return true;
}

const char *printable(const char *p, size_t n)
{
    static _Thread_local char out[512];
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n && o < sizeof(out) - 8; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\r') {
            out[o++] = '\\';
            out[o++] = 'r';
        } else if (ch == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (ch < 32 || ch >= 127 || ch == '"' || ch == '\\') {
            o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    if (o >= sizeof(out) - 8) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = 0;
    return out;
}

/* ---------- keys and threads ---------- */

int slot_thread(unsigned slot, int nthreads) { return (int)((long)slot * nthreads / CLUSTER_SLOTS); }

int key_thread(const char *key, int nthreads) { return slot_thread(key_hash_slot(key, strlen(key)), nthreads); }

char *key_on_thread(char *buf, size_t cap, const char *prefix, int thread, int nthreads, int idx)
{
    cr_assert(thread >= 0 && thread < nthreads);
    int found = 0;
    for (long n = 0; n < 100000000; n++) {
        int w = snprintf(buf, cap, "%s%ld", prefix, n);
        cr_assert(w > 0 && (size_t)w < cap, "key buffer too small");
        if (key_thread(buf, nthreads) == thread && found++ == idx)
            return buf;
    }
    cr_assert_fail("no key for thread %d", thread);
    return NULL;
}
