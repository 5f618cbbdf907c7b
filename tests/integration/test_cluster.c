/* tests/integration/test_cluster.c — cluster mode against real processes on
 * loopback: 3 masters, and 3 masters + 3 replicas, configured by pushing the
 * same JSON (CLUSTER SETCONFIG / DFLYCLUSTER CONFIG) to every node. A key in
 * every one of the 16384 slots is written through a MOVED-following helper;
 * CROSSSLOT; ASK/ASKING on a MIGRATING/IMPORTING slot; the health matrix
 * (role x health) for SHARDS/SLOTS/NODES/INFO via SETCONFIG and SETHEALTH on
 * every node; a restart of every node keeps id and config; invalid configs
 * are refused and change nothing; MULTI/EXEC redirection (queue time and
 * EXEC time); the real `redis-cli -c` over every slot; FLUSHSLOTS / RESET
 * refused while keys are held. Nodes keep fixed ports across restarts, so
 * this file spawns them itself (each in its own temp dir). */
#include "harness.h"
#include "cluster/slot.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXN 6

struct node {
    pid_t pid;
    int port;
    char dir[64];
    char id[48];
    redisContext *c;
};

static struct node nodes[MAXN];
static int nn;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void node_spawn(struct node *n)
{
    const char *bin = getenv("DARTER_SERVER");
    cr_assert_not_null(bin);
    char port[16], log[128];
    snprintf(port, sizeof(port), "%d", n->port);
    snprintf(log, sizeof(log), "%s/log", n->dir);
    pid_t parent = getpid();
    n->pid = fork();
    cr_assert_geq(n->pid, 0);
    if (n->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        FILE *f = freopen(log, "a", stdout);
        (void)f;
        dup2(STDOUT_FILENO, STDERR_FILENO);
        execl(bin, bin, "--port", port, "--bind", "127.0.0.1", "--threads", "2", "--save", "", "--cluster-enabled",
              "yes", "--dir", n->dir, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 1000; i++) {
        struct timeval tv = {1, 0};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", n->port, tv);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            if (r && r->type == REDIS_REPLY_STATUS) {
                freeReplyObject(r);
                redisSetTimeout(c, (struct timeval){HARNESS_IO_TIMEOUT_MS / 1000, 0});
                n->c = c;
                return;
            }
            if (r)
                freeReplyObject(r);
        }
        if (c)
            redisFree(c);
        msleep(10);
    }
    cr_assert_fail("node on port %d did not start", n->port);
}

static void node_stop(struct node *n, bool check)
{
    if (n->c)
        redisFree(n->c);
    n->c = NULL;
    if (!n->pid)
        return;
    kill(n->pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 500; i++) {
        if (waitpid(n->pid, &st, WNOHANG) == n->pid)
            break;
        if (i == 499) {
            kill(n->pid, SIGKILL);
            waitpid(n->pid, &st, 0);
        }
        msleep(10);
    }
    n->pid = 0;
    if (check)
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "node exited with status %d", st);
}

static void start_nodes(int count)
{
    nn = count;
    for (int i = 0; i < count; i++) {
        struct node *n = &nodes[i];
        memset(n, 0, sizeof(*n));
        snprintf(n->dir, sizeof(n->dir), "/tmp/darter-cluster-XXXXXX");
        cr_assert_not_null(mkdtemp(n->dir));
        n->port = harness_free_port();
        for (int j = 0; j < i; j++)
            if (nodes[j].port == n->port)
                n->port = harness_free_port(), j = -1;
        node_spawn(n);
        redisReply *r = hcmd(n->c, "CLUSTER MYID");
        cr_assert_eq(r->type, REDIS_REPLY_STRING);
        cr_assert_eq(r->len, 40);
        snprintf(n->id, sizeof(n->id), "%s", r->str);
        freeReplyObject(r);
    }
}

static void teardown(void)
{
    for (int i = 0; i < nn; i++) {
        node_stop(&nodes[i], false);
        if (nodes[i].dir[0])
            nftw(nodes[i].dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
    }
    nn = 0;
}

TestSuite(cluster, .fini = teardown, .timeout = 120);

/* ---------- configs ---------- */

static const int range_start[3] = {0, 5461, 10923};
static const int range_end[3] = {5460, 10922, 16383};

/* health[i]: node i's health (NULL: omitted = online). With 6 nodes,
 * node 3+i is the replica of master i. `extra` goes into shard 0. */
static char *make_config(const char *const *health, const char *mig0)
{
    static char buf[8192];
    size_t o = 0;
    o += (size_t)snprintf(buf + o, sizeof(buf) - o, "[");
    for (int s = 0; s < 3; s++) {
        o += (size_t)snprintf(buf + o, sizeof(buf) - o,
                              "%s{\"slot_ranges\":[{\"start\":%d,\"end\":%d}],\"master\":{\"id\":\"%s\",\"ip\":"
                              "\"127.0.0.1\",\"port\":%d%s%s%s},\"replicas\":[",
                              s ? "," : "", range_start[s], range_end[s], nodes[s].id, nodes[s].port,
                              health && health[s] ? ",\"health\":\"" : "", health && health[s] ? health[s] : "",
                              health && health[s] ? "\"" : "");
        if (nn == 6)
            o += (size_t)snprintf(buf + o, sizeof(buf) - o,
                                  "{\"id\":\"%s\",\"ip\":\"127.0.0.1\",\"port\":%d%s%s%s}", nodes[3 + s].id,
                                  nodes[3 + s].port, health && health[3 + s] ? ",\"health\":\"" : "",
                                  health && health[3 + s] ? health[3 + s] : "", health && health[3 + s] ? "\"" : "");
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "]%s%s}", s == 0 && mig0 ? ",\"migrations\":" : "",
                              s == 0 && mig0 ? mig0 : "");
    }
    snprintf(buf + o, sizeof(buf) - o, "]");
    return buf;
}

