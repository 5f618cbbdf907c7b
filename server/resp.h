/* server/resp.h — the request parser: RESP multibulk and inline commands,
 * resumable across reads (a request may arrive split at any byte).
 * Owns: parse state of one connection's query buffer. Argument positions are
 * offsets into that buffer, so the buffer may grow between reads.
 * Limits are checked before memory is reserved. Knows nothing of commands. */
#ifndef DARTER_SERVER_RESP_H
#define DARTER_SERVER_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arg {
    const char *p;
    size_t len;
};

struct arg_off {
    size_t off;
    size_t len;
};

enum resp_status { RESP_NEED_MORE = 0, RESP_COMMAND = 1, RESP_EMPTY = 2, RESP_ERROR = 3 };

struct resp_parser {
    size_t pos;          /* first byte not yet consumed by this parser */
    int kind;            /* 0 none, '*' multibulk, 'i' inline */
    long long mb_left;   /* bulk arguments still to read */
    long long bulk_len;  /* -1: expecting a $ header */
    int argc;
    int argcap;
    struct arg_off *argv;
    size_t want;         /* bytes the pending bulk needs (reservation hint) */
    const char *error;   /* on RESP_ERROR: the message after "-" */
    char errbuf[96];
    /* limits */
    long long max_bulk;      /* proto-max-bulk-len */
    bool authenticated;      /* unauthenticated clients get tight limits, as Redis */
};

void resp_parser_init(struct resp_parser *p);
void resp_parser_free(struct resp_parser *p);
/* Parse the next request from buf[p->pos .. len). On RESP_COMMAND the request
 * is in p->argv (offsets into buf); call resp_parser_next before the next parse. */
enum resp_status resp_parse(struct resp_parser *p, const char *buf, size_t len);
/* Forget the last request (after it was executed). */
void resp_parser_next(struct resp_parser *p);
/* The buffer was compacted: `n` bytes before pos were dropped. */
void resp_parser_shift(struct resp_parser *p, size_t n);

/* Split an inline command line into arguments as Redis does (quotes,
 * escapes). Returns argc or -1 on unbalanced quotes. Arguments are written
 * in place into `line` (modified) and described by offsets from `base`. */
int resp_split_inline(char *line, size_t len, const char *base, struct arg_off **argv, int *argcap);

#endif
