#!/bin/bash
# tests/integration/test_queue_spread.sh: two queues share real traffic intact, and a killed daemon fails open.
#
# Through the real kernel, in namespaces this script creates and always
# removes: btblockd-firewall up --queues 0-1 and btblockd --queues 0-1 in the
# router; TCP and UDP over IPv4 and IPv6 from four client addresses per
# family; every byte is checked end to end (sha256 for TCP, per-datagram
# checksum and exact echo for UDP) and both queues must have seen packets.
# Then a rate-limited transfer runs while the daemon is killed with SIGKILL:
# it must still complete intact, and new flows must still pass (fail-open).
#
# Needs root. Without root or namespaces it fails loudly, or skips (77) when
# BTBLOCKD_SKIP_KERNEL_TESTS=1.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$here/lab.sh"

TCP_BYTES=${TCP_BYTES:-2000000}         # per flow, 8 flows
UDP_COUNT=${UDP_COUNT:-200}             # datagrams per flow, 8 flows
SLOW_BYTES=${SLOW_BYTES:-24000000}      # fail-open transfer ...
SLOW_RATE=${SLOW_RATE:-8000000}         # ... lasting about 3 s
KILL_AFTER=${KILL_AFTER:-1}             # seconds into it

lab_require_kernel || exit $?
lab_require_binaries || exit 1

lab_trap
start=$(date +%s)
lab_create
lab_server_start
lab_probe || fail "the lab does not route without btblockd"

lab_log "firewall up in the router"
lab_exec router "$BTBLOCKD_FIREWALL" up --queues 0-1 ||
	fail "btblockd-firewall up --queues 0-1 failed"
lab_exec router "$BTBLOCKD_FIREWALL" status | sed 's/^/  | /' >&2
lab_daemon_start --queues 0-1 || fail "btblockd did not start"

# ---- 1. spread: several sources, both protocols, both families ---------
tcp_total=0
udp_total=0
udp_datagrams=0
flows=0
for idx in 0 1 2 3; do
	for fam in 4 6; do
		out=$(lab_tcp "$idx" "$fam" "$TCP_BYTES" --timeout 15) ||
			fail "TCP over IPv$fam from client address $idx: $out"
		echo "$out"
		tcp_total=$((tcp_total + $(echo "$out" | field bytes)))
		out=$(lab_udp "$idx" "$fam" "$UDP_COUNT" --timeout 10) ||
			fail "UDP over IPv$fam from client address $idx: $out"
		echo "$out"
		udp_total=$((udp_total + $(echo "$out" | field bytes)))
		udp_datagrams=$((udp_datagrams + UDP_COUNT))
		flows=$((flows + 2))
	done
done

stats=$(lab_stats) || fail "no answer to 'stats' on the control socket"
echo "stats: $stats"
queues=$(echo "$stats" | lab_stats_queues) || fail "stats JSON has no usable 'queues' array"
nq=0
while read -r q packets bytes; do
	echo "RESULT queue $q: packets=$packets bytes=$bytes"
	nq=$((nq + 1))
	[ "$packets" -gt 0 ] || fail "queue $q saw no packets: the spread over queues 0-1 does not work"
done <<EOF
$queues
EOF
[ "$nq" = 2 ] || fail "stats lists $nq queues, expected 2"
blocked=$(echo "$stats" | "$LAB_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["totals"]["marked_block"])')
[ "$blocked" = 0 ] || fail "btblockd marked $blocked packets of plain (non-BitTorrent) traffic to block"
spread_packets=$(echo "$queues" | awk '{ n += $2 } END { print n }')
echo "RESULT traffic: $flows flows intact; tcp_bytes=$tcp_total udp_datagrams=$udp_datagrams udp_echo_bytes=$udp_total marked_block=$blocked"

# ---- 2. fail-open: SIGKILL the daemon in the middle of a transfer -------
slow4="$LAB_TMP/slow4.out"
slow6="$LAB_TMP/slow6.out"
lab_tcp 2 4 "$SLOW_BYTES" --rate "$SLOW_RATE" --timeout 20 >"$slow4" 2>&1 &
pid4=$!
lab_tcp 3 6 "$SLOW_BYTES" --rate "$SLOW_RATE" --timeout 20 >"$slow6" 2>&1 &
pid6=$!
sleep "$KILL_AFTER"
if ! kill -0 "$pid4" 2>/dev/null || ! kill -0 "$pid6" 2>/dev/null; then
	fail "a slow transfer ended before the daemon was killed; raise SLOW_BYTES"
fi
before=$(lab_stats | lab_stats_queues | tr '\n' ' ')
before_packets=$(echo "$before" | awk '{ for (i = 2; i <= NF; i += 3) n += $i } END { print n }')
[ "$before_packets" -gt "$spread_packets" ] ||
	fail "the slow transfers did not go through the queues before the kill"
dpid=$LAB_DAEMON_PID
lab_daemon_kill -KILL
[ "$LAB_DAEMON_STATUS" = 137 ] || fail "btblockd (pid $dpid) exited with $LAB_DAEMON_STATUS, expected death by SIGKILL"
if kill -0 "$dpid" 2>/dev/null; then
	fail "btblockd (pid $dpid) survived SIGKILL"
fi
lab_log "btblockd killed with SIGKILL after ${KILL_AFTER}s (queues before: $before)"
# After the kill nobody is bound: the kernel must bypass the queues.
bound=$(lab_exec router cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null | wc -l)
[ "$bound" = 0 ] || fail "$bound queue(s) still bound after the daemon died"

# New flows, started with the queues unbound, must pass too.
for fam in 4 6; do
	out=$(lab_tcp 0 "$fam" 1000000 --timeout 10) ||
		fail "new TCP flow over IPv$fam after the daemon died: $out"
	echo "$out"
	out=$(lab_udp 1 "$fam" 50 --timeout 10) ||
		fail "new UDP flow over IPv$fam after the daemon died: $out"
	echo "$out"
done

st4=0
st6=0
wait "$pid4" || st4=$?
wait "$pid6" || st6=$?
cat "$slow4" "$slow6"
[ "$st4" = 0 ] || fail "IPv4 transfer interrupted by the daemon's death: $(cat "$slow4")"
[ "$st6" = 0 ] || fail "IPv6 transfer interrupted by the daemon's death: $(cat "$slow6")"
echo "RESULT fail-open: 2 transfers of $(field bytes <"$slow4") bytes (IPv4 $(field seconds <"$slow4") s, IPv6 $(field seconds <"$slow6") s) intact after kill -9 at ${KILL_AFTER} s; new TCP/UDP flows passed"

echo "PASS: queue spread and fail-open in $(( $(date +%s) - start )) s"
