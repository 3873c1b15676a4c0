#!/bin/sh
# test_btblockctl.sh: btblockctl against a real btblockd (queues 40-41 in a throw-away network namespace).
#
# Checks stats (JSON and --table), prometheus, top, version, reload
# (SIGHUP through the pid file), the usage exit status, and the sentences
# for a daemon that is not running, a socket without permission and a
# stale pid file. Needs root (namespaces, NFQUEUE): fails loudly without
# it, skipped (77) with BTBLOCKD_SKIP_KERNEL_TESTS=1.
set -eu

srcdir=${BTBLOCKD_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BTBLOCKD=${BTBLOCKD:-src/btblockd}
BTBLOCKCTL=${BTBLOCKCTL:-${BTBLOCKD_BUILDDIR:-.}/src/btblockctl}
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$srcdir/tests/lib.sh"

# Every option of --help is documented in the man page (no root needed).
man=$srcdir/man/btblockctl.8
for opt in $("$BTBLOCKCTL" --help | grep -o -e '--[a-z][a-z-]*' | sort -u); do
	fl=${opt#-}	# mdoc writes --socket as "Fl -socket"
	if ! grep -q -e "^\.It Fl.* Fl $fl\b\|^\.It Fl $fl\b" "$man"; then
		echo "FAIL: $opt is in btblockctl --help but has no .It entry in btblockctl.8"
		exit 1
	fi
done

if [ "${BTBLOCKD_SKIP_KERNEL_TESTS:-0}" = 1 ]; then
	skip "test_btblockctl.sh needs root and network namespaces (BTBLOCKD_SKIP_KERNEL_TESTS=1)"
fi
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null 2>&1; then
	echo "*** test_btblockctl.sh needs root and ip(8); run make check as root, or set BTBLOCKD_SKIP_KERNEL_TESTS=1 to skip it. ***" >&2
	exit 1
fi

ns=btbctl-$$
daemon_pid=
sleeper=

cleanup() {
	[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
	[ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
}
tmpdir_trap cleanup

# expect STATUS OUTFILE CMD...: run CMD, stdout+stderr to OUTFILE, check its status.
expect() {
	want=$1
	out=$2
	shift 2
	set +e
	"$@" >"$out" 2>&1
	got=$?
	set -e
	if [ "$got" != "$want" ]; then
		fail "'$*' exited $got, expected $want:"
		sed 's/^/    /' "$out"
		return 1
	fi
	return 0
}

# has FILE TEXT WHAT: FILE contains the fixed string TEXT.
has() {
	if grep -qF -e "$2" "$1"; then
		ok "$3"
	else
		fail "$3: '$2' not in:"
		sed 's/^/    /' "$1"
	fi
}

version=$("$BTBLOCKD" --version | sed -n '1s/^btblockd //p')
sock=$tmp/btblockd.sock
pidfile=$tmp/btblockd.pid
chmod 755 "$tmp"

# --- no daemon yet -------------------------------------------------------
if expect 1 "$tmp/out" "$BTBLOCKCTL" -s "$sock" stats; then
	has "$tmp/out" "btblockctl: cannot connect to $sock: No such file or directory: is btblockd running?" \
		"not running: clear sentence, status 1"
fi
if expect 1 "$tmp/out" "$BTBLOCKCTL" -p "$pidfile" reload; then
	has "$tmp/out" "cannot read pid file $pidfile: No such file or directory: is btblockd running?" \
		"reload without a pid file: clear sentence, status 1"
fi
if expect 2 "$tmp/out" "$BTBLOCKCTL" frobnicate; then
	has "$tmp/out" "unknown command: frobnicate" "unknown command: status 2"
fi
if expect 2 "$tmp/out" "$BTBLOCKCTL" top --table; then
	ok "option of another command: status 2"
fi

# --- a real daemon ---------------------------------------------------------
ip netns add "$ns"
printf 'log-level notice\n' >"$tmp/btblockd.conf"
ip netns exec "$ns" "$BTBLOCKD" -f -q 40-41 -c "$tmp/btblockd.conf" -s "$sock" -p "$pidfile" \
	>"$tmp/daemon.log" 2>&1 &
daemon_pid=$!
i=0
while [ ! -S "$sock" ] && [ "$i" -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ -S "$sock" ] || {
	cat "$tmp/daemon.log"
	fail "btblockd did not create $sock within 5 s"
	exit 1
}

if expect 0 "$tmp/out" "$BTBLOCKCTL" -s "$sock" stats; then
	has "$tmp/out" '"queue": 40' "stats: pretty JSON with queue 40"
	has "$tmp/out" '"queue": 41' "stats: pretty JSON with queue 41"
	if command -v python3 >/dev/null 2>&1; then
		if python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["queues"]) == 2' \
			<"$tmp/out"; then
			ok "stats: valid JSON"
		else
			fail "stats: not valid JSON"
		fi
	fi
fi
if expect 0 "$tmp/out" "$BTBLOCKCTL" -s "$sock" stats --table; then
	has "$tmp/out" "btblockd $version  mode enforce  fail-open" "stats --table: header"
	if grep -Eq '^40 +[0-9]+ +0 +0 ' "$tmp/out" && grep -Eq '^total ' "$tmp/out"; then
		ok "stats --table: a row per queue and a total"
	else
		fail "stats --table: rows missing"
		cat "$tmp/out"
	fi
fi
if expect 0 "$tmp/out" "$BTBLOCKCTL" prometheus --socket="$sock"; then
	has "$tmp/out" "# TYPE btblockd_packets_total counter" "prometheus: TYPE line"
	has "$tmp/out" 'btblockd_packets_total{queue="41"} 0' "prometheus: per-queue counter"
	has "$tmp/out" 'btblockd_kernel_queue_dropped_total{queue="40"} 0' "prometheus: kernel counter"
	has "$tmp/out" 'btblockd_detections_total{detector="bt-handshake"} 0' "prometheus: detector counter"
	has "$tmp/out" "# TYPE btblockd_flows_active gauge" "prometheus: gauge"
	has "$tmp/out" "btblockd_up 1" "prometheus: btblockd_up 1"
	has "$tmp/out" "# TYPE btblockd_worker_last_progress_seconds gauge" "prometheus: heartbeat gauge in seconds"
	has "$tmp/out" 'btblockd_worker_stalled{queue="40"} 0' "prometheus: stall gauge"
	has "$tmp/out" "btblockd_stalled_workers 0" "prometheus: stalled workers"
	has "$tmp/out" "# TYPE btblockd_control_busy_total counter" "prometheus: control counters"
	# The reference parser, when installed (python3-prometheus-client).
	if /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null; then
		if /usr/bin/python3 -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
list(text_string_to_metric_families(sys.stdin.read()))' <"$tmp/out"; then
			ok "prometheus: accepted by prometheus_client's parser"
		else
			fail "prometheus: rejected by prometheus_client's parser"
		fi
	fi
fi
if expect 0 "$tmp/out" "$BTBLOCKCTL" -s "$sock" version; then
	has "$tmp/out" "btblockd $version" "version: the daemon's"
	has "$tmp/out" "btblockctl $version" "version: btblockctl's"
fi
if expect 0 "$tmp/out" "$BTBLOCKCTL" -s "$sock" top -n 2; then
	if [ "$(grep -c '^QUEUE ' "$tmp/out")" = 2 ] && grep -Eq '^41 +0\.0 ' "$tmp/out"; then
		ok "top -n 2: two screens of rates"
	else
		fail "top -n 2: unexpected output"
		cat "$tmp/out"
	fi
fi

# Reload: SIGHUP through the pid file; the daemon logs the new level.
printf 'log-level info\n' >"$tmp/btblockd.conf"
if expect 0 "$tmp/out" "$BTBLOCKCTL" -p "$pidfile" reload; then
	has "$tmp/out" "btblockd (pid $daemon_pid) is re-reading its configuration" "reload: status 0"
	i=0
	while ! grep -q 'reloaded (log level info)' "$tmp/daemon.log" && [ "$i" -lt 30 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	has "$tmp/daemon.log" "reloaded (log level info)" "reload: the daemon re-read its file"
	expect 0 "$tmp/out" "$BTBLOCKCTL" -s "$sock" version && ok "reload: daemon still answers"
fi

# Permission: the socket is 0660 root:root.
if command -v setpriv >/dev/null 2>&1; then
	if expect 1 "$tmp/out" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$BTBLOCKCTL" -s "$sock" stats; then
		has "$tmp/out" "cannot connect to $sock: Permission denied: " "no permission: clear sentence"
	fi
fi

# A stale pid file naming another live process must not be signalled.
sleep 30 &
sleeper=$!
# Until the child has exec'd, its name is still this script's: wait for it.
n=0
while [ "$(cat "/proc/$sleeper/comm" 2>/dev/null)" != sleep ] && [ "$n" -lt 50 ]; do
	sleep 0.1
	n=$((n + 1))
done
echo "$sleeper" >"$tmp/stale.pid"
if expect 1 "$tmp/out" "$BTBLOCKCTL" -p "$tmp/stale.pid" reload; then
	has "$tmp/out" "is \"sleep\", not btblockd" "stale pid file: refused"
fi
kill -0 "$sleeper" && ok "stale pid file: the other process was left alone"

# --- daemon stopped --------------------------------------------------------
kill "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=
if expect 1 "$tmp/out" "$BTBLOCKCTL" -s "$sock" prometheus; then
	has "$tmp/out" "is btblockd running?" "stopped daemon: clear sentence, status 1"
	has "$tmp/out" "btblockd_up 0" "stopped daemon: btblockd_up 0"
	# stdout alone is a valid scrape for a textfile collector.
	if "$BTBLOCKCTL" -s "$sock" prometheus >"$tmp/down" 2>/dev/null; then
		fail "stopped daemon: prometheus exited 0"
	elif [ "$(grep -v '^#' "$tmp/down")" = "btblockd_up 0" ]; then
		ok "stopped daemon: stdout is btblockd_up 0 alone"
	else
		fail "stopped daemon: stdout is: $(cat "$tmp/down")"
	fi
fi

if [ "$fails" != 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all checks passed"
