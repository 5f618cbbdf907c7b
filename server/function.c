/* server/function.c — Redis 7 function libraries (see function.h).
 *
 * A library set (struct fn_set) is immutable once installed and shared by
 * reference between threads: FUNCTION LOAD/DELETE/FLUSH/RESTORE build a new
 * set on the coordinator of a global operation and every shard installs it
 * in a later hop of the same operation; the RDB loader installs the loaded
 * set by message. The reference count is the only field ever written after
 * publication. Each thread compiles its own Lua state from its current set
 * the first time a function is called after the set changed.
 *
 * Lua environment, as Redis 7.0 arranges it: every library chunk runs with
 * one shared environment table E (empty, writes refused) whose metatable's
 * __index is, while a library loads, the library API (only `redis` with
 * register_function, log and the version fields) and otherwise the normal
 * sandboxed globals (redis.call, cjson, ...).
 *
 * Owns: library metadata parsing, redis.register_function, the per-thread
 * function Lua state, the FUNCTION DUMP payload. Must not touch keyspace
 * data. */
#include "server/function.h"
#include "server/clock.h"
#include "server/script.h"
#include "shard/rdb.h"

#include <lauxlib.h>
#include <lua.h>

#include <mimalloc.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *const fn_flag_names[FN_NFLAGS] = {"no-writes", "allow-oom", "allow-stale", "no-cluster",
                                              "allow-cross-slot-keys"};

unsigned fn_flag_parse(const char *name)
{
    for (int i = 0; i < FN_NFLAGS; i++)
        if (strcasecmp(name, fn_flag_names[i]) == 0)
            return 1u << i;
    return 0;
}

/* Unique ids for built sets (0 is the empty set). */
static _Atomic uint64_t g_next_version = 1;
static struct fn_set g_empty_set = {.refs = 1};

/* ---------- sets ---------- */

