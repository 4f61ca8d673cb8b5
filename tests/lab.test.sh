#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# lab.test.sh: the lab (scripts/lab.sh), the traffic generator (trafgen) with
# each of its methods, and floodgate limiting a flood in it. Bounded: every
# send has a count and a time bound.
#
# Counts are taken at the receiver, inside the server namespace: frames to a
# closed port end as UdpNoPorts / Udp6NoPorts (only when their checksum is
# right; a bad one would land in InCsumErrors) and TCP SYNs as OutRsts. The
# generator sends at a capped rate, so no frame may be lost on the way: the
# counts must match exactly, and the generator's own account must too:
# frames sent, no ring drops, and what the veth peer received (which also
# counts the attacker namespace's own odd packet, so to within 4).
#
# Every method is tested on every kernel but `live`, which some kernels
# refuse (it is then skipped, and `auto` must have chosen `packet`). Per
# source, the counts of `packet` on two CPUs and of `loop` are read back
# from floodgate's own per-source counters. The loop's helper veth pair
# must be gone after a send, after SIGTERM, and (reaped by the next loop)
# after SIGKILL, and a killed loop must stop sending. Each test function
# brings a lab of its own up (in_lab) and teardown_test takes it down.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
TEST_NAME=lab
. tests/tap.sh # ok, notok, check, same, le, note, exited, stop_pid, poll, skip_all
BUILD=${FG_BUILD:-$PWD/build}
TG=$BUILD/tests/trafgen
FG=$BUILD/floodgate
export LAB_ID=t$$
PIN=/sys/fs/bpf/fgl$LAB_ID
N=20000
RATE=20000
TMP=$(mktemp -d /tmp/fgt-lab.XXXXXX)
BG=

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
for c in nginx ethtool curl nstat jq; do
	command -v $c >/dev/null || skip_all "$c missing (make deps)"
done
[ -x "$TG" ] && [ -x "$FG" ] || skip_all "build $TG and $FG first"

