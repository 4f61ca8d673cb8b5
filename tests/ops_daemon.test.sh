#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# ops_daemon.test.sh: `floodgate run` as an operator runs it.
#
# A private namespace sends real packets over a veth pair to the host end,
# where the daemon attached floodgate from its config (udp/9000: pps 1,
# burst 100, action ban; so a new source sending 300 packets has exactly
# 200 dropped, whatever the timing). Checked: readiness through
# NOTIFY_SOCKET, the capabilities left, /metrics accepted by promtool and
# matching the traffic, a real Prometheus (Debian's package, on loopback,
# its own config and data under a temp dir) scraping it and answering
# PromQL with the same numbers, the endpoint's hardening (404, 405, 431,
# 200 idle connections), the ban log, SIGHUP with a broken and then a
# good config, SIGTERM and kill -9 leaving the program enforcing, and the
# daemon following the pins when they are replaced under it. Each test
# function starts from a fresh pair and its own daemon (daemon_up).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
TEST_NAME=ops_daemon
. tests/tap.sh # ok, notok, check, same, le, note, exited, stop_pid, poll, skip_all, udp_send

FG=${FG_BUILD:-$PWD/build}/floodgate
S=$$
NS=fgt-$S-ns A=fgt-$S-a B=fgt-$S-b
PIN=/sys/fs/bpf/fgt-ops-$S
H4=198.18.0.1
TMP=$(mktemp -d /tmp/fgt-ops-daemon.XXXXXX)
DPID= NPID= PPID_PROM= IPID=

trap 'rm -rf "$TMP"' EXIT

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
for t in ip python3 jq curl promtool; do
	command -v $t >/dev/null || skip_all "needs $t"
done
[ -x "$FG" ] || skip_all "no $FG (make first)"
PY=$(python3 -c 'import sys; print(sys.executable)')

send() { udp_send "$NS" "$1" $H4 9000 "$2"; }

# What systemd would get on NOTIFY_SOCKET, one line per datagram; 300 s at most.
cat >"$TMP/notify.py" <<'EOF'
import os, socket, sys, time
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(0.5)
end = time.monotonic() + 300
with open(out, 'a') as f:
    while time.monotonic() < end:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            continue
        f.write(msg.replace('\n', ' ') + '\n')
        f.flush()
EOF
# N idle TCP connections from 127.0.0.1 to PORT, held until STOPFILE appears (60 s at most).
cat >"$TMP/idle.py" <<'EOF'
import os, socket, sys, time
port, n, stop, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
conns = []
for i in range(n):
    c = socket.create_connection(('127.0.0.1', port), timeout=5)
    if i % 2:
        c.send(b'GET /metrics HTTP/1.1\r\nHost: x\r\n')  # half a request, never finished
    conns.append(c)
open(ready, 'w').close()
end = time.monotonic() + 60
while time.monotonic() < end and not os.path.exists(stop):
    time.sleep(0.1)
EOF
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

fg() { "$FG" --pin-dir "$PIN" "$@"; }

# config BURST [EXTRA-LINE [INTERFACES]]: the daemon's config file
config() {
	cat >"$TMP/floodgate.yaml" <<EOF
interfaces: [${3:-$A}]
endpoints:
  - endpoint: udp/9000
    pps: 1
    burst: $1
    action: ban
    ban_for: 1m
metrics:
  top_sources: 3
${2:-}
EOF
}
dropped() { fg -j stats | jq '.endpoints[] | select(.endpoint == "udp/9000") | .dropped'; }
# enforced NAME SRC WANT: SRC sends 300 packets; udp/9000 must drop WANT of them.
enforced() {
	local before after
	before=$(dropped)
	send "$2" 300
	after=$(dropped)
	same "$1" "$3" $((after - before))
}

