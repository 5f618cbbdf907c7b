/* server/resp.c — resumable RESP/inline request parser (see resp.h).
 * Error texts are Redis's, byte for byte. */
#include "server/resp.h"

#include <errno.h>
#include <limits.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INLINE_MAX (64 * 1024)
#define UNAUTH_MAX_ARGS 10
#define UNAUTH_MAX_BULK 16384

void resp_parser_init(struct resp_parser *p)
{
    memset(p, 0, sizeof(*p));
    p->bulk_len = -1;
    p->max_bulk = 512ll * 1024 * 1024;
    p->authenticated = true;
}

void resp_parser_free(struct resp_parser *p)
{
    mi_free(p->argv);
    p->argv = NULL;
    p->argcap = 0;
}

void resp_parser_next(struct resp_parser *p)
{
    p->kind = 0;
    p->argc = 0;
    p->mb_left = 0;
    p->bulk_len = -1;
    p->want = 0;
}

void resp_parser_shift(struct resp_parser *p, size_t n)
{
    p->pos -= n;
    for (int i = 0; i < p->argc; i++)
        p->argv[i].off -= n;
}

static void push_arg(struct resp_parser *p, size_t off, size_t len)
{
    if (p->argc == p->argcap) {
        p->argcap = p->argcap ? p->argcap * 2 : 8;
        p->argv = mi_realloc(p->argv, sizeof(*p->argv) * (size_t)p->argcap);
    }
    p->argv[p->argc].off = off;
    p->argv[p->argc].len = len;
    p->argc++;
}

static enum resp_status fail(struct resp_parser *p, const char *msg)
{
    p->error = msg;
    return RESP_ERROR;
}

/* Parse a decimal integer from [s, e); Redis's string2ll rules (no '+', no
 * leading zeros, no "-0", must fit in a long long). */
static bool parse_ll(const char *s, const char *e, long long *out)
{
    size_t len = (size_t)(e - s);
    if (len == 0 || len > 20)
        return false;
    bool neg = s[0] == '-';
    size_t i = neg;
    if (i == len || (s[i] == '0' && (len > i + 1 || neg)))
        return false;
    unsigned long long v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return false;
        *out = (long long)(0 - v);
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return false;
        *out = (long long)v;
    }
    return true;
}

static enum resp_status parse_inline(struct resp_parser *p, char *buf, size_t len)
{
    char *start = buf + p->pos;
    char *nl = memchr(start, '\n', len - p->pos);
    if (!nl) {
        if (len - p->pos > INLINE_MAX)
            return fail(p, "ERR Protocol error: too big inline request");
        return RESP_NEED_MORE;
    }
    size_t linelen = (size_t)(nl - start);
    if (linelen && start[linelen - 1] == '\r')
        linelen--;
    p->pos = (size_t)(nl - buf) + 1;
    int argc = resp_split_inline(start, linelen, buf, &p->argv, &p->argcap);
    if (argc < 0)
        return fail(p, "ERR Protocol error: unbalanced quotes in request");
    p->argc = argc;
    p->kind = 0;
    return argc ? RESP_COMMAND : RESP_EMPTY;
}

static enum resp_status parse_multibulk_header(struct resp_parser *p, const char *buf, size_t len)
{
    const char *start = buf + p->pos;
    const char *cr = memchr(start, '\r', len - p->pos);
    if (!cr) {
        if (len - p->pos > INLINE_MAX)
            return fail(p, "ERR Protocol error: too big mbulk count string");
        return RESP_NEED_MORE;
    }
    if ((size_t)(cr - buf) + 1 >= len)
        return RESP_NEED_MORE; /* need the \n too */
    long long ll;
    if (!parse_ll(start + 1, cr, &ll) || ll > INT_MAX)
        return fail(p, "ERR Protocol error: invalid multibulk length");
    if (ll > UNAUTH_MAX_ARGS && !p->authenticated)
        return fail(p, "ERR Protocol error: unauthenticated multibulk length");
    p->pos = (size_t)(cr - buf) + 2;
    if (ll <= 0)
        return RESP_EMPTY;
    p->kind = '*';
    p->mb_left = ll;
    p->bulk_len = -1;
    p->argc = 0;
    return RESP_NEED_MORE;
}

