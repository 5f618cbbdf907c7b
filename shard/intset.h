/* shard/intset.h — Redis's intset, byte for byte: a u32 encoding (2, 4 or 8:
 * the width of every element), a u32 length, then that many sorted, unique
 * little-endian integers of that width. Adding a value wider than the
 * encoding upgrades every element. The blob is the value itself (one
 * allocation on the calling thread's heap, shard/memory.h), and it is what
 * RDB_TYPE_SET_INTSET stores as a string.
 * Owns: the blob's layout and operations. Must not know about sets' other
 * encodings, RESP, sockets or threads. */
#ifndef DARTER_SHARD_INTSET_H
#define DARTER_SHARD_INTSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INTSET_ENC_INT16 2u
#define INTSET_ENC_INT32 4u
#define INTSET_ENC_INT64 8u
#define INTSET_HEADER 8u

/* An empty intset (encoding int16). */
uint8_t *intset_new(void);
void intset_free(uint8_t *is);
/* Add v; may reallocate (use the returned pointer). *added: it was new. */
uint8_t *intset_add(uint8_t *is, int64_t v, bool *added);
/* Remove v; may reallocate. *removed: it was there. */
uint8_t *intset_remove(uint8_t *is, int64_t v, bool *removed);
bool intset_find(const uint8_t *is, int64_t v);
uint32_t intset_len(const uint8_t *is);
uint32_t intset_encoding(const uint8_t *is);
/* The element at pos (0 <= pos < len), in ascending order. */
int64_t intset_get(const uint8_t *is, uint32_t pos);
/* Bytes of the blob: header + len * encoding. */
size_t intset_blob_len(const uint8_t *is);
/* A copy of a blob of n bytes (already validated) on this thread's heap. */
uint8_t *intset_from_blob(const void *p, size_t n);
/* Redis's intsetValidateIntegrity with deep checks: a known encoding, a
 * length that matches n exactly, elements strictly ascending. */
bool intset_validate(const void *p, size_t n);
/* Bytes held on the heap (usable size). */
size_t intset_memory(const uint8_t *is);

#endif
