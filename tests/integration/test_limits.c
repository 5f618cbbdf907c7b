/* tests/integration/test_limits.c — bad and oversized input: malformed RESP
 * gets Redis's error and the connection is closed (bytes compared with a
 * redis-server peer); bulk lengths above --proto-max-bulk-len, a query buffer
 * above --client-query-buffer-limit, --maxclients, a huge multibulk count,
 * too big inline requests, a NUL byte in an inline request, and a pipeline
 * 100,000 commands deep. After each, another client must be unaffected. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct server srv;
static struct server peer;

static void down(void)
{
    server_stop(&srv);
    server_stop(&peer);
}

static void up4(void) { server_start(&srv, 4, NULL); }
static void up1(void) { server_start(&srv, 1, NULL); }
static void up_bulk1mb(void) { server_start(&srv, 4, "--proto-max-bulk-len", "1mb", NULL); }
static void up_qbuf1mb(void)
{
    server_start(&srv, 4, "--client-query-buffer-limit", "1mb", "--proto-max-bulk-len", "100mb", NULL);
}
static void up_maxclients(void) { server_start(&srv, 4, "--maxclients", "10", NULL); }

TestSuite(limits, .fini = down, .timeout = 300);

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A fresh client can write and read keys on every thread. */
static void other_client_ok(void)
{
    cr_assert(server_alive(&srv), "the server died");
    redisContext *c = hconnect(&srv);
    for (int t = 0; t < srv.threads; t++) {
        char k[32];
        key_on_thread(k, sizeof(k), "ok:", t, srv.threads, 0);
        expect_status(hcmd(c, "SET %s fine", k), "OK");
        expect_bulk(hcmd(c, "GET %s", k), "fine");
    }
    expect_status(hcmd(c, "PING"), "PONG");
    redisFree(c);
}

/* Send `in`, expect exactly `reply` and then the connection closed. */
static void expect_error_and_close(int port, const char *in, size_t inlen, const char *reply)
{
    struct raw *r = raw_connect(port);
    raw_send(r, in, inlen); /* may fail midway once the server closed */
    raw_expect(r, reply);
    cr_assert(raw_wait_closed(r, 10000), "connection left open after %s", printable(reply, strlen(reply)));
    cr_assert_eq(raw_pending_len(r), 0, "bytes after the error: %s", printable(raw_pending(r), raw_pending_len(r)));
    raw_close(r);
}

