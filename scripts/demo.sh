#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# demo.sh BUILD: floodgate keeping an API answering during a flood, in the lab
# (scripts/lab.sh). `sudo make demo` runs it after installing the
# dependencies and building.
#
# nginx in the server namespace is the API; wrk in the client namespace is
# its legitimate load; trafgen in the attacker namespace floods the server
# with UDP to port 53 from FLOOD_SOURCES spoofed addresses of 198.19.0.0/16.
# Three acts of ACT_SECONDS each, ROUNDS times over (the machine's other
# work moves a single act by tens of percent; the table shows medians):
#   1. wrk alone
#   2. wrk during the flood, no floodgate
#   3. wrk during the flood, floodgate attached (floodgate.example.yaml) to
#      the host ends where client and attacker traffic enter the lab
# then one table: requests/s and p99 latency per act, the flood's rate and
# floodgate's verdicts. The example config gives udp/53 a limit of 50
# packets/s per source with action ban, so every flooding source is banned
# after its burst and then costs one lookup per packet. One rule is added
# to it: tcp/80, the API, at 100000 packets/s per source, because wrk's one
# address stands for many users (the example's default of 10000 packets/s
# per source would otherwise cap wrk at about 5000 requests/s).
#
# The generator, wrk and nginx share the machine's cores, and every packet
# the generator sends costs it CPU time that wrk and nginx lose, in act 3
# as in act 2. FLOOD_RATE is kept to what the generator sustains on two
# cores even when the flood reaches the server (act 2), so both acts see
# the same flood.
#
# Knobs (environment): ACT_SECONDS (8), ROUNDS (2), FLOOD_RATE packets/s
# (100000), FLOOD_SOURCES (1000), WRK_CONNECTIONS (32), LAB_ID (demo),
# DEMO_JSON=FILE (the results as JSON too, for scripts/bench.sh),
# DEMO_FG_ALONE=1 (a fourth act after act 3: wrk alone with floodgate still
# attached, which tells floodgate's cost on the legitimate traffic from
# the flood's; scripts/bench.sh uses it).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ACT_SECONDS=${ACT_SECONDS:-8}
ROUNDS=${ROUNDS:-2}
FLOOD_RATE=${FLOOD_RATE:-100000}
FLOOD_SOURCES=${FLOOD_SOURCES:-1000}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-32}
export LAB_ID=${LAB_ID:-demo}
PIN=/sys/fs/bpf/fgl$LAB_ID
FG=$BUILD/floodgate
TG=$BUILD/tests/trafgen
CONFIG=floodgate.example.yaml

[ "$(id -u)" -eq 0 ] || {
	echo "error: demo: run as root (sudo make demo)" >&2
	exit 1
}
scripts/deps.sh
for f in "$FG" "$TG" "$CONFIG"; do
	[ -e "$f" ] || {
		echo "error: demo: $f is missing (make BUILD=$BUILD)" >&2
		exit 1
	}
done

WORK=$(mktemp -d)
flood_pid=
cleanup() {
	[ -n "$flood_pid" ] && kill "$flood_pid" 2>/dev/null && wait "$flood_pid" 2>/dev/null
	"$FG" --pin-dir "$PIN" detach --all >/dev/null 2>&1 || true
	rm -rf "$PIN"
	scripts/lab.sh down >/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

echo "== lab up"
scripts/lab.sh up
eval "$(scripts/lab.sh env)"

# wrk's p99 as milliseconds (it prints 850.00us, 7.41ms or 1.20s)
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000
		printf "%.2f", n
	}'
}

# act N FLOOD(0|1) ROUND: wrk for ACT_SECONDS, with the flood running through it
act() {
	local n=$1 flood=$2 r=$3 rps p99 pps=-
	if [ "$flood" = 1 ]; then
		ip netns exec "$LAB_NS_ATK" "$TG" -j send lab0 --dmac "$LAB_SRV_MAC" --dst "$LAB_SRV4" \
			--dport 53 --src 198.19.0.0 --sources "$FLOOD_SOURCES" --rate "$FLOOD_RATE" \
			--count $((FLOOD_RATE * (ACT_SECONDS + 3))) --duration $((ACT_SECONDS + 2)) \
			>"$WORK/flood.json" &
		flood_pid=$!
		sleep 1
	fi
	ip netns exec "$LAB_NS_CLI" wrk -t1 -c"$WRK_CONNECTIONS" -d"${ACT_SECONDS}s" --latency \
		"http://$LAB_SRV4/" >"$WORK/wrk.txt" 2>&1
	if [ "$flood" = 1 ]; then
		wait "$flood_pid" || true
		flood_pid=
		pps=$(python3 -c "import json; print(round(json.load(open('$WORK/flood.json'))['pps']))" \
			2>/dev/null || echo 0)
	fi
	rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
	p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt")")
	echo "$n $r ${rps:-0} $p99 $pps" >>"$WORK/acts"
	printf '   requests/s %s, p99 %s ms, flood %s packets/s\n' "${rps:-0}" "$p99" "$pps"
}

