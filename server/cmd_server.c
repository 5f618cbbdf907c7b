/* server/cmd_server.c — server-wide commands: DBSIZE FLUSHDB FLUSHALL
 * SWAPDB TIME SHUTDOWN DEBUG INFO LASTSAVE. Whole-keyspace ones visit every
 * shard as a global multi-shard op. Owns: server-level command semantics. */
#include "server/server.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static int one_hop(struct mso *t, int hop)
{
    (void)t;
    (void)hop;
    return -1;
}

static void dbsize_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)hop;
    t->parts[part].count = (int64_t)ks_db_size(c->ks, c->db);
}

static void sum_reply(struct mso *t, struct reply *r)
{
    int64_t n = 0;
    for (int p = 0; p < t->nparts; p++)
        n += t->parts[p].count;
    reply_int(r, n);
}

static void flushall_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)t;
    (void)part;
    (void)hop;
    for (int db = 0; db < c->ks->ndb; db++)
        ks_flush_db(c->ks, db);
}

static void flushdb_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)t;
    (void)part;
    (void)hop;
    ks_flush_db(c->ks, c->db);
}

static const char *flush_check(struct mso *t)
{
    if (t->argc > 2 || (t->argc == 2 && !arg_eq(&t->argv[1], "async") && !arg_eq(&t->argv[1], "sync")))
        return ERR_SYNTAX;
    return NULL;
}

static void ok_reply(struct mso *t, struct reply *r)
{
    const char *err = flush_check(t);
    if (err)
        reply_error(r, err);
    else
        reply_ok(r);
}

static const struct mso_ops dbsize_ops = {.hop = dbsize_hop, .next = one_hop, .reply = sum_reply, .global = true};
static const struct mso_ops flushall_ops = {.hop = flushall_hop, .next = one_hop, .reply = ok_reply, .global = true};
static const struct mso_ops flushdb_ops = {.hop = flushdb_hop, .next = one_hop, .reply = ok_reply, .global = true};

static void cmd_shutdown(struct cmd_ctx *c)
{
    (void)c;
    atomic_store(&g_shutdown_requested, 1);
    kill(getpid(), SIGTERM);
}

#define G CMD_GLOBAL

const struct command server_commands[] = {
    {"dbsize", 1, CMD_READONLY | CMD_FAST | G, 0, 0, 0, NULL, .mso = &dbsize_ops, .group = "server", .summary = "Return the number of keys in the selected database", .since = "1.0.0", .acl = "keyspace read fast"},
    {"flushall", -1, CMD_WRITE | G, 0, 0, 0, NULL, .mso = &flushall_ops, .group = "server", .summary = "Remove all keys from all databases", .since = "1.0.0", .acl = "keyspace write slow dangerous"},
    {"flushdb", -1, CMD_WRITE | G, 0, 0, 0, NULL, .mso = &flushdb_ops, .group = "server", .summary = "Remove all keys from the current database", .since = "1.0.0", .acl = "keyspace write slow dangerous"},
    {"shutdown", -1, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_CONN | CMD_NOAUTH, 0, 0, 0, cmd_shutdown, .group = "server", .summary = "Synchronously save the dataset to disk and then shut down the server", .since = "1.0.0", .acl = "admin slow dangerous"},
    {NULL},
};
