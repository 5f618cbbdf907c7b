/* server/cmd_command.c — COMMAND and its subcommands (COUNT INFO DOCS LIST
 * GETKEYS GETKEYSANDFLAGS HELP), answered from the command table, with
 * Redis 7.0's reply shapes. What the table does not describe (argument
 * trees, key specs, tips, history, doc flags, the Redis flags darter does
 * not model) comes from command_docs.inc, generated from Redis's command
 * JSON files by scripts/gen_command_docs.py; the table wins for everything
 * it does describe (name, arity, flags, key range, ACL categories).
 * Owns: table introspection. Runs on the connection's thread; reads only
 * the read-only command table. */
#include "server/server.h"

#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------- the generated documentation table ---------- */

enum { KS_BS_INDEX = 1, KS_BS_KEYWORD, KS_BS_UNKNOWN };
enum { KS_FK_RANGE = 1, KS_FK_KEYNUM, KS_FK_UNKNOWN };

struct doc_arg {
    const char *name;
    unsigned char type;       /* index into arg_type_names */
    signed char key_spec_index;
    unsigned char flags;      /* 1 optional, 2 multiple, 4 multiple_token */
    unsigned char nsub;
    const char *token, *summary, *since, *deprecated_since;
    const struct doc_arg *sub;
};

struct doc_keyspec {
    const char *notes;
    unsigned flags;           /* bits in key_flag_names order */
    unsigned char bs_type, fk_type;
    int bs_pos;               /* index: position; keyword: startfrom */
    const char *bs_keyword;
    int fk[3];                /* range: lastkey keystep limit; keynum: keynumidx firstkey keystep */
};

struct doc_history {
    const char *since, *changes;
};

struct command_doc {
    const char *name, *summary, *since, *complexity, *deprecated_since, *replaced_by, *group;
    int arity;
    unsigned flags;           /* Redis command flags, bits in redis_flag_names order */
    unsigned acl;             /* bits in acl_names order */
    unsigned doc_flags;       /* 1 deprecated, 2 syscmd */
    bool has_getkeys;
    int nhistory, ntips, nspecs, nargs;
    const struct doc_history *history;
    const char *const *tips;
    const struct doc_keyspec *specs;
    const struct doc_arg *args;
};

#include "server/command_docs.inc"

static const char *const arg_type_names[] = {"string", "integer", "double", "key", "pattern",
                                             "unix-time", "pure-token", "oneof", "block"};

/* Redis's flag order (addReplyFlagsForCommand); those after allow_busy are never shown. */
enum {
    RF_WRITE, RF_READONLY, RF_DENYOOM, RF_MODULE, RF_ADMIN, RF_PUBSUB, RF_NOSCRIPT, RF_BLOCKING,
    RF_LOADING, RF_STALE, RF_SKIP_MONITOR, RF_SKIP_SLOWLOG, RF_ASKING, RF_FAST, RF_NO_AUTH,
    RF_NO_MANDATORY_KEYS, RF_NO_ASYNC_LOADING, RF_NO_MULTI, RF_MOVABLE_KEYS, RF_ALLOW_BUSY, RF_SHOWN,
};
static const char *const redis_flag_names[RF_SHOWN] = {
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking", "loading",
    "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth", "no_mandatory_keys",
    "no_async_loading", "no_multi", "movablekeys", "allow_busy",
};

static const char *const key_flag_names[] = {"RO", "RW", "OW", "RM", "access", "update", "insert",
                                             "delete", "not_key", "incomplete", "variable_flags"};
enum { KF_RO = 1, KF_RW = 2, KF_OW = 4, KF_ACCESS = 16, KF_UPDATE = 32, KF_NOT_KEY = 256, KF_INCOMPLETE = 512,
       KF_VARIABLE = 1024 };

