// err.h — the one small error type every library function reports through.
//
// Library code never prints and never exits: it fills an ah_err with a one-line message that
// names the file, tensor or line at fault, and returns -1 (or NULL). Only main.c prints.
#ifndef AH_ERR_H
#define AH_ERR_H

#include <stddef.h>

typedef struct ah_err {
    char msg[1024];   // one line, no trailing newline; empty when no error
} ah_err;

// Formats msg into e (e may be NULL) and returns -1, so callers can write
// `return ah_fail(e, "%s: tensor '%s' missing", path, name);`.
int ah_fail(ah_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Prepends "prefix: " to an existing message (adds context while unwinding). Returns -1.
int ah_wrap(ah_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
