/* tests/unit/test_resp.c — the request parser (server/resp.h): RESP
 * multibulk and inline requests (quotes, escapes, empty lines, *0 / *-10),
 * resumability (a pipeline split at every byte position, fed byte by byte,
 * split at every pair of positions, with and without compaction of the
 * buffer as server/conn.c does), and every limit and protocol error with
 * Redis's exact error text (checked against redis-server 7.0.15). */
#include <criterion/criterion.h>
#include <limits.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/resp.h"

/* ---------- a log of what the parser produced ---------- */

struct out {
    char *d;
    size_t len, cap;
};

static void out_put(struct out *o, const void *p, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        while (o->len + n + 1 > o->cap)
            o->cap = o->cap ? o->cap * 2 : 256;
        o->d = realloc(o->d, o->cap);
        cr_assert_not_null(o->d);
    }
    memcpy(o->d + o->len, p, n);
    o->len += n;
    o->d[o->len] = 0;
}

static void out_str(struct out *o, const char *s) { out_put(o, s, strlen(s)); }

static void out_free(struct out *o)
{
    free(o->d);
    memset(o, 0, sizeof(*o));
}

/* Commands as "C[arg][arg]\n", empty requests as "E\n", errors "X:msg\n".
 * Argument bytes are escaped so the log is printable and unambiguous. */
static void log_arg(struct out *o, const char *p, size_t len)
{
    out_str(o, "[");
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 32 && ch < 127 && ch != '\\' && ch != '[' && ch != ']') {
            out_put(o, &ch, 1);
        } else {
            char esc[8];
            snprintf(esc, sizeof(esc), "\\x%02x", ch);
            out_str(o, esc);
        }
    }
    out_str(o, "]");
}

struct opts {
    bool compact;        /* drop consumed bytes after each read, as conn.c does */
    bool unauthenticated;
    long long max_bulk;  /* 0: the default */
};

/* Feed `in` to a parser in chunks ending at cuts[0] < cuts[1] < ... = len.
 * Each chunk is appended to a buffer that is reallocated to its exact size
 * (so ASan sees any read past the end), then the parser runs until it needs
 * more, exactly as server/conn.c drives it. Stops at the first error. */
static void drive(const char *in, size_t len, const size_t *cuts, size_t ncuts, const struct opts *o,
                  struct out *log)
{
    cr_assert(ncuts > 0 && cuts[ncuts - 1] == len);
    struct resp_parser p;
    resp_parser_init(&p);
    if (o->unauthenticated)
        p.authenticated = false;
    if (o->max_bulk)
        p.max_bulk = o->max_bulk;
    char *buf = NULL;
    size_t blen = 0, fed = 0;
    bool failed = false;
    for (size_t c = 0; c < ncuts && !failed; c++) {
        size_t chunk = cuts[c] - fed;
        char *nb = malloc(blen + chunk ? blen + chunk : 1);
        cr_assert_not_null(nb);
        if (blen)
            memcpy(nb, buf, blen);
        if (chunk)
            memcpy(nb + blen, in + fed, chunk);
        free(buf);
        buf = nb;
        blen += chunk;
        fed += chunk;
        for (;;) {
            enum resp_status st = resp_parse(&p, buf, blen);
            if (st == RESP_NEED_MORE)
                break;
            if (st == RESP_ERROR) {
                cr_assert_not_null(p.error);
                out_str(log, "X:");
                out_str(log, p.error);
                out_str(log, "\n");
                failed = true;
                break;
            }
            if (st == RESP_EMPTY) {
                out_str(log, "E\n");
                resp_parser_next(&p);
                continue;
            }
            cr_assert_eq(st, RESP_COMMAND);
            cr_assert_gt(p.argc, 0);
            out_str(log, "C");
            for (int i = 0; i < p.argc; i++) {
                cr_assert_leq(p.argv[i].off + p.argv[i].len, blen);
                log_arg(log, buf + p.argv[i].off, p.argv[i].len);
            }
            out_str(log, "\n");
            resp_parser_next(&p);
        }
        cr_assert_leq(p.pos, blen);
        if (o->compact && !failed) {
            size_t used = p.kind == '*' && p.argc ? p.argv[0].off : p.pos;
            if (p.kind == '*' && !p.argc)
                used = p.pos;
            if (used) {
                memmove(buf, buf + used, blen - used);
                blen -= used;
                resp_parser_shift(&p, used);
            }
        }
    }
    free(buf);
    resp_parser_free(&p);
}