static char *dupn(const char *s, size_t n)
{
    char *d = mi_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static void lib_free(struct fn_lib *lib)
{
    for (int i = 0; i < lib->nfuncs; i++) {
        mi_free(lib->funcs[i].name);
        mi_free(lib->funcs[i].desc);
    }
    mi_free(lib->funcs);
    mi_free(lib->name);
    mi_free(lib->code);
}

static void lib_copy(struct fn_lib *d, const struct fn_lib *s)
{
    d->name = dupn(s->name, strlen(s->name));
    d->code = dupn(s->code, s->len);
    d->len = s->len;
    d->nfuncs = s->nfuncs;
    d->funcs = mi_zalloc(sizeof(struct fn_func) * (size_t)(s->nfuncs ? s->nfuncs : 1));
    for (int i = 0; i < s->nfuncs; i++) {
        d->funcs[i].name = dupn(s->funcs[i].name, strlen(s->funcs[i].name));
        d->funcs[i].desc = s->funcs[i].desc ? dupn(s->funcs[i].desc, strlen(s->funcs[i].desc)) : NULL;
        d->funcs[i].flags = s->funcs[i].flags;
    }
}

struct fn_set *fn_set_ref(struct fn_set *s)
{
    if (s && s != &g_empty_set)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void fn_set_unref(struct fn_set *s)
{
    if (!s || s == &g_empty_set)
        return;
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (int i = 0; i < s->nlibs; i++)
        lib_free(&s->libs[i]);
    mi_free(s->libs);
    mi_free(s);
}

struct fn_set *fn_set_copy(const struct fn_set *base)
{
    struct fn_set *s = mi_zalloc(sizeof(*s));
    atomic_init(&s->refs, 1);
    s->version = atomic_fetch_add(&g_next_version, 1);
    if (base && base->nlibs) {
        s->libs = mi_zalloc(sizeof(struct fn_lib) * (size_t)base->nlibs);
        for (int i = 0; i < base->nlibs; i++)
            lib_copy(&s->libs[i], &base->libs[i]);
        s->nlibs = base->nlibs;
    }
    return s;
}

int fn_set_find_lib(const struct fn_set *s, const char *name, size_t len)
{
    for (int i = 0; i < s->nlibs; i++)
        if (strlen(s->libs[i].name) == len && memcmp(s->libs[i].name, name, len) == 0)
            return i;
    return -1;
}

const struct fn_func *fn_set_find_func(const struct fn_set *s, const char *name, size_t len, int *lib_out)
{
    for (int i = 0; i < s->nlibs; i++)
        for (int k = 0; k < s->libs[i].nfuncs; k++) {
            const struct fn_func *f = &s->libs[i].funcs[k];
            if (strlen(f->name) == len && strncasecmp(f->name, name, len) == 0) { /* as Redis's dict */
                if (lib_out)
                    *lib_out = i;
                return f;
            }
        }
    return NULL;
}

void fn_set_remove(struct fn_set *s, int idx)
{
    lib_free(&s->libs[idx]);
    memmove(&s->libs[idx], &s->libs[idx + 1], sizeof(struct fn_lib) * (size_t)(s->nlibs - idx - 1));
    s->nlibs--;
}

static void set_append(struct fn_set *s, struct fn_lib *lib)
{
    s->libs = mi_realloc(s->libs, sizeof(struct fn_lib) * (size_t)(s->nlibs + 1));
    s->libs[s->nlibs++] = *lib;
}

int fn_set_count_functions(const struct fn_set *s)
{
    int n = 0;
    for (int i = 0; i < s->nlibs; i++)
        n += s->libs[i].nfuncs;
    return n;
}

/* ---------- this thread's set ---------- */

struct fstate {
    struct fn_set *set;
    lua_State *L;       /* compiled from `version` */
    uint64_t version;
};

static _Thread_local struct fstate tl_fs;

const struct fn_set *fn_current(void) { return tl_fs.set ? tl_fs.set : &g_empty_set; }

void fn_install(struct fn_set *s)
{
    struct fn_set *old = tl_fs.set;
    tl_fs.set = s;
    fn_set_unref(old);
}

void fn_thread_done(void)
{
    if (tl_fs.L)
        lua_close(tl_fs.L);
    tl_fs.L = NULL;
    fn_set_unref(tl_fs.set);
    tl_fs.set = NULL;
}

size_t fn_vm_memory(void) { return tl_fs.L ? (size_t)lua_gc(tl_fs.L, LUA_GCCOUNT, 0) * 1024 : 0; }

/* ---------- the Lua side ---------- */

#define REG_ENV_MT "__fn_env_mt"     /* metatable of the library environment */
#define REG_LIB_API "__fn_lib_api"   /* the load-time API */
#define REG_GLOBALS "__fn_globals"   /* the normal globals */
#define REG_FUNCS "__fn_funcs"       /* function name -> callback */
#define REG_HANDLER "__fn_err_handler"

/* The library being loaded on this thread (register_function's target). */
struct load_ctx {
    struct fn_lib *lib;
    uint64_t start;
    int timeout_ms;
};
static _Thread_local struct load_ctx *tl_load;

static bool name_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static int raise_err(lua_State *L, const char *msg)
{
    script_push_error(L, msg);
    return lua_error(L);
}

/* Flags table {'no-writes', ...} at the top of the stack. */
static bool read_flags(lua_State *L, unsigned *out)
{
    unsigned f = 0;
    for (int j = 1;; j++) {
        lua_rawgeti(L, -1, j);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        unsigned bit = lua_type(L, -1) == LUA_TSTRING ? fn_flag_parse(lua_tostring(L, -1)) : 0;
        lua_pop(L, 1);
        if (!bit)
            return false;
        f |= bit;
    }
    *out = f;
    return true;
}

static const char *string_arg(lua_State *L, int idx, size_t *n)
{
    return lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, n) : NULL;
}

/* redis.register_function(name, callback) or ({function_name=, callback=,
 * flags=, description=}). Leaves the callback on top on success. */
static const char *read_register_args(lua_State *L, const char **name, size_t *nlen, const char **desc,
                                      unsigned *flags)
{
    int argc = lua_gettop(L);
    if (argc < 1 || argc > 2)
        return "wrong number of arguments to redis.register_function";
    if (argc == 2) {
        if (!(*name = string_arg(L, 1, nlen)))
            return "first argument to redis.register_function must be a string";
        if (!lua_isfunction(L, 2))
            return "second argument to redis.register_function must be a function";
        lua_pushvalue(L, 2);
        return NULL;
    }
    if (!lua_istable(L, 1))
        return "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).";
    lua_settop(L, 2); /* slot 2: the callback once found */
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return "named argument key given to redis.register_function is not a string";
        const char *key = lua_tostring(L, -2);
        if (strcasecmp(key, "function_name") == 0) {
            if (!(*name = string_arg(L, -1, nlen)))
                return "function_name argument given to redis.register_function must be a string";
        } else if (strcasecmp(key, "description") == 0) {
            size_t dl;
            if (!(*desc = string_arg(L, -1, &dl)))
                return "description argument given to redis.register_function must be a string";
        } else if (strcasecmp(key, "callback") == 0) {
            if (!lua_isfunction(L, -1))
                return "callback argument given to redis.register_function must be a function";
            lua_pushvalue(L, -1);
            lua_replace(L, 2);
        } else if (strcasecmp(key, "flags") == 0) {
            if (!lua_istable(L, -1))
                return "flags argument to redis.register_function must be a table representing function flags";
            if (!read_flags(L, flags))
                return "unknown flag given";
        } else {
            return "unknown argument given to redis.register_function";
        }
        lua_pop(L, 1);
    }
    if (!*name)
        return "redis.register_function must get a function name argument";
    if (lua_isnil(L, 2))
        return "redis.register_function must get a callback argument";
    lua_pushvalue(L, 2);
    return NULL;
}

