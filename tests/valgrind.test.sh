#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# valgrind.test.sh: every floodgate command, its --help and some bad input,
# under valgrind --leak-check=full; each must be clean (no invalid access,
# no use of uninitialised memory, no leak) and exit as expected.
#
# The program is attached to the host end of a veth pair whose peer lives
# in a private namespace (198.18.0.0/15 only), with a private pin
# directory, so the reading commands see real sources, bans and events.
# Commands not written yet are reported as SKIP, not as passing. Each
# test function starts from a fresh pair (setup_test); those that read or
# change state attach floodgate first, without valgrind.
#
# valgrind's --error-exitcode is 99, not 1: floodgate itself exits 1 on a
# runtime error and 2 on a usage error, and bad input must do exactly that.
# tests/valgrind.supp holds the few reports that come from valgrind's model
# of the bpf() syscall, not from floodgate (each with its reason).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
TEST_NAME=valgrind
. tests/tap.sh # ok, notok, note, skip_all, run_tests, pair_add, lab_remove
BUILD=${FG_BUILD:-$PWD/build}
FG=$BUILD/floodgate
ID=$$
NS=fgt-vg-$ID
HOST=fgtv$ID-h # host end (floodgate attaches here)
PEER=fgtv$ID-p # namespace end (the sender)
PIN=/sys/fs/bpf/fgt-vg-$ID
PORT=$((20000 + ID % 20000)) # metrics port of the daemon run (127.0.0.1 only)
TMP=$(mktemp -d /tmp/fgt-vg-$ID.XXXXXX)
daemon=

trap 'rm -rf "$TMP"' EXIT

if [ "$(id -u)" -ne 0 ]; then
	echo "ok - valgrind # SKIP needs root (BPF, network namespaces)"
	exit 0
fi
if ! command -v valgrind >/dev/null; then
	echo "ok - valgrind # SKIP valgrind not installed (scripts/deps.sh)"
	exit 0
fi
if [ ! -x "$FG" ]; then
	echo "not ok - valgrind: $FG missing (make BUILD=...)"
	exit 1
fi

# Print the first lines of a file as TAP diagnostics, without valgrind's
# warnings about bpf() commands it does not model (they are not errors).
diag() {
	grep -v -e 'WARNING: unhandled eBPF command' -e '^$' "$1" | head -n "${2:-25}" | sed 's/^/# /'
}

# valgrind does not model BPF_MAP_LOOKUP_BATCH: the shim marks what the
# kernel wrote as defined (tests/valgrind/bpf-shim.c says how and why).
SHIM=$TMP/bpf-shim.so
if ! ${CC:-cc} -shared -fPIC -O2 -o "$SHIM" tests/valgrind/bpf-shim.c -lbpf -ldl 2>"$TMP/shim.err"; then
	echo "not ok - valgrind: cannot build tests/valgrind/bpf-shim.c"
	diag "$TMP/shim.err"
	exit 1
fi

# vg_one N EXPECT NAME ARGS...: run floodgate ARGS under valgrind (files
# $TMP/N.*) and print one TAP line. EXPECT is the exit code wanted: 0, 1, 2,
# or "bad" for 1 or 2 (a refused input).
vg_one() {
	local n=$1 expect=$2 name=$3 rc ok
	shift 3
	LD_PRELOAD=$SHIM valgrind -q --leak-check=full --error-exitcode=99 \
		--suppressions=tests/valgrind.supp --log-file="$TMP/$n.vg" "$FG" --pin-dir "$PIN" "$@" >"$TMP/$n.out" 2>"$TMP/$n.err" \
		</dev/null
	rc=$?
	if grep -q 'not implemented yet' "$TMP/$n.err"; then
		ok "$name # SKIP $(grep -m1 'not implemented yet' "$TMP/$n.err")"
		return
	fi
	case $expect in
	bad) [ $rc -eq 1 ] || [ $rc -eq 2 ] && ok=1 || ok=0 ;;
	*) [ $rc -eq "$expect" ] && ok=1 || ok=0 ;;
	esac
	if [ $rc -eq 99 ]; then
		notok "$name: valgrind found errors (floodgate $*)"
		diag "$TMP/$n.vg" 40
	elif [ $ok -eq 0 ]; then
		notok "$name: exit $rc, expected $expect (floodgate $*)"
		diag "$TMP/$n.err" 5
	else
		ok "$name"
	fi
}

