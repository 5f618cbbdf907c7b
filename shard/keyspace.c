/* shard/keyspace.c — databases and slot tables of one shard (see keyspace.h). */
#include "shard/keyspace.h"
#include "shard/memory.h"

void ks_init(struct keyspace *ks, int ndb)
{
    memset(ks, 0, sizeof(*ks));
    ks->ndb = ndb;
    ks->dbs = smem_calloc(sizeof(struct ks_db) * (size_t)ndb);
    ks->rnd = 0x853c49e6748fea9bull;
}

static void free_slots(struct ks_db *d)
{
    if (!d->chunks)
        return;
    for (unsigned c = 0; c < KS_CHUNKS; c++) {
        struct table **chunk = d->chunks[c];
        if (!chunk)
            continue;
        for (unsigned s = 0; s < KS_CHUNK_SLOTS; s++)
            table_free(chunk[s]);
        smem_free(chunk);
    }
    smem_free(d->chunks);
    d->chunks = NULL;
    d->keys = d->volatile_keys = 0;
}

void ks_destroy(struct keyspace *ks)
{
    for (int i = 0; i < ks->ndb; i++)
        free_slots(&ks->dbs[i]);
    smem_free(ks->dbs);
    ks->dbs = NULL;
}

/* The first key of a slot: allocate what is missing on the way to its table. */
static struct table *slot_table_create(struct ks_db *d, unsigned slot)
{
    if (!d->chunks)
        d->chunks = smem_calloc(sizeof(struct table **) * KS_CHUNKS);
    struct table ***chunk = &d->chunks[slot / KS_CHUNK_SLOTS];
    if (!*chunk)
        *chunk = smem_calloc(sizeof(struct table *) * KS_CHUNK_SLOTS);
    struct table **t = &(*chunk)[slot % KS_CHUNK_SLOTS];
    if (!*t)
        *t = table_new();
    return *t;
}

static inline struct table *slot_table(struct keyspace *ks, int db, unsigned slot, bool create)
{
    struct ks_db *d = &ks->dbs[db];
    struct table **chunk = d->chunks ? d->chunks[slot / KS_CHUNK_SLOTS] : NULL;
    struct table *t = chunk ? chunk[slot % KS_CHUNK_SLOTS] : NULL;
    if (!t && create)
        t = slot_table_create(d, slot);
    return t;
}

struct table *ks_slot_table(struct keyspace *ks, int db, unsigned slot)
{
    return slot_table(ks, db, slot, false);
}

static void drop_entry(struct keyspace *ks, int db, struct table *t, struct entry **link)
{
    struct ks_db *d = &ks->dbs[db];
    struct entry *e = table_unlink(t, link);
    d->keys--;
    if (e->flags & E_EXPIRE)
        d->volatile_keys--;
    entry_free(e);
}

struct entry *ks_find(struct keyspace *ks, int db, unsigned slot, const char *key, size_t len,
                      int64_t now_ms, struct ks_ref *ref)
{
    struct table *t = slot_table(ks, db, slot, false);
    uint64_t h = key_hash64(key, len);
    if (ref) {
        ref->table = t;
        ref->link = NULL;
        ref->hash = h;
    }
    if (!t || !t->count)
        return NULL;
    struct entry **link = table_find(t, key, len, h);
    if (!link)
        return NULL;
    struct entry *e = *link;
    if (ks_is_expired(e, now_ms)) {
        if (ks->on_expired)
            ks->on_expired(ks->on_expired_arg, db, slot, e);
        drop_entry(ks, db, t, link);
        ks->stats.expired_keys++;
        return NULL;
    }
    if (ref)
        ref->link = link;
    return e;
}

void ks_add(struct keyspace *ks, int db, unsigned slot, struct entry *e)
{
    struct table *t = slot_table(ks, db, slot, true);
    struct ks_db *d = &ks->dbs[db];
    table_insert(t, e, key_hash64(entry_key(e), e->keylen));
    d->keys++;
    if (e->flags & E_EXPIRE)
        d->volatile_keys++;
}

void ks_relink(struct keyspace *ks, int db, struct ks_ref *ref, struct entry *e)
{
    (void)ks;
    (void)db;
    /* The entry moved; its chain position is the same link. */
    *ref->link = e;
}

void ks_replace(struct keyspace *ks, int db, struct ks_ref *ref, struct entry *e)
{
    struct ks_db *d = &ks->dbs[db];
    struct entry *old = *ref->link;
    if (old == e)
        return;
    e->next = old->next;
    e->hash = old->hash;
    if (old->flags & E_EXPIRE) {
        d->volatile_keys--;
        ref->table->volatile_count--;
    }
    if (e->flags & E_EXPIRE) {
        d->volatile_keys++;
        ref->table->volatile_count++;
    }
    *ref->link = e;
    entry_free(old);
}

