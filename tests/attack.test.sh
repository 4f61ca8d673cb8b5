#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# attack.test.sh: floods aimed at floodgate's own state (issue 6, "Attacks
# on the limiter"), in the lab (scripts/lab.sh) with the project's
# generator (trafgen: live frames where the kernel allows them, else its
# exact AF_PACKET method; see tests/trafgen/main.c).
#
# The daemon attaches floodgate to the attacker's and the client's host
# ends with a small source table (65536) and ban table (64), so that the
# floods overflow both. A receiver in the server namespace (nftables
# counters on lab0's ingress, per flow) counts what floodgate let through;
# everything but the legitimate traffic is dropped right there, so the
# server's stack is no bottleneck.
#
# 1. Spoofed churn, with under-attack mode off (every spoofed source gets
#    a bucket of its own: the worst case for the table). A manual ban and
#    an automatic ban (action ban) per family, then the ban table is
#    overflowed (every over-limit source is either a ban or a counted
#    failed insert), then floods: every address of 198.18.0.0/15 with 1
#    and with 2 packets each, 1M random IPv6 sources, 1M IPv6 sources
#    with 2 packets each. Meanwhile the banned sources keep sending
#    (none may reach the receiver after any stage) and a legitimate client
#    per family sends at 10% of its limit (it may lose under 1%).
# 2. Under-attack mode, judged for the whole machine (threshold 1000 new
#    sources/s, all CPUs together): known clients on both CPUs; a spoofed
#    flood on one CPU at 0.6x the threshold must not engage it; floods on
#    both CPUs at 0.6x each must, within two seconds of their first packet
#    by the data path's own clock (bucket first_seen against the event's
#    tick), show in status, stats and metrics, and end no sooner than two
#    seconds after the floods (FG_CALM_WINDOWS quiet windows); no known
#    client may have a packet dropped, in floodgate or at the receiver.
# 3. One source at 100x its limit (1000 pps, burst 1000) from both CPUs at
#    once, through both veths (so two NAPI contexts update one bucket):
#    the receiver count must stay within burst + rate x (time since the
#    bucket's first packet) by the data path's clock, and within the same
#    bound over the wall-clock span of the run.
# 4. A spoofed flood whose every source stays under its limit, on a fresh
#    floodgate with the default tables and threshold (the data path
#    issue's hidden check): at most 5% of it may reach the server, and a
#    client known before it loses under 1% and nothing to floodgate.
#
# Timings are never asserted as performance: only the data path's own
# ticks, with bounds far from what is expected. Lab names carry fglk<PID>,
# the pins /sys/fs/bpf/fgt-atk-<PID>. Each phase is a test function of its
# own, on a lab and receiver of its own (setup_test) and, for phases 1 to
# 3, a daemon of its own (daemon_up); teardown_test removes all of it.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
TEST_NAME=attack
. tests/tap.sh # ok, notok, check, same, le, note, exited, stop_pid, poll, skip_all
BUILD=${FG_BUILD:-$PWD/build}
FG=$BUILD/floodgate
TG=$BUILD/tests/trafgen
S=$$
export LAB_ID=k$S
PIN=/sys/fs/bpf/fgt-atk-$S
TMP=$(mktemp -d /tmp/fgt-atk.XXXXXX)
NFT=fgtatk
THRESHOLD=1000 # phase 2: new sources per second, all CPUs (the table's churn bound is 65536/60)
DPID=


