/* tests/integration/test_stream.c — streams against --threads 4: replies of
 * a spread of stream commands (errors included, RESP2 and RESP3) compared
 * byte for byte with a real redis-server; values moved both ways between
 * darter and redis-server as DUMP/RESTORE payloads (RDB type 19 with groups,
 * PELs and consumers) and compared through XINFO STREAM FULL; XREAD and
 * XREADGROUP over streams on different threads; XREAD BLOCK woken by XADD
 * from another connection when the stream lives on another thread (one key
 * or keys on two threads), and timing out; XREADGROUP BLOCK answered
 * "-UNBLOCKED" when its key is deleted (DEL, FLUSHDB) while XREAD keeps
 * waiting; a woken command counts one call in INFO commandstats. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static struct server srv, peer;

static void up(void)
{
    server_start(&srv, 4, NULL);
    redis_start(&peer, NULL);
}

static void down(void)
{
    server_stop(&peer);
    server_stop(&srv);
}

TestSuite(stream, .init = up, .fini = down, .timeout = 300);

/* XPENDING's extended form reports each entry's idle milliseconds, which
 * depend on timing: an integer followed by another integer (idle, then the
 * delivery count) is rewritten as 0 in place. */
static void mask_idle(char *b, size_t *len)
{
    size_t o = 0;
    for (size_t i = 0; i < *len;) {
        if (b[i] == ':' && (i == 0 || b[i - 1] == '\n')) {
            size_t j = i + 1;
            while (j < *len && b[j] >= '0' && b[j] <= '9')
                j++;
            if (j > i + 1 && j + 2 < *len && b[j] == '\r' && b[j + 2] == ':') {
                b[o++] = ':';
                b[o++] = '0';
                i = j;
                continue;
            }
        }
        b[o++] = b[i++];
    }
    *len = o;
}

/* Send the same command to both servers and compare the reply bytes. */
static void same(struct raw *d, struct raw *r, int argc, const char **argv)
{
    char *cmd;
    int n = redisFormatCommandArgv(&cmd, argc, argv, NULL);
    cr_assert(raw_send(d, cmd, (size_t)n));
    cr_assert(raw_send(r, cmd, (size_t)n));
    free(cmd);
    size_t dl, rl;
    char *dr = raw_reply(d, &dl);
    char *rr = raw_reply(r, &rl);
    cr_assert_not_null(dr);
    cr_assert_not_null(rr);
    if (strcasecmp(argv[0], "XPENDING") == 0 && argc >= 6) {
        mask_idle(dr, &dl);
        mask_idle(rr, &rl);
    }
    char want[4096];
    snprintf(want, sizeof(want), "%s", printable(rr, rl));
    cr_assert(dl == rl && memcmp(dr, rr, dl) == 0, "%s: darter %s, redis %s", argv[0], printable(dr, dl), want);
    free(dr);
    free(rr);
}

/* Split a command line on spaces (no quoting needed by these tests). */
static void same_line(struct raw *d, struct raw *r, const char *line)
{
    char buf[1024];
    const char *argv[64];
    int argc = 0;
    snprintf(buf, sizeof(buf), "%s", line);
    for (char *tok = strtok(buf, " "); tok && argc < 64; tok = strtok(NULL, " "))
        argv[argc++] = tok;
    same(d, r, argc, argv);
}

