#!/bin/bash
# tests/integration/test_marks.sh: flow-only blocks, counted ban failures and the payload queue budget, through the real kernel.
#
# In namespaces this script creates and always removes, with
# btblockd-firewall and btblockd in the router:
#   1. A flow-only block (btblockd protecting only the router's server-side
#      link, so that the client's handshake is proof from outside, which
#      never bans): the BitTorrent handshake never reaches the server, the
#      address pair is not banned (a new flow between it passes), and the
#      stats count a flow-only block and no ban request.
#   2. A block: the pair is banned in both orders, the stats count a ban
#      request, and the daemon's view of the ruleset counts the ban.
#   3. A full ban set (btblockd-firewall --ban-set-size 2: one pair):
#      blocks from four client addresses are all dropped; the kernel
#      counts the bans it could not add, the daemon's stats show
#      ruleset.bans_failed > 0 and its log says "ban set full".
#   4. 20 bare ACKs before the handshake (IPv4 and IPv6): they are not
#      queued and not counted, so the handshake is still queued and
#      blocked.
#   5. A bulk transfer the daemon never decides (--allow-after 1000)
#      leaves the queue after the budget: at most --queue-packets
#      payload packets per direction reach the daemon.
# Each check prints a RESULT line with its figures; the measured checks
# all run before the test fails.
#
# Needs root. Without root or namespaces it fails loudly, or skips (77) when
# BTBLOCKD_SKIP_KERNEL_TESTS=1.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$here/lab.sh"

HOLD=${HOLD:-2}                  # seconds a blocked handshake is held open
# Every daemon runs without the endpoint cache: a blocked handshake would
# otherwise make the server a known endpoint, and the next connection to
# it would die at its SYN, before any handshake or bare ACK.
DAEMON_OPTS="--queues 0-1 --endpoint-capacity 0"
PURE_ACKS=20
BULK_BYTES=4000000
QUEUE_PACKETS=16                 # btblockd-firewall's default
BT_PORT=6881
OTHER_PORT=6882                  # a new flow between a pair: another port
failures=0

daemon_packets() {
	lab_stats | lab_jget totals packets
}

# nft_counter NAME: packets of a named counter of table inet btblockd.
nft_counter() {
	lab_nft_counter "$1"
}

# ban_has FAMILY ADDR: elements of the ban set of FAMILY that name ADDR.
ban_has() {
	lab_exec router nft list set inet btblockd "ban$1" | tr ',' '\n' |
		grep -c -e "$2 \\." -e "\\. $2\\( \\|\$\\)" || true
}

# wait_ruleset KEY: waits up to 6 s (the daemon reads the ruleset every
# 2 s) until ruleset.KEY of the stats is above 0; prints the last value.
wait_ruleset() {
	local key="$1" n v=0
	for n in $(seq 1 30); do
		v=$(lab_stats | lab_jget ruleset "$key")
		[ "$v" != null ] && [ "$v" -gt 0 ] && break
		[ "$n" = 30 ] || sleep 0.2
	done
	echo "$v"
}

# handshake FAMILY INDEX LABEL [bt options]: a BitTorrent handshake from
# client address INDEX; sets $got (bytes the server received) and $pkts
# (packets the daemon saw meanwhile).
handshake() {
	local fam="$1" idx="$2" label="$3" addr before out
	shift 3
	addr=$(lab_client_addr "$idx" "$fam")
	before=$(daemon_packets)
	out=$(lab_bt "$idx" "$fam" "$BT_PORT" --hold "$HOLD" "$@") || fail "$label: handshake client: $out"
	echo "$out"
	pkts=$(( $(daemon_packets) - before ))
	got=$(lab_sink_bytes tcp "$addr" "$BT_PORT")
}

# new_flow FAMILY INDEX: a new UDP flow between the pair, to another
# port: "passed" or "dropped".
new_flow() {
	if lab_udp "$2" "$1" 2 --port "$OTHER_PORT" --timeout 2 --retries 1 --wait 0.4 >/dev/null; then
		echo passed
	else
		echo dropped
	fi
}

lab_require_kernel || exit $?
lab_require_binaries || exit 1
command -v nft >/dev/null 2>&1 || fail "nft not found (needed to read the ban sets)"

