#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# monitoring.test.sh: the Grafana dashboard (contrib/grafana/floodgate.json)
# and the Prometheus rules (contrib/prometheus/floodgate.rules.yml), proven
# against a real Prometheus scraping a real `floodgate run` during a real
# flood, so that neither can rot when a metric changes.
#
# 1. promtool checks the rules and runs their unit tests; the dashboard
#    is a Grafana 9+ dashboard with a data source and an instance variable,
#    and every panel has a description and queries.
# 2. In the lab (scripts/lab.sh): `floodgate run` with metrics (busiest
#    sources on) and Debian's prometheus scraping it every second, with the
#    rules loaded (its own data folder and port on loopback). Three floods
#    at once, from the generator's loop: 200 sources at 5x a ban rule's
#    limit, a spoofed churn over the under-attack threshold, and a denied
#    prefix.
# 3. Every panel's query and every rule's expression, through Prometheus'
#    HTTP API over the test's time range: none may fail, every panel the
#    floods must move must have data and a value above 0 in the range (a
#    series that is there but stays at 0 has not moved), every rule must
#    evaluate without an
#    error, and the under-attack alert must be pending or firing during the
#    flood (and a manual ban). Every floodgate_* metric the dashboard or the rules name must
#    be one floodgate exports, and every floodgate:* series the dashboard
#    reads must be recorded by the rules.
#
# The files' tests need nothing running; the metric names test runs its own
# daemon in its own lab, and the live test its own lab, daemon, Prometheus
# and floods (tests/tap.sh, run_tests).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
TEST_NAME=monitoring
. tests/tap.sh # ok, notok, check, same, le, note, exited, stop_pid, poll, skip_all
BUILD=${FG_BUILD:-$PWD/build}
FG=$BUILD/floodgate
TG=$BUILD/tests/trafgen
S=$$
export LAB_ID=n$S
PIN=/sys/fs/bpf/fgt-mon-$S
TMP=$(mktemp -d /tmp/fgt-mon.XXXXXX)
DASH=contrib/grafana/floodgate.json
RULES=contrib/prometheus/floodgate.rules.yml
RTEST=contrib/prometheus/floodgate.rules.test.yml
DPID= PPID_= FLOODS=()