trap 'rm -rf "$TMP"' EXIT
teardown_test() {
	stop_pid "$BG"
	fg_remove "$FG" "$PIN"
	lab_down
	rm -f "$TMP"/*
}

counter() { # NAME: the server namespace's SNMP counter
	ip netns exec "$LAB_NS_SRV" nstat -az "$1" | awk -v n="$1" '$1 == n {print $2}'
}
tg() { ip netns exec "$LAB_NS_ATK" "$TG" "$@"; }
# loop pairs (tg<PID>l/s) in the attacker namespace, one name per line
pairs() { ip -n "$LAB_NS_ATK" -o link show | grep -o ' tg[0-9]*[ls]\b' | tr -d ' '; }
txc() { ip -n "$LAB_NS_ATK" -j -s link show dev lab0 | jq '.[0].stats64.tx.packets'; }

# send_counted NAME COUNTER ARGS...: N frames at RATE, then the receiver's count must be N
send_counted() {
	local name=$1 ctr=$2 before after
	shift 2
	before=$(counter "$ctr")
	tg -j send lab0 --dmac "$LAB_SRV_MAC" --count $N --duration 10 --rate $RATE "$@" \
		>"$TMP/out.json" 2>"$TMP/err"
	check "$name: generator exits 0$(sed 's/^/: /' "$TMP/err" | head -1)" test $? -eq 0
	after=$(counter "$ctr")
	same "$name: generator counts $N frames" $N "$(jq .frames "$TMP/out.json")"
	# the veth counters also count the attacker namespace's own few packets (MLD
	# reports just after lab up): exact to within those
	check "$name: veth peer received $N (+ up to 4 of its own), no ring drops" \
		jq_true ".peer_received >= $N and .peer_received <= $N + 4 and .peer_dropped == 0" \
		<"$TMP/out.json"
	same "$name: server counts $N ($ctr)" $N $((after - before))
}

# in_lab: the lab up and settled (the namespaces' own frames sent) and its names in this shell
# (LAB_*), else the test ends
in_lab() {
	lab_up || {
		notok "lab up"
		exit 1
	}
	lab_settle
}
# live_frames: LIVE is "allowed" when this kernel lets the generator send live frames
live_frames() {
	tg check lab0 >"$TMP/check" 2>&1
	LIVE=$(sed -n 's/^live frames: //p' "$TMP/check")
}

# method M: what method M says it sends arrives, exactly, and the server sees no bad checksum
method() {
	send_counted "$1: udp4, 1000 sequential sources" UdpNoPorts --method $1 --dst "$LAB_SRV4" \
		--dport 9 --src 198.19.0.0 --sources 1000
	same "$1: the report names the method" $1 "$(jq -r .method "$TMP/out.json")"
	send_counted "$1: udp6, 100000 random sources" Udp6NoPorts --method $1 --dst "$LAB_SRV6" \
		--dport 9 --src 2001:db8:1:: --sources 100000 --random
	send_counted "$1: tcp4 syn" TcpOutRsts --method $1 --dst "$LAB_SRV4" --dport 9 --proto syn \
		--src 198.19.0.0 --sources 64
	send_counted "$1: udp4 on 2 CPUs" UdpNoPorts --method $1 --threads 2 --dst "$LAB_SRV4" \
		--dport 9 --src 198.19.0.0 --sources 1000
	same "no checksum errors at the server (UDP, UDP6)" "0 0" \
		"$(counter UdpInCsumErrors) $(counter Udp6InCsumErrors)"
}

per_source() { # NAME METHOD BASE: a fresh floodgate counts one send
	local name=$1 m=$2 base=$3
	if ! "$FG" --pin-dir "$PIN" attach "$LAB_IF_ATK" >"$TMP/err" 2>&1; then
		notok "$name: floodgate attached to count per source: $(head -1 "$TMP/err")"
		return
	fi
	tg -j send lab0 --method "$m" --threads 2 --dmac "$LAB_SRV_MAC" --dst "$LAB_SRV4" --dport 9 \
		--src "$base" --sources 1000 --count 20000 --rate 40000 --duration 10 >/dev/null
	"$FG" --pin-dir "$PIN" -j top -n 1000000 --interval 0 >"$TMP/top.json"
	same "$name: 1000 sources from $base counted 20 times each by floodgate" "1000 20 20" \
		"$(jq -r '[.[] | select(.source | startswith("198.19.")) | .packets] |
			"\(length) \(min) \(max)"' "$TMP/top.json")"
	"$FG" --pin-dir "$PIN" detach --all >/dev/null 2>&1
	rm -rf "$PIN"
}

# The generator goes in the background as the binary itself (not a shell function), so $!
# is its PID.
# loop_running PID: its pair has an XDP program and frames are leaving the attacker
loop_running() {
	local a
	ip -n "$LAB_NS_ATK" -d link show dev "tg${1}l" 2>/dev/null | grep -q 'prog/xdp' || return 1
	a=$(txc)
	sleep 0.1
	[ "$(txc)" -gt "$a" ]
}

ALL_TESTS="test_lab_up test_trafgen_refusals test_method_packet test_method_loop test_method_live
	test_method_auto test_pacing test_per_source test_loop_sigterm test_loop_sigstop
	test_loop_sigkill test_loop_no_gro test_floodgate_limit test_lab_down"

test_lab_up() {
	local out
	out=$(scripts/lab.sh up 2>&1)
	check "lab up" test $? -eq 0
	eval "$(scripts/lab.sh env)"
	[ -n "${LAB_SRV_MAC:-}" ] || { notok "lab env: $out"; exit 1; }
	out=$(scripts/lab.sh up 2>&1)
	check "lab up refuses while its names exist" test $? -ne 0
	check "nginx answers the client" ip netns exec "$LAB_NS_CLI" curl -sf -m 5 -o /dev/null "http://$LAB_SRV4/"
	same "every lab veth has a queue per CPU" "$(nproc) $(nproc)" \
		"$(ip -j -d link show dev "$LAB_IF_ATK" | jq -r '.[0] | "\(.num_tx_queues) \(.num_rx_queues)"')"
}

# the generator's safety rule and its command line
test_trafgen_refusals() {
	in_lab
	check "trafgen refuses the host namespace" eval '! "$TG" check "$LAB_IF_ATK" 2>/dev/null'
	check "trafgen refuses a non-veth" eval '! tg check lo 2>/dev/null'
	check "trafgen drop-attach refuses an interface that is not the lab's" eval '! "$TG" drop-attach lo 2>/dev/null'
	tg check lab0 >"$TMP/check" 2>&1
	check "trafgen accepts the lab veth" test $? -eq 0
	LIVE=$(sed -n 's/^live frames: //p' "$TMP/check")
	note "live frames on this kernel: ${LIVE:-unknown}"
	check "trafgen refuses a destination outside the lab ranges" \
		eval '! tg send lab0 --dmac "$LAB_SRV_MAC" --dst 192.0.2.1 --count 1 --duration 1 2>/dev/null'
	tg send lab0 --dmac "$LAB_SRV_MAC" --dst "$LAB_SRV4" --count 1 2>/dev/null
	same "trafgen requires a time bound (exit 2)" 2 $?
	tg send lab0 --dmac "$LAB_SRV_MAC" --dst "$LAB_SRV4" --count 1 --duration 1 --method pktgen 2>/dev/null
	same "trafgen refuses an unknown method (exit 2)" 2 $?
	taskset -c 0 ip netns exec "$LAB_NS_ATK" "$TG" send lab0 --dmac "$LAB_SRV_MAC" --dst "$LAB_SRV4" \
		--count 1 --duration 1 --threads 2 2>"$TMP/err"
	same "trafgen refuses more threads than the CPUs it may run on (exit 2)" 2 $?
	check "... and says so ($(head -1 "$TMP/err"))" grep -q 'more than the CPUs' "$TMP/err"
}

test_method_packet() {
	in_lab
	method packet
}

test_method_loop() {
	in_lab
	method loop
	same "no loop pair left in the attacker namespace after the sends" "" "$(pairs)"
}

test_method_live() {
	in_lab
	live_frames
	if [ "$LIVE" != allowed ]; then
		ok "method live # SKIP this kernel refuses BPF_PROG_RUN live frames"
		return
	fi
	method live
}

test_method_auto() {
	in_lab
	live_frames
	TRAFGEN_METHOD= tg -j send lab0 --dmac "$LAB_SRV_MAC" --dst "$LAB_SRV4" --dport 9 --count 10 \
		--duration 5 >"$TMP/out.json"
	same "auto chooses live where the kernel allows it, else packet" \
		"$([ "$LIVE" = allowed ] && echo live || echo packet)" "$(jq -r .method "$TMP/out.json")"
}

# pacing, as a lower bound only: frame j of a sender is never sent before j / rate
test_pacing() {
	in_lab
	tg -j send lab0 --method loop --dmac "$LAB_SRV_MAC" --dst "$LAB_SRV4" --dport 9 --count 20000 \
		--rate 40000 --duration 10 >"$TMP/out.json"
	check "loop: 20000 frames at 40000/s take at least 0.49 s ($(jq .seconds "$TMP/out.json") s)" \
		jq_true '.seconds >= 0.49 and .frames == 20000' <"$TMP/out.json"
	tg -j send lab0 --method packet --threads 2 --dmac "$LAB_SRV_MAC" --dst "$LAB_SRV4" --dport 9 \
		--count 20000 --rate 40000 --duration 10 >"$TMP/out.json"
	check "packet: 20000 frames at 40000/s on 2 CPUs take at least 0.49 s ($(jq .seconds "$TMP/out.json") s)" \
		jq_true '.seconds >= 0.49 and .frames == 20000' <"$TMP/out.json"
}

# per source, as floodgate counts them: packet on 2 CPUs and loop on 2 CPUs, 20 frames to
# each of 1000 sources (the default rule allows far more)
test_per_source() {
	in_lab
	per_source "packet on 2 CPUs" packet 198.19.10.0
	per_source "loop on 2 CPUs" loop 198.19.20.0
}

# the loop ends with its owner: SIGTERM stops it and removes its pair
test_loop_sigterm() {
	in_lab
	ip netns exec "$LAB_NS_ATK" "$TG" -j send lab0 --method loop --dmac "$LAB_SRV_MAC" --dst "$LAB_SRV4" \
		--dport 9 --count 1000000000 --rate 100000 --duration 30 >"$TMP/term.json" 2>"$TMP/term.err" &
	BG=$!
	check "loop: running (program on tg${BG}l, frames leaving)" poll 10 loop_running $BG
	kill -TERM $BG
	wait $BG
	same "loop: SIGTERM ends it with status 143" 143 $?
	BG=
	check "loop: on SIGTERM it still reports what it sent" jq_true '.frames > 0' <"$TMP/term.json"
	same "loop: on SIGTERM no error line" "" "$(cat "$TMP/term.err")"
	same "loop: on SIGTERM its pair is removed" "" "$(pairs)"
}

# a stopped generator (SIGSTOP) stops its loop too: its grant runs out within a chunk
test_loop_sigstop() {
	local a
	in_lab
	ip netns exec "$LAB_NS_ATK" "$TG" -j send lab0 --method loop --dmac "$LAB_SRV_MAC" --dst "$LAB_SRV4" \
		--dport 9 --count 1000000000 --duration 30 >/dev/null 2>&1 &
	BG=$!
	check "loop, unpaced: running before SIGSTOP" poll 10 loop_running $BG
	kill -STOP $BG
	sleep 0.3
	a=$(txc)
	sleep 0.5
	same "loop: while its generator is stopped, nothing leaves the attacker" "$a" "$(txc)"
	kill -CONT $BG
	check "loop: after SIGCONT it runs again" poll 5 loop_running $BG
	stop_pid $BG
	BG=
}

# after SIGKILL the kernel detaches its program (the flood stops) and the next loop removes
# the pair; unpaced, so that only the kernel detaching its program (or, failing that, the
# grant running out) can stop it
test_loop_sigkill() {
	local a killed
	in_lab
	ip netns exec "$LAB_NS_ATK" "$TG" -j send lab0 --method loop --dmac "$LAB_SRV_MAC" --dst "$LAB_SRV4" \
		--dport 9 --count 1000000000 --duration 30 >/dev/null 2>&1 &
	BG=$!
	check "loop, unpaced: running (program on tg${BG}l, frames leaving)" poll 10 loop_running $BG
	kill -KILL $BG
	wait $BG 2>/dev/null
	killed=$BG BG=
	sleep 0.2
	same "loop: after SIGKILL its pair is left behind" "tg${killed}l tg${killed}s" "$(pairs | sort | paste -sd' ')"
	check "loop: after SIGKILL the kernel detached its program" \
		eval '! ip -n "$LAB_NS_ATK" -d link show dev "tg${killed}l" | grep -q prog/xdp'
	a=$(txc)
	sleep 0.5
	same "loop: after SIGKILL nothing more leaves the attacker" "$a" "$(txc)"
	tg send lab0 --method loop --dmac "$LAB_SRV_MAC" --dst "$LAB_SRV4" --dport 9 --count 10 \
		--duration 5 >/dev/null 2>&1
	same "loop: the next loop removes the pair of the killed one" "" "$(pairs)"
}

# a receiver that cannot take the loop's frames (no XDP program, no GRO): said, exit 1
test_loop_no_gro() {
	in_lab
	ethtool -K "$LAB_IF_ATK" gro off >/dev/null
	tg send lab0 --method loop --dmac "$LAB_SRV_MAC" --dst "$LAB_SRV4" --dport 9 --count 1000 \
		--duration 5 >/dev/null 2>"$TMP/err"
	same "loop: frames that never reach the peer fail the send (exit 1)" 1 $?
	check "loop: ... and say so ($(head -1 "$TMP/err"))" grep -q 'none reached its peer' "$TMP/err"
	ethtool -K "$LAB_IF_ATK" gro on >/dev/null
}

# floodgate on the attacker's ingress cuts one source to its limit
test_floodgate_limit() {
	local LIMIT out before t0 t1 arrived passed dropped max
	in_lab
	LIMIT=1000
	out=$("$FG" --pin-dir "$PIN" attach "$LAB_IF_ATK" 2>&1) &&
		out=$("$FG" --pin-dir "$PIN" limit set udp/9 --pps $LIMIT --burst $LIMIT 2>&1)
	check "floodgate attached with udp/9 at $LIMIT pps${out:+ ($out)}" test $? -eq 0
	before=$(counter UdpNoPorts)
	t0=$(date +%s.%N)
	tg -j send lab0 --dmac "$LAB_SRV_MAC" --dst "$LAB_SRV4" --dport 9 --src 198.19.0.7 --count $N \
		--duration 10 --rate $RATE >"$TMP/out.json"
	check "flood of one source sent" test $? -eq 0
	t1=$(date +%s.%N)
	arrived=$(($(counter UdpNoPorts) - before))
	"$FG" --pin-dir "$PIN" -j stats >"$TMP/st.json"
	passed=$(jq .verdicts.pass_packets "$TMP/st.json")
	dropped=$(jq .verdicts.drop_packets "$TMP/st.json")
	same "floodgate saw every frame" $N $((passed + dropped))
	same "what floodgate passed is what arrived" "$passed" "$arrived"
	# the limit admits the burst plus the rate over the time the flood lasted (plus one tick)
	max=$(awk -v a="$t0" -v b="$t1" -v l=$LIMIT 'BEGIN { printf "%d", l + l * (b - a + 0.004) }')
	check "arrivals cut to the limit ($LIMIT <= $arrived <= $max of $N)" \
		test "$arrived" -ge $LIMIT -a "$arrived" -le "$max"
}

test_lab_down() {
	local out left
	in_lab
	out=$("$FG" --pin-dir "$PIN" attach "$LAB_IF_ATK" 2>&1)
	check "floodgate attached${out:+ ($out)}" test $? -eq 0
	out=$("$FG" --pin-dir "$PIN" detach --all 2>&1)
	check "floodgate detached" test $? -eq 0
	out=$(scripts/lab.sh down 2>&1)
	check "lab down" test $? -eq 0
	left="$(ip netns list | grep "fgl$LAB_ID"; ip -o link show | grep "fgl$LAB_ID")"
	same "nothing left behind" "" "$left$([ -e "$PIN" ] && echo " $PIN")$([ -e "/run/fgl$LAB_ID" ] && echo " /run/fgl$LAB_ID")"
}

run_tests "$@"