static const char *const acl_names[] = {
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog",
    "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
    "transaction", "scripting",
};
#define N_ACL (sizeof(acl_names) / sizeof(acl_names[0]))
enum { ACL_READ = 1u << 1, ACL_WRITE = 1u << 2, ACL_PUBSUB = 1u << 12, ACL_ADMIN = 1u << 13,
       ACL_FAST = 1u << 14, ACL_SLOW = 1u << 15, ACL_BLOCKING = 1u << 16, ACL_DANGEROUS = 1u << 17,
       ACL_SCRIPTING = 1u << 20 };

static int doc_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct command_doc *)elem)->name);
}

static const struct command_doc *doc_for(const struct command *cmd)
{
    return bsearch(cmd->name, command_docs, sizeof(command_docs) / sizeof(command_docs[0]),
                   sizeof(command_docs[0]), doc_cmp);
}

/* ---------- what COMMAND INFO reports ---------- */

/* Redis's populateCommandLegacyRangeSpec: keys the legacy (first, last,
 * step) range cannot describe make the command "movablekeys". */
static bool doc_movable(const struct command_doc *d)
{
    if (!d || !d->nspecs)
        return false;
    const struct doc_keyspec *s = d->specs;
    if (d->nspecs == 1 && s->bs_type == KS_BS_INDEX && s->fk_type == KS_FK_RANGE)
        return s->flags & KF_INCOMPLETE;
    bool movable = false, found = false;
    unsigned lastkey = 0, prev_lastkey = 0;
    for (int i = 0; i < d->nspecs; i++) {
        s = &d->specs[i];
        if (s->bs_type != KS_BS_INDEX || s->fk_type != KS_FK_RANGE) {
            movable = true;
            continue;
        }
        if (s->fk[1] != 1 || (prev_lastkey && prev_lastkey != (unsigned)(s->bs_pos - 1))) {
            movable = true;
            continue;
        }
        if (s->flags & KF_INCOMPLETE)
            movable = true;
        found = true;
        int abs_last = s->fk[0] >= 0 ? s->fk[0] + s->bs_pos : s->fk[0];
        if ((unsigned)abs_last > lastkey)
            lastkey = (unsigned)abs_last;
        prev_lastkey = lastkey;
    }
    return movable || !found;
}

static unsigned redis_flags(const struct command *cmd, const struct command_doc *d)
{
    static const struct {
        uint32_t ours;
        int theirs;
    } map[] = {
        {CMD_WRITE, RF_WRITE}, {CMD_READONLY, RF_READONLY}, {CMD_DENYOOM, RF_DENYOOM},
        {CMD_ADMIN, RF_ADMIN}, {CMD_PUBSUB, RF_PUBSUB}, {CMD_NOSCRIPT, RF_NOSCRIPT},
        {CMD_BLOCKING, RF_BLOCKING}, {CMD_LOADING, RF_LOADING}, {CMD_STALE, RF_STALE},
        {CMD_SKIP_MONITOR, RF_SKIP_MONITOR}, {CMD_FAST, RF_FAST}, {CMD_NOAUTH, RF_NO_AUTH},
        {CMD_NO_MULTI, RF_NO_MULTI}, {CMD_MOVABLE_KEYS, RF_MOVABLE_KEYS}, {CMD_ALLOW_BUSY, RF_ALLOW_BUSY},
    };
    unsigned f = 0;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (cmd->flags & map[i].ours)
            f |= 1u << map[i].theirs;
    if (d) /* what the table cannot say */
        f |= d->flags & ((1u << RF_SKIP_SLOWLOG) | (1u << RF_ASKING) | (1u << RF_NO_MANDATORY_KEYS) |
                         (1u << RF_NO_ASYNC_LOADING));
    if (doc_movable(d))
        f |= 1u << RF_MOVABLE_KEYS;
    return f;
}

