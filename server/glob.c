/* server/glob.c — Redis-compatible glob matching (see glob.h).
 * Owns: the matcher and its per-call state (kept on the stack).
 * Must not touch: anything global; it allocates nothing.
 *
 * Behaviour follows Redis 7.0's stringmatchlen() on x86-64 with glibc
 * (`char` is signed; tolower() of a negative byte is glibc's), which only
 * matters for byte ranges such as [a-\xff]. One shared "give up" flag is set
 * when a star found no match for the rest of the pattern anywhere in the
 * remaining string; then no earlier star retries a longer span, which keeps
 * patterns like a*a*a*...b fast. Star nesting deeper than 1000 fails the
 * match, as in Redis. */
#include "server/glob.h"

#define GLOB_MAX_NESTING 1000

struct glob_state {
    bool nocase;
    bool give_up; /* a star proved the rest can't match: stop widening */
};

/* glibc's tolower() in the C locale, applied to a signed char's value:
 * negative bytes come back as their unsigned value except -1 (EOF), which
 * stays -1; ASCII letters fold. */
static int fold(int c)
{
    if (c < -1)
        return c + 256;
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static bool char_eq(char a, char b, bool nocase)
{
    if (!nocase)
        return a == b;
    return fold((signed char)a) == fold((signed char)b);
}

static bool in_range(char lo, char hi, char ch, bool nocase)
{
    int start = (signed char)lo, end = (signed char)hi, c = (signed char)ch;
    if (start > end) {
        int t = start;
        start = end;
        end = t;
    }
    if (nocase) {
        start = fold(start);
        end = fold(end);
        c = fold(c);
    }
    return c >= start && c <= end;
}

/* Tests `ch` against the bracket class whose body starts at p (just after
 * '['). *used gets the bytes of p consumed, through the closing ']' if there
 * is one; an unterminated class consumes the rest of the pattern. */
static bool class_match(const char *p, size_t plen, char ch, bool nocase, size_t *used)
{
    size_t i = 0;
    bool hit = false;
    bool negate = plen > 0 && p[0] == '^';

    if (negate)
        i++;
    while (i < plen) {
        if (p[i] == '\\' && plen - i >= 2) {
            i++;
            if (p[i] == ch) /* escaped bytes compare exactly, as in Redis */
                hit = true;
        } else if (p[i] == ']') {
            break;
        } else if (plen - i >= 3 && p[i + 1] == '-') {
            if (in_range(p[i], p[i + 2], ch, nocase))
                hit = true;
            i += 2;
        } else if (char_eq(p[i], ch, nocase)) {
            hit = true;
        }
        i++;
    }
    *used = i < plen ? i + 1 : plen;
    return negate ? !hit : hit;
}

static bool match_at(struct glob_state *g, const char *p, size_t plen, const char *s, size_t slen,
                     int depth);

/* p points at a '*'. Tries the rest of the pattern at every position. */
static bool match_star(struct glob_state *g, const char *p, size_t plen, const char *s, size_t slen,
                       int depth)
{
    while (plen > 1 && p[1] == '*') {
        p++;
        plen--;
    }
    if (plen == 1)
        return true;
    for (; slen > 0; s++, slen--) {
        if (match_at(g, p + 1, plen - 1, s, slen, depth + 1))
            return true;
        if (g->give_up)
            return false;
    }
    g->give_up = true;
    return false;
}

static bool match_at(struct glob_state *g, const char *p, size_t plen, const char *s, size_t slen,
                     int depth)
{
    if (depth > GLOB_MAX_NESTING)
        return false;
    while (plen > 0 && slen > 0) {
        size_t step = 1;
        switch (p[0]) {
        case '*':
            return match_star(g, p, plen, s, slen, depth);
        case '?':
            break;
        case '[':
            if (!class_match(p + 1, plen - 1, s[0], g->nocase, &step))
                return false;
            step++; /* the '[' itself */
            break;
        case '\\':
            if (plen >= 2) {
                p++;
                plen--;
            }
            /* fall through */
        default:
            if (!char_eq(p[0], s[0], g->nocase))
                return false;
            break;
        }
        p += step;
        plen -= step;
        s++;
        slen--;
        if (slen == 0) {
            while (plen > 0 && p[0] == '*') {
                p++;
                plen--;
            }
        }
    }
    return plen == 0 && slen == 0;
}

bool glob_match(const char *pat, size_t plen, const char *str, size_t slen, bool nocase)
{
    struct glob_state g = {.nocase = nocase, .give_up = false};
    return match_at(&g, pat, plen, str, slen, 0);
}
