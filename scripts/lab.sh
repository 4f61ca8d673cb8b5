#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# lab.sh up|down|status|env: the network-namespace lab of the demo, the
# benchmark and the lab smoke test.
#
# Three namespaces, each with one veth (`lab0`) into a bridge that lives in
# the host namespace:
#
#   fgl<ID>-srv  server    198.18.0.1/24  2001:db8::1/64  nginx, the API
#   fgl<ID>-cli  client    198.18.0.2/24  2001:db8::2/64  wrk
#   fgl<ID>-atk  attacker  198.18.0.3/24  2001:db8::3/64  trafgen
#
#   host: bridge fgl<ID>br with ports fgl<ID>s, fgl<ID>c, fgl<ID>a
#         (the host ends of the three veths)
#
# floodgate attaches to fgl<ID>c and fgl<ID>a, the host ends where client
# and attacker traffic enter: it has to run in the host namespace, because
# `ip netns exec` gives its command a fresh /sys without the bpffs that
# holds floodgate's pinned maps. The attacker spoofs sources from
# 198.19.0.0/16 and 2001:db8:1::/48 upwards (one /64 per IPv6 source); the
# server routes 198.18.0.0/15 and 2001:db8::/32 back through the attacker,
# whose namespace does not forward, so replies to spoofed sources die
# there, as they would somewhere on the internet.
#
# Why a bridge in the host namespace and no routing: the host never routes
# lab traffic, so IP forwarding stays whatever it is (off on a plain host)
# and nothing the lab sends can be routed towards eth0 even on a host that
# forwards (a Docker host does). The bridge has no address, its ports are
# only the three lab veths, IPv6 is disabled on the bridge and its ports
# (no link-local address, no IPv6 input on the host side) and IPv4
# forwarding is off on each of them, so a lab frame can only be bridged to
# another lab port, or dropped. Static FDB entries for the three lab MACs
# keep the bridge from flooding or forgetting. The host's own netfilter
# sees bridged IPv4/IPv6 when br_netfilter is active
# (net.bridge.bridge-nf-call-iptables=1): a host FORWARD policy of DROP
# would then drop lab traffic too; `up` warns about it.
#
# Every veth has a queue pair per CPU: a frame sent on CPU i goes into
# ring i of the peer and is received on CPU i, so senders on two CPUs do
# not share a ring (and per-CPU state in floodgate sees the CPU the
# sender chose). GRO is on for the attacker's host end (fgl<ID>a): a veth
# only accepts the frames its peer transmits with XDP (the generator's
# loop and live frames) when it has an XDP program or GRO enabled (NAPI),
# so flooding without floodgate works too.
#
# Users: LAB_USERS=N (0..64, default 0) gives the client namespace N more
# addresses, 198.18.0.32 upwards, and the server N more, 198.18.0.96
# upwards, each served by nginx; the client routes server address i with
# `src` client address i, so a connection to server address i comes from
# client address i. One wrk per address pair is then one user (the demo).
# `env` lists them as LAB_USER_CLI and LAB_USER_SRV.
#
# Names: prefix `fgl` plus LAB_ID (default empty; up to 10 of [a-z0-9]), so
# tests running side by side use their own. `up` refuses to start if any of
# its names exist, records what it made in /run/fgl<ID>/made, and `down`
# removes exactly that, in reverse order (or, if the record is gone, the
# lab's own names). nginx runs in the server namespace with its files in
# /run/fgl<ID>/ and is stopped by its PID.
set -euo pipefail

LAB_ID=${LAB_ID:-}
if ! [[ $LAB_ID =~ ^[a-z0-9]{0,10}$ ]]; then
	echo "error: lab: LAB_ID '$LAB_ID' must be up to 10 of [a-z0-9]" >&2
	exit 2
fi
# a lab that is up keeps the number of users it was made with
[ -z "${LAB_USERS:-}" ] && [ -s "/run/fgl$LAB_ID/users" ] && LAB_USERS=$(cat "/run/fgl$LAB_ID/users")
LAB_USERS=${LAB_USERS:-0}
if ! [[ $LAB_USERS =~ ^(0|[1-9][0-9]?)$ ]] || [ "$LAB_USERS" -gt 64 ]; then
	echo "error: lab: LAB_USERS '$LAB_USERS' must be a number of users, 0 to 64" >&2
	exit 2