static int l_register_function(lua_State *L)
{
    struct load_ctx *ld = tl_load;
    if (!ld)
        return raise_err(L, "redis.register_function can only be called on FUNCTION LOAD command");
    const char *name = NULL, *desc = NULL;
    size_t nlen = 0;
    unsigned flags = 0;
    const char *err = read_register_args(L, &name, &nlen, &desc, &flags);
    if (err)
        return raise_err(L, err);
    if (!name_ok(name, nlen))
        return raise_err(L, "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long");
    struct fn_lib *lib = ld->lib;
    for (int i = 0; i < lib->nfuncs; i++)
        if (strlen(lib->funcs[i].name) == nlen && strncasecmp(lib->funcs[i].name, name, nlen) == 0)
            return raise_err(L, "Function already exists in the library");
    /* callback (top) -> REG_FUNCS[name] */
    lua_getfield(L, LUA_REGISTRYINDEX, REG_FUNCS);
    lua_pushlstring(L, name, nlen);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 2);
    lib->funcs = mi_realloc(lib->funcs, sizeof(struct fn_func) * (size_t)(lib->nfuncs + 1));
    lib->funcs[lib->nfuncs++] = (struct fn_func){dupn(name, nlen), desc ? dupn(desc, strlen(desc)) : NULL, flags};
    return 0;
}

static void load_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct load_ctx *ld = tl_load;
    if (ld && ld->timeout_ms > 0 && ticks_to_nsec(clock_ticks() - ld->start) / 1000000 > ld->timeout_ms) {
        lua_sethook(L, load_hook, LUA_MASKLINE, 0);
        raise_err(L, "FUNCTION LOAD timeout");
    }
}

static int l_missing_global(lua_State *L)
{
    const char *n = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'", n ? n : "?");
}

/* A function Lua state: the script sandbox plus the library environment. */
static lua_State *fn_lua_new(void)
{
    lua_State *L = script_lua_new();
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_FUNCS);
    lua_getglobal(L, "__redis__err__handler");
    lua_setfield(L, LUA_REGISTRYINDEX, REG_HANDLER);
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_GLOBALS);

    /* the load-time API: {redis = {register_function, log, versions}} */
    lua_newtable(L);
    lua_newtable(L);
    lua_pushcfunction(L, l_register_function);
    lua_setfield(L, -2, "register_function");
    lua_getglobal(L, "redis");
    static const char *const copied[] = {"log", "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING",
                                         "REDIS_VERSION", "REDIS_VERSION_NUM", NULL};
    for (int i = 0; copied[i]; i++) {
        lua_getfield(L, -1, copied[i]);
        lua_setfield(L, -3, copied[i]);
    }
    lua_pop(L, 1);
    lua_newtable(L); /* redis.call and the rest do not exist while loading */
    lua_pushcfunction(L, l_missing_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    script_make_readonly(L);
    lua_setfield(L, -2, "redis");
    lua_newtable(L); /* reading anything else is an error */
    lua_pushcfunction(L, l_missing_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_LIB_API);

    /* the environment's metatable (its __index switches) */
    lua_newtable(L);
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, script_l_readonly);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setfield(L, LUA_REGISTRYINDEX, REG_ENV_MT);
    return L;
}

