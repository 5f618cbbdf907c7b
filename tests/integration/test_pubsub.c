/* tests/integration/test_pubsub.c — Pub/Sub across worker threads: PUBLISH
 * reaches subscribers on every thread (many connections, spread over the
 * threads by SO_REUSEPORT) with the exact receiver count, pattern and shard
 * subscriptions, PUBSUB introspection merged over threads, the subscribed
 * RESP2 context, RESP3 pushes, a subscriber that stops reading is cut off by
 * client-output-buffer-limit pubsub while the others keep receiving, and
 * keyspace notifications for SET / EXPIRE / DEL and expiry ("expired" exactly
 * once per key, from active and lazy expiry), CLIENT LIST / INFO sub= psub=
 * ssub= and flag P, TYPE pubsub, INFO pubsub_channels / pubsub_patterns /
 * pubsubshard_channels deduplicated over threads, the "new" event of
 * RENAME / COPY / MOVE destinations in Redis 7.0's order, and subscribers
 * spared by the idle timeout. */
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

/* timeout closes idle clients but, as in Redis, never a subscriber (it is
 * waiting for messages, not idle) */
Test(pubsub, idle_timeout_spares_subscribers)
{
    redisContext *c = hconnect(&srv);
    expect_status(hcmd(c, "CONFIG SET timeout 1"), "OK");
    redisFree(c);
    struct raw *a = raw_connect(srv.port);
    send_cmd(a, "SUBSCRIBE x");
    expect_sub(a, '*', "subscribe", "x", 1);
    struct raw *idle = raw_connect(srv.port);
    cr_assert(raw_wait_closed(idle, 10000), "an idle client outlived timeout 1");
    sleep_ms(1500); /* every thread has run its idle check since */
    c = hconnect(&srv);
    expect_int(hcmd(c, "PUBLISH x y"), 1);
    expect_message(a, '*', "message", "x", "y");
    raw_close(idle);
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

/* "*4 pmessage pat channel message": the channel and the message, or false */
static bool read_pmessage(struct raw *r, char *ch, size_t chcap, char *msg, size_t msgcap)
{
    size_t len;
    char *got = raw_reply(r, &len);
    if (!got)
        return false;
    /* *4\r\n$8\r\npmessage\r\n$N\r\npat\r\n$N\r\nch\r\n$N\r\nmsg\r\n */
    char *p = got;
    const char *fields[4];
    size_t lens[4];
    bool ok = strncmp(p, "*4\r\n", 4) == 0;
    p += 4;
    for (int i = 0; ok && i < 4; i++) {
        char *end;
        if (*p != '$') {
            ok = false;
            break;
        }
        lens[i] = strtoul(p + 1, &end, 10);
        fields[i] = end + 2;
        p = end + 2 + lens[i] + 2;
    }
    if (ok) {
        snprintf(ch, chcap, "%.*s", (int)lens[2], fields[2]);
        snprintf(msg, msgcap, "%.*s", (int)lens[3], fields[3]);
    }
    free(got);
    return ok;
}

Test(pubsub, expired_events_once_from_active_and_lazy_expiry)
{
    redisContext *c = hconnect(&srv);
    expect_status(hcmd(c, "CONFIG SET notify-keyspace-events Ex"), "OK");
    struct raw *s = raw_connect(srv.port);
    send_cmd(s, "PSUBSCRIBE __keyevent@0__:expired");
    expect_sub(s, '*', "psubscribe", "__keyevent@0__:expired", 1);
    /* one slot table far bigger than an active-expiry cycle's budget, so the
     * cycle takes it in several passes: each key is reported exactly once */
    expect_status(hcmd(c, "DEBUG SET-ACTIVE-EXPIRE 0"), "OK");
    enum { N = 20000 };
    for (int i = 0; i < N; i++)
        redisAppendCommand(c, "SET {big}:%d v PX 100", i);
    for (int i = 0; i < N; i++) {
        redisReply *r;
        cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        cr_assert_eq(r->type, REDIS_REPLY_STATUS);
        freeReplyObject(r);
    }
    sleep_ms(200);
    /* lazy expiry on access: one event, not repeated by the active cycle */
    expect_nil(hcmd(c, "GET {big}:7"));
    char ch[256], msg[256];
    cr_assert(read_pmessage(s, ch, sizeof(ch), msg, sizeof(msg)));
    cr_assert_str_eq(ch, "__keyevent@0__:expired");
    cr_assert_str_eq(msg, "{big}:7");
    expect_status(hcmd(c, "DEBUG SET-ACTIVE-EXPIRE 1"), "OK");
    char *seen = calloc(N, 1);
    seen[7] = 1;
    for (int k = 0; k < N - 1; k++) {
        cr_assert(read_pmessage(s, ch, sizeof(ch), msg, sizeof(msg)), "event %d", k);
        cr_assert_str_eq(ch, "__keyevent@0__:expired");
        int i = -1;
        cr_assert_eq(sscanf(msg, "{big}:%d", &i), 1, "%s", msg);
        cr_assert(i >= 0 && i < N && !seen[i], "key %s reported twice", msg);
        seen[i] = 1;
    }
    free(seen);
    expect_int(hcmd(c, "DBSIZE"), 0);
    /* nothing more: the next event is this key's */
    expect_status(hcmd(c, "SET {big}:last v PX 1"), "OK");
    cr_assert(read_pmessage(s, ch, sizeof(ch), msg, sizeof(msg)));
    cr_assert_str_eq(msg, "{big}:last");
    raw_close(s);
    redisFree(c);
    server_stop_clean(&srv);
}

static void expect_has(const char *hay, const char *needle)
{
    cr_assert(strstr(hay, needle), "'%s' not in: %s", needle, hay);
}

Test(pubsub, client_list_shows_subscriptions_and_type_pubsub)
{
    redisContext *c = hconnect(&srv);
    struct raw *a = raw_connect(srv.port), *b = raw_connect(srv.port);
    send_cmd(a, "CLIENT SETNAME subA");
    raw_expect(a, "+OK\r\n");
    send_cmd(a, "SUBSCRIBE x y");
    expect_sub(a, '*', "subscribe", "x", 1);
    expect_sub(a, '*', "subscribe", "y", 2);
    send_cmd(a, "PSUBSCRIBE p*");
    expect_sub(a, '*', "psubscribe", "p*", 3);
    send_cmd(a, "SSUBSCRIBE s");
    expect_sub(a, '*', "ssubscribe", "s", 1);
    send_cmd(b, "HELLO 3");
    free(raw_reply(b, NULL));
    send_cmd(b, "CLIENT SETNAME subB");
    raw_expect(b, "+OK\r\n");
    send_cmd(b, "SUBSCRIBE z");
    expect_sub(b, '>', "subscribe", "z", 1);
    send_cmd(b, "CLIENT INFO");
    char *info = raw_reply(b, NULL);
    expect_has(info, "name=subB ");
    expect_has(info, " flags=P db=0 sub=1 psub=0 ssub=0 ");
    free(info);

    redisReply *r = hcmd(c, "CLIENT LIST TYPE pubsub");
    cr_assert(r->type == REDIS_REPLY_STRING);
    expect_has(r->str, "name=subA ");
    expect_has(r->str, "name=subA age=");
    expect_has(r->str, " flags=P db=0 sub=2 psub=1 ssub=1 ");
    expect_has(r->str, "name=subB ");
    cr_assert(!strstr(r->str, "flags=N"), "%s", r->str);
    freeReplyObject(r);
    r = hcmd(c, "CLIENT LIST TYPE normal");
    cr_assert(!strstr(r->str, "subA") && !strstr(r->str, "subB") && !strstr(r->str, "flags=P"), "%s", r->str);
    expect_has(r->str, "cmd=client|list");
    freeReplyObject(r);

    /* unsubscribed from everything: a normal client again */
    send_cmd(b, "UNSUBSCRIBE");
    expect_sub(b, '>', "unsubscribe", "z", 0);
    send_cmd(b, "CLIENT INFO");
    info = raw_reply(b, NULL);
    expect_has(info, " flags=N db=0 sub=0 psub=0 ssub=0 ");
    free(info);
    r = hcmd(c, "CLIENT LIST TYPE normal");
    expect_has(r->str, "name=subB ");
    freeReplyObject(r);

    /* KILL TYPE pubsub: the subscriber only */
    expect_int(hcmd(c, "CLIENT KILL TYPE pubsub"), 1);
    cr_assert(raw_wait_closed(a, 5000));
    send_cmd(b, "PING");
    raw_expect(b, "+PONG\r\n");
    expect_int(hcmd(c, "CLIENT KILL TYPE pubsub"), 0);
    expect_int(hcmd(c, "PUBLISH x gone"), 0);
    raw_close(a);
    raw_close(b);
    redisFree(c);
    server_stop_clean(&srv);
}

static long long info_field(redisContext *c, const char *field)
{
    redisReply *r = hcmd(c, "INFO stats");
    cr_assert(r->type == REDIS_REPLY_STRING);
    char want[128];
    snprintf(want, sizeof(want), "\r\n%s:", field);
    const char *p = strstr(r->str, want);
    cr_assert(p, "%s missing", field);
    long long v = strtoll(p + strlen(want), NULL, 10);
    freeReplyObject(r);
    return v;
}

Test(pubsub, info_stats_counts_distinct_channels_over_threads)
{
    redisContext *c = hconnect(&srv);
    cr_assert_eq(info_field(c, "pubsub_channels"), 0);
    enum { NC = 12 };
    struct raw *subs[NC];
    for (int i = 0; i < NC; i++) { /* spread over every thread */
        subs[i] = raw_connect(srv.port);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "SUBSCRIBE common1 common2 own%d", i);
        send_cmd(subs[i], cmd);
        expect_sub(subs[i], '*', "subscribe", "common1", 1);
        expect_sub(subs[i], '*', "subscribe", "common2", 2);
        char own[32];
        snprintf(own, sizeof(own), "own%d", i);
        expect_sub(subs[i], '*', "subscribe", own, 3);
        send_cmd(subs[i], i % 2 ? "PSUBSCRIBE pat* other*" : "PSUBSCRIBE pat*");
        expect_sub(subs[i], '*', "psubscribe", "pat*", 4);
        if (i % 2)
            expect_sub(subs[i], '*', "psubscribe", "other*", 5);
        send_cmd(subs[i], "SSUBSCRIBE shard1");
        expect_sub(subs[i], '*', "ssubscribe", "shard1", 1);
    }
    cr_assert_eq(info_field(c, "pubsub_channels"), 2 + NC);
    cr_assert_eq(info_field(c, "pubsub_patterns"), 2);
    cr_assert_eq(info_field(c, "pubsubshard_channels"), 1);
    /* the same as PUBSUB's view */
    redisReply *r = hcmd(c, "PUBSUB CHANNELS");
    cr_assert_eq(r->elements, 2 + NC);
    freeReplyObject(r);
    expect_int(hcmd(c, "PUBSUB NUMPAT"), 2);
    /* INFO without the stats section does not need them; INFO all has them */
    r = hcmd(c, "INFO all");
    expect_has(r->str, "\r\npubsub_channels:14\r\npubsub_patterns:2\r\npubsubshard_channels:1\r\n");
    freeReplyObject(r);
    for (int i = 0; i < NC; i++)
        raw_close(subs[i]);
    long long n = -1;
    for (int tries = 0; tries < 200 && n != 0; tries++) {
        n = info_field(c, "pubsub_channels") + info_field(c, "pubsub_patterns") +
            info_field(c, "pubsubshard_channels");
        if (n)
            sleep_ms(10);
    }
    cr_assert_eq(n, 0);
    redisFree(c);
    server_stop_clean(&srv);
}

