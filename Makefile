# awq-harness — flat, commented Makefile.
#
#   make            build ./awq-harness (-O2 -fopenmp, warnings on)
#   make deps       install the Debian packages the build and tests need (no-op when present)
#   make test       deps + build + the whole test suite (tests/run.sh)
#   make asan       ./awq-harness-asan built with AddressSanitizer + UBSan
#   make test-asan  the test suite against the sanitizer build
#   make demo       deps + build + the quickstart on the bundled model (run, report, plots)
#   make bench      performance benchmarks (never part of test)
#   make clean

CC      ?= cc
# OPT: optimisation and instrumentation (the sanitizer build overrides it).
# No -ffast-math anywhere: the harness must detect NaN and inf in weights and activations.
OPT     ?= -O2 -g
CFLAGS  := $(OPT) -std=c11 -D_GNU_SOURCE -fopenmp -Wall -Wextra -Wno-unused-parameter -MMD -MP
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

ASAN_OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

.PHONY: all deps test asan test-asan demo bench clean tests

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

tests: awq-harness $(TEST_BIN)

# deps: apt-get only when a package is missing, so a prepared machine pays nothing.
deps:
	@bash tools/install-deps

test: deps
	@$(MAKE) --no-print-directory tests
	@bash tests/run.sh

# The sanitizer build lives in its own tree so it never mixes with the optimised objects.
asan:
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="$(ASAN_OPT)" \
	    build-asan/awq-harness-bin tests-asan
	@cp build-asan/awq-harness-bin awq-harness-asan

build-asan/awq-harness-bin: $(OBJ) $(MAIN_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

tests-asan: $(TEST_BIN)

test-asan: deps asan
	@AH_QUICK=1 AH_BIN=./awq-harness-asan AH_TEST_DIR=build-asan/tests bash tests/run.sh

# The demo builds on every core: on a fresh clone the build is part of its time budget.
demo: deps
	@$(MAKE) --no-print-directory -j$(shell nproc) all
	@bash tools/demo

bench: deps all
	@bash bench/run.sh

clean:
	rm -rf build build-asan awq-harness awq-harness-asan

-include $(OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_BIN:=.d)
