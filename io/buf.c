/* io/buf.c — growable byte buffers (see buf.h). Must not know about
 * connections or protocol; it only moves bytes. */
#include "io/buf.h"
#include <mimalloc.h>
#include <stdlib.h>

void buf_init(struct buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_free(struct buf *b)
{
    mi_free(b->data);
    buf_init(b);
}

void buf_reserve(struct buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return;
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap < (1u << 20) ? cap * 2 : cap + (cap >> 1);
    char *p = mi_realloc(b->data, cap);
    if (!p)
        abort();
    b->data = p;
    b->cap = cap;
}

void buf_append(struct buf *b, const void *p, size_t n)
{
    buf_put(b, p, n);
}

void buf_appendc(struct buf *b, char c)
{
    if (b->cap == b->len)
        buf_reserve(b, 1);
    b->data[b->len++] = c;
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void buf_shrink(struct buf *b)
{
    if (b->cap > 65536 && b->len < b->cap / 4) {
        if (b->len == 0) {
            mi_free(b->data);
            buf_init(b);
            return;
        }
        size_t cap = b->len < 4096 ? 4096 : b->len * 2;
        char *p = mi_realloc(b->data, cap);
        if (p) {
            b->data = p;
            b->cap = cap;
        }
    }
}
