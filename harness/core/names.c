// names.c — plain names (names.h).
#include "core/names.h"

#include <stdio.h>
#include <string.h>

int ah_plain_char(int c) {
    // Spelled out rather than isalnum(): the locale must not widen what a path may hold.
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

int ah_plain_name(const char *s) {
    if (!s || !*s || *s == '.') return 0;
    for (; *s; s++)
        if (!ah_plain_char((unsigned char)*s)) return 0;
    return 1;
}

const char *ah_name_for_msg(const char *s, char *buf, size_t cap) {
    enum { SHOWN = 64 };
    size_t o = 0, i = 0;
    if (!cap) return "";
    for (; s && s[i] && i < SHOWN && o + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    buf[o] = '\0';
    if (s && s[i] && o + 4 <= cap) strcpy(buf + o, "...");
    return buf;
}

int ah_word_index(const char *const *words, int n, const char *w) {
    for (int i = 0; n < 0 ? words[i] != NULL : i < n; i++)
        if (words[i] && strcmp(words[i], w) == 0) return i;
    return -1;
}
