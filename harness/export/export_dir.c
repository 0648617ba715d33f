// export_dir.c — an export directory is written whole beside its place, then swapped in
// (export_dir.h). Only names an export writes are ever deleted, so a mistaken --out costs the
// user nothing.
#include "export/export_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/mem.h"
#include "store/store.h"   // store_test_kill: test-only kill points

const char *const QEXPORT_SIDE_FILES[] = {
    "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "vocab.json", "merges.txt", "tokenizer.model", NULL,
};
static const char *const WEIGHT_FILES[] = {   // the rest of an export (export/export.h)
    "model.safetensors", "model.bin", "tokenizer.bin", "quantized.safetensors",
    "awq.safetensors", "model.gguf", "quantize_config.json", "manifest.json", NULL,
};
#define MANIFEST "manifest.json"
#define EXPORT_FORMAT 2   // 2: the manifest lists the files with their sizes

static int in_list(const char *const *list, const char *name, size_t len) {
    for (; *list; list++)
        if (strlen(*list) == len && strncmp(*list, name, len) == 0) return 1;
    return 0;
}

// A file an export holds, or the temporary of one (NAME.tmp, st_write's and the old in-place
// writer's): what a directory may hold to be replaced, and all that is ever deleted.
static int is_export_name(const char *name) {
    size_t n = strlen(name);
    if (n > 4 && strcmp(name + n - 4, ".tmp") == 0) n -= 4;
    return in_list(WEIGHT_FILES, name, n) || in_list(QEXPORT_SIDE_FILES, name, n);
}

static int is_dot(const char *name) { return !strcmp(name, ".") || !strcmp(name, ".."); }

// The directory part of path ("." when none) into dir; returns the base name.
static const char *split_path(const char *path, char *dir, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, cap, ".");
    else snprintf(dir, cap, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    return slash ? slash + 1 : path;
}

// out without trailing slashes into res; when it exists, resolved, so that a link to a
// directory keeps pointing at the new export (the directory it names is replaced).
static int resolve_out(const char *out, char *res, ah_err *e) {
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/') n--;
    char given[PATH_MAX];
    if (n == 0 || n + 32 >= sizeof given) return ah_fail(e, "--out '%s': empty or too long", out);
    snprintf(given, sizeof given, "%.*s", (int)n, out);
    struct stat sb;
    if (lstat(given, &sb) != 0) {
        if (errno != ENOENT) return ah_fail(e, "%s: %s", out, strerror(errno));
        snprintf(res, PATH_MAX, "%s", given);
    } else if (!realpath(given, res)) {
        return ah_fail(e, "%s: cannot resolve: %s", out, strerror(errno));
    }
    char dir[PATH_MAX];
    const char *base = split_path(res, dir, sizeof dir);
    if (!*base || is_dot(base) || strlen(res) + 32 >= PATH_MAX)
        return ah_fail(e, "%s: not a directory an export can replace", out);
    return 0;
}

// 0 when the resolved res is absent, empty, or an export: export files only (no subdirectory),
// among them manifest.json or quantized.safetensors. A source checkpoint holds export names
// too (config.json, model.safetensors) but neither of those: never replaced (--out = --model).
static int check_resolved(const char *out, const char *res, ah_err *e) {
    struct stat sb;
    if (stat(res, &sb) != 0)
        return errno == ENOENT ? 0 : ah_fail(e, "%s: %s", out, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return ah_fail(e, "%s: exists and is not a directory", out);
    DIR *d = opendir(res);
    if (!d) return ah_fail(e, "%s: cannot read the directory: %s", out, strerror(errno));
    char bad[NAME_MAX + 1] = "";
    int files = 0, export = 0;
    struct dirent *de;
    while (!bad[0] && (de = readdir(d))) {
        if (is_dot(de->d_name)) continue;
        int sub = fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode);
        if (sub || !is_export_name(de->d_name)) snprintf(bad, sizeof bad, "%s", de->d_name);
        files++;
        export |= !strcmp(de->d_name, MANIFEST) || !strcmp(de->d_name, "quantized.safetensors");
    }
    closedir(d);
    if (bad[0])
        return ah_fail(e, "%s: holds '%s', which is not part of an export; not replacing the "
                          "directory (choose a new or empty one)", out, bad);
    if (files && !export)
        return ah_fail(e, "%s: holds a checkpoint without %s or quantized.safetensors, not an "
                          "export; not replacing it (choose a new or empty directory)", out, MANIFEST);
    return 0;
}