trap 'rm -rf "$TMP"' EXIT
teardown_test() {
	local p
	for p in "${FLOODS[@]}"; do stop_pid "$p"; done
	stop_pid "$PPID_"
	stop_pid "$DPID"
	fg_remove "$FG" "$PIN"
	lab_down
	rm -rf "${TMP:?}"/*
}

for c in promtool prometheus jq curl; do
	command -v $c >/dev/null || skip_all "$c missing (make deps)"
done

# needs_root: the live tests need root and the build
needs_root() {
	[ "$(id -u)" -eq 0 ] || skip_all "needs root"
	[ -x "$FG" ] && [ -x "$TG" ] || skip_all "build $FG and $TG first"
}

# lab_daemon: the lab, and `floodgate run` in it with metrics (busiest sources on) on FGPORT
lab_daemon() {
	lab_up || {
		notok "lab up"
		exit 1
	}
	cat >"$TMP/fg.yaml" <<-EOF
	interfaces: [$LAB_IF_ATK, $LAB_IF_CLI]
	endpoints:
	  - endpoint: udp/53
	    pps: 50
	    burst: 100
	    action: ban
	    ban_for: 10m
	deny: [198.18.254.0/24]
	under_attack:
	  new_sources_per_second: 2000
	metrics:
	  listen: 127.0.0.1:0
	  top_sources: 10
	EOF
	"$FG" --pin-dir "$PIN" run --config "$TMP/fg.yaml" >"$TMP/run.out" 2>"$TMP/run.err" &
	DPID=$!
	if ! poll 20 grep -q 'serving metrics' "$TMP/run.err"; then
		sed 's/^/# /' "$TMP/run.err"
		notok "floodgate run serves metrics"
		exit 1
	fi
	FGPORT=$(grep -o 'port [0-9]*' "$TMP/run.err" | head -1 | grep -o '[0-9]*')
	ok "floodgate run serves metrics on 127.0.0.1:$FGPORT"
}

# every flood is the binary itself in the background, so its PID is the generator's
flood() { # ARGS...
	ip netns exec "$LAB_NS_ATK" "$TG" -j send lab0 --dmac "$LAB_SRV_MAC" --dst "$LAB_SRV4" \
		--method loop "$@" >>"$TMP/floods.json" 2>>"$TMP/floods.err" &
	FLOODS+=($!)
}

ALL_TESTS="test_rules test_dashboard test_metric_names test_live"

# --- 1. the files themselves ---------------------------------------------------
test_rules() {
	check "promtool check rules $RULES" promtool check rules "$RULES"
	promtool test rules "$RTEST" >"$TMP/rtest" 2>&1
	check "promtool test rules: every alert firing and not firing" grep -q SUCCESS "$TMP/rtest" ||
		sed 's/^/# /' "$TMP/rtest" | head -20
}

test_dashboard() {
	check "the dashboard is JSON" jq -e . "$DASH" >/dev/null
	check "the dashboard: Grafana 9 or later (schemaVersion >= 36), a uid, a title" \
		jq_true '.schemaVersion >= 36 and (.uid | length > 0) and (.title | length > 0)' <"$DASH"
	check "the dashboard: a Prometheus data source variable and an instance variable" \
		jq_true '[.templating.list[] | select((.type == "datasource" and .query == "prometheus") or
			(.type == "query" and .name == "instance"))] | length == 2' <"$DASH"
	same "every panel has a description, the data source variable and queries" "" \
		"$(jq -r '.panels[] | select(.type != "row") | select((.description // "") == "" or
			.datasource.uid != "${datasource}" or (.targets | length) == 0) | .title' "$DASH")"
	same "every panel has a unit" "" \
		"$(jq -r '.panels[] | select(.type != "row") | select((.fieldConfig.defaults.unit // "") == "") | .title' "$DASH")"
}

# names: the dashboard's and the rules' floodgate_* metrics exist; floodgate:* are recorded
test_metric_names() {
	needs_root
	lab_daemon
	# a source of its own, so the per-source series exist whatever else the lab sent
	ip netns exec "$LAB_NS_CLI" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(10): s.sendto(b"x", (sys.argv[1], 9))' "$LAB_SRV4"
	poll 5 sh -c "curl -s http://127.0.0.1:$FGPORT/metrics | grep -q '^floodgate_source_packets_total{'"
	curl -s "http://127.0.0.1:$FGPORT/metrics" | sed -n 's/^# TYPE \([a-z0-9_]*\) .*/\1/p' | sort -u >"$TMP/exported"
	cat "$DASH" "$RULES" | grep -o 'floodgate_[a-z0-9_]*' | sort -u >"$TMP/named"
	same "every floodgate_* metric named in the dashboard and the rules is exported" "" \
		"$(comm -23 "$TMP/named" "$TMP/exported" | paste -sd' ')"
	grep -o 'record: floodgate:[a-z0-9_:]*' "$RULES" | sed 's/record: //' | sort -u >"$TMP/recorded"
	grep -o 'floodgate:[a-z0-9_:]*' "$DASH" | sort -u >"$TMP/read"
	same "every floodgate:* series the dashboard reads is recorded by the rules" "" \
		"$(comm -23 "$TMP/read" "$TMP/recorded" | paste -sd' ')"
	note "the dashboard reads $(wc -l <"$TMP/read") recorded series and names $(wc -l <"$TMP/named") metrics"
}

