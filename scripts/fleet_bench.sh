#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# fleet_bench.sh BUILD: the bench's fleet part (part 7 of scripts/bench.sh; alone:
# `scripts/bench.sh BUILD fleet`). Two nodes and one redis-server on 127.0.0.1 (a free port,
# its own directory, killed by PID), set up as in tests/fleet.test.sh by tests/fleet_lab.sh.
# trafgen sends 3 packets from each of FLEET_BANS sources (default 10000) into node a, whose
# udp/5005 rule bans a source over 1 packet/s; node a publishes each ban and node b applies it.
# From that one run it reports bans per second (from the first packet sent to the last ban
# applied on node b) and the delay from each ban on node a to node b applying it (median, p99,
# worst: node b's fleet status, the age of each received ban on arrival). It exits non-zero
# when its premise fails: node a made fewer bans than sources, or node b applied fewer than
# that within 60 s, or refused any. FLEET_BANS: 1..16384. Results: BUILD/bench/fleet.md and
# fleet.json.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/tap.sh # poll, stop_pid, pair_add, lab_remove
BUILD=${1:-build}
FG=$PWD/$BUILD/floodgate
TG=$PWD/$BUILD/tests/trafgen
OUT=$BUILD/bench
N=${FLEET_BANS:-10000}
S=$$
TMP=$(mktemp -d /tmp/fg-fleetbench.XXXXXX)
FLEET_PREFIX=fgl
# every ban reaches the daemon as an event (the ring's rate limit is not what is measured)
FLEET_EVENTS=1000000
. tests/fleet_lab.sh

die() {
	echo "error: fleet bench: $*" >&2
	exit 1
}
cleanup() {
	fleet_down
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ "$(id -u)" -eq 0 ] || die "run as root"
for t in ip jq redis-server redis-cli; do
	command -v $t >/dev/null || die "$t is missing (scripts/deps.sh)"
done
for f in "$FG" "$TG"; do
	[ -x "$f" ] || die "$f is missing (make BUILD=$BUILD)"
done
# sources 198.18.100.0 and up stay below X4 and ALLOWED; fleet status keeps the latest 16384 ages
if ! [ "$N" -ge 1 ] 2>/dev/null || [ "$N" -gt 16384 ]; then
	die "FLEET_BANS=$N: 1..16384"
fi
mkdir -p "$OUT"
ms() { date +%s%3N; }

echo "== 7. fleet: $N bans made on node a, applied by node b through one redis-server"
fleet_pairs || die "cannot create the veth pairs"
config a "$A"
config b "$C"
# shellcheck disable=SC2119 # no options of its own
fleet_redis_start >/dev/null || die "redis-server does not answer on port $RPORT"
fleet_start a || die "node a: floodgate run serves no metrics"
fleet_start b || die "node b: floodgate run serves no metrics"
if ! poll 5 connected a || ! poll 5 connected b; then
	die "the nodes do not connect to Redis"
fi

# round robin over the sources: each sends its 3 packets N frames apart, well within a second
t0=$(ms)
ip netns exec "$NSA" "$TG" -j send "$B" --method packet --dmac "$(cat "/sys/class/net/$A/address")" \
	--dst "$HA" --dport 5005 --src 198.18.100.0 --sources "$N" --count $((3 * N)) \
	--duration 20 >"$TMP/send.json" 2>"$TMP/send.err" || die "trafgen: $(cat "$TMP/send.err")"
t_sent=$(ms)
# until node b holds a fleet ban for every source (one node a sent twice counts once), 60 s at most
t1=
for _ in $(seq 1200); do
	rec=$(status b | jq .active)
	if [ "${rec:-0}" -ge "$N" ]; then
		t1=$(ms)
		break
	fi
	sleep 0.05
done
a=$(status a) b=$(status b)
banned=$("$FG" --pin-dir "$PINA" -j ban list | jq '[.[] | select(.kind == "automatic")] | length')
pub=$(jq .published <<<"$a") rec=$(jq .received <<<"$b") act=$(jq .active <<<"$b")
rej=$(jq '[.rejected[]] | add' <<<"$b")
frames=$(jq .frames "$TMP/send.json")
echo "   trafgen: $frames frames in $(jq .seconds "$TMP/send.json") s; node a: $banned bans, published $pub (queue dropped $(jq .dropped <<<"$a")); node b: holds $act (received $rec), rejected $rej"
[ "$banned" -ge "$N" ] || die "node a banned $banned of $N sources (premise: one ban per source)"
[ -n "$t1" ] || die "node b holds $act of node a's $banned bans after 60 s (node a published $pub)"
[ "$rej" -eq 0 ] || die "node b refused $rej records: $(jq -c .rejected <<<"$b")"
age=$(jq -c .age <<<"$b")
[ "$(jq .count <<<"$age")" -ge "$N" ] || die "node b kept the age of $(jq .count <<<"$age") bans, not $N"
rate=$((N * 1000 / (t1 - t0)))
echo "   load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
printf '   %d bans in %d ms (%d ms of sending): %d bans/s; delay from node a'"'"'s ban to node b: median %d ms, p99 %d ms, worst %d ms\n' \
	"$N" $((t1 - t0)) $((t_sent - t0)) "$rate" "$(jq .median_ms <<<"$age")" "$(jq .p99_ms <<<"$age")" \
	"$(jq .max_ms <<<"$age")"
jq -n --argjson n "$N" --argjson ms $((t1 - t0)) --argjson send_ms $((t_sent - t0)) \
	--argjson rate "$rate" --argjson age "$age" \
	'{bans: $n, ms: $ms, send_ms: $send_ms, bans_per_s: $rate, median_ms: $age.median_ms, p99_ms: $age.p99_ms, max_ms: $age.max_ms}' \
	>"$OUT/fleet.json"
verdict() { [ "$1" -le "$2" ] && echo met || echo '**missed**'; } # VALUE MAX
cat >"$OUT/fleet.md" <<EOF
### Fleet: bans shared through Redis

$N sources over a ban rule's limit on node a (trafgen, 3 packets each, $((t_sent - t0)) ms of
sending); node a publishes each ban, node b (another pin directory and daemon on this machine)
applies it; one redis-server on 127.0.0.1.

| bans | first packet to last ban applied on node b | bans/s | delay median | p99 | worst |
|---:|---:|---:|---:|---:|---:|
| $N | $((t1 - t0)) ms | $rate | $(jq .median_ms <<<"$age") ms | $(jq .p99_ms <<<"$age") ms | $(jq .max_ms <<<"$age") ms |

Targets: delay median under 100 ms ($(verdict "$(jq .median_ms <<<"$age")" 99)), worst under 1 s
($(verdict "$(jq .max_ms <<<"$age")" 999)), $N bans applied within 5 s ($(verdict $((t1 - t0)) 5000)).
EOF
