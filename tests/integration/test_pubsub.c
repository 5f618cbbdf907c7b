/* tests/integration/test_pubsub.c — Pub/Sub across worker threads: PUBLISH
 * reaches subscribers on every thread (many connections, spread over the
 * threads by SO_REUSEPORT) with the exact receiver count, pattern and shard
 * subscriptions, PUBSUB introspection merged over threads, the subscribed
 * RESP2 context, RESP3 pushes, a subscriber that stops reading is cut off by
 * client-output-buffer-limit pubsub while the others keep receiving, and
 * keyspace notifications for SET / EXPIRE / DEL and expiry. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct server srv;

static void down(void) { server_stop(&srv); }
static void up4(void) { server_start(&srv, 4, NULL); }

TestSuite(pubsub, .init = up4, .fini = down, .timeout = 300);

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *bulk(char *out, size_t cap, const char *s)
{
    snprintf(out, cap, "$%zu\r\n%s\r\n", strlen(s), s);
    return out;
}

/* "*3 $7 message $ch $msg" (or '>' under RESP3) */
static void expect_message(struct raw *r, char type, const char *kind, const char *ch, const char *msg)
{
    char want[8192], a[1024], b[1024], c[2048];
    snprintf(want, sizeof(want), "%c3\r\n%s%s%s", type, bulk(a, sizeof(a), kind), bulk(b, sizeof(b), ch),
             bulk(c, sizeof(c), msg));
    raw_expect(r, want);
}

static void expect_pmessage(struct raw *r, const char *pat, const char *ch, const char *msg)
{
    char want[8192], a[1024], b[1024], c[2048];
    snprintf(want, sizeof(want), "*4\r\n$8\r\npmessage\r\n%s%s%s", bulk(a, sizeof(a), pat), bulk(b, sizeof(b), ch),
             bulk(c, sizeof(c), msg));
    raw_expect(r, want);
}

static void expect_sub(struct raw *r, char type, const char *kind, const char *ch, long long n)
{
    char want[1024], a[256], b[512];
    snprintf(want, sizeof(want), "%c3\r\n%s%s:%lld\r\n", type, bulk(a, sizeof(a), kind), bulk(b, sizeof(b), ch), n);
    raw_expect(r, want);
}

static void send_cmd(struct raw *r, const char *cmd)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s\r\n", cmd);
    cr_assert(raw_sends(r, buf));
}

#define NSUB 16

Test(pubsub, publish_reaches_every_thread_with_exact_count)
{
    struct raw *subs[NSUB], *psubs[4];
    for (int i = 0; i < NSUB; i++) {
        subs[i] = raw_connect(srv.port);
        send_cmd(subs[i], "SUBSCRIBE news other");
        expect_sub(subs[i], '*', "subscribe", "news", 1);
        expect_sub(subs[i], '*', "subscribe", "other", 2);
    }
    for (int i = 0; i < 4; i++) {
        psubs[i] = raw_connect(srv.port);
        send_cmd(psubs[i], "PSUBSCRIBE n*s");
        expect_sub(psubs[i], '*', "psubscribe", "n*s", 1);
    }
    redisContext *pub = hconnect(&srv);
    /* from several publisher connections (several threads), in order */
    redisContext *pub2 = hconnect(&srv);
    for (int k = 0; k < 50; k++) {
        char msg[32];
        snprintf(msg, sizeof(msg), "m%d", k);
        expect_int(hcmd(k % 2 ? pub : pub2, "PUBLISH news %s", msg), NSUB + 4);
    }
    expect_int(hcmd(pub, "PUBLISH nobody x"), 0);
    expect_int(hcmd(pub, "PUBLISH nos x"), 4);
    for (int i = 0; i < NSUB; i++)
        for (int k = 0; k < 50; k++) {
            char msg[32];
            snprintf(msg, sizeof(msg), "m%d", k);
            expect_message(subs[i], '*', "message", "news", msg);
        }
    for (int i = 0; i < 4; i++) {
        for (int k = 0; k < 50; k++) {
            char msg[32];
            snprintf(msg, sizeof(msg), "m%d", k);
            expect_pmessage(psubs[i], "n*s", "news", msg);
        }
        expect_pmessage(psubs[i], "n*s", "nos", "x");
    }

    /* introspection, merged over threads */
    redisReply *r = hcmd(pub, "PUBSUB NUMSUB news other none");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 6);
    cr_assert_eq(r->element[1]->integer, NSUB);
    cr_assert_eq(r->element[3]->integer, NSUB);
    cr_assert_eq(r->element[5]->integer, 0);
    freeReplyObject(r);
    r = hcmd(pub, "PUBSUB CHANNELS");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 2, "channels deduplicated over threads: %zu", r->elements);
    freeReplyObject(r);
    r = hcmd(pub, "PUBSUB CHANNELS n*");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 1);
    cr_assert_str_eq(r->element[0]->str, "news");
    freeReplyObject(r);
    expect_int(hcmd(pub, "PUBSUB NUMPAT"), 1);

    /* unsubscribing half: the count follows */
    for (int i = 0; i < NSUB / 2; i++) {
        send_cmd(subs[i], "UNSUBSCRIBE news");
        expect_sub(subs[i], '*', "unsubscribe", "news", 1);
    }
    expect_int(hcmd(pub, "PUBLISH news again"), NSUB / 2 + 4);
    /* closing connections drops their subscriptions */
    for (int i = NSUB / 2; i < NSUB; i++)
        raw_close(subs[i]);
    for (int i = 0; i < 4; i++)
        raw_close(psubs[i]);
    int n = -1;
    for (int tries = 0; tries < 200 && n != 0; tries++) {
        redisReply *x = hcmd(pub, "PUBLISH news gone");
        n = (int)x->integer;
        freeReplyObject(x);
        if (n)
            sleep_ms(10);
    }
    cr_assert_eq(n, 0);
    expect_int(hcmd(pub, "PUBLISH other still"), NSUB / 2);
    for (int i = 0; i < NSUB / 2; i++) {
        expect_message(subs[i], '*', "message", "other", "still");
        raw_close(subs[i]);
    }
    redisFree(pub);
    redisFree(pub2);
    server_stop_clean(&srv);
}

