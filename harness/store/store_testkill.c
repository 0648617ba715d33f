// store_testkill.c — the test-only kill points of the store (st_test_kill, store_internal.h).
//
// tests/cli/test_crash_safety.sh must kill a sweep inside the few milliseconds in which a file
// is half written; a kill at a random time almost never lands there. With
// AH_TEST_KILL_AT=<stage>:<n> in the environment the process sends itself SIGKILL the n-th time
// (1-based) it reaches kill point <stage> (names in store_internal.h). Without the variable a
// kill point costs one getenv. Not a user feature: documented as test-only in results/README.md.
#include "store/store_internal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int st_test_kill_due(const char *stage) {
    static long hits;   // of the configured stage, in this process
    const char *spec = getenv("AH_TEST_KILL_AT");
    if (!spec || !*spec) return 0;
    const char *colon = strrchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
    if (strlen(stage) != len || strncmp(spec, stage, len) != 0) return 0;
    long n = colon ? strtol(colon + 1, NULL, 10) : 1;
    return ++hits == (n > 0 ? n : 1);
}

void st_test_kill(const char *stage) {
    if (st_test_kill_due(stage)) st_test_kill_now();
}

void store_test_kill(const char *stage) { st_test_kill(stage); }

void st_test_kill_now(void) {
    raise(SIGKILL);
    _exit(137);   // not reached
}

int store_test_fail(const char *stage) { return st_test_kill_due(stage); }
