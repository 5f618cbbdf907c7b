/* server/cmd_zset.h — what other command families (geo) use from the zset
 * family: storing a computed list of (member, score) under a destination
 * key, on the destination's thread, atomically with the read of the source.
 *
 * Reading and editing one zset value is shard/t_zset.h. From a handler:
 *     bool wrong;
 *     struct ks_ref ref;
 *     struct entry *e = db_find_type(c, key, OBJ_ZSET, &ref, &wrong);
 *     if (wrong) { reply_error(&c->r, ERR_WRONGTYPE); return; }
 *     if (!e) { e = zset_new_entry(key->p, key->len, n, maxlen); db_add(c, key, e); }
 *     zset_add(e, score, m, mlen, ZADD_IN_NX, &out, NULL);
 * then db_signal_modified() and notify_keyspace_event() as usual.
 *
 * A STORE variant (GEOSEARCHSTORE, GEORADIUS ... STORE) is an mso whose ops
 * use zstore_hop/zstore_next/zstore_reply: the source's thread runs
 * `compute` (hop 0), which appends members with zres_put() to `img` or
 * writes an error reply into `err`; the destination's thread (hop 1) then
 * replaces the destination with those members (deleting it when there are
 * none) and emits `event` (keyspace class zset), and the reply is the count.
 * The same works when both keys sit on one thread. Example:
 *     static bool my_compute(struct cmd_ctx *c, struct buf *img, struct reply *err) {...}
 *     static void my_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
 *     { zstore_hop(c, t, part, hop, SRC_ARGI, dst_argi, my_compute, "geosearchstore"); }
 *     static const struct mso_ops my_ops = {.hop = my_hop, .next = zstore_next, .reply = zstore_reply};
 * and give the command a `getkeys` naming both key positions. */
#ifndef DARTER_SERVER_CMD_ZSET_H
#define DARTER_SERVER_CMD_ZSET_H

#include "server/server.h"

/* Append one member to a result image. */
void zres_put(struct buf *img, const char *m, size_t len, double score);

/* Replace key `dst` with a zset holding the image's members (any order;
 * later duplicates update the score). An empty image deletes `dst` ("del"
 * event when it existed). Returns the stored cardinality. Runs on dst's
 * thread. */
long long zset_store_image(struct cmd_ctx *c, const struct arg *dst, const char *img, size_t n,
                           const char *event);

typedef bool (*zstore_compute_fn)(struct cmd_ctx *c, struct buf *img, struct reply *err);
void zstore_hop(struct cmd_ctx *c, struct mso *t, int part, int hop, int src_argi, int dst_argi,
                zstore_compute_fn compute, const char *event);
int zstore_next(struct mso *t, int hop);
void zstore_reply(struct mso *t, struct reply *r);

#endif
