#!/bin/bash
# tests/e2e/test_e2e.sh: real BitTorrent clients are stopped and real services pass, through the router, without and with btblockd.
#
# Through the real kernel, in namespaces this script creates and always
# removes (tests/integration/lab.sh: client / router / server):
#   1. Setup: the normal services (tests/e2e/normal.sh: nginx, sshd,
#      dnsmasq, an echo server; the router's links shaped to a WAN rate)
#      and the BitTorrent seeders, trackers and DHT nodes (tests/e2e/bt.sh),
#      each case on addresses of its own.
#   2. A long-lived TCP connection opens; it echoes a line every second
#      until the end and must never break.
#   3. Phase "off": no btblockd, no firewall rules. Every normal case
#      (NORMAL_REPEATS runs each, one after the other), then every
#      BitTorrent case, all at once (own addresses, ports and
#      directories), each with up to E2E_BT_LIMIT_OFF seconds.
#   4. btblockd (default configuration: only the lab's socket, pid file and
#      detection log) and `btblockd-firewall up` in the router, on the same
#      queues 0..N-1 (N online CPUs, the daemon's default).
#   5. Phase "on": every normal case again, then every BitTorrent case,
#      all at once (as in phase off), 30 s each.
#   6. Assertions: off: every BitTorrent case completed. on: none completed,
#      each received < 65536 payload bytes, and a detection names each
#      case's addresses (btblockd stopped it, nothing else). Both phases: every normal
#      case completed with a matching checksum; on: median throughput at
#      least E2E_MIN_RATIO (0.9) of off's. The long-lived connection never
#      failed. No detection names an address of the normal cases.
#   7. Phase "late" (tests/e2e/late.sh): btblockd and its ruleset removed,
#      the BitTorrent cases start again (seeders limited to a rate at
#      which they run for minutes), with an HTTPS download, an SSH
#      session and a UDP stream alongside; btblockd and its ruleset come
#      up in the middle (T0), the daemon restarts, the ruleset is flushed
#      and comes back. No case may complete, or receive 64 KiB from
#      T0 + 30 s until the flush; the normal connections must complete
#      intact.
#   8. A markdown table (case, phase, bytes, completed, seconds, throughput,
#      detectors that fired for the case's addresses, from the detection
#      log) printed and written to $E2E_REPORT, the detection log copied
#      next to it (detect.jsonl).
# Every figure is computed before the test fails, so one run shows them all.
#
# Run: make check-e2e (contrib/check.sh's "e2e"
# stage); a few minutes. Needs root and the packages contrib/install-deps.sh
# installs; without them it fails loudly naming what is missing (77 only
# for missing root/namespaces with BTBLOCKD_SKIP_KERNEL_TESTS=1).
# Developer aid, never set by CI: E2E_ONLY=normal skips the BitTorrent
# cases (and bt.sh, and phase late); E2E_ONLY=bt skips the normal cases;
# E2E_ONLY=late runs phase late alone (BitTorrent cases, its own normal
# connections). The WebTorrent cases, and a WebRTC call and a WebSocket
# application that must pass beside them (tests/e2e/webtorrent.sh), run
# with the BitTorrent cases of phases off and on; E2E_ONLY=webtorrent
# runs only them.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../integration/lab.sh
. "$here/../integration/lab.sh"
# shellcheck source-path=SCRIPTDIR source=normal.sh
. "$here/normal.sh"

E2E_ONLY=${E2E_ONLY:-}
E2E_BT_LIMIT_OFF=${E2E_BT_LIMIT_OFF:-120}
E2E_BT_LIMIT_ON=30               # stopped within 30 s
E2E_BT_MAX_BYTES=65536           # less than 64 KiB of payload
E2E_MIN_RATIO=${E2E_MIN_RATIO:-0.9}
E2E_REPORT=${E2E_REPORT:-${BTBLOCKD_BUILDDIR:-.}/tests/e2e/report.md}

if [ "$E2E_ONLY" != normal ]; then
	if [ ! -f "$here/bt.sh" ]; then
		printf '\n*** FAIL: %s is missing: the BitTorrent cases are part of this test ***\n\n' "$here/bt.sh" >&2
		exit 1
	fi
	# shellcheck source-path=SCRIPTDIR source=bt.sh
	. "$here/bt.sh"
	# shellcheck source-path=SCRIPTDIR source=late.sh
	. "$here/late.sh"
else
	BT_CASES=""
fi
[ "$E2E_ONLY" != bt ] || NORMAL_CASES=""
# WT_CASES are asserted as BitTorrent cases, WT_PASS_CASES must pass.
# shellcheck source-path=SCRIPTDIR source=webtorrent.sh
. "$here/webtorrent.sh"
case "$E2E_ONLY" in
normal | bt | late) WT_CASES="" WT_PASS_CASES="" ;;
webtorrent) BT_CASES="" NORMAL_CASES="" ;;
esac

