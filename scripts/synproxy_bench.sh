#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# synproxy_bench.sh BUILD [CSV]: new connections per second to nginx during a
# spoofed SYN flood, five ways, in one run (part 6 of scripts/bench.sh,
# `PARTS=synproxy make bench`, or alone):
#   xdp        floodgate's SYN proxy (XDP cookies, SYNPROXY completes)
#   xdp_tsoff  the same with net.ipv4.tcp_timestamps=0 on the server: the
#              README's workaround for SYNPROXY's own ACK to the server, which
#              this kernel refuses (TcpExtTSEcrRejected) when it sends timestamps
#   nft        nftables' SYNPROXY alone, the usual recipe (SYNs untracked in raw,
#              SYNPROXY for invalid and untracked, nf_conntrack_tcp_loose=0)
#   kernel     no floodgate: the kernel's own SYN cookies (tcp_syncookies=1)
#   floor      floodgate dropping the whole flood at XDP by a deny of its
#              sources (198.19.0.0/16), no proxy: no defence can do that to a
#              real spoofed flood, but it measures what the flood costs this lab
#              anyway (the generator shares the CPUs): the best any defence can
#              keep here
# Each variant: wrk with a new connection per request (-H "Connection: close"),
# one thread per user (USERS, default 4: a client address and a server
# address each, so no one pair of addresses opens the bench's tens of
# thousands of connections alone: see below), 20 connections in all,
# without a flood, then with trafgen sending SYNs from 65,536 spoofed sources
# (its loop method, as make bench's other floods: the cheapest to send, so the
# generator takes as little as it can of the CPUs it shares with the server).
# Per run: connections/s and p99 (wrk), and, under the flood, the rate trafgen
# sent and the rate that arrived at the server: the frames its veth received
# during wrk's run less the segments the client's TCP stack sent (wrk's own);
# and the SYNs the client had to send again (TcpExtTCPSynRetrans: a client SYN
# lost, with the flood's frames, where the server's veth ring overflowed).
# ROUNDS rounds (default 3), every variant in each; bench.sh reports medians.
# First, what the proxy's XDP work costs per spoofed SYN: trafgen cost (
# BPF_PROG_TEST_RUN, the SYN written back before each run, 65,536 sources) of
# floodgate with the proxy on tcp/80, over the same chain into a bare XDP_DROP,
# three times (COST_RUNS): the time each flood SYN holds the server's veth;
# measured once the rule is armed (a SYN from a source not seen lately skips
# the conntrack lookup: CT_TIME_WAIT's seconds and a little after `limit set`,
# as in the xdp variants' flood runs, which follow a no-flood run).
# Topology: tests/lab.sh's server_lab_up (server namespace with floodgate,
# nginx and the table; client namespace with wrk and trafgen, whose veth drops
# the replies to the spoofed sources; one veth pair with QUEUES queues each
# way, default one per CPU as a server NIC has, the flood sent by as many
# generator threads, which spreads it over them as RSS spreads a spoofed
# flood's sources; with QUEUES=1 all of it and the clients share one
# 256-frame ring, whose overflow in the flood's bursts drops the clients'
# packets with the flood's). Bounded: every wrk and every flood has a
# duration and a count.
#
# Prints a table; with CSV, also writes its figures there as bench.sh's raw.csv
# rows (part synproxy). Exits 1 when a premise failed: the flood did not leave
# or did not arrive, or wrk failed or measured nothing (the table still shows
# what was measured).
#
# FLOOD_PPS (default 300000), FLOOD_METHOD (default loop), SECONDS_EACH (default
# 5), ROUNDS, VARIANTS (default all five, in this order), USERS (1 to 9), QUEUES
# (1 to 8, default the CPUs, at most 8) and CT_TIME_WAIT (below) tune it.
# XDP_STATS=1 also reports, for each run of a variant with floodgate (xdp,
# xdp_tsoff, floor), what its XDP program took per packet it saw, live, under
# the run's load (the kernel's run time over its run count: kernel.bpf_stats_enabled,
# on for the whole bench and back as it was after, and its two clock reads per
# run included): beside the floor's, what the proxy costs each legitimate
# segment (no flood) and each spoofed SYN (flood) where the caches are shared
# with wrk, nginx and the generator, as BPF_PROG_TEST_RUN's figures are not.
# Off by default: every XDP run of every variant pays for those clock reads.
# KEEP_ALIVE=1: wrk keeps its 20 connections open instead (no "Connection:
# close"): requests per second where nearly every segment belongs to an
# established connection, which with XDP_STATS shows what the proxy costs
# those (its tables and the CSV still say conn/s: they are requests/s).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/tap.sh # stop_pid, poll, server_lab_up, server_lab_down
BUILD=$(realpath -m "${1:-build}")
CSV=${2:-}
FG=$BUILD/floodgate
TG=$BUILD/tests/trafgen
PASSPROG=$BUILD/trafgen.bpf.o
RATE=${FLOOD_PPS:-300000}
METHOD=${FLOOD_METHOD:-loop}
ROUNDS=${ROUNDS:-3}
VARIANTS=${VARIANTS:-xdp xdp_tsoff nft kernel floor}
ROUND=1
SECS=${SECONDS_EACH:-5}
USERS=${USERS:-4}
QUEUES=${QUEUES:-$(n=$(nproc) && echo $((n < 8 ? n : 8)))}
STATS=${XDP_STATS:-0}
KEEP=${KEEP_ALIVE:-0}
STATS0= # kernel.bpf_stats_enabled as it was, when XDP_STATS turned it on
ID=$$
# fgl*: trafgen transmits only from namespaces named like the lab's
NS_S=fglsb${ID}s NS_C=fglsb${ID}c
IF_S=fgsb${ID}a IF_C=fgsb${ID}b
TMP=$(mktemp -d /tmp/fg-spbench.XXXXXX)
PIN=$TMP/bpf/fg
FAILED=() # premises that failed, one line each

