/* tests/integration/test_monitor.c — MONITOR against redis-server: the same
 * commands, sent from connections spread over darter's threads, must give
 * the same monitor lines once the timestamp and the client's port are cut
 * ("[db 127.0.0.1:" kept, scripts' "[0 lua]" lines, quoting/escaping and
 * Redis 7.0's redaction of AUTH / HELLO AUTH credentials). */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NLINES 22

TestSuite(monitor, .timeout = 120);

static void run_commands(const struct server *s)
{
    for (int i = 0; i < 4; i++) { /* several connections: several threads */
        redisContext *c = hconnect(s);
        freeReplyObject(hcmd(c, "SET k%d %s", i, "a b\"c\n\x01"));
        redisFree(c);
    }
    redisContext *c = hconnect(s);
    freeReplyObject(hcmd(c, "AUTH secret"));
    freeReplyObject(hcmd(c, "HELLO 2 AUTH default pw SETNAME n"));
    freeReplyObject(hcmd(c, "EVAL %s 1 x", "redis.call('set',KEYS[1],1) return redis.call('get',KEYS[1])"));
    freeReplyObject(hcmd(c, "CONFIG GET maxmemory")); /* admin: never shown */
    redisFree(c);
    /* EXEC's commands between MULTI and EXEC (keys on several threads, a
     * SELECT inside), and a WATCH-aborted EXEC shows none of them */
    c = hconnect(s);
    const char *tx[] = {"MULTI", "SET k0 v", "GET k1", "INCR k2", "SELECT 3", "SET k3 v", "MSET k0 1 k1 2", "EXEC",
                        "WATCH k0"};
    for (size_t i = 0; i < sizeof(tx) / sizeof(tx[0]); i++)
        freeReplyObject(hcmd(c, tx[i]));
    redisContext *o = hconnect(s);
    freeReplyObject(hcmd(o, "SELECT 3"));
    freeReplyObject(hcmd(o, "SET k0 z"));
    redisFree(o);
    freeReplyObject(hcmd(c, "MULTI"));
    freeReplyObject(hcmd(c, "GET k0"));
    redisReply *r = hcmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    redisFree(c);
}

/* "+1700000000.123456 [0 127.0.0.1:12345] rest" -> "[0 127.0.0.1] rest" */
static void normalize(const char *in, char *out, size_t cap)
{
    const char *p = strchr(in, ' ');
    cr_assert(p, "%s", in);
    const char *colon = strchr(p, ':');
    const char *close = strchr(p, ']');
    if (colon && close && colon < close)
        snprintf(out, cap, "%.*s%s", (int)(colon - p - 1), p + 1, close);
    else
        snprintf(out, cap, "%s", p + 1);
}

static void collect(const struct server *s, char lines[NLINES][512])
{
    redisContext *m = hconnect(s);
    expect_status(hcmd(m, "MONITOR"), "OK");
    usleep(100000);
    run_commands(s);
    for (int i = 0; i < NLINES; i++) {
        redisReply *r = NULL;
        cr_assert_eq(redisGetReply(m, (void **)&r), REDIS_OK);
        cr_assert_eq(r->type, REDIS_REPLY_STATUS);
        normalize(r->str, lines[i], 512);
        freeReplyObject(r);
    }
    redisFree(m);
}

Test(monitor, lines_match_redis)
{
    struct server d, rd;
    server_start(&d, 4, NULL);
    redis_start(&rd, NULL);
    static char dl[NLINES][512], rl[NLINES][512];
    collect(&d, dl);
    collect(&rd, rl);
    for (int i = 0; i < NLINES; i++)
        cr_assert_str_eq(dl[i], rl[i]);
    server_stop_clean(&d);
    server_stop(&rd);
}

Test(monitor, reset_leaves_monitor_mode_and_multi_refuses)
{
    struct server d;
    server_start(&d, 4, NULL);
    redisContext *m = hconnect(&d);
    expect_status(hcmd(m, "MULTI"), "OK");
    expect_status(hcmd(m, "MONITOR"), "QUEUED");
    redisReply *r = hcmd(m, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->element[0]->type, REDIS_REPLY_ERROR);
    cr_assert_str_eq(r->element[0]->str, "ERR MONITOR isn't allowed for DENY BLOCKING client");
    freeReplyObject(r);
    expect_status(hcmd(m, "MONITOR"), "OK");
    expect_status(hcmd(m, "RESET"), "RESET");
    redisContext *c = hconnect(&d);
    expect_status(hcmd(c, "SET a b"), "OK");
    redisFree(c);
    expect_status(hcmd(m, "PING"), "PONG"); /* no monitor line before it */
    redisFree(m);
    server_stop_clean(&d);
}
