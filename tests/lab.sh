# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# lab.sh: the network state the shell tests build, sourced by tests/tap.sh. Two kinds:
#
# - a veth pair, its host end here and its peer in a private namespace (pair_add, pair_del),
#   for the tests of one command against real packets;
# - the lab of scripts/lab.sh (lab_up, lab_down), three namespaces behind a bridge, for the
#   tests that need nginx, the generator or several clients. scripts/lab.sh stays the one that
#   builds it (the demo and the benchmark use it too); these only drive it.
#
# Names carry the test script's PID, addresses are in 198.18.0.0/15 and 2001:db8::/32 only.
# Each remover removes only what is there, so a teardown may call it whatever the test reached.

# pair_add NS HOST PEER HOST_ADDRS PEER_ADDRS: a veth pair, HOST here and PEER in the new
# namespace NS (or here too when NS is "-"), both up with their addresses (CIDR, space
# separated; IPv6 without duplicate address detection) and lo up in NS. With NS "-" and no
# addresses, IPv6 is disabled on both ends. On failure it says what failed, removes what it
# made and returns 1.
pair_add() {
	local ns=$1 host=$2 peer=$3 haddrs=$4 paddrs=$5 a in=() to=() fail=
	if [ "$ns" != - ]; then
		in=(-n "$ns") to=(netns "$ns")
		if ! ip netns add "$ns"; then
			echo "# pair_add: cannot create network namespace $ns"
			return 1
		fi
	fi
	if ! ip link add "$host" type veth peer name "$peer" "${to[@]}"; then
		echo "# pair_add: cannot create veth pair $host/$peer"
		pair_del "$host" "$ns"
		return 1
	fi
	if [ "$ns" == - ] && [ -z "$haddrs$paddrs" ]; then
		sysctl -qw "net.ipv6.conf.$host.disable_ipv6=1" "net.ipv6.conf.$peer.disable_ipv6=1"
	fi
	# shellcheck disable=SC2046 # nodad gives nothing or one word
	for a in $haddrs; do
		ip addr add "$a" dev "$host" $(nodad "$a") || fail=1
	done
	# shellcheck disable=SC2046
	for a in $paddrs; do
		ip "${in[@]}" addr add "$a" dev "$peer" $(nodad "$a") || fail=1
	done
	ip link set "$host" up && ip "${in[@]}" link set "$peer" up || fail=1
	[ "$ns" == - ] || ip -n "$ns" link set lo up || fail=1
	if [ -n "$fail" ]; then
		echo "# pair_add: cannot configure $host/$peer"
		pair_del "$host" "$ns"
		return 1
	fi
}

# link_move LINK NS ADDRS: a link of this namespace moved into the new namespace NS, up there
# with its addresses (as pair_add's) and lo up: the second end of a pair whose ends live in two
# namespaces. On failure it says what failed, removes NS (the link goes with it) and returns 1.
link_move() {
	local link=$1 ns=$2 a fail=
	if ! ip netns add "$ns"; then
		echo "# link_move: cannot create network namespace $ns"
		return 1
	fi
	ip link set "$link" netns "$ns" || fail=1
	# shellcheck disable=SC2046 # nodad gives nothing or one word
	for a in $3; do
		[ -n "$fail" ] || ip -n "$ns" addr add "$a" dev "$link" $(nodad "$a") || fail=1
	done
	[ -n "$fail" ] || { ip -n "$ns" link set lo up && ip -n "$ns" link set "$link" up; } || fail=1
	if [ -n "$fail" ]; then
		echo "# link_move: cannot move $link into $ns"
		ip netns del "$ns" 2>/dev/null
		return 1
	fi
}

# nodad ADDR: "nodad" for an IPv6 address, nothing for IPv4 (an option of `ip addr add`)
nodad() { [[ $1 != *:* ]] || echo nodad; }

# pair_del HOST NS: the veth pair (its peer goes with it) and the namespace, if they are there.
pair_del() {
	ip link del "$1" 2>/dev/null
	[ "${2:--}" == - ] || ip netns del "$2" 2>/dev/null
	return 0
}

