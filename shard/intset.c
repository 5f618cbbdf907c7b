/* shard/intset.c — Redis's intset layout (see intset.h): sorted unique
 * little-endian integers of one width, upgraded on insert, found by binary
 * search. Memory from the calling thread's heap. */
#include "shard/intset.h"
#include "shard/memory.h"

#include <string.h>

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

uint32_t intset_encoding(const uint8_t *is) { return rd32(is); }
uint32_t intset_len(const uint8_t *is) { return rd32(is + 4); }
size_t intset_blob_len(const uint8_t *is) { return INTSET_HEADER + (size_t)intset_len(is) * intset_encoding(is); }

static uint32_t enc_for(int64_t v)
{
    if (v < INT32_MIN || v > INT32_MAX)
        return INTSET_ENC_INT64;
    if (v < INT16_MIN || v > INT16_MAX)
        return INTSET_ENC_INT32;
    return INTSET_ENC_INT16;
}

/* Little-endian signed integer of `width` bytes. */
static int64_t load_at(const uint8_t *p, uint32_t width)
{
    uint64_t u = 0;
    for (uint32_t i = 0; i < width; i++)
        u |= (uint64_t)p[i] << (8 * i);
    if (width < 8 && (u >> (8 * width - 1)) & 1)
        u |= ~0ull << (8 * width); /* sign extension */
    return (int64_t)u;
}

static void store_at(uint8_t *p, uint32_t width, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (uint32_t i = 0; i < width; i++)
        p[i] = (uint8_t)(u >> (8 * i));
}

static int64_t get_enc(const uint8_t *is, uint32_t pos, uint32_t enc)
{
    return load_at(is + INTSET_HEADER + (size_t)pos * enc, enc);
}

int64_t intset_get(const uint8_t *is, uint32_t pos) { return get_enc(is, pos, intset_encoding(is)); }

static void set_at(uint8_t *is, uint32_t pos, int64_t v)
{
    uint32_t enc = intset_encoding(is);
    store_at(is + INTSET_HEADER + (size_t)pos * enc, enc, v);
}

uint8_t *intset_new(void)
{
    uint8_t *is = smem_alloc(INTSET_HEADER);
    wr32(is, INTSET_ENC_INT16);
    wr32(is + 4, 0);
    return is;
}

void intset_free(uint8_t *is) { smem_free(is); }
size_t intset_memory(const uint8_t *is) { return smem_usable(is); }

/* Binary search: true and *pos when found, else *pos is where v belongs. */
static bool search(const uint8_t *is, int64_t v, uint32_t *pos)
{
    uint32_t lo = 0, hi = intset_len(is);
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t cur = intset_get(is, mid);
        if (cur == v) {
            *pos = mid;
            return true;
        }
        if (cur < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return false;
}

bool intset_find(const uint8_t *is, int64_t v)
{
    uint32_t pos;
    return enc_for(v) <= intset_encoding(is) && search(is, v, &pos);
}

static uint8_t *resize(uint8_t *is, uint32_t len, uint32_t enc)
{
    return smem_realloc(is, INTSET_HEADER + (size_t)len * enc);
}

/* Widen every element to `enc` and add v, which lies outside the old range
 * (it goes first when negative, last otherwise). */
static uint8_t *upgrade_and_add(uint8_t *is, int64_t v)
{
    uint32_t old = intset_encoding(is), len = intset_len(is);
    uint32_t enc = enc_for(v);
    uint32_t front = v < 0 ? 1 : 0;
    is = resize(is, len + 1, enc);
    wr32(is, enc);
    for (uint32_t i = len; i-- > 0;)
        set_at(is, i + front, get_enc(is, i, old)); /* back to front: no overlap */
    set_at(is, front ? 0 : len, v);
    wr32(is + 4, len + 1);
    return is;
}

uint8_t *intset_add(uint8_t *is, int64_t v, bool *added)
{
    *added = false;
    if (enc_for(v) > intset_encoding(is)) {
        *added = true;
        return upgrade_and_add(is, v);
    }
    uint32_t pos, len = intset_len(is), enc = intset_encoding(is);
    if (search(is, v, &pos))
        return is;
    is = resize(is, len + 1, enc);
    uint8_t *at = is + INTSET_HEADER + (size_t)pos * enc;
    memmove(at + enc, at, (size_t)(len - pos) * enc);
    set_at(is, pos, v);
    wr32(is + 4, len + 1);
    *added = true;
    return is;
}

uint8_t *intset_remove(uint8_t *is, int64_t v, bool *removed)
{
    uint32_t pos;
    *removed = false;
    if (enc_for(v) > intset_encoding(is) || !search(is, v, &pos))
        return is;
    uint32_t len = intset_len(is), enc = intset_encoding(is);
    uint8_t *at = is + INTSET_HEADER + (size_t)pos * enc;
    memmove(at, at + enc, (size_t)(len - pos - 1) * enc);
    wr32(is + 4, len - 1);
    *removed = true;
    return resize(is, len - 1, enc);
}

uint8_t *intset_from_blob(const void *p, size_t n)
{
    uint8_t *is = smem_alloc(n);
    memcpy(is, p, n);
    return is;
}

bool intset_validate(const void *p, size_t n)
{
    const uint8_t *is = p;
    if (n < INTSET_HEADER)
        return false;
    uint32_t enc = intset_encoding(is);
    if (enc != INTSET_ENC_INT16 && enc != INTSET_ENC_INT32 && enc != INTSET_ENC_INT64)
        return false;
    uint32_t len = intset_len(is);
    if ((uint64_t)len * enc + INTSET_HEADER != n)
        return false;
    if (len == 0) /* Redis refuses an empty intset too */
        return false;
    for (uint32_t i = 1; i < len; i++)
        if (get_enc(is, i - 1, enc) >= get_enc(is, i, enc))
            return false;
    return true;
}