int qexport_dir_check_target(const char *out, ah_err *e) {
    char res[PATH_MAX];
    return resolve_out(out, res, e) || check_resolved(out, res, e) ? -1 : 0;
}

// Deletes the export files in dir, then dir itself (which stays when it holds anything else).
// A link named like a temporary is not followed: only a real directory is emptied.
static void remove_export_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)))
        if (!is_dot(de->d_name) && is_export_name(de->d_name)) unlinkat(dirfd(d), de->d_name, 0);
    closedir(d);
    rmdir(dir);
}

void qexport_dir_abort(const char *tmp) {
    if (tmp && *tmp) remove_export_dir(tmp);
}

// Removes res.tmp.<pid> and res.old.<pid> of processes that are gone (killed mid-write, or
// between the swap and the removal of the old export). Live ones may be writing: kept.
static void clean_stale(const char *res) {
    char dir[PATH_MAX], path[PATH_MAX + NAME_MAX + 2];
    const char *base = split_path(res, dir, sizeof dir);
    size_t bl = strlen(base);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, base, bl)) continue;
        const char *s = de->d_name + bl;
        if (strncmp(s, ".tmp.", 5) && strncmp(s, ".old.", 5)) continue;
        s += 5;
        if (!*s || strspn(s, "0123456789") != strlen(s)) continue;
        long pid = strtol(s, NULL, 10);
        if (pid <= 0 || pid > INT_MAX || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;   // alive, or not ours to judge
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        remove_export_dir(path);
    }
    closedir(d);
}

int qexport_dir_begin(const char *out, char *tmp, size_t cap, ah_err *e) {
    char res[PATH_MAX];
    if (resolve_out(out, res, e) || check_resolved(out, res, e)) return -1;
    clean_stale(res);
    if (snprintf(tmp, cap, "%s.tmp.%ld", res, (long)getpid()) >= (int)cap)
        return ah_fail(e, "%s: path too long", out);
    remove_export_dir(tmp);   // a killed process of the same pid (pids are reused)
    if (mkdir(tmp, 0777) != 0)
        return ah_fail(e, "%s: cannot create directory %s: %s", out, tmp, strerror(errno));
    return 0;
}

// ---- the manifest -----------------------------------------------------------------------------

// A file's fingerprint: SHA-256 of FP_BLOCKS blocks of FP_BYTES spread evenly over it (the whole
// file when smaller). Two exports of one model differ in nearly every weight byte, so a file of
// another export (another bit width: same size) is told apart, for 256 KiB of reads per file
// rather than a pass over gigabytes of weights.
enum { FP_BLOCKS = 64, FP_BYTES = 4096 };
static int fingerprint(const char *path, char hex[65], ah_err *e) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0) close(fd);
        return ah_fail(e, "%s: cannot read: %s", path, strerror(errno));
    }
    ah_sha256 *h = ah_sha256_new();
    char buf[FP_BYTES];
    off_t size = sb.st_size;
    int whole = size <= (off_t)FP_BLOCKS * FP_BYTES;
    int rc = h ? 0 : ah_fail(e, "%s: out of memory", path);
    for (int i = 0; i < FP_BLOCKS && !rc; i++) {
        // whole: consecutive blocks from 0 (the last short or empty); else spread to the end
        off_t at = whole ? (off_t)i * FP_BYTES : (size - FP_BYTES) / (FP_BLOCKS - 1) * i;
        off_t left = size - at;
        size_t want = left <= 0 ? 0 : left < FP_BYTES ? (size_t)left : FP_BYTES;
        ssize_t got = want ? pread(fd, buf, want, at) : 0;
        if (got == (ssize_t)want) ah_sha256_update(h, buf, want);
        else rc = ah_fail(e, "%s: read failed: %s", path, got < 0 ? strerror(errno) : "short file");
    }
    close(fd);
    if (h) ah_sha256_final(h, hex);
    return rc;
}

static int no_dots(const struct dirent *de) { return !is_dot(de->d_name); }

