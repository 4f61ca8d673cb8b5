#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# synproxy.test.sh: the SYN proxy end to end, on a server-shaped topology.
#
#   fglsp<ID>c client  198.18.0.2/24  2001:db8::2/64   curl, forged ACKs, trafgen
#   fglsp<ID>s server  198.18.0.1/24  2001:db8::1/64   floodgate (XDP on its veth),
#                                                      table inet floodgate, nginx :80
#
# One veth pair between the two namespaces, built by tests/lab.sh's server_lab_up (which
# says what a veth needs that a NIC does not). floodgate runs inside the server namespace, as
# on a real server: `ip netns exec` gives it a fresh /sys, so its pins live on a bpffs of the
# test's own, mounted under the test's temporary folder (visible from every namespace, removed
# at the end), and the nftables table it installs is the server namespace's.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
TEST_NAME=synproxy
. tests/tap.sh # ok, notok, check, same, le, note, exited, stop_pid, poll, skip_all, run_tests
BUILD=${FG_BUILD:-$PWD/build}
FG=$BUILD/floodgate
TG=$BUILD/tests/trafgen
PASSPROG=$BUILD/trafgen.bpf.o
ID=$$
# fgl*: trafgen transmits only from namespaces named like the lab's (lab.sh names end in -srv, -cli, -atk)
NS_S=fglsp${ID}s NS_C=fglsp${ID}c
IF_S=fgsp${ID}a IF_C=fgsp${ID}b
TMP=$(mktemp -d /tmp/fgt-sp.XXXXXX)
PIN=$TMP/bpf/fg
PIN2=$TMP/bpf/fg2 # a second floodgate instance in the server's namespace
DPID='' TGPID=''

trap 'rm -rf "$TMP"' EXIT

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
for c in nginx ethtool curl nft jq python3 nstat; do
	command -v $c >/dev/null || skip_all "$c missing (make deps)"
done
if [ ! -x "$FG" ] || [ ! -x "$TG" ] || [ ! -f "$PASSPROG" ]; then
	skip_all "build $FG first"
fi

S() { ip netns exec "$NS_S" "$@"; }
C() { ip netns exec "$NS_C" "$@"; }
fg() { S "$FG" --pin-dir "$PIN" "$@"; }
# counter NAME: the data path's counter (stats -j: verdicts under packets, the rest under pressure)
counter() { fg stats -j | jq -r --arg n "$1" '.packets[$n] // .pressure[$n] // 0'; }
tables() { S nft list tables | sort | tr '\n' ' '; }
has_table() { S nft list table inet floodgate >/dev/null 2>&1; }

# Each test starts from the server-shaped lab of tests/lab.sh, floodgate attached to the server's
# veth, and leaves nothing behind, whatever it reached. test_flood's lab has a queue per CPU
# (two at least), as the SYN proxy's bench has.
FLOOD_QUEUES=$(n=$(nproc) && echo $((n < 2 ? 2 : n > 8 ? 8 : n)))
setup_test() {
	local queues=1
	[ "$CURRENT_TEST" != test_flood ] || queues=$FLOOD_QUEUES
	server_lab_up "$TMP" "$PASSPROG" "$NS_S" "$NS_C" "$IF_S" "$IF_C" "$queues" || return 1
	fg attach "$IF_S" >/dev/null || return 1
}