static redisReply *cmd2(redisContext *c, const char *a, const char *b, const char *d)
{
    const char *argv[3] = {a, b, d};
    return hcmdv(c, d ? 3 : 2, argv, NULL);
}

static void push_config(const char *json, bool dfly)
{
    for (int i = 0; i < nn; i++) {
        redisReply *r = dfly ? cmd2(nodes[i].c, "DFLYCLUSTER", "CONFIG", json) : cmd2(nodes[i].c, "CLUSTER", "SETCONFIG", json);
        cr_assert_eq(r->type, REDIS_REPLY_STATUS, "node %d: %s", i, r->str);
        freeReplyObject(r);
    }
}

static int node_by_port(int port)
{
    for (int i = 0; i < nn; i++)
        if (nodes[i].port == port)
            return i;
    return -1;
}

/* Run a command starting at node `start`, following MOVED (up to 3 hops).
 * Returns the reply; *served: the node that answered; *moves: redirects. */
static redisReply *cluster_cmd(int start, int *served, int *moves, const char *fmt, const char *k, const char *v)
{
    int at = start;
    for (int hop = 0; hop < 4; hop++) {
        redisReply *r = redisCommand(nodes[at].c, fmt, k, v);
        cr_assert_not_null(r);
        if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "MOVED ", 6)) {
            int slot, port;
            cr_assert_eq(sscanf(r->str, "MOVED %d 127.0.0.1:%d", &slot, &port), 2, "%s", r->str);
            cr_assert_eq((unsigned)slot, key_hash_slot(k, strlen(k)));
            at = node_by_port(port);
            cr_assert_geq(at, 0);
            freeReplyObject(r);
            if (moves)
                (*moves)++;
            continue;
        }
        if (served)
            *served = at;
        return r;
    }
    cr_assert_fail("redirect loop for %s", k);
    return NULL;
}

static int owner_of(unsigned slot)
{
    for (int s = 0; s < 3; s++)
        if ((int)slot >= range_start[s] && (int)slot <= range_end[s])
            return s;
    return -1;
}

static char *str_reply(redisContext *c, const char *a, const char *b)
{
    redisReply *r = cmd2(c, a, b, NULL);
    cr_assert(r->type == REDIS_REPLY_STRING, "%s %s: %s", a, b, r->str);
    char *s = strdup(r->str);
    freeReplyObject(r);
    return s;
}

static long long info_field(int i, const char *name)
{
    char *s = str_reply(nodes[i].c, "CLUSTER", "INFO");
    char pat[64];
    snprintf(pat, sizeof(pat), "%s:", name);
    char *p = strstr(s, pat);
    long long v = -1;
    if (p) {
        p += strlen(pat);
        v = !strncmp(p, "ok", 2) ? 1 : !strncmp(p, "fail", 4) ? 0 : atoll(p);
    }
    free(s);
    return v;
}

/* ---------- tests ---------- */

Test(cluster, disabled)
{
    struct server s;
    server_start(&s, 2, NULL);
    redisContext *c = hconnect(&s);
    expect_error(hcmd(c, "CLUSTER INFO"), "ERR This instance has cluster support disabled");
    expect_error(hcmd(c, "READONLY"), "ERR This instance has cluster support disabled");
    expect_status(hcmd(c, "SET a 1"), "OK");
    redisFree(c);
    server_stop_clean(&s);
}