Test(pubsub, shard_channels_are_a_separate_namespace)
{
    struct raw *a = raw_connect(srv.port), *b = raw_connect(srv.port);
    send_cmd(a, "SSUBSCRIBE ch");
    expect_sub(a, '*', "ssubscribe", "ch", 1);
    send_cmd(b, "SUBSCRIBE ch");
    expect_sub(b, '*', "subscribe", "ch", 1);
    redisContext *c = hconnect(&srv);
    expect_int(hcmd(c, "SPUBLISH ch s"), 1);
    expect_int(hcmd(c, "PUBLISH ch p"), 1);
    expect_message(a, '*', "smessage", "ch", "s");
    expect_message(b, '*', "message", "ch", "p");
    redisReply *r = hcmd(c, "PUBSUB SHARDNUMSUB ch");
    cr_assert_eq(r->elements, 2);
    cr_assert_eq(r->element[1]->integer, 1);
    freeReplyObject(r);
    send_cmd(a, "SUNSUBSCRIBE");
    expect_sub(a, '*', "sunsubscribe", "ch", 0);
    expect_int(hcmd(c, "SPUBLISH ch s"), 0);
    raw_close(a);
    raw_close(b);
    redisFree(c);
    server_stop_clean(&srv);
}

Test(pubsub, resp2_subscribed_context)
{
    struct raw *a = raw_connect(srv.port);
    send_cmd(a, "UNSUBSCRIBE");
    raw_expect(a, "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    send_cmd(a, "SUBSCRIBE x");
    expect_sub(a, '*', "subscribe", "x", 1);
    send_cmd(a, "GET k");
    raw_expect(a, "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "
                  "allowed in this context\r\n");
    send_cmd(a, "PING");
    raw_expect(a, "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    send_cmd(a, "PING hi");
    raw_expect(a, "*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");
    send_cmd(a, "RESET");
    raw_expect(a, "+RESET\r\n");
    send_cmd(a, "PING");
    raw_expect(a, "+PONG\r\n");
    redisContext *c = hconnect(&srv);
    expect_int(hcmd(c, "PUBLISH x y"), 0);
    raw_close(a);
    redisFree(c);
    server_stop_clean(&srv);
}

Test(pubsub, resp3_pushes_and_commands_while_subscribed)
{
    struct raw *a = raw_connect(srv.port);
    send_cmd(a, "HELLO 3");
    free(raw_reply(a, NULL));
    send_cmd(a, "SUBSCRIBE x");
    expect_sub(a, '>', "subscribe", "x", 1);
    send_cmd(a, "SET k v");
    raw_expect(a, "+OK\r\n");
    send_cmd(a, "GET k");
    raw_expect(a, "$1\r\nv\r\n");
    redisContext *c = hconnect(&srv);
    expect_int(hcmd(c, "PUBLISH x hello"), 1);
    expect_message(a, '>', "message", "x", "hello");
    /* publishing to itself: the push, then the count */
    send_cmd(a, "PUBLISH x self");
    expect_message(a, '>', "message", "x", "self");
    raw_expect(a, ":1\r\n");
    send_cmd(a, "UNSUBSCRIBE x");
    expect_sub(a, '>', "unsubscribe", "x", 0);
    raw_close(a);
    redisFree(c);
    server_stop_clean(&srv);
}

Test(pubsub, slow_subscriber_cut_off_by_output_buffer_limit)
{
    redisContext *c = hconnect(&srv);
    expect_status(hcmd(c, "CONFIG SET client-output-buffer-limit %s", "pubsub 1mb 0 0"), "OK");
    struct raw *slow = raw_connect(srv.port);
    send_cmd(slow, "SUBSCRIBE big");
    expect_sub(slow, '*', "subscribe", "big", 1);
    struct raw *fast[4];
    for (int i = 0; i < 4; i++) {
        fast[i] = raw_connect(srv.port);
        send_cmd(fast[i], "SUBSCRIBE big");
        expect_sub(fast[i], '*', "subscribe", "big", 1);
    }
    size_t mlen = 64 * 1024;
    char *msg = malloc(mlen + 1);
    memset(msg, 'x', mlen);
    msg[mlen] = 0;
    char *want = malloc(mlen + 128);
    int n = snprintf(want, mlen + 128, "*3\r\n$7\r\nmessage\r\n$3\r\nbig\r\n$%zu\r\n", mlen);
    memcpy(want + n, msg, mlen);
    memcpy(want + n + mlen, "\r\n", 3);
    /* the slow one never reads: 64 MB is far beyond socket buffers + 1 mb */
    long long receivers = 5;
    for (int k = 0; k < 1024; k++) {
        redisReply *r = hcmd(c, "PUBLISH big %b", msg, mlen);
        cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
        cr_assert(r->integer == receivers || r->integer == receivers - 1, "count %lld", r->integer);
        receivers = r->integer;
        freeReplyObject(r);
        for (int i = 0; i < 4; i++) {
            size_t len;
            char *got = raw_reply(fast[i], &len);
            cr_assert(got && len == n + mlen + 2 && memcmp(got, want, len) == 0, "fast subscriber %d message %d", i, k);
            free(got);
        }
    }
    cr_assert_eq(receivers, 4, "the slow subscriber was not cut off");
    cr_assert(raw_wait_closed(slow, 5000));
    cr_assert(server_log_contains(&srv, "output buffer limits", 2000));
    redisReply *r = hcmd(c, "PUBSUB NUMSUB big");
    cr_assert_eq(r->element[1]->integer, 4);
    freeReplyObject(r);
    free(msg);
    free(want);
    for (int i = 0; i < 4; i++)
        raw_close(fast[i]);
    raw_close(slow);
    redisFree(c);
    server_stop_clean(&srv);
}

Test(pubsub, keyspace_events)
{
    redisContext *c = hconnect(&srv);
    expect_status(hcmd(c, "CONFIG SET notify-keyspace-events KEA"), "OK");
    struct raw *subs[8];
    for (int i = 0; i < 8; i++) {
        subs[i] = raw_connect(srv.port);
        send_cmd(subs[i], "PSUBSCRIBE __key*__:*");
        expect_sub(subs[i], '*', "psubscribe", "__key*__:*", 1);
    }
    char key[64];
    for (int t = 0; t < 4; t++) { /* keys owned by every shard thread */
        key_on_thread(key, sizeof(key), "ks", t, 4, 0);
        expect_status(hcmd(c, "SET %s v", key), "OK");
        expect_int(hcmd(c, "EXPIRE %s 100", key), 1);
        expect_int(hcmd(c, "DEL %s", key), 1);
        char ks[128], ev[128];
        snprintf(ks, sizeof(ks), "__keyspace@0__:%s", key);
        for (int i = 0; i < 8; i++) {
            expect_pmessage(subs[i], "__key*__:*", ks, "set");
            expect_pmessage(subs[i], "__key*__:*", "__keyevent@0__:set", key);
            expect_pmessage(subs[i], "__key*__:*", ks, "expire");
            expect_pmessage(subs[i], "__key*__:*", "__keyevent@0__:expire", key);
            expect_pmessage(subs[i], "__key*__:*", ks, "del");
            expect_pmessage(subs[i], "__key*__:*", "__keyevent@0__:del", key);
        }
        (void)ev;
    }
    /* expiry found on access */
    expect_status(hcmd(c, "CONFIG SET notify-keyspace-events Ex"), "OK");
    expect_status(hcmd(c, "PSETEX lazy 1 v"), "OK");
    sleep_ms(20);
    expect_nil(hcmd(c, "GET lazy"));
    for (int i = 0; i < 8; i++)
        expect_pmessage(subs[i], "__key*__:*", "__keyevent@0__:expired", "lazy");
    /* expiry by the active cycle, on every shard thread: the key is never touched */
    for (int t = 0; t < 4; t++) {
        key_on_thread(key, sizeof(key), "bg", t, 4, 0);
        expect_status(hcmd(c, "PSETEX %s 50 v", key), "OK");
        for (int i = 0; i < 8; i++)
            expect_pmessage(subs[i], "__key*__:*", "__keyevent@0__:expired", key);
    }
    for (int i = 0; i < 8; i++)
        raw_close(subs[i]);
    /* nothing published when disabled */
    expect_status(hcmd(c, "CONFIG SET notify-keyspace-events %s", ""), "OK");
    struct raw *s = raw_connect(srv.port);
    send_cmd(s, "PSUBSCRIBE *");
    expect_sub(s, '*', "psubscribe", "*", 1);
    expect_status(hcmd(c, "SET quiet v"), "OK");
    expect_int(hcmd(c, "PUBLISH marker m"), 1);
    expect_pmessage(s, "*", "marker", "m");
    raw_close(s);
    redisFree(c);
    server_stop_clean(&srv);
}
