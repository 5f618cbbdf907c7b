/* tests/integration/test_tracking.c — client-side caching (CLIENT TRACKING)
 * against a 4-thread darter: RESP3 invalidation pushes when another client
 * changes a key living on each thread, RESP2 + REDIRECT through the
 * __redis__:invalidate channel, BCAST with prefixes, OPTIN / OPTOUT with
 * CLIENT CACHING, NOLOOP, the null invalidation of FLUSHALL, invalidation on
 * expiry, and the errors and introspection replies compared byte for byte
 * with a real redis-server. Raw sockets show the exact push bytes. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct server srv;

static void down(void) { server_stop(&srv); }
static void up4(void) { server_start(&srv, 4, NULL); }

TestSuite(tracking, .init = up4, .fini = down, .timeout = 120);

static void send_cmd(struct raw *r, const char *inline_cmd)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s\r\n", inline_cmd);
    cr_assert(raw_sends(r, buf));
}

static void cmd_expect(struct raw *r, const char *inline_cmd, const char *want)
{
    send_cmd(r, inline_cmd);
    raw_expect(r, want);
}

static char *push_key(char *out, size_t cap, const char *key)
{
    snprintf(out, cap, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$%zu\r\n%s\r\n", strlen(key), key);
    return out;
}

static void hset_key(redisContext *b, const char *key, const char *val)
{
    expect_status(hcmd(b, "SET %s %s", key, val), "OK");
}

static struct raw *resp3_tracker(const char *opts)
{
    struct raw *a = raw_connect(srv.port);
    send_cmd(a, "HELLO 3");
    free(raw_reply(a, NULL));
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "CLIENT TRACKING ON %s", opts);
    cmd_expect(a, cmd, "+OK\r\n");
    return a;
}

/* Wait until the server no longer lists client `id` (a closed socket is
 * noticed by its own thread, asynchronously); a bound, not a timing check. */
static void wait_client_gone(redisContext *c, long long id)
{
    for (int i = 0; i < 1000; i++) {
        redisReply *r = hcmd(c, "CLIENT LIST ID %lld", id);
        bool gone = r->type == REDIS_REPLY_STRING && r->len == 0;
        freeReplyObject(r);
        if (gone)
            return;
        usleep(10000);
    }
    cr_assert_fail("client %lld still listed after 10 s", id);
}

Test(tracking, resp3_invalidation_from_every_thread)
{
    struct raw *a = resp3_tracker("");
    redisContext *b = hconnect(&srv);
    char key[64], want[256];
    for (int t = 0; t < 4; t++) {
        key_on_thread(key, sizeof(key), "k", t, 4, 0);
        hset_key(b, key, "1");
        char get[96];
        snprintf(get, sizeof(get), "GET %s", key);
        cmd_expect(a, get, "$1\r\n1\r\n");
        hset_key(b, key, "2"); /* another client, maybe another thread */
        raw_expect(a, push_key(want, sizeof(want), key));
        hset_key(b, key, "3"); /* not read again: no second invalidation */
    }
    cmd_expect(a, "PING", "+PONG\r\n");
    redisFree(b);
    raw_close(a);
    server_stop_clean(&srv);
}

Test(tracking, resp2_redirect_to_subscriber)
{
    struct raw *red = raw_connect(srv.port);
    send_cmd(red, "CLIENT ID");
    char *id = raw_reply(red, NULL);
    long long rid = atoll(id + 1);
    free(id);
    cmd_expect(red, "SUBSCRIBE __redis__:invalidate", "*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n");
    struct raw *a = raw_connect(srv.port);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "CLIENT TRACKING ON REDIRECT %lld", rid);
    cmd_expect(a, cmd, "+OK\r\n");
    snprintf(cmd, sizeof(cmd), ":%lld\r\n", rid);
    send_cmd(a, "CLIENT GETREDIR");
    raw_expect(a, cmd);
    redisContext *b = hconnect(&srv);
    char key[64];
    key_on_thread(key, sizeof(key), "r", 3, 4, 0);
    hset_key(b, key, "v");
    snprintf(cmd, sizeof(cmd), "GET %s", key);
    cmd_expect(a, cmd, "$1\r\nv\r\n");
    expect_int(hcmd(b, "DEL %s", key), 1);
    char want[256];
    snprintf(want, sizeof(want), "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$%zu\r\n%s\r\n",
             strlen(key), key);
    raw_expect(red, want);
    /* the redirection target goes away: a RESP3 client is told */
    send_cmd(a, "HELLO 3");
    free(raw_reply(a, NULL));
    raw_close(red);
    wait_client_gone(b, rid); /* the close is read on its own thread */
    hset_key(b, key, "w");
    cmd_expect(a, cmd, "$1\r\nw\r\n");
    hset_key(b, key, "x");
    snprintf(want, sizeof(want), ">2\r\n$21\r\ntracking-redir-broken\r\n:%lld\r\n", rid);
    raw_expect(a, want);
    redisFree(b);
    raw_close(a);
    server_stop_clean(&srv);
}

