/* shard/lzf.h — LZF compression compatible with liblzf / Redis RDB strings.
 * Buffers only; no allocation. */
#ifndef DARTER_SHARD_LZF_H
#define DARTER_SHARD_LZF_H

#include <stddef.h>

/* Compress `in` into `out` (at most `out_cap` bytes). Returns the compressed
 * length, or 0 if the output would not fit in out_cap (or in_len == 0). */
size_t lzf_compress(const void *in, size_t in_len, void *out, size_t out_cap);
/* Decompress exactly; returns the decompressed length, or 0 on corrupt input
 * or if the output does not fit in out_cap. */
size_t lzf_decompress(const void *in, size_t in_len, void *out, size_t out_cap);

#endif
