#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# ops_packaging.test.sh: what `make install` puts on an operator's machine.
#
# The man page builds with scdoc, renders without groff warnings, and
# covers every command, config key and metric the code has (read from the
# code, so a new one without documentation fails here). systemd-analyze
# verify accepts the unit, which asks for notify readiness, exactly
# CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON, and write access to /sys/fs/bpf
# alone. The bash completion completes commands, subcommands and option
# values. `make install DESTDIR=...` installs all of it. One test function
# each: the man page, the unit, the completion, make install.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
TEST_NAME=ops_packaging

BUILD=${FG_BUILD:-$PWD/build}
FG=$BUILD/floodgate
TMP=$(mktemp -d /tmp/fgt-ops-pkg.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

. tests/tap.sh # ok, notok, check, run_tests

# man_page: the man page built with scdoc into $TMP/man/man8 (false without scdoc or on error)
man_page() {
	command -v scdoc >/dev/null || return 1
	mkdir -p "$TMP/man/man8"
	scdoc <man/floodgate.8.scd >"$TMP/man/man8/floodgate.8" 2>"$TMP/scdoc.err"
}

ALL_TESTS="test_man_page test_unit test_completion test_install"

# the man page builds, renders, and covers every command, config key and metric
test_man_page() {
	local missing c k mname
	if command -v scdoc >/dev/null; then
		if man_page; then
			ok "man page: scdoc builds it"
		else
			notok "man page: scdoc builds it ($(head -1 "$TMP/scdoc.err"))"
		fi
		if command -v groff >/dev/null; then
			groff -man -ww -z "$TMP/man/man8/floodgate.8" >"$TMP/groff.err" 2>&1
			check "man page: groff renders it without warnings" test ! -s "$TMP/groff.err"
		fi
	else
		ok "man page build # SKIP scdoc not installed"
	fi
	missing=
	for c in $(sed -n 's/^  \([a-z]*\) .*/\1/p' <("$FG" --help)); do
		grep -q "^\*floodgate $c\*\|^\*floodgate $c \|^## .*\b$c\b" man/floodgate.8.scd || missing+=" $c"
	done
	check "man page: every command of floodgate --help has a section${missing:+ (missing:$missing)}" \
		test -z "$missing"
	missing=
	for k in $(sed -n 's/^\([a-z_]*\):.*/\1/p' floodgate.example.yaml | sort -u); do
		grep -q "^\*$k\*:" man/floodgate.8.scd || missing+=" $k"
	done
	check "man page: every top-level config key${missing:+ (missing:$missing)}" test -z "$missing"
	missing=
	for mname in $(grep -o '"floodgate_[a-z_]*' user/metrics.c | tr -d '"' | sort -u); do
		grep -q "\*$mname\*" man/floodgate.8.scd || missing+=" $mname"
	done
	check "man page: every metric the exporter writes${missing:+ (missing:$missing)}" test -z "$missing"
}

test_unit() {
	local unit rc
	unit=contrib/floodgate.service
	check "unit: Type=notify" grep -qx 'Type=notify' $unit
	check "unit: bounding set is CAP_BPF CAP_NET_ADMIN CAP_PERFMON" \
		grep -qx 'CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN CAP_PERFMON' $unit
	check "unit: ambient capabilities the same" \
		grep -qx 'AmbientCapabilities=CAP_BPF CAP_NET_ADMIN CAP_PERFMON' $unit
	check "unit: writes /sys/fs/bpf only" sh -c "grep -qx 'ReadWritePaths=/sys/fs/bpf' $unit &&
		grep -qx 'ProtectSystem=strict' $unit"
	check "unit: reload is SIGHUP" grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' $unit
	man_page
	if command -v systemd-analyze >/dev/null && [ -x "$FG" ] && [ -s "$TMP/man/man8/floodgate.8" ]; then
		# the binary where make install would put it, and the man page the unit's
		# Documentation= names on the man path
		sed "s|@SBINDIR@|$BUILD|g" $unit >"$TMP/floodgate.service"
		MANPATH=$TMP/man systemd-analyze verify "$TMP/floodgate.service" >"$TMP/verify.out" 2>&1
		rc=$?
		[ $rc -ne 0 ] && sed 's/^/# /' "$TMP/verify.out"
		check "systemd-analyze verify accepts the unit" test $rc -eq 0 -a ! -s "$TMP/verify.out"
	else
		ok "systemd-analyze verify # SKIP needs systemd-analyze, $FG and the man page"
	fi
}

# commands, subcommands and option values
test_completion() {
	local got want bad i
	cat >"$TMP/comp.sh" <<-'EOF'
	source contrib/floodgate.bash
	c() {
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_floodgate
		echo "${COMPREPLY[*]}"
	}
	c floodgate st
	c floodgate -j --pin-dir /tmp/x to
	c floodgate top --by ""
	c floodgate limit ""
	c floodgate limit set udp/53 --act
	c floodgate limit set udp/53 --action m
	c floodgate attach --mode ""
	c floodgate config ""
	c floodgate events --f
	c floodgate run --m
	complete -p floodgate
	EOF
	mapfile -t got < <(bash "$TMP/comp.sh" 2>&1)
	want=("status stats" "top" "pps bps drops" "set del list" "--action" "monitor"
		"native generic" "check apply dump" "--follow" "--metrics" "complete -F _floodgate floodgate")
	bad=
	for i in "${!want[@]}"; do
		[ "${got[$i]:-}" == "${want[$i]}" ] || bad+=" [${want[$i]}: got '${got[$i]:-}']"
	done
	check "bash completion: commands, subcommands and option values${bad:+$bad}" test -z "$bad"
}

test_install() {
	local f
	if grep -q 'floodgate\.8' Makefile && grep -q 'contrib/floodgate\.service' Makefile; then
		if make --no-print-directory BUILD="$(basename "$BUILD")" DESTDIR="$TMP/root" PREFIX=/usr/local \
			install >"$TMP/install.out" 2>&1; then
			ok "make install DESTDIR=... succeeds"
			for f in usr/local/sbin/floodgate usr/local/share/man/man8/floodgate.8 \
				usr/local/share/bash-completion/completions/floodgate \
				usr/local/lib/systemd/system/floodgate.service \
				usr/local/lib/sysusers.d/floodgate.conf \
				usr/local/share/floodgate/floodgate.example.yaml etc/floodgate/floodgate.yaml \
				usr/local/share/floodgate/grafana/floodgate.json \
				usr/local/share/floodgate/prometheus/floodgate.rules.yml; do
				check "make install: /$f" test -s "$TMP/root/$f"
			done
			check "make install: the unit runs the installed binary" grep -qx \
				'ExecStart=/usr/local/sbin/floodgate run --config /etc/floodgate/floodgate.yaml' \
				"$TMP/root/usr/local/lib/systemd/system/floodgate.service"
		else
			sed 's/^/# /' "$TMP/install.out" | tail -5
			notok "make install DESTDIR=... succeeds"
		fi
	else
		ok "make install # SKIP the Makefile does not install the man page and unit yet"
	fi
}

run_tests "$@"
