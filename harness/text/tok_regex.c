// tok_regex.c — PCRE2 for the normalizers and pre-tokenizers, with bounded work.
//
// A tokenizer.json Split pattern is code from the file: `(a+)+b|[\s\S]` backtracks
// exponentially on runs of 'a'. PCRE2 limits each pcre2_match call (match limit), but a
// pre-tokenizer makes one call per piece, so a per-call limit alone still lets 1 MB of text
// cost 10^11 steps. Here every call of one pre-tokenizer step over one segment draws from a
// budget proportional to the segment's length, and running out is an error naming the file
// and the pattern — never "no more matches", which would silently change the tokenization.
#include "text/tok_internal.h"

#include <stdint.h>

// Work units are PCRE2 match-limit units (backtracking points; JIT counts its own way).
// Measured on WikiText-2 (tests/cli/test_reliability_tokenizer.sh notes): the GPT-2 and
// Qwen2 regexes need at most 18 units for any call and about 2 per byte in all, even for
// 100k-character runs of spaces or letters. A first try per call of 64 units and 256 units
// per byte are both >10x that, so no real tokenizer comes near them; a call needing more is
// retried with twice the limit (each try is charged in full) until the budget is spent.
#define RX_FIRST_LIMIT 64u
#define RX_UNITS_PER_BYTE 256u
#define RX_UNITS_FLOOR 65536u           // per segment, so short segments are not starved
#define RX_DEPTH_LIMIT 100000u          // interpreter backtracking depth (JIT ignores it)
#define RX_HEAP_LIMIT_KIB (64u * 1024)  // interpreter backtracking memory: 64 MiB
#define RX_JIT_STACK_MAX (1u << 20)     // JIT stack: 1 MiB (PCRE2's default is 32 KiB)

pcre2_code *tok_regex_compile(const char *pattern, size_t len, const char *src, ah_err *e) {
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_UTF | PCRE2_UCP, &code, &off,
                                   NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        ah_fail(e, "%s: regex '%.*s' invalid at offset %zu: %s", src, (int)(len > 200 ? 200 : len),
                pattern, (size_t)off, (char *)msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);   // best effort: the interpreter is the fallback
    return re;
}

int tok_rx_init(tok_rx *rx) {
    *rx = (tok_rx){0};
    rx->mctx = pcre2_match_context_create(NULL);
    if (!rx->mctx) return -1;
    pcre2_set_depth_limit(rx->mctx, RX_DEPTH_LIMIT);
    pcre2_set_heap_limit(rx->mctx, RX_HEAP_LIMIT_KIB);
    rx->jit = pcre2_jit_stack_create(32 * 1024, RX_JIT_STACK_MAX, NULL);
    if (rx->jit) pcre2_jit_stack_assign(rx->mctx, NULL, rx->jit);   // NULL without JIT support
    return 0;
}

void tok_rx_free(tok_rx *rx) {
    if (!rx) return;
    pcre2_jit_stack_free(rx->jit);
    pcre2_match_context_free(rx->mctx);
    *rx = (tok_rx){0};
}

void tok_rx_begin(tok_rx *rx, size_t len, const char *src, const char *what) {
    uint64_t units = (uint64_t)RX_UNITS_PER_BYTE * len;
    rx->left = rx->budget = units > UINT64_MAX - RX_UNITS_FLOOR ? UINT64_MAX : units + RX_UNITS_FLOOR;
    rx->seg_len = len;
    rx->src = src;
    rx->what = what;
}

// at, len: the failing call's start in its subject (one piece of the segment) and that length.
static int rx_fail(const tok_rx *rx, size_t at, size_t len, int rc, ah_err *e) {
    if (rc == PCRE2_ERROR_MATCHLIMIT)
        return ah_fail(e, "%s: %s: work budget of %llu PCRE2 steps for a %zu-byte text segment "
                       "(%u per byte) exhausted at byte %zu of a %zu-byte piece: the pattern "
                       "backtracks too much on this text", rx->src, rx->what,
                       (unsigned long long)rx->budget, rx->seg_len, RX_UNITS_PER_BYTE, at, len);
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    return ah_fail(e, "%s: %s: matching failed at byte %zu of a %zu-byte piece: %s", rx->src,
                   rx->what, at, len, (char *)msg);
}

int tok_rx_match(tok_rx *rx, const pcre2_code *re, pcre2_match_data *md, const char *s,
                 size_t len, size_t at, ah_err *e) {
    uint64_t lim = RX_FIRST_LIMIT;
    for (;;) {
        if (lim > rx->left) lim = rx->left;
        if (lim > UINT32_MAX) lim = UINT32_MAX;
        if (lim == 0) return rx_fail(rx, at, len, PCRE2_ERROR_MATCHLIMIT, e);
        rx->left -= lim;   // charged in full: PCRE2 does not say how much of it a call used
        pcre2_set_match_limit(rx->mctx, (uint32_t)lim);
        int rc = pcre2_match(re, (PCRE2_SPTR)s, len, at, PCRE2_NO_UTF_CHECK, md, rx->mctx);
        if (rc >= 0) return 1;
        if (rc == PCRE2_ERROR_NOMATCH) return 0;
        if (rc != PCRE2_ERROR_MATCHLIMIT) return rx_fail(rx, at, len, rc, e);
        lim *= 2;
    }
}
