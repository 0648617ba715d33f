# awq-harness — flat, commented Makefile.
#
#   make            build ./awq-harness (-O2 -fopenmp, warnings on)
#   make deps       install the Debian packages the build and tests need (no-op when present)
#   make test       deps + build + the whole test suite (tests/run.sh)
#   make asan       ./awq-harness-asan built with AddressSanitizer + UBSan
#   make test-asan  the test suite against the sanitizer build
#   make demo       deps + build + the quickstart on the bundled model (run, report, plots)
#   make interop    the exports judged by the real loaders (tests/cli/test_interop_*.sh: builds
#                   llama.cpp via tools/llama-cpp, cached outside the repository); not in test
#   make slurm      submit on a real single-node Slurm cluster (tests/cli/test_slurm.sh:
#                   installs Debian's Slurm + munge, starts them in a temporary directory); not
#                   in test
#   make bench      performance benchmarks (never part of test)
#   make bench-tools  the C programs of bench/ (build/bench/: gemm_peak, packed_gemm, stream, gemm_stored)
#   make fuzz       libFuzzer targets of the input parsers, FUZZ_SECONDS each (not part of
#                   test; CI runs it for 5 s per target; tests/fuzz/README.md)
#   make clean

CC      ?= cc
# OPT: optimisation and instrumentation (the sanitizer build overrides it).
# No -ffast-math anywhere: the harness must detect NaN and inf in weights and activations.
# -fno-trapping-math changes no result (nothing reads the FP exception flags); it lets GCC turn
# the clamps of core/fastexp.h into vector selects.
OPT     ?= -O2 -g
CFLAGS  := $(OPT) -std=c11 -D_GNU_SOURCE -fopenmp -fno-trapping-math -Wall -Wextra -Wno-unused-parameter -MMD -MP
CFLAGS  += -Iharness $(shell pkg-config --cflags hdf5 gsl jansson libpcre2-8 inih 2>/dev/null)
CFLAGS  += -I/usr/include/hdf5/serial
# OpenBLAS built for OpenMP, linked by path: Debian's default alternative may be the pthread
# build, which keeps a second thread pool and oversubscribes the cores when called from inside
# our OpenMP regions. The OpenMP build shares libgomp's pool and runs single-threaded when
# called from a parallel region (attention heads).
BLAS_DIR := /usr/lib/x86_64-linux-gnu/openblas-openmp
LDLIBS  += -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5 -lgsl \
           -L$(BLAS_DIR) -l:libopenblas.so.0 -Wl,-rpath,$(BLAS_DIR) \
           -ljansson -lpcre2-8 -linih -lcrypto -lm -fopenmp

