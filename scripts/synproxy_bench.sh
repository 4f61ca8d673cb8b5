#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# synproxy_bench.sh BUILD: new connections per second to nginx during a spoofed
# SYN flood, three ways, in one run:
#   xdp     floodgate's SYN proxy (XDP cookies, SYNPROXY completes)
#   kernel  no floodgate: the kernel's own SYN cookies (tcp_syncookies=1)
#   nft     nftables' SYNPROXY alone, the usual recipe (SYNs untracked in raw,
#           SYNPROXY for invalid and untracked, nf_conntrack_tcp_loose=0)
# Each variant: wrk with a new connection per request (-H "Connection: close")
# without a flood, then with trafgen sending SYNs from 65,536 spoofed sources.
# Topology as tests/synproxy.test.sh (server namespace with floodgate, nginx and
# the table; client namespace with wrk and trafgen; one veth pair). Bounded:
# every wrk and every flood has a duration and a count.
#
# FLOOD_PPS (default 300000), SECONDS_EACH (default 5) and CT_TIME_WAIT tune it.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/tap.sh # stop_pid, poll
BUILD=${1:-build}
FG=$PWD/$BUILD/floodgate
TG=$PWD/$BUILD/tests/trafgen
PASSPROG=$PWD/$BUILD/trafgen.bpf.o
RATE=${FLOOD_PPS:-300000}
SECS=${SECONDS_EACH:-5}
ID=$$
NS_S=fglsb${ID}s NS_C=fglsb${ID}c
IF_S=fgsb${ID}a IF_C=fgsb${ID}b
TMP=$(mktemp -d /tmp/fg-spbench.XXXXXX)
PIN=$TMP/bpf/fg
NGINX_PID=

for c in nginx wrk ethtool nft jq; do
	command -v $c >/dev/null || { echo "error: $c missing (make deps)" >&2; exit 1; }
done
S() { ip netns exec "$NS_S" "$@"; }
C() { ip netns exec "$NS_C" "$@"; }
fg() { S "$FG" --pin-dir "$PIN" "$@"; }

down() {
	[ -d "$TMP/bpf" ] && S "$FG" --pin-dir "$PIN" detach --all >/dev/null 2>&1
	stop_pid "$NGINX_PID"
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	mountpoint -q "$TMP/bpf" && umount "$TMP/bpf"
	rm -rf "$TMP"
}
trap down EXIT

mkdir -p "$TMP/bpf" && mount -t bpf bpf "$TMP/bpf"
ip netns add "$NS_S" && ip netns add "$NS_C"
ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_C" netns "$NS_C"
S ip addr add 198.18.0.1/24 dev "$IF_S"
C ip addr add 198.18.0.2/24 dev "$IF_C"
for ns in "$NS_S" "$NS_C"; do ip -n "$ns" link set lo up; done
S ip link set "$IF_S" up
C ip link set "$IF_C" up
# replies to spoofed sources go back to the client namespace, which does not forward them (they
# die there, as on the internet): without a route the kernel would not even answer the flood
S ip route add 198.19.0.0/16 via 198.18.0.2 || exit 1
S ethtool -K "$IF_S" gro on >/dev/null # the kernel variant: no XDP there, trafgen's frames still land
C ethtool -K "$IF_C" tx off >/dev/null
C ip link set dev "$IF_C" xdpdrv obj "$PASSPROG" sec xdp.frags
cat >"$TMP/nginx.conf" <<EOF
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/nginx.err warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/body;
    proxy_temp_path $TMP/proxy;
    fastcgi_temp_path $TMP/fastcgi;
    uwsgi_temp_path $TMP/uwsgi;
    scgi_temp_path $TMP/scgi;
    server {
        listen 198.18.0.1:80 backlog=4096;
        location / { return 200 'ok\n'; }
    }
}
EOF
S nginx -c "$TMP/nginx.conf" -e "$TMP/nginx.err"
poll 5 test -s "$TMP/nginx.pid" || { echo "error: nginx did not start" >&2; exit 1; }
NGINX_PID=$(cat "$TMP/nginx.pid")
poll 5 C curl -s -m 1 -o /dev/null http://198.18.0.1/ || { echo "error: no nginx" >&2; exit 1; }
MAC=$(S cat /sys/class/net/"$IF_S"/address)
# CT_TIME_WAIT=SECONDS: conntrack's TIME_WAIT timeout in the server namespace (default: the kernel's)
[ -n "${CT_TIME_WAIT:-}" ] && S sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait="$CT_TIME_WAIT"

