#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# security.test.sh: who may read and change floodgate's pinned state, and
# what the daemon keeps (issue 6, "Security of the control plane").
#
# As an unprivileged member of the floodgate group and as a user outside
# it, a probe (python, the bpf(2) syscall itself, no libbpf) tries every
# pin: open read-only, open read-write, and through the read-only fd a
# lookup, update, delete, lookup-and-delete, freeze and a writable mmap.
# Members read every map and run the clock, and nothing else; outsiders
# open nothing. Root's own write of a value back proves the probe's writes
# are well formed, so the refusals are the kernel's. Then the CLI: the
# member's read commands work, every changing command fails with an error
# and changes nothing. A member holding a lock on the pin directory must
# not be able to stall root's writers.
#
# Capabilities (ops_daemon.test.sh checks CapEff, CapBnd and no_new_privs
# of a daemon started as plain root): here the permitted, inheritable and
# ambient sets too; the daemon run as the systemd unit runs it (bounding
# set CAP_BPF CAP_NET_ADMIN CAP_PERFMON, supplementary group floodgate)
# attaches, gives the pins to the group without CAP_CHOWN, attaches a new
# interface on reload and stops cleanly; without the group the pins stay
# root's alone; attach fails without any one of the three capabilities,
# so none is superfluous; and metrics listen on loopback by default.
# Each test function starts from a fresh veth pair (both ends here) and
# floodgate attached to one end with a manual ban (setup_test).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
TEST_NAME=security
. tests/tap.sh # ok, notok, check, same, le, note, exited, stop_pid, poll, skip_all

FG=${FG_BUILD:-$PWD/build}/floodgate
S=$$
A=fgt-$S-sa B=fgt-$S-sb
PIN=/sys/fs/bpf/fgt-sec-$S
PIN2=/sys/fs/bpf/fgt-sec2-$S
TMP=$(mktemp -d /tmp/fgt-security.XXXXXX)
M=fgtsm$S O=fgtso$S # group member, outsider
MADE_GROUP=
DPID=

cleanup() {
	id "$M" >/dev/null 2>&1 && userdel "$M" 2>/dev/null
	id "$O" >/dev/null 2>&1 && userdel "$O" 2>/dev/null
	[ -n "$MADE_GROUP" ] && groupdel floodgate 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
for t in ip python3 jq setpriv runuser flock unshare nsenter ss curl; do
	command -v $t >/dev/null || skip_all "needs $t"
done
[ -x "$FG" ] || skip_all "no $FG (make first)"
case $(uname -m) in x86_64 | aarch64) ;; *) skip_all "the probe knows bpf(2) on x86_64 and aarch64 only" ;; esac

# The group must exist before attach, which gives the pins to it.
if ! getent group floodgate >/dev/null; then
	groupadd -r floodgate || skip_all "cannot create the floodgate group"
	MADE_GROUP=1
fi
GID=$(getent group floodgate | cut -d: -f3)
useradd -M -N -g floodgate -s /bin/sh "$M" 2>"$TMP/useradd.err" &&
	useradd -M -N -s /bin/sh "$O" 2>>"$TMP/useradd.err" ||
	skip_all "cannot create users: $(head -1 "$TMP/useradd.err")"
chmod 755 "$TMP"

fg() { "$FG" --pin-dir "$PIN" "$@"; }
as() { # USER COMMAND...: run as an unprivileged user (no capabilities)
	local u=$1
	shift
	runuser -u "$u" -- "$@"
}

# The probe: every operation on every pin named, one JSON object per pin.
cat >"$TMP/probe.py" <<'EOF'
import ctypes, errno, json, mmap, os, sys

NR_BPF = {'x86_64': 321, 'aarch64': 280}[os.uname().machine]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
(LOOKUP, UPDATE, DELETE, NEXT_KEY, OBJ_GET, TEST_RUN, INFO, LOOKUP_DELETE,
 FREEZE) = 1, 2, 3, 4, 7, 10, 15, 21, 22