static const char *const script[] = {
    "XADD s 1-1 a 1 b 2",
    "XADD s 1-2 a 3 b 4",
    "XADD s 1-* c 5",
    "XADD s 2-0 a 1 b 2 c 3",
    "XADD s 1-1 a 1",
    "XADD s 0-0 a 1",
    "XADD s 0 a 1",
    "XADD s abc a 1",
    "XADD s 5-1 a",
    "XADD s MAXLEN",
    "XADD s MAXLEN -1 * a 1",
    "XADD s MAXLEN 1 MINID 1 * a 1",
    "XADD s LIMIT 10 3-0 a 1",
    "XADD s MAXLEN 10 LIMIT 10 3-0 a 1",
    "XADD s NOMKSTREAM 3-0 a 1",
    "XADD missing NOMKSTREAM * a 1",
    "XADD s MAXLEN = 100 4-0 x y",
    "XADD s MINID ~ 0 5-0 x y",
    "XLEN s",
    "XLEN missing",
    "XRANGE s - +",
    "XRANGE s (1-1 +",
    "XRANGE s - (2-0",
    "XRANGE s 1 1",
    "XRANGE s - + COUNT 2",
    "XRANGE s - + COUNT 0",
    "XRANGE s - + COUNT -1",
    "XRANGE s - + COUNT x",
    "XRANGE s - + FOO",
    "XRANGE s (18446744073709551615-18446744073709551615 +",
    "XRANGE s - (0-0",
    "XRANGE s x +",
    "XRANGE missing - +",
    "XREVRANGE s + - COUNT 3",
    "XREVRANGE s (5-0 (1-1",
    "XDEL s 1-2 9-9",
    "XDEL s bad",
    "XDEL missing 1-1",
    "XINFO STREAM s",
    "XINFO STREAM missing",
    "XINFO STREAM s FOO",
    "XINFO HELP",
    "XINFO FOO s",
    "XTRIM s",
    "XTRIM s MAXLEN ~ 2 LIMIT",
    "XTRIM s MAXLEN 2 LIMIT 5",
    "XTRIM s FOO 1",
    "XTRIM s MINID 1-5",
    "XTRIM s MAXLEN 3",
    "XRANGE s - +",
    "SET str x",
    "XADD str * a 1",
    "XRANGE str - +",
    "XLEN str",
    "XREAD COUNT 1 STREAMS s 0",
    "XREAD STREAMS s",
    "XREAD STREAMS s missing 0 0",
    "XREAD STREAMS s $",
    "XREAD STREAMS s str 0 0",
    "XREAD GROUP g c STREAMS s 0",
    "XREAD NOACK STREAMS s 0",
    "XREAD STREAMS s >",
    "XREAD BLOCK -1 STREAMS s 0",
    "XREAD BLOCK x STREAMS s 0",
    "XREAD COUNT 2",
    "XGROUP CREATE s g 0",
    "XGROUP CREATE s g 0",
    "XGROUP CREATE missing g 0",
    "XGROUP CREATE mk g $ MKSTREAM",
    "XGROUP CREATE s g2 $ ENTRIESREAD -5",
    "XGROUP CREATE s g3 bad",
    "XGROUP SETID s nog 0",
    "XGROUP CREATECONSUMER s g alice",
    "XGROUP CREATECONSUMER s g alice",
    "XGROUP FOO s g",
    "XGROUP HELP",
    "XREADGROUP GROUP g bob COUNT 1 STREAMS s >",
    "XREADGROUP GROUP g bob STREAMS s >",
    "XREADGROUP GROUP g bob STREAMS s 0",
    "XREADGROUP GROUP g bob STREAMS s $",
    "XREADGROUP GROUP nog bob STREAMS s >",
    "XREADGROUP GROUP g bob STREAMS missing >",
    "XREADGROUP STREAMS s >",
    "XREADGROUP GROUP g bob NOACK STREAMS s >",
    "XINFO GROUPS s",
    "XPENDING s g",
    "XPENDING s g - + 10 bob",
    "XPENDING s g - + 10 nobody",
    "XPENDING s nog",
    "XPENDING s g - +",
    "XPENDING s g IDLE x - + 10",
    "XACK s g 4-0 4-0 bad",
    "XACK s g 4-0 9-9",
    "XACK s nog 1-1",
    "XCLAIM s g carol 0 5-0 JUSTID",
    "XCLAIM s g carol 0 5-0 FOO",
    "XCLAIM s g carol x 5-0",
    "XCLAIM s nog carol 0 5-0",
    "XAUTOCLAIM s g dave 0 0 COUNT 0",
    "XAUTOCLAIM s g dave 0 0 JUSTID",
    "XAUTOCLAIM s nog dave 0 0",
    "XGROUP DELCONSUMER s g dave",
    "XGROUP DESTROY s g2",
    "XGROUP DESTROY s g2",
    "XSETID s 1-1",
    "XSETID s 99-0 ENTRIESADDED 1",
    "XSETID s 99-0 MAXDELETEDID 100-0",
    "XSETID s 99-0 ENTRIESADDED 50 MAXDELETEDID 10-0",
    "XSETID missing 1-1",
    "XINFO STREAM s",
    "XINFO GROUPS s",
    "XADD s * only after-setid",
    "XLEN s",
    "HELLO 3",
    "XRANGE s - + COUNT 1",
    "XREAD COUNT 1 STREAMS s 0",
    "XINFO GROUPS s",
    "XPENDING s g",
    "XRANGE s - + COUNT 0",
    "HELLO 2",
};

