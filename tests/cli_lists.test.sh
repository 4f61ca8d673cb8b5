#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# cli_lists.test.sh: `floodgate allow|deny|ban` against real packets.
#
# Same lab as cli_limits.test.sh: a private network namespace holds the
# peer end of a veth pair, floodgate is attached to the host end, a
# bounded UDP sender in the namespace talks to a counting receiver on the
# host. Each test adds or removes a prefix and checks what arrives, the
# verdict counters of `floodgate -j stats`, the trie's stored verdicts
# (allow > deny > ban over covering prefixes) and that fg_state's
# lists4/lists6 equal the number of entries per family. Manual and
# automatic bans, `ban del` lifting a ban cached in a source's bucket,
# expiry, and bad input (one `error:` line, exit 1 or 2, nothing changed).
# Each test function starts from a fresh pair and a freshly attached
# floodgate (tests/cli_lab.sh) and opens the default rule wide first.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
TEST_NAME=cli_lists
# shellcheck source=tests/cli_lab.sh
. tests/cli_lab.sh

# Entries of the trie per family must equal fg_state.lists4/lists6.
counts_ok() {
	local d n4 n6 s4 s6
	d=$(bpftool -j map dump pinned "$PIN/fg_lists")
	n4=$(jq '[.[] | select(.formatted.key.family == 4)] | length' <<<"$d")
	n6=$(jq '[.[] | select(.formatted.key.family == 6)] | length' <<<"$d")
	read -r s4 s6 < <(bpftool -j map dump pinned "$PIN/fg_state" |
		jq -r '.[0].formatted.value | "\(.lists4) \(.lists6)"')
	if [ "$n4" -eq "$s4" ] && [ "$n6" -eq "$s6" ]; then
		ok "lists4/lists6 = $s4/$s6 = trie entries per family ($1)"
	else
		notok "lists4/lists6 = $s4/$s6, trie holds $n4/$n6 ($1)"
	fi
}

# verdict A.B.C.D LEN: kind/verdict stored for an IPv4 prefix, "none" when absent.
verdict() {
	local a b c d
	IFS=. read -r a b c d <<<"$1"
	bpftool -j map dump pinned "$PIN/fg_lists" |
		jq -r "[.[] | .formatted | select(.key.family == 4 and .key.prefixlen == $((32 + $2)) and .key.addr[0:4] == [$a,$b,$c,$d]) | \"\(.value.kind)/\(.value.verdict)\"] | first // \"none\""
}

# all_pass NAME: every packet of the last send arrived; none_pass NAME REASON BEFORE.
all_pass() { check "$1: all $SENT received ($RECV)" test "${RECV:-0}" -eq "$SENT" -a "$SENT" -gt 0; }
none_pass() {
	local after
	after=$(stat "$2")
	check "$1: none received ($RECV), $2 +$((after - $3))" \
		test "${RECV:-1}" -eq 0 -a $((after - $3)) -eq "$SENT" -a "$SENT" -gt 0
}

# ban_json ADDR: the `ban list -j` object for ADDR, "null" when absent.
ban_json() { fg -j ban list | jq -c "[.[] | select(.address == \"$1\")] | first"; }

# open: the default rule wide open, so that only the lists and bans under test drop
open_default() {
	check "limit set default --pps 100000 --burst 100000" fg limit set default --pps 100000 --burst 100000
}

ALL_TESTS="test_deny test_allow_over_deny test_allow_del test_nested_lists
	test_ipv6 test_manual_bans test_nested_bans test_ban_expiry test_auto_ban test_bad_input test_full
	test_detach"

# deny
test_deny() {
	local b
	open_default
	counts_ok "empty"
	check "deny add $P4" fg deny add $P4
	b=$(stat denied)
	send $H4 5001 1000 $P4
	none_pass "denied $P4" denied "$b"
	send $H4 5001 1000 $Q4
	all_pass "$Q4 next to a denied host"
	check "deny list shows $P4" bash -c "'$FG' --pin-dir '$PIN' deny list | grep -qx '$P4'"
	counts_ok "one deny"
}

