/* server/cmd_config.c — CONFIG GET SET RESETSTAT REWRITE HELP.
 * GET reads the calling thread's copy (every copy is the same). SET is a
 * global op in two hops: the first validates every pair on a scratch copy
 * of one thread's config (Redis's order of checks and error texts; nothing
 * changes if one pair fails), the second installs that copy on every
 * thread, so all threads switch together. RESETSTAT zeroes every thread's
 * statistics. REWRITE merges the running config into the file the server
 * read, keeping comments and lines it does not understand, as Redis does.
 * Owns: the CONFIG command; value parsing and formatting live in config.c. */
#include "server/info.h"
#include "server/log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static void ok_reply(struct mso *t, struct reply *r)
{
    (void)t;
    reply_ok(r);
}

/* ---------- CONFIG GET ---------- */

struct get_ctx {
    struct buf out;  /* name/value bulk pairs */
    char **names;    /* reported so far (several patterns may match one) */
    int n, cap;
};

static void get_visit(const char *name, const char *value, void *arg)
{
    struct get_ctx *g = arg;
    for (int i = 0; i < g->n; i++)
        if (!strcasecmp(g->names[i], name))
            return;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 32;
        g->names = mi_realloc(g->names, sizeof(char *) * (size_t)g->cap);
    }
    g->names[g->n++] = mi_strdup(name);
    struct reply r = {&g->out, 2};
    reply_bulkz(&r, name);
    reply_bulkz(&r, value);
}

static void cmd_config_get(struct cmd_ctx *c)
{
    struct get_ctx g = {0};
    buf_init(&g.out);
    for (int i = 2; i < c->argc; i++) {
        char *pat = mi_strndup(c->argv[i].p, c->argv[i].len);
        config_get(&c->w->cfg, pat, get_visit, &g);
        mi_free(pat);
    }
    reply_map(&c->r, g.n);
    if (g.out.len)
        reply_raw(&c->r, g.out.data, g.out.len);
    for (int i = 0; i < g.n; i++)
        mi_free(g.names[i]);
    mi_free(g.names);
    buf_free(&g.out);
}

/* ---------- CONFIG SET ---------- */

struct set_result {
    char err[768];      /* empty: valid; the whole config is in `cfg` */
    struct config cfg;
};

static char *arg_dup(const struct arg *a) { return mi_strndup(a->p, a->len); }

/* Redis's configSetCommand checks, run against a scratch copy of `cur`. */
static void set_validate(const struct config *cur, struct mso *t, struct set_result *res)
{
    int npairs = (t->argc - 2) / 2;
    if (t->argc & 1) {
        snprintf(res->err, sizeof(res->err), "%s", ERR_SYNTAX);
        return;
    }
    const char **canon = mi_zalloc(sizeof(char *) * (size_t)npairs);
    char **names = mi_zalloc(sizeof(char *) * (size_t)npairs);
    char **values = mi_zalloc(sizeof(char *) * (size_t)npairs);
    for (int i = 0; i < npairs; i++) {
        names[i] = arg_dup(&t->argv[2 + 2 * i]);
        values[i] = arg_dup(&t->argv[3 + 2 * i]);
    }
    /* first pass: every name known, changeable, and given once */
    for (int i = 0; i < npairs && !res->err[0]; i++) {
        const char *why = NULL;
        canon[i] = config_set_lookup(cur, names[i], &why);
        if (!canon[i]) {
            snprintf(res->err, sizeof(res->err), "ERR Unknown option or number of arguments for CONFIG SET - '%s'",
                     names[i]);
            break;
        }
        for (int j = 0; j < i && !why; j++)
            if (!strcmp(canon[j], canon[i]))
                why = "duplicate parameter";
        if (why)
            snprintf(res->err, sizeof(res->err), "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                     names[i], why);
    }
    /* second pass: the values, in order, on the scratch copy */
    char oldcwd[PATH_MAX];
    if (!getcwd(oldcwd, sizeof(oldcwd)))
        oldcwd[0] = 0;
    if (!res->err[0]) {
        res->cfg = *cur;
        for (int i = 0; i < npairs; i++) {
            const char *err = config_apply(&res->cfg, canon[i], 1, &values[i], false);
            if (!err)
                continue;
            snprintf(res->err, sizeof(res->err), "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                     canon[i], err);
            /* dir chdir()s when set: go back to where we were */
            for (int j = 0; j < i; j++)
                if (!strcmp(canon[j], "dir") && oldcwd[0] && chdir(oldcwd) < 0)
                    serverlog(LL_WARNING, "CONFIG SET: can't return to '%s': %s", oldcwd, strerror(errno));
            break;
        }
    }
    for (int i = 0; i < npairs; i++) {
        mi_free(names[i]);
        mi_free(values[i]);
    }
    mi_free(names);
    mi_free(values);
    mi_free(canon);
}

static void config_set_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    if (hop == 0) {
        if (part != 0)
            return;
        struct set_result *res = mi_zalloc(sizeof(*res));
        set_validate(&c->w->cfg, t, res);
        t->parts[0].data = res;
        return;
    }
    const struct set_result *res = t->parts[0].data;
    c->w->cfg = res->cfg;
    config_apply_type_limits(&c->w->cfg);
    if (part == 0)
        log_set_level(res->cfg.loglevel);
}

static int config_set_next(struct mso *t, int hop)
{
    const struct set_result *res = t->parts[0].data;
    return hop == 0 && !res->err[0] ? 1 : -1;
}

static void config_set_reply(struct mso *t, struct reply *r)
{
    const struct set_result *res = t->parts[0].data;
    if (res->err[0])
        reply_error(r, res->err);
    else
        reply_ok(r);
}

static const struct mso_ops config_set_ops = {
    .hop = config_set_hop, .next = config_set_next, .reply = config_set_reply, .global = true};

/* ---------- CONFIG RESETSTAT ---------- */

static void resetstat_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)t;
    (void)part;
    (void)hop;
    stats_reset(c->w);
}