fg_on() { # floodgate with the example config, plus the API's rule
	if ! "$FG" --pin-dir "$PIN" attach "$LAB_IF_CLI" --config "$CONFIG"; then
		# a build without config-file support: the example's udp/53 rule by hand
		echo "   (attaching without the config file; udp/53 rule of $CONFIG set with floodgate limit)"
		"$FG" --pin-dir "$PIN" attach "$LAB_IF_CLI"
		"$FG" --pin-dir "$PIN" limit set udp/53 --pps 50 --burst 100 --action ban --ban-for 10m \
			--ban-mult 3 --ban-max 1d
	fi
	"$FG" --pin-dir "$PIN" attach "$LAB_IF_ATK"
	"$FG" --pin-dir "$PIN" limit set tcp/80 --pps 100000 --burst 200000 --syn-pps 1000
}

: >"$WORK/acts"
for r in $(seq "$ROUNDS"); do
	[ "$ROUNDS" -gt 1 ] && echo "== round $r of $ROUNDS"
	echo "== act 1: wrk alone (${ACT_SECONDS}s)"
	act 1 0 "$r"
	echo "== act 2: wrk + flood from $FLOOD_SOURCES spoofed sources, no floodgate"
	act 2 1 "$r"
	echo "== act 3: the same with floodgate on $LAB_IF_CLI and $LAB_IF_ATK ($CONFIG)"
	fg_on | sed 's/^/   /'
	act 3 1 "$r"
	"$FG" --pin-dir "$PIN" -j stats >"$WORK/stats$r.json"
	"$FG" --pin-dir "$PIN" stats | sed 's/^/   /' | head -6
	if [ "${DEMO_FG_ALONE:-0}" = 1 ]; then
		echo "== act 4: wrk alone, floodgate still attached (${ACT_SECONDS}s)"
		act 4 0 "$r"
	fi
	"$FG" --pin-dir "$PIN" detach --all >/dev/null
done

python3 - "$WORK" "$ROUNDS" "${DEMO_JSON:-}" <<'EOF'
import json, statistics, sys
work, rounds, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
acts = {}
for line in open(f"{work}/acts"):
    n, r, rps, p99, pps = line.split()
    acts.setdefault(n, []).append((float(rps), float(p99), pps))
med = lambda n, i: statistics.median(a[i] for a in acts[n])
flood = lambda n: format(round(statistics.median(float(a[2]) for a in acts[n])), ",")
dropped = banned = passed = bans = 0
for r in range(1, rounds + 1):
    st = json.load(open(f"{work}/stats{r}.json"))
    dropped += st["verdicts"]["drop_packets"]
    passed += st["verdicts"]["pass_packets"]
    banned += st["packets"]["banned"]
    bans += st["pressure"]["bans"]
each = f"median of {rounds} rounds, " if rounds > 1 else ""
print()
print(f"| act ({each}acts in the order 1 2 3) | requests/s | p99 latency (ms) | flood sent (packets/s) |")
print("|---|---:|---:|---:|")
for n, label in (("1", "1. wrk alone"), ("2", "2. wrk + flood, no floodgate"),
                 ("3", "3. wrk + flood, floodgate"), ("4", "4. wrk alone, floodgate attached")):
    if n in acts:
        print(f"| {label} | {med(n, 0):,.0f} | {med(n, 1):.2f} | {'-' if n in '14' else flood(n)} |")
a1, a2, a3 = med("1", 0), med("2", 0), med("3", 0)
print()
print(f"floodgate in act 3: dropped {dropped:,} packets (banned {banned:,}), passed {passed:,}; "
      f"{bans:,} sources banned")
if a1:
    print(f"act 3 keeps {a3 / a1:.0%} of act 1's requests/s (goal: at least 90%); "
          f"act 2 keeps {a2 / a1:.0%} without floodgate")
if a1 and "4" in acts:
    print(f"act 4 (floodgate attached, no flood) keeps {med('4', 0) / a1:.0%} of act 1's requests/s")
if out:
    res = {"act1_rps": a1, "act1_p99_ms": med("1", 1), "act2_rps": a2, "act2_p99_ms": med("2", 1),
           "act3_rps": a3, "act3_p99_ms": med("3", 1), "dropped": dropped, "passed": passed}
    if "4" in acts:
        res.update(act4_rps=med("4", 0), act4_p99_ms=med("4", 1))
    json.dump(res, open(out, "w"))
EOF
echo "== lab down"
