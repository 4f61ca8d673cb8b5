#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# san.test.sh: the userspace built with -fsanitize=address,undefined
# (`make SAN=1`, in its own folder BUILD-san) and every C test of that
# build run under it: no memory error, leak or undefined behaviour, and
# every test passing. One TAP line per test program, its failures below.
# Two test functions: the build, and the test programs (which make the
# build first, up to date when the first one ran).
cd "$(dirname "$0")/.." || exit 1
TEST_NAME=san
. tests/tap.sh # ok, notok, run_tests
BUILD=${FG_BUILD:-$PWD/build}
SAN=${BUILD%/}-san
PER_TEST=${SAN_TEST_TIMEOUT:-180} # seconds a test program may take under the sanitizers
TMP=$(mktemp -d /tmp/fgt-san-$$.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# san_build: make SAN=1 into SAN; its errors as comments when it fails
san_build() {
	make -s --no-print-directory -j"$(nproc)" SAN=1 BUILD="$SAN" all >"$TMP/make.log" 2>&1 && return 0
	grep -E 'error|Error' "$TMP/make.log" | head -20 | sed 's/^/# /'
	return 1
}

test_build() {
	check "make SAN=1 BUILD=$SAN" san_build
}

test_programs() {
	local t name rc n_fail n_ok why found=0
	if ! san_build; then
		notok "make SAN=1 BUILD=$SAN (the test programs need it)"
		return
	fi
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	export CMOCKA_MESSAGE_OUTPUT=TAP
	export FG_BUILD=$SAN # tests that run tools or the binary use the SAN build too
	for t in "$SAN"/tests/test_*; do
		[ -x "$t" ] || continue
		found=1
		name=$(basename "$t")
		timeout -k 5 "$PER_TEST" "$t" >"$TMP/out" 2>&1
		rc=$?
		n_fail=$(grep -cE '^not ok ' "$TMP/out")
		n_ok=$(grep -cE '^ok ' "$TMP/out")
		if [ $rc -eq 0 ] && [ "$n_fail" -eq 0 ]; then
			ok "$name ($n_ok passed)"
			continue
		fi
		why="exit $rc"
		[ $rc -eq 124 ] && why="timed out after ${PER_TEST}s"
		grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$TMP/out" &&
			why="$why, sanitizer report"
		notok "$name: $why, $n_fail failed"
		# the sanitizer's report if there is one, else the end of the output
		if grep -qE 'ERROR: |runtime error:' "$TMP/out"; then
			grep -m1 -A30 -E 'ERROR: |runtime error:' "$TMP/out" | sed 's/^/# /'
		else
			tail -n 30 "$TMP/out" | sed 's/^/# /'
		fi
	done
	[ $found -eq 1 ] || notok "no test programs in $SAN/tests"
}

ALL_TESTS="test_build test_programs"
run_tests "$@"