fi
P=fgl$LAB_ID
NS_SRV=$P-srv NS_CLI=$P-cli NS_ATK=$P-atk
BR=${P}br IF_SRV=${P}s IF_CLI=${P}c IF_ATK=${P}a
DIR=/run/$P
MADE=$DIR/made

NQ=$(nproc --all) # queues per veth end: a sender on CPU i uses ring i, so CPUs do not share one
SRV4=198.18.0.1 CLI4=198.18.0.2 ATK4=198.18.0.3
SRV6=2001:db8::1 CLI6=2001:db8::2 ATK6=2001:db8::3
USER_CLI=() USER_SRV=() # LAB_USERS address pairs
for ((i = 0; i < LAB_USERS; i++)); do
	USER_CLI+=("198.18.0.$((32 + i))") USER_SRV+=("198.18.0.$((96 + i))")
done

die() {
	echo "error: lab: $*" >&2
	exit 1
}

record() { echo "$*" >>"$MADE"; }

exists_ns() { ip netns list | awk '{print $1}' | grep -qx "$1"; }
exists_if() { ip link show dev "$1" >/dev/null 2>&1; }

mac_of() { # NS: MAC of its lab0
	ip -n "$1" -o link show dev lab0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'
}

# up: make the namespaces, veths, bridge, addresses and nginx.
up() {
	local ns hif n addr4 addr6 mac macs=()
	[ "$(id -u)" -eq 0 ] || die "run as root"
	for n in $NS_SRV $NS_CLI $NS_ATK; do
		! exists_ns "$n" || die "namespace $n exists (lab already up? LAB_ID=$LAB_ID $0 down)"
	done
	for n in $BR $IF_SRV $IF_CLI $IF_ATK; do
		! exists_if "$n" || die "interface $n exists (lab already up? LAB_ID=$LAB_ID $0 down)"
	done
	[ ! -e "$DIR" ] || die "$DIR exists (lab already up? LAB_ID=$LAB_ID $0 down)"
	for c in nginx ethtool curl; do
		command -v "$c" >/dev/null || die "$c is missing (sudo make deps)"
	done
	mkdir -p "$DIR"
	: >"$MADE"
	echo "$LAB_USERS" >"$DIR/users"
	trap 'up_failed' EXIT

	ip link add name "$BR" type bridge stp_state 0 mcast_snooping 0
	record link "$BR"
	sysctl -qw "net.ipv6.conf.$BR.disable_ipv6=1" "net.ipv4.conf.$BR.forwarding=0"
	for spec in "$NS_SRV $IF_SRV $SRV4 $SRV6" "$NS_CLI $IF_CLI $CLI4 $CLI6" \
		"$NS_ATK $IF_ATK $ATK4 $ATK6"; do
		read -r ns hif addr4 addr6 <<<"$spec"
		ip netns add "$ns"
		record netns "$ns"
		ip link add name "$hif" numtxqueues "$NQ" numrxqueues "$NQ" type veth \
			peer name lab0 numtxqueues "$NQ" numrxqueues "$NQ" netns "$ns"
		record link "$hif"
		sysctl -qw "net.ipv6.conf.$hif.disable_ipv6=1" "net.ipv4.conf.$hif.forwarding=0"
		ip link set dev "$hif" master "$BR" up
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0 \
			net.ipv6.conf.lab0.accept_ra=0 net.ipv6.conf.lab0.router_solicitations=0
		ip -n "$ns" link set dev lo up
		ip -n "$ns" addr add "$addr4/24" dev lab0
		ip -n "$ns" addr add "$addr6/64" dev lab0 nodad
		ip -n "$ns" link set dev lab0 up
		mac=$(mac_of "$ns")
		bridge fdb add "$mac" dev "$hif" master static
		macs+=("$mac")
	done
	ip link set dev "$BR" up
	ethtool -K "$IF_ATK" gro on >/dev/null
	for ((i = 0; i < LAB_USERS; i++)); do
		ip -n "$NS_CLI" addr add "${USER_CLI[i]}/24" dev lab0
		ip -n "$NS_SRV" addr add "${USER_SRV[i]}/24" dev lab0
		ip -n "$NS_CLI" route add "${USER_SRV[i]}/32" dev lab0 src "${USER_CLI[i]}"
	done
	# replies to spoofed sources go to the attacker, which does not forward them
	ip -n "$NS_SRV" route add 198.18.0.0/15 via "$ATK4"
	ip -n "$NS_SRV" route add 2001:db8::/32 via "$ATK6"

	cat >"$DIR/nginx.conf" <<-EOF
		# the lab's API server (scripts/lab.sh)
		worker_processes 1;
		pid $DIR/nginx.pid;
		error_log $DIR/nginx.err warn;
		events { worker_connections 4096; }
		http {
		    access_log off;
		    client_body_temp_path $DIR/body;
		    proxy_temp_path $DIR/proxy;
		    fastcgi_temp_path $DIR/fastcgi;
		    uwsgi_temp_path $DIR/uwsgi;
		    scgi_temp_path $DIR/scgi;
		    keepalive_requests 1000000;
		    server {
		        listen $SRV4:80 reuseport backlog=4096;
		        listen [$SRV6]:80 reuseport backlog=4096;
		$(for a in "${USER_SRV[@]}"; do printf '        listen %s:80 reuseport backlog=4096;\n' "$a"; done)
		        location / {
		            default_type application/json;
		            return 200 '{"ok":true}\n';
		        }
		    }
		}
	EOF
	ip netns exec "$NS_SRV" nginx -c "$DIR/nginx.conf" -e "$DIR/nginx.err"
	record nginx "$DIR/nginx.pid"
	for n in $(seq 50); do
		[ -s "$DIR/nginx.pid" ] && break
		sleep 0.1
	done
	[ -s "$DIR/nginx.pid" ] || die "nginx did not start (see $DIR/nginx.err)"

	# permanent neighbours: no ARP or ND traffic, nothing to resolve mid-measurement
	ip -n "$NS_SRV" neigh add "$CLI4" lladdr "${macs[1]}" dev lab0 nud permanent
	ip -n "$NS_SRV" neigh add "$CLI6" lladdr "${macs[1]}" dev lab0 nud permanent
	ip -n "$NS_SRV" neigh add "$ATK4" lladdr "${macs[2]}" dev lab0 nud permanent
	ip -n "$NS_SRV" neigh add "$ATK6" lladdr "${macs[2]}" dev lab0 nud permanent
	for ns in $NS_CLI $NS_ATK; do
		ip -n "$ns" neigh add "$SRV4" lladdr "${macs[0]}" dev lab0 nud permanent
		ip -n "$ns" neigh add "$SRV6" lladdr "${macs[0]}" dev lab0 nud permanent
	done
	for ((i = 0; i < LAB_USERS; i++)); do
		ip -n "$NS_SRV" neigh add "${USER_CLI[i]}" lladdr "${macs[1]}" dev lab0 nud permanent
		ip -n "$NS_CLI" neigh add "${USER_SRV[i]}" lladdr "${macs[0]}" dev lab0 nud permanent
	done
	for addr in "$SRV4" "[$SRV6]" "${USER_SRV[@]}"; do
		ip netns exec "$NS_CLI" curl -sf -m 5 -o /dev/null "http://$addr/" ||
			die "the client cannot reach nginx at $addr"
	done
	trap - EXIT
	warn_netfilter
	echo "lab: up ($P: server $SRV4 $SRV6, floodgate goes on $IF_CLI $IF_ATK${USER_CLI[0]:+, users ${USER_CLI[0]}-${USER_CLI[-1]}})"
}

