#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# run.sh BUILD: run every test and end with "N passed, N failed[, N skipped]".
#
# Every test program and script prints TAP lines: "ok - name",
# "not ok - name", "ok - name # SKIP why". C tests are the build's
# tests/test_* binaries (cmocka with TAP output); shell tests are
# tests/*.test.sh. A program that exits non-zero without a "not ok" line
# counts as one failure of its own.
#
# TESTS picks what runs: TESTS=PATTERN runs the tests whose name or file name
# contains PATTERN (test_config, cli_limits, cli_limits.test.sh, cli_ ...);
# TESTS=PATTERN:FUNCTION runs, of the matching shell tests, only the test
# functions FUNCTION names, a bash pattern (TESTS=cli_limits:test_monitor,
# TESTS='cli_lists:test_*ban*'). Each shell test is a list of independent
# test functions (tests/tap.sh, run_tests); `bash tests/NAME.test.sh --list`
# prints them. A C test program runs whole whatever FUNCTION says.
#
# Whatever a test leaves at the top of /sys/fs/bpf or among the network
# namespaces (it must remove what it creates) is one more failure, and is
# named; only root sees those, and two runs at once would see each other's.
set -uo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."
export FG_BUILD=$PWD/$BUILD
export CMOCKA_MESSAGE_OUTPUT=TAP
pass=0 fail=0 skip=0
failed=() times=()

# pins, namespaces and the processes tests start present now, one per line
leftovers() {
	# maps.debug and progs.debug are the kernel's own (bpf_preload), made
	# whenever a bpffs is mounted: not a test's
	ls -A /sys/fs/bpf 2>/dev/null | grep -vxE '(maps|progs)\.debug' |
		sed 's|^|/sys/fs/bpf/|'
	ip netns list 2>/dev/null | awk '{ print "netns " $1 }'
	# not zombies: dead, waiting for a PID 1 that may reap them late
	ps -eo pid=,stat=,comm= | awk '$2 !~ /^Z/ && $3 ~ /^(floodgate|trafgen|redis-server|nginx|wrk|prometheus)$/ {
		print "process " $1 " " $3 }'
}
# what is there now that was not in $1 (a list from leftovers)
left_since() { comm -13 <(sort <<<"$1") <(leftovers | sort) | tr '\n' ' '; }

run_one() { # name cmd...
	local name=$1 out rc n_ok n_fail n_skip before left t0=$SECONDS
	shift
	out=$(mktemp)
	printf '== %s\n' "$name"
	before=$(leftovers)
	"$@" >"$out" 2>&1
	rc=$?
	times+=("$((SECONDS - t0)) s $name")
	left=$(left_since "$before")
	# a process on its way out (a signalled nginx worker) gets a second
	[[ $left == *process* ]] && sleep 1 && left=$(left_since "$before")
	[ -n "$left" ] && printf '\nnot ok - %s removes what it creates (left: %s)\n' "$name" "$left" >>"$out"
	grep -E '^(not )?ok ' "$out" | sed 's/^/   /'
	n_skip=$(grep -cE '^ok .*# ?SKIP' "$out")
	n_ok=$(grep -E '^ok ' "$out" | grep -cvE '# ?SKIP')
	n_fail=$(grep -cE '^not ok ' "$out")
	if [ "$rc" -ne 0 ] && [ "$n_fail" -eq 0 ]; then
		n_fail=1
		echo "   not ok - $name exited $rc"
	fi
	if [ "$n_fail" -gt 0 ] || [ "$rc" -ne 0 ]; then
		echo "   --- output of $name (last 40 lines) ---"
		tail -n 40 "$out" | sed 's/^/   | /'
		failed+=("$name")
	fi
	pass=$((pass + n_ok)) fail=$((fail + n_fail)) skip=$((skip + n_skip))
	rm -f "$out"
}

PICK=${TESTS:-}
FUNCS=
if [[ $PICK == *:* ]]; then
	FUNCS=${PICK#*:} PICK=${PICK%%:*}
fi
want() { [ -z "$PICK" ] || [[ $1 == *$PICK* ]] || [[ ${2:-} == *$PICK* ]]; } # NAME [FILE]

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	want "$name" && run_one "$name" "$t"
done
for t in tests/*.test.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .test.sh)
	want "$name" "$(basename "$t")" && run_one "$name" bash "$t" ${FUNCS:+"$FUNCS"}
done

# the slowest five, so the suite's time stays visible (CI allows 90 minutes; keep it near 10)
printf '%s\n' "${times[@]}" | sort -rn | head -5 | sed 's/^/time: /'
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
