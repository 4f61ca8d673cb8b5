#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# soak.sh BUILD: floodgate's long run (`make soak`; issue 6, "Long runs").
#
# SOAK_SECONDS (default 600) of the daemon in the lab (scripts/lab.sh)
# under a rotating load, with a 1-second driver loop:
#   - floods and quiet periods: every 20 s a 10 s flood, in turn a spoofed
#     IPv4 churn over 198.18.0.0/15, 1M-sized random IPv6 churn over
#     2001:db8::/32, 16 abusive sources that get banned (ban for 5 s, up
#     to 30 s for repeat offenders, strikes forgotten 10 s after a ban),
#     and a TCP SYN flood from 4096 sources; then 10 s of quiet. A
#     legitimate client sends 100 packets/s all along.
#   - a config reload (SIGHUP to `floodgate run`) every 3 s, alternating
#     two configs that differ in rates, bursts, the under-attack threshold
#     and the ban event rate (same endpoints and table sizes);
#   - a manual ban added every 2 s (for 3 s; the daemon removes ended
#     ones) and every fourth one deleted by hand again;
#   - a /metrics scrape every second.
# Pass, measured from the scrapes, /proc and the daemon's log:
#   - every counter series only increases (per-source series excepted:
#     they restart with their bucket, by design);
#   - sources tracked never exceed the table's capacity: the count walks
#     the live LRU table, and a bucket evicted and another created during
#     the walk can both be counted, so each scrape's count is held to the
#     capacity plus the buckets created between its counter read (before
#     its walk) and the next scrape's (floodgate_sources_created_total);
#     scrapes with nothing created meanwhile are held to the capacity
#     exactly;
#   - the daemon's RSS stays within 5% of its value at the end of the
#     warm-up (SOAK_WARMUP, default a fifth of the run, at least 30 s);
#   - no file descriptor growth (/proc/PID/fd after warm-up);
#   - every scrape answered, every reload applied;
#   - no error logged but the expected ones (under-attack lines; ban
#     lines, their summaries and lost ban events are warnings);
#   - SIGTERM stops the daemon with status 0.
# Prints TAP lines, the measured figures as comments, and a last line
# "soak: PASS" or "soak: FAIL"; exit status 0 on pass. Names: lab fgls<PID>,
# pins /sys/fs/bpf/fgt-soak-<PID>; everything is removed on exit.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/tap.sh # ok, notok, check, same, le, note, exited, stop_pid, poll, skip_all
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
FG=$BUILD/floodgate
TG=$BUILD/tests/trafgen
SOAK_SECONDS=${SOAK_SECONDS:-600}
S=$$
export LAB_ID=s$S
PIN=/sys/fs/bpf/fgt-soak-$S
TMP=$(mktemp -d /tmp/fgt-soak.XXXXXX)
DPID=
fails=0

if ! [[ $SOAK_SECONDS =~ ^[0-9]+$ ]] || [ "$SOAK_SECONDS" -lt 60 ]; then
	echo "error: soak: SOAK_SECONDS '$SOAK_SECONDS' must be a number of seconds, at least 60" >&2
	exit 2
fi
WARMUP=${SOAK_WARMUP:-$((SOAK_SECONDS / 5 > 30 ? SOAK_SECONDS / 5 : 30))}

notok() {
	echo "not ok - $*"
	fails=$((fails + 1))
}
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else notok "$name"; fi
}
die() {
	echo "error: soak: $*" >&2
	exit 1
}

