// buf.h — a growable byte buffer, always NUL-terminated after the first append.
#ifndef AH_BUF_H
#define AH_BUF_H

#include <stddef.h>

typedef struct {
    char *p;       // malloc'd; free(p) when done
    size_t n;      // bytes held (excluding the NUL)
    size_t cap;
} ah_buf;

// Appends n bytes of s (s may be NULL when n == 0). Returns -1 when out of memory (the buffer
// is left as it was).
int ah_buf_put(ah_buf *b, const void *s, size_t n);

#endif
