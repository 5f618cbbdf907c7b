/* server/cmd_bitmap.c — the bitmap family: SETBIT GETBIT BITCOUNT (BYTE|BIT)
 * BITPOS (BYTE|BIT) BITOP AND|OR|XOR|NOT BITFIELD (GET SET INCRBY OVERFLOW
 * WRAP|SAT|FAIL, #offsets) BITFIELD_RO. Replies and errors as Redis 7.0's
 * bitops.c.
 * Owns: bit addressing of string values (bit 0 is the most significant bit
 * of the first byte; bytes past the end read as zero), bitfield integer
 * semantics and overflow policies. Storage is shard/ (string entries);
 * BITOP runs as an mso: hop 0 gathers the sources on their shards, hop 1
 * writes the destination on its owner (both in one hop when every key is on
 * one shard). */
#include "server/server.h"
#include "server/pubsub.h" /* pubsub: keyspace events */

#include <limits.h>
#include <mimalloc.h>
#include <stdint.h>
#include <string.h>

/* Offsets are bit numbers below 2^32 (a 512MB string, the largest an entry
 * holds) and below proto-max-bulk-len bytes. */
#define BIT_OFFSET_LIMIT (UINT64_C(1) << 32)

static const char ERR_BIT_OFFSET[] = "ERR bit offset is not an integer or out of range";
static const char ERR_BIT_VALUE[] = "ERR bit is not an integer or out of range";
static const char ERR_BITFIELD_TYPE[] =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/* ---------- helpers ---------- */

/* A bit offset argument (GETBIT, SETBIT, BITFIELD). With `hash`, "#N" means
 * N * bits. Replies the error and returns false when it is not valid. */
static bool parse_bit_offset(struct cmd_ctx *c, const struct arg *a, bool hash, int bits, uint64_t *out)
{
    struct arg num = *a;
    bool scaled = hash && bits > 0 && a->len > 0 && a->p[0] == '#';
    long long v;
    if (scaled) {
        num.p++;
        num.len--;
    }
    if (!arg_to_ll(&num, &v) || v < 0 || (scaled && v > LLONG_MAX / bits))
        goto bad;
    if (scaled)
        v *= bits;
    if ((uint64_t)v >= BIT_OFFSET_LIMIT || (v >> 3) >= c->w->cfg.proto_max_bulk_len)
        goto bad;
    *out = (uint64_t)v;
    return true;
bad:
    reply_error(&c->r, ERR_BIT_OFFSET);
    return false;
}

/* The string at argv[1] for reading, counted as a hit or miss. Replies
 * WRONGTYPE and sets *err for other types. */
static struct entry *lookup_read(struct cmd_ctx *c, bool *err)
{
    struct entry *e = db_find(c, &c->argv[1], NULL);
    *err = false;
    if (!e) {
        c->ks->stats.keyspace_misses++;
        return NULL;
    }
    c->ks->stats.keyspace_hits++;
    if (e->type != OBJ_STRING) {
        reply_error(&c->r, ERR_WRONGTYPE);
        *err = true;
        return NULL;
    }
    db_touch(c, e);
    return e;
}

/* A string entry's bytes; ENC_INT digits are written to tmp (>= 24 bytes). */
static const uint8_t *value_bytes(struct entry *e, char *tmp, size_t *len)
{
    return (const uint8_t *)entry_string(e, tmp, len);
}

/* The string at argv[1] for writing, long enough to hold bit `maxbit`:
 * created zero-filled when missing, zero-padded when shorter, always raw
 * afterwards. *grown tells whether it was created or lengthened. Replies
 * WRONGTYPE and returns NULL for other types. */
static struct entry *string_for_bits(struct cmd_ctx *c, uint64_t maxbit, bool *grown)
{
    const struct arg *key = &c->argv[1];
    size_t need = (size_t)(maxbit >> 3) + 1;
    struct ks_ref ref;
    struct entry *e = db_find(c, key, &ref);
    *grown = false;
    if (e && e->type != OBJ_STRING) {
        reply_error(&c->r, ERR_WRONGTYPE);
        return NULL;
    }
    if (!e) {
        e = entry_new_string_raw(key->p, key->len, "", 0, need);
        memset(entry_str(e), 0, need);
        e->val.str.len = (uint32_t)need;
        e->enc = ENC_RAW;
        db_add(c, key, e);
        *grown = true;
        return e;
    }
    e = entry_reserve_str(e, need);
    if (need > e->val.str.len) {
        memset(entry_str(e) + e->val.str.len, 0, need - e->val.str.len);
        e->val.str.len = (uint32_t)need;
        *grown = true;
    }
    ks_relink(c->ks, c->db, &ref, e);
    db_touch(c, e);
    return e;
}

