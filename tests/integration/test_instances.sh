#!/bin/bash
# tests/integration/test_instances.sh: two btblockd instances side by side on one queue-balanced ruleset.
#
# The multi-instance recipe of btblockd(8) (TUNING), through the real
# kernel, in namespaces this script creates and always removes:
#   1. btblockd-firewall up --queues 0-1 (one ruleset, the queue balance
#      over both queues), then instance A (--queues 0 --cpus 0) and
#      instance B (--queues 1 --cpus 1), each with its own control socket
#      and pid file.
#   2. A third instance on queue 0 is refused: the queue is taken.
#   3. TCP and UDP over IPv4 and IPv6 from the four client addresses pass
#      intact, and both instances see packets.
#   4. BitTorrent handshakes from one client address after another (up to
#      BT_SOURCES of them) until each instance has blocked one: blocked
#      via both, none reaches the server.
#   5. The stats of each instance list exactly its queue, its CPU and the
#      NUMA node of that CPU; each pid file holds its instance's pid.
#
# Needs root. Without root or namespaces it fails loudly, or skips (77) when
# BTBLOCKD_SKIP_KERNEL_TESTS=1.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$here/lab.sh"

BTBLOCKCTL=${BTBLOCKCTL:-${BTBLOCKD_BUILDDIR:-.}/src/btblockctl}
TCP_BYTES=${TCP_BYTES:-1000000}    # per flow, 8 flows
UDP_COUNT=${UDP_COUNT:-100}        # datagrams per flow, 8 flows
BT_PORT=6881
BT_SOURCES=16                      # client addresses tried for step 4

# jget KEY...: the value at that path in the JSON document on stdin; list
# indexes are numbers.
jget() {
	"$LAB_PYTHON" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v)
' "$@"
}

# stats NAME: the stats JSON of instance NAME (a or b).
stats() {
	"$BTBLOCKCTL" -s "$LAB_TMP/$1.sock" stats
}

# start_instance NAME QUEUE CPU: btblockd in the router, its own control
# socket, pid file and log; waits (bounded) until it answers. Leaves its
# pid in started_pid.
start_instance() {
	local pid n
	ip netns exec "$LAB_ROUTER" "$BTBLOCKD" --foreground --log-level info --queues "$2" --cpus "$3" \
		--control "$LAB_TMP/$1.sock" --pidfile "$LAB_TMP/$1.pid" \
		>>"$LAB_TMP/btblockd-$1.log" 2>&1 &
	pid=$!
	LAB_PIDS="$LAB_PIDS $pid"
	started_pid=$pid
	for n in $(seq 1 50); do
		stats "$1" >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	sed 's/^/  | /' "$LAB_TMP/btblockd-$1.log" >&2
	fail "instance $1 (queue $2, CPU $3) did not start"
}

[ "$(nproc)" -ge 2 ] || {
	echo "*** SKIP: test_instances.sh needs 2 CPUs, this machine has $(nproc) ***" >&2
	exit 77
}
lab_require_kernel || exit $?
lab_require_binaries || exit 1
[ -x "$BTBLOCKCTL" ] || fail "btblockctl not found at $BTBLOCKCTL (set BTBLOCKCTL)"

lab_trap
start=$(date +%s)
lab_create
# More client addresses for step 4: the queue balance hashes addresses.
for i in $(seq 20 $((20 + BT_SOURCES - 5))); do
	ip -n "$LAB_CLIENT" addr add "10.71.1.$i/24" dev c0
done
lab_server_start
lab_probe || fail "the lab does not route without btblockd"

# ---- 1. one ruleset, two instances ----------------------------------------
lab_exec router "$BTBLOCKD_FIREWALL" up --queues 0-1 ||
	fail "btblockd-firewall up --queues 0-1 failed"
start_instance a 0 0
pid_a=$started_pid
start_instance b 1 1
pid_b=$started_pid
lab_log "instance a (pid $pid_a) on queue 0, CPU 0; instance b (pid $pid_b) on queue 1, CPU 1"

# ---- 2. a queue serves one instance only ----------------------------------
rc=0
timeout 20 ip netns exec "$LAB_ROUTER" "$BTBLOCKD" --foreground --queues 0 --cpus 0 \
	--control "$LAB_TMP/c.sock" --pidfile "$LAB_TMP/c.pid" >"$LAB_TMP/third.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "a third instance on queue 0 started"
grep -q 'queue 0 is already bound' "$LAB_TMP/third.out" ||
	fail "a third instance on queue 0: no 'already bound' message: $(cat "$LAB_TMP/third.out")"
