/* server/cmd_conn.c — the connection family: PING ECHO HELLO AUTH SELECT
 * QUIT RESET and CLIENT (ID SETNAME GETNAME LIST INFO KILL NO-EVICT REPLY
 * HELP). These act on the calling connection (CMD_CONN) except CLIENT LIST
 * and KILL, which visit every thread's connections as a multi-shard op.
 * Owns: connection-state commands. Must not touch keyspace data. */
#include "server/monitor.h"
#include "server/server.h"
#include "server/blocking.h" /* blocking: CLIENT UNBLOCK */
#include "server/pubsub.h" /* pubsub: hooks */
#include "server/multi.h" /* multi: hooks */
#include "server/tracking.h" /* tracking: CLIENT TRACKING family */

#include <mimalloc.h>
#include <stdio.h>
#include <string.h>

static void cmd_ping(struct cmd_ctx *c)
{
    if (c->argc > 2) {
        reply_errorf(&c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
        return;
    }
    if (pubsub_ping(c)) return; /* pubsub: subscribed RESP2 context replies [pong, arg] */
    if (c->argc == 2)
        reply_bulk(&c->r, c->argv[1].p, c->argv[1].len);
    else
        reply_status(&c->r, "PONG");
}

static void cmd_echo(struct cmd_ctx *c) { reply_bulk(&c->r, c->argv[1].p, c->argv[1].len); }

static bool password_ok(struct cmd_ctx *c, const struct arg *user, const struct arg *pass)
{
    const char *req = c->w->cfg.requirepass;
    if (user && !arg_eq(user, "default"))
        return false;
    if (!req[0])
        return true; /* nopass */
    return pass->len == strlen(req) && memcmp(pass->p, req, pass->len) == 0;
}

static void set_authenticated(struct conn *conn, bool yes)
{
    conn->authenticated = yes;
    conn->parser.authenticated = yes;
}

static void cmd_auth(struct cmd_ctx *c)
{
    if (c->argc > 3) {
        reply_error(&c->r, ERR_SYNTAX);
        return;
    }
    if (c->argc == 2 && !c->w->cfg.requirepass[0]) {
        reply_error(&c->r, "ERR AUTH <password> called without any password configured for the default user. "
                           "Are you sure your configuration is correct?");
        return;
    }
    const struct arg *user = c->argc == 3 ? &c->argv[1] : NULL;
    const struct arg *pass = &c->argv[c->argc - 1];
    if (!password_ok(c, user, pass)) {
        reply_error(&c->r, "WRONGPASS invalid username-password pair or user is disabled.");
        return;
    }
    set_authenticated(c->conn, true);
    reply_ok(&c->r);
}

static bool valid_client_name(const struct arg *a)
{
    for (size_t i = 0; i < a->len; i++)
        if (a->p[i] < '!' || a->p[i] > '~')
            return false;
    return true;
}

static void set_name(struct conn *conn, const struct arg *a)
{
    mi_free(conn->name);
    conn->name = NULL;
    if (a->len) {
        conn->name = mi_malloc(a->len + 1);
        memcpy(conn->name, a->p, a->len);
        conn->name[a->len] = 0;
    }
}

static void reply_hello_map(struct cmd_ctx *c)
{
    struct conn *conn = c->conn;
    c->r.resp = conn->resp;
    reply_map(&c->r, 7);
    reply_bulkz(&c->r, "server");
    reply_bulkz(&c->r, "redis");
    reply_bulkz(&c->r, "version");
    reply_bulkz(&c->r, "7.0.15");
    reply_bulkz(&c->r, "proto");
    reply_int(&c->r, conn->resp);
    reply_bulkz(&c->r, "id");
    reply_int(&c->r, (int64_t)conn->id);
    reply_bulkz(&c->r, "mode");
    reply_bulkz(&c->r, c->w->cfg.cluster_enabled ? "cluster" : "standalone");
    reply_bulkz(&c->r, "role");
    reply_bulkz(&c->r, "master");
    reply_bulkz(&c->r, "modules");
    reply_array(&c->r, 0);
}

static void cmd_hello(struct cmd_ctx *c)
{
    long long ver = 0;
    int next = 1;
    if (c->argc >= 2) {
        if (!arg_to_ll(&c->argv[1], &ver)) {
            reply_error(&c->r, "ERR Protocol version is not an integer or out of range");
            return;
        }
        next = 2;
        if (ver < 2 || ver > 3) {
            reply_error(&c->r, "NOPROTO unsupported protocol version");
            return;
        }
    }
    const struct arg *user = NULL, *pass = NULL, *name = NULL;
    for (int j = next; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (arg_eq(&c->argv[j], "auth") && more >= 2) {
            user = &c->argv[j + 1];
            pass = &c->argv[j + 2];
            j += 2;
        } else if (arg_eq(&c->argv[j], "setname") && more >= 1) {
            name = &c->argv[j + 1];
            j++;
        } else {
            reply_errorf(&c->r, "ERR Syntax error in HELLO option '%.*s'", (int)c->argv[j].len, c->argv[j].p);
            return;
        }
    }
    if (user && !password_ok(c, user, pass)) {
        reply_error(&c->r, "WRONGPASS invalid username-password pair or user is disabled.");
        return;
    }
    if (user)
        set_authenticated(c->conn, true);
    if (!c->conn->authenticated) {
        reply_error(&c->r, "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
                           "HELLO AUTH <user> <pass> option can be used to authenticate the client and "
                           "select the RESP protocol version at the same time");
        return;
    }
    if (name) {
        if (!valid_client_name(name)) {
            reply_error(&c->r, "ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        set_name(c->conn, name);
    }
    if (ver)
        c->conn->resp = (int)ver;
    reply_hello_map(c);
}

static void cmd_select(struct cmd_ctx *c)
{
    long long db;
    if (!arg_to_ll(&c->argv[1], &db)) {
        reply_error(&c->r, ERR_NOT_INT);
        return;
    }
    if (c->w->cfg.cluster_enabled && db != 0) {
        reply_error(&c->r, "ERR SELECT is not allowed in cluster mode");
        return;
    }
    if (db < 0 || db >= c->w->cfg.databases) {
        reply_error(&c->r, "ERR DB index is out of range");
        return;
    }
    c->conn->db = (int)db;
    reply_ok(&c->r);
}

static void cmd_quit(struct cmd_ctx *c)
{
    reply_ok(&c->r);
    c->conn->flags |= CONN_CLOSE_AFTER_REPLY;
}

static void cmd_reset(struct cmd_ctx *c)
{
    struct conn *conn = c->conn;
    pubsub_reset(conn); /* pubsub: RESET unsubscribes */
    multi_conn_reset(conn); /* multi: RESET discards MULTI and unwatches */
    tracking_conn_reset(conn); /* tracking: RESET turns tracking off */
    monitor_conn_gone(conn); /* monitor: RESET leaves monitor mode */
    conn->db = 0;
    conn->resp = 2;
    c->r.resp = 2;
    mi_free(conn->name);
    conn->name = NULL;
    set_authenticated(conn, c->w->cfg.requirepass[0] == 0);
    reply_status(&c->r, "RESET");
}

/* ---------- CLIENT ---------- */

static void cmd_client_id(struct cmd_ctx *c) { reply_int(&c->r, (int64_t)c->conn->id); }

static void cmd_client_setname(struct cmd_ctx *c)
{
    if (!valid_client_name(&c->argv[2])) {
        reply_error(&c->r, "ERR Client names cannot contain spaces, newlines or special characters.");
        return;
    }
    set_name(c->conn, &c->argv[2]);
    reply_ok(&c->r);
}

static void cmd_client_getname(struct cmd_ctx *c)
{
    if (c->conn->name)
        reply_bulkz(&c->r, c->conn->name);
    else
        reply_null(&c->r);
}

static void cmd_client_info(struct cmd_ctx *c)
{
    struct buf b;
    buf_init(&b);
    conn_describe(c->conn, &b);
    reply_verbatim(&c->r, b.data, b.len, "txt");
    buf_free(&b);
}

static void cmd_client_noevict(struct cmd_ctx *c)
{
    if (arg_eq(&c->argv[2], "on") || arg_eq(&c->argv[2], "off"))
        reply_ok(&c->r);
    else
        reply_error(&c->r, ERR_SYNTAX);
}

/* CLIENT REPLY ON|OFF|SKIP: OFF and SKIP are not answered themselves. */
static void cmd_client_reply(struct cmd_ctx *c)
{
    struct conn *conn = c->conn;
    if (arg_eq(&c->argv[2], "on")) {
        conn->reply_mode &= (uint8_t)~(REPLY_OFF | REPLY_SKIP | REPLY_SKIP_NEXT);
        conn->silence_current = false;
        reply_ok(&c->r);
    } else if (arg_eq(&c->argv[2], "off")) {
        conn->reply_mode |= REPLY_OFF;
        reply_ok(&c->r);
    } else if (arg_eq(&c->argv[2], "skip")) {
        if (!(conn->reply_mode & REPLY_OFF))
            conn->reply_mode |= REPLY_SKIP_NEXT;
        reply_ok(&c->r);
    } else {
        reply_error(&c->r, ERR_SYNTAX);
    }
}

/* TYPE normal|pubsub|master|replica|slave: a subscribed connection is of
 * type pubsub (Redis's CLIENT_PUBSUB), any other one normal. */
static bool conn_type_is(const struct conn *conn, const struct arg *type)
{
    bool pubsub = pubsub_conn_counts(conn, NULL, NULL, NULL);
    if (arg_eq(type, "pubsub"))
        return pubsub;
    return arg_eq(type, "normal") && !pubsub;
}

/* CLIENT LIST [TYPE t] [ID id ...]: every thread describes its connections. */
static bool list_filter_ok(struct cmd_ctx *c, struct conn *conn)
{
    for (int j = 2; j < c->argc; j++) {
        if (arg_eq(&c->argv[j], "id")) {
            bool found = false;
            for (int k = j + 1; k < c->argc; k++) {
                long long id;
                if (arg_to_ll(&c->argv[k], &id) && (uint64_t)id == conn->id)
                    found = true;
            }
            return found;
        }
        if (arg_eq(&c->argv[j], "type")) {
            j++;
            if (j >= c->argc || !conn_type_is(conn, &c->argv[j]))
                return false;
        }
    }
    return true;
}

static void client_list_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)hop;
    struct buf *out = &t->parts[part].out;
    for (struct conn *conn = c->w->conns; conn; conn = conn->next)
        if (list_filter_ok(c, conn))
            conn_describe(conn, out);
}

static const char *client_list_check(struct mso *t)
{
    for (int j = 2; j < t->argc; j++) {
        if (arg_eq(&t->argv[j], "type") && j + 1 < t->argc) {
            const struct arg *ty = &t->argv[j + 1];
            if (!arg_eq(ty, "normal") && !arg_eq(ty, "master") && !arg_eq(ty, "replica") &&
                !arg_eq(ty, "slave") && !arg_eq(ty, "pubsub"))
                return "ERR Unknown client type";
            j++;
        } else if (arg_eq(&t->argv[j], "id") && j + 1 < t->argc) {
            for (int k = j + 1; k < t->argc; k++) {
                long long id;
                if (!arg_to_ll(&t->argv[k], &id) || id <= 0)
                    return "ERR Invalid client ID";
            }
            break;
        } else {
            return ERR_SYNTAX;
        }
    }
    return NULL;
}

static void client_list_reply(struct mso *t, struct reply *r)
{
    const char *err = client_list_check(t);
    if (err) {
        reply_error(r, err);
        return;
    }
    struct buf all;
    buf_init(&all);
    for (int p = 0; p < t->nparts; p++)
        buf_put(&all, t->parts[p].out.data, t->parts[p].out.len);
    reply_verbatim(r, all.data ? all.data : "", all.len, "txt");
    buf_free(&all);
}

static const struct mso_ops client_list_ops = {
    .hop = client_list_hop, .next = mso_one_hop, .reply = client_list_reply, .global = true};

/* CLIENT KILL addr:port | CLIENT KILL [ID id] [ADDR a] [LADDR a] [TYPE t] [USER u] [SKIPME yes/no] */
struct kill_filter {
    long long id;
    const struct arg *addr, *laddr, *type, *user;
    bool skipme;
    bool legacy;
    const char *err;
    char errbuf[160]; /* err when formatted */
};

static bool arg_is_str(const struct arg *a, const char *s) { return a->len == strlen(s) && !memcmp(a->p, s, a->len); }

static void kill_parse(struct mso *t, struct kill_filter *f)
{
    memset(f, 0, sizeof(*f));
    f->skipme = true;
    if (t->argc == 3) {
        f->addr = &t->argv[2];
        f->legacy = true;
        f->skipme = false;
        return;
    }
    if (t->argc % 2 != 0) {
        f->err = ERR_SYNTAX;
        return;
    }
    for (int j = 2; j < t->argc; j += 2) {
        const struct arg *k = &t->argv[j], *v = &t->argv[j + 1];
        if (arg_eq(k, "id")) {
            if (!arg_to_ll(v, &f->id) || f->id <= 0) {
                f->err = "ERR client-id should be greater than 0";
                return;
            }
        } else if (arg_eq(k, "addr")) {
            f->addr = v;
        } else if (arg_eq(k, "laddr")) {
            f->laddr = v;
        } else if (arg_eq(k, "type")) {
            if (!arg_eq(v, "normal") && !arg_eq(v, "master") && !arg_eq(v, "replica") && !arg_eq(v, "slave") &&
                !arg_eq(v, "pubsub")) {
                f->err = "ERR Unknown client type";
                return;
            }
            f->type = v;
        } else if (arg_eq(k, "user")) {
            f->user = v;
            if (!arg_is_str(v, "default")) { /* the only user without ACLs */
                snprintf(f->errbuf, sizeof(f->errbuf), "ERR No such user '%.*s'", (int)(v->len > 100 ? 100 : v->len), v->p);
                f->err = f->errbuf;
                return;
            }
        } else if (arg_eq(k, "skipme")) {
            if (arg_eq(v, "yes"))
                f->skipme = true;
            else if (arg_eq(v, "no"))
                f->skipme = false;
            else {
                f->err = ERR_SYNTAX;
                return;
            }
        } else {
            f->err = ERR_SYNTAX;
            return;
        }
    }
}


static bool kill_matches(const struct kill_filter *f, struct conn *conn, uint64_t me)
{
    if (f->skipme && conn->id == me)
        return false;
    if (f->id && (uint64_t)f->id != conn->id)
        return false;
    if (f->addr && !arg_is_str(f->addr, conn->addr))
        return false;
    if (f->laddr && !arg_is_str(f->laddr, conn->laddr))
        return false;
    if (f->type && !conn_type_is(conn, f->type))
        return false;
    return true;
}

static void client_kill_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)hop;
    struct kill_filter f;
    kill_parse(t, &f);
    if (f.err)
        return;
    int64_t killed = 0;
    struct conn *conn = c->w->conns;
    while (conn) {
        struct conn *n = conn->next;
        if (kill_matches(&f, conn, t->client_id)) {
            killed++;
            if (conn->id == t->client_id)
                conn->flags |= CONN_CLOSE_AFTER_REPLY;
            else
                conn_close(conn);
        }
        conn = n;
    }
    t->parts[part].count = killed;
}

