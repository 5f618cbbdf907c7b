/* tests/integration/test_basic.c — a darter-server with --threads 1, with
 * --threads 4 and with --threads 4 --force-epoll yes (three suites running
 * the same tests): the string family (SET options, NX/XX/GET/KEEPTTL/EX,
 * INCR family errors, APPEND/SETRANGE/GETRANGE, MGET/MSET/MSETNX over keys
 * on different threads), DEL/EXISTS across threads counting duplicates,
 * 10,000 pipelined commands on every thread with replies in order, RESP3
 * through HELLO 3, SELECT, AUTH with --requirepass, QUIT, and the error texts
 * for unknown commands and wrong arity. Most scripts run against a
 * redis-server 7.0 peer as well and the raw reply bytes must be identical. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct server srv;
static struct server peer;
static redisContext *hc;

/* Twelve keys, three per thread of a 4-thread server: K[i] is on thread i % 4. */
#define NKEYS 12
static char K[NKEYS][32];

static void make_keys(void)
{
    for (int i = 0; i < NKEYS; i++)
        key_on_thread(K[i], sizeof(K[i]), "key:", i % 4, 4, i / 4);
}

/* .init only starts the server (server_start cleans up after itself if it
 * fails): Criterion skips .fini when .init fails. */
static void up(int threads, bool epoll)
{
    make_keys();
    if (epoll)
        server_start(&srv, threads, "--force-epoll", "yes", NULL);
    else
        server_start(&srv, threads, NULL);
}

static void up1(void) { up(1, false); }
static void up4(void) { up(4, false); }
static void up4_epoll(void) { up(4, true); }

/* Cleanup after any test, failed ones included. */
static void down(void)
{
    if (hc)
        redisFree(hc);
    hc = NULL;
    server_stop(&srv);
    server_stop(&peer);
}

/* The start of every test body. */
static void begin(void) { hc = hconnect(&srv); }

static void begin_epoll(void)
{
    begin();
    cr_assert(server_log_contains(&srv, "Server initialized (epoll", 5000), "--force-epoll yes did not select epoll");
}

/* The end of every test: the server must exit 0 on SIGTERM. */
static void finish(void)
{
    if (hc)
        redisFree(hc);
    hc = NULL;
    server_stop_clean(&srv);
}