/* The table's categories plus the ones Redis implies from the flags. */
static unsigned acl_categories(const struct command *cmd, const struct command_doc *d)
{
    unsigned cats = 0;
    if (cmd->acl) {
        const char *p = cmd->acl;
        while (*p) {
            while (*p == ' ')
                p++;
            size_t n = strcspn(p, " ");
            for (size_t i = 0; i < N_ACL && n; i++)
                if (strlen(acl_names[i]) == n && !strncasecmp(acl_names[i], p, n))
                    cats |= 1u << i;
            p += n;
        }
    } else if (d) {
        cats = d->acl;
    }
    if (cmd->flags & CMD_WRITE)
        cats |= ACL_WRITE;
    if ((cmd->flags & CMD_READONLY) && !(cats & ACL_SCRIPTING))
        cats |= ACL_READ;
    if (cmd->flags & CMD_ADMIN)
        cats |= ACL_ADMIN | ACL_DANGEROUS;
    if (cmd->flags & CMD_PUBSUB)
        cats |= ACL_PUBSUB;
    if (cmd->flags & CMD_FAST)
        cats |= ACL_FAST;
    if (cmd->flags & CMD_BLOCKING)
        cats |= ACL_BLOCKING;
    if (!(cats & ACL_FAST))
        cats |= ACL_SLOW;
    return cats;
}

static int count_subcmds(const struct command *cmd)
{
    int n = 0;
    for (const struct command *s = cmd->subcmds; s && s->name; s++)
        n++;
    return n;
}

static void reply_flag_set(struct reply *r, unsigned flags, const char *const *names, size_t nnames)
{
    int n = 0;
    for (size_t i = 0; i < nnames; i++)
        n += (flags >> i) & 1;
    reply_set(r, n);
    for (size_t i = 0; i < nnames; i++)
        if ((flags >> i) & 1)
            reply_status(r, names[i]);
}

static void reply_key_specs(struct reply *r, const struct command_doc *d)
{
    int n = d ? d->nspecs : 0;
    reply_set(r, n);
    for (int i = 0; i < n; i++) {
        const struct doc_keyspec *s = &d->specs[i];
        reply_map(r, s->notes ? 4 : 3);
        if (s->notes) {
            reply_bulkz(r, "notes");
            reply_bulkz(r, s->notes);
        }
        reply_bulkz(r, "flags");
        reply_flag_set(r, s->flags, key_flag_names, sizeof(key_flag_names) / sizeof(key_flag_names[0]));
        reply_bulkz(r, "begin_search");
        reply_map(r, 2);
        reply_bulkz(r, "type");
        if (s->bs_type == KS_BS_INDEX) {
            reply_bulkz(r, "index");
            reply_bulkz(r, "spec");
            reply_map(r, 1);
            reply_bulkz(r, "index");
            reply_int(r, s->bs_pos);
        } else if (s->bs_type == KS_BS_KEYWORD) {
            reply_bulkz(r, "keyword");
            reply_bulkz(r, "spec");
            reply_map(r, 2);
            reply_bulkz(r, "keyword");
            reply_bulkz(r, s->bs_keyword);
            reply_bulkz(r, "startfrom");
            reply_int(r, s->bs_pos);
        } else {
            reply_bulkz(r, "unknown");
            reply_bulkz(r, "spec");
            reply_map(r, 0);
        }
        reply_bulkz(r, "find_keys");
        reply_map(r, 2);
        reply_bulkz(r, "type");
        if (s->fk_type == KS_FK_UNKNOWN) {
            reply_bulkz(r, "unknown");
            reply_bulkz(r, "spec");
            reply_map(r, 0);
            continue;
        }
        static const char *const range[] = {"lastkey", "keystep", "limit"};
        static const char *const keynum[] = {"keynumidx", "firstkey", "keystep"};
        const char *const *names = s->fk_type == KS_FK_RANGE ? range : keynum;
        reply_bulkz(r, s->fk_type == KS_FK_RANGE ? "range" : "keynum");
        reply_bulkz(r, "spec");
        reply_map(r, 3);
        for (int j = 0; j < 3; j++) {
            reply_bulkz(r, names[j]);
            reply_int(r, s->fk[j]);
        }
    }
}