trap 'rm -rf "$TMP"' EXIT
teardown_test() {
	local p
	# our children not reaped yet (a reaped PID may belong to someone else by now)
	for p in $(jobs -p); do [ "$p" != "$DPID" ] && stop_pid "$p"; done
	stop_pid "$DPID"
	fg_remove "$FG" "$PIN"
	lab_down
	rm -rf "${TMP:?}"/*
}

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
for c in nginx ethtool curl nft jq bpftool taskset python3; do
	command -v $c >/dev/null || skip_all "$c missing (make deps)"
done
[ -x "$TG" ] && [ -x "$FG" ] || skip_all "build $TG and $FG first"
[ "$(nproc)" -ge 2 ] || skip_all "needs 2 CPUs"

fg() { "$FG" --pin-dir "$PIN" "$@"; }
# tg NS ARGS...: the generator in a lab namespace, towards the server; JSON on stdout
tg() {
	local ns=$1
	shift
	ip netns exec "$ns" "$TG" -j send lab0 --dmac "$LAB_SRV_MAC" "$@" 2>>"$TMP/tg.err"
}
# tg_bg OUT NS|CPU:NS ARGS...: the same in the background (pinned to CPU if given); PID in BG
tg_bg() {
	local out=$1 where=$2 cpu=
	shift 2
	if [[ $where == *:* ]]; then
		cpu=${where%%:*} where=${where#*:}
		taskset -c "$cpu" ip netns exec "$where" "$TG" -j send lab0 --dmac "$LAB_SRV_MAC" \
			"$@" >"$out" 2>>"$TMP/tg.err" &
	else
		ip netns exec "$where" "$TG" -j send lab0 --dmac "$LAB_SRV_MAC" "$@" >"$out" \
			2>>"$TMP/tg.err" &
	fi
	BG=$!
}
jf() { jq -r "$2" "$1" 2>/dev/null; } # FILE EXPR
# frames FILE: frames a generator reported, 0 when it did not finish
frames() { jq -r '.frames // 0' "$1" 2>/dev/null | tail -1 | grep -x '[0-9]*' || echo 0; }

# Receiver counters (server namespace): "NAME PACKETS" lines into FILE.
nft_read() {
	ip netns exec "$LAB_NS_SRV" nft -j list counters table netdev $NFT |
		jq -r '.nftables[] | select(.counter) | "\(.counter.name) \(.counter.packets)"' >"$1"
}
nft_get() { awk -v n="$2" '$1 == n { print $2 }' "$1"; } # FILE NAME
# lab0 transmit count of a namespace: what its peer received, plus ring drops
txc() {
	ip -n "$1" -j -s link show dev lab0 | jq '.[0].stats64.tx.packets + .[0].stats64.tx.dropped'
}
stats() { fg -j stats >"$1"; }
# rule_index PROTO PORT: slot of the live rule set holding that endpoint
rule_index() {
	local slot
	slot=$(bpftool -j map lookup pinned "$PIN/fg_state" key 0 0 0 0 | jq '.formatted.value.slot')
	bpftool -j map lookup pinned "$PIN/fg_config" key "$slot" 0 0 0 |
		jq --argjson p "$1" --argjson port "$2" \
			'[.formatted.value.rules | to_entries[] | select(.value.used == 1 and
			 .value.proto == $p and .value.port_lo == $port)][0].key'
}
# bucket RULE A.B.C.D: the /32 bucket of an IPv4 source as JSON (first_seen, last_seen, ...)
bucket() {
	local r=$1 a b c d
	IFS=. read -r a b c d <<<"$2"
	bpftool -j map lookup pinned "$PIN/fg_sources" key $((r & 255)) $((r >> 8)) 4 32 \
		$a $b $c $d 0 0 0 0 0 0 0 0 0 0 0 0 2>/dev/null | jq -c '.formatted.value'
}
# rule_cpu IDX: per-CPU "passed dropped" of a rule, one line per CPU, with the drops
# the CPU's verdict cache holds and has not yet counted there (as stats adds them)
rule_cpu() {
	local pend
	pend=$(bpftool -j map dump pinned "$PIN/fg_verdicts" | jq -c --argjson r "$1" \
		'[.[].formatted.values[]] | group_by(.cpu) |
		 map(map(select(.value.key.rule == $r) | .value.packets) | add // 0)')
	bpftool -j map lookup pinned "$PIN/fg_rule_stats" key $(($1 & 255)) $(($1 >> 8)) 0 0 |
		jq -r --argjson p "$pend" \
			'.formatted.values[] | "\(.value.passed) \(.value.dropped + ($p[.cpu] // 0))"'
}
# dp_now: the data path's clock, the pinned clock program run once (tick in the first 8 bytes out)
dp_now() {
	head -c 64 /dev/zero >"$TMP/zero64"
	bpftool prog run pinned "$PIN/clock" data_in "$TMP/zero64" data_out "$TMP/clock.out" \
		>/dev/null 2>&1 && od -An -tu8 -N8 "$TMP/clock.out" | tr -d ' '
}
metric() { curl -s --max-time 5 "$URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }

# Every test: the lab, settled, and a receiver in the server namespace (nftables counters on lab0's
# ingress, per flow) that drops everything but the legitimate traffic.
setup_test() {
	lab_up || {
		notok "lab up"
		exit 1
	}
	ip netns exec "$LAB_NS_SRV" nft -f - <<-EOF || {
	table netdev $NFT {
		counter legit4 {}
		counter legit6 {}
		counter manual4 {}
		counter auto4 {}
		counter manual6 {}
		counter auto6 {}
		counter known {}
		counter hot {}
		counter flood {}
		chain in {
			type filter hook ingress device lab0 priority 0;
			ip saddr 198.18.0.2 udp sport 41000 counter name legit4 accept
			ip6 saddr 2001:db8::2 udp sport 41000 counter name legit6 accept
			ip saddr 198.19.255.1 counter name manual4 drop
			ip saddr 198.19.255.2 counter name auto4 drop
			ip6 saddr 2001:db8:ffff:1::/64 counter name manual6 drop
			ip6 saddr 2001:db8:ffff:2::/64 counter name auto6 drop
			ip saddr { 198.18.1.0/24, 198.18.2.0/24 } udp sport 41000 counter name known drop
			ip saddr 198.18.7.7 udp dport 7777 counter name hot drop
			udp dport { 9, 5353, 5354, 7777 } counter name flood drop
		}
	}
	EOF
		notok "receiver counters in the server namespace"
		exit 1
	}
	lab_settle # the clients' own first frames (MLD...) are not counted as theirs
}

# config NEW_SOURCES_PER_SECOND: the daemon's config
config() {
	cat >"$TMP/fg.yaml" <<EOF
interfaces: [$LAB_IF_ATK, $LAB_IF_CLI]
tables:
  sources: 65536
  bans: 64
under_attack:
  new_sources_per_second: $1
endpoints:
  - endpoint: udp/5353
    pps: 1000
    burst: 1000
    action: ban
    ban_for: 1h
  - endpoint: udp/5354
    pps: 1
    burst: 1
    action: ban
    ban_for: 1h
  - endpoint: udp/7777
    pps: 1000
    burst: 1000
EOF
}

# daemon_up NEW_SOURCES_PER_SECOND: floodgate run on the lab with the small tables, else the
# test ends
daemon_up() {
	config "$1"
	"$FG" --pin-dir "$PIN" run --config "$TMP/fg.yaml" --metrics 127.0.0.1:0 \
		>"$TMP/run.out" 2>"$TMP/run.err" &
	DPID=$!
	if ! poll 20 grep -q 'serving metrics' "$TMP/run.err"; then
		sed 's/^/# /' "$TMP/run.err"
		notok "floodgate run attaches to the lab and serves metrics"
		exit 1
	fi
	ok "floodgate run attaches to the lab and serves metrics"
	URL=http://127.0.0.1:$(grep -o 'port [0-9]*' "$TMP/run.err" | head -1 | grep -o '[0-9]*')
	same "source table capacity 65536" 65536 "$(fg -j status | jq .sources_capacity)"
}

# daemon_clean: the daemon ran through the test, logged no error but the under-attack ones,
# and the generators reported none
daemon_clean() {
	local bad
	check "the daemon is still running" kill -0 $DPID
	bad=$(grep '^<[0-3]>' "$TMP/run.err" | grep -v 'under_attack_on')
	check "the daemon logged no errors but the under-attack ones${bad:+: $(head -1 <<<"$bad")}" test -z "$bad"
	bad=$(grep -v 'cannot attach to lo' "$TMP/tg.err" 2>/dev/null)
	check "the generators reported no errors${bad:+: $(head -1 <<<"$bad")}" test -z "$bad"
}

ALL_TESTS="test_churn test_under_attack test_hot_source test_under_the_limits"

#
# 1. Spoofed churn
#
test_churn() {
	local over made failed out tx0 tx1 LEGIT4 LEGIT6 BAN4 BAN6 n_stage flood_total max_tracked
	local t_churn0 t_churn1 base p sent recv
	daemon_up off
	fg ban add 198.19.255.1 --for 1h >/dev/null && fg ban add 2001:db8:ffff:1::/64 --for 1h >/dev/null
	check "manual bans added (198.19.255.1, 2001:db8:ffff:1::/64)" test $? -eq 0
	stats "$TMP/s0.json"
	tg "$LAB_NS_ATK" --dst "$LAB_SRV4" --dport 5353 --src 198.19.255.2 --count 1100 --duration 20 >/dev/null
	tg "$LAB_NS_ATK" --dst "$LAB_SRV6" --dport 5353 --src 2001:db8:ffff:2:: --count 1100 --duration 20 >/dev/null
	stats "$TMP/s1.json"
	fg -j ban list >"$TMP/bans1.json"
	same "automatic bans by action ban: 198.19.255.2 and 2001:db8:ffff:2::/64" 2 \
		"$(jq '[.[] | select(.kind == "automatic" and (.address | test("^198\\.19\\.255\\.2(/32)?$|^2001:db8:ffff:2::/64$")))] | length' "$TMP/bans1.json")"
	same "udp/5353 gave every frame a verdict (2 x 1100)" 2200 \
		"$(jq -n --slurpfile a "$TMP/s0.json" --slurpfile b "$TMP/s1.json" \
			'[$a[0], $b[0] | .endpoints[] | select(.endpoint == "udp/5353") | .passed + .dropped] | .[1] - .[0]')"

	# the ban table (64) overflows: 10000 sources, each over its limit (pps 1, burst 1) once
	out=$(tg "$LAB_NS_ATK" --dst "$LAB_SRV4" --dport 5354 --src 198.18.128.0 --sources 10000 \
		--count 20000 --duration 30)
	stats "$TMP/s2.json"
	d() { # EXPR: the change of a stats field between s1 and s2
		jq -n --slurpfile a "$TMP/s1.json" --slurpfile b "$TMP/s2.json" "(\$b[0] | $1) - (\$a[0] | $1)"
	}
	over=$(d .packets.rate_pps) made=$(d .pressure.bans) failed=$(d .pressure.ban_insert_failures)
	note "ban table overflow: $over sources over the limit, $made bans recorded, $failed inserts failed"
	same "ban table overflow: udp/5354 gave every frame a verdict" 20000 \
		"$(d '[.endpoints[] | select(.endpoint == "udp/5354") | .passed + .dropped] | add')"
	same "ban table overflow: the table is full" 64 "$(jq .ban_records "$TMP/s2.json")"
	check "ban table overflow: inserts failed ($failed)" test "$failed" -gt 0
	same "ban table overflow: every over-limit source is a ban or a counted failed insert" \
		"$over" $((made + failed))
	same "ban table overflow: the metric counts the failures" \
		"$(jq .pressure.ban_insert_failures "$TMP/s2.json")" \
		"$(metric 'floodgate_map_insert_failures_total{map="fg_bans"}')"

	# legitimate clients at 10% of their limit, banned sources sending throughout
	tx0=$(txc "$LAB_NS_CLI")
	nft_read "$TMP/n0"
	tg_bg "$TMP/legit4.json" "$LAB_NS_CLI" --dst "$LAB_SRV4" --dport 5353 --src 198.18.0.2 \
		--sport 41000 --rate 100 --count 30000 --duration 300
	LEGIT4=$BG
	tg_bg "$TMP/legit6.json" "$LAB_NS_CLI" --dst "$LAB_SRV6" --dport 5353 --src 2001:db8::2 \
		--sport 41000 --rate 100 --count 30000 --duration 300
	LEGIT6=$BG
	tg_bg "$TMP/ban4.json" "$LAB_NS_ATK" --dst "$LAB_SRV4" --dport 5353 --src 198.19.255.1 \
		--sources 2 --rate 200 --count 60000 --duration 300
	BAN4=$BG
	tg_bg "$TMP/ban6.json" "$LAB_NS_ATK" --dst "$LAB_SRV6" --dport 5353 --src 2001:db8:ffff:1:: \
		--sources 2 --rate 200 --count 60000 --duration 300
	BAN6=$BG
	sleep 1

	# stage NAME COUNT ARGS...: one flood; then the banned sources must not have reached the receiver
	n_stage=0 flood_total=0 max_tracked=0 t_churn0=$(date +%s.%N)
	stage() {
		local name=$1 count=$2 prev cur f got tracked
		shift 2
		n_stage=$((n_stage + 1))
		prev=$TMP/n$((n_stage - 1)) cur=$TMP/n$n_stage
		stats "$TMP/st_a.json"
		tg "$LAB_NS_ATK" --dst "$@" --dport 5353 --count "$count" --duration 120 >"$TMP/flood$n_stage.json"
		f=$(frames "$TMP/flood$n_stage.json")
		nft_read "$cur"
		stats "$TMP/st_b.json"
		flood_total=$((flood_total + f))
		same "$name: all $count frames sent" "$count" "$f"
		got=
		for c in manual4 auto4 manual6 auto6; do
			got+="$c $(($(nft_get "$cur" $c) - $(nft_get "$prev" $c))) "
		done
		same "$name: banned sources reached the receiver" "manual4 0 auto4 0 manual6 0 auto6 0 " "$got"
		check "$name: banned sources were dropped meanwhile (banned counter grew)" \
			test "$(jq -n --slurpfile a "$TMP/st_a.json" --slurpfile b "$TMP/st_b.json" \
				'$b[0].packets.banned - $a[0].packets.banned')" -gt 0
		tracked=$(jq .sources_tracked "$TMP/st_b.json")
		le "$name: sources tracked within capacity" "$tracked" 65536
		[ "$tracked" -gt "$max_tracked" ] && max_tracked=$tracked
		note "$name: $(jq -c '{seconds: (.seconds * 1000 | round / 1000), pps: (.pps | round)}' \
			"$TMP/flood$n_stage.json") tracked $tracked"
	}
	cp "$TMP/n0" "$TMP/n0.keep"
	stage "IPv4 198.18.0.0/15, 1 packet each" 131072 "$LAB_SRV4" --src 198.18.0.0 --sources 131072
	stage "IPv4 198.18.0.0/15, 2 packets each" 262144 "$LAB_SRV4" --src 198.18.0.0 --sources 131072
	stage "IPv6 1M random sources" 1000000 "$LAB_SRV6" --src 2001:db8:: --sources 4294967295 --random
	base=$(printf '%x' $((0x10000000 + RANDOM * 65536 + RANDOM)))
	stage "IPv6 1M sources from 2001:db8:${base:0:4}:${base:4:4}::, 2 packets each" 2000000 \
		"$LAB_SRV6" --src "2001:db8:${base:0:4}:${base:4:4}::" --sources 1000000
	t_churn1=$(date +%s.%N)
	check "the floods overflowed the source table (peak $max_tracked tracked of 65536)" \
		test "$max_tracked" -ge 60000
	for p in $LEGIT4 $LEGIT6 $BAN4 $BAN6; do stop_pid "$p"; done
	sleep 0.3
	tx1=$(txc "$LAB_NS_CLI")
	nft_read "$TMP/nend"
	stats "$TMP/s3.json"
	sent=$((tx1 - tx0))
	recv=$(($(nft_get "$TMP/nend" legit4) - $(nft_get "$TMP/n0.keep" legit4) +
		$(nft_get "$TMP/nend" legit6) - $(nft_get "$TMP/n0.keep" legit6)))
	note "churn: $flood_total spoofed frames in $(awk -v a="$t_churn0" -v b="$t_churn1" 'BEGIN { printf "%.1f", b - a }') s;" \
		"legitimate clients sent $sent, the receiver got $recv"
	check "legitimate clients sent throughout ($sent frames)" test "$sent" -ge 1000
	check "legitimate clients at 10% of their limit lose under 1% ($((sent - recv)) of $sent lost)" \
		test $(((sent - recv) * 100)) -lt "$sent"
	fg -j ban list >"$TMP/bans2.json"
	same "after the churn: the four bans are still in force" 4 \
		"$(jq '[.[] | select(.address | test("^198\\.19\\.255\\.[12](/32)?$|^2001:db8:ffff:[12]::/64$"))] | length' "$TMP/bans2.json")"
	note "insert failures after the churn: sources $(jq .pressure.source_insert_failures "$TMP/s3.json"), bans $(jq .pressure.ban_insert_failures "$TMP/s3.json")"
	same "source insert failures: the metric matches the counter" \
		"$(jq .pressure.source_insert_failures "$TMP/s3.json")" \
		"$(metric 'floodgate_map_insert_failures_total{map="fg_sources"}')"
	daemon_clean
}

#
# 2. Under-attack mode, judged for the machine: a flood on one CPU at 0.6x the threshold does
# not engage it; floods on both CPUs at 0.6x each do (their sum is 1.2x); it shows, and
# releases after calm windows
#
test_under_attack() {
	local HZ tx0 tx1 K0 K1 RATE F0 F1 seen_status seen_stats seen_metrics t_after first0 first1
	local first on eng exact coarse off rel sent recv
	daemon_up off
	HZ=$(fg -j status | jq .hz)
	config $THRESHOLD
	kill -HUP $DPID
	check "SIGHUP: under-attack threshold $THRESHOLD applied" \
		poll 10 grep -q 'reload: .* applied' "$TMP/run.err"
	same "threshold live" $THRESHOLD "$(fg -j config dump | jq -r .under_attack.new_sources_per_second)"
	# the binary itself, so the cleanup's stop_pid ends floodgate and not just a subshell
	"$FG" --pin-dir "$PIN" -j events --follow >"$TMP/events.json" 2>"$TMP/events.err" &

	# known clients: 64 on CPU 1, 64 on CPU 0, 10 packets/s each
	tx0=$(txc "$LAB_NS_CLI")
	nft_read "$TMP/k0"
	tg_bg "$TMP/known1.json" "1:$LAB_NS_CLI" --dst "$LAB_SRV4" --dport 9 --src 198.18.1.0 \
		--sources 64 --sport 41000 --rate 640 --count 64000 --duration 100
	K1=$BG
	tg_bg "$TMP/known0.json" "0:$LAB_NS_CLI" --dst "$LAB_SRV4" --dport 9 --src 198.18.2.0 \
		--sources 64 --sport 41000 --rate 640 --count 64000 --duration 100
	K0=$BG
	sleep 2
	known() { # FILE: known clients' rows of `top`
		fg -j top -n 1000000 --interval 0 |
			jq -c '[.[] | select(.endpoint == "default" and (.source | test("^198\\.18\\.[12]\\.")))]' >"$1"
	}
	known "$TMP/known_a.json"
	same "known clients have buckets of their own before the flood" 128 \
		"$(jq '[.[] | select(.source | test("/") | not)] | length' "$TMP/known_a.json")"
	same "not under attack before the flood" false "$(fg -j status | jq .under_attack)"

	# one CPU alone at 0.6x the threshold, 3 s: not an attack
	RATE=$((THRESHOLD * 6 / 10))
	tg "$LAB_NS_ATK" --dst "$LAB_SRV4" --dport 9 --src 198.19.64.0 --sources 16384 --rate $RATE \
		--count $((RATE * 3)) --duration 30 >"$TMP/flood_one.json"
	same "one CPU's flood at 0.6x: all $((RATE * 3)) frames sent" $((RATE * 3)) "$(frames "$TMP/flood_one.json")"
	same "one CPU's flood at 0.6x the threshold: not under attack" false "$(fg -j status | jq .under_attack)"
	same "... and no under-attack event" 0 \
		"$(jq -s '[.[] | select(.type == "under_attack_on")] | length' "$TMP/events.json")"

	# both CPUs at 0.6x each, 6 s, each from sources of its own
	tg_bg "$TMP/flood0.json" "0:$LAB_NS_ATK" --dst "$LAB_SRV4" --dport 9 --src 198.19.0.0 \
		--sources 16384 --rate $RATE --count $((RATE * 6)) --duration 60
	F0=$BG
	tg_bg "$TMP/flood1.json" "1:$LAB_NS_ATK" --dst "$LAB_SRV4" --dport 9 --src 198.19.128.0 \
		--sources 16384 --rate $RATE --count $((RATE * 6)) --duration 60
	F1=$BG
	seen_status="" seen_stats="" seen_metrics=""
	while ! exited $F0 || ! exited $F1; do
		[ -z "$seen_status" ] && [ "$(fg -j status | jq .under_attack)" == true ] &&
			seen_status=$(fg status | grep '^under attack')
		[ -z "$seen_stats" ] && [ "$(fg -j stats | jq .under_attack)" == true ] && seen_stats=1
		[ -z "$seen_metrics" ] && [ "$(metric floodgate_under_attack)" == 1 ] && seen_metrics=1
		[ -n "$seen_status" ] && [ -n "$seen_stats" ] && [ -n "$seen_metrics" ] && break
		sleep 0.1
	done
	[ -n "$seen_status" ] && note "status during the floods: $seen_status"
	check "during the floods: status says under attack" test -n "$seen_status"
	check "during the floods: stats -j says under_attack" test -n "$seen_stats"
	check "during the floods: metric floodgate_under_attack is 1" test -n "$seen_metrics"
	wait $F0 $F1
	t_after=$(dp_now) # past both floods' last packets
	same "floods: all frames sent on both CPUs" "$((RATE * 6)) $((RATE * 6))" \
		"$(frames "$TMP/flood0.json") $(frames "$TMP/flood1.json")"
	first0=$(bucket 0 198.19.0.0 | jq .first_seen) first1=$(bucket 0 198.19.128.0 | jq .first_seen)
	first=$((first0 < first1 ? first0 : first1))
	poll 5 grep -q under_attack_on "$TMP/events.json"
	on=$(jq -s -c '[.[] | select(.type == "under_attack_on")][0] // empty' "$TMP/events.json")
	if [ -n "$on" ] && [ "$first0" != null ] && [ "$first1" != null ]; then
		eng=$(($(jq .tick <<<"$on") - first))
		note "engaged $eng ticks ($((eng * 1000 / HZ)) ms of the data path's clock) after the floods' first packet"
		# the sum passes the threshold 0.83 s into a one-second window; the window the floods
		# begin in may hold less of them, so within two windows
		check "engages within 2 s of the floods' first packet, by the data path's clock ($eng ticks, HZ $HZ)" \
			test "$eng" -ge 0 -a "$eng" -le $((2 * HZ))
	else
		notok "engages (event: ${on:-none}, first packets' ticks: $first0 $first1)"
	fi
	check "the daemon logs the under-attack event" poll 5 grep -q '^<3>.*under_attack_on' "$TMP/run.err"
	fg -j top -n 1000000 --interval 0 >"$TMP/top_p2.json"
	# the floods' sources: 198.19.0.0-63.255 (CPU 0) and 198.19.128.0-191.255 (CPU 1)
	exact=$(jq '[.[] | select(.endpoint == "default" and (.source | test("^198\\.19\\.([0-9]|[1-5][0-9]|6[0-3]|12[89]|1[3-8][0-9]|19[01])\\.[0-9]+$")))] | length' "$TMP/top_p2.json")
	coarse=$(jq '[.[] | select(.endpoint == "default" and (.source | test("^198\\.19\\..*/24$")))] | length' "$TMP/top_p2.json")
	note "the two floods' sources with a bucket of their own: $exact; /24 buckets charged instead: $coarse"
	# two windows' worth, plus a batch (at most 64) pending on each CPU
	le "at most 2 windows' worth of spoofed sources got a bucket of their own" "$exact" \
		$((2 * THRESHOLD + 2 * 64))
	check "the rest were charged to /24 buckets ($coarse)" test "$coarse" -gt 0

	# release: FG_CALM_WINDOWS calm windows after the floods, by the data path's clock. The window
	# holding their last packets may itself count as calm, so more than 2 s after them.
	if poll 20 grep -q '"under_attack_off"' "$TMP/events.json"; then
		off=$(jq -s -c '[.[] | select(.type == "under_attack_off")][0]' "$TMP/events.json")
		rel=$(($(jq .tick <<<"$off") - t_after))
		note "released $rel ticks ($((rel * 1000 / HZ)) ms) after the floods' last packets"
		check "releases more than 2 s after the floods' last packets, by the data path's clock ($rel ticks, HZ $HZ)" \
			test "$rel" -gt $((2 * HZ))
		ok "releases after the floods stop (under_attack_off event)"
	else
		notok "releases after the floods stop (no under_attack_off event within 20 s)"
	fi
	same "one entry into the mode, one exit" "1 1" \
		"$(jq -s -r '[([.[] | select(.type == "under_attack_on")] | length), ([.[] | select(.type == "under_attack_off")] | length)] | join(" ")' "$TMP/events.json")"
	poll 5 sh -c "[ \"\$(\"$FG\" --pin-dir \"$PIN\" -j status | jq .under_attack)\" = false ]"
	same "after the release: status" false "$(fg -j status | jq .under_attack)"
	same "after the release: stats -j" false "$(fg -j stats | jq .under_attack)"
	same "after the release: metric" 0 "$(metric floodgate_under_attack)"
	check "after the release: the daemon logs it" grep -q '^<5>.*under_attack_off' "$TMP/run.err"
	stop_pid $K1
	stop_pid $K0
	sleep 0.3
	tx1=$(txc "$LAB_NS_CLI")
	nft_read "$TMP/k1"
	known "$TMP/known_b.json"
	same "known clients: no packet dropped by floodgate through both transitions" 0 \
		"$(jq '[.[].drops] | add' "$TMP/known_b.json")"
	same "known clients kept their own buckets" 128 \
		"$(jq '[.[] | select(.source | test("/") | not)] | length' "$TMP/known_b.json")"
	sent=$((tx1 - tx0)) recv=$(($(nft_get "$TMP/k1" known) - $(nft_get "$TMP/k0" known)))
	note "known clients sent $sent, the receiver got $recv"
	# the client namespace's own odd packet (MLD) is counted as sent too
	check "known clients: the receiver got all they sent (to within 4 of the namespace's own)" \
		test "$recv" -le "$sent" -a $((sent - recv)) -le 4
	daemon_clean
}

