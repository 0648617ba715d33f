// pytext.c — Python string semantics for lm-eval's prompt code (pytext.h).
#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/pytext.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <locale.h>
#include <wctype.h>

int pyt_isspace(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

uint32_t pyt_next(const char *s, size_t len, size_t *i) {
    const unsigned char *p = (const unsigned char *)s + *i;
    size_t left = len - *i;
    uint32_t c = p[0];
    size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    if (n > left) n = 1;
    if (n == 2) c = ((c & 0x1f) << 6) | (p[1] & 0x3f);
    else if (n == 3) c = ((c & 0x0f) << 12) | ((p[1] & 0x3f) << 6) | (p[2] & 0x3f);
    else if (n == 4) c = ((c & 0x07) << 18) | ((p[1] & 0x3f) << 12) | ((p[2] & 0x3f) << 6) | (p[3] & 0x3f);
    *i += n;
    return c;
}

size_t pyt_len(const char *s) {
    size_t len = strlen(s), i = 0, n = 0;
    while (i < len) {
        pyt_next(s, len, &i);
        n++;
    }
    return n;
}

static char *dup_n(const char *s, size_t n, ah_err *e) {
    char *r = malloc(n + 1);
    if (!r) {
        ah_fail(e, "out of memory (%zu bytes of prompt text)", n);
        return NULL;
    }
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

char *pyt_strip(const char *s, ah_err *e) {
    size_t len = strlen(s), i = 0, a = len, b = 0;
    while (i < len) {   // a = first non-space, b = end of the last non-space
        size_t at = i;
        uint32_t cp = pyt_next(s, len, &i);
        if (!pyt_isspace(cp)) {
            if (a == len) a = at;
            b = i;
        }
    }
    return a == len ? dup_n("", 0, e) : dup_n(s + a, b - a, e);
}

// UTF-8 of code point c into o (at most 4 bytes); returns the count.
static size_t put_utf8(char *o, uint32_t c) {
    if (c < 0x80) { o[0] = (char)c; return 1; }
    if (c < 0x800) { o[0] = (char)(0xc0 | c >> 6); o[1] = (char)(0x80 | (c & 0x3f)); return 2; }
    if (c < 0x10000) {
        o[0] = (char)(0xe0 | c >> 12); o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        o[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | c >> 18); o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3f)); o[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

// Case mapping through glibc's C.UTF-8 tables (single code point mappings: Python's own
// special cases that change the length, such as U+0130 -> "i\u0307", are not reproduced);
// ASCII only if that locale is missing.
char *pyt_capitalize(const char *s, ah_err *e) {
    static locale_t loc;
    static int tried;
    if (!tried) {
        loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
        tried = 1;
    }
    size_t len = strlen(s), i = 0, o = 0;
    char *r = malloc(len * 2 + 1);   // a case mapping grows a code point by at most 1 byte
    if (!r) {
        ah_fail(e, "out of memory (%zu bytes of prompt text)", len);
        return NULL;
    }
    for (int first = 1; i < len; first = 0) {
        uint32_t c = pyt_next(s, len, &i);
        if (loc) c = first ? (uint32_t)towupper_l((wint_t)c, loc) : (uint32_t)towlower_l((wint_t)c, loc);
        else if (first && c >= 'a' && c <= 'z') c -= 'a' - 'A';
        else if (!first && c >= 'A' && c <= 'Z') c += 'a' - 'A';
        o += put_utf8(r + o, c);
    }
    r[o] = 0;
    return r;
}

char *pyt_replace(const char *s, const char *old, const char *new_, ah_err *e) {
    size_t lo = strlen(old), ln = strlen(new_), count = 0;
    if (lo == 0) return dup_n(s, strlen(s), e);
    for (const char *p = strstr(s, old); p; p = strstr(p + lo, old)) count++;
    size_t len = strlen(s) - count * lo + count * ln;
    char *r = malloc(len + 1), *o = r;
    if (!r) {
        ah_fail(e, "out of memory (%zu bytes of prompt text)", len);
        return NULL;
    }
    const char *p = s;   // non-overlapping, left to right, as str.replace
    for (const char *q = strstr(p, old); q; p = q + lo, q = strstr(p, old)) {
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, new_, ln);
        o += ln;
    }
    strcpy(o, p);
    return r;
}

char *pyt_resub(const char *s, const char *pattern, const char *repl, ah_err *e) {
    int code;
    PCRE2_SIZE off;
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (!cc) {
        ah_fail(e, "out of memory (regex)");
        return NULL;
    }
    // Python's '.' stops at "\n" only (PCRE2 NEWLINE_LF gives the same).
    pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code,
                                   &off, cc);
    pcre2_compile_context_free(cc);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        ah_fail(e, "internal: regex '%s' invalid at %zu: %s", pattern, (size_t)off, (char *)msg);
        return NULL;
    }
    size_t len = strlen(s);
    PCRE2_SIZE cap = len + len / 2 + 64;
    char *out = NULL;
    for (int tries = 0; tries < 2; tries++) {
        free(out);
        if (!(out = malloc(cap))) break;
        PCRE2_SIZE olen = cap;
        int rc = pcre2_substitute(re, (PCRE2_SPTR)s, len, 0,
                                  PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH, NULL,
                                  NULL, (PCRE2_SPTR)repl, PCRE2_ZERO_TERMINATED, (PCRE2_UCHAR *)out,
                                  &olen);
        if (rc >= 0) {
            pcre2_code_free(re);
            return out;
        }
        if (rc != PCRE2_ERROR_NOMEMORY) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            ah_fail(e, "regex '%s' failed on a %zu-byte text: %s", pattern, len, (char *)msg);
            free(out);
            pcre2_code_free(re);
            return NULL;
        }
        cap = olen;   // the length needed (OVERFLOW_LENGTH), the terminator included
    }
    free(out);
    pcre2_code_free(re);
    ah_fail(e, "out of memory (regex substitution)");
    return NULL;
}

