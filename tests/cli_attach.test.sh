#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# cli_attach.test.sh: attach, upgrade in place, detach, status, and their
# refusals, on a veth pair into a private network namespace.
#
# The upgrade test attaches twice while a sender in the namespace streams
# numbered UDP datagrams: every frame that reached the interface must be
# counted by one program or the other (the swap loses none), and counters,
# rules and bans from before the upgrades are still there after them.
# Each test function starts from a fresh pair (tests/tap.sh, run_tests);
# all but the first attach floodgate first.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
TEST_NAME=cli_attach
. tests/tap.sh # ok, notok, check, same, run_tests, pair_add, lab_remove
FG_BIN=${FG_BUILD:-$PWD/build}/floodgate
ID=$$
NS=fgt-at-$ID
H=fgat$ID
P=fgap$ID
PIN=/sys/fs/bpf/fgt-at-$ID
OLDPIN=/sys/fs/bpf/fgt-at-old-$ID
TMP=$(mktemp -d /tmp/fgt-cli-attach.XXXXXX)
SPID= WPID=
trap 'rm -rf "$TMP"' EXIT
FG() { "$FG_BIN" --pin-dir "$PIN" "$@"; }

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
for t in ip bpftool python3 jq; do
	command -v $t >/dev/null || skip_all "needs $t"
done
[ -x "$FG_BIN" ] || skip_all "no $FG_BIN (make first)"

setup_test() {
	pair_add "$NS" "$H" "$P" 198.18.60.1/24 198.18.60.2/24 || return 1
	# a static neighbour: no ARP needed, every frame is a datagram
	ip -n "$NS" neigh replace 198.18.60.1 lladdr "$(cat /sys/class/net/$H/address)" dev "$P"
}
teardown_test() {
	stop_pid "$SPID"
	stop_pid "$WPID"
	lab_remove "$FG_BIN" "$PIN" "$H" "$NS"
	rm -rf "$OLDPIN"
}

stat_sum() { # total packets counted by every verdict
	FG -j stats | jq '.verdicts.pass_packets + .verdicts.drop_packets'
}
prog_id() { FG -j status | jq '.program_id'; }
# attached: floodgate on $H, with a rule and a ban to survive what the test does
attached() {
	if FG attach "$H" >"$TMP/attach" 2>&1; then
		ok "attach $H"
	else
		notok "attach $H: $(head -1 "$TMP/attach")"
	fi
	FG limit set udp/7000 --pps 1000000 --burst 1000000 >/dev/null
	FG ban add 198.18.61.9 --for 1h >/dev/null
}

ALL_TESTS="test_attach_refusals test_upgrade_under_traffic test_kill_reader test_layout_mismatch
	test_old_layout_size test_detach test_iface_recreated test_pin_dirs"

# attach, status, refusals
test_attach_refusals() {
	local out mode other LAYOUT
	out=$(FG attach "$H" 2>&1)
	check "attach $H" grep -qE "attached to $H in (native|generic) mode" <<<"$out"
	same "status lists $H" "\"$H\"" "$(FG -j status | jq '.interfaces[0].interface')"
	LAYOUT=$(awk '/^#define FG_LAYOUT_VERSION/ { print $3 }' headers/floodgate.h)
	same "status: layout $LAYOUT" "$LAYOUT" "$(FG -j status | jq '.layout')"
	FG attach fgt-no-such-if$ID >/dev/null 2>"$TMP/err"
	same "attach to a missing interface exits 1" 1 $?
	check "... with an error naming it" grep -q "error: interface fgt-no-such-if$ID" "$TMP/err"
	FG attach "$H" --mode bogus >/dev/null 2>&1
	same "attach --mode bogus is a value error" 1 $?
	mode=$(FG -j status | jq -r '.interfaces[0].mode')
	other=native
	[ "$mode" = native ] && other=generic
	FG attach "$H" --mode "$other" >/dev/null 2>&1
	same "attach --mode $other on a $mode attachment is refused" 1 $?
	"$FG_BIN" --pin-dir /tmp/fgt-not-bpffs-$ID/x attach "$H" >/dev/null 2>&1
	same "a pin directory outside bpffs is refused" 1 $?
	if command -v setpriv >/dev/null; then
		setpriv --reuid=65534 --regid=65534 --clear-groups "$FG_BIN" --pin-dir "$PIN" limit set \
			default --pps 5 >/dev/null 2>&1
		same "limit set as nobody fails" 1 $?
	fi
}

