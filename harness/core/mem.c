#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

// Buffers from this size on ask for transparent huge pages (THP, "madvise" mode on Debian's
// kernels): their first touch then faults 2 MiB at a time instead of 4 KiB. On the project's
// VMs a 4 KiB first-touch fault costs about 9 us, so a fresh 100 MiB buffer cost 0.23 s of
// faults, serial where it is zeroed; the 2-window eval of a 135M-parameter model spent 5% of
// its time in them. Weights and activations also want fewer TLB misses. Which page size pays
// depends on the host: on the Intel VM of later sessions a huge page took about 5.6 ms to
// fault in where the kernel had to take a block it had reported free to the host, and the
// evaluations ran 1.5-2.5% faster without them (bench/README.md, "the last block for the
// scored rows"); the AMD figure, where they gained 2-3%, decided.
#define AH_HUGE_MIN ((size_t)4 << 20)
#define AH_HUGE_PAGE ((uintptr_t)2 << 20)

// madvise(MADV_HUGEPAGE) on the 2 MiB-aligned part of [p, p + n) (advice only: a kernel
// without THP, or with it off, ignores it).
static void huge_pages(void *p, size_t n) {
    uintptr_t lo = ((uintptr_t)p + AH_HUGE_PAGE - 1) & ~(AH_HUGE_PAGE - 1);
    uintptr_t hi = ((uintptr_t)p + n) & ~(AH_HUGE_PAGE - 1);
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

void *ah_alloc(size_t n, size_t sz, const char *what, ah_err *e) {
    size_t bytes;
    if (ah_mul_ok(&bytes, n, sz) || bytes > SIZE_MAX - 64) {
        ah_fail(e, "%s: size %zu x %zu overflows", what, n, sz);
        return NULL;
    }
    if (bytes == 0) bytes = 64;
    size_t rounded = (bytes + 63) & ~(size_t)63;   // aligned_alloc wants a multiple of 64
    void *p = aligned_alloc(64, rounded);
    if (!p) ah_fail(e, "%s: out of memory allocating %.1f MiB", what, rounded / 1048576.0);
    else if (rounded >= AH_HUGE_MIN) huge_pages(p, rounded);
    return p;
}

void *ah_calloc(size_t n, size_t sz, const char *what, ah_err *e) {
    void *p = ah_alloc(n, sz, what, e);
    if (!p) return NULL;
    size_t bytes = n * sz;   // ah_alloc checked the product
    // The zeroing is the buffer's first touch, so its page faults: a large buffer is zeroed by
    // all threads in 2 MiB pieces, each faulting its own pages (fresh memory costs a VM a host
    // fault per page; a fresh 150 MiB buffer took 0.42 s serially, 0.25 s on 2 threads).
    size_t pieces = (bytes + AH_HUGE_PAGE - 1) / AH_HUGE_PAGE;
#pragma omp parallel for schedule(static) if (bytes >= AH_HUGE_MIN)
    for (size_t i = 0; i < pieces; i++) {
        size_t lo = i * AH_HUGE_PAGE, len = bytes - lo < AH_HUGE_PAGE ? bytes - lo : AH_HUGE_PAGE;
        memset((char *)p + lo, 0, len);
    }
    return p;
}

void ah_free(void *p) { free(p); }

const char *ah_file_kind(unsigned mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISLNK(mode)) return "a symbolic link";
    return S_ISREG(mode) ? "a regular file" : "an unusual file type";
}

int ah_check_regular(const char *path, ah_err *e) {
    struct stat st;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode)) return 0;
    return ah_fail(e, "%s: not a regular file (%s)", path, ah_file_kind(st.st_mode));
}

char *ah_read_file(const char *path, size_t *len, ah_err *e) {
    // O_NONBLOCK: opening a FIFO would otherwise wait for a writer forever; the file type is
    // checked before anything is read, and a regular file ignores the flag.
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        ah_fail(e, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    // A directory opens and "seeks" to LONG_MAX, a device never ends: refuse anything but a
    // regular file before its size decides an allocation.
    struct stat st;
    int st_ok = fstat(fd, &st) == 0;
    if (!st_ok || !S_ISREG(st.st_mode)) {
        if (st_ok && S_ISDIR(st.st_mode)) ah_fail(e, "%s: is a directory, not a file", path);
        else ah_fail(e, "%s: not a regular file (%s)", path, st_ok ? ah_file_kind(st.st_mode) : "fstat failed");
        close(fd);
        return NULL;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        ah_fail(e, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        ah_fail(e, "%s: cannot seek: %s", path, strerror(errno));
        fclose(f);
        return NULL;
    }
    long size = ftell(f);
    if (size < 0) {
        ah_fail(e, "%s: not a regular file", path);
        fclose(f);
        return NULL;
    }
    rewind(f);
    char *buf = malloc((size_t)size + 1);
    if (!buf) {
        ah_fail(e, "%s: out of memory reading %ld bytes", path, size);
        fclose(f);
        return NULL;
    }
    size_t got = fread(buf, 1, (size_t)size, f);
    if (got != (size_t)size) {
        ah_fail(e, "%s: short read (%zu of %ld bytes)%s", path, got, size,
                ferror(f) ? ": read error" : "");
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[size] = '\0';
    if (len) *len = (size_t)size;
    return buf;
}

int ah_path_join(char *out, size_t cap, const char *dir, const char *name) {
    size_t dl = strlen(dir);
    int slash = dl > 0 && dir[dl - 1] == '/';
    int n = snprintf(out, cap, "%s%s%s", dir, slash ? "" : "/", name);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

int ah_make_dirs(const char *path, ah_err *e) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return ah_fail(e, "%.200s...: path too long", path);
    for (char *s = tmp + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(tmp, 0777) && errno != EEXIST) return ah_fail(e, "%s: cannot create: %s", tmp, strerror(errno));
        *s = '/';
    }
    if (mkdir(tmp, 0777) && errno != EEXIST) return ah_fail(e, "%s: cannot create: %s", tmp, strerror(errno));
    return 0;
}

int ah_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int ah_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

size_t ah_chunk_bytes(void) {
    static size_t limit;   // read once; the same for every call of the process
    if (!limit) {
        const char *v = getenv("AH_TEST_CHUNK_BYTES");
        long long b = v ? atoll(v) : 0;
        limit = b > 0 ? (size_t)b : (size_t)4 << 20;
    }
    return limit;
}

size_t ah_chunk_rows(size_t rows, size_t row_bytes) {
    // Never fewer than 64 rows: OpenBLAS's small-matrix kernels (M * N * K <= 1e6) sum in
    // another order, so a GEMM over a few rows would not give the whole GEMM's bits.
    size_t n = row_bytes ? ah_chunk_bytes() / row_bytes : rows;
    n = n >= 64 ? n / 64 * 64 : 64;
    return n < rows ? n : rows;
}

void ah_release_mapped(const void *p, size_t n) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)p & ~(page - 1), hi = ((uintptr_t)p + n + page - 1) & ~(page - 1);
    (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);   // read-only private map: loses no data
}
