// pytext.h — the Python string operations lm-eval's task code applies to prompts, with
// Python's semantics (str.isspace's set of whitespace, re's lazy matching through PCRE2), so
// prompts come out byte for byte as lm-eval builds them. Inputs are valid UTF-8, NUL-free
// (JSON strings); every result is malloc'd and NUL-terminated, NULL (with e set) on error.
#ifndef AH_PYTEXT_H
#define AH_PYTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

// str.isspace() of one code point.
int pyt_isspace(uint32_t cp);
// Decodes the code point at s[*i] and advances *i (valid UTF-8 assumed; a bad byte is taken
// as itself).
uint32_t pyt_next(const char *s, size_t len, size_t *i);
// Number of code points (Python's len(str)).
size_t pyt_len(const char *s);

char *pyt_strip(const char *s, ah_err *e);        // str.strip()
char *pyt_capitalize(const char *s, ah_err *e);   // str.capitalize()
char *pyt_replace(const char *s, const char *old, const char *new_, ah_err *e);   // str.replace
// re.sub(pattern, repl, s): pattern in PCRE2 syntax ("\s" there written PYT_WS), repl with
// $1 for Python's \1.
char *pyt_resub(const char *s, const char *pattern, const char *repl, ah_err *e);
// len(re.split(r"\s+", s)): whitespace runs + 1.
long pyt_split_ws_count(const char *s);

// lm-eval's wikitext preprocess_wikitext.wikitext_detokenizer.
char *pyt_wikitext_detok(const char *page, ah_err *e);
// lm-eval's hellaswag utils.preprocess.
char *pyt_hellaswag_prep(const char *text, ah_err *e);

// Python's \s (str.isspace) as a PCRE2 class.
#define PYT_WS "[\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}" \
               "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}]"

#endif
