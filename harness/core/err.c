#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ah_fail(ah_err *e, const char *fmt, ...) {
    if (!e) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int ah_wrap(ah_err *e, const char *fmt, ...) {
    if (!e) return -1;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[sizeof e->msg];
    memcpy(old, e->msg, sizeof old);
    // The prefix is at most 511 bytes; the old message keeps whatever room is left.
    snprintf(e->msg, sizeof e->msg, "%.511s: %.510s", prefix, old);
    return -1;
}
