# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# tap.sh: TAP helpers and process handling the shell tests share; source it
# after setting TEST_NAME (used by skip_all).

ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; }
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
# lab_remove FG PIN LINK NS: a test's network state, each part only if it is there: detach
# everything pinned under PIN and remove it, the veth LINK (its peer goes too), the namespace NS
lab_remove() {
	"$1" --pin-dir "$2" detach --all >/dev/null 2>&1
	rm -rf "$2"
	ip link del "$3" 2>/dev/null
	ip netns del "$4" 2>/dev/null
	return 0
}
# lab_teardown FG PIN TMP: a lab test's state, each part only if it is there: floodgate detached
# from everything pinned under PIN and PIN removed, the lab (scripts/lab.sh, $LAB_ID) down, TMP
# removed. The caller ends its own processes first, by PID.
lab_teardown() {
	"$1" --pin-dir "$2" detach --all >/dev/null 2>&1
	[ -d "$2" ] && rm -rf "$2"
	scripts/lab.sh down >/dev/null 2>&1
	rm -rf "$3"
	return 0
}
skip_all() {
	echo "ok - ${TEST_NAME:-$(basename "$0" .test.sh)} # SKIP $*"
	exit 0
}