# case_fn FUNCTION CASE ARGS...: bt_FUNCTION, or wt_FUNCTION for a case of
# webtorrent.sh (run, case_addrs).
case_fn() {
	local fn="$1"
	shift
	case " $WT_CASES $WT_PASS_CASES " in
	*" $1 "*) "wt_$fn" "$@" ;;
	*) "bt_$fn" "$@" ;;
	esac
}

# status_to FILE CMD...: runs CMD (errexit on, as everywhere here) and
# writes its exit status to FILE. For commands run in the background: the
# status `wait PID` gives is lost when the PID is reused by a later child
# of this shell before the wait, which the lab's process churn does (bash
# then says "pid N is not a child of this shell").
status_to() {
	local file="$1" rc
	shift
	set +e
	(set -e; "$@")
	rc=$?
	set -e
	echo "$rc" >"$file"
}

# case_status FILE: the status status_to wrote, or "none".
case_status() {
	cat "$1" 2>/dev/null || echo none
}

failures=0
RESULTS=""          # one line per case and phase: phase=<p> case=... (key=value)
BG_PIDS=""          # running BitTorrent cases, pid:case (subshells in this namespace)

# The lab's cleanup, after stopping our own background jobs (they live in
# this namespace, so lab_cleanup's per-namespace kill does not reach them).
# lab_cleanup reads the exit status from $?, so it is set again just
# before; set +e first, or that failing status would end the trap early.
e2e_cleanup() {
	local status=$? pid
	set +e
	for pid in $BG_PIDS; do
		kill "${pid%%:*}" 2>/dev/null
	done
	(exit "$status")
	lab_cleanup
}

# record PHASE LINE: keeps a case's result line, after checking its form.
record() {
	local phase="$1" line="$2" k
	for k in case bytes completed seconds; do
		if [ -z "$(normal_field "$k" "$line")" ]; then
			check_fail "phase $phase: result line without $k=: '$line'"
			return 0
		fi
	done
	echo "RESULT phase=$phase $line"
	RESULTS="${RESULTS}phase=$phase $line
"
}

result() {
	printf '%s' "$RESULTS" | grep -E "^phase=$1 case=$2( |$)" | head -n1
}

run_normal_phase() {
	local phase="$1" c line
	for c in $NORMAL_CASES; do
		line=$(normal_run "$c") || fail "phase $phase: normal case $c: lab error"
		record "$phase" "$line"
	done
}