static inline unsigned popcount64(uint64_t x)
{
    x = x - ((x >> 1) & UINT64_C(0x5555555555555555));
    x = (x & UINT64_C(0x3333333333333333)) + ((x >> 2) & UINT64_C(0x3333333333333333));
    x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
    return (unsigned)((x * UINT64_C(0x0101010101010101)) >> 56);
}

static uint64_t popcount_bytes(const uint8_t *p, size_t n)
{
    uint64_t bits = 0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        uint64_t w[4];
        memcpy(w, p + i, sizeof(w));
        bits += popcount64(w[0]) + popcount64(w[1]) + popcount64(w[2]) + popcount64(w[3]);
    }
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, sizeof(w));
        bits += popcount64(w);
    }
    for (; i < n; i++)
        bits += popcount64(p[i]);
    return bits;
}

/* Set bits among bits sbit..ebit (inclusive; both inside the string). */
static uint64_t popcount_range(const uint8_t *p, uint64_t sbit, uint64_t ebit)
{
    size_t first = (size_t)(sbit >> 3), last = (size_t)(ebit >> 3);
    uint64_t n = popcount_bytes(p + first, last - first + 1);
    /* take back the bits of the edge bytes that lie outside the range */
    n -= popcount64((uint8_t)(p[first] & ~(0xffu >> (sbit & 7))));
    n -= popcount64((uint8_t)(p[last] & (0xffu >> ((ebit & 7) + 1))));
    return n;
}

/* The first bit equal to `bit` among bits sbit..ebit (inclusive; inside the
 * string), or -1. */
static int64_t find_bit(const uint8_t *p, uint64_t sbit, uint64_t ebit, int bit)
{
    size_t first = (size_t)(sbit >> 3), last = (size_t)(ebit >> 3);
    uint64_t skip = bit ? 0 : UINT64_MAX;
    for (size_t i = first; i <= last;) {
        unsigned b = bit ? p[i] : (uint8_t)~p[i]; /* look for ones */
        if (i == first)
            b &= 0xffu >> (sbit & 7);
        if (i == last)
            b &= (0xffu << (7 - (ebit & 7))) & 0xffu;
        if (b)
            return (int64_t)i * 8 + (__builtin_clz(b) - 24);
        i++;
        /* whole words with nothing to find (never the last byte: it is masked) */
        while (i + 8 <= last) {
            uint64_t w;
            memcpy(&w, p + i, sizeof(w));
            if (w != skip)
                break;
            i += 8;
        }
    }
    return -1;
}

/* Redis's range normalisation: negative indices count from the end, then
 * both are clamped into [0, total-1]. False when the range is empty. */
static bool clamp_range(long long total, long long *start, long long *end)
{
    if (*start < 0)
        *start += total;
    if (*end < 0)
        *end += total;
    if (*start < 0)
        *start = 0;
    if (*end < 0)
        *end = 0;
    if (*end >= total)
        *end = total - 1;
    return *start <= *end;
}

/* BYTE or BIT: false (after replying a syntax error) for anything else. */
static bool parse_unit(struct cmd_ctx *c, const struct arg *a, bool *isbit)
{
    if (arg_eq(a, "bit"))
        *isbit = true;
    else if (arg_eq(a, "byte"))
        *isbit = false;
    else {
        reply_error(&c->r, ERR_SYNTAX);
        return false;
    }
    return true;
}

/* ---------- SETBIT GETBIT ---------- */

static void cmd_setbit(struct cmd_ctx *c)
{
    uint64_t off;
    long long on;
    if (!parse_bit_offset(c, &c->argv[2], false, 0, &off))
        return;
    if (!arg_to_ll(&c->argv[3], &on) || (on & ~1LL)) {
        reply_error(&c->r, ERR_BIT_VALUE);
        return;
    }
    bool grown;
    struct entry *e = string_for_bits(c, off, &grown);
    if (!e)
        return;
    uint8_t *s = (uint8_t *)entry_str(e);
    size_t byte = (size_t)(off >> 3);
    uint8_t mask = (uint8_t)(0x80u >> (off & 7));
    int old = (s[byte] & mask) != 0;
    if (on)
        s[byte] |= mask;
    else
        s[byte] &= (uint8_t)~mask;
    if (grown || old != on)
        db_signal_modified(c, &c->argv[1]);
    notify_keyspace_event(c, NOTIFY_STRING, "setbit", &c->argv[1]); /* pubsub: keyspace event */
    reply_int(&c->r, old);
}

