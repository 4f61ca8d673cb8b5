#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# cli_config.test.sh: `floodgate config check|apply|dump` and `attach --config`.
#
# check: every fixture of tests/configs/ through the CLI: good-*.yaml says
# ok, bad-*.yaml exits 1 and its first stderr line is the error its
# `# expect: LINE:COL: TEXT` line names, every line FILE:LINE:COL: ...
# apply and dump on a private pin directory, attached to the host end of a
# veth pair whose peer sits in a private network namespace: the example
# applies, dump | apply | dump is unchanged (YAML and JSON), each bad
# fixture and a list conflict leave `config dump` unchanged, and an
# applied deny list drops the peer's datagrams while the next apply lets
# them through again. Each test function builds the pair it needs
# (attached, example_applied); teardown_test removes it.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
TEST_NAME=cli_config

FG=${FG_BUILD:-$PWD/build}/floodgate
S=$$
NS=fgt-$S-cns A=fgt-$S-ca B=fgt-$S-cb
PIN=/sys/fs/bpf/fgt-cfg-$S
H4=198.18.0.1 P4=198.18.0.2
TMP=$(mktemp -d /tmp/fgt-cli-config.XXXXXX)
BANNED=
trap 'rm -rf "$TMP"' EXIT

. tests/tap.sh # ok, notok, check, run_tests, pair_add, lab_remove
fg() { "$FG" --pin-dir "$PIN" "$@"; }
q() { "$@" >/dev/null 2>&1; } # run quietly: only the TAP lines go to stdout

[ -x "$FG" ] || skip_all "no $FG (make first)"

