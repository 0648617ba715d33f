// names.h — names that become parts of file paths (experiments, plots, named sweeps).
#ifndef AH_NAMES_H
#define AH_NAMES_H

// 1 when s is a plain name: non-empty, only [A-Za-z0-9._-], not starting with '.'. A plain
// name used as a file name stays inside its directory: no '/', and never "." or "..".
int ah_plain_name(const char *s);

#endif