static const struct {
    const char *in;
    const char *reply;
} malformed[] = {
    {"*1\r\nfoo\r\n", "-ERR Protocol error: expected '$', got 'f'\r\n"},
    {"*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
    {"*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
    {"*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
    {"*3000000000\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
    {"*2147483648\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
    {"ECHO \"unbalanced\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
    {"ECHO 'a'b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
    {"PING\r\n*1\r\n:1\r\nPING\r\n", "+PONG\r\n-ERR Protocol error: expected '$', got ':'\r\n"},
    {"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$-5\r\nPING\r\n",
     "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"},
};

Test(limits, malformed_resp_error_and_close, .init = up4)
{
    redisContext *bystander = hconnect(&srv);
    expect_status(hcmd(bystander, "SET before x"), "OK");
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        expect_error_and_close(srv.port, malformed[i].in, strlen(malformed[i].in), malformed[i].reply);
        /* a connection opened before keeps working */
        expect_bulk(hcmd(bystander, "GET before"), "x");
    }
    redisFree(bystander);
    other_client_ok();
    server_stop_clean(&srv);
}

Test(limits, malformed_resp_matches_redis, .init = up4)
{
    redis_start(&peer, NULL);
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        /* redis-server itself gives the expected bytes and closes */
        expect_error_and_close(peer.port, malformed[i].in, strlen(malformed[i].in), malformed[i].reply);
        expect_error_and_close(srv.port, malformed[i].in, strlen(malformed[i].in), malformed[i].reply);
    }
    other_client_ok();
    server_stop_clean(&srv);
}

Test(limits, bulk_above_proto_max_bulk_len, .init = up_bulk1mb)
{
    redisContext *bystander = hconnect(&srv);
    const char *over = "*2\r\n$4\r\nECHO\r\n$1048577\r\n";
    expect_error_and_close(srv.port, over, strlen(over), "-ERR Protocol error: invalid bulk length\r\n");
    const char *huge = "*2\r\n$4\r\nECHO\r\n$9223372036854775807\r\n";
    expect_error_and_close(srv.port, huge, strlen(huge), "-ERR Protocol error: invalid bulk length\r\n");
    /* many clients announcing the biggest bulk: nothing is reserved up front
     * that would take the server down */
    struct raw *rs[50];
    for (int i = 0; i < 50; i++) {
        rs[i] = raw_connect(srv.port);
        raw_sends(rs[i], "*2\r\n$4\r\nECHO\r\n$1048576\r\n");
    }
    expect_status(hcmd(bystander, "PING"), "PONG");
    /* exactly the limit is accepted */
    char *big = malloc(1048576 + 64);
    int n = snprintf(big, 64, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$1048576\r\n");
    memset(big + n, 'b', 1048576);
    memcpy(big + n + 1048576, "\r\n", 2);
    struct raw *r = raw_connect(srv.port);
    cr_assert(raw_send(r, big, (size_t)n + 1048576 + 2));
    raw_expect(r, "+OK\r\n");
    raw_sends(r, "STRLEN big\r\n");
    raw_expect(r, ":1048576\r\n");
    raw_close(r);
    free(big);
    for (int i = 0; i < 50; i++)
        raw_close(rs[i]);
    expect_int(hcmd(bystander, "STRLEN big"), 1048576);
    redisFree(bystander);
    other_client_ok();
    server_stop_clean(&srv);
}

Test(limits, query_buffer_limit_closes, .init = up_qbuf1mb)
{
    redisContext *bystander = hconnect(&srv);
    /* a 5mb bulk (allowed by proto-max-bulk-len) of which 2mb arrive: the
     * query buffer passes 1mb and the connection is closed */
    struct raw *r = raw_connect(srv.port);
    const char *head = "*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$5000000\r\n";
    cr_assert(raw_sends(r, head));
    size_t chunk = 64 * 1024, sent = 0;
    char *data = malloc(chunk);
    memset(data, 'q', chunk);
    while (sent < 2 * 1024 * 1024 && raw_send(r, data, chunk))
        sent += chunk;
    free(data);
    cr_assert(raw_wait_closed(r, 10000), "connection with a 2mb query buffer left open (limit 1mb)");
    cr_assert_eq(raw_pending_len(r), 0, "a reply was sent: %s", printable(raw_pending(r), raw_pending_len(r)));
    raw_close(r);
    expect_status(hcmd(bystander, "PING"), "PONG");
    expect_int(hcmd(bystander, "EXISTS q"), 0);
    /* below the limit is fine */
    char *half = malloc(600000 + 64);
    int n = snprintf(half, 64, "*3\r\n$3\r\nSET\r\n$1\r\nh\r\n$600000\r\n");
    memset(half + n, 'h', 600000);
    memcpy(half + n + 600000, "\r\n", 2);
    r = raw_connect(srv.port);
    cr_assert(raw_send(r, half, (size_t)n + 600002));
    raw_expect(r, "+OK\r\n");
    raw_close(r);
    free(half);
    expect_int(hcmd(bystander, "STRLEN h"), 600000);
    redisFree(bystander);
    other_client_ok();
    server_stop_clean(&srv);
}

/* Connect and PING; NULL if the server refused with the max-clients error. */
static struct raw *client_or_refused(bool *refused)
{
    struct raw *r = raw_connect(srv.port);
    raw_sends(r, "PING\r\n");
    size_t n;
    char *rep = raw_reply(r, &n);
    cr_assert_not_null(rep, "no reply to PING");
    *refused = strcmp(rep, "-ERR max number of clients reached\r\n") == 0;
    if (!*refused)
        cr_assert_str_eq(rep, "+PONG\r\n");
    free(rep);
    if (*refused) {
        cr_assert(raw_wait_closed(r, 10000), "refused connection left open");
        raw_close(r);
        return NULL;
    }
    return r;
}

/* The server notices closed connections asynchronously: retry a bounded
 * number of times while an earlier connection may still be counted. */
static struct raw *client_eventually(void)
{
    for (int attempt = 0; attempt < 500; attempt++) {
        bool refused;
        struct raw *r = client_or_refused(&refused);
        if (r)
            return r;
        sleep_ms(10);
    }
    cr_assert_fail("a connection below maxclients was refused for 5 s");
    return NULL;
}

Test(limits, maxclients, .init = up_maxclients)
{
    struct raw *c[10];
    for (int i = 0; i < 10; i++)
        c[i] = client_eventually();
    for (int i = 0; i < 3; i++) {
        bool refused;
        struct raw *extra = client_or_refused(&refused);
        cr_assert(refused, "an 11th connection was accepted with maxclients 10");
        cr_assert_null(extra);
    }
    /* the ten still work */
    for (int i = 0; i < 10; i++) {
        raw_sends(c[i], "ECHO still\r\n");
        raw_expect(c[i], "$5\r\nstill\r\n");
    }
    /* one leaves, another may come in */
    raw_close(c[0]);
    c[0] = client_eventually();
    bool refused;
    cr_assert_null(client_or_refused(&refused));
    cr_assert(refused);
    for (int i = 0; i < 10; i++)
        raw_close(c[i]);
    struct raw *last = client_eventually();
    raw_close(last);
    server_stop_clean(&srv);
}

Test(limits, huge_multibulk_count, .init = up4)
{
    redisContext *bystander = hconnect(&srv);
    expect_error_and_close(srv.port, "*3000000000\r\n", 13, "-ERR Protocol error: invalid multibulk length\r\n");
    /* INT_MAX is a valid count: the server waits for the arguments without
     * reserving space for them */
    struct raw *r = raw_connect(srv.port);
    raw_sends(r, "*2147483647\r\n$4\r\nPING\r\n");
    expect_status(hcmd(bystander, "PING"), "PONG");
    cr_assert_not(raw_wait_closed(r, 200), "the connection was closed");
    raw_close(r);
    redisFree(bystander);
    other_client_ok();
    server_stop_clean(&srv);
}

Test(limits, too_big_inline_and_count_strings, .init = up4)
{
    size_t n = 64 * 1024 + 100;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    expect_error_and_close(srv.port, big, n, "-ERR Protocol error: too big inline request\r\n");
    big[0] = '*';
    memset(big + 1, '1', n - 1);
    expect_error_and_close(srv.port, big, n, "-ERR Protocol error: too big mbulk count string\r\n");
    memcpy(big, "*1\r\n$", 5);
    memset(big + 5, '1', n - 5);
    expect_error_and_close(srv.port, big, n, "-ERR Protocol error: too big bulk count string\r\n");
    free(big);
    other_client_ok();
    server_stop_clean(&srv);
}

/* Redis ends an inline request's arguments at a NUL byte; darter once spun
 * forever on it (and grew memory without bound). The server must stay
 * responsive, on the same connection and for others. */
Test(limits, inline_nul_byte_does_not_hang, .init = up1)
{
    redisContext *bystander = hconnect(&srv);
    struct raw *r = raw_connect(srv.port);
    static const char in[] = "ECHO a\0b\r\nPING\r\n";
    raw_send(r, in, sizeof(in) - 1);
    size_t n;
    char *rep = raw_reply(r, &n);
    cr_assert_not_null(rep, "no reply after an inline request with a NUL byte");
    free(rep);
    raw_expect(r, "+PONG\r\n");
    raw_close(r);
    expect_status(hcmd(bystander, "PING"), "PONG");
    redisFree(bystander);
    other_client_ok();
    server_stop_clean(&srv);
}

Test(limits, pipeline_100k_deep, .init = up4)
{
    enum { N = 100000 };
    char keys[4][32];
    for (int t = 0; t < 4; t++)
        key_on_thread(keys[t], sizeof(keys[t]), "deep:", t, 4, 0);
    char *in = malloc((size_t)N * 64);
    size_t len = 0;
    for (int i = 0; i < N; i++) {
        const char *k = keys[i % 4];
        if (i % 10 == 9)
            len += (size_t)sprintf(in + len, "*5\r\n$4\r\nMGET\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n",
                                   strlen(keys[0]), keys[0], strlen(keys[1]), keys[1], strlen(keys[2]), keys[2],
                                   strlen(keys[3]), keys[3]);
        else
            len += (size_t)sprintf(in + len, "*2\r\n$4\r\nINCR\r\n$%zu\r\n%s\r\n", strlen(k), k);
    }
    struct raw *r = raw_connect(srv.port);
    redisContext *bystander = hconnect(&srv);
    cr_assert(raw_send(r, in, len));
    /* another client is served meanwhile */
    expect_status(hcmd(bystander, "PING"), "PONG");
    long long count[4] = {0};
    for (int i = 0; i < N; i++) {
        char want[256];
        if (i % 10 == 9) {
            int w = sprintf(want, "*4\r\n");
            for (int t = 0; t < 4; t++) {
                char num[24];
                int nl = sprintf(num, "%lld", count[t]);
                w += count[t] ? sprintf(want + w, "$%d\r\n%s\r\n", nl, num) : sprintf(want + w, "$-1\r\n");
            }
        } else {
            sprintf(want, ":%lld\r\n", ++count[i % 4]);
        }
        size_t n;
        char *rep = raw_reply(r, &n);
        cr_assert_not_null(rep, "reply %d of %d missing", i, N);
        if (strcmp(rep, want) != 0) {
            char got[300];
            snprintf(got, sizeof(got), "%s", printable(rep, n));
            cr_assert_fail("reply %d: got %s, want %s", i, got, printable(want, strlen(want)));
        }
        free(rep);
    }
    raw_close(r);
    free(in);
    expect_status(hcmd(bystander, "PING"), "PONG");
    redisFree(bystander);
    other_client_ok();
    server_stop_clean(&srv);
}

/* Send `count` copies of `cmd` in one write and expect `count` copies of
 * `reply`, in order. */
static void pipeline_same(const char *cmd, const char *reply, int count)
{
    size_t cl = strlen(cmd), rl = strlen(reply);
    char *in = malloc(cl * (size_t)count);
    for (int i = 0; i < count; i++)
        memcpy(in + cl * (size_t)i, cmd, cl);
    struct raw *r = raw_connect(srv.port);
    cr_assert(raw_send(r, in, cl * (size_t)count), "the server closed the connection while we were sending");
    free(in);
    for (int i = 0; i < count; i++) {
        size_t n;
        char *rep = raw_reply(r, &n);
        cr_assert_not_null(rep, "only %d of %d replies to a pipeline of %s arrived (eof=%d)", i, count,
                           printable(cmd, cl), r->eof);
        cr_assert(n == rl && memcmp(rep, reply, rl) == 0, "reply %d: %s", i, printable(rep, n));
        free(rep);
    }
    raw_close(r);
}

/* More complete requests than one pass of the connection's processing loop
 * handles (conn.c PROCESS_BUDGET) arrive in one read: all must be served
 * without waiting for more input. */
Test(limits, pipeline_small_inline_commands_one_thread, .init = up1)
{
    pipeline_same("PING\r\n", "+PONG\r\n", 5000);
    other_client_ok();
    server_stop_clean(&srv);
}

Test(limits, pipeline_small_multibulk_commands_four_threads, .init = up4)
{
    pipeline_same("*1\r\n$4\r\nPING\r\n", "+PONG\r\n", 20000);
    other_client_ok();
    server_stop_clean(&srv);
}

/* A long pipeline of complete small requests is not a big query buffer:
 * Redis serves 3mb of PINGs with client-query-buffer-limit 1mb. */
Test(limits, pipeline_of_complete_requests_beyond_query_buffer_limit, .init = up_qbuf1mb)
{
    pipeline_same("PING\r\n", "+PONG\r\n", 500000);
    other_client_ok();
    server_stop_clean(&srv);
}

/* Replies to requests already running on other threads come first, then
 * the protocol error, then the close. */
Test(limits, malformed_after_requests_on_other_threads, .init = up4)
{
    struct raw *r = raw_connect(srv.port);
    char in[4096], want[4096];
    size_t il = 0, wl = 0;
    for (int round = 0; round < 20; round++) {
        for (int t = 0; t < 4; t++) {
            char k[32];
            key_on_thread(k, sizeof(k), "mal:", t, 4, 0);
            il += (size_t)snprintf(in + il, sizeof(in) - il, "INCR %s\r\n", k);
            wl += (size_t)snprintf(want + wl, sizeof(want) - wl, ":%d\r\n", round + 1);
        }
    }
    il += (size_t)snprintf(in + il, sizeof(in) - il, "*1\r\n$3\r\nfoo\r\n*1\r\nfoo\r\nPING\r\n");
    snprintf(want + wl, sizeof(want) - wl,
             "-ERR unknown command 'foo', with args beginning with: \r\n"
             "-ERR Protocol error: expected '$', got 'f'\r\n");
    raw_send(r, in, il);
    raw_expect(r, want);
    cr_assert(raw_wait_closed(r, 10000), "connection left open after a protocol error");
    cr_assert_eq(raw_pending_len(r), 0, "bytes after the error: %s", printable(raw_pending(r), raw_pending_len(r)));
    raw_close(r);
    other_client_ok();
    server_stop_clean(&srv);
}

/* Clients that vanish with requests in flight on other threads, and a
 * SIGTERM while clients are mid-pipeline: no crash, exit 0. */
Test(limits, clients_vanish_mid_pipeline_then_sigterm, .init = up4)
{
    char keys[4][32];
    for (int t = 0; t < 4; t++)
        key_on_thread(keys[t], sizeof(keys[t]), "gone:", t, 4, 0);
    size_t cap = 2000 * 128, len = 0;
    char *in = malloc(cap);
    for (int i = 0; i < 2000; i++)
        len += (size_t)snprintf(in + len, cap - len, "MSET %s a %s b %s c %s d\r\nMGET %s %s %s %s\r\n", keys[0],
                                keys[1], keys[2], keys[3], keys[3], keys[2], keys[1], keys[0]);
    for (int round = 0; round < 10; round++) {
        struct raw *r = raw_connect(srv.port);
        raw_send(r, in, len);
        raw_close(r); /* without reading a single reply */
    }
    other_client_ok();
    /* and now some that are still busy when the server is told to stop */
    struct raw *busy[5];
    for (int i = 0; i < 5; i++) {
        busy[i] = raw_connect(srv.port);
        raw_send(busy[i], in, len);
    }
    free(in);
    server_stop_clean(&srv);
    for (int i = 0; i < 5; i++)
        raw_close(busy[i]);
}

/* A client that sends its requests and then shuts down its sending side
 * (`printf 'PING\r\n' | nc -N`) still gets every reply before the server
 * closes: redis-server does, and so must darter. */
static void half_close_rounds(int port, const char *who)
{
    char keys[4][32];
    for (int t = 0; t < 4; t++)
        key_on_thread(keys[t], sizeof(keys[t]), "half:", t, 4, 0);
    char in[1024], want[1024];
    snprintf(in, sizeof(in), "PING\r\nSET %s 1\r\nGET %s\r\nMGET %s %s %s %s\r\n", keys[1], keys[1], keys[0],
             keys[1], keys[2], keys[3]);
    snprintf(want, sizeof(want), "+PONG\r\n+OK\r\n$1\r\n1\r\n*4\r\n$-1\r\n$1\r\n1\r\n$-1\r\n$-1\r\n");
    for (int round = 0; round < 50; round++) {
        struct raw *r = raw_connect(port);
        cr_assert(raw_sends(r, round % 2 ? in : "PING\r\n"));
        raw_shutdown_write(r);
        cr_assert(raw_wait_closed(r, 10000), "%s, round %d: a half-closed connection was kept open", who, round);
        const char *w = round % 2 ? want : "+PONG\r\n";
        cr_assert(raw_pending_len(r) == strlen(w) && memcmp(raw_pending(r), w, strlen(w)) == 0,
                  "%s, round %d: got %s before the close", who, round, printable(raw_pending(r), raw_pending_len(r)));
        raw_close(r);
    }
}

Test(limits, half_close_after_requests_gets_all_replies, .init = up4)
{
    redis_start(&peer, NULL);
    half_close_rounds(peer.port, "redis-server");
    half_close_rounds(srv.port, "darter");
    other_client_ok();
    server_stop_clean(&srv);
}