F_RDONLY = 1 << 3
PERCPU = {5, 6, 10}  # percpu hash, percpu array, LRU percpu hash
MMAPABLE = 1 << 10
u32, u64 = ctypes.c_uint32, ctypes.c_uint64

class ObjGet(ctypes.Structure):
    _fields_ = [('pathname', u64), ('bpf_fd', u32), ('file_flags', u32), ('path_fd', ctypes.c_int32)]
class Elem(ctypes.Structure):
    _fields_ = [('map_fd', u32), ('pad', u32), ('key', u64), ('value', u64), ('flags', u64)]
class Info(ctypes.Structure):
    _fields_ = [('bpf_fd', u32), ('info_len', u32), ('info', u64)]
class TestRun(ctypes.Structure):
    _fields_ = [('prog_fd', u32), ('retval', u32), ('data_size_in', u32), ('data_size_out', u32),
                ('data_in', u64), ('data_out', u64), ('repeat', u32), ('duration', u32)]

def bpf(cmd, attr):
    r = libc.syscall(NR_BPF, cmd, ctypes.byref(attr), ctypes.sizeof(attr))
    return r if r >= 0 else -ctypes.get_errno()

def res(r):
    return 'ok' if r >= 0 else errno.errorcode.get(-r, str(-r))

def obj_get(path, flags):
    p = ctypes.create_string_buffer(path.encode())
    return bpf(OBJ_GET, ObjGet(pathname=ctypes.addressof(p), file_flags=flags))

def map_info(fd):
    buf = ctypes.create_string_buffer(128)
    if bpf(INFO, Info(bpf_fd=fd, info_len=128, info=ctypes.addressof(buf))) < 0:
        return None
    t, _, ks, vs, _, fl = (int.from_bytes(buf.raw[i:i + 4], 'little') for i in range(0, 24, 4))
    return t, ks, vs, fl

def elem(cmd, fd, ks, vsize):
    k = ctypes.create_string_buffer(max(ks, 1))
    v = ctypes.create_string_buffer(max(vsize, 8))
    # delete takes a key only: the kernel wants the rest of the attr zero
    return bpf(cmd, Elem(map_fd=fd, key=ctypes.addressof(k),
                         value=0 if cmd == DELETE else ctypes.addressof(v)))

ncpu = os.sysconf('SC_NPROCESSORS_CONF')
for path in sys.argv[1:]:
    name = os.path.basename(path)
    out = {'pin': name}
    ro = obj_get(path, F_RDONLY)
    rw = obj_get(path, 0)
    out['ro_open'], out['rw_open'] = res(ro), res(rw)
    info = map_info(ro if ro >= 0 else rw) if (ro >= 0 or rw >= 0) else None
    if info and name.startswith('fg_'):
        t, ks, vs, fl = info
        vsize = ((vs + 7) // 8 * 8) * ncpu if t in PERCPU else vs
        fd = ro
        if fd >= 0:
            if t == 27:  # ring buffer: no lookups
                out['read'] = 'n/a'
            elif t in (1, 9, 5, 11):  # hashes, LPM trie: walk the keys
                r = elem(NEXT_KEY, fd, ks, ks)
                out['read'] = 'ok' if r >= 0 or r == -errno.ENOENT else res(r)
            else:
                out['read'] = res(elem(LOOKUP, fd, ks, vsize))
            out['update'] = res(elem(UPDATE, fd, ks, vsize))
            out['delete'] = res(elem(DELETE, fd, ks, vsize))
            out['lookup_delete'] = res(elem(LOOKUP_DELETE, fd, ks, vsize))
            out['freeze'] = res(bpf(FREEZE, Elem(map_fd=fd)))
            if fl & MMAPABLE:
                try:
                    mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE).close()
                    out['mmap_write'] = 'ok'
                except OSError as e:
                    out['mmap_write'] = errno.errorcode.get(e.errno, str(e.errno))
        if rw >= 0 and t == 2 and len(sys.argv) > 1 and os.getuid() == 0 and name == 'fg_totals':
            # root: the last slot's value written back unchanged, proving the attr is well formed
            k = ctypes.create_string_buffer((63).to_bytes(4, 'little'), 4)
            v = ctypes.create_string_buffer(vs)
            r = bpf(LOOKUP, Elem(map_fd=rw, key=ctypes.addressof(k), value=ctypes.addressof(v)))
            if r >= 0:
                r = bpf(UPDATE, Elem(map_fd=rw, key=ctypes.addressof(k), value=ctypes.addressof(v)))
            out['root_write_back'] = res(r)
    if name == 'clock':
        fd = rw if rw >= 0 else ro
        if fd >= 0:
            din, dout = ctypes.create_string_buffer(64), ctypes.create_string_buffer(64)
            a = TestRun(prog_fd=fd, data_size_in=64, data_size_out=64, data_in=ctypes.addressof(din),
                        data_out=ctypes.addressof(dout), repeat=1)
            r = bpf(TEST_RUN, a)
            out['test_run'] = res(r) if r < 0 else ('ok' if a.retval == 2 and dout.raw[:8] != bytes(8)
                                                    else 'retval %d' % a.retval)
    print(json.dumps(out))