static void cmd_getbit(struct cmd_ctx *c)
{
    uint64_t off;
    if (!parse_bit_offset(c, &c->argv[2], false, 0, &off))
        return;
    bool err;
    struct entry *e = lookup_read(c, &err);
    if (err)
        return;
    int bit = 0;
    if (e) {
        char tmp[24];
        size_t len;
        const uint8_t *s = value_bytes(e, tmp, &len);
        size_t byte = (size_t)(off >> 3);
        if (byte < len)
            bit = (s[byte] >> (7 - (off & 7))) & 1;
    }
    reply_int(&c->r, bit);
}

/* ---------- BITCOUNT BITPOS ---------- */

/* BITCOUNT key [start end [BYTE|BIT]] */
static void cmd_bitcount(struct cmd_ctx *c)
{
    bool err;
    struct entry *e = lookup_read(c, &err);
    if (err)
        return;
    if (!e) {
        reply_int(&c->r, 0);
        return;
    }
    char tmp[24];
    size_t len;
    const uint8_t *s = value_bytes(e, tmp, &len);
    long long total = (long long)len, start, end;
    bool isbit = false;
    if (c->argc == 4 || c->argc == 5) {
        if (!arg_get_ll(c, &c->argv[2], &start) || !arg_get_ll(c, &c->argv[3], &end))
            return;
        if (start < 0 && end < 0 && start > end) {
            reply_int(&c->r, 0);
            return;
        }
        if (c->argc == 5 && !parse_unit(c, &c->argv[4], &isbit))
            return;
        if (isbit)
            total *= 8;
    } else if (c->argc == 2) {
        start = 0;
        end = total - 1;
    } else {
        reply_error(&c->r, ERR_SYNTAX);
        return;
    }
    if (!clamp_range(total, &start, &end)) {
        reply_int(&c->r, 0);
        return;
    }
    uint64_t sbit = isbit ? (uint64_t)start : (uint64_t)start * 8;
    uint64_t ebit = isbit ? (uint64_t)end : (uint64_t)end * 8 + 7;
    reply_int(&c->r, (int64_t)popcount_range(s, sbit, ebit));
}

/* BITPOS key bit [start [end [BYTE|BIT]]] */
static void cmd_bitpos(struct cmd_ctx *c)
{
    long long bit;
    if (!arg_get_ll(c, &c->argv[2], &bit))
        return;
    if (bit != 0 && bit != 1) {
        reply_error(&c->r, "ERR The bit argument must be 1 or 0.");
        return;
    }
    bool err;
    struct entry *e = lookup_read(c, &err);
    if (err)
        return;
    if (!e) {
        /* a missing key is an endless run of zeros */
        reply_int(&c->r, bit ? -1 : 0);
        return;
    }
    char tmp[24];
    size_t len;
    const uint8_t *s = value_bytes(e, tmp, &len);
    long long total = (long long)len, start, end;
    bool isbit = false, end_given = false;
    if (c->argc >= 4 && c->argc <= 6) {
        if (!arg_get_ll(c, &c->argv[3], &start))
            return;
        if (c->argc == 6 && !parse_unit(c, &c->argv[5], &isbit))
            return;
        if (c->argc >= 5) {
            if (!arg_get_ll(c, &c->argv[4], &end))
                return;
            end_given = true;
        } else {
            end = isbit ? total * 8 + 7 : total - 1;
        }
        if (isbit)
            total *= 8;
    } else if (c->argc == 3) {
        start = 0;
        end = total - 1;
    } else {
        reply_error(&c->r, ERR_SYNTAX);
        return;
    }
    if (!clamp_range(total, &start, &end)) {
        reply_int(&c->r, -1);
        return;
    }
    uint64_t sbit = isbit ? (uint64_t)start : (uint64_t)start * 8;
    uint64_t ebit = isbit ? (uint64_t)end : (uint64_t)end * 8 + 7;
    int64_t pos = find_bit(s, sbit, ebit, (int)bit);
    /* Looking for a clear bit without an explicit end: the string continues
     * with zeros, so the first one is just past the range. */
    if (pos < 0 && bit == 0 && !end_given)
        pos = (int64_t)ebit + 1;
    reply_int(&c->r, pos);
}

