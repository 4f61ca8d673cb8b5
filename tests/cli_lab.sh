# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# cli_lab.sh: sourced by cli_limits.test.sh and cli_lists.test.sh (set
# TEST_NAME first): each test's namespace, veth pair and pin directory
# (setup_test, teardown_test), the bounded UDP sender and counting receiver,
# and the bad-input check that compares every map before and after.

FG=${FG_BUILD:-$PWD/build}/floodgate
S=$$
NS=fgt-$S-ns A=fgt-$S-a B=fgt-$S-b
PIN=/sys/fs/bpf/fgt-cli-$S
H4=198.18.0.1 P4=198.18.0.2 Q4=198.18.0.3 R4=198.18.1.2
H6=2001:db8::1 P6=2001:db8::2 Q6=2001:db8::3
TMP=$(mktemp -d "/tmp/fgt-$TEST_NAME.XXXXXX")
RPID=
trap 'rm -rf "$TMP"' EXIT

. tests/tap.sh # ok, notok, check, jq_true, skip_all, run_tests, pair_add, lab_remove

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
for t in ip bpftool python3 jq; do
	command -v $t >/dev/null || skip_all "needs $t"
done
[ -x "$FG" ] || skip_all "no $FG (make first)"
# the interpreter itself, not a version manager's shim: it starts for every send
PY=$(python3 -c 'import sys; print(sys.executable)')

# Every test starts on a fresh pair and a fresh floodgate: the host end A
# (198.18.0.1/16, 2001:db8::1/32), floodgate attached to it with the pins
# in PIN, and the peer B in NS with P4, Q4, R4, P6 and Q6.
setup_test() {
	pair_add "$NS" "$A" "$B" "$H4/16 $H6/32" "$P4/16 $Q4/16 $R4/16 $P6/32 $Q6/32" ||
		skip_all "cannot create a veth pair into a network namespace"
	if ! fg attach "$A" >"$TMP/attach" 2>&1; then
		sed 's/^/# /' "$TMP/attach"
		return 1
	fi
}
teardown_test() {
	[ -n "$RPID" ] && stop_pid "$RPID"
	lab_remove "$FG" "$PIN" "$A" "$NS"
}

fg() { "$FG" --pin-dir "$PIN" "$@"; }

# The receiver counts datagrams until the stop file appears (and the
# socket has been quiet for 0.1 s), 30 s at most.
cat >"$TMP/recv.py" <<'EOF'
import os, socket, sys, time
addr, port, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET6 if ':' in addr else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((addr, port))
s.settimeout(0.1)
open(stop + '.ready', 'w').close()
n, end = 0, time.monotonic() + 30
while time.monotonic() < end:
    try:
        s.recv(4096)
        n += 1
    except socket.timeout:
        if os.path.exists(stop):
            break
print(n)
EOF
# The sender: COUNT datagrams of 64 bytes, round-robin over the source
# addresses, 5 s at most; prints how many it sent and how long it took.
cat >"$TMP/send.py" <<'EOF'
import socket, sys, time
dst, port, count, srcs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(',')
fam = socket.AF_INET6 if ':' in dst else socket.AF_INET
socks = []
for a in srcs:
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((a, 0))
    socks.append(s)
t0, sent = time.monotonic(), 0
while sent < count and time.monotonic() - t0 < 5:
    socks[sent % len(socks)].sendto(b'x' * 64, (dst, port))
    sent += 1
print(sent, "%.6f" % (time.monotonic() - t0))
EOF

# send DST PORT COUNT SRC[,SRC...]: sets SENT, ELAPSED and RECV (received on the host).
send() {
	local dst=$1 port=$2 count=$3 srcs=$4 stop=$TMP/stop.$RANDOM
	"$PY" "$TMP/recv.py" "$dst" "$port" "$stop" >"$TMP/recv.out" &
	RPID=$!
	for _ in $(seq 100); do
		[ -e "$stop.ready" ] && break
		sleep 0.05
	done
	read -r SENT ELAPSED < <(ip netns exec "$NS" "$PY" "$TMP/send.py" "$dst" "$port" "$count" "$srcs")
	touch "$stop"
	wait "$RPID"
	RPID=
	RECV=$(cat "$TMP/recv.out")
	echo "# sent ${SENT:-?} to $dst port $port from $srcs in ${ELAPSED:-?} s, received ${RECV:-?}"
}

