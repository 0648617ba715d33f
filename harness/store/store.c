// store.c — the results file: open (create, lock), commit, has_run; the /summary table and the
// helpers the other store_*.c files share (store_internal.h). See store.h for the layout.
//
// The results file is never modified in place: every change is made on a byte copy
// "<file>.tmp.<pid>" that is fsync'd and renamed over it, so a reader (or a crash) sees the
// old file or the new one. A replaced run's old group leaves unused space behind in the copy
// (HDF5 does not reclaim it across sessions); `h5repack` compacts such a file. /summary is
// rewritten in place (chunked, resizable), so the commits of a sweep do not pile up copies.
#include "store/store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/version.h"

const store_column store_summary_columns[] = {
    {"method", STORE_COL_STR},      {"bits", STORE_COL_INT},        {"group_size", STORE_COL_INT},
    {"scale_rule", STORE_COL_STR},  {"alpha", STORE_COL_REAL},      {"clip", STORE_COL_STR},
    {"propagate", STORE_COL_STR},   {"salient_pct", STORE_COL_REAL}, {"salient_by", STORE_COL_STR},
    {"salient_scale", STORE_COL_REAL}, {"scale_pct", STORE_COL_REAL}, {"calib", STORE_COL_STR},
    {"eval_data", STORE_COL_STR},   {"seqlen", STORE_COL_INT},      {"ppl", STORE_COL_REAL},
    {"nll", STORE_COL_REAL},        {"windows", STORE_COL_INT},     {"seconds", STORE_COL_REAL},
    {"awq_seconds", STORE_COL_REAL}, {"cache", STORE_COL_STR},      {"key", STORE_COL_STR},
};
const int store_summary_ncolumns = (int)(sizeof store_summary_columns / sizeof store_summary_columns[0]);

#define SUMMARY_CHUNK 64   // rows per /summary chunk
#define COMMIT_SLACK (64 << 10)   // bytes reserved in a commit beyond the run and a /summary chunk

struct store {
    char *path;
    int lock_fd;
};

// ---------------------------------------------------------------------------------------------
// HDF5 plumbing

void st5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static herr_t why_cb(unsigned n, const H5E_error2_t *err, void *data) {
    (void)n;
    char **out = data;
    if (!*out && err->desc) *out = (char *)err->desc;   // the innermost entry comes first
    return 0;
}

const char *st5_why(char *buf, size_t cap) {
    char *desc = NULL;
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, why_cb, &desc);
    if (!desc) return buf;
    // A failed open carries "..., errno = 2, error message = 'No such file or directory', ...":
    // the quoted text is the useful part.
    // A failed write (sec2 driver: "file write failed: ..., error message = 'File too large'")
    // is named as such: a full disk or a file-size limit is the usual cause.
    const char *m = strstr(desc, "error message = '");
    if (m) {
        const char *kind = strncmp(desc, "file write failed", 17) == 0 ? "write failed: " : "";
        m += strlen("error message = '");
        const char *q = strchr(m, '\'');
        snprintf(buf, cap, "%s%.*s", kind, q ? (int)(q - m) : (int)strlen(m), m);
    } else {
        snprintf(buf, cap, "%s", desc);
    }
    return buf;
}

int st5_fail(ah_err *e, const char *path, const char *what) {
    char why[256];
    st5_why(why, sizeof why);
    if (strncmp(why, "write failed: ", 14) == 0) return ah_fail(e, "%s: %s (%s)", path, why, what);
    return ah_fail(e, "%s: %s%s%s%s", path, what, why[0] ? " (" : "", why, why[0] ? ")" : "");
}

static hid_t make_fapl(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 12, 1) || (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7)
    H5Pset_file_locking(fapl, 1, 1);
#endif
    return fapl;
}

hid_t st5_open(const char *path, unsigned flags, ah_err *e) {
    hid_t fapl = make_fapl();
    hid_t f = H5Fopen(path, flags, fapl);
    if (f < 0) {
        char why[256];
        st5_why(why, sizeof why);   // before H5Pclose resets the error stack
        ah_fail(e, "%s: cannot open as an HDF5 file%s%s%s", path, why[0] ? " (" : "", why,
                why[0] ? ")" : "");
    }
    H5Pclose(fapl);
    return f;
}

