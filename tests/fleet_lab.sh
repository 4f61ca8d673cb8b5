# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# shellcheck shell=bash
# fleet_lab.sh: two floodgate nodes sharing bans through one redis-server on this machine, the
# setup of tests/fleet.test.sh and of the bench's fleet part (scripts/fleet_bench.sh). Source it
# after tests/tap.sh (poll, stop_pid, pair_add, lab_remove) with FG (the floodgate binary), TMP
# (the caller's own directory) and S (a per-run suffix, the caller's PID) set.
#
# Node a is floodgate on veth A (peer B in namespace NSA, pins in PINA), node b on veth C (peer D
# in NSB, pins in PINB), each with its own `floodgate run` (PIDs DPA and DPB, metrics ports PORTA
# and PORTB). The attacker address X4 is on both peers, so what node a bans, node b must drop.
# One redis-server (PID RDPID) on 127.0.0.1:RPORT, a free port, its files in TMP, no
# persistence, killed by PID. Addresses in 198.18.0.0/15 only.

# names start with FLEET_PREFIX: fgt for the tests, fgl for the bench (trafgen sends from fgl*
# namespaces only)
P=${FLEET_PREFIX:-fgt}
NSA=$P-$S-na A=$P-$S-a B=$P-$S-b PINA=/sys/fs/bpf/$P-fleet-a-$S
NSB=$P-$S-nb C=$P-$S-c D=$P-$S-d PINB=/sys/fs/bpf/$P-fleet-b-$S
HA=198.18.0.1 HB=198.19.0.1 X4=198.18.200.7 ALLOWED=198.18.201.9
RDPID='' DPA='' DPB='' RPORT=''
# ban events per second each node's data path may report (ban_policy: events_per_second)
FLEET_EVENTS=${FLEET_EVENTS:-1000}

fleet_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# fleet_pairs: RPORT picked, both veth pairs up with their addresses; 1 after saying what failed
fleet_pairs() {
	RPORT=$(fleet_free_port)
	pair_add "$NSA" "$A" "$B" "$HA/16" "198.18.0.2/16 $X4/16 $ALLOWED/16" &&
		pair_add "$NSB" "$C" "$D" "$HB/16" "198.19.0.2/16 $X4/32 $ALLOWED/32"
}

rcli() { redis-cli -h 127.0.0.1 -p "$RPORT" "$@"; }

# fleet_redis_start [ARGS...]: the redis-server on RPORT (REDIS_USER and REDIS_AUTH for its ping);
# 1 when it does not answer within 10 s
fleet_redis_start() {
	redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" \
		--logfile "$TMP/redis.log" "$@" &
	RDPID=$!
	poll 10 rcli ${REDIS_USER:+--user "$REDIS_USER"} ${REDIS_AUTH:+-a "$REDIS_AUTH"} --no-auth-warning ping
}
redis_stop() {
	kill -CONT "$RDPID" 2>/dev/null
	stop_pid "$RDPID"
	RDPID=
}

# config NODE IFACE [FLEET-LINES]: TMP/NODE.yaml, the config of a node: udp/5005 bans a source
# over 1 pps (burst 1) for 1 minute, ALLOWED is on the allow list, the fleet section on RPORT.
config() {
	cat >"$TMP/$1.yaml" <<EOF
interfaces: [$2]
endpoints:
  - endpoint: udp/5005
    pps: 1
    burst: 1
    action: ban
    ban_for: 1m
allow:
  - $ALLOWED/32
ban_policy:
  events_per_second: $FLEET_EVENTS
fleet:
  redis: 127.0.0.1:$RPORT
  node: node-$1
  namespace: fgt$S
${3:-}
EOF
}

# fleet_start NODE: floodgate run for node a or b, logs in TMP/run-NODE.{out,err}; sets DPA or
# DPB and PORTA or PORTB; 1 after printing its log as comments when it serves no metrics in 20 s
fleet_start() {
	local pin=$PINA
	[ "$1" == b ] && pin=$PINB
	"$FG" --pin-dir "$pin" run --config "$TMP/$1.yaml" --metrics 127.0.0.1:0 \
		>"$TMP/run-$1.out" 2>"$TMP/run-$1.err" &
	eval "DP${1^^}=$!"
	if ! poll 20 grep -q 'serving metrics' "$TMP/run-$1.err"; then
		sed 's/^/# /' "$TMP/run-$1.err"
		return 1
	fi
	eval "PORT${1^^}=$(grep -o 'port [0-9]*' "$TMP/run-$1.err" | tail -1 | grep -o '[0-9]*')"
}

# status NODE: the node's `fleet status -j`
status() { "$FG" --pin-dir "$([ "$1" == a ] && echo "$PINA" || echo "$PINB")" -j fleet status; }
connected() { status "$1" | jq -e '.connected' >/dev/null; }

# fleet_down: both daemons, Redis, both nodes' pins, links and namespaces, each if it is there
fleet_down() {
	stop_pid "$DPA"
	stop_pid "$DPB"
	DPA='' DPB=''
	[ -z "$RDPID" ] || redis_stop
	lab_remove "$FG" "$PINA" "$A" "$NSA"
	lab_remove "$FG" "$PINB" "$C" "$NSB"
}