Test(cluster, three_masters_every_slot)
{
    start_nodes(3);
    /* a fresh node: no slots, state fail, keys not served */
    cr_assert_eq(info_field(0, "cluster_state"), 0);
    expect_error(hcmd(nodes[0].c, "GET x"), "CLUSTERDOWN Hash slot not served");
    push_config(make_config(NULL, NULL), false);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(info_field(i, "cluster_state"), 1);
        cr_assert_eq(info_field(i, "cluster_known_nodes"), 3);
        cr_assert_eq(info_field(i, "cluster_size"), 3);
        cr_assert_eq(info_field(i, "cluster_slots_assigned"), 16384);
    }
    /* one key per slot */
    static char keys[CLUSTER_SLOTS][24];
    int found = 0;
    for (long n = 0; found < CLUSTER_SLOTS; n++) {
        char k[24];
        snprintf(k, sizeof(k), "key:%ld", n);
        unsigned s = key_hash_slot(k, strlen(k));
        if (!keys[s][0]) {
            memcpy(keys[s], k, sizeof(k));
            found++;
        }
    }
    int moves = 0;
    for (unsigned s = 0; s < CLUSTER_SLOTS; s++) {
        int served = -1;
        redisReply *r = cluster_cmd((int)(s % 3), &served, &moves, "SET %s %s", keys[s], keys[s]);
        cr_assert_eq(r->type, REDIS_REPLY_STATUS, "slot %u: %s", s, r->str);
        freeReplyObject(r);
        cr_assert_eq(served, owner_of(s), "slot %u served by %d", s, served);
    }
    cr_assert_gt(moves, CLUSTER_SLOTS / 2);
    for (unsigned s = 0; s < CLUSTER_SLOTS; s += 7) {
        redisReply *r = cluster_cmd((int)((s + 1) % 3), NULL, NULL, "GET %s", keys[s], NULL);
        cr_assert_eq(r->type, REDIS_REPLY_STRING);
        cr_assert_str_eq(r->str, keys[s]);
        freeReplyObject(r);
    }
    /* MOVED from a wrong node names the owner */
    unsigned s0 = 12000;
    redisReply *r = redisCommand(nodes[0].c, "GET %s", keys[s0]);
    char want[64];
    snprintf(want, sizeof(want), "MOVED %u 127.0.0.1:%d", s0, nodes[2].port);
    expect_error(r, want);
    /* CROSSSLOT, and same-slot multi-key */
    expect_error(hcmd(nodes[0].c, "MSET a 1 b 2"), "CROSSSLOT Keys in request don't hash to the same slot");
    r = hcmd(nodes[owner_of(key_hash_slot("{t}", 3))].c, "MSET {t}a 1 {t}b 2");
    expect_status(r, "OK");
    /* per-slot counts and keys */
    long long total = 0;
    for (int i = 0; i < 3; i++)
        for (unsigned s = (unsigned)range_start[i]; s <= (unsigned)range_end[i]; s += 1000) {
            r = hcmd(nodes[i].c, "CLUSTER COUNTKEYSINSLOT %u", s);
            cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
            total += r->integer;
            freeReplyObject(r);
            r = hcmd(nodes[i].c, "CLUSTER GETKEYSINSLOT %u 10", s);
            cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
            cr_assert_geq(r->elements, 1);
            cr_assert_eq(key_hash_slot(r->element[0]->str, r->element[0]->len), s);
            freeReplyObject(r);
        }
    cr_assert_geq(total, 17);
    expect_int(hcmd(nodes[0].c, "CLUSTER KEYSLOT foo"), 12182);
    expect_error(hcmd(nodes[0].c, "SELECT 1"), "ERR SELECT is not allowed in cluster mode");
    for (int i = 0; i < 3; i++)
        node_stop(&nodes[i], true);
}

Test(cluster, ask_and_asking)
{
    start_nodes(3);
    /* slot 100 of node 0 migrating to node 1 via SETSLOT */
    push_config(make_config(NULL, NULL), true);
    const char *k_present = "{mig}present"; /* slot of "mig" */
    unsigned slot = key_hash_slot("mig", 3);
    int src = owner_of(slot), dst = (src + 1) % 3;
    expect_status(hcmd(nodes[src].c, "SET %s v", k_present), "OK");
    expect_status(hcmd(nodes[src].c, "CLUSTER SETSLOT %u MIGRATING %s", slot, nodes[dst].id), "OK");
    expect_status(hcmd(nodes[dst].c, "CLUSTER SETSLOT %u IMPORTING %s", slot, nodes[src].id), "OK");
    char want[64];
    snprintf(want, sizeof(want), "ERR I'm not the owner of hash slot %u", slot);
    expect_error(hcmd(nodes[dst].c, "CLUSTER SETSLOT %u MIGRATING %s", slot, nodes[src].id), want);
    expect_bulk(hcmd(nodes[src].c, "GET %s", k_present), "v");
    snprintf(want, sizeof(want), "ASK %u 127.0.0.1:%d", slot, nodes[dst].port);
    expect_error(hcmd(nodes[src].c, "GET {mig}missing"), want);
    expect_error(hcmd(nodes[src].c, "MGET {mig}present {mig}missing"),
                 "TRYAGAIN Multiple keys request during rehashing of slot");
    snprintf(want, sizeof(want), "MOVED %u 127.0.0.1:%d", slot, nodes[src].port);
    expect_error(hcmd(nodes[dst].c, "SET {mig}missing x"), want);
    expect_status(hcmd(nodes[dst].c, "ASKING"), "OK");
    expect_status(hcmd(nodes[dst].c, "SET {mig}missing x"), "OK");
    expect_error(hcmd(nodes[dst].c, "GET {mig}missing"), want); /* ASKING is one-shot */
    /* NODES shows the migration on both sides */
    char *nodes_txt = str_reply(nodes[src].c, "CLUSTER", "NODES");
    char mark[128];
    snprintf(mark, sizeof(mark), "[%u->-%s]", slot, nodes[dst].id);
    cr_assert_not_null(strstr(nodes_txt, mark), "%s", nodes_txt);
    free(nodes_txt);
    /* finish: the slot moves to dst everywhere */
    for (int i = 0; i < 3; i++)
        expect_status(hcmd(nodes[i].c, "CLUSTER SETSLOT %u NODE %s", slot, nodes[dst].id), "OK");
    expect_bulk(hcmd(nodes[dst].c, "GET {mig}missing"), "x");
    snprintf(want, sizeof(want), "MOVED %u 127.0.0.1:%d", slot, nodes[dst].port);
    expect_error(hcmd(nodes[src].c, "GET {mig}missing"), want);
    /* migrations pushed as JSON (Dragonfly's schema) */
    char mig[256];
    snprintf(mig, sizeof(mig), "[{\"slot_ranges\":[{\"start\":10,\"end\":20}],\"node_id\":\"%s\",\"ip\":\"127.0.0.1\",\"port\":%d}]",
             nodes[1].id, nodes[1].port);
    push_config(make_config(NULL, mig), false);
    char k10[32] = "";
    for (int n = 0; !k10[0]; n++) {
        char k[32];
        snprintf(k, sizeof(k), "m%d", n);
        if (key_hash_slot(k, strlen(k)) == 15)
            strcpy(k10, k);
    }
    snprintf(want, sizeof(want), "ASK 15 127.0.0.1:%d", nodes[1].port);
    expect_error(hcmd(nodes[0].c, "GET %s", k10), want);
    expect_status(hcmd(nodes[1].c, "ASKING"), "OK");
    expect_nil(hcmd(nodes[1].c, "GET %s", k10));
    for (int i = 0; i < 3; i++)
        node_stop(&nodes[i], true);
}

