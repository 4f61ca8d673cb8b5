#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# fuzz.sh [BUILD [TARGET...]]: build the libFuzzer targets of tests/fuzz/
# with AddressSanitizer and UBSan, then run each for FUZZ_SECONDS (default
# 300). `make fuzz` runs it; tests/fuzz.test.sh runs it for 30 s a target.
#
# Every user/*.c but main.c is compiled with clang, coverage and the
# sanitizers into BUILD/fuzz/libfg.a; a target links only the objects it
# needs from it. A target whose source names `fuzz-requires: SYMBOL...`
# is skipped while one of those functions has no real (strong) definition
# yet, e.g. while only the weak stand-in of user/pending.c exists.
#
# Inputs libFuzzer finds go to BUILD/fuzz/corpus/TARGET (kept between
# runs, never into the committed seeds in tests/fuzz/corpus/TARGET); a
# crash, leak, timeout or UB report leaves its input in
# BUILD/fuzz/artifacts/ and makes the script fail.
#
# Environment: FUZZ_SECONDS per target; FUZZ_JOBS targets at a time
# (default 1); FUZZ_TAP=1 prints one TAP line per target; FUZZ_VERBOSE=1
# keeps the parsers' own error lines; CC_FUZZ (default clang).
set -uo pipefail

cd "$(dirname "$0")/.."
BUILD=${1:-build}
shift || true
SECONDS_PER=${FUZZ_SECONDS:-300}
JOBS=${FUZZ_JOBS:-1}
TAP=${FUZZ_TAP:-0}
CC_FUZZ=${CC_FUZZ:-clang}
OUT=$BUILD/fuzz
VERSION=$(sed -n 's/^VERSION := //p' Makefile)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="-g -O1 -std=gnu11 -Wall -Wextra -Wno-unused-parameter $SAN \
	-Iheaders -Iuser -I$BUILD -DFG_VERSION=\"$VERSION\""
LDLIBS=$(sed -n 's/^LDLIBS := //p' Makefile) # the floodgate binary's libraries

say() { [ "$TAP" = 1 ] && printf '# %s\n' "$*" || printf 'fuzz: %s\n' "$*"; }
die() {
	echo "error: fuzz: $*" >&2
	[ "$TAP" = 1 ] && echo "not ok - fuzz build: $*"
	exit 1
}

if [ $# -gt 0 ]; then
	targets=("$@")
else
	targets=()
	for f in tests/fuzz/fuzz_*.c; do
		[ -f "$f" ] && targets+=("$(basename "$f" .c)")
	done
fi
[ ${#targets[@]} -gt 0 ] || die "no targets in tests/fuzz/"
command -v "$CC_FUZZ" >/dev/null || die "$CC_FUZZ not found (scripts/deps.sh installs clang)"

mkdir -p "$OUT/obj" "$OUT/artifacts" || die "cannot create $OUT"

# attach.c and friends include the skeleton: make it (cheap when up to date).
make -s --no-print-directory BUILD="$BUILD" "$BUILD/floodgate.skel.h" >/dev/null ||
	die "cannot build $BUILD/floodgate.skel.h"

# The library: every user/*.c but main.c, rebuilt when it or a header changed.
newest_header=$(ls -t headers/*.h user/*.h "$BUILD/floodgate.skel.h" | head -n1)
objs=()
for src in user/*.c; do
	[ "$src" = user/main.c ] && continue
	obj=$OUT/obj/$(basename "$src" .c).o
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_header" -nt "$obj" ]; then
		# A file that does not compile stays out of the library: only the
		# targets that need it fail (they do not link).
		# shellcheck disable=SC2086 # CFLAGS is a list of words
		if ! $CC_FUZZ $CFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$obj" \
			2>"$OUT/obj/$(basename "$src" .c).err"; then
			rm -f "$obj"
			say "warning: $src does not compile: $(grep -m1 error: "$OUT/obj/$(basename "$src" .c).err")"
			continue
		fi
	fi
	objs+=("$obj")
done
rm -f "$OUT/libfg.a"
ar rcs "$OUT/libfg.a" "${objs[@]}" || die "ar $OUT/libfg.a"
defined=$(nm -g --defined-only "$OUT/libfg.a" 2>/dev/null | awk '$2 == "T" { print $3 }')

# Per target: build, check its requirements, run. Results go to $OUT/TARGET.result.
run_target() { # target
	local t=$1 src=tests/fuzz/$1.c bin=$OUT/$1 log=$OUT/$1.log req missing=() dict=()
	local seeds=tests/fuzz/corpus/$1 work=$OUT/corpus/$1 rc runs

	if [ ! -f "$src" ]; then
		echo "skip|no $src" >"$OUT/$t.result"
		return
	fi
	for req in $(sed -n 's/.*fuzz-requires:\(.*\)\*\/.*/\1/p; s/.*fuzz-requires:\(.*\)$/\1/p' "$src"); do
		grep -qx "$req" <<<"$defined" || missing+=("$req")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "skip|${missing[*]} not implemented yet in user/" >"$OUT/$t.result"
		return
	fi
	# shellcheck disable=SC2086
	if ! $CC_FUZZ $CFLAGS -fsanitize=fuzzer "$src" "$OUT/libfg.a" $LDLIBS -o "$bin" \
		>"$log" 2>&1; then
		echo "fail|does not build: $(grep -m1 error: "$log")" >"$OUT/$t.result"
		return
	fi
	mkdir -p "$work" "$seeds"
	[ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		"$bin" -max_total_time="$SECONDS_PER" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t-" "${dict[@]}" \
		"$work" "$seeds" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	if [ $rc -eq 0 ] && grep -q "^$t: SKIP: " "$log"; then
		# the target cannot run here (fuzz_metrics needs root for its maps)
		echo "skip|$(sed -n "s/^$t: SKIP: //p" "$log" | head -n1)" >"$OUT/$t.result"
	elif [ $rc -eq 0 ]; then
		echo "pass|${runs:-?} runs in ${SECONDS_PER}s, $(find "$work" -type f | wc -l) inputs in corpus" \
			>"$OUT/$t.result"
	else
		echo "fail|exit $rc after ${runs:-?} runs: $(grep -m1 -E 'ERROR:|runtime error|SUMMARY|fuzz_[a-z]+: ' "$log")" \
			>"$OUT/$t.result"
	fi
}

pids=()
for t in "${targets[@]}"; do
	rm -f "$OUT/$t.result"
	say "$t: running for ${SECONDS_PER}s"
	run_target "$t" &
	pids+=($!)
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
		wait -n
	done
done
wait "${pids[@]}"

fails=0
for t in "${targets[@]}"; do
	IFS='|' read -r verdict why <"$OUT/$t.result" || verdict=fail why="no result"
	case $verdict in
	pass)
		[ "$TAP" = 1 ] && echo "ok - $t: $why" || say "$t: ok: $why"
		;;
	skip)
		[ "$TAP" = 1 ] && echo "ok - $t # SKIP $why" || say "$t: skipped: $why"
		;;
	*)
		fails=$((fails + 1))
		if [ "$TAP" = 1 ]; then
			echo "not ok - $t: $why"
		else
			say "$t: FAILED: $why"
		fi
		[ -f "$OUT/$t.log" ] && tail -n 30 "$OUT/$t.log" | sed 's/^/# /'
		for a in "$OUT/artifacts/$t-"*; do
			[ -f "$a" ] && echo "# reproduce: $OUT/$t $a"
		done
		;;
	esac
done
[ $fails -eq 0 ]