static void env_index(lua_State *L, const char *reg)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ENV_MT);
    lua_getfield(L, LUA_REGISTRYINDEX, reg);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

/* Run a library's code (after its shebang line) in L, registering its
 * functions into lib. On failure writes Redis's text into err. */
static bool run_library(lua_State *L, struct fn_lib *lib, const char *body, size_t blen, int timeout_ms,
                        char *err, size_t errlen)
{
    if (blen && body[0] == LUA_SIGNATURE[0]) {
        snprintf(err, errlen, "Error compiling function: user_function: attempt to load a binary chunk");
        return false;
    }
    if (luaL_loadbuffer(L, body, blen, "@user_function")) {
        snprintf(err, errlen, "Error compiling function: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return false;
    }
    lua_newtable(L); /* the environment every library function shares */
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ENV_MT);
    lua_setmetatable(L, -2);
    lua_setfenv(L, -2);
    env_index(L, REG_LIB_API);
    struct load_ctx ld = {.lib = lib, .start = clock_ticks(), .timeout_ms = timeout_ms};
    tl_load = &ld;
    lua_sethook(L, load_hook, LUA_MASKCOUNT, 100000);
    int rc = lua_pcall(L, 0, 0, 0);
    lua_sethook(L, NULL, 0, 0);
    tl_load = NULL;
    env_index(L, REG_GLOBALS);
    if (rc) {
        const char *msg = NULL;
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            msg = lua_tostring(L, -1);
            snprintf(err, errlen, "Error registering functions: %s", msg ? msg : "");
            lua_pop(L, 1);
        } else {
            msg = lua_tostring(L, -1);
            snprintf(err, errlen, "Error registering functions: ERR %s", msg ? msg : "");
        }
        lua_pop(L, 1);
        return false;
    }
    return true;
}

/* Split the shebang's words (Redis uses sdssplitargs; libraries use plain
 * words). */
static bool parse_metadata(const char *code, size_t len, char *name, size_t name_cap, const char **body,
                           size_t *blen, char *err, size_t errlen)
{
    if (len < 2 || code[0] != '#' || code[1] != '!') {
        snprintf(err, errlen, "Missing library metadata");
        return false;
    }
    const char *nl = memchr(code, '\n', len);
    if (!nl) {
        snprintf(err, errlen, "Invalid library metadata");
        return false;
    }
    const char *p = code + 2, *end = nl;
    const char *engine = p;
    while (p < end && *p != ' ' && *p != '\t')
        p++;
    size_t elen = (size_t)(p - engine);
    bool have_name = false;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
            p++;
        if (p >= end)
            break;
        /* one word; quotes group and are removed, as sdssplitargs does */
        char w[512];
        size_t wl = 0;
        char quote = 0;
        while (p < end && (quote || (*p != ' ' && *p != '\t' && *p != '\r'))) {
            if (!quote && (*p == '"' || *p == '\'')) {
                quote = *p++;
                continue;
            }
            if (quote && *p == quote) {
                quote = 0;
                p++;
                continue;
            }
            if (wl < sizeof(w) - 1)
                w[wl++] = *p;
            p++;
        }
        w[wl] = 0;
        if (quote) {
            snprintf(err, errlen, "Invalid library metadata");
            return false;
        }
        if (wl >= 5 && strncasecmp(w, "name=", 5) == 0) {
            if (have_name) {
                snprintf(err, errlen, "Invalid metadata value, name argument was given multiple times");
                return false;
            }
            have_name = true;
            size_t nl2 = wl - 5 < name_cap - 1 ? wl - 5 : name_cap - 1;
            memcpy(name, w + 5, nl2);
            name[nl2] = 0;
            if (nl2 != wl - 5 || !name_ok(name, nl2)) {
                snprintf(err, errlen, "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long");
                return false;
            }
            continue;
        }
        snprintf(err, errlen, "Invalid metadata value given: %s", w);
        return false;
    }
    if (!have_name) {
        snprintf(err, errlen, "Library name was not given");
        return false;
    }
    if (elen != 3 || strncasecmp(engine, "lua", 3) != 0) {
        snprintf(err, errlen, "Engine '%.*s' not found", (int)elen, engine);
        return false;
    }
    *body = nl;
    *blen = len - (size_t)(nl - code);
    return true;
}