// The "files" entry of the file at path: {"bytes": size, "sample_sha256": fingerprint}.
static json_t *file_entry(const char *path, ah_err *e) {
    struct stat sb;
    char hex[65];
    if (stat(path, &sb) != 0) {
        ah_fail(e, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fingerprint(path, hex, e)) return NULL;
    return json_pack("{sIss}", "bytes", (json_int_t)sb.st_size, "sample_sha256", hex);
}

int qexport_dir_manifest(const char *tmp, const char *manifest_json, ah_err *e) {
    json_t *root = json_loads(manifest_json, 0, NULL), *files = json_object();
    struct dirent **list = NULL;
    int n = scandir(tmp, &list, no_dots, alphasort), rc = 0;   // sorted: the same bytes each time
    char path[PATH_MAX + NAME_MAX + 2];
    if (!json_is_object(root) || !files || n < 0)
        rc = ah_fail(e, "%s: cannot build the manifest (%s)", tmp, n < 0 ? strerror(errno) : "JSON");
    for (int i = 0; i < (n > 0 ? n : 0); i++) {
        snprintf(path, sizeof path, "%s/%s", tmp, list[i]->d_name);
        if (!rc && strcmp(list[i]->d_name, MANIFEST)) {
            json_t *entry = file_entry(path, e);
            if (!entry) rc = -1;
            else if (json_object_set_new(files, list[i]->d_name, entry))
                rc = ah_fail(e, "%s: out of memory (manifest)", tmp);
        }
        free(list[i]);
    }
    free(list);
    store_test_kill("export-before-manifest");   // every file but the manifest written
    if (!rc) {
        json_object_set_new(root, "export_format", json_integer(EXPORT_FORMAT));
        json_object_set_new(root, "files", json_incref(files));
        snprintf(path, sizeof path, "%s/" MANIFEST, tmp);
        if (json_dump_file(root, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
            rc = ah_fail(e, "%s: write failed (disk full?)", path);
    }
    json_decref(files);
    json_decref(root);
    return rc;
}

// ---- the swap ---------------------------------------------------------------------------------

// fsyncs every file in dir, then dir: the export is on disk before it takes the name.
static int sync_dir(const char *dir, ah_err *e) {
    DIR *d = opendir(dir);
    if (!d) return ah_fail(e, "%s: cannot read: %s", dir, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        if (is_dot(de->d_name)) continue;
        int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0)
            rc = ah_fail(e, "%s/%s: fsync failed: %s", dir, de->d_name, strerror(errno));
        if (fd >= 0) close(fd);
    }
    if (!rc) fsync(dirfd(d));   // some file systems refuse it on a directory: not an error
    closedir(d);
    return rc;
}

// Puts directory tmp at res. An existing res is exchanged with it in one step (the old export
// is then at tmp); a file system that cannot exchange gets the old one renamed aside first
// (res.old.<pid>: for a moment there is no res). old (OLD_CAP bytes) receives where the old
// export is, or "".
enum { OLD_CAP = PATH_MAX + 32 };
static int swap_in(const char *tmp, const char *res, char *old, const char *out, ah_err *e) {
    old[0] = '\0';
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, res, RENAME_EXCHANGE) == 0) {
        snprintf(old, OLD_CAP, "%s", tmp);
        return 0;
    }
    int err = errno;
    if (err == ENOENT && access(res, F_OK) != 0) {   // no old export
        if (rename(tmp, res) == 0) return 0;
        err = errno;
    } else if (err == EINVAL || err == ENOSYS || err == ENOTSUP) {
        snprintf(old, OLD_CAP, "%s.old.%ld", res, (long)getpid());
        if (rename(res, old) == 0) {
            if (rename(tmp, res) == 0) return 0;
            err = errno;
            rename(old, res);   // the old export back in place
        } else {
            err = errno;
        }
        old[0] = '\0';
    }
    return ah_fail(e, "%s: cannot move %s into place: %s", out, tmp, strerror(err));
}

int qexport_dir_commit(const char *tmp, const char *out, ah_err *e) {
    char res[PATH_MAX], old[OLD_CAP], dir[PATH_MAX];
    if (resolve_out(out, res, e) || check_resolved(out, res, e) || sync_dir(tmp, e)) return -1;
    store_test_kill("export-before-swap");
    if (swap_in(tmp, res, old, out, e)) return -1;
    split_path(res, dir, sizeof dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);   // the swap itself made durable
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    store_test_kill("export-after-swap");
    if (old[0]) remove_export_dir(old);
    return 0;
}