/* ---------- BITOP ---------- */

enum bitop_kind { BITOP_AND, BITOP_OR, BITOP_XOR, BITOP_NOT };

struct bitop_src {
    const uint8_t *p;
    size_t len;
};

/* Coordinator state (t->state): the sources in argument order, argv[3..]. */
struct bitop_state {
    const char *err; /* reply this instead of the length */
    int op;
    int nsrc;
    size_t maxlen;
    char (*ints)[24]; /* digits of int-encoded sources (one-shard runs) */
    struct bitop_src src[];
};

static const char *bitop_parse(const struct arg *argv, int argc, int *op)
{
    const struct arg *a = &argv[1];
    if (arg_eq(a, "and"))
        *op = BITOP_AND;
    else if (arg_eq(a, "or"))
        *op = BITOP_OR;
    else if (arg_eq(a, "xor"))
        *op = BITOP_XOR;
    else if (arg_eq(a, "not"))
        *op = BITOP_NOT;
    else
        return ERR_SYNTAX;
    if (*op == BITOP_NOT && argc != 4)
        return "ERR BITOP NOT must be called with a single source key.";
    return NULL;
}

static struct bitop_state *bitop_state_new(struct mso *t, int nints)
{
    int nsrc = t->argc - 3;
    size_t head = sizeof(struct bitop_state) + sizeof(struct bitop_src) * (size_t)nsrc;
    head = (head + 7) & ~(size_t)7;
    struct bitop_state *st = mi_zalloc(head + 24 * (size_t)nints);
    st->nsrc = nsrc;
    st->ints = (char (*)[24])((char *)st + head);
    st->err = bitop_parse(t->argv, t->argc, &st->op);
    return st;
}

#define BITOP_CHUNK 16384

/* out[0..maxlen) = op over the sources, each zero-padded to maxlen. Works
 * in cache-sized chunks, source by source within a chunk. */
static void bitop_compute(uint8_t *out, const struct bitop_state *st)
{
    size_t maxlen = st->maxlen;
    for (size_t at = 0; at < maxlen; at += BITOP_CHUNK) {
        size_t n = maxlen - at < BITOP_CHUNK ? maxlen - at : BITOP_CHUNK;
        uint8_t *o = out + at;
        for (int k = 0; k < st->nsrc; k++) {
            const struct bitop_src *s = &st->src[k];
            size_t have = s->len > at ? s->len - at : 0;
            if (have > n)
                have = n;
            const uint8_t *p = have ? s->p + at : o; /* o: any valid pointer */
            if (k == 0) {
                if (have)
                    memcpy(o, p, have);
                memset(o + have, 0, n - have);
                if (st->op == BITOP_NOT)
                    for (size_t i = 0; i < n; i++)
                        o[i] = (uint8_t)~o[i];
                continue;
            }
            switch (st->op) {
            case BITOP_AND:
                for (size_t i = 0; i < have; i++)
                    o[i] &= p[i];
                memset(o + have, 0, n - have);
                break;
            case BITOP_OR:
                for (size_t i = 0; i < have; i++)
                    o[i] |= p[i];
                break;
            case BITOP_XOR:
                for (size_t i = 0; i < have; i++)
                    o[i] ^= p[i];
                break;
            }
        }
    }
}

/* Write the result under argv[2] (this shard owns it): a new raw string
 * replacing whatever was there (type and TTL included), or no key at all
 * when the result is empty. */
static void bitop_store(struct cmd_ctx *c, const struct bitop_state *st)
{
    const struct arg *key = &c->argv[2];
    struct ks_ref ref;
    struct entry *old = db_find(c, key, &ref);
    if (!st->maxlen) {
        if (old) {
            ks_delete(c->ks, c->db, &ref);
            db_signal_modified(c, key);
            notify_keyspace_event(c, NOTIFY_GENERIC, "del", key); /* pubsub: keyspace event */
        }
        return;
    }
    struct entry *e = entry_new_string_raw(key->p, key->len, "", 0, st->maxlen);
    bitop_compute((uint8_t *)entry_str(e), st);
    e->val.str.len = (uint32_t)st->maxlen;
    e->enc = ENC_RAW;
    if (old) {
        ks_replace(c->ks, c->db, &ref, e);
        db_touch(c, e);
    } else {
        db_add(c, key, e);
    }
    db_signal_modified(c, key);
    notify_keyspace_event(c, NOTIFY_STRING, "set", key); /* pubsub: keyspace event */
}