static void parse_all(const char *in, size_t len, const struct opts *o, struct out *log)
{
    size_t cut = len;
    drive(in, len, &cut, 1, o, log);
}

static const struct opts plain = {0};
static const struct opts compacting = {.compact = true};

/* Parse in one piece and check the log is exactly `want`. */
static void expect_log(const char *in, size_t len, const struct opts *o, const char *want)
{
    struct out log = {0};
    parse_all(in, len, o, &log);
    cr_assert_str_eq(log.d ? log.d : "", want, "input %.*s", (int)(len > 200 ? 200 : len), in);
    out_free(&log);
}

#define EXPECT(lit, want) expect_log(lit, sizeof(lit) - 1, &plain, want)

/* Every one- and two-split position and byte-by-byte feeding produce the
 * same log as parsing in one piece, with and without compaction. */
static void expect_resumable(const char *in, size_t len, const struct opts *base, const char *want,
                             bool pairs)
{
    for (int mode = 0; mode < 2; mode++) {
        struct opts o = *base;
        o.compact = mode == 1;
        struct out whole = {0};
        parse_all(in, len, &o, &whole);
        cr_assert_str_eq(whole.d ? whole.d : "", want);
        out_free(&whole);

        for (size_t k = 0; k <= len; k++) {
            size_t cuts[2] = {k, len};
            struct out log = {0};
            drive(in, len, cuts, 2, &o, &log);
            cr_assert_str_eq(log.d ? log.d : "", want, "split at %zu (compact=%d)", k, mode);
            out_free(&log);
        }

        size_t *cuts = malloc(sizeof(size_t) * (len + 1));
        for (size_t i = 0; i < len; i++)
            cuts[i] = i + 1;
        struct out log = {0};
        drive(in, len, cuts, len, &o, &log);
        cr_assert_str_eq(log.d ? log.d : "", want, "byte by byte (compact=%d)", mode);
        out_free(&log);
        free(cuts);

        if (pairs) {
            for (size_t i = 1; i < len; i++) {
                for (size_t j = i + 1; j < len; j++) {
                    size_t c3[3] = {i, j, len};
                    struct out l3 = {0};
                    drive(in, len, c3, 3, &o, &l3);
                    cr_assert_str_eq(l3.d ? l3.d : "", want, "splits at %zu,%zu (compact=%d)", i, j, mode);
                    out_free(&l3);
                }
            }
        }
    }
}

#define RESUMABLE(lit, want) expect_resumable(lit, sizeof(lit) - 1, &plain, want, true)

/* ---------- multibulk ---------- */

Test(resp_multibulk, simple_command)
{
    EXPECT("*1\r\n$4\r\nPING\r\n", "C[PING]\n");
    EXPECT("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n", "C[SET][k][hello]\n");
}

Test(resp_multibulk, binary_and_empty_bulks)
{
    /* bulk bytes are taken by length: CRLF, '$' and NUL inside are data */
    EXPECT("*3\r\n$3\r\nSET\r\n$0\r\n\r\n$6\r\na\r\n$\0b\r\n", "C[SET][][a\\x0d\\x0a$\\x00b]\n");
}

Test(resp_multibulk, zero_and_negative_counts_are_empty)
{
    EXPECT("*0\r\n", "E\n");
    EXPECT("*-1\r\n", "E\n");
    EXPECT("*-10\r\n", "E\n");
    EXPECT("*-10\r\n*1\r\n$4\r\nPING\r\n", "E\nC[PING]\n");
}

Test(resp_multibulk, incomplete_requests_need_more)
{
    const char *partial[] = {"*", "*1", "*1\r", "*1\r\n", "*1\r\n$", "*1\r\n$4", "*1\r\n$4\r",
                             "*1\r\n$4\r\n", "*1\r\n$4\r\nPI", "*1\r\n$4\r\nPING", "*1\r\n$4\r\nPING\r",
                             "*2147483647\r\n"};
    for (size_t i = 0; i < sizeof(partial) / sizeof(partial[0]); i++) {
        struct resp_parser p;
        resp_parser_init(&p);
        cr_assert_eq(resp_parse(&p, partial[i], strlen(partial[i])), RESP_NEED_MORE, "%s", partial[i]);
        /* asking again with nothing new changes nothing */
        cr_assert_eq(resp_parse(&p, partial[i], strlen(partial[i])), RESP_NEED_MORE, "%s", partial[i]);
        resp_parser_free(&p);
    }
}