# run VARIANT FLOOD(0|1): one wrk run; prints a result line
run() {
	local variant=$1 flood=$2 tgpid= rps p99 sent="-" pps="-"
	if [ "$flood" == 1 ]; then
		C "$TG" -j send "$IF_C" --dmac "$MAC" --dst 198.18.0.1 --proto syn --dport 80 \
			--src 198.19.0.0 --sources 65536 --count $((RATE * (SECS + 2))) --rate "$RATE" \
			--duration $((SECS + 3)) --method packet >"$TMP/tg.json" 2>"$TMP/tg.err" &
		tgpid=$!
		sleep 1
	fi
	C timeout $((SECS + 10)) wrk -t1 -c20 -d"${SECS}s" --latency -H "Connection: close" \
		http://198.18.0.1/ >"$TMP/wrk.txt" 2>&1
	if [ -n "$tgpid" ]; then
		wait "$tgpid"
		sent=$(jq -r .frames "$TMP/tg.json" 2>/dev/null)
		pps=$(jq -r '.pps | floor' "$TMP/tg.json" 2>/dev/null)
	fi
	rps=$(awk '/Requests\/sec/ { print $2 }' "$TMP/wrk.txt")
	p99=$(awk '$1 == "99%" { print $2 }' "$TMP/wrk.txt")
	printf '%-7s %-8s %12s %10s %12s %10s\n' "$variant" "$([ "$flood" == 1 ] && echo flood ||
		echo none)" "${rps:-?}" "${p99:-?}" "$sent" "$pps"
}

printf '%-7s %-8s %12s %10s %12s %10s\n' variant flood "conn/s" p99 "syns sent" "syn/s"
# xdp: floodgate with the proxy on tcp/80
fg attach "$IF_S" >/dev/null
fg limit set tcp/80 --syn-proxy on
fg limit set default --pps off --syn-pps off >/dev/null
run xdp 0
run xdp 1
echo "# xdp counters: $(fg stats -j | jq -c '.packets | {syn_proxy_synack, syn_proxy_cookie_ok, syn_proxy_refused}')"
echo "# SYNPROXY (all CPUs): $(S awk 'NR == 1 { for (i = 2; i <= NF; i++) n[i] = $i; next }
	{ for (i = 2; i <= NF; i++) v[i] += ("0x" $i) + 0 } END { for (i = 2; i in n; i++) printf "%s=%d ", n[i], v[i] }' \
	/proc/net/stat/synproxy 2>/dev/null)"
# nft: no floodgate, nftables' SYNPROXY as its documentation sets it up
fg detach --all >/dev/null
S sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0
S nft -f - <<EOF
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
run nft 0
run nft 1
# kernel: no table, no XDP: the stack's own SYN cookies
S nft delete table inet fgbench
S sysctl -qw net.netfilter.nf_conntrack_tcp_loose=1
echo "# kernel: tcp_syncookies=$(S sysctl -n net.ipv4.tcp_syncookies)"
run kernel 0
run kernel 1
echo "# kernel counters: $(S nstat -az | awk '$2 != 0 && $1 ~ /Syncookie|ReqQ|Listen|SynRetrans|OutRsts|InErrs|Csum/ { printf "%s=%s ", $1, $2 }')"
