// version.h — what built this binary: the harness version and the git commit of the tree.
#ifndef AH_VERSION_H
#define AH_VERSION_H

#define AH_VERSION "0.1.0"

// Short git commit of the source tree at build time ("unknown" outside a git checkout),
// with "-dirty" appended when the tree had uncommitted changes.
const char *ah_git_commit(void);

#endif
