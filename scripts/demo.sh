#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# demo.sh BUILD: floodgate keeping an API answering its users during a
# flood, in the lab (scripts/lab.sh). `sudo make demo` runs it after
# installing the dependencies and building.
#
# nginx in the server namespace is the API. Its users are USERS wrk
# processes in the client namespace, each from an address of its own
# (lab.sh LAB_USERS: 198.18.0.32 upwards, each talking to a server
# address of its own), each with USER_CONNECTIONS keep-alive connections
# that wait USER_PACE_MS between a response and the next request: users
# at a steady pace, not one proxy as fast as it can, so act 1 leaves the
# machine headroom as a real server has. Every user stays far under the
# per-source limit of floodgate.example.yaml (10000 packets/s), which the
# demo uses unchanged. The attacker floods udp/53 with FLOOD_RATE
# packets/s from FLOOD_SOURCES spoofed addresses of 198.19.0.0/16, with
# the generator's loop method on every CPU (trafgen --method loop).
#
# Three acts of ACT_SECONDS each, ROUNDS times over (the table shows
# medians):
#   1. the users alone
#   2. the users during the flood, no floodgate
#   3. the same with floodgate attached (floodgate.example.yaml) to the
#      host ends where client and attacker traffic enter the lab
# The flood is counted where it arrives: an nftables counter on the
# server's lab0 (udp dport 53), per act. The users' packets are counted
# by floodgate itself (floodgate top, per source) in act 3.
#
# Act 3 of the last round is also drawn, from floodgate's counters and the
# server's flood counter sampled about once a second (half a second apart
# plus the time a reading takes): BUILD/demo/act3.png and
# the same chart as text, BUILD/demo/act3.txt (gnuplot).
#
# It fails (exit 1), after its table, when its premise fails: the flood
# of act 2 reached the server at less than half FLOOD_RATE, the generator
# or a user's wrk failed, a user made no request, or floodgate dropped a
# single packet of a user in act 3. The targets (act 3 at least 90% of
# act 1's requests/s, act 3's p99 at most twice act 1's, act 2 visibly
# hurt) are reported, not asserted: they depend on the machine.
#
# Knobs (environment): ACT_SECONDS (7), ROUNDS (2), USERS (16),
# USER_CONNECTIONS (2), USER_PACE_MS (1), FLOOD_RATE (700000),
# FLOOD_SOURCES (1000), FLOOD_THREADS (the CPUs), LAB_ID (demo),
# DEMO_JSON=FILE (the results as JSON too, for scripts/bench.sh),
# DEMO_FG_ALONE=1 (a fourth act after act 3: the users alone with
# floodgate still attached, which tells floodgate's cost on them from the
# flood's; scripts/bench.sh uses it).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ACT_SECONDS=${ACT_SECONDS:-7}
ROUNDS=${ROUNDS:-2}
USERS=${USERS:-16}
USER_CONNECTIONS=${USER_CONNECTIONS:-2}
USER_PACE_MS=${USER_PACE_MS:-1}
FLOOD_RATE=${FLOOD_RATE:-700000}
FLOOD_SOURCES=${FLOOD_SOURCES:-1000}
FLOOD_THREADS=${FLOOD_THREADS:-$(nproc)}
export LAB_ID=${LAB_ID:-demo}
PIN=/sys/fs/bpf/fgl$LAB_ID
FG=$BUILD/floodgate
TG=$BUILD/tests/trafgen
CONFIG=floodgate.example.yaml
NFT=fgldemo

die() {
	echo "error: demo: $*" >&2
	exit 1
}
[ "$(id -u)" -eq 0 ] || die "run as root (sudo make demo)"
for v in ACT_SECONDS ROUNDS USERS USER_CONNECTIONS USER_PACE_MS FLOOD_RATE FLOOD_SOURCES FLOOD_THREADS; do
	[[ ${!v} =~ ^[1-9][0-9]{0,8}$ ]] || die "$v '${!v}' must be a positive number"
done
[ "$USERS" -le 64 ] || die "USERS $USERS: the lab has addresses for 64 users"
scripts/deps.sh
for f in "$FG" "$TG" "$CONFIG"; do
	[ -e "$f" ] || die "$f is missing (make BUILD=$BUILD)"
done

