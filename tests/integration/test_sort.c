/* tests/integration/test_sort.c — SORT and SORT_RO over sorted sets (and
 * sets), replies compared byte for byte with a real redis-server in RESP2
 * and RESP3: score-order input, BY nosort keeping the zset's order with
 * ASC/DESC and LIMIT, BY and GET patterns naming keys on other threads,
 * ALPHA, conversion errors, and the skiplist conversion SORT leaves
 * behind. (Lists and SORT ... STORE need the list type.) */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define THREADS 4

static struct server srv, ref;

static void fini(void)
{
    server_stop(&srv);
    server_stop(&ref);
}

static void send_cmd(struct raw *r, const char *line)
{
    char buf[4096], out[8192];
    snprintf(buf, sizeof(buf), "%s", line);
    const char *argv[128];
    int argc = 0;
    for (char *tok = strtok(buf, " "); tok && argc < 128; tok = strtok(NULL, " "))
        argv[argc++] = tok;
    int n = snprintf(out, sizeof(out), "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        n += snprintf(out + n, sizeof(out) - (size_t)n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    cr_assert(raw_send(r, out, (size_t)n));
}

static void compare_one(struct raw *d, struct raw *rr, const char *line)
{
    send_cmd(d, line);
    send_cmd(rr, line);
    size_t dl, rl;
    char *a = raw_reply(d, &dl);
    char *b = raw_reply(rr, &rl);
    cr_assert_not_null(a, "darter: no reply to %s", line);
    cr_assert_not_null(b, "redis: no reply to %s", line);
    char da[4096];
    snprintf(da, sizeof(da), "%s", printable(a, dl));
    cr_assert(dl == rl && memcmp(a, b, dl) == 0, "%s\n darter: %s\n redis:  %s", line, da, printable(b, rl));
    free(a);
    free(b);
}

static const char *const script[] = {
    "FLUSHALL",
    "ZADD zset 1 a 5 b 2 c 10 d 3 e", "SADD s 3 1 2 10 -1",
    "OBJECT ENCODING zset",
    "SORT zset ALPHA", "SORT zset ALPHA DESC", "SORT zset BY nosort", "SORT zset BY nosort ASC",
    "SORT zset BY nosort DESC", "OBJECT ENCODING zset",
    "SORT zset BY nosort ASC LIMIT 0 1", "SORT zset BY nosort DESC LIMIT 0 1",
    "SORT zset BY nosort ASC LIMIT 0 2", "SORT zset BY nosort DESC LIMIT 0 2",
    "SORT zset BY nosort LIMIT 5 10", "SORT zset BY nosort LIMIT -10 100", "SORT zset BY nosort LIMIT 1 -1",
    "SORT zset BY nosort DESC LIMIT 3 100", "SORT zset BY nosort LIMIT 4 0", "SORT zset BY nosort LIMIT 2 1 DESC",
    "SORT zset BY constant DESC LIMIT 1 3",
    "SORT_RO zset BY nosort DESC LIMIT 1 2", "SORT_RO zset ALPHA LIMIT 1 2",
    "SORT zset", "SORT zset LIMIT 0 2",
    "EVAL return(redis.call('sort',KEYS[1],'by','nosort','desc')) 1 zset",
    "EVAL return(redis.call('sort',KEYS[1],'by','nosort','limit','1','2')) 1 zset",
    "EVAL return(redis.call('sort',KEYS[1],'by','nosort')) 1 s",
    "MSET w_a 5 w_b 1 w_c 4 w_d 2 w_e 3 n_a A n_b B n_c C n_d D",
    "HSET h_a f 50 h_b f 10 h_c f 40 h_d f 20",
    "SORT zset BY w_*", "SORT zset BY w_* DESC", "SORT zset BY w_* LIMIT 1 2",
    "SORT zset BY w_* GET # GET n_*", "SORT zset BY nosort GET n_* GET #", "SORT zset BY nosort DESC GET w_*",
    "SORT zset BY h_*->f", "SORT zset BY h_*->f GET h_*->f GET #", "SORT zset BY n_* ALPHA GET #",
    "SORT zset BY nosort DESC LIMIT 1 2 GET # GET w_*",
    "ZADD numz 1 10 2 3 3 7 4 -1.5 5 1e2",
    "SORT numz", "SORT numz DESC", "SORT numz BY nosort", "SORT numz LIMIT 1 2",
    "ZADD badz 1 x 2 y", "SORT badz", "SORT badz BY nosort", "SORT badz ALPHA",
    "SORT nokey", "SORT nokey BY nosort LIMIT 0 1",
    "SORT zset LIMIT", "SORT zset LIMIT x 1", "SORT zset FOO", "SORT_RO zset STORE x",
    "SET str x", "SORT str",
    "SORT s", "SORT s DESC LIMIT 0 2",
    "ZADD same 1 b 1 a 1 c 0 z", "SORT same BY nosort", "SORT same BY nosort DESC LIMIT 0 3", "SORT same ALPHA",
    NULL,
};

Test(sort, zsets_match_redis_resp2_and_resp3, .fini = fini)
{
    server_start(&srv, THREADS, NULL);
    redis_start(&ref, NULL);
    for (int resp = 2; resp <= 3; resp++) {
        struct raw *d = raw_connect(srv.port), *r = raw_connect(ref.port);
        if (resp == 3) {
            send_cmd(d, "HELLO 3");
            send_cmd(r, "HELLO 3");
            size_t l;
            free(raw_reply(d, &l));
            free(raw_reply(r, &l));
        }
        for (int i = 0; script[i]; i++)
            compare_one(d, r, script[i]);
        raw_close(d);
        raw_close(r);
    }
    server_stop_clean(&srv);
}

/* A skiplist zset: BY nosort ranges from both ends. */
Test(sort, big_zset_ranges_match_redis, .fini = fini)
{
    server_start(&srv, THREADS, NULL);
    redis_start(&ref, NULL);
    struct raw *d = raw_connect(srv.port), *r = raw_connect(ref.port);
    for (int i = 0; i < 300; i += 20) {
        char line[2048];
        int n = snprintf(line, sizeof(line), "ZADD big");
        for (int j = i; j < i + 20; j++)
            n += snprintf(line + n, sizeof(line) - (size_t)n, " %d m%d", (j * 37) % 301, j);
        compare_one(d, r, line);
    }
    compare_one(d, r, "OBJECT ENCODING big");
    static const char *const q[] = {
        "SORT big BY nosort LIMIT 150 10", "SORT big BY nosort DESC LIMIT 150 10", "SORT big BY nosort DESC LIMIT 0 5",
        "SORT big BY nosort LIMIT 295 10", "SORT big ALPHA LIMIT 10 10", "SORT big ALPHA DESC LIMIT 0 3",
        "SORT big BY nosort LIMIT 299 -1",
    };
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++)
        compare_one(d, r, q[i]);
    raw_close(d);
    raw_close(r);
    server_stop_clean(&srv);
}
