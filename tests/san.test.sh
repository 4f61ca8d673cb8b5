#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# san.test.sh: the userspace built with -fsanitize=address,undefined
# (`make SAN=1`, in its own folder BUILD-san) and every C test of that
# build run under it: no memory error, leak or undefined behaviour, and
# every test passing. One TAP line per test program, its failures below.
cd "$(dirname "$0")/.."
BUILD=${FG_BUILD:-$PWD/build}
SAN=${BUILD%/}-san
PER_TEST=${SAN_TEST_TIMEOUT:-180} # seconds a test program may take under the sanitizers
TMP=$(mktemp -d /tmp/fgt-san-$$.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

if ! make -s --no-print-directory -j"$(nproc)" SAN=1 BUILD="$SAN" all >"$TMP/make.log" 2>&1; then
	echo "not ok - san: make SAN=1 BUILD=$SAN"
	grep -E 'error|Error' "$TMP/make.log" | head -20 | sed 's/^/# /'
	exit 1
fi
echo "ok - san: make SAN=1 BUILD=$SAN"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export CMOCKA_MESSAGE_OUTPUT=TAP
export FG_BUILD=$SAN # tests that run tools or the binary use the SAN build too
found=0
for t in "$SAN"/tests/test_*; do
	[ -x "$t" ] || continue
	found=1
	name=$(basename "$t")
	timeout -k 5 "$PER_TEST" "$t" >"$TMP/out" 2>&1
	rc=$?
	n_fail=$(grep -cE '^not ok ' "$TMP/out")
	n_ok=$(grep -cE '^ok ' "$TMP/out")
	if [ $rc -eq 0 ] && [ "$n_fail" -eq 0 ]; then
		echo "ok - san: $name ($n_ok passed)"
		continue
	fi
	why="exit $rc"
	[ $rc -eq 124 ] && why="timed out after ${PER_TEST}s"
	grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$TMP/out" &&
		why="$why, sanitizer report"
	echo "not ok - san: $name: $why, $n_fail failed"
	# the sanitizer's report if there is one, else the end of the output
	if grep -qE 'ERROR: |runtime error:' "$TMP/out"; then
		grep -m1 -A30 -E 'ERROR: |runtime error:' "$TMP/out" | sed 's/^/# /'
	else
		tail -n 30 "$TMP/out" | sed 's/^/# /'
	fi
done
[ $found -eq 1 ] || echo "not ok - san: no test programs in $SAN/tests"