/* Every key on this shard: read the sources in place and write at once. */
static void bitop_local(struct cmd_ctx *c, struct mso *t)
{
    struct bitop_state *st = bitop_state_new(t, t->argc - 3);
    t->state = st;
    if (st->err)
        return;
    for (int k = 0; k < st->nsrc; k++) {
        struct entry *e = db_find(c, &c->argv[3 + k], NULL);
        if (!e) {
            c->ks->stats.keyspace_misses++;
            continue;
        }
        c->ks->stats.keyspace_hits++;
        if (e->type != OBJ_STRING) {
            st->err = ERR_WRONGTYPE;
            return;
        }
        st->src[k].p = value_bytes(e, st->ints[k], &st->src[k].len);
        if (st->src[k].len > st->maxlen)
            st->maxlen = st->src[k].len;
    }
    bitop_store(c, st);
}

/* Hop 0 on a shard: copy each source this shard owns into the part buffer
 * as [int argv index][char kind: 's' string, 'n' none, 'w' wrong type]
 * [uint64 length][bytes]. The buffer is sized once (sources can be large). */
static void bitop_gather(struct cmd_ctx *c, struct mso *t, struct mso_part *p)
{
    int op;
    if (bitop_parse(t->argv, t->argc, &op))
        return;
    struct entry **found = mi_malloc(sizeof(*found) * (size_t)c->nkeys);
    size_t need = 0;
    for (int i = 0; i < c->nkeys; i++) {
        found[i] = NULL;
        if (c->keyidx[i] < 3)
            continue;
        struct entry *e = db_find(c, &c->argv[c->keyidx[i]], NULL);
        need += sizeof(int) + 1 + sizeof(uint64_t);
        if (!e) {
            c->ks->stats.keyspace_misses++;
            continue;
        }
        c->ks->stats.keyspace_hits++;
        found[i] = e;
        if (e->type == OBJ_STRING)
            need += entry_string_len(e);
    }
    buf_reserve(&p->out, need);
    for (int i = 0; i < c->nkeys; i++) {
        int idx = c->keyidx[i];
        if (idx < 3)
            continue;
        struct entry *e = found[i];
        char tmp[24], kind = !e ? 'n' : e->type == OBJ_STRING ? 's' : 'w';
        const char *s = NULL;
        size_t len = 0;
        if (kind == 's')
            s = entry_string(e, tmp, &len);
        uint64_t len64 = len;
        buf_put(&p->out, &idx, sizeof(idx));
        buf_put(&p->out, &kind, 1);
        buf_put(&p->out, &len64, sizeof(len64));
        if (len)
            buf_put(&p->out, s, len);
    }
    mi_free(found);
}

/* Coordinator, after hop 0: index the gathered sources, decide. */
static int bitop_collect(struct mso *t)
{
    struct bitop_state *st = bitop_state_new(t, 0);
    t->state = st;
    if (st->err)
        return -1;
    for (int p = 0; p < t->nparts; p++) {
        const char *at = t->parts[p].out.data, *end = at + t->parts[p].out.len;
        while (at && at < end) {
            int idx;
            char kind;
            uint64_t len;
            memcpy(&idx, at, sizeof(idx));
            kind = at[sizeof(idx)];
            memcpy(&len, at + sizeof(idx) + 1, sizeof(len));
            at += sizeof(idx) + 1 + sizeof(len);
            if (kind == 'w')
                st->err = ERR_WRONGTYPE;
            st->src[idx - 3] = (struct bitop_src){(const uint8_t *)at, (size_t)len};
            if (len > st->maxlen)
                st->maxlen = (size_t)len;
            at += len;
        }
    }
    return st->err ? -1 : 1;
}

static void bitop_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    if (t->single) {
        bitop_local(c, t);
        return;
    }
    if (hop == 0) {
        bitop_gather(c, t, &t->parts[part]);
        return;
    }
    /* hop 1: only the destination's owner writes */
    for (int i = 0; i < c->nkeys; i++) {
        if (c->keyidx[i] == 2) {
            bitop_store(c, t->state);
            return;
        }
    }
}

