#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# cli_limits.test.sh: `floodgate limit set|del|list` against real packets.
#
# A private network namespace holds the peer end of a veth pair; floodgate
# is attached to the host end. A bounded UDP sender in the namespace (1000
# packets, 5 s at most) talks to a UDP receiver on the host that counts
# what arrives; each test changes a limit and checks the receiver's count
# and `floodgate -j stats`. The count that passes a limit is its burst plus
# what the rate refills while the sender runs, so the upper bound is taken
# from the sender's own measured duration, never from a fixed time. Bad
# input must give one `error:` line naming the value, exit 1 (usage: 2),
# and leave every map as it was. Each test function starts from a fresh
# pair and a freshly attached floodgate (tests/cli_lab.sh).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
TEST_NAME=cli_limits
# shellcheck source=tests/cli_lab.sh
. tests/cli_lab.sh

ALL_TESTS="test_reading test_default_limit test_per_source test_ipv6_prefix test_burst_default
	test_endpoint_rule test_port_range_bytes test_total_pps test_monitor test_ban_settings test_del
	test_pinned test_bad_values test_usage_errors test_detach"

test_reading() {
	check "limit list shows the default rule" bash -c "'$FG' --pin-dir '$PIN' limit list | grep -q '^default '"
	check "limit list -j: default rule with pps and action" \
		bash -c "'$FG' --pin-dir '$PIN' limit list -j | jq -e '.[0].endpoint == \"default\" and (.[0].pps | type == \"number\") and .[0].action == \"drop\"' >/dev/null"
	check "global options after the command: limit -j list" \
		bash -c "'$FG' limit -j list --pin-dir '$PIN' | jq -e 'length >= 1' >/dev/null"
	for c in limit allow deny ban; do
		check "$c --help exits 0" bash -c "'$FG' $c --help | grep -q '^usage: floodgate $c'"
	done
}

# the issue's example: 1000 packets from one source against 100/s, burst 100
test_default_limit() {
	local b d0 d1
	check "limit set default --pps 100 --burst 100" fg limit set default --pps 100 --burst 100
	check "limit list -j shows 100/100" \
		bash -c "'$FG' --pin-dir '$PIN' -j limit list | jq -e '.[0].pps == 100 and .[0].burst == 100' >/dev/null"
	b=$(stat rate_pps)
	d0=$(ep default dropped)
	send $H4 5001 1000 $P4
	limited "default 100/s burst 100, one source" 100 100 rate_pps "$b"
	d1=$(ep default dropped)
	check "stats: endpoint default dropped what the receiver lost ($((d1 - d0)))" \
		test $((d1 - d0)) -eq $((SENT - RECV))
	check "stats -j: passed and dropped totals present" \
		bash -c "'$FG' --pin-dir '$PIN' -j stats | jq -e '(.packets.passed|type==\"number\") and (.packets.dropped|type==\"number\") and (.bytes.dropped|type==\"number\")' >/dev/null"
}

# per-source buckets, and --prefix4 aggregating them
test_per_source() {
	local b
	check "limit set default --pps 100 --burst 100" fg limit set default --pps 100 --burst 100
	b=$(stat rate_pps)
	send $H4 5001 1000 $Q4,$R4 # two sources with fresh buckets
	limited "two /32 sources get a burst each" 200 200 rate_pps "$b" 2
	check "limit set default --prefix4 16" fg limit set default --prefix4 16
	b=$(stat rate_pps)
	send $H4 5001 1000 $P4,$Q4
	limited "--prefix4 16: two sources share one burst" 100 100 rate_pps "$b"
	check "limit set default --prefix4 32" fg limit set default --prefix4 32
}

# IPv6: sources of one /64 share a bucket by default
test_ipv6_prefix() {
	local b
	check "limit set default --pps 100 --burst 100" fg limit set default --pps 100 --burst 100
	b=$(stat rate_pps)
	send $H6 5001 1000 $P6,$Q6
	limited "IPv6 /64 default: two sources share one burst" 100 100 rate_pps "$b"
	check "limit set default --prefix6 128" fg limit set default --prefix6 128
	b=$(stat rate_pps)
	send $H6 5001 1000 $P6,$Q6
	limited "--prefix6 128: two IPv6 sources get a burst each" 200 200 rate_pps "$b" 2
}

# a rate given without a burst: the burst is the rate
test_burst_default() {
	local b
	check "limit set default --pps 100 --burst 100" fg limit set default --pps 100 --burst 100
	check "limit set default --pps 50" fg limit set default --pps 50
	check "--pps without --burst sets burst 50" \
		bash -c "'$FG' --pin-dir '$PIN' -j limit list | jq -e '.[0].pps == 50 and .[0].burst == 50' >/dev/null"
	b=$(stat rate_pps)
	send $H4 5001 1000 $R4
	limited "lowered rate applies at once (50/s, burst 50)" 50 50 rate_pps "$b"
}