Test(stream, replies_match_redis_byte_for_byte)
{
    struct raw *d = raw_connect(srv.port);
    struct raw *r = raw_connect(peer.port);
    for (size_t i = 0; i < sizeof(script) / sizeof(script[0]); i++) {
        const char *line = script[i];
        if (strstr(line, "XADD s * only")) {
            /* the generated ID depends on the clock: compare its shape only */
            const char *argv[] = {"XADD", "s", "100-0", "only", "x"};
            same(d, r, 5, argv);
            continue;
        }
        if (strncmp(line, "HELLO", 5) == 0) { /* client ids differ */
            cr_assert(raw_sends(d, line) && raw_sends(d, "\r\n"));
            cr_assert(raw_sends(r, line) && raw_sends(r, "\r\n"));
            free(raw_reply(d, &(size_t){0}));
            free(raw_reply(r, &(size_t){0}));
            continue;
        }
        same_line(d, r, line);
    }
    raw_close(d);
    raw_close(r);
}

/* A reply as text, skipping the value after "radix-tree-nodes" (a rax detail). */
static void flatten(const redisReply *x, char *out, size_t cap, size_t *len, bool *skip_next)
{
    char tmp[512];
    int n = 0;
    if (*skip_next) {
        *skip_next = false;
        n = snprintf(tmp, sizeof(tmp), "<skipped> ");
    } else {
        switch (x->type) {
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
        case REDIS_REPLY_ERROR:
            n = snprintf(tmp, sizeof(tmp), "'%.*s' ", (int)x->len, x->str);
            if (x->len == 16 && memcmp(x->str, "radix-tree-nodes", 16) == 0)
                *skip_next = true;
            break;
        case REDIS_REPLY_INTEGER: n = snprintf(tmp, sizeof(tmp), "%lld ", x->integer); break;
        case REDIS_REPLY_NIL: n = snprintf(tmp, sizeof(tmp), "nil "); break;
        default:
            n = snprintf(tmp, sizeof(tmp), "[%zu: ", x->elements);
            if (*len + (size_t)n < cap) {
                memcpy(out + *len, tmp, (size_t)n);
                *len += (size_t)n;
            }
            for (size_t i = 0; i < x->elements; i++)
                flatten(x->element[i], out, cap, len, skip_next);
            n = snprintf(tmp, sizeof(tmp), "] ");
        }
    }
    if (*len + (size_t)n < cap) {
        memcpy(out + *len, tmp, (size_t)n);
        *len += (size_t)n;
        out[*len] = 0;
    }
}

static char *full_info(redisContext *c, const char *key)
{
    redisReply *x = hcmd(c, "XINFO STREAM %s FULL COUNT 0", key);
    cr_assert_eq(x->type, REDIS_REPLY_ARRAY, "%s", x->str ? x->str : "");
    size_t cap = 1 << 20, len = 0;
    char *out = malloc(cap);
    out[0] = 0;
    bool skip = false;
    flatten(x, out, cap, &len, &skip);
    freeReplyObject(x);
    return out;
}

/* A stream with several nodes, tombstones, two groups, PELs and consumers. */
static void build_stream(redisContext *c, const char *key)
{
    freeReplyObject(hcmd(c, "CONFIG SET stream-node-max-entries 5"));
    for (int i = 1; i <= 40; i++)
        freeReplyObject(hcmd(c, "XADD %s %d-1 field %d other v%d", key, i, i, i));
    freeReplyObject(hcmd(c, "XADD %s 41-0 different fields here x", key));
    freeReplyObject(hcmd(c, "XDEL %s 3-1 17-1 40-1", key));
    freeReplyObject(hcmd(c, "XTRIM %s MAXLEN 35", key));
    freeReplyObject(hcmd(c, "XGROUP CREATE %s g1 0", key));
    freeReplyObject(hcmd(c, "XGROUP CREATE %s g2 $", key));
    freeReplyObject(hcmd(c, "XREADGROUP GROUP g1 alice COUNT 4 STREAMS %s >", key));
    freeReplyObject(hcmd(c, "XREADGROUP GROUP g1 bob COUNT 3 STREAMS %s >", key));
    freeReplyObject(hcmd(c, "XREADGROUP GROUP g1 alice COUNT 10 STREAMS %s 0", key));
    freeReplyObject(hcmd(c, "XACK %s g1 10-1", key));
    freeReplyObject(hcmd(c, "XGROUP CREATECONSUMER %s g2 carol", key));
    freeReplyObject(hcmd(c, "CONFIG SET stream-node-max-entries 100"));
}

