// fuzz_ini.c — the experiment INI parser (harness/experiment/config.c: inih reader, sections,
// ${VAR} expansion, sweep lists and ranges, plot sections, include).
//
// Input: INI text, written to <private dir>/fuzz.ini and parsed with exp_config_load as `run`
// does (file reader, long-line check; a relative include looks in the private directory, where
// only fuzz.ini itself lies; the ini_include target writes several files). Checks:
// fuzz_ini_check.h.
#include "fuzz_ini_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (fuzz_ini_skip(data, size)) return 0;
    fuzz_ini_load_check(fuzz_write_file("fuzz.ini", data, size));
    return 0;
}