# upgrade twice while traffic flows: nothing lost, state kept
test_upgrade_under_traffic() {
	local before_id after_id base COUNT r1 r2 sent counted
	attached
	before_id=$(prog_id)
	base=$(stat_sum)
	COUNT=20000
	ip netns exec "$NS" python3 - "$COUNT" >"$TMP/sent" <<-'EOF' &
	import socket, sys, time
	n = int(sys.argv[1])
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	deadline = time.time() + 20
	sent = 0
	for i in range(n):
	    if time.time() > deadline:
	        break
	    s.sendto(i.to_bytes(4, "big"), ("198.18.60.1", 7000))
	    sent += 1
	    if i % 500 == 0:
	        time.sleep(0.02)
	print(sent)
	EOF
	SPID=$!
	sleep 0.3
	FG attach "$H" >/dev/null 2>&1
	r1=$?
	sleep 0.3
	FG attach "$H" >/dev/null 2>&1
	r2=$?
	wait "$SPID"
	SPID=
	sent=$(cat "$TMP/sent")
	same "attach again while traffic flows (twice)" "0 0" "$r1 $r2"
	after_id=$(prog_id)
	check "the upgrade replaced the program (id $before_id -> $after_id)" test "$after_id" != "$before_id"
	counted=$(($(stat_sum) - base))
	# the kernel may add a few frames of its own (IPv6 router solicitations...)
	check "no frame lost by the swaps: $sent sent, $counted counted" \
		test "$counted" -ge "$sent" -a "$counted" -le $((sent + 20))
	same "udp/7000 passed them all" "$sent" \
		"$(FG -j stats | jq '[.endpoints[] | select(.endpoint=="udp/7000") | .passed] | add')"
	same "the rule survived" 1000000 "$(FG -j limit list | jq '.[] | select(.endpoint=="udp/7000") | .pps')"
	same "the ban survived" 1 "$(FG -j ban list | jq '[.[] | select(.address=="198.18.61.9")] | length')"
}

# kill -9 of a long-running reader changes nothing
test_kill_reader() {
	local base
	attached
	# the binary itself in the background: $! of a shell function is a subshell, and killing it
	# would leave floodgate running
	"$FG_BIN" --pin-dir "$PIN" stats --watch 1 >/dev/null 2>&1 &
	WPID=$!
	sleep 1.2
	kill -9 "$WPID" 2>/dev/null
	wait "$WPID" 2>/dev/null
	WPID=
	base=$(stat_sum)
	ip netns exec "$NS" python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(100): s.sendto(b"x", ("198.18.60.1", 7000))'
	check "after kill -9 of stats --watch: still attached" sh -c "ip link show $H | grep -q xdp"
	check "... and still counting (100 more)" test $(($(stat_sum) - base)) -ge 100
}

# a pinned state of another layout is refused, and left alone
test_layout_mismatch() {
	local old out rc after_id
	attached
	after_id=$(prog_id)
	old=$(bpftool -j map lookup pinned "$PIN/fg_state" key 0 0 0 0 | jq -c '.value')
	# fg_state.layout is the last __u64 of the value
	bpftool map update pinned "$PIN/fg_state" key 0 0 0 0 value \
		$(bpftool -j map lookup pinned "$PIN/fg_state" key 0 0 0 0 |
			jq -r '.value | .[0:-8] + ["0xe7","0x03","0","0","0","0","0","0"] | join(" ")') \
		2>/dev/null
	out=$(FG attach "$H" 2>&1)
	rc=$?
	same "attach over pinned state of layout 999 exits 1" 1 $rc
	check "... saying why" grep -q "layout version 999" <<<"$out"
	same "... and the program is untouched" "$after_id" \
		"$(bpftool -j link show pinned "$PIN/link_$H" | jq '.prog_id')"
	out=$(FG allow add 198.18.99.0/24 2>&1)
	rc=$?
	same "allow add over pinned state of layout 999 exits 1" 1 $rc
	check "... saying why" grep -q "layout version 999" <<<"$out"
	out=$(FG status 2>&1)
	same "status over pinned state of layout 999 exits 1 (it would misread it)" 1 $?
	bpftool map update pinned "$PIN/fg_state" key 0 0 0 0 value \
		$(jq -r 'join(" ")' <<<"$old") 2>/dev/null
}

