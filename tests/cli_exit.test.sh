#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# cli_exit.test.sh: one exit-code policy for every command (README "Using
# floodgate", floodgate(8) EXIT STATUS): 0 done, 1 a value or state error,
# 2 a usage error (unknown option or subcommand, missing or extra
# argument, an option without its value or with the wrong subcommand).
# And the default byte burst of `limit set --bps` (test_config.c checks the
# file's side): `--bps 1t` is accepted with the largest burst.
#
# Each test_* function is independent (tests/tap.sh run_tests): its own
# pin directory, never attached, except in test_bps_burst, which builds
# and removes its own namespace and veth pair. TESTS=cli_exit:test_help
# runs one.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
TEST_NAME=cli_exit
. tests/tap.sh # ok, notok, check, same, jq_true, skip_all, run_tests, pair_add, fg_remove

FG=${FG_BUILD:-$PWD/build}/floodgate
[ -x "$FG" ] || skip_all "no $FG (make first)"
S=$$

# exits CODE ARGS...: floodgate ARGS (on a pin directory with nothing in it) exits CODE
exits() {
	local code=$1 rc
	shift
	"$FG" --pin-dir "/sys/fs/bpf/fgt-exit-$S-none" "$@" >/dev/null 2>&1
	rc=$?
	same "floodgate $* exits $code" "$code" "$rc"
}

# says CODE LINE ARGS...: floodgate ARGS exits CODE and its first line on stderr is LINE
says() {
	local code=$1 line=$2 rc first
	shift 2
	first=$("$FG" "$@" 2>&1 >/dev/null)
	rc=$?
	first=${first%%$'\n'*}
	if [ "$rc" -eq "$code" ] && [ "$first" == "$line" ]; then
		ok "floodgate $*: exit $code, $line"
	else
		notok "floodgate $*: exit $rc (want $code), first line: $first (want $line)"
	fi
}

test_help() {
	local c
	exits 0 --help
	for c in attach detach status limit allow deny ban stats top events config run; do
		exits 0 "$c" --help
	done
}

test_usage_errors() {
	local c
	exits 2
	exits 2 --bogus
	exits 2 frob
	for c in attach detach status limit allow deny ban stats top events config run; do
		exits 2 "$c" --bogus
	done
	for c in limit allow deny ban config; do
		exits 2 "$c"                 # no subcommand
		exits 2 "$c" frob            # unknown subcommand
		exits 2 "$c" list extra      # ... list takes no argument (config: unknown)
	done
	exits 2 attach                       # no interface
	exits 2 attach a b                   # two
	exits 2 detach                       # neither IFACE nor --all
	exits 2 detach a --all               # both
	exits 2 status extra
	exits 2 stats extra
	exits 2 top extra
	exits 2 events extra
	exits 2 run                          # --config is required
	exits 2 run --config                 # without its value
	exits 2 top -n                       # without its value
	exits 2 limit set                    # no endpoint
	exits 2 limit set tcp/1 tcp/2        # two
	exits 2 limit del tcp/1 --pps 5      # limit set's option
	exits 2 ban del 198.18.0.1 --for 1h  # ban add's option
	exits 2 ban add 198.18.0.1 --all     # ban list's option
	exits 2 allow add                    # no CIDR
	exits 2 config check                 # no FILE
	exits 2 config dump extra
	# bad options are said as every error is, the option as typed, then the usage
	says 2 "error: limit: unknown or ambiguous option '--bogus'" limit set --bogus
	says 2 "error: limit: unknown option '-x'" limit set tcp/1 -x
	says 2 "error: top: option '--by' needs a value" top --by
	says 2 "error: floodgate: unknown or ambiguous option '--bogus'" --bogus status
	says 2 "error: floodgate: option '--pin-dir' needs a value" --pin-dir
	says 2 "error: floodgate: option '--json' takes no value" --json=1 stats
	says 2 "error: stats: option '--json' takes no value" stats --json=1
	check "--help names the pin directory given" bash -c \
		"'$FG' --pin-dir /sys/fs/bpf/fgt-exit-$S-x --help | grep -q 'Pin directory: /sys/fs/bpf/fgt-exit-$S-x (--pin-dir; default /sys/fs/bpf/floodgate)'"
}

test_value_errors() {
	exits 1 attach lo --mode bogus
	exits 1 stats --watch 0
	exits 1 top -n nope
	exits 1 top --by bogus
	exits 1 top --interval 61
	exits 1 limit set default --pps nope
	exits 1 limit set default --bps 10x
	exits 1 limit set tcp/0 --pps 5
	exits 1 limit del default
	exits 1 allow add 198.18.0.1/33
	exits 1 deny add nonsense
	exits 1 ban add 198.18.0.1 --for 0s
	exits 1 ban del nonsense
	exits 1 run --config /nonexistent.yaml --metrics nonsense
	exits 1 run --config /nonexistent.yaml --metrics '[::1]'
	check "... saying a port is missing, not that '1]' is no number" bash -c \
		"'$FG' run --config /nonexistent.yaml --metrics '[::1]' 2>&1 | grep -q 'expected ADDR:PORT'"
	exits 1 config check /nonexistent.yaml
	check "run with a missing config: one error line, naming the file" bash -c \
		"out=\$('$FG' run --config /nonexistent.yaml 2>&1); [ \$(wc -l <<<\"\$out\") -eq 1 ] && grep -q 'config /nonexistent.yaml: No such file' <<<\"\$out\""
}

# nothing attached under the pin directory: a state error, exit 1
test_state_errors() {
	exits 1 status
	exits 1 stats
	exits 1 top
	exits 1 events
	exits 1 limit list
	exits 1 limit set default --pps 5
	exits 1 allow list
	exits 1 ban list
	exits 1 config dump
	exits 1 detach fgt-exit-none
}

# `limit set default --bps 1t`: the default byte burst is capped at 4 GiB, as for `bps: 1t` in a file
test_bps_burst() {
	local ns=fgt-$S-exns a=fgt-$S-exa pin=/sys/fs/bpf/fgt-exit-$S out
	if [ "$(id -u)" -ne 0 ] || ! command -v jq >/dev/null; then
		ok "limit set --bps 1t # SKIP needs root and jq"
		return
	fi
	pair_add "$ns" "$a" fgt-$S-exb "" "" || {
		notok "a namespace and veth pair for the test"
		return
	}
	if "$FG" --pin-dir "$pin" attach "$a" >/dev/null; then
		check "limit set default --bps 1t exits 0" "$FG" --pin-dir "$pin" limit set default --bps 1t
		out=$("$FG" --pin-dir "$pin" -j limit list)
		check "... with a byte burst of 4 GiB" jq_true \
			'.[0].bps == 1000000000000 and .[0].bps_burst == 4294967296' <<<"$out"
		check "limit set default --bps 8k: one full frame at least" \
			"$FG" --pin-dir "$pin" limit set default --bps 8k
		out=$("$FG" --pin-dir "$pin" -j limit list)
		check "... 1514 bytes" jq_true '.[0].bps_burst == 1514' <<<"$out"
	else
		notok "attach $a"
	fi
	fg_remove "$FG" "$pin"
	pair_del "$a" "$ns"
}

ALL_TESTS="test_help test_usage_errors test_value_errors test_state_errors test_bps_burst"
run_tests "$@"
