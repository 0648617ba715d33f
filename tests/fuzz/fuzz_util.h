// fuzz_util.h — helpers shared by the fuzz targets (tests/fuzz/fuzz_*.c).
//
// The parsers under test read files by path (mmap, json_load_file, fopen) exactly as the CLI
// calls them, so a target writes the fuzz input to a file in a private directory and passes
// that path. The directory (mkdtemp under /dev/shm when it exists, else $TMPDIR or /tmp) is
// created once per process, holds nothing else (a loader that looks for sibling files, e.g.
// tokenizer_config.json beside tokenizer.json, finds none) and is removed at exit.
#ifndef AH_FUZZ_UTIL_H
#define AH_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir_path[512];
static char fuzz_file_path[600];

static inline void fuzz_dir_cleanup(void) {
    if (fuzz_file_path[0]) unlink(fuzz_file_path);
    if (fuzz_dir_path[0]) rmdir(fuzz_dir_path);
}

// The private directory (created on first use); aborts when it cannot be made.
static inline const char *fuzz_dir(void) {
    if (!fuzz_dir_path[0]) {
        // tmpfs: rewriting a file on ext4 (open with O_TRUNC, write, close) starts writeback
        // at every close (auto_da_alloc), which made file-reading targets wait on the disk.
        const char *tmp = getenv("TMPDIR");
        if (access("/dev/shm", W_OK) == 0) tmp = "/dev/shm";
        snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/ah-fuzz-XXXXXX",
                 tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(fuzz_dir_path)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_dir_cleanup);
    }
    return fuzz_dir_path;
}

// Writes data (size bytes) to <private dir>/<name> (replacing it) and returns that path.
// One file name per target: the previous input's file is overwritten.
static inline const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size) {
    snprintf(fuzz_file_path, sizeof fuzz_file_path, "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(fuzz_file_path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror("fuzz: writing the input file");
        abort();
    }
    return fuzz_file_path;
}

// A NUL-terminated copy of the input (text parsers take C strings); caller frees.
static inline char *fuzz_strdup(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) abort();
    if (size) memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

// An invariant of a successful parse does not hold: a bug even without a sanitizer report.
#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "fuzz: invariant failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

#endif