static const struct mso_ops resetstat_ops = {.hop = resetstat_hop, .next = mso_one_hop, .reply = ok_reply, .global = true};

/* ---------- CONFIG REWRITE ---------- */

#define REWRITE_SIGNATURE "# Generated by CONFIG REWRITE"

struct rw_line {
    char *text;
    const char *option; /* canonical directive the line sets; NULL once reused or for others */
};

struct rewrite {
    struct rw_line *lines;
    int n, cap;
    const char **processed;
    int nprocessed, pcap;
    bool needs_signature;
};

static void rw_append(struct rewrite *rw, char *text, const char *option)
{
    if (rw->n == rw->cap) {
        rw->cap = rw->cap ? rw->cap * 2 : 64;
        rw->lines = mi_realloc(rw->lines, sizeof(struct rw_line) * (size_t)rw->cap);
    }
    rw->lines[rw->n].text = text;
    rw->lines[rw->n].option = option;
    rw->n++;
}

static void rw_mark(struct rewrite *rw, const char *option)
{
    for (int i = 0; i < rw->nprocessed; i++)
        if (rw->processed[i] == option)
            return;
    if (rw->nprocessed == rw->pcap) {
        rw->pcap = rw->pcap ? rw->pcap * 2 : 64;
        rw->processed = mi_realloc(rw->processed, sizeof(char *) * (size_t)rw->pcap);
    }
    rw->processed[rw->nprocessed++] = option;
}

static bool rw_is_processed(const struct rewrite *rw, const char *option)
{
    for (int i = 0; i < rw->nprocessed; i++)
        if (rw->processed[i] == option)
            return true;
    return false;
}

static char *trim_dup(const char *p, size_t len)
{
    while (len && strchr("\r\n\t ", *p)) {
        p++;
        len--;
    }
    while (len && strchr("\r\n\t ", p[len - 1]))
        len--;
    return mi_strndup(p, len);
}

/* The directive a config line sets (lowercased first word). */
static void first_word(const char *line, char *out, size_t outlen)
{
    size_t n = 0;
    while (line[n] && !isspace((unsigned char)line[n]) && n + 1 < outlen) {
        out[n] = (char)tolower((unsigned char)line[n]);
        n++;
    }
    out[n] = 0;
}

/* Redis's rewriteConfigReadOldFile. Returns false if the file can't be read. */
static bool rw_read(struct rewrite *rw, const char *path)
{
    rw->needs_signature = true;
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT;
    struct buf text;
    buf_init(&text);
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_put(&text, chunk, got);
    bool ok = !ferror(f);
    fclose(f);
    if (!ok || !text.len) {
        buf_free(&text);
        return ok;
    }
    const char *p = text.data, *end = text.data + text.len;
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line = trim_dup(p, nl ? (size_t)(nl - p) : (size_t)(end - p));
        if (line[0] == '#' || line[0] == '\0') {
            if (rw->needs_signature && !strcmp(line, REWRITE_SIGNATURE))
                rw->needs_signature = false;
            rw_append(rw, line, NULL);
        } else {
            char word[128];
            first_word(line, word, sizeof(word));
            const char *option = config_canonical_name(word);
            if (option) {
                rw_append(rw, line, option);
            } else if (!strcmp(word, "include") || !strcmp(word, "rename-command") || !strcmp(word, "user") ||
                       !strcmp(word, "loadmodule") || !strcmp(word, "sentinel")) {
                rw_append(rw, line, NULL);
            } else {
                size_t len = strlen(line) + 7;
                char *aux = mi_malloc(len);
                snprintf(aux, len, "# ??? %s", line);
                mi_free(line);
                rw_append(rw, aux, NULL);
            }
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    buf_free(&text);
    return true;
}

/* Redis's rewriteConfigRewriteLine. */
static void rw_line(const char *name, const char *line, bool force, void *arg)
{
    struct rewrite *rw = arg;
    const char *option = config_canonical_name(name);
    rw_mark(rw, option);
    if (!line)
        return;
    for (int i = 0; i < rw->n; i++) {
        if (rw->lines[i].option == option) {
            mi_free(rw->lines[i].text);
            rw->lines[i].text = mi_strdup(line);
            rw->lines[i].option = NULL;
            return;
        }
    }
    if (!force)
        return;
    if (rw->needs_signature) {
        rw_append(rw, mi_strdup(REWRITE_SIGNATURE), NULL);
        rw->needs_signature = false;
    }
    rw_append(rw, mi_strdup(line), NULL);
}

static void rw_free(struct rewrite *rw)
{
    for (int i = 0; i < rw->n; i++)
        mi_free(rw->lines[i].text);
    mi_free(rw->lines);
    mi_free(rw->processed);
}

/* Replace the file atomically (temp file, fsync, rename). -1 with errno set. */
static int rw_write(const char *path, const struct buf *content)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t off = 0;
    int rc = 0;
    while (off < content->len) {
        ssize_t w = write(fd, content->data + off, content->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = -1;
            break;
        }
        off += (size_t)w;
    }
    mode_t mask = umask(0);
    umask(mask);
    if (rc == 0 && (fsync(fd) < 0 || fchmod(fd, 0644 & ~mask) < 0 || rename(tmp, path) < 0))
        rc = -1;
    int saved = errno;
    close(fd);
    if (rc < 0)
        unlink(tmp);
    errno = saved;
    return rc;
}

