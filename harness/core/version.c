// version.c — the git commit is passed in by the Makefile (build/git-commit.h), regenerated
// only when it changes so the build stays incremental.
#include "core/version.h"

#include "git-commit.h"

const char *ah_git_commit(void) { return AH_GIT_COMMIT; }
