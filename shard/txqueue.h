/* shard/txqueue.h — a shard's transaction queue and intent locks.
 * Multi-shard operations are appended in transaction-id order and run when
 * they reach the head; single-shard operations run at once unless one of
 * their keys carries an intent lock, in which case they queue behind it.
 * Owns: the FIFO of queued items and the key-fingerprint lock counts.
 * Does not know what an item does: the server layer runs them. */
#ifndef DARTER_SHARD_TXQUEUE_H
#define DARTER_SHARD_TXQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct txq_item {
    struct txq_item *next;
    uint64_t txid;       /* 0: a single-shard operation */
    uint64_t *fps;       /* lock fingerprints held while queued */
    int nfps;
    bool global;         /* locks the whole shard */
    bool ready;          /* has work to run when at the head */
    bool started;        /* ran work on this shard: nothing may go before it */
};

struct txq {
    struct txq_item *head, *tail;
    size_t len;
    uint64_t high_txid;  /* highest txid ever appended */
    uint32_t global_locks;
    /* open-addressing fingerprint -> count */
    uint64_t *keys;
    uint32_t *counts;
    uint32_t cap, used;
};

void txq_init(struct txq *q);
void txq_destroy(struct txq *q);
uint64_t txq_fingerprint(int db, const char *key, size_t len);
/* Would an operation on these keys have to wait? */
bool txq_conflicts(const struct txq *q, const uint64_t *fps, int n, bool global);
/* Append an item (taking its locks). A multi-shard item whose txid is lower
 * than one already appended goes before the higher ones when none of them
 * has started and no single-shard item (txid 0) follows them, so the queue
 * stays in txid order; otherwise it is refused (returns false) and the
 * caller retries with a new id. */
bool txq_append(struct txq *q, struct txq_item *it);
/* Remove an item (releasing its locks). */
void txq_remove(struct txq *q, struct txq_item *it);
static inline struct txq_item *txq_head(struct txq *q) { return q->head; }

#endif