hid_t st5_create(const char *path, ah_err *e) {
    hid_t fapl = make_fapl();
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0) {
        char why[256];
        st5_why(why, sizeof why);
        ah_fail(e, "%s: cannot create HDF5 file%s%s%s", path, why[0] ? " (" : "", why,
                why[0] ? ")" : "");
    }
    H5Pclose(fapl);
    return f;
}

hid_t st5_create_mem(const char *name, ah_err *e) {
    hid_t fapl = make_fapl();
    hid_t f = fapl < 0 || H5Pset_fapl_core(fapl, 1 << 20, 0) < 0 ? -1
            : H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0) st5_fail(e, name, "cannot create an HDF5 file in memory");
    if (fapl >= 0) H5Pclose(fapl);
    return f;
}

// write(2) all of buf; -1 with errno set on failure.
static int write_all(int fd, const char *buf, size_t n) {
    while (n) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

int st5_save_image(hid_t f, const char *path, const char *tmp, ah_err *e) {
    if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) return st5_fail(e, path, "cannot flush the in-memory file");
    ssize_t n = H5Fget_file_image(f, NULL, 0);
    char *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (!buf || H5Fget_file_image(f, buf, (size_t)n) != n) {
        free(buf);
        return st5_fail(e, path, "cannot take the file image");
    }
    int rc = 0, fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        rc = ah_fail(e, "%s: cannot create %s: %s", path, tmp, strerror(errno));
    } else {
        // Other processes' cache cleaning (store_clean_stale) leaves a locked temporary alone.
        flock(fd, LOCK_EX | LOCK_NB);
        if (st_test_kill_due("run-mid-write")) {   // test-only: leave a torn temporary
            if (write_all(fd, buf, (size_t)n / 2)) {}
            st_test_kill_now();
        }
        int err = write_all(fd, buf, (size_t)n) ? errno : 0;
        if (close(fd) && !err) err = errno;
        if (err) {
            rc = ah_fail(e, "%s: write failed: %s (temporary %s)", path, strerror(err), tmp);
            unlink(tmp);
        }
    }
    free(buf);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// files: temporaries, durable rename, lock

char *st_tmp_name(const char *path, ah_err *e) {
    size_t n = strlen(path) + 32;
    char *t = malloc(n);
    if (!t) {
        ah_fail(e, "%s: out of memory", path);
        return NULL;
    }
    snprintf(t, n, "%s.tmp.%ld", path, (long)getpid());
    return t;
}

// The directory part of path ("." when none) into dir; returns the base name.
static const char *split_path(const char *path, char *dir, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, cap, ".");
        return path;
    }
    snprintf(dir, cap, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    return slash + 1;
}

