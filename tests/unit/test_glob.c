/* tests/unit/test_glob.c — unit tests for server/glob.c (Redis stringmatchlen
 * semantics). Owns: these tests only; touches nothing else. */
#include "server/glob.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static bool m(const char *pat, const char *str)
{
    return glob_match(pat, strlen(pat), str, strlen(str), false);
}

static bool mi(const char *pat, const char *str)
{
    return glob_match(pat, strlen(pat), str, strlen(str), true);
}

Test(glob, star)
{
    cr_assert(m("*", "anything"));
    cr_assert(m("*", "x"));
    cr_assert_not(m("*", ""), "Redis: '*' never matches the empty string");
    cr_assert(m("", ""));
    cr_assert(m("**", "abc"));
    cr_assert(m("a*b", "ab"));
    cr_assert(m("a*b", "axxxb"));
    cr_assert_not(m("a*b", "axxxc"));
    cr_assert(m("*b", "aab"));
    cr_assert(m("a*", "abc"));
    cr_assert_not(m("a*", ""));
    cr_assert(m("a*b*c", "a_b_c"));
    cr_assert(m("a*b*", "ab"));
    cr_assert_not(m("a*b*c", "a_c_b"));
}

Test(glob, question_mark)
{
    cr_assert(m("h?llo", "hello"));
    cr_assert(m("h?llo", "hallo"));
    cr_assert_not(m("h?llo", "hllo"));
    cr_assert(m("?*", "a"));
    cr_assert_not(m("?", ""));
}

Test(glob, classes)
{
    cr_assert(m("h[ae]llo", "hello"));
    cr_assert(m("h[ae]llo", "hallo"));
    cr_assert_not(m("h[ae]llo", "hillo"));
    cr_assert(m("[a-c]", "b"));
    cr_assert_not(m("[a-c]", "d"));
    cr_assert(m("h[^e]llo", "hallo"));
    cr_assert(m("h[^e]llo", "h]llo"));
    cr_assert_not(m("h[^e]llo", "hello"));
    cr_assert(m("h[a-b]llo", "hbllo"));
    cr_assert_not(m("h[a-b]llo", "hcllo"));
    cr_assert(m("[z-a]", "m"), "reversed ranges are allowed");
    cr_assert(m("[\\]]", "]"));
}

Test(glob, class_quirks_like_redis)
{
    cr_assert(m("[abc", "a"), "unterminated class takes the rest of the pattern");
    cr_assert_not(m("[abc", "d"));
    cr_assert(m("[^", "x"));
    cr_assert(m("[a-]", "]"), "[a-] is the range a..]");
    cr_assert_not(m("[a-]", "-"));
    cr_assert_not(m("[]", "]"));
    cr_assert(m("[Z-a]", "_"));
    cr_assert_not(mi("[Z-a]", "_"), "nocase folds range ends after ordering them");
}

Test(glob, escapes)
{
    cr_assert(m("a\\*b", "a*b"));
    cr_assert_not(m("a\\*b", "axb"));
    cr_assert(m("\\?", "?"));
    cr_assert_not(m("\\?", "x"));
    cr_assert(m("\\a", "a"));
    cr_assert(m("a\\", "a\\"), "a trailing backslash is literal");
    cr_assert(m("\\[x]", "[x]"));
}

Test(glob, nocase)
{
    cr_assert(mi("HELLO", "hello"));
    cr_assert_not(m("HELLO", "hello"));
    cr_assert(mi("h*O", "HellO"));
    cr_assert(mi("[A-Z]", "q"));
    cr_assert_not(m("[A-Z]", "q"));
    cr_assert(mi("[xyz]", "Y"));
    cr_assert(mi("maxmemory*", "MAXMEMORY-policy"));
}

Test(glob, lengths_bound_the_buffers)
{
    cr_assert(glob_match("a*", 1, "a", 1, false));
    cr_assert(glob_match("abc", 2, "abz", 2, false));
    cr_assert_not(glob_match("abc", 3, "abz", 3, false));
    cr_assert(glob_match("a\0b", 3, "a\0b", 3, false), "NUL bytes are ordinary bytes");
    cr_assert(glob_match("?", 1, "\0", 1, false));
}

/* Without the "give up" rule these take exponential time. */
Test(glob, pathological_patterns_finish)
{
    char str[2001];
    memset(str, 'a', 2000);
    str[2000] = '\0';
    cr_assert_not(m("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", str + 1960),
                  "Redis's keyspace.tcl regression case (40 a's)");
    cr_assert_not(m("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", str));
    cr_assert(m("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a", str));
    cr_assert(m("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*?", str));
}

/* Redis's regression test: star nesting deeper than 1000 never matches. */
Test(glob, deep_nesting_fails_like_redis)
{
    size_t n = 50000;
    char *pat = malloc(2 * n + 1);
    char *str = malloc(n + 1);
    cr_assert(pat && str);
    for (size_t i = 0; i < n; i++) {
        pat[2 * i] = '*';
        pat[2 * i + 1] = '?';
        str[i] = 'a';
    }
    cr_assert_not(glob_match(pat, 2 * n, str, n, false));
    cr_assert(glob_match(pat, 2 * 10, str, 10, false), "shallow nesting still matches");
    free(pat);
    free(str);
}
