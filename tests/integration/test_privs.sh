#!/bin/bash
# tests/integration/test_privs.sh: --user drops root keeping only CAP_NET_ADMIN, --seccomp filters, and the daemon still enforces.
#
# In namespaces this script creates and always removes, with
# btblockd-firewall and btblockd in the router:
#   1. --user nobody: every thread's /proc status shows uid and gid nobody,
#      CapPrm = CapEff = CapBnd = only CAP_NET_ADMIN (bit 12), no inheritable
#      or ambient capabilities, NoNewPrivs 1; TCP and UDP pass intact, a
#      BitTorrent handshake is still blocked (verdicts with marks work),
#      stats answer, SIGHUP reloads; SIGTERM exits 0 and removes the socket
#      and pid file (their directory is writable by nobody).
#   2. The same with the files in a directory nobody cannot write: they
#      are left behind at exit (as documented) and the next start replaces
#      them.
#   3. --user nobody --seccomp: "Seccomp: 2" on every thread; traffic,
#      stats, SIGHUP and SIGTERM work; and, when gdb is available, a system
#      call outside the allowlist injected with gdb (getppid) kills the
#      daemon with SIGSYS, after which traffic still passes (fail-open).
#   4. An unknown --user is a configuration error (exit 2).
#
# Needs root. Without root or namespaces it fails loudly, or skips (77) when
# BTBLOCKD_SKIP_KERNEL_TESTS=1.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$here/lab.sh"

USER_NAME=nobody
CAP_NET_ADMIN_ONLY=0000000000001000
BT_PORT=6881

# status_line PID KEY: the value of KEY in /proc/PID/status (tabs squeezed).
status_line() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s '\t ' ' ' | sed 's/ $//'
}

# check_creds PID SECCOMP: every thread of PID runs as $USER_NAME with only
# CAP_NET_ADMIN and no_new_privs; with SECCOMP=2 also under the filter.
check_creds() {
	local pid="$1" want_seccomp="$2" task tid n=0
	for task in /proc/"$pid"/task/*; do
		tid=${task##*/}
		n=$((n + 1))
		[ "$(status_line "$pid/task/$tid" Uid)" = "$uid $uid $uid $uid" ] ||
			fail "thread $tid: Uid $(status_line "$pid/task/$tid" Uid)"
		[ "$(status_line "$pid/task/$tid" Gid)" = "$gid $gid $gid $gid" ] ||
			fail "thread $tid: Gid $(status_line "$pid/task/$tid" Gid)"
		[ "$(status_line "$pid/task/$tid" Groups)" = "$gid" ] ||
			fail "thread $tid: Groups '$(status_line "$pid/task/$tid" Groups)'"
		for key in CapPrm CapEff CapBnd; do
			[ "$(status_line "$pid/task/$tid" "$key")" = "$CAP_NET_ADMIN_ONLY" ] ||
				fail "thread $tid: $key $(status_line "$pid/task/$tid" "$key"), expected $CAP_NET_ADMIN_ONLY"
		done
		for key in CapInh CapAmb; do
			[ "$(status_line "$pid/task/$tid" "$key")" = 0000000000000000 ] ||
				fail "thread $tid: $key $(status_line "$pid/task/$tid" "$key")"
		done
		[ "$(status_line "$pid/task/$tid" NoNewPrivs)" = 1 ] || fail "thread $tid: NoNewPrivs is not 1"
		[ "$(status_line "$pid/task/$tid" Seccomp)" = "$want_seccomp" ] ||
			fail "thread $tid: Seccomp $(status_line "$pid/task/$tid" Seccomp), expected $want_seccomp"
	done
	[ "$n" -ge 4 ] || fail "only $n threads: expected main, control and two workers"
	threads=$n
}

daemon_packets() {
	lab_stats | "$LAB_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["totals"]["packets"])'
}