lab_trap
start=$(date +%s)
lab_create
lab_sink_start "$BT_PORT" "$OTHER_PORT"
lab_server_start
lab_exec router "$BTBLOCKD_FIREWALL" up --queues 0-1 || fail "btblockd-firewall up failed"

# ---- 1. flow-only block --------------------------------------------------------
# shellcheck disable=SC2086 # word splitting of the option string is intended
lab_daemon_start $DAEMON_OPTS --protected-interface r1 ||
	fail "btblockd --protected-interface r1 did not start"
before_blocked=$(nft_counter blocked)
handshake 4 0 "flow-only"
addr=$(lab_client_addr 0 4)
blocked=$(( $(nft_counter blocked) - before_blocked ))
banned=$(ban_has 4 "$addr")
flow=$(new_flow 4 0)
stats=$(lab_stats)
fo=$(echo "$stats" | lab_jget totals flow_only_blocks)
br=$(echo "$stats" | lab_jget totals bans_requested)
echo "RESULT flow-only block: server received $got bytes; kernel dropped $blocked packets of the flow; ban4 entries for $addr: $banned; new UDP flow between the pair: $flow; stats flow_only_blocks=$fo bans_requested=$br; nft bans counter $(nft_counter bans)"
[ "$got" = 0 ] || check_fail "flow-only: the server received $got bytes of a BitTorrent handshake"
[ "$blocked" -ge 1 ] || check_fail "flow-only: the kernel dropped no packet of the flow"
[ "$banned" = 0 ] || check_fail "flow-only: $addr was banned"
[ "$flow" = passed ] || check_fail "flow-only: a new flow between the pair was dropped"
[ "$fo" -ge 1 ] || check_fail "flow-only: stats count $fo flow-only blocks"
[ "$br" = 0 ] || check_fail "flow-only: stats count $br ban requests"
[ "$(nft_counter bans)" = 0 ] || check_fail "flow-only: the ruleset counted a ban"
lab_daemon_kill -TERM

# ---- 2. block with a ban ---------------------------------------------------------
# shellcheck disable=SC2086
lab_daemon_start $DAEMON_OPTS || fail "btblockd did not start"
handshake 4 1 "block"
addr=$(lab_client_addr 1 4)
pairs=$(ban_has 4 "$addr")
flow=$(new_flow 4 1)
bans=$(wait_ruleset bans)
stats=$(lab_stats)
br=$(echo "$stats" | lab_jget totals bans_requested)
loaded=$(echo "$stats" | lab_jget ruleset loaded)
size4=$(echo "$stats" | lab_jget ruleset ban_sets ban4 size)
echo "RESULT block: server received $got bytes; ban4 entries for $addr: $pairs; new UDP flow between the pair: $flow; stats bans_requested=$br; daemon's view of the ruleset: loaded=$loaded bans=$bans ban4 size $size4"
[ "$got" = 0 ] || check_fail "block: the server received $got bytes"
[ "$pairs" = 2 ] || check_fail "block: the pair is in ban4 $pairs times, expected both orders"
[ "$flow" = dropped ] || check_fail "block: a new flow between the banned pair passed"
[ "$br" -ge 1 ] || check_fail "block: stats count $br ban requests"
[ "$loaded" = true ] || check_fail "block: the daemon does not see table inet btblockd"
[ "$bans" -ge 1 ] || check_fail "block: the daemon's view counts $bans bans"
[ "$size4" = 65536 ] || check_fail "block: the daemon sees a ban4 of size $size4"

# ---- 3. a full ban set -------------------------------------------------------------
# The daemon keeps running: the reload resets the table's counters, which
# the daemon takes as a table loaded again.
lab_exec router "$BTBLOCKD_FIREWALL" up --queues 0-1 --ban-set-size 2 ||
	fail "btblockd-firewall up --ban-set-size 2 failed"
# up keeps the ban of step 2, which fills the set: emptied, so that the
# handshakes below fill it themselves.
lab_exec router nft flush set inet btblockd ban4
total=0
for idx in 0 1 2 3; do
	handshake 4 "$idx" "full set $idx" --hold 0.5
	total=$(( total + got ))
