/* server/conn.c — client connections on the thread that accepted them:
 * query buffer and parsing, limits (maxclients, client-query-buffer-limit,
 * proto-max-bulk-len), reply ordering (replies are written in request order
 * even when commands finish on other threads out of order), output flushing.
 * Owns: struct conn and its lifetime. Must not touch keyspace data: commands
 * reach the shards through dispatch.c. */
#include "server/server.h"
#include "server/blocking.h" /* blocking: hooks */
#include "server/log.h"
#include "server/multi.h" /* multi: hooks */
#include "server/pubsub.h" /* pubsub: hooks */
#include "server/tracking.h" /* tracking: hooks */
#include "server/monitor.h" /* monitor: hooks */

#include <arpa/inet.h>
#include <errno.h>
#include <mimalloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_ARGV_STACK 64

static void conn_on_data(struct io_sock *s, const char *data, size_t len);
static void conn_on_eof(struct io_sock *s, int err);
static void conn_on_sent(struct io_sock *s, int err);
static void conn_on_closed(struct io_sock *s);

static const struct io_sock_ops conn_ops = {
    .on_data = conn_on_data,
    .on_eof = conn_on_eof,
    .on_sent = conn_on_sent,
    .on_closed = conn_on_closed,
};

/* "ip:port" of a socket address, as Redis prints it in CLIENT LIST. */
static void format_addr(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        port = ntohs(in->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, outlen, "%s:%d", ip, port);
}