# traffic LABEL: TCP and UDP intact through the queues, a BitTorrent
# handshake blocked; sets $traffic_summary.
traffic() {
	local label="$1" before after out got
	before=$(daemon_packets)
	lab_tcp 0 4 1000000 --timeout 10 >/dev/null || fail "$label: TCP transfer failed"
	lab_udp 1 6 50 --timeout 10 >/dev/null || fail "$label: UDP exchange failed"
	out=$(lab_bt "$2" 4 "$BT_PORT" --hold 1) || fail "$label: handshake client: $out"
	got=$(lab_sink_bytes tcp "$(lab_client_addr "$2" 4)" "$BT_PORT")
	after=$(daemon_packets)
	[ "$after" -gt "$before" ] || fail "$label: the daemon verdicted no packet"
	# The kernel's counters come from a root-only file opened before the drop.
	kseq=$(lab_stats | "$LAB_PYTHON" -c '
import json, sys
print(sum((q["kernel"] or {}).get("id_sequence", 0) for q in json.load(sys.stdin)["queues"]))')
	[ "$kseq" -gt 0 ] || fail "$label: the stats lack the kernel queue counters"
	[ "$got" = 0 ] || fail "$label: the server received $got bytes of a BitTorrent handshake"
	traffic_summary="1 MB TCP and 50 UDP datagrams intact, BitTorrent handshake blocked (server got 0 bytes), $((after - before)) packets verdicted, kernel id_sequence $kseq in stats"
}

# reload LABEL: SIGHUP, then stats must still answer.
reload() {
	kill -HUP "$LAB_DAEMON_PID"
	lab_wait_file "$LAB_TMP/btblockd.log" 'configuration reloaded' 3 "$LAB_DAEMON_PID" ||
		fail "$1: SIGHUP was not taken"
	lab_stats >/dev/null || fail "$1: no stats after SIGHUP"
}

lab_require_kernel || exit $?
lab_require_binaries || exit 1
getent passwd "$USER_NAME" >/dev/null || fail "user $USER_NAME is needed"
uid=$(id -u "$USER_NAME")
gid=$(id -g "$USER_NAME")

lab_trap
start=$(date +%s)
lab_create
lab_server_start
lab_sink_start "$BT_PORT"
lab_exec router "$BTBLOCKD_FIREWALL" up --queues 0-1 >/dev/null || fail "btblockd-firewall up failed"

# ---- 1. --user: credentials, traffic, reload, clean exit ---------------------------
chown "$USER_NAME" "$LAB_TMP"
lab_daemon_start --queues 0-1 --user "$USER_NAME" || fail "btblockd --user $USER_NAME did not start"
pid=$LAB_DAEMON_PID
check_creds "$pid" 0
creds="Uid: $(status_line "$pid" Uid) | Gid: $(status_line "$pid" Gid) | CapPrm: $(status_line "$pid" CapPrm) | CapEff: $(status_line "$pid" CapEff) | CapBnd: $(status_line "$pid" CapBnd) | CapAmb: $(status_line "$pid" CapAmb) | NoNewPrivs: $(status_line "$pid" NoNewPrivs)"
traffic "--user" 3
reload "--user"
lab_daemon_kill -TERM
[ "$LAB_DAEMON_STATUS" = 0 ] || fail "--user: exit status $LAB_DAEMON_STATUS on SIGTERM"
left=$(find "$LAB_TMP" -maxdepth 1 \( -name btblockd.sock -o -name btblockd.pid \) | wc -l)
echo "RESULT --user $USER_NAME: $threads threads each with $creds; $traffic_summary; SIGHUP reloaded; SIGTERM exit 0, socket and pid file removed ($left left)"
[ "$left" = 0 ] || fail "--user: $left of the socket and pid file left in a directory $USER_NAME owns"

# ---- 2. files in a directory the user cannot write ---------------------------------
chown root "$LAB_TMP"
chmod 0755 "$LAB_TMP"
lab_daemon_start --queues 0-1 --user "$USER_NAME" || fail "btblockd --user did not start (root-owned dir)"
lab_daemon_kill -TERM
[ "$LAB_DAEMON_STATUS" = 0 ] || fail "root-owned dir: exit status $LAB_DAEMON_STATUS"
left=$(find "$LAB_TMP" -maxdepth 1 \( -name btblockd.sock -o -name btblockd.pid \) | wc -l)
lab_daemon_start --queues 0-1 --user "$USER_NAME" || fail "btblockd --user did not start over the files left behind"
lab_daemon_kill -TERM
echo "RESULT --user with the files in a root-owned directory: $left of socket and pid file left at exit (documented); the next start replaced them"

# ---- 3. --seccomp ----------------------------------------------------------------
chown "$USER_NAME" "$LAB_TMP"
lab_daemon_start --queues 0-1 --user "$USER_NAME" --seccomp || fail "btblockd --seccomp did not start"
pid=$LAB_DAEMON_PID
check_creds "$pid" 2
sec="Seccomp: $(status_line "$pid" Seccomp), Seccomp_filters: $(status_line "$pid" Seccomp_filters)"
traffic "--seccomp" 2
reload "--seccomp"
killed="not tried (gdb not installed)"
if command -v gdb >/dev/null 2>&1; then
	# A system call outside the allowlist, made inside the daemon: the
	# filter must kill the whole process (SIGSYS, status 128 + 31).
	(cd "$LAB_TMP" && ulimit -c 0 && timeout 20 gdb -p "$pid" -batch -nx \
		-iex 'set auto-load off' -ex 'call ((int (*)(void))getppid)()' >"$LAB_TMP/gdb.out" 2>&1) || true
	for n in $(seq 1 30); do
		kill -0 "$pid" 2>/dev/null || break
		[ "$n" = 30 ] || sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail "--seccomp: the daemon survived a forbidden system call (getppid): $(tail -3 "$LAB_TMP/gdb.out")"
	LAB_DAEMON_STATUS=0
	wait "$pid" 2>/dev/null || LAB_DAEMON_STATUS=$?
	LAB_DAEMON_PID=""
	[ "$LAB_DAEMON_STATUS" = 159 ] || fail "--seccomp: exit status $LAB_DAEMON_STATUS after a forbidden system call, expected 159 (SIGSYS)"
	lab_tcp 0 4 200000 --timeout 10 >/dev/null || fail "--seccomp: traffic did not pass after the daemon was killed (fail-open)"
	killed="getppid() injected with gdb killed it: exit status $LAB_DAEMON_STATUS (SIGSYS), then traffic passed (fail-open)"
else
	lab_daemon_kill -TERM
	[ "$LAB_DAEMON_STATUS" = 0 ] || fail "--seccomp: exit status $LAB_DAEMON_STATUS on SIGTERM"
fi
echo "RESULT --seccomp: $threads threads with $sec; $traffic_summary; SIGHUP reloaded; $killed"

# ---- 4. unknown user -----------------------------------------------------------
status=0
out=$(ip netns exec "$LAB_ROUTER" "$BTBLOCKD" --foreground --control "$LAB_TMP/x.sock" \
	--user no-such-user-btb 2>&1) || status=$?
echo "RESULT unknown --user: exit $status, '$out'"
[ "$status" = 2 ] || fail "unknown --user: exit status $status, expected 2"

echo "PASS: privileges in $(( $(date +%s) - start )) s"