static void client_kill_reply(struct mso *t, struct reply *r)
{
    struct kill_filter f;
    kill_parse(t, &f);
    if (f.err) {
        reply_error(r, f.err);
        return;
    }
    int64_t total = 0;
    for (int p = 0; p < t->nparts; p++)
        total += t->parts[p].count;
    if (f.legacy) {
        if (total == 0)
            reply_error(r, "ERR No such client");
        else
            reply_ok(r);
        return;
    }
    reply_int(r, total);
}

static const struct mso_ops client_kill_ops = {
    .hop = client_kill_hop, .next = mso_one_hop, .reply = client_kill_reply, .global = true};

/* CLIENT UNBLOCK id [TIMEOUT|ERROR]: every thread looks at its own
 * connections (blocking.h does the rest on the client's thread). */
static const char *unblock_parse(const struct mso *t, long long *id, bool *with_error)
{
    *with_error = false;
    if (t->argc == 4) {
        if (arg_eq(&t->argv[3], "error"))
            *with_error = true;
        else if (!arg_eq(&t->argv[3], "timeout"))
            return "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR";
    }
    if (!arg_to_ll(&t->argv[2], id))
        return "ERR value is not an integer or out of range";
    return NULL;
}

static void client_unblock_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)hop;
    long long id;
    bool with_error;
    t->parts[part].count = 0;
    if (unblock_parse(t, &id, &with_error))
        return;
    for (struct conn *conn = c->w->conns; conn; conn = conn->next)
        if (conn->id == (uint64_t)id && blocking_conn_unblock(conn, with_error))
            t->parts[part].count = 1;
}

