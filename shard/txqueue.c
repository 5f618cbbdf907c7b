/* shard/txqueue.c — queue and intent locks of one shard (see txqueue.h). */
#include "shard/txqueue.h"
#include "shard/table.h"
#include <mimalloc.h>
#include <string.h>

void txq_init(struct txq *q) { memset(q, 0, sizeof(*q)); }

void txq_destroy(struct txq *q)
{
    mi_free(q->keys);
    mi_free(q->counts);
    memset(q, 0, sizeof(*q));
}

uint64_t txq_fingerprint(int db, const char *key, size_t len)
{
    uint64_t h = key_hash64(key, len) ^ ((uint64_t)(db + 1) * 0x9e3779b97f4a7c15ull);
    return h ? h : 1; /* 0 marks an empty slot */
}

static uint32_t find_slot(const struct txq *q, uint64_t fp)
{
    uint32_t mask = q->cap - 1;
    uint32_t i = (uint32_t)(fp ^ (fp >> 29)) & mask;
    while (q->keys[i] && q->keys[i] != fp)
        i = (i + 1) & mask;
    return i;
}

static void grow(struct txq *q)
{
    uint32_t oldcap = q->cap;
    uint64_t *ok = q->keys;
    uint32_t *oc = q->counts;
    uint32_t live = 0;
    for (uint32_t i = 0; i < oldcap; i++)
        live += ok[i] && oc[i];
    q->cap = 64;
    while (q->cap < (live + 1) * 4)
        q->cap *= 2;
    q->keys = mi_zalloc(sizeof(uint64_t) * q->cap);
    q->counts = mi_zalloc(sizeof(uint32_t) * q->cap);
    q->used = 0;
    for (uint32_t i = 0; i < oldcap; i++) {
        if (ok[i] && oc[i]) {
            uint32_t s = find_slot(q, ok[i]);
            q->keys[s] = ok[i];
            q->counts[s] = oc[i];
            q->used++;
        }
    }
    mi_free(ok);
    mi_free(oc);
}

static void lock_fp(struct txq *q, uint64_t fp)
{
    if ((q->used + 1) * 2 > q->cap)
        grow(q);
    uint32_t s = find_slot(q, fp);
    if (!q->keys[s]) {
        q->keys[s] = fp;
        q->used++;
    }
    q->counts[s]++;
}

/* Counts drop to zero but the key stays (tombstone-free: the table is rebuilt
 * empty whenever the queue drains). */
static void unlock_fp(struct txq *q, uint64_t fp)
{
    uint32_t s = find_slot(q, fp);
    if (q->keys[s] && q->counts[s])
        q->counts[s]--;
}

bool txq_conflicts(const struct txq *q, const uint64_t *fps, int n, bool global)
{
    if (!q->len)
        return false;
    if (global || q->global_locks)
        return true;
    for (int i = 0; i < n; i++) {
        uint32_t s = find_slot(q, fps[i]);
        if (q->keys[s] && q->counts[s])
            return true;
    }
    return false;
}

/* The link to set to `it` so that the queue stays in txid order, or NULL
 * when an item it would pass has started or is a single-shard item, or when
 * the higher ids are gone (they ran here before it). */
static struct txq_item **sorted_link(struct txq *q, const struct txq_item *it)
{
    struct txq_item **link = &q->head;
    while (*link && ((*link)->txid == 0 || (*link)->txid < it->txid))
        link = &(*link)->next;
    if (!*link)
        return NULL;
    for (struct txq_item *p = *link; p; p = p->next)
        if (p->txid == 0 || p->started)
            return NULL;
    return link;
}

static void take_locks(struct txq *q, struct txq_item *it)
{
    q->len++;
    if (it->global)
        q->global_locks++;
    for (int i = 0; i < it->nfps; i++)
        lock_fp(q, it->fps[i]);
}

bool txq_append(struct txq *q, struct txq_item *it)
{
    it->started = false;
    if (it->txid && it->txid < q->high_txid) {
        struct txq_item **link = sorted_link(q, it);
        if (!link)
            return false;
        it->next = *link; /* not the tail: a higher id follows */
        *link = it;
        take_locks(q, it);
        return true;
    }
    if (it->txid)
        q->high_txid = it->txid;
    it->next = NULL;
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    take_locks(q, it);
    return true;
}

void txq_remove(struct txq *q, struct txq_item *it)
{
    struct txq_item **link = &q->head, *prev = NULL;
    while (*link && *link != it) {
        prev = *link;
        link = &(*link)->next;
    }
    if (!*link)
        return;
    *link = it->next;
    if (q->tail == it)
        q->tail = prev;
    q->len--;
    if (it->global)
        q->global_locks--;
    for (int i = 0; i < it->nfps; i++)
        unlock_fp(q, it->fps[i]);
    if (!q->len && q->used) {
        memset(q->keys, 0, sizeof(uint64_t) * q->cap);
        memset(q->counts, 0, sizeof(uint32_t) * q->cap);
        q->used = 0;
    }
}
