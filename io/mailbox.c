/* io/mailbox.c — allocation of SPSC rings (see mailbox.h). */
#include "io/mailbox.h"
#include <mimalloc.h>

bool spsc_init(struct spsc *q, size_t capacity_pow2)
{
    atomic_store(&q->head, 0);
    atomic_store(&q->tail, 0);
    q->mask = capacity_pow2 - 1;
    q->slots = mi_zalloc(sizeof(void *) * capacity_pow2);
    return q->slots != NULL;
}

void spsc_destroy(struct spsc *q)
{
    mi_free(q->slots);
    q->slots = NULL;
}