up_failed() {
	echo "error: lab: up failed, removing what it made" >&2
	down
}

# A host FORWARD policy of DROP also drops bridged lab traffic under br_netfilter.
warn_netfilter() {
	local f=/proc/sys/net/bridge/bridge-nf-call-iptables
	[ -r $f ] && [ "$(cat $f)" = 1 ] || return 0
	if command -v iptables >/dev/null && iptables -S FORWARD 2>/dev/null | grep -qx -- '-P FORWARD DROP'; then
		echo "warning: lab: host iptables FORWARD policy is DROP and br_netfilter is on:" \
			"lab traffic through $BR may be dropped" >&2
	fi
}

stop_nginx() { # PIDFILE
	local pid n
	[ -s "$1" ] || return 0
	pid=$(cat "$1")
	kill "$pid" 2>/dev/null || return 0
	for n in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

# down: remove what up made, newest first; without a record, the lab's own names.
down() {
	local kind what
	trap - ERR
	set +e
	if [ -f "$MADE" ]; then
		tac "$MADE" | while read -r kind what; do
			case $kind in
			nginx) stop_nginx "$what" ;;
			netns) ip netns del "$what" 2>/dev/null ;;
			link) ip link del dev "$what" 2>/dev/null ;;
			esac
		done
	else
		stop_nginx "$DIR/nginx.pid"
		for n in $NS_SRV $NS_CLI $NS_ATK; do exists_ns "$n" && ip netns del "$n"; done
		for n in $IF_SRV $IF_CLI $IF_ATK $BR; do exists_if "$n" && ip link del dev "$n"; done
	fi
	rm -rf "$DIR"
	set -e
	# veths go with their namespace; wait until the kernel has let go of the names
	for n in $(seq 50); do
		leftover || return 0
		sleep 0.1
	done
	leftover && die "left behind: $(leftover)"
	return 0
}