Test(tracking, bcast_prefixes)
{
    struct raw *a = resp3_tracker("BCAST PREFIX a: PREFIX b:");
    redisContext *b = hconnect(&srv);
    expect_status(hcmd(b, "MSET a:1{x} 1 a:2{x} 2 b:1{x} 3 c:1{x} 4"), "OK");
    raw_expect(a, ">2\r\n$10\r\ninvalidate\r\n*2\r\n$6\r\na:1{x}\r\n$6\r\na:2{x}\r\n"
                  ">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\nb:1{x}\r\n");
    /* keys on other threads, one per write */
    char key[64], want[256];
    for (int t = 0; t < 4; t++) {
        key_on_thread(key, sizeof(key), "b:", t, 4, 0);
        hset_key(b, key, "1");
        raw_expect(a, push_key(want, sizeof(want), key));
    }
    cmd_expect(a, "CLIENT TRACKINGINFO",
               "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$5\r\nbcast\r\n$8\r\nredirect\r\n:0\r\n"
               "$8\r\nprefixes\r\n*2\r\n$2\r\na:\r\n$2\r\nb:\r\n");
    redisReply *info = hcmd(b, "INFO stats");
    cr_assert(strstr(info->str, "tracking_total_prefixes:2\r\n"), "%s", info->str);
    freeReplyObject(info);
    redisFree(b);
    raw_close(a);
    server_stop_clean(&srv);
}

Test(tracking, optin_optout_noloop)
{
    struct raw *a = resp3_tracker("OPTIN");
    redisContext *b = hconnect(&srv);
    char want[256];
    hset_key(b, "k1", "1");
    hset_key(b, "k2", "1");
    cmd_expect(a, "GET k1", "$1\r\n1\r\n"); /* not cached: OPTIN without CACHING yes */
    cmd_expect(a, "CLIENT CACHING yes", "+OK\r\n");
    cmd_expect(a, "GET k2", "$1\r\n1\r\n");
    hset_key(b, "k1", "2");
    hset_key(b, "k2", "2");
    raw_expect(a, push_key(want, sizeof(want), "k2"));
    cmd_expect(a, "CLIENT TRACKING OFF", "+OK\r\n");
    cmd_expect(a, "CLIENT TRACKING ON OPTOUT NOLOOP", "+OK\r\n");
    cmd_expect(a, "CLIENT CACHING no", "+OK\r\n");
    cmd_expect(a, "GET k1", "$1\r\n2\r\n"); /* not cached: OPTOUT with CACHING no */
    cmd_expect(a, "GET k2", "$1\r\n2\r\n");
    cmd_expect(a, "MGET k3 k4", "*2\r\n_\r\n_\r\n");
    cmd_expect(a, "SET k3 mine", "+OK\r\n"); /* NOLOOP: our own write is not reported */
    hset_key(b, "k1", "3");
    /* one write at a time: invalidations from two threads' shards travel on
     * different rings, so their relative order is not defined */
    hset_key(b, "k4", "3");
    raw_expect(a, push_key(want, sizeof(want), "k4"));
    hset_key(b, "k2", "3");
    raw_expect(a, push_key(want, sizeof(want), "k2"));
    cmd_expect(a, "PING", "+PONG\r\n");
    redisFree(b);
    raw_close(a);
    server_stop_clean(&srv);
}

/* Reads inside MULTI/EXEC are remembered like any other read: keys on
 * every thread, one command reading keys of several threads (MGET), and
 * OPTIN's CLIENT CACHING yes before MULTI covering the whole transaction. */
Test(tracking, reads_inside_exec)
{
    struct raw *a = resp3_tracker("");
    redisContext *b = hconnect(&srv);
    char key[4][64], want[256], cmd[256];
    for (int t = 0; t < 4; t++) {
        key_on_thread(key[t], sizeof(key[t]), "x", t, 4, 0);
        hset_key(b, key[t], "1");
    }
    cmd_expect(a, "MULTI", "+OK\r\n");
    snprintf(cmd, sizeof(cmd), "GET %s", key[0]);
    cmd_expect(a, cmd, "+QUEUED\r\n");
    snprintf(cmd, sizeof(cmd), "MGET %s %s", key[1], key[2]);
    cmd_expect(a, cmd, "+QUEUED\r\n");
    snprintf(cmd, sizeof(cmd), "STRLEN %s", key[3]);
    cmd_expect(a, cmd, "+QUEUED\r\n");
    cmd_expect(a, "EXEC", "*3\r\n$1\r\n1\r\n*2\r\n$1\r\n1\r\n$1\r\n1\r\n:1\r\n");
    for (int t = 0; t < 4; t++) {
        hset_key(b, key[t], "2");
        raw_expect(a, push_key(want, sizeof(want), key[t]));
    }
    cmd_expect(a, "CLIENT TRACKING OFF", "+OK\r\n");
    cmd_expect(a, "CLIENT TRACKING ON OPTIN", "+OK\r\n");
    cmd_expect(a, "CLIENT CACHING yes", "+OK\r\n");
    cmd_expect(a, "MULTI", "+OK\r\n");
    snprintf(cmd, sizeof(cmd), "GET %s", key[1]);
    cmd_expect(a, cmd, "+QUEUED\r\n");
    snprintf(cmd, sizeof(cmd), "GET %s", key[2]);
    cmd_expect(a, cmd, "+QUEUED\r\n");
    cmd_expect(a, "EXEC", "*2\r\n$1\r\n2\r\n$1\r\n2\r\n");
    snprintf(cmd, sizeof(cmd), "GET %s", key[3]); /* CACHING yes is used up */
    cmd_expect(a, cmd, "$1\r\n2\r\n");
    hset_key(b, key[3], "3");
    hset_key(b, key[2], "3");
    raw_expect(a, push_key(want, sizeof(want), key[2]));
    hset_key(b, key[1], "3");
    raw_expect(a, push_key(want, sizeof(want), key[1]));
    cmd_expect(a, "PING", "+PONG\r\n");
    redisFree(b);
    raw_close(a);
    server_stop_clean(&srv);
}

