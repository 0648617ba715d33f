// fuzz_ini_include.c — INI files that include each other (harness/experiment/config.c:
// include at any depth and in any section, cycles stopped at depth 8, errors naming the
// included file and its line, the stored text with every include expanded in place).
//
// Input: up to 4 INI files separated by NUL bytes, written to the private directory as
// fuzz.ini, a.ini, b.ini and c.ini (an INI file cannot hold a NUL: the parser refuses one);
// fuzz.ini is loaded, and `include = a.ini` (b.ini, c.ini, fuzz.ini itself) reaches the others.
// Files beyond those given are empty. Checks: fuzz_ini_check.h.
#include "fuzz_ini_check.h"

static const char *const NAMES[] = {"fuzz.ini", "a.ini", "b.ini", "c.ini"};
#define NFILES ((int)(sizeof NAMES / sizeof *NAMES))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (fuzz_ini_skip(data, size)) return 0;
    const uint8_t *part[NFILES];
    size_t len[NFILES];
    int n = fuzz_split(data, size, NFILES, part, len);
    for (int i = 0; i < NFILES; i++)
        fuzz_write_file(NAMES[i], i < n ? part[i] : NULL, i < n ? len[i] : 0);
    fuzz_ini_load_check(fuzz_path("fuzz.ini"));
    return 0;
}