# udp_send NS SRC DST PORT COUNT [PACE]: COUNT UDP datagrams (64 bytes of payload) from the
# IPv4 address SRC in the namespace NS to DST:PORT, one every PACE seconds (default: as fast as
# it can), 10 s at most; what a test counts on the other end.
udp_send() {
	ip netns exec "$1" python3 - "$2" "$3" "$4" "$5" "${6:-0}" <<-'EOF'
		import socket, sys, time
		src, dst, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
		pace = float(sys.argv[5])
		s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		s.bind((src, 0))
		t0, sent = time.monotonic(), 0
		while sent < count and time.monotonic() - t0 < 10:
		    s.sendto(b'x' * 64, (dst, port))
		    sent += 1
		    if pace:
		        time.sleep(pace)
	EOF
}

# fg_remove FG PIN: floodgate detached from everything pinned under PIN, and PIN removed.
fg_remove() {
	"$1" --pin-dir "$2" detach --all >/dev/null 2>&1
	[ -e "$2" ] && rm -rf "$2"
	return 0
}

# lab_remove FG PIN LINK NS: a test's network state, each part only if it is there: floodgate
# detached from everything pinned under PIN and PIN removed, the veth LINK, the namespace NS.
lab_remove() {
	fg_remove "$1" "$2"
	pair_del "$3" "$4"
}

# lab_up: the lab of scripts/lab.sh for $LAB_ID, its names and addresses (LAB_*) in this
# shell. On failure it prints what lab.sh said as comments and returns 1.
lab_up() {
	local out
	if ! out=$(scripts/lab.sh up 2>&1); then
		echo "$out" | sed 's/^/# /'
		return 1
	fi
	eval "$(scripts/lab.sh env)"
	[ -n "${LAB_SRV_MAC:-}" ] || {
		echo "# lab env without the server's MAC: $out"
		return 1
	}
}

# lab_settle: wait until the lab's namespaces have sent what they send by themselves after
# `up` (MLD reports, duplicate address detection of the link-local addresses): no frame
# leaves any lab0 for a second, 8 s at most. Tests that count frames exactly start after it.
lab_settle() {
	local before now
	before=$(lab_tx)
	for _ in $(seq 8); do
		sleep 1
		now=$(lab_tx)
		[ "$now" == "$before" ] && return 0
		before=$now
	done
	echo "# lab_settle: the lab namespaces still send by themselves after 8 s"
	return 0
}
# lab_tx: the frames each lab namespace has sent on its lab0, on one line
lab_tx() {
	local ns
	for ns in "$LAB_NS_SRV" "$LAB_NS_CLI" "$LAB_NS_ATK"; do
		ip -n "$ns" -j -s link show dev lab0 | jq -r '.[0].stats64.tx.packets'
	done | paste -sd' '
}

# lab_down: the lab of $LAB_ID down, if it is up.
lab_down() {
	scripts/lab.sh down >/dev/null 2>&1
	return 0
}

# lab_teardown FG PIN TMP: a lab test's state, each part only if it is there: floodgate detached
# from everything pinned under PIN and PIN removed, the lab (scripts/lab.sh, $LAB_ID) down, TMP
# removed. The caller ends its own processes first, by PID.
lab_teardown() {
	fg_remove "$1" "$2"
	lab_down
	rm -rf "$3"
	return 0
}