done
failed_kernel=$(nft_counter bans_failed)
failed=$(wait_ruleset bans_failed)
stats=$(lab_stats)
bans=$(echo "$stats" | lab_jget ruleset bans)
warned=$(grep -c 'ban set full: [0-9]* bans could not be added' "$LAB_TMP/btblockd.log" || true)
echo "RESULT full ban set (2 elements): servers received $total bytes from 4 blocked handshakes; kernel counters bans $(nft_counter bans), bans_failed $failed_kernel; daemon stats ruleset.bans=$bans ruleset.bans_failed=$failed; log lines \"ban set full\": $warned"
grep 'ban set full' "$LAB_TMP/btblockd.log" | sed 's/^/  log: /' | head -n 2
[ "$total" = 0 ] || check_fail "full ban set: $total bytes of blocked handshakes reached the server"
[ "$failed_kernel" -ge 3 ] || check_fail "full ban set: the kernel counted $failed_kernel failed bans, expected 3 or more"
[ "$failed" -ge 1 ] || check_fail "full ban set: the daemon's stats show bans_failed=$failed"
[ "$warned" -ge 1 ] || check_fail "full ban set: the daemon's log does not say 'ban set full'"
[ "$warned" -le 1 ] || check_fail "full ban set: $warned warnings within a minute"
lab_exec router "$BTBLOCKD_FIREWALL" status | grep -q '^note: .* bans could not be added' ||
	check_fail "full ban set: btblockd-firewall status has no note"

# ---- 4. bare ACKs before the handshake ---------------------------------------------
lab_exec router "$BTBLOCKD_FIREWALL" up --queues 0-1 || fail "btblockd-firewall up failed"
for fam in 4 6; do
	before_fwd=$(nft_counter forward)
	handshake "$fam" 2 "IPv$fam $PURE_ACKS pure ACKs" --pure-acks "$PURE_ACKS"
	fwd=$(( $(nft_counter forward) - before_fwd ))
	echo "RESULT IPv$fam $PURE_ACKS bare ACKs, then a BitTorrent handshake: server received $got bytes; the router forwarded $fwd packets of it; the daemon saw $pkts"
	[ "$got" = 0 ] || check_fail "IPv$fam: after $PURE_ACKS bare ACKs the handshake reached the server ($got bytes): not inspected"
	[ "$fwd" -ge $(( PURE_ACKS + 3 )) ] ||
		check_fail "IPv$fam: the router saw only $fwd packets: the bare ACKs did not cross it"
	[ "$pkts" -le 10 ] || check_fail "IPv$fam: the daemon saw $pkts packets: bare ACKs queued?"
	[ "$pkts" -ge 3 ] || check_fail "IPv$fam: the daemon saw $pkts packets: was the flow queued at all?"
done

# ---- 5. a bulk transfer leaves the queue after the budget --------------------------
lab_daemon_kill -TERM
# shellcheck disable=SC2086
lab_daemon_start $DAEMON_OPTS --allow-after 1000 || fail "btblockd --allow-after 1000 did not start"
before=$(daemon_packets)
before_q=$(nft_counter queued)
out=$(lab_tcp 3 4 "$BULK_BYTES" --timeout 30) || check_fail "bulk transfer failed: $out"
echo "$out"
pkts=$(( $(daemon_packets) - before ))
queued=$(( $(nft_counter queued) - before_q ))
undecided=$(lab_stats | lab_jget totals flows_decided_allow)
echo "RESULT bulk transfer of $BULK_BYTES bytes, never decided (allow-after 1000, flows decided allow: $undecided): $(echo "$out" | field received) bytes intact; the daemon saw $pkts packets, the ruleset queued $queued (budget $QUEUE_PACKETS per direction)"
[ "$queued" -le $(( 2 * QUEUE_PACKETS )) ] ||
	check_fail "bulk: $queued packets queued, more than the budget of 2 x $QUEUE_PACKETS"
[ "$queued" -ge "$QUEUE_PACKETS" ] ||
	check_fail "bulk: only $queued packets queued: did the budget count payload packets?"
[ "$pkts" -le "$queued" ] || check_fail "bulk: the daemon saw $pkts packets, more than were queued"

lab_daemon_kill -TERM
lab_exec router "$BTBLOCKD_FIREWALL" down || fail "btblockd-firewall down failed"
[ "$failures" = 0 ] || fail "$failures check(s) failed (see above)"
echo "PASS: verdict marks, ban failures and the queue budget in $(( $(date +%s) - start )) s"
