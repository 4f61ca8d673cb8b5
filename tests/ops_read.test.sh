#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# ops_read.test.sh: the reading commands `stats`, `top` and `events`
# against real packets, and who may run them.
#
# floodgate is attached to the host end of a veth pair whose peer sits in
# a private network namespace. udp/9000 gets pps 1, burst 100, action
# ban: a source sending 1000 packets there has exactly 100 passed, 1
# dropped over the rate (which bans it) and 899 dropped as banned (the
# rate refills one packet a second, and 100 packets take milliseconds).
# Every test function starts from that state, made afresh by setup_test,
# and compares the commands' output with those numbers. `events --follow`
# is killed with -9 and the program must keep enforcing; a member of the
# floodgate group may read stats but not change limits.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
TEST_NAME=ops_read
. tests/tap.sh # ok, notok, check, same, note, stop_pid, skip_all, run_tests, pair_add, lab_remove, udp_send

FG=${FG_BUILD:-$PWD/build}/floodgate
S=$$
NS=fgt-$S-ns A=fgt-$S-a B=fgt-$S-b
PIN=/sys/fs/bpf/fgt-ops-$S
H4=198.18.0.1
TMP=$(mktemp -d /tmp/fgt-ops-read.XXXXXX)
U=fgtops$S
MADE_GROUP=
FPID= SPID=