static void format_peer(int fd, bool is_unix, char *addr, size_t alen, char *laddr, size_t llen)
{
    if (is_unix) {
        snprintf(addr, alen, "/unixsocket:0");
        snprintf(laddr, llen, "/unixsocket:0");
        return;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    getpeername(fd, (struct sockaddr *)&ss, &sl);
    format_addr(&ss, addr, alen);
    sl = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    format_addr(&ss, laddr, llen);
}

static const char PROTECTED_MODE_ERR[] =
    "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for "
    "the default user. In this mode connections are only accepted from the loopback interface. If you want to "
    "connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable "
    "protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by "
    "connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly "
    "accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) "
    "Alternatively you can just disable the protected mode by editing the Redis configuration file, and "
    "setting the protected mode option to 'no', and then restarting the server. 3) If you started the server "
    "manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an "
    "authentication password for the default user. NOTE: You only need to do one of the above things in "
    "order for the server to start accepting connections from the outside.\r\n";

/* Loopback peers: 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
static bool peer_is_local(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        return false;
    if (ss.ss_family == AF_INET)
        return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return true;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return ss.ss_family == AF_UNIX;
}

static void reject_connection(struct worker *w, int fd, const char *msg)
{
    ssize_t r = write(fd, msg, strlen(msg));
    (void)r;
    close(fd);
    w->stats.rejected_connections++;
}

void conn_accept(struct worker *w, int fd, bool is_unix)
{
    if (w->stopping) {
        close(fd);
        return;
    }
    uint32_t total = atomic_fetch_add(&g_total_clients, 1) + 1;
    if (total > (uint32_t)w->cfg.maxclients) {
        atomic_fetch_sub(&g_total_clients, 1);
        reject_connection(w, fd, "-ERR max number of clients reached\r\n");
        return;
    }
    if (!is_unix && w->cfg.protected_mode && !w->cfg.requirepass[0] && !peer_is_local(fd)) {
        atomic_fetch_sub(&g_total_clients, 1);
        reject_connection(w, fd, PROTECTED_MODE_ERR);
        return;
    }
    if (!is_unix) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (w->cfg.tcp_keepalive > 0)
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    }
    struct conn *c = mi_zalloc(sizeof(*c));
    c->w = w;
    c->id = atomic_fetch_add(&g_next_client_id, 1);
    c->resp = 2;
    c->authenticated = w->cfg.requirepass[0] == 0;
    c->ctime_ms = c->last_ms = w->now_ms;
    c->last_cmd = "NULL";
    if (is_unix)
        c->flags |= CONN_UNIX;
    buf_init(&c->query);
    buf_init(&c->out[0]);
    buf_init(&c->out[1]);
    resp_parser_init(&c->parser);
    c->parser.max_bulk = w->cfg.proto_max_bulk_len;
    c->parser.authenticated = c->authenticated;
    format_peer(fd, is_unix, c->addr, sizeof(c->addr), c->laddr, sizeof(c->laddr));
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    w->stats.total_connections++;
    io_sock_start(w->loop, &c->sock, fd, &conn_ops);
}

/* ---------- replies in request order ---------- */

struct buf *conn_begin_reply(struct conn *c, struct pending **pend)
{
    if (!c->phead && !c->silence_current) {
        *pend = NULL;
        conn_queue_flush(c);
        return &c->out[c->out_active];
    }
    *pend = conn_defer_reply(c);
    return &(*pend)->out;
}

void conn_end_reply(struct conn *c, struct pending *pend)
{
    if (pend)
        conn_pending_done(c, pend);
}

struct pending *conn_defer_reply(struct conn *c)
{
    struct pending *p = mi_zalloc(sizeof(*p));
    buf_init(&p->out);
    p->discard = c->silence_current;
    if (c->ptail)
        c->ptail->next = p;
    else
        c->phead = p;
    c->ptail = p;
    return p;
}

static void drain_pending(struct conn *c)
{
    while (c->phead && c->phead->done) {
        struct pending *p = c->phead;
        struct buf *o = &c->out[c->out_active];
        if (p->discard) {
            /* CLIENT REPLY OFF/SKIP: dropped */
        } else if (o->len == 0 && o->cap < p->out.cap) {
            /* hand the buffer over instead of copying */
            struct buf tmp = *o;
            *o = p->out;
            p->out = tmp;
        } else if (p->out.len) {
            buf_put(o, p->out.data, p->out.len);
        }
        if (p->action == PEND_CLOSE)
            c->flags |= CONN_CLOSE_AFTER_REPLY;
        c->phead = p->next;
        if (!c->phead)
            c->ptail = NULL;
        buf_free(&p->out);
        mi_free(p);
    }
    conn_queue_flush(c);
}

void conn_pending_done(struct conn *c, struct pending *p)
{
    p->done = true;
    if (c->phead == p)
        drain_pending(c);
}

void conn_queue_flush(struct conn *c)
{
    if (c->flush_queued)
        return;
    c->flush_queued = true;
    c->next_flush = c->w->flush_list;
    c->w->flush_list = c;
}

static void conn_start_send(struct conn *c)
{
    if (c->send_in_flight || c->sock_closed || c->closing)
        return;
    struct buf *o = &c->out[c->out_active];
    if (!o->len) {
        if ((c->flags & (CONN_CLOSE_AFTER_REPLY | CONN_PEER_EOF)) && !c->phead && !c->paused)
            conn_close(c);
        return;
    }
    c->out_active ^= 1;
    c->send_in_flight = true;
    c->w->stats.net_output_bytes += o->len;
    io_sock_send(&c->sock, o->data, o->len);
}

void conn_flush_all(struct worker *w)
{
    while (w->flush_list) {
        struct conn *c = w->flush_list;
        w->flush_list = c->next_flush;
        c->flush_queued = false;
        conn_start_send(c);
    }
}

static void conn_on_sent(struct io_sock *s, int err)
{
    struct conn *c = (struct conn *)s;
    c->send_in_flight = false;
    struct buf *sent = &c->out[c->out_active ^ 1];
    sent->len = 0;
    buf_shrink(sent);
    if (err < 0) {
        conn_close(c);
        return;
    }
    if (c->out[c->out_active].len || (c->flags & (CONN_CLOSE_AFTER_REPLY | CONN_PEER_EOF)))
        conn_queue_flush(c);
    if (c->paused && !c->phead)
        conn_resume(c);
}

/* ---------- input ---------- */

static void protocol_error(struct conn *c, const char *msg)
{
    struct pending *pend;
    struct reply r = {conn_begin_reply(c, &pend), c->resp};
    reply_error(&r, msg);
    conn_end_reply(c, pend);
    c->flags |= CONN_CLOSE_AFTER_REPLY;
    serverlog(LL_VERBOSE, "Protocol error (%s) from client: id=%llu addr=%s", msg, (unsigned long long)c->id,
              c->addr);
}

static void run_parsed(struct conn *c)
{
    struct resp_parser *p = &c->parser;
    struct arg stackv[MAX_ARGV_STACK];
    struct arg *argv = p->argc <= MAX_ARGV_STACK ? stackv : mi_malloc(sizeof(struct arg) * (size_t)p->argc);
    for (int i = 0; i < p->argc; i++) {
        argv[i].p = c->query.data + p->argv[i].off;
        argv[i].len = p->argv[i].len;
    }
    int argc = p->argc;
    resp_parser_next(p);
    dispatch_command(c, argc, argv);
    if (argv != stackv)
        mi_free(argv);
}

/* Parse and run what the query buffer holds, until it needs more bytes,
 * the connection pauses for a multi-shard operation, or it closes. */
static void process_input(struct conn *c)
{
    c->parser.max_bulk = c->w->cfg.proto_max_bulk_len;
    while (!c->closing && !c->paused && !(c->flags & CONN_CLOSE_AFTER_REPLY)) {
        enum resp_status st = resp_parse(&c->parser, c->query.data, c->query.len);
        if (st == RESP_NEED_MORE)
            break;
        if (st == RESP_ERROR) {
            protocol_error(c, c->parser.error);
            break;
        }
        if (st == RESP_EMPTY) {
            resp_parser_next(&c->parser);
            continue;
        }
        run_parsed(c);
    }
    /* drop consumed bytes */
    size_t used = c->parser.kind == '*' && c->parser.argc ? c->parser.argv[0].off : c->parser.pos;
    if (c->parser.kind == '*' && !c->parser.argc)
        used = c->parser.pos;
    c->qbuf_running = c->paused ? used : 0; /* Redis keeps them in querybuf until the command ends */
    if (used) {
        buf_consume(&c->query, used);
        resp_parser_shift(&c->parser, used);
    }
    if (!c->query.len)
        buf_shrink(&c->query);
}

static void check_query_limit(struct conn *c)
{
    if (c->query.len > (size_t)c->w->cfg.client_query_buffer_limit) {
        serverlog(LL_WARNING, "Closing client that reached max query buffer length: id=%llu addr=%s qbuf=%zu",
                  (unsigned long long)c->id, c->addr, c->query.len);
        conn_close(c);
    }
}

static void conn_on_data(struct io_sock *s, const char *data, size_t len)
{
    struct conn *c = (struct conn *)s;
    if (c->closing)
        return;
    c->w->stats.net_input_bytes += len;
    /* the loop may have slept since the clock was read: commands must see now */
    c->w->now_ms = mstime();
    c->last_ms = c->w->now_ms;
    buf_put(&c->query, data, len);
    if (c->query.len > c->qbuf_peak)
        c->qbuf_peak = c->query.len;
    if (!c->paused)
        process_input(c);
    /* what is left is one incomplete request (or requests waiting behind a
     * multi-shard operation): that is what the limit bounds */
    if (!c->closing && !c->paused)
        check_query_limit(c);
}

void conn_resume(struct conn *c)
{
    c->paused = false;
    c->qbuf_running = 0;
    if (!c->closing && c->query.len)
        process_input(c);
    if (c->flags & CONN_PEER_EOF)
        conn_queue_flush(c);
}

/* ---------- closing ---------- */

/* The peer stopped sending: answer what it sent, then close (as Redis). */
static void conn_on_eof(struct io_sock *s, int err)
{
    struct conn *c = (struct conn *)s;
    if (err < 0) {
        conn_close(c);
        return;
    }
    if (blocking_conn_is_blocked(c)) { /* blocking: a blocked client that hangs up is gone (as Redis) */
        conn_close(c);
        return;
    }
    c->flags |= CONN_PEER_EOF;
    conn_queue_flush(c);
}

void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    pubsub_conn_closed(c); /* pubsub: drop the connection's subscriptions */
    tracking_conn_closed(c); /* tracking: drop its state and BCAST prefixes */
    blocking_conn_closed(c); /* blocking: withdraw from the keys it waits on */
    monitor_conn_gone(c); /* monitor: leaves monitor mode */
    struct worker *w = c->w;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    w->nconns--;
    atomic_fetch_sub(&g_total_clients, 1);
    io_sock_close(&c->sock);
}

