/* shard/hll.c — HyperLogLog representation and estimator (see hll.h).
 * Byte-compatible with Redis 7.0's hyperloglog.c: the same hash, the same
 * sparse opcode sequences after every update, the same estimate, so values
 * move between darter and redis-server as plain strings. Touches only the
 * buffers it is given. */
#include "shard/hll.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define HLL_P_MASK (HLL_REGISTERS - 1)
#define HLL_SEED 0xadc83b19u
#define HLL_ALPHA_INF 0.721347520444481703680 /* 0.5 / ln(2) */

#define SPARSE_VAL_MAX_VALUE 32
#define SPARSE_VAL_MAX_LEN 4
#define SPARSE_ZERO_MAX_LEN 64
#define SPARSE_XZERO_MAX_LEN 16384
#define SPARSE_XZERO_BIT 0x40
#define SPARSE_VAL_BIT 0x80

/* ---------- hashing ---------- */

uint64_t hll_murmur64a(const void *key, size_t len, uint64_t seed)
{
    const uint64_t m = UINT64_C(0xc6a4a7935bd1e995);
    const int r = 47;
    const uint8_t *data = key;
    const uint8_t *end = data + (len - (len & 7));
    uint64_t h = seed ^ ((uint64_t)(int)len * m);
    for (; data != end; data += 8) {
        uint64_t k = 0;
        for (int i = 7; i >= 0; i--)
            k = (k << 8) | data[i];
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    size_t tail = len & 7;
    if (tail) {
        for (size_t i = tail; i-- > 0;)
            h ^= (uint64_t)data[i] << (8 * i);
        h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

int hll_pattern(const void *ele, size_t len, long *reg)
{
    uint64_t hash = hll_murmur64a(ele, len, HLL_SEED);
    *reg = (long)(hash & HLL_P_MASK);
    hash >>= HLL_P;
    hash |= UINT64_C(1) << HLL_Q; /* the run ends by bit Q at the latest */
    return __builtin_ctzll(hash) + 1;
}

/* ---------- header ---------- */

bool hll_valid(const uint8_t *p, size_t len)
{
    if (len < HLL_HDR_SIZE || memcmp(p, "HYLL", 4) != 0)
        return false;
    if (p[4] > HLL_SPARSE)
        return false;
    return p[4] != HLL_DENSE || len == HLL_DENSE_SIZE;
}

void hll_init_sparse(uint8_t *out)
{
    memset(out, 0, HLL_SPARSE_EMPTY_SIZE);
    memcpy(out, "HYLL", 4);
    out[4] = HLL_SPARSE;
    /* one XZERO of 16384 registers: 01 + (16383 >> 8), 16383 & 0xff */
    out[HLL_HDR_SIZE] = (uint8_t)(SPARSE_XZERO_BIT | ((SPARSE_XZERO_MAX_LEN - 1) >> 8));
    out[HLL_HDR_SIZE + 1] = (uint8_t)((SPARSE_XZERO_MAX_LEN - 1) & 0xff);
}

bool hll_cache_get(const uint8_t *p, uint64_t *card)
{
    const uint8_t *c = p + 8;
    if (c[7] & 0x80)
        return false;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | c[i];
    *card = v;
    return true;
}

void hll_cache_set(uint8_t *p, uint64_t card)
{
    for (int i = 0; i < 8; i++)
        p[8 + i] = (uint8_t)(card >> (8 * i));
}

void hll_cache_invalidate(uint8_t *p) { p[15] |= 0x80; }

/* ---------- dense registers ----------
 * Register i occupies bits 6i .. 6i+5, least significant bits first; a
 * register starting at bit 0 or 2 of a byte stays inside that byte, so the
 * last one never reaches past the array. */

unsigned hll_dense_get(const uint8_t *regs, long i)
{
    unsigned long bit = (unsigned long)i * HLL_BITS;
    unsigned long byte = bit >> 3, fb = bit & 7;
    unsigned v = regs[byte] >> fb;
    if (fb > 8 - HLL_BITS)
        v |= (unsigned)regs[byte + 1] << (8 - fb);
    return v & HLL_REGISTER_MAX;
}

void hll_dense_put(uint8_t *regs, long i, unsigned v)
{
    unsigned long bit = (unsigned long)i * HLL_BITS;
    unsigned long byte = bit >> 3, fb = bit & 7;
    v &= HLL_REGISTER_MAX;
    regs[byte] = (uint8_t)((regs[byte] & ~(HLL_REGISTER_MAX << fb)) | (v << fb));
    if (fb > 8 - HLL_BITS) {
        unsigned rs = 8 - (unsigned)fb;
        regs[byte + 1] = (uint8_t)((regs[byte + 1] & ~(HLL_REGISTER_MAX >> rs)) | (v >> rs));
    }
}

int hll_dense_set(uint8_t *regs, long i, uint8_t count)
{
    if (count <= hll_dense_get(regs, i))
        return 0;
    hll_dense_put(regs, i, count);
    return 1;
}

/* 16 registers from 12 bytes. */
static void dense_histogram(const uint8_t *r, int *h)
{
    for (int j = 0; j < HLL_REGISTERS / 16; j++, r += 12) {
        for (int g = 0; g < 12; g += 3) {
            const uint8_t *b = r + g;
            h[b[0] & 63]++;
            h[((b[0] >> 6) | (b[1] << 2)) & 63]++;
            h[((b[1] >> 4) | (b[2] << 4)) & 63]++;
            h[(b[2] >> 2) & 63]++;
        }
    }
}

/* ---------- sparse opcodes ---------- */

struct sparse_op {
    long span; /* registers covered */
    int size;  /* bytes */
    int value; /* VAL's value, 0 for ZERO / XZERO */
};

/* The opcode at p; a byte past `end` reads as zero (Redis reads its
 * string's terminator there). */
static inline struct sparse_op read_op(const uint8_t *p, const uint8_t *end)
{
    uint8_t b = p[0];
    if (b & SPARSE_VAL_BIT)
        return (struct sparse_op){(b & 0x3) + 1, 1, ((b >> 2) & 0x1f) + 1};
    if (b & SPARSE_XZERO_BIT) {
        uint8_t lo = p + 1 < end ? p[1] : 0;
        return (struct sparse_op){(((long)(b & 0x3f) << 8) | lo) + 1, 2, 0};
    }
    return (struct sparse_op){(b & 0x3f) + 1, 1, 0};
}

static inline bool is_val(uint8_t b) { return b & SPARSE_VAL_BIT; }

static inline uint8_t val_op(int value, int len)
{
    return (uint8_t)(SPARSE_VAL_BIT | ((value - 1) << 2) | (len - 1));
}

/* Write a ZERO (up to 64) or XZERO run of `len` registers; returns bytes. */
static int put_zeros(uint8_t *n, long len)
{
    if (len > SPARSE_ZERO_MAX_LEN) {
        n[0] = (uint8_t)(SPARSE_XZERO_BIT | ((len - 1) >> 8));
        n[1] = (uint8_t)((len - 1) & 0xff);
        return 2;
    }
    n[0] = (uint8_t)(len - 1);
    return 1;
}

/* Call fn for each run of registers; false when the runs do not cover
 * exactly HLL_REGISTERS (fn has then seen only the runs that fit). */
typedef void (*run_fn)(void *ctx, long first, long span, int value);

static bool sparse_walk(const uint8_t *p, size_t len, run_fn fn, void *ctx)
{
    const uint8_t *at = p + HLL_HDR_SIZE, *end = p + len;
    long idx = 0;
    while (at < end) {
        struct sparse_op op = read_op(at, end);
        if (idx + op.span > HLL_REGISTERS)
            return false;
        fn(ctx, idx, op.span, op.value);
        idx += op.span;
        at += op.size;
    }
    return idx == HLL_REGISTERS;
}

/* Merge equal adjacent VAL opcodes, looking at up to 5 opcodes from p. */
static void merge_vals(uint8_t *p, uint8_t *end, size_t *len)
{
    int scan = 5;
    while (p < end && scan-- > 0) {
        if (!is_val(*p)) {
            p += read_op(p, end).size;
            continue;
        }
        if (p + 1 < end && is_val(p[1])) {
            struct sparse_op a = read_op(p, end), b = read_op(p + 1, end);
            if (a.value == b.value && a.span + b.span <= SPARSE_VAL_MAX_LEN) {
                p[1] = val_op(a.value, (int)(a.span + b.span));
                memmove(p, p + 1, (size_t)(end - p - 1));
                end--;
                (*len)--;
                continue; /* try again with the merged opcode and its right */
            }
        }
        p++;
    }
}

int hll_sparse_set(uint8_t *hll, size_t *lenp, long index, uint8_t count, long long max_bytes)
{
    if (count > SPARSE_VAL_MAX_VALUE)
        return HLL_SET_PROMOTE;
    uint8_t *ops = hll + HLL_HDR_SIZE, *end = hll + *lenp, *p = ops, *prev = NULL;
    long first = 0;
    struct sparse_op cur = {0, 1, 0};
    /* find the opcode covering `index` */
    while (p < end) {
        cur = read_op(p, end);
        if (index <= first + cur.span - 1)
            break;
        prev = p;
        p += cur.size;
        first += cur.span;
    }
    if (cur.span == 0 || p >= end)
        return HLL_SET_INVALID;
    uint8_t *next = p + cur.size;
    if (next >= end)
        next = NULL;

    if (cur.value) {
        if (cur.value >= count)
            return HLL_SET_SAME;
        if (cur.span == 1) {
            *p = val_op(count, 1);
            goto updated;
        }
    } else if (cur.size == 1 && cur.span == 1) {
        *p = val_op(count, 1);
        goto updated;
    }

    /* split the opcode into up to three: before, our register, after */
    uint8_t seq[5];
    int n = 0;
    long last = first + cur.span - 1;
    if (!cur.value) {
        if (index != first)
            n += put_zeros(seq + n, index - first);
        seq[n++] = val_op(count, 1);
        if (index != last)
            n += put_zeros(seq + n, last - index);
    } else {
        if (index != first)
            seq[n++] = val_op(cur.value, (int)(index - first));
        seq[n++] = val_op(count, 1);
        if (index != last)
            seq[n++] = val_op(cur.value, (int)(last - index));
    }
    long delta = n - cur.size;
    if (delta > 0 && (long long)(*lenp + (size_t)delta) > max_bytes)
        return HLL_SET_PROMOTE;
    if (delta && next)
        memmove(next + delta, next, (size_t)(end - next));
    *lenp = (size_t)((long)*lenp + delta);
    memcpy(p, seq, (size_t)n);
    end += delta;

updated:
    merge_vals(prev ? prev : ops, end, lenp);
    hll_cache_invalidate(hll);
    return HLL_SET_UPDATED;
}

static void run_to_dense(void *ctx, long first, long span, int value)
{
    if (!value)
        return;
    for (long i = first; i < first + span; i++)
        hll_dense_put(ctx, i, (unsigned)value);
}

bool hll_sparse_to_dense(const uint8_t *sparse, size_t len, uint8_t *dense)
{
    memset(dense, 0, HLL_DENSE_SIZE);
    memcpy(dense, sparse, HLL_HDR_SIZE);
    dense[4] = HLL_DENSE;
    return sparse_walk(sparse, len, run_to_dense, dense + HLL_HDR_SIZE);
}

/* ---------- counting ---------- */

static void run_histogram(void *ctx, long first, long span, int value)
{
    (void)first;
    ((int *)ctx)[value] += (int)span;
}

bool hll_histogram(const uint8_t *p, size_t len, int histo[HLL_HISTO])
{
    if (hll_encoding(p) == HLL_DENSE) {
        dense_histogram(p + HLL_HDR_SIZE, histo);
        return true;
    }
    return sparse_walk(p, len, run_histogram, histo);
}

void hll_raw_histogram(const uint8_t *raw, int histo[HLL_HISTO])
{
    for (int i = 0; i < HLL_REGISTERS; i++)
        histo[raw[i] & 63]++;
}

/* sigma and tau from Ertl, "New cardinality estimation algorithms for
 * HyperLogLog sketches" (arXiv:1702.01284), iterated to a fixed point. */
static double hll_sigma(double x)
{
    if (x == 1.)
        return INFINITY;
    double y = 1, z = x, prev;
    do {
        x *= x;
        prev = z;
        z += x * y;
        y += y;
    } while (prev != z);
    return z;
}

static double hll_tau(double x)
{
    if (x == 0. || x == 1.)
        return 0.;
    double y = 1.0, z = 1 - x, prev;
    do {
        x = sqrt(x);
        prev = z;
        y *= 0.5;
        z -= pow(1 - x, 2) * y;
    } while (prev != z);
    return z / 3;
}

uint64_t hll_estimate(const int histo[HLL_HISTO])
{
    double m = HLL_REGISTERS;
    double z = m * hll_tau((m - histo[HLL_Q + 1]) / m);
    for (int j = HLL_Q; j >= 1; --j) {
        z += histo[j];
        z *= 0.5;
    }
    z += m * hll_sigma(histo[0] / m);
    return (uint64_t)llroundl(HLL_ALPHA_INF * m * m / z);
}

uint64_t hll_count(const uint8_t *p, size_t len, bool *invalid)
{
    int histo[HLL_HISTO] = {0};
    if (!hll_histogram(p, len, histo) && invalid)
        *invalid = true;
    return hll_estimate(histo);
}

/* ---------- merging ---------- */

static void run_max(void *ctx, long first, long span, int value)
{
    uint8_t *max = ctx;
    for (long i = first; i < first + span; i++)
        if (value > max[i])
            max[i] = (uint8_t)value;
}

bool hll_merge_max(uint8_t *max, const uint8_t *p, size_t len)
{
    if (hll_encoding(p) == HLL_DENSE) {
        const uint8_t *regs = p + HLL_HDR_SIZE;
        for (long i = 0; i < HLL_REGISTERS; i++) {
            unsigned v = hll_dense_get(regs, i);
            if (v > max[i])
                max[i] = (uint8_t)v;
        }
        return true;
    }
    return sparse_walk(p, len, run_max, max);
}

/* ---------- debugging ---------- */

void hll_sparse_describe(const uint8_t *p, size_t len, struct buf *out)
{
    const uint8_t *at = p + HLL_HDR_SIZE, *end = p + len;
    char tmp[48];
    bool first = true;
    while (at < end) {
        struct sparse_op op = read_op(at, end);
        int n;
        if (op.value)
            n = snprintf(tmp, sizeof(tmp), "%sv:%d,%ld", first ? "" : " ", op.value, op.span);
        else
            n = snprintf(tmp, sizeof(tmp), "%s%c:%ld", first ? "" : " ", op.size == 2 ? 'Z' : 'z', op.span);
        buf_put(out, tmp, (size_t)n);
        first = false;
        at += op.size;
    }
}