# an endpoint rule takes its port away from the default rule
test_endpoint_rule() {
	local b e0 e1 p1
	check "limit set udp/5002 --pps 20 --burst 20" fg limit set udp/5002 --pps 20 --burst 20
	b=$(stat rate_pps)
	e0=$(ep udp/5002 dropped)
	send $H4 5002 1000 $P4
	limited "udp/5002 at 20/s burst 20" 20 20 rate_pps "$b"
	e1=$(ep udp/5002 dropped)
	p1=$(ep udp/5002 passed)
	check "stats: udp/5002 dropped $((e1 - e0)) and passed $p1 match the receiver" \
		test $((e1 - e0)) -eq $((SENT - RECV)) -a "$p1" -eq "$RECV"
	check "limit set udp/5002 changes only what is given" fg limit set udp/5002 --prefix4 24
	check "limit list -j: udp/5002 still 20/20, now /24" \
		bash -c "'$FG' --pin-dir '$PIN' -j limit list | jq -e '.[] | select(.endpoint == \"udp/5002\") | .pps == 20 and .burst == 20 and .prefix4 == 24 and .prefix6 == 64 and .action == \"drop\"' >/dev/null"
}

# a port range, and the byte limit
test_port_range_bytes() {
	local b
	check "limit set udp/5010-5020 --bps 80k --bps-burst 10k" fg limit set udp/5010-5020 --bps 80k --bps-burst 10k
	b=$(stat rate_bps)
	send $H4 5015 1000 $P4
	# 64-byte payloads are 106-byte frames: burst 10240 B = 96 frames, 80 kbit/s = 10000 B/s
	limited "udp/5015 inside udp/5010-5020 at 80 kbit/s, 10 KiB burst" $((10000 / 106 + 1)) 96 rate_bps "$b"
}

# all sources together: --total-pps
test_total_pps() {
	local b
	check "limit set udp/5003 --total-pps 100 --total-burst 100" fg limit set udp/5003 --total-pps 100 --total-burst 100
	b=$(stat endpoint_total)
	send $H4 5003 1000 $P4,$Q4,$R4
	limited "udp/5003: three sources share the endpoint's 100/s" 100 100 endpoint_total "$b"
}

# monitor counts would-drops and passes everything; drop then enforces; off removes the limit
test_monitor() {
	local b w0 w1 m0 m1
	check "limit set udp/5004 --pps 10 --action monitor" fg limit set udp/5004 --pps 10 --action monitor
	w0=$(ep udp/5004 would_drop)
	m0=$(stat monitor)
	send $H4 5004 1000 $P4
	w1=$(ep udp/5004 would_drop)
	m1=$(stat monitor)
	check "monitor: all $SENT received ($RECV)" test "$RECV" -eq "$SENT"
	check "monitor: would_drop +$((w1 - w0)) equals the monitor counter +$((m1 - m0)), at least 1000-$(most 10 10)" \
		test $((w1 - w0)) -eq $((m1 - m0)) -a $((w1 - w0)) -ge $((1000 - $(most 10 10)))
	check "limit set udp/5004 --action drop" fg limit set udp/5004 --action drop
	b=$(stat rate_pps)
	send $H4 5004 1000 $Q4
	limited "udp/5004 after --action drop enforces 10/s" 10 10 rate_pps "$b"

	check "limit set udp/5004 --pps off" fg limit set udp/5004 --pps off
	send $H4 5004 1000 $P4
	check "udp/5004 without a limit: all $SENT received ($RECV)" test "$RECV" -eq "$SENT"
}

# ban action settings
test_ban_settings() {
	check "limit set udp/5005 --pps 10 --action ban --ban-for 2m" fg limit set udp/5005 --pps 10 --action ban --ban-for 2m
	check "--ban-for sets multiplier 2 and longest ban 1d" \
		bash -c "'$FG' --pin-dir '$PIN' -j limit list | jq -e '.[] | select(.endpoint == \"udp/5005\") | .action == \"ban\" and .ban_for == 120 and .ban_mult == 2 and .ban_max == 86400' >/dev/null"
	check "limit set udp/5005 --ban-mult 4 --ban-max 2h" fg limit set udp/5005 --ban-mult 4 --ban-max 2h
	check "limit list -j: udp/5005 ban 2m x4 max 2h" \
		bash -c "'$FG' --pin-dir '$PIN' -j limit list | jq -e '.[] | select(.endpoint == \"udp/5005\") | .ban_for == 120 and .ban_mult == 4 and .ban_max == 7200' >/dev/null"
}

