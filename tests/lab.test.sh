#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# lab.test.sh: smoke test of the lab (scripts/lab.sh), the traffic generator
# (trafgen) and floodgate limiting a flood in it. A few seconds, bounded.
#
# Counts are taken at the receiver, inside the server namespace: frames to a
# closed port end as UdpNoPorts / Udp6NoPorts (only when their checksum is
# right; a bad one would land in InCsumErrors) and TCP SYNs as OutRsts.
# The generator sends at a capped rate in batches of 64 frames (the veth
# ring holds 256 and the receiving NAPI drains it on the same CPU between
# batches), so no frame may be lost on the way: the counts must
# match exactly, and the generator's own account must too: frames sent, no
# ring drops, and what the veth peer received (which also counts the
# attacker namespace's own odd packet, so to within 4).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${FG_BUILD:-$PWD/build}
TG=$BUILD/tests/trafgen
FG=$BUILD/floodgate
export LAB_ID=t$$
PIN=/sys/fs/bpf/fgl$LAB_ID
N=20000
RATE=20000

ok() { echo "ok - $1"; }
notok() { echo "not ok - $1${2:+: $2}"; }
check() { # NAME COND-EXIT-STATUS DETAIL
	if [ "$2" -eq 0 ]; then ok "$1"; else notok "$1" "$3"; fi
}
skip_all() {
	echo "ok - lab # SKIP $1"
	exit 0
}

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
for c in nginx ethtool curl nstat python3; do
	command -v $c >/dev/null || skip_all "$c missing (make deps)"
done
[ -x "$TG" ] && [ -x "$FG" ] || skip_all "build $TG and $FG first"

cleanup() {
	"$FG" --pin-dir "$PIN" detach --all >/dev/null 2>&1
	rm -rf "$PIN"
	scripts/lab.sh down >/dev/null 2>&1
}
trap cleanup EXIT

counter() { # NAME: the server namespace's SNMP counter
	ip netns exec "$LAB_NS_SRV" nstat -az "$1" | awk -v n="$1" '$1 == n {print $2}'
}

json() { # JSON EXPR: python expression on j
	python3 -c "import json,sys; j=json.loads(sys.argv[1]); print($2)" "$1"
}

# send NAME COUNTER ARGS...: N frames at RATE, then the receiver's count must be N
send_counted() {
	local name=$1 ctr=$2 before after out
	shift 2
	before=$(counter "$ctr")
	out=$(ip netns exec "$LAB_NS_ATK" "$TG" -j send lab0 --dmac "$LAB_SRV_MAC" --count $N \
		--duration 10 --rate $RATE "$@")
	check "$name: generator exits 0" $? "$out"
	after=$(counter "$ctr")
	check "$name: generator counts $N frames" "$([ "$(json "$out" "j['frames']")" = $N ]; echo $?)" "$out"
	# the veth counters also count the attacker namespace's own few packets
	# (MLD reports just after lab up): exact to within those
	check "$name: veth peer received $N (+ up to 4 of its own), no ring drops" \
		"$(json "$out" "0 if $N <= j['peer_received'] <= $N + 4 and j['peer_dropped'] == 0 else 1")" \
		"$out"
	check "$name: server counts $N ($ctr)" "$([ $((after - before)) -eq $N ]; echo $?)" \
		"server counted $((after - before))"
}

out=$(scripts/lab.sh up 2>&1)
check "lab up" $? "$out"
eval "$(scripts/lab.sh env)"
[ -n "${LAB_SRV_MAC:-}" ] || exit 1

out=$(scripts/lab.sh up 2>&1)
check "lab up refuses while its names exist" "$([ $? -ne 0 ]; echo $?)" "$out"
out=$(ip netns exec "$LAB_NS_CLI" curl -sf -m 5 "http://$LAB_SRV4/" 2>&1)
check "nginx answers the client" $? "$out"