/* The exact sequence Redis 7.0.15 publishes (dbAdd's "new" first). */
Test(pubsub, new_event_for_rename_copy_move_destination)
{
    redisContext *c = hconnect(&srv);
    expect_status(hcmd(c, "CONFIG SET notify-keyspace-events Egn"), "OK");
    struct raw *s = raw_connect(srv.port);
    send_cmd(s, "PSUBSCRIBE __keyevent@*__:*");
    expect_sub(s, '*', "psubscribe", "__keyevent@*__:*", 1);
    expect_status(hcmd(c, "SET {t}a v"), "OK");
    expect_status(hcmd(c, "RENAME {t}a {t}b"), "OK");
    expect_status(hcmd(c, "SET {t}c v"), "OK");
    expect_status(hcmd(c, "RENAME {t}b {t}c"), "OK");
    expect_status(hcmd(c, "RENAME {t}c {t}c"), "OK");
    expect_int(hcmd(c, "COPY {t}c {t}d"), 1);
    expect_int(hcmd(c, "COPY {t}c {t}d"), 0);
    expect_int(hcmd(c, "COPY {t}c {t}d REPLACE"), 1);
    expect_int(hcmd(c, "COPY {t}c {t}c2 DB 1"), 1);
    expect_int(hcmd(c, "MOVE {t}c 2"), 1);
    expect_int(hcmd(c, "MOVE {t}d 1"), 1);
    expect_int(hcmd(c, "MOVE {t}c2 1"), 0);
    expect_error(hcmd(c, "RENAMENX {t}nokey {t}x"), "ERR no such key");
    expect_status(hcmd(c, "SET {t}e v"), "OK");
    expect_int(hcmd(c, "RENAMENX {t}e {t}zz0"), 1);
    expect_int(hcmd(c, "RENAMENX {t}zz0 {t}e"), 1);
    expect_status(hcmd(c, "SET {t}f v"), "OK");
    expect_int(hcmd(c, "RENAMENX {t}e {t}f"), 0);
    expect_status(hcmd(c, "SET {t}zz v"), "OK");
    static const char *const want[][2] = {
        {"__keyevent@0__:new", "{t}a"},         {"__keyevent@0__:new", "{t}b"},
        {"__keyevent@0__:rename_from", "{t}a"}, {"__keyevent@0__:rename_to", "{t}b"},
        {"__keyevent@0__:new", "{t}c"},         {"__keyevent@0__:new", "{t}c"},
        {"__keyevent@0__:rename_from", "{t}b"}, {"__keyevent@0__:rename_to", "{t}c"},
        {"__keyevent@0__:new", "{t}d"},         {"__keyevent@0__:copy_to", "{t}d"},
        {"__keyevent@0__:new", "{t}d"},         {"__keyevent@0__:copy_to", "{t}d"},
        {"__keyevent@1__:new", "{t}c2"},        {"__keyevent@1__:copy_to", "{t}c2"},
        {"__keyevent@2__:new", "{t}c"},         {"__keyevent@0__:move_from", "{t}c"},
        {"__keyevent@2__:move_to", "{t}c"},     {"__keyevent@1__:new", "{t}d"},
        {"__keyevent@0__:move_from", "{t}d"},   {"__keyevent@1__:move_to", "{t}d"},
        {"__keyevent@0__:new", "{t}e"},         {"__keyevent@0__:new", "{t}zz0"},
        {"__keyevent@0__:rename_from", "{t}e"}, {"__keyevent@0__:rename_to", "{t}zz0"},
        {"__keyevent@0__:new", "{t}e"},         {"__keyevent@0__:rename_from", "{t}zz0"},
        {"__keyevent@0__:rename_to", "{t}e"},   {"__keyevent@0__:new", "{t}f"},
        {"__keyevent@0__:new", "{t}zz"},
    };
    char ch[256], msg[256];
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        cr_assert(read_pmessage(s, ch, sizeof(ch), msg, sizeof(msg)), "event %zu", i);
        cr_assert(!strcmp(ch, want[i][0]) && !strcmp(msg, want[i][1]), "event %zu: %s %s, want %s %s", i, ch, msg,
                  want[i][0], want[i][1]);
    }
    /* keys on two threads: "new" then "rename_to" from the destination's thread,
     * "rename_from" from the source's, in any order between them */
    char src[64], dst[64];
    key_on_thread(src, sizeof(src), "src", 0, 4, 0);
    key_on_thread(dst, sizeof(dst), "dst", 1, 4, 0);
    expect_status(hcmd(c, "SET %s v", src), "OK");
    cr_assert(read_pmessage(s, ch, sizeof(ch), msg, sizeof(msg)));
    cr_assert_str_eq(msg, src);
    expect_status(hcmd(c, "RENAME %s %s", src, dst), "OK");
    int got_new = 0, got_from = 0, got_to = 0;
    for (int i = 0; i < 3; i++) {
        cr_assert(read_pmessage(s, ch, sizeof(ch), msg, sizeof(msg)));
        if (!strcmp(ch, "__keyevent@0__:new") && !strcmp(msg, dst))
            got_new = i + 1;
        else if (!strcmp(ch, "__keyevent@0__:rename_from") && !strcmp(msg, src))
            got_from = i + 1;
        else if (!strcmp(ch, "__keyevent@0__:rename_to") && !strcmp(msg, dst))
            got_to = i + 1;
    }
    cr_assert(got_new && got_from && got_to && got_new < got_to, "new %d from %d to %d", got_new, got_from, got_to);
    raw_close(s);
    redisFree(c);
    server_stop_clean(&srv);
}