WORK=$(mktemp -d)
pids=() # what cleanup ends, by PID: the users and the flood of the act running
fpid=
cleanup() {
	local p
	for p in "${pids[@]}"; do [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	"$FG" --pin-dir "$PIN" detach --all >/dev/null 2>&1 || true
	rm -rf "$PIN"
	scripts/lab.sh down >/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

echo "== lab up"
LAB_USERS=$USERS scripts/lab.sh up
eval "$(scripts/lab.sh env)"
[ "$(wc -w <<<"$LAB_USER_SRV")" = "$USERS" ] || die "the lab made $(wc -w <<<"$LAB_USER_SRV") of $USERS users"
# the flood as it arrives at the server
ip netns exec "$LAB_NS_SRV" nft -f - <<EOF
table netdev $NFT {
	counter flood {}
	chain in {
		type filter hook ingress device lab0 priority 0;
		udp dport 53 counter name flood
	}
}
EOF
flood_at_server() {
	ip netns exec "$LAB_NS_SRV" nft -j list counter netdev $NFT flood |
		jq '.nftables[] | select(.counter) | .counter.packets'
}

# A user: wrk paced by delay(); at the end it writes its request count,
# duration (us), errors and its latency histogram (us, count) to $WRK_OUT.
cat >"$WORK/user.lua" <<'EOF'
local pace = tonumber(os.getenv("WRK_PACE_MS"))
function delay() return pace end
function done(summary, latency, requests)
	local e = summary.errors
	local f = io.open(os.getenv("WRK_OUT"), "w")
	f:write(string.format("%d %d %d\n", summary.requests, summary.duration,
		e.connect + e.read + e.write + e.status + e.timeout))
	for i = 1, #latency do
		local v, c = latency(i)
		f:write(string.format("%d %d\n", v, c))
	end
	f:close()
end
EOF

# users N ROUND: every user for ACT_SECONDS; one file per user in $WORK/act-N-ROUND/
users() {
	local dir=$WORK/act-$1-$2 i=0 a upids=()
	mkdir -p "$dir"
	for a in $LAB_USER_SRV; do
		WRK_PACE_MS=$USER_PACE_MS WRK_OUT=$dir/$i ip netns exec "$LAB_NS_CLI" \
			wrk -t1 -c"$USER_CONNECTIONS" -d"${ACT_SECONDS}s" -s "$WORK/user.lua" \
			"http://$a/" >"$dir/$i.log" 2>&1 &
		upids+=($!)
		i=$((i + 1))
	done
	pids+=("${upids[@]}")
	for a in "${upids[@]}"; do
		wait "$a" || die "a user's wrk failed: $(cat "$dir"/*.log | head -3)"
	done
	pids=("${fpid:-}") # the flood, if any, runs on
}

# sample FILE: half a second after each reading until FILE.stop exists, a line "TIME FLOOD_AT_SERVER PASSED
# DROPPED" of the counters (floodgate's verdicts, 0 while it is not attached); the chart
sample() {
	local t v
	while [ ! -e "$1.stop" ]; do
		t=$(date +%s.%N)
		v=$("$FG" --pin-dir "$PIN" -j stats 2>/dev/null |
			jq -r '"\(.verdicts.pass_packets) \(.verdicts.drop_packets)"' 2>/dev/null)
		echo "$t $(flood_at_server) ${v:-0 0}" >>"$1"
		sleep 0.5
	done
}

# act N FLOOD(0|1) ROUND: the users for ACT_SECONDS, with the flood running through it
act() {
	local n=$1 flood=$2 r=$3 c0 c1 t0 t1 spid=
	fpid=
	if [ "$n" = 3 ] && [ "$r" = "$ROUNDS" ]; then
		sample "$WORK/samples" &
		spid=$!
		pids+=("$spid")
	fi
	if [ "$flood" = 1 ]; then
		ip netns exec "$LAB_NS_ATK" "$TG" -j send lab0 --method loop --threads "$FLOOD_THREADS" \
			--dmac "$LAB_SRV_MAC" --dst "$LAB_SRV4" --dport 53 --src 198.19.0.0 \
			--sources "$FLOOD_SOURCES" --rate "$FLOOD_RATE" \
			--count $((FLOOD_RATE * (ACT_SECONDS + 3))) --duration $((ACT_SECONDS + 2)) \
			>"$WORK/flood-$n-$r.json" 2>"$WORK/flood.err" &
		fpid=$!
		pids+=("$fpid")
		sleep 1
	fi
	c0=$(flood_at_server) t0=$(date +%s.%N)
	users "$n" "$r"
	c1=$(flood_at_server) t1=$(date +%s.%N)
	if [ -n "$fpid" ]; then
		wait "$fpid" || die "the flood generator failed: $(cat "$WORK/flood.err")"
		pids=() fpid=
	fi
	if [ -n "$spid" ]; then
		touch "$WORK/samples.stop"
		wait "$spid"
		pids=()
	fi
	python3 scripts/demo_report.py act "$WORK" "$n" "$r" "$flood" \
		"$(awk -v c="$((c1 - c0))" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", c / (b - a) }')"
}

fg_on() { # floodgate with the example config, unchanged
	"$FG" --pin-dir "$PIN" attach "$LAB_IF_CLI" --config "$CONFIG"
	"$FG" --pin-dir "$PIN" attach "$LAB_IF_ATK"
}

for r in $(seq "$ROUNDS"); do
	[ "$ROUNDS" -gt 1 ] && echo "== round $r of $ROUNDS"
	echo "== act 1: $USERS users alone (${ACT_SECONDS}s)"
	act 1 0 "$r"
	echo "== act 2: the users + $FLOOD_RATE packets/s to udp/53 from $FLOOD_SOURCES spoofed sources, no floodgate"
	act 2 1 "$r"
	echo "== act 3: the same with floodgate on $LAB_IF_CLI and $LAB_IF_ATK ($CONFIG)"
	fg_on | sed 's/^/   /'
	act 3 1 "$r"
	"$FG" --pin-dir "$PIN" -j stats >"$WORK/stats-$r.json"
	"$FG" --pin-dir "$PIN" -j top -n 1000000 --interval 0 >"$WORK/top-$r.json"
	if [ "${DEMO_FG_ALONE:-0}" = 1 ]; then
		echo "== act 4: the users alone, floodgate still attached (${ACT_SECONDS}s)"
		act 4 0 "$r"
	fi
	"$FG" --pin-dir "$PIN" detach --all >/dev/null
done

rc=0
python3 scripts/demo_report.py summary "$WORK" "$ROUNDS" "$FLOOD_RATE" "$LAB_USER_CLI" \
	"${DEMO_JSON:-}" || rc=$?
mkdir -p "$BUILD/demo"
python3 scripts/demo_report.py chart "$WORK/samples" "$BUILD/demo" ||
	echo "warning: demo: no chart (gnuplot)" >&2
echo "== lab down"
exit $rc