teardown_test() {
	stop_pid "$DPID"
	stop_pid "$TGPID"
	# a second instance's pins (test_two_instances), before the bpffs goes
	[ ! -d "$PIN2" ] || S "$FG" --pin-dir "$PIN2" detach --all >/dev/null 2>&1
	server_lab_down "$TMP" "$FG" "$NS_S" "$NS_C" "$IF_C"
	rm -rf "${TMP:?}"/*
	return 0
}

# forge N PORT FAMILY: N bare ACKs with made-up acknowledgement numbers from the client
forge() {
	C python3 - "$@" <<-'EOF'
		import random, socket, struct, sys
		n, port, fam = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
		src, dst = ("198.18.0.2", "198.18.0.1") if fam == "4" else ("2001:db8::2", "2001:db8::1")
		af = socket.AF_INET if fam == "4" else socket.AF_INET6
		s = socket.socket(af, socket.SOCK_RAW, socket.IPPROTO_TCP)
		def csum(b):
		    if len(b) % 2: b += b"\0"
		    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
		    while t >> 16: t = (t & 0xffff) + (t >> 16)
		    return ~t & 0xffff
		for i in range(n):
		    sport = 20000 + i
		    th = struct.pack("!HHIIBBHHH", sport, port, random.getrandbits(32),
		                     random.getrandbits(32), 5 << 4, 0x10, 64240, 0, 0)
		    a, b = socket.inet_pton(af, src), socket.inet_pton(af, dst)
		    if fam == "4":
		        ph = a + b + struct.pack("!BBH", 0, 6, len(th))
		    else:
		        ph = a + b + struct.pack("!I3xB", len(th), 6)
		    th = th[:16] + struct.pack("!H", csum(ph + th)) + th[18:]
		    s.sendto(th, (dst, 0))
	EOF
}

# syn_proxy as a rule field (user/rule.c's table): `limit set` takes it on TCP endpoints
# only, `limit list` and `config dump` show it, and a refused change changes nothing.
test_rule_field() {
	local out
	fg limit set udp/53 --pps 10
	out=$(fg limit set udp/53 --syn-proxy on 2>&1)
	check "udp: --syn-proxy on refused" test $? -ne 0
	check "udp: the error names the endpoint and why" grep -q \
		"limit set udp/53: --syn-proxy: on: only for TCP endpoints" <<<"$out"
	out=$(fg limit set default --syn-proxy on 2>&1)
	check "default rule: --syn-proxy on refused" test $? -ne 0
	check "default rule: the error says why" grep -q "only for TCP endpoints" <<<"$out"
	out=$(fg limit set tcp/80 --syn-proxy yes 2>&1)
	check "--syn-proxy yes refused" test $? -ne 0
	check "--syn-proxy yes: on or off" grep -q -- "--syn-proxy: yes: must be on or off" <<<"$out"
	same "refused: no rule for tcp/80, no table" "0 " \
		"$(fg limit list -j | jq '[.[] | select(.endpoint == "tcp/80")] | length') $(tables)"
	check "udp: --syn-proxy off is no change" fg limit set udp/53 --syn-proxy off
	check "tcp/80: --syn-proxy on" fg limit set tcp/80 --syn-proxy on
	check "limit list: after the action" grep -qE '^tcp/80 .* drop, syn-proxy$' <<<"$(fg limit list)"
	same "limit list -j: a boolean per rule" "default false tcp/80 true udp/53 false" \
		"$(fg limit list -j | jq -r '.[] | "\(.endpoint) \(.syn_proxy)"' | tr '\n' ' ' | sed 's/ $//')"
	fg config dump >"$TMP/dump.yaml"
	same "config dump: on for tcp/80 only" "tcp/80 on" \
		"$(awk '$2 == "endpoint:" { ep = $3 } $1 == "syn_proxy:" { print ep, $2 }' "$TMP/dump.yaml")"
	check "config dump: the file checks" fg config check "$TMP/dump.yaml"
	check "the table is there" has_table
}

test_handshake_ipv4() {
	local before out hits
	fg limit set tcp/80 --syn-proxy on
	before=$(counter syn_proxy_synack)
	out=$(for _ in 1 2 3 4 5; do C curl -s -m 5 http://198.18.0.1/; done | sort | uniq -c | tr -s ' ')
	same "ipv4: five connections through the proxy get nginx's page" " 5 proxied" "$out"
	le "ipv4: each SYN answered in XDP" 5 $(($(counter syn_proxy_synack) - before))
	le "ipv4: each handshake's cookie accepted" 5 "$(counter syn_proxy_cookie_ok)"
	# a 30 kB answer: established segments pass (conntrack knows the connection), the client's
	# ACKs after the first on a CPU without the lookup (that CPU's fg_sp_flows entry)
	hits=$(counter syn_proxy_flow_hits)
	out=$(C curl -s -m 5 http://198.18.0.1/big | wc -c)
	same "ipv4: a 30 kB answer over a proxied connection" 30000 "$out"
	le "ipv4: its ACKs passed on the proxy's flow entry" 1 $(($(counter syn_proxy_flow_hits) - hits))
	same "ipv4: nothing refused" 0 "$(counter syn_proxy_refused)"
}

# IPv6 end to end, as IPv4. It needs the server's veth to validate TCP checksums on receive
# (GRO on, server_lab_up): nftables' SYNPROXY checks an IPv6 segment's checksum with the IPv4
# function (nft_synproxy_do_eval calls nf_ip_checksum for both families), so an ACK that
# arrives unvalidated (CHECKSUM_NONE: a veth without GRO, the client sending with offload off)
# is dropped there, whatever floodgate does (README, limits).
test_handshake_ipv6() {
	local before out hits
	fg limit set tcp/80 --syn-proxy on
	before=$(counter syn_proxy_synack)
	out=$(for _ in 1 2 3; do C curl -s -m 5 "http://[2001:db8::1]/"; done | sort | uniq -c | tr -s ' ')
	same "ipv6: three connections through the proxy get nginx's page" " 3 proxied" "$out"
	le "ipv6: each SYN answered in XDP" 3 $(($(counter syn_proxy_synack) - before))
	le "ipv6: each handshake's cookie accepted" 3 "$(counter syn_proxy_cookie_ok)"
	hits=$(counter syn_proxy_flow_hits)
	out=$(C curl -s -m 5 "http://[2001:db8::1]/big" | wc -c)
	same "ipv6: a 30 kB answer over a proxied connection" 30000 "$out"
	le "ipv6: its ACKs passed on the proxy's flow entry" 1 $(($(counter syn_proxy_flow_hits) - hits))
	same "ipv6: nothing refused" 0 "$(counter syn_proxy_refused)"
}

# A protocol whose server speaks first (an SMTP-style banner), through the proxy, with the
# README's workaround for SYNPROXY's refused ACK: the server's TCP timestamps off. Every
# handshake completes without the server retransmitting its SYN-ACK; with timestamps on,
# this kernel refuses SYNPROXY's ACK (TcpExtTSEcrRejected) and each banner waits for that
# retransmission (about 1 s): SP_SERVER_TS=1 shows it (this test then fails).
test_server_speaks_first() {
	local out srv
	fg limit set tcp/2525 --syn-proxy on
	S sysctl -qw net.ipv4.tcp_timestamps="${SP_SERVER_TS:-0}"
	ip netns exec "$NS_S" python3 -c '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.1", 2525))
s.listen(16)
s.settimeout(30)
for _ in range(5):
    c, _ = s.accept()
    c.sendall(b"220 banner\r\n")
    c.close()' &
	srv=$!
	poll 5 S sh -c 'ss -ltn | grep -q ":2525 "'
	S nstat -n >/dev/null
	out=$(C python3 -c '
import socket
for _ in range(5):
    s = socket.socket()
    s.settimeout(5)
    s.connect(("198.18.0.1", 2525))
    print(s.recv(100).decode().strip())
    s.close()' 2>&1 | sort | uniq -c | tr -s ' ')
	stop_pid "$srv"
	same "five banners through the proxy" " 5 220 banner" "$out"
	same "the server never retransmitted its SYN-ACK, nothing refused" "0 0" \
		"$(S nstat -az TcpExtTCPSynRetrans TcpExtTSEcrRejected | awk 'NR > 1 { printf "%s ", $2 }' |
			sed 's/ $//')"
	le "the handshakes went through the cookies" 5 "$(counter syn_proxy_cookie_ok)"
}

test_forged_cookies() {
	local before rsts
	fg limit set tcp/80 --syn-proxy on
	fg limit set tcp/81 >/dev/null # an endpoint without the proxy
	before=$(counter syn_proxy_refused)
	rsts=$(S nstat -az TcpOutRsts | awk '$1 == "TcpOutRsts" { print $2 }')
	forge 200 80 4
	forge 200 80 6
	same "400 forged ACKs (IPv4 and IPv6) refused and counted" 400 \
		$(($(counter syn_proxy_refused) - before))
	same "the server never saw them (no RST sent)" "$rsts" \
		"$(S nstat -az TcpOutRsts | awk '$1 == "TcpOutRsts" { print $2 }')"
	before=$(counter syn_proxy_refused)
	forge 50 81 4
	same "forged ACKs to a port without the proxy pass, as before" "$before" \
		"$(counter syn_proxy_refused)"
	# a real client still gets through afterwards
	same "a real client after the forgeries" proxied "$(C curl -s -m 5 http://198.18.0.1/)"
}

# trafgen cost times the proxy's answer to a spoofed SYN (make bench and scripts/ab.sh use
# it): its front program writes the SYN back before every run, as BPF_PROG_TEST_RUN runs each
# repetition on the buffer the last one left, here the SYN-ACK; without the front, a target
# that answers in place is refused rather than timed on its own answers
test_cost_harness() {
	local before out rc
	fg limit set tcp/80 --syn-proxy on
	fg limit set default --pps off --syn-pps off >/dev/null
	before=$(counter syn_proxy_synack)
	out=$("$TG" -j cost --netns "$NS_S" --ifname "$IF_S" --target "$PIN/prog" --proto syn \
		--dport 80 --src 198.19.0.0 --sources 64 --repeat 20000 --warmup 1000 2>"$TMP/err")
	rc=$?
	check "trafgen cost --proto syn timed the proxy ($(jq -r .ns_per_packet <<<"$out" 2>/dev/null) ns a SYN; $(head -c 200 "$TMP/err"))" \
		test $rc -eq 0
	same "every run met a SYN and answered it (1 probe, 1000 warm-up, 20000 timed)" 21001 \
		$(($(counter syn_proxy_synack) - before))
	"$TG" cost --netns "$NS_S" --ifname "$IF_S" --target "$PIN/prog" --proto syn --dport 80 \
		--src 198.19.0.0 --bare --repeat 1000 2>"$TMP/err" >/dev/null
	same "trafgen cost --bare refuses a target that answers in place (exit 1)" 1 $?
	check "... and says why ($(head -1 "$TMP/err"))" grep -q "answered the frame with XDP_TX" "$TMP/err"
}

test_monitor() {
	local before
	fg limit set tcp/80 --syn-proxy on --action monitor
	before=$(counter syn_proxy_would_synack)
	same "monitor: the page, from the stack as without the proxy" proxied \
		"$(C curl -s -m 5 http://198.18.0.1/)"
	le "monitor: the SYN counted as one XDP would have answered" 1 \
		$(($(counter syn_proxy_would_synack) - before))
	same "monitor: XDP answered nothing" 0 "$(counter syn_proxy_synack)"
}

# The config file's syn_proxy: on, applied by the daemon, and its metrics.
test_config_metrics() {
	local port m
	cat >"$TMP/fg.yaml" <<-EOF
		endpoints:
		  - endpoint: tcp/80
		    syn_proxy: on
		  - endpoint: tcp/8080
		    syn_proxy: on
		    action: monitor
		metrics:
		  listen: 127.0.0.1:0
	EOF
	# ip netns exec execs the daemon: $! is its PID (through S, it would be a subshell's)
	ip netns exec "$NS_S" "$FG" --pin-dir "$PIN" run --config "$TMP/fg.yaml" \
		>"$TMP/run.out" 2>"$TMP/run.err" &
	DPID=$!
	if ! poll 20 grep -q 'serving metrics' "$TMP/run.err"; then
		notok "config: floodgate run serves metrics"
		return
	fi
	port=$(grep -o 'port [0-9]*' "$TMP/run.err" | head -1 | grep -o '[0-9]*')
	check "config: the daemon installed the table" has_table
	same "config: dump shows it" "on on" "$(fg config dump | awk '$1 == "syn_proxy:" { print $2 }' |
		tr '\n' ' ' | sed 's/ $//')"
	same "config: the page through the proxy" proxied "$(C curl -s -m 5 http://198.18.0.1/)"
	C curl -s -m 2 -o /dev/null http://198.18.0.1:8080/ # monitor: nothing listens, counted
	m=$(S curl -s -m 5 "http://127.0.0.1:$port/metrics")
	check "metrics: SYN-ACKs under action answer" grep -qE \
		'^floodgate_packets_total\{action="answer",reason="syn_proxy_synack"\} [1-9]' <<<"$m"
	check "metrics: cookies accepted" grep -qE \
		'^floodgate_packets_total\{action="pass",reason="syn_proxy_cookie_ok"\} [1-9]' <<<"$m"
	check "metrics: refused, a drop reason" grep -qE \
		'^floodgate_packets_total\{action="drop",reason="syn_proxy_refused"\} [0-9]' <<<"$m"
	check "metrics: the monitor rule's would-be SYN-ACK" grep -qE \
		'^floodgate_syn_proxy_would_total\{what="synack"\} [1-9]' <<<"$m"
	check "metrics: SYNs answered without a conntrack lookup" grep -qE \
		'^floodgate_syn_proxy_unseen_syns_total [0-9]+$' <<<"$m"
	check "metrics: segments passed on a flow entry" grep -qE \
		'^floodgate_syn_proxy_flow_hits_total [0-9]+$' <<<"$m"
}

test_rules_removed() {
	S nft add table inet someone_else
	fg limit set tcp/80 --syn-proxy on
	fg limit set tcp/443 --syn-proxy on
	same "on: our table beside the others" "table inet floodgate table inet someone_else " \
		"$(tables)"
	fg limit set tcp/80 --syn-proxy off
	check "one endpoint off: the table stays for the other" has_table
	fg limit del tcp/443
	same "last endpoint deleted: our table gone, the other kept" "table inet someone_else " \
		"$(tables)"
	fg limit set tcp/80 --syn-proxy on
	fg detach --all
	same "detach --all: our table gone, the other kept" "table inet someone_else " "$(tables)"
}

# An nft that fails to delete: turning the last endpoint's proxy off stands, warns what stays,
# and the next change removes the chain left behind (it did not: only detach --all did).
test_remove_fails() {
	local real out
	real=$(command -v nft)
	mkdir -p "$TMP/nodel"
	cat >"$TMP/nodel/nft" <<-EOF
		#!/bin/sh
		case "\$*" in *delete*) echo "Error: Could not process rule: Device or resource busy" >&2; exit 1 ;; esac
		exec $real "\$@"
	EOF
	chmod +x "$TMP/nodel/nft"
	fg limit set tcp/80 --syn-proxy on
	check "on: our table" has_table
	out=$(S env PATH="$TMP/nodel:$PATH" "$FG" --pin-dir "$PIN" limit set tcp/80 --syn-proxy off 2>&1)
	check "off, nft cannot delete: the change stands (exit 0)" test $? -eq 0
	same "... the rule is off" false \
		"$(fg limit list -j | jq '.[] | select(.endpoint == "tcp/80") | .syn_proxy')"
	check "... with a warning: nft's error, and what stays goes with the next change" \
		grep -q "^warning: syn proxy: nft delete chain .*goes with the next change or detach --all" <<<"$out"
	check "... the table is still there" has_table
	check "the next change, with a working nft" fg limit set tcp/81 --pps 100
	check "... removes what was left" bash -c "! ip netns exec $NS_S nft list table inet floodgate >/dev/null 2>&1"
}

# Two floodgate instances (two pin directories) in one namespace: each has its chain in the
# one table, a change of one leaves the other's ports, and the table goes with the last.
test_two_instances() {
	local if2=fgsp${ID}c
	fg2() { S "$FG" --pin-dir "$PIN2" "$@"; }
	# a second NIC of the server: a veth pair inside its namespace (gone with it)
	S ip link add "$if2" type veth peer name "fgsp${ID}d" && S ip link set "$if2" up
	check "a second instance attached" fg2 attach "$if2"
	fg limit set tcp/80 --syn-proxy on
	fg2 limit set tcp/443 --syn-proxy on
	same "two chains in the one table" 2 "$(S nft list table inet floodgate | grep -c '^\s*chain ')"
	check "the second's change left the first's port" grep -q 'dport 80 ' \
		<<<"$(S nft list table inet floodgate)"
	fg2 detach --all
	check "the second's detach --all: the table stays for the first" has_table
	same "the first's chain alone" 1 "$(S nft list table inet floodgate | grep -c '^\s*chain ')"
	same "the first still proxies" proxied "$(C curl -s -m 5 http://198.18.0.1/)"
	le "through XDP's cookies" 1 "$(counter syn_proxy_cookie_ok)"
	fg detach --all
	same "the last instance's detach --all removes the table" "" "$(tables)"
}

# Two instances changing the table at once: one removing its last chain (through a slow nft,
# between its look for other chains and its delete of the table) and the other installing its
# own. The install waits for the removal (a host-wide lock): the chain it made in between went
# with the table.
test_two_instances_race() {
	local if2=fgsp${ID}c real off
	fg2() { S "$FG" --pin-dir "$PIN2" "$@"; }
	S ip link add "$if2" type veth peer name "fgsp${ID}d" && S ip link set "$if2" up
	check "a second instance attached" fg2 attach "$if2"
	real=$(command -v nft)
	mkdir -p "$TMP/slow"
	cat >"$TMP/slow/nft" <<-EOF
		#!/bin/sh
		case "\$*" in "delete table"*) touch "$TMP/slow/deleting"; sleep 2 ;; esac
		exec $real "\$@"
	EOF
	chmod +x "$TMP/slow/nft"
	fg limit set tcp/80 --syn-proxy on
	S env PATH="$TMP/slow:$PATH" "$FG" --pin-dir "$PIN" limit set tcp/80 --syn-proxy off \
		>/dev/null 2>&1 &
	off=$!
	poll 10 test -e "$TMP/slow/deleting"
	check "the second instance proxies tcp/443 meanwhile" fg2 limit set tcp/443 --syn-proxy on
	wait "$off"
	check "... and its chain is there once the first removed its own" \
		bash -c "ip netns exec $NS_S nft list table inet floodgate 2>/dev/null | grep -q 'dport 443 '"
}

test_no_synproxy_support() {
	local out
	fg limit set tcp/80 --pps 1000
	mkdir -p "$TMP/nonft" "$TMP/badnft"
	# an nft that fails as a kernel without SYNPROXY makes it fail
	cat >"$TMP/badnft/nft" <<-'EOF'
		#!/bin/sh
		case "$*" in *list*) exit 1 ;; esac
		/bin/cat >/dev/null
		echo "Error: Could not process rule: No such file or directory" >&2
		exit 1
	EOF
	chmod +x "$TMP/badnft/nft"
	out=$(S env PATH="$TMP/badnft" "$FG" --pin-dir "$PIN" limit set tcp/80 --syn-proxy on 2>&1)
	check "no SYNPROXY: limit set fails" test $? -ne 0
	check "no SYNPROXY: the error says why" grep -q "CONFIG_NFT_SYNPROXY.*nothing was changed" \
		<<<"$out"
	# another refusal (here: no permission) says what nft said, without the kernel hint
	sed 's/No such file or directory/Operation not permitted/' "$TMP/badnft/nft" >"$TMP/nftperm"
	mv "$TMP/nftperm" "$TMP/badnft/nft" && chmod +x "$TMP/badnft/nft"
	out=$(S env PATH="$TMP/badnft" "$FG" --pin-dir "$PIN" limit set tcp/80 --syn-proxy on 2>&1)
	check "nft refuses otherwise: limit set fails, naming nft's reason" \
		grep -q "could not install table inet floodgate: Error: Could not process rule: Operation not permitted; nothing was changed" <<<"$out"
	check "... and no kernel config hint" bash -c "! grep -q CONFIG_ <<<'$out'"
	out=$(S env PATH="$TMP/nonft" "$FG" --pin-dir "$PIN" limit set tcp/80 --syn-proxy on 2>&1)
	check "no nft: the error says so" grep -q "nft binary is not installed" <<<"$out"
	same "nothing half-installed: the rule is not on" false \
		"$(fg limit list -j | jq '.[] | select(.endpoint == "tcp/80") | .syn_proxy')"
	same "nothing half-installed: no table" "" "$(tables)"
}

# A SYN flood from 65,536 spoofed sources (200,000 SYNs at 40,000/s, about three
# per source) while a real client opens connections: every one of them gets in,
# and every spoofed SYN is answered in XDP. Its SYN-ACKs go to addresses no
# namespace has and die in the client's, as they would on the internet. The lab
# has FLOOD_QUEUES queues and the flood as many sender threads, which spread it
# over every queue's ring, XDP program and SYN-ACKs.
test_flood() {
	local n=200000 rate=40000 got fails=0 before mac
	fg limit set tcp/80 --syn-proxy on
	mac=$(S cat /sys/class/net/"$IF_S"/address)
	before=$(counter syn_proxy_synack)
	ip netns exec "$NS_C" "$TG" -j send "$IF_C" --dmac "$mac" --dst 198.18.0.1 --proto syn --dport 80 \
		--src 198.19.0.0 --sources 65536 --count $n --rate $rate --duration 20 \
		--method packet --threads "$FLOOD_QUEUES" >"$TMP/tg.json" 2>"$TMP/tg.err" &
	TGPID=$!
	sleep 1
	got=0
	for _ in $(seq 20); do
		if [ "$(C curl -s -m 3 http://198.18.0.1/)" == proxied ]; then
			got=$((got + 1))
		else
			fails=$((fails + 1))
		fi
	done
	wait $TGPID
	TGPID=
	[ -s "$TMP/tg.err" ] && note "flood: trafgen: $(head -c 400 "$TMP/tg.err")"
	same "flood: the generator sent them all" $n "$(jq -r '.frames' "$TMP/tg.json" 2>/dev/null)"
	same "flood: 20 of 20 real connections during it" 20 "$got"
	le "flood: every spoofed SYN answered in XDP" $n $(($(counter syn_proxy_synack) - before))
	same "flood: every queue of the server's veth took its share (a tenth at least)" \
		"$FLOOD_QUEUES" "$(S ethtool -S "$IF_S" | awk -v min=$((n / FLOOD_QUEUES / 10)) \
			'$1 ~ /^rx_queue_[0-9]+_xdp_tx:$/ && $2 >= min { k++ } END { print k + 0 }')"
	note "flood: $(jq -c . "$TMP/tg.json" 2>/dev/null | head -c 300)"
}

# A client reusing its port while conntrack holds the old tuple in TIME_WAIT, once the proxy
# answers the SYNs of sources it has not seen lately without the conntrack lookup
# (fg_sp_peers, floodgate.h): armed when the TIME_WAIT timeout (3 s here) has passed since the
# rule got the proxy. The first connection stamps the client, so its second SYN is looked up
# and passes to the stack, which reopens the tuple; with the stamp gone it would get a cookie
# and its ACK would meet the old entry (the README's TIME_WAIT case). A spoofed SYN from a
# source never seen is looked up before the rule is armed, and not after.
test_port_reuse() {
	local mac out synack unseen sr
	mac=$(S cat /sys/class/net/"$IF_S"/address)
	spoof_syn() {
		C "$TG" send "$IF_C" --dmac "$mac" --dst 198.18.0.1 --proto syn --dport 80 \
			--src 198.19.0.1 --sources 1 --count 1 --duration 1 --method packet >/dev/null
	}
	unseen_moved() { spoof_syn && [ "$(counter syn_proxy_unseen_syns)" -gt 0 ]; }
	fg limit set tcp/80 --syn-proxy on # conntrack's sysctls are there from now on
	S sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=3
	fg limit set tcp/80 --syn-proxy off && fg limit set tcp/80 --syn-proxy on # armed from now
	spoof_syn
	same "a spoofed SYN before the rule is armed: answered after a lookup" "1 0" \
		"$(counter syn_proxy_synack) $(counter syn_proxy_unseen_syns)"
	check "a spoofed SYN once the rule is armed: answered without a lookup" poll 10 unseen_moved
	synack=$(counter syn_proxy_synack) unseen=$(counter syn_proxy_unseen_syns)
	sr=$(C nstat -az TcpExtTCPSynRetrans | awk '$1 == "TcpExtTCPSynRetrans" { print $2 }')
	out=$(C python3 - <<-'EOF'
		import socket
		for _ in range(2):
		    s = socket.socket()
		    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		    s.bind(("198.18.0.2", 40123))
		    s.settimeout(5)
		    s.connect(("198.18.0.1", 80))
		    s.sendall(b"GET / HTTP/1.0\r\n\r\n")  # nginx closes first: TIME_WAIT on its side
		    data = b""
		    while True:
		        d = s.recv(4096)
		        if not d:
		            break
		        data += d
		    s.close()
		    print(data.split(b"\r\n\r\n", 1)[-1].decode().strip())
	EOF
	)
	same "two connections from one port get nginx's page" "proxied proxied" "$(echo $out)"
	same "the port's first SYN answered in XDP unlooked, its second passed to the stack" "1 1" \
		"$(($(counter syn_proxy_synack) - synack)) $(($(counter syn_proxy_unseen_syns) - unseen))"
	same "no SYN sent again" "$sr" \
		"$(C nstat -az TcpExtTCPSynRetrans | awk '$1 == "TcpExtTCPSynRetrans" { print $2 }')"
}

ALL_TESTS="test_rule_field test_handshake_ipv4 test_handshake_ipv6 test_server_speaks_first
	test_forged_cookies test_cost_harness test_port_reuse
	test_monitor test_config_metrics test_rules_removed test_remove_fails test_two_instances
	test_two_instances_race
	test_no_synproxy_support
	test_flood"
run_tests "$@"