# run_bt PHASE LIMIT: every BitTorrent case at once (each has its own
# addresses, ports and directories, and bt_run is safe to run
# concurrently): a blocked case spends its whole limit waiting, and the
# phase takes as long as its slowest case, not the sum.
run_bt() {
	local phase="$1" limit="$2" c pid line rc
	for c in $BT_CASES $WT_CASES $WT_PASS_CASES; do
		status_to "$LAB_TMP/bt-$phase-$c.rc" case_fn run "$c" "$limit" \
			>"$LAB_TMP/bt-$phase-$c.out" 2>>"$LAB_TMP/bt-$phase-$c.log" &
		BG_PIDS="$BG_PIDS $!:$c"
	done
	for pid in $BG_PIDS; do
		c=${pid#*:}
		wait "${pid%%:*}" 2>/dev/null || true
		rc=$(case_status "$LAB_TMP/bt-$phase-$c.rc")
		if [ "$rc" != 0 ]; then
			check_fail "phase $phase: BitTorrent case $c: lab error (bt_run failed, status $rc)"
			sed 's/^/  | /' "$LAB_TMP/bt-$phase-$c.log" >&2
		fi
		line=$(grep '^case=' "$LAB_TMP/bt-$phase-$c.out" | tail -n1 || true)
		if [ -z "$line" ]; then
			check_fail "phase $phase: BitTorrent case $c printed no result"
			continue
		fi
		record "$phase" "$line"
	done
	BG_PIDS=""
}

# detectors ADDR...: "detector xN, ..." of the detection log lines whose
# source or destination is one of ADDR, or "-". DETECT_LOG names the log
# (default: phases off and on).
detectors() {
	"$LAB_PYTHON" - "${DETECT_LOG:-$LAB_TMP/detect.jsonl}" "$@" <<'EOF'
import collections, ipaddress, json, sys
wanted = {ipaddress.ip_address(a) for a in sys.argv[2:] if a}
hits = collections.Counter()
try:
    lines = open(sys.argv[1]).read().splitlines()
except OSError:
    lines = []
for raw in lines:
    try:
        ev = json.loads(raw)
    except ValueError:
        continue
    if "detector" not in ev:
        continue
    for end in ev.get("src", ""), ev.get("dst", ""):
        host = end.rsplit(":", 1)[0].strip("[]")
        try:
            if ipaddress.ip_address(host) in wanted:
                hits[ev["detector"]] += 1
                break
        except ValueError:
            pass
print(", ".join("%s x%d" % kv for kv in sorted(hits.items())) or "-")
EOF
}

# The Mbit/s of a BitTorrent line (bytes over seconds).
bt_rate() {
	awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1fMbit/s", (s > 0 ? b * 8 / s / 1e6 : 0) }'
}

num() {
	printf '%s\n' "$1" | sed 's/^\([0-9.]*\).*/\1/'
}

assert_normal() {
	local c off on roff ron line
	for c in $NORMAL_CASES; do
		off=$(result off "$c")
		on=$(result on "$c")
		if [ -z "$off" ] || [ -z "$on" ]; then
			check_fail "normal case $c: a phase has no result"
			continue
		fi
		for line in "$off" "$on"; do
			if [ "$(normal_field completed "$line")" != 1 ] || [ "$(normal_field checksum "$line")" != ok ]; then
				check_fail "normal case $c did not complete intact: $line"
			fi
		done
		roff=$(num "$(normal_field rate "$off")")
		ron=$(num "$(normal_field rate "$on")")
		if ! awk -v a="$ron" -v b="$roff" -v r="$E2E_MIN_RATIO" 'BEGIN { exit !(a >= r * b) }'; then
			check_fail "normal case $c: median throughput with btblockd $ron < $E2E_MIN_RATIO x $roff without"
		fi
	done
}

assert_bt() {
	local c off on
	for c in $BT_CASES $WT_CASES; do
		off=$(result off "$c")
		on=$(result on "$c")
		if [ "$(normal_field completed "$off")" != 1 ]; then
			check_fail "BitTorrent case $c did not complete without btblockd: the lab does not work (${off:-no result})"
		fi
		if [ -z "$on" ]; then
			check_fail "BitTorrent case $c: no result with btblockd"
		elif [ "$(normal_field completed "$on")" != 0 ]; then
			check_fail "BitTorrent case $c completed with btblockd"
		elif [ "$(normal_field bytes "$on")" -ge "$E2E_BT_MAX_BYTES" ]; then
			check_fail "BitTorrent case $c received $(normal_field bytes "$on") bytes with btblockd (< $E2E_BT_MAX_BYTES expected)"
		fi
		# Stopped by btblockd, not by something else going wrong: a
		# detection names one of the case's own addresses.
		# shellcheck disable=SC2046 # one argument per address
		if [ "$(detectors $(case_fn case_addrs "$c"))" = - ]; then
			check_fail "BitTorrent case $c: no detection names its addresses; what stopped it?"
		fi
	done
}

# The table: every case, both phases, detectors from the detection log.
report() {
	local c phase line addrs dets thr
	echo "| case | phase | bytes received | completed | seconds | throughput | detectors (btblockd) |"
	echo "|---|---|---:|:---:|---:|---:|---|"
	for c in $NORMAL_CASES long_tcp $BT_CASES $WT_CASES $WT_PASS_CASES late_https late_ssh late_udp; do
		case " $BT_CASES $WT_CASES $WT_PASS_CASES " in
		*" $c "*) addrs=$(case_fn case_addrs "$c") ;;
		*) addrs="$LAB_CLIENT4 $LAB_CLIENT6 $LAB_SERVER4 $LAB_SERVER6" ;;
		esac
		# shellcheck disable=SC2086 # one argument per address
		dets=$(detectors $addrs)
		for phase in off on late all; do
			line=$(result "$phase" "$c")
			[ -n "$line" ] || continue
			# shellcheck disable=SC2086 # one argument per address
			[ "$phase" != late ] || dets=$(DETECT_LOG="$LAB_TMP/detect-late.jsonl" detectors $addrs)
			thr=$(normal_field rate "$line")
			[ -n "$thr" ] || thr=$(bt_rate "$(normal_field bytes "$line")" "$(normal_field seconds "$line")")
			printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$c" "$phase" "$(normal_field bytes "$line")" \
				"$(normal_field completed "$line")" "$(normal_field seconds "$line")" "$thr" \
				"$([ "$phase" = off ] && echo - || echo "$dets")"
		done
	done
}

lab_require_kernel || exit $?
lab_require_binaries || exit 1
normal_require || exit 1

start=$(date +%s)
trap e2e_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
lab_create
normal_setup || fail "normal_setup failed"
if [ -n "$BT_CASES" ]; then
	bt_setup || fail "bt_setup failed"
fi
if [ -n "$WT_CASES$WT_PASS_CASES" ]; then
	wt_setup || fail "wt_setup failed"
fi
normal_longlived_start || fail "the long-lived TCP connection did not open"

