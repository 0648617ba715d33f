// store_files.c — file-level helpers of the store (store_internal.h): temporaries, the durable
// rename, the lock, stale temporaries, reserved room, byte copies, and resolving a results path
// (a symbolic link is followed once; a file with several hard links is refused).
#include "store/store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"

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
        // O_NOFOLLOW: a link planted at the lock's name must not make us create files elsewhere.
        int f = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
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

void st_remove_stale(const char *path) {
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

// The pid in a writer's temporary name: "<name>.tmp.<pid>", "uncached-<pid>-<key>.h5" or
// "export-<pid>-<key>.h5"; 0 when name is none of them.
static long owner_pid(const char *name) {
    const char *t = strstr(name, ".tmp."), *p = NULL;
    char *end;
    while (t) {   // the last ".tmp." (a name may contain the text twice)
        p = t + 5;
        t = strstr(p, ".tmp.");
    }
    if (p && *p && strspn(p, "0123456789") == strlen(p)) return strtol(p, NULL, 10);
    // The runner's staging files: uncached-<pid>-<key>.h5 (a run file under --no-cache) and
    // export-<pid>-<key>.h5 (a run's [export] record before its commit).
    static const char *const STAGING[] = {"uncached-", "export-"};
    for (size_t i = 0; i < sizeof STAGING / sizeof STAGING[0]; i++) {
        size_t n = strlen(STAGING[i]);
        if (strncmp(name, STAGING[i], n)) continue;
        long pid = strtol(name + n, &end, 10);
        if (end != name + n && *end == '-') return pid;
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

int st_copy_file(const char *src, const char *dst, off_t reserve, ah_err *e) {
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

int st_resolve(const char *path, char **out, ah_err *e) {
    struct stat st;
    *out = NULL;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT) return ah_fail(e, "%s: %s", path, strerror(errno));
        if (!(*out = strdup(path))) return ah_fail(e, "%s: out of memory", path);
        return 0;   // created later, as a regular file of this name
    }
    if (S_ISLNK(st.st_mode)) {
        // Followed once, here: the lock, the temporaries and the rename then all act on the
        // target, which is what receives the runs.
        if (!(*out = realpath(path, NULL))) {
            int err = errno;
            if (err == ENOENT)
                return ah_fail(e, "%s: is a symbolic link to a missing file; refusing to replace "
                                  "the link (create the target or give its path)", path);
            return ah_fail(e, "%s: cannot resolve the symbolic link: %s", path, strerror(err));
        }
        if (stat(*out, &st) != 0) {
            int err = errno;
            free(*out);
            *out = NULL;
            return ah_fail(e, "%s: %s", path, strerror(err));
        }
    } else if (!(*out = strdup(path))) {
        return ah_fail(e, "%s: out of memory", path);
    }
    const char *why = NULL;
    char kind[160];
    if (!S_ISREG(st.st_mode)) {
        snprintf(kind, sizeof kind, "not a regular file (%s)", ah_file_kind(st.st_mode));
        why = kind;
    } else if (st.st_nlink > 1) {
        // A commit renames a new file over this name: the other names would keep the old
        // contents, and a writer through another name takes another lock.
        snprintf(kind, sizeof kind, "has %lu hard links; a commit would split them (copy the file "
                 "to a name of its own)", (unsigned long)st.st_nlink);
        why = kind;
    }
    if (!why) return 0;
    free(*out);
    *out = NULL;
    return ah_fail(e, "%s: %s; refusing to write it", path, why);
}