static void move(redisContext *from, redisContext *to, const char *key, const char *newkey)
{
    redisReply *p = hcmd(from, "DUMP %s", key);
    cr_assert_eq(p->type, REDIS_REPLY_STRING);
    redisReply *ok = hcmd(to, "RESTORE %s 0 %b", newkey, p->str, p->len);
    cr_assert_eq(ok->type, REDIS_REPLY_STATUS, "%s", ok->str);
    freeReplyObject(ok);
    freeReplyObject(p);
}

Test(stream, rdb_payloads_both_ways_with_groups)
{
    redisContext *d = hconnect(&srv), *r = hconnect(&peer);
    build_stream(d, "src");
    build_stream(r, "src");
    move(d, r, "src", "fromdarter");
    move(r, d, "src", "fromredis");
    char *a = full_info(d, "src"), *b = full_info(r, "fromdarter");
    cr_assert_str_eq(a, b);
    char *c = full_info(r, "src"), *e = full_info(d, "fromredis");
    cr_assert_str_eq(c, e);
    /* and darter's payload of the value redis wrote is the same bytes
     * (uncompressed: the two LZF encoders may pick different matches) */
    freeReplyObject(hcmd(d, "CONFIG SET rdbcompression no"));
    freeReplyObject(hcmd(r, "CONFIG SET rdbcompression no"));
    redisReply *p1 = hcmd(r, "DUMP src"), *p2 = hcmd(d, "DUMP fromredis");
    cr_assert_eq(p1->len, p2->len);
    cr_assert_eq(memcmp(p1->str, p2->str, p1->len), 0);
    freeReplyObject(p1);
    freeReplyObject(p2);
    /* the moved values keep working */
    expect_int(hcmd(d, "XACK fromredis g1 11-1 9-1"), 2);
    redisReply *x = hcmd(d, "XADD fromredis 50-0 a b");
    cr_assert_str_eq(x->str, "50-0");
    freeReplyObject(x);
    expect_error(hcmd(d, "RESTORE bad 0 \x13\x01\x00"), "ERR DUMP payload version or checksum are wrong");
    free(a);
    free(b);
    free(c);
    free(e);
    redisFree(d);
    redisFree(r);
}

static void key_for_thread(char *buf, size_t cap, const char *prefix, int thread)
{
    char t[32];
    key_on_thread(t, sizeof(t), prefix, thread, 4, 0);
    snprintf(buf, cap, "%s", t);
}

