// blas.c — which kernel set OpenBLAS runs (see blas.h).
//
// OpenBLAS's DYNAMIC_ARCH build picks its kernels once, when the library loads: from
// OPENBLAS_CORETYPE if set, else from its own CPU detection. Neither is the harness's to rely
// on: container images export OPENBLAS_CORETYPE=Haswell for portability (this project's AMD
// machines do), and the detection answers differently per CPU (SkylakeX on the Intel Xeon,
// Cooperlake on the AMD EPYC). On a CPU with AVX-512 the SkylakeX kernels run the sgemm at
// about twice the AVX2 rate (bench/README.md: 382 vs 205 GFLOP/s on 2 cores of the EPYC), and
// they are the kernels the reference fixtures were matched with: OpenBLAS sums a dot product
// in an order that depends on the kernel, which moves near-tie AWQ alphas (3 of the 50
// reference configurations on Haswell). So the harness chooses.
//
// The switch uses OpenBLAS's own path: set OPENBLAS_CORETYPE, then gotoblas_dynamic_quit() +
// gotoblas_dynamic_init(), the pair the library's constructor ran (exported by DYNAMIC_ARCH
// builds; declared weak, so a build without them links and keeps its kernels). It must run
// before the first BLAS call (no buffers or parameters are in use yet).
#include "core/blas.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *openblas_get_corename(void);
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));

// The kernel set `auto` asks for on this CPU: SkylakeX needs AVX-512 F, CD, BW, DQ and VL;
// Haswell AVX2 and FMA. NULL: neither (keep OpenBLAS's choice). One set for every AVX-512 CPU,
// even where OpenBLAS would pick Cooperlake or SapphireRapids (same sgemm speed: 373 vs 382
// GFLOP/s here), so that Intel and AMD machines sum the same products in the same order.
static const char *auto_core(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return NULL;
}

int ah_blas_select(ah_err *e) {
    const char *want = getenv("AH_BLAS_CORE");
    if (!want || !*want) want = "auto";
    const char *requested = want;
    if (!strcasecmp(want, "openblas")) return 0;   // OpenBLAS's own choice, OPENBLAS_CORETYPE included
    if (!strcasecmp(want, "auto")) {
        want = auto_core();
        if (!want) return 0;
        const char *now = openblas_get_corename();
        if (now && !strcasecmp(now, want)) return 0;
    }
    if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit) {
        if (!strcasecmp(requested, "auto")) return 0;   // a fixed-kernel build: nothing to choose
        return ah_fail(e, "AH_BLAS_CORE=%s: this OpenBLAS has one kernel set (%s), not a "
                          "DYNAMIC_ARCH build", requested, openblas_get_corename());
    }
    setenv("OPENBLAS_CORETYPE", want, 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    const char *got = openblas_get_corename();
    if (!got || strcasecmp(got, want) != 0)
        return ah_fail(e, "AH_BLAS_CORE=%s: not a kernel set this OpenBLAS runs (it runs %s; "
                          "auto, openblas, SkylakeX, Haswell, ...)", requested, got ? got : "?");
    return 0;
}

// The probe's shape: a 29-row product and its rows 7.. alone. On the Haswell kernel row 7
// moves from the second half of a 12-row panel to the first (a different accumulation for the
// first 8 outputs), and rows 24-28 from the 4-row and 1-row tails into a 12-row panel. K = 64
// >= 8 (the split needs eight steps); 48 outputs cover the kernel's first, middle and last
// 8-output tiles. Well below OpenBLAS's threading threshold: one thread, as for the block's
// products per thread range.
enum { PROBE_ROWS = 29, PROBE_FROM = 7, PROBE_K = 64, PROBE_OUT = 48 };

static int rows_independent_probe(void) {
    float x[PROBE_ROWS * PROBE_K], w[PROBE_OUT * PROBE_K], full[PROBE_ROWS * PROBE_OUT],
        part[(PROBE_ROWS - PROBE_FROM) * PROBE_OUT];
    uint32_t state = 12345u;   // xorshift: values in [-1, 1) whose sums round differently by order
    for (int i = 0; i < PROBE_ROWS * PROBE_K; i++) {
        state ^= state << 13, state ^= state >> 17, state ^= state << 5;
        x[i] = (float)(state >> 8) / (float)(1u << 23) - 1.0f;
    }
    for (int i = 0; i < PROBE_OUT * PROBE_K; i++) {
        state ^= state << 13, state ^= state >> 17, state ^= state << 5;
        w[i] = (float)(state >> 8) / (float)(1u << 23) - 1.0f;
    }
    // y (rows, OUT) = x (rows, K) @ w^T: the forward's linear (fwd_linear)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, PROBE_ROWS, PROBE_OUT, PROBE_K, 1.0f, x,
                PROBE_K, w, PROBE_K, 0.0f, full, PROBE_OUT);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, PROBE_ROWS - PROBE_FROM, PROBE_OUT,
                PROBE_K, 1.0f, x + PROBE_FROM * PROBE_K, PROBE_K, w, PROBE_K, 0.0f, part, PROBE_OUT);
    return memcmp(full + PROBE_FROM * PROBE_OUT, part, sizeof part) == 0;
}

int ah_blas_rows_independent(void) {
    // per kernel set: a test switches sets with ah_blas_select (OPENBLAS_CORETYPE + re-init)
    static _Atomic(const char *) asked;   // the core name the answer is for
    static atomic_int answer;
    const char *core = ah_blas_core();
    if (atomic_load(&asked) != core) {
        atomic_store(&answer, rows_independent_probe());
        atomic_store(&asked, core);
    }
    return atomic_load(&answer);
}

const char *ah_blas_core(void) {
    const char *c = openblas_get_corename();
    return c ? c : "?";
}