Test(resp_multibulk, pos_points_after_the_request)
{
    const char in[] = "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPONG\r\n";
    struct resp_parser p;
    resp_parser_init(&p);
    cr_assert_eq(resp_parse(&p, in, sizeof(in) - 1), RESP_COMMAND);
    cr_assert_eq(p.pos, 14);
    cr_assert_eq(p.argc, 1);
    cr_assert_eq(p.argv[0].off, 8);
    cr_assert_eq(p.argv[0].len, 4);
    resp_parser_next(&p);
    cr_assert_eq(resp_parse(&p, in, sizeof(in) - 1), RESP_COMMAND);
    cr_assert_eq(p.pos, sizeof(in) - 1);
    cr_assert_eq(memcmp(in + p.argv[0].off, "PONG", 4), 0);
    resp_parser_next(&p);
    cr_assert_eq(resp_parse(&p, in, sizeof(in) - 1), RESP_NEED_MORE);
    resp_parser_free(&p);
}

Test(resp_multibulk, many_arguments)
{
    /* more arguments than the initial argv capacity */
    struct out in = {0};
    out_str(&in, "*1000\r\n");
    for (int i = 0; i < 1000; i++) {
        char a[32], h[16];
        int n = snprintf(a, sizeof(a), "arg%d", i);
        snprintf(h, sizeof(h), "$%d\r\n", n);
        out_str(&in, h);
        out_str(&in, a);
        out_str(&in, "\r\n");
    }
    struct resp_parser p;
    resp_parser_init(&p);
    cr_assert_eq(resp_parse(&p, in.d, in.len), RESP_COMMAND);
    cr_assert_eq(p.argc, 1000);
    for (int i = 0; i < 1000; i++) {
        char a[32];
        int n = snprintf(a, sizeof(a), "arg%d", i);
        cr_assert_eq(p.argv[i].len, (size_t)n);
        cr_assert_eq(memcmp(in.d + p.argv[i].off, a, (size_t)n), 0);
    }
    resp_parser_free(&p);
    out_free(&in);
}

/* ---------- inline ---------- */

Test(resp_inline, words_and_line_endings)
{
    EXPECT("PING\r\n", "C[PING]\n");
    EXPECT("PING\n", "C[PING]\n");
    EXPECT("  SET   k \t v  \r\n", "C[SET][k][v]\n");
    EXPECT("GET k\nGET j\r\n", "C[GET][k]\nC[GET][j]\n");
}

Test(resp_inline, empty_lines)
{
    EXPECT("\r\n", "E\n");
    EXPECT("\n", "E\n");
    EXPECT("   \r\n\t\r\n\nPING\r\n", "E\nE\nE\nC[PING]\n");
    EXPECT("\v\f \r\n", "E\n");
}

Test(resp_inline, double_quotes_and_escapes)
{
    EXPECT("SET \"a b\" \"c\"\r\n", "C[SET][a b][c]\n");
    EXPECT("ECHO \"\\x41\\x4a\\n\"\r\n", "C[ECHO][AJ\\x0a]\n");
    EXPECT("ECHO \"\\n\\r\\t\\b\\a\\\\\\\"\\q\"\r\n", "C[ECHO][\\x0a\\x0d\\x09\\x08\\x07\\x5c\"q]\n");
    EXPECT("ECHO \"\\xZZ\"\r\n", "C[ECHO][xZZ]\n");
    EXPECT("ECHO \"\\x4\"\r\n", "C[ECHO][x4]\n");
    EXPECT("ECHO \"\\xff\\x00\"\r\n", "C[ECHO][\\xff\\x00]\n");
    EXPECT("ECHO \"a\\\"b\"\r\n", "C[ECHO][a\"b]\n");
    EXPECT("ECHO \"\"\r\n", "C[ECHO][]\n");
    EXPECT("\"\"\r\n", "C[]\n");
    /* a quote opens in the middle of a word */
    EXPECT("ECHO ab\"c d\"\r\n", "C[ECHO][abc d]\n");
    /* the closing quote may be followed by any whitespace (isspace) */
    EXPECT("ECHO \"a\"\vx\r\n", "C[ECHO][a][x]\n");
    EXPECT("ECHO \"a\"\tx\r\n", "C[ECHO][a][x]\n");
}