# allow wins over a deny it covers, and skips every limit
test_allow_over_deny() {
	local a b
	open_default
	check "deny add $P4" fg deny add $P4
	check "allow add 198.18.0.0/16" fg allow add 198.18.0.0/16
	check "stored: 198.18.0.0/16 allow/allow, $P4 deny/allow" \
		test "$(verdict 198.18.0.0 16) $(verdict $P4 32)" = "3/3 2/3"
	check "deny list -j: $P4 not in force under the allowed /16" \
		bash -c "'$FG' --pin-dir '$PIN' -j deny list | jq -e '.[0].address == \"$P4\" and .[0].in_force == false' >/dev/null"
	b=$(stat allowed)
	send $H4 5001 1000 $P4
	all_pass "$P4 denied inside an allowed /16"
	a=$(stat allowed)
	check "stats: allowed +$((a - b))" test $((a - b)) -eq 1000
	check "limit set default --pps 10" fg limit set default --pps 10
	send $H4 5001 1000 $Q4
	all_pass "allowed $Q4 ignores the default 10/s"
	check "allow list -j" bash -c "'$FG' --pin-dir '$PIN' allow list -j | jq -e '.[0].address == \"198.18.0.0/16\" and .[0].in_force' >/dev/null"
	counts_ok "allow over deny"
}

# allow del: the deny it covered is in force again, and so are the limits
test_allow_del() {
	local b
	open_default
	check "deny add $P4" fg deny add $P4
	check "allow add 198.18.0.0/16" fg allow add 198.18.0.0/16
	check "limit set default --pps 10" fg limit set default --pps 10
	check "allow del 198.18.0.0/16" fg allow del 198.18.0.0/16
	check "stored: $P4 deny/deny again" test "$(verdict $P4 32)" = "2/2"
	b=$(stat denied)
	send $H4 5001 1000 $P4
	none_pass "$P4 denied again after allow del" denied "$b"
	b=$(stat rate_pps)
	send $H4 5001 1000 $Q4
	limited "$Q4 limited again after allow del (10/s)" 10 10 rate_pps "$b"
	check "deny del $P4" fg deny del $P4
	b=$(stat rate_pps)
	send $H4 5001 1000 $P4
	limited "$P4 limited after deny del (10/s)" 10 10 rate_pps "$b"
	counts_ok "after deletes"
	check "limit set default --pps 100000 --burst 100000" fg limit set default --pps 100000 --burst 100000
}

# an allowed host inside a denied prefix; a ban inside a deny
test_nested_lists() {
	local b
	open_default
	check "deny add 198.18.0.0/16" fg deny add 198.18.0.0/16
	check "allow add $Q4" fg allow add $Q4
	check "ban add 198.18.1.0/24 inside the deny warns" \
		bash -c "'$FG' --pin-dir '$PIN' ban add 198.18.1.0/24 2>&1 | grep -q '^warning: 198.18.1.0/24: inside a deny prefix'"
	check "stored: /16 deny/deny, $Q4 allow/allow, 198.18.1.0/24 ban/deny" \
		test "$(verdict 198.18.0.0 16) $(verdict $Q4 32) $(verdict 198.18.1.0 24)" = "2/2 3/3 1/2"
	b=$(stat denied)
	send $H4 5001 1000 $P4,$R4
	none_pass "$P4 and $R4 inside the denied /16" denied "$b"
	send $H4 5001 1000 $Q4
	all_pass "allowed $Q4 inside the denied /16"
	counts_ok "nested"
	fails 1 "198.18.0.0/16" allow add 198.18.0.0/16
	check "the conflict error names both lists" grep -q 'already on the deny list.*allow list' "$TMP/err"
	fails 1 "198.18.0.0/16" ban add 198.18.0.0/16
	fails 1 "198.18.0.0/16" allow del 198.18.0.0/16
	check "the error says which list holds it" grep -q 'on the deny list, not the allow list' "$TMP/err"
	check "ban del 198.18.1.0/24" fg ban del 198.18.1.0/24
	check "allow del $Q4" fg allow del $Q4
	check "deny del 198.18.0.0/16" fg deny del 198.18.0.0/16
	counts_ok "all gone"
	check "status: lists 0 and 0" \
		bash -c "'$FG' --pin-dir '$PIN' -j status | jq -e '.lists_ipv4 == 0 and .lists_ipv6 == 0' >/dev/null"
}

# IPv6
test_ipv6() {
	local b
	open_default
	check "deny add 2001:db8::/64" fg deny add 2001:db8::/64
	check "allow add $Q6" fg allow add $Q6
	b=$(stat denied)
	send $H6 5001 1000 $P6
	none_pass "$P6 in the denied /64" denied "$b"
	send $H6 5001 1000 $Q6
	all_pass "allowed $Q6 inside the denied /64"
	send $H4 5001 1000 $P4
	all_pass "IPv4 untouched by an IPv6 deny"
	counts_ok "IPv6"
	check "deny del and allow del (IPv6)" bash -c "'$FG' --pin-dir '$PIN' deny del 2001:db8::/64 && '$FG' --pin-dir '$PIN' allow del $Q6"
	counts_ok "IPv6 gone"
}