teardown_test() {
	[ -n "$BANNED" ] && "$FG" --pin-dir "$PIN" ban del "$BANNED" >/dev/null 2>&1
	lab_remove "$FG" "$PIN" "$A" "$NS"
	rm -f "$TMP"/*
}

# needs_root: apply and dump need root, ip and jq; otherwise the test is skipped
needs_root() {
	[ "$(id -u)" -eq 0 ] || skip_all "needs root"
	for t in ip jq; do
		command -v $t >/dev/null || skip_all "needs $t"
	done
}

# attached: a private pin directory on the host end A of a veth pair (H4), the peer B (P4) in NS
attached() {
	needs_root
	pair_add "$NS" "$A" "$B" "$H4/24" "$P4/24" || skip_all "cannot create a veth pair into a namespace"
	fg attach "$A" >/dev/null || {
		notok "attach $A"
		exit 1
	}
}

# example_applied: attached, the example applied, its dump in $TMP/a.yaml
example_applied() {
	attached
	check "config apply floodgate.example.yaml" q fg config apply floodgate.example.yaml
	fg config dump >"$TMP/a.yaml"
}

# expect_first FIXTURE: the CLI's first error is the fixture's `# expect:`.
expect_first() {
	local f=$1 want rc first
	want=$(sed -n 's/^# expect: //p' "$f" | head -1)
	"$FG" config check "$f" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	first=$(head -1 "$TMP/err")
	if [ "$rc" -ne 1 ] || [ -z "$want" ]; then
		echo "# $f: exit $rc, want 1 (expect: '$want')"
		return 1
	fi
	if [[ "$first" != "$f:${want%%: *}: error: "*"${want#*: }"* ]]; then
		echo "# $f: first line '$first', want '$f:${want%%: *}: error: ...${want#*: }...'"
		return 1
	fi
	if grep -vqE "^$f:[0-9]+:[0-9]+: (error|warning): " "$TMP/err"; then
		echo "# $f: a line without FILE:LINE:COL:"
		grep -vE "^$f:[0-9]+:[0-9]+: (error|warning): " "$TMP/err" | sed 's/^/#   /'
		return 1
	fi
	[ ! -s "$TMP/out" ] # nothing on stdout for a bad file
}

# send N: N UDP datagrams from the peer to the host end (bash's /dev/udp, no tool needed).
send() {
	ip netns exec "$NS" bash -c "for ((i = 0; i < $1; i++)); do echo x >/dev/udp/$H4/9; done" 2>/dev/null
}
counter() { fg -j stats | jq ".packets.$1 // 0"; }
# reach NAME MIN: wait (3 s at most) until verdict counter NAME is at least MIN; prints it.
reach() {
	local i v
	for ((i = 0; i < 30; i++)); do
		v=$(counter "$1")
		[ "$v" -ge "$2" ] && break
		sleep 0.1
	done
	echo "$v"
}

ALL_TESTS="test_check_good test_check_bad test_check_json test_usage test_dump_not_attached
	test_apply_dump test_apply_bad test_apply_ban_conflict test_apply_data_path test_attach_config
	test_apply_interfaces test_apply_sizes test_apply_swap_full test_apply_restores"

# ---- config check: no kernel state needed -------------------------------

test_check_good() {
	local f
	check "config check floodgate.example.yaml: ok, exit 0" \
		bash -c "[ \"\$('$FG' config check floodgate.example.yaml 2>&1)\" = 'floodgate.example.yaml: ok' ]"
	for f in tests/configs/good-*.yaml; do
		check "config check $f: ok" q "$FG" config check "$f"
	done
}

test_check_bad() {
	local f
	for f in tests/configs/bad-*.yaml; do
		check "config check $f: $(sed -n 's/^# expect: //p' "$f" | head -1)" expect_first "$f"
	done
	check "config check bad-many.yaml reports all 6 errors" \
		bash -c "[ \$('$FG' config check tests/configs/bad-many.yaml 2>&1 | grep -c ': error: ') -eq 6 ]"
}

test_check_json() {
	check "-j config check: valid false, first problem at its line and column" \
		bash -c "'$FG' -j config check tests/configs/bad-overlap.yaml |
			jq -e '.valid == false and .problems[0].line == 6 and .problems[0].column == 15' >/dev/null"
	check "-j config check of the example: valid, no problems" \
		bash -c "'$FG' -j config check floodgate.example.yaml | jq -e '.valid and (.problems | length == 0)' >/dev/null"
	check "config check of a missing file: exit 1" \
		bash -c "out=\$('$FG' config check $TMP/missing.yaml 2>&1); [ \$? -eq 1 ] && grep -q 'missing.yaml: No such file' <<<\"\$out\""
	check "config check of a directory: exit 1, named as one" \
		bash -c "out=\$('$FG' config check $TMP 2>&1); [ \$? -eq 1 ] && grep -q 'error: config $TMP: a directory, not a file' <<<\"\$out\""
	mkfifo "$TMP/fifo.yaml"
	check "config check of a FIFO nobody writes to returns (read as empty)" \
		timeout 5 "$FG" config check "$TMP/fifo.yaml"
	check "config check /dev/stdin from a pipe" \
		bash -c "cat floodgate.example.yaml | '$FG' config check /dev/stdin | grep -q '^/dev/stdin: ok'"
	rm -f "$TMP/fifo.yaml"
}

test_usage() {
	local args
	for args in "config" "config check" "config frob x" "config dump extra" "config check a b" "config --bogus"; do
		# shellcheck disable=SC2086
		check "usage error: $args: exit 2" bash -c "'$FG' $args >/dev/null 2>&1; [ \$? -eq 2 ]"
	done
	check "config --help: exit 0, names every subcommand" \
		bash -c "'$FG' config --help | grep -q 'check' && '$FG' config --help | grep -q 'dump'"
}

# ---- apply and dump: a private pin directory on a veth host end ---------

test_dump_not_attached() {
	needs_root
	check "config dump without floodgate attached: exit 1" \
		bash -c "'$FG' --pin-dir '$PIN' config dump 2>&1 >/dev/null | grep -q 'not attached' && [ \${PIPESTATUS[0]} -eq 1 ]"
}

# the example applies, and dump | apply | dump is unchanged, in YAML and JSON
test_apply_dump() {
	example_applied
	fg config dump >"$TMP/a.yaml"
	check "config dump shows the example's endpoint rules" \
		grep -qE '^- endpoint: (tcp/443|udp/53|udp/27015-27030|tcp/8000-8080)$' "$TMP/a.yaml"
	check "config dump shows 4 endpoint rules" [ "$(grep -c '^- endpoint: ' "$TMP/a.yaml")" -eq 4 ]
	check "config dump shows the example's allow and deny lists" \
		bash -c "grep -qx -- '- 198.18.255.0/24' '$TMP/a.yaml' && grep -qx -- '- 2001:db8:dead::/48' '$TMP/a.yaml'"
	check "config dump is a valid config" q "$FG" config check "$TMP/a.yaml"
	check "config apply of a dump" q fg config apply "$TMP/a.yaml"
	fg config dump >"$TMP/b.yaml"
	check "dump | apply | dump: unchanged" diff -u "$TMP/a.yaml" "$TMP/b.yaml"
	check "config dump to a full disk (/dev/full): exit 1 with an error" \
		bash -c "'$FG' --pin-dir '$PIN' config dump 2>&1 >/dev/full | grep -q 'error: config dump: write' && [ \${PIPESTATUS[0]} -eq 1 ]"
	check "-j config dump to a full disk: exit 1" \
		bash -c "'$FG' --pin-dir '$PIN' -j config dump >/dev/full 2>/dev/null; [ \$? -eq 1 ]"

	fg -j config dump >"$TMP/a.json"
	check "-j config dump: the same state as JSON" q \
		jq -e '(.endpoints | length) == 4 and .default.pps == 10000 and
			(.endpoints[] | select(.endpoint == "udp/53") | .action == "ban" and .ban_for == "10m")' \
		"$TMP/a.json"
	check "the -j dump applies too and changes nothing" \
		bash -c "'$FG' --pin-dir '$PIN' config apply '$TMP/a.json' >/dev/null &&
			'$FG' --pin-dir '$PIN' config dump | diff -u '$TMP/a.yaml' -"
}

# each bad fixture: exit 1, config dump unchanged
test_apply_bad() {
	local f rc
	example_applied
	for f in tests/configs/bad-*.yaml; do
		fg config apply "$f" >/dev/null 2>"$TMP/err"
		rc=$?
		fg config dump >"$TMP/c.yaml"
		if [ "$rc" -eq 1 ] && diff -q "$TMP/a.yaml" "$TMP/c.yaml" >/dev/null &&
			grep -q "^$f:[0-9]*:[0-9]*: error: " "$TMP/err"; then
			ok "config apply $f: exit 1, config dump unchanged"
		else
			notok "config apply $f: exit $rc (want 1), dump diff:"
			diff "$TMP/a.yaml" "$TMP/c.yaml" | head -5 | sed 's/^/#   /'
		fi
	done
}

# a prefix that is a manual ban cannot go on the allow list: refused before any change
test_apply_ban_conflict() {
	local rc
	example_applied
	BANNED=198.18.7.0/24
	fg ban add "$BANNED" --for 1h >/dev/null
	sed "s|^allow:.*|allow: [$BANNED]|" "$TMP/a.yaml" | grep -v '^- 198.18.255.0/24$' |
		grep -v '^- 2001:db8:ffff::/48$' >"$TMP/conflict.yaml"
	check "conflict.yaml is valid on its own" q "$FG" config check "$TMP/conflict.yaml"
	fg config apply "$TMP/conflict.yaml" >/dev/null 2>"$TMP/err"
	rc=$?
	check "config apply with a manually banned prefix on allow: exit 1, names it" \
		bash -c "[ $rc -eq 1 ] && grep -q '^error: $BANNED: on the ban list (a manual or fleet ban), so it cannot go on the allow list (ban del $BANNED first)' '$TMP/err'"
	check "... and config dump is unchanged" bash -c "'$FG' --pin-dir '$PIN' config dump | diff -q '$TMP/a.yaml' - >/dev/null"
	fg ban del "$BANNED" >/dev/null && BANNED=
}

# what apply does reaches the data path: deny the peer, then lift it
test_apply_data_path() {
	local den0 all0 den1 den2 all1
	example_applied
	cat >"$TMP/deny-peer.yaml" <<-EOF
	deny: [$P4]
	EOF
	check "config apply of a deny list" q fg config apply "$TMP/deny-peer.yaml"
	den0=$(counter denied) all0=$(counter allowed)
	send 5
	den1=$(reach denied $((den0 + 5)))
	check "denied peer: its 5 datagrams counted denied ($den0 -> $den1)" [ "$den1" -ge $((den0 + 5)) ]
	check "a prefix moves from deny to allow in one apply" \
		bash -c "printf 'allow: [$P4]\n' >'$TMP/allow-peer.yaml' && '$FG' --pin-dir '$PIN' config apply '$TMP/allow-peer.yaml' >/dev/null &&
			'$FG' --pin-dir '$PIN' -j config dump | jq -e '.allow == [\"$P4\"] and .deny == []' >/dev/null"
	send 5
	all1=$(reach allowed $((all0 + 5)))
	den2=$(counter denied)
	check "allowed peer: its 5 datagrams counted allowed ($all0 -> $all1), none denied ($den1 -> $den2)" \
		[ "$all1" -ge $((all0 + 5)) -a "$den2" -eq "$den1" ]
	# and back: allow to deny was refused ("on the allow list, cannot be on the deny list too")
	check "a prefix moves from allow to deny in one apply" q fg config apply "$TMP/deny-peer.yaml"
	same "... config dump says so" "[] [\"$P4\"]" "$(fg -j config dump | jq -c '.allow, .deny' | tr '\n' ' ' | sed 's/ $//')"
	send 5
	den2=$(reach denied $((den2 + 5)))
	check "denied again: its 5 datagrams counted denied ($den1 -> $den2)" [ "$den2" -ge $((den1 + 5)) ]
}

# attach --config applies the file too (here: an in-place upgrade of $A)
test_attach_config() {
	attached
	check "attach --config on an attached interface" q fg attach "$A" --config tests/configs/good-flow-style.yaml
	check "... applied its rules" bash -c "'$FG' --pin-dir '$PIN' -j config dump |
		jq -e '.default.action == \"monitor\" and (.endpoints | map(.endpoint) | sort) == [\"tcp/1-1024\", \"udp/53\"]' >/dev/null"
}

# interfaces the file lists but that are not attached: a warning, no error
test_apply_interfaces() {
	local rc
	attached
	printf 'interfaces: [%s, fgt-%s-none]\n' "$A" "$S" >"$TMP/ifaces.yaml"
	fg config apply "$TMP/ifaces.yaml" >/dev/null 2>"$TMP/err"
	rc=$?
	check "config apply warns about an interface that is not attached (exit $rc)" \
		bash -c "[ $rc -eq 0 ] && grep -q 'warning: .*fgt-$S-none is not attached' '$TMP/err' && ! grep -q 'warning: .*$A' '$TMP/err'"
}

# table sizes other than the live maps': each way in says they stay, and applies the rest
test_apply_sizes() {
	local how rc
	attached
	printf 'tables: {lists: 64}\ndefault: {pps: 777}\n' >"$TMP/sizes.yaml"
	for how in "config apply" "attach $A --config"; do
		# shellcheck disable=SC2086 # how is words
		fg $how "$TMP/sizes.yaml" >/dev/null 2>"$TMP/err"
		rc=$?
		check "$how with tables: lists: 64 on live default maps: exit $rc, a warning that it stays" \
			bash -c "[ $rc -eq 0 ] && grep -qE '^warning: $TMP/sizes.yaml: tables: lists: 64 in the file, [0-9]+ live: table sizes change only when the maps are created' '$TMP/err'"
	done
	check "... the rest applied" bash -c "'$FG' --pin-dir '$PIN' -j config dump | jq -e '.default.pps == 777' >/dev/null"
}

# lists that fit the table each, swapped in one apply: written in one go, not the new deny list
# beside the old allow list (12 and 12 in a table of 16 was "would not fit")
test_apply_swap_full() {
	attached
	q fg detach --all
	printf 'tables: {lists: 16}\nallow: [%s]\n' "$(seq -s, -f '198.19.%g.0/24' 1 12)" >"$TMP/allow12.yaml"
	printf 'tables: {lists: 16}\ndeny: [%s]\n' "$(seq -s, -f '198.19.%g.0/24' 101 112)" >"$TMP/deny12.yaml"
	check "attach with tables: lists: 16 and 12 allowed prefixes" q fg attach "$A" --config "$TMP/allow12.yaml"
	check "config apply of 12 other prefixes to deny, none allowed" q fg config apply "$TMP/deny12.yaml"
	same "... config dump: none allowed, 12 denied" "0 12" "$(fg -j config dump | jq -r '"\(.allow | length) \(.deny | length)"')"
	check "and back" q fg config apply "$TMP/allow12.yaml"
	same "... config dump: 12 allowed, none denied" "12 0" "$(fg -j config dump | jq -r '"\(.allow | length) \(.deny | length)"')"
}

# after other changes, the first dump applied gives back exactly the same state
test_apply_restores() {
	example_applied
	check "config apply of another config" q fg config apply tests/configs/good-flow-style.yaml
	check "config apply of the first dump restores it" q fg config apply "$TMP/a.yaml"
	check "... exactly" bash -c "'$FG' --pin-dir '$PIN' config dump | diff -u '$TMP/a.yaml' -"
}

run_tests "$@"