/* ---------- the health matrix ---------- */

/* SHARDS (RESP2): is node `id` listed, and with which health. */
static bool shards_has(int at, const char *id, char *health)
{
    redisReply *r = hcmd(nodes[at].c, "CLUSTER SHARDS");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 3);
    bool found = false;
    for (size_t s = 0; s < r->elements; s++) {
        redisReply *sh = r->element[s];
        cr_assert_eq(sh->elements, 4);
        cr_assert_str_eq(sh->element[0]->str, "slots");
        cr_assert_str_eq(sh->element[2]->str, "nodes");
        redisReply *ns = sh->element[3];
        for (size_t k = 0; k < ns->elements; k++) {
            redisReply *n = ns->element[k];
            cr_assert_eq(n->elements, 14);
            static const char *const fields[] = {"id", "port", "ip", "endpoint", "role", "replication-offset", "health"};
            for (int f = 0; f < 7; f++)
                cr_assert_str_eq(n->element[2 * f]->str, fields[f]);
            if (!strcmp(n->element[1]->str, id)) {
                found = true;
                strcpy(health, n->element[13]->str);
            }
        }
    }
    freeReplyObject(r);
    return found;
}

static bool slots_has(int at, const char *id)
{
    redisReply *r = hcmd(nodes[at].c, "CLUSTER SLOTS");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 3);
    bool found = false;
    for (size_t s = 0; s < r->elements; s++)
        for (size_t k = 2; k < r->element[s]->elements; k++) {
            redisReply *n = r->element[s]->element[k];
            cr_assert_eq(n->elements, 4);
            if (!strcmp(n->element[2]->str, id))
                found = true;
        }
    freeReplyObject(r);
    return found;
}

/* The NODES line of `id` (copied into line), or false. */
static bool nodes_line(int at, const char *id, char *line, size_t cap)
{
    char *txt = str_reply(nodes[at].c, "CLUSTER", "NODES");
    size_t len = strlen(txt);
    cr_assert(len > 0 && txt[len - 1] == '\n');
    bool found = false;
    for (char *p = txt; *p;) {
        char *e = strchr(p, '\n');
        *e = 0;
        if (!strncmp(p, id, 40)) {
            found = true;
            snprintf(line, cap, "%s", p);
        }
        p = e + 1;
    }
    free(txt);
    return found;
}

static void check_matrix(int target, const char *health)
{
    bool master = target < 3;
    for (int at = 0; at < nn; at++) {
        char h[32] = "";
        bool in_shards = shards_has(at, nodes[target].id, h);
        if (master || strcmp(health, "hidden")) {
            cr_assert(in_shards, "node %d: target %d (%s) missing from SHARDS", at, target, health);
            cr_assert_str_eq(h, health);
        } else {
            cr_assert(!in_shards, "node %d: hidden replica in SHARDS", at);
        }
        bool in_slots = slots_has(at, nodes[target].id);
        cr_assert_eq(in_slots, master || !strcmp(health, "online"), "node %d: SLOTS for %s %s", at,
                     master ? "master" : "replica", health);
        char line[512];
        bool in_nodes = nodes_line(at, nodes[target].id, line, sizeof(line));
        cr_assert_eq(in_nodes, master || strcmp(health, "hidden") != 0, "node %d: NODES for %s", at, health);
        if (in_nodes) {
            bool fail = !strcmp(health, "fail");
            cr_assert_eq(strstr(line, " disconnected") != NULL, fail, "%s", line);
            cr_assert_eq(strstr(line, ",fail ") != NULL, fail, "%s", line);
            cr_assert_not_null(strstr(line, master ? "master" : "slave"), "%s", line);
            cr_assert_not_null(strstr(line, master ? " - 0 0 " : nodes[target - 3].id), "%s", line);
            char addr[64];
            snprintf(addr, sizeof(addr), " 127.0.0.1:%d@%d ", nodes[target].port, nodes[target].port + 10000);
            cr_assert_not_null(strstr(line, addr), "%s", line);
        }
        cr_assert_eq(info_field(at, "cluster_known_nodes"), 6);
        cr_assert_eq(info_field(at, "cluster_size"), 3);
        cr_assert_eq(info_field(at, "cluster_state"), master && !strcmp(health, "fail") ? 0 : 1);
        cr_assert_eq(info_field(at, "cluster_slots_fail"), master && !strcmp(health, "fail") ? 5462 : 0);
    }
}

static const char *const healths[] = {"online", "loading", "fail", "hidden"};

