/* server/cmd_keys.c — the generic keyspace family: DEL UNLINK EXISTS TOUCH
 * TYPE, the expire family, RENAME/RENAMENX/COPY/MOVE, KEYS SCAN RANDOMKEY,
 * OBJECT. Multi-key ones run as mso hops (transaction.c) and are atomic
 * across threads. Owns: generic key command semantics; storage is shard/. */
#include "server/server.h"

#include <mimalloc.h>
#include <string.h>

static int one_hop(struct mso *t, int hop)
{
    (void)t;
    (void)hop;
    return -1;
}

static void sum_reply(struct mso *t, struct reply *r)
{
    int64_t n = 0;
    for (int p = 0; p < t->nparts; p++)
        n += t->parts[p].count;
    reply_int(r, n);
}

static void del_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)hop;
    int64_t n = 0;
    for (int i = 0; i < c->nkeys; i++) {
        struct ks_ref ref;
        if (db_find(c, &c->argv[c->keyidx[i]], &ref)) {
            ks_delete(c->ks, c->db, &ref);
            n++;
        }
    }
    t->parts[part].count = n;
}

static void exists_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)hop;
    int64_t n = 0;
    for (int i = 0; i < c->nkeys; i++)
        if (db_find(c, &c->argv[c->keyidx[i]], NULL))
            n++;
    t->parts[part].count = n;
}

static const struct mso_ops del_ops = {.hop = del_hop, .next = one_hop, .reply = sum_reply};
static const struct mso_ops exists_ops = {.hop = exists_hop, .next = one_hop, .reply = sum_reply};

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define MK CMD_MULTIKEY

const struct command keys_commands[] = {
    {"del", -2, W | MK, 1, -1, 1, NULL, .mso = &del_ops, .group = "generic", .summary = "Delete a key", .since = "1.0.0", .acl = "keyspace write slow"},
    {"unlink", -2, W | F | MK, 1, -1, 1, NULL, .mso = &del_ops, .group = "generic", .summary = "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", .since = "4.0.0", .acl = "keyspace write fast"},
    {"exists", -2, R | F | MK, 1, -1, 1, NULL, .mso = &exists_ops, .group = "generic", .summary = "Determine if a key exists", .since = "1.0.0", .acl = "keyspace read fast"},
    {NULL},
};
