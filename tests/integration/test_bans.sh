#!/bin/bash
# tests/integration/test_bans.sh: btblockctl bans and unban through the real kernel.
#
# In namespaces this script creates and always removes, with
# btblockd-firewall (--ban-time 10m) and btblockd in the router:
#   1. BitTorrent handshakes from two client addresses (IPv4) and one
#      IPv6 address are blocked and their pairs banned; "btblockctl bans
#      --json" lists each pair once, with 0 < expires_s <= timeout_s = 600,
#      and the table lists them too; UDP between a banned pair (another
#      port, payload that is not BitTorrent) is dropped.
#   2. "btblockctl unban ADDR" (daemon running) removes that pair: it
#      says 1 pair removed, at least one blocked connection cleared and
#      one flow forgotten; bans --json no longer lists it; UDP between
#      the pair passes again; the other pairs are still banned and UDP of
#      the other IPv4 pair is still dropped; the held flows are cleared.
#      A second unban finds nothing.
#   3. With btblockd stopped, unban of the other IPv4 address still lifts
#      its ban (kernel part only, with a note) and exits 0.
#   4. Usage errors exit 2; with the table gone, bans exits 1 and says
#      the ruleset is not loaded.
# Each check prints a RESULT line; all checks run before the test fails.
#
# Needs root. Without root or namespaces it fails loudly, or skips (77) when
# BTBLOCKD_SKIP_KERNEL_TESTS=1.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$here/lab.sh"

BTBLOCKCTL=${BTBLOCKCTL:-${BTBLOCKD_BUILDDIR:-.}/src/btblockctl}
BAN_TIME_S=600
# No endpoint cache: every handshake below is then blocked on its own
# proof (and banned), not at its SYN as a known endpoint's.
DAEMON_OPTS="--queues 0-1 --endpoint-capacity 0"
BT_PORT=6881
OTHER_PORT=6882
failures=0

# indent LABEL: stdin, each line under LABEL.
indent() {
	sed "s/^/  $1: /"
}

ctl() {
	lab_exec router "$BTBLOCKCTL" -s "$LAB_TMP/btblockd.sock" "$@"
}

# pair_json A B: the bans --json entry of the pair A, B as "expires timeout",
# or "absent".
pair_json() {
	ctl bans --json | "$LAB_PYTHON" -c '
import json, sys
a, b = sys.argv[1], sys.argv[2]
hits = [e for e in json.load(sys.stdin)["bans"] if sorted(e["addresses"]) == sorted([a, b])]
if len(hits) > 1:
    print("twice")
elif hits:
    print(hits[0]["expires_s"], hits[0]["timeout_s"])
else:
    print("absent")
' "$1" "$2"
}

# udp_flow FAMILY INDEX: UDP between the pair to another port: "passed" or
# "dropped" (a few tries: a passing flow passes at the first).
udp_flow() {
	if lab_udp "$2" "$1" 2 --port "$OTHER_PORT" --timeout 2 --retries 2 --wait 0.4 >/dev/null; then
		echo passed
	else
		echo dropped
	fi
}

# handshake FAMILY INDEX: a blocked BitTorrent handshake; prints the bytes
# the server received of it.
handshake() {
	local out
	out=$(lab_bt "$2" "$1" "$BT_PORT" --hold 1) || fail "handshake client: $out"
	lab_sink_bytes tcp "$(lab_client_addr "$2" "$1")" "$BT_PORT"
}

lab_require_kernel || exit $?
lab_require_binaries || exit 1
[ -x "$BTBLOCKCTL" ] || fail "btblockctl not found at $BTBLOCKCTL"

lab_trap
lab_create
lab_sink_start "$BT_PORT" "$OTHER_PORT"
lab_server_start
lab_exec router "$BTBLOCKD_FIREWALL" up --queues 0-1 --ban-time 10m ||
	fail "btblockd-firewall up failed"
# shellcheck disable=SC2086 # word splitting of the option string is intended
lab_daemon_start $DAEMON_OPTS || fail "btblockd did not start"

srv4=$(lab_server_addr 4)
srv6=$(lab_server_addr 6)
a1=$(lab_client_addr 1 4)
a2=$(lab_client_addr 2 4)
a6=$(lab_client_addr 1 6)

# ---- 1. bans listed -------------------------------------------------------------
got=$(( $(handshake 4 1) + $(handshake 4 2) + $(handshake 6 1) ))
p1=$(pair_json "$a1" "$srv4")
p2=$(pair_json "$a2" "$srv4")
p6=$(pair_json "$a6" "$srv6")
flow1=$(udp_flow 4 1)
flow2=$(udp_flow 4 2)
table=$(ctl bans)
echo "RESULT banned: server received $got bytes of 3 handshakes; bans --json: $a1 [$p1] $a2 [$p2] $a6 [$p6] (expires_s timeout_s); UDP $a1: $flow1, $a2: $flow2"
indent bans <<<"$table"
[ "$got" = 0 ] || check_fail "the server received $got bytes of blocked handshakes"
for p in "$p1" "$p2" "$p6"; do
	case "$p" in
	absent|twice) check_fail "a banned pair is listed as: $p" ;;
	*)
		read -r expires timeout <<<"$p"
		if [ "$expires" -le 0 ] || [ "$expires" -gt "$BAN_TIME_S" ]; then
			check_fail "a ban expires in $expires s, not within the ban time $BAN_TIME_S s"
		fi
		[ "$timeout" = "$BAN_TIME_S" ] || check_fail "a ban's timeout is $timeout s, not $BAN_TIME_S"
		;;
	esac