# an fg_state of another size (layout 3 had 56 bytes, layout last) is read by its size
test_old_layout_size() {
	local out after_id
	attached
	after_id=$(prog_id)
	mkdir -p "$OLDPIN"
	bpftool map create "$OLDPIN/fg_state" type array key 4 value 56 entries 1 name fg_state
	bpftool map update pinned "$OLDPIN/fg_state" key 0 0 0 0 value $(printf '0 %.0s' $(seq 48)) 3 0 0 0 0 0 0 0
	out=$("$FG_BIN" --pin-dir "$OLDPIN" attach "$H" 2>&1)
	same "attach over a 56-byte fg_state of layout 3 exits 1" 1 $?
	check "... saying it is layout 3" grep -q "layout version 3," <<<"$out"
	same "... and the program is untouched" "$after_id" \
		"$(bpftool -j link show pinned "$PIN/link_$H" | jq '.prog_id')"
	rm -rf "$OLDPIN"
}

# detach keeps the state, attach brings it back
test_detach() {
	attached
	FG detach "$H" >/dev/null
	same "detach $H" 0 $?
	check "no XDP program left on $H" sh -c "! ip link show $H | grep -q xdp"
	same "status: no interface" 0 "$(FG -j status | jq '.interfaces | length')"
	FG attach "$H" >/dev/null
	same "the rule is still there after detach and attach" 1000000 \
		"$(FG -j limit list | jq '.[] | select(.endpoint=="udp/7000") | .pps')"
	FG detach "$H" >/dev/null 2>&1
	FG detach "$H" >/dev/null 2>&1
	same "detaching a detached interface exits 1" 1 $?
	FG detach --all >/dev/null
	same "detach --all" 0 $?
	check "detach --all removed the pins" test ! -e "$PIN"
	FG status >/dev/null 2>&1
	same "status without floodgate attached exits 1" 1 $?
}

# an interface deleted and made anew under its name: status tells it from an attached one
test_iface_recreated() {
	attached
	ip link del "$H"
	same "status: the interface deleted is gone" gone "$(FG -j status | jq -r '.interfaces[0].mode')"
	ip link add "$H" type veth peer name "${P}x" && ip link set "$H" up
	same "status: one made anew under its name runs nothing of ours: detached" detached \
		"$(FG -j status | jq -r '.interfaces[0].mode')"
	check "... in the text too" bash -c "'$FG_BIN' --pin-dir '$PIN' status | grep -q '^interfaces: $H (detached)'"
	FG attach "$H" >/dev/null
	same "attach again: native" native "$(FG -j status | jq -r '.interfaces[0].mode')"
	check "the rule survived it all" test "$(FG -j limit list | jq '.[] | select(.endpoint=="udp/7000") | .pps')" == 1000000
}