static int bitop_next(struct mso *t, int hop)
{
    if (t->single || hop > 0)
        return -1;
    return bitop_collect(t);
}

static void bitop_reply(struct mso *t, struct reply *r)
{
    const struct bitop_state *st = t->state;
    if (!st)
        reply_error(r, ERR_SYNTAX);
    else if (st->err)
        reply_error(r, st->err);
    else
        reply_int(r, (int64_t)st->maxlen);
}

static const struct mso_ops bitop_ops = {.hop = bitop_hop, .next = bitop_next, .reply = bitop_reply};

/* ---------- BITFIELD ---------- */

enum bf_opcode { BF_GET, BF_SET, BF_INCRBY };
enum bf_overflow { BF_WRAP, BF_SAT, BF_FAIL };

struct bf_op {
    uint64_t offset;
    int64_t arg;   /* SET value or INCRBY increment */
    int opcode;
    int overflow;
    int bits;
    bool sign;
};

/* "i1".."i64" or "u1".."u63". */
static bool parse_bf_type(const struct arg *a, bool *sign, int *bits)
{
    if (a->len == 0 || (a->p[0] != 'i' && a->p[0] != 'u'))
        return false;
    *sign = a->p[0] == 'i';
    /* the width is read up to the first NUL, as Redis reads a C string */
    const char *nul = memchr(a->p + 1, 0, a->len - 1);
    struct arg num = {a->p + 1, nul ? (size_t)(nul - (a->p + 1)) : a->len - 1};
    long long v;
    if (!arg_to_ll(&num, &v) || v < 1 || v > (*sign ? 64 : 63))
        return false;
    *bits = (int)v;
    return true;
}

/* `bits` bits starting at bit `off`, as an unsigned number; bytes at or
 * past `len` read as zero. */
static uint64_t bf_read(const uint8_t *p, size_t len, uint64_t off, int bits)
{
    uint64_t v = 0, end = off + (uint64_t)bits;
    while (off < end) {
        size_t byte = (size_t)(off >> 3);
        unsigned first = off & 7;          /* first bit used in this byte */
        unsigned n = 8 - first;            /* bits used in this byte */
        if (n > end - off)
            n = (unsigned)(end - off);
        unsigned b = byte < len ? p[byte] : 0;
        v = (v << n) | ((b >> (8 - first - n)) & ((1u << n) - 1));
        off += n;
    }
    return v;
}

/* Store the low `bits` bits of v at bit `off` (inside the string). */
static void bf_write(uint8_t *p, uint64_t off, int bits, uint64_t v)
{
    uint64_t end = off + (uint64_t)bits;
    while (off < end) {
        size_t byte = (size_t)(off >> 3);
        unsigned first = off & 7;
        unsigned n = 8 - first;
        if (n > end - off)
            n = (unsigned)(end - off);
        unsigned left = (unsigned)(end - off); /* bits of v not yet stored */
        unsigned chunk = (unsigned)((v >> (left - n)) & ((1u << n) - 1));
        unsigned shift = 8 - first - n;
        unsigned mask = ((1u << n) - 1) << shift;
        p[byte] = (uint8_t)((p[byte] & ~mask) | (chunk << shift));
        off += n;
    }
}

static int64_t bf_sign_extend(uint64_t v, int bits)
{
    if (bits < 64 && (v & (UINT64_C(1) << (bits - 1))))
        v |= UINT64_MAX << bits;
    return (int64_t)v;
}

/* value + incr in an unsigned field of `bits` (< 64) bits. Returns 0 when it
 * fits (*res is the sum), 1 above the maximum, -1 below zero; then *res is
 * what WRAP (low bits) or SAT (the limit) stores. A value that does not fit
 * the field overflows upward (SET u8 0 -1 saturates at 255, as Redis). */
static int bf_unsigned_add(uint64_t value, int64_t incr, int bits, int overflow, uint64_t *res)
{
    uint64_t max = (UINT64_C(1) << bits) - 1;
    uint64_t sum = value + (uint64_t)incr;
    int dir = 0;
    if (value > max || (incr > 0 && (uint64_t)incr > max - value))
        dir = 1;
    else if (incr < 0 && (uint64_t)0 - (uint64_t)incr > value)
        dir = -1;
    if (!dir)
        *res = sum;
    else if (overflow == BF_SAT)
        *res = dir > 0 ? max : 0;
    else
        *res = sum & max;
    return dir;
}