die() {
	echo "error: synproxy bench: $*" >&2
	exit 1
}
for c in nginx wrk ethtool nft jq curl bpftool; do
	command -v $c >/dev/null || die "$c missing (make deps)"
done
for f in "$FG" "$TG" "$PASSPROG"; do
	[ -e "$f" ] || die "$f is missing (make BUILD=$BUILD)"
done
for v in $VARIANTS; do
	[[ " xdp xdp_tsoff nft kernel floor " == *" $v "* ]] ||
		die "VARIANTS: no variant '$v' (xdp, xdp_tsoff, nft, kernel, floor)"
done
[ -z "$CSV" ] || : >"$CSV" || die "cannot write $CSV"
S() { ip netns exec "$NS_S" "$@"; }
C() { ip netns exec "$NS_C" "$@"; }
fg() { S "$FG" --pin-dir "$PIN" "$@"; }

down() {
	server_lab_down "$TMP" "$FG" "$NS_S" "$NS_C" "$IF_C"
	[ -z "$STATS0" ] || sysctl -qw kernel.bpf_stats_enabled="$STATS0"
	rm -rf "$TMP"
}
trap down EXIT
trap 'exit 1' INT TERM

[[ $USERS =~ ^[1-9]$ ]] || die "USERS must be 1..9, not $USERS"
[[ $QUEUES =~ ^[1-8]$ ]] || die "QUEUES must be 1..8, not $QUEUES"
[[ $STATS =~ ^[01]$ ]] || die "XDP_STATS must be 0 or 1, not $STATS"
[[ $KEEP =~ ^[01]$ ]] || die "KEEP_ALIVE must be 0 or 1, not $KEEP"
CLOSE=(-H "Connection: close") # a new connection per request, unless KEEP_ALIVE
[ "$KEEP" == 0 ] || CLOSE=()
if [ "$STATS" == 1 ]; then
	STATS0=$(sysctl -n kernel.bpf_stats_enabled) && sysctl -qw kernel.bpf_stats_enabled=1 ||
		die "cannot turn kernel.bpf_stats_enabled on"
