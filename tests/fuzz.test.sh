#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# fuzz.test.sh: the short fuzzing run of `make test`. Each libFuzzer target
# (tests/fuzz/fuzz_*.c) is a test function: it runs FUZZ_SECONDS (default
# 15: the three run one after another) with ASan and UBSan, after replaying its seed corpus; any crash, leak,
# timeout or undefined behaviour fails it (scripts/fuzz.sh; `make fuzz` is
# the long run). A target whose code is not written yet is a SKIP, a
# missing target a failure.
cd "$(dirname "$0")/.." || exit 1
TEST_NAME=fuzz
. tests/tap.sh # ok, notok, skip_all, run_tests
BUILD=${FG_BUILD:-$PWD/build}
command -v clang >/dev/null || skip_all "clang not installed (scripts/deps.sh)"

# fuzz TARGET: one target through scripts/fuzz.sh, its TAP line
fuzz() {
	if [ ! -f "tests/fuzz/$1.c" ]; then
		notok "$1: tests/fuzz/$1.c missing"
		return
	fi
	FUZZ_SECONDS=${FUZZ_SECONDS:-15} FUZZ_JOBS=1 FUZZ_TAP=1 scripts/fuzz.sh "$BUILD" "$1"
}

ALL_TESTS="test_fuzz_args test_fuzz_config test_fuzz_metrics"
test_fuzz_args() { fuzz fuzz_args; }
test_fuzz_config() { fuzz fuzz_config; }
test_fuzz_metrics() { fuzz fuzz_metrics; }

run_tests "$@"