static void reply_command_info(struct reply *r, const struct command *cmd)
{
    if (!cmd) {
        reply_null(r);
        return;
    }
    const struct command_doc *d = doc_for(cmd);
    reply_array(r, 10);
    reply_bulkz(r, cmd->name);
    reply_int(r, cmd->arity);
    reply_flag_set(r, redis_flags(cmd, d), redis_flag_names, RF_SHOWN);
    reply_int(r, cmd->first);
    reply_int(r, cmd->last);
    reply_int(r, cmd->step);
    unsigned cats = acl_categories(cmd, d);
    int ncats = 0;
    for (size_t i = 0; i < N_ACL; i++)
        ncats += (cats >> i) & 1;
    reply_set(r, ncats);
    for (size_t i = 0; i < N_ACL; i++) {
        if ((cats >> i) & 1) {
            char name[32];
            snprintf(name, sizeof(name), "@%s", acl_names[i]);
            reply_status(r, name);
        }
    }
    int ntips = d ? d->ntips : 0;
    reply_set(r, ntips);
    for (int i = 0; i < ntips; i++)
        reply_bulkz(r, d->tips[i]);
    reply_key_specs(r, d);
    if (!cmd->subcmds) {
        reply_set(r, 0);
        return;
    }
    reply_array(r, count_subcmds(cmd));
    for (const struct command *s = cmd->subcmds; s->name; s++)
        reply_command_info(r, s);
}

/* ---------- COMMAND DOCS ---------- */

static void reply_args(struct reply *r, const struct doc_arg *args, int n)
{
    reply_array(r, n);
    for (int i = 0; i < n; i++) {
        const struct doc_arg *a = &args[i];
        bool nested = a->type == 7 || a->type == 8; /* oneof, block */
        int len = 2 + (a->key_spec_index >= 0) + !!a->token + !!a->summary + !!a->since +
                  !!a->deprecated_since + !!a->flags + nested;
        reply_map(r, len);
        reply_bulkz(r, "name");
        reply_bulkz(r, a->name);
        reply_bulkz(r, "type");
        reply_bulkz(r, arg_type_names[a->type]);
        if (a->key_spec_index >= 0) {
            reply_bulkz(r, "key_spec_index");
            reply_int(r, a->key_spec_index);
        }
        if (a->token) {
            reply_bulkz(r, "token");
            reply_bulkz(r, a->token);
        }
        if (a->summary) {
            reply_bulkz(r, "summary");
            reply_bulkz(r, a->summary);
        }
        if (a->since) {
            reply_bulkz(r, "since");
            reply_bulkz(r, a->since);
        }
        if (a->deprecated_since) {
            reply_bulkz(r, "deprecated_since");
            reply_bulkz(r, a->deprecated_since);
        }
        if (a->flags) {
            static const char *const names[] = {"optional", "multiple", "multiple_token"};
            reply_bulkz(r, "flags");
            reply_flag_set(r, a->flags, names, 3);
        }
        if (nested) {
            reply_bulkz(r, "arguments");
            reply_args(r, a->sub, a->nsub);
        }
    }
}