[ "$E2E_ONLY" != late ] || NORMAL_CASES=""
lab_log "phase off: no btblockd, no firewall rules"
run_normal_phase off
[ "$E2E_ONLY" = late ] || [ -z "$BT_CASES$WT_CASES$WT_PASS_CASES" ] || run_bt off "$E2E_BT_LIMIT_OFF"

queues="0-$(( $(nproc) - 1 ))"
# The shipped default configuration (every line a comment): a host's
# /etc/btblockd.conf must not change what this test runs.
cp "$BTBLOCKD_SRCDIR/contrib/btblockd.conf" "$LAB_TMP/btblockd.conf"
# The daemon first, then the rules: no packet is ever queued to nobody.
lab_daemon_start --config "$LAB_TMP/btblockd.conf" --queues "$queues" \
	--detect-log "$LAB_TMP/detect.jsonl" || fail "btblockd did not start"
lab_exec router "$BTBLOCKD_FIREWALL" up --queues "$queues" >"$LAB_TMP/firewall.log" 2>&1 ||
	{ cat "$LAB_TMP/firewall.log" >&2; fail "btblockd-firewall up --queues $queues failed"; }
lab_log "phase on: btblockd on queues $queues, $(sed -n 's/.*backend \([a-z]*\).*/\1/p' "$LAB_TMP/firewall.log" | head -n1) backend"
run_normal_phase on
[ "$E2E_ONLY" = late ] || [ -z "$BT_CASES$WT_CASES$WT_PASS_CASES" ] || run_bt on "$E2E_BT_LIMIT_ON"

if [ "$E2E_ONLY" != late ]; then
	kill -0 "$LAB_DAEMON_PID" 2>/dev/null || check_fail "btblockd died during the test"
	stats=$(lab_stats || true)
	lab_log "btblockd stats: $stats"
	assert_normal
	assert_bt
	wt_assert
fi

# Phase "late" (tests/e2e/late.sh): btblockd and its ruleset gone, then
# started again in the middle of running transfers.
if [ -n "$BT_CASES" ]; then
	lab_daemon_kill -TERM
	lab_exec router "$BTBLOCKD_FIREWALL" down >>"$LAB_TMP/firewall.log" 2>&1 ||
		fail "btblockd-firewall down failed"
	lab_log "phase late: no btblockd, no ruleset; transfers start"
	late_run
	kill -0 "$LAB_DAEMON_PID" 2>/dev/null || check_fail "btblockd died during phase late"
	lab_log "btblockd stats (phase late): $(lab_stats || true)"
	late_assert
fi
record all "$(normal_longlived_stop)"
ll=$(result all long_tcp)
if [ "$(normal_field completed "$ll")" != 1 ] || [ "$(normal_field checksum "$ll")" != ok ]; then
	check_fail "the long-lived TCP connection failed: $ll"
fi
# shellcheck disable=SC2086 # one argument per address
fp=$(detectors $LAB_CLIENT4 $LAB_CLIENT6 $LAB_SERVER4 $LAB_SERVER6)
[ "$fp" = - ] || check_fail "detections on the normal cases' addresses (false positives): $fp"

mkdir -p "$(dirname "$E2E_REPORT")"
# The raw detection log next to the report: the table's last column.
cp "$LAB_TMP/detect.jsonl" "$(dirname "$E2E_REPORT")/detect.jsonl" 2>/dev/null || true
{
	echo "# btblockd e2e lab ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(( $(date +%s) - start )) s)"
	echo
	echo "Router links shaped to $E2E_LINK_RATE; normal cases: median of $NORMAL_REPEATS runs (runs=)."
	echo "BitTorrent cases all at once, limits: off $E2E_BT_LIMIT_OFF s, on $E2E_BT_LIMIT_ON s."
	# Lines over --detect-log-rate are only counted: the detectors column
	# could then miss one.
	echo "Detection log: $(grep -c '"detector"' "$LAB_TMP/detect.jsonl" 2>/dev/null || echo 0) detections," \
		"$(sed -n 's/.*"suppressed":\([0-9]*\).*/\1/p' "$LAB_TMP/detect.jsonl" 2>/dev/null |
			awk '{ n += $1 } END { print n + 0 }') suppressed by its rate limit."
	echo
	report
	if [ -n "$BT_CASES" ]; then
		echo
		echo "Phase late: bytes each case had received (T0: btblockd and its ruleset up; T1: back after nft flush ruleset)."
		echo
		late_report
	fi
} >"$E2E_REPORT"
echo
cat "$E2E_REPORT"
echo
echo "report written to $E2E_REPORT"
lab_log "e2e run took $(( $(date +%s) - start )) s, $failures failed checks"
[ "$failures" = 0 ] || exit 1
echo "PASS: e2e lab, every assertion held"