Test(cluster, health_matrix_and_restart)
{
    start_nodes(6);
    push_config(make_config(NULL, NULL), false);
    /* replicas: MOVED to the master, READONLY reads served */
    unsigned s = key_hash_slot("rk", 2);
    int m = owner_of(s);
    expect_status(hcmd(nodes[m].c, "SET rk v"), "OK");
    char want[64];
    snprintf(want, sizeof(want), "MOVED %u 127.0.0.1:%d", s, nodes[m].port);
    expect_error(hcmd(nodes[3 + m].c, "GET rk"), want);
    expect_status(hcmd(nodes[3 + m].c, "READONLY"), "OK");
    expect_nil(hcmd(nodes[3 + m].c, "GET rk")); /* no replication yet: served locally */
    expect_error(hcmd(nodes[3 + m].c, "SET rk w"), want);
    expect_status(hcmd(nodes[3 + m].c, "READWRITE"), "OK");
    expect_error(hcmd(nodes[3 + m].c, "GET rk"), want);
    /* REPLICAS */
    redisReply *r = hcmd(nodes[0].c, "CLUSTER REPLICAS %s", nodes[1].id);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 1);
    cr_assert_eq(strncmp(r->element[0]->str, nodes[4].id, 40), 0);
    freeReplyObject(r);

    int targets[2] = {1, 4}; /* a master, a replica (of shard 1) */
    for (int t = 0; t < 2; t++)
        for (int h = 0; h < 4; h++) {
            const char *hv[MAXN] = {NULL};
            hv[targets[t]] = healths[h];
            push_config(make_config(hv, NULL), false);
            check_matrix(targets[t], healths[h]);
            /* the same through SETHEALTH on every node */
            push_config(make_config(NULL, NULL), false);
            for (int i = 0; i < nn; i++)
                expect_status(hcmd(nodes[i].c, "CLUSTER SETHEALTH %s %s", nodes[targets[t]].id, healths[h]), "OK");
            check_matrix(targets[t], healths[h]);
        }
    /* restart every node: same id, same config */
    char before[MAXN][4096];
    for (int i = 0; i < nn; i++) {
        char *txt = str_reply(nodes[i].c, "CLUSTER", "NODES");
        snprintf(before[i], sizeof(before[i]), "%s", txt);
        free(txt);
    }
    for (int i = 0; i < nn; i++)
        node_stop(&nodes[i], true);
    for (int i = 0; i < nn; i++)
        node_spawn(&nodes[i]);
    for (int i = 0; i < nn; i++) {
        char *id = str_reply(nodes[i].c, "CLUSTER", "MYID");
        cr_assert_str_eq(id, nodes[i].id);
        free(id);
        char *txt = str_reply(nodes[i].c, "CLUSTER", "NODES");
        cr_assert_str_eq(txt, before[i]);
        free(txt);
    }
    check_matrix(4, "hidden");
    expect_error(hcmd(nodes[0].c, "CLUSTER SETHEALTH nosuchnode online"), "ERR Unknown node nosuchnode");
    expect_error(hcmd(nodes[0].c, "CLUSTER SETHEALTH %s sleepy", nodes[1].id),
                 "ERR Invalid health, must be one of online, loading, fail, hidden");

    /* invalid configs: refused, nothing changes */
    char *orig = str_reply(nodes[0].c, "CLUSTER", "NODES");
    char bad[8][8192];
    const char *good = make_config(NULL, NULL);
    int nb = 0;
    snprintf(bad[nb++], sizeof(bad[0]), "%.*s", (int)strlen(good) - 3, good); /* truncated */
    snprintf(bad[nb++], sizeof(bad[0]), "%s", "[{\"slot_ranges\":[{\"start\":0,\"end\":16383}]}]"); /* no master */
    /* duplicate id */
    snprintf(bad[nb++], sizeof(bad[0]),
             "[{\"slot_ranges\":[{\"start\":0,\"end\":8000}],\"master\":{\"id\":\"%s\",\"ip\":\"127.0.0.1\",\"port\":1}},"
             "{\"slot_ranges\":[{\"start\":8001,\"end\":16383}],\"master\":{\"id\":\"%s\",\"ip\":\"127.0.0.1\",\"port\":2}}]",
             nodes[0].id, nodes[0].id);
    /* a slot owned twice */
    snprintf(bad[nb++], sizeof(bad[0]),
             "[{\"slot_ranges\":[{\"start\":0,\"end\":8000}],\"master\":{\"id\":\"%s\",\"ip\":\"127.0.0.1\",\"port\":1}},"
             "{\"slot_ranges\":[{\"start\":8000,\"end\":16383}],\"master\":{\"id\":\"%s\",\"ip\":\"127.0.0.1\",\"port\":2}}]",
             nodes[0].id, nodes[1].id);
    /* a slot owned by nobody */
    snprintf(bad[nb++], sizeof(bad[0]),
             "[{\"slot_ranges\":[{\"start\":0,\"end\":16382}],\"master\":{\"id\":\"%s\",\"ip\":\"127.0.0.1\",\"port\":1}}]",
             nodes[0].id);
    /* unknown health */
    snprintf(bad[nb++], sizeof(bad[0]),
             "[{\"slot_ranges\":[{\"start\":0,\"end\":16383}],\"master\":{\"id\":\"%s\",\"ip\":\"127.0.0.1\",\"port\":1,\"health\":\"meh\"}}]",
             nodes[0].id);
    /* bad port */
    snprintf(bad[nb++], sizeof(bad[0]),
             "[{\"slot_ranges\":[{\"start\":0,\"end\":16383}],\"master\":{\"id\":\"%s\",\"ip\":\"127.0.0.1\",\"port\":70000}}]",
             nodes[0].id);
    snprintf(bad[nb++], sizeof(bad[0]), "%s x", good); /* trailing garbage */
    for (int i = 0; i < nb; i++) {
        r = cmd2(nodes[0].c, "CLUSTER", "SETCONFIG", bad[i]);
        cr_assert_eq(r->type, REDIS_REPLY_ERROR, "bad config %d accepted", i);
        cr_assert_eq(strncmp(r->str, "ERR Invalid cluster configuration: ", 35), 0, "%s", r->str);
        freeReplyObject(r);
        char *now = str_reply(nodes[0].c, "CLUSTER", "NODES");
        cr_assert_str_eq(now, orig);
        free(now);
    }
    free(orig);
    for (int i = 0; i < nn; i++)
        node_stop(&nodes[i], true);
}