fi
server_lab_up "$TMP" "$PASSPROG" "$NS_S" "$NS_C" "$IF_S" "$IF_C" "$QUEUES" || die "the lab did not come up"
MAC=$(S cat /sys/class/net/"$IF_S"/address)
# A client reuses its ports, and a SYN on a tuple conntrack still holds in TIME_WAIT passes the
# proxy to the stack's own handshake (as it should: README). With one client address and one
# server address the bench measured that path more than the cookies: the kernel picks a
# connection's port some random steps (about 9 ports on average) past the last one to the same
# destination, so a range of 64,512 ports comes round after some 7,000 connections, half a
# second at the bench's rates, and conntrack keeps a closed tuple for CT_TIME_WAIT seconds
# (default 1 here, the kernel's 120). So wrk gets every port, and the load comes from USERS
# users, as a real API's does: wrk thread i connects from 198.18.0.2i to 198.18.0.1i (user 0:
# the lab's own .2 and .1), each pair's ports coming round USERS times slower. The proxy's runs
# check that the cookies did at least half the handshakes.
C sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
S sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait="${CT_TIME_WAIT:-1}"
USER_ADDRS='"198.18.0.1"'
for ((i = 1; i < USERS; i++)); do
	S ip addr add "198.18.0.1$i/24" dev "$IF_S" && C ip addr add "198.18.0.2$i/24" dev "$IF_C" &&
		C ip route add "198.18.0.1$i/32" dev "$IF_C" src "198.18.0.2$i" ||
		die "user $i's addresses (198.18.0.2$i, 198.18.0.1$i) failed"
	USER_ADDRS+=", \"198.18.0.1$i\""