# vg EXPECT NAME ARGS...: vg_one in order. Between `parallel` and `barrier`
# the runs go in the background, JOBS at a time (only commands that change
# nothing, or fail before changing anything); their lines print in order.
JOBS=$(nproc 2>/dev/null || echo 2)
seq_n=0
bg=0
vg() {
	seq_n=$((seq_n + 1))
	local n
	n=$(printf '%04d' $seq_n)
	if [ $bg -eq 0 ]; then
		vg_one "$n" "$@"
		return
	fi
	vg_one "$n" "$@" >"$TMP/$n.tap" &
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
		wait -n
	done
}
parallel() { bg=1; }
barrier() {
	wait
	bg=0
	cat "$TMP"/*.tap 2>/dev/null
	rm -f "$TMP"/*.tap
}

# Every test: a veth pair, the peer (198.18.0.2) in a namespace, the host end 198.18.0.1.
setup_test() {
	pair_add "$NS" "$HOST" "$PEER" 198.18.0.1/24 198.18.0.2/24 || return 1
}
teardown_test() {
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	lab_remove "$FG" "$PIN" "$HOST" "$NS"
	rm -f "$TMP"/[0-9]* "$TMP"/daemon.* "$TMP/metrics"
}

# send N UDP datagrams from the namespace to the host end (bash's /dev/udp:
# no tool needed; bounded by the count)
send() {
	ip netns exec "$NS" bash -c 'for ((i = 0; i < $1; i++)); do
		echo x >/dev/udp/198.18.0.1/9
	done' send "$1" 2>/dev/null
}

cat >"$TMP/good.yaml" <<EOF
interfaces: [$HOST]
default:
  pps: 1000
endpoints:
  - endpoint: udp/53
    pps: 50
    action: ban
    ban_for: 10m
allow: [198.19.255.0/24]
deny: [198.19.254.0/24]
metrics:
  listen: 127.0.0.1:$PORT
  top_sources: 5
EOF
printf 'default:\n  pps: -1\n  action: explode\nendpoints: 7\nnope: 1\n' >"$TMP/bad.yaml"
printf 'default: [\n' >"$TMP/broken.yaml"

# attached: floodgate on the host end (without valgrind), else the test ends
attached() {
	"$FG" --pin-dir "$PIN" attach "$HOST" >/dev/null 2>&1
	if ! "$FG" --pin-dir "$PIN" status >/dev/null 2>&1; then
		notok "floodgate is not attached; the state commands cannot run"
		exit 1
	fi
}

# the daemon: start, one scrape, SIGTERM
run_daemon() {
	local rc i scraped=0
	LD_PRELOAD=$SHIM valgrind -q --leak-check=full --error-exitcode=99 \
		--suppressions=tests/valgrind.supp --log-file="$TMP/daemon.vg" "$FG" --pin-dir "$PIN" run --config "$TMP/good.yaml" \
		>"$TMP/daemon.out" 2>"$TMP/daemon.err" </dev/null &
	daemon=$!
	for i in $(seq 1 60); do # valgrind starts slowly: up to 30 s
		if curl -fsS -m 5 "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics" 2>/dev/null; then
			scraped=1
			break
		fi
		kill -0 "$daemon" 2>/dev/null || break
		sleep 0.5
	done
	send 5
	curl -fsS -m 5 -o /dev/null "http://127.0.0.1:$PORT/nope" 2>/dev/null
	kill -TERM "$daemon" 2>/dev/null
	wait "$daemon"
	rc=$?
	daemon=
	if grep -q 'not implemented yet' "$TMP/daemon.err"; then
		ok "run (daemon) # SKIP $(grep -m1 'not implemented yet' "$TMP/daemon.err")"
	elif [ $rc -eq 99 ]; then
		notok "run (daemon): valgrind found errors"
		diag "$TMP/daemon.vg" 40
	elif [ $scraped -eq 0 ] || ! grep -q '^floodgate_packets_total' "$TMP/metrics"; then
		notok "run (daemon): no metrics on 127.0.0.1:$PORT (exit $rc)"
		diag "$TMP/daemon.err" 10
	elif [ $rc -ne 0 ]; then
		notok "run (daemon): exit $rc after SIGTERM"
		diag "$TMP/daemon.err" 10
	else
		ok "run (daemon): served metrics, stopped on SIGTERM"
	fi
}

ALL_TESTS="test_no_state test_attach test_reading test_changes test_daemon test_detach"

# no state needed
test_no_state() {
	parallel
	vg 0 "--help" --help
	vg 0 "--version" --version
	vg 2 "no command"
	vg 2 "unknown command" frobnicate
	vg 2 "unknown global option" --frobnicate status
	for c in attach detach status limit allow deny ban stats top events config run; do
		vg 0 "$c --help" "$c" --help
	done
	vg bad "attach to a missing interface" attach fgt-no-such-if
	vg bad "attach with a bad mode" attach "$HOST" --mode warp
	vg 0 "config check" config check "$TMP/good.yaml"
	vg 0 "config check -j" -j config check "$TMP/good.yaml"
	vg 1 "config check bad values" config check "$TMP/bad.yaml"
	vg 1 "config check broken YAML" config check "$TMP/broken.yaml"
	vg bad "config check missing file" config check "$TMP/missing.yaml"
	vg bad "run without --config" run
	barrier
}

test_attach() {
	vg 0 "attach" attach "$HOST"
	vg 0 "attach again (in-place upgrade)" attach "$HOST"
}

# reading commands on sources, bans and events, and input refused before anything changes
test_reading() {
	attached
	# the default rule bans at 2 pps: a few datagrams give a source, a ban and an event
	"$FG" --pin-dir "$PIN" limit set default --pps 2 --burst 2 --action ban --ban-for 10m \
		>/dev/null 2>&1
	send 50
	local st
	st=$("$FG" --pin-dir "$PIN" -j status 2>/dev/null)
	if grep -q '"sources": *[1-9]' <<<"$st" && grep -q '"bans": *[1-9]' <<<"$st"; then
		ok "traffic made sources and a ban for the reading commands"
	else
		notok "traffic made sources and a ban for the reading commands (status: $st)"
	fi
	parallel
	vg 0 "status" status
	vg 0 "status -j" -j status
	vg 0 "stats" stats
	vg 0 "stats -p" -p stats
	vg bad "stats --watch 0" stats --watch 0
	vg 0 "top (one read)" top -i 0
	vg 0 "top -j by drops" -j top -n 3 --by drops -i 0
	vg bad "top -n abc" top -n abc
	vg bad "top --by colour" top --by colour -i 0
	vg 0 "events (no --follow)" events
	vg 0 "events -j" -j events
	vg 0 "ban list (automatic ban)" ban list --all
	vg 0 "config dump" config dump
	vg 0 "config dump -j" -j config dump
	vg bad "limit set bad port" limit set tcp/99999 --pps 1
	vg bad "limit set bad rate" limit set tcp/80 --pps lots
	for l in allow deny; do
		vg bad "$l add host bits" "$l" add 198.18.7.1/24
		vg bad "$l add not an address" "$l" add 198.18.300.0/24
	done
	vg bad "ban add bad duration" ban add 198.18.9.8 --for 0s
	vg bad "ban add prefix too long" ban add 2001:db8::/129
	vg bad "config apply bad file" config apply "$TMP/bad.yaml"
	barrier
}

# changes, in order
test_changes() {
	attached
	vg 0 "limit set" limit set tcp/8080 --pps 100 --burst 200 --bps 10m --action monitor
	vg 0 "limit set range" limit set udp/2000-2100 --total-pps 500 --prefix4 24
	vg 0 "limit list" limit list
	vg 0 "limit list -j" -j limit list
	vg 0 "limit del" limit del tcp/8080
	vg bad "limit set overlapping range" limit set udp/2050 --pps 1
	vg bad "limit del missing endpoint" limit del tcp/9
	for l in allow deny; do
		vg 0 "$l add" "$l" add 198.18.7.0/24
		vg 0 "$l add IPv6" "$l" add 2001:db8:7::/48
		vg 0 "$l list" "$l" list
		vg 0 "$l list -j" -j "$l" list
		vg 0 "$l del" "$l" del 198.18.7.0/24
		vg 0 "$l del IPv6" "$l" del 2001:db8:7::/48
	done
	vg 0 "ban add" ban add 198.18.9.9 --for 5m
	vg 0 "ban add IPv6 prefix" ban add 2001:db8:9::/64 --for 1h
	vg 0 "ban list -j" -j ban list
	vg 0 "ban del" ban del 198.18.9.9
	vg 0 "config apply" config apply "$TMP/good.yaml"
}

test_daemon() {
	attached
	run_daemon
	vg bad "run with a bad listen address" run --config "$TMP/good.yaml" --metrics 127.0.0.1:99999
}

test_detach() {
	attached
	vg bad "detach a missing interface" detach fgt-no-such-if
	vg 0 "detach" detach "$HOST"
	vg 0 "detach --all" detach --all
}

run_tests "$@"