# start_daemon [WRAPPER...]: the daemon (run through WRAPPER), ready on NOTIFY_SOCKET, or 1
start_daemon() {
	: >"$TMP/notify.out"
	NOTIFY_SOCKET=$TMP/notify.sock "$@" "$FG" --pin-dir "$PIN" run --config "$TMP/floodgate.yaml" \
		--metrics 127.0.0.1:0 >"$TMP/run.out" 2>>"$TMP/run.err" &
	DPID=$!
	poll 20 grep -q 'READY=1' "$TMP/notify.out" || return 1
	PORT=$(grep -o 'port [0-9]*' "$TMP/run.err" | tail -1 | grep -o '[0-9]*')
	URL=http://127.0.0.1:$PORT
}
# code CURL-ARGS...: the HTTP status of a request
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }

# Every test: a fresh pair, the peer with 198.18.0.2-12, and a listener on NOTIFY_SOCKET.
setup_test() {
	pair_add "$NS" "$A" "$B" "$H4/16" "$(for i in $(seq 2 12); do printf '198.18.0.%s/16 ' $i; done)" ||
		skip_all "cannot create a veth pair into a network namespace"
	rm -f "$TMP/notify.sock"
	"$PY" "$TMP/notify.py" "$TMP/notify.sock" "$TMP/notify.out" &
	NPID=$!
	poll 5 test -S "$TMP/notify.sock" || skip_all "no notify socket"
}
teardown_test() {
	stop_pid "$IPID"
	stop_pid "$PPID_PROM"
	stop_pid "$DPID"
	stop_pid "$NPID"
	lab_remove "$FG" "$PIN" "$A" "$NS"
	rm -rf "$TMP/prom" "$TMP/notify.sock" "$TMP"/*.out "$TMP"/*.err "$TMP"/*.yaml "$TMP"/*.txt \
		"$TMP"/limits.* "$TMP/idle.stop" "$TMP/idle.ready"
}

# daemon_up BURST: floodgate run on the config of BURST, ready on NOTIFY_SOCKET; else the test ends
daemon_up() {
	config "$1"
	if ! start_daemon; then
		sed 's/^/# /' "$TMP/run.err"
		notok "floodgate run: READY=1 on NOTIFY_SOCKET"
		exit 1
	fi
	ok "floodgate run: READY=1 on NOTIFY_SOCKET"
}

ALL_TESTS="test_ready test_metrics test_hardening test_prometheus test_sighup test_sigterm
	test_pins_replaced test_unit_sandbox test_one_daemon test_reload_attach test_events_lost
	test_signal_at_start test_lock_held"

# readiness, the log, the capabilities left
test_ready() {
	daemon_up 100
	check "readiness carries MAINPID" grep -q "MAINPID=$DPID" "$TMP/notify.out"
	check "the log says where metrics are served" test -n "$PORT"
	check "attached from the config" grep -q "^<6>attached to $A" "$TMP/run.err"
	same "no libmicrohttpd warning at start" "" "$(grep -m1 'MHD_' "$TMP/run.err")"
	# CAP_NET_ADMIN (12), CAP_PERFMON (38), CAP_BPF (39), and nothing else
	same "capabilities after setup: CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN" 000000c000001000 \
		"$(awk '/^CapEff:/ { print $2 }' /proc/$DPID/status)"
	same "bounding set reduced too" 000000c000001000 "$(awk '/^CapBnd:/ { print $2 }' /proc/$DPID/status)"
	same "no_new_privs" 1 "$(awk '/^NoNewPrivs:/ { print $2 }' /proc/$DPID/status)"
}

# /metrics after traffic: promtool accepts it, and it matches the traffic; the ban log
test_metrics() {
	local rc
	daemon_up 100
	send 198.18.0.2 1000
	curl -s --max-time 10 "$URL/metrics" >"$TMP/metrics.txt"
	promtool check metrics <"$TMP/metrics.txt" >"$TMP/promtool.out" 2>&1
	rc=$?
	check "promtool check metrics: no errors or warnings" test $rc -eq 0 -a ! -s "$TMP/promtool.out"
	[ -s "$TMP/promtool.out" ] && sed 's/^/# promtool: /' "$TMP/promtool.out" | head -5
	metric() { awk -v n="$1" '$1 == n { print $2 }' "$TMP/metrics.txt"; }
	same "/metrics: banned packets" 899 "$(metric 'floodgate_packets_total{action="drop",reason="banned"}')"
	same "/metrics: endpoint drops" 900 "$(metric 'floodgate_endpoint_packets_total{endpoint="udp/9000",action="drop"}')"
	same "/metrics: endpoint passes" 100 "$(metric 'floodgate_endpoint_packets_total{endpoint="udp/9000",action="pass"}')"
	same "/metrics: bans active" 1 "$(metric floodgate_bans_active)"
	same "/metrics: per-source series (top_sources 3)" 1000 \
		"$(metric 'floodgate_source_packets_total{source="198.18.0.2",endpoint="udp/9000"}')"
	check "/metrics: build info" grep -q '^floodgate_build_info{version="[^"]*",layout="[0-9]*"} 1$' "$TMP/metrics.txt"
	check "ban log: one line with source, endpoint, strikes, length, warning priority" \
		poll 5 grep -Eq '^<4>20[0-9-]+T[0-9:.]+Z ban 198\.18\.0\.2 endpoint udp/9000 strikes 1 for 1m' "$TMP/run.err"
}

# the endpoint's hardening
test_hardening() {
	local big
	daemon_up 100
	same "GET / answers" 200 "$(code "$URL/")"
	check "GET / links to /metrics" sh -c "curl -s --max-time 10 '$URL/' | grep -q 'href=\"/metrics\"'"
	same "a bad path: 404" 404 "$(code "$URL/nope")"
	same "POST: 405" 405 "$(code -X POST -d x=1 "$URL/metrics")"
	same "PUT on /: 405" 405 "$(code -X PUT "$URL/")"
	big=$(head -c 16384 /dev/zero | tr '\0' a)
	same "a 16 KiB header: 431" 431 "$(code -H "X-Big: $big" "$URL/metrics")"
	same "an 8000-byte header is fine" 200 "$(code -H "X-Fine: ${big:0:8000}" "$URL/metrics")"
	# 1,000 idle connections from 127.0.0.1 filled the whole table (1,000): one address may
	# hold 64, and a scrape from another (127.0.0.2) answers
	"$PY" "$TMP/idle.py" "$PORT" 1000 "$TMP/idle.stop" "$TMP/idle.ready" &
	IPID=$!
	if poll 30 test -e "$TMP/idle.ready"; then
		same "a scrape from another address answers while one holds 1,000 idle connections" \
			200 "$(code --interface 127.0.0.2 "$URL/metrics")"
	else
		notok "a scrape answers while 1,000 idle connections are held (could not open them)"
	fi
	touch "$TMP/idle.stop"
	wait $IPID 2>/dev/null
	IPID=
	check "... and the log says so in a few lines, not one per connection refused" \
		test "$(grep -c '^<5>metrics: ' "$TMP/run.err")" -le 20
	check "... saying how many it left out" poll 3 grep -q "more lines left out" "$TMP/run.err"
}

# a real Prometheus scrapes it and answers PromQL with the same numbers
test_prometheus() {
	local PP
	daemon_up 100
	send 198.18.0.2 1000
	if command -v prometheus >/dev/null; then
		PP=$(free_port)
		mkdir -p "$TMP/prom"
		cat >"$TMP/prom/prometheus.yml" <<-EOF
	global:
	  scrape_interval: 1s
	  scrape_timeout: 1s
	scrape_configs:
	  - job_name: floodgate
	    static_configs:
	      - targets: ['127.0.0.1:$PORT']
	EOF
		prometheus --config.file="$TMP/prom/prometheus.yml" --storage.tsdb.path="$TMP/prom/data" \
			--web.listen-address="127.0.0.1:$PP" --log.level=warn >"$TMP/prom/log" 2>&1 &
		PPID_PROM=$!
		q() {
			curl -s --max-time 5 -G "http://127.0.0.1:$PP/api/v1/query" --data-urlencode "query=$1" |
				jq -r '.data.result[0].value[1] // empty'
		}
		isval() { [ "$(q "$1")" == "$2" ]; }
		poll 60 isval 'up{job="floodgate"}' 1
		same "Prometheus: up is 1" 1 "$(q 'up{job="floodgate"}')"
		poll 30 isval 'floodgate_packets_total{reason="banned"}' 899
		same "Prometheus: floodgate_packets_total{reason=\"banned\"}" 899 \
			"$(q 'floodgate_packets_total{reason="banned"}')"
		same "Prometheus: dropped packets of every reason" 900 \
			"$(q 'sum(floodgate_packets_total{action="drop"})')"
		same "Prometheus: endpoint drops" 900 \
			"$(q 'floodgate_endpoint_packets_total{endpoint="udp/9000",action="drop"}')"
		stop_pid "$PPID_PROM"
		PPID_PROM=
	else
		ok "Prometheus scrape # SKIP prometheus not installed"
	fi
}

# SIGHUP with a broken and then a good config
test_sighup() {
	daemon_up 100
	fg -j limit list >"$TMP/limits.before"
	cp "$TMP/floodgate.yaml" "$TMP/good.yaml"
	config 50 "bogus_key: 1"
	: >"$TMP/notify.out"
	kill -HUP $DPID
	check "SIGHUP, broken config: the errors are logged" \
		poll 10 grep -q '^<3>reload: .*error.*the running config stays' "$TMP/run.err"
	check "SIGHUP, broken config: the error names the problem" grep -q 'bogus_key' "$TMP/run.err"
	check "SIGHUP: RELOADING=1 then READY=1" poll 5 grep -q 'READY=1' "$TMP/notify.out"
	fg -j limit list >"$TMP/limits.after"
	check "SIGHUP, broken config: rules unchanged" cmp -s "$TMP/limits.before" "$TMP/limits.after"
	enforced "SIGHUP, broken config: verdicts unchanged (burst 100: 200 of 300 dropped)" 198.18.0.3 200
	config 50
	kill -HUP $DPID
	check "SIGHUP, good config: applied" poll 10 grep -q '^<6>reload: .* applied' "$TMP/run.err"
	same "SIGHUP, good config: the new burst is live" 50 \
		"$(fg -j limit list | jq '.[] | select(.endpoint == "udp/9000") | .burst')"
	enforced "SIGHUP, good config: verdicts follow (burst 50: 250 of 300 dropped)" 198.18.0.4 250
	config 50 "tables: {lists: 64}"
	kill -HUP $DPID
	check "SIGHUP, other table sizes: a warning that the live maps keep theirs" \
		poll 10 grep -q 'tables: lists: 64 in the file, [0-9]* live: table sizes change only' "$TMP/run.err"
	check "the daemon still serves metrics after reloads" test "$(code "$URL/metrics")" == 200
	# the scrape right after a reload shows its rules, not a body kept from before it
	code "$URL/metrics" >/dev/null
	printf '  - {endpoint: udp/9001, pps: 5}\n' >"$TMP/more"
	sed -i "/^endpoints:/r $TMP/more" "$TMP/floodgate.yaml"
	: >"$TMP/run.err.mark" && cp "$TMP/run.err" "$TMP/run.err.mark"
	kill -HUP $DPID
	poll 10 bash -c "[ \$(grep -c '^<6>reload: .* applied' '$TMP/run.err') -gt \$(grep -c '^<6>reload: .* applied' '$TMP/run.err.mark') ]"
	check "the first scrape after the reload shows its new endpoint" \
		grep -q 'endpoint="udp/9001"' <<<"$(curl -s --max-time 10 "$URL/metrics")"
}

# SIGTERM and kill -9 leave the program enforcing (burst 50: 250 of 300 dropped)
test_sigterm() {
	local rc
	daemon_up 50
	send 198.18.0.2 1000 # drops for the restart to find
	kill -TERM $DPID
	poll 20 exited $DPID
	wait $DPID
	rc=$?
	DPID=
	same "SIGTERM: clean exit" 0 $rc
	check "SIGTERM: STOPPING=1 sent" grep -q 'STOPPING=1' "$TMP/notify.out"
	check "SIGTERM: the log says the program stays" grep -q 'stays attached and enforcing' "$TMP/run.err"
	enforced "after SIGTERM: still enforcing" 198.18.0.5 250
	if start_daemon; then
		ok "restart over the pinned state"
		check "restart: the old state is still there" test "$(dropped)" -gt 1000
		kill -9 $DPID
		wait $DPID 2>/dev/null
		DPID=
		enforced "after kill -9 of the daemon: still enforcing" 198.18.0.6 250
	else
		notok "restart over the pinned state"
	fi
}

# the pins replaced under a running daemon
attached_metric() { curl -s --max-time 10 "$URL/metrics" | awk '$1 == "floodgate_interfaces_attached" { print $2 }'; }
test_pins_replaced() {
	local gone applied
	daemon_up 100
	same "floodgate_interfaces_attached: 1" 1 "$(attached_metric)"
	fg detach --all >/dev/null 2>&1
	check "detach --all under the daemon: it notices" \
		poll 15 grep -q '^<4>the pins in .* are gone' "$TMP/run.err"
	same "... and floodgate_interfaces_attached says 0" 0 "$(attached_metric)"
	fg attach "$A" >/dev/null 2>&1
	check "attach anew: the daemon follows the new maps" \
		poll 15 grep -q '^<5>new maps pinned' "$TMP/run.err"
	same "attach anew: /metrics reads the new maps" 0 \
		"$(curl -s --max-time 10 "$URL/metrics" | awk '$1 == "floodgate_bans_total" { print $2 }')"
	same "... and floodgate_interfaces_attached says 1" 1 "$(attached_metric)"
	check "attach anew (built-in rules): the daemon applies its config to the new maps" \
		poll 5 bash -c "'$FG' --pin-dir '$PIN' -j limit list | jq -e '.[] | select(.endpoint == \"udp/9000\" and .burst == 100)' >/dev/null"
	enforced "... which enforces it (burst 100: 200 of 300 dropped)" 198.18.0.7 200
	check "attach anew: the daemon is still running" kill -0 $DPID
	# an attach with a config of its own: the operator's rules stay
	fg detach --all >/dev/null 2>&1
	printf 'endpoints:\n  - {endpoint: udp/9000, pps: 1, burst: 7}\n' >"$TMP/own.yaml"
	fg attach "$A" --config "$TMP/own.yaml" >/dev/null 2>&1
	check "attach --config anew: the daemon leaves that rule set" \
		poll 15 grep -q '^<5>the new maps carry a rule set of their own' "$TMP/run.err"
	same "... udp/9000 keeps burst 7" 7 "$(fg -j limit list | jq '.[] | select(.endpoint == "udp/9000") | .burst')"
	# a reload while the pins are gone attaches the interface anew: its config is for those
	# new maps (it went to the old ones, and the new ran the built-in rules until the next look)
	gone=$(grep -c 'the pins in .* are gone' "$TMP/run.err")
	applied=$(grep -c '^<6>reload: .* applied' "$TMP/run.err")
	fg detach --all >/dev/null 2>&1
	poll 15 bash -c "[ \$(grep -c 'the pins in .* are gone' '$TMP/run.err') -gt $gone ]"
	kill -HUP "$DPID"
	poll 10 bash -c "[ \$(grep -c '^<6>reload: .* applied' '$TMP/run.err') -gt $applied ]"
	same "reload with the pins gone: the interface attached anew runs the config (burst 100)" 100 \
		"$(fg -j limit list | jq '.[] | select(.endpoint == "udp/9000") | .burst')"
	# a reload right after an attach anew (before the daemon's look every few seconds) is for
	# the new maps: it applied to the old ones, and the look after it left the new ones alone
	fg detach --all >/dev/null 2>&1
	fg attach "$A" --config "$TMP/own.yaml" >/dev/null 2>&1
	kill -HUP "$DPID"
	check "reload at once after an attach anew: the config applies to the new maps (burst 100)" \
		poll 5 bash -c "'$FG' --pin-dir '$PIN' -j limit list | jq -e '.[] | select(.endpoint == \"udp/9000\" and .burst == 100)' >/dev/null"
}

# The unit's ProtectSystem=strict leaves /run read-only but for its RuntimeDirectory:
# the daemon, run so (a mount namespace of its own), starts, and its commands lock there.
test_unit_sandbox() {
	local rd
	rd=$(sed -n 's/^RuntimeDirectory=//p' contrib/floodgate.service)
	config 100
	cat >"$TMP/sandbox.sh" <<-EOF
		mkdir -p /run/${rd:-floodgate-none} && mount --bind /run /run &&
			mount --bind /run/${rd:-floodgate-none} /run/${rd:-floodgate-none} &&
			mount -o remount,bind,ro /run && exec "\$@"
	EOF
	if start_daemon unshare -m --propagation private sh "$TMP/sandbox.sh"; then
		ok "floodgate run, /run read-only but for the unit's RuntimeDirectory ($rd): ready"
		check "... its log says it serves" grep -q 'serving metrics' "$TMP/run.err"
	else
		notok "floodgate run, /run read-only but for the unit's RuntimeDirectory (${rd:-none}): ready"
		sed 's/^/# /' "$TMP/run.err"
	fi
}

# One daemon per pin directory, one per port: a second says who has it and changes nothing.
test_one_daemon() {
	local pin2=/sys/fs/bpf/fgt-ops2-$S
	daemon_up 100
	timeout 20 "$FG" --pin-dir "$PIN" run --config "$TMP/floodgate.yaml" --metrics 127.0.0.1:0 >/dev/null 2>"$TMP/second.err"
	same "a second floodgate run on the same pin directory: exit 1" 1 $?
	check "... naming the first by its pid" \
		grep -q "^error: run: another floodgate run (pid $DPID) serves $PIN already" "$TMP/second.err"
	same "... in one line" 1 "$(wc -l <"$TMP/second.err")"
	printf 'interfaces: [%s]\n' "$A" >"$TMP/other.yaml"
	rm -rf "$pin2"
	timeout 20 "$FG" --pin-dir "$pin2" run --config "$TMP/other.yaml" --metrics "127.0.0.1:$PORT" >/dev/null 2>"$TMP/second.err"
	same "a daemon of another pin directory on the first's port: exit 1" 1 $?
	check "... the port in use, said once" bash -c "grep -c . '$TMP/second.err' | grep -qx 1 &&
		grep -q '^error: metrics: listen on 127.0.0.1:$PORT: Address already in use' '$TMP/second.err'"
	check "... before it attached anything (no pins of its own)" test ! -e "$pin2"
	check "the first still serves" test "$(code "$URL/metrics")" == 200
	"$FG" --pin-dir "$pin2" detach --all >/dev/null 2>&1
}

# A reload attaches what the config lists and is not attached; one that fails takes it back.
test_reload_attach() {
	daemon_up 100
	fg detach "$A" >/dev/null
	config 100 "" "$A, fgt-$S-none"
	kill -HUP $DPID
	check "SIGHUP, an interface that is not there: the running config stays" \
		poll 10 grep -q "^<3>reload: attaching a new interface failed" "$TMP/run.err"
	check "... and $A, attached on the way, is detached again" bash -c \
		"grep -q '^<6>detached $A again' '$TMP/run.err' && ! '$FG' --pin-dir '$PIN' -j status | jq -e '.interfaces[] | select(.interface == \"$A\")' >/dev/null"
	config 100
	kill -HUP $DPID
	check "SIGHUP: $A, in the config but detached by hand, attached again" \
		poll 10 bash -c "'$FG' --pin-dir '$PIN' -j status | jq -e '.interfaces[] | select(.interface == \"$A\" and .mode == \"native\")' >/dev/null"
	check "... said in the log" grep -q "^<4>reload: $A is in the config but not attached: attaching it" "$TMP/run.err"
	enforced "... and enforcing (burst 100: 200 of 300 dropped)" 198.18.0.3 200
	# an interface of the config that went away does not hold a reload up
	ip link add "fgt-$S-x" type veth peer name "fgt-$S-y" && ip link set "fgt-$S-x" up
	config 100 "" "$A, fgt-$S-x"
	kill -HUP $DPID
	check "SIGHUP: a second interface attached" poll 10 grep -q "^<6>attached to fgt-$S-x" "$TMP/run.err"
	ip link del "fgt-$S-x"
	config 50 "" "$A, fgt-$S-x"
	kill -HUP $DPID
	check "SIGHUP with it gone: the reload applies the rest" \
		poll 10 bash -c "'$FG' --pin-dir '$PIN' -j limit list | jq -e '.[] | select(.endpoint == \"udp/9000\" and .burst == 50)' >/dev/null"
	check "... and says it left it out" grep -q "^<4>reload: fgt-$S-x is in the config but gone: left out" "$TMP/run.err"
}

# Ban events lost before a start are not reported again by the next daemon: what it reports
# adds up to what was lost while it ran.
lost_counter() { fg -j stats | jq .pressure.events_lost; }
test_events_lost() {
	local i lost0 from
	config 1 "ban_policy: {events_per_second: 1}"
	start_daemon || {
		notok "floodgate run"
		return
	}
	for i in 2 3 4 5 6; do send 198.18.0.$i 20; done
	check "more bans than events_per_second: the daemon says some were not recorded" \
		poll 10 grep -q 'ban events not recorded' "$TMP/run.err"
	kill -TERM $DPID
	poll 20 exited $DPID
	DPID=
	lost0=$(lost_counter)
	le "events lost before the restart" 1 "$lost0"
	from=$(($(wc -l <"$TMP/run.err") + 1))
	if ! start_daemon; then
		notok "restart"
		return
	fi
	for i in 7 8 9 10 11 12; do send 198.18.0.$i 20; done
	check "after a restart, the reports add up to the events lost since ($lost0 lost before)" \
		poll 10 bash -c "n=\$('$FG' --pin-dir '$PIN' -j stats | jq .pressure.events_lost); [ \$n -gt $lost0 ] &&
			[ \$(tail -n +$from '$TMP/run.err' | grep -o '[0-9]* ban events not recorded' | awk '{ n += \$1 } END { print n + 0 }') -eq \$((n - $lost0)) ]"
}

# A SIGTERM that lands during start-up, just after the attach, waits for the start to finish:
# it killed the daemon there, before the config was applied, and left the interface enforcing
# the built-in rules instead of the file's.
test_signal_at_start() {
	local i pid st killed=0 applied=0
	config 100
	for i in 1 2 3 4 5; do
		: >"$TMP/start.err"
		"$FG" --pin-dir "$PIN" run --config "$TMP/floodgate.yaml" --metrics 127.0.0.1:0 \
			>/dev/null 2>"$TMP/start.err" &
		pid=$!
		timeout 10 bash -c "until grep -q '^<6>attached to' '$TMP/start.err'; do :; done"
		kill -TERM "$pid"
		wait "$pid"
		st=$?
		[ "$st" -ge 128 ] && killed=$((killed + 1))
		fg -j limit list | jq -e '.[] | select(.endpoint == "udp/9000" and .burst == 100)' \
			>/dev/null && applied=$((applied + 1))
		fg detach --all >/dev/null 2>&1
	done
	same "SIGTERM just after the attach, 5 starts: none killed by it" 0 "$killed"
	same "... each applied the config before it stopped" 5 "$applied"
}

# A writer holding the lock for seconds (a hung or slow command) does not stall the daemon: its
# housekeeping tries the lock, and what is due waits for a later second; it waited up to 10 s
# for the lock, serving nothing meanwhile.
test_lock_held() {
	local n=0 failed=0
	daemon_up 100
	fg ban add 198.18.0.9 --for 1s >/dev/null
	hold_lock "$PIN" 7
	while kill -0 "$HOLDER" 2>/dev/null && [ $n -lt 40 ]; do
		[ "$(code --max-time 1.5 "$URL/metrics")" = 200 ] || failed=$((failed + 1))
		n=$((n + 1))
		sleep 0.2
	done
	wait "$HOLDER"
	same "scrapes while a writer holds the lock for 7 s: none failed (of $n)" 0 "$failed"
	check "... and the ended manual ban is removed once it is released" \
		poll 10 grep -q 'bans: 1 manual bans ended and were removed' "$TMP/run.err"
}

run_tests "$@"