static void conn_free(struct conn *c)
{
    multi_conn_free(c); /* multi: drop MULTI state, unwatch */
    struct pending *p = c->phead;
    while (p) {
        struct pending *n = p->next;
        buf_free(&p->out);
        mi_free(p);
        p = n;
    }
    buf_free(&c->query);
    buf_free(&c->out[0]);
    buf_free(&c->out[1]);
    resp_parser_free(&c->parser);
    mi_free(c->name);
    mi_free(c);
}

static void conn_on_closed(struct io_sock *s)
{
    struct conn *c = (struct conn *)s;
    c->sock_closed = true;
    /* remove from the flush list lazily: a queued flush of a closed conn is skipped */
    if (c->flush_queued) {
        struct conn **link = &c->w->flush_list;
        while (*link && *link != c)
            link = &(*link)->next_flush;
        if (*link)
            *link = c->next_flush;
        c->flush_queued = false;
    }
    if (c->inflight == 0)
        conn_free(c);
}

/* A remote operation referencing the connection came back. */
void conn_release(struct conn *c)
{
    c->inflight--;
    if (c->inflight == 0 && c->sock_closed)
        conn_free(c);
}

void conn_check_timeouts(struct worker *w)
{
    if (w->cfg.timeout <= 0)
        return;
    int64_t limit = w->cfg.timeout * 1000;
    struct conn *c = w->conns;
    while (c) {
        struct conn *n = c->next;
        /* as Redis, subscribers wait for messages: never idle */
        if (!c->phead && !c->paused && w->now_ms - c->last_ms > limit &&
            !pubsub_conn_counts(c, NULL, NULL, NULL)) {
            serverlog(LL_VERBOSE, "Closing idle client");
            conn_close(c);
        }
        c = n;
    }
}