static void client_unblock_reply(struct mso *t, struct reply *r)
{
    long long id;
    bool with_error;
    const char *err = unblock_parse(t, &id, &with_error);
    if (err) {
        reply_error(r, err);
        return;
    }
    mso_reply_sum(t, r);
}

static const struct mso_ops client_unblock_ops = {
    .hop = client_unblock_hop, .next = mso_one_hop, .reply = client_unblock_reply, .global = true};

static void cmd_client_help(struct cmd_ctx *c)
{
    static const char *lines[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ID",
        "    Return the ID of the current connection.",
        "GETNAME",
        "    Return the name of the current connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are: ID, ADDR, LADDR, TYPE, USER, SKIPME.",
        "LIST [options ...]",
        "    Return information about client connections. Options: TYPE, ID.",
        "INFO",
        "    Return information about the current client connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "HELP",
        "    Print this help.",
    };
    reply_array(&c->r, sizeof(lines) / sizeof(lines[0]));
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        reply_status(&c->r, lines[i]);
}

#define C CMD_CONN
#define N CMD_NOAUTH
#define F CMD_FAST
#define ST CMD_STALE
#define LO CMD_LOADING

static const struct command client_subcommands[] = {
    {"client|id", 2, C | N | LO | ST, 0, 0, 0, cmd_client_id, .group = "connection", .summary = "Returns the client ID for the current connection", .since = "5.0.0", .acl = "slow connection"},
    {"client|setname", 3, C | N | LO | ST, 0, 0, 0, cmd_client_setname, .group = "connection", .summary = "Set the current connection name", .since = "2.6.9", .acl = "slow connection"},
    {"client|getname", 2, C | N | LO | ST, 0, 0, 0, cmd_client_getname, .group = "connection", .summary = "Get the current connection name", .since = "2.6.9", .acl = "slow connection"},
    {"client|info", 2, C | N | LO | ST, 0, 0, 0, cmd_client_info, .group = "connection", .summary = "Returns information about the current client connection.", .since = "6.2.0", .acl = "slow connection"},
    {"client|list", -2, CMD_ADMIN | N | LO | ST | CMD_GLOBAL, 0, 0, 0, NULL, .mso = &client_list_ops, .group = "connection", .summary = "Get the list of client connections", .since = "2.4.0", .acl = "admin slow dangerous connection"},
    {"client|unblock", -3, CMD_ADMIN | CMD_NOSCRIPT | LO | ST | CMD_GLOBAL, 0, 0, 0, NULL, .mso = &client_unblock_ops, .group = "connection", .summary = "Unblock a client blocked in a blocking command from a different connection", .since = "5.0.0", .complexity = "O(log N) where N is the number of client connections", .acl = "admin slow dangerous connection"},
    {"client|kill", -3, CMD_ADMIN | N | LO | ST | CMD_GLOBAL, 0, 0, 0, NULL, .mso = &client_kill_ops, .group = "connection", .summary = "Kill the connection of a client", .since = "2.4.0", .acl = "admin slow dangerous connection"},
    {"client|no-evict", 3, C | CMD_ADMIN | N | LO | ST, 0, 0, 0, cmd_client_noevict, .group = "connection", .summary = "Set client eviction mode for the current connection", .since = "7.0.0", .acl = "admin slow dangerous connection"},
    {"client|reply", 3, C | N | LO | ST, 0, 0, 0, cmd_client_reply, .group = "connection", .summary = "Instruct the server whether to reply to commands", .since = "3.2.0", .acl = "slow connection"},
    {"client|tracking", -3, C | N | LO | ST, 0, 0, 0, cmd_client_tracking, .group = "connection", .summary = "Enable or disable server assisted client side caching support", .since = "6.0.0", .complexity = "O(1). Some options may introduce additional complexity.", .acl = "slow connection"},
    {"client|caching", 3, C | N | LO | ST, 0, 0, 0, cmd_client_caching, .group = "connection", .summary = "Instruct the server about tracking or not keys in the next request", .since = "6.0.0", .complexity = "O(1)", .acl = "slow connection"},
    {"client|getredir", 2, C | N | LO | ST, 0, 0, 0, cmd_client_getredir, .group = "connection", .summary = "Get tracking notifications redirection client ID if any", .since = "6.0.0", .complexity = "O(1)", .acl = "slow connection"},
    {"client|trackinginfo", 2, C | N | LO | ST, 0, 0, 0, cmd_client_trackinginfo, .group = "connection", .summary = "Return information about server assisted client side caching for the current connection", .since = "6.2.0", .complexity = "O(1)", .acl = "slow connection"},
    {"client|help", 2, C | N | LO | ST, 0, 0, 0, cmd_client_help, .group = "connection", .summary = "Show helpful text about the different subcommands", .since = "5.0.0", .acl = "slow connection"},
    {NULL},
};