/* value + incr in a signed field of `bits` (<= 64) bits; returns and sets
 * *res as bf_unsigned_add (WRAP keeps the low bits, sign-extended). Redis
 * 7.0 measures the headroom above the value with wrapping 64-bit
 * arithmetic, so a value far below the field's minimum (within `max` of
 * INT64_MIN) is reported as overflowing upward: SAT then stores the
 * maximum. This reproduces it. */
static int bf_signed_add(int64_t value, int64_t incr, int bits, int overflow, int64_t *res)
{
    int64_t max = bits == 64 ? INT64_MAX : (int64_t)((UINT64_C(1) << (bits - 1)) - 1);
    int64_t min = -max - 1;
    int64_t sum;
    bool wrapped64 = __builtin_add_overflow(value, incr, &sum);
    int dir = 0;
    if (bits == 64) {
        if (wrapped64)
            dir = incr > 0 ? 1 : -1;
    } else {
        /* headroom max - value, wrapping as in Redis */
        int64_t room_up = (int64_t)((uint64_t)max - (uint64_t)value);
        if (value > max || incr > room_up)
            dir = 1;
        else if (value < min || incr < min - value)
            dir = -1;
    }
    if (!dir) {
        *res = sum;
    } else if (overflow == BF_SAT) {
        *res = dir > 0 ? max : min;
    } else {
        uint64_t low = (uint64_t)value + (uint64_t)incr;
        *res = bits == 64 ? (int64_t)low : bf_sign_extend(low & ((UINT64_C(1) << bits) - 1), bits);
    }
    return dir;
}

static void bf_run_write(struct cmd_ctx *c, struct entry *e, const struct bf_op *op, bool grown, bool *changed)
{
    uint8_t *s = (uint8_t *)entry_str(e);
    if (op->sign) {
        int64_t old = bf_sign_extend(bf_read(s, e->val.str.len, op->offset, op->bits), op->bits), nv, ret;
        int dir;
        if (op->opcode == BF_INCRBY) {
            dir = bf_signed_add(old, op->arg, op->bits, op->overflow, &nv);
            ret = nv;
        } else {
            dir = bf_signed_add(op->arg, 0, op->bits, op->overflow, &nv);
            ret = old;
        }
        if (dir && op->overflow == BF_FAIL) {
            reply_null(&c->r);
            return;
        }
        reply_int(&c->r, ret);
        bf_write(s, op->offset, op->bits, (uint64_t)nv);
        if (grown || old != nv)
            *changed = true;
    } else {
        uint64_t old = bf_read(s, e->val.str.len, op->offset, op->bits), nv, ret;
        int dir;
        if (op->opcode == BF_INCRBY) {
            dir = bf_unsigned_add(old, op->arg, op->bits, op->overflow, &nv);
            ret = nv;
        } else {
            dir = bf_unsigned_add((uint64_t)op->arg, 0, op->bits, op->overflow, &nv);
            ret = old;
        }
        if (dir && op->overflow == BF_FAIL) {
            reply_null(&c->r);
            return;
        }
        reply_int(&c->r, (int64_t)ret);
        bf_write(s, op->offset, op->bits, nv);
        if (grown || old != nv)
            *changed = true;
    }
}

/* Parse every subcommand first (any error replies before touching the
 * key), then run them in order. */