exited() { # PID: gone, or a zombie waiting for `wait`
	local st
	st=$(awk '{ print $3 }' /proc/$1/stat 2>/dev/null)
	[ -z "$st" ] || [ "$st" == Z ]
}
cleanup() {
	local p
	# our children not reaped yet (a reaped PID may belong to someone else by now)
	for p in $(jobs -p); do [ "$p" != "$DPID" ] && stop_pid "$p"; done
	stop_pid "$DPID"
	lab_teardown "$FG" "$PIN" "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || die "run as root"
for c in nginx ethtool curl jq nft; do
	command -v $c >/dev/null || die "$c is missing (make deps)"
done
[ -x "$FG" ] && [ -x "$TG" ] || die "build $FG and $TG first (make)"

fg() { "$FG" --pin-dir "$PIN" "$@"; }
# tg_bg OUT NS ARGS...: the generator in the background, towards the server
tg_bg() {
	local out=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$TG" -j send lab0 --dmac "$LAB_SRV_MAC" "$@" >"$out" 2>>"$TMP/tg.err" &
	BG=$!
}

# config A|B: the two configs the reloads alternate between
config() {
	local pps=10000 burst=1000 thr=20000 ev=100
	[ "$1" == B ] && pps=12000 burst=1500 thr=15000 ev=50
	cat >"$TMP/fg.yaml.new" <<EOF
interfaces: [$LAB_IF_ATK, $LAB_IF_CLI]
tables:
  sources: 65536
  bans: 1024
default:
  pps: $pps
  burst: $((pps * 2))
under_attack:
  new_sources_per_second: $thr
ban_policy:
  forget_after: 10s
  events_per_second: $ev
metrics:
  top_sources: 5
endpoints:
  - endpoint: udp/5353
    pps: 1000
    burst: $burst
  - endpoint: udp/5354
    pps: 100
    burst: 100
    action: ban
    ban_for: 5s
    ban_max: 30s
  - endpoint: tcp/443
    pps: 2000
    syn_pps: 50
    syn_burst: 100
EOF
	mv "$TMP/fg.yaml.new" "$TMP/fg.yaml" # the daemon never reads half a file
}

# flood KIND: a 10 s flood in the background (bounded in count and time)
flood() {
	local out=$TMP/flood$flood_runs.json
	case $1 in
	0) tg_bg "$out" "$LAB_NS_ATK" --dst "$LAB_SRV4" --dport 5353 --src 198.18.0.0 --sources 131072 \
		--rate 150000 --count 1500000 --duration 10 ;;
	1) tg_bg "$out" "$LAB_NS_ATK" --dst "$LAB_SRV6" --dport 5353 --src 2001:db8:: \
		--sources 4294967295 --random --rate 150000 --count 1500000 --duration 10 ;;
	2) tg_bg "$out" "$LAB_NS_ATK" --dst "$LAB_SRV4" --dport 5354 --src 198.19.100.0 --sources 16 \
		--rate 100000 --count 1000000 --duration 10 ;;
	3) tg_bg "$out" "$LAB_NS_ATK" --dst "$LAB_SRV4" --dport 443 --proto syn --src 198.19.64.0 \
		--sources 4096 --rate 100000 --count 1000000 --duration 10 ;;
	esac
	FLOOD=$BG
}
FLOOD=
flood_names=("IPv4 churn," "IPv6 random churn," "abusive sources (bans)," "SYN flood")