int st_publish(const char *tmp, const char *path, const char *kill_stage, ah_err *e) {
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ah_fail(e, "%s: cannot reopen for fsync: %s", tmp, strerror(errno));
    if (fsync(fd) != 0) {
        int err = errno;
        close(fd);
        return ah_fail(e, "%s: fsync failed: %s", tmp, strerror(err));
    }
    close(fd);
    char stage[64];
    if (kill_stage) st_test_kill(strcat(strcpy(stage, kill_stage), "-before-rename"));
    if (rename(tmp, path) != 0)
        return ah_fail(e, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (kill_stage) st_test_kill(strcat(strcpy(stage, kill_stage), "-after-rename"));
    // Makes the rename itself durable. Some file systems refuse fsync on a directory; the file
    // is in place by now, so that is not reported as a failed commit.
    char dir[4096];
    split_path(path, dir, sizeof dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int st_lock(const char *path, int *fd, ah_err *e) {
    char lp[4096];
    if (snprintf(lp, sizeof lp, "%s.lock", path) >= (int)sizeof lp)
        return ah_fail(e, "%s: path too long", path);
    for (int tries = 0; tries < 100; tries++) {
        int f = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (f < 0) return ah_fail(e, "%s: cannot create lock file: %s", lp, strerror(errno));
        if (flock(f, LOCK_EX | LOCK_NB) != 0) {
            int err = errno;
            close(f);
            if (err == EWOULDBLOCK)
                return ah_fail(e, "another awq-harness process is writing %s (%s is locked)", path, lp);
            return ah_fail(e, "%s: flock failed: %s", lp, strerror(err));
        }
        // The holder before us may have unlinked the file (st_unlock) between our open and our
        // flock: the lock is ours only when the file we hold is still the one at lp.
        struct stat held, now;
        if (fstat(f, &held) == 0 && stat(lp, &now) == 0 && held.st_dev == now.st_dev &&
            held.st_ino == now.st_ino) {
            *fd = f;
            return 0;
        }
        close(f);
    }
    return ah_fail(e, "%s: the lock file keeps being replaced", lp);
}

void st_unlock(const char *path, int fd) {
    if (fd < 0) return;
    // Unlinked while still held, so no lock file is left behind; st_lock's inode check keeps a
    // process that opened it just before from taking a lock nobody else can see.
    char lp[4096];
    if (snprintf(lp, sizeof lp, "%s.lock", path) < (int)sizeof lp) unlink(lp);
    close(fd);
}

// Removes "<path>.tmp.<digits>" left by killed writers. Only called with the lock held, when
// no live writer can own one.
static void remove_stale(const char *path) {
    char dir[4096], prefix[4096];
    const char *base = split_path(path, dir, sizeof dir);
    int pl = snprintf(prefix, sizeof prefix, "%s.tmp.", base);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, prefix, (size_t)pl) != 0) continue;
        const char *p = de->d_name + pl;
        if (!*p || strspn(p, "0123456789") != strlen(p)) continue;
        unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

// Byte copy of results file src to its temporary dst. Errors name src (the file the user knows)
// and the temporary.
// The pid in a writer's temporary name: "<name>.tmp.<pid>" or "uncached-<pid>-<key>.h5"; 0
// when name is neither.
static long owner_pid(const char *name) {
    const char *t = strstr(name, ".tmp."), *p = NULL;
    char *end;
    while (t) {   // the last ".tmp." (a name may contain the text twice)
        p = t + 5;
        t = strstr(p, ".tmp.");
    }
    if (p && *p && strspn(p, "0123456789") == strlen(p)) return strtol(p, NULL, 10);
    if (strncmp(name, "uncached-", 9) == 0) {
        long pid = strtol(name + 9, &end, 10);
        if (end != name + 9 && *end == '-') return pid;
    }
    return 0;
}

int store_clean_stale(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        long pid = owner_pid(de->d_name);
        if (pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;   // alive (or not ours to judge)
        // A process of another pid namespace (a container sharing the cache) holds HDF5's flock
        // while it writes: leave such a file alone.
        int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && unlinkat(dirfd(d), de->d_name, 0) == 0) removed++;
        close(fd);
    }
    closedir(d);
    return removed;
}

// posix_fallocate(fd, from, bytes); a file system that cannot (EOPNOTSUPP) is not an error.
static int reserve_fd(int fd, off_t from, off_t bytes, const char *path, const char *tmp, ah_err *e) {
    int err = posix_fallocate(fd, from, bytes);
    if (err == 0 || err == EOPNOTSUPP || err == EINVAL) return 0;
    return ah_fail(e, "%s: write failed: %s (reserving %lld bytes in %s)", path, strerror(err),
                   (long long)bytes, tmp);
}

int st_reserve(const char *tmp, off_t bytes, const char *path, ah_err *e) {
    int fd = open(tmp, O_WRONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int err = errno;
        if (fd >= 0) close(fd);
        return ah_fail(e, "%s: cannot reopen %s: %s", path, tmp, strerror(err));
    }
    int rc = reserve_fd(fd, st.st_size, bytes, path, tmp, e);
    close(fd);
    return rc;
}

// reserve: bytes allocated beyond the copy (posix_fallocate), so that HDF5's writes into the
// copy cannot meet a full disk or a file-size limit (HDF5 1.10 crashes after a failed write);
// HDF5 truncates the file to its real end when it closes it.
static int copy_file(const char *src, const char *dst, off_t reserve, ah_err *e) {
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return ah_fail(e, "%s: cannot read: %s", src, strerror(errno));
    struct stat st;
    int out = fstat(in, &st) == 0 ? open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 0777) : -1;
    if (out < 0) {
        close(in);
        return ah_fail(e, "%s: cannot create the temporary copy %s: %s", src, dst, strerror(errno));
    }
    enum { BUF = 1 << 20 };
    char *buf = malloc(BUF);
    int rc = buf ? 0 : ah_fail(e, "%s: out of memory", dst);
    for (;;) {
        if (rc) break;
        ssize_t r = read(in, buf, BUF);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) rc = ah_fail(e, "%s: read failed: %s", src, strerror(errno));
        if (r <= 0) break;
        if (st_test_kill_due("commit-mid-copy")) {   // test-only: leave a half-written copy
            if (write(out, buf, (size_t)r / 2) < 0) {}
            st_test_kill_now();
        }
        for (ssize_t off = 0; off < r && !rc;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) rc = ah_fail(e, "%s: write failed: %s (temporary copy %s)", src, strerror(errno), dst);
            else off += w;
        }
    }
    free(buf);
    close(in);
    if (!rc && reserve > 0) rc = reserve_fd(out, st.st_size, reserve, src, dst, e);
    if (close(out) != 0 && !rc)
        rc = ah_fail(e, "%s: write failed: %s (temporary copy %s)", src, strerror(errno), dst);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// results-file checks