BUILD   := build
SRC     := $(filter-out harness/main.c,$(wildcard harness/*/*.c))
OBJ     := $(SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/harness/main.o
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Fuzz targets (tests/fuzz/fuzz_*.c); the test suite replays their corpus through a plain main.
FUZZ_TARGETS := safetensors config_json tokenizer_json tokenizer_bin tok_encode llama2c ini model results ini_include gguf
FUZZ_REPLAY_BIN := $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz_%)

ASAN_OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

.PHONY: all deps test asan test-asan demo bench bench-tools clean tests interop slurm

all: awq-harness

awq-harness: $(OBJ) $(MAIN_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The git commit recorded in results files: build/git-commit.h is rewritten only when the
# commit (or dirtiness) changes, so version.o rebuilds exactly then.
GIT_COMMIT := $(shell git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
$(BUILD)/git-commit.h: FORCE
	@mkdir -p $(BUILD)
	@echo '#define AH_GIT_COMMIT "$(GIT_COMMIT)"' > $@.new
	@cmp -s $@.new $@ && rm -f $@.new || mv $@.new $@
$(BUILD)/harness/core/version.o: $(BUILD)/git-commit.h
$(BUILD)/harness/core/version.o: CFLAGS += -I$(BUILD)
.PHONY: FORCE
FORCE:

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# Unit test programs link every library object (not main.o) and cmocka.
$(BUILD)/tests/%: tests/unit/%.c $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(OBJ) $(LDLIBS) -lcmocka

tests: awq-harness $(TEST_BIN) $(FUZZ_REPLAY_BIN)

# deps: apt-get only when a package is missing, so a prepared machine pays nothing.
deps:
	@bash tools/install-deps

test: deps
	@$(MAKE) --no-print-directory tests
	@bash tests/run.sh

# The interop tests (tests/run.sh runs test_interop_* only under AH_INTEROP=1).
interop: deps
	@$(MAKE) --no-print-directory tests
	@AH_INTEROP=1 AH_ONLY=interop bash tests/run.sh

# The Slurm test (tests/run.sh runs test_slurm only under AH_SLURM=1; it installs the Slurm
# packages itself: tools/install-deps --slurm).
slurm: deps
	@$(MAKE) --no-print-directory tests
	@AH_SLURM=1 AH_ONLY=test_slurm bash tests/run.sh

# The sanitizer build lives in its own tree so it never mixes with the optimised objects.
asan:
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="$(ASAN_OPT)" \
	    build-asan/awq-harness-bin tests-asan
	@cp build-asan/awq-harness-bin awq-harness-asan

build-asan/awq-harness-bin: $(OBJ) $(MAIN_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

tests-asan: $(TEST_BIN) $(FUZZ_REPLAY_BIN)

test-asan: deps asan
	@AH_QUICK=1 AH_BIN=./awq-harness-asan AH_TEST_DIR=build-asan/tests bash tests/run.sh

# The demo builds on every core: on a fresh clone the build is part of its time budget.
demo: deps
	@$(MAKE) --no-print-directory -j$(shell nproc) all
	@bash tools/demo

bench: deps all
	@bash tools/install-deps --bench
	@bash bench/run.sh

# The C programs the bench scripts run, with the harness's own flags and library objects (one
# build line for all of them; the scripts call `make bench-tools`).
BENCH_TOOLS := gemm_peak packed_gemm stream gemm_stored
BENCH_BIN := $(BENCH_TOOLS:%=$(BUILD)/bench/%)
$(BUILD)/bench/%: bench/%.c $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(OBJ) $(LDLIBS)

bench-tools: $(BENCH_BIN)

# Fuzz replay programs: a target's LLVMFuzzerTestOneInput + tests/fuzz/replay_main.c, built
# with the normal compiler (and the sanitizer flags under make asan); tests/cli/fuzz_replay.sh
# runs them over tests/fuzz/corpus/ and tests/fuzz/regressions/.
$(BUILD)/tests/fuzz_replay_main.o: tests/fuzz/replay_main.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/tests/fuzz_replay_main.o $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/fuzz -o $@ $< $(BUILD)/tests/fuzz_replay_main.o $(OBJ) $(LDLIBS)

# ---- fuzzing: make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="ini llama2c"] [-j2] ---------------
# clang's libFuzzer with ASan + UBSan, in build-fuzz/ (never mixed with build/ or build-asan/).
# The library is compiled with coverage instrumentation and without OpenMP (its pragmas are
# ignored; omp_* calls, declared by tests/fuzz/include/omp.h, resolve to libgomp) into an
# archive, so each target links only the objects its parser reaches. Each target runs
# FUZZ_SECONDS from tests/fuzz/corpus/<t> + tests/fuzz/regressions/<t>; new inputs go to
# build-fuzz/corpus/<t> (emptied first unless FUZZ_KEEP=1), crashes to
# build-fuzz/artifacts/<t>/. FUZZ_MERGE=1 merges the new inputs that add coverage into the
# committed corpus afterwards; FUZZ_FLAGS adds libFuzzer flags.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_DIR     := build-fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# -DAH_NO_CLONES: one baseline version of the AH_VEC_CLONES kernels (core/simd.h). clang 14
# (Debian 12) defines a target_clones function only as "f.ifunc", so calls from other files
# stay undefined at link.
FUZZ_CFLAGS  := -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Wno-unknown-pragmas -DAH_NO_CLONES \
                -Itests/fuzz/include $(filter-out -O2 -g -fopenmp,$(CFLAGS))
FUZZ_LIB_OBJ := $(SRC:%.c=$(FUZZ_DIR)/%.o)
FUZZ_LIB     := $(FUZZ_DIR)/libharness.a
FUZZ_LDLIBS  := $(filter-out -fopenmp,$(LDLIBS)) -lgomp
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

.PHONY: fuzz fuzz-deps fuzz-build
fuzz: fuzz-deps
	@$(MAKE) --no-print-directory fuzz-build
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=fuzz-run-%)
	@bash tests/fuzz/summary.sh $(FUZZ_DIR) $(FUZZ_TARGETS)

fuzz-deps:
	@bash tools/install-deps --fuzz

# Objects named here are kept (not intermediate files of the pattern chain).
fuzz-build: $(FUZZ_LIB_OBJ) $(FUZZ_LIB) $(FUZZ_BIN)

$(FUZZ_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_DIR)/harness/core/version.o: $(BUILD)/git-commit.h
$(FUZZ_DIR)/harness/core/version.o: FUZZ_CFLAGS += -I$(BUILD)

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Itests/fuzz -o $@ $< $(FUZZ_LIB) $(FUZZ_LDLIBS)

# No prerequisites: `fuzz` built everything first, and a parser edited while targets run must
# not relink a binary between two runs.
fuzz-run-%:
	@FUZZ_KEEP=$(FUZZ_KEEP) FUZZ_MERGE=$(FUZZ_MERGE) FUZZ_FLAGS="$(FUZZ_FLAGS)" bash tests/fuzz/run-one.sh $* $(FUZZ_SECONDS) $(FUZZ_DIR)

clean:
	rm -rf build build-asan build-fuzz awq-harness awq-harness-asan

-include $(OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_BIN:=.d) $(FUZZ_REPLAY_BIN:=.d)
-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_BIN:=.d)