/* The same test body in three suites. */
#define BASIC_TEST(name)                                                                                     \
    static void body_##name(void);                                                                           \
    Test(basic_t1, name, .init = up1, .fini = down) { begin(); body_##name(); finish(); }                     \
    Test(basic_t4, name, .init = up4, .fini = down) { begin(); body_##name(); finish(); }                     \
    Test(basic_epoll, name, .init = up4_epoll, .fini = down) { begin_epoll(); body_##name(); finish(); }      \
    static void body_##name(void)

/* ---------- scripts compared byte for byte with redis-server ---------- */

#define MAXARGS 40
typedef const char *cmdline[MAXARGS];

static size_t encode(char *out, size_t cap, const char *const *argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    size_t n = (size_t)snprintf(out, cap, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        char expanded[64];
        /* "%<n>" stands for the key K[n] */
        if (a[0] == '%' && a[1] >= '0' && a[1] <= '9') {
            int k = atoi(a + 1);
            cr_assert_lt(k, NKEYS);
            snprintf(expanded, sizeof(expanded), "%s", K[k]);
            a = expanded;
        }
        size_t al = strlen(a);
        cr_assert_lt(n + al + 32, cap);
        n += (size_t)snprintf(out + n, cap - n, "$%zu\r\n", al);
        memcpy(out + n, a, al);
        n += al;
        memcpy(out + n, "\r\n", 2);
        n += 2;
    }
    return n;
}

static const char *show_cmd(const char *const *argv)
{
    static char s[512];
    size_t n = 0;
    s[0] = 0;
    for (int i = 0; argv[i] && n < sizeof(s) - 80; i++)
        n += (size_t)snprintf(s + n, sizeof(s) - n, "%s%.60s", i ? " " : "", argv[i]);
    return s;
}

/* Run each command on darter and on redis-server; the raw replies must be
 * identical. */
static void compare_script(const cmdline *script, size_t n)
{
    redis_start(&peer, NULL);
    struct raw *d = raw_connect(srv.port);
    struct raw *r = raw_connect(peer.port);
    char buf[8192];
    for (size_t i = 0; i < n; i++) {
        size_t len = encode(buf, sizeof(buf), script[i]);
        cr_assert(raw_send(d, buf, len));
        cr_assert(raw_send(r, buf, len));
        size_t dl, rl;
        char *dr = raw_reply(d, &dl);
        char *rr = raw_reply(r, &rl);
        cr_assert_not_null(rr, "redis gave no reply to %s", show_cmd(script[i]));
        cr_assert_not_null(dr, "darter gave no reply to %s", show_cmd(script[i]));
        if (dl != rl || memcmp(dr, rr, dl) != 0) {
            char want[600];
            snprintf(want, sizeof(want), "%s", printable(rr, rl));
            cr_assert_fail("#%zu %s:\n  darter %s\n  redis  %s", i, show_cmd(script[i]), printable(dr, dl), want);
        }
        free(dr);
        free(rr);
    }
    raw_close(d);
    raw_close(r);
}

#define COMPARE(script) compare_script(script, sizeof(script) / sizeof(script[0]))

/* Raw inputs (inline or anything), compared the same way. */
static void compare_raw(const char *const *inputs, size_t n)
{
    redis_start(&peer, NULL);
    for (size_t i = 0; i < n; i++) {
        struct raw *d = raw_connect(srv.port);
        struct raw *r = raw_connect(peer.port);
        cr_assert(raw_sends(d, inputs[i]));
        cr_assert(raw_sends(r, inputs[i]));
        size_t dl, rl;
        char *rr = raw_reply(r, &rl);
        char *dr = raw_reply(d, &dl);
        cr_assert_not_null(rr);
        cr_assert_not_null(dr, "darter gave no reply to %s", printable(inputs[i], strlen(inputs[i])));
        if (dl != rl || memcmp(dr, rr, dl) != 0) {
            char want[600], in[200];
            snprintf(want, sizeof(want), "%s", printable(rr, rl));
            snprintf(in, sizeof(in), "%s", printable(inputs[i], strlen(inputs[i])));
            cr_assert_fail("input %s:\n  darter %s\n  redis  %s", in, printable(dr, dl), want);
        }
        free(dr);
        free(rr);
        raw_close(d);
        raw_close(r);
    }
}

/* ---------- strings ---------- */

static const cmdline set_script[] = {
    {"SET", "%0", "v"},
    {"GET", "%0"},
    {"GET", "%1"},
    {"SET", "%0", "w", "NX"},
    {"GET", "%0"},
    {"SET", "%1", "w", "NX"},
    {"SET", "%2", "x", "XX"},
    {"GET", "%2"},
    {"SET", "%1", "y", "XX"},
    {"GET", "%1"},
    {"SET", "%1", "z", "GET"},
    {"SET", "%2", "z", "GET"},
    {"SET", "%1", "q", "NX", "GET"},
    {"SET", "%3", "q", "XX", "GET"},
    {"SET", "%1", "r", "xx", "get"},
    {"SET", "%0", "v", "EX", "100"},
    {"SET", "%0", "v", "PX", "100000"},
    {"SET", "%0", "v", "EXAT", "99999999999"},
    {"SET", "%0", "v", "PXAT", "99999999999999"},
    {"SET", "%0", "v", "KEEPTTL"},
    {"SET", "%0", "v", "ex", "100", "nx"},
    {"SET", "%0", "v", "EX", "0"},
    {"SET", "%0", "v", "EX", "-1"},
    {"SET", "%0", "v", "PX", "0"},
    {"SET", "%0", "v", "EX", "abc"},
    {"SET", "%0", "v", "EX", "9999999999999999"},
    {"SET", "%0", "v", "PXAT", "-5"},
    {"SET", "%0", "v", "EX", "10", "PX", "10"},
    {"SET", "%0", "v", "NX", "XX"},
    {"SET", "%0", "v", "KEEPTTL", "EX", "10"},
    {"SET", "%0", "v", "EX", "10", "KEEPTTL"},
    {"SET", "%0", "v", "EX"},
    {"SET", "%0", "v", "FOO"},
    {"SET", "%0"},
    {"SET", "%0", ""},
    {"GET", "%0"},
    {"GETSET", "%0", "new"},
    {"GETSET", "%4", "new"},
    {"GETDEL", "%0"},
    {"GETDEL", "%0"},
    {"SETNX", "%0", "a"},
    {"SETNX", "%0", "b"},
    {"GET", "%0"},
    {"SETEX", "%0", "100", "val"},
    {"SETEX", "%0", "0", "val"},
    {"SETEX", "%0", "abc", "val"},
    {"PSETEX", "%0", "100000", "val"},
    {"PSETEX", "%0", "-1", "val"},
    {"GETEX", "%0"},
    {"GETEX", "%0", "PERSIST"},
    {"GETEX", "%0", "EX", "100"},
    {"GETEX", "%0", "EX", "0"},
    {"GETEX", "%0", "FOO"},
    {"GETEX", "%0", "PERSIST", "EX", "10"},
    {"GETEX", "%5"},
    {"STRLEN", "%0"},
    {"STRLEN", "%5"},
    {"SET", "%6", "12345"},
    {"STRLEN", "%6"},
    {"GET", "%6"},
};

BASIC_TEST(set_get_options_match_redis) { COMPARE(set_script); }

BASIC_TEST(set_get_explicit)
{
    expect_status(hcmd(hc, "SET %s v", K[0]), "OK");
    expect_bulk(hcmd(hc, "GET %s", K[0]), "v");
    expect_nil(hcmd(hc, "SET %s w NX", K[0]));
    expect_bulk(hcmd(hc, "SET %s w GET", K[0]), "v");
    expect_nil(hcmd(hc, "SET %s x XX", K[1]));
    expect_nil(hcmd(hc, "GET %s", K[1]));
    expect_error(hcmd(hc, "SET %s v EX 0", K[0]), "ERR invalid expire time in 'set' command");
    expect_error(hcmd(hc, "SET %s v NX XX", K[0]), "ERR syntax error");
    expect_error(hcmd(hc, "SET %s v EX abc", K[0]), "ERR value is not an integer or out of range");
    /* binary-safe values */
    const char *argv[] = {"SET", K[2], "a\0b\r\nc"};
    size_t lens[] = {3, strlen(K[2]), 7};
    expect_status(hcmdv(hc, 3, argv, lens), "OK");
    redisReply *r = hcmd(hc, "GET %s", K[2]);
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    cr_assert_eq(r->len, 7);
    cr_assert_eq(memcmp(r->str, "a\0b\r\nc", 7), 0);
    freeReplyObject(r);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Expiry observed through its effect (no TTL command yet): a key set with
 * PX 1 is gone once 1 ms has surely passed; KEEPTTL keeps the expiry, a
 * plain SET drops it. */
BASIC_TEST(expire_and_keepttl)
{
    expect_status(hcmd(hc, "SET %s v PX 1", K[0]), "OK");
    expect_status(hcmd(hc, "SET %s v PX 50", K[1]), "OK");
    expect_status(hcmd(hc, "SET %s v2 KEEPTTL", K[1]), "OK");
    expect_status(hcmd(hc, "SET %s v PX 50", K[2]), "OK");
    expect_status(hcmd(hc, "SET %s v2", K[2]), "OK");
    expect_status(hcmd(hc, "SET %s v EX 1000", K[3]), "OK");
    expect_nil(hcmd(hc, "GETEX %s PX 50", K[4]));
    sleep_ms(200);
    expect_nil(hcmd(hc, "GET %s", K[0]));
    expect_nil(hcmd(hc, "GET %s", K[1]));
    expect_bulk(hcmd(hc, "GET %s", K[2]), "v2");
    expect_bulk(hcmd(hc, "GET %s", K[3]), "v");
    expect_int(hcmd(hc, "EXISTS %s %s %s", K[0], K[1], K[2]), 1);
}

static const cmdline incr_script[] = {
    {"SET", "%3", "10"},
    {"INCR", "%3"},
    {"DECR", "%3"},
    {"INCRBY", "%3", "5"},
    {"DECRBY", "%3", "20"},
    {"INCRBY", "%3", "abc"},
    {"INCRBY", "%3", "9223372036854775808"},
    {"INCR", "%4"},
    {"DECR", "%5"},
    {"SET", "%3", "abc"},
    {"INCR", "%3"},
    {"SET", "%3", " 1"},
    {"INCR", "%3"},
    {"SET", "%3", "00"},
    {"INCR", "%3"},
    {"SET", "%3", "1.5"},
    {"INCR", "%3"},
    {"INCRBYFLOAT", "%3", "1"},
    {"SET", "%3", "9223372036854775807"},
    {"INCR", "%3"},
    {"INCRBY", "%3", "1"},
    {"DECRBY", "%3", "-9223372036854775808"},
    {"SET", "%3", "-9223372036854775808"},
    {"DECR", "%3"},
    {"DECRBY", "%3", "1"},
    {"INCRBY", "%3", "-1"},
    {"GET", "%3"},
    {"INCRBYFLOAT", "%6", "10.5"},
    {"INCRBYFLOAT", "%6", "3.0e3"},
    {"INCRBYFLOAT", "%6", "abc"},
    {"INCRBYFLOAT", "%6", "inf"},
    {"INCRBYFLOAT", "%6", "-3010.5"},
    {"GET", "%6"},
    {"SET", "%6", "5.0e3"},
    {"INCRBYFLOAT", "%6", "2.0e2"},
    {"INCRBYFLOAT", "%6", "0.1"},
    {"INCRBYFLOAT", "%6", ""},
    {"SET", "%7", "1"},
    {"INCRBYFLOAT", "%7", "-1.5"},
    {"INCR", "%7"},
    {"INCR"},
    {"INCRBY", "%7"},
};

BASIC_TEST(incr_family_matches_redis) { COMPARE(incr_script); }

BASIC_TEST(incr_family_explicit)
{
    expect_int(hcmd(hc, "INCR %s", K[0]), 1);
    expect_int(hcmd(hc, "INCRBY %s 41", K[0]), 42);
    expect_status(hcmd(hc, "SET %s abc", K[1]), "OK");
    expect_error(hcmd(hc, "INCR %s", K[1]), "ERR value is not an integer or out of range");
    expect_status(hcmd(hc, "SET %s 9223372036854775807", K[2]), "OK");
    expect_error(hcmd(hc, "INCR %s", K[2]), "ERR increment or decrement would overflow");
    expect_error(hcmd(hc, "INCRBYFLOAT %s abc", K[3]), "ERR value is not a valid float");
    expect_bulk(hcmd(hc, "INCRBYFLOAT %s 10.5", K[3]), "10.5");
    expect_error(hcmd(hc, "INCRBYFLOAT %s inf", K[3]), "ERR increment would produce NaN or Infinity");
}

static const cmdline range_script[] = {
    {"APPEND", "%0", "hello"},
    {"APPEND", "%0", " world"},
    {"GET", "%0"},
    {"SET", "%1", "123"},
    {"APPEND", "%1", "456"},
    {"GET", "%1"},
    {"INCR", "%1"},
    {"APPEND", "%1", ""},
    {"SETRANGE", "%0", "6", "WORLD"},
    {"GET", "%0"},
    {"SETRANGE", "%0", "9", "LDWIDE"},
    {"GET", "%0"},
    {"SETRANGE", "%2", "5", "x"},
    {"GET", "%2"},
    {"SETRANGE", "%3", "0", ""},
    {"EXISTS", "%3"},
    {"SETRANGE", "%3", "10", ""},
    {"EXISTS", "%3"},
    {"SETRANGE", "%0", "0", ""},
    {"SETRANGE", "%0", "-1", "x"},
    {"SETRANGE", "%0", "536870912", "x"},
    {"SETRANGE", "%0", "536870911", ""},
    {"SETRANGE", "%0", "abc", "x"},
    {"SETRANGE", "%1", "1", "X"},
    {"GET", "%1"},
    {"GETRANGE", "%0", "0", "4"},
    {"GETRANGE", "%0", "0", "-1"},
    {"GETRANGE", "%0", "-5", "-1"},
    {"GETRANGE", "%0", "5", "3"},
    {"GETRANGE", "%0", "100", "200"},
    {"GETRANGE", "%0", "-100", "100"},
    {"GETRANGE", "%0", "0", "0"},
    {"GETRANGE", "%0", "-1", "-5"},
    {"GETRANGE", "%5", "0", "-1"},
    {"GETRANGE", "%0", "a", "b"},
    {"SET", "%6", "123"},
    {"GETRANGE", "%6", "0", "1"},
    {"GETRANGE", "%6", "-2", "-1"},
    {"SUBSTR", "%0", "0", "2"},
    {"STRLEN", "%0"},
    {"STRLEN", "%2"},
    {"SET", "%7", ""},
    {"GETRANGE", "%7", "0", "-1"},
    {"APPEND", "%7", "x"},
};

BASIC_TEST(append_setrange_getrange_match_redis) { COMPARE(range_script); }

BASIC_TEST(append_setrange_getrange_explicit)
{
    expect_int(hcmd(hc, "APPEND %s hello", K[0]), 5);
    expect_int(hcmd(hc, "SETRANGE %s 7 xy", K[0]), 9);
    redisReply *r = hcmd(hc, "GET %s", K[0]);
    cr_assert_eq(r->len, 9);
    cr_assert_eq(memcmp(r->str, "hello\0\0xy", 9), 0);
    freeReplyObject(r);
    expect_bulk(hcmd(hc, "GETRANGE %s -2 -1", K[0]), "xy");
    expect_error(hcmd(hc, "SETRANGE %s -1 x", K[0]), "ERR offset is out of range");
}

static const cmdline mset_script[] = {
    {"MSET", "%0", "a", "%1", "b", "%2", "c", "%3", "d", "%4", "e", "%5", "f", "%6", "g", "%7", "h"},
    {"MGET", "%0", "%1", "%2", "%3", "%4", "%5", "%6", "%7", "%8", "%0"},
    {"MGET", "%8", "%9", "%10", "%11"},
    {"MSET", "%0", "a", "%1"},
    {"MSET"},
    {"MGET"},
    {"MSETNX", "%0", "x", "%8", "y"},
    {"MGET", "%0", "%8"},
    {"MSETNX", "%8", "x", "%9", "y", "%10", "z"},
    {"MGET", "%8", "%9", "%10"},
    {"MSETNX", "%11", "1", "%11", "2"},
    {"GET", "%11"},
    {"MSET", "%0", "1", "%0", "2", "%1", "3"},
    {"MGET", "%0", "%1"},
    {"MSETNX", "%0", "x"},
    {"MSETNX", "%0"},
    {"MSET", "%4", "12345", "%5", ""},
    {"MGET", "%4", "%5"},
    {"INCR", "%4"},
    {"MGET", "%4"},
};

BASIC_TEST(mget_mset_msetnx_match_redis) { COMPARE(mset_script); }

BASIC_TEST(mget_mset_msetnx_across_threads)
{
    if (srv.threads > 1) {
        /* the keys really are spread over all threads */
        int seen[4] = {0};
        for (int i = 0; i < 8; i++)
            seen[key_thread(K[i], 4)]++;
        for (int t = 0; t < 4; t++)
            cr_assert_eq(seen[t], 2);
    }
    expect_status(hcmd(hc, "MSET %s 0 %s 1 %s 2 %s 3 %s 4 %s 5 %s 6 %s 7", K[0], K[1], K[2], K[3], K[4], K[5],
                       K[6], K[7]),
                  "OK");
    redisReply *r = hcmd(hc, "MGET %s %s %s %s %s %s %s %s %s", K[7], K[6], K[5], K[4], K[8], K[3], K[2], K[1], K[0]);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 9);
    const char *want[] = {"7", "6", "5", "4", NULL, "3", "2", "1", "0"};
    for (int i = 0; i < 9; i++) {
        if (!want[i]) {
            cr_assert_eq(r->element[i]->type, REDIS_REPLY_NIL);
        } else {
            cr_assert_eq(r->element[i]->type, REDIS_REPLY_STRING);
            cr_assert_str_eq(r->element[i]->str, want[i]);
        }
    }
    freeReplyObject(r);
    expect_int(hcmd(hc, "MSETNX %s x %s y %s z", K[8], K[9], K[0]), 0);
    expect_int(hcmd(hc, "EXISTS %s %s", K[8], K[9]), 0);
    expect_int(hcmd(hc, "MSETNX %s x %s y %s z", K[8], K[9], K[10]), 1);
    expect_int(hcmd(hc, "EXISTS %s %s %s", K[8], K[9], K[10]), 3);
}

static const cmdline del_script[] = {
    {"MSET", "%0", "a", "%1", "b", "%2", "c", "%3", "d"},
    {"EXISTS", "%0", "%0", "%1", "%5"},
    {"EXISTS", "%0", "%1", "%2", "%3", "%0", "%1", "%2", "%3"},
    {"EXISTS", "%5"},
    {"DEL", "%0", "%0", "%1", "%5"},
    {"EXISTS", "%0", "%1"},
    {"DEL", "%2", "%3", "%2"},
    {"UNLINK", "%4"},
    {"DBSIZE"},
    {"SET", "%6", "x"},
    {"UNLINK", "%6", "%6", "%7"},
    {"DEL"},
    {"EXISTS"},
    {"DBSIZE"},
};

BASIC_TEST(del_exists_match_redis) { COMPARE(del_script); }

BASIC_TEST(del_exists_count_duplicates)
{
    expect_status(hcmd(hc, "MSET %s a %s b %s c %s d", K[0], K[1], K[2], K[3]), "OK");
    expect_int(hcmd(hc, "EXISTS %s %s %s %s %s %s", K[0], K[0], K[1], K[2], K[3], K[9]), 5);
    expect_int(hcmd(hc, "DEL %s %s %s %s %s", K[0], K[0], K[1], K[1], K[9]), 2);
    expect_int(hcmd(hc, "EXISTS %s %s %s %s", K[0], K[1], K[2], K[3]), 2);
    expect_int(hcmd(hc, "DBSIZE"), 2);
}

/* ---------- pipelining ---------- */

struct sb {
    char *d;
    size_t len, cap;
};

static void sb_put(struct sb *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? b->cap * 2 : 65536;
        b->d = realloc(b->d, b->cap);
    }
    memcpy(b->d + b->len, p, n);
    b->len += n;
    b->d[b->len] = 0;
}

static void sb_printf(struct sb *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    sb_put(b, tmp, (size_t)n);
}

static void sb_cmd(struct sb *b, int argc, const char **argv)
{
    sb_printf(b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        sb_printf(b, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
}

BASIC_TEST(pipeline_10000_commands_in_order)
{
    enum { N = 10000, PER = 64 };
    /* PER keys per thread of a 4-thread layout */
    static char keys[4][PER][32];
    int have[4] = {0};
    for (int n = 0; have[0] < PER || have[1] < PER || have[2] < PER || have[3] < PER; n++) {
        char k[32];
        snprintf(k, sizeof(k), "pipe:%d", n);
        int t = key_thread(k, 4);
        if (have[t] < PER)
            memcpy(keys[t][have[t]++], k, sizeof(k));
    }
    long long counters[4] = {0};
    int version[4][PER];
    bool isset[4][PER];
    memset(isset, 0, sizeof(isset));
    struct sb in = {0}, want = {0};
    char val[64], cnt[32];
    for (int i = 0; i < N; i++) {
        int t = i % 4;
        int j = (i / 4) % PER;
        switch ((i / 4) % 5) {
        case 0:
        case 3: {
            version[t][j] = i;
            isset[t][j] = true;
            snprintf(val, sizeof(val), "v%d", i);
            const char *argv[] = {"SET", keys[t][j], val};
            sb_cmd(&in, 3, argv);
            sb_printf(&want, "+OK\r\n");
            break;
        }
        case 1: {
            const char *argv[] = {"GET", keys[t][j]};
            sb_cmd(&in, 2, argv);
            if (isset[t][j]) {
                snprintf(val, sizeof(val), "v%d", version[t][j]);
                sb_printf(&want, "$%zu\r\n%s\r\n", strlen(val), val);
            } else {
                sb_printf(&want, "$-1\r\n");
            }
            break;
        }
        case 2: {
            snprintf(cnt, sizeof(cnt), "{ctr%d}", t);
            const char *argv[] = {"INCR", cnt};
            sb_cmd(&in, 2, argv);
            sb_printf(&want, ":%lld\r\n", ++counters[t]);
            break;
        }
        default: {
            /* MGET over one key of every thread */
            const char *argv[] = {"MGET", keys[0][j], keys[1][j], keys[2][j], keys[3][j]};
            sb_cmd(&in, 5, argv);
            sb_printf(&want, "*4\r\n");
            for (int x = 0; x < 4; x++) {
                if (isset[x][j]) {
                    snprintf(val, sizeof(val), "v%d", version[x][j]);
                    sb_printf(&want, "$%zu\r\n%s\r\n", strlen(val), val);
                } else {
                    sb_printf(&want, "$-1\r\n");
                }
            }
            break;
        }
        }
    }
    struct raw *r = raw_connect(srv.port);
    cr_assert(raw_send(r, in.d, in.len));
    size_t got = 0;
    int replies = 0;
    while (got < want.len) {
        size_t n;
        char *rep = raw_reply(r, &n);
        cr_assert_not_null(rep, "only %d replies of %d arrived", replies, N);
        if (got + n > want.len || memcmp(want.d + got, rep, n) != 0) {
            char shown[600];
            snprintf(shown, sizeof(shown), "%s", printable(rep, n));
            size_t wn = (size_t)resp_reply_len(want.d + got, want.len - got);
            cr_assert_fail("reply %d: got %s, want %s", replies, shown, printable(want.d + got, wn));
        }
        got += n;
        free(rep);
        replies++;
    }
    cr_assert_eq(replies, N);
    raw_close(r);
    free(in.d);
    free(want.d);
}

/* ---------- RESP3 ---------- */

/* HELLO's "id" differs between servers: blank it out. */
static void blank_id(char *s)
{
    char *p = strstr(s, "$2\r\nid\r\n:");
    if (!p)
        return;
    p += 9;
    char *e = strstr(p, "\r\n");
    if (!e)
        return;
    memmove(p + 1, e, strlen(e) + 1);
    *p = '#';
}

BASIC_TEST(resp3_hello)
{
    struct raw *r = raw_connect(srv.port);
    raw_sends(r, "HELLO 3\r\n");
    size_t n;
    char *hello = raw_reply(r, &n);
    cr_assert_not_null(hello);
    blank_id(hello);
    cr_assert_str_eq(hello, "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n"
                            "$2\r\nid\r\n:#\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
                            "$7\r\nmodules\r\n*0\r\n");
    free(hello);
    raw_sends(r, "*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n");
    raw_expect(r, "_\r\n");
    char buf[512];
    snprintf(buf, sizeof(buf), "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$1\r\nv\r\n", strlen(K[1]), K[1]);
    raw_sends(r, buf);
    raw_expect(r, "+OK\r\n");
    snprintf(buf, sizeof(buf), "*3\r\n$4\r\nMGET\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", strlen(K[0]), K[0], strlen(K[1]),
             K[1]);
    raw_sends(r, buf);
    raw_expect(r, "*2\r\n_\r\n$1\r\nv\r\n");
    raw_sends(r, "SET x y NX GET\r\n");
    raw_expect(r, "_\r\n");
    raw_sends(r, "HELLO 2\r\n");
    hello = raw_reply(r, &n);
    cr_assert_not_null(hello);
    cr_assert_eq(strncmp(hello, "*14\r\n", 5), 0, "HELLO 2 replied %s", printable(hello, n));
    free(hello);
    raw_sends(r, "GET missing\r\n");
    raw_expect(r, "$-1\r\n");
    raw_sends(r, "HELLO 4\r\n");
    raw_expect(r, "-NOPROTO unsupported protocol version\r\n");
    raw_sends(r, "HELLO abc\r\n");
    raw_expect(r, "-ERR Protocol version is not an integer or out of range\r\n");
    raw_close(r);
}

BASIC_TEST(resp3_matches_redis)
{
    redis_start(&peer, NULL);
    const char *in = "HELLO 3\r\nGET nokey\r\nSET a 1\r\nMGET a nokey\r\nINCRBYFLOAT f 1.5\r\nEXISTS a\r\n"
                     "SET a 2 GET\r\nGETDEL nokey\r\nECHO hi\r\nPING\r\nFOO\r\nHELLO 2\r\nGET nokey\r\n";
    struct raw *d = raw_connect(srv.port), *r = raw_connect(peer.port);
    raw_sends(d, in);
    raw_sends(r, in);
    for (int i = 0; i < 13; i++) {
        size_t dl, rl;
        char *dr = raw_reply(d, &dl), *rr = raw_reply(r, &rl);
        cr_assert_not_null(dr);
        cr_assert_not_null(rr);
        blank_id(dr);
        blank_id(rr);
        char want[600];
        snprintf(want, sizeof(want), "%s", printable(rr, strlen(rr)));
        cr_assert_str_eq(dr, rr, "reply %d: darter %s, redis %s", i, printable(dr, strlen(dr)), want);
        free(dr);
        free(rr);
    }
    raw_close(d);
    raw_close(r);
}

/* ---------- SELECT ---------- */

BASIC_TEST(select_separates_databases)
{
    expect_status(hcmd(hc, "SELECT 1"), "OK");
    for (int i = 0; i < 8; i++)
        expect_status(hcmd(hc, "SET %s db1-%d", K[i], i), "OK");
    expect_int(hcmd(hc, "DBSIZE"), 8);
    expect_status(hcmd(hc, "SELECT 0"), "OK");
    for (int i = 0; i < 8; i++)
        expect_nil(hcmd(hc, "GET %s", K[i]));
    expect_int(hcmd(hc, "EXISTS %s %s %s %s", K[0], K[1], K[2], K[3]), 0);
    redisReply *r = hcmd(hc, "MGET %s %s %s %s", K[0], K[1], K[2], K[3]);
    for (size_t i = 0; i < r->elements; i++)
        cr_assert_eq(r->element[i]->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    expect_int(hcmd(hc, "DBSIZE"), 0);
    expect_status(hcmd(hc, "SET %s db0", K[0]), "OK");
    expect_status(hcmd(hc, "SELECT 1"), "OK");
    expect_bulk(hcmd(hc, "GET %s", K[0]), "db1-0");
    expect_int(hcmd(hc, "DEL %s %s", K[0], K[1]), 2);
    expect_status(hcmd(hc, "SELECT 0"), "OK");
    expect_bulk(hcmd(hc, "GET %s", K[0]), "db0");
    /* another connection starts in db 0 */
    redisContext *c2 = hconnect(&srv);
    expect_bulk(hcmd(c2, "GET %s", K[0]), "db0");
    expect_nil(hcmd(c2, "GET %s", K[2]));
    redisFree(c2);
    expect_error(hcmd(hc, "SELECT 16"), "ERR DB index is out of range");
    expect_error(hcmd(hc, "SELECT -1"), "ERR DB index is out of range");
    expect_error(hcmd(hc, "SELECT abc"), "ERR value is not an integer or out of range");
}

static const cmdline select_script[] = {
    {"SELECT", "1"},
    {"MSET", "%0", "a", "%1", "b", "%2", "c", "%3", "d"},
    {"SELECT", "0"},
    {"MGET", "%0", "%1", "%2", "%3"},
    {"EXISTS", "%0", "%1", "%2", "%3"},
    {"DBSIZE"},
    {"SELECT", "15"},
    {"SELECT", "16"},
    {"SELECT", "-1"},
    {"SELECT", "x"},
    {"SELECT", "1", "2"},
    {"SELECT", "1"},
    {"DBSIZE"},
    {"MSETNX", "%0", "z", "%4", "y"},
    {"DEL", "%0", "%1", "%5"},
    {"DBSIZE"},
};

BASIC_TEST(select_matches_redis) { COMPARE(select_script); }

/* ---------- QUIT, unknown commands, arity ---------- */

BASIC_TEST(quit_closes_after_ok)
{
    struct raw *r = raw_connect(srv.port);
    raw_sends(r, "PING\r\nQUIT\r\nPING\r\n");
    raw_expect(r, "+PONG\r\n+OK\r\n");
    cr_assert(raw_wait_closed(r, 10000), "connection still open after QUIT");
    cr_assert_eq(raw_pending_len(r), 0, "bytes after QUIT's +OK: %s", printable(raw_pending(r), raw_pending_len(r)));
    raw_close(r);
    /* replies of requests running on other threads come before +OK */
    r = raw_connect(srv.port);
    char in[1024], want[1024];
    size_t il = 0, wl = 0;
    for (int i = 0; i < 8; i++) {
        il += (size_t)snprintf(in + il, sizeof(in) - il, "SET %s q%d\r\nGET %s\r\n", K[i], i, K[i]);
        wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "+OK\r\n$2\r\nq%d\r\n", i);
    }
    il += (size_t)snprintf(in + il, sizeof(in) - il, "QUIT\r\nGET %s\r\n", K[0]);
    snprintf(want + wl, sizeof(want) - wl, "+OK\r\n");
    raw_send(r, in, il);
    raw_expect(r, want);
    cr_assert(raw_wait_closed(r, 10000), "connection still open after QUIT");
    cr_assert_eq(raw_pending_len(r), 0, "bytes after QUIT's +OK: %s", printable(raw_pending(r), raw_pending_len(r)));
    raw_close(r);
    /* the server is fine */
    expect_status(hcmd(hc, "PING"), "PONG");
}

BASIC_TEST(unknown_command_and_arity_errors)
{
    struct raw *r = raw_connect(srv.port);
    raw_sends(r, "foo a b\r\n");
    raw_expect(r, "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
    raw_sends(r, "FOO\r\n");
    raw_expect(r, "-ERR unknown command 'FOO', with args beginning with: \r\n");
    raw_sends(r, "get\r\n");
    raw_expect(r, "-ERR wrong number of arguments for 'get' command\r\n");
    raw_sends(r, "GET a b\r\n");
    raw_expect(r, "-ERR wrong number of arguments for 'get' command\r\n");
    raw_sends(r, "*1\r\n$4\r\nMSET\r\n");
    raw_expect(r, "-ERR wrong number of arguments for 'mset' command\r\n");
    /* the connection stays usable */
    raw_sends(r, "PING\r\n");
    raw_expect(r, "+PONG\r\n");
    raw_close(r);
}

static const char *const error_inputs[] = {
    "foo a b\r\n",
    "FOO\r\n",
    "fOo 'x y' \"z\"\r\n",
    "get\r\n",
    "GET a b\r\n",
    "SET k\r\n",
    "*1\r\n$3\r\nfoo\r\n",
    "*2\r\n$4\r\nMSET\r\n$1\r\nk\r\n",
    "CLIENT\r\n",
    "CLIENT SETNAME\r\n",
    "CLIENT foo\r\n",
    "PING a b\r\n",
    "ECHO\r\n",
    "\"\"\r\n",
    "SELECT\r\n",
    "foo \"a\r\nb\"\r\n",
};

BASIC_TEST(error_texts_match_redis)
{
    compare_raw(error_inputs, sizeof(error_inputs) / sizeof(error_inputs[0]));
}

/* Redis stops listing arguments once the list reaches 128 bytes, and cuts
 * each one to what is left of those 128 (server.c processCommand). */
BASIC_TEST(unknown_command_long_arg_then_more_match_redis)
{
    static char in[1024];
    int n = snprintf(in, sizeof(in), "foo ");
    for (int i = 0; i < 200; i++)
        in[n++] = 'a';
    snprintf(in + n, sizeof(in) - (size_t)n, " b\r\n");
    const char *inputs[] = {in};
    compare_raw(inputs, 1);
}

BASIC_TEST(unknown_command_many_args_match_redis)
{
    static char in[2048];
    int n = snprintf(in, sizeof(in), "foo");
    for (int i = 0; i < 100; i++)
        n += snprintf(in + n, sizeof(in) - (size_t)n, " %d", i);
    snprintf(in + n, sizeof(in) - (size_t)n, "\r\n");
    const char *inputs[] = {in};
    compare_raw(inputs, 1);
}

BASIC_TEST(unknown_command_long_name_and_binary_args_match_redis)
{
    static char in[1024];
    int n = 0;
    for (int i = 0; i < 150; i++)
        in[n++] = 'c';
    snprintf(in + n, sizeof(in) - (size_t)n, " x\r\n");
    const char *inputs[] = {in, "foo a b c d e f g h i j k l m n o p q r s t u v w x y z\r\n"};
    compare_raw(inputs, 2);
}

/* ---------- AUTH (a server with --requirepass) ---------- */

static void up_auth(int threads)
{
    make_keys();
    server_start(&srv, threads, "--requirepass", "s3cret", NULL);
}

static void up_auth1(void) { up_auth(1); }
static void up_auth4(void) { up_auth(4); }

#define AUTH_TEST(name)                                                                                      \
    static void auth_##name(void);                                                                           \
    Test(auth_t1, name, .init = up_auth1, .fini = down) { auth_##name(); finish(); }                                   \
    Test(auth_t4, name, .init = up_auth4, .fini = down) { auth_##name(); finish(); }                                   \
    static void auth_##name(void)

AUTH_TEST(noauth_then_auth)
{
    redisContext *c = hconnect(&srv);
    expect_error(hcmd(c, "GET %s", K[0]), "NOAUTH Authentication required.");
    expect_error(hcmd(c, "SET %s v", K[0]), "NOAUTH Authentication required.");
    expect_error(hcmd(c, "MSET %s v %s w", K[0], K[1]), "NOAUTH Authentication required.");
    expect_error(hcmd(c, "PING"), "NOAUTH Authentication required.");
    expect_error(hcmd(c, "AUTH wrong"), "WRONGPASS invalid username-password pair or user is disabled.");
    expect_error(hcmd(c, "AUTH default wrong"), "WRONGPASS invalid username-password pair or user is disabled.");
    expect_error(hcmd(c, "AUTH nobody s3cret"), "WRONGPASS invalid username-password pair or user is disabled.");
    expect_error(hcmd(c, "GET %s", K[0]), "NOAUTH Authentication required.");
    expect_status(hcmd(c, "AUTH s3cret"), "OK");
    expect_status(hcmd(c, "SET %s v", K[0]), "OK");
    expect_status(hcmd(c, "MSET %s v %s w", K[1], K[2]), "OK");
    expect_bulk(hcmd(c, "GET %s", K[2]), "w");
    redisFree(c);
    c = hconnect(&srv);
    expect_error(hcmd(c, "GET %s", K[0]), "NOAUTH Authentication required.");
    expect_status(hcmd(c, "AUTH default s3cret"), "OK");
    expect_bulk(hcmd(c, "GET %s", K[0]), "v");
    redisFree(c);
}

AUTH_TEST(unauthenticated_protocol_limits)
{
    struct raw *r = raw_connect(srv.port);
    raw_sends(r, "*11\r\n");
    raw_expect(r, "-ERR Protocol error: unauthenticated multibulk length\r\n");
    cr_assert(raw_wait_closed(r, 10000));
    raw_close(r);
    r = raw_connect(srv.port);
    raw_sends(r, "*2\r\n$4\r\nAUTH\r\n$16385\r\n");
    raw_expect(r, "-ERR Protocol error: unauthenticated bulk length\r\n");
    cr_assert(raw_wait_closed(r, 10000));
    raw_close(r);
    /* after AUTH the limits are lifted */
    r = raw_connect(srv.port);
    raw_sends(r, "AUTH s3cret\r\n");
    raw_expect(r, "+OK\r\n");
    struct sb in = {0};
    sb_printf(&in, "*13\r\n$4\r\nMSET\r\n");
    for (int i = 0; i < 5; i++)
        sb_printf(&in, "$%zu\r\n%s\r\n$1\r\nv\r\n", strlen(K[i]), K[i]);
    sb_printf(&in, "$%zu\r\n%s\r\n$20000\r\n", strlen(K[5]), K[5]);
    for (int i = 0; i < 20000; i++)
        sb_put(&in, "x", 1);
    sb_put(&in, "\r\n", 2);
    raw_send(r, in.d, in.len);
    raw_expect(r, "+OK\r\n");
    free(in.d);
    raw_close(r);
}

static const char *const auth_inputs[] = {
    "GET a\r\n",
    "PING\r\n",
    "AUTH wrong\r\n",
    "AUTH a b c\r\n",
    "HELLO 3 AUTH default wrong\r\n",
    "HELLO 3 AUTH default s3cret\r\nGET a\r\n",
    "FOO\r\n",
    "*11\r\n",
    "*2\r\n$4\r\nAUTH\r\n$16385\r\n",
    "AUTH s3cret\r\nGET a\r\n",
};

static void compare_auth(const char *const *inputs, size_t count)
{
    redis_start(&peer, "--requirepass", "s3cret", NULL);
    for (size_t i = 0; i < count; i++) {
        struct raw *d = raw_connect(srv.port), *r = raw_connect(peer.port);
        raw_sends(d, inputs[i]);
        raw_sends(r, inputs[i]);
        size_t dl, rl;
        char *rr = raw_reply(r, &rl), *dr = raw_reply(d, &dl);
        cr_assert_not_null(rr);
        cr_assert_not_null(dr);
        blank_id(dr);
        blank_id(rr);
        dl = strlen(dr);
        rl = strlen(rr);
        char want[600];
        snprintf(want, sizeof(want), "%s", printable(rr, rl));
        cr_assert(dl == rl && memcmp(dr, rr, dl) == 0, "input %zu: darter %s, redis %s", i, printable(dr, dl), want);
        free(dr);
        free(rr);
        raw_close(d);
        raw_close(r);
    }
}

AUTH_TEST(auth_errors_match_redis) { compare_auth(auth_inputs, sizeof(auth_inputs) / sizeof(auth_inputs[0])); }

/* HELLO before AUTH: Redis 7.0.15 words it "the HELLO AUTH <user> <pass> option". */
AUTH_TEST(hello_noauth_text_matches_redis)
{
    const char *inputs[] = {"HELLO 3\r\n", "HELLO\r\n"};
    compare_auth(inputs, 2);
}

Test(auth_t1, auth_without_password_configured, .init = up1, .fini = down)
{
    begin();
    expect_error(hcmd(hc, "AUTH foo"), "ERR AUTH <password> called without any password configured for the "
                                       "default user. Are you sure your configuration is correct?");
    expect_status(hcmd(hc, "AUTH default anything"), "OK");
    finish();
}