# manual bans
test_manual_bans() {
	local b j
	open_default
	check "ban add $P4 (default 1h)" fg ban add $P4
	j=$(ban_json $P4)
	check "ban list -j: $P4 manual, expires_in 3590..3600 ($j)" \
		jq_true '.kind == "manual" and .expires_in <= 3600 and .expires_in >= 3590' <<<"$j"
	b=$(stat banned)
	send $H4 5001 1000 $P4
	none_pass "manually banned $P4" banned "$b"
	check "ban del $P4" fg ban del $P4
	send $H4 5001 1000 $P4
	all_pass "$P4 after ban del"
	check "ban add 198.18.0.0/24 --for 10m" fg ban add 198.18.0.0/24 --for 10m
	check "ban list -j: 198.18.0.0/24 with expires_in 590..600" \
		bash -c "'$FG' --pin-dir '$PIN' -j ban list | jq -e '.[] | select(.address == \"198.18.0.0/24\") | .expires_in <= 600 and .expires_in >= 590' >/dev/null"
	b=$(stat banned)
	send $H4 5001 1000 $P4,$Q4
	none_pass "$P4 and $Q4 inside the banned /24" banned "$b"
	send $H4 5001 1000 $R4
	all_pass "$R4 outside the banned /24"
	check "ban add 198.18.0.0/24 --for 1d again sets the new end" fg ban add 198.18.0.0/24 --for 1d
	check "ban list -j: expires_in now about 1d" \
		bash -c "'$FG' --pin-dir '$PIN' -j ban list | jq -e '.[] | select(.address == \"198.18.0.0/24\") | .expires_in > 86000' >/dev/null"
	check "ban del 198.18.0.0/24" fg ban del 198.18.0.0/24
	counts_ok "manual bans gone"
}

# a nested ban keeps its own end under a longer covering one
test_nested_bans() {
	local b j
	open_default
	check "ban add 198.18.0.0/16 --for 1d" fg ban add 198.18.0.0/16 --for 1d
	check "ban add $P4 --for 1m inside it" fg ban add $P4 --for 1m
	j=$(ban_json $P4)
	check "ban list -j: $P4 ends in its own minute under the 1d /16 ($j)" \
		jq_true '.expires_in <= 60 and .expires_in >= 50' <<<"$j"
	check "ban del 198.18.0.0/16" fg ban del 198.18.0.0/16
	j=$(ban_json $P4)
	check "ban list -j: $P4 still ends within its minute after the /16 went ($j)" \
		jq_true '.expires_in <= 60 and .expires_in >= 50' <<<"$j"
	check "stored: $P4 ban/ban" test "$(verdict $P4 32)" = "1/1"
	b=$(stat banned)
	send $H4 5001 1000 $P4
	none_pass "$P4 banned on its own" banned "$b"
	send $H4 5001 1000 $R4
	all_pass "$R4 free once the /16 went"
	check "ban del $P4" fg ban del $P4
	counts_ok "nested bans gone"
}

# bans expire in the data path, without any daemon
test_ban_expiry() {
	open_default
	check "ban add $Q4 --for 1s" fg ban add $Q4 --for 1s
	sleep 2
	send $H4 5001 1000 $Q4
	all_pass "$Q4 after its 1 s ban ended"
	check "ban list no longer shows the ended ban" test "$(ban_json $Q4)" = "null"
	check "ban add $R4 --for 1h, then ban del: housekeeping drops the ended entry" \
		bash -c "'$FG' --pin-dir '$PIN' ban add $R4 --for 1h && '$FG' --pin-dir '$PIN' ban del $R4"
	check "trie empty after housekeeping" test "$(bpftool -j map dump pinned "$PIN/fg_lists" | jq length)" -eq 0
	counts_ok "after expiry"
}

# automatic bans: listed, enforced on every endpoint, lifted by ban del
test_auto_ban() {
	local b j
	open_default
	check "limit set udp/5005 --pps 10 --burst 10 --action ban --ban-for 1m" \
		fg limit set udp/5005 --pps 10 --burst 10 --action ban --ban-for 1m
	send $H4 5005 1000 $P4
	check "udp/5005: the first 10..$(most 10 10) arrive, then $P4 is banned ($RECV)" \
		test "$RECV" -ge 10 -a "$RECV" -le "$(most 10 10)"
	j=$(ban_json $P4)
	check "ban list -j: $P4 automatic, 1 strike, udp/5005, expires_in 1..60 ($j)" \
		jq_true '.kind == "automatic" and .strikes == 1 and .endpoint == "udp/5005" and .expires_in >= 1 and .expires_in <= 60' <<<"$j"
	check "ban list (text) shows it" bash -c "'$FG' --pin-dir '$PIN' ban list | grep -q '^$P4 .*automatic.*udp/5005'"
	b=$(stat banned)
	send $H4 5001 1000 $P4
	none_pass "automatically banned $P4 on another port" banned "$b"
	check "ban del $P4 (automatic)" fg ban del $P4
	check "ban list -j no longer shows $P4" test "$(ban_json $P4)" = "null"
	send $H4 5001 1000 $P4
	all_pass "$P4 after ban del lifts the cached ban"
	check "-j ban list is an array" bash -c "'$FG' --pin-dir '$PIN' -j ban list | jq -e 'type == \"array\"' >/dev/null"
}