void conn_describe(struct conn *c, struct buf *out)
{
    char line[1024];
    int64_t now = c->w->now_ms;
    int sub, psub, ssub; /* pubsub: subscription counts and the P flag */
    char flags[16], *fp = flags;
    if (pubsub_conn_counts(c, &sub, &psub, &ssub))
        *fp++ = 'P';
    if (blocking_conn_is_blocked(c)) /* blocking */
        *fp++ = 'b';
    int64_t redir = tracking_conn_flags(c, &fp); /* tracking: t R B flags, redir= */
    if (fp == flags)
        *fp++ = 'N';
    *fp = 0;
    int n = snprintf(line, sizeof(line),
                     "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d sub=%d psub=%d "
                     "ssub=%d multi=-1 qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=0 rbs=%zu rbp=%zu obl=%zu "
                     "oll=0 omem=0 tot-mem=%zu events=r cmd=%s user=default redir=%lld resp=%d\n",
                     (unsigned long long)c->id, c->addr, c->laddr, c->sock.fd, c->name ? c->name : "",
                     (long long)((now - c->ctime_ms) / 1000), (long long)((now - c->last_ms) / 1000), flags, c->db,
                     sub, psub, ssub, c->query.len + c->qbuf_running, c->query.cap - c->query.len, c->out[0].cap, (size_t)c->qbuf_peak,
                     c->out[c->out_active].len, sizeof(*c) + c->query.cap + c->out[0].cap + c->out[1].cap,
                     c->last_cmd, (long long)redir, c->resp);
    buf_put(out, line, (size_t)n);
}