EOF

# the bounding set the systemd unit (contrib/floodgate.service) gives the daemon
UNIT_CAPS=-all,+bpf,+net_admin,+perfmon

# want_mode NAME: the mode attach gives a pin
want_mode() {
	case $1 in
	.) echo 750 ;;
	fg_*) echo 640 ;;
	clock) echo 660 ;;
	*) echo 600 ;; # prog, link_*: root's alone (a link pin only opens read-write anyway)
	esac
}
state() { # what a change would show: rules, lists, bans, interfaces
	{
		fg config dump
		fg -j ban list | jq -c 'map(del(.expires_in))'
		fg -j status | jq -c '[.interfaces, .generation]'
	} 2>&1
}
mq() { jq -s -r "$1" "$TMP/member.json"; }

# Every test: a fresh veth pair A/B (both here, no IPv6), floodgate attached to A with a
# manual ban; pins lists the pins, paths their paths, nmaps the number of maps.
setup_test() {
	local p
	pair_add - "$A" "$B" "" "" || skip_all "cannot create a veth pair"
	if ! fg attach "$A" >"$TMP/attach.out" 2>&1; then
		sed 's/^/# /' "$TMP/attach.out"
		return 1
	fi
	fg ban add 198.18.99.1 --for 1h >/dev/null
	pins=$(cd "$PIN" && ls)
	nmaps=$(grep -c '^fg_' <<<"$pins")
	paths=$(for p in $pins; do echo "$PIN/$p"; done)
}
teardown_test() {
	local p
	for p in $(jobs -p); do stop_pid "$p"; done
	fg_remove "$FG" "$PIN"
	fg_remove "$FG" "$PIN2"
	pair_del "$A" -
}

ALL_TESTS="test_pin_modes test_probe_root test_probe_member test_probe_outsider test_cli_member
	test_member_lock test_daemon_caps test_unit_daemon test_no_group test_caps_needed
	test_metrics_loopback"

# --- the pins ---
test_pin_modes() {
	local modes bad n og m
	note "pins: $(echo $pins)"
	modes=$(cd "$PIN" && stat -c '%n %U:%G %a' -- . $pins)
	bad=
	while read -r n og m; do
		[ "$og" == root:floodgate ] && [ "$m" == "$(want_mode "$n")" ] || bad+=" $n($og $m)"
	done <<<"$modes"
	check "every pin is root:floodgate, maps 0640, clock 0660, prog and links 0600, directory 0750${bad:+ (wrong:$bad)}" \
		test -z "$bad"
	same "twenty maps pinned" 20 "$nmaps"
}