Test(resp_inline, single_quotes)
{
    EXPECT("ECHO 'it\\'s'\r\n", "C[ECHO][it's]\n");
    /* only \' is an escape inside single quotes */
    EXPECT("ECHO 'a\\nb'\r\n", "C[ECHO][a\\x5cnb]\n");
    EXPECT("ECHO \"a'b\" 'c\"d'\r\n", "C[ECHO][a'b][c\"d]\n");
    EXPECT("ECHO ''\r\n", "C[ECHO][]\n");
}

Test(resp_inline, bare_cr_and_vt_inside_words)
{
    /* an unquoted word ends at space, tab, CR, LF; \v and \f do not end it */
    EXPECT("ECHO a\rb\r\n", "C[ECHO][a][b]\n");
    EXPECT("ECHO a\vb\r\n", "C[ECHO][a\\x0bb]\n");
}

Test(resp_inline, unbalanced_quotes)
{
    const char *err = "X:ERR Protocol error: unbalanced quotes in request\n";
    EXPECT("ECHO \"abc\r\n", err);
    EXPECT("ECHO 'abc\r\n", err);
    EXPECT("ECHO \"a\"b\r\n", err);
    EXPECT("ECHO 'a'b\r\n", err);
    EXPECT("ECHO a\"b\"c\r\n", err);
    EXPECT("ECHO \"abc\\\r\n", err);
    EXPECT("ECHO \"abc\\\"\r\n", err);
    /* commands before the bad line come out first */
    EXPECT("PING\r\nECHO \"x\r\nPING\r\n", "C[PING]\nX:ERR Protocol error: unbalanced quotes in request\n");
}

/* Redis finds the end of an inline line with strchr and splits it with
 * sdssplitargs, both of which stop at a NUL byte: a NUL ends the arguments.
 * This once made resp_split_inline loop forever, growing argv without bound. */
Test(resp_inline, nul_byte_ends_the_arguments, .timeout = 5)
{
    EXPECT("ECHO a\0b\r\n", "C[ECHO][a]\n");
    EXPECT("ECHO \0 x y\r\nPING\r\n", "C[ECHO]\nC[PING]\n");
    EXPECT("ECHO \"a\"\0 x\r\n", "C[ECHO][a]\n");
    EXPECT("\0\r\n", "E\n");
}

Test(resp_inline, split_inline_directly, .timeout = 5)
{
    char line[] = "set \"a b\" 'c\\'d'  plain";
    struct arg_off *argv = NULL;
    int cap = 0;
    int argc = resp_split_inline(line, strlen(line), line, &argv, &cap);
    cr_assert_eq(argc, 4);
    cr_assert_eq(argv[0].len, 3);
    cr_assert_eq(memcmp(line + argv[0].off, "set", 3), 0);
    cr_assert_eq(argv[1].len, 3);
    cr_assert_eq(memcmp(line + argv[1].off, "a b", 3), 0);
    cr_assert_eq(argv[2].len, 3);
    cr_assert_eq(memcmp(line + argv[2].off, "c'd", 3), 0);
    cr_assert_eq(argv[3].len, 5);
    cr_assert_eq(memcmp(line + argv[3].off, "plain", 5), 0);
    char bad[] = "x \"open";
    cr_assert_eq(resp_split_inline(bad, strlen(bad), bad, &argv, &cap), -1);
    char blank[] = " \t ";
    cr_assert_eq(resp_split_inline(blank, strlen(blank), blank, &argv, &cap), 0);
    mi_free(argv); /* grown with mi_realloc */
}