static void reply_command_docs(struct reply *r, const struct command *cmd)
{
    const struct command_doc *d = doc_for(cmd);
    const char *summary = d && d->summary ? d->summary : cmd->summary;
    const char *since = d && d->since ? d->since : cmd->since;
    const char *group = d && d->group ? d->group : cmd->group ? cmd->group : "server";
    const char *complexity = d && d->complexity ? d->complexity : cmd->complexity;
    bool doc_flags = d && d->doc_flags, dep = d && d->deprecated_since, repl = d && d->replaced_by;
    bool hist = d && d->nhistory, args = d && d->nargs;
    int len = 1 + !!summary + !!since + !!complexity + doc_flags + dep + repl + hist + args + !!cmd->subcmds;
    reply_map(r, len);
    if (summary) {
        reply_bulkz(r, "summary");
        reply_bulkz(r, summary);
    }
    if (since) {
        reply_bulkz(r, "since");
        reply_bulkz(r, since);
    }
    reply_bulkz(r, "group");
    reply_bulkz(r, group);
    if (complexity) {
        reply_bulkz(r, "complexity");
        reply_bulkz(r, complexity);
    }
    if (doc_flags) {
        static const char *const names[] = {"deprecated", "syscmd"};
        reply_bulkz(r, "doc_flags");
        reply_flag_set(r, d->doc_flags, names, 2);
    }
    if (dep) {
        reply_bulkz(r, "deprecated_since");
        reply_bulkz(r, d->deprecated_since);
    }
    if (repl) {
        reply_bulkz(r, "replaced_by");
        reply_bulkz(r, d->replaced_by);
    }
    if (hist) {
        reply_bulkz(r, "history");
        reply_set(r, d->nhistory);
        for (int i = 0; i < d->nhistory; i++) {
            reply_array(r, 2);
            reply_bulkz(r, d->history[i].since);
            reply_bulkz(r, d->history[i].changes);
        }
    }
    if (args) {
        reply_bulkz(r, "arguments");
        reply_args(r, d->args, d->nargs);
    }
    if (cmd->subcmds) {
        reply_bulkz(r, "subcommands");
        reply_map(r, count_subcmds(cmd));
        for (const struct command *s = cmd->subcmds; s->name; s++) {
            reply_bulkz(r, s->name);
            reply_command_docs(r, s);
        }
    }
}

/* ---------- lookups ---------- */

/* "get", "config|get" (Redis's lookupCommandBySds: one level, exact). */
static const struct command *lookup_fullname(const struct arg *a)
{
    const char *bar = memchr(a->p, '|', a->len);
    if (!bar)
        return command_find(a->p, a->len);
    const struct command *base = command_find(a->p, (size_t)(bar - a->p));
    if (!base || !base->subcmds)
        return NULL;
    const char *sub = bar + 1;
    size_t sublen = a->len - (size_t)(sub - a->p);
    if (memchr(sub, '|', sublen))
        return NULL;
    return command_find_sub(base, sub, sublen);
}

/* Redis's lookupCommand for COMMAND GETKEYS: argv[0] then, for containers, argv[1]. */
static const struct command *lookup_argv(const struct arg *argv, int argc)
{
    const struct command *base = command_find(argv[0].p, argv[0].len);
    if (!base || argc == 1 || !base->subcmds)
        return base;
    return command_find_sub(base, argv[1].p, argv[1].len);
}

/* ---------- handlers ---------- */

struct visit {
    struct reply *r;
    int n;
    void (*fn)(struct reply *r, const struct command *cmd);
};

static void visit_info(const struct command *cmd, void *arg)
{
    struct visit *v = arg;
    reply_command_info(v->r, cmd);
}

static void reply_all_info(struct reply *r)
{
    struct visit v = {r, 0, NULL};
    reply_array(r, command_count());
    command_foreach(visit_info, &v);
}

static void cmd_command(struct cmd_ctx *c) { reply_all_info(&c->r); }

static void cmd_command_count(struct cmd_ctx *c) { reply_int(&c->r, command_count()); }

static void cmd_command_info(struct cmd_ctx *c)
{
    if (c->argc == 2) {
        reply_all_info(&c->r);
        return;
    }
    reply_array(&c->r, c->argc - 2);
    for (int i = 2; i < c->argc; i++)
        reply_command_info(&c->r, lookup_fullname(&c->argv[i]));
}

static void visit_docs(const struct command *cmd, void *arg)
{
    struct visit *v = arg;
    reply_bulkz(v->r, cmd->name);
    reply_command_docs(v->r, cmd);
}

