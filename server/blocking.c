/* server/blocking.c — clients blocked on keys (see server/blocking.h).
 * Owns: the per-connection blocked state (connection's thread) and the
 * per-shard parked clients and ready keys (shard's thread); the messages
 * between them. Must not know any command's semantics. */
#include "server/blocking.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <mimalloc.h>
#include <string.h>

/* ---------- for command handlers ---------- */

bool blocking_parse_timeout(struct reply *r, const struct arg *a, int64_t *ms)
{
    long double v;
    if (!arg_to_long_double(a, &v)) {
        reply_error(r, "ERR timeout is not a float or out of range");
        return false;
    }
    long double t = ceill(v * 1000.0L);
    if (t < 0) {
        reply_error(r, "ERR timeout is negative");
        return false;
    }
    if (t > (long double)(LLONG_MAX / 4)) {
        reply_error(r, "ERR timeout is out of range");
        return false;
    }
    *ms = (int64_t)t;
    return true;
}

bool blocking_parse_timeout_ms(struct reply *r, const struct arg *a, int64_t *ms)
{
    long long v;
    if (!arg_to_ll(a, &v)) {
        reply_error(r, "ERR timeout is not an integer or out of range");
        return false;
    }
    if (v < 0) {
        reply_error(r, "ERR timeout is negative");
        return false;
    }
    if (v > LLONG_MAX / 4) {
        reply_error(r, "ERR timeout is out of range");
        return false;
    }
    *ms = v;
    return true;
}

static bool req_may_block(const struct block_req *b) { return b && b->mode != BLOCK_NO; }
static bool req_serving(const struct block_req *b) { return b && b->mode == BLOCK_SERVING; }

static void req_block(struct block_req *b, int64_t timeout_ms)
{
    if (!b)
        return;
    b->would_block = true;
    b->timeout_ms = timeout_ms;
}

static void req_rewrite(struct block_req *b, int idx, const char *p, size_t len)
{
    if (!b)
        return;
    uint32_t l = (uint32_t)len;
    buf_put(&b->rewrites, (const char *)&idx, sizeof(idx));
    buf_put(&b->rewrites, (const char *)&l, sizeof(l));
    buf_put(&b->rewrites, p, len);
}

bool blocking_may_block(const struct cmd_ctx *c) { return req_may_block(c->block); }
bool blocking_serving(const struct cmd_ctx *c) { return req_serving(c->block); }
void blocking_block(struct cmd_ctx *c, int64_t timeout_ms) { req_block(c->block, timeout_ms); }
void blocking_block_skip_arg(struct cmd_ctx *c, int idx)
{
    if (c->block)
        c->block->skip_arg = idx;
}
void blocking_rewrite_arg(struct cmd_ctx *c, int idx, const char *p, size_t len)
{
    req_rewrite(c->block, idx, p, len);
}

bool blocking_mso_may_block(const struct mso *t) { return req_may_block(t->block); }
bool blocking_mso_serving(const struct mso *t) { return req_serving(t->block); }
void blocking_mso_block(struct mso *t, int64_t timeout_ms) { req_block(t->block, timeout_ms); }
bool blocking_mso_blocked(const struct mso *t) { return t->block && t->block->would_block; }
void blocking_mso_skip_arg(struct mso *t, int idx)
{
    if (t->block)
        t->block->skip_arg = idx;
}
void blocking_mso_rewrite_arg(struct mso *t, int idx, const char *p, size_t len)
{
    req_rewrite(t->block, idx, p, len);
}

void block_req_free(struct block_req *b)
{
    buf_free(&b->rewrites);
}