#
# 3. One source at 100x its limit from both CPUs at once
#
test_hot_source() {
	local HZ IDX w0 w1 H0 H1 t_after bk recv c0 c1 passed f l dpmax wmax
	daemon_up off
	HZ=$(fg -j status | jq .hz)
	IDX=$(rule_index 17 7777)
	rule_cpu "$IDX" >"$TMP/rc0"
	nft_read "$TMP/h0"
	w0=$(date +%s.%N)
	tg_bg "$TMP/hot0.json" "0:$LAB_NS_ATK" --dst "$LAB_SRV4" --dport 7777 --src 198.18.7.7 \
		--rate 50000 --count 150000 --duration 60
	H0=$BG
	tg_bg "$TMP/hot1.json" "1:$LAB_NS_CLI" --dst "$LAB_SRV4" --dport 7777 --src 198.18.7.7 \
		--rate 50000 --count 150000 --duration 60
	H1=$BG
	wait $H0 $H1
	t_after=$(dp_now)
	w1=$(date +%s.%N)
	sleep 0.3
	nft_read "$TMP/h1"
	rule_cpu "$IDX" >"$TMP/rc1"
	bk=$(bucket "$IDX" 198.18.7.7)
	same "100x: both generators sent 150000 frames" "150000 150000" \
		"$(frames "$TMP/hot0.json") $(frames "$TMP/hot1.json")"
	recv=$(($(nft_get "$TMP/h1" hot) - $(nft_get "$TMP/h0" hot)))
	read -r c0 c1 <<<"$(paste "$TMP/rc0" "$TMP/rc1" | awk '{ printf "%d ", $3 + $4 - $1 - $2 }')"
	passed=$(paste "$TMP/rc0" "$TMP/rc1" | awk '{ s += $3 - $1 } END { print s }')
	note "100x: CPU 0 judged $c0 packets, CPU 1 $c1; floodgate passed $passed, the receiver got $recv"
	check "100x: both CPUs judged a share (>= 20%) of the source's packets" \
		test "$c0" -ge 60000 -a "$c1" -ge 60000
	same "100x: what floodgate passed is what arrived" "$passed" "$recv"
	f=$(jq .first_seen <<<"$bk") l=$(jq .last_seen <<<"$bk")
	# GCRA from a full bucket at the first packet's tick f: at most burst + rate x (now - f) / HZ by
	# any later tick; t_after, read once both generators are gone, is past the last packet
	dpmax=$((1000 + 1000 * (t_after - f) / HZ))
	le "100x: receiver count within burst + rate x data-path time ($((t_after - f)) ticks)" "$recv" "$dpmax"
	wmax=$(awk -v a="$w0" -v b="$w1" -v hz="$HZ" 'BEGIN { printf "%d", 1000 + 1000 * (b - a + 1 / hz) }')
	le "100x: receiver count within burst + rate x wall-clock time" "$recv" "$wmax"
	# last_seen is written by both CPUs without ordering, so it may lag the last packet by a tick
	note "100x: admitted $recv; burst + rate x (last_seen - first_seen) = $((1000 + 1000 * (l - f) / HZ))" \
		"($((l - f)) ticks)"
	check "100x: the limit still passes its burst ($recv >= 1000)" test "$recv" -ge 1000
	daemon_clean
}

