/* server/lua_cmsgpack.c — the `cmsgpack` Lua library as Redis ships it:
 * cmsgpack.pack(...), unpack(s), unpack_one(s [, offset]),
 * unpack_limit(s, limit [, offset]). Encoding choices follow Redis's copy:
 * integral numbers as the smallest MessagePack integer, other numbers as
 * float32 when exact else float64, strings as fixstr/str8/16/32, tables with
 * keys 1..n as arrays else maps, nesting deeper than 16 as nil. Debian does
 * not package it for Lua 5.1. Owns: the library table. */
#include "server/lua_libs.h"

#include <lauxlib.h>
#include <lua.h>

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_NESTING 16

/* ---------- encoding ---------- */

/* Output in a plain C buffer: Lua 5.1's luaL_Buffer keeps pieces on the
 * stack, which the table walk below also uses. */
struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_add(struct sbuf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            abort();
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void sb_addc(struct sbuf *b, char c) { sb_add(b, &c, 1); }

static void put_be(struct sbuf *b, unsigned char tag, uint64_t v, int bytes)
{
    char tmp[9];
    tmp[0] = (char)tag;
    for (int i = 0; i < bytes; i++)
        tmp[1 + i] = (char)(v >> (8 * (bytes - 1 - i)));
    sb_add(b, tmp, (size_t)bytes + 1);
}

static void enc_int(struct sbuf *b, int64_t n)
{
    if (n >= 0) {
        uint64_t u = (uint64_t)n;
        if (u <= 127)
            sb_addc(b, (char)u);
        else if (u <= 0xff)
            put_be(b, 0xcc, u, 1);
        else if (u <= 0xffff)
            put_be(b, 0xcd, u, 2);
        else if (u <= 0xffffffffull)
            put_be(b, 0xce, u, 4);
        else
            put_be(b, 0xcf, u, 8);
    } else if (n >= -32) {
        sb_addc(b, (char)(int8_t)n);
    } else if (n >= -128) {
        put_be(b, 0xd0, (uint64_t)n, 1);
    } else if (n >= -32768) {
        put_be(b, 0xd1, (uint64_t)n, 2);
    } else if (n >= -2147483648ll) {
        put_be(b, 0xd2, (uint64_t)n, 4);
    } else {
        put_be(b, 0xd3, (uint64_t)n, 8);
    }
}

static void enc_double(struct sbuf *b, double d)
{
    float f = (float)d;
    if (d == (double)f) {
        uint32_t u;
        memcpy(&u, &f, 4);
        put_be(b, 0xca, u, 4);
    } else {
        uint64_t u;
        memcpy(&u, &d, 8);
        put_be(b, 0xcb, u, 8);
    }
}

static void enc_number(struct sbuf *b, lua_Number n)
{
    if (!isinf(n) && !isnan(n) && n >= -9223372036854775808.0 && n < 9223372036854775808.0 &&
        (lua_Number)(int64_t)n == n)
        enc_int(b, (int64_t)n);
    else
        enc_double(b, n);
}

static void enc_bytes(struct sbuf *b, const char *s, size_t len)
{
    if (len < 32)
        sb_addc(b, (char)(0xa0 | len));
    else if (len <= 0xff)
        put_be(b, 0xd9, len, 1);
    else if (len <= 0xffff)
        put_be(b, 0xda, len, 2);
    else
        put_be(b, 0xdb, len, 4);
    sb_add(b, s, len);
}

static void enc_header(struct sbuf *b, size_t n, unsigned fix, unsigned char t16, unsigned char t32)
{
    if (n < 16)
        sb_addc(b, (char)(fix | n));
    else if (n <= 0xffff)
        put_be(b, t16, n, 2);
    else
        put_be(b, t32, n, 4);
}

/* Keys exactly 1..n (an empty table counts as an array). */
static bool table_is_array(lua_State *L, int idx, size_t *len)
{
    double max = 0;
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TNUMBER) {
            lua_pop(L, 1);
            return false;
        }
        double k = lua_tonumber(L, -1);
        if (k <= 0 || floor(k) != k) {
            lua_pop(L, 1);
            return false;
        }
        if (k > max)
            max = k;
        count++;
    }
    *len = count;
    return max == (double)count;
}

/* The value at stack index idx (absolute), appended to b. */
static void enc_value(lua_State *L, struct sbuf *b, int idx, int level);