Test(resp_inline, long_line_in_one_read_is_accepted)
{
    /* Redis only limits an inline request that has no newline yet */
    size_t n = 70000;
    char *in = malloc(n + 8);
    memcpy(in, "ECHO ", 5);
    memset(in + 5, 'x', n - 5);
    memcpy(in + n, "\r\n", 2);
    struct resp_parser p;
    resp_parser_init(&p);
    cr_assert_eq(resp_parse(&p, in, n + 2), RESP_COMMAND);
    cr_assert_eq(p.argc, 2);
    cr_assert_eq(p.argv[1].len, n - 5);
    resp_parser_free(&p);
    free(in);
}

/* ---------- resumability ---------- */

static const char pipeline[] = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n"
                               "\r\n"
                               "PING\r\n"
                               "*0\r\n"
                               "*-10\r\n"
                               "  set \"a b\" 'c\\'d' \"\\x41\\x42\\n\"  \r\n"
                               "\n"
                               "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"
                               "*1\r\n$4\r\nPING\r\n"
                               "GET k\n"
                               "*2\r\n$3\r\nGET\r\n$10\r\n*1\r\n$3\r\nab\r\n"
                               "ECHO\t\"tab\\there\"\r\n";

static const char pipeline_log[] = "C[SET][key][va\\x0d\\x0al]\n"
                                   "E\n"
                                   "C[PING]\n"
                                   "E\n"
                                   "E\n"
                                   "C[set][a b][c'd][AB\\x0a]\n"
                                   "E\n"
                                   "C[ECHO][]\n"
                                   "C[PING]\n"
                                   "C[GET][k]\n"
                                   "C[GET][*1\\x0d\\x0a$3\\x0d\\x0aab]\n"
                                   "C[ECHO][tab\\x09here]\n";

Test(resp_resume, pipeline_whole)
{
    expect_log(pipeline, sizeof(pipeline) - 1, &plain, pipeline_log);
    expect_log(pipeline, sizeof(pipeline) - 1, &compacting, pipeline_log);
}

Test(resp_resume, pipeline_every_split, .timeout = 60)
{
    expect_resumable(pipeline, sizeof(pipeline) - 1, &plain, pipeline_log, true);
}

Test(resp_resume, errors_every_split, .timeout = 60)
{
    RESUMABLE("PING\r\n*1\r\nfoo\r\n", "C[PING]\nX:ERR Protocol error: expected '$', got 'f'\n");
    RESUMABLE("*1\r\n$4\r\nPING\r\n*1\r\n$-1\r\n", "C[PING]\nX:ERR Protocol error: invalid bulk length\n");
    RESUMABLE("PING\n*3000000000\r\n", "C[PING]\nX:ERR Protocol error: invalid multibulk length\n");
    RESUMABLE("PING\n  ECHO \"x\r\n", "C[PING]\nX:ERR Protocol error: unbalanced quotes in request\n");
    RESUMABLE("*2\r\n$4\r\nECHO\r\n$abc\r\n", "X:ERR Protocol error: invalid bulk length\n");
}

Test(resp_resume, big_bulk_every_split, .timeout = 60)
{
    /* a bulk larger than the other requests, split everywhere (no pairs: slow) */
    struct out in = {0}, want = {0};
    out_str(&in, "*2\r\n$4\r\nECHO\r\n$3000\r\n");
    out_str(&want, "C[ECHO][");
    for (int i = 0; i < 3000; i++) {
        char ch = (char)('a' + i % 26);
        out_put(&in, &ch, 1);
        out_put(&want, &ch, 1);
    }
    out_str(&in, "\r\nPING\r\n");
    out_str(&want, "]\nC[PING]\n");
    expect_resumable(in.d, in.len, &plain, want.d, false);
    out_free(&in);
    out_free(&want);
}

/* ---------- limits and protocol errors (Redis's texts) ---------- */

Test(resp_errors, invalid_multibulk_length)
{
    const char *err = "X:ERR Protocol error: invalid multibulk length\n";
    EXPECT("*3000000000\r\n", err);
    EXPECT("*2147483648\r\n", err); /* > INT_MAX */
    EXPECT("*99999999999999999999999\r\n", err);
    EXPECT("*abc\r\n", err);
    EXPECT("*\r\n", err);
    EXPECT("*01\r\n", err);
    EXPECT("*+1\r\n", err);
    EXPECT("* 1\r\n", err);
    EXPECT("*-0\r\n", err);
    EXPECT("*1x\r\n", err);
}