done
echo "$table" | grep -q "^ipv4 .*$a1 " || check_fail "bans (table) does not list $a1"
echo "$table" | grep -q '^3 banned address pairs$' || check_fail "bans (table) does not count 3 pairs"
[ "$flow1" = dropped ] || check_fail "UDP between the banned pair $a1, $srv4 passed"
[ "$flow2" = dropped ] || check_fail "UDP between the banned pair $a2, $srv4 passed"

# ---- 2. unban with the daemon running --------------------------------------------
# A held flow (blocked before conntrack confirmed it, see btblockd.nft):
# unban empties the held sets.
lab_exec router nft add element inet btblockd held4 "{ $a1 . $srv4 . udp . 40000 . $OTHER_PORT }" ||
	fail "cannot add a held flow"
rc=0
out=$(ctl unban "$a1") || rc=$?
held=$(lab_exec router nft list set inet btblockd held4 | grep -c "$a1" || true)
echo "RESULT unban $a1: held4 elements naming it afterwards: $held"
[ "$held" = 0 ] || check_fail "unban $a1 left its held flow in held4"
indent unban <<<"$out"
removed=$(echo "$out" | sed -n 's/^ *banned pairs removed: *\([0-9]*\).*/\1/p')
cleared=$(echo "$out" | sed -n 's/^ *connections cleared: *\([0-9]*\).*/\1/p')
flows=$(echo "$out" | sed -n 's/^ *flows forgotten: *\([0-9]*\).*/\1/p')
p1=$(pair_json "$a1" "$srv4")
p2=$(pair_json "$a2" "$srv4")
p6=$(pair_json "$a6" "$srv6")
flow1=$(udp_flow 4 1)
flow2=$(udp_flow 4 2)
echo "RESULT unban $a1: exit $rc, pairs removed ${removed:-?}, connections cleared ${cleared:-?}, flows forgotten ${flows:-?}; afterwards $a1 [$p1] $a2 [$p2] $a6 [$p6]; UDP $a1: $flow1, $a2: $flow2"
[ "$rc" = 0 ] || check_fail "unban $a1 exited $rc"
[ "${removed:-0}" = 1 ] || check_fail "unban $a1 removed ${removed:-no} pairs, expected 1"
[ "${cleared:-0}" -ge 1 ] || check_fail "unban $a1 cleared no blocked connection"
if echo "$out" | grep -q 'workers did not answer in time'; then
	# A worker kept off its CPU past the daemon's wait forgets later:
	# what counts is that every worker got to it (bounded wait).
	pending=1
	for _ in $(seq 1 50); do
		pending=$(lab_ctl "forget $a1" | lab_jget pending)
		[ "$pending" = 0 ] && break
		sleep 0.2
	done
	echo "RESULT unban $a1: some workers answered late; pending now $pending"
	[ "$pending" = 0 ] || check_fail "unban $a1: workers never answered the forget request"
else
	[ "${flows:-0}" -ge 1 ] || check_fail "unban $a1: btblockd forgot no flow"
fi
[ "$p1" = absent ] || check_fail "after unban, $a1 is still listed: $p1"
[ "$p2" != absent ] || check_fail "unban $a1 lifted the ban of $a2 too"
[ "$p6" != absent ] || check_fail "unban $a1 lifted the ban of $a6 too"
[ "$flow1" = passed ] || check_fail "after unban, UDP between $a1 and $srv4 is still dropped"
[ "$flow2" = dropped ] || check_fail "after unban $a1, UDP of the banned pair $a2 passed"
out=$(ctl unban "$a1") || check_fail "a second unban $a1 failed"
echo "$out" | grep -q 'banned pairs removed: *0$' || check_fail "a second unban $a1 found a pair: $out"
echo "$out" | grep -q 'connections cleared: *0$' || check_fail "a second unban $a1 found connections: $out"

# ---- 3. unban without the daemon -----------------------------------------------------
lab_daemon_kill -TERM
rc=0
out=$(ctl unban "$a2") || rc=$?
indent unban <<<"$out"
p2=$(pair_json "$a2" "$srv4")
echo "RESULT unban $a2 without btblockd: exit $rc; afterwards $a2 [$p2]"
[ "$rc" = 0 ] || check_fail "unban $a2 without btblockd exited $rc"
[ "$p2" = absent ] || check_fail "unban $a2 without btblockd left the pair: $p2"
echo "$out" | grep -q 'btblockd not reached' || check_fail "unban without btblockd says nothing of it"
echo "$out" | grep -q 'banned pairs removed: *1$' || check_fail "unban $a2 without btblockd: $out"

# ---- 4. errors ---------------------------------------------------------------------
rc=0; ctl unban 10.0.0.300 >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || check_fail "unban of a bad address exited $rc, expected 2"
rc=0; ctl unban >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || check_fail "unban without an address exited $rc, expected 2"
lab_exec router "$BTBLOCKD_FIREWALL" down >/dev/null 2>&1 ||
	lab_exec router nft delete table inet btblockd
rc=0; err=$(ctl bans 2>&1) || rc=$?
echo "RESULT bans without the table: exit $rc: $err"
[ "$rc" = 1 ] || check_fail "bans without the table exited $rc, expected 1"
echo "$err" | grep -q 'ruleset is not loaded' || check_fail "bans without the table says: $err"

[ "$failures" = 0 ] || fail "$failures checks failed"
echo "PASS: bans listed, lifted with and without btblockd, other bans untouched"