static void enc_table(lua_State *L, struct sbuf *b, int idx, int level)
{
    size_t n;
    if (table_is_array(L, idx, &n)) {
        enc_header(b, n, 0x90, 0xdc, 0xdd);
        for (size_t j = 1; j <= n; j++) {
            lua_rawgeti(L, idx, (int)j);
            enc_value(L, b, lua_gettop(L), level + 1);
            lua_pop(L, 1);
        }
        return;
    }
    n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        n++;
    }
    enc_header(b, n, 0x80, 0xde, 0xdf);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int v = lua_gettop(L);
        enc_value(L, b, v - 1, level + 1);
        enc_value(L, b, v, level + 1);
        lua_pop(L, 1);
    }
}

static void enc_value(lua_State *L, struct sbuf *b, int idx, int level)
{
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        enc_bytes(b, s, len);
        break;
    }
    case LUA_TBOOLEAN:
        sb_addc(b, lua_toboolean(L, idx) ? (char)0xc3 : (char)0xc2);
        break;
    case LUA_TNUMBER:
        enc_number(b, lua_tonumber(L, idx));
        break;
    case LUA_TTABLE:
        if (level < MAX_NESTING)
            enc_table(L, b, idx, level);
        else
            sb_addc(b, (char)0xc0); /* too deep */
        break;
    default:
        sb_addc(b, (char)0xc0);
    }
}

static int mp_pack(lua_State *L)
{
    int nargs = lua_gettop(L);
    if (nargs == 0)
        return luaL_argerror(L, 0, "MessagePack pack needs input.");
    if (!lua_checkstack(L, 3 * MAX_NESTING + 8))
        return luaL_error(L, "Too many arguments for MessagePack pack.");
    struct sbuf b = {0};
    for (int i = 1; i <= nargs; i++)
        enc_value(L, &b, i, 0);
    lua_pushlstring(L, b.p ? b.p : "", b.len);
    free(b.p);
    return 1;
}

/* ---------- decoding ---------- */

enum { MP_OK, MP_EOF, MP_BADFMT };

struct cur {
    const unsigned char *p;
    size_t left;
    int err;
};

static bool need(struct cur *c, size_t n)
{
    if (c->left < n) {
        c->err = MP_EOF;
        return false;
    }
    return true;
}

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void dec_value(lua_State *L, struct cur *c);

static void dec_array(lua_State *L, struct cur *c, size_t n)
{
    lua_newtable(L);
    for (size_t i = 1; i <= n && !c->err; i++) {
        dec_value(L, c);
        if (c->err)
            return;
        lua_rawseti(L, -2, (int)i);
    }
}

static void dec_map(lua_State *L, struct cur *c, size_t n)
{
    lua_newtable(L);
    for (size_t i = 0; i < n && !c->err; i++) {
        dec_value(L, c);
        if (c->err)
            return;
        dec_value(L, c);
        if (c->err)
            return;
        lua_settable(L, -3);
    }
}

static void dec_str(lua_State *L, struct cur *c, int lenbytes, size_t fixlen)
{
    size_t len = fixlen;
    if (lenbytes) {
        if (!need(c, (size_t)lenbytes))
            return;
        len = (size_t)be(c->p, lenbytes);
        c->p += lenbytes;
        c->left -= (size_t)lenbytes;
    }
    if (!need(c, len))
        return;
    lua_pushlstring(L, (const char *)c->p, len);
    c->p += len;
    c->left -= len;
}