static void cmd_container_arity(struct cmd_ctx *c)
{
    reply_errorf(&c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
}

const struct command conn_commands[] = {
    {"ping", -1, F | ST | C, 0, 0, 0, cmd_ping, .group = "connection", .summary = "Ping the server", .since = "1.0.0", .acl = "fast connection"},
    {"echo", 2, F | LO | ST | C, 0, 0, 0, cmd_echo, .group = "connection", .summary = "Echo the given string", .since = "1.0.0", .acl = "fast connection"},
    {"auth", -2, C | N | LO | ST | F | CMD_NOSCRIPT, 0, 0, 0, cmd_auth, .group = "connection", .summary = "Authenticate to the server", .since = "1.0.0", .acl = "fast connection"},
    {"hello", -1, C | N | LO | ST | F | CMD_NOSCRIPT, 0, 0, 0, cmd_hello, .group = "connection", .summary = "Handshake with Redis", .since = "6.0.0", .acl = "fast connection"},
    {"select", 2, C | LO | ST | F, 0, 0, 0, cmd_select, .group = "connection", .summary = "Change the selected database for the current connection", .since = "1.0.0", .acl = "fast connection"},
    {"quit", -1, C | N | LO | ST | F | CMD_NOSCRIPT, 0, 0, 0, cmd_quit, .group = "connection", .summary = "Close the connection", .since = "1.0.0", .acl = "fast connection"},
    {"reset", 1, C | N | LO | ST | F | CMD_NOSCRIPT, 0, 0, 0, cmd_reset, .group = "connection", .summary = "Reset the connection", .since = "6.2.0", .acl = "fast connection"},
    {"client", -2, C | N, 0, 0, 0, cmd_container_arity, .subcmds = client_subcommands, .group = "connection", .summary = "A container for client connection commands", .since = "2.4.0", .acl = "slow"},
    {NULL},
};