# counters FILE: "series value" of every counter sample (per-source series left out)
counters() {
	awk '/^# TYPE / { type[$3] = $4; next }
	     /^#/ || NF < 2 { next }
	     { name = $1; sub(/\{.*/, "", name)
	       if (type[name] == "counter" && name !~ /^floodgate_source_/) print $1, $2 }' "$1"
}
mval() { awk -v n="$2" '$1 == n { print $2; exit }' "$1"; } # FILE SERIES
rss_kb() { awk '/^VmRSS:/ { print $2 }' /proc/$DPID/status 2>/dev/null; }
nfds() { find /proc/$DPID/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# --- set up ---
note "soak: ${SOAK_SECONDS} s, warm-up ${WARMUP} s, lab fgl$LAB_ID, pins $PIN"
scripts/lab.sh up >"$TMP/lab.out" 2>&1 || {
	cat "$TMP/lab.out" >&2
	die "lab up failed"
}
eval "$(scripts/lab.sh env)"
# the receiver: the legitimate client's packets counted, the floods dropped on arrival
ip netns exec "$LAB_NS_SRV" nft -f - <<EOF || die "nftables in the server namespace"
table netdev fgtsoak {
	counter legit {}
	chain in {
		type filter hook ingress device lab0 priority 0;
		ip saddr 198.18.0.2 udp sport 41000 counter name legit accept
		udp dport { 5353, 5354 } drop
		tcp dport 443 drop
	}
}
EOF
legit_rx() {
	ip netns exec "$LAB_NS_SRV" nft -j list counter netdev fgtsoak legit |
		jq '.nftables[] | select(.counter) | .counter.packets'
}
config A
fg_ver=$("$FG" --version 2>/dev/null)
"$FG" --pin-dir "$PIN" run --config "$TMP/fg.yaml" --metrics 127.0.0.1:0 \
	>"$TMP/run.out" 2>"$TMP/run.err" &
DPID=$!
for _ in $(seq 200); do
	grep -q 'serving metrics' "$TMP/run.err" && break
	exited $DPID && break
	sleep 0.1
done
grep -q 'serving metrics' "$TMP/run.err" || {
	cat "$TMP/run.err" >&2
	die "floodgate run did not start"
}
URL=http://127.0.0.1:$(grep -o 'port [0-9]*' "$TMP/run.err" | head -1 | grep -o '[0-9]*')/metrics
note "daemon pid $DPID ${fg_ver:+($fg_ver) }serving $URL"
tx0=$(ip -n "$LAB_NS_CLI" -j -s link show dev lab0 | jq '.[0].stats64.tx.packets')
tg_bg "$TMP/legit.json" "$LAB_NS_CLI" --dst "$LAB_SRV4" --dport 5353 --src 198.18.0.2 \
	--sport 41000 --rate 100 --count $((100 * (SOAK_SECONDS + 120))) --duration $((SOAK_SECONDS + 120))
LEGIT=$BG

# --- the loop ---
scrapes=0 scrape_fail=0 over_cap=0 max_tracked=0 cap=0
prev_tr= prev_created= exact_checks=0 max_exact=0 over_first=
reloads=0 bans_added=0 bans_deleted=0 flood_runs=0
rss_base=0 rss_max=0 rss_min='' fd_base=0 fd_max=0 fd_min=''
max_scrape_ms=0 max_ban_records=0 min_ban_records='' max_manual=0 attack_seen=0
: >"$TMP/prev.counters"
: >"$TMP/decreases"
start=$(date +%s)
next=$start
t=0
while [ $t -lt "$SOAK_SECONDS" ]; do
	# /proc samples first: the last scrape is a second old, this second's reload not sent yet
	r=$(rss_kb) f=$(nfds)
	if [ -n "$r" ]; then
		if [ $t -ge $((WARMUP / 2)) ] && [ $t -lt "$WARMUP" ]; then
			[ "$r" -gt "$rss_base" ] && rss_base=$r
			[ "$f" -gt "$fd_base" ] && fd_base=$f
		elif [ $t -ge "$WARMUP" ]; then
			[ "$r" -gt "$rss_max" ] && rss_max=$r
			{ [ -z "$rss_min" ] || [ "$r" -lt "$rss_min" ]; } && rss_min=$r
			[ "$f" -gt "$fd_max" ] && fd_max=$f
			{ [ -z "$fd_min" ] || [ "$f" -lt "$fd_min" ]; } && fd_min=$f
			[ "$f" -gt "$fd_base" ] && ls -l /proc/$DPID/fd >"$TMP/fds.t$t" 2>/dev/null
		fi
		echo "$t $r $f" >>"$TMP/proc.log"
	fi
	# floods: 10 s on, 10 s off, kinds in turn
	if [ $((t % 20)) -eq 0 ]; then
		[ -n "$FLOOD" ] && stop_pid "$FLOOD"
		flood $(((t / 20) % 4))
		flood_runs=$((flood_runs + 1))
	fi
	# reloads, alternating configs
	if [ $t -gt 0 ] && [ $((t % 3)) -eq 0 ]; then
		if [ $((t / 3 % 2)) -eq 1 ]; then config B; else config A; fi
		kill -HUP $DPID && reloads=$((reloads + 1))
	fi
	# manual bans come (for 3 s) and some go by hand
	if [ $((t % 2)) -eq 0 ]; then
		n=$((t / 2))
		fg ban add 198.18.200.$((n % 250)) --for 3s >/dev/null 2>>"$TMP/cli.err" &&
			bans_added=$((bans_added + 1))
		if [ $((n % 4)) -eq 3 ]; then
			fg ban del 198.18.200.$((n % 250)) >/dev/null 2>>"$TMP/cli.err" &&
				bans_deleted=$((bans_deleted + 1))
		fi
	fi
	# the scrape
	s0=$(date +%s%N)
	if curl -sf --max-time 5 "$URL" >"$TMP/m.txt" 2>/dev/null; then
		ms=$((($(date +%s%N) - s0) / 1000000))
		[ $ms -gt $max_scrape_ms ] && max_scrape_ms=$ms
		scrapes=$((scrapes + 1))
		counters "$TMP/m.txt" >"$TMP/cur.counters"
		awk -v t=$t 'NR == FNR { prev[$1] = $2; next }
			($1 in prev) && $2 + 0 < prev[$1] + 0 { print "t=" t, $1, prev[$1], "->", $2 }' \
			"$TMP/prev.counters" "$TMP/cur.counters" >>"$TMP/decreases"
		mv "$TMP/cur.counters" "$TMP/prev.counters"
		tr=$(mval "$TMP/m.txt" floodgate_sources_tracked)
		cap=$(mval "$TMP/m.txt" floodgate_source_table_capacity)
		created=$(mval "$TMP/m.txt" floodgate_sources_created_total)
		[ "${tr:-0}" -gt "$max_tracked" ] && max_tracked=$tr
		if [ -n "$prev_tr" ] && [ -n "$created" ]; then
			# the previous scrape's walk ran between its counter read and this one's
			during=$((created - prev_created))
			if [ "$prev_tr" -gt $((${cap:-0} + during)) ]; then
				over_cap=$((over_cap + 1))
				[ -n "$over_first" ] ||
					over_first="t=$t: $prev_tr tracked, capacity $cap, $during created meanwhile"
			fi
			if [ "$during" -eq 0 ]; then
				exact_checks=$((exact_checks + 1))
				[ "$prev_tr" -gt "$max_exact" ] && max_exact=$prev_tr
			fi
		fi
		[ -n "$created" ] || over_cap=$((over_cap + 1)) over_first="no floodgate_sources_created_total"
		prev_tr=${tr:-0} prev_created=${created:-0}
		br=$(mval "$TMP/m.txt" floodgate_ban_records)
		[ "${br:-0}" -gt "$max_ban_records" ] && max_ban_records=$br
		[ $t -ge "$WARMUP" ] && { [ -z "$min_ban_records" ] || [ "${br:-0}" -lt "$min_ban_records" ]; } &&
			min_ban_records=$br
		mb=$(mval "$TMP/m.txt" 'floodgate_list_entries{list="ban"}')
		[ "${mb:-0}" -gt "$max_manual" ] && max_manual=$mb
		[ "$(mval "$TMP/m.txt" floodgate_under_attack)" == 1 ] && attack_seen=$((attack_seen + 1))
	else
		scrape_fail=$((scrape_fail + 1))
	fi
	if [ $((t % 60)) -eq 59 ]; then
		note "t=$((t + 1))s rss ${r:-?} kB fds ${f:-?} tracked ${tr:-?}/${cap:-?}" \
			"ban records ${br:-?} manual bans ${mb:-?} reloads $reloads scrapes $scrapes"
	fi
	exited $DPID && break
	next=$((next + 1))
	while [ "$(date +%s)" -lt $next ]; do sleep 0.05; done
	t=$((next - start))
done
[ -n "$FLOOD" ] && stop_pid "$FLOOD"
stop_pid "$LEGIT"
sleep 2

# --- the verdicts ---
alive=1
exited $DPID && alive=0
check "the daemon ran the whole soak" test $alive -eq 1
if [ $alive -eq 1 ]; then
	curl -sf --max-time 5 "$URL" >"$TMP/m.txt" && counters "$TMP/m.txt" >"$TMP/cur.counters" &&
		awk 'NR == FNR { prev[$1] = $2; next }
			($1 in prev) && $2 + 0 < prev[$1] + 0 { print "end", $1, prev[$1], "->", $2 }' \
			"$TMP/prev.counters" "$TMP/cur.counters" >>"$TMP/decreases"
	r_end=$(rss_kb) f_end=$(nfds)
	# the last loop scrape's count, bounded by this scrape's counter read
	created=$(mval "$TMP/m.txt" floodgate_sources_created_total)
	if [ -n "$prev_tr" ] && [ -n "$created" ] &&
		[ "$prev_tr" -gt $((${cap:-0} + created - prev_created)) ]; then
		over_cap=$((over_cap + 1))
		[ -n "$over_first" ] || over_first="last scrape: $prev_tr tracked, capacity $cap"
	fi
fi
nser=$(wc -l <"$TMP/prev.counters")
if [ -s "$TMP/decreases" ]; then
	notok "counters only increase ($(wc -l <"$TMP/decreases") decreases; first: $(head -1 "$TMP/decreases"))"
else
	ok "counters only increase ($scrapes scrapes of $nser counter series)"
fi
check "every scrape answered ($scrapes answered, $scrape_fail failed; slowest ${max_scrape_ms} ms)" \
	test "$scrape_fail" -eq 0 -a "$scrapes" -gt 0
check "sources tracked never exceed capacity plus buckets created during the count (max $max_tracked of $cap; $exact_checks scrapes with none created, max $max_exact${over_first:+; first over: $over_first})" \
	test "$over_cap" -eq 0 -a "$exact_checks" -gt 0 -a "$max_exact" -le "${cap:-0}"
if [ "$rss_base" -gt 0 ] && [ -n "$rss_min" ]; then
	# warm-up: its second half sets the high-water marks; after it, a leak would climb past them
	early=$(awk -v w="$WARMUP" -v n="$SOAK_SECONDS" '$1 >= w && $1 < w + (n - w) / 4 { s += $2; c++ }
		END { if (c) printf "%d", s / c }' "$TMP/proc.log")
	late=$(awk -v w="$WARMUP" -v n="$SOAK_SECONDS" '$1 >= n - (n - w) / 4 { s += $2; c++ }
		END { if (c) printf "%d", s / c }' "$TMP/proc.log")
	pct=$(awk -v b="$rss_base" -v m="$rss_max" 'BEGIN { printf "%+.2f", (m - b) * 100 / b }')
	check "daemon RSS within 5% after warm-up (warm-up high: $rss_base kB; then $rss_min..$rss_max kB, $pct%; end ${r_end:-?} kB)" \
		test $((rss_max * 100)) -le $((rss_base * 105))
	note "daemon RSS mean: first quarter after warm-up ${early:-?} kB, last quarter ${late:-?} kB"
	# a transient descriptor (a scrape's connection closing, a reload reading the config)
	# may be caught; a leak grows with every reload or scrape, hundreds over a soak
	check "no file descriptor growth (warm-up high: $fd_base; then $fd_min..$fd_max; end ${f_end:-?})" \
		test "$fd_max" -le $((fd_base + 2)) -a "${f_end:-999}" -le "$fd_base"
	for x in "$TMP"/fds.t*; do
		[ -e "$x" ] && note "more descriptors than the warm-up high at ${x##*.t} s:" \
			"$(awk 'NR > 1 { print $NF }' "$x" | sort | uniq -c | sort -rn | head -8 | tr -s ' \n' ' ')" && break
	done
else
	notok "daemon RSS and file descriptors sampled during and after warm-up"
fi
applied=$(grep -c '^<6>reload: .* applied' "$TMP/run.err")
check "every reload applied ($reloads sent, $applied applied)" test "$applied" -eq "$reloads"
# expected: info and notice lines; under-attack lines (errors by design); ban lines, their
# per-second summaries and lost ban events (warnings)
unexpected=$(grep -v '^<[5-7]>' "$TMP/run.err" |
	grep -Ev '^<3>.* under_attack_on cpu [0-9]+: new sources are charged|^<4>.* ban [0-9a-f.:]+(/[0-9]+)? endpoint |^<4>bans: [0-9]+ more in the last second|^<4>events: [0-9]+ ban events not recorded')
check "no unexpected log lines${unexpected:+ ($(echo "$unexpected" | wc -l), first: $(head -1 <<<"$unexpected"))}" \
	test -z "$unexpected"
cli_errors=$(grep -v '^error: ban del: .*not banned\|^$' "$TMP/cli.err" 2>/dev/null)
check "the CLI reported no errors${cli_errors:+ (first: $(head -1 <<<"$cli_errors"))}" test -z "$cli_errors"
if [ $alive -eq 1 ]; then
	kill -TERM $DPID
	for _ in $(seq 100); do
		exited $DPID && break
		sleep 0.1
	done
	wait $DPID
	rc=$?
	DPID=
	check "SIGTERM stops the daemon with status 0" test $rc -eq 0
fi

# --- the figures ---
tx1=$(ip -n "$LAB_NS_CLI" -j -s link show dev lab0 | jq '.[0].stats64.tx.packets')
rx=$(legit_rx)
sent=$(cat "$TMP"/flood*.json 2>/dev/null | jq -s 'map(.frames // 0) | add // 0')
note "floods: $flood_runs runs of 10 s, in turn: ${flood_names[*]}; $sent frames sent;" \
	"$(cat "$TMP/tg.err" 2>/dev/null | grep -c .) generator messages"
note "scrapes saying under attack: $attack_seen; under-attack entries: $(mval "$TMP/m.txt" floodgate_under_attack_entered_total)"
note "bans by the data path: $(mval "$TMP/m.txt" floodgate_bans_total); ban records after warm-up ${min_ban_records:-?}..$max_ban_records;" \
	"manual bans: $bans_added added, $bans_deleted deleted by hand, at most $max_manual at once"
note "ban lines logged: $(grep -c '^<4>.* ban ' "$TMP/run.err"); under-attack lines: $(grep -c 'under_attack_on' "$TMP/run.err") on, $(grep -c 'under_attack_off' "$TMP/run.err") off"
note "packets: $(mval "$TMP/m.txt" 'floodgate_packets_total{action="pass",reason="passed"}') passed within limits;" \
	"the legitimate client (100/s, 10% of its limit) sent $((tx1 - tx0)), the receiver got $rx" \
	"($(awk -v s=$((tx1 - tx0)) -v r="$rx" 'BEGIN { if (s) printf "%.3f", (s - r) * 100 / s }')% lost)"
if [ $fails -eq 0 ]; then
	echo "soak: PASS ($SOAK_SECONDS s)"
	exit 0
fi
echo "soak: FAIL ($fails checks failed)"
exit 1
