/* shard/object.c — entry allocation and the string encodings (see object.h).
 * All memory comes from the calling shard thread's heap (shard/memory.h). */
#include "shard/object.h"
#include "shard/memory.h"
#include "shard/rdb.h"
#include "shard/types.h"

#include <limits.h>
#include <stdio.h>


bool string_to_int64(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 20)
        return false;
    size_t i = 0;
    bool neg = false;
    if (s[0] == '-') {
        neg = true;
        i = 1;
        if (len == 1)
            return false;
    }
    if (s[i] == '0' && len > i + 1)
        return false; /* leading zeros are not canonical */
    if (neg && s[i] == '0')
        return false; /* "-0" */
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = (int64_t)(0 - v);
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v;
    }
    return true;
}

size_t int64_to_string(char *buf, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

static struct entry *entry_alloc(const char *key, size_t klen, size_t extra)
{
    struct entry *e = smem_alloc(sizeof(struct entry) + klen + extra);
    memset(e, 0, sizeof(*e));
    e->keylen = (uint32_t)klen;
    memcpy(e->data, key, klen);
    return e;
}

struct entry *entry_new_int(const char *key, size_t klen, int64_t v)
{
    struct entry *e = entry_alloc(key, klen, 0);
    e->type = OBJ_STRING;
    e->enc = ENC_INT;
    e->val.ival = v;
    return e;
}

struct entry *entry_new_string_raw(const char *key, size_t klen, const char *val, size_t vlen, size_t cap)
{
    if (cap < vlen)
        cap = vlen;
    struct entry *e = entry_alloc(key, klen, cap);
    e->type = OBJ_STRING;
    e->enc = (vlen <= EMBSTR_MAX && cap == vlen) ? ENC_EMBSTR : ENC_RAW;
    e->val.str.len = (uint32_t)vlen;
    e->val.str.cap = (uint32_t)cap;
    if (vlen)
        memcpy(e->data + klen, val, vlen);
    return e;
}

struct entry *entry_new_string(const char *key, size_t klen, const char *val, size_t vlen)
{
    int64_t iv;
    if (vlen <= 20 && string_to_int64(val, vlen, &iv))
        return entry_new_int(key, klen, iv);
    return entry_new_string_raw(key, klen, val, vlen, vlen);
}

struct entry *entry_new_object(const char *key, size_t klen, int type, int enc, void *ptr)
{
    struct entry *e = entry_alloc(key, klen, 0);
    e->type = (uint8_t)type;
    e->enc = (uint8_t)enc;
    e->val.ptr = ptr;
    return e;
}

void entry_free(struct entry *e)
{
    if (!e)
        return;
    const struct type_ops *ops = type_ops_of(e->type);
    if (ops && ops->free)
        ops->free(e->val.ptr, e->enc);
    smem_free(e);
}

static size_t entry_payload(const struct entry *e)
{
    size_t n = (e->flags & E_EXPIRE ? 8 : 0) + e->keylen;
    if (e->type == OBJ_STRING && e->enc != ENC_INT)
        n += e->val.str.cap;
    return n;
}

struct entry *entry_set_expire(struct entry *e, int64_t when_ms)
{
    bool has = e->flags & E_EXPIRE;
    if (when_ms < 0) {
        if (!has)
            return e;
        size_t rest = entry_payload(e) - 8;
        memmove(e->data, e->data + 8, rest);
        e->flags &= (uint8_t)~E_EXPIRE;
        return smem_realloc(e, sizeof(*e) + rest);
    }
    if (!has) {
        size_t rest = entry_payload(e);
        e = smem_realloc(e, sizeof(*e) + rest + 8);
        memmove(e->data + 8, e->data, rest);
        e->flags |= E_EXPIRE;
    }
    memcpy(e->data, &when_ms, sizeof(when_ms));
    return e;
}

struct entry *entry_make_raw(struct entry *e)
{
    if (e->enc != ENC_INT)
        return e;
    char digits[24];
    size_t n = int64_to_string(digits, e->val.ival);
    size_t head = (e->flags & E_EXPIRE ? 8 : 0) + e->keylen;
    e = smem_realloc(e, sizeof(*e) + head + n);
    memcpy(e->data + head, digits, n);
    e->enc = ENC_RAW;
    e->val.str.len = (uint32_t)n;
    e->val.str.cap = (uint32_t)n;
    return e;
}

struct entry *entry_reserve_str(struct entry *e, size_t len)
{
    e = entry_make_raw(e);
    e->enc = ENC_RAW;
    if (len <= e->val.str.cap)
        return e;
    size_t cap = len < 1024 * 1024 ? len * 2 : len + 1024 * 1024;
    size_t head = (e->flags & E_EXPIRE ? 8 : 0) + e->keylen;
    e = smem_realloc(e, sizeof(*e) + head + cap);
    e->val.str.cap = (uint32_t)cap;
    return e;
}

const char *entry_string(struct entry *e, char *tmp, size_t *len)
{
    if (e->enc == ENC_INT) {
        *len = int64_to_string(tmp, e->val.ival);
        return tmp;
    }
    *len = e->val.str.len;
    return entry_str(e);
}

size_t entry_string_len(struct entry *e)
{
    if (e->enc == ENC_INT) {
        char tmp[24];
        return int64_to_string(tmp, e->val.ival);
    }
    return e->val.str.len;
}

struct entry *entry_clone(struct entry *e, const char *key, size_t klen)
{
    struct entry *c;
    if (e->type == OBJ_STRING) {
        if (e->enc == ENC_INT)
            c = entry_new_int(key, klen, e->val.ival);
        else {
            c = entry_new_string_raw(key, klen, entry_str(e), e->val.str.len, e->val.str.len);
            c->enc = e->enc == ENC_EMBSTR && e->val.str.len <= EMBSTR_MAX ? ENC_EMBSTR : ENC_RAW;
        }
    } else {
        const struct type_ops *ops = type_ops_of(e->type);
        void *copy = ops && ops->clone ? ops->clone(e->val.ptr, e->enc) : NULL;
        c = entry_new_object(key, klen, e->type, e->enc, copy);
    }
    c->lru = e->lru;
    return c;
}

size_t entry_memory(const struct entry *e)
{
    const struct type_ops *ops = type_ops_of(e->type);
    size_t n = smem_usable(e);
    if (ops && ops->memory)
        n += ops->memory(e->val.ptr, e->enc);
    return n;
}

struct entry *entry_rekey(struct entry *e, const char *key, size_t klen)
{
    struct entry *n;
    if (e->type == OBJ_STRING) {
        n = entry_clone(e, key, klen);
    } else {
        n = entry_new_object(key, klen, e->type, e->enc, e->val.ptr);
        n->lru = e->lru;
    }
    if (e->flags & E_EXPIRE)
        n = entry_set_expire(n, entry_expire(e));
    if (e->type == OBJ_STRING)
        entry_free(e);
    else
        smem_free(e); /* the value now belongs to n */
    return n;
}

/* image: type, enc, flags (1 byte each), lru (4), expire (8), then the value */
#define IMG_HEAD 15

bool entry_dump(struct entry *e, obj_put_fn put, void *ctx)
{
    struct buf value = {0};
    if (e->type != OBJ_STRING && !rdb_value_image(e, &value)) {
        buf_free(&value);
        return false;
    }
    char head[IMG_HEAD];
    int64_t when = entry_expire(e);
    head[0] = (char)e->type;
    head[1] = (char)e->enc;
    head[2] = (char)(e->flags & E_EXPIRE);
    memcpy(head + 3, &e->lru, 4);
    memcpy(head + 7, &when, 8);
    put(ctx, head, IMG_HEAD);
    if (e->type != OBJ_STRING) {
        put(ctx, value.data, value.len);
        buf_free(&value);
        return true;
    }
    if (e->enc == ENC_INT)
        put(ctx, &e->val.ival, sizeof(e->val.ival));
    else if (e->val.str.len)
        put(ctx, entry_str(e), e->val.str.len);
    return true;
}

struct entry *entry_load(const char *key, size_t klen, const char *img, size_t n)
{
    if (n < IMG_HEAD)
        return NULL;
    int type = (unsigned char)img[0], enc = (unsigned char)img[1];
    uint32_t lru;
    int64_t when;
    memcpy(&lru, img + 3, 4);
    memcpy(&when, img + 7, 8);
    const char *p = img + IMG_HEAD;
    size_t len = n - IMG_HEAD;
    struct entry *e;
    if (type == OBJ_STRING) {
        if (enc == ENC_INT) {
            int64_t v;
            if (len != sizeof(v))
                return NULL;
            memcpy(&v, p, sizeof(v));
            e = entry_new_int(key, klen, v);
        } else {
            e = entry_new_string_raw(key, klen, p, len, len);
            e->enc = enc == ENC_EMBSTR && len <= EMBSTR_MAX ? ENC_EMBSTR : ENC_RAW;
        }
    } else {
        e = rdb_entry_from_image(key, klen, p, len);
        if (!e || e->type != type)
            return entry_free(e), NULL;
        (void)enc;
    }
    e->lru = lru;
    if (img[2] & E_EXPIRE)
        e = entry_set_expire(e, when);
    return e;
}
