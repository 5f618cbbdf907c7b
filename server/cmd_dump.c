/* server/cmd_dump.c — DUMP and RESTORE (REPLACE ABSTTL IDLETIME FREQ), with
 * Redis's replies and errors (cluster.c dumpCommand / restoreCommand).
 * Owns: the two commands' semantics. The payload format (type byte, RDB
 * value, RDB version, CRC64) is shard/rdb.c's; storage is shard/. */
#include "server/server.h"
#include "server/pubsub.h" /* pubsub: keyspace events */
#include "shard/rdb.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static bool policy_is_lfu(int policy)
{
    return policy == MAXMEMORY_VOLATILE_LFU || policy == MAXMEMORY_ALLKEYS_LFU;
}

/* rdbcompression: an accepted directive kept as text. */
static int save_flags(struct cmd_ctx *c)
{
    char v[8];
    if (config_format(&c->w->cfg, "rdbcompression", v, sizeof(v)) && strcmp(v, "no") == 0)
        return RDB_SAVE_NO_COMPRESS;
    return 0;
}

static void cmd_dump(struct cmd_ctx *c)
{
    /* lookupKeyRead: counts a hit or a miss and refreshes the access time */
    struct entry *e = db_find(c, &c->argv[1], NULL);
    if (!e) {
        c->ks->stats.keyspace_misses++;
        reply_null(&c->r);
        return;
    }
    c->ks->stats.keyspace_hits++;
    db_touch(c, e);
    struct buf out;
    buf_init(&out);
    if (rdb_dump_payload_ex(e, &out, save_flags(c)))
        reply_bulk(&c->r, out.data, out.len);
    else
        reply_error(&c->r, "ERR DUMP is not supported for this type of value yet");
    buf_free(&out);
}

/* objectSetLRUOrLFU with the seconds-resolution LRU clock. */
static void set_lru_or_lfu(struct cmd_ctx *c, struct entry *e, long long freq, long long idle)
{
    if (policy_is_lfu(c->w->cfg.maxmemory_policy)) {
        if (freq >= 0) {
            uint32_t minutes = (uint32_t)((mstime() / 1000 / 60) & 0xffff);
            e->lru = (minutes << 8) | (uint32_t)freq;
        }
    } else if (idle >= 0) {
        const long long clock_max = 1ll << 24;
        long long abs = (long long)lru_clock() - idle % clock_max;
        if (abs < 0)
            abs += clock_max;
        e->lru = (uint32_t)abs;
    }
}

static void cmd_restore(struct cmd_ctx *c)
{
    bool replace = false, absttl = false;
    long long freq = -1, idle = -1, ttl;
    for (int j = 4; j < c->argc; j++) {
        const struct arg *o = &c->argv[j];
        int additional = c->argc - j - 1;
        if (arg_eq(o, "replace")) {
            replace = true;
        } else if (arg_eq(o, "absttl")) {
            absttl = true;
        } else if (arg_eq(o, "idletime") && additional >= 1 && freq == -1) {
            if (!arg_get_ll(c, &c->argv[j + 1], &idle))
                return;
            if (idle < 0) {
                reply_error(&c->r, "ERR Invalid IDLETIME value, must be >= 0");
                return;
            }
            j++;
        } else if (arg_eq(o, "freq") && additional >= 1 && idle == -1) {
            if (!arg_get_ll(c, &c->argv[j + 1], &freq))
                return;
            if (freq < 0 || freq > 255) {
                reply_error(&c->r, "ERR Invalid FREQ value, must be >= 0 and <= 255");
                return;
            }
            j++;
        } else {
            reply_error(&c->r, ERR_SYNTAX);
            return;
        }
    }

    const struct arg *key = &c->argv[1];
    struct ks_ref ref;
    struct entry *old = db_find(c, key, &ref);
    if (!replace && old) {
        reply_error(&c->r, "BUSYKEY Target key name already exists.");
        return;
    }
    if (!arg_get_ll(c, &c->argv[2], &ttl))
        return;
    if (ttl < 0) {
        reply_error(&c->r, "ERR Invalid TTL value, must be >= 0");
        return;
    }

    char err[96];
    const struct arg *payload = &c->argv[3];
    struct entry *e = rdb_restore_payload(key->p, key->len, payload->p, payload->len, err, sizeof(err));
    if (!e) {
        reply_errorf(&c->r, "ERR %s", err);
        return;
    }

    if (ttl && !absttl)
        ttl = ttl > LLONG_MAX - c->now_ms ? LLONG_MAX : ttl + c->now_ms;
    if (ttl && ttl <= c->now_ms) {
        /* already expired: the key is not created (an old one is deleted) */
        entry_free(e);
        if (replace && old) {
            ks_delete(c->ks, c->db, &ref);
            db_signal_modified(c, key);
        }
        reply_ok(&c->r);
        return;
    }
    if (ttl)
        e = entry_set_expire(e, ttl);
    if (replace && old) {
        ks_replace(c->ks, c->db, &ref, e);
        db_touch(c, e);
    } else {
        db_add(c, key, e);
    }
    set_lru_or_lfu(c, e, freq, idle);
    db_signal_modified(c, key);
    notify_keyspace_event(c, NOTIFY_GENERIC, "restore", key); /* pubsub: keyspace event */
    reply_ok(&c->r);
}

#define W CMD_WRITE
#define R CMD_READONLY
#define D CMD_DENYOOM

const struct command dump_commands[] = {
    {"dump", 2, R, 1, 1, 1, cmd_dump, .group = "generic", .summary = "Return a serialized version of the value stored at the specified key.", .since = "2.6.0", .acl = "keyspace read slow"},
    {"restore", -4, W | D, 1, 1, 1, cmd_restore, .group = "generic", .summary = "Create a key using the provided serialized value, previously obtained using DUMP.", .since = "2.6.0", .acl = "keyspace write slow dangerous"},
    {NULL},
};