Test(tracking, flushall_and_expiry)
{
    struct raw *a = resp3_tracker("");
    redisContext *b = hconnect(&srv);
    char key[64], want[256], get[96];
    key_on_thread(key, sizeof(key), "f", 2, 4, 0);
    hset_key(b, key, "1");
    snprintf(get, sizeof(get), "GET %s", key);
    cmd_expect(a, get, "$1\r\n1\r\n");
    redisReply *info = hcmd(b, "INFO stats");
    cr_assert(strstr(info->str, "tracking_total_keys:1\r\n"), "%s", info->str);
    freeReplyObject(info);
    expect_status(hcmd(b, "FLUSHALL"), "OK");
    raw_expect(a, ">2\r\n$10\r\ninvalidate\r\n_\r\n");
    info = hcmd(b, "INFO stats");
    cr_assert(strstr(info->str, "tracking_total_keys:0\r\n"), "%s", info->str);
    freeReplyObject(info);
    /* expiry (active or lazy) invalidates like a write */
    expect_status(hcmd(b, "SET %s v PX 1500", key), "OK");
    cmd_expect(a, get, "$1\r\nv\r\n");
    raw_expect(a, push_key(want, sizeof(want), key));
    redisFree(b);
    raw_close(a);
    server_stop_clean(&srv);
}

/* The same requests on darter and redis-server, the replies byte for byte. */
static const char *const error_script[] = {
    "CLIENT TRACKING ON BCAST PREFIX foobar PREFIX foo",
    "CLIENT TRACKING ON BCAST PREFIX foo PREFIX bar",
    "CLIENT TRACKING ON BCAST PREFIX fo",
    "CLIENT TRACKING ON BCAST PREFIX barb",
    "CLIENT TRACKING ON",
    "CLIENT TRACKING ON BCAST OPTIN",
    "CLIENT TRACKINGINFO",
    "CLIENT TRACKING OFF",
    "CLIENT TRACKING ON PREFIX foo",
    "CLIENT TRACKING ON OPTIN OPTOUT",
    "CLIENT TRACKING ON REDIRECT 987654321",
    "CLIENT TRACKING ON REDIRECT abc",
    "CLIENT TRACKING ON REDIRECT 1 REDIRECT 2",
    "CLIENT TRACKING maybe",
    "CLIENT TRACKING ON FOO",
    "CLIENT CACHING yes",
    "CLIENT TRACKING ON OPTIN",
    "CLIENT CACHING no",
    "CLIENT CACHING maybe",
    "CLIENT TRACKING ON OPTOUT",
    "CLIENT CACHING yes",
    "CLIENT TRACKINGINFO",
    "CLIENT GETREDIR",
    "CLIENT TRACKING OFF",
    "CLIENT GETREDIR",
    "CLIENT TRACKINGINFO",
    "HELLO 3",
    "CLIENT TRACKING ON NOLOOP",
    "CLIENT TRACKINGINFO",
};

static char *run_script(int port)
{
    struct raw *r = raw_connect(port);
    size_t cap = 1 << 16, len = 0;
    char *all = calloc(1, cap);
    for (size_t i = 0; i < sizeof(error_script) / sizeof(error_script[0]); i++) {
        send_cmd(r, error_script[i]);
        size_t n;
        char *rep = raw_reply(r, &n);
        cr_assert(rep, "no reply to %s", error_script[i]);
        if (strncmp(error_script[i], "HELLO", 5) == 0) { /* id and version differ */
            free(rep);
            continue;
        }
        cr_assert(len + n + 1 < cap);
        memcpy(all + len, rep, n);
        len += n;
        free(rep);
    }
    raw_close(r);
    return all;
}

Test(tracking, errors_as_redis)
{
    struct server redis;
    redis_start(&redis, NULL);
    char *want = run_script(redis.port);
    server_stop(&redis);
    char *got = run_script(srv.port);
    cr_assert_str_eq(got, want, "darter:\n%s", printable(got, strlen(got)));
    free(want);
    free(got);
    server_stop_clean(&srv);
}