static void dec_value(lua_State *L, struct cur *c)
{
    if (!need(c, 1))
        return;
    if (!lua_checkstack(L, 4)) {
        c->err = MP_BADFMT;
        return;
    }
    unsigned t = *c->p;
    c->p++;
    c->left--;
    if (t <= 0x7f) {
        lua_pushnumber(L, t);
        return;
    }
    if (t >= 0xe0) {
        lua_pushnumber(L, (int8_t)t);
        return;
    }
    if ((t & 0xe0) == 0xa0) {
        dec_str(L, c, 0, t & 0x1f);
        return;
    }
    if ((t & 0xf0) == 0x90) {
        dec_array(L, c, t & 0x0f);
        return;
    }
    if ((t & 0xf0) == 0x80) {
        dec_map(L, c, t & 0x0f);
        return;
    }
    static const int fixed[] = {[0xca - 0xca] = 4, [0xcb - 0xca] = 8, [0xcc - 0xca] = 1, [0xcd - 0xca] = 2,
                                [0xce - 0xca] = 4, [0xcf - 0xca] = 8, [0xd0 - 0xca] = 1, [0xd1 - 0xca] = 2,
                                [0xd2 - 0xca] = 4, [0xd3 - 0xca] = 8};
    if (t >= 0xca && t <= 0xd3) {
        int n = fixed[t - 0xca];
        if (!need(c, (size_t)n))
            return;
        uint64_t v = be(c->p, n);
        c->p += n;
        c->left -= (size_t)n;
        if (t == 0xca) {
            uint32_t u = (uint32_t)v;
            float f;
            memcpy(&f, &u, 4);
            lua_pushnumber(L, f);
        } else if (t == 0xcb) {
            double d;
            memcpy(&d, &v, 8);
            lua_pushnumber(L, d);
        } else if (t <= 0xcf) {
            lua_pushnumber(L, (lua_Number)v);
        } else {
            int64_t s = n == 1 ? (int8_t)v : n == 2 ? (int16_t)v : n == 4 ? (int32_t)v : (int64_t)v;
            lua_pushnumber(L, (lua_Number)s);
        }
        return;
    }
    switch (t) {
    case 0xc0: lua_pushnil(L); return;
    case 0xc2: lua_pushboolean(L, 0); return;
    case 0xc3: lua_pushboolean(L, 1); return;
    case 0xc4: case 0xd9: dec_str(L, c, 1, 0); return;
    case 0xc5: case 0xda: dec_str(L, c, 2, 0); return;
    case 0xc6: case 0xdb: dec_str(L, c, 4, 0); return;
    case 0xdc: case 0xdd: case 0xde: case 0xdf: {
        int n = (t == 0xdc || t == 0xde) ? 2 : 4;
        if (!need(c, (size_t)n))
            return;
        size_t len = (size_t)be(c->p, n);
        c->p += n;
        c->left -= (size_t)n;
        if (t <= 0xdd)
            dec_array(L, c, len);
        else
            dec_map(L, c, len);
        return;
    }
    default:
        c->err = MP_BADFMT;
    }
}

static int unpack_full(lua_State *L, lua_Integer limit, lua_Integer offset)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    bool all = !limit && !offset;
    if (offset < 0 || limit < 0)
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.", (int)offset, (int)len);
    if ((size_t)offset > len)
        return luaL_error(L, "Start offset %d greater than input length %d.", (int)offset, (int)len);
    if (all)
        limit = INT_MAX;
    struct cur c = {(const unsigned char *)s + offset, len - (size_t)offset, MP_OK};
    int cnt;
    for (cnt = 0; c.left > 0 && cnt < limit; cnt++) {
        dec_value(L, &c);
        if (c.err == MP_EOF)
            return luaL_error(L, "Missing bytes in input.");
        if (c.err == MP_BADFMT)
            return luaL_error(L, "Bad data format in input.");
    }
    if (!all) {
        lua_checkstack(L, 1);
        lua_pushinteger(L, c.left == 0 ? -1 : (lua_Integer)(len - c.left));
        lua_insert(L, 2);
        cnt++;
    }
    return cnt;
}

static int mp_unpack(lua_State *L) { return unpack_full(L, 0, 0); }

static int mp_unpack_one(lua_State *L)
{
    lua_Integer offset = luaL_optinteger(L, 2, 0);
    lua_settop(L, 1);
    return unpack_full(L, 1, offset);
}

static int mp_unpack_limit(lua_State *L)
{
    lua_Integer limit = luaL_checkinteger(L, 2);
    lua_Integer offset = luaL_optinteger(L, 3, 0);
    lua_settop(L, 1);
    return unpack_full(L, limit, offset);
}

int luaopen_cmsgpack(lua_State *L)
{
    static const luaL_Reg fns[] = {{"pack", mp_pack}, {"unpack", mp_unpack}, {"unpack_one", mp_unpack_one},
                                   {"unpack_limit", mp_unpack_limit}, {NULL, NULL}};
    lua_newtable(L);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lua_pushstring(L, "cmsgpack");
    lua_setfield(L, -2, "_NAME");
    lua_pushstring(L, "lua-cmsgpack 0.4.0");
    lua_setfield(L, -2, "_VERSION");
    lua_pushstring(L, "Copyright (C) 2012, Salvatore Sanfilippo");
    lua_setfield(L, -2, "_COPYRIGHT");
    lua_pushstring(L, "MessagePack C implementation for Lua");
    lua_setfield(L, -2, "_DESCRIPTION");
    return 1;
}
