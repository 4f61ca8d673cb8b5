#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# ab.sh BUILD_A BUILD_B: per-packet cost of two builds of floodgate side by
# side, for a change whose effect is smaller than the run-to-run noise of
# `make bench`. One lab (scripts/lab.sh); each build attaches with a fresh
# state and the bench's allow and deny lists on its own host end; then,
# per source count, ROUNDS (default 9) interleaved rounds of the bench's
# cost harness (trafgen cost: a front program rewrites the source and
# tail calls the program): the chained bare XDP_DROP, A, B. Prints, per
# source count, the minimum and the median of each build's cost over the
# chained XDP_DROP, with the bench's naive limiter as a yardstick. Knobs:
# ROUNDS, CASES ("1:4 1000:4 65536:4 1000000:6", sources:family), STORM
# (bans per second: both builds get udp/10 at 1 packet a second, action
# ban, and trafgen cost --ban-storm bans that many new sources a second on
# the other CPU while A and B are timed; sources up to 32768). The naive
# limiter gets B's default packet limit. Root only;
# everything is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || {
	echo "usage: scripts/ab.sh BUILD_A BUILD_B" >&2
	exit 2
}
A=$1 B=$2
ROUNDS=${ROUNDS:-9}
CASES=${CASES:-1:4 1000:4 65536:4 1000000:6}
export LAB_ID=ab$$
PA=/sys/fs/bpf/fgl${LAB_ID}a PB=/sys/fs/bpf/fgl${LAB_ID}b
for f in "$A/floodgate" "$B/floodgate" "$B/tests/trafgen"; do
	[ -x "$f" ] || {
		echo "error: ab: $f is missing (make BUILD=...)" >&2
		exit 1
	}
done
cleanup() {
	"$A/floodgate" --pin-dir "$PA" detach --all >/dev/null 2>&1 || true
	"$B/floodgate" --pin-dir "$PB" detach --all >/dev/null 2>&1 || true
	rm -rf "$PA" "$PB"
	scripts/lab.sh down >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 1' INT TERM
scripts/lab.sh up >/dev/null
eval "$(scripts/lab.sh env)"
"$A/floodgate" --pin-dir "$PA" attach "$LAB_IF_ATK" --mode native >/dev/null
"$B/floodgate" --pin-dir "$PB" attach "$LAB_IF_CLI" --mode native >/dev/null
for fg in "$A/floodgate --pin-dir $PA" "$B/floodgate --pin-dir $PB"; do
	for p in 198.18.250.0/24 198.18.251.0/24 2001:db8:ffff::/48; do $fg allow add $p >/dev/null; done
	for p in 198.18.240.0/24 198.18.241.0/24 2001:db8:fffe::/48; do $fg deny add $p >/dev/null; done
	[ -z "${STORM:-}" ] || $fg limit set udp/10 --pps 1 --burst 1 --action ban --ban-for 1h >/dev/null
done
# the naive limiter gets B's default rule's packet limit: the same verdicts, packet for packet
read -r NAIVE_PPS NAIVE_BURST < <("$B/floodgate" --pin-dir "$PB" -j limit list |
	python3 -c "import json,sys; r=[x for x in json.load(sys.stdin) if x['endpoint']=='default'][0]; print(r['pps'], r['burst'])")
cost() { # TARGET SOURCES FAMILY
	local src=198.19.0.0 storm=()
	[ "$3" = 6 ] && src=2001:db8:1::
	[ -n "${STORM:-}" ] && [[ $1 == /* ]] && storm=(--ban-storm "$STORM")
	"$B/tests/trafgen" -j cost --netns "$LAB_NS_ATK" --target "$1" --sources "$2" --family "$3" \
		--src "$src" --naive-pps "$NAIVE_PPS" --naive-burst "$NAIVE_BURST" "${storm[@]}" |
		python3 -c "import json,sys; print(json.load(sys.stdin)['ns_per_packet'])"
}
echo "ns per packet over the chained XDP_DROP, $ROUNDS interleaved rounds: A $A, B $B${STORM:+, a storm of $STORM bans a second}"
for c in $CASES; do
	n=${c%:*} fam=${c#*:} d= a= b= v=
	for _ in $(seq "$ROUNDS"); do
		d="$d $(cost drop "$n" "$fam")"
		a="$a $(cost "$PA/prog" "$n" "$fam")"
		b="$b $(cost "$PB/prog" "$n" "$fam")"
		v="$v $(cost naive "$n" "$fam")"
	done
	python3 - "$n" "$d" "$a" "$b" "$v" <<'PY'
import statistics as st, sys
n = sys.argv[1]
d, a, b, v = ([float(x) for x in v.split()] for v in sys.argv[2:6])
print(f"{n:>8} sources: A min {min(a) - min(d):6.1f} median {st.median(a) - st.median(d):6.1f}"
      f" | B min {min(b) - min(d):6.1f} median {st.median(b) - st.median(d):6.1f}"
      f" | naive min {min(v) - min(d):6.1f} median {st.median(v) - st.median(d):6.1f}")
PY
done