static void cmd_command_docs(struct cmd_ctx *c)
{
    if (c->argc == 2) {
        struct visit v = {&c->r, 0, NULL};
        reply_map(&c->r, command_count());
        command_foreach(visit_docs, &v);
        return;
    }
    int n = 0;
    for (int i = 2; i < c->argc; i++)
        n += lookup_fullname(&c->argv[i]) != NULL;
    reply_map(&c->r, n);
    for (int i = 2; i < c->argc; i++) {
        const struct command *cmd = lookup_fullname(&c->argv[i]);
        if (cmd) {
            reply_bulkz(&c->r, cmd->name);
            reply_command_docs(&c->r, cmd);
        }
    }
}

/* COMMAND LIST [FILTERBY MODULE m | ACLCAT c | PATTERN p] */
struct list_filter {
    int type; /* 0 none, 1 module, 2 aclcat, 3 pattern */
    const struct arg *arg;
    unsigned cat;
    struct buf names;
    int count;
};

static bool list_keep(const struct command *cmd, struct list_filter *f)
{
    switch (f->type) {
    case 1:
        return false; /* no modules */
    case 2:
        return f->cat && (acl_categories(cmd, doc_for(cmd)) & f->cat);
    case 3:
        return glob_match(f->arg->p, f->arg->len, cmd->name, strlen(cmd->name), true);
    default:
        return true;
    }
}

static void list_one(const struct command *cmd, struct list_filter *f)
{
    if (!list_keep(cmd, f))
        return;
    struct reply r = {&f->names, 2};
    reply_bulkz(&r, cmd->name);
    f->count++;
}

static void visit_list(const struct command *cmd, void *arg)
{
    list_one(cmd, arg);
    for (const struct command *s = cmd->subcmds; s && s->name; s++)
        list_one(s, arg);
}

static void cmd_command_list(struct cmd_ctx *c)
{
    struct list_filter f = {0};
    for (int i = 2; i < c->argc; i++) {
        if (arg_eq(&c->argv[i], "filterby") && c->argc - 1 - i == 2) {
            const struct arg *type = &c->argv[i + 1];
            if (arg_eq(type, "module"))
                f.type = 1;
            else if (arg_eq(type, "aclcat"))
                f.type = 2;
            else if (arg_eq(type, "pattern"))
                f.type = 3;
            else {
                reply_error(&c->r, ERR_SYNTAX);
                return;
            }
            f.arg = &c->argv[i + 2];
            i += 2;
        } else {
            reply_error(&c->r, ERR_SYNTAX);
            return;
        }
    }
    if (f.type == 2)
        for (size_t i = 0; i < N_ACL; i++)
            if (arg_eq(f.arg, acl_names[i]))
                f.cat = 1u << i;
    buf_init(&f.names);
    command_foreach(visit_list, &f);
    reply_array(&c->r, f.count);
    if (f.names.len)
        reply_raw(&c->r, f.names.data, f.names.len);
    buf_free(&f.names);
}

/* Redis's getKeysUsingKeySpecs, to learn each key position's flags. Returns
 * false when a spec does not apply to these arguments. */