# --- 2. floodgate run and prometheus in the lab, three floods -------------------------
# --- 3. every query and expression over the floods' time range ------------------------
test_live() {
	local PPORT API T0 pending st p MOVE bad nodata n title expr e r rules
	needs_root
	lab_daemon
	# prometheus on a loopback port below the ephemeral range, its data in TMP
	PPORT=$((10000 + S % 10000))
	cat >"$TMP/prometheus.yml" <<-EOF
	global:
	  scrape_interval: 1s
	  evaluation_interval: 1s
	rule_files: [$PWD/$RULES]
	scrape_configs:
	  - job_name: floodgate
	    static_configs:
	      - targets: [127.0.0.1:$FGPORT]
	EOF
	prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/data" \
		--web.listen-address=127.0.0.1:$PPORT --log.level=warn >"$TMP/prom.log" 2>&1 &
	PPID_=$!
	API=http://127.0.0.1:$PPORT/api/v1
	if ! poll 30 curl -sf "http://127.0.0.1:$PPORT/-/ready"; then
		sed 's/^/# /' "$TMP/prom.log" | tail -5
		notok "prometheus ready on 127.0.0.1:$PPORT"
		exit 1
	fi
	ok "prometheus ready on 127.0.0.1:$PPORT"
	# q EXPR [range]: the API's JSON for EXPR, at now or over the test's range at 1 s steps
	q() {
		if [ -n "${2:-}" ]; then
			curl -s --max-time 10 "$API/query_range" --data-urlencode "query=$1" \
				--data-urlencode "start=$T0" --data-urlencode "end=$(date +%s)" --data-urlencode "step=1"
		else
			curl -s --max-time 10 "$API/query" --data-urlencode "query=$1"
		fi
	}
	check "prometheus scrapes floodgate (up == 1)" \
		poll 20 sh -c "curl -s '$API/query' --data-urlencode 'query=up{job=\"floodgate\"} == 1' |
			jq -e '.data.result | length == 1' >/dev/null"
	T0=$(($(date +%s) - 5))
	# a manual ban too, so that every line of the bans panel moves
	check "a manual ban" "$FG" --pin-dir "$PIN" ban add 198.19.250.1 --for 10m

	# the floods: 200 abusers of udp/53 first, known (and banned, each its own /32) before the
	# spoofed flood engages the under-attack mode, which bans no coarse prefix
	flood --dport 53 --src 198.19.0.0 --sources 200 --rate 50000 --count 300000 --duration 8
	sleep 2
	flood --dport 9 --src 198.19.128.0 --sources 32768 --rate 20000 --count 120000 --duration 8
	flood --dport 9 --src 198.18.254.1 --rate 1000 --count 6000 --duration 8
	pending=
	for _ in $(seq 80); do
		st=$(curl -s "$API/alerts" | jq -r '[.data.alerts[] | select(.labels.alertname ==
			"FloodgateUnderAttack") | .state][0] // empty')
		[ -n "$st" ] && pending=$st && break
		sleep 0.1
	done
	for p in "${FLOODS[@]}"; do wait "$p"; done
	FLOODS=()
	check "the floods were sent ($(jq -s -c 'map(.frames)' "$TMP/floods.json"))" \
		jq -s -e 'length == 3 and all(.[]; .frames > 0 and .peer_received > 0)' "$TMP/floods.json"
	same "the under-attack alert went pending during the flood (its for: is a minute)" pending "$pending"
	sleep 3 # two more scrapes and rule evaluations after the floods

	# --- 3. every query and expression ---------------------------------------------------
	# panels the floods must move: data over the test's range, and a value above 0 in it
	MOVE='Under attack|Drop share|Dropped|Bans in force|Source table|Verdicts|Drops by reason|Bits per second|Passed per endpoint|Dropped and would drop per endpoint|Bans|Sources created per second|Busiest sources: packets|Busiest sources: drops'
	jq -r '.panels[] | select(.type != "row") | .title as $t | .targets[] | "\($t)\t\(.expr)"' "$DASH" \
		>"$TMP/panels.tsv"
	bad= nodata= n=0
	while IFS=$'\t' read -r title expr; do
		e=${expr//\$instance/.*}
		e=${e//\$__rate_interval/1m}
		r=$(q "$e" range)
		n=$((n + 1))
		if ! jq -e '.status == "success"' <<<"$r" >/dev/null; then
			bad+="$title: $(jq -r '.error // "no answer"' <<<"$r" 2>/dev/null | head -c 200); "
		elif [[ $title =~ ^($MOVE)$ ]] &&
			! jq -e '[.data.result[].values[][1] | tonumber] | max > 0' <<<"$r" >/dev/null; then
			nodata+="$title ($expr); "
		fi
	done <"$TMP/panels.tsv"
	note "$n panel queries evaluated over $(($(date +%s) - T0)) s"
	same "every panel query evaluates" "" "$bad"
	same "every panel the floods must move has data, and moved" "" "$nodata"

	# the rules, as prometheus loaded them: each one's expression evaluates, and prometheus ran
	# them all without an error
	rules=$(curl -s "$API/rules")
	same "prometheus loaded every rule of the file" "$(grep -cE '^ *- (record|alert):' "$RULES")" \
		"$(jq '[.data.groups[].rules[]] | length' <<<"$rules")"
	bad=
	while IFS= read -r expr; do
		r=$(q "$expr")
		jq -e '.status == "success"' <<<"$r" >/dev/null ||
			bad+="$expr: $(jq -r '.error // "no answer"' <<<"$r" 2>/dev/null | head -c 200); "
	done < <(jq -r '.data.groups[].rules[].query' <<<"$rules")
	same "every rule expression evaluates" "" "$bad"
	same "prometheus evaluated every rule without an error" "" \
		"$(jq -r '.data.groups[].rules[] | select(.health != "ok") | "\(.name): \(.lastError)"' <<<"$rules")"
	check "the recording rules hold the flood (floodgate:packets:rate1m{action=\"drop\"} > 0 in the range)" \
		jq_true '[.data.result[].values[][1] | tonumber] | max > 0' \

	check "the daemon is still running" kill -0 "$DPID"
	bad=$(grep -v 'cannot attach to lo' "$TMP/floods.err" 2>/dev/null)
	same "the generators reported no errors" "" "$bad"
}

run_tests "$@"
