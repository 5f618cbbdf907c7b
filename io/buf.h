/* io/buf.h — growable byte buffers used for query input and reply output.
 * Owns: a (data, len, cap) triple and its growth policy. Knows nothing of
 * RESP or sockets; memory comes from the calling thread's default mimalloc heap. */
#ifndef DARTER_IO_BUF_H
#define DARTER_IO_BUF_H

#include <stddef.h>
#include <string.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
/* Make room for at least `extra` more bytes. */
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_appendc(struct buf *b, char c);
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Release memory beyond what is used when the buffer is mostly empty. */
void buf_shrink(struct buf *b);
static inline void buf_clear(struct buf *b) { b->len = 0; }
static inline char *buf_tail(struct buf *b) { return b->data + b->len; }

/* Fast path append: caller guarantees nothing; grows when needed. */
static inline void buf_put(struct buf *b, const void *p, size_t n)
{
    if (!n)
        return;
    if (b->cap - b->len < n)
        buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

#endif