static int rewrite_config(const struct config *cfg, const char *path)
{
    struct rewrite rw = {0};
    if (!rw_read(&rw, path)) {
        rw_free(&rw);
        return -1;
    }
    if (!config_rewrite(cfg, rw_line, &rw)) {
        rw_free(&rw);
        errno = ENOMEM;
        return -1;
    }
    /* lines of rewritten options that were not reused are orphans: blank them */
    for (int i = 0; i < rw.n; i++) {
        if (rw.lines[i].option && rw_is_processed(&rw, rw.lines[i].option)) {
            rw.lines[i].text[0] = 0;
            rw.lines[i].option = NULL;
        }
    }
    struct buf out;
    buf_init(&out);
    bool was_empty = false;
    for (int i = 0; i < rw.n; i++) {
        const char *s = rw.lines[i].text;
        if (!s[0]) {
            if (was_empty)
                continue;
            was_empty = true;
        } else {
            was_empty = false;
        }
        if (s[0])
            buf_put(&out, s, strlen(s));
        buf_put(&out, "\n", 1);
    }
    int rc = rw_write(path, &out);
    buf_free(&out);
    rw_free(&rw);
    return rc;
}

static void cmd_config_rewrite(struct cmd_ctx *c)
{
    const char *path = c->w->cfg.config_file;
    if (!path[0]) {
        reply_error(&c->r, "ERR The server is running without a config file");
        return;
    }
    if (rewrite_config(&c->w->cfg, path) < 0) {
        int err = errno;
        serverlog(LL_WARNING, "CONFIG REWRITE failed: %s", strerror(err));
        reply_errorf(&c->r, "ERR Rewriting config file: %s", strerror(err));
        return;
    }
    serverlog(LL_WARNING, "CONFIG REWRITE executed with success.");
    reply_ok(&c->r);
}

/* ---------- CONFIG HELP ---------- */

static void cmd_config_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    };
    reply_array(&c->r, sizeof(lines) / sizeof(lines[0]));
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        reply_status(&c->r, lines[i]);
}

static void cmd_container_arity(struct cmd_ctx *c)
{
    reply_errorf(&c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
}

#define C CMD_CONN
#define A CMD_ADMIN
#define NS CMD_NOSCRIPT
#define LO CMD_LOADING
#define ST CMD_STALE
#define G CMD_GLOBAL

static const struct command config_subcommands[] = {
    {"config|get", -3, C | A | NS | LO | ST, 0, 0, 0, cmd_config_get, .group = "server", .summary = "Get the values of configuration parameters", .since = "2.0.0", .acl = "admin slow dangerous"},
    {"config|help", 2, C | LO | ST, 0, 0, 0, cmd_config_help, .group = "server", .summary = "Show helpful text about the different subcommands", .since = "5.0.0", .acl = "slow"},
    {"config|resetstat", 2, A | NS | LO | ST | G, 0, 0, 0, NULL, .mso = &resetstat_ops, .group = "server", .summary = "Reset the stats returned by INFO", .since = "2.0.0", .acl = "admin slow dangerous"},
    {"config|rewrite", 2, C | A | NS | LO | ST, 0, 0, 0, cmd_config_rewrite, .group = "server", .summary = "Rewrite the configuration file with the in memory configuration", .since = "2.8.0", .acl = "admin slow dangerous"},
    {"config|set", -4, A | NS | LO | ST | G, 0, 0, 0, NULL, .mso = &config_set_ops, .group = "server", .summary = "Set configuration parameters to the given values", .since = "2.0.0", .acl = "admin slow dangerous"},
    {NULL},
};

const struct command config_commands[] = {
    {"config", -2, C, 0, 0, 0, cmd_container_arity, .subcmds = config_subcommands, .group = "server", .summary = "A container for server configuration commands", .since = "2.0.0", .acl = "slow"},
    {NULL},
};