# most RATE BURST [BUCKETS]: packets that BUCKETS buckets of together
# RATE/s and BURST may pass during the last send: the bursts plus the
# refill over the sender's measured time, plus two per bucket for the
# clock tick the first and last packets fall in.
most() {
	awk -v r="$1" -v b="$2" -v n="${3:-1}" -v t="$ELAPSED" \
		'BEGIN { x = t * r; c = int(x); if (c < x) c++; print b + c + 2 * n }'
}

# stat REASON: the global packet counter of a reason; ep ENDPOINT FIELD.
stat() { fg -j stats | jq ".packets.$1 // 0"; }
ep() { fg -j stats | jq "[.endpoints[] | select(.endpoint == \"$1\") | .$2] | first // 0"; }

# limited NAME RATE BURST REASON BEFORE [BUCKETS]: the last send passed
# BURST up to the refill bound, and the reason counter rose by exactly
# what was lost.
limited() {
	local name=$1 rate=$2 burst=$3 reason=$4 before=$5 hi after
	hi=$(most "$rate" "$burst" "${6:-1}")
	after=$(stat "$reason")
	if [ -z "$RECV" ] || [ "$SENT" -ne 1000 ]; then
		notok "$name (sender or receiver failed)"
	elif [ "$RECV" -lt "$burst" ] || [ "$RECV" -gt "$hi" ]; then
		notok "$name: received $RECV, want $burst..$hi"
	elif [ $((after - before)) -ne $((SENT - RECV)) ]; then
		notok "$name: $reason rose by $((after - before)), $((SENT - RECV)) were lost"
	else
		ok "$name: received $RECV of $SENT, $reason +$((after - before))"
	fi
}

# State that no failed command may change: both rule-set slots, the
# lists, the bans, the live slot and generation, and `config dump` when it exists.
snapshot() {
	{
		bpftool map dump pinned "$PIN/fg_config"
		bpftool map dump pinned "$PIN/fg_lists"
		bpftool map dump pinned "$PIN/fg_bans"
		bpftool -j map dump pinned "$PIN/fg_state" |
			jq -c '.[0].formatted.value | {slot, generation, lists4, lists6, ban_gen}'
		fg config dump 2>/dev/null
	} >"$1"
}

# fails CODE VALUE ARGS...: floodgate ARGS exits CODE; for CODE 1 with
# exactly one line `error: ...` naming VALUE; nothing changed.
fails() {
	local code=$1 value=$2 rc lines
	shift 2
	snapshot "$TMP/before"
	fg "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	snapshot "$TMP/after"
	lines=$(wc -l <"$TMP/err")
	if [ "$rc" -ne "$code" ]; then
		notok "'$*' exits $code (got $rc: $(head -1 "$TMP/err"))"
	elif [ "$code" -eq 1 ] && { [ "$lines" -ne 1 ] || ! grep -q '^error: ' "$TMP/err"; }; then
		notok "'$*': one error line (got: $(head -3 "$TMP/err" | tr '\n' '|'))"
	elif [ "$code" -eq 1 ] && ! grep -qF -- "$value" "$TMP/err"; then
		notok "'$*': error names '$value' (got: $(cat "$TMP/err"))"
	elif ! cmp -s "$TMP/before" "$TMP/after"; then
		notok "'$*' changed state: $(diff "$TMP/before" "$TMP/after" | head -5 | tr '\n' '|')"
	else
		ok "'$*' exits $code$([ "$code" -eq 1 ] && echo ": $(cat "$TMP/err")"), state unchanged"
	fi
}