# bad input: one error line naming the value, exit 1 (usage: 2), nothing changed
test_bad_input() {
	open_default
	check "deny add 198.18.0.0/16 (for the conflicts below)" fg deny add 198.18.0.0/16
	fails 1 "10.0.0.300/8" allow add 10.0.0.300/8
	fails 1 "/33" allow add /33
	fails 1 "10.0.0.0/33" deny add 10.0.0.0/33
	fails 1 "::1/129" deny add ::1/129
	fails 1 "10.0.0.1/8" allow add 10.0.0.1/8
	fails 1 "2001:db8::1/32" allow add 2001:db8::1/32
	fails 1 "banana" deny add banana
	fails 1 "allow del: 198.19.0.0/16: not on the allow list" allow del 198.19.0.0/16
	fails 1 "deny del: 198.19.0.0/16: not on the deny list" deny del 198.19.0.0/16
	fails 1 "allow add: 198.18.0.0/16: already on the deny list" allow add 198.18.0.0/16
	fails 1 "allow del: 198.18.0.0/16: on the deny list" allow del 198.18.0.0/16
	fails 1 "0s" ban add $P4 --for 0s
	fails 1 "1w" ban add $P4 --for 1w
	fails 1 "-1h" ban add $P4 --for -1h
	fails 1 "367d" ban add $P4 --for 367d
	fails 1 "198.18.0.300" ban add 198.18.0.300
	fails 1 "198.18.9.9" ban del 198.18.9.9
	fails 1 "198.18.0.0/16" ban del 198.18.0.0/16
	fails 2 "" allow add
	fails 2 "" allow add 10.0.0.0/8 10.1.0.0/16
	fails 2 "" allow frob 10.0.0.0/8
	fails 2 "" deny list extra
	fails 2 "" deny list --bogus
	fails 2 "" allow
	fails 2 "" ban
	fails 2 "" ban list extra
	fails 2 "" ban del $P4 --for 1h
	fails 2 "" ban add $P4 --all
	fails 2 "" ban add $P4 --for
	fails 1 "/sys/fs/bpf/fgt-cli-$S-none" deny --pin-dir "/sys/fs/bpf/fgt-cli-$S-none" add 10.0.0.0/8
	check "deny del 198.18.0.0/16" fg deny del 198.18.0.0/16
	fails 1 "IPv4-mapped" allow add ::ffff:198.18.0.0/120
	# a whole family: taken, with a warning that says what it means
	check "ban add ::/0 warns that every IPv6 source is dropped" \
		bash -c "'$FG' --pin-dir '$PIN' ban add ::/0 --for 1m 2>&1 | grep -q '^warning: ::/0: every IPv6 source outside the allow list is now dropped'"
	check "allow add 0.0.0.0/0 warns that nothing is limited" \
		bash -c "'$FG' --pin-dir '$PIN' allow add 0.0.0.0/0 2>&1 | grep -q '^warning: 0.0.0.0/0: every IPv4 source now passes unlimited'"
	check "ban del ::/0" fg ban del ::/0
	check "allow del 0.0.0.0/0" fg allow del 0.0.0.0/0
	counts_ok "end"
}

# a full list table: the prefix that does not fit is refused by name, the rest stay
test_full() {
	local i
	printf 'tables: {lists: 16}\n' >"$TMP/small.yaml"
	check "attach again with a 16-prefix list table" bash -c \
		"'$FG' --pin-dir '$PIN' detach --all && '$FG' --pin-dir '$PIN' attach '$A' --config '$TMP/small.yaml' >/dev/null"
	for i in $(seq 0 15); do
		fg deny add "198.19.$i.0/24" || notok "deny add 198.19.$i.0/24"
	done
	fails 1 "deny add: 198.19.16.0/24: the list table is full (16 prefixes" deny add 198.19.16.0/24
	same "the 16 prefixes stay" 16 "$(fg -j deny list | jq length)"
	counts_ok "full"
}

# detach leaves nothing behind
test_detach() {
	check "detach --all removes the pins" bash -c "'$FG' --pin-dir '$PIN' detach --all && ! test -e '$PIN'"
}

run_tests "$@"
