#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# fleet.test.sh: bans shared by two nodes through a real redis-server (issue 13).
#
# Two nodes on this machine and one redis-server (tests/fleet_lab.sh): what node a bans, node b
# must drop. Then the faults: Redis down at start, killed and restarted empty, stopped
# (SIGSTOP), records that are malformed or out of bounds, a flood of 10,000, a wrong password,
# a secret file others can read, an outage longer than the queue.
TEST_NAME=fleet
FG=${FG_BUILD:-$PWD/build}/floodgate
S=$$
TMP=$(mktemp -d /tmp/fgt-fleet.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

. tests/tap.sh
. tests/fleet_lab.sh

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
for t in ip jq curl python3 redis-server redis-cli promtool bpftool; do
	command -v $t >/dev/null || skip_all "needs $t (scripts/deps.sh)"
done
[ -x "$FG" ] || skip_all "no $FG (make first)"
PY=$(python3 -c 'import sys; print(sys.executable)')

fga() { "$FG" --pin-dir "$PINA" "$@"; }
fgb() { "$FG" --pin-dir "$PINB" "$@"; }
q() { "$@" >/dev/null 2>&1; }

# redis_start [ARGS...], start NODE: fleet_lab.sh's, a "not ok" and the end of the test on failure
redis_start() {
	fleet_redis_start "$@" || {
		notok "redis-server started on port $RPORT"
		exit 1
	}
}
start() {
	fleet_start "$1" || {
		notok "floodgate run (node $1) serves metrics"
		exit 1
	}
}

# send NODE SRC COUNT: datagrams from SRC in the node's peer namespace to its host end
send() {
	if [ "$1" == a ]; then
		udp_send "$NSA" "$2" "$HA" 5005 "$3"
	else
		udp_send "$NSB" "$2" "$HB" 5005 "$3"
	fi
}
# banned_pkts NODE: packets the node dropped as banned
banned_pkts() { "$FG" --pin-dir "$([ "$1" == a ] && echo "$PINA" || echo "$PINB")" -j stats | jq '.packets.banned // 0'; }
# fleet_ban NODE ADDR: the node lists ADDR as a fleet ban from the other node
fleet_ban() {
	local other=a
	[ "$1" == a ] && other=b
	"$FG" --pin-dir "$([ "$1" == a ] && echo "$PINA" || echo "$PINB")" -j ban list |
		jq -e --arg a "$2" --arg o "node-$other" \
			'[.[] | select((.address == $a or .address == ($a + "/32")) and .kind == "fleet" and .origin == $o)] | length == 1' >/dev/null
}
# scrape NODE: /metrics answers within a second
scrape() { curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$(eval echo "\$PORT${1^^}")/metrics" | grep -q 200; }

setup_test() {
	fleet_pairs || skip_all "cannot create the veth pairs into network namespaces"
	config a "$A"
	config b "$C"
}
teardown_test() {
	# test_trie_no_lock's refusal of the lock directory ends with it, whatever the test reached
	[ ! -d /run/floodgate ] || chmod 0700 /run/floodgate
	fleet_down
	# each test's files go
	find "$TMP" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
}

ALL_TESTS="test_config test_share test_cli test_down_at_start test_killed_restarted
test_stopped test_bad_records test_flood test_password test_acl test_unevented test_publish_manual
test_queue_overflow test_manual_lengths test_old_layout test_max_bans test_local_kept
test_headroom test_resync_del test_trie_flood test_trie_batch test_trie_locked test_trie_no_lock test_denied test_reload_narrow"

# The fleet section: every key checked at its FILE:LINE:COL, the secret file's mode.
test_config() {
	printf 'secret\n' >"$TMP/secret"
	chmod 644 "$TMP/secret"
	cat >"$TMP/bad.yaml" <<EOF
fleet:
  redis: 127.0.0.1:70000
  password_file: $TMP/secret
  node: "two words"
  namespace: "a:b"
  publish: sometimes
  accept: maybe
  min_prefix4: 33
  min_prefix6: 129
  max_bans: 0
  queue: 0
  colour: blue
EOF
	"$FG" config check "$TMP/bad.yaml" >"$TMP/out" 2>"$TMP/err"
	same "config check exits 1" 1 $?
	for want in "2:10: error: fleet: redis" "3:18: error: fleet: password_file: $TMP/secret: permissions 0644 are too open" \
		"4:9: error: fleet: node" "5:14: error: fleet: namespace" "6:12: error: fleet: publish" \
		"7:11: error: fleet: accept" "8:16: error: fleet: min_prefix4" "9:16: error: fleet: min_prefix6" \
		"10:13: error: fleet: max_bans" "11:10: error: fleet: queue" "12:3: error: fleet: unknown key 'colour'"; do
		check "config check: $want" grep -qF "$TMP/bad.yaml:$want" "$TMP/err"
	done
	printf 'fleet:\n  node: x\n' >"$TMP/nored.yaml"
	"$FG" config check "$TMP/nored.yaml" 2>"$TMP/err"
	check "config check: fleet without redis: FILE:LINE:COL" grep -q "nored.yaml:2:3: error: fleet: redis: missing" "$TMP/err"
	chmod 600 "$TMP/secret"
	printf 'fleet:\n  redis: "[::1]:6379"\n  password_file: %s\n  publish: both\n' "$TMP/secret" >"$TMP/good.yaml"
	check "config check: a 0600 secret and [V6]:PORT are fine" q "$FG" config check "$TMP/good.yaml"
	check "config check: floodgate.example.yaml" q "$FG" config check floodgate.example.yaml
}

# A source over a ban rule's limit on node a is dropped by node b within a second; 200 bans.
test_share() {
	redis_start
	start a
	start b
	poll 5 connected a && poll 5 connected b
	check "both nodes connected" connected b
	send a "$X4" 5
	check "node a banned $X4" bash -c "'$FG' --pin-dir '$PINA' -j ban list | jq -e '.[] | select(.address == \"$X4\" and .kind == \"automatic\" and .origin == \"local\")' >/dev/null"
	check "node b lists $X4 as a fleet ban from node-a within 1 s" poll 1 fleet_ban b "$X4"
	before=$(banned_pkts b)
	send b "$X4" 50
	same "node b drops all 50 packets of $X4 as banned" 50 $(($(banned_pkts b) - before))
	check "node b's ban list (text) has the origin column" bash -c "'$FG' --pin-dir '$PINB' ban list | grep -q '^$X4 .*fleet.*node-a'"
	check "node a did not get its own ban back" test "$(status a | jq .received)" -eq 0
	many 200
	check "node b applied the 200 bans" poll 5 bash -c "[ \$('$FG' --pin-dir '$PINB' -j fleet status | jq .active) -ge 201 ]"
	note "delay from node a's ban to node b applying it: $(status b | jq -c .age)"
	le "node b: worst delay of the last bans under 1 s (ms)" "$(status b | jq .age.max_ms)" 1000
	curl -s --max-time 2 "http://127.0.0.1:$PORTB/metrics" >"$TMP/metrics.txt"
	promtool check metrics <"$TMP/metrics.txt" >"$TMP/promtool.out" 2>&1
	check "promtool check metrics: no errors or warnings with the fleet series" test $? -eq 0 -a ! -s "$TMP/promtool.out"
	check "metrics: floodgate_fleet_connected 1" grep -qx 'floodgate_fleet_connected 1' "$TMP/metrics.txt"
	check "metrics: received 201" grep -qx 'floodgate_fleet_bans_received_total 201' "$TMP/metrics.txt"
	check "metrics: the age histogram counts 201" grep -qx 'floodgate_fleet_ban_age_seconds_count 201' "$TMP/metrics.txt"
	check "metrics: node a published 201" bash -c "curl -s 'http://127.0.0.1:$PORTA/metrics' | grep -qx 'floodgate_fleet_bans_published_total 201'"
	check "config dump shows the fleet section" bash -c "'$FG' --pin-dir '$PINB' config dump | grep -A3 '^fleet:' | grep -q 'node: node-b'"
	check "fleet status (text)" bash -c "'$FG' --pin-dir '$PINB' fleet status | grep -q '^state: *connected'"
}

# ban add --fleet bans on every node, ban del --fleet lifts it everywhere.
test_cli() {
	redis_start
	start b
	poll 5 connected b
	fga attach "$A" >/dev/null 2>&1 || { notok "attach node a"; return; }
	check "ban add --fleet" fga ban add 198.18.99.0/24 --for 10m --fleet --config "$TMP/a.yaml"
	check "node b applies the /24 from node-a" poll 2 fleet_ban b 198.18.99.0/24
	check "node a holds it as a manual ban" bash -c "'$FG' --pin-dir '$PINA' -j ban list | jq -e '.[] | select(.address == \"198.18.99.0/24\" and .kind == \"manual\")' >/dev/null"
	check "ban del --fleet" fga ban del 198.18.99.0/24 --fleet --config "$TMP/a.yaml"
	fga ban add 198.18.97.0/24 --fleet -c "$TMP/a.yaml" >/dev/null 2>&1
	check "node b applies a ban published by the CLI" poll 2 fleet_ban b 198.18.97.0/24
	fga ban del 198.18.97.0/24 >/dev/null 2>&1
	fga ban del 198.18.97.0/24 --fleet -c "$TMP/a.yaml" >"$TMP/out" 2>"$TMP/err"
	same "ban del --fleet of a prefix not banned here: exit 0" 0 $?
	check "... and no error line" test ! -s "$TMP/err"
	check "... node b lifted it" poll 2 bash -c "! '$FG' --pin-dir '$PINB' -j ban list | jq -e '.[] | select(.address == \"198.18.97.0/24\")' >/dev/null"
	check "node b lifted it" poll 2 bash -c "! '$FG' --pin-dir '$PINB' -j ban list | jq -e '.[] | select(.address == \"198.18.99.0/24\")' >/dev/null"
	fga ban add 198.18.99.1 --fleet --config "$TMP/nonexistent.yaml" >"$TMP/out" 2>"$TMP/err"
	same "ban add --fleet with a missing config exits 1" 1 $?
	check "... saying which file" grep -q "nonexistent.yaml" "$TMP/err"
	same "... in one error line" 1 "$(wc -l <"$TMP/err")"
	fga ban list --fleet >/dev/null 2>&1
	same "ban list --fleet is a usage error" 2 $?
	# Redis unreachable: the ban holds here (an attack does not wait), and the error says so
	sed "s/127.0.0.1:$RPORT/127.0.0.1:1/" "$TMP/a.yaml" >"$TMP/down.yaml"
	fga ban add 198.18.96.0/24 --fleet -c "$TMP/down.yaml" >"$TMP/out" 2>"$TMP/err"
	same "ban add --fleet, Redis unreachable: exit 1" 1 $?
	check "... saying the ban holds on this node only" \
		grep -q "error: ban add 198.18.96.0/24 --fleet: banned on this node only, published to no other" "$TMP/err"
	check "... which it does" bash -c "'$FG' --pin-dir '$PINA' -j ban list | jq -e '.[] | select(.address == \"198.18.96.0/24\")' >/dev/null"
	# a server that takes the connection and never answers: a timeout, named as one
	python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True); c, _ = s.accept(); time.sleep(10)' >"$TMP/silent.port" &
	local silent=$!
	poll 5 test -s "$TMP/silent.port"
	sed "s/127.0.0.1:$RPORT/127.0.0.1:$(cat "$TMP/silent.port")/" "$TMP/a.yaml" >"$TMP/silent.yaml"
	fga ban add 198.18.96.0/24 --fleet -c "$TMP/silent.yaml" >"$TMP/out" 2>"$TMP/err"
	same "ban add --fleet, Redis silent: exit 1" 1 $?
	check "... saying it got no answer in time" grep -q "error: --fleet: 127.0.0.1:[0-9]*: no answer within 2000 ms" "$TMP/err"
	check "... that it was sent, so the others may have it (not 'published to no other')" \
		grep -q "error: ban add 198.18.96.0/24 --fleet: banned on this node; sent to Redis, which did not answer: the other nodes may or may not have it" "$TMP/err"
	stop_pid "$silent"
	fga ban del 198.18.96.0/24 --fleet -c "$TMP/down.yaml" >"$TMP/out" 2>"$TMP/err"
	same "ban del --fleet, Redis unreachable: exit 1" 1 $?
	check "... saying it was lifted on this node only" \
		grep -q "error: ban del 198.18.96.0/24 --fleet: lifted on this node only" "$TMP/err"
}

# Redis down when the daemons start: local enforcement, scrapes answered, reconnect, resync.
test_down_at_start() {
	start a
	start b
	check "node a: no fleet yet, one error line" bash -c "[ \$(grep -c 'fleet: .*enforcing locally' '$TMP/run-a.err') -eq 1 ]"
	send a "$X4" 5
	check "node a bans locally with Redis down" bash -c "'$FG' --pin-dir '$PINA' -j ban list | jq -e '.[] | select(.address == \"$X4\")' >/dev/null"
	check "node a: /metrics within 1 s with Redis down" scrape a
	check "node a queued the ban" test "$(status a | jq .queued)" -eq 1
	redis_start
	check "both reconnect (backoff below 30 s)" poll 35 bash -c "'$FG' --pin-dir '$PINA' -j fleet status | jq -e .connected && '$FG' --pin-dir '$PINB' -j fleet status | jq -e .connected"
	check "the ban of the outage reaches node b" poll 5 fleet_ban b "$X4"
}

# Redis killed mid-run and restarted empty: bans of the outage are queued and sent after.
test_killed_restarted() {
	redis_start
	start a
	start b
	poll 5 connected a && poll 5 connected b
	kill -9 "$RDPID"
	wait "$RDPID" 2>/dev/null
	RDPID=
	send a "$X4" 5
	check "node a notices the loss" poll 5 bash -c "! '$FG' --pin-dir '$PINA' -j fleet status | jq -e .connected"
	check "node a: /metrics within 1 s while Redis is gone" scrape a
	before=$(banned_pkts a)
	send a "$X4" 20
	same "node a keeps enforcing locally" 20 $(($(banned_pkts a) - before))
	redis_start
	check "node b gets the outage's ban after the restart" poll 35 fleet_ban b "$X4"
	check "the restarted Redis holds it as a key with a TTL" bash -c "[ \$(redis-cli -h 127.0.0.1 -p $RPORT pttl 'fgt$S:ban:$X4/32') -gt 0 ]"
}

# Redis stopped (SIGSTOP): scrapes and reloads answered within a second, reconnect after SIGCONT.
test_stopped() {
	redis_start
	start a
	start b
	poll 5 connected a && poll 5 connected b
	kill -STOP "$RDPID"
	send a "$X4" 5
	sleep 1
	for i in 1 2 3; do
		check "node a: /metrics within 1 s while Redis hangs ($i)" scrape a
		sleep 0.5
	done
	kill -HUP "$DPA"
	check "node a: a reload while Redis hangs is applied within 2 s" poll 2 grep -q 'reload: .* applied' "$TMP/run-a.err"
	check "node a marks the fleet down" poll 5 bash -c "! '$FG' --pin-dir '$PINA' -j fleet status | jq -e .connected"
	kill -CONT "$RDPID"
	check "after SIGCONT the ban reaches node b" poll 35 fleet_ban b "$X4"
}

# pub MSG: publish a record on the fleet's channel
pub() { rcli publish "fgt$S:bans" "$1" >/dev/null; }

# Bad records: rejected by reason, never a ban, logged at most a few lines a second.
test_bad_records() {
	local now end past far
	redis_start
	start b
	poll 5 connected b
	now=$(($(date +%s%3N)))
	end=$((now + 60000)) past=$((now - 1000)) far=$((now + 40 * 86400000))
	pub 'not json'
	pub "$(printf 'garbage\n<0>fleet: forged line')"
	pub '{"v":1,"op":"ban"}'
	pub '{"v":1,"op":"ban","prefix":"198.18.9.9/32","origin":"x y","at":1,"end":'$end'}'
	pub '{"v":2,"op":"ban","prefix":"198.18.9.9/32","origin":"node-a","at":'$now',"end":'$end'}'
	pub '{"v":1,"op":"ban","prefix":"0.0.0.0/0","origin":"node-a","at":'$now',"end":'$end'}'
	pub '{"v":1,"op":"ban","prefix":"::/0","origin":"node-a","at":'$now',"end":'$end'}'
	pub '{"v":1,"op":"ban","prefix":"198.18.9.9/32","origin":"node-a","at":'$now',"end":'$past'}'
	pub '{"v":1,"op":"ban","prefix":"198.18.9.9/32","origin":"node-a","at":'$now',"end":'$far'}'
	pub '{"v":1,"op":"ban","prefix":"'$ALLOWED'/32","origin":"node-a","at":'$now',"end":'$end'}'
	pub '{"v":1,"op":"ban","prefix":"198.18.9.8/32","origin":"node-a","at":'$now',"end":'$end'}'
	pub '{"v":1,"op":"ban","prefix":"198.18.201.0/24","origin":"node-a","at":'$now',"end":'$end'}'
	pub '{"v":1,"op":"ban","prefix":"2001:db8:5::/64","origin":"node-a","at":'$now',"end":'$end'}'
	poll 3 bash -c "'$FG' --pin-dir '$PINB' -j fleet status | jq -e '.received == 3'"
	status b >"$TMP/st.json"
	same "rejected: malformed" 4 "$(jq .rejected.malformed "$TMP/st.json")"
	check "a record with a newline forges no log line" bash -c \
		"! grep -q '^<0>fleet: forged' '$TMP/run-b.err' && grep -q 'garbage?<0>fleet: forged line' '$TMP/run-b.err'"
	same "rejected: version" 1 "$(jq .rejected.version "$TMP/st.json")"
	same "rejected: too wide (0.0.0.0/0 and ::/0)" 2 "$(jq .rejected.too_wide "$TMP/st.json")"
	same "rejected: past" 1 "$(jq .rejected.past "$TMP/st.json")"
	same "rejected: too long" 1 "$(jq .rejected.too_long "$TMP/st.json")"
	same "rejected: allow-listed" 1 "$(jq .rejected.allowed "$TMP/st.json")"
	same "the three good records are applied" 3 "$(jq .received "$TMP/st.json")"
	same "ban list holds only the good ones" '["198.18.9.8","198.18.201.0/24","2001:db8:5::/64"]' "$(fgb -j ban list | jq -c '[.[].address]')"
	before=$(banned_pkts b)
	send b "$ALLOWED" 10
	same "the allow list beats a fleet ban of its /24: $ALLOWED not dropped" 0 $(($(banned_pkts b) - before))
	# 10,000 bad records: counted, a few log lines a second, the daemon lives
	"$PY" -c "
import sys
for i in range(10000):
    m = 'garbage %d' % i
    sys.stdout.write('*3\r\n\$7\r\nPUBLISH\r\n\$%d\r\nfgt$S:bans\r\n\$%d\r\n%s\r\n' % (len('fgt$S:bans'), len(m), m))
" | rcli --pipe >/dev/null
	check "10,000 malformed records counted" poll 10 bash -c "'$FG' --pin-dir '$PINB' -j fleet status | jq -e '.rejected.malformed == 10004'"
	lines=$(grep -c 'record rejected' "$TMP/run-b.err")
	le "rejected records logged at most a few lines a second" "$lines" 40
	check "the daemon still runs" kill -0 "$DPB"
}

# 10,000 bans published at once are applied by the other node within 5 s.
test_flood() {
	local t0 t1 now end
	redis_start
	start b
	poll 5 connected b
	now=$(date +%s%3N)
	end=$((now + 120000))
	t0=$(date +%s%3N)
	"$PY" -c "
import sys
for i in range(10000):
    m = '{\"v\":1,\"op\":\"ban\",\"prefix\":\"198.18.%d.%d/32\",\"origin\":\"node-a\",\"at\":$now,\"end\":$end}' % (i // 250 + 10, i % 250 + 1)
    k = 'fgt$S:ban:198.18.%d.%d/32' % (i // 250 + 10, i % 250 + 1)
    for cmd in (['SET', k, m, 'PX', '120000'], ['PUBLISH', 'fgt$S:bans', m]):
        sys.stdout.write('*%d\r\n' % len(cmd) + ''.join('\$%d\r\n%s\r\n' % (len(a), a) for a in cmd))
" | rcli --pipe >/dev/null
	if poll 10 bash -c "'$FG' --pin-dir '$PINB' -j fleet status | jq -e '.active == 10000'"; then
		t1=$(date +%s%3N)
		note "10,000 fleet bans published and applied in $((t1 - t0)) ms"
		le "10,000 bans applied within 5 s (ms)" $((t1 - t0)) 5000
	else
		notok "10,000 bans applied (active: $(status b | jq .active))"
	fi
	same "fg_bans holds them" 10000 "$(fgb -j ban list | jq '[.[] | select(.kind == "fleet")] | length')"
	# a restart resyncs them from the keys
	stop_pid "$DPB"
	fgb detach --all >/dev/null 2>&1
	start b
	check "after a restart on fresh pins, SCAN resyncs the 10,000" poll 10 bash -c "'$FG' --pin-dir '$PINB' -j fleet status | jq -e '.active == 10000'"
}

# A wrong password: one clear error line, the daemon enforces locally and answers scrapes.
test_password() {
	REDIS_AUTH=right-one redis_start --requirepass right-one
	printf 'wrong-one\n' >"$TMP/secret"
	chmod 600 "$TMP/secret"
	config a "$A" "  password_file: $TMP/secret"
	start a
	check "node a: not connected" bash -c "! '$FG' --pin-dir '$PINA' -j fleet status | jq -e .connected >/dev/null"
	check "one clear error line about the password" bash -c "[ \$(grep -c 'authenticate to 127.0.0.1:$RPORT: WRONGPASS' '$TMP/run-a.err') -eq 1 ]"
	check "node a: /metrics within 1 s" scrape a
	send a "$X4" 5
	check "node a bans locally" bash -c "'$FG' --pin-dir '$PINA' -j ban list | jq -e '.[] | select(.address == \"$X4\")' >/dev/null"
	printf 'right-one\n' >"$TMP/secret"
	check "the right password: connected after the backoff" poll 10 connected a
	chmod 644 "$TMP/secret"
	stop_pid "$DPA"
	DPA=
	"$FG" --pin-dir "$PINA" run --config "$TMP/a.yaml" >"$TMP/out" 2>"$TMP/err"
	same "run refuses a secret others can read (exit 1)" 1 $?
	check "... saying why" grep -q "permissions 0644 are too open" "$TMP/err"
}

# The README's ACL user (its keys, its channel, the commands floodgate uses, nothing else) is enough.
test_acl() {
	REDIS_USER=fl REDIS_AUTH=pw redis_start --user default off --user fl on '>pw' "~fgt$S:*" "&fgt$S:*" \
		-@all +get +set +del +publish +subscribe +scan +ping
	printf 'fl pw\n' >"$TMP/secret"
	chmod 600 "$TMP/secret"
	config a "$A" "  password_file: $TMP/secret"
	config b "$C" "  password_file: $TMP/secret"
	start a
	start b
	check "both nodes connect as the ACL user" poll 5 bash -c "'$FG' --pin-dir '$PINA' -j fleet status | jq -e .connected >/dev/null && '$FG' --pin-dir '$PINB' -j fleet status | jq -e .connected >/dev/null"
	send a "$X4" 5
	check "node b applies node a's ban" poll 2 fleet_ban b "$X4"
	check "ban del --fleet works for the ACL user" q fga ban del "$X4" --fleet --config "$TMP/a.yaml"
	check "no NOPERM in either log" bash -c "! grep -q NOPERM '$TMP/run-a.err' '$TMP/run-b.err'"
}

# many N: sources 198.18.100.1..N on node a's peer each send 3 packets (2 over the limit)
many() {
	for i in $(seq 1 "$1"); do echo "addr add 198.18.100.$i/16 dev $B"; done | ip -n "$NSA" -batch -
	ip netns exec "$NSA" "$PY" -c "
import socket
for i in range(1, $1 + 1):
    t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t.bind(('198.18.100.%d' % i, 0))
    for _ in range(3):
        t.sendto(b'x' * 64, ('$HA', 5005))
    t.close()
"
}

# Bans the event ring leaves out (its rate limit) are published all the same.
test_unevented() {
	redis_start
	sed -i 's/events_per_second: 1000/events_per_second: 1/' "$TMP/a.yaml"
	start a
	start b
	poll 5 connected a && poll 5 connected b
	many 100
	check "node b applies all 100 bans though node a's ring carried about 1 a second" \
		poll 5 bash -c "[ \$('$FG' --pin-dir '$PINB' -j fleet status | jq .active) -eq 100 ]"
	note "node a: $(status a | jq -c '{published}'), node b: $(status b | jq -c '{received, active}')"
}

# key_at PREFIX: the "at" of the record Redis holds for PREFIX (fails while there is none)
key_at() { rcli get "fgt$S:ban:$1" | jq -e .at; }

# publish: manual sends manual bans (plain ban add) at once and keeps automatic ones home.
test_publish_manual() {
	local i t0 t1 at
	redis_start
	config a "$A" "  publish: manual"
	start a
	start b
	poll 5 connected a && poll 5 connected b
	# the daemon learns of each ban when `ban add` releases the lock, not at its once-a-second
	# look: the record's "at" is the CLI's own time, so node b's age is the whole way
	for i in $(seq 1 10); do
		t0=$(date +%s%3N)
		fga ban add "198.18.98.$i" --for 5m
		t1=$(date +%s%3N)
		poll 2 key_at "198.18.98.$i/32"
		at=$(key_at "198.18.98.$i/32")
		check "manual ban $i: its record's at is the time of ban add ($t0 <= ${at:-none} <= $t1)" \
			test "${at:-0}" -ge "$t0" -a "${at:-0}" -le "$t1"
	done
	check "node b applies node a's 10 manual bans" poll 3 bash -c "'$FG' --pin-dir '$PINB' -j fleet status | jq -e '.received == 10'"
	note "delay of a manual ban from ban add on node a to node b: $(status b | jq -c .age)"
	le "node b: worst delay of a manual ban under 1 s (ms)" "$(status b | jq '.age.max_ms // 99999')" 1000
	check "node b lists them as fleet bans from node-a" fleet_ban b 198.18.98.10
	send a "$X4" 5
	sleep 2
	check "node a's automatic ban stays home" bash -c "! '$FG' --pin-dir '$PINB' -j ban list | jq -e '.[] | select(.address == \"$X4\")' >/dev/null"
	same "node a published each manual ban once (the once-a-second look skips them)" 10 "$(status a | jq .published)"
}

# Bans made while Redis is down beyond the outage queue (fleet: queue: 5): counted as dropped,
# the rest reach node b once Redis is back.
test_queue_overflow() {
	config a "$A" "  queue: 5"
	start a
	many 8
	check "node a: 5 queued, 3 dropped" poll 5 bash -c "'$FG' --pin-dir '$PINA' -j fleet status | jq -e '.queued == 5 and .dropped == 3'"
	check "node a: floodgate_fleet_queue_dropped_total 3" bash -c "curl -s 'http://127.0.0.1:$PORTA/metrics' | grep -qx 'floodgate_fleet_queue_dropped_total 3'"
	check "node a: fleet status (text) says so" bash -c "'$FG' --pin-dir '$PINA' fleet status | grep -q '^published: *0 (queued 5, dropped 3)'"
	check "config dump shows queue: 5" bash -c "'$FG' --pin-dir '$PINA' config dump | grep -A12 '^fleet:' | grep -q 'queue: 5'"
	redis_start
	start b
	check "node b applies the 5 queued bans once Redis is back" poll 35 bash -c "'$FG' --pin-dir '$PINB' -j fleet status | jq -e '.active == 5'"
	check "node a published 5, its queue is empty" poll 2 bash -c "'$FG' --pin-dir '$PINA' -j fleet status | jq -e '.published == 5 and .queued == 0'"
}

# expires_in NODE ADDR: seconds left of the ban of ADDR the node lists
expires_in() {
	"$FG" --pin-dir "$([ "$1" == a ] && echo "$PINA" || echo "$PINB")" -j ban list |
		jq -e --arg a "$2" '[.[] | select(.address == $a or .address == ($a + "/32")) | .expires_in][0]'
}

# Manual bans of every length go out with publish: manual: without --for (the 1 h default)
# as they are, longer than the fleet's longest ban (30 d) as a 30-day ban (a longer record
# is refused by every node); ban del --fleet lifts each everywhere.
MANUAL_LENGTHS=(
	# address	ban add's options (- none)	seconds node b holds it for
	"198.18.96.1	-	3600"
	"198.18.96.2	--for 30d	2592000"
	"198.18.96.3	--for 90d	2592000"
	"198.18.96.4	--for 366d	2592000"
)
test_manual_lengths() {
	local row addr opts want got
	redis_start
	config a "$A" "  publish: manual"
	start a
	start b
	poll 5 connected a && poll 5 connected b
	for row in "${MANUAL_LENGTHS[@]}"; do
		IFS=$'\t' read -r addr opts want <<<"$row"
		[ "$opts" == - ] && opts=
		# shellcheck disable=SC2086 # opts is zero or two words
		fga ban add "$addr" $opts
		check "${opts:-no --for}: node b applies it" poll 3 fleet_ban b "$addr"
		got=$(expires_in b "$addr")
		check "${opts:-no --for}: node b holds it for $want s (less the way: $got)" \
			test "${got:-0}" -le "$want" -a "${got:-0}" -ge $((want - 30))
	done
	for row in "${MANUAL_LENGTHS[@]}"; do
		IFS=$'\t' read -r addr opts want <<<"$row"
		[ "$opts" == - ] && opts=
		fga ban del "$addr" --fleet --config "$TMP/a.yaml"
		check "${opts:-no --for}: ban del --fleet lifts it on node b" \
			poll 3 bash -c "! '$FG' --pin-dir '$PINB' -j ban list | jq -e '.[] | select(.address == \"$addr\")' >/dev/null"
		check "${opts:-no --for}: ... and on node a" \
			bash -c "! '$FG' --pin-dir '$PINA' -j ban list | jq -e '.[] | select(.address == \"$addr\")' >/dev/null"
	done
	same "the records left no key behind" "" "$(rcli --scan --pattern "fgt$S:ban:*")"
}

# A fleet status map of another layout (an older floodgate's): the CLI refuses to read it (its
# value would be copied past the buffer), the daemon replaces it.
test_old_layout() {
	mkdir -p "$PINA"
	bpftool map create "$PINA/fg_fleet_st" type array key 4 value 8 entries 1 name fg_fleet_st ||
		skip_all "bpftool cannot create a map"
	fga fleet status >"$TMP/out" 2>"$TMP/err"
	same "fleet status on a status map of another layout exits 1" 1 $?
	check "... saying so" grep -q "fg_fleet_st: written by another floodgate version" "$TMP/err"
	start a
	check "the daemon replaces it: fleet status answers" q fga fleet status
	same "... with this node" node-a "$(status a | jq -r .node)"
}

# rec ADDR END: a ban record from node-a for ADDR/32 ending at END (Unix ms)
rec() { echo '{"v":1,"op":"ban","prefix":"'"$1"'/32","origin":"node-a","at":'"$(date +%s%3N)"',"end":'"$2"'}'; }

# max_bans: 2: a third fleet ban is refused as full; one applied already may still be renewed.
test_max_bans() {
	local end got
	redis_start
	config b "$C" "  max_bans: 2"
	start b
	poll 5 connected b
	end=$(($(date +%s%3N) + 60000))
	pub "$(rec 198.18.9.1 "$end")"
	pub "$(rec 198.18.9.2 "$end")"
	pub "$(rec 198.18.9.3 "$end")"
	check "two applied, the third refused as full" poll 3 bash -c "'$FG' --pin-dir '$PINB' -j fleet status | jq -e '.active == 2 and .rejected.full == 1'"
	pub "$(rec 198.18.9.2 $((end + 60000)))"
	check "a longer ban of an applied prefix is applied at max_bans" poll 3 bash -c "[ \$('$FG' --pin-dir '$PINB' -j fleet status | jq .received) -eq 3 ]"
	got=$(expires_in b 198.18.9.2)
	check "... and holds it for its new end (~120 s: $got)" test "${got:-0}" -gt 100
	same "... not refused" 1 "$(status b | jq .rejected.full)"
	same "198.18.9.3 is not banned" 0 "$(fgb -j ban list | jq '[.[] | select(.address == "198.18.9.3")] | length')"
}

# expires_of NODE ADDR KIND: the node's ban of ADDR of that kind, seconds left ("null": none)
expires_of() {
	"$FG" --pin-dir "$([ "$1" == a ] && echo "$PINA" || echo "$PINB")" -j ban list |
		jq -c --arg a "$2" --arg k "$3" '[.[] | select(.address == $a and .kind == $k) | .expires_in] | first'
}
# has_kind NODE ADDR KIND: the node holds a ban of ADDR of that kind
has_kind() { [ "$(expires_of "$1" "$2" "$3")" != null ]; }

# A fleet ban that lengthened one of the node's own, then lifted through the fleet, gives the
# node's ban back with its own end: a del published by anyone lifts no local ban.
test_local_kept() {
	local left
	redis_start
	start a
	start b
	poll 5 connected a && poll 5 connected b
	# manual (held in the trie: no rule bans at /24), then automatic (fg_bans, /32)
	fgb ban add 198.18.7.0/24 --for 1h >/dev/null
	send b "$X4" 5
	check "node b's own automatic ban of $X4" poll 5 has_kind b "$X4" automatic
	fga ban add 198.18.7.0/24 --for 2h --fleet -c "$TMP/a.yaml" >/dev/null
	fga ban add "$X4" --for 2h --fleet -c "$TMP/a.yaml" >/dev/null
	check "node b applies both fleet bans over its own" poll 5 bash -c \
		"fleet() { '$FG' --pin-dir '$PINB' -j ban list | jq -e --arg a \"\$1\" '.[] | select((.address == \$a or .address == (\$a + \"/32\")) and .kind == \"fleet\")' >/dev/null; }; fleet 198.18.7.0/24 && fleet $X4"
	fga ban del 198.18.7.0/24 --fleet -c "$TMP/a.yaml" >/dev/null
	fga ban del "$X4" --fleet -c "$TMP/a.yaml" >/dev/null
	check "lifted through the fleet: node b's manual ban is back" poll 5 has_kind b 198.18.7.0/24 manual
	left=$(expires_of b 198.18.7.0/24 manual)
	check "... with its own end (1 h: $left s left)" test "$left" != null -a "$left" -le 3600 -a "$left" -gt 3500
	check "node b's automatic ban of $X4 is back" poll 5 has_kind b "$X4" automatic
	left=$(expires_of b "$X4" automatic)
	check "... with its own end (1 min: $left s left)" test "$left" != null -a "$left" -le 60 -a "$left" -gt 0
	before=$(banned_pkts b)
	send b "$X4" 10
	same "... and $X4 is still dropped there" 10 $(($(banned_pkts b) - before))
}

# Fleet bans take half of a table at most: with a list table of 64, 40 fleet bans of /31s
# (no rule bans at /31: they go to the trie) leave 32 of it to the node's own lists.
test_headroom() {
	local i now end
	redis_start
	config b "$C" "tables: {lists: 64}"
	start b
	poll 5 connected b
	now=$(date +%s%3N) end=$(($(date +%s%3N) + 600000))
	for i in $(seq 0 39); do
		pub '{"v":1,"op":"ban","prefix":"198.18.'$((100 + i))'.0/31","origin":"node-a","at":'$now',"end":'$end'}'
	done
	check "40 fleet bans: 32 applied, 8 refused as full" poll 5 bash -c \
		"'$FG' --pin-dir '$PINB' -j fleet status | jq -e '.received == 32 and .rejected.full == 8'"
	same "the trie holds 32 of them" 32 "$(fgb -j ban list | jq '[.[] | select(.kind == "fleet")] | length')"
	for i in $(seq 0 9); do
		fgb deny add "198.18.250.$((i * 16))/28" >/dev/null || break
	done
	same "the node's own deny entries still fit" 10 "$(fgb -j deny list | jq length)"
}

# A del published while a node was away: its resync finds the key gone and lifts the ban; a
# fleet ban whose key is still there stays.
test_resync_del() {
	redis_start
	start a
	start b
	poll 5 connected a && poll 5 connected b
	fga ban add 198.18.9.0/24 --for 10m --fleet -c "$TMP/a.yaml" >/dev/null
	fga ban add 198.18.8.0/24 --for 10m --fleet -c "$TMP/a.yaml" >/dev/null
	check "node b applies both" poll 5 bash -c "'$FG' --pin-dir '$PINB' -j ban list | jq -e '[.[] | select(.kind == \"fleet\")] | length == 2' >/dev/null"
	stop_pid "$DPB"
	DPB=
	fga ban del 198.18.9.0/24 --fleet -c "$TMP/a.yaml" >/dev/null
	check "node b, its daemon down, still holds the ban lifted meanwhile" fleet_ban b 198.18.9.0/24
	start b
	check "back, its resync lifts it (the key is gone)" poll 10 bash -c "! '$FG' --pin-dir '$PINB' -j ban list | jq -e '.[] | select(.address == \"198.18.9.0/24\")' >/dev/null"
	check "... said in the log" grep -q 'fleet ban of 198.18.9.0/24 lifted by the resync' "$TMP/run-b.err"
	check "the other, whose key is there, stays" fleet_ban b 198.18.8.0/24
	# a Redis restarted empty lost every key: that lifts nothing
	redis_stop
	redis_start
	check "Redis restarted empty: node b's resync keeps its fleet bans, and says why" poll 15 grep -q \
		'resync done: Redis holds no ban at all; the 1 fleet bans here stay to their ends' "$TMP/run-b.err"
	check "... 198.18.8.0/24 stays" fleet_ban b 198.18.8.0/24
}

# list_gen NODE: fg_state.list_gen, bumped at each write of the node's trie
list_gen() {
	bpftool -j map dump pinned "$([ "$1" == a ] && echo "$PINA" || echo "$PINB")/fg_state" |
		jq '.[0].formatted.value.list_gen'
}

# publish_31s OP AT END: 2,000 records of OP, one pipelined burst, for 198.19.10.0/31 and on
publish_31s() {
	"$PY" -c "
import sys
for i in range(2000):
    m = '{\"v\":1,\"op\":\"$1\",\"prefix\":\"198.19.%d.%d/31\",\"origin\":\"node-a\",\"at\":$2,\"end\":$3}' % (i // 100 + 10, i % 100 * 2)
    cmd = ['PUBLISH', 'fgt$S:bans', m]
    sys.stdout.write('*%d\r\n' % len(cmd) + ''.join('\$%d\r\n%s\r\n' % (len(a), a) for a in cmd))
" | rcli --pipe >/dev/null
}

# A flood of fleet bans of a length no rule bans at goes to the trie, which each write loads
# whole: written once per batch of records, not once per record (2,000 records, one write
# each, kept the daemon busy for tens of seconds and its scrapes waiting).
test_trie_flood() {
	local now end g0 g1
	redis_start
	start b
	poll 5 connected b
	now=$(date +%s%3N) end=$(($(date +%s%3N) + 600000))
	g0=$(list_gen b)
	publish_31s ban "$now" "$end"
	check "2,000 /31 fleet bans applied" poll 30 bash -c "'$FG' --pin-dir '$PINB' -j fleet status | jq -e '.active == 2000'"
	g1=$(list_gen b)
	note "2,000 trie bans in $((g1 - g0)) trie writes"
	check "... in fewer trie writes than half the records ($((g1 - g0)))" test "$((g1 - g0))" -lt 1000
	same "the trie holds them" 2000 "$(fgb -j ban list | jq '[.[] | select(.kind == "fleet")] | length')"
	check "scrapes answer" scrape b
	# and 2,000 dels of them
	g0=$(list_gen b)
	publish_31s del "$now" 1
	check "2,000 dels lift them" poll 30 bash -c "'$FG' --pin-dir '$PINB' -j fleet status | jq -e '.active == 0'"
	check "... the trie holds none" poll 5 bash -c "'$FG' --pin-dir '$PINB' -j ban list | jq -e '[.[] | select(.kind == \"fleet\")] | length == 0'"
	g1=$(list_gen b)
	note "2,000 trie dels in $((g1 - g0)) trie writes"
	check "... in fewer trie writes than half the records ($((g1 - g0)))" test "$((g1 - g0))" -lt 1000
	check "no error line" bash -c "! grep -q 'not on the ban list' '$TMP/run-b.err'"
}

# Records of one prefix in one batch act as one at a time would: the longer of two bans holds, a
# del after a ban lifts it.
test_trie_batch() {
	local now e1 e2 r0
	redis_start
	start b
	poll 5 connected b
	now=$(date +%s%3N) e1=$(($(date +%s%3N) + 300000)) e2=$(($(date +%s%3N) + 600000))
	"$PY" -c "
import sys
def rec(op, p, end):
    return '{\"v\":1,\"op\":\"%s\",\"prefix\":\"%s\",\"origin\":\"node-a\",\"at\":$now,\"end\":%d}' % (op, p, end)
for m in (rec('ban', '198.19.1.0/31', $e1), rec('ban', '198.19.1.0/31', $e2), rec('del', '198.19.1.0/31', 1),
          rec('ban', '198.19.2.0/31', $e1), rec('ban', '198.19.2.0/31', $e2),
          rec('ban', '198.19.3.0/31', $e2), rec('ban', '198.19.3.0/31', $e1),
          rec('ban', '198.19.4.0/31', $e1)):
    cmd = ['PUBLISH', 'fgt$S:bans', m]
    sys.stdout.write('*%d\r\n' % len(cmd) + ''.join('\$%d\r\n%s\r\n' % (len(a), a) for a in cmd))
" | rcli --pipe >/dev/null
	check "the last of them applied" poll 5 fleet_ban b 198.19.4.0/31
	check "a ban, a longer one and a del: lifted" bash -c "! '$FG' --pin-dir '$PINB' -j ban list | jq -e '.[] | select(.address == \"198.19.1.0/31\")' >/dev/null"
	check "a ban then a longer one: the longer (600 s, less the way: $(expires_in b 198.19.2.0/31))" \
		test "$(expires_in b 198.19.2.0/31)" -gt 550
	check "a ban then a shorter one: the longer (600 s, less the way: $(expires_in b 198.19.3.0/31))" \
		test "$(expires_in b 198.19.3.0/31)" -gt 550
	same "fleet status counts three" 3 "$(status b | jq .active)"
	# (received so far depends on how the burst split into batches: a renewal counts)
	r0=$(status b | jq .received)
	# a manual ban made between two batches is seen by the second: never shortened
	pub "$(echo "$(rec 198.19.4.0 "$e1")" | sed 's|/32|/31|')"
	fgb ban add 198.19.5.0/31 --for 2h >/dev/null
	pub "$(echo "$(rec 198.19.5.0 "$e1")" | sed 's|/32|/31|')"
	pub "$(echo "$(rec 198.19.6.0 "$e1")" | sed 's|/32|/31|')"
	check "a repeat, a manual ban, a shorter fleet ban of it, another: the last applied" poll 5 fleet_ban b 198.19.6.0/31
	same "... the one before it taken as a repeat: one received of the three" $((r0 + 1)) \
		"$(status b | jq .received)"
	same "... the manual ban stays, as it was" manual "$(fgb -j ban list | jq -r '.[] | select(.address == "198.19.5.0/31") | .kind')"
	check "... with its own end (2 h: $(expires_of b 198.19.5.0/31 manual) s left)" test "$(expires_of b 198.19.5.0/31 manual)" -gt 7000
}

# A batch's trie write holds the writers' lock, as the CLI's writes do: a `deny add` between its
# read of the trie and its write lost one or the other's derived state. Held by another writer
# (a shell holding it open for writing, as the CLI does), the write waits for the writer's close,
# and the daemon serves meanwhile.
test_trie_locked() {
	local t
	redis_start
	start b
	poll 5 connected b
	hold_lock "$PINB" 3
	t=$(date +%s%3N)
	pub '{"v":1,"op":"ban","prefix":"198.19.1.0/31","origin":"node-a","at":'$t',"end":'$((t + 600000))'}'
	sleep 1
	check "while another writer holds the lock, the fleet ban is not in the trie" \
		bash -c "! '$FG' --pin-dir '$PINB' -j ban list | jq -e '.[] | select(.address == \"198.19.1.0/31\")' >/dev/null"
	check "... and the daemon answers scrapes meanwhile" scrape b
	wait "$HOLDER"
	check "... and is once it is released" poll 5 fleet_ban b 198.19.1.0/31
	same "fleet status counts it received" 1 "$(status b | jq .received)"
}

# No lock to be had (the lock directory refused: not mode 0700): a batch is written without the
# lock, said once, instead of being kept and tried again every tick, an error line each time.
test_trie_no_lock() {
	local t
	redis_start
	start b
	poll 5 connected b
	chmod 0755 /run/floodgate
	t=$(date +%s%3N)
	pub '{"v":1,"op":"ban","prefix":"198.19.1.0/31","origin":"node-a","at":'$t',"end":'$((t + 600000))'}'
	check "the lock directory refused: the fleet ban is applied all the same" poll 5 fleet_ban b 198.19.1.0/31
	sleep 1
	chmod 0700 /run/floodgate
	same "... with one warning" 1 "$(grep -c "without the writers' lock" "$TMP/run-b.err")"
	check "... and an error line or two, not one per tick ($(grep -c 'must be a directory owned by root' "$TMP/run-b.err"))" \
		test "$(grep -c 'must be a directory owned by root' "$TMP/run-b.err")" -le 3
}

# A fleet ban of a prefix this node denies is in force already (the deny drops it all, always):
# taken as a repeat, not one error line per record (a node publishing it again and again wrote
# "already on the deny list" once per batch, without the rate limit of rejected records).
test_denied() {
	local t i
	redis_start
	start b
	poll 5 connected b
	fgb deny add 198.19.7.0/31 >/dev/null
	t=$(date +%s%3N)
	for i in $(seq 20); do
		pub '{"v":1,"op":"ban","prefix":"198.19.7.0/31","origin":"node-a","at":'$t',"end":'$((t + 600000 + i))'}'
	done
	pub "$(rec 198.19.8.1 $((t + 600000)))"
	check "a ban published after them is applied" poll 5 fleet_ban b 198.19.8.1
	same "no error line about the denied prefix" 0 "$(grep -c 'deny list' "$TMP/run-b.err")"
	same "... it stays denied" 198.19.7.0/31 "$(fgb -j deny list | jq -r '.[].address')"
	same "... nothing rejected" 0 "$(status b | jq '[.rejected[]] | add')"
}

# A reload that narrows the fleet section lifts the fleet bans it would now refuse: wider than
# the new min_prefix4, then, past the new max_bans, those that end first.
test_reload_narrow() {
	local t
	redis_start
	start b
	poll 5 connected b
	t=$(date +%s%3N)
	pub '{"v":1,"op":"ban","prefix":"198.18.0.0/16","origin":"node-a","at":'$t',"end":'$((t + 900000))'}'
	pub '{"v":1,"op":"ban","prefix":"198.18.9.0/24","origin":"node-a","at":'$t',"end":'$((t + 300000))'}'
	pub "$(rec 198.18.9.1 $((t + 60000)))"
	pub "$(rec 198.18.9.2 $((t + 120000)))"
	pub "$(rec 198.18.9.3 $((t + 600000)))"
	check "five fleet bans applied" poll 5 bash -c "'$FG' --pin-dir '$PINB' -j fleet status | jq -e '.active == 5'"
	config b "$C" "  min_prefix4: 24
  max_bans: 2"
	kill -HUP "$DPB"
	check "reloaded with min_prefix4 24 and max_bans 2: two left" poll 5 bash -c "'$FG' --pin-dir '$PINB' -j fleet status | jq -e '.active == 2'"
	same "the /16, wider than 24, is lifted" false "$(fleet_ban b 198.18.0.0/16 && echo true || echo false)"
	same "of the other four, the two that end first are lifted" "198.18.9.0/24 198.18.9.3" \
		"$(fgb -j ban list | jq -r '[.[] | select(.kind == "fleet") | .address | sub("/32$"; "")] | sort | join(" ")')"
	check "... said in the log" grep -q 'reload: 3 fleet bans lifted' "$TMP/run-b.err"
	pub '{"v":1,"op":"ban","prefix":"198.19.0.0/16","origin":"node-a","at":'$t',"end":'$((t + 60000))'}'
	check "a record wider than the new min_prefix4 is then refused as too wide" poll 5 bash -c "'$FG' --pin-dir '$PINB' -j fleet status | jq -e '.rejected.too_wide == 1'"
}

run_tests "$@"