cleanup() {
	[ -n "$MADE_GROUP" ] && groupdel floodgate 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# quiet COMMAND...: run it without output.
quiet() { "$@" >/dev/null 2>&1; }
# jqe NAME FILE EXPR: ok when EXPR is true of the JSON in FILE.
jqe() {
	if jq -e "$3" "$2" >/dev/null; then ok "$1"; else notok "$1"; fi
}

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
for t in ip python3 jq; do
	command -v $t >/dev/null || skip_all "needs $t"
done
[ -x "$FG" ] || skip_all "no $FG (make first)"
# send SRC PORT COUNT [PACE]: udp_send from SRC in the peer namespace to the host
send() { udp_send "$NS" "$1" $H4 "$2" "$3" "${4:-}"; }

# The group must exist before attach, which gives the pins to it.
if ! getent group floodgate >/dev/null; then
	groupadd -r floodgate || skip_all "cannot create the floodgate group"
	MADE_GROUP=1
fi

fg() { "$FG" --pin-dir "$PIN" "$@"; }

# Every test: a fresh pair (the peer has 198.18.0.2-6), floodgate attached with udp/9000 at
# pps 1, burst 100, action ban, and 198.18.0.2 banned there after sending it 1000 packets.
setup_test() {
	local a
	pair_add "$NS" "$A" "$B" "$H4/16" "$(for a in 2 3 4 5 6; do printf '198.18.0.%s/16 ' $a; done)" ||
		skip_all "cannot create a veth pair into a network namespace"
	if ! fg attach "$A" >"$TMP/out" 2>&1 ||
		! fg limit set udp/9000 --pps 1 --burst 100 --action ban --ban-for 1m >>"$TMP/out" 2>&1; then
		sed 's/^/# /' "$TMP/out"
		return 1
	fi
	send 198.18.0.2 9000 1000
}
teardown_test() {
	[ -n "$FPID" ] && kill -9 "$FPID" 2>/dev/null
	stop_pid "$SPID"
	lab_remove "$FG" "$PIN" "$A" "$NS"
	id "$U" >/dev/null 2>&1 && userdel "$U" 2>/dev/null
	id "fgtopx$S" >/dev/null 2>&1 && userdel "fgtopx$S" 2>/dev/null
	rm -f "$TMP"/*.json "$TMP"/*.txt "$TMP"/*.err "$TMP"/*.out "$TMP/out"
}

ALL_TESTS="test_stats test_stats_watch test_top test_top_rates test_top_order_and_usage
	test_events test_events_follow test_watchers_follow test_group_member"

test_stats() {
	fg -j stats >"$TMP/stats.json"
	same "stats -j: packets.dropped totals every drop reason" 900 "$(jq .packets.dropped "$TMP/stats.json")"
	same "stats -j: packets.banned" 899 "$(jq .packets.banned "$TMP/stats.json")"
	same "stats -j: packets.rate_pps" 1 "$(jq .packets.rate_pps "$TMP/stats.json")"
	# frames are 14 + 20 + 8 + 64 bytes
	same "stats -j: bytes.dropped" $((900 * 106)) "$(jq .bytes.dropped "$TMP/stats.json")"
	same "stats -j: udp/9000 passed" 100 \
		"$(jq '.endpoints[] | select(.endpoint == "udp/9000") | .passed' "$TMP/stats.json")"
	same "stats -j: udp/9000 dropped" 900 \
		"$(jq '.endpoints[] | select(.endpoint == "udp/9000") | .dropped' "$TMP/stats.json")"
	same "stats -j: udp/9000 would_drop" 0 \
		"$(jq '.endpoints[] | select(.endpoint == "udp/9000") | .would_drop' "$TMP/stats.json")"
	same "stats -j: one ban in force" 1 "$(jq .bans "$TMP/stats.json")"
	jqe "stats -j: sources tracked counted" "$TMP/stats.json" '.sources_tracked >= 1'
	jqe "stats -j: not under attack" "$TMP/stats.json" '.under_attack == false'
	fg stats >"$TMP/stats.txt"
	check "stats: text names the endpoint with its counts" \
		grep -Eq '^udp/9000 +ban +100 +900 +0 ' "$TMP/stats.txt"
	check "stats: text lists the drop reasons" grep -Eq '^  banned +899 ' "$TMP/stats.txt"
}

# --watch: rates per interval, bounded by timeout (SIGTERM ends it cleanly)
test_stats_watch() {
	local rc
	timeout --preserve-status 3.5 "$FG" --pin-dir "$PIN" -j stats --watch 1 >"$TMP/watch.json"
	rc=$?
	same "stats --watch exits 0 when stopped" 0 $rc
	check "stats --watch: one JSON object per interval" \
		test "$(jq -s 'map(select(.interval > 0)) | length' "$TMP/watch.json")" -ge 2
	fg stats --watch 0 >/dev/null 2>&1
	same "stats --watch 0: value error" 1 $?
}

test_top() {
	fg -j top --interval 0 >"$TMP/top0.json"
	same "top --interval 0: the busiest source first" 198.18.0.2 "$(jq -r '.[0].source' "$TMP/top0.json")"
	same "top: its endpoint" udp/9000 "$(jq -r '.[0].endpoint' "$TMP/top0.json")"
	same "top: its packets" 1000 "$(jq '.[0].packets' "$TMP/top0.json")"
	same "top: its drops" 900 "$(jq '.[0].drops' "$TMP/top0.json")"
	same "top: it is banned" true "$(jq '.[0].banned' "$TMP/top0.json")"
	jqe "top: ban expiry within the ban length" "$TMP/top0.json" '.[0].ban_expires_in > 0 and .[0].ban_expires_in <= 60'
}

test_top_rates() {
	# current rates: a paced sender on the default rule while top reads twice
	send 198.18.0.3 9001 3000 0.001 &
	SPID=$!
	sleep 0.3
	fg -j top -n 2 --by pps >"$TMP/top1.json"
	wait $SPID
	SPID=
	same "top --by pps: the source sending now comes first" 198.18.0.3 "$(jq -r '.[0].source' "$TMP/top1.json")"
	jqe "top --by pps: its rate is measured" "$TMP/top1.json" '.[0].pps > 0 and .[0].bps > 0'
	check "top -n 2: two rows" test "$(jq length "$TMP/top1.json")" -eq 2
}

test_top_order_and_usage() {
	fg -j top --by drops --interval 0 >"$TMP/top2.json"
	same "top --by drops: the dropped source first" 198.18.0.2 "$(jq -r '.[0].source' "$TMP/top2.json")"
	fg top --interval 0 >"$TMP/top.txt"
	check "top: text table" grep -Eq '^198\.18\.0\.2 +udp/9000 .* 1000 +900 +[0-9]+[smh]$' "$TMP/top.txt"
	fg top --by bogus >/dev/null 2>&1
	same "top --by bogus: value error" 1 $?
	fg top -n 0 >/dev/null 2>&1
	same "top -n 0: value error" 1 $?
}

test_events() {
	fg events >"$TMP/ev.txt"
	check "events: the ban, with endpoint, strikes and length" \
		grep -Eq '^20[0-9-]+T[0-9:.]+Z ban 198\.18\.0\.2 endpoint udp/9000 strikes 1 for 1m cpu [0-9]+$' "$TMP/ev.txt"
	fg -j events >"$TMP/ev.json"
	check "events -j: JSON lines" test "$(jq -s 'map(select(.type == "ban" and .address == "198.18.0.2" and .duration == 60)) | length' "$TMP/ev.json")" -eq 1
	fg events extra >/dev/null 2>&1
	same "events with an extra argument: usage error" 2 $?
}

test_events_follow() {
	local before after
	# --follow sees a new ban as it happens, and kill -9 of it changes nothing
	"$FG" --pin-dir "$PIN" -j events --follow >"$TMP/follow.json" 2>"$TMP/follow.err" &
	FPID=$!
	sleep 0.3
	send 198.18.0.4 9000 300
	for _ in $(seq 50); do
		grep -q '"198.18.0.4"' "$TMP/follow.json" && break
		sleep 0.1
	done
	check "events --follow: prints the new ban" grep -q '"address":"198.18.0.4"' "$TMP/follow.json"
	check "events --follow: printed the queued ban first" grep -q '"address":"198.18.0.2"' "$TMP/follow.json"
	disown $FPID # no "Killed" notice from the shell
	kill -9 $FPID
	for _ in $(seq 50); do
		kill -0 $FPID 2>/dev/null || break
		sleep 0.1
	done
	FPID=
	before=$(fg -j stats | jq '.endpoints[] | select(.endpoint == "udp/9000") | .dropped')
	send 198.18.0.5 9000 300
	after=$(fg -j stats | jq '.endpoints[] | select(.endpoint == "udp/9000") | .dropped')
	same "after kill -9 of events --follow: still enforcing (200 of 300 dropped)" 200 $((after - before))
	fg events >"$TMP/ev2.txt"
	check "the queued events are still there for the next reader" grep -q 'ban 198\.18\.0\.5 ' "$TMP/ev2.txt"
}

# stats --watch and events --follow across detach --all and a new attach: they say the pins
# went, then read the new maps (their counts, their ring), not the old ones
test_watchers_follow() {
	local n
	"$FG" --pin-dir "$PIN" -j stats --watch 1 >"$TMP/watch.json" 2>"$TMP/watch.err" &
	SPID=$!
	"$FG" --pin-dir "$PIN" -j events --follow >"$TMP/follow.json" 2>"$TMP/follow.err" &
	FPID=$!
	# both on the maps first: a line of stats, and the ban setup_test made
	check "stats --watch and events --follow under way" poll 5 bash -c \
		"[ -s '$TMP/watch.json' ] && grep -q '\"198.18.0.2\"' '$TMP/follow.json'"
	fg detach --all >/dev/null
	check "stats --watch says the pins are gone" poll 5 grep -q '^warning: stats: the pins in .* are gone' "$TMP/watch.err"
	check "events --follow says so too" poll 5 grep -q '^warning: events: the pins in .* are gone' "$TMP/follow.err"
	if ! fg attach "$A" >"$TMP/out" 2>&1 ||
		! fg limit set udp/9000 --pps 1 --burst 100 --action ban --ban-for 1m >>"$TMP/out" 2>&1; then
		notok "attach anew: $(head -1 "$TMP/out")"
		return
	fi
	check "stats --watch follows the new maps" poll 5 grep -q '^warning: stats: new maps pinned' "$TMP/watch.err"
	check "events --follow too" poll 5 grep -q '^warning: events: new maps pinned' "$TMP/follow.err"
	n=$(wc -l <"$TMP/watch.json")
	send 198.18.0.3 9000 300
	# rates per second over intervals of a little more than one: their drops add up to 200
	check "stats --watch: the new maps' drops (200 after the attach)" poll 5 bash -c \
		"tail -n +$((n + 1)) '$TMP/watch.json' | jq -s -e 'map(.packets.dropped * .interval) | add | . > 198 and . < 202' >/dev/null"
	check "events --follow: the ban made in the new maps" poll 5 grep -q '"address":"198.18.0.3"' "$TMP/follow.json"
	stop_pid "$SPID"
	SPID=
	kill "$FPID" 2>/dev/null
	wait "$FPID" 2>/dev/null
	FPID=
}

# a member of the floodgate group reads, and cannot write
test_group_member() {
	local rc other
	if useradd -M -N -g floodgate -s /bin/sh "$U" 2>"$TMP/useradd.err"; then
		as_user() { runuser -u "$U" -- "$FG" --pin-dir "$PIN" "$@"; }
		if as_user -j stats >"$TMP/ustats.json" 2>"$TMP/ustats.err"; then
			same "group member: stats shows the same drops as root's" \
				"$(fg -j stats | jq '.endpoints[] | select(.endpoint == "udp/9000") | .dropped')" \
				"$(jq '.endpoints[] | select(.endpoint == "udp/9000") | .dropped' "$TMP/ustats.json")"
		else
			notok "group member: stats ($(head -1 "$TMP/ustats.err"))"
		fi
		check "group member: top" quiet as_user -j top --interval 0 -n 1
		as_user limit set udp/9000 --pps 1 >"$TMP/ulimit.out" 2>&1
		rc=$?
		check "group member: limit set fails" test $rc -ne 0
		check "group member: limit set says why" grep -q '^error: ' "$TMP/ulimit.out"
		same "group member: the limit is unchanged" 1 \
			"$(fg -j limit list | jq '.[] | select(.endpoint == "udp/9000") | .pps')"
		runuser -u "$U" -- bpftool map update pinned "$PIN/fg_state" key hex 00 00 00 00 \
			value hex $(printf "00 %.0s" $(seq 56)) >/dev/null 2>"$TMP/ubpftool.err"
		rc=$?
		check "group member: a raw map write (bpftool) is refused" \
			test $rc -ne 0 -a -n "$(grep -Ei 'permission denied|not permitted' "$TMP/ubpftool.err")"
		other=fgtopx$S
		if useradd -M -N -s /bin/sh "$other" 2>/dev/null; then
			runuser -u "$other" -- "$FG" --pin-dir "$PIN" stats >/dev/null 2>&1
			check "a user outside the group cannot read stats" test $? -ne 0
			userdel "$other" 2>/dev/null
		fi
	else
		ok "group member # SKIP cannot create a user: $(head -1 "$TMP/useradd.err")"
	fi
}

run_tests "$@"
