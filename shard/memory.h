/* shard/memory.h — each shard thread allocates its keyspace from its own
 * mimalloc heap and counts the usable size of what it holds.
 * Owns: the calling thread's heap and byte counter (thread-local; never read
 * by another thread — INFO asks each thread by message). */
#ifndef DARTER_SHARD_MEMORY_H
#define DARTER_SHARD_MEMORY_H

#include <stddef.h>
#include <stdint.h>

void smem_thread_init(void);
void smem_thread_done(void);
void *smem_alloc(size_t n);
void *smem_calloc(size_t n);
void *smem_realloc(void *p, size_t n);
void smem_free(void *p);
size_t smem_usable(const void *p);
/* Bytes this thread's keyspace holds (usable sizes). */
int64_t smem_used(void);
int64_t smem_peak(void);

#endif
