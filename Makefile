# Thin wrappers over CMake. `make run` and `make test` are the two commands of the README.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
TSAN_BUILD ?= build-tsan
FUZZ_SECONDS ?= 60
JOBS       ?= $(shell nproc)
CMAKE_GEN  := -G "Unix Makefiles"

.PHONY: all deps build run test asan tsan fuzz format lint bench soak package package-test clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j$(JOBS) -- --no-print-directory

# Starts tenantd in the foreground with embedded dev defaults (./var, ./run, 127.0.0.1:3000)
# and a demo tenant. Ctrl-C stops it cleanly.
run: build
	@exec $(BUILD)/bin/tenantd --dev

test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The whole suite built with AddressSanitizer + UndefinedBehaviorSanitizer (the e2e tests then
# drive the sanitized daemon, so its leaks and errors fail them too).
# -O1 -g1: line tables are all the sanitizers' reports need, and the tree builds ~35 % faster
# than with -O2 -g (37 s vs 23 s for rpc/admin.cpp), which keeps a cold .ci/run in its budget.
SANITIZE_FLAGS := -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
asan: deps
	@cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) $(SANITIZE_FLAGS) -DTENANTD_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS) -- --no-print-directory
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(JOBS)

# ThreadSanitizer over the code that crosses threads: the kj/libuv loop bridge and the document
# worker, the store's writer thread, the usage batcher (with the services over the writer), and
# the client library's loop thread, and managed mode's applier (loop, worker and writer). kj and Cap'n Proto come uninstrumented from Debian, so the
# hand-offs through them are annotated (util/tsan.h) and tests/tsan.supp names what is theirs.
TSAN_TESTS := uv-bridge-test store-test service-test client-test sync-test
tsan: deps
	@cmake -S . -B $(TSAN_BUILD) $(CMAKE_GEN) $(SANITIZE_FLAGS) -DTENANTD_TSAN=ON >/dev/null
	@cmake --build $(TSAN_BUILD) -j$(JOBS) --target $(TSAN_TESTS) -- --no-print-directory
	@for t in $(TSAN_TESTS); do \
	  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	    $(TSAN_BUILD)/bin/$$t || exit 1; done

# Every libFuzzer harness of tests/fuzz for FUZZ_SECONDS each (clang, ASan+UBSan), after
# replaying the committed corpus and regression inputs. .ci/run runs it briefly.
fuzz: deps
	@CC=clang-14 CXX=clang++-14 cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) $(SANITIZE_FLAGS) \
	  -DTENANTD_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzzers -- --no-print-directory
	@scripts/run-fuzzers $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Speed targets live here, each measured beside its floor in the same run (BENCHMARKS.md).
bench: build
	@$(BUILD)/bin/limits-bench
	@bench/rest-bench $(BUILD)
	@bench/rest-instructions $(BUILD)
	@bench/rpc-bench $(BUILD)
	@bench/rpc-instructions $(BUILD)
	@bench/writer-fairness $(BUILD)
	@bench/sync-bench $(BUILD)
	@bench/fleet-bench $(BUILD)

# The long forms of the randomized tests (`make test` runs each briefly).
soak: build
	@TENANTD_MODEL_SEEDS=40 TENANTD_MODEL_STEPS=1000 $(BUILD)/bin/usage-model-test
	@TENANTD_CRASH_ROUNDS=200 $(BUILD)/bin/crash-e2e-test
	@TENANTD_LOAD_SECONDS=60 TENANTD_LOAD_P99_FACTOR=2 $(BUILD)/bin/load-e2e-test

# The Debian packages (tenantd, tenantd-dev) in $(DEB_BUILD)/, built with debhelper and checked
# by lintian; package-test installs them in a Debian 12 container booted with systemd
# (systemd-nspawn) and proves the unit, the hardening and the maintainer scripts there.
DEB_BUILD ?= build-deb
PACKAGE_TOOLS := debhelper lintian man-db
package:
	@scripts/install-deps $(PACKAGE_TOOLS)
	@scripts/make-package $(DEB_BUILD)

package-test: package
	@scripts/install-deps systemd-container debootstrap
	@tests/package/package-test $(DEB_BUILD)

format:
	@scripts/check-format --fix

lint:
	@scripts/check-format
	@scripts/check-no-sleep

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD) $(DEB_BUILD)
