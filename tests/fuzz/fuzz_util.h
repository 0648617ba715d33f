// fuzz_util.h — helpers shared by the fuzz targets (tests/fuzz/fuzz_*.c).
//
// The parsers under test read files by path (mmap, json_load_file, fopen) exactly as the CLI
// calls them, so a target writes the fuzz input to a file (or, split at NUL bytes, to several
// files) in a private directory and passes that path. The directory (mkdtemp under /dev/shm when it exists, else $TMPDIR or /tmp) is
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

#define FUZZ_MAX_FILES 8   // distinct file names one target writes

static char fuzz_dir_path[512];
static char fuzz_file_paths[FUZZ_MAX_FILES][600];   // written so far, removed at exit
static int fuzz_nfiles;

static inline void fuzz_dir_cleanup(void) {
    for (int i = 0; i < fuzz_nfiles; i++) unlink(fuzz_file_paths[i]);
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

// <private dir>/<name>, remembered for removal at exit; the returned path lives as long as
// the process (one slot per distinct name).
static inline const char *fuzz_path(const char *name) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", fuzz_dir(), name);
    for (int i = 0; i < fuzz_nfiles; i++)
        if (strcmp(fuzz_file_paths[i], p) == 0) return fuzz_file_paths[i];
    if (fuzz_nfiles == FUZZ_MAX_FILES) {
        fprintf(stderr, "fuzz: more than %d file names\n", FUZZ_MAX_FILES);
        abort();
    }
    memcpy(fuzz_file_paths[fuzz_nfiles], p, sizeof p);
    return fuzz_file_paths[fuzz_nfiles++];
}

// Writes data (size bytes) to <private dir>/<name> (replacing it) and returns that path.
// A target reuses its names, so each input overwrites the previous input's files.
static inline const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size) {
    const char *path = fuzz_path(name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror("fuzz: writing the input file");
        abort();
    }
    return path;
}

// Splits the input at NUL bytes into at most max parts (the last part keeps any further
// NULs): targets whose input is several files. parts[i] / lens[i]; returns the count.
static inline int fuzz_split(const uint8_t *data, size_t size, int max, const uint8_t **parts,
                             size_t *lens) {
    int n = 0;
    while (n < max - 1 && size > 0) {
        const uint8_t *nul = memchr(data, 0, size);
        if (!nul) break;
        parts[n] = data;
        lens[n++] = (size_t)(nul - data);
        size -= (size_t)(nul - data) + 1;
        data = nul + 1;
    }
    parts[n] = data;
    lens[n++] = size;
    return n;
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