Test(cluster, own_config_commands)
{
    start_nodes(1);
    redisContext *c = nodes[0].c;
    expect_status(hcmd(c, "CLUSTER SET-CONFIG-EPOCH 5"), "OK");
    expect_error(hcmd(c, "CLUSTER SET-CONFIG-EPOCH 6"), "ERR Node config epoch is already non-zero");
    expect_status(hcmd(c, "CLUSTER ADDSLOTSRANGE 0 100 200 300"), "OK");
    expect_error(hcmd(c, "CLUSTER ADDSLOTS 50"), "ERR Slot 50 is already busy");
    expect_error(hcmd(c, "CLUSTER ADDSLOTS 16384"), "ERR Invalid or out of range slot");
    expect_error(hcmd(c, "CLUSTER ADDSLOTS 400 400"), "ERR Slot 400 specified multiple times");
    expect_status(hcmd(c, "CLUSTER DELSLOTS 100"), "OK");
    expect_error(hcmd(c, "CLUSTER DELSLOTS 100"), "ERR Slot 100 is already unassigned");
    expect_status(hcmd(c, "CLUSTER DELSLOTSRANGE 250 300"), "OK");
    char line[512];
    cr_assert(nodes_line(0, nodes[0].id, line, sizeof(line)));
    char want[256];
    snprintf(want, sizeof(want), "%s 127.0.0.1:%d@%d myself,master - 0 0 5 connected 0-99 200-249", nodes[0].id,
             nodes[0].port, nodes[0].port + 10000);
    cr_assert_str_eq(line, want);
    expect_error(hcmd(c, "GET x"), "CLUSTERDOWN Hash slot not served"); /* slot 16287 */
    cr_assert_eq(info_field(0, "cluster_state"), 0);
    expect_status(hcmd(c, "CLUSTER FLUSHSLOTS"), "OK");
    expect_status(hcmd(c, "CLUSTER ADDSLOTSRANGE 0 16383"), "OK");
    cr_assert_eq(info_field(0, "cluster_state"), 1);
    /* FLUSHSLOTS and RESET of a master need an empty database (keys on
     * either thread: "x" is on thread 1, "b" on thread 0, of 2) */
    char *conf = str_reply(c, "CLUSTER", "NODES");
    const char *holders[2] = {"x", "b"};
    for (int i = 0; i < 2; i++) {
        expect_status(hcmd(c, "SET %s 1", holders[i]), "OK");
        expect_error(hcmd(c, "CLUSTER FLUSHSLOTS"), "ERR DB must be empty to perform CLUSTER FLUSHSLOTS.");
        expect_error(hcmd(c, "CLUSTER RESET"), "ERR CLUSTER RESET can't be called with master nodes containing keys");
        expect_error(hcmd(c, "CLUSTER RESET HARD"),
                     "ERR CLUSTER RESET can't be called with master nodes containing keys");
        expect_error(hcmd(c, "CLUSTER RESET SOFT"),
                     "ERR CLUSTER RESET can't be called with master nodes containing keys");
        expect_error(hcmd(c, "CLUSTER RESET MEDIUM"), "ERR syntax error"); /* arguments first, as Redis */
        char *now = str_reply(c, "CLUSTER", "NODES");
        cr_assert_str_eq(now, conf);
        free(now);
        expect_int(hcmd(c, "DEL %s", holders[i]), 1);
    }
    free(conf);
    expect_int(hcmd(c, "DBSIZE"), 0);
    expect_status(hcmd(c, "SET x 1"), "OK");
    expect_status(hcmd(c, "FLUSHALL"), "OK");
    expect_status(hcmd(c, "CLUSTER RESET HARD"), "OK");
    char *id = str_reply(c, "CLUSTER", "MYID");
    cr_assert_str_neq(id, nodes[0].id);
    free(id);
    expect_int(hcmd(c, "CLUSTER COUNTKEYSINSLOT 16287"), 0);
    /* a reset node holds no slots: FLUSHSLOTS and RESET with keys refused */
    expect_status(hcmd(c, "CLUSTER ADDSLOTSRANGE 0 16383"), "OK");
    expect_status(hcmd(c, "SET x 1"), "OK");
    expect_error(hcmd(c, "CLUSTER FLUSHSLOTS"), "ERR DB must be empty to perform CLUSTER FLUSHSLOTS.");
    expect_int(hcmd(c, "DEL x"), 1);
    expect_status(hcmd(c, "CLUSTER FLUSHSLOTS"), "OK");
    expect_status(hcmd(c, "CLUSTER RESET"), "OK");
    expect_error(hcmd(c, "CLUSTER COUNTKEYSINSLOT 16384"), "ERR Invalid slot");
    redisReply *r = hcmd(c, "CLUSTER LINKS");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    node_stop(&nodes[0], true);
}

/* ---------- MULTI/EXEC in cluster mode ---------- */

/* The first key "<prefix><n>" whose slot is owned by master `owner` and is
 * not `avoid` (-1: any). */
static void key_owned_by(char *buf, size_t cap, const char *prefix, int owner, int avoid)
{
    for (int n = 0;; n++) {
        snprintf(buf, cap, "%s%d", prefix, n);
        unsigned s = key_hash_slot(buf, strlen(buf));
        if (owner_of(s) == owner && (int)s != avoid)
            return;
    }
}