bool fn_set_load(struct fn_set *s, const char *code, size_t len, bool replace, int timeout_ms, char *name_out,
                 size_t name_cap, char *err, size_t errlen)
{
    char name[256];
    const char *body;
    size_t blen;
    if (!parse_metadata(code, len, name, sizeof(name), &body, &blen, err, errlen))
        return false;
    int old = fn_set_find_lib(s, name, strlen(name));
    if (old >= 0 && !replace) {
        snprintf(err, errlen, "Library '%s' already exists", name);
        return false;
    }
    struct fn_lib lib = {.name = dupn(name, strlen(name)), .code = dupn(code, len), .len = len};
    lua_State *L = fn_lua_new();
    bool ok = run_library(L, &lib, body, blen, timeout_ms, err, errlen);
    lua_close(L);
    if (ok && lib.nfuncs == 0) {
        snprintf(err, errlen, "No functions registered");
        ok = false;
    }
    for (int i = 0; ok && i < lib.nfuncs; i++) {
        int owner;
        if (fn_set_find_func(s, lib.funcs[i].name, strlen(lib.funcs[i].name), &owner) && owner != old) {
            snprintf(err, errlen, "Function %s already exists", lib.funcs[i].name);
            ok = false;
        }
    }
    if (!ok) {
        lib_free(&lib);
        return false;
    }
    if (old >= 0)
        fn_set_remove(s, old);
    set_append(s, &lib);
    if (name_out)
        snprintf(name_out, name_cap, "%s", name);
    return true;
}

bool fn_set_join(struct fn_set *dst, struct fn_set *src, bool replace, char *err, size_t errlen)
{
    struct fn_set *tmp = fn_set_copy(dst);
    for (int i = 0; i < src->nlibs; i++) {
        int at = fn_set_find_lib(tmp, src->libs[i].name, strlen(src->libs[i].name));
        if (at < 0)
            continue;
        if (!replace) {
            snprintf(err, errlen, "Library %s already exists", src->libs[i].name);
            fn_set_unref(tmp);
            return false;
        }
        fn_set_remove(tmp, at);
    }
    for (int i = 0; i < src->nlibs; i++)
        for (int k = 0; k < src->libs[i].nfuncs; k++) {
            const char *fname = src->libs[i].funcs[k].name;
            if (fn_set_find_func(tmp, fname, strlen(fname), NULL)) {
                snprintf(err, errlen, "Function %s already exists", fname);
                fn_set_unref(tmp);
                return false;
            }
        }
    for (int i = 0; i < src->nlibs; i++)
        set_append(tmp, &src->libs[i]);
    mi_free(src->libs);
    src->libs = NULL;
    src->nlibs = 0;
    /* dst takes tmp's libraries */
    for (int i = 0; i < dst->nlibs; i++)
        lib_free(&dst->libs[i]);
    mi_free(dst->libs);
    dst->libs = tmp->libs;
    dst->nlibs = tmp->nlibs;
    tmp->libs = NULL;
    tmp->nlibs = 0;
    fn_set_unref(tmp);
    return true;
}

/* ---------- calling ---------- */

