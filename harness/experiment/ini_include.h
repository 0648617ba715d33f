// ini_include.h — what the experiment parser (config.c) keeps across every file it reads for
// one experiment: the files (opened only when regular, counted against the caps below) and
// every key set so far, so a key set twice is found wherever the two places are.
#ifndef AH_EXP_INI_INCLUDE_H
#define AH_EXP_INI_INCLUDE_H

#include <stddef.h>
#include <stdio.h>

// Caps on one experiment, includes expanded (docs/EXPERIMENTS.md states them): a few files of
// many includes each would otherwise read 16^7 files ("include bomb").
#define INI_MAX_INCLUDES 256               // include reads, all levels together
#define INI_MAX_TEXT ((size_t)16 << 20)    // bytes of text, includes expanded in place

typedef struct {
    char section[64];
    char key[64];
    int file;   // index into ini_reads.names
    int line;
} ini_key_at;

typedef struct {
    int includes;        // include reads so far
    char **names;        // every file read, in order (n_names of them)
    int n_names;
    ini_key_at *keys;    // every section/key set so far (n_keys of them, room for cap_keys)
    int n_keys, cap_keys;
} ini_reads;

// Opens path for reading when it is a regular file; the open does not block on a FIFO.
// NULL with the reason in why otherwise (strerror's text, or "a FIFO, not a regular file").
// *size: the file's bytes.
FILE *ini_open(const char *path, long long *size, char *why, size_t cap);

// Records that path is read from now on: its index for ini_reads_key, -1 when out of memory.
int ini_reads_file(ini_reads *r, const char *path);
const char *ini_reads_name(const ini_reads *r, int file);

// Records section/key as set at file:line. Returns 0 when new, 1 when set before (*first:
// where), -1 when out of memory.
int ini_reads_key(ini_reads *r, const char *section, const char *key, int file, int line,
                  const ini_key_at **first);

void ini_reads_free(ini_reads *r);

#endif