# server_lab_up DIR PASSPROG NS_S NS_C IF_S IF_C [QUEUES]: the server-shaped lab of the SYN proxy's test
# and bench: one veth pair, IF_S in the server namespace NS_S (198.18.0.1/24, 2001:db8::1/64),
# IF_C in the client namespace NS_C (198.18.0.2/24, 2001:db8::2/64); a bpffs of its own on
# DIR/bpf (floodgate run in NS_S pins there: `ip netns exec` gives it a fresh /sys); nginx in
# NS_S on port 80 of every server address (/ answers "proxied", /big 30,000 bytes), its PID
# in SERVER_NGINX_PID. What a veth needs that a NIC does not: IF_C sends with checksum offload
# off (else its SYNs carry partial checksums, which the SYN proxy refuses) and has an XDP
# program, PASSPROG's xdp.frags section (a veth hands XDP_TX frames to its peer's XDP ring,
# which the kernel schedules only when the peer has one); GRO on IF_S lets the stack take
# floods when no XDP program is there. Replies to spoofed sources in 198.19.0.0/16 are routed
# to the client namespace, which drops them, as the internet would. QUEUES (default 1): the
# pair's queues each way, as a server NIC has one per CPU and spreads a spoofed flood over them
# (a veth puts a redirected frame on the queue of the CPU that sent it, so a flood sent by as
# many generator threads, one per CPU, spreads the same way; each queue has its own 256-frame
# ring). Both neighbours are known before it returns. On failure it says what failed and returns 1; server_lab_down removes
# whatever it reached.
server_lab_up() {
	local dir=$1 prog=$2 ns_s=$3 ns_c=$4 if_s=$5 if_c=$6 queues=${7:-1}
	SERVER_NGINX_PID=
	mkdir -p "$dir/bpf" && mount -t bpf bpf "$dir/bpf" || {
		echo "# server_lab_up: cannot mount a bpffs on $dir/bpf"
		return 1
	}
	pair_add "$ns_s" "$if_c" "$if_s" "" "198.18.0.1/24 2001:db8::1/64" || return 1
	link_move "$if_c" "$ns_c" "198.18.0.2/24 2001:db8::2/64" || return 1
	# the client's side first: a veth takes no more queues than its peer sends on
	if [ "$queues" != 1 ] && { ! ip netns exec "$ns_c" ethtool -L "$if_c" rx "$queues" tx "$queues" ||
		! ip netns exec "$ns_s" ethtool -L "$if_s" rx "$queues" tx "$queues"; }; then
		echo "# server_lab_up: cannot give $if_s/$if_c $queues queues"
		return 1
	fi
	if ! ip -n "$ns_s" route add 198.19.0.0/16 via 198.18.0.2 ||
		! ip netns exec "$ns_s" ethtool -K "$if_s" gro on >/dev/null ||
		! ip netns exec "$ns_c" ethtool -K "$if_c" tx off >/dev/null ||
		! ip -n "$ns_c" link set dev "$if_c" xdpdrv obj "$prog" program trafgen_sink; then
		echo "# server_lab_up: cannot configure $if_s/$if_c"
		return 1
	fi
	cat >"$dir/nginx.conf" <<-EOC
		worker_processes 1;
		pid $dir/nginx.pid;
		error_log $dir/nginx.err warn;
		events { worker_connections 4096; }
		http {
		    access_log off;
		    client_body_temp_path $dir/body;
		    proxy_temp_path $dir/proxy;
		    fastcgi_temp_path $dir/fastcgi;
		    uwsgi_temp_path $dir/uwsgi;
		    scgi_temp_path $dir/scgi;
		    server {
		        listen 80 backlog=4096;
		        listen [2001:db8::1]:80 backlog=4096;
		        location / { return 200 'proxied\n'; }
		        location = /big { default_type text/plain; alias $dir/big.txt; }
		    }
		}
	EOC
	head -c 30000 /dev/zero | tr '\0' x >"$dir/big.txt"
	chmod 755 "$dir" && chmod 644 "$dir/big.txt"
	if ! ip netns exec "$ns_s" nginx -c "$dir/nginx.conf" -e "$dir/nginx.err" ||
		! poll 5 test -s "$dir/nginx.pid"; then
		echo "# server_lab_up: nginx did not start: $(head -c 300 "$dir/nginx.err" 2>/dev/null)"
		return 1
	fi
	SERVER_NGINX_PID=$(cat "$dir/nginx.pid")
	if ! poll 5 ip netns exec "$ns_c" curl -s -m 1 -o /dev/null http://198.18.0.1/ ||
		! poll 5 ip netns exec "$ns_c" curl -s -m 1 -o /dev/null "http://[2001:db8::1]/"; then
		echo "# server_lab_up: the client does not reach nginx"
		return 1
	fi
}

# server_lab_down DIR FG NS_S NS_C IF_C: what server_lab_up made, each part only if it is
# there: floodgate detached (in NS_S, which removes its nft table too) from everything pinned
# under DIR/bpf/fg, nginx (SERVER_NGINX_PID) stopped, the pair and both namespaces, the bpffs.
# DIR itself stays.
server_lab_down() {
	local dir=$1 fg=$2 ns_s=$3 ns_c=$4 if_c=$5
	if mountpoint -q "$dir/bpf"; then
		ip netns exec "$ns_s" "$fg" --pin-dir "$dir/bpf/fg" detach --all >/dev/null 2>&1
		rm -rf "$dir/bpf/fg"
	fi
	stop_pid "${SERVER_NGINX_PID:-}"
	SERVER_NGINX_PID=
	pair_del "$if_c" "$ns_s"
	ip netns del "$ns_c" 2>/dev/null
	mountpoint -q "$dir/bpf" && umount "$dir/bpf"
	return 0
}
