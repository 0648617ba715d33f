// omp.h of the fuzz build only (make fuzz; tests/fuzz/README.md). Debian's clang ships no
// omp.h (that is libomp-dev's, a second OpenMP runtime) and GCC's does not parse under clang;
// the fuzz build compiles the library without -fopenmp and links libgomp, which defines these.
// They are the only OpenMP runtime functions harness/ calls: a new one fails the fuzz build
// (run by CI), and is declared here.
#ifndef AH_FUZZ_OMP_H
#define AH_FUZZ_OMP_H

int omp_get_max_threads(void);
int omp_get_thread_num(void);
void omp_set_num_threads(int n);

#endif
