/* shard/hll.h — HyperLogLog values as Redis stores them: a string holding
 * the 16-byte header ("HYLL", encoding byte, 3 reserved bytes, the cached
 * cardinality little endian with bit 63 meaning "stale") followed by either
 * the dense registers (16384 six-bit registers, 12288 bytes) or the sparse
 * opcodes (ZERO 00xxxxxx, XZERO 01xxxxxx yyyyyyyy, VAL 1vvvvvxx).
 * Owns: MurmurHash64A as Redis seeds it, register access, sparse updates and
 * promotion, validation, merging and Redis 7's cardinality estimator.
 * Works on plain byte buffers; must not know about entries, commands,
 * RESP or threads (server/cmd_hll.c wires these to keys). */
#ifndef DARTER_SHARD_HLL_H
#define DARTER_SHARD_HLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/buf.h"

#define HLL_P 14
#define HLL_Q (64 - HLL_P)
#define HLL_REGISTERS (1 << HLL_P)
#define HLL_BITS 6
#define HLL_REGISTER_MAX ((1 << HLL_BITS) - 1)
#define HLL_HDR_SIZE 16
#define HLL_DENSE_SIZE (HLL_HDR_SIZE + (HLL_REGISTERS * HLL_BITS + 7) / 8)
/* An empty sparse HLL: the header and one XZERO covering every register. */
#define HLL_SPARSE_EMPTY_SIZE (HLL_HDR_SIZE + 2)
/* Bytes past the current length hll_sparse_set may write. */
#define HLL_SPARSE_SLACK 4
/* Histogram slots: register values are 0..63. */
#define HLL_HISTO 64

enum hll_encoding { HLL_DENSE = 0, HLL_SPARSE = 1 };

/* hll_sparse_set results */
enum hll_set_result {
    HLL_SET_INVALID = -1, /* the sparse opcodes are corrupt */
    HLL_SET_SAME = 0,     /* the register already held as much */
    HLL_SET_UPDATED = 1,
    HLL_SET_PROMOTE = 2,  /* needs the dense encoding: convert, then set there */
};

/* MurmurHash2, 64-bit version, reading 8-byte words little endian. */
uint64_t hll_murmur64a(const void *key, size_t len, uint64_t seed);
/* The register an element hashes to and the length of its 0..01 run
 * (1..Q+1), as PFADD computes them. */
int hll_pattern(const void *ele, size_t len, long *reg);

/* A string Redis accepts as an HLL: magic, known encoding, exact dense size. */
bool hll_valid(const uint8_t *p, size_t len);
static inline int hll_encoding(const uint8_t *p) { return p[4]; }

/* Write an empty sparse HLL (HLL_SPARSE_EMPTY_SIZE bytes). */
void hll_init_sparse(uint8_t *out);

/* The cached cardinality; false when it is marked stale. */
bool hll_cache_get(const uint8_t *p, uint64_t *card);
void hll_cache_set(uint8_t *p, uint64_t card);
void hll_cache_invalidate(uint8_t *p);

/* Dense registers (the bytes after the header). */
unsigned hll_dense_get(const uint8_t *regs, long i);
void hll_dense_put(uint8_t *regs, long i, unsigned v);
/* Raise register i to count; 1 when it changed. */
int hll_dense_set(uint8_t *regs, long i, uint8_t count);

/* Raise register `index` of the sparse HLL p[0..*len) to `count`. p must
 * have room for *len + HLL_SPARSE_SLACK bytes; *len changes with the
 * opcodes. Returns HLL_SET_PROMOTE (p untouched) when the value does not
 * fit a VAL opcode or the string would pass `max_bytes`. Invalidates the
 * cache when it updates. */
int hll_sparse_set(uint8_t *p, size_t *len, long index, uint8_t count, long long max_bytes);
/* Expand the sparse HLL into `dense` (HLL_DENSE_SIZE bytes), keeping the
 * header's cache. False when the opcodes are corrupt. */
bool hll_sparse_to_dense(const uint8_t *sparse, size_t len, uint8_t *dense);

/* The histogram of register values (histo zeroed by the caller). False
 * when a sparse HLL's opcodes are corrupt. p must be hll_valid. */
bool hll_histogram(const uint8_t *p, size_t len, int histo[HLL_HISTO]);
/* Histogram of one byte per register. */
void hll_raw_histogram(const uint8_t *raw, int histo[HLL_HISTO]);
/* Redis 7's estimator (Ertl's improved raw estimator). */
uint64_t hll_estimate(const int histo[HLL_HISTO]);
/* Cardinality of a valid HLL string; *invalid set when sparse is corrupt. */
uint64_t hll_count(const uint8_t *p, size_t len, bool *invalid);

/* max[i] = MAX(max[i], register i of p). False when sparse is corrupt. */
bool hll_merge_max(uint8_t *max, const uint8_t *p, size_t len);

/* PFDEBUG DECODE's text for a sparse HLL ("z:N", "Z:N", "v:V,N" joined by
 * spaces), appended to out. */
void hll_sparse_describe(const uint8_t *p, size_t len, struct buf *out);

#endif