# the generator's safety rule
out=$("$TG" check "$LAB_IF_ATK" 2>&1)
check "trafgen refuses the host namespace" "$([ $? -ne 0 ]; echo $?)" "$out"
out=$(ip netns exec "$LAB_NS_ATK" "$TG" check lo 2>&1)
check "trafgen refuses a non-veth" "$([ $? -ne 0 ]; echo $?)" "$out"
out=$(ip netns exec "$LAB_NS_ATK" "$TG" check lab0 2>&1)
check "trafgen accepts the lab veth" $? "$out"
out=$(ip netns exec "$LAB_NS_ATK" "$TG" send lab0 --dmac "$LAB_SRV_MAC" --dst 192.0.2.1 \
	--count 1 --duration 1 2>&1)
check "trafgen refuses a destination outside the lab ranges" "$([ $? -ne 0 ]; echo $?)" "$out"
out=$(ip netns exec "$LAB_NS_ATK" "$TG" send lab0 --dmac "$LAB_SRV_MAC" --dst "$LAB_SRV4" \
	--count 1 2>&1)
check "trafgen requires a time bound" "$([ $? -eq 2 ]; echo $?)" "$out"

# what it says it sends arrives
send_counted "udp4 1000 sequential sources" UdpNoPorts --dst "$LAB_SRV4" --dport 9 \
	--src 198.19.0.0 --sources 1000
send_counted "udp6 100000 random sources" Udp6NoPorts --dst "$LAB_SRV6" --dport 9 \
	--src 2001:db8:1:: --sources 100000 --random
send_counted "tcp4 syn" TcpOutRsts --dst "$LAB_SRV4" --dport 9 --proto syn \
	--src 198.19.0.0 --sources 64
bad=$(counter UdpInCsumErrors)
check "no checksum errors at the server" "$([ "$bad" -eq 0 ]; echo $?)" "$bad"

# floodgate on the attacker's ingress cuts one source to its limit
LIMIT=1000
out=$("$FG" --pin-dir "$PIN" attach "$LAB_IF_ATK" 2>&1) &&
	out=$("$FG" --pin-dir "$PIN" limit set udp/9 --pps $LIMIT --burst $LIMIT 2>&1)
check "floodgate attached with udp/9 at $LIMIT pps" $? "$out"
before=$(counter UdpNoPorts)
t0=$(date +%s.%N)
out=$(ip netns exec "$LAB_NS_ATK" "$TG" -j send lab0 --dmac "$LAB_SRV_MAC" --dst "$LAB_SRV4" \
	--dport 9 --src 198.19.0.7 --count $N --duration 10 --rate $RATE)
check "flood of one source sent" $? "$out"
t1=$(date +%s.%N)
arrived=$(($(counter UdpNoPorts) - before))
st=$("$FG" --pin-dir "$PIN" -j stats)
passed=$(json "$st" "j['verdicts']['pass_packets']")
dropped=$(json "$st" "j['verdicts']['drop_packets']")
check "floodgate saw every frame" "$([ $((passed + dropped)) -eq $N ]; echo $?)" \
	"passed $passed + dropped $dropped != $N"
check "what floodgate passed is what arrived" "$([ "$passed" -eq "$arrived" ]; echo $?)" \
	"passed $passed, arrived $arrived"
# the limit admits the burst plus the rate over the time the flood lasted (plus one tick)
max=$(python3 -c "print(int($LIMIT + $LIMIT * ($t1 - $t0 + 0.004)))")
check "arrivals cut to the limit ($LIMIT <= $arrived <= $max of $N)" \
	"$([ "$arrived" -ge $LIMIT ] && [ "$arrived" -le "$max" ]; echo $?)" "arrived $arrived"

out=$("$FG" --pin-dir "$PIN" detach --all 2>&1)
check "floodgate detached" $? "$out"
out=$(scripts/lab.sh down 2>&1)
check "lab down" $? "$out"
left=$(ip netns list | grep -c "^fgl$LAB_ID-"; ip -o link show | grep -c "fgl$LAB_ID")
check "nothing left behind" "$([ "$(echo $left)" = "0 0" ] && [ ! -e "$PIN" ] && [ ! -e /run/fgl$LAB_ID ]; echo $?)" \
	"$(ip netns list | grep "fgl$LAB_ID"; ip -o link show | grep "fgl$LAB_ID")"