int st_is_complete(hid_t loc, const char *obj) {
    st_value v;
    int ok = st_attr_get(loc, obj, "status", &v) == 0 && v.kind == SV_STR && strcmp(v.s, "complete") == 0;
    st_value_free(&v);
    return ok;
}

int st_check_schema(hid_t file, const char *path, ah_err *e) {
    st_value v;
    long long sv = 0;
    int rc = st_attr_get(file, ".", "schema_version", &v);
    if (rc == 0 && v.kind == SV_MISSING)
        rc = ah_fail(e, "%s: not an awq-harness results file (no schema_version attribute)", path);
    else if (rc || st_value_int(&v, &sv))
        rc = ah_fail(e, "%s: schema_version attribute is not an integer", path);
    else if (sv < 1 || sv > STORE_SCHEMA_VERSION)
        rc = ah_fail(e, "%s: schema_version %lld is not supported (this build reads %d)", path, sv,
                     STORE_SCHEMA_VERSION);
    st_value_free(&v);
    return rc;
}

int st_check_id(const char *path, const char *id, ah_err *e) {
    if (!id || !*id || strlen(id) > STORE_STR_MAX || strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, ".."))
        return ah_fail(e, "%s: run id '%s' unusable (1..%d bytes, no '/', not '.' or '..')", path,
                       id ? id : "(null)", STORE_STR_MAX);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// link names

typedef struct {
    char **v;
    int n, cap, oom;
} name_list;