# --pin-dir spelled any way is one directory (one writers' lock), and detach --all removes
# floodgate's pins only, from floodgate's pin directory only
test_pin_dirs() {
	local other=/sys/fs/bpf/fgt-at-other-$ID plain=$TMP/plain i n spell
	local spellings=("$PIN" "$PIN/" "/sys/fs/bpf//fgt-at-$ID" "/sys/fs/bpf/../bpf/fgt-at-$ID//")
	# a first attach that fails at its last step (a directory where the program's pin goes):
	# its link, maps and clock go with it; nothing runs on the interface
	rm -rf "$other"
	mkdir -p "$other/prog"
	"$FG_BIN" --pin-dir "$other" attach "$H" >/dev/null 2>"$TMP/err"
	same "a first attach whose last pin fails exits 1" 1 $?
	check "... no XDP program left on $H" sh -c "! ip link show $H | grep -q xdp"
	same "... nothing of it left pinned" "prog" "$(ls "$other" | tr '\n' ' ' | sed 's/ $//')"
	rm -rf "$other"
	attached
	# a second pin directory onto the same interface: refused, and nothing of it left pinned
	rm -rf "$other"
	"$FG_BIN" --pin-dir "$other" attach "$H" >/dev/null 2>"$TMP/err"
	same "attach from a second pin directory exits 1" 1 $?
	check "... saying floodgate runs there from another" \
		grep -q "floodgate runs there already (program id [0-9]*) from another pin directory" "$TMP/err"
	check "... leaving no state of its own behind" test ! -e "$other"
	"$FG_BIN" --pin-dir "$PIN/" limit set udp/7001 --pps 10 >/dev/null
	same "a trailing slash: the same state" 10 \
		"$(FG -j limit list | jq '.[] | select(.endpoint=="udp/7001") | .pps')"
	check "... and the same writers' lock" test ! -e "/run/floodgate/_sys_fs_bpf_fgt-at-${ID}_.lock"
	# 40 writers at once over four spellings: each takes the one lock, no rule is lost
	for i in $(seq 0 39); do
		"$FG_BIN" --pin-dir "${spellings[i % 4]}" limit set "udp/$((7100 + i))" --pps 5 \
			>/dev/null 2>"$TMP/w$i" &
	done
	wait
	n=$(FG -j limit list | jq '[.[] | select(.pps == 5)] | length')
	same "40 edits at once through four spellings of the pin directory: 40 rules" 40 "$n"
	"$FG_BIN" --pin-dir "" status >/dev/null 2>"$TMP/err"
	same "an empty --pin-dir is a usage error" 2 $?
	check "... saying so" grep -q "error: --pin-dir: an empty path" "$TMP/err"
	spell=$(printf 'd%.0s' $(seq 5000))
	"$FG_BIN" --pin-dir "/sys/fs/bpf/$spell" status >/dev/null 2>"$TMP/err"
	same "a 5000-character --pin-dir is a usage error" 2 $?
	check "... with a message" grep -q "error: --pin-dir: longer than" "$TMP/err"
	"$FG_BIN" --pin-dir / detach --all >/dev/null 2>"$TMP/err"
	same "detach --all of / exits 1" 1 $?
	check "... naming / (off bpffs), not an empty path" grep -q "error: detach --all: / is not on bpffs" "$TMP/err"
	"$FG_BIN" --pin-dir "/fgt-none-$ID/x" status >/dev/null 2>"$TMP/err"
	check "a --pin-dir under a missing top directory keeps its name" grep -q "/fgt-none-$ID/x/fg_config" "$TMP/err"

	# not floodgate's: a directory elsewhere, and one on bpffs with another tool's pin
	mkdir -p "$plain" && touch "$plain/fg_config" "$plain/notes"
	"$FG_BIN" --pin-dir "$plain" detach --all >/dev/null 2>"$TMP/err"
	same "detach --all of a directory off bpffs exits 1" 1 $?
	check "... removing nothing" test -e "$plain/fg_config" -a -e "$plain/notes"
	check "... saying why" grep -q "is not on bpffs" "$TMP/err"
	rm -rf "$other"
	mkdir "$other" && bpftool map create "$other/their_map" type array key 4 value 4 entries 1 \
		name fgt_their
	"$FG_BIN" --pin-dir "$other" detach --all >/dev/null 2>"$TMP/err"
	same "detach --all of another tool's bpffs directory exits 1" 1 $?
	check "... its pin still there" test -e "$other/their_map"
	check "... saying it is not floodgate's" grep -q "not floodgate's pin directory" "$TMP/err"
	# floodgate's, with a foreign pin put in it: floodgate's go, the other stays
	bpftool map create "$PIN/their_map" type array key 4 value 4 entries 1 name fgt_their
	FG detach --all >/dev/null 2>"$TMP/err"
	same "detach --all with a foreign pin inside exits 1" 1 $?
	check "... the foreign pin left" test -e "$PIN/their_map"
	check "... floodgate's removed" test ! -e "$PIN/fg_state" -a ! -e "$PIN/link_$H"
	check "... naming what it left" grep -q "left $PIN/their_map: not floodgate's" "$TMP/err"
	check "no XDP program left on $H" sh -c "! ip link show $H | grep -q xdp"
	rm -rf "$other" "$PIN/their_map"
}

run_tests "$@"