/* As Redis (processCommand + getNodeByQuery): a command queued inside MULTI
 * is checked against the slot map (MOVED / CROSSSLOT flag the transaction:
 * EXECABORT), and EXEC checks the keys of all queued commands together (one
 * slot, served here), answering the redirection and discarding. */
Test(cluster, multi_exec_redirection)
{
    start_nodes(3);
    push_config(make_config(NULL, NULL), false);
    redisContext *c = nodes[0].c;
    char k0[32], k0b[32], k1[32], want[96];
    key_owned_by(k0, sizeof(k0), "a", 0, -1);
    unsigned s0 = key_hash_slot(k0, strlen(k0));
    key_owned_by(k0b, sizeof(k0b), "b", 0, (int)s0); /* node 0, another slot */
    key_owned_by(k1, sizeof(k1), "c", 1, -1);
    unsigned s1 = key_hash_slot(k1, strlen(k1));

    /* queue time: MOVED, the transaction fails, nothing runs */
    expect_status(hcmd(c, "MULTI"), "OK");
    expect_status(hcmd(c, "SET %s v", k0), "QUEUED");
    snprintf(want, sizeof(want), "MOVED %u 127.0.0.1:%d", s1, nodes[1].port);
    expect_error(hcmd(c, "SET %s v", k1), want);
    expect_status(hcmd(c, "PING"), "QUEUED");
    expect_error(hcmd(c, "EXEC"), "EXECABORT Transaction discarded because of previous errors.");
    expect_nil(hcmd(c, "GET %s", k0));
    expect_nil(hcmd(nodes[1].c, "GET %s", k1));

    /* queue time: CROSSSLOT within one command */
    expect_status(hcmd(c, "MULTI"), "OK");
    expect_error(hcmd(c, "MSET %s 1 %s 2", k0, k0b), "CROSSSLOT Keys in request don't hash to the same slot");
    expect_status(hcmd(c, "SET %s v", k0), "QUEUED");
    expect_error(hcmd(c, "EXEC"), "EXECABORT Transaction discarded because of previous errors.");
    expect_nil(hcmd(c, "GET %s", k0));

    /* EXEC time: each command is served here, but not in one slot */
    expect_status(hcmd(c, "WATCH %s", k0), "OK");
    expect_status(hcmd(c, "MULTI"), "OK");
    expect_status(hcmd(c, "SET %s v", k0), "QUEUED");
    expect_status(hcmd(c, "SET %s v", k0b), "QUEUED");
    expect_error(hcmd(c, "EXEC"), "CROSSSLOT Keys in request don't hash to the same slot");
    expect_error(hcmd(c, "EXEC"), "ERR EXEC without MULTI"); /* discarded */
    expect_nil(hcmd(c, "GET %s", k0));
    expect_nil(hcmd(c, "GET %s", k0b));

    /* one slot (hash tags), keyless commands mixed in: runs */
    char t1[40], t2[40];
    snprintf(t1, sizeof(t1), "{%s}x", k0);
    snprintf(t2, sizeof(t2), "{%s}y", k0);
    expect_status(hcmd(c, "MULTI"), "OK");
    expect_status(hcmd(c, "SET %s 1", t1), "QUEUED");
    expect_status(hcmd(c, "PING"), "QUEUED");
    expect_status(hcmd(c, "MSET %s 2 %s 3", t2, k0), "QUEUED");
    expect_status(hcmd(c, "INCR %s", t1), "QUEUED");
    redisReply *r = hcmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", r->type == REDIS_REPLY_ERROR ? r->str : "");
    cr_assert_eq(r->elements, 4);
    cr_assert_str_eq(r->element[0]->str, "OK");
    cr_assert_str_eq(r->element[1]->str, "PONG");
    cr_assert_str_eq(r->element[2]->str, "OK");
    cr_assert_eq(r->element[3]->integer, 2);
    freeReplyObject(r);
    expect_bulk(hcmd(c, "GET %s", k0), "3");

    /* EXEC time: the slot moved away after queueing -> MOVED, discarded */
    redisContext *other = redisConnect("127.0.0.1", nodes[0].port);
    cr_assert(other && !other->err);
    expect_status(hcmd(c, "MULTI"), "OK");
    expect_status(hcmd(c, "SET %s moved", k0), "QUEUED");
    expect_status(hcmd(other, "CLUSTER SETSLOT %u NODE %s", s0, nodes[1].id), "OK");
    snprintf(want, sizeof(want), "MOVED %u 127.0.0.1:%d", s0, nodes[1].port);
    expect_error(hcmd(c, "EXEC"), want);
    expect_error(hcmd(c, "EXEC"), "ERR EXEC without MULTI");
    expect_status(hcmd(other, "CLUSTER SETSLOT %u NODE %s", s0, nodes[0].id), "OK");
    expect_bulk(hcmd(c, "GET %s", k0), "3");
    redisFree(other);

    /* ASKING before MULTI lasts until EXEC (Redis keeps CLIENT_ASKING
     * inside MULTI); an IMPORTING slot is then served, once */
    redisContext *d = nodes[1].c;
    expect_status(hcmd(d, "CLUSTER SETSLOT %u IMPORTING %s", s0, nodes[0].id), "OK");
    snprintf(want, sizeof(want), "MOVED %u 127.0.0.1:%d", s0, nodes[0].port);
    expect_status(hcmd(d, "MULTI"), "OK");
    expect_error(hcmd(d, "SET %s imported", t1), want);
    expect_status(hcmd(d, "DISCARD"), "OK");
    expect_status(hcmd(d, "ASKING"), "OK");
    expect_status(hcmd(d, "MULTI"), "OK");
    expect_status(hcmd(d, "SET %s imported", t1), "QUEUED");
    expect_status(hcmd(d, "GET %s", t1), "QUEUED");
    r = hcmd(d, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", r->type == REDIS_REPLY_ERROR ? r->str : "");
    cr_assert_eq(r->elements, 2);
    cr_assert_str_eq(r->element[1]->str, "imported");
    freeReplyObject(r);
    expect_error(hcmd(d, "GET %s", t1), want); /* ASKING ended with EXEC */
    expect_status(hcmd(d, "CLUSTER SETSLOT %u STABLE", s0), "OK");

    /* outside MULTI nothing changed */
    expect_error(hcmd(c, "MSET %s 1 %s 2", k0, k0b), "CROSSSLOT Keys in request don't hash to the same slot");
    snprintf(want, sizeof(want), "MOVED %u 127.0.0.1:%d", s1, nodes[1].port);
    expect_error(hcmd(c, "GET %s", k1), want);
    for (int i = 0; i < 3; i++)
        node_stop(&nodes[i], true);
}

/* ---------- redis-cli -c ---------- */

/* The real `redis-cli -c` (one process, commands piped on stdin, its REPL
 * following MOVED) sets and gets a key in every slot; the keys go in an
 * order that alternates owners, so nearly every SET is redirected. Every
 * GET returns its value and every key is on its slot's owner. */
Test(cluster, redis_cli_every_slot)
{
    const char *cli = "/usr/bin/redis-cli";
    if (access(cli, X_OK) != 0)
        cr_skip_test("redis-cli is not installed");
    start_nodes(3);
    push_config(make_config(NULL, NULL), false);
    static char keys[CLUSTER_SLOTS][24];
    int found = 0;
    for (long n = 0; found < CLUSTER_SLOTS; n++) {
        char k[24];
        snprintf(k, sizeof(k), "cli:%ld", n);
        unsigned s = key_hash_slot(k, strlen(k));
        if (!keys[s][0]) {
            memcpy(keys[s], k, sizeof(k));
            found++;
        }
    }
    char dir[] = "/tmp/darter-cli-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char in[64], out[64], err[64];
    snprintf(in, sizeof(in), "%s/in", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    snprintf(err, sizeof(err), "%s/err", dir);
    FILE *f = fopen(in, "w");
    cr_assert_not_null(f);
    static unsigned order[CLUSTER_SLOTS];
    int no = 0;
    for (int i = 0; i <= range_end[1] - range_start[1]; i++)
        for (int m = 0; m < 3; m++)
            if (range_start[m] + i <= range_end[m])
                order[no++] = (unsigned)(range_start[m] + i);
    cr_assert_eq(no, CLUSTER_SLOTS);
    for (int i = 0; i < no; i++)
        fprintf(f, "SET %s v%u\nGET %s\n", keys[order[i]], order[i], keys[order[i]]);
    cr_assert_eq(fclose(f), 0);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s -c -h 127.0.0.1 -p %d < %s > %s 2> %s", cli, nodes[0].port, in, out, err);
    int rc = system(cmd);
    cr_assert_eq(rc, 0, "redis-cli exited with %d", rc);
    /* raw output: "OK" and the value per command, plus "-> Redirected to
     * slot [S] located at HOST:PORT" before each redirected reply */
    f = fopen(out, "r");
    cr_assert_not_null(f);
    char line[256];
    int replies = 0, redirects = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        if (!strncmp(line, "-> Redirected to slot [", 23)) {
            unsigned s;
            int port;
            cr_assert_eq(sscanf(line, "-> Redirected to slot [%u] located at 127.0.0.1:%d", &s, &port), 2, "%s", line);
            cr_assert_lt(replies / 2, CLUSTER_SLOTS);
            cr_assert_eq(s, order[replies / 2], "%s", line);
            cr_assert_eq(node_by_port(port), owner_of(s), "%s", line);
            redirects++;
            continue;
        }
        cr_assert_lt(replies, 2 * CLUSTER_SLOTS, "extra output: %s", line);
        unsigned s = order[replies / 2];
        if (replies % 2 == 0) {
            cr_assert_str_eq(line, "OK", "SET of slot %u", s);
        } else {
            char want[16];
            snprintf(want, sizeof(want), "v%u", s);
            cr_assert_str_eq(line, want, "GET of slot %u", s);
        }
        replies++;
    }
    fclose(f);
    cr_assert_eq(replies, 2 * CLUSTER_SLOTS);
    cr_assert_gt(redirects, CLUSTER_SLOTS / 2);
    /* every key on its owner: one key in each slot there, DBSIZE per node */
    for (int m = 0; m < 3; m++) {
        for (int s = range_start[m]; s <= range_end[m]; s++)
            cr_assert_eq(redisAppendCommand(nodes[m].c, "CLUSTER COUNTKEYSINSLOT %d", s), REDIS_OK);
        for (int s = range_start[m]; s <= range_end[m]; s++) {
            redisReply *r = NULL;
            cr_assert_eq(redisGetReply(nodes[m].c, (void **)&r), REDIS_OK);
            cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
            cr_assert_eq(r->integer, 1, "slot %d on node %d: %lld keys", s, m, r->integer);
            freeReplyObject(r);
        }
        expect_int(hcmd(nodes[m].c, "DBSIZE"), range_end[m] - range_start[m] + 1);
    }
    remove(in);
    remove(out);
    remove(err);
    remove(dir);
    for (int i = 0; i < 3; i++)
        node_stop(&nodes[i], true);
}