// ---- readers ----------------------------------------------------------------------------------

// File name of dir as the manifest lists it (v: {"bytes", "sample_sha256"}): present, of that
// size and fingerprint.
static int check_file(const char *dir, const char *man, const char *name, json_t *v, ah_err *e) {
    json_t *bytes = json_object_get(v, "bytes");
    const char *want = json_string_value(json_object_get(v, "sample_sha256"));
    char path[PATH_MAX + NAME_MAX + 2], hex[65];
    struct stat sb;
    if (!json_is_integer(bytes) || !want || strchr(name, '/') || !is_export_name(name))
        return ah_fail(e, "%s: bad \"files\" entry '%s'", man, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return ah_fail(e, "%s: %s is missing, the manifest lists it (an incomplete export)", dir, name);
    if ((json_int_t)sb.st_size != json_integer_value(bytes))
        return ah_fail(e, "%s: %s has %lld bytes, the manifest says %lld (an incomplete or mixed export)",
                       dir, name, (long long)sb.st_size, (long long)json_integer_value(bytes));
    if (fingerprint(path, hex, e)) return -1;
    if (strcmp(hex, want))
        return ah_fail(e, "%s: %s is not the file the manifest describes (sample_sha256 differs): "
                          "a mixed export", dir, name);
    return 0;
}

// Every file the manifest lists is as listed; every export file present is listed.
static int check_files(const char *dir, const char *man, json_t *files, ah_err *e) {
    const char *name;
    json_t *v;
    json_object_foreach(files, name, v)
        if (check_file(dir, man, name, v, e)) return -1;
    DIR *d = opendir(dir);
    struct dirent *de;
    int rc = d ? 0 : ah_fail(e, "%s: cannot read: %s", dir, strerror(errno));
    while (!rc && (de = readdir(d)))
        if (strcmp(de->d_name, MANIFEST) && is_export_name(de->d_name) && !json_object_get(files, de->d_name))
            rc = ah_fail(e, "%s: %s is not listed in %s (a mixed export)", dir, de->d_name, MANIFEST);
    if (d) closedir(d);
    return rc;
}

int qexport_dir_verify(const char *model_path, ah_err *e) {
    char dir[PATH_MAX], man[PATH_MAX + 32], packed[PATH_MAX + 32];
    if (ah_is_dir(model_path)) snprintf(dir, sizeof dir, "%s", model_path);
    else split_path(model_path, dir, sizeof dir);
    snprintf(man, sizeof man, "%s/" MANIFEST, dir);
    snprintf(packed, sizeof packed, "%s/quantized.safetensors", dir);
    int has_man = access(man, F_OK) == 0;
    if (!has_man && access(packed, F_OK) != 0) return 0;   // not an export
    if (!has_man)
        return ah_fail(e, "%s: a quantized export without %s (an interrupted write or copy?); "
                          "quantize it again", dir, MANIFEST);
    json_error_t je;
    json_t *root = json_load_file(man, 0, &je);
    if (!root)
        return ah_fail(e, "%s: invalid JSON at line %d: %s (an incomplete export?)", man, je.line, je.text);
    json_t *files = json_object_get(root, "files");
    int rc = 0;
    if (json_object_get(root, "export_format") || files)   // else an export from before format 2
        rc = json_is_object(files) ? check_files(dir, man, files, e)
                                   : ah_fail(e, "%s: no \"files\" object (an incomplete export)", man);
    json_decref(root);
    return rc;
}

long long qexport_dir_bytes(const char *dir) {
    char man[PATH_MAX + 32];
    struct stat sb;
    snprintf(man, sizeof man, "%s/" MANIFEST, dir);
    json_t *root = stat(man, &sb) == 0 ? json_load_file(man, 0, NULL) : NULL;
    json_t *files = json_object_get(root, "files"), *v;
    const char *name;
    long long sum = json_is_object(files) ? (long long)sb.st_size : -1;
    json_object_foreach(files, name, v) sum += (long long)json_integer_value(json_object_get(v, "bytes"));
    json_decref(root);
    return sum;
}