Test(resp_errors, invalid_bulk_length)
{
    const char *err = "X:ERR Protocol error: invalid bulk length\n";
    EXPECT("*1\r\n$-1\r\n", err);
    EXPECT("*1\r\n$-5\r\n", err);
    EXPECT("*1\r\n$\r\n", err);
    EXPECT("*1\r\n$abc\r\n", err);
    EXPECT("*1\r\n$01\r\n", err);
    EXPECT("*1\r\n$+1\r\n", err);
    EXPECT("*1\r\n$-0\r\n", err);
    EXPECT("*1\r\n$1x\r\n", err);
    EXPECT("*1\r\n$99999999999999999999999\r\n", err);
    /* the second bulk is the bad one */
    EXPECT("*2\r\n$3\r\nGET\r\n$x\r\n", err);
}

Test(resp_errors, bulk_length_above_max_bulk)
{
    struct opts o = {.max_bulk = 1024 * 1024};
    struct out log = {0};
    const char big[] = "*2\r\n$4\r\nECHO\r\n$1048577\r\n";
    parse_all(big, sizeof(big) - 1, &o, &log);
    cr_assert_str_eq(log.d, "X:ERR Protocol error: invalid bulk length\n");
    out_free(&log);

    /* exactly the limit is accepted and waits for the data */
    const char edge[] = "*2\r\n$4\r\nECHO\r\n$1048576\r\n";
    struct resp_parser p;
    resp_parser_init(&p);
    p.max_bulk = 1024 * 1024;
    cr_assert_eq(resp_parse(&p, edge, sizeof(edge) - 1), RESP_NEED_MORE);
    cr_assert_eq(p.bulk_len, 1048576);
    resp_parser_free(&p);

    /* the default limit is 512mb */
    resp_parser_init(&p);
    cr_assert_eq(p.max_bulk, 512ll * 1024 * 1024);
    const char over[] = "*1\r\n$536870913\r\n";
    cr_assert_eq(resp_parse(&p, over, sizeof(over) - 1), RESP_ERROR);
    cr_assert_str_eq(p.error, "ERR Protocol error: invalid bulk length");
    resp_parser_free(&p);
}

Test(resp_errors, expected_dollar)
{
    EXPECT("*1\r\nfoo\r\n", "X:ERR Protocol error: expected '$', got 'f'\n");
    EXPECT("*2\r\n$3\r\nGET\r\n:1\r\n", "X:ERR Protocol error: expected '$', got ':'\n");
    EXPECT("*1\r\n*1\r\n", "X:ERR Protocol error: expected '$', got '*'\n");
}

Test(resp_errors, too_big_inline_request)
{
    size_t limit = 64 * 1024;
    char *in = malloc(limit + 2);
    memset(in, 'a', limit + 1);
    struct resp_parser p;
    resp_parser_init(&p);
    cr_assert_eq(resp_parse(&p, in, limit), RESP_NEED_MORE);
    cr_assert_eq(resp_parse(&p, in, limit + 1), RESP_ERROR);
    cr_assert_str_eq(p.error, "ERR Protocol error: too big inline request");
    resp_parser_free(&p);
    free(in);
}

Test(resp_errors, too_big_mbulk_count_string)
{
    size_t limit = 64 * 1024;
    char *in = malloc(limit + 2);
    in[0] = '*';
    memset(in + 1, '1', limit);
    struct resp_parser p;
    resp_parser_init(&p);
    cr_assert_eq(resp_parse(&p, in, limit), RESP_NEED_MORE);
    cr_assert_eq(resp_parse(&p, in, limit + 1), RESP_ERROR);
    cr_assert_str_eq(p.error, "ERR Protocol error: too big mbulk count string");
    resp_parser_free(&p);
    free(in);
}

Test(resp_errors, too_big_bulk_count_string)
{
    size_t limit = 64 * 1024;
    size_t head = 4; /* "*1\r\n" */
    char *in = malloc(head + limit + 2);
    memcpy(in, "*1\r\n", head);
    in[head] = '$';
    memset(in + head + 1, '1', limit);
    struct resp_parser p;
    resp_parser_init(&p);
    cr_assert_eq(resp_parse(&p, in, head + limit), RESP_NEED_MORE);
    cr_assert_eq(resp_parse(&p, in, head + limit + 1), RESP_ERROR);
    cr_assert_str_eq(p.error, "ERR Protocol error: too big bulk count string");
    resp_parser_free(&p);
    free(in);
}