done
# wrk's threads, one per user: thread i connects to server address i (wrk's setup() hook)
cat >"$TMP/users.lua" <<EOF
local addrs, n = { $USER_ADDRS }, 0
function setup(thread)
	thread.addr = wrk.lookup(addrs[n % #addrs + 1], "80")[1]
	n = n + 1
end
EOF
for ((i = 1; i < USERS; i++)); do
	C curl -s -m 1 -o /dev/null "http://198.18.0.1$i/" || die "user $i does not reach nginx at 198.18.0.1$i"
done

# rx_frames: frames the server's veth received (XDP sees them all, whatever it does with them)
rx_frames() { S cat /sys/class/net/"$IF_S"/statistics/rx_packets; }
# tcp_out: segments the client's TCP stack sent (wrk's and curl's; trafgen's frames are not)
tcp_out() {
	C awk '$1 == "Tcp:" && !h { for (i = 2; i <= NF; i++) if ($i == "OutSegs") c = i; h = 1; next }
		$1 == "Tcp:" { print $c }' /proc/net/snmp
}
# syn_retrans: SYNs the client's TCP stack sent again (one lost SYN costs its connection 1 s)
syn_retrans() { C nstat -az TcpExtTCPSynRetrans | awk '$1 == "TcpExtTCPSynRetrans" { print $2 }'; }
# prog_stats: floodgate's XDP program's run count and run time (ns) so far, as the kernel counts them
prog_stats() { S bpftool -j prog show pinned "$PIN/prog" | jq -r '"\(.run_cnt // 0) \(.run_time_ns // 0)"'; }
# p99_ms WRK_OUTPUT: wrk's 99th percentile latency in ms
p99_ms() {
	awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
		print v * (u == "us" ? 0.001 : u == "s" ? 1000 : u == "m" ? 60000 : 1) }' "$1"
}
row() { [ -z "$CSV" ] || echo "synproxy,$1,$2,$ROUND,$3,$4,${5:-}" >>"$CSV"; }

# run VARIANT FLOOD(0|1): one wrk run, with or without the flood; prints a result line
run() {
	local variant=$1 flood=$2 tgpid='' rps p99 sent=- arrived=- rx0 out0 rx1 out1 t0 t1 errs ck0 conns cookies
	local sr0 sr ps0=() ps1=() xdp= xns xpps
	if [ "$flood" == 1 ]; then
		C "$TG" -j send "$IF_C" --dmac "$MAC" --dst 198.18.0.1 --proto syn --dport 80 \
			--src 198.19.0.0 --sources 65536 --count $((RATE * (SECS + 2))) --rate "$RATE" \
			--duration $((SECS + 3)) --method "$METHOD" --threads "$QUEUES" >"$TMP/tg.json" \
			2>"$TMP/tg.err" &
		tgpid=$!
		sleep 1
	fi
	[[ $variant != xdp* ]] || ck0=$(fg stats -j | jq '.packets.syn_proxy_cookie_ok')
	if [ "$STATS" == 1 ] && [[ $variant == xdp* || $variant == floor ]]; then
		read -ra ps0 < <(prog_stats)
		[ ${#ps0[@]} == 2 ] ||
			FAILED+=("$variant, flood $flood: no run statistics of floodgate's program ($PIN/prog)")
	fi
	rx0=$(rx_frames) out0=$(tcp_out) sr0=$(syn_retrans) t0=$(date +%s.%N)
	C timeout $((SECS + 10)) wrk -t"$USERS" -c20 -d"${SECS}s" --latency -s "$TMP/users.lua" \
		"${CLOSE[@]}" http://198.18.0.1/ >"$TMP/wrk.txt" 2>&1 ||
		FAILED+=("$variant, flood $flood: wrk failed: $(tail -c 300 "$TMP/wrk.txt")")
	rx1=$(rx_frames) out1=$(tcp_out) sr=$(($(syn_retrans) - sr0)) t1=$(date +%s.%N)
	if [ ${#ps0[@]} == 2 ]; then
		read -ra ps1 < <(prog_stats)
		# ns per run and runs per second of floodgate's program over wrk's run
		xdp=$(awk -v c="$((${ps1[0]:-0} - ps0[0]))" -v n="$((${ps1[1]:-0} - ps0[1]))" -v a="$t0" -v b="$t1" \
			'BEGIN { if (c > 0) printf "%.0f %.0f", n / c, c / (b - a) }')
		[ -n "$xdp" ] || FAILED+=("$variant, flood $flood: floodgate's XDP program counted no run")
		read -r xns xpps <<<"$xdp"
		row "$variant" "$([ "$flood" == 1 ] && echo flood || echo none)_xdp_ns" "${xns:-nan}" ns
		row "$variant" "$([ "$flood" == 1 ] && echo flood || echo none)_xdp_pps" "${xpps:-nan}" pps
		xdp="${xns:-?} ns x ${xpps:-?}/s"
	fi
	rps=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' "$TMP/wrk.txt")
	p99=$(p99_ms "$TMP/wrk.txt")
	[ -n "$rps" ] && [ -n "$p99" ] || FAILED+=("$variant, flood $flood: wrk measured nothing")
	errs=$(grep -E 'Socket errors|Non-2xx' "$TMP/wrk.txt" | tr -s ' ' | tr '\n,' ' ;')
	if [[ $variant == xdp* ]]; then
		# the proxy's run measures the proxy only if its cookies did most handshakes (the rest:
		# tuples conntrack still held, which the stack answers)
		conns=$(awk '/requests in/ { print $1 }' "$TMP/wrk.txt")
		[ "$KEEP" == 0 ] || conns=20 # kept open: wrk's own
		cookies=$(($(fg stats -j | jq '.packets.syn_proxy_cookie_ok') - ck0))
		errs="cookie handshakes $cookies of ${conns:-?} connections; $errs"
		[ "$cookies" -ge $((${conns:-0} / 2)) ] ||
			FAILED+=("$variant, flood $flood: $cookies cookie handshakes of ${conns:-?} connections: not the proxy's path")
	fi
	row "${variant}" "$([ "$flood" == 1 ] && echo flood || echo none)_rps" "${rps:-nan}" conn/s \
		"$errs"
	row "${variant}" "$([ "$flood" == 1 ] && echo flood || echo none)_p99" "${p99:-nan}" ms
	row "${variant}" "$([ "$flood" == 1 ] && echo flood || echo none)_synretrans" "$sr" syns
	if [ -n "$tgpid" ]; then
		wait "$tgpid" || FAILED+=("$variant: trafgen failed: $(head -c 300 "$TMP/tg.err")")
		sent=$(jq -r '.pps | floor' "$TMP/tg.json" 2>/dev/null)
		arrived=$(awk -v f=$((rx1 - rx0 - (out1 - out0))) -v a="$t0" -v b="$t1" \
			'BEGIN { printf "%.0f", f / (b - a) }')
		[ "${sent:-0}" -gt 0 ] 2>/dev/null || FAILED+=("$variant: the flood never left (trafgen sent nothing)")
		# arrived under a tenth of what was asked for: the flood is not what this run measured
		[ "$arrived" -ge $((RATE / 10)) ] ||
			FAILED+=("$variant: the flood did not arrive ($arrived frames/s at the server, $RATE asked)")
		row "$variant" flood_sent "${sent:-nan}" pps
		row "$variant" flood_arrived "$arrived" pps
	fi
	printf '%-9s %-6s %9s %10s %12s %12s %12s  %s\n' "$variant" "$([ "$flood" == 1 ] && echo flood ||
		echo none)" "${rps:-?}" "${p99:-?}" "$sent" "$arrived" "$sr" "$xdp"
}

# syn_cost: the proxy's ns per spoofed SYN over the chained XDP_DROP, COST_RUNS times
syn_cost() {
	local i d f c costs=()
	cost() { # on one CPU: a run that moves between CPUs can take twice as long
		taskset -c 0 "$TG" -j cost --netns "$NS_S" --ifname "$IF_S" --target "$1" --proto syn --dport 80 \
			--src 198.19.0.0 --sources 65536 --repeat 1000000 2>>"$TMP/cost.err" | jq -r .ns_per_packet
	}
	fg attach "$IF_S" >/dev/null && fg limit set tcp/80 --syn-proxy on >/dev/null &&
		fg limit set default --pps off --syn-pps off >/dev/null || die "floodgate attach for the cost failed"
	# what an attack meets: the rule armed, so a SYN from a source not seen lately skips the
	# conntrack lookup (floodgate.h, fg_sp_peers), CT_TIME_WAIT's seconds and two after `limit set`
	armed() {
		"$TG" cost --netns "$NS_S" --ifname "$IF_S" --target "$PIN/prog" --proto syn --dport 80 \
			--src 198.19.0.0 --sources 16 --repeat 100 >/dev/null 2>>"$TMP/cost.err" &&
			[ "$(fg stats -j | jq '.pressure.syn_proxy_unseen_syns // 0')" -gt 0 ]
	}
	poll $((${CT_TIME_WAIT:-1} + 10)) armed ||
		FAILED+=("the proxy's rule was not armed $((${CT_TIME_WAIT:-1} + 10)) s after limit set")
	for ((i = 1; i <= ${COST_RUNS:-3}; i++)); do
		d=$(cost drop) f=$(cost "$PIN/prog")
		c=$(awk -v d="$d" -v f="$f" 'BEGIN { if (d > 0 && f > 0) printf "%.1f", f - d }')
		[ -n "$c" ] || {
			FAILED+=("the per-SYN cost run $i measured nothing: $(head -c 300 "$TMP/cost.err")")
			continue
		}
		costs+=("$c")
		ROUND=$i row xdp syn_cost "$c" ns
	done
	fg detach --all >/dev/null
	echo "# the proxy's XDP work per spoofed SYN (trafgen cost --proto syn, 65,536 sources, over the chained XDP_DROP): ${costs[*]:-?} ns"
}

# on VARIANT, off VARIANT: set up and remove what a variant measures
on() {
	case $1 in
	xdp | xdp_tsoff) # floodgate with the proxy on tcp/80
		[ "$1" == xdp ] || S sysctl -qw net.ipv4.tcp_timestamps=0
		fg attach "$IF_S" >/dev/null || die "floodgate attach failed"
		fg limit set tcp/80 --syn-proxy on || die "limit set tcp/80 --syn-proxy on failed"
		fg limit set default --pps off --syn-pps off >/dev/null || die "limit set default failed"
		;;
	nft) # no floodgate, nftables' SYNPROXY as its documentation sets it up
		S sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0
		S nft -f - <<-EOF || die "nft SYNPROXY table failed"
			table inet fgbench {
			  chain pre {
			    type filter hook prerouting priority raw; policy accept;
			    tcp dport 80 tcp flags & (fin|syn|rst|ack) == syn notrack
			  }
			  chain in {
			    type filter hook input priority filter; policy accept;
			    tcp dport 80 ct state invalid,untracked synproxy mss 1460 wscale 7 timestamp sack-perm
			    ct state invalid drop
			  }
			}
		EOF
		;;
	kernel) ;; # no table, no XDP: the stack's own SYN cookies
	floor) # the flood's own sources denied at XDP
		fg attach "$IF_S" >/dev/null || die "floodgate attach failed"
		fg deny add 198.19.0.0/16 >/dev/null || die "deny add 198.19.0.0/16 failed"
		fg limit set default --pps off --syn-pps off >/dev/null || die "limit set default failed"
		;;
	esac
}
off() {
	case $1 in
	xdp | xdp_tsoff)
		echo "# $1 counters: $(fg stats -j | jq -c '.packets | {syn_proxy_synack, syn_proxy_cookie_ok, syn_proxy_refused, syn_proxy_expired}')"
		fg detach --all >/dev/null
		S sysctl -qw net.ipv4.tcp_timestamps=1
		;;
	floor)
		echo "# floor counters: $(fg stats -j | jq -c '.packets | {denied, passed}')"
		fg detach --all >/dev/null
		;;
	nft)
		S nft delete table inet fgbench
		S sysctl -qw net.netfilter.nf_conntrack_tcp_loose=1
		;;
	esac
}
# the server's counters of interest, as they stand
server_counters() {
	S nstat -az | awk '$2 != 0 && $1 ~ /Syncookie|ReqQ|ListenDrops|SynRetrans|TSEcrRejected/ { printf "%s=%s ", $1, $2 }'
}

