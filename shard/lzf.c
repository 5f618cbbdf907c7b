/* shard/lzf.c — an LZF codec written from the format description (the one
 * liblzf, and so Redis, uses for compressed RDB strings).
 *
 * A compressed stream is a sequence of items, each starting with a control
 * byte `c`:
 *   c < 32   a literal run: the next c+1 bytes are copied to the output;
 *   c >= 32  a back-reference: length L = (c >> 5) + 2, where a 3-bit field
 *            of 7 means "add the next byte" (so L is 3..264); then one more
 *            byte o gives the distance ((c & 31) << 8) + o + 1 (1..8192)
 *            back from the current end of the output. The source may overlap
 *            the bytes being produced (runs).
 * The compressor is a greedy matcher over a hash table of 3-byte sequences.
 * The table is per thread and never cleared: a stale slot is harmless because
 * every candidate is checked byte-for-byte against the current input. */
#include "shard/lzf.h"

#include <stdint.h>
#include <string.h>

#define LZF_HLOG 14
#define LZF_MAX_OFF 8192u  /* farthest distance a back-reference can reach */
#define LZF_MAX_REF 264u   /* longest back-reference */
#define LZF_MAX_LIT 32u    /* longest literal run */

static _Thread_local uint32_t lzf_htab[1u << LZF_HLOG];

static inline uint32_t lzf_hash(const uint8_t *p)
{
    uint32_t v = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
    return (v * 2654435761u) >> (32 - LZF_HLOG);
}

size_t lzf_compress(const void *in, size_t in_len, void *out, size_t out_cap)
{
    const uint8_t *base = in, *ip = in, *end = base + in_len;
    uint8_t *op = out, *oend = op + out_cap;
    if (in_len == 0 || in_len >= UINT32_MAX || out_cap == 0)
        return 0;
    uint32_t *htab = lzf_htab;
    uint8_t *lit_ctrl = op++; /* control byte of the literal run being built */
    size_t lit = 0;

    while (end - ip >= 3) {
        uint32_t pos = (uint32_t)(ip - base);
        uint32_t h = lzf_hash(ip);
        uint32_t cand = htab[h];
        htab[h] = pos;
        if (cand < pos && pos - cand <= LZF_MAX_OFF && base[cand] == ip[0] && base[cand + 1] == ip[1] &&
            base[cand + 2] == ip[2]) {
            size_t max = (size_t)(end - ip);
            if (max > LZF_MAX_REF)
                max = LZF_MAX_REF;
            size_t len = 3;
            while (len < max && base[cand + len] == ip[len])
                len++;
            /* close the literal run (or drop its unused control byte) */
            if (lit)
                *lit_ctrl = (uint8_t)(lit - 1);
            else
                op--;
            /* up to 3 bytes for the reference, 1 for the next run's control */
            if (oend - op < 4)
                return 0;
            size_t l = len - 2, off = pos - cand - 1;
            if (l < 7) {
                *op++ = (uint8_t)((l << 5) | (off >> 8));
            } else {
                *op++ = (uint8_t)((7u << 5) | (off >> 8));
                *op++ = (uint8_t)(l - 7);
            }
            *op++ = (uint8_t)(off & 0xff);
            /* index the positions the reference covers (better ratio on runs) */
            const uint8_t *stop = ip + len;
            for (ip++; ip < stop && end - ip >= 3; ip++)
                htab[lzf_hash(ip)] = (uint32_t)(ip - base);
            ip = stop;
            lit = 0;
            lit_ctrl = op++;
            continue;
        }
        if (op >= oend)
            return 0;
        *op++ = *ip++;
        if (++lit == LZF_MAX_LIT) {
            *lit_ctrl = (uint8_t)(lit - 1);
            lit = 0;
            if (op >= oend)
                return 0;
            lit_ctrl = op++;
        }
    }
    while (ip < end) {
        if (op >= oend)
            return 0;
        *op++ = *ip++;
        if (++lit == LZF_MAX_LIT) {
            *lit_ctrl = (uint8_t)(lit - 1);
            lit = 0;
            if (op >= oend)
                return 0;
            lit_ctrl = op++;
        }
    }
    if (lit)
        *lit_ctrl = (uint8_t)(lit - 1);
    else
        op--; /* the last reserved control byte is unused */
    return (size_t)(op - (uint8_t *)out);
}

size_t lzf_decompress(const void *in, size_t in_len, void *out, size_t out_cap)
{
    const uint8_t *ip = in, *iend = ip + in_len;
    uint8_t *op = out, *ostart = out, *oend = op + out_cap;
    while (ip < iend) {
        unsigned ctrl = *ip++;
        if (ctrl < 32) {
            size_t n = (size_t)ctrl + 1;
            if ((size_t)(iend - ip) < n || (size_t)(oend - op) < n)
                return 0;
            memcpy(op, ip, n);
            op += n;
            ip += n;
            continue;
        }
        size_t n = ctrl >> 5;
        if (n == 7) {
            if (ip >= iend)
                return 0;
            n += *ip++;
        }
        n += 2;
        if (ip >= iend)
            return 0;
        size_t dist = ((size_t)(ctrl & 31) << 8) + *ip++ + 1;
        if (dist > (size_t)(op - ostart) || (size_t)(oend - op) < n)
            return 0;
        const uint8_t *ref = op - dist;
        if (dist >= n) {
            memcpy(op, ref, n);
            op += n;
        } else {
            while (n--)
                *op++ = *ref++;
        }
    }
    return (size_t)(op - ostart);
}