echo "RESULT third instance on queue 0 refused (exit $rc): $(head -n 1 "$LAB_TMP/third.out")"
{ stats a && stats b; } >/dev/null || fail "the refused instance disturbed the running ones"

# ---- 3. ordinary traffic through both -------------------------------------
flows=0
for idx in 0 1 2 3; do
	for fam in 4 6; do
		out=$(lab_tcp "$idx" "$fam" "$TCP_BYTES" --timeout 15) ||
			fail "TCP over IPv$fam from client address $idx: $out"
		out=$(lab_udp "$idx" "$fam" "$UDP_COUNT" --timeout 10) ||
			fail "UDP over IPv$fam from client address $idx: $out"
		flows=$((flows + 2))
	done
done
pa=$(stats a | jget totals packets)
pb=$(stats b | jget totals packets)
echo "RESULT traffic: $flows flows intact; instance a saw $pa packets, instance b $pb"
[ "$pa" -gt 0 ] || fail "instance a (queue 0) saw no packets"
[ "$pb" -gt 0 ] || fail "instance b (queue 1) saw no packets"
for n in a b; do
	[ "$(stats "$n" | jget totals marked_block)" = 0 ] || fail "instance $n marked plain traffic to block"
done

# ---- 4. BitTorrent blocked via both ----------------------------------------
# One server port per handshake: an instance that has seen a BitTorrent
# endpoint blocks new flows to it from their first packet, and the
# connection would then not even open.
# shellcheck disable=SC2046 # one port per argument
lab_sink_start $(seq "$BT_PORT" $((BT_PORT + BT_SOURCES - 1)))
tried=0
for a in $LAB_CLIENT4 $(seq -f '10.71.1.%g' 20 $((20 + BT_SOURCES - 5))); do
	ba=$(stats a | jget totals flows_decided_block)
	bb=$(stats b | jget totals flows_decided_block)
	[ "$ba" -gt 0 ] && [ "$bb" -gt 0 ] && break
	port=$((BT_PORT + tried))
	tried=$((tried + 1))
	out=$(ip netns exec "$LAB_CLIENT" "$LAB_PYTHON" "$LAB_TRAFFIC" bt --source "$a" \
		--dest "$LAB_SERVER4" --port "$port" --seed "$tried" --hold 1) ||
		fail "BitTorrent client from $a: $out"
	got=$(lab_sink_bytes tcp "$a" "$port")
	[ "$got" = 0 ] || fail "a BitTorrent handshake from $a reached the server ($got bytes)"
done
ba=$(stats a | jget totals flows_decided_block)
bb=$(stats b | jget totals flows_decided_block)
echo "RESULT BitTorrent: $tried handshakes from as many addresses, none reached the server; blocked by instance a: $ba, by instance b: $bb"
[ "$ba" -gt 0 ] || fail "instance a (queue 0) blocked no handshake out of $tried"
[ "$bb" -gt 0 ] || fail "instance b (queue 1) blocked no handshake out of $tried"

# ---- 5. each instance's own queue, CPU and NUMA node -----------------------
for n in a b; do
	case $n in
	a) q=0 want_pid=$pid_a ;;
	*) q=1 want_pid=$pid_b ;;
	esac
	doc=$(stats "$n")
	nq=$(echo "$doc" | "$LAB_PYTHON" -c 'import json, sys; print(len(json.load(sys.stdin)["queues"]))')
	queue=$(echo "$doc" | jget queues 0 queue)
	cpu=$(echo "$doc" | jget queues 0 cpu)
	node=$(echo "$doc" | jget queues 0 numa_node)
	want_node=$(find "/sys/devices/system/cpu/cpu$q" -maxdepth 1 -name 'node[0-9]*' 2>/dev/null |
		sed -n 's/.*node\([0-9]*\)$/\1/p' | head -n 1)
	echo "RESULT instance $n: queues=$nq queue=$queue cpu=$cpu numa_node=$node (sysfs: ${want_node:-none})"
	[ "$nq" = 1 ] || fail "instance $n lists $nq queues, expected 1"
	[ "$queue" = "$q" ] || fail "instance $n serves queue $queue, expected $q"
	[ "$cpu" = "$q" ] || fail "instance $n runs on CPU $cpu, expected $q"
	[ "$node" = "${want_node:--1}" ] || fail "instance $n reports NUMA node $node, sysfs says ${want_node:-none}"
	[ "$(cat "$LAB_TMP/$n.pid")" = "$want_pid" ] || fail "pid file of instance $n does not hold its pid"
	grep -q "queue $q: worker on CPU $q" "$LAB_TMP/btblockd-$n.log" ||
		fail "instance $n did not log its worker on CPU $q"
done

echo "PASS: two instances on one ruleset in $(( $(date +%s) - start )) s"