static enum resp_status parse_bulks(struct resp_parser *p, const char *buf, size_t len)
{
    while (p->mb_left) {
        if (p->bulk_len < 0) {
            if (p->pos >= len)
                return RESP_NEED_MORE;
            const char *start = buf + p->pos;
            const char *cr = memchr(start, '\r', len - p->pos);
            if (!cr) {
                if (len - p->pos > INLINE_MAX)
                    return fail(p, "ERR Protocol error: too big bulk count string");
                return RESP_NEED_MORE;
            }
            if ((size_t)(cr - buf) + 1 >= len)
                return RESP_NEED_MORE;
            if (start[0] != '$') {
                snprintf(p->errbuf, sizeof(p->errbuf), "ERR Protocol error: expected '$', got '%c'", start[0]);
                return fail(p, p->errbuf);
            }
            long long ll;
            if (!parse_ll(start + 1, cr, &ll) || ll < 0 || ll > p->max_bulk)
                return fail(p, "ERR Protocol error: invalid bulk length");
            if (ll > UNAUTH_MAX_BULK && !p->authenticated)
                return fail(p, "ERR Protocol error: unauthenticated bulk length");
            p->pos = (size_t)(cr - buf) + 2;
            p->bulk_len = ll;
            p->want = (size_t)ll + 2;
        }
        if (len - p->pos < (size_t)p->bulk_len + 2)
            return RESP_NEED_MORE;
        push_arg(p, p->pos, (size_t)p->bulk_len);
        p->pos += (size_t)p->bulk_len + 2;
        p->bulk_len = -1;
        p->want = 0;
        p->mb_left--;
    }
    return RESP_COMMAND;
}

enum resp_status resp_parse(struct resp_parser *p, const char *cbuf, size_t len)
{
    char *buf = (char *)cbuf;
    if (p->kind == '*')
        return parse_bulks(p, buf, len);
    if (p->pos >= len)
        return RESP_NEED_MORE;
    if (buf[p->pos] != '*')
        return parse_inline(p, buf, len);
    enum resp_status st = parse_multibulk_header(p, buf, len);
    if (st != RESP_NEED_MORE || p->kind != '*')
        return st;
    return parse_bulks(p, buf, len);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char unescape(char c)
{
    switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return c;
    }
}

static void add_inline_arg(struct arg_off **argv, int *argcap, int argc, size_t off, size_t len)
{
    if (argc == *argcap) {
        *argcap = *argcap ? *argcap * 2 : 8;
        *argv = mi_realloc(*argv, sizeof(**argv) * (size_t)*argcap);
    }
    (*argv)[argc].off = off;
    (*argv)[argc].len = len;
}

/* Redis's sdssplitargs rules: whitespace separates; "double quotes" with
 * \xHH and \n-style escapes; 'single quotes' with \' only; a closing quote
 * must be followed by whitespace or the end. */
int resp_split_inline(char *line, size_t len, const char *base, struct arg_off **argv, int *argcap)
{
    size_t i = 0;
    int argc = 0;
    while (1) {
        while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\n' || line[i] == '\r' ||
                           line[i] == '\v' || line[i] == '\f'))
            i++;
        if (i >= len || line[i] == '\0') /* a NUL ends the arguments, as in sdssplitargs */
            return argc;
        char *out = line + i;
        size_t olen = 0;
        bool inq = false, insq = false, done = false;
        while (!done) {
            if (inq) {
                if (i >= len)
                    return -1;
                if (line[i] == '\\' && i + 3 < len && line[i + 1] == 'x' && hex_digit(line[i + 2]) >= 0 &&
                    hex_digit(line[i + 3]) >= 0) {
                    out[olen++] = (char)(hex_digit(line[i + 2]) * 16 + hex_digit(line[i + 3]));
                    i += 4;
                } else if (line[i] == '\\' && i + 1 < len) {
                    out[olen++] = unescape(line[i + 1]);
                    i += 2;
                } else if (line[i] == '"') {
                    if (i + 1 < len && !strchr(" \t\n\r\v\f", line[i + 1]))
                        return -1;
                    i++;
                    done = true;
                } else {
                    out[olen++] = line[i++];
                }
            } else if (insq) {
                if (i >= len)
                    return -1;
                if (line[i] == '\\' && i + 1 < len && line[i + 1] == '\'') {
                    out[olen++] = '\'';
                    i += 2;
                } else if (line[i] == '\'') {
                    if (i + 1 < len && !strchr(" \t\n\r\v\f", line[i + 1]))
                        return -1;
                    i++;
                    done = true;
                } else {
                    out[olen++] = line[i++];
                }
            } else {
                if (i >= len) {
                    done = true;
                    break;
                }
                char c = line[i];
                if (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\0') {
                    done = true;
                } else if (c == '"') {
                    inq = true;
                    i++;
                } else if (c == '\'') {
                    insq = true;
                    i++;
                } else {
                    out[olen++] = c;
                    i++;
                }
            }
        }
        add_inline_arg(argv, argcap, argc, (size_t)(out - base), olen);
        argc++;
    }
}
