// names.c — the plain-name check of names.h.
#include "core/names.h"

#include <string.h>

int ah_plain_name(const char *s) {
    if (!s || !*s || *s == '.') return 0;
    for (; *s; s++) {   // ASCII ranges, not isalnum: a locale must not widen the set
        int ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9');
        if (!ok && !strchr("._-", *s)) return 0;
    }
    return 1;
}
