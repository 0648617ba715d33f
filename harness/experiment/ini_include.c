// ini_include.c — files and keys of one experiment (ini_include.h).
#include "experiment/ini_include.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// Why a file that is not regular cannot be an INI file (a FIFO or device would block or
// never end; a directory reads as empty).
static const char *not_regular(mode_t m) {
    if (S_ISDIR(m)) return strerror(EISDIR);
    if (S_ISFIFO(m)) return "a FIFO, not a regular file";
    if (S_ISCHR(m)) return "a character device, not a regular file";
    if (S_ISBLK(m)) return "a block device, not a regular file";
    if (S_ISSOCK(m)) return "a socket, not a regular file";
    return S_ISREG(m) ? NULL : "not a regular file";
}

FILE *ini_open(const char *path, long long *size, char *why, size_t cap) {
    // O_NONBLOCK: opening a FIFO for reading would wait for a writer, forever.
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, cap, "%s", strerror(errno));
        return NULL;
    }
    struct stat st;
    const char *bad = fstat(fd, &st) ? strerror(errno) : not_regular(st.st_mode);
    int flags = bad ? 0 : fcntl(fd, F_GETFL);
    if (!bad && (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)) bad = strerror(errno);
    FILE *f = bad ? NULL : fdopen(fd, "r");
    if (!f) {
        snprintf(why, cap, "%s", bad ? bad : strerror(errno));
        close(fd);
        return NULL;
    }
    *size = (long long)st.st_size;
    return f;
}

int ini_reads_file(ini_reads *r, const char *path) {
    char **grown = realloc(r->names, (size_t)(r->n_names + 1) * sizeof *grown);
    if (!grown) return -1;
    r->names = grown;
    if (!(r->names[r->n_names] = strdup(path))) return -1;
    return r->n_names++;
}

const char *ini_reads_name(const ini_reads *r, int file) {
    return file >= 0 && file < r->n_names ? r->names[file] : "?";
}

// The keys are few (each must be a known key of a known section, and sections are capped:
// EXP_MAX_PLOTS, EXP_MAX_SWEEPS), so a linear search is enough.
int ini_reads_key(ini_reads *r, const char *section, const char *key, int file, int line,
                  const ini_key_at **first) {
    for (int i = 0; i < r->n_keys; i++)
        if (!strcmp(r->keys[i].section, section) && !strcmp(r->keys[i].key, key)) {
            *first = &r->keys[i];
            return 1;
        }
    if (r->n_keys == r->cap_keys) {
        int cap = r->cap_keys ? 2 * r->cap_keys : 64;
        ini_key_at *grown = realloc(r->keys, (size_t)cap * sizeof *grown);
        if (!grown) return -1;
        r->keys = grown;
        r->cap_keys = cap;
    }
    ini_key_at *k = &r->keys[r->n_keys++];
    snprintf(k->section, sizeof k->section, "%s", section);
    snprintf(k->key, sizeof k->key, "%s", key);
    k->file = file;
    k->line = line;
    return 0;
}

void ini_reads_free(ini_reads *r) {
    if (!r) return;
    for (int i = 0; i < r->n_names; i++) free(r->names[i]);
    free(r->names);
    free(r->keys);
    memset(r, 0, sizeof *r);
}