long pyt_split_ws_count(const char *s) {
    size_t len = strlen(s), i = 0;
    long runs = 0;
    int in = 0;
    while (i < len) {
        int sp = pyt_isspace(pyt_next(s, len, &i));
        if (sp && !in) runs++;
        in = sp;
    }
    return runs + 1;
}

// A chain of steps over one string: each frees its input.
typedef struct {
    char *s;
    ah_err *e;
} chain;
static void step_rep(chain *c, const char *old, const char *new_) {
    if (!c->s) return;
    char *r = pyt_replace(c->s, old, new_, c->e);
    free(c->s);
    c->s = r;
}
static void step_re(chain *c, const char *pat, const char *repl) {
    if (!c->s) return;
    char *r = pyt_resub(c->s, pat, repl, c->e);
    free(c->s);
    c->s = r;
}

#define WS PYT_WS
char *pyt_wikitext_detok(const char *page, ah_err *e) {
    chain c = {dup_n(page, strlen(page), e), e};
    // contractions
    step_rep(&c, "s '", "s'");
    step_re(&c, "/' [0-9]/", "/'[0-9]/");   // lm-eval's pattern matches a literal "/' 5/"
    // number separators
    step_rep(&c, " @-@ ", "-");
    step_rep(&c, " @,@ ", ",");
    step_rep(&c, " @.@ ", ".");
    // punctuation
    step_rep(&c, " : ", ": ");
    step_rep(&c, " ; ", "; ");
    step_rep(&c, " . ", ". ");
    step_rep(&c, " ! ", "! ");
    step_rep(&c, " ? ", "? ");
    step_rep(&c, " , ", ", ");
    // double brackets
    step_re(&c, "\\(" WS "*([^\\)]*?)" WS "*\\)", "($1)");
    step_re(&c, "\\[" WS "*([^\\]]*?)" WS "*\\]", "[$1]");
    step_re(&c, "\\{" WS "*([^}]*?)" WS "*\\}", "{$1}");
    step_re(&c, "\"" WS "*([^\"]*?)" WS "*\"", "\"$1\"");
    step_re(&c, "'" WS "*([^']*?)" WS "*'", "'$1'");
    // miscellaneous
    step_rep(&c, "= = = =", "====");
    step_rep(&c, "= = =", "===");
    step_rep(&c, "= =", "==");
    step_rep(&c, " \xc2\xb0 ", "\xc2\xb0");   // " ° "
    step_rep(&c, " \n", "\n");
    step_rep(&c, "\n ", "\n");
    step_rep(&c, " N ", " 1 ");
    step_rep(&c, " 's", "'s");
    return c.s;
}

char *pyt_hellaswag_prep(const char *text, ah_err *e) {
    chain c = {pyt_strip(text, e), e};
    step_rep(&c, " [title]", ". ");
    step_re(&c, "\\[.*?\\]", "");
    step_rep(&c, "  ", " ");
    return c.s;
}