void ks_delete(struct keyspace *ks, int db, struct ks_ref *ref)
{
    drop_entry(ks, db, ref->table, ref->link);
    table_maybe_shrink(ref->table);
    ref->link = NULL;
}

struct entry *ks_take(struct keyspace *ks, int db, struct ks_ref *ref)
{
    struct ks_db *d = &ks->dbs[db];
    struct entry *e = table_unlink(ref->table, ref->link);
    d->keys--;
    if (e->flags & E_EXPIRE)
        d->volatile_keys--;
    ref->link = NULL;
    return e;
}

struct entry *ks_set_expire(struct keyspace *ks, int db, struct ks_ref *ref, int64_t when_ms)
{
    struct ks_db *d = &ks->dbs[db];
    struct entry *e = *ref->link;
    bool had = e->flags & E_EXPIRE;
    struct entry *ne = entry_set_expire(e, when_ms);
    bool has = ne->flags & E_EXPIRE;
    *ref->link = ne;
    if (had != has) {
        int delta = has ? 1 : -1;
        d->volatile_keys += (uint64_t)(int64_t)delta;
        ref->table->volatile_count += (uint32_t)delta;
    }
    return ne;
}

uint64_t ks_db_size(struct keyspace *ks, int db) { return ks->dbs[db].keys; }
uint64_t ks_db_volatile(struct keyspace *ks, int db) { return ks->dbs[db].volatile_keys; }

uint64_t ks_slot_count(struct keyspace *ks, int db, unsigned slot)
{
    struct table *t = slot_table(ks, db, slot, false);
    return t ? t->count : 0;
}

void ks_flush_db(struct keyspace *ks, int db) { free_slots(&ks->dbs[db]); }

void ks_swap_db(struct keyspace *ks, int a, int b)
{
    struct ks_db tmp = ks->dbs[a];
    ks->dbs[a] = ks->dbs[b];
    ks->dbs[b] = tmp;
}

/* Walk the buckets of one slot table from the saved cursor, expiring what is due. */
static unsigned expire_in_table(struct keyspace *ks, int db, unsigned slot, struct table *t, int64_t now_ms,
                                unsigned *budget, uint64_t *expired)
{
    unsigned visited = 0;
    do {
        uint32_t b = (uint32_t)(ks->expire_cursor & (t->size - 1));
        struct entry **link = &t->buckets[b];
        while (*link) {
            visited++;
            if (ks_is_expired(*link, now_ms)) {
                if (ks->on_expired)
                    ks->on_expired(ks->on_expired_arg, db, slot, *link);
                drop_entry(ks, db, t, link);
                ks->stats.expired_keys++;
                (*expired)++;
            } else {
                link = &(*link)->next;
            }
        }
        ks->expire_cursor = b + 1u >= t->size ? 0 : b + 1u;
        if (*budget)
            (*budget)--;
    } while (ks->expire_cursor != 0 && *budget && t->volatile_count);
    if (!t->volatile_count)
        ks->expire_cursor = 0;
    return visited;
}

uint64_t ks_active_expire(struct keyspace *ks, int64_t now_ms, unsigned budget, const unsigned *slots,
                          unsigned nslots)
{
    uint64_t expired = 0;
    if (!nslots)
        return 0;
    unsigned steps = nslots * (unsigned)ks->ndb;
    while (budget && steps--) {
        int db = ks->expire_db;
        struct ks_db *d = &ks->dbs[db];
        if (ks->expire_slot >= nslots)
            ks->expire_slot = 0;
        if (d->chunks && d->volatile_keys) {
            struct table *t = slot_table(ks, db, slots[ks->expire_slot], false);
            if (t && t->volatile_count) {
                if (ks->before_write) /* persist: snapshot copy-on-write */
                    ks->before_write(ks->before_write_arg, slots[ks->expire_slot]);
                expire_in_table(ks, db, slots[ks->expire_slot], t, now_ms, &budget, &expired);
                if (ks->expire_cursor != 0)
                    continue; /* budget ran out mid-table: resume here */
                table_maybe_shrink(t);
            }
        } else {
            /* nothing volatile in this db: skip to the next db */
            ks->expire_slot = nslots;
        }
        ks->expire_slot++;
        ks->expire_cursor = 0;
        if (ks->expire_slot >= nslots) {
            ks->expire_slot = 0;
            ks->expire_db = (ks->expire_db + 1) % ks->ndb;
        }
    }
    return expired;
}