Test(resp_errors, unauthenticated_limits)
{
    struct opts un = {.unauthenticated = true};
    struct out log = {0};

    const char args11[] = "*11\r\n";
    parse_all(args11, sizeof(args11) - 1, &un, &log);
    cr_assert_str_eq(log.d, "X:ERR Protocol error: unauthenticated multibulk length\n");
    out_free(&log);

    /* 10 arguments are fine */
    struct out in = {0};
    out_str(&in, "*10\r\n");
    for (int i = 0; i < 10; i++)
        out_str(&in, "$1\r\nx\r\n");
    parse_all(in.d, in.len, &un, &log);
    cr_assert_str_eq(log.d, "C[x][x][x][x][x][x][x][x][x][x]\n");
    out_free(&log);
    out_free(&in);

    const char bulk[] = "*2\r\n$4\r\nAUTH\r\n$16385\r\n";
    parse_all(bulk, sizeof(bulk) - 1, &un, &log);
    cr_assert_str_eq(log.d, "X:ERR Protocol error: unauthenticated bulk length\n");
    out_free(&log);

    /* 16384 bytes are fine: waits for the data */
    struct resp_parser p;
    resp_parser_init(&p);
    p.authenticated = false;
    const char edge[] = "*2\r\n$4\r\nAUTH\r\n$16384\r\n";
    cr_assert_eq(resp_parse(&p, edge, sizeof(edge) - 1), RESP_NEED_MORE);
    resp_parser_free(&p);

    /* the invalid-length checks come first */
    parse_all("*3000000000\r\n", 13, &un, &log);
    cr_assert_str_eq(log.d, "X:ERR Protocol error: invalid multibulk length\n");
    out_free(&log);

    /* authenticated: no such limits */
    struct out in2 = {0};
    out_str(&in2, "*11\r\n");
    for (int i = 0; i < 11; i++)
        out_str(&in2, "$1\r\ny\r\n");
    parse_all(in2.d, in2.len, &plain, &log);
    cr_assert_str_eq(log.d, "C[y][y][y][y][y][y][y][y][y][y][y]\n");
    out_free(&log);
    out_free(&in2);
}

Test(resp_errors, unauthenticated_limit_every_split, .timeout = 60)
{
    struct opts un = {.unauthenticated = true};
    const char in[] = "*1\r\n$4\r\nPING\r\n*12\r\n$1\r\nx\r\n";
    expect_resumable(in, sizeof(in) - 1, &un, "C[PING]\nX:ERR Protocol error: unauthenticated multibulk length\n",
                     true);
}

Test(resp_parser, shift_adjusts_offsets)
{
    /* a partial multibulk: two of three arguments parsed, then compaction */
    char buf[64];
    const char part[] = "PING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n";
    memcpy(buf, part, sizeof(part) - 1);
    size_t len = sizeof(part) - 1;
    struct resp_parser p;
    resp_parser_init(&p);
    cr_assert_eq(resp_parse(&p, buf, len), RESP_COMMAND);
    resp_parser_next(&p);
    cr_assert_eq(resp_parse(&p, buf, len), RESP_NEED_MORE);
    cr_assert_eq(p.argc, 2);
    size_t drop = p.argv[0].off;
    memmove(buf, buf + drop, len - drop);
    len -= drop;
    resp_parser_shift(&p, drop);
    cr_assert_eq(p.argv[0].off, 0);
    memcpy(buf + len, "v\r\n", 3);
    len += 3;
    cr_assert_eq(resp_parse(&p, buf, len), RESP_COMMAND);
    cr_assert_eq(p.argc, 3);
    cr_assert_eq(memcmp(buf + p.argv[0].off, "SET", 3), 0);
    cr_assert_eq(memcmp(buf + p.argv[1].off, "k", 1), 0);
    cr_assert_eq(memcmp(buf + p.argv[2].off, "v", 1), 0);
    cr_assert_eq(p.pos, len);
    resp_parser_free(&p);
}