# del: the port falls back to the default rule, and a new rule starts from zero counters
test_del() {
	local b
	check "limit set udp/5002 --pps 20 --burst 20" fg limit set udp/5002 --pps 20 --burst 20
	send $H4 5002 100 $P4 # counters for the rule about to go
	check "limit del udp/5002" fg limit del udp/5002
	check "limit list no longer shows udp/5002" \
		bash -c "! '$FG' --pin-dir '$PIN' -j limit list | jq -e '.[] | select(.endpoint == \"udp/5002\")' >/dev/null"
	check "limit set default --pps 30" fg limit set default --pps 30
	b=$(stat rate_pps)
	send $H4 5002 1000 $P4
	limited "udp/5002 after del follows the default rule (30/s)" 30 30 rate_pps "$b"
	check "limit set udp/5002 again starts from zero counters" \
		bash -c "'$FG' --pin-dir '$PIN' limit set udp/5002 --pps 5 && '$FG' --pin-dir '$PIN' -j stats | jq -e '[.endpoints[] | select(.endpoint == \"udp/5002\")] | .[0].passed == 0 and .[0].dropped == 0' >/dev/null"
}

# the rules survive the CLI: a fresh process sees them
test_pinned() {
	check "limit set udp/5003 --total-pps 100 --total-burst 100" fg limit set udp/5003 --total-pps 100 --total-burst 100
	check "rules are in the pinned maps: limit list in a new process" \
		bash -c "'$FG' --pin-dir '$PIN' -j limit list | jq -e '[.[].endpoint] | index(\"udp/5003\") != null' >/dev/null"
}

# the rules the bad input below runs into: a ban rule (longest ban 2h), a range, a plain rule
bad_input_rules() {
	fg limit set udp/5005 --pps 10 --action ban --ban-for 2m --ban-mult 4 --ban-max 2h &&
		fg limit set udp/5010-5020 --bps 80k --bps-burst 10k &&
		fg limit set udp/5003 --total-pps 100 --total-burst 100
}

# bad input: one error line naming the value, exit 1, nothing changed
test_bad_values() {
	check "rules for the bad input (udp/5005 ban, udp/5010-5020, udp/5003)" bad_input_rules
	fails 1 "0" limit set default --pps 0
	fails 1 "-5" limit set default --pps -5
	fails 1 "99999999999999999999999" limit set default --pps 99999999999999999999999
	fails 1 "18446744073709551616" limit set default --syn-pps 18446744073709551616
	fails 1 "0" limit set default --burst 0
	fails 1 "0" limit set default --bps 0
	fails 1 "-1m" limit set default --bps -1m
	fails 1 "99999999999999999999k" limit set default --bps 99999999999999999999k
	fails 1 "10x" limit set default --bps 10x
	fails 1 "0" limit set default --bps-burst 0
	fails 1 "must be 1..4096m bytes" limit set default --bps 1m --bps-burst 4097m
	fails 1 "udp/LO-HI" limit set xyz/1 --pps 5
	fails 1 "33" limit set default --prefix4 33
	fails 1 "129" limit set default --prefix6 129
	fails 1 "explode" limit set default --action explode
	fails 1 "0s" limit set default --ban-for 0s
	fails 1 "1w" limit set default --ban-for 1w
	fails 1 "0" limit set default --ban-mult 0
	fails 1 "tcp/0" limit set tcp/0 --pps 5
	fails 1 "udp/70000" limit set udp/70000 --pps 5
	fails 1 "tcp/90-80" limit set tcp/90-80 --pps 5
	fails 1 "icmp/8" limit set icmp/8 --pps 5
	fails 1 "tcp/81" limit set tcp/81 --action ban
	fails 1 "--burst" limit set tcp/82 --burst 5
	fails 1 "udp/5018-5030" limit set udp/5018-5030 --pps 5
	fails 1 "2d" limit set udp/5005 --ban-for 2d
	fails 1 "default" limit del default
	fails 1 "tcp/9" limit del tcp/9
	fails 1 "udp/5010" limit del udp/5010
	fails 1 "/sys/fs/bpf/fgt-cli-$S-none" limit --pin-dir "/sys/fs/bpf/fgt-cli-$S-none" set default --pps 5
}

# usage errors: exit 2, nothing changed
test_usage_errors() {
	check "rules for the bad input (udp/5005 ban, udp/5010-5020, udp/5003)" bad_input_rules
	fails 2 "" limit set tcp/83 --bogus 1
	fails 2 "" limit set
	fails 2 "" limit set tcp/1 tcp/2
	fails 2 "" limit frob
	fails 2 "" limit del
	fails 2 "" limit list extra
	fails 2 "" limit del udp/5003 --pps 5
	fails 2 "" limit set default --pps
	fails 2 "" limit
}

# detach leaves nothing behind
test_detach() {
	check "detach --all removes the pins" bash -c "'$FG' --pin-dir '$PIN' detach --all && ! test -e '$PIN'"
}

run_tests "$@"