/* Compile every library of the current set into a fresh state. */
static void compile_current(void)
{
    const struct fn_set *s = fn_current();
    if (tl_fs.L)
        lua_close(tl_fs.L);
    tl_fs.L = fn_lua_new();
    for (int i = 0; i < s->nlibs; i++) {
        const char *body;
        size_t blen;
        char name[256], err[512];
        struct fn_lib scratch = {0};
        if (parse_metadata(s->libs[i].code, s->libs[i].len, name, sizeof(name), &body, &blen, err, sizeof(err)))
            run_library(tl_fs.L, &scratch, body, blen, 0, err, sizeof(err));
        lib_free(&scratch);
    }
    tl_fs.version = s->version;
}

lua_State *fn_push_function(const char *name, size_t len)
{
    const struct fn_set *s = fn_current();
    if (!fn_set_find_func(s, name, len, NULL))
        return NULL;
    if (!tl_fs.L || tl_fs.version != s->version)
        compile_current();
    lua_State *L = tl_fs.L;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_HANDLER);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_FUNCS);
    lua_pushlstring(L, name, len);
    lua_rawget(L, -2);
    lua_remove(L, -2);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 2);
        return NULL;
    }
    return L;
}

/* ---------- RDB and DUMP ---------- */

void fn_write_rdb(const struct fn_set *s, struct buf *b)
{
    for (int i = 0; i < s->nlibs; i++)
        rdb_write_function(b, s->libs[i].code, s->libs[i].len);
}

void fn_dump_payload(const struct fn_set *s, struct buf *b)
{
    size_t start = b->len;
    fn_write_rdb(s, b);
    unsigned char ver[2] = {RDB_VERSION & 0xff, (RDB_VERSION >> 8) & 0xff};
    buf_put(b, ver, 2);
    uint64_t crc = crc64_redis(0, b->data + start, b->len - start);
    unsigned char c[8];
    for (int i = 0; i < 8; i++)
        c[i] = (unsigned char)(crc >> (8 * i));
    buf_put(b, c, 8);
}

bool fn_add_from_rdb(struct fn_set *s, const char *code, size_t len, bool replace, char *err, size_t errlen)
{
    char lerr[512];
    if (fn_set_load(s, code, len, replace, 0, NULL, 0, lerr, sizeof(lerr)))
        return true;
    snprintf(err, errlen, "%s", lerr);
    return false;
}

struct fn_set *fn_restore_payload(const char *p, size_t n, char *err, size_t errlen)
{
    if (n < 10) {
        snprintf(err, errlen, "DUMP payload version or checksum are wrong");
        return NULL;
    }
    const unsigned char *u = (const unsigned char *)p;
    unsigned ver = u[n - 10] | (unsigned)u[n - 9] << 8;
    uint64_t want = 0;
    for (int i = 0; i < 8; i++)
        want |= (uint64_t)u[n - 8 + i] << (8 * i);
    if (ver > RDB_VERSION || (want && crc64_redis(0, p, n - 8) != want)) {
        snprintf(err, errlen, "DUMP payload version or checksum are wrong");
        return NULL;
    }
    struct fn_set *s = fn_set_copy(NULL);
    char ierr[256];
    struct rdb_in in = {.p = u, .len = n - 10, .err = ierr, .errlen = sizeof(ierr)};
    struct buf scratch;
    buf_init(&scratch);
    bool ok = true;
    while (ok && in.pos < in.len) {
        unsigned type;
        if (!rdb_read_byte(&in, &type)) {
            snprintf(err, errlen, "can not read data type");
            ok = false;
            break;
        }
        if (type != RDB_OPCODE_FUNCTION2) {
            snprintf(err, errlen, type == RDB_OPCODE_FUNCTION ? "Pre-GA function format not supported"
                                                              : "given type is not a function");
            ok = false;
            break;
        }
        buf_clear(&scratch);
        size_t len;
        const char *code = rdb_read_str(&in, &scratch, &len);
        if (!code) {
            snprintf(err, errlen, "failed loading the given functions payload");
            ok = false;
            break;
        }
        ok = fn_add_from_rdb(s, code, len, false, err, errlen);
    }
    buf_free(&scratch);
    if (!ok) {
        fn_set_unref(s);
        return NULL;
    }
    return s;
}