static herr_t names_cb(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    (void)g; (void)info;
    name_list *l = data;
    if (l->n == l->cap) {
        int nc = l->cap ? 2 * l->cap : 16;
        char **nv = realloc(l->v, (size_t)nc * sizeof *nv);
        if (!nv) return l->oom = 1, -1;
        l->v = nv;
        l->cap = nc;
    }
    if (!(l->v[l->n] = strdup(name))) return l->oom = 1, -1;
    l->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int st_link_names(hid_t loc, const char *grp, char ***names, int *n) {
    name_list l = {0};
    *names = NULL;
    *n = 0;
    hid_t g = H5Gopen2(loc, grp, H5P_DEFAULT);
    if (g < 0) return -1;
    herr_t r = H5Literate(g, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, names_cb, &l);
    H5Gclose(g);
    if (r < 0) {
        st_names_free(l.v, l.n);
        return -1;
    }
    if (l.n) qsort(l.v, (size_t)l.n, sizeof *l.v, cmp_str);
    *names = l.v;
    *n = l.n;
    return 0;
}

void st_names_free(char **names, int n) {
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

// ---------------------------------------------------------------------------------------------
// /summary

static hid_t fixed_str(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, STORE_STR_MAX);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

hid_t st_summary_type(hid_t only, size_t *off, size_t *size) {
    size_t o = 0;
    off[0] = o;
    o += STORE_STR_MAX;
    for (int c = 0; c < store_summary_ncolumns; c++) {
        off[1 + c] = o;
        o += store_summary_columns[c].type == STORE_COL_STR ? STORE_STR_MAX : 8;
    }
    *size = o;
    hid_t t = H5Tcreate(H5T_COMPOUND, o), s = fixed_str();
    if (only < 0 || H5Tget_member_index(only, "id") >= 0) H5Tinsert(t, "id", off[0], s);
    for (int c = 0; c < store_summary_ncolumns; c++) {
        const store_column *col = &store_summary_columns[c];
        if (only >= 0 && H5Tget_member_index(only, col->name) < 0) continue;
        hid_t m = col->type == STORE_COL_STR ? s : col->type == STORE_COL_INT ? H5T_STD_I64LE : H5T_IEEE_F64LE;
        H5Tinsert(t, col->name, off[1 + c], m);
    }
    H5Tclose(s);
    return t;
}

// Copies s into a NUL-padded field of STORE_STR_MAX bytes, cut at a UTF-8 character boundary.
static void put_str(char *dst, const char *s) {
    size_t n = strlen(s);
    if (n > STORE_STR_MAX) {
        n = STORE_STR_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    }
    memcpy(dst, s, n);
}

// One /summary row for run group runs/<id>: attributes first, else a scalar dataset of the
// column's name (ppl and nll are also stored as datasets). Missing: "", INT64_MIN, NaN.
static void fill_row(hid_t runs, const char *id, char *row, const size_t *off) {
    put_str(row + off[0], id);
    hid_t g = H5Gopen2(runs, id, H5P_DEFAULT);
    for (int c = 0; c < store_summary_ncolumns; c++) {
        const store_column *col = &store_summary_columns[c];
        char *dst = row + off[1 + c];
        st_value v = {0};
        if (g < 0 || st_attr_get(g, ".", col->name, &v) || v.kind == SV_MISSING) {
            st_value_free(&v);
            if (g < 0 || st_dset_get(g, col->name, &v)) v.kind = SV_MISSING;
        }
        if (col->type == STORE_COL_STR) {
            char num[64];
            if (v.kind == SV_STR) put_str(dst, v.s);
            else if (v.kind != SV_MISSING && st_value_str(&v, num, sizeof num) == 0) put_str(dst, num);
        } else if (col->type == STORE_COL_INT) {
            long long x;
            int64_t i = st_value_int(&v, &x) == 0 ? (int64_t)x : INT64_MIN;
            memcpy(dst, &i, 8);
        } else {
            double r;
            if (st_value_real(&v, &r)) r = NAN;
            memcpy(dst, &r, 8);
        }
        st_value_free(&v);
    }
    if (g >= 0) H5Gclose(g);
}

// Opens /summary for rewriting when it already has this build's type and is resizable;
// otherwise deletes it (a file written by an older layout) and returns -1.
static hid_t reuse_summary(hid_t file, hid_t ft) {
    if (H5Lexists(file, "summary", H5P_DEFAULT) <= 0) return -1;
    hid_t d = H5Dopen2(file, "summary", H5P_DEFAULT);
    int ok = 0;
    if (d >= 0) {
        hid_t t = H5Dget_type(d), dcpl = H5Dget_create_plist(d);
        ok = t >= 0 && H5Tequal(t, ft) > 0 && dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED;
        if (t >= 0) H5Tclose(t);
        if (dcpl >= 0) H5Pclose(dcpl);
    }
    if (ok) return d;
    if (d >= 0) H5Dclose(d);
    H5Ldelete(file, "summary", H5P_DEFAULT);
    return -1;
}

int st_summary_rebuild(hid_t file, const char *path, ah_err *e) {
    size_t off[1 + 64], size;
    char **ids = NULL;
    int nids = 0, rc = -1;
    hid_t ft = st_summary_type(-1, off, &size), runs = -1, d = -1, sp = -1, dcpl = -1;
    char *rows = NULL;
    if (ft < 0) return ah_fail(e, "%s: cannot build the /summary type", path);
    if (st_link_names(file, "runs", &ids, &nids)) {
        ah_fail(e, "%s: cannot list /runs", path);
        goto done;
    }
    runs = H5Gopen2(file, "runs", H5P_DEFAULT);
    rows = calloc(nids ? (size_t)nids : 1, size);
    if (runs < 0 || !rows) {
        ah_fail(e, "%s: cannot read /runs (or out of memory)", path);
        goto done;
    }
    hsize_t k = 0;   // complete runs, in id order (ids are strcmp-sorted)
    for (int i = 0; i < nids; i++)
        if (st_is_complete(runs, ids[i])) fill_row(runs, ids[i], rows + k++ * size, off);

    if ((d = reuse_summary(file, ft)) >= 0) {
        if (H5Dset_extent(d, &k) < 0) {
            st5_fail(e, path, "cannot resize /summary");
            goto done;
        }
    } else {
        hsize_t maxd = H5S_UNLIMITED, chunk = SUMMARY_CHUNK;
        sp = H5Screate_simple(1, &k, &maxd);
        dcpl = H5Pcreate(H5P_DATASET_CREATE);
        if (sp < 0 || dcpl < 0 || H5Pset_chunk(dcpl, 1, &chunk) < 0 ||
            (d = H5Dcreate2(file, "summary", ft, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0) {
            st5_fail(e, path, "cannot create /summary");
            goto done;
        }
    }
    if (k && H5Dwrite(d, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0) {
        st5_fail(e, path, "cannot write /summary");
        goto done;
    }
    rc = 0;
done:
    // Closing flushes the chunk cache: a full disk may show only here.
    if (d >= 0 && H5Dclose(d) < 0 && rc == 0) rc = st5_fail(e, path, "cannot write /summary");
    if (dcpl >= 0) H5Pclose(dcpl);
    if (sp >= 0) H5Sclose(sp);
    if (runs >= 0) H5Gclose(runs);
    H5Tclose(ft);
    free(rows);
    st_names_free(ids, nids);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// the results file

// 1 when path exists, 0 when not, -1 (e set) when it cannot be told.
static int exists(const char *path, ah_err *e) {
    struct stat st;
    if (stat(path, &st) == 0) return 1;
    if (errno == ENOENT) return 0;
    return ah_fail(e, "%s: %s", path, strerror(errno));
}

// An existing file must be a results file; it is only ever opened read-only here.
static int verify_results(const char *path, ah_err *e) {
    if (H5Fis_hdf5(path) <= 0)
        return ah_fail(e, "%s: exists and is not an HDF5 results file; refusing to touch it", path);
    hid_t f = st5_open(path, H5F_ACC_RDONLY, e);
    if (f < 0) return -1;
    int rc = st_check_schema(f, path, e);
    H5Fclose(f);
    return rc;
}

static int create_results(const char *path, const store_meta *meta, ah_err *e) {
    char *tmp = st_tmp_name(path, e);
    if (!tmp) return -1;
    int rc = -1;
    hid_t f = st5_create_mem(tmp, e), root = -1, runs = -1;   // saved by st5_save_image
    if (f < 0) goto done;
    char created[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    root = H5Gopen2(f, "/", H5P_DEFAULT);
    if (root < 0 || st_attr_put_i64(root, "schema_version", STORE_SCHEMA_VERSION) ||
        st_attr_put_str(root, "harness_version", AH_VERSION) ||
        st_attr_put_str(root, "git_commit", ah_git_commit()) ||
        st_attr_put_str(root, "created", created) ||
        st_attr_put_str(root, "experiment", meta && meta->experiment ? meta->experiment : "") ||
        (meta && meta->experiment_ini && st_attr_put_str(root, "experiment_ini", meta->experiment_ini)) ||
        (runs = H5Gcreate2(f, "runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        ah_fail(e, "%s: cannot write the root attributes", path);
        goto done;
    }
    if (st_summary_rebuild(f, path, e)) goto done;
    H5Gclose(runs);
    H5Gclose(root);
    runs = root = -1;
    int sr = st5_save_image(f, path, tmp, e);
    herr_t cr = H5Fclose(f);
    f = -1;
    if (sr) goto done;
    if (cr < 0) {
        st5_fail(e, path, "closing failed");
        goto done;
    }
    rc = st_publish(tmp, path, NULL, e);
done:
    if (runs >= 0) H5Gclose(runs);
    if (root >= 0) H5Gclose(root);
    if (f >= 0) H5Fclose(f);
    if (rc) unlink(tmp);
    free(tmp);
    return rc;
}

store *store_open(const char *path, const store_meta *meta, ah_err *e) {
    st5_quiet();
    if (!path || !*path) {
        ah_fail(e, "store_open: empty path");
        return NULL;
    }
    // Checked before taking the lock, so a wrong path (a checkpoint, a typo) gets no .lock
    // file beside it either.
    int ex = exists(path, e), fd = -1;
    if (ex < 0 || (ex && verify_results(path, e))) return NULL;
    if (st_lock(path, &fd, e)) return NULL;
    remove_stale(path);
    int ex2 = exists(path, e);
    if (ex2 < 0 || (!ex2 && create_results(path, meta, e)) || (ex2 && !ex && verify_results(path, e))) {
        st_unlock(path, fd);
        return NULL;
    }
    store *s = calloc(1, sizeof *s);
    if (s) s->path = strdup(path);
    if (!s || !s->path) {
        free(s);
        st_unlock(path, fd);
        ah_fail(e, "%s: out of memory", path);
        return NULL;
    }
    s->lock_fd = fd;
    return s;
}

void store_close(store *s) {
    if (!s) return;
    st_unlock(s->path, s->lock_fd);   // releases the flock, removes the lock file
    free(s->path);
    free(s);
}

int store_has_run(store *s, const char *id, const char *key) {
    st5_quiet();
    if (!s || !key || st_check_id(s->path, id, NULL)) return 0;
    hid_t f = st5_open(s->path, H5F_ACC_RDONLY, NULL);
    if (f < 0) return 0;
    char obj[STORE_STR_MAX + 8];
    snprintf(obj, sizeof obj, "runs/%s", id);
    int has = 0;
    if (H5Lexists(f, "runs", H5P_DEFAULT) > 0 && H5Lexists(f, obj, H5P_DEFAULT) > 0 && st_is_complete(f, obj)) {
        st_value v;
        has = st_attr_get(f, obj, "key", &v) == 0 && v.kind == SV_STR && strcmp(v.s, key) == 0;
        st_value_free(&v);
    }
    H5Fclose(f);
    return has;
}

int store_commit(store *s, const char *id, const char *run_path, ah_err *e) {
    st5_quiet();
    if (!s || !run_path) return ah_fail(e, "store_commit: no store or no run file");
    if (st_check_id(s->path, id, e)) return -1;
    hid_t src = st5_open(run_path, H5F_ACC_RDONLY, e), dst = -1, runs = -1;
    if (src < 0) return -1;
    if (!st_is_complete(src, ".")) {
        H5Fclose(src);
        return ah_fail(e, "%s: run file is not complete (no status = \"complete\"); not committed to %s",
                       run_path, s->path);
    }
    int rc = -1;
    char what[4200];
    snprintf(what, sizeof what, "committing run %s", id);
    // Room for what the commit adds: the run (twice its file, for HDF5's metadata), a new
    // /summary chunk, and slack for B-tree nodes, heaps and object headers.
    struct stat rst;
    size_t off[1 + 64], row;
    H5Tclose(st_summary_type(-1, off, &row));
    off_t reserve = (stat(run_path, &rst) == 0 ? 2 * rst.st_size : 0) +
                    (off_t)(SUMMARY_CHUNK * row) + COMMIT_SLACK;
    char *tmp = st_tmp_name(s->path, e);
    if (!tmp || copy_file(s->path, tmp, reserve, e)) goto done;
    st_test_kill("commit-after-copy");
    if ((dst = st5_open(tmp, H5F_ACC_RDWR, e)) < 0) goto done;
    if (H5Lexists(dst, "runs", H5P_DEFAULT) > 0) runs = H5Gopen2(dst, "runs", H5P_DEFAULT);
    else runs = H5Gcreate2(dst, "runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (runs < 0) {
        st5_fail(e, s->path, "cannot open /runs");
        goto done;
    }
    if (H5Lexists(runs, id, H5P_DEFAULT) > 0 && H5Ldelete(runs, id, H5P_DEFAULT) < 0) {
        snprintf(what, sizeof what, "cannot replace /runs/%s", id);
        st5_fail(e, s->path, what);
        goto done;
    }
    if (H5Ocopy(src, ".", runs, id, H5P_DEFAULT, H5P_DEFAULT) < 0) {
        snprintf(what, sizeof what, "cannot copy run file %s into /runs/%s", run_path, id);
        st5_fail(e, s->path, what);
        goto done;
    }
    H5Gclose(runs);
    runs = -1;
    st_test_kill("commit-after-h5ocopy");
    if (st_summary_rebuild(dst, s->path, e)) goto done;
    st_test_kill("commit-after-summary");
    herr_t cr = H5Fclose(dst);
    dst = -1;
    if (cr < 0) {
        st5_fail(e, s->path, what);
        goto done;
    }
    rc = st_publish(tmp, s->path, "commit", e);
done:
    if (runs >= 0) H5Gclose(runs);
    if (dst >= 0) H5Fclose(dst);
    H5Fclose(src);
    if (rc && tmp) unlink(tmp);
    free(tmp);
    return rc;
}