# Prints what of the lab exists; false when nothing.
leftover() {
	local n out=""
	for n in $NS_SRV $NS_CLI $NS_ATK; do exists_ns "$n" && out+="netns $n "; done
	for n in $BR $IF_SRV $IF_CLI $IF_ATK; do exists_if "$n" && out+="link $n "; done
	[ -e "$DIR" ] && out+="dir $DIR "
	[ -n "$out" ] && echo "$out"
}

status() {
	local ns
	if ! exists_ns "$NS_SRV"; then
		echo "lab $P: down"
		leftover && return 1
		return 0
	fi
	echo "lab $P: up"
	for ns in $NS_SRV $NS_CLI $NS_ATK; do
		echo "  $ns: $(ip -n "$ns" -br addr show dev lab0 | awk '{$1=$2=""; print}') mac $(mac_of "$ns")"
	done
	echo "  host: bridge $BR, ports $IF_SRV $IF_CLI $IF_ATK"
	ip -o link show master "$BR" | grep -o '^[0-9]*: [^:@]*\|xdp[a-z]* *\(id [0-9]*\)\?' | paste -sd' ' | sed 's/^/  /'
	[ -s "$DIR/nginx.pid" ] && echo "  nginx: pid $(cat "$DIR/nginx.pid")"
	return 0
}

# env: shell assignments for the scripts that drive the lab.
env_vars() {
	cat <<-EOF
		LAB_P=$P
		LAB_NS_SRV=$NS_SRV
		LAB_NS_CLI=$NS_CLI
		LAB_NS_ATK=$NS_ATK
		LAB_BR=$BR
		LAB_IF_SRV=$IF_SRV
		LAB_IF_CLI=$IF_CLI
		LAB_IF_ATK=$IF_ATK
		LAB_SRV4=$SRV4
		LAB_SRV6=$SRV6
		LAB_CLI4=$CLI4
		LAB_ATK4=$ATK4
		LAB_DIR=$DIR
		LAB_USER_CLI="${USER_CLI[*]}"
		LAB_USER_SRV="${USER_SRV[*]}"
	EOF
	if exists_ns "$NS_SRV"; then
		echo "LAB_SRV_MAC=$(mac_of "$NS_SRV")"
		echo "LAB_ATK_MAC=$(mac_of "$NS_ATK")"
	fi
}

case ${1:-} in
up) up ;;
down) down ;;
status) status ;;
env) env_vars ;;
*)
	echo "usage: [LAB_ID=id] [LAB_USERS=n] $0 up|down|status|env" >&2
	exit 2
	;;
esac
