/* server/glob.h — Redis-compatible glob matching (KEYS, SCAN MATCH, CONFIG GET,
 * PSUBSCRIBE patterns).
 * Owns: the matcher only. Must not touch anything else: no allocation, no
 * state kept between calls. */
#ifndef DARTER_SERVER_GLOB_H
#define DARTER_SERVER_GLOB_H

#include <stdbool.h>
#include <stddef.h>

/* Match `str` against the glob `pat` with Redis's stringmatchlen() rules:
 * `*`, `?`, `[abc]`, `[^abc]`, `[a-z]` (reversed ranges allowed), `\x`
 * escapes; `nocase` folds ASCII letters. Patterns nested deeper than 1000
 * stars never match, and a failed star stops wider retries of earlier stars,
 * so abusive patterns stay fast. */
bool glob_match(const char *pat, size_t plen, const char *str, size_t slen, bool nocase);

#endif