ROUND=1 row lab queues "$QUEUES" queues
echo "# tcp_syncookies=$(S sysctl -n net.ipv4.tcp_syncookies), flood method $METHOD, $QUEUES queue(s) and generator thread(s), $ROUNDS round(s)"
syn_cost
printf '%-9s %-6s %9s %10s %12s %12s %12s  %s\n' variant flood "conn/s" "p99 (ms)" "syn/s sent" "arrived/s" \
	"syn retrans" "$([ "$STATS" == 0 ] || echo "floodgate's XDP, live: ns/packet x packets/s")"
for r in $(seq "$ROUNDS"); do
	ROUND=$r
	for v in $VARIANTS; do
		on "$v"
		run "$v" 0
		run "$v" 1
		off "$v"
	done
done
echo "# server counters over the run: $(server_counters)"
echo "# SYNPROXY (all CPUs): $(S awk 'NR == 1 { for (i = 2; i <= NF; i++) n[i] = $i; next }
	{ for (i = 2; i <= NF; i++) v[i] += ("0x" $i) + 0 } END { for (i = 2; i in n; i++) printf "%s=%d ", n[i], v[i] }' \
	/proc/net/stat/synproxy 2>/dev/null)"
if [ ${#FAILED[@]} -gt 0 ]; then
	printf 'error: synproxy bench: %s\n' "${FAILED[@]}" >&2
	exit 1
fi
