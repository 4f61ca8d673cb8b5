# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# tap.sh: the TAP helpers, process handling and test runner the shell tests share; source it
# from the repository root after setting TEST_NAME (used by skip_all). It sources tests/lab.sh,
# the network-namespace helpers.
#
# A test script is a list of independent test functions, as in xdp-tools' test_runner.sh:
#
#	ALL_TESTS="test_one test_two"
#	setup_test() { ...; }    # optional: the state every test starts from (a namespace...)
#	teardown_test() { ...; } # optional: removes it, whatever the test did or how it ended
#	test_one() { check "..." ...; }
#	run_tests "$@"
#
# run_tests runs each function in a subshell of its own: setup_test, the function, then
# teardown_test from the subshell's EXIT trap, so a failed assertion, an `exit` or an unset
# variable ends that test alone and the next one starts from a clean state. Its TAP lines carry
# the function's name ("ok - test_one: ..."). A failed setup, a test that exits non-zero without
# a "not ok" line, and a test that prints no result at all are each one "not ok". The script's
# first argument picks functions by name, as a bash pattern (`test_one`, `test_*ban*`);
# tests/run.sh passes the part of TESTS after a colon (TESTS=cli_limits:test_monitor); --list
# prints the names.

. "$(dirname "${BASH_SOURCE[0]}")/lab.sh"

CURRENT_TEST=
ok() { echo "ok - ${CURRENT_TEST:+$CURRENT_TEST: }$*"; }
notok() { echo "not ok - ${CURRENT_TEST:+$CURRENT_TEST: }$*"; }
# check NAME COMMAND...: ok when the command succeeds.
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else notok "$name"; fi
}
# jq_true FILTER: the JSON on stdin satisfies FILTER (quiet: check's TAP line must reach stdout)
jq_true() { jq -e "$1" >/dev/null; }
# same NAME WANT GOT
same() {
	if [ "$2" == "$3" ]; then ok "$1"; else notok "$1 (want $2, got $3)"; fi
}
# le NAME A B: A <= B (integers)
le() {
	if [ "$2" -le "$3" ] 2>/dev/null; then ok "$1 ($2 <= $3)"; else notok "$1 ($2 > $3)"; fi
}
note() { echo "# $*"; }
# exited PID: gone, or a zombie waiting for `wait`
exited() {
	local st
	st=$(awk '{ print $3 }' /proc/$1/stat 2>/dev/null)
	[ -z "$st" ] || [ "$st" == Z ]
}
stop_pid() { # PID: TERM, then KILL if it lingers (ours only, by PID)
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null
	for _ in $(seq 50); do
		exited "$1" && break
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}
# poll SECONDS COMMAND...: until the command succeeds, at most SECONDS
poll() {
	local n=$(($1 * 10))
	shift
	while [ $n -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# hold_lock PIN SECONDS: another writer, as a CLI command is: PIN's writers' lock held open for
# writing for SECONDS, in the background (its PID in HOLDER). Returns once it is held (1: not
# within 5 s).
hold_lock() {
	local ready rc
	ready=$(mktemp -u /tmp/fgt-held.XXXXXX)
	(
		exec 9<>"/run/floodgate/$(echo "$1" | tr / _).lock"
		flock -x 9 && touch "$ready" && sleep "$2"
	) &
	HOLDER=$!
	poll 5 test -e "$ready"
	rc=$?
	rm -f "$ready"
	return $rc
}
# skip_all WHY: before run_tests, the whole script is skipped; inside a test, that test.
skip_all() {
	if [ -n "$CURRENT_TEST" ]; then
		echo "ok - $CURRENT_TEST # SKIP $*"
	else
		echo "ok - ${TEST_NAME:-$(basename "$0" .test.sh)} # SKIP $*"
	fi
	exit 0
}

# run_tests [PATTERN|--list]: every function of ALL_TESTS whose name matches PATTERN (all when
# it is empty), each on its own (see the top of this file). Returns non-zero when one failed.
run_tests() {
	local pat=${1:-} t out rc failed=0 ran=0
	if [ "$pat" == --list ]; then
		printf '%s\n' $ALL_TESTS
		return 0
	fi
	out=$(mktemp /tmp/fgt-tap.XXXXXX)
	for t in $ALL_TESTS; do
		# shellcheck disable=SC2053 # PATTERN is a pattern
		[ -z "$pat" ] || [[ $t == $pat ]] || continue
		ran=$((ran + 1))
		(
			CURRENT_TEST=$t
			trap 'declare -F teardown_test >/dev/null && teardown_test' EXIT
			if declare -F setup_test >/dev/null && ! setup_test; then
				notok "setup failed"
				exit 1
			fi
			"$t"
		) | tee "$out"
		rc=${PIPESTATUS[0]}
		if grep -q '^not ok ' "$out"; then
			failed=1
		elif [ "$rc" -ne 0 ]; then
			echo "not ok - $t: exited $rc"
			failed=1
		elif ! grep -q '^ok ' "$out"; then
			echo "not ok - $t: printed no result"
			failed=1
		fi
	done
	rm -f "$out"
	if [ "$ran" -eq 0 ]; then
		echo "not ok - ${TEST_NAME:-$(basename "$0" .test.sh)}: no test matches '$pat' (tests: $ALL_TESTS)"
		return 1
	fi
	return $failed
}