static bool spec_positions(const struct doc_keyspec *s, const struct arg *argv, int argc, int arity, int *first,
                           int *last, int *step)
{
    *first = 0;
    if (s->bs_type == KS_BS_INDEX) {
        *first = s->bs_pos;
    } else if (s->bs_type == KS_BS_KEYWORD) {
        int start = s->bs_pos > 0 ? s->bs_pos : argc + s->bs_pos;
        int end = s->bs_pos > 0 ? argc - 1 : 1;
        for (int i = start; i != end; i = start <= end ? i + 1 : i - 1) {
            if (i >= argc || i < 1)
                break;
            if (arg_eq(&argv[i], s->bs_keyword)) {
                *first = i + 1;
                break;
            }
        }
        if (!*first)
            return false;
    } else {
        return false;
    }
    if (s->fk_type == KS_FK_RANGE) {
        *step = s->fk[1];
        if (s->fk[0] >= 0)
            *last = *first + s->fk[0];
        else if (!s->fk[2])
            *last = argc + s->fk[0];
        else
            *last = *first + ((argc - *first) / s->fk[2] + s->fk[0]);
    } else if (s->fk_type == KS_FK_KEYNUM) {
        long long numkeys;
        *step = s->fk[2];
        if (*first + s->fk[0] >= argc || !arg_to_ll(&argv[*first + s->fk[0]], &numkeys) || numkeys < 0)
            return false;
        *first += s->fk[1];
        *last = *first + (int)numkeys - 1;
    } else {
        return false;
    }
    (void)arity;
    return !(*last >= argc || *last < *first || *first >= argc) && *step > 0;
}

/* The flags of SET's and BITFIELD's key depend on the arguments
 * (Redis's setGetKeys / bitfieldGetKeys). */
static unsigned variable_key_flags(const struct command *cmd, const struct arg *argv, int argc)
{
    if (!strcmp(cmd->name, "set")) {
        for (int i = 3; i < argc; i++)
            if (arg_eq(&argv[i], "get"))
                return KF_RW | KF_ACCESS | KF_UPDATE;
        return KF_OW | KF_UPDATE;
    }
    bool readonly = true;
    for (int i = 2; i < argc; i++) {
        int more = argc - i - 1;
        if (arg_eq(&argv[i], "get") && more >= 2) {
            i += 2;
        } else if ((arg_eq(&argv[i], "set") || arg_eq(&argv[i], "incrby")) && more >= 3) {
            readonly = false;
            break;
        } else if (arg_eq(&argv[i], "overflow") && more >= 1) {
            i++;
        } else {
            readonly = false;
            break;
        }
    }
    return readonly ? (KF_RO | KF_ACCESS) : (KF_RW | KF_ACCESS | KF_UPDATE);
}

static unsigned key_flags_at(const struct command *cmd, const struct arg *argv, int argc, int pos)
{
    const struct command_doc *d = doc_for(cmd);
    for (int j = 0; d && j < d->nspecs; j++) {
        const struct doc_keyspec *s = &d->specs[j];
        int first, last, step;
        if ((s->flags & KF_NOT_KEY) || !spec_positions(s, argv, argc, cmd->arity, &first, &last, &step))
            continue;
        if (pos >= first && pos <= last && (pos - first) % step == 0)
            return (s->flags & KF_VARIABLE) ? variable_key_flags(cmd, argv, argc) : s->flags;
    }
    return (cmd->flags & CMD_WRITE) ? (KF_RW | KF_UPDATE) : (KF_RO | KF_ACCESS);
}

/* Key positions from Redis's key specs (when the table's extraction finds
 * none, e.g. MSET with an odd argument count, where Redis still answers). */
static int spec_keys(const struct command *cmd, const struct arg *argv, int argc, int *keys, int max)
{
    const struct command_doc *d = doc_for(cmd);
    int n = 0;
    for (int j = 0; d && j < d->nspecs; j++) {
        const struct doc_keyspec *s = &d->specs[j];
        int first, last, step;
        if (s->flags & KF_NOT_KEY)
            continue;
        if (!spec_positions(s, argv, argc, cmd->arity, &first, &last, &step))
            return 0;
        for (int i = first; i <= last && i < argc && n < max; i += step)
            keys[n++] = i;
    }
    return n;
}