test_probe_root() {
	# shellcheck disable=SC2086
	python3 "$TMP/probe.py" $paths >"$TMP/root.json" 2>"$TMP/probe.err"
	same "root: the probe's map write (a value written back unchanged) succeeds" ok \
		"$(jq -r 'select(.pin == "fg_totals") | .root_write_back' "$TMP/root.json")"
	same "root: every pin opens read-write" "$(echo $pins | wc -w)" \
		"$(jq -s 'map(select(.rw_open == "ok")) | length' "$TMP/root.json")"
}

test_probe_member() {
	local got op
	# shellcheck disable=SC2086
	as "$M" python3 "$TMP/probe.py" $paths >"$TMP/member.json" 2>"$TMP/probe.err"
	[ -s "$TMP/probe.err" ] && sed 's/^/# probe: /' "$TMP/probe.err" | head -5
	same "member: every map opens read-only" "$nmaps" "$(mq 'map(select((.pin | startswith("fg_")) and .ro_open == "ok")) | length')"
	same "member: every map is read" "$((nmaps - 1)) 1" \
		"$(mq '[(map(select(.read == "ok")) | length), (map(select(.read == "n/a")) | length)] | join(" ")')"
	same "member: no pin opens read-write but the clock" "clock" \
		"$(mq 'map(select(.rw_open == "ok") | .pin) | join(" ")')"
	same "member: read-write opens refused with EACCES" "$(($(echo $pins | wc -w) - 1))" \
		"$(mq 'map(select(.rw_open == "EACCES")) | length')"
	for op in update delete lookup_delete freeze; do
		same "member: $op through a read-only map fd refused (EPERM) on every map" "$nmaps" \
			"$(mq "map(select(.$op == \"EPERM\")) | length")"
	done
	got=$(mq 'map(select(.mmap_write) | "\(.pin) \(.mmap_write)") | join(", ")')
	check "member: no writable mapping of fg_state ($got)" \
		test -n "$got" -a -z "$(mq 'map(select(.mmap_write == "ok")) | .[].pin')"
	same "member: prog and link pins do not open at all" \
		"$(grep -c -v '^fg_\|^clock$' <<<"$pins")" \
		"$(mq 'map(select((.pin | startswith("fg_") or . == "clock") | not) | select(.ro_open == "EACCES" and .rw_open == "EACCES")) | length')"
	same "member: runs the clock program (reads the data path's clock)" ok \
		"$(mq 'map(select(.pin == "clock") | .test_run) | .[0]')"
}

test_probe_outsider() {
	# shellcheck disable=SC2086
	as "$O" python3 "$TMP/probe.py" $paths >"$TMP/outsider.json" 2>/dev/null
	same "outsider: no pin opens, read-only or read-write" "$(echo $pins | wc -w)" \
		"$(jq -s 'map(select(.ro_open == "EACCES" and .rw_open == "EACCES")) | length' "$TMP/outsider.json")"
	as "$O" ls "$PIN" >/dev/null 2>&1
	check "outsider: cannot list the pin directory" test $? -ne 0
}

# --- the CLI as a member ---
test_cli_member() {
	local bad cmd rc
	state >"$TMP/state.before"
	bad=
	for cmd in "stats" "-j stats" "status" "top --interval 0" "limit list" "ban list" "allow list" \
		"deny list" "config dump"; do
		# shellcheck disable=SC2086
		as "$M" "$FG" --pin-dir "$PIN" $cmd >/dev/null 2>"$TMP/err" || bad+=" '$cmd' ($(head -1 "$TMP/err"))"
	done
	check "member: the reading commands work${bad:+ (failed:$bad)}" test -z "$bad"
	cat >"$TMP/apply.yaml" <<-EOF
	default:
	  pps: 1
	EOF
	chmod 644 "$TMP/apply.yaml"
	bad=
	while read -r cmd; do
		# shellcheck disable=SC2086
		as "$M" timeout 20 "$FG" --pin-dir "$PIN" $cmd >"$TMP/out" 2>&1
		rc=$?
		if [ $rc -eq 0 ] || [ $rc -eq 124 ] || ! grep -q '^error: ' "$TMP/out"; then
			bad+=" '$cmd' (exit $rc: $(head -1 "$TMP/out"))"
		fi
	done <<-EOF
	limit set udp/53 --pps 1
	limit set default --pps 1
	limit del default
	ban add 198.18.99.2
	ban del 198.18.99.1
	allow add 198.18.98.0/24
	deny add 198.18.97.0/24
	config apply $TMP/apply.yaml
	detach $A
	detach --all
	attach $B
	events
	EOF
	check "member: every changing command fails with an error${bad:+ (did not:$bad)}" test -z "$bad"
	state >"$TMP/state.after"
	check "member: nothing changed (rules, lists, bans, interfaces, generation)" \
		cmp -s "$TMP/state.before" "$TMP/state.after"
}

test_member_lock() {
	local LPID rc
	# A lock on the pin directory needs only read access to it (flock(2)), and the group has it.
	as "$M" flock -x -n "$PIN" sleep 8 &
	LPID=$!
	sleep 1
	timeout 5 "$FG" --pin-dir "$PIN" limit set udp/53 --pps 10 >"$TMP/out" 2>&1
	rc=$?
	if [ $rc -eq 124 ]; then
		notok "a member's lock on the pin directory cannot stall root's writers (limit set still" \
			"waiting after 5 s while a member holds flock(2) on $PIN: fg_maps_lock() in" \
			"user/maps.c blocks on a lock any reader can take; the daemon's reloads and" \
			"housekeeping would hang the same way)"
	else
		same "a member's lock on the pin directory cannot stall root's writers" 0 $rc
	fi
	wait $LPID 2>/dev/null
	fg limit del udp/53 >/dev/null 2>&1
}

# --- capabilities ---
test_daemon_caps() {
	cat >"$TMP/run.yaml" <<-EOF
	interfaces: [$A]
	EOF
	"$FG" --pin-dir "$PIN" run --config "$TMP/run.yaml" --metrics 127.0.0.1:0 >/dev/null 2>"$TMP/run.err" &
	DPID=$!
	if poll 20 grep -q 'serving metrics' "$TMP/run.err"; then
		caps() { awk -v k="$1:" '$1 == k { print $2 }' /proc/$DPID/status; }
		same "daemon as root, after setup: permitted set CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN" \
			000000c000001000 "$(caps CapPrm)"
		same "daemon as root, after setup: inheritable set empty" 0000000000000000 "$(caps CapInh)"
		same "daemon as root, after setup: ambient set empty" 0000000000000000 "$(caps CapAmb)"
	else
		sed 's/^/# /' "$TMP/run.err"
		notok "daemon as root starts"
	fi
	stop_pid "$DPID"
	DPID=
}

test_unit_daemon() {
	local bad port
	# As the systemd unit runs it: root, bounding set of the three, supplementary group floodgate.
	cat >"$TMP/unit.yaml" <<-EOF
	interfaces: [$A]
	EOF
	"$FG" --pin-dir "$PIN" detach "$A" >/dev/null 2>&1
	setpriv --groups="$GID" --bounding-set=$UNIT_CAPS --inh-caps=-all --no-new-privs -- \
		"$FG" --pin-dir "$PIN2" run --config "$TMP/unit.yaml" --metrics 127.0.0.1:0 \
		>/dev/null 2>"$TMP/unit.err" &
	DPID=$!
	if poll 20 grep -q 'serving metrics' "$TMP/unit.err"; then
		ok "daemon with the unit's capabilities only: attaches and serves"
		same "unit daemon, after setup: effective set" 000000c000001000 \
			"$(awk '$1 == "CapEff:" { print $2 }' /proc/$DPID/status)"
		bad=$(cd "$PIN2" && stat -c '%n %G %a' -- fg_* | awk '$2 != "floodgate" || $3 != 640')
		check "unit daemon: the maps go to the group (0640) without CAP_CHOWN${bad:+ (wrong: $bad)}" \
			test -z "$bad"
		port=$(grep -o 'port [0-9]*' "$TMP/unit.err" | head -1 | grep -o '[0-9]*')
		check "unit daemon: /metrics answers" \
			sh -c "curl -sf --max-time 5 http://127.0.0.1:$port/metrics | grep -q '^floodgate_build_info'"
		echo "interfaces: [$A, $B]" >"$TMP/unit.yaml"
		kill -HUP $DPID
		check "unit daemon: a reload attaches an interface added to the config" \
			poll 10 test -e "$PIN2/link_$B"
		as "$M" "$FG" --pin-dir "$PIN2" -j stats >/dev/null 2>&1
		check "unit daemon: a member reads its stats" test $? -eq 0
		kill -TERM $DPID
		poll 10 exited $DPID
		wait $DPID
		same "unit daemon: SIGTERM, exit 0" 0 $?
	else
		sed 's/^/# /' "$TMP/unit.err"
		notok "daemon with the unit's capabilities only: attaches and serves"
	fi
	DPID=
	"$FG" --pin-dir "$PIN2" detach --all >/dev/null 2>&1
	rm -rf "$PIN2"
}

test_no_group() {
	local bad
	"$FG" --pin-dir "$PIN" detach "$A" >/dev/null 2>&1 # A free for a pin directory of its own
	# Without the group (no CAP_CHOWN either), the pins stay root's alone: fail closed.
	setpriv --clear-groups --bounding-set=$UNIT_CAPS --inh-caps=-all -- \
		"$FG" --pin-dir "$PIN2" attach "$A" >"$TMP/out" 2>&1
	check "attach with the three capabilities and no group: works" test $? -eq 0
	bad=$(cd "$PIN2" 2>/dev/null && stat -c '%n %a' -- fg_* | awk '$2 != 600')
	check "attach without the group: maps 0600, root's alone${bad:+ (wrong: $bad)}" test -z "$bad"
	as "$M" "$FG" --pin-dir "$PIN2" stats >/dev/null 2>&1
	check "attach without the group: a member reads nothing" test $? -ne 0
	"$FG" --pin-dir "$PIN2" detach --all >/dev/null 2>&1
	rm -rf "$PIN2"
}

test_caps_needed() {
	local cap rc left
	"$FG" --pin-dir "$PIN" detach "$A" >/dev/null 2>&1 # A free for a pin directory of its own
	# None of the three is superfluous.
	for cap in bpf net_admin perfmon; do
		setpriv --bounding-set="$(sed "s/,+$cap//" <<<"$UNIT_CAPS")" --inh-caps=-all -- \
			"$FG" --pin-dir "$PIN2" attach "$A" >"$TMP/out" 2>&1
		rc=$?
		left=$(find "$PIN2" -name 'link_*' 2>/dev/null | wc -l)
		check "attach without CAP_${cap^^} fails ($(head -1 "$TMP/out")), nothing attached" \
			test $rc -ne 0 -a "$left" -eq 0
		"$FG" --pin-dir "$PIN2" detach --all >/dev/null 2>&1
		rm -rf "$PIN2"
	done
}

test_metrics_loopback() {
	local listen
	# Metrics listen on loopback unless told otherwise (a private network namespace: port 9419 free).
	fg attach "$A" >/dev/null 2>&1
	echo "interfaces: []" >"$TMP/nometrics.yaml"
	unshare -n -- sh -c 'ip link set lo up && exec "$0" "$@"' "$FG" --pin-dir "$PIN" run \
		--config "$TMP/nometrics.yaml" >/dev/null 2>"$TMP/nm.err" &
	DPID=$!
	if poll 20 grep -q 'serving metrics' "$TMP/nm.err"; then
		listen=$(nsenter -t $DPID -n ss -Hltn | awk '{ print $4 }' | sort | paste -sd' ')
		same "metrics listen on 127.0.0.1:9419 by default, and nowhere else" 127.0.0.1:9419 "$listen"
	else
		sed 's/^/# /' "$TMP/nm.err"
		notok "daemon without a metrics address starts"
	fi
	stop_pid "$DPID"
	DPID=
}

run_tests "$@"