Test(stream, xread_over_threads)
{
    char k1[64], k2[64], k3[64];
    key_for_thread(k1, sizeof(k1), "xa", 1);
    key_for_thread(k2, sizeof(k2), "xb", 2);
    key_for_thread(k3, sizeof(k3), "xc", 3);
    redisContext *c = hconnect(&srv);
    freeReplyObject(hcmd(c, "XADD %s 1-0 f 1", k1));
    freeReplyObject(hcmd(c, "XADD %s 2-0 f 2", k3));
    redisReply *x = hcmd(c, "XREAD COUNT 5 STREAMS %s %s %s 0 0 0", k3, k2, k1);
    cr_assert_eq(x->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(x->elements, 2);
    cr_assert_str_eq(x->element[0]->element[0]->str, k3);
    cr_assert_str_eq(x->element[1]->element[0]->str, k1);
    freeReplyObject(x);
    /* the first error in argument order wins, nothing is served */
    freeReplyObject(hcmd(c, "SET %s str", k2));
    expect_error(hcmd(c, "XREAD STREAMS %s %s %s 0 0 bad", k1, k2, k3),
                 "WRONGTYPE Operation against a key holding the wrong kind of value");
    expect_error(hcmd(c, "XREAD STREAMS %s %s 0 bad", k1, k3),
                 "ERR Invalid stream ID specified as stream command argument");
    /* XREADGROUP: a missing group on one thread leaves the others untouched */
    freeReplyObject(hcmd(c, "XGROUP CREATE %s g 0", k1));
    char err[256];
    snprintf(err, sizeof(err), "NOGROUP No such key '%s' or consumer group 'g' in XREADGROUP with GROUP option", k3);
    expect_error(hcmd(c, "XREADGROUP GROUP g c STREAMS %s %s > >", k1, k3), err);
    x = hcmd(c, "XPENDING %s g", k1);
    cr_assert_eq(x->element[0]->integer, 0);
    freeReplyObject(x);
    freeReplyObject(hcmd(c, "XGROUP CREATE %s g 0", k3));
    x = hcmd(c, "XREADGROUP GROUP g c STREAMS %s %s > >", k1, k3);
    cr_assert_eq(x->elements, 2);
    freeReplyObject(x);
    expect_int(hcmd(c, "XACK %s g 2-0", k3), 1);
    redisFree(c);
}

static long long blocked_clients(redisContext *c)
{
    redisReply *r = hcmd(c, "INFO clients");
    const char *p = strstr(r->str, "blocked_clients:");
    long long n = p ? atoll(p + 16) : -1;
    freeReplyObject(r);
    return n;
}

static void wait_blocked(redisContext *c, long long n)
{
    for (int i = 0; i < 500 && blocked_clients(c) != n; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    cr_assert_eq(blocked_clients(c), n);
}

/* Send a command on w without reading its reply, then wait until the server
 * counts `nblocked` blocked clients. */
static void send_blocking(redisContext *w, redisContext *c, long long nblocked, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cr_assert_eq(redisvAppendCommand(w, fmt, ap), REDIS_OK);
    va_end(ap);
    cr_assert_eq(redisBufferWrite(w, &(int){0}), REDIS_OK);
    wait_blocked(c, nblocked);
}

static redisReply *get_reply(redisContext *w)
{
    void *reply = NULL;
    cr_assert_eq(redisGetReply(w, &reply), REDIS_OK);
    return reply;
}

/* "calls=N" of cmdstat_<name> in INFO commandstats (-1: no line). */
static long long stat_calls(redisContext *c, const char *name)
{
    redisReply *r = hcmd(c, "INFO commandstats");
    char pat[64];
    snprintf(pat, sizeof(pat), "cmdstat_%s:calls=", name);
    const char *p = strstr(r->str, pat);
    long long n = p ? atoll(p + strlen(pat)) : -1;
    freeReplyObject(r);
    return n;
}

Test(stream, xread_block_across_threads)
{
    char k[64], other[64];
    key_for_thread(k, sizeof(k), "blk", 3);
    key_for_thread(other, sizeof(other), "oth", 1);
    redisContext *w = hconnect(&srv), *c = hconnect(&srv);
    /* times out: null array */
    redisReply *x = hcmd(w, "XREAD BLOCK 50 STREAMS %s %s $ $", k, other);
    cr_assert_eq(x->type, REDIS_REPLY_NIL);
    freeReplyObject(x);
    /* woken by XADD from another connection (the key's last waiter leaves
     * without writing the key) */
    send_blocking(w, c, 1, "XREAD BLOCK 0 STREAMS %s $", k);
    freeReplyObject(hcmd(c, "XADD %s 7-0 hello world", k));
    x = get_reply(w);
    cr_assert_eq(x->type, REDIS_REPLY_ARRAY);
    cr_assert_str_eq(x->element[0]->element[0]->str, k);
    cr_assert_str_eq(x->element[0]->element[1]->element[0]->element[0]->str, "7-0");
    freeReplyObject(x);
    wait_blocked(c, 0);
    /* keys on two threads: woken by the second one, "$" kept from blocking */
    send_blocking(w, c, 1, "XREAD BLOCK 0 STREAMS %s %s $ $", k, other);
    freeReplyObject(hcmd(c, "XADD %s 8-0 f v", other));
    x = get_reply(w);
    cr_assert_eq(x->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(x->elements, 1);
    cr_assert_str_eq(x->element[0]->element[0]->str, other);
    freeReplyObject(x);
    /* the server is still there and serves the next reader at once */
    x = hcmd(c, "XREAD BLOCK 0 STREAMS %s 0", k);
    cr_assert_eq(x->type, REDIS_REPLY_ARRAY);
    freeReplyObject(x);
    redisFree(w);
    redisFree(c);
}

Test(stream, xreadgroup_block_unblocked_when_key_deleted)
{
    char k[64], other[64];
    key_for_thread(k, sizeof(k), "gdel", 2);
    key_for_thread(other, sizeof(other), "goth", 1);
    redisContext *w = hconnect(&srv), *c = hconnect(&srv);
    /* DEL */
    expect_status(hcmd(c, "XGROUP CREATE %s g $ MKSTREAM", k), "OK");
    send_blocking(w, c, 1, "XREADGROUP GROUP g alice BLOCK 0 STREAMS %s >", k);
    expect_int(hcmd(c, "DEL %s", k), 1);
    expect_error(get_reply(w), "UNBLOCKED the stream key no longer exists");
    wait_blocked(c, 0);
    /* FLUSHDB */
    expect_status(hcmd(c, "XGROUP CREATE %s g $ MKSTREAM", k), "OK");
    send_blocking(w, c, 1, "XREADGROUP GROUP g alice BLOCK 0 STREAMS %s >", k);
    expect_status(hcmd(c, "FLUSHDB"), "OK");
    expect_error(get_reply(w), "UNBLOCKED the stream key no longer exists");
    wait_blocked(c, 0);
    /* keys on two threads: one of them deleted */
    expect_status(hcmd(c, "XGROUP CREATE %s g $ MKSTREAM", k), "OK");
    expect_status(hcmd(c, "XGROUP CREATE %s g $ MKSTREAM", other), "OK");
    send_blocking(w, c, 1, "XREADGROUP GROUP g alice BLOCK 0 STREAMS %s %s > >", k, other);
    expect_int(hcmd(c, "DEL %s", other), 1);
    expect_error(get_reply(w), "UNBLOCKED the stream key no longer exists");
    wait_blocked(c, 0);
    /* XREAD (no group) keeps waiting when its key is deleted */
    send_blocking(w, c, 1, "XREAD BLOCK 0 STREAMS %s $", k);
    expect_int(hcmd(c, "DEL %s", k), 1);
    wait_blocked(c, 1);
    freeReplyObject(hcmd(c, "XADD %s 5-0 f v", k));
    redisReply *x = get_reply(w);
    cr_assert_eq(x->type, REDIS_REPLY_ARRAY);
    cr_assert_str_eq(x->element[0]->element[1]->element[0]->element[0]->str, "5-0");
    freeReplyObject(x);
    redisFree(w);
    redisFree(c);
}

Test(stream, woken_command_counted_once)
{
    char k[64], other[64];
    key_for_thread(k, sizeof(k), "cnt", 3);
    key_for_thread(other, sizeof(other), "cno", 1);
    redisContext *w = hconnect(&srv), *c = hconnect(&srv);
    expect_status(hcmd(c, "CONFIG RESETSTAT"), "OK");
    send_blocking(w, c, 1, "XREAD BLOCK 0 STREAMS %s $", k);
    freeReplyObject(hcmd(c, "XADD %s 1-0 f v", k));
    freeReplyObject(get_reply(w));
    cr_assert_eq(stat_calls(c, "xread"), 1);
    /* keys on two threads (woken, then run again) */
    send_blocking(w, c, 1, "XREAD BLOCK 0 STREAMS %s %s $ $", k, other);
    freeReplyObject(hcmd(c, "XADD %s 2-0 f v", other));
    freeReplyObject(get_reply(w));
    cr_assert_eq(stat_calls(c, "xread"), 2);
    /* woken with an error: one call, one failed call */
    expect_status(hcmd(c, "XGROUP CREATE %s g $", k), "OK");
    send_blocking(w, c, 1, "XREADGROUP GROUP g alice BLOCK 0 STREAMS %s >", k);
    expect_int(hcmd(c, "XGROUP DESTROY %s g", k), 1);
    expect_error(get_reply(w), "NOGROUP the consumer group this client was blocked on no longer exists");
    redisReply *r = hcmd(c, "INFO commandstats");
    cr_assert(strstr(r->str, "cmdstat_xreadgroup:calls=1,") != NULL, "%s", r->str);
    cr_assert(strstr(r->str, "rejected_calls=0,failed_calls=1") != NULL, "%s", r->str);
    freeReplyObject(r);
    redisFree(w);
    redisFree(c);
}