static void getkeys(struct cmd_ctx *c, bool with_flags)
{
    struct arg *argv = c->argv + 2;
    int argc = c->argc - 2;
    const struct command *cmd = lookup_argv(argv, argc);
    if (!cmd) {
        reply_error(&c->r, "ERR Invalid command specified");
        return;
    }
    if (cmd->first <= 0 && !cmd->getkeys) {
        reply_error(&c->r, "ERR The command has no key arguments");
        return;
    }
    if ((cmd->arity > 0 && cmd->arity != argc) || argc < -cmd->arity) {
        reply_error(&c->r, "ERR Invalid number of arguments specified for command");
        return;
    }
    int *keys = mi_malloc(sizeof(int) * (size_t)argc);
    int n = command_keys(cmd, argv, argc, keys, argc);
    if (n <= 0)
        n = spec_keys(cmd, argv, argc, keys, argc);
    if (n <= 0) {
        const struct command_doc *d = doc_for(cmd);
        if (d && (d->flags & (1u << RF_NO_MANDATORY_KEYS)))
            reply_array(&c->r, 0);
        else
            reply_error(&c->r, "ERR Invalid arguments specified for command");
        mi_free(keys);
        return;
    }
    reply_array(&c->r, n);
    for (int i = 0; i < n; i++) {
        const struct arg *k = &argv[keys[i]];
        if (!with_flags) {
            reply_bulk(&c->r, k->p, k->len);
            continue;
        }
        reply_array(&c->r, 2);
        reply_bulk(&c->r, k->p, k->len);
        reply_flag_set(&c->r, key_flags_at(cmd, argv, argc, keys[i]), key_flag_names,
                       sizeof(key_flag_names) / sizeof(key_flag_names[0]));
    }
    mi_free(keys);
}

static void cmd_command_getkeys(struct cmd_ctx *c) { getkeys(c, false); }
static void cmd_command_getkeysandflags(struct cmd_ctx *c) { getkeys(c, true); }

static void cmd_command_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Prints this help.",
    };
    reply_array(&c->r, sizeof(lines) / sizeof(lines[0]));
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        reply_status(&c->r, lines[i]);
}

#define C CMD_CONN
#define LO CMD_LOADING
#define ST CMD_STALE
#define SE CMD_SENTINEL

static const struct command command_subcommands[] = {
    {"command|count", 2, C | LO | ST | SE, 0, 0, 0, cmd_command_count, .group = "server", .summary = "Get total number of Redis commands", .since = "2.8.13", .acl = "slow connection"},
    {"command|docs", -2, C | LO | ST | SE, 0, 0, 0, cmd_command_docs, .group = "server", .summary = "Get array of specific Redis command documentation", .since = "7.0.0", .acl = "slow connection"},
    {"command|getkeys", -4, C | LO | ST | SE, 0, 0, 0, cmd_command_getkeys, .group = "server", .summary = "Extract keys given a full Redis command", .since = "2.8.13", .acl = "slow connection"},
    {"command|getkeysandflags", -4, C | LO | ST | SE, 0, 0, 0, cmd_command_getkeysandflags, .group = "server", .summary = "Extract keys and access flags given a full Redis command", .since = "7.0.0", .acl = "slow connection"},
    {"command|help", 2, C | LO | ST | SE, 0, 0, 0, cmd_command_help, .group = "server", .summary = "Show helpful text about the different subcommands", .since = "5.0.0", .acl = "slow connection"},
    {"command|info", -2, C | LO | ST | SE, 0, 0, 0, cmd_command_info, .group = "server", .summary = "Get array of specific Redis command details, or all when no argument is given.", .since = "2.8.13", .acl = "slow connection"},
    {"command|list", -2, C | LO | ST | SE, 0, 0, 0, cmd_command_list, .group = "server", .summary = "Get an array of Redis command names", .since = "7.0.0", .acl = "slow connection"},
    {NULL},
};

const struct command command_commands[] = {
    {"command", -1, C | LO | ST | SE, 0, 0, 0, cmd_command, .subcmds = command_subcommands, .group = "server", .summary = "Get array of Redis command details", .since = "2.8.13", .acl = "slow connection"},
    {NULL},
};
