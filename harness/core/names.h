// names.h — names that become parts of file paths (plot names, experiment names).
#ifndef AH_NAMES_H
#define AH_NAMES_H

#include <stddef.h>

// 1 when s is a plain name: non-empty, only [A-Za-z0-9._-], no leading '.'. Such a name is one
// path component that stays inside its folder ("..", "a/b" and ".hidden" are not plain).
int ah_plain_name(const char *s);
// 1 when byte c may stand in a plain name: [A-Za-z0-9._-].
int ah_plain_char(int c);

// Copies s into buf (cap bytes) for an error message: bytes outside printable ASCII become
// '?', and the copy is cut at 64 characters ("..." appended), so a name read from a file
// cannot break the one-line message or flood it.
const char *ah_name_for_msg(const char *s, char *buf, size_t cap);

// Index of word w among words[0, n) (n < 0: up to a NULL entry), -1 when absent: the parse
// side of every "name table" (scale rules, salient_by, INI words).
int ah_word_index(const char *const *words, int n, const char *w);

#endif