static void bitfield_generic(struct cmd_ctx *c, bool readonly_cmd)
{
    struct bf_op *ops = mi_malloc(sizeof(*ops) * (size_t)(c->argc / 3 + 1));
    int nops = 0, overflow = BF_WRAP;
    bool writes = false;
    uint64_t maxbit = 0;
    for (int j = 2; j < c->argc; j++) {
        int rem = c->argc - j - 1;
        const struct arg *a = &c->argv[j];
        int opcode;
        if (arg_eq(a, "get") && rem >= 2) {
            opcode = BF_GET;
        } else if (arg_eq(a, "set") && rem >= 3) {
            opcode = BF_SET;
        } else if (arg_eq(a, "incrby") && rem >= 3) {
            opcode = BF_INCRBY;
        } else if (arg_eq(a, "overflow") && rem >= 1) {
            const struct arg *w = &c->argv[++j];
            if (arg_eq(w, "wrap"))
                overflow = BF_WRAP;
            else if (arg_eq(w, "sat"))
                overflow = BF_SAT;
            else if (arg_eq(w, "fail"))
                overflow = BF_FAIL;
            else {
                reply_error(&c->r, "ERR Invalid OVERFLOW type specified");
                goto out;
            }
            continue;
        } else {
            reply_error(&c->r, ERR_SYNTAX);
            goto out;
        }
        struct bf_op *op = &ops[nops];
        if (!parse_bf_type(&c->argv[j + 1], &op->sign, &op->bits)) {
            reply_error(&c->r, ERR_BITFIELD_TYPE);
            goto out;
        }
        if (!parse_bit_offset(c, &c->argv[j + 2], true, op->bits, &op->offset))
            goto out;
        op->arg = 0;
        if (opcode != BF_GET) {
            writes = true;
            if (op->offset + (uint64_t)op->bits - 1 > maxbit)
                maxbit = op->offset + (uint64_t)op->bits - 1;
            long long v;
            if (!arg_get_ll(c, &c->argv[j + 3], &v))
                goto out;
            op->arg = v;
        }
        op->opcode = opcode;
        op->overflow = overflow;
        nops++;
        j += opcode == BF_GET ? 2 : 3;
    }

    struct entry *e;
    bool grown = false;
    if (!writes) {
        bool err;
        e = lookup_read(c, &err);
        if (err)
            goto out;
    } else {
        if (readonly_cmd) {
            reply_error(&c->r, "ERR BITFIELD_RO only supports the GET subcommand");
            goto out;
        }
        e = string_for_bits(c, maxbit, &grown);
        if (!e)
            goto out;
    }

    reply_array(&c->r, nops);
    bool changed = false;
    for (int i = 0; i < nops; i++) {
        const struct bf_op *op = &ops[i];
        if (op->opcode != BF_GET) {
            bf_run_write(c, e, op, grown, &changed);
            continue;
        }
        char tmp[24];
        size_t len = 0;
        const uint8_t *s = e ? value_bytes(e, tmp, &len) : NULL;
        uint64_t v = bf_read(s, len, op->offset, op->bits);
        reply_int(&c->r, op->sign ? bf_sign_extend(v, op->bits) : (int64_t)v);
    }
    if (changed)
        db_signal_modified(c, &c->argv[1]);
    if (changed) notify_keyspace_event(c, NOTIFY_STRING, "setbit", &c->argv[1]); /* pubsub: keyspace event */
out:
    mi_free(ops);
}

static void cmd_bitfield(struct cmd_ctx *c) { bitfield_generic(c, false); }
static void cmd_bitfield_ro(struct cmd_ctx *c) { bitfield_generic(c, true); }

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM
#define MK CMD_MULTIKEY

const struct command bitmap_commands[] = {
    {"setbit", 4, W | D, 1, 1, 1, cmd_setbit, .group = "bitmap", .summary = "Sets or clears the bit at offset in the string value stored at key", .since = "2.2.0", .acl = "write bitmap slow"},
    {"getbit", 3, R | F, 1, 1, 1, cmd_getbit, .group = "bitmap", .summary = "Returns the bit value at offset in the string value stored at key", .since = "2.2.0", .acl = "read bitmap fast"},
    {"bitcount", -2, R, 1, 1, 1, cmd_bitcount, .group = "bitmap", .summary = "Count set bits in a string", .since = "2.6.0", .acl = "read bitmap slow"},
    {"bitpos", -3, R, 1, 1, 1, cmd_bitpos, .group = "bitmap", .summary = "Find first bit set or clear in a string", .since = "2.8.7", .acl = "read bitmap slow"},
    {"bitop", -4, W | D | MK, 2, -1, 1, NULL, .mso = &bitop_ops, .group = "bitmap", .summary = "Perform bitwise operations between strings", .since = "2.6.0", .acl = "write bitmap slow"},
    {"bitfield", -2, W | D, 1, 1, 1, cmd_bitfield, .group = "bitmap", .summary = "Perform arbitrary bitfield integer operations on strings", .since = "3.2.0", .acl = "write bitmap slow"},
    {"bitfield_ro", -2, R | F, 1, 1, 1, cmd_bitfield_ro, .group = "bitmap", .summary = "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD", .since = "6.0.0", .acl = "read bitmap fast"},
    {NULL},
};