#
# 4. A spoofed flood whose every source stays under its limit, with the default tables and
# threshold: 65536 random sources of 198.19.0.0/16 at 1M packets/s for 6 s, about 15 packets/s
# each against a rule of 100 packets/s, burst 100 (the data path issue's hidden check). Under
# attack the sources are charged to their /24, including those met in the window before the
# mode began: at most 5% of the flood may reach the server. A client known before the flood,
# at 10% of its limit, loses under 1% and floodgate drops none of its packets.
#
test_under_the_limits() {
	local tx0 tx1 LX sent got lsent lgot bad
	cat >"$TMP/fg4.yaml" <<-CONF
	endpoints:
	  - endpoint: udp/9999
	    pps: 100
	    burst: 100
	CONF
	fg attach "$LAB_IF_ATK" --config "$TMP/fg4.yaml" >/dev/null && fg attach "$LAB_IF_CLI" >/dev/null
	check "floodgate attached again with the default tables (source table $(fg -j status | jq .sources_capacity))" \
		test "$(fg -j status | jq .sources_capacity)" -ge 1000000
	# insert puts a rule first: the known client's rule goes in last, to come before the flood's
	ip netns exec "$LAB_NS_SRV" nft -f - <<-RULES
	add counter netdev $NFT flood4
	add counter netdev $NFT legit4x
	insert rule netdev $NFT in udp dport 9999 counter name flood4 drop
	insert rule netdev $NFT in ip saddr 198.18.3.1 udp sport 41002 counter name legit4x accept
	RULES
	tx0=$(txc "$LAB_NS_CLI")
	nft_read "$TMP/u0"
	tg_bg "$TMP/legit4x.json" "$LAB_NS_CLI" --dst "$LAB_SRV4" --dport 9999 --src 198.18.3.1 \
		--sport 41002 --rate 10 --count 1000 --duration 60
	LX=$BG
	sleep 2 # known before the flood
	ip netns exec "$LAB_NS_ATK" "$TG" -j send lab0 --method loop --threads 2 --dmac "$LAB_SRV_MAC" \
		--dst "$LAB_SRV4" --dport 9999 --src 198.19.0.0 --sources 65536 --random --rate 1000000 \
		--count 6000000 --duration 10 >"$TMP/flood4.json" 2>>"$TMP/tg.err"
	sleep 1
	stop_pid $LX
	sleep 0.3
	tx1=$(txc "$LAB_NS_CLI")
	nft_read "$TMP/u1"
	sent=$(jq .peer_received "$TMP/flood4.json")
	got=$(($(nft_get "$TMP/u1" flood4) - $(nft_get "$TMP/u0" flood4)))
	note "flood under the limits: $(jq -c '{frames, pps: (.pps | round), peer_received}' "$TMP/flood4.json"); the server got $got"
	check "the flood was sent at 0.8 Mpps or more ($(jq '.pps | round' "$TMP/flood4.json") packets/s)" \
		jq_true '.pps >= 800000 and .peer_received > 4000000' <"$TMP/flood4.json"
	le "at most 5% of the flood reached the server ($got of $sent)" $((got * 100)) $((sent * 5))
	lsent=$((tx1 - tx0)) lgot=$(($(nft_get "$TMP/u1" legit4x) - $(nft_get "$TMP/u0" legit4x)))
	note "the known client sent $lsent, the server got $lgot"
	check "the known client sent throughout ($lsent)" test "$lsent" -ge 50
	check "the known client at 10% of its limit lost under 1% ($((lsent - lgot)) of $lsent)" \
		test $(((lsent - lgot) * 100)) -lt "$lsent"
	same "floodgate dropped none of the known client's packets" 0 \
		"$(fg -j top -n 1000000 --interval 0 | jq '[.[] | select(.source == "198.18.3.1") | .drops] | add // 0')"
	bad=$(grep -v 'cannot attach to lo' "$TMP/tg.err" 2>/dev/null)
	check "phase 4: the generators reported no errors${bad:+: $(head -1 <<<"$bad")}" test -z "$bad"
}

run_tests "$@"
